"""Reading rendered pages the way a user sees them: find an element, read its text and values."""

from django.test.html import Element, parse_html


def _walk(element):
    yield element
    for child in element.children:
        if isinstance(child, Element):
            yield from _walk(child)


def find_all(html: str, tag: str | None = None, **attributes) -> list[Element]:
    """Elements of ``tag`` (any tag when None) whose attributes include ``attributes``.

    A ``class_`` argument matches one class among the element's classes.
    """
    wanted_class = attributes.pop("class_", None)
    found = []
    for element in _walk(parse_html(html)):
        attrs = dict(element.attributes)
        if tag is not None and element.name != tag:
            continue
        if any(attrs.get(name) != value for name, value in attributes.items()):
            continue
        if wanted_class is not None and wanted_class not in (attrs.get("class") or "").split():
            continue
        found.append(element)
    return found


def find(html: str, tag: str | None = None, **attributes) -> Element:
    """The one element matching; fails the test when there is none or several."""
    found = find_all(html, tag, **attributes)
    assert len(found) == 1, f"{len(found)} elements match {tag} {attributes}"
    return found[0]


def text(element: Element) -> str:
    """The element's text with whitespace collapsed."""
    parts = []
    for child in element.children:
        parts.append(text(child) if isinstance(child, Element) else child)
    return " ".join(" ".join(parts).split())


def field_wrapper(html: str, name: str) -> Element:
    """The crispy wrapper of form field ``name``: its label, input and error message."""
    return find(html, id=f"div_id_{name}")


def input_value(html: str, name: str) -> str | None:
    """What the browser would submit for field ``name``: a text input's value, the selected
    option of a select, the checked radio."""
    for element in find_all(html, name=name):
        attrs = dict(element.attributes)
        if element.name == "select":
            for option in find_all(str(element), "option"):
                if "selected" in dict(option.attributes):
                    return dict(option.attributes)["value"]
            return None
        if element.name == "textarea":
            return text(element)
        if attrs.get("type") == "radio":
            if "checked" in attrs:
                return attrs["value"]
            continue
        return attrs.get("value") or ""
    return None
