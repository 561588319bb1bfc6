"""The referral form, the one set of validators behind the browser and the import command; its
crispy layout; the withdrawal confirmation."""

import datetime

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Fieldset, Layout, Row
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from screening import persons, text, units
from screening.forms.fields import (
    IsoDateField,
    NotesField,
    PlainDecimalField,
    PlainIntegerField,
)
from screening.models import (
    EXCLUSION_ANSWERS,
    MEASUREMENTS,
    TRI_STATE_FIELDS,
    Referral,
    Site,
    TriState,
)
from screening.national_id import national_id_problems
from screening.validators import PlainTextValidator

# PROTOCOL section 3 keys in clinical order; the HTML field names and import columns.
PATIENT_FIELDS = (
    "site",
    "hospital_number",
    "full_name",
    "sex",
    "date_of_birth",
    "national_id",
)
REFERRAL_FIELDS = ("referral_date", "screening_date", "referring_physician")
DIAGNOSIS_FIELDS = ("pathology_confirmed", "histology", "tumour_location", "ct", "cn", "cm")
PRIOR_TREATMENT_FIELDS = ("prior_esophageal_radiotherapy", "prior_esophageal_surgery")
LAB_FIELDS = ("labs_date", *(name for key in units.LAB_KEYS for name in (key, f"{key}_unit")))
CARDIOPULMONARY_FIELDS = (
    "ecog",
    "lvef_percent",
    "fev1_litres",
    "cardiac_event_within_6_months",
    "uncontrolled_arrhythmia",
    "interstitial_lung_disease",
)
DOSIMETRY_FIELDS = (
    "dosimetry_status",
    "lung_v20_percent",
    "lung_mean_dose_gy",
    "heart_v30_percent",
    "spinal_cord_max_gy",
)
SECTIONS = (
    (_("Patient"), PATIENT_FIELDS),
    (_("Referral"), REFERRAL_FIELDS),
    (_("Diagnosis and staging"), DIAGNOSIS_FIELDS),
    (_("Prior treatment"), PRIOR_TREATMENT_FIELDS),
    (_("Blood panel"), LAB_FIELDS),
    (_("Cardiopulmonary"), CARDIOPULMONARY_FIELDS),
    (_("Exclusion checks"), EXCLUSION_ANSWERS),
    (_("Dosimetry"), DOSIMETRY_FIELDS),
)
REFERRAL_KEYS = tuple(name for _title, names in SECTIONS for name in names)
# Choice columns that may be left out; a missing answer takes the model's default.
DEFAULTED_FIELDS = (*TRI_STATE_FIELDS, "histology", "dosimetry_status")
DATE_FIELDS = ("date_of_birth", "referral_date", "screening_date", "labs_date")
TEXT_FIELDS = ("hospital_number", "full_name", "national_id", "referring_physician")


class SiteChoiceField(forms.ModelChoiceField):
    """A site by its code, looked up among sites read once for the form (or once for a whole
    import, which sets ``by_code``): no query per validated row."""

    by_code: dict | None = None

    def sites_by_code(self) -> dict:
        if self.by_code is None:
            self.by_code = {site.code: site for site in self.queryset}
        return self.by_code

    def to_python(self, value):
        if value in self.empty_values:
            return None
        ProhibitNullCharactersValidator()(value)
        site = self.sites_by_code().get(str(value))
        if site is None:
            error = self.error_messages["invalid_choice"]
            raise forms.ValidationError(error, code="invalid_choice", params={"value": value})
        return site


def _range_message(name: str):
    low, high, unit = MEASUREMENTS[name]
    if name == "ecog":
        return format_lazy(_("ECOG is a grade from {low} to {high}."), low=low, high=high)
    # The validator's message is %-formatted with its limit: a "%" unit is written "%%".
    return format_lazy(
        _("Enter a value from {low} to {high} {unit}."),
        low=low,
        high=high,
        unit=unit.replace("%", "%%"),
    )


