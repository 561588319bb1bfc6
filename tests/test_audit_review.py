"""The audit review: changes after MDT decisions, views of identified data, downloads and failed
sign-ins, newest first, filtered and paged. Who may open it is the access sweep's."""

import datetime
import io

import pytest
from axes.models import AccessFailureLog
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import ExportLog, RecordView
from tests.factories import create_referral, form_data
from tests.flows import approve
from tests.pages import find, find_all, text

pytestmark = pytest.mark.django_db

URL = "/reports/audit/"


def rows_of(page: str) -> list[list[str]]:
    """The review's rows as the text of their cells; none when there is no table."""
    if "audit-table" not in page:
        return []
    table = find(page, "table", class_="audit-table")
    return [
        [text(cell) for cell in find_all(str(row), "td")] for row in find_all(str(table), "tr")[1:]
    ]


def edit(referral, user, reason="Corrected from the source record.", **data):
    services.referral_update(referral=referral, data=data, change_reason=reason, user=user)


def fail_sign_in(client, username, times=1):
    for _attempt in range(times):
        client.post("/accounts/login/", {"username": username, "password": "wrong-password-1"})


@pytest.fixture
def signed_in(client_as):
    return client_as("data_manager")


@pytest.fixture
def approved(coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei, number=1, referring_physician="Dr Li")
    approve(referral, mdt_member)
    return referral


def test_a_change_after_the_decision_is_listed_with_who_where_why_and_what(
    client_as, signed_in, coordinator_wuwei, approved
):
    client = client_as("coordinator_wuwei")
    page = f"/referrals/{approved.screening_number}/edit/"
    before = create_referral(user=coordinator_wuwei, number=2)
    edit(before, coordinator_wuwei, referring_physician="Dr Wang")  # no decision yet: not listed
    data = form_data(
        number=1, hospital_number=approved.hospital_number, referring_physician="Dr Zhao"
    )
    assert client.post(page, {**data, "change_reason": "Wrong physician"}).status_code == 302

    rows = rows_of(signed_in.get(URL, {"kind": "change"}).content.decode())

    # The edit, then its re-evaluation; the approval's own status change is not listed.
    assert len(rows) == 2
    edited = rows[-1]
    assert edited[2] == "coord-wuwei"
    assert edited[3] == approved.screening_number
    assert "changed referring physician from Dr Li to Dr Zhao" in edited[4]
    assert "Wrong physician" in edited[4]
    assert edited[5] == page


def test_each_kind_is_listed_newest_first(
    client_as, signed_in, coordinator_wuwei, approved, client
):
    edit(approved, coordinator_wuwei, referring_physician="Dr Zhao")
    client_as("coordinator_wuwei").get(f"/referrals/{approved.screening_number}/history/")
    b"".join(signed_in.get("/exports/identification.csv").streaming_content)
    call_command("export_enrolment", stdout=io.StringIO())
    fail_sign_in(client, "coord-wuwei", times=5)

    rows = rows_of(signed_in.get(URL).content.decode())

    kinds = [row[1] for row in rows]
    assert kinds == [
        "Lockout",
        *["Failed sign-in"] * 4,
        "Download",
        "Download",
        "View of identified data",
        *["Change after an MDT decision"] * 2,
    ]
    times = [row[0] for row in rows]
    assert times == sorted(times, reverse=True)
    assert rows[0][2] == "coord-wuwei" and "locked" in rows[0][4]
    assert rows[0][5] == "127.0.0.1 /accounts/login/"
    command, browser = rows[5], rows[6]
    assert "Enrolment list (CSV), all sites" in command[4] and "Delivered" in command[4]
    assert command[5] == "Command line"
    assert browser[2] == "data-manager" and "Identification list (CSV)" in browser[4]
    assert browser[5] == "Browser"
    assert rows[7][2:5] == ["coord-wuwei", approved.screening_number, "Referral history"]


