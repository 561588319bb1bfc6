"""The trial as a CDISC ODM 1.3.2 snapshot (PROTOCOL section 7): pseudonymous, streamed.

The study's metadata (an ItemDef per referral field of section 3, CodeLists for the choices,
MeasurementUnits for the units) comes from the data dictionary (``screening.dictionary``). Each
referral is a SubjectData keyed by its screening number, holding its data, outcome and twelve
results, its MDT decisions and enrolment with their signatures, and for each value the audit
record of its latest change.

Pseudonymous: no name, hospital number, national ID or date of birth (age at screening stands
in for it, as in the screening log), and no free text written about the patient (MDT
rationale, reasons for voiding, withdrawal details, reasons for changes): the app's history
keeps those. The XML is written as it is read, a few hundred referrals at a time, so memory
does not grow with the trial.
"""

import contextlib
import dataclasses
import io
import itertools
import re
from xml.sax.saxutils import XMLGenerator

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from screening import dictionary, exports, rules, units
from screening.forms.referrals import SECTIONS
from screening.models import (
    MEASUREMENT_UNITS,
    Enrolment,
    MdtDecision,
    ProtocolVersion,
    Referral,
    ReferralEvent,
    Signature,
    TriState,
)
from screening.writers import NOT_IN_XML, REPLACEMENT

NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = exports.TRIAL_CODE
METADATA_OID = "MDV.1"
TRIAL_TITLE = (
    "Phase II Clinical Study on Photon Combined with Carbon Ion Radiotherapy for Locally "
    "Advanced Esophageal Cancer"
)
SPONSOR = "Gansu Wuwei Cancer Hospital"
# Section 3 fields never written: they identify the patient.
IDENTIFYING = ("hospital_number", "full_name", "national_id")
LEFT_OUT = (*IDENTIFYING, "date_of_birth")
# A lab's unit is the MeasurementUnitRef of its value, not an item of its own.
UNIT_KEYS = tuple(f"{key}_unit" for key in units.LAB_KEYS)
# Subjects written between two chunks of the download.
SUBJECTS_PER_CHUNK = 200
# The user of audit records whose change had no signed-in user (a migration, a script).
NO_USER_OID = "USR.SYSTEM"
LANGUAGES = (("en", "en"), ("zh-Hans", "zh-hans"))  # xml:lang, Django language

# Age at screening stands in for the date of birth, as in the screening log.
OUTCOME_ITEMS = (
    "age",
    "outcome",
    "status",
    *rules.CODES,
    "stage_group",
    "protocol_version",
    "previous_screening_number",
    "withdrawal_reason",
)
ENROLMENT_ITEMS = ("study_number", "consent_date", "enrolment_date", "identity_confirmed")
DECISION_ITEMS = ("mdt_decision", "mdt_reason", "meeting_date", "decided_at", "superseded_at")
VOID_ITEMS = ("voided_at",)
YES_NO = ((TriState.YES.value, TriState.YES.label), (TriState.NO.value, TriState.NO.label))
# Items of the outcome, the decisions and the enrolment that are not export columns:
# (type, label, choices).
EXTRA_ITEMS = {
    "identity_confirmed": (
        "text",
        Enrolment._meta.get_field("identity_confirmed").verbose_name,
        YES_NO,
    ),
    "mdt_reason": (
        "text",
        _("reason for a rejection"),
        (*((code, code) for code in rules.CODES), ("other", _("Other"))),
    ),
    "meeting_date": ("date", MdtDecision._meta.get_field("meeting_date").verbose_name, ()),
    "decided_at": ("datetime", MdtDecision._meta.get_field("decided_at").verbose_name, ()),
    "superseded_at": ("datetime", MdtDecision._meta.get_field("superseded_at").verbose_name, ()),
    "voided_at": ("datetime", _("voided at"), ()),
}
ODM_TYPES = {"text": "text", "integer": "integer", "decimal": "float", "date": "date"}


def _english(text) -> str:
    with translation.override("en"):
        return str(text)


def _oid_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def item_oid(key: str) -> str:
    return f"IT.{key.upper()}"


def unit_oid(symbol: str) -> str:
    """``MU.MG_DL`` for mg/dL; µmol/L and umol/L stay apart, as each is stored as typed."""
    return "MU." + _oid_part(symbol.replace("µ", "micro").replace("%", "percent"))


@dataclasses.dataclass(frozen=True)
class Group:
    oid: str
    label: object
    keys: tuple[str, ...]


