"""The person behind a referral (PROTOCOL section 3a): one open referral per person, never a
second enrolment, re-referrals linked to the earlier one, possible duplicates flagged.

A person is the national ID when one is given, else the site and hospital number; two referrals
are of the same person when either matches. Every function here takes a whole batch of rows and
costs a constant number of queries, so an import of 10,000 rows is checked like one form.
"""

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from screening.models import Referral

Status = Referral.Status

# Spaces a name may carry that do not make it another name (the ideographic one included).
_NAME_SPACES = re.compile("[ \t\n\r\f\v\u00a0\u3000]")


def name_key(full_name: str) -> str:
    """The name as compared for possible duplicates: spaces dropped, case ignored."""
    return _NAME_SPACES.sub("", full_name).lower()


class Person(NamedTuple):
    """Who a referral (stored or about to be) is about. ``pk`` is the referral's own id.

    A tuple: a file's check builds one for every stored referral born on its rows' birthdays.
    """

    site_id: int
    hospital_number: str
    national_id: str
    full_name: str
    date_of_birth: object
    sex: str
    pk: int | None = None

    def same_person(self, other: "Person") -> bool:
        if self.national_id and self.national_id == other.national_id:
            return True
        return (self.site_id, self.hospital_number) == (other.site_id, other.hospital_number)

    def duplicate_key(self) -> tuple:
        return (name_key(self.full_name), self.date_of_birth, self.sex)

    @classmethod
    def from_data(cls, data: dict, *, pk: int | None = None) -> "Person":
        """The person of validated referral data (``ReferralForm.cleaned_data``)."""
        return cls(
            site_id=data["site"].pk,
            hospital_number=data["hospital_number"],
            national_id=data.get("national_id") or "",
            full_name=data["full_name"],
            date_of_birth=data["date_of_birth"],
            sex=data["sex"],
            pk=pk,
        )

    @classmethod
    def of(cls, referral: Referral) -> "Person":
        return cls(
            site_id=referral.site_id,
            hospital_number=referral.hospital_number,
            national_id=referral.national_id,
            full_name=referral.full_name,
            date_of_birth=referral.date_of_birth,
            sex=referral.sex,
            pk=referral.pk,
        )


@dataclass
class Finding:
    """What the stored referrals say about one row: refusals (field, message), the referral a
    new one follows on, and whether it is a possible duplicate."""

    refusals: list[tuple[str, str]] = field(default_factory=list)
    previous_id: int | None = None
    possible_duplicate: bool = False


_FIELDS = (
    "pk",
    "site_id",
    "hospital_number",
    "national_id",
    "full_name",
    "date_of_birth",
    "sex",
    "status",
    "screening_number",
    "referral_date",
    "enrolment__study_number",
)


@dataclass(frozen=True)
class _Stored:
    person: Person
    status: str
    screening_number: str
    referral_date: object
    study_number: str | None


def _stored(condition: Q) -> list[_Stored]:
    rows = Referral.objects.filter(condition).order_by("referral_date", "pk").values_list(*_FIELDS)
    return [
        _Stored(Person(site, hn, nid, name, dob, sex, pk), status, number, referred, study)
        for pk, site, hn, nid, name, dob, sex, status, number, referred, study in rows
    ]


def born_alike(people: list[Person]) -> dict[tuple, list[Person]]:
    """The stored people sharing a name, birth date and sex with one of ``people``, by that
    key (``Person.duplicate_key``). One query, for the referrals born on the same day with the
    same sex (an index reads them); the names are compared here, as ``name_key`` spells them."""
    keys = {person.duplicate_key() for person in people}
    births = {(born, sex) for _name, born, sex in keys}
    # The (day, sex) pairs as two arrays: a list of thousands of parameters costs Django more
    # to build than the database takes to answer.
    with connection.cursor() as cursor:
        cursor.execute(
            # Person's fields, in order.
            "SELECT r.site_id, r.hospital_number, r.national_id, r.full_name, r.date_of_birth, "
            f"r.sex, r.id FROM {Referral._meta.db_table} r "  # noqa: S608 - our table
            "JOIN unnest(%s::date[], %s::text[]) AS born(day, sex) "
            "ON r.date_of_birth = born.day AND r.sex = born.sex",
            [[born for born, _sex in births], [sex for _born, sex in births]],
        )
        rows = cursor.fetchall()
    found = defaultdict(list)
    # Most rows share only the day: a Person is made for the few whose name matches too.
    for row in rows:
        _site, _number, _national_id, full_name, born, sex, _pk = row
        key = (name_key(full_name), born, sex)  # Person.duplicate_key, before any Person
        if key in keys:
            found[key].append(Person._make(row))
    return found


