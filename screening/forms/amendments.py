"""A protocol amendment: a new version of the thresholds, target and accrual window."""

from django import forms
from django.utils.translation import gettext_lazy as _

from screening import amendments
from screening.models import Enrolment, ProtocolVersion


class ProtocolAmendmentForm(forms.ModelForm):
    """A new protocol version; checks what the database constraints cannot word kindly."""

    class Meta:
        model = ProtocolVersion
        fields = amendments.AMENDABLE_FIELDS

    def clean(self):
        cleaned = super().clean()
        age_min, age_max = cleaned.get("age_min"), cleaned.get("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.add_error("age_max", _("The maximum age is below the minimum age."))
        start, end = cleaned.get("accrual_start"), cleaned.get("accrual_end")
        if start and end and start >= end:
            self.add_error("accrual_end", _("Accrual must close after it opens."))
        return cleaned

    def clean_study_number_format(self):
        text = self.cleaned_data["study_number_format"]
        try:
            first, second, largest = (text.format(n) for n in (1, 2, 9999))
        except (IndexError, KeyError, ValueError):
            raise forms.ValidationError(
                _("Use one number placeholder, e.g. EC-{:03d}."), code="format"
            ) from None
        if first == second:
            raise forms.ValidationError(
                _("The format must put the number in the study number, e.g. EC-{:03d}."),
                code="constant",
            )
        if len(largest) > Enrolment._meta.get_field("study_number").max_length:
            raise forms.ValidationError(_("Study numbers would be too long."), code="length")
        return text

    def clean_effective_date(self):
        effective = self.cleaned_data["effective_date"]
        current = ProtocolVersion.current()
        if effective < current.effective_date:
            raise forms.ValidationError(
                _(
                    "Version %(version)s took effect on %(date)s; an amendment cannot take "
                    "effect before it."
                )
                % {"version": current.version, "date": current.effective_date.isoformat()}
            )
        return effective

    def clean_enrolment_target(self):
        target = self.cleaned_data["enrolment_target"]
        enrolled = Enrolment.objects.count()
        if target < enrolled:
            raise forms.ValidationError(
                _("%(count)s participants are already enrolled; the target cannot be lower.")
                % {"count": enrolled}
            )
        return target