# The referral form's sections, less what identifies the patient.
REFERRAL_GROUPS = tuple(
    Group(
        f"IG.{_oid_part(_english(title))}",
        title,
        tuple(key for key in keys if key not in LEFT_OUT and key not in UNIT_KEYS),
    )
    for title, keys in SECTIONS
)
OUTCOME_GROUP = Group("IG.OUTCOME", _("Screening outcome"), OUTCOME_ITEMS)
DECISION_GROUP = Group("IG.MDT_DECISION", _("MDT decision"), DECISION_ITEMS)
VOID_GROUP = Group("IG.MDT_VOID", _("Voided decision"), VOID_ITEMS)
ENROLMENT_GROUP = Group("IG.ENROLMENT", _("Enrolment"), ENROLMENT_ITEMS)
# (form OID, name, repeating, groups)
FORMS = (
    ("F.REFERRAL", _("Referral"), False, (*REFERRAL_GROUPS, OUTCOME_GROUP)),
    ("F.MDT_DECISION", _("MDT decision"), True, (DECISION_GROUP, VOID_GROUP)),
    ("F.ENROLMENT", _("Enrolment"), False, (ENROLMENT_GROUP,)),
)
ITEM_KEYS = tuple(key for _oid, _name, _repeat, groups in FORMS for g in groups for key in g.keys)


def item_entry(key: str, *, sites: tuple, limits: rules.Limits) -> dictionary.Entry:
    if key in EXTRA_ITEMS:
        kind, label, choices = EXTRA_ITEMS[key]
        return dictionary.Entry(key, kind, label, None, choices)
    return dictionary.entry(key, sites=sites, limits=limits)


def codelist_oid(key: str, choices) -> str:
    """Choices shared by many fields share one CodeList."""
    if tuple(choices) == tuple(TriState.choices):
        return "CL.TRI_STATE"
    if tuple(choices) == dictionary.RESULT_CHOICES:
        return "CL.RESULT"
    return f"CL.{key.upper()}"


def _clean(value) -> str:
    """Text as XML 1.0 can hold it: a character it cannot is replaced by U+FFFD."""
    return NOT_IN_XML.sub(REPLACEMENT, str(value))


class _Writer:
    """XML written into a buffer that ``take`` empties; whitespace between elements only."""

    def __init__(self):
        self.buffer = io.StringIO()
        self.xml = XMLGenerator(self.buffer, encoding="utf-8", short_empty_elements=True)

    @staticmethod
    def _attributes(attributes: dict) -> dict:
        return {name: _clean(value) for name, value in attributes.items() if value is not None}

    @contextlib.contextmanager
    def element(self, name: str, attributes: dict | None = None):
        self.xml.startElement(name, self._attributes(attributes or {}))
        self.xml.ignorableWhitespace("\n")
        yield
        self.xml.endElement(name)
        self.xml.ignorableWhitespace("\n")

    def leaf(self, name: str, attributes: dict | None = None, text=None):
        self.xml.startElement(name, self._attributes(attributes or {}))
        if text is not None:
            self.xml.characters(_clean(text))
        self.xml.endElement(name)
        self.xml.ignorableWhitespace("\n")

    def translated(self, name: str, text):
        """``name`` holding ``text`` in English and in Chinese."""
        with self.element(name):
            for xml_lang, language in LANGUAGES:
                with translation.override(language):
                    self.leaf("TranslatedText", {"xml:lang": xml_lang}, str(text))

    def take(self) -> bytes:
        written = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return written.encode("utf-8")