def _refusals(person: Person, same: list[_Stored], visible_site_ids) -> list[tuple[str, str]]:
    """The refusal of a row whose person already has ``same`` referrals (its own excluded):
    an enrolment first, else an open referral; named on the field that matched."""
    enrolled = [stored for stored in same if stored.study_number]
    open_ = [stored for stored in same if stored.status in Referral.OPEN_STATUSES]
    stored = (enrolled or open_ or [None])[0]
    if stored is None:
        return []
    same_record = (stored.person.site_id, stored.person.hospital_number) == (
        person.site_id,
        person.hospital_number,
    )
    field_name = "hospital_number" if same_record else "national_id"
    if stored.study_number:
        message = _("This person is already enrolled as %(study_number)s.") % {
            "study_number": stored.study_number
        }
    elif visible_site_ids is None or stored.person.site_id in visible_site_ids:
        message = _("This person already has an open referral (%(number)s).") % {
            "number": stored.screening_number
        }
    else:
        # Across sites only the fact is told (PROTOCOL section 3a).
        message = _("This person already has an open referral at another site.")
    return [(field_name, message)]


def check(people: list[Person], *, visible_site_ids=None, alike=None) -> list[Finding]:
    """What the stored referrals say about each of ``people``: refusals (an open referral of the
    same person; an enrolment), the latest earlier closed referral to link to, and whether the
    row is a possible duplicate of a stored referral. Rows are not compared with each other.

    ``visible_site_ids`` are the sites whose screening numbers may be named (None: all);
    ``alike`` is ``born_alike(people)`` when the caller has it. Two queries whatever the number
    of rows (one with ``alike``).
    """
    if not people:
        return []
    # The keys as arrays: lists of thousands of parameters cost Django more to build, and
    # PostgreSQL more to plan, than the index takes to answer.
    same_person = RawSQL(
        f"SELECT id FROM {Referral._meta.db_table} "  # noqa: S608 - our table
        "WHERE site_id = ANY(%s) AND hospital_number = ANY(%s) OR national_id = ANY(%s)",
        (
            sorted({person.site_id for person in people}),
            sorted({person.hospital_number for person in people}),
            sorted({person.national_id for person in people if person.national_id}),
        ),
    )
    by_person = _stored(Q(pk__in=same_person))
    if alike is None:
        alike = born_alike(people)
    findings = []
    for person in people:
        same = [s for s in by_person if s.person.pk != person.pk and s.person.same_person(person)]
        finding = Finding(refusals=_refusals(person, same, visible_site_ids))
        closed = [s for s in same if s.status not in Referral.OPEN_STATUSES]
        if closed:
            finding.previous_id = closed[-1].person.pk
        finding.possible_duplicate = any(
            stored.pk != person.pk and not stored.same_person(person)
            for stored in alike.get(person.duplicate_key(), ())
        )
        findings.append(finding)
    return findings


def new_duplicates(people: list[Person], alike: dict) -> tuple[list[bool], set[int]]:
    """For ``people`` about to be stored: whether each is a possible duplicate, of a stored
    referral (``alike`` is ``born_alike(people)``) or of another of ``people``; and the ids of
    the stored referrals they make possible duplicates. No query."""
    keys = [person.duplicate_key() for person in people]
    among = defaultdict(list)
    for person, key in zip(people, keys, strict=True):
        among[key].append(person)
    flags, stored = [], set()
    for person, key in zip(people, keys, strict=True):
        others = [other.pk for other in alike.get(key, ()) if not other.same_person(person)]
        stored.update(others)
        # Alone under its key, the person has no other in the file to be compared with.
        alone = len(among[key]) == 1
        flags.append(
            bool(others) or (not alone and any(not o.same_person(person) for o in among[key]))
        )
    return flags, stored


class Screening(NamedTuple):
    """What ``screen`` says about rows about to be stored."""

    findings: list[Finding]  # one a row: refusals, the referral it follows on, possible duplicate
    stored_duplicates: set[int]  # the stored referrals the rows make possible duplicates

    def part(self, start: int, stop: int) -> "Screening":
        """The screening of rows ``start`` to ``stop``, for storing them apart from the rest:
        the stored duplicates go with the first part only."""
        return Screening(self.findings[start:stop], self.stored_duplicates if start == 0 else set())


