"""Rows the referral and decision pages repeat many times, written out in Python: the twelve
criteria with the values each read, the referral's data, some seventy fields, in its cards,
and its changes of status. Drawn by template loops they cost the referral page more than its
queries; these tags give the same HTML.

Their text is plain ``str`` (labels, values, reasons), escaped with the standard library's
``html.escape``, as Django's ``escape`` does but without its handling of lazy and safe strings,
which took most of these rows' time."""

import functools
from html import escape

from django import template
from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from screening.templatetags.badges import status_badge_class

register = template.Library()

_CRITERION_ROW = """
    <tr class="criterion criterion-{css}" data-code="{code}">
      <th scope="row">{code}</th>
      <td>{text}</td>
      <td class="text-nowrap" data-label="{result_label}">{result}</td>
      <td data-label="{reason_label}">{reason}</td>
      <td class="small" data-label="{values_label}">
        <ul class="list-unstyled mb-0">
          {values}
        </ul>
      </td>
    </tr>
    """
_VALUE = '<li><span class="text-body-secondary">{}:</span> {}</li>'
_RESULTS = ("deferred", "pass", "fail", "unknown")  # "deferred": E2, for the MDT to confirm


@functools.lru_cache(maxsize=8)
def _result_badges(language: str | None) -> dict[str, str]:
    """referrals/result_badge.html for each result, drawn once per language (``language``
    keys the cache): the result in words and with its sign."""
    return {
        result: render_to_string(
            "referrals/result_badge.html",
            {"row": {"result": result, "deferred": result == "deferred"}},
        ).rstrip("\n")
        for result in _RESULTS
    }


@register.simple_tag
def criterion_rows(rows, result_label, reason_label, values_label):
    """The <tr> of each ``display.CriterionRow``, its result in words and with its sign."""
    results = _result_badges(get_language())
    # The labels come from {% translate %}, which may mark them safe.
    result_label, reason_label, values_label = (
        conditional_escape(label) for label in (result_label, reason_label, values_label)
    )
    return mark_safe(
        "".join(
            _CRITERION_ROW.format(
                css=escape("deferred" if row.deferred else row.result),
                code=escape(row.code),
                text=escape(row.text),
                result_label=result_label,
                result=results["deferred" if row.deferred else row.result],
                reason_label=reason_label,
                reason=escape(row.reason),
                values_label=values_label,
                values="".join(
                    _VALUE.format(escape(label), escape(value)) for label, value in row.values
                ),
            )
            for row in rows
        )
    )


_DATA_CARD = """
    <div class="col-md-6 col-xl-4">
      <div class="card h-100">
        <div class="card-header">{title}</div>
        <div class="card-body">
          <dl class="data-list mb-0">
            {rows}
          </dl>
        </div>
      </div>
    </div>
    """
_STATUS_CHANGE = """
        <li class="list-group-item">
          <span class="badge status-badge {css}">{label}</span>
          <span class="small text-body-secondary">{at}{by}</span>
        </li>
        """


@register.simple_tag
def data_cards(sections):
    """A card for each (title, rows) of ``display.clinical_sections``: the <dt> and <dd> of
    each (label, text) of its rows."""
    return mark_safe(
        "".join(
            _DATA_CARD.format(
                title=escape(title),
                rows="".join(
                    f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in rows
                ),
            )
            for title, rows in sections
        )
    )


@register.simple_tag
def status_changes(changes):
    """The <li> of each ``display.StatusChange``, its status as a badge."""
    return mark_safe(
        "".join(
            _STATUS_CHANGE.format(
                css=escape(status_badge_class(change.status)),
                label=escape(change.label),
                at=escape(change.at),
                by=f" · {escape(change.by)}" if change.by else "",
            )
            for change in changes
        )
    )