class ReferralForm(forms.ModelForm):
    """Validates one referral; lab values arrive in the entered unit and leave in SI.

    ``protocol`` supplies the accrual window; ``sites`` limits the sites a user may choose (a
    list is read once for many forms). ``check_person=False`` leaves the person checks of
    PROTOCOL section 3a to the caller, which makes them for a whole file at once.
    ``ask_change_reason`` adds the required ``change_reason`` of an edit. ``from_file`` is for
    a row of an import file, which must give the unit of each value of
    ``units.UNIT_REQUIRED_IN_FILES``; the browser form always sends the unit it shows.
    """

    site = SiteChoiceField(queryset=Site.objects.all(), to_field_name="code", label=_("Site"))

    class Meta:
        model = Referral
        fields = REFERRAL_KEYS
        field_classes = {
            **dict.fromkeys(DATE_FIELDS, IsoDateField),
            # ECOG is a whole number; the other measurements are decimals. Lab values are
            # declared in __init__, in the unit entered rather than the model's SI.
            **{
                name: PlainIntegerField if name == "ecog" else PlainDecimalField
                for name in MEASUREMENTS
            },
        }
        widgets = {
            name: forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d") for name in DATE_FIELDS
        }
        # A value out of range says the range, not Django's "less than or equal to 5".
        error_messages = {
            name: dict.fromkeys(("min_value", "max_value"), _range_message(name))
            for name in MEASUREMENTS
        }

    def __init__(
        self,
        *args,
        protocol,
        sites=None,
        check_person=True,
        ask_change_reason=False,
        from_file=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.protocol = protocol
        self.check_person = check_person
        self.from_file = from_file
        if ask_change_reason:
            # Every edit of a saved referral says why (PROTOCOL section 6); kept in the audit.
            self.fields["change_reason"] = NotesField(
                label=_("Reason for the change"),
                rows=2,
                help_text=_("Kept in the referral's history beside the change."),
                error_messages={"required": _("Give the reason for the change.")},
            )
        if isinstance(sites, list | tuple):
            site_field = self.fields["site"]
            site_field.queryset = Site.objects.filter(pk__in=[site.pk for site in sites])
            site_field.by_code = {site.code: site for site in sites}
        elif sites is not None:
            self.fields["site"].queryset = sites
        if self.instance.pk:
            # The site field is keyed by code; an instance would offer its id.
            self.initial["site"] = self.instance.site.code
        for name in TEXT_FIELDS:
            self.fields[name].validators.append(PlainTextValidator())
        self.fields["screening_date"].required = False
        self.fields["screening_date"].help_text = _("Defaults to the referral date.")
        for name in DEFAULTED_FIELDS:
            field = self.fields[name]
            field.required = False
            field.initial = Referral._meta.get_field(name).default
        for name in TRI_STATE_FIELDS:
            self.fields[name].widget = forms.RadioSelect(choices=TriState.choices)
            self.fields[name].choices = TriState.choices
        for key in units.LAB_KEYS:
            self.fields[key] = PlainDecimalField(
                label=capfirst(Referral._meta.get_field(key).verbose_name),
                required=False,
                max_digits=12,
                decimal_places=4,
            )
            # A free-text field behind a select, so that an unsupported unit from an import
            # gets the message naming the accepted units.
            unit_choices = [(unit, unit) for unit in units.UNIT_FACTORS[key]]
            self.fields[f"{key}_unit"] = forms.CharField(
                label=_("Unit"),
                required=False,
                initial=units.SI_UNIT[key],
                widget=forms.Select(choices=unit_choices),
            )
            if self.instance.pk and getattr(self.instance, key) is not None:
                entered_unit = getattr(self.instance, f"{key}_unit") or units.SI_UNIT[key]
                self.initial[key] = units.from_si(key, getattr(self.instance, key), entered_unit)
                self.initial[f"{key}_unit"] = entered_unit

    def _get_validation_exclusions(self):
        # The site was found among the sites read for the form; the model's check of the
        # foreign key would ask the database again, once per imported row.
        return {*super()._get_validation_exclusions(), "site"}

    def clean_national_id(self):
        return self.cleaned_data["national_id"].strip().upper()

    def _clean_defaulted(self):
        for name in DEFAULTED_FIELDS:
            if not self.cleaned_data.get(name):
                self.cleaned_data[name] = Referral._meta.get_field(name).default

    def _unit_message(self, error: units.UnitError) -> str:
        """The unit module's message, naming the analyte by its label in the user's language."""
        return text.render(error.template, {**error.params, "key": self.fields[error.key].label})

    def _clean_labs(self):
        for key in units.LAB_KEYS:
            unit_field = f"{key}_unit"
            value = self.cleaned_data.get(key)
            required = self.from_file and key in units.UNIT_REQUIRED_IN_FILES and value is not None
            try:
                unit = units.canonical_unit(
                    key, self.cleaned_data.get(unit_field), required=required
                )
            except units.UnitError as error:
                self.add_error(unit_field, self._unit_message(error))
                continue
            self.cleaned_data[unit_field] = unit if value is not None else ""
            if value is None:
                continue
            try:
                self.cleaned_data[key] = units.to_si(key, value, unit)
            except units.UnitError as error:
                self.add_error(key, self._unit_message(error))

    def _clean_dates(self):
        data = self.cleaned_data
        today = timezone.localdate()
        dob, referral_date = data.get("date_of_birth"), data.get("referral_date")
        if referral_date and not data.get("screening_date") and "screening_date" not in self.errors:
            data["screening_date"] = referral_date
        screening_date = data.get("screening_date")
        if dob and dob <= datetime.date(1900, 1, 1):
            self.add_error("date_of_birth", _("Date of birth must be after 1900-01-01."))
        if referral_date:
            if referral_date < self.protocol.accrual_start:
                self.add_error(
                    "referral_date",
                    _("Referral date is before the accrual window opens (%(start)s).")
                    % {"start": self.protocol.accrual_start.isoformat()},
                )
            if referral_date > self.protocol.accrual_end:
                self.add_error(
                    "referral_date",
                    _("Referral date is after the accrual window closed (%(end)s).")
                    % {"end": self.protocol.accrual_end.isoformat()},
                )
            if referral_date > today:
                self.add_error("referral_date", _("Referral date is in the future."))
        if screening_date:
            if referral_date and screening_date < referral_date:
                self.add_error("screening_date", _("Screening date is before the referral date."))
            if screening_date > today:
                self.add_error("screening_date", _("Screening date is in the future."))
            if dob and dob > screening_date:
                self.add_error("date_of_birth", _("Date of birth is after the screening date."))
            labs_date = data.get("labs_date")
            if labs_date and labs_date > screening_date:
                self.add_error("labs_date", _("Blood panel date is after the screening date."))

    def _clean_national_id_against_patient(self):
        national_id = self.cleaned_data.get("national_id")
        if not national_id:
            return
        problems = national_id_problems(
            national_id, self.cleaned_data.get("date_of_birth"), self.cleaned_data.get("sex")
        )
        for problem in problems:
            self.add_error("national_id", problem)

    def person(self) -> persons.Person | None:
        """Who the valid form is about, for the checks of PROTOCOL section 3a."""
        needed = ("site", "hospital_number", "full_name", "date_of_birth", "sex")
        if any(not self.cleaned_data.get(name) for name in needed):
            return None
        return persons.Person.from_data(self.cleaned_data, pk=self.instance.pk)

    def _clean_person(self):
        person = self.person()
        if person is None:
            return
        visible = {site.pk for site in self.fields["site"].sites_by_code().values()}
        (finding,) = persons.check([person], visible_site_ids=visible)
        for field_name, message in finding.refusals:
            self.add_error(field_name, message)

    def clean(self):
        super().clean()
        self._clean_defaulted()
        self._clean_labs()
        self._clean_dates()
        self._clean_national_id_against_patient()
        if self.check_person:
            self._clean_person()
        return self.cleaned_data

    def clinical_data(self) -> dict:
        """The validated section 3 values, lab values in SI, ready for a service to assign."""
        return {name: self.cleaned_data[name] for name in REFERRAL_KEYS}


# The wrapper the form's script shows only when sex is F (PROTOCOL section 3).
PREGNANCY_QUESTION_ID = "pregnancy-question"


def _lab_layout(key):
    """An analyte's value and unit selector side by side, half the row wide on large screens."""
    return Div(
        Row(
            Column(key, css_class="col-7"),
            Column(f"{key}_unit", css_class="col-5"),
        ),
        css_class="col-md-6",
    )


def _section_layout(title, names):
    """Short inputs two to a row; each tri-state question on its own line as inline radios."""
    inputs, questions = [], []
    for name in names:
        if name.endswith("_unit") and name.removesuffix("_unit") in units.LAB_KEYS:
            continue
        if name in units.LAB_KEYS:
            inputs.append(_lab_layout(name))
        elif name in TRI_STATE_FIELDS:
            radios = InlineRadios(name)
            if name == "pregnant_or_breastfeeding":
                radios = Div(radios, css_id=PREGNANCY_QUESTION_ID)
            questions.append(radios)
        else:
            inputs.append(Column(name, css_class="col-md-6"))
    return Fieldset(title, Row(*inputs), *questions, css_class="card card-body mb-3")


def referral_form_helper() -> FormHelper:
    """The sections of ``forms.SECTIONS`` in clinical order; the template writes the <form>
    tag itself (it carries the live-evaluation attributes)."""
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(*(_section_layout(title, names) for title, names in SECTIONS))
    return helper


class WithdrawalForm(forms.Form):
    """A coded reason (what reports count) and its details."""

    code = forms.ChoiceField(
        label=_("Reason for withdrawal"),
        choices=[("", "---------"), *Referral.WithdrawalReason.choices],
        help_text=_("Withdrawal is final: the referral can no longer be edited."),
        error_messages={"required": _("Choose the reason for the withdrawal.")},
    )
    reason = NotesField(
        label=_("Details"), required=False, help_text=_("Needed when the reason is Other.")
    )

    def clean(self):
        data = super().clean()
        if data.get("code") == Referral.WithdrawalReason.OTHER and not data.get("reason"):
            self.add_error("reason", _("Describe the reason for the withdrawal."))
        return data