SCREENED_AT_ONCE = 10_000  # what a check reads grows with its rows (every referral born alike)


def screen(people: list[Person], *, visible_site_ids=None) -> Screening:
    """``check`` of ``people`` about to be stored, each also flagged as a possible duplicate of
    another of them (``new_duplicates``). Two queries for every 10,000 people."""
    findings, alike = [], defaultdict(list)
    for start in range(0, len(people), SCREENED_AT_ONCE):
        chunk = people[start : start + SCREENED_AT_ONCE]
        chunk_alike = born_alike(chunk)
        findings += check(chunk, visible_site_ids=visible_site_ids, alike=chunk_alike)
        for key, found in chunk_alike.items():
            alike[key] += found
    flags, stored_duplicates = new_duplicates(people, alike)
    for finding, flag in zip(findings, flags, strict=True):
        finding.possible_duplicate = flag
    return Screening(findings, stored_duplicates)


def refresh_duplicate_flags(people: list[Person]) -> None:
    """Set ``possible_duplicate`` right on every stored referral that shares a name, birth date
    and sex with one of ``people`` (their stored referrals included). Three queries at most."""
    flagged, cleared = [], []
    for group in born_alike(people).values():
        for person in group:
            duplicate = any(not other.same_person(person) for other in group if other is not person)
            (flagged if duplicate else cleared).append(person.pk)
    Referral.objects.filter(pk__in=flagged, possible_duplicate=False).update(
        possible_duplicate=True
    )
    Referral.objects.filter(pk__in=cleared, possible_duplicate=True).update(
        possible_duplicate=False
    )


@dataclass(frozen=True)
class Related:
    """Another referral of the same person, or a possible duplicate, as a page may tell it: its
    number, status and date only when the reader may see its site, else only that it exists."""

    screening_number: str | None
    status: str | None
    referral_date: object
    is_previous: bool = False  # the closed referral the one shown follows on from

    @property
    def status_label(self) -> str:
        return Status(self.status).label if self.status else ""


def related_sql() -> str:
    """The rows ``related`` reads, as one JSON array of arrays: a subquery of the referral
    page's query (``display.records_sql``), in which the referral's row is ``referral``. A
    referral without a national ID shares none."""
    quote = connection.ops.quote_name
    return f"""
        SELECT json_agg(json_build_array(other.id, other.site_id, other.hospital_number,
            other.national_id, other.full_name, other.date_of_birth, other.sex, other.status,
            other.screening_number, other.referral_date)
            ORDER BY other.referral_date, other.id)
        FROM {quote(Referral._meta.db_table)} AS other
        WHERE other.site_id = referral.site_id
                AND other.hospital_number = referral.hospital_number
            OR other.national_id = NULLIF(referral.national_id, '')
            OR (other.date_of_birth = referral.date_of_birth AND other.sex = referral.sex)
    """


def related(
    referral: Referral, rows: list, *, visible_site_ids=None
) -> tuple[list[Related], list[Related]]:
    """The same person's other referrals, oldest first, and the possible duplicates of
    ``referral``, from the ``rows`` of ``related_sql`` (decoded JSON). ``visible_site_ids``
    are the sites the reader may see (None: all). No query."""
    person = Person.of(referral)
    candidates = [
        _Stored(
            Person(site, hn, nid, name, datetime.date.fromisoformat(dob), sex, pk),
            status,
            number,
            datetime.date.fromisoformat(referred),
            None,
        )
        for pk, site, hn, nid, name, dob, sex, status, number, referred in rows
    ]

    def told(stored: _Stored) -> Related:
        is_previous = stored.person.pk == referral.previous_referral_id
        if visible_site_ids is None or stored.person.site_id in visible_site_ids:
            return Related(
                stored.screening_number, stored.status, stored.referral_date, is_previous
            )
        return Related(None, None, None, is_previous)

    others = [stored for stored in candidates if stored.person.pk != person.pk]
    earlier = [told(stored) for stored in others if stored.person.same_person(person)]
    duplicates = [
        told(stored)
        for stored in others
        if not stored.person.same_person(person)
        and stored.person.duplicate_key() == person.duplicate_key()
    ]
    return earlier, duplicates
