"""Malformed input never breaks TrialScreen: every form and endpoint answers junk with
a 4xx or the form again with its messages, never a 500, and writes nothing unless the input
was valid.

Hypothesis posts generated junk: wrong types, huge strings, NUL and other control characters,
invalid UTF-8, unknown choices, negative and enormous numbers, impossible dates, unknown and
repeated fields. ``JUNK_EXAMPLES`` sets the examples per endpoint (default 60; the full check
before a release is ``JUNK_EXAMPLES=2000``).
"""

import json
import os
from urllib.parse import quote, quote_from_bytes

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening import services
from screening.forms.referrals import REFERRAL_KEYS
from screening.models import (
    Enrolment,
    Evaluation,
    MdtDecision,
    Referral,
    ReferralEvent,
    Signature,
)
from tests.factories import PASSWORD, create_referral, form_data, referral_data

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("JUNK_EXAMPLES", "60"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The fixtures' users and referrals serve every example; each example checks what it
    # changed, not absolute numbers.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "0000-00-00",
    "2025-02-30",
    "9999-12-31",
    "0001-01-01",
    "-1",
    "-0",
    "0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "9" * 5000,
    "1" * 30,
    "0x10",
    "１２",  # full-width digits
    "٣",  # Arabic-Indic digit
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{ 7*7 }}",
    "%(name)s",
    "\u202e",
    "\ufeff",
    "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "x" * 100_000,
    "王" * 3000,
    "true",
    "null",
    "[]",
    "{}",
)
JUNK = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(str),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
)


def mutated(base: dict, names) -> st.SearchStrategy:
    """``base`` with some fields replaced by junk (or a list of values), some dropped, and
    some unknown fields added."""
    names = sorted(names)
    replaced = st.dictionaries(
        st.sampled_from(names), st.one_of(JUNK, st.lists(JUNK, min_size=2, max_size=3))
    )
    dropped = st.sets(st.sampled_from(names), max_size=3)
    unknown = st.dictionaries(st.text(min_size=1, max_size=10), JUNK, max_size=2)

    def build(args):
        replace, drop, extra = args
        data = {name: value for name, value in base.items() if name not in drop}
        data.update(extra)
        data.update(replace)
        return data

    return st.tuples(replaced, dropped, unknown).map(build)


def raw_body(base: dict, names) -> st.SearchStrategy:
    """A form body whose values for some fields are arbitrary bytes (mostly invalid UTF-8)."""

    def encode(junk: dict) -> str:
        values = {**{name: str(value).encode() for name, value in base.items()}, **junk}
        return "&".join(
            f"{quote(name)}={quote_from_bytes(value)}" for name, value in values.items()
        )

    return st.dictionaries(st.sampled_from(sorted(names)), st.binary(max_size=30), min_size=1).map(
        encode
    )


COUNTED = (Referral, Evaluation, MdtDecision, Enrolment, ReferralEvent, Signature)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def assert_answered_without_partial_write(response, before, may_write=()):
    """No 500; rows change only when the post succeeded (a redirect), and then only in
    ``may_write``."""
    assert response.status_code < 500, response.content[:2000]
    after = counts()
    changed = {name for name in after if after[name] != before[name]}
    if response.status_code in (301, 302):
        assert changed <= set(may_write), (changed, response.status_code)
    else:
        assert not changed, (changed, response.status_code)


def post(client, url, data):
    if isinstance(data, str):
        return client.post(url, data, content_type="application/x-www-form-urlencoded")
    return client.post(url, data)


# --- fixtures: a referral in each state an endpoint acts on, all at Wuwei ---


@pytest.fixture
def screening_referral(coordinator_wuwei):
    return create_referral(user=coordinator_wuwei, number=11)


@pytest.fixture
def in_review(coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei, number=12)
    assert referral.status == Referral.Status.MDT_REVIEW
    return referral


@pytest.fixture
def approved(coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei, number=13)
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="fit"
    )
    return referral


def signed_in(client, user):
    client.force_login(user)
    return client


REFERRAL_FORM = form_data(number=21)
FORM_FIELDS = set(REFERRAL_KEYS) | set(REFERRAL_FORM)


# --- the referral form, the live evaluation, the MDT decision, enrolment ---


@fuzz
@given(data=st.one_of(mutated(REFERRAL_FORM, FORM_FIELDS), raw_body(REFERRAL_FORM, FORM_FIELDS)))
def test_junk_to_the_new_referral_form(client, coordinator_wuwei, data):
    signed_in(client, coordinator_wuwei)
    before = counts()

    response = post(client, reverse("referral_create"), data)

    assert_answered_without_partial_write(
        response, before, may_write={"Referral", "Evaluation", "ReferralEvent"}
    )


