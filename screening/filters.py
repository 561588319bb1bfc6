"""Filters, search and sort of the referral list, and the filter of the audit review."""

import django_filters
from django import forms
from django.db.models import Case, DateField, F, Func, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _

from screening import access
from screening.audit_review import ReviewFilter, ReviewKind
from screening.models import Referral

Status = Referral.Status

# The status column sorts in workflow order, not alphabetically.
_WORKFLOW_ORDER = Case(
    *(When(status=status, then=Value(index)) for index, status in enumerate(Status.values)),
    output_field=IntegerField(),
)
# Completed years at the screening date, as the page shows it.
_AGE = Func(
    F("screening_date"),
    F("date_of_birth"),
    template="date_part('year', age(%(expressions)s))",
    output_field=IntegerField(),
)
# Days waiting count for the open referrals only; the longest-waiting first, closed ones last.
_WAITING_SINCE = Case(
    When(status__in=Referral.OPEN_STATUSES, then=F("referral_date")), output_field=DateField()
)

# Each sortable column, ascending; "-column" sorts it descending. Referral date and id break
# ties, so pages stay stable when many share a value. Without a sort the model ordering
# (newest first) applies.
SORTS = {
    "screening_number": (F("screening_number").asc(),),
    "referral_date": (F("referral_date").asc(), F("id").asc()),
    "site": (F("site__name").asc(), F("referral_date").desc(), F("id").desc()),
    "age": (_AGE.asc(nulls_last=True), F("id").asc()),
    "outcome": (F("outcome").asc(), F("referral_date").desc(), F("id").desc()),
    "status": (_WORKFLOW_ORDER.asc(), F("referral_date").desc(), F("id").desc()),
    "days_waiting": (_WAITING_SINCE.asc(nulls_last=True), F("id").asc()),
}
# Earlier addresses of the list sorted "newest" and "oldest".
SORT_ALIASES = {"newest": "-referral_date", "oldest": "referral_date"}


def sort_order(value: str) -> tuple | None:
    """The ORDER BY of a sort parameter (``column`` or ``-column``); None for an unknown one."""
    value = SORT_ALIASES.get(value, value)
    column = value.removeprefix("-")
    if column not in SORTS:
        return None
    if value.startswith("-"):
        return tuple(_reversed(term) for term in SORTS[column])
    return SORTS[column]


def _reversed(term):
    reversed_term = term.copy()
    reversed_term.reverse_ordering()
    return reversed_term


def _visible_sites(request):
    return access.sites_for_user(request.user)


class ReferralFilter(django_filters.FilterSet):
    """Needs ``request`` (the site choices are the signed-in user's sites)."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Screening number, hospital number, name or national ID"),
            }
        ),
    )
    site = django_filters.ModelChoiceFilter(
        label=_("Site"), queryset=_visible_sites, to_field_name="code", empty_label=_("All sites")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Referral.Status.choices, empty_label=_("All statuses")
    )
    outcome = django_filters.ChoiceFilter(
        label=_("Outcome"), choices=Referral.Outcome.choices, empty_label=_("All outcomes")
    )
    referred_from = django_filters.DateFilter(
        label=_("Referred from"),
        field_name="referral_date",
        lookup_expr="gte",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    referred_to = django_filters.DateFilter(
        label=_("Referred to"),
        field_name="referral_date",
        lookup_expr="lte",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    # Set by the column headers' links; an unknown value leaves the default order.
    sort = django_filters.CharFilter(method="sort_by", widget=forms.HiddenInput)

    class Meta:
        model = Referral
        fields = ()

    def search(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(
            Q(screening_number__icontains=text)
            | Q(hospital_number__icontains=text)
            | Q(full_name__icontains=text)
            # A national ID is matched whole, never in part.
            | Q(national_id=text.upper())
        )

    def sort_by(self, queryset, name, value):
        order = sort_order(value)
        return queryset if order is None else queryset.order_by(*order)


class AuditFilterForm(forms.Form):
    """What the audit review lists (``audit_review.ReviewFilter``)."""

    kind = forms.ChoiceField(
        label=_("What"), choices=[("", _("Everything")), *ReviewKind.choices], required=False
    )
    username = forms.CharField(
        label=_("User"),
        max_length=255,
        required=False,
        help_text=_("A username, or the operating-system account of a command-line export."),
    )
    screening_number = forms.CharField(
        label=_("Referral"),
        max_length=20,
        required=False,
        help_text=_("A screening number; downloads and sign-ins concern no one referral."),
    )
    on_or_after = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    on_or_before = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_screening_number(self):
        return self.cleaned_data["screening_number"].strip().upper()

    def clean_username(self):
        return self.cleaned_data["username"].strip()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("on_or_after"), cleaned.get("on_or_before")
        if start and end and start > end:
            raise forms.ValidationError(_("The date range starts after it ends."))
        return cleaned

    def review_filter(self) -> ReviewFilter:
        """The filter of the valid form."""
        return ReviewFilter(**self.cleaned_data)
