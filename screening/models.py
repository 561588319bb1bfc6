"""The referral data model (PROTOCOL sections 1-3, 6).

Lab values are stored in SI units with the unit the user entered kept beside each value; the
clinical rules themselves live in ``rules.py`` and never see these models.
"""

import dataclasses
import datetime
import hashlib
from decimal import Decimal

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.fields.json import KT
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from screening import rules, staging, units
from screening.text import local_minute

SNAPSHOT_FIELDS = dataclasses.fields(rules.Snapshot)


def audited(model=None, *, exclude=()):
    """Record every insert, update and delete of ``model`` in an append-only event table.

    Database triggers do the recording, so bulk updates and raw SQL are caught too. Columns in
    ``exclude`` (ones the database derives from recorded columns) are left out of the events.
    The triggers fire once a statement, not once a row: a statement's rows are recorded by one
    INSERT from its transition table, which made an import's audit five times cheaper.
    """
    trackers = (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
    track = pghistory.track(
        *trackers,
        append_only=True,
        exclude=list(exclude) or None,
        level=pghistory.Statement,
    )
    return track if model is None else track(model)


class TriState(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


def _tri_state(verbose_name):
    return models.CharField(
        verbose_name, max_length=7, choices=TriState.choices, default=TriState.UNKNOWN
    )


def _between(low, high):
    return [MinValueValidator(low), MaxValueValidator(high)]


# The numbers of PROTOCOL section 3 that are not lab values: inclusive range and the unit they
# are shown in. Field validators and check constraints are both built from this one table.
MEASUREMENTS = {
    "ecog": (0, 5, ""),
    "lvef_percent": (0, 100, "%"),
    "fev1_litres": (0, 8, "L"),
    "lung_v20_percent": (0, 100, "%"),
    "lung_mean_dose_gy": (0, 200, "Gy(RBE)"),
    "heart_v30_percent": (0, 100, "%"),
    "spinal_cord_max_gy": (0, 200, "Gy(RBE)"),
}
MEASUREMENT_UNITS = {name: unit for name, (_low, _high, unit) in MEASUREMENTS.items() if unit}


def _measurement(name, verbose_name, *, max_digits=5):
    """An optional number of ``MEASUREMENTS`` with two decimals, validated to its range."""
    low, high, _unit = MEASUREMENTS[name]
    return models.DecimalField(
        verbose_name,
        max_digits=max_digits,
        decimal_places=2,
        null=True,
        blank=True,
        validators=_between(low, high),
    )


def _lab_value(verbose_name):
    """A lab value in SI units (``units.SI_UNIT``)."""
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=5, null=True, blank=True)


def _lab_unit(verbose_name):
    """The unit a lab value was entered in; blank when no value was given."""
    return models.CharField(verbose_name, max_length=10, blank=True)


def _in_choices(field_name, choices, *, allow_blank=False):
    """A named CheckConstraint keeping a choice column to its choices."""
    condition = Q(**{f"{field_name}__in": [value for value, _label in choices]})
    if allow_blank:
        condition |= Q(**{field_name: ""})
    return models.CheckConstraint(
        condition=condition, name=f"%(app_label)s_%(class)s_{field_name}_valid"
    )


def _in_range(field_name, low, high):
    """A named CheckConstraint keeping an optional number within [low, high]."""
    condition = Q(**{f"{field_name}__isnull": True}) | Q(
        **{f"{field_name}__gte": low, f"{field_name}__lte": high}
    )
    return models.CheckConstraint(
        condition=condition, name=f"%(app_label)s_%(class)s_{field_name}_range"
    )


class Role(models.TextChoices):
    """Roles are Django groups of these names (see the ``adduser`` command)."""

    COORDINATOR = "coordinator", _("Trial coordinator")
    MDT = "mdt", _("MDT member")
    ADMIN = "admin", _("Data manager")


def user_roles(user) -> set[str]:
    """The role codes of a user (one query unless the groups are prefetched)."""
    if not user.is_authenticated:
        return set()
    return {group.name for group in user.groups.all()}


@audited
class ProtocolVersion(models.Model):
    """One version of the protocol's thresholds, target and accrual window.

    A data manager amends the protocol by creating a new version; the highest version number
    is the one in force. Field names of the limits equal ``rules.Limits`` fields.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    effective_date = models.DateField(_("effective date"))
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )

    enrolment_target = models.PositiveIntegerField(_("enrolment target"), default=32)
    accrual_start = models.DateField(_("accrual opens"), default=datetime.date(2025, 5, 1))
    accrual_end = models.DateField(_("accrual closes"), default=datetime.date(2029, 5, 31))
    study_number_format = models.CharField(
        _("study number format"),
        max_length=20,
        default="EC-{:03d}",
        help_text=_("Python format for the study number, e.g. EC-{:03d} gives EC-001."),
    )

    age_min = models.PositiveSmallIntegerField(_("minimum age (years)"), default=18)
    age_max = models.PositiveSmallIntegerField(_("maximum age (years)"), default=70)
    alt_max = models.DecimalField(
        _("ALT upper limit (U/L)"), max_digits=8, decimal_places=2, default=100
    )
    ast_max = models.DecimalField(
        _("AST upper limit (U/L)"), max_digits=8, decimal_places=2, default=100
    )
    total_bilirubin_max = models.DecimalField(
        _("total bilirubin upper limit (umol/L)"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("31.5"),
    )
    creatinine_max = models.DecimalField(
        _("creatinine upper limit (umol/L)"), max_digits=8, decimal_places=2, default=156
    )
    creatinine_clearance_min = models.DecimalField(
        _("creatinine clearance lower limit (mL/min)"), max_digits=8, decimal_places=2, default=60
    )
    wbc_min = models.DecimalField(
        _("WBC lower limit (10^9/L)"), max_digits=8, decimal_places=2, default=Decimal("4.0")
    )
    anc_min = models.DecimalField(
        _("ANC lower limit (10^9/L)"), max_digits=8, decimal_places=2, default=Decimal("1.5")
    )
    platelets_min = models.DecimalField(
        _("platelets lower limit (10^9/L)"), max_digits=8, decimal_places=2, default=100
    )
    hemoglobin_min = models.DecimalField(
        _("hemoglobin lower limit (g/L)"), max_digits=8, decimal_places=2, default=90
    )
    ecog_max = models.PositiveSmallIntegerField(_("highest acceptable ECOG"), default=1)
    lvef_min = models.DecimalField(
        _("LVEF lower limit (%)"), max_digits=5, decimal_places=2, default=50
    )
    fev1_min = models.DecimalField(
        _("FEV1 lower limit (L)"), max_digits=5, decimal_places=2, default=Decimal("1.2")
    )
    labs_max_age_days = models.PositiveSmallIntegerField(_("labs valid for (days)"), default=28)
    lung_v20_max = models.DecimalField(
        _("lung V20 limit (%)"), max_digits=6, decimal_places=2, default=25
    )
    lung_mean_dose_max = models.DecimalField(
        _("mean lung dose limit (Gy)"), max_digits=6, decimal_places=2, default=20
    )
    heart_v30_max = models.DecimalField(
        _("heart V30 limit (%)"), max_digits=6, decimal_places=2, default=40
    )
    spinal_cord_max = models.DecimalField(
        _("spinal cord max dose limit (Gy)"), max_digits=6, decimal_places=2, default=45
    )

    class Meta:
        verbose_name = _("protocol version")
        verbose_name_plural = _("protocol versions")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(
                condition=Q(age_min__lte=F("age_max")), name="screening_protocol_age_order"
            ),
            models.CheckConstraint(
                condition=Q(accrual_start__lt=F("accrual_end")),
                name="screening_protocol_window_order",
            ),
            models.CheckConstraint(
                condition=Q(enrolment_target__gt=0), name="screening_protocol_target_positive"
            ),
        ]

    def __str__(self):
        return f"v{self.version} ({self.effective_date:%Y-%m-%d})"

    @classmethod
    def current(cls) -> "ProtocolVersion":
        """The version in force (one query)."""
        return cls.objects.order_by("-version").first()

    def limits(self) -> rules.Limits:
        return rules.Limits(
            **{field.name: getattr(self, field.name) for field in dataclasses.fields(rules.Limits)}
        )

    def study_number(self, sequence: int) -> str:
        return self.study_number_format.format(sequence)


class Site(models.Model):
    """A heavy-ion centre; coordinators are bound to one or more sites."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100, blank=True)
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="sites", verbose_name=_("coordinators")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the interface's language: the Chinese name in Chinese, when it has one.

        Files keep the site's code (exports) so that they read the same in every language.
        """
        if self.name_zh and (translation.get_language() or "").startswith("zh"):
            return self.name_zh
        return self.name


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Histology(models.TextChoices):
    SQUAMOUS = "squamous_cell_carcinoma", _("Squamous cell carcinoma")
    ADENOCARCINOMA = "adenocarcinoma", _("Adenocarcinoma")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class TumourLocation(models.TextChoices):
    CERVICAL = "cervical", _("Cervical")
    UPPER = "upper_thoracic", _("Upper thoracic")
    MIDDLE = "middle_thoracic", _("Middle thoracic")
    LOWER = "lower_thoracic", _("Lower thoracic")
    GEJ = "gej", _("Gastro-oesophageal junction")


class ClinicalT(models.TextChoices):
    TX = "TX", "cTX"
    T0 = "T0", "cT0"
    TIS = "Tis", "cTis"
    T1 = "T1", "cT1"
    T1A = "T1a", "cT1a"
    T1B = "T1b", "cT1b"
    T2 = "T2", "cT2"
    T3 = "T3", "cT3"
    T4 = "T4", "cT4"
    T4A = "T4a", "cT4a"
    T4B = "T4b", "cT4b"


class ClinicalN(models.TextChoices):
    NX = "NX", "cNX"
    N0 = "N0", "cN0"
    N1 = "N1", _("cN1 (1-2 regional nodes)")
    N2 = "N2", _("cN2 (3-6 regional nodes)")
    N3 = "N3", _("cN3 (7 or more regional nodes)")


class ClinicalM(models.TextChoices):
    M0 = "M0", "cM0"
    M1 = "M1", "cM1"


class Dosimetry(models.TextChoices):
    NOT_ASSESSED = "not_assessed", _("Not assessed")
    FEASIBLE = "feasible", _("Feasible")
    NOT_FEASIBLE = "not_feasible", _("Not feasible")


class Status(models.TextChoices):
    SCREENING = "screening", _("Screening")
    SCREEN_FAILED = "screen_failed", _("Screen failed")
    MDT_REVIEW = "mdt_review", _("MDT review")
    MDT_APPROVED = "mdt_approved", _("MDT approved")
    MDT_REJECTED = "mdt_rejected", _("MDT rejected")
    ENROLLED = "enrolled", _("Enrolled")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Outcome(models.TextChoices):
    INELIGIBLE = rules.Outcome.INELIGIBLE, _("Ineligible")
    INCOMPLETE = rules.Outcome.INCOMPLETE, _("Incomplete")
    POTENTIALLY_ELIGIBLE = rules.Outcome.POTENTIALLY_ELIGIBLE, _("Potentially eligible")


class WithdrawalReason(models.TextChoices):
    DECLINED_CONSENT = "declined_consent", _("Declined consent")
    PATIENT_CHOICE = "patient_choice", _("Patient's choice")
    CLINICAL_DETERIORATION = "clinical_deterioration", _("Clinical deterioration")
    DIED = "died", _("Died")
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", _("Lost to follow-up")
    DUPLICATE_REFERRAL = "duplicate_referral", _("Duplicate referral")
    OTHER = "other", _("Other")


# The yes / no / unknown answers of the exclusion checks (E3-E6), in clinical order.
EXCLUSION_ANSWERS = (
    "fistula_or_perforation",
    "deep_ulceration",
    "perforation_risk_other",
    "abdominal_lymph_node_metastasis",
    "cardiac_implantable_device",
    "metal_implant_in_treatment_region",
    "pregnant_or_breastfeeding",
    "active_connective_tissue_disease",
    "prior_thoracic_radiotherapy_overlap",
    "other_absolute_rt_contraindication",
)
# Every yes / no / unknown answer of PROTOCOL section 3, in clinical order.
TRI_STATE_FIELDS = (
    "pathology_confirmed",
    "prior_esophageal_radiotherapy",
    "prior_esophageal_surgery",
    "cardiac_event_within_6_months",
    "uncontrolled_arrhythmia",
    "interstitial_lung_disease",
    *EXCLUSION_ANSWERS,
)


@audited
class Referral(models.Model):
    """A patient referred for screening, with every key of PROTOCOL section 3."""

    Sex = Sex
    Histology = Histology
    Location = TumourLocation
    CT = ClinicalT
    CN = ClinicalN
    CM = ClinicalM
    Dosimetry = Dosimetry
    Status = Status
    Outcome = Outcome
    WithdrawalReason = WithdrawalReason

    # Statuses in which a referral is still being worked: at most one per person (PROTOCOL 3a).
    OPEN_STATUSES = (Status.SCREENING, Status.MDT_REVIEW, Status.MDT_APPROVED)
    # Statuses after which clinical data no longer changes (a screen failure can be corrected).
    CLOSED_STATUSES = (Status.MDT_REJECTED, Status.ENROLLED, Status.WITHDRAWN)

    screening_number = models.CharField(_("screening number"), max_length=20, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, verbose_name=_("site"))
    hospital_number = models.CharField(_("hospital number"), max_length=50)
    full_name = models.CharField(_("full name"), max_length=200)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    date_of_birth = models.DateField(_("date of birth"))
    national_id = models.CharField(_("national ID"), max_length=18, blank=True)
    referral_date = models.DateField(_("referral date"))
    screening_date = models.DateField(_("screening date"))
    referring_physician = models.CharField(_("referring physician"), max_length=200, blank=True)

    pathology_confirmed = _tri_state(_("pathologically confirmed"))
    histology = models.CharField(
        _("histology"), max_length=30, choices=Histology.choices, default=Histology.UNKNOWN
    )
    tumour_location = models.CharField(
        _("tumour location"), max_length=20, choices=TumourLocation.choices, blank=True
    )
    ct = models.CharField(_("clinical T (cT)"), max_length=3, choices=ClinicalT.choices, blank=True)
    cn = models.CharField(_("clinical N (cN)"), max_length=2, choices=ClinicalN.choices, blank=True)
    cm = models.CharField(_("clinical M (cM)"), max_length=2, choices=ClinicalM.choices, blank=True)

    prior_esophageal_radiotherapy = _tri_state(
        _("prior radical radiotherapy for esophageal cancer")
    )
    prior_esophageal_surgery = _tri_state(_("prior radical surgery for esophageal cancer"))

    labs_date = models.DateField(_("blood panel date"), null=True, blank=True)
    alt = _lab_value(_("ALT"))
    alt_unit = _lab_unit(_("ALT unit"))
    ast = _lab_value(_("AST"))
    ast_unit = _lab_unit(_("AST unit"))
    total_bilirubin = _lab_value(_("total bilirubin"))
    total_bilirubin_unit = _lab_unit(_("total bilirubin unit"))
    creatinine = _lab_value(_("creatinine"))
    creatinine_unit = _lab_unit(_("creatinine unit"))
    creatinine_clearance = _lab_value(_("creatinine clearance"))
    creatinine_clearance_unit = _lab_unit(_("creatinine clearance unit"))
    wbc = _lab_value(_("WBC"))
    wbc_unit = _lab_unit(_("WBC unit"))
    anc = _lab_value(_("ANC"))
    anc_unit = _lab_unit(_("ANC unit"))
    platelets = _lab_value(_("platelets"))
    platelets_unit = _lab_unit(_("platelets unit"))
    hemoglobin = _lab_value(_("hemoglobin"))
    hemoglobin_unit = _lab_unit(_("hemoglobin unit"))

    ecog = models.PositiveSmallIntegerField(
        _("ECOG performance status"),
        null=True,
        blank=True,
        validators=_between(*MEASUREMENTS["ecog"][:2]),
    )
    lvef_percent = _measurement("lvef_percent", _("LVEF (%)"))
    fev1_litres = _measurement("fev1_litres", _("FEV1 (L)"), max_digits=4)
    cardiac_event_within_6_months = _tri_state(
        _("MI, unstable angina or heart-failure admission within 6 months")
    )
    uncontrolled_arrhythmia = _tri_state(_("uncontrolled arrhythmia"))
    interstitial_lung_disease = _tri_state(_("interstitial lung disease"))

    dosimetry_status = models.CharField(
        _("dosimetry"), max_length=12, choices=Dosimetry.choices, default=Dosimetry.NOT_ASSESSED
    )
    lung_v20_percent = _measurement("lung_v20_percent", _("lung V20 (%)"))
    lung_mean_dose_gy = _measurement("lung_mean_dose_gy", _("mean lung dose (Gy(RBE))"))
    heart_v30_percent = _measurement("heart_v30_percent", _("heart V30 (%)"))
    spinal_cord_max_gy = _measurement("spinal_cord_max_gy", _("spinal cord max dose (Gy(RBE))"))

    fistula_or_perforation = _tri_state(_("existing fistula, sinus tract or perforation"))
    deep_ulceration = _tri_state(_("deep or penetrating ulceration (niche sign)"))
    perforation_risk_other = _tri_state(_("high perforation risk for another reason"))
    abdominal_lymph_node_metastasis = _tri_state(_("abdominal lymph node metastasis"))
    cardiac_implantable_device = _tri_state(_("pacemaker or ICD"))
    metal_implant_in_treatment_region = _tri_state(_("metal implant in the treatment region"))
    pregnant_or_breastfeeding = _tri_state(_("pregnant or breastfeeding"))
    active_connective_tissue_disease = _tri_state(_("active connective tissue disease"))
    prior_thoracic_radiotherapy_overlap = _tri_state(
        _("earlier thoracic radiotherapy overlapping the field")
    )
    other_absolute_rt_contraindication = _tri_state(
        _("other absolute contraindication to radiotherapy")
    )

    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.SCREENING
    )
    outcome = models.CharField(
        _("outcome"), max_length=25, choices=Outcome.choices, default=Outcome.INCOMPLETE
    )
    evaluation = models.OneToOneField(
        "Evaluation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("current evaluation"),
    )
    withdrawal_code = models.CharField(
        _("withdrawal reason"), max_length=25, choices=WithdrawalReason.choices, blank=True
    )
    withdrawal_reason = models.TextField(_("withdrawal details"), blank=True)
    previous_referral = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("previous referral"),
        help_text=_("The same person's latest earlier referral, closed when this one was made."),
    )
    possible_duplicate = models.BooleanField(
        _("possible duplicate"),
        default=False,
        help_text=_(
            "Another referral has the same name, date of birth and sex under another person key."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-referral_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "hospital_number"],
                condition=Q(status__in=["screening", "mdt_review", "mdt_approved"]),
                name="screening_referral_one_open_per_patient",
                violation_error_message=_(
                    "This patient already has an open referral at this site."
                ),
            ),
            models.UniqueConstraint(
                fields=["national_id"],
                condition=Q(status__in=["screening", "mdt_review", "mdt_approved"])
                & ~Q(national_id=""),
                name="screening_referral_one_open_per_national_id",
                violation_error_message=_("This person already has an open referral."),
            ),
            _in_choices("withdrawal_code", WithdrawalReason.choices, allow_blank=True),
            _in_choices("sex", Sex.choices),
            _in_choices("histology", Histology.choices),
            _in_choices("tumour_location", TumourLocation.choices, allow_blank=True),
            _in_choices("ct", ClinicalT.choices, allow_blank=True),
            _in_choices("cn", ClinicalN.choices, allow_blank=True),
            _in_choices("cm", ClinicalM.choices, allow_blank=True),
            _in_choices("dosimetry_status", Dosimetry.choices),
            _in_choices("status", Status.choices),
            _in_choices("outcome", Outcome.choices),
            *(_in_choices(name, TriState.choices) for name in TRI_STATE_FIELDS),
            *(_in_range(key, low, high) for key, (low, high) in units.PLAUSIBLE_RANGE.items()),
            *(_in_range(name, low, high) for name, (low, high, _unit) in MEASUREMENTS.items()),
            models.CheckConstraint(
                condition=Q(date_of_birth__gt=datetime.date(1900, 1, 1)),
                name="screening_referral_date_of_birth_after_1900",
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__lte=F("screening_date")),
                name="screening_referral_born_before_screening",
            ),
            models.CheckConstraint(
                condition=Q(screening_date__gte=F("referral_date")),
                name="screening_referral_screened_after_referral",
            ),
            models.CheckConstraint(
                condition=Q(labs_date__isnull=True) | Q(labs_date__lte=F("screening_date")),
                name="screening_referral_labs_not_after_screening",
            ),
            models.CheckConstraint(
                condition=Q(national_id="") | Q(national_id__regex=r"^[0-9]{17}[0-9X]$"),
                name="screening_referral_national_id_format",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "referral_date"], name="referral_status_date_idx"),
            models.Index(fields=["site", "referral_date"], name="referral_site_date_idx"),
            # The list's default order (newest first) read backwards from the index; site_id
            # included so a page of ids can be found from the index alone (measured in bench/).
            models.Index(
                fields=["referral_date", "id"], include=["site"], name="referral_date_id_idx"
            ),
            # Counts by site and status (list, dashboard) from the index alone, and the list
            # filtered by site and status in its default order.
            models.Index(
                fields=["site", "status", "referral_date", "id"], name="referral_site_status_idx"
            ),
            # Possible duplicates are looked for among referrals of the same birth date.
            models.Index(fields=["date_of_birth", "sex"], name="referral_birth_sex_idx"),
            # The person behind a referral (screening/persons.py): its other referrals, open or
            # closed, by site and hospital number or by national ID.
            models.Index(fields=["site", "hospital_number"], name="referral_site_hospital_idx"),
            models.Index(fields=["national_id"], name="referral_national_id_idx"),
        ]

    def __str__(self):
        return self.screening_number

    def validate_constraints(self, exclude=None):
        """Skip asking the database about each check constraint during model validation.

        Django would run one query per constraint (about 45 for a referral form, so half a
        million for a 10,000-row import). ``ReferralForm`` states the same rules as field
        messages, including the one open referral per patient, and the database still
        refuses any row that breaks them.
        """

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED_STATUSES

    def age(self) -> int | None:
        """Completed years at the screening date."""
        if self.date_of_birth is None or self.screening_date is None:
            return None
        return rules.age_at(self.date_of_birth, self.screening_date)

    def stage_group(self) -> str:
        """The AJCC 8th clinical stage group, or ``staging.NOT_ASSIGNABLE``."""
        return staging.stage_group(
            self.histology, self.ct or None, self.cn or None, self.cm or None
        )

    def current_decision(self) -> "MdtDecision | None":
        """The MDT decision not superseded, with who decided it (one query)."""
        return (
            self.decisions.filter(superseded_at__isnull=True).select_related("decided_by").first()
        )

    def snapshot(self) -> rules.Snapshot:
        """The clinical data as the rules see it (no query)."""
        return self.snapshot_of(
            {field.name: getattr(self, field.name) for field in SNAPSHOT_FIELDS}
        )

    @staticmethod
    def snapshot_of(values: dict) -> rules.Snapshot:
        """``snapshot`` of a referral's values by field name: a row about to be stored, say."""
        # Blank choice columns (cT, cN, cM) mean "not given", which the rules spell None.
        return rules.Snapshot(
            **{
                field.name: None if (value := values[field.name]) == "" else value
                for field in SNAPSHOT_FIELDS
            }
        )


def _results_in_code_order() -> Func:
    """``ARRAY[results #>> '{I1,result}', ...]``: the twelve results in ``rules.CODES`` order."""
    return Func(
        *(KT(f"results__{code}__result") for code in rules.CODES),
        template="ARRAY[%(expressions)s]",
        output_field=ArrayField(models.CharField(max_length=7)),
    )


@audited(exclude=["criterion_results"])
class Evaluation(models.Model):
    """The twelve results for one referral under one protocol version.

    ``snapshot`` is the exact input the rules saw, so an evaluation can be replayed for audit;
    ``results`` maps each criterion code to its result, reason template and parameters, the
    values used and what was missing. ``criterion_results`` repeats the twelve results as a
    plain array that PostgreSQL keeps in step with ``results``, so reports count failures per
    criterion and exports read them without decoding the JSON of every row.
    """

    referral = models.ForeignKey(
        Referral, on_delete=models.CASCADE, related_name="evaluations", verbose_name=_("referral")
    )
    protocol_version = models.ForeignKey(
        ProtocolVersion,
        on_delete=models.PROTECT,
        related_name="evaluations",
        verbose_name=_("protocol version"),
    )
    outcome = models.CharField(_("outcome"), max_length=25, choices=Referral.Outcome.choices)
    results = models.JSONField(_("results"))
    criterion_results = models.GeneratedField(
        verbose_name=_("results in criterion order"),
        expression=_results_in_code_order(),
        output_field=ArrayField(models.CharField(max_length=7), size=len(rules.CODES)),
        db_persist=True,
    )
    snapshot = models.JSONField(_("snapshot"))
    created_at = models.DateTimeField(_("evaluated at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")
        ordering = ["-created_at", "-id"]
        constraints = [_in_choices("outcome", Referral.Outcome.choices)]

    def __str__(self):
        return _("evaluation #%(id)s: %(outcome)s") % {
            "id": self.pk,
            "outcome": self.get_outcome_display(),
        }


class Decision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


@audited
class MdtDecision(models.Model):
    """The MDT's decision on a referral, bound to the evaluation it saw."""

    Decision = Decision

    referral = models.ForeignKey(
        Referral, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("referral")
    )
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.PROTECT, related_name="decisions", verbose_name=_("evaluation")
    )
    decision = models.CharField(_("decision"), max_length=7, choices=Decision.choices)
    rationale = models.TextField(_("rationale"))
    reason_code = models.CharField(_("reason"), max_length=5, blank=True)
    attendees = models.TextField(_("attending members"), blank=True)
    # The day the MDT met; ``decided_at`` is when the decision was typed in (PROTOCOL section 6).
    meeting_date = models.DateField(_("meeting date"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    # A decision voided by an MDT member before enrolment: superseded, with who and why.
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("voided by"),
    )
    void_reason = models.TextField(_("reason for voiding"), blank=True)
    # An approval kept through fresh labs or dosimetry rests on the newer evaluation (PROTOCOL
    # section 6); ``evaluation`` stays the one the MDT saw.
    rests_on = models.ForeignKey(
        Evaluation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("rests on evaluation"),
    )

    class Meta:
        verbose_name = _("MDT decision")
        verbose_name_plural = _("MDT decisions")
        ordering = ["-decided_at", "-id"]
        # Each referral's first decision, read in order for the dashboard's median wait.
        indexes = [
            models.Index(fields=["referral", "decided_at"], name="mdtdecision_referral_time")
        ]
        constraints = [
            _in_choices("decision", Decision.choices),
            models.UniqueConstraint(
                fields=["referral"],
                condition=Q(superseded_at__isnull=True),
                name="screening_mdtdecision_one_current_per_referral",
            ),
            # A voided decision is superseded and says why.
            models.CheckConstraint(
                condition=Q(voided_by__isnull=True)
                | (Q(superseded_at__isnull=False) & ~Q(void_reason="")),
                name="screening_mdtdecision_void_is_superseded_with_reason",
            ),
        ]

    def __str__(self):
        return _("MDT decision #%(id)s: %(decision)s") % {
            "id": self.pk,
            "decision": self.get_decision_display(),
        }


@audited
class Enrolment(models.Model):
    """An enrolled participant: the study number is assigned in sequence, never past target."""

    referral = models.OneToOneField(
        Referral, on_delete=models.PROTECT, related_name="enrolment", verbose_name=_("referral")
    )
    sequence = models.PositiveIntegerField(_("sequence"), unique=True)
    study_number = models.CharField(_("study number"), max_length=20, unique=True)
    consent_date = models.DateField(_("consent date"))
    enrolled_at = models.DateTimeField(_("enrolled at"), auto_now_add=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("enrolled by"),
    )
    protocol_version = models.ForeignKey(
        ProtocolVersion,
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("protocol version"),
    )
    identity_confirmed = models.BooleanField(
        _("identity confirmed"),
        default=False,
        help_text=_("For a possible duplicate: checked not to be the same person."),
    )
    # The twelve criteria judged as of the consent date (PROTOCOL section 4): rules.Evaluation
    # JSON with "as_of" and "protocol_version".
    eligibility = models.JSONField(_("eligibility at consent"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["sequence"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sequence__gt=0), name="screening_enrolment_sequence_positive"
            ),
        ]

    def __str__(self):
        return self.study_number


class ExportKind(models.TextChoices):
    ENROLMENT = "enrolment", _("Enrolment list")
    SCREENING_LOG = "screening_log", _("Screening log")
    IDENTIFICATION = "identification", _("Identification list")
    ODM = "odm", _("CDISC ODM 1.3.2")


class ExportOutcome(models.TextChoices):
    STARTED = "started", _("Started")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class ExportChannel(models.TextChoices):
    BROWSER = "browser", _("Browser")
    COMMAND = "command", _("Command line")


@audited
class ExportLog(models.Model):
    """One download of an export from the browser: who took which data, filtered how.

    The identification list links screening numbers to patients (ICH E6 8.3.21), so a monitor
    must be able to see who took it and when; the row and its audit event record both.
    """

    Kind = ExportKind
    Outcome = ExportOutcome
    Channel = ExportChannel

    kind = models.CharField(_("export"), max_length=20, choices=ExportKind.choices)
    file_format = models.CharField(_("format"), max_length=4)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("site")
    )
    referred_from = models.DateField(_("referred from"), null=True, blank=True)
    referred_to = models.DateField(_("referred to"), null=True, blank=True)
    row_count = models.PositiveIntegerField(_("rows"))
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("exported by"),
    )
    exported_at = models.DateTimeField(_("exported at"), auto_now_add=True)
    # A download is recorded before it starts and marked delivered once the last byte is out,
    # or failed; a command-line export names the operating-system account that ran it.
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=ExportOutcome.choices, default=ExportOutcome.STARTED
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=ExportChannel.choices, default=ExportChannel.BROWSER
    )
    os_user = models.CharField(_("operating-system user"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("export record")
        verbose_name_plural = _("export records")
        ordering = ["-exported_at", "-id"]
        constraints = [
            _in_choices("kind", ExportKind.choices),
            _in_choices("outcome", ExportOutcome.choices),
            _in_choices("channel", ExportChannel.choices),
        ]

    def __str__(self):
        at = local_minute(self.exported_at)
        return f"{self.get_kind_display()} ({self.file_format.upper()}) {at}"


class SignatureMeaning(models.TextChoices):
    APPROVED = "approved", _("approved for the trial")
    REJECTED = "rejected", _("rejected")
    VOIDED = "voided", _("decision voided")
    ENROLLED = "enrolled", _("enrolled")


@audited
class Signature(models.Model):
    """An electronic signature (PROTOCOL section 6, 21 CFR Part 11 style): who signed, when,
    meaning what, bound to the evaluation the act rested on by its hash."""

    Meaning = SignatureMeaning

    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("referral")
    )
    meaning = models.CharField(_("meaning"), max_length=10, choices=SignatureMeaning.choices)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("signer"),
    )
    # The name as shown when signing; the account's name may change later.
    signer_name = models.CharField(_("signer's name"), max_length=300)
    signed_at = models.DateTimeField(_("signed at"), auto_now_add=True)
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.PROTECT, related_name="+", verbose_name=_("evaluation")
    )
    evaluation_hash = models.CharField(_("evaluation hash"), max_length=64)
    decision = models.ForeignKey(
        MdtDecision,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signatures",
        verbose_name=_("MDT decision"),
    )
    enrolment = models.OneToOneField(
        Enrolment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signature",
        verbose_name=_("enrolment"),
    )
    second_factor = models.BooleanField(_("second factor given"), default=False)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["signed_at", "id"]
        constraints = [_in_choices("meaning", SignatureMeaning.choices)]

    def __str__(self):
        return f"{self.signer_name}: {self.get_meaning_display()}"