def test_filters_select_user_referral_kind_and_dates(
    client_as, signed_in, coordinator_wuwei, mdt_member, approved, client
):
    other = create_referral(user=coordinator_wuwei, number=2)
    edit(approved, coordinator_wuwei, referring_physician="Dr Zhao")
    client_as("coordinator_wuwei").get(f"/referrals/{approved.screening_number}/")
    client_as("mdt").get(f"/referrals/{other.screening_number}/")
    b"".join(signed_in.get("/exports/enrolment.csv").streaming_content)
    fail_sign_in(client, "mdt-member")
    today = timezone.localdate()

    def shown(**query) -> list[tuple[str, str, str]]:
        rows = rows_of(signed_in.get(URL, query).content.decode())
        return [(row[1], row[2], row[3]) for row in rows]

    assert shown(username="mdt-member") == [
        ("Failed sign-in", "mdt-member", "–"),
        ("View of identified data", "mdt-member", other.screening_number),
    ]
    change = ("Change after an MDT decision", "coord-wuwei", approved.screening_number)
    view = ("View of identified data", "coord-wuwei", approved.screening_number)
    assert shown(username="coord-wuwei") == [view, change, change]
    # Downloads and sign-ins concern no one referral; lower case is read as the number.
    assert shown(screening_number=approved.screening_number.lower()) == [view, change, change]
    assert shown(kind="download") == [("Download", "data-manager", "–")]
    assert shown(kind="change", username="mdt-member") == []
    assert len(shown(on_or_after=today.isoformat(), on_or_before=today.isoformat())) == 6
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    page = signed_in.get(URL, {"on_or_after": tomorrow}).content.decode()
    assert "Nothing matches these filters." in page
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    page = signed_in.get(URL, {"on_or_before": yesterday}).content.decode()
    assert "Nothing matches these filters." in page


def test_a_command_export_is_found_by_its_operating_system_account(signed_in, coordinator_wuwei):
    call_command("export_enrolment", stdout=io.StringIO())
    account = ExportLog.objects.get().os_user

    rows = rows_of(signed_in.get(URL, {"username": account}).content.decode())

    assert [(row[1], row[2]) for row in rows] == [("Download", account)]


def test_a_reversed_date_range_is_refused(signed_in):
    response = signed_in.get(URL, {"on_or_after": "2026-03-01", "on_or_before": "2026-02-01"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "The date range starts after it ends." in page
    assert "audit-table" not in page


def test_fifty_entries_to_a_page(signed_in, data_manager, wuwei_referral):
    RecordView.objects.bulk_create(
        RecordView(viewer=data_manager, kind="referral", referral=wuwei_referral)
        for _number in range(60)
    )

    first = signed_in.get(URL).content.decode()
    second = signed_in.get(URL, {"page": 2}).content.decode()

    assert len(rows_of(first)) == 50
    assert len(rows_of(second)) == 10
    assert "60 entries" in first
    assert "Page 2 of 2" in second


def make_entries(count: int, *, referral, coordinator, data_manager):
    """``count`` entries of each kind."""
    for number in range(count):
        edit(referral, coordinator, referring_physician=f"Dr {number}")
    RecordView.objects.bulk_create(
        RecordView(viewer=coordinator, kind="history", referral=referral) for _n in range(count)
    )
    ExportLog.objects.bulk_create(
        ExportLog(kind="enrolment", file_format="csv", row_count=0, exported_by=data_manager)
        for _n in range(count)
    )
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(username="someone", ip_address="10.0.0.1", path_info="/accounts/login/")
        for _n in range(count)
    )


@pytest.mark.parametrize("count", [2, 12])
def test_queries_do_not_grow_with_the_entries(
    signed_in, coordinator_wuwei, data_manager, approved, django_assert_num_queries, count
):
    make_entries(count, referral=approved, coordinator=coordinator_wuwei, data_manager=data_manager)

    # Session, user with its roles and unread notifications; count and page of the entries;
    # changes, the events before them, their users, sites and protocol versions; views,
    # downloads, sign-ins.
    with django_assert_num_queries(12):
        response = signed_in.get(URL)

    assert len(rows_of(response.content.decode())) == min(5 * count, 50)


def test_the_page_reads_in_chinese_and_fits_a_phone(signed_in, coordinator_wuwei, approved):
    edit(approved, coordinator_wuwei, referring_physician="Dr Zhao")
    signed_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    page = signed_in.get(URL).content.decode()

    assert "审计" in text(find(page, "h1"))
    assert "修改原因" in page
    # Wide tables scroll inside their box on a 390 px screen instead of widening the page.
    assert find(page, "div", class_="table-responsive")
    assert "audit-table" in str(find(page, "div", class_="table-responsive"))
    assert "style=" not in page


def test_only_data_managers_see_the_link(client_as):
    link = f'href="{reverse("audit")}"'

    assert link in client_as("data_manager").get("/").content.decode()
    for role in ("coordinator_wuwei", "mdt"):
        assert link not in client_as(role).get("/").content.decode()