def _datetime(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _number(value) -> str:
    """A Decimal without trailing zeros nor an exponent: 45.00 -> "45", 1E+2 -> "100"."""
    return f"{value.normalize():f}"


class _ByReferral:
    """Rows of a query in referral order, handed out one referral's rows at a time."""

    def __init__(self, rows, referral_id):
        self.groups = itertools.groupby(rows, key=referral_id)
        self.pending = next(self.groups, None)

    def take(self, referral_pk) -> list:
        """The rows of ``referral_pk``; rows of referrals before it that were not asked for are
        passed over (there are none when both queries read the same snapshot)."""
        while self.pending is not None and self.pending[0] < referral_pk:
            self.pending = next(self.groups, None)
        if self.pending is None or self.pending[0] != referral_pk:
            return []
        rows = list(self.pending[1])
        self.pending = next(self.groups, None)
        return rows


def _user_oid(user_id) -> str:
    return NO_USER_OID if user_id is None else f"USR.{user_id}"


def _location_oid(site_code: str) -> str:
    return f"LOC.{site_code.upper()}"


def _signature_def_oid(meaning: str) -> str:
    return f"SD.{meaning.upper()}"


class OdmExport:
    """The ODM document of ``referrals`` (a queryset), as chunks of UTF-8 bytes.

    ``complete`` says whether ``referrals`` is the whole trial (Granularity "All"). Queries: the
    protocol in force, the sites, the users, then four cursors read side by side (referrals,
    their audit events, decisions, signatures), whatever the number of referrals.
    """

    def __init__(self, referrals, *, complete: bool):
        self.referrals = referrals
        self.complete = complete
        self.out = _Writer()

    def chunks(self):
        connection = connections[router.db_for_read(Referral)]
        in_transaction = connection.in_atomic_block
        with contextlib.nullcontext() if in_transaction else transaction.atomic():
            if not in_transaction:
                # One snapshot for the four cursors read side by side.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield from self._document()

    def _document(self):
        protocol = ProtocolVersion.current()
        self.limits = protocol.limits() if protocol else rules.DEFAULT_LIMITS
        self.sites = dictionary.site_choices()
        self.entries = {
            key: item_entry(key, sites=self.sites, limits=self.limits) for key in ITEM_KEYS
        }
        out = self.out
        out.xml.startDocument()
        now = timezone.localtime()
        root = {
            "xmlns": NAMESPACE,
            "FileType": "Snapshot",
            "Granularity": "All" if self.complete else None,
            "FileOID": f"TrialScreen.{STUDY_OID}.{now:%Y%m%dT%H%M%S}",
            "CreationDateTime": _datetime(now),
            "ODMVersion": "1.3.2",
            "Originator": "TrialScreen",
            "SourceSystem": "TrialScreen",
            "Description": "Pseudonymous screening data: no names, hospital numbers, national "
            "IDs or dates of birth.",
        }
        with out.element("ODM", root):
            self._study(protocol)
            self._admin_data(protocol)
            yield out.take()
            with out.element(
                "ClinicalData", {"StudyOID": STUDY_OID, "MetaDataVersionOID": METADATA_OID}
            ):
                yield from self._subjects()
        out.xml.endDocument()
        yield out.take()

    # --- the study and its metadata ------------------------------------------------------

    def _study(self, protocol):
        out = self.out
        with out.element("Study", {"OID": STUDY_OID}):
            with out.element("GlobalVariables"):
                out.leaf("StudyName", text=TRIAL_TITLE)
                out.leaf(
                    "StudyDescription",
                    text=f"{TRIAL_TITLE}. Sponsor: {SPONSOR}. Pre-screening of referrals "
                    "against the twelve eligibility criteria, MDT decisions and enrolment.",
                )
                version = f" v{protocol.version}" if protocol else ""
                out.leaf("ProtocolName", text=f"{STUDY_OID}{version}")
            with out.element("BasicDefinitions"):
                for symbol in self._unit_symbols():
                    attributes = {"OID": unit_oid(symbol), "Name": symbol}
                    with out.element("MeasurementUnit", attributes), out.element("Symbol"):
                        out.leaf("TranslatedText", {"xml:lang": "en"}, symbol)
            description = f"TrialScreen referral data, protocol{version}"
            with out.element(
                "MetaDataVersion",
                {"OID": METADATA_OID, "Name": "TrialScreen", "Description": description},
            ):
                self._metadata()

    @staticmethod
    def _unit_symbols() -> tuple[str, ...]:
        lab_units = (unit for factors in units.UNIT_FACTORS.values() for unit in factors)
        return tuple(dict.fromkeys((*lab_units, *MEASUREMENT_UNITS.values())))

    def _metadata(self):
        out = self.out
        with out.element("Protocol"):
            out.leaf(
                "StudyEventRef",
                {"StudyEventOID": "SE.SCREENING", "OrderNumber": "1", "Mandatory": "Yes"},
            )
        attributes = {"OID": "SE.SCREENING", "Name": "Screening", "Repeating": "No"}
        with out.element("StudyEventDef", {**attributes, "Type": "Scheduled"}):
            for order, (oid, _name, _repeating, _groups) in enumerate(FORMS, start=1):
                mandatory = "Yes" if oid == "F.REFERRAL" else "No"
                attributes = {"FormOID": oid, "OrderNumber": str(order), "Mandatory": mandatory}
                out.leaf("FormRef", attributes)
        for oid, name, repeating, groups in FORMS:
            attributes = {"OID": oid, "Name": _english(name), "Repeating": _yes_no(repeating)}
            with out.element("FormDef", attributes):
                out.translated("Description", name)
                for order, group in enumerate(groups, start=1):
                    attributes = {
                        "ItemGroupOID": group.oid,
                        "OrderNumber": str(order),
                        "Mandatory": "Yes" if group.oid != VOID_GROUP.oid else "No",
                    }
                    out.leaf("ItemGroupRef", attributes)
        for _oid, _name, _repeating, groups in FORMS:
            for group in groups:
                self._item_group_def(group)
        for key in ITEM_KEYS:
            self._item_def(key)
        written = set()
        for key in ITEM_KEYS:
            entry = self.entries[key]
            oid = codelist_oid(key, entry.choices)
            if entry.choices and oid not in written:
                written.add(oid)
                self._code_list(oid, key, entry.choices)

    def _item_group_def(self, group: Group):
        out = self.out
        attributes = {"OID": group.oid, "Name": _english(group.label), "Repeating": "No"}
        with out.element("ItemGroupDef", attributes):
            out.translated("Description", group.label)
            for order, key in enumerate(group.keys, start=1):
                mandatory = "Yes" if self.entries[key].required else "No"
                attributes = {
                    "ItemOID": item_oid(key),
                    "OrderNumber": str(order),
                    "Mandatory": mandatory,
                }
                out.leaf("ItemRef", attributes)

    def _item_def(self, key: str):
        out = self.out
        entry = self.entries[key]
        attributes = {
            "OID": item_oid(key),
            "Name": key,
            "DataType": ODM_TYPES.get(entry.type, entry.type),
            "Length": str(entry.max_length) if entry.max_length else None,
            "SignificantDigits": (str(entry.decimal_places) if entry.type == "decimal" else None),
        }
        with out.element("ItemDef", attributes):
            out.translated("Question", entry.label)
            for symbol in dictionary.units_of(key):
                out.leaf("MeasurementUnitRef", {"MeasurementUnitOID": unit_oid(symbol)})
            if entry.choices:
                out.leaf("CodeListRef", {"CodeListOID": codelist_oid(key, entry.choices)})

    def _code_list(self, oid: str, key: str, choices):
        out = self.out
        attributes = {"OID": oid, "Name": oid.removeprefix("CL."), "DataType": "text"}
        with out.element("CodeList", attributes):
            for order, (code, label) in enumerate(choices, start=1):
                with out.element("CodeListItem", {"CodedValue": code, "OrderNumber": str(order)}):
                    out.translated("Decode", label)

    # --- who signed and where ---------------------------------------------------------------

    def _admin_data(self, protocol):
        out = self.out
        with out.element("AdminData", {"StudyOID": STUDY_OID}):
            with out.element("User", {"OID": NO_USER_OID, "UserType": "Other"}):
                out.leaf("LoginName", text="system")
                out.leaf("FullName", text="TrialScreen (no signed-in user)")
            users = get_user_model().objects.order_by("pk")
            self.user_ids = set()
            for user in users.iterator(chunk_size=exports.ROWS_PER_FETCH):
                self.user_ids.add(user.pk)
                with out.element("User", {"OID": _user_oid(user.pk)}):
                    out.leaf("LoginName", text=user.get_username())
                    out.leaf("FullName", text=user.get_full_name() or user.get_username())
            effective = (protocol.effective_date if protocol else timezone.localdate()).isoformat()
            for code, name in self.sites:
                attributes = {"OID": _location_oid(code), "Name": name, "LocationType": "Site"}
                with out.element("Location", attributes):
                    out.leaf(
                        "MetaDataVersionRef",
                        {
                            "StudyOID": STUDY_OID,
                            "MetaDataVersionOID": METADATA_OID,
                            "EffectiveDate": effective,
                        },
                    )
            for meaning, label in Signature.Meaning.choices:
                attributes = {"OID": _signature_def_oid(meaning), "Methodology": "Electronic"}
                with out.element("SignatureDef", attributes):
                    out.leaf("Meaning", text=_english(label))
                    out.leaf(
                        "LegalReason",
                        text="Signed in TrialScreen by re-entering the password (and a "
                        "second-factor code when the signer has one), 21 CFR Part 11 style.",
                    )

    # --- the subjects ---------------------------------------------------------------------

    def _subjects(self):
        referrals = (
            self.referrals.select_related(
                "site", "evaluation__protocol_version", "enrolment__protocol_version"
            )
            .defer(
                *IDENTIFYING,
                "evaluation__results",
                "evaluation__snapshot",
                "enrolment__eligibility",
            )
            .annotate(previous_number=F("previous_referral__screening_number"))
            .order_by("pk")
        )
        chunk = exports.ROWS_PER_FETCH
        events = _ByReferral(
            ReferralEvent.objects.filter(pgh_obj__in=self.referrals.values("pk"))
            .select_related("pgh_context")
            .defer(*IDENTIFYING)
            .order_by("pgh_obj_id", "pgh_id")
            .iterator(chunk_size=chunk),
            lambda event: event.pgh_obj_id,
        )
        decisions = _ByReferral(
            MdtDecision.objects.filter(referral__in=self.referrals.values("pk"))
            .order_by("referral_id", "decided_at", "id")
            .iterator(chunk_size=chunk),
            lambda decision: decision.referral_id,
        )
        signatures = _ByReferral(
            Signature.objects.filter(referral__in=self.referrals.values("pk"))
            .order_by("referral_id", "signed_at", "id")
            .iterator(chunk_size=chunk),
            lambda signature: signature.referral_id,
        )
        for count, referral in enumerate(referrals.iterator(chunk_size=chunk), start=1):
            self._subject(
                referral,
                events.take(referral.pk),
                decisions.take(referral.pk),
                signatures.take(referral.pk),
            )
            if count % SUBJECTS_PER_CHUNK == 0:
                yield self.out.take()
        yield self.out.take()

    def _subject(self, referral, events, decisions, signatures):
        out = self.out
        location = _location_oid(referral.site.code)
        changed = _latest_changes(events)
        with out.element("SubjectData", {"SubjectKey": referral.screening_number}):
            out.leaf("SiteRef", {"LocationOID": location})
            with out.element("StudyEventData", {"StudyEventOID": "SE.SCREENING"}):
                with out.element("FormData", {"FormOID": "F.REFERRAL"}):
                    for group in REFERRAL_GROUPS:
                        with out.element("ItemGroupData", {"ItemGroupOID": group.oid}):
                            for key in group.keys:
                                self._referral_item(referral, key, changed.get(key), location)
                    self._outcome(referral, location)
                by_decision = {}
                enrolment_signature = None
                for signature in signatures:
                    if signature.decision_id is not None:
                        by_decision.setdefault(signature.decision_id, []).append(signature)
                    elif signature.enrolment_id is not None:
                        enrolment_signature = signature
                for repeat, decision in enumerate(decisions, start=1):
                    self._decision(decision, repeat, by_decision.get(decision.pk, []), location)
                enrolment = getattr(referral, "enrolment", None)
                if enrolment is not None:
                    self._enrolment(referral, enrolment, enrolment_signature, location)

    def _audit_record(self, *, user_id, at, location: str, source: str = ""):
        with self.out.element("AuditRecord", {"EditPoint": "DBAudit"}):
            self.out.leaf("UserRef", {"UserOID": _user_oid(user_id)})
            self.out.leaf("LocationRef", {"LocationOID": location})
            self.out.leaf("DateTimeStamp", text=_datetime(at))
            if source:
                self.out.leaf("SourceID", text=source)

    def _signature(self, signature, location: str):
        with self.out.element("Signature"):
            self.out.leaf("UserRef", {"UserOID": _user_oid(signature.signer_id)})
            self.out.leaf("LocationRef", {"LocationOID": location})
            self.out.leaf("SignatureRef", {"SignatureOID": _signature_def_oid(signature.meaning)})
            self.out.leaf("DateTimeStamp", text=_datetime(signature.signed_at))

    def _item(self, key: str, value, *, unit: str | None = None, audit=None):
        """One ItemData, left out when ``value`` is empty; ``audit`` is a dict of
        ``_audit_record`` arguments."""
        if value is None or value == "":
            return
        with self.out.element("ItemData", {"ItemOID": item_oid(key), "Value": _value(value)}):
            if audit:
                self._audit_record(**audit)
            if unit:
                self.out.leaf("MeasurementUnitRef", {"MeasurementUnitOID": unit_oid(unit)})

    def _referral_item(self, referral, key: str, event, location: str):
        audit = None
        if event is not None:
            context = event.pgh_context
            user_id = context.metadata.get("user") if context else None
            audit = {
                # An account since deleted is no User of the file.
                "user_id": user_id if user_id in self.user_ids else None,
                "at": event.pgh_created_at,
                "location": location,
                "source": f"referral event {event.pgh_id}",
            }
        if key == "site":
            value, unit = referral.site.code, None
        elif key in units.LAB_KEYS:
            si_value = getattr(referral, key)
            unit = getattr(referral, f"{key}_unit") or units.SI_UNIT[key]
            value = None if si_value is None else units.from_si(key, si_value, unit)
        else:
            value, unit = getattr(referral, key), MEASUREMENT_UNITS.get(key)
        self._item(key, value, unit=unit, audit=audit)

    def _outcome(self, referral, location: str):
        out = self.out
        evaluation = referral.evaluation
        with out.element("ItemGroupData", {"ItemGroupOID": OUTCOME_GROUP.oid}):
            if evaluation is not None:
                self._audit_record(
                    user_id=evaluation.created_by_id,
                    at=evaluation.created_at,
                    location=location,
                    source=f"evaluation {evaluation.pk}",
                )
            self._item("age", referral.age())
            self._item("outcome", referral.outcome)
            self._item("status", referral.status)
            results = evaluation.criterion_results if evaluation is not None else None
            for code, result in zip(rules.CODES, results or exports.NO_RESULTS, strict=True):
                self._item(code, result)
            self._item("stage_group", referral.stage_group())
            if evaluation is not None:
                self._item("protocol_version", evaluation.protocol_version.version)
            self._item("previous_screening_number", referral.previous_number)
            self._item("withdrawal_reason", referral.withdrawal_code)

    def _decision(self, decision, repeat: int, signatures, location: str):
        out = self.out
        decided = next((s for s in signatures if s.meaning != Signature.Meaning.VOIDED), None)
        voided = next((s for s in signatures if s.meaning == Signature.Meaning.VOIDED), None)
        attributes = {"FormOID": "F.MDT_DECISION", "FormRepeatKey": str(repeat)}
        with out.element("FormData", attributes):
            self._audit_record(
                user_id=decision.decided_by_id,
                at=decision.decided_at,
                location=location,
                source=f"MDT decision {decision.pk}",
            )
            if decided is not None:
                self._signature(decided, location)
            with out.element("ItemGroupData", {"ItemGroupOID": DECISION_GROUP.oid}):
                self._item("mdt_decision", decision.decision)
                self._item("mdt_reason", decision.reason_code)
                self._item("meeting_date", decision.meeting_date)
                self._item("decided_at", decision.decided_at)
                self._item("superseded_at", decision.superseded_at)
            if decision.voided_by_id is not None:
                with out.element("ItemGroupData", {"ItemGroupOID": VOID_GROUP.oid}):
                    if voided is not None:
                        self._signature(voided, location)
                    self._item("voided_at", decision.superseded_at)

    def _enrolment(self, referral, enrolment, signature, location: str):
        out = self.out
        with out.element("FormData", {"FormOID": "F.ENROLMENT"}):
            self._audit_record(
                user_id=enrolment.enrolled_by_id,
                at=enrolment.enrolled_at,
                location=location,
                source=f"enrolment {enrolment.pk}",
            )
            if signature is not None:
                self._signature(signature, location)
            with out.element("ItemGroupData", {"ItemGroupOID": ENROLMENT_GROUP.oid}):
                self._item("study_number", enrolment.study_number)
                self._item("consent_date", enrolment.consent_date)
                self._item("enrolment_date", timezone.localdate(enrolment.enrolled_at))
                self._item("identity_confirmed", "yes" if enrolment.identity_confirmed else "no")


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _value(value) -> str:
    if hasattr(value, "tzinfo"):
        return _datetime(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "normalize"):
        return _number(value)
    return str(value)


# The referral fields each item's audit record follows: a lab's value and its unit together.
_TRACKED = {
    key: (key, f"{key}_unit") if key in units.LAB_KEYS else (key,)
    for group in REFERRAL_GROUPS
    for key in group.keys
}
_TRACKED["site"] = ("site_id",)


def _latest_changes(events) -> dict:
    """Item key -> the audit event that last set its value (its insert when never changed)."""
    latest = {}
    previous = None
    for event in events:
        for key, attributes in _TRACKED.items():
            values = tuple(getattr(event, attribute) for attribute in attributes)
            if previous is None or values != previous.get(key):
                latest[key] = event
        previous = {
            key: tuple(getattr(event, attribute) for attribute in attributes)
            for key, attributes in _TRACKED.items()
        }
    return latest


def odm_filename() -> str:
    return exports.export_filename("odm", "xml")