EDIT_FORM = {**REFERRAL_FORM, "change_reason": "Corrected"}
EDIT_FIELDS = {*FORM_FIELDS, "change_reason"}


@fuzz
@given(data=st.one_of(mutated(EDIT_FORM, EDIT_FIELDS), raw_body(EDIT_FORM, EDIT_FIELDS)))
def test_junk_to_the_edit_form(client, coordinator_wuwei, screening_referral, data):
    signed_in(client, coordinator_wuwei)
    before = counts()

    response = post(
        client, reverse("referral_edit", args=[screening_referral.screening_number]), data
    )

    assert_answered_without_partial_write(
        response, before, may_write={"Evaluation", "ReferralEvent", "MdtDecision"}
    )


@fuzz
@given(data=st.one_of(mutated(REFERRAL_FORM, FORM_FIELDS), raw_body(REFERRAL_FORM, FORM_FIELDS)))
def test_junk_to_the_live_evaluation(client, coordinator_wuwei, screening_referral, data):
    signed_in(client, coordinator_wuwei)
    before = counts()

    new = post(client, reverse("referral_evaluate"), data)
    edit = post(
        client,
        f"{reverse('referral_evaluate')}?referral={screening_referral.screening_number}",
        data,
    )

    for response in (new, edit):
        assert response.status_code == 200
        assert_answered_without_partial_write(response, before)


DECISION = {
    "password": PASSWORD,
    "decision": "approve",
    "reason": "",
    "rationale": "fit",
    "attendees": "",
    "meeting_date": "",
    "evaluation": "",
}
DECISION_FIELDS = {*DECISION, "csrfmiddlewaretoken"}


@fuzz
@given(data=st.one_of(mutated(DECISION, DECISION_FIELDS), raw_body(DECISION, DECISION_FIELDS)))
def test_junk_to_the_mdt_decision(client, mdt_member, in_review, data):
    signed_in(client, mdt_member)
    if isinstance(data, dict) and data.get("evaluation") == "":
        data["evaluation"] = str(in_review.evaluation_id)
    if isinstance(data, dict) and data.get("meeting_date") == "":
        data["meeting_date"] = timezone.localdate().isoformat()
    before = counts()

    response = post(client, reverse("referral_decision", args=[in_review.screening_number]), data)

    assert_answered_without_partial_write(
        response, before, may_write={"MdtDecision", "ReferralEvent", "Signature"}
    )


CONSENT = {"password": PASSWORD, "consent_date": ""}


@fuzz
@given(data=st.one_of(mutated(CONSENT, set(CONSENT)), raw_body(CONSENT, set(CONSENT))))
def test_junk_to_the_enrolment(client, coordinator_wuwei, approved, data):
    signed_in(client, coordinator_wuwei)
    if isinstance(data, dict) and data.get("consent_date") == "":
        data["consent_date"] = timezone.localdate().isoformat()
    before = counts()

    response = post(client, reverse("referral_enrol", args=[approved.screening_number]), data)

    assert_answered_without_partial_write(
        response, before, may_write={"Enrolment", "ReferralEvent", "Signature"}
    )


@fuzz
@given(data=mutated({"confirm": "on"}, {"confirm"}))
def test_junk_to_the_consent_declined_form(client, coordinator_wuwei, approved, data):
    signed_in(client, coordinator_wuwei)
    before = counts()

    response = post(client, reverse("referral_decline", args=[approved.screening_number]), data)

    assert_answered_without_partial_write(response, before, may_write={"ReferralEvent"})


WITHDRAWAL = {"code": "other", "reason": "moved"}


@fuzz
@given(data=st.one_of(mutated(WITHDRAWAL, set(WITHDRAWAL)), raw_body(WITHDRAWAL, set(WITHDRAWAL))))
def test_junk_to_the_withdrawal(client, coordinator_wuwei, screening_referral, data):
    signed_in(client, coordinator_wuwei)
    before = counts()

    response = post(
        client, reverse("referral_withdraw", args=[screening_referral.screening_number]), data
    )

    assert_answered_without_partial_write(response, before, may_write={"ReferralEvent"})


# --- query parameters of the pages that filter ---

LIST_FILTERS = {"q": "", "site": "wuwei", "status": "screening", "outcome": "", "sort": "newest",
                "referred_from": "", "referred_to": "", "page": "1"}  # fmt: skip
EXPORT_FILTERS = {"site": "", "referred_from": "", "referred_to": ""}


@fuzz
@given(query=mutated(LIST_FILTERS, LIST_FILTERS))
def test_junk_in_the_referral_list_filters(client, coordinator_wuwei, screening_referral, query):
    signed_in(client, coordinator_wuwei)

    response = client.get(reverse("referral_list"), query)

    assert response.status_code in (200, 400)  # 400: a NUL character in the address


