"""Lists in running text, joined as the interface's language joins them (``screening.text``):
``{{ names|join_items }}`` gives "A, B, C" in English and "A、B、C" in Chinese."""

from django import template

from screening import text

register = template.Library()


@register.filter
def join_items(items) -> str:
    """ "A, B, C"; in Chinese "A、B、C"."""
    return text.join_items([str(item) for item in items])


@register.filter
def join_words(items) -> str:
    """ "A, B and C"; in Chinese "A、B 和 C"."""
    items = [str(item) for item in items]
    return text.join_words(items) if items else ""


@register.filter
def join_clauses(items) -> str:
    """ "a; b"; in Chinese "a；b"."""
    return text.join_clauses([str(item) for item in items])