class RecordViewKind(models.TextChoices):
    REFERRAL = "referral", _("Referral page")
    HISTORY = "history", _("Referral history")
    IDENTIFICATION = "identification", _("Identification list")
    PACKET = "packet", _("MDT meeting packet")


class RecordView(models.Model):
    """Someone saw identified data: a referral page, its history, the identification list or
    the MDT meeting packet (the lists name no referral: they may name many).

    Written once and never changed; the app's database role may insert and read these rows only.
    """

    Kind = RecordViewKind

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("viewer"),
    )
    kind = models.CharField(_("what"), max_length=15, choices=RecordViewKind.choices)
    referral = models.ForeignKey(
        Referral,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("referral"),
    )
    viewed_at = models.DateTimeField(_("viewed at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("record view")
        verbose_name_plural = _("record views")
        ordering = ["-viewed_at", "-id"]
        constraints = [_in_choices("kind", RecordViewKind.choices)]

    def __str__(self):
        return f"{self.viewer_id} {self.kind} {self.referral_id}"


class NotificationKind(models.TextChoices):
    AWAITS_REVIEW = "awaits_review", _("Awaits the MDT")
    BACK_IN_REVIEW = "back_in_review", _("Back in MDT review after a change")
    REVIEW_AFTER_VOID = "review_after_void", _("Back in MDT review after a voided decision")
    APPROVED = "approved", _("Approved by the MDT")
    REJECTED = "rejected", _("Rejected by the MDT")
    DECISION_VOIDED = "decision_voided", _("MDT decision voided")
    LABS_STALE = "labs_stale", _("Labs too old for enrolment")
    TARGET_NEAR = "target_near", _("Enrolment target near")
    REVIEW_OVERDUE = "review_overdue", _("Waiting long for the MDT")


# What each kind of notification tells, filled from its params when it is read, in the reader's
# language: a notification stores its kind and params, never a sentence.
NOTIFICATION_SENTENCES = {
    NotificationKind.AWAITS_REVIEW: _(
        "%(number)s is potentially eligible and awaits the MDT's decision."
    ),
    NotificationKind.BACK_IN_REVIEW: _(
        "%(number)s is back in the MDT review queue: a change to its data superseded the approval."
    ),
    NotificationKind.REVIEW_AFTER_VOID: _(
        "%(number)s is back in the MDT review queue: its decision was voided."
    ),
    NotificationKind.APPROVED: _("The MDT approved %(number)s for the trial."),
    NotificationKind.REJECTED: _("The MDT rejected %(number)s."),
    NotificationKind.DECISION_VOIDED: _(
        "The MDT's decision on %(number)s was voided; it awaits a new decision."
    ),
    NotificationKind.LABS_STALE: _(
        "%(number)s needs a new blood panel before enrolment: its labs of %(labs_date)s are "
        "more than %(days)s days old."
    ),
    NotificationKind.TARGET_NEAR: _(
        "%(count)s of the %(target)s participants are enrolled: %(left)s places remain."
    ),
    NotificationKind.REVIEW_OVERDUE: _(
        "%(number)s has waited more than %(days)s days for the MDT (referred on %(referral_date)s)."
    ),
}


class Notification(models.Model):
    """Something a user is told: a referral entered the MDT queue, was decided, needs fresh labs.

    Stored as its kind and params (a screening number, a date, a count, never a patient's
    name); ``sentence`` says it in the language of whoever reads it.
    """

    Kind = NotificationKind

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
        # The indexes below begin with the recipient; one of its own would be redundant.
        db_index=False,
    )
    referral = models.ForeignKey(
        Referral,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("referral"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    params = models.JSONField(_("params"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # A user's notifications, newest first (the notifications page).
            models.Index(
                fields=["recipient", "-created_at", "-id"], name="notification_newest_idx"
            ),
            # A user's unread ones (the count in the navigation).
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]
        constraints = [_in_choices("kind", NotificationKind.choices)]

    def __str__(self):
        return f"{self.kind} {self.recipient_id} {self.referral_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def sentence(self) -> str:
        """What happened, in the active language."""
        return str(NOTIFICATION_SENTENCES[self.kind]) % self.params


class ImportUploadStatus(models.TextChoices):
    PREVIEWED = "previewed", _("previewed")
    IMPORTED = "imported", _("imported")


@audited(exclude=["content"])
class ImportUpload(models.Model):
    """A file uploaded on the import page: kept between its preview and the confirmation, for
    its uploader in the session that uploaded it, for an hour at most.

    Once imported the content is emptied and the row stays as the record of the import: who,
    which file, how many rows, the outcomes. An upload never confirmed is deleted when it
    expires (``import_uploads.discard_expired``). The content is left out of the audit events.
    """

    Status = ImportUploadStatus

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    # A digest of the uploader's session key, never the key itself.
    session_digest = models.CharField(_("session"), max_length=64)
    file_name = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField(_("content"), blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("size in bytes"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True, db_index=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ImportUploadStatus.choices,
        default=ImportUploadStatus.PREVIEWED,
    )
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    # Outcome code -> number of referrals imported with it.
    outcome_counts = models.JSONField(_("outcomes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("import file")
        verbose_name_plural = _("import files")
        ordering = ["-created_at", "-id"]
        constraints = [_in_choices("status", ImportUploadStatus.choices)]

    def __str__(self):
        return f"{self.file_name} {self.created_at:%Y-%m-%d %H:%M} {self.status}"

    @staticmethod
    def digest_of(session_key: str) -> str:
        """What is stored of a session key: its SHA-256, so the table holds no usable key."""
        return hashlib.sha256(session_key.encode()).hexdigest()