@fuzz
@given(
    query=mutated(EXPORT_FILTERS, EXPORT_FILTERS),
    name=st.sampled_from(["exports", "export_screening_log_csv", "export_enrolment_xlsx"]),
)
def test_junk_in_the_export_filters(client, data_manager, screening_referral, query, name):
    signed_in(client, data_manager)

    response = client.get(reverse(name), query)

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.content, "a refused filter says why"


@fuzz
@given(site=JUNK, name=st.sampled_from(["consort", "consort_svg", "consort_png"]))
def test_junk_site_of_the_consort_report(client, mdt_member, site, name):
    signed_in(client, mdt_member)

    assert client.get(reverse(name), {"site": site}).status_code in (200, 400, 404)


@fuzz
@given(number=st.one_of(JUNK, st.text(alphabet="S-0123456789", max_size=12)))
def test_junk_screening_numbers_in_urls(client, data_manager, number):
    signed_in(client, data_manager)
    number = number.replace("/", "") or "x"

    for name in ("referral_detail", "referral_history", "referral_edit", "referral_decision"):
        response = client.get(reverse(name, args=[number]))
        assert response.status_code in (200, 400, 403, 404), name


@pytest.mark.parametrize(
    "url",
    [
        "/referrals/%00/",
        "/referrals/S-0%0001/edit/",
        "/referrals/%00/history/",
        "/referrals/?q=%00",
        "/referrals/?%00=1",
        "/exports/screening-log.csv?site=%00",
    ],
)
def test_a_nul_character_in_the_address_is_refused(client, data_manager, url):
    signed_in(client, data_manager)

    response = client.get(url)

    assert response.status_code == 400
    assert response.content.decode() == "The address holds a NUL character."


def test_a_nul_character_in_the_live_evaluation_address_is_refused(client, coordinator_wuwei):
    signed_in(client, coordinator_wuwei)

    response = client.post(reverse("referral_evaluate") + "?referral=%00", REFERRAL_FORM)

    assert response.status_code == 400


# --- sign-in, the second step, the language switch ---


@fuzz
@given(data=mutated({"username": "coord-wuwei", "password": "x"}, {"username", "password", "next"}))
def test_junk_to_the_sign_in(client, coordinator_wuwei, data):
    response = post(client, reverse("login"), data)

    assert response.status_code in (200, 302, 429)


@fuzz
@given(data=mutated({"token": "123456"}, {"token", "next"}))
def test_junk_to_the_second_step(client, mdt_member, data):
    signed_in(client, mdt_member)

    assert post(client, reverse("second_factor_setup"), data).status_code in (200, 302)
    assert post(client, reverse("second_factor_verify"), data).status_code == 302


@fuzz
@given(data=mutated({"language": "zh-hans", "next": "/"}, {"language", "next"}))
def test_junk_to_the_language_switch(client, coordinator_wuwei, data):
    signed_in(client, coordinator_wuwei)

    assert post(client, reverse("set_language"), data).status_code in (200, 204, 302, 400)


# --- each kind of junk named in the issue, once per form ---


@pytest.fixture
def forms(coordinator_wuwei, mdt_member, screening_referral, in_review, approved):
    """Each form with the user who may post it and the valid data it takes."""
    consent = {"password": PASSWORD, "consent_date": timezone.localdate().isoformat()}
    decision = {
        **DECISION,
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": str(in_review.evaluation_id),
    }
    return {
        "new referral": (coordinator_wuwei, reverse("referral_create"), REFERRAL_FORM),
        "edit": (
            coordinator_wuwei,
            reverse("referral_edit", args=[screening_referral.screening_number]),
            EDIT_FORM,
        ),
        "live evaluation": (coordinator_wuwei, reverse("referral_evaluate"), REFERRAL_FORM),
        "decision": (
            mdt_member,
            reverse("referral_decision", args=[in_review.screening_number]),
            decision,
        ),
        "enrolment": (
            coordinator_wuwei,
            reverse("referral_enrol", args=[approved.screening_number]),
            consent,
        ),
        "withdrawal": (
            coordinator_wuwei,
            reverse("referral_withdraw", args=[screening_referral.screening_number]),
            {"code": "other", "reason": "moved away"},
        ),
        "void": (
            mdt_member,
            reverse("referral_decision_void", args=[approved.screening_number]),
            {"password": PASSWORD, "reason": "wrong button"},
        ),
    }


FORM_NAMES = (
    "new referral",
    "edit",
    "live evaluation",
    "decision",
    "enrolment",
    "withdrawal",
    "void",
)
NAMED_JUNK = {
    "NUL byte": "a\x00b",
    "huge string": "x" * 1_000_000,
    "unknown choice": "definitely-not-a-choice",
    "negative number": "-99999",
    "enormous number": "9" * 5000,
    "impossible date": "0000-00-00",
    "wrong type": "[1, 2, {}]",
}


