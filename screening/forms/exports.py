"""Which referrals an export holds."""

from django import forms
from django.utils.translation import gettext_lazy as _

from screening import exports
from screening.forms.fields import IsoDateField
from screening.models import Site


class ExportFilterForm(forms.Form):
    """One site or all, and a referral-date range (``YYYY-MM-DD``); the CONSORT flow uses it
    too."""

    site = forms.ModelChoiceField(
        Site.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=_("All sites"),
        label=_("Site"),
    )
    referred_from = IsoDateField(
        required=False,
        label=_("Referred from"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    referred_to = IsoDateField(
        required=False,
        label=_("Referred to"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("referred_from"), cleaned.get("referred_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The date range starts after it ends."))
        return cleaned

    def referrals(self):
        """The referrals the valid form selects."""
        site = self.cleaned_data["site"]
        return exports.referrals_filtered(
            site=site.code if site else None,
            referred_from=self.cleaned_data["referred_from"],
            referred_to=self.cleaned_data["referred_to"],
        )
