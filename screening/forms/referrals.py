"""The referral form, the one set of validators behind the browser and the import command; its
crispy layout; the withdrawal confirmation."""

import datetime
import functools
from decimal import Decimal

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Fieldset, Layout, Row
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.utils import ErrorDict
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

    # The site was found among the sites read for the form; the model's check of the foreign
    # key would ask the database again, once per imported row.
    NOT_VALIDATED_BY_MODEL = frozenset({"site"})

    def _get_validation_exclusions(self):
        return {*super()._get_validation_exclusions(), *self.NOT_VALIDATED_BY_MODEL}

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

    @functools.cached_property
    def today(self) -> datetime.date:
        """The day in the trial's time zone, read once: an import checks every row of its file
        with one form, against the day its check began."""
        return timezone.localdate()

    def _clean_dates(self):
        data = self.cleaned_data
        today = self.today
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


_ABSENT = object()
_UNKNOWN = object()


def _empty(value) -> bool:
    """Whether a cleaned value is one of Django's empty values. A field gives None, text, a
    number, a date or a site, never a list: and comparing a Decimal with [] is slow."""
    return value is None or (isinstance(value, str) and not value)


class ReferralRows:
    """Validates the rows of a file as ``ReferralForm`` validates one, far faster.

    One form is built for the whole file, with ``from_file`` and without the person checks
    (the caller makes them for many rows at once): its fields, its cross-field ``clean`` and its
    messages are the only definition of each rule. What makes a row cheap is that a field's
    clean of a given text, and the model's check of a given value, are pure: each is worked out
    once and reused for every later row holding the same text (most values of a file repeat:
    sites, stages, answers, dates, lab values). ``tests/test_import_bulk.py`` feeds the same
    good and bad rows through both paths and compares every message.

    The steps are those of ``full_clean``: the fields, their ``clean_<name>``, the form's
    ``clean``, then the model's field validation as ``ModelForm._post_clean`` does it. The
    model's unique checks ask nothing here (every unique column is outside the form) and its
    check constraints are the form's own rules (``Referral.validate_constraints``).
    """

    # Texts kept per field; a field whose values rarely repeat (names, numbers) starts afresh
    # when it reaches this, so memory stays flat whatever the file's length.
    KEPT_PER_FIELD = 5_000

    def __init__(self, *, protocol, sites):
        form = ReferralForm(protocol=protocol, sites=sites, check_person=False, from_file=True)
        form.is_bound = True
        self.form = form
        self._fields = [
            (name, field, field.widget.value_from_datadict, getattr(form, f"clean_{name}", None))
            for name, field in form.fields.items()
        ]
        self._field_kept = {name: {} for name in form.fields}
        self._model_fields = [
            (
                model_field,
                (
                    form.fields[model_field.name].widget,
                    # ModelForm._get_validation_exclusions: an empty value of a field the form
                    # does not require is not validated by a model field that forbids blanks.
                    not model_field.blank and not form.fields[model_field.name].required,
                    {},  # the model field's outcome by value
                ),
            )
            for model_field in Referral._meta.fields
            if model_field.name in form.fields
            and model_field.name not in form.NOT_VALIDATED_BY_MODEL
        ]

    def _work_out(self, kept: dict, key, work, *args) -> list:
        """[value, None] or [None, the ValidationError] of ``work(*args)``, kept under ``key``,
        with room for the model's check of the value (``_model_error``)."""
        if len(kept) >= self.KEPT_PER_FIELD:
            kept.clear()
        try:
            outcome = [work(*args), None, _UNKNOWN]
        except forms.ValidationError as error:
            outcome = [None, error, _UNKNOWN]
        kept[key] = outcome
        return outcome

    def _clean_field(self, name, field, clean_method, raw):
        self.form.cleaned_data = {name: field.clean(raw)}
        return clean_method() if clean_method else self.form.cleaned_data[name]

    def validate(self, data: dict) -> tuple[dict | None, dict]:
        """The row's cleaned data (None when it is invalid) and its errors, a dict of field
        name ("__all__" for the row as a whole) to messages, as ``ReferralForm.errors``."""
        form = self.form
        form.data = data
        form._errors = errors = ErrorDict(renderer=form.renderer)
        cleaned, outcomes = {}, {}
        for name, field, read, clean_method in self._fields:
            raw = read(data, None, name)
            kept = self._field_kept[name]
            outcome = kept.get(raw) or self._work_out(
                kept, raw, self._clean_field, name, field, clean_method, raw
            )
            outcomes[name] = outcome
            if outcome[1] is None:
                cleaned[name] = outcome[0]
            else:
                form.cleaned_data = cleaned
                form.add_error(name, outcome[1])
        form.cleaned_data = cleaned
        form._clean_form()
        self._validate_model_fields(data, outcomes)
        if errors:
            return None, {field: list(messages) for field, messages in errors.items()}
        return form.cleaned_data, {}

    def _validate_model_fields(self, data, outcomes):
        """``ModelForm._post_clean`` without an instance: each model field's validation of the
        value the instance would get, for the fields without an error. A value the form's
        ``clean`` left as its field gave it is checked once per text, with the field's
        outcome."""
        cleaned, errors = self.form.cleaned_data, self.form._errors
        found = {}
        for model_field, check in self._model_fields:
            name = model_field.name
            value = cleaned.get(name, _ABSENT)
            if value is _ABSENT or (errors and name in errors):
                continue
            outcome = outcomes[name]
            if value is outcome[0]:
                error = outcome[2]
                if error is _UNKNOWN:
                    error = outcome[2] = self._model_error(model_field, check, value, data)
            else:
                error = self._model_error(model_field, check, value, data)
            if error is not None:
                found[name] = error.error_list
        if found:
            self.form._update_errors(forms.ValidationError(found))

    def _model_error(self, model_field, check, value, data):
        """The model field's ValidationError for ``value``, or None; kept per value."""
        widget, skip_empty, kept = check
        name = model_field.name
        if _empty(value):
            if skip_empty:
                return None
            if model_field.has_default() and widget.value_omitted_from_data(data, None, name):
                value = model_field.get_default()  # construct_instance leaves the default
            if model_field.blank and _empty(value):
                return None
        # Decimal("1.0") == Decimal("1.00"), but only one of them has two decimal places.
        key = (Decimal, str(value)) if isinstance(value, Decimal) else value
        return (kept.get(key) or self._work_out(kept, key, model_field.clean, value, None))[1]


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