# The withdrawal's one field is free text: any text but NUL bytes or a book is a reason.
@pytest.mark.parametrize(
    ("form", "junk"),
    [
        *((form, junk) for form in FORM_NAMES if form != "withdrawal" for junk in NAMED_JUNK),
        ("withdrawal", "NUL byte"),
        ("withdrawal", "huge string"),
    ],
)
def test_each_kind_of_junk_in_every_field_is_answered_with_a_message(client, forms, form, junk):
    user, url, valid = forms[form]
    signed_in(client, user)
    before = counts()

    response = client.post(url, dict.fromkeys(valid, NAMED_JUNK[junk]))

    assert 400 <= response.status_code < 500 or response.status_code == 200
    assert_answered_without_partial_write(response, before)
    if response.status_code == 200 and form != "live evaluation":
        assert (
            "invalid-feedback" in response.content.decode() or "alert" in response.content.decode()
        )


@pytest.mark.parametrize("form", FORM_NAMES)
def test_invalid_utf8_in_every_field_is_answered_with_a_message(client, forms, form):
    user, url, valid = forms[form]
    signed_in(client, user)
    before = counts()
    body = "&".join(f"{quote(name)}=%FF%FE%C0%AF%ED%A0%80" for name in valid)

    response = client.post(url, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code < 500
    # Undecodable bytes arrive as U+FFFD, which is text: a valid withdrawal reason.
    may_write = {"ReferralEvent"} if form == "withdrawal" else set()
    assert_answered_without_partial_write(response, before, may_write)


@pytest.mark.parametrize("form", FORM_NAMES)
def test_a_post_without_its_csrf_token_is_refused(forms, form):
    user, url, valid = forms[form]
    client = signed_in(Client(enforce_csrf_checks=True), user)
    before = counts()

    response = client.post(url, valid)

    assert response.status_code == 403
    assert "CSRF" in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize("form", FORM_NAMES)
def test_thousands_of_fields_are_refused(client, forms, form):
    user, url, valid = forms[form]
    signed_in(client, user)
    before = counts()

    response = client.post(url, {**valid, **{f"f{n}": "x" for n in range(2000)}})

    assert response.status_code == 400
    assert counts() == before


# --- imports ---


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"full_name": "a\\u0000b"}]', "Null characters are not allowed"),
        ('[{"site": "wu\\u0000wei"}]', "site: Null characters are not allowed"),
        ('[{"date_of_birth": {"year": 1960}}]', "date_of_birth: must be a single value"),
        ('[{"ecog": [1, 2]}]', "ecog: must be a single value"),
        ('[{"ecog": 1e400}]', "ecog"),
        ('[{"date_of_birth": "0000-00-00"}]', "Enter a valid date"),
        ('[{"\\u0000": "x"}]', "unknown field"),
        ('[1, "two", null]', "not an object"),
        ('{"rows": []}', "must hold a JSON array"),
        ("", "no referrals in the file"),
    ],
    ids=[
        "NUL in a name",
        "NUL in a site",
        "object as a date",
        "list as a number",
        "infinite number",
        "impossible date",
        "NUL in a key",
        "not objects",
        "not an array",
        "empty file",
    ],
)
def test_a_junk_json_import_is_refused_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "junk.json"
    path.write_text(content)

    with pytest.raises(CommandError) as refused:
        call_command("import_referrals", str(path))

    assert message in str(refused.value) + capsys.readouterr().err
    assert Referral.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"site,full_name\nwuwei,a\x00b\n", "Null characters are not allowed"),
        (b"\xff\xfe\x00s\x00i\x00t\x00e\x00", "is not UTF-8"),
        (b"site,ecog\nwuwei,-1\n", "row 1: ecog:"),
    ],
    ids=["NUL in a field", "UTF-16", "negative number"],
)
def test_a_junk_csv_import_is_refused_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "junk.csv"
    path.write_bytes(content)

    with pytest.raises(CommandError) as refused:
        call_command("import_referrals", str(path))

    assert message in str(refused.value) + capsys.readouterr().err
    assert Referral.objects.count() == 0


def test_an_import_of_10000_rows_whose_last_is_bad_imports_nothing(tmp_path, capsys):
    rows = [referral_data(number=n) for n in range(1, 10_001)]
    rows[-1]["date_of_birth"] = "0000-00-00"
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps(rows))

    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_referrals", str(path))

    assert "row 10000: date_of_birth: Enter a valid date." in capsys.readouterr().err
    assert counts() == dict.fromkeys(counts(), 0)
