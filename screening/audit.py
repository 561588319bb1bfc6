"""A referral's audit trail in plain words.

pghistory's database triggers write an event row for every insert, update and delete of a
referral, its evaluations, its MDT decisions and its enrolment, whatever made the change (a
form, a bulk ``QuerySet.update()``, raw SQL); each event points to a context holding the user and
the request path or command. This module reads those events back as lines such as
"coordinator-wuwei changed ALT from 30 U/L to 120 U/L".
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from screening import rules, units
from screening.models import (
    MEASUREMENT_UNITS,
    EnrolmentEvent,
    EvaluationEvent,
    MdtDecision,
    MdtDecisionEvent,
    ProtocolVersion,
    Referral,
    ReferralEvent,
    SignatureEvent,
    Site,
)
from screening.text import format_number, join_clauses, local_minute

# Bookkeeping columns, and the current evaluation and outcome, which the evaluation's own line
# reports; a lab's unit is told together with its value.
_UNTOLD_REFERRAL_FIELDS = {"id", "created_at", "updated_at", "created_by", "evaluation", "outcome"}
_LAB_UNIT_FIELDS = {f"{key}_unit" for key in units.LAB_KEYS}
REFERRAL_FIELDS = tuple(
    field
    for field in Referral._meta.concrete_fields
    if field.name not in _UNTOLD_REFERRAL_FIELDS and field.name not in _LAB_UNIT_FIELDS
)


@dataclass(frozen=True)
class HistoryLine:
    at: datetime.datetime
    actor: str  # username; "" when the change carried no user (e.g. a migration)
    text: str
    source: str  # request path or command; "" when unknown
    reason: str = ""  # the reason given for the change, when one was asked for
    data_source: str = ""  # where the changed data came from, when not typed in


@dataclass(frozen=True)
class _Names:
    """Look-ups the sentences need, fetched once per history."""

    users: dict
    sites: dict
    protocol_versions: dict


def _value_text(event, field, names: _Names) -> str:
    value = getattr(event, field.attname)
    if value is None or value == "":
        return _("empty")
    name = field.name
    if name in units.LAB_KEYS:
        unit = getattr(event, f"{name}_unit") or units.SI_UNIT[name]
        return f"{format_number(units.from_si(name, value, unit))} {unit}"
    if name == "site":
        return names.sites.get(value, str(value))
    if field.choices:
        return str(dict(field.choices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime.datetime):
        return local_minute(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        number = format_number(value)
        return f"{number} {MEASUREMENT_UNITS[name]}" if name in MEASUREMENT_UNITS else number
    return str(value)


def _changes(previous, event, fields, names: _Names) -> list[str]:
    """ "changed <field> from <old> to <new>" for each field whose shown value differs."""
    texts = []
    for field in fields:
        old, new = _value_text(previous, field, names), _value_text(event, field, names)
        if old != new:
            texts.append(
                _("changed %(field)s from %(old)s to %(new)s")
                % {"field": field.verbose_name, "old": old, "new": new}
            )
    return texts


def _referral_texts(event, previous, names: _Names) -> list[str]:
    if event.pgh_label == "insert":
        # Stored evaluated: its first status is the one its evaluation gave.
        return [
            _("created referral %(number)s with status %(status)s")
            % {"number": event.screening_number, "status": event.get_status_display()}
        ]
    if event.pgh_label == "delete":
        return [_("deleted referral %(number)s") % {"number": event.screening_number}]
    return _changes(previous, event, REFERRAL_FIELDS, names)


def _evaluation_texts(event, previous, names: _Names) -> list[str]:
    if event.pgh_label == "insert":
        return [
            _("evaluated the referral under protocol v%(version)s: %(outcome)s")
            % {
                "version": names.protocol_versions.get(event.protocol_version_id, "?"),
                "outcome": event.get_outcome_display(),
            }
        ]
    if event.pgh_label == "delete":
        return [_("deleted evaluation #%(id)s") % {"id": event.id}]
    return [_("changed evaluation #%(id)s") % {"id": event.id}]


def _decision_texts(event, previous, names: _Names) -> list[str]:
    approval = event.decision == MdtDecision.Decision.APPROVE
    if event.pgh_label == "insert":
        if approval:
            clauses = [_("approved the referral")]
        else:
            # A criterion code reads the same in every language; "other" is a word.
            reason = event.reason_code if event.reason_code in rules.CODES else _("Other")
            clauses = [_("rejected the referral (reason: %(reason)s)") % {"reason": reason}]
        clauses.append(_("MDT meeting of %(date)s") % {"date": event.meeting_date.isoformat()})
        clauses.append(_("rationale: “%(rationale)s”") % {"rationale": event.rationale})
        if event.attendees:
            clauses.append(_("attending: %(attendees)s") % {"attendees": event.attendees})
        return [join_clauses(clauses)]
    decided_at = local_minute(event.decided_at)
    if event.pgh_label == "update" and previous.superseded_at is None and event.voided_by_id:
        if approval:
            text = _("voided the approval of %(at)s")
        else:
            text = _("voided the rejection of %(at)s")
        reason = _("reason: “%(reason)s”") % {"reason": event.void_reason}
        return [join_clauses([text % {"at": decided_at}, reason])]
    if event.pgh_label == "update" and previous.superseded_at is None and event.superseded_at:
        if approval:
            return [_("superseded the approval of %(at)s") % {"at": decided_at}]
        return [_("superseded the rejection of %(at)s") % {"at": decided_at}]
    if event.pgh_label == "delete":
        return [_("deleted the MDT decision of %(at)s") % {"at": decided_at}]
    if event.pgh_label == "update" and event.rests_on_id != previous.rests_on_id:
        return [
            _(
                "kept the approval of %(at)s: every criterion still passes, and it now rests on "
                "evaluation #%(id)s"
            )
            % {"at": decided_at, "id": event.rests_on_id}
        ]
    fields = [f for f in MdtDecisionEvent._meta.concrete_fields if not f.name.startswith("pgh_")]
    return _changes(previous, event, fields, names)


def _enrolment_texts(event, previous, names: _Names) -> list[str]:
    if event.pgh_label == "insert":
        return [
            _("enrolled the participant as %(study_number)s (consent %(consent_date)s)")
            % {"study_number": event.study_number, "consent_date": event.consent_date.isoformat()}
        ]
    if event.pgh_label == "delete":
        return [_("deleted enrolment %(study_number)s") % {"study_number": event.study_number}]
    fields = [f for f in EnrolmentEvent._meta.concrete_fields if not f.name.startswith("pgh_")]
    return _changes(previous, event, fields, names)


def _signature_texts(event, previous, names: _Names) -> list[str]:
    if event.pgh_label != "insert":
        if event.pgh_label == "delete":
            return [_("deleted signature #%(id)s") % {"id": event.id}]
        return [_("changed signature #%(id)s") % {"id": event.id}]
    return [
        _("signed as %(name)s, meaning: %(meaning)s")
        % {
            "name": event.signer_name,
            "meaning": event.get_meaning_display(),
        }
    ]


def _names(user_ids) -> _Names:
    # An empty pk__in costs no query: Django answers it without asking the database.
    users = get_user_model().objects.filter(pk__in=user_ids)
    return _Names(
        users={user.pk: user.get_username() for user in users},
        sites={site.pk: site.display_name for site in Site.objects.all()},
        protocol_versions=dict(ProtocolVersion.objects.values_list("pk", "version")),
    )


def referral_history(referral: Referral) -> list[HistoryLine]:
    """Every recorded change of the referral and of its evaluations, MDT decisions and
    enrolment, oldest first.

    At most eight queries whatever the number of events: one per event table, then users,
    sites and protocol versions.
    """
    streams = (
        (ReferralEvent.objects.filter(pgh_obj_id=referral.pk), _referral_texts),
        (EvaluationEvent.objects.filter(referral_id=referral.pk), _evaluation_texts),
        (MdtDecisionEvent.objects.filter(referral_id=referral.pk), _decision_texts),
        (EnrolmentEvent.objects.filter(referral_id=referral.pk), _enrolment_texts),
        (SignatureEvent.objects.filter(referral_id=referral.pk), _signature_texts),
    )
    entries, created = [], None
    for rank, (events, describe) in enumerate(streams):
        previous_of = {}
        for event in events.select_related("pgh_context").order_by("pgh_id"):
            previous = previous_of.get(event.pgh_obj_id)
            previous_of[event.pgh_obj_id] = event
            metadata = event.pgh_context.metadata if event.pgh_context else {}
            at = event.pgh_created_at
            if rank == 0 and created is None:
                created = at  # the referral's creation, its first event
            # Nothing is told before the creation: an import stores the evaluations a moment
            # before their referrals, and the first evaluation reads right after.
            order = (at if created is None else max(at, created), rank, event.pgh_id)
            entries.append((order, at, event, previous, describe, metadata))
    entries.sort(key=lambda entry: entry[0])
    names = _names({entry[-1].get("user") for entry in entries} - {None})
    lines = []
    for _order, at, event, previous, describe, metadata in entries:
        actor = names.users.get(metadata.get("user"), "")
        source = metadata.get("url") or metadata.get("command") or ""
        reason = metadata.get("change_reason", "")
        data_source = metadata.get("data_source", "")
        lines.extend(
            HistoryLine(
                at=at,
                actor=actor,
                text=text,
                source=source,
                reason=reason,
                data_source=data_source,
            )
            for text in describe(event, previous, names)
        )
    return lines
