"""Filters, search and sort of the referral list, and the filter of the audit review."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from screening import access
from screening.audit_review import ReviewFilter, ReviewKind
from screening.models import Referral

# Referral date, then id, so pages stay stable when many share a date; without a sort
# parameter the model ordering (newest first) applies.
SORTS = {
    "newest": ("-referral_date", "-id"),
    "oldest": ("referral_date", "id"),
}
SORT_CHOICES = (("newest", _("Newest referral first")), ("oldest", _("Oldest referral first")))


def _visible_sites(request):
    return access.sites_for_user(request.user)


class ReferralFilter(django_filters.FilterSet):
    """Needs ``request`` (the site choices are the signed-in user's sites)."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Screening number, hospital number or name")}
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
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    referred_to = django_filters.DateFilter(
        label=_("Referred to"),
        field_name="referral_date",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort"), choices=SORT_CHOICES, method="sort_by", empty_label=None
    )

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
        )

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS[value])


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
