"""The dashboard: counts by status and site, enrolment against target, and what awaits the
signed-in user."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from screening import services
from tests.factories import create_referral, create_referrals
from tests.pages import find, find_all, text


@pytest.fixture
def referrals(db):
    """At Wuwei: 2 in MDT review, 1 incomplete, 1 screen failed; at Lanzhou: 1 in MDT review,
    2 incomplete."""
    return {
        "wuwei_review": create_referrals(2),
        "wuwei_incomplete": create_referral(number=10, full_name="张伟", ecog=None),
        "wuwei_failed": create_referral(number=11, cm="M1"),
        "lanzhou_review": create_referral(number=12, site="lanzhou"),
        "lanzhou_incomplete": create_referrals(2, site="lanzhou", number=50, labs_date=None),
    }


def _counts_table(page):
    """The status-by-site table as {row heading: [cells]}."""
    table = find(page, "table", class_="dashboard-counts")
    rows = {}
    for row in find_all(str(table), "tr")[1:]:
        cells = [text(cell) for cell in row.children if getattr(cell, "name", None) in ("th", "td")]
        rows[cells[0]] = cells[1:]
    return rows


def test_a_coordinator_sees_their_sites_counts_and_incomplete_referrals(client_as, referrals):
    client = client_as("coordinator_wuwei")
    page = client.get(reverse("dashboard")).content.decode()
    # Screening, Screen failed, MDT review, MDT approved, MDT rejected, Enrolled, Withdrawn, Total
    assert _counts_table(page) == {
        "Wuwei Heavy Ion Center": ["1", "1", "2", "0", "0", "0", "0", "4"],
        "All sites": ["1", "1", "2", "0", "0", "0", "0", "4"],
    }
    assert text(find(page, **{"data-testid": "incomplete-count"})) == "1"
    incomplete = referrals["wuwei_incomplete"]
    assert f'href="/referrals/{incomplete.screening_number}/"' in page
    for other in referrals["lanzhou_incomplete"]:
        assert other.screening_number not in page
    assert not find_all(page, **{"data-testid": "mdt-queue-count"})


def test_an_mdt_member_sees_every_site_and_the_queue_size(client_as, referrals):
    client = client_as("mdt")
    page = client.get(reverse("dashboard")).content.decode()
    table = _counts_table(page)
    assert table["Lanzhou Heavy Ion Center"] == ["2", "0", "1", "0", "0", "0", "0", "3"]
    assert table["All sites"] == ["3", "1", "3", "0", "0", "0", "0", "7"]
    assert text(find(page, **{"data-testid": "mdt-queue-count"})) == "3"
    assert not find_all(page, **{"data-testid": "incomplete-count"})


def test_a_data_manager_sees_incomplete_referrals_at_every_site(client_as, referrals):
    client = client_as("data_manager")
    page = client.get(reverse("dashboard")).content.decode()
    assert text(find(page, **{"data-testid": "incomplete-count"})) == "3"
    for referral in referrals["lanzhou_incomplete"]:
        assert referral.screening_number in page


def test_enrolled_against_the_protocol_target(client_as, mdt_member, referrals):
    """Enrolment is counted across the trial, whichever site the viewer works at."""
    referral = referrals["wuwei_review"][0]
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="fit for treatment"
    )
    services.participant_enrol(
        referral=referral, user=mdt_member, consent_date=timezone.localdate()
    )
    client = client_as("coordinator_lanzhou")
    page = client.get(reverse("dashboard")).content.decode()
    assert text(find(page, **{"data-testid": "enrolled"})) == "1 of 32"
    assert dict(find(page, "progress").attributes)["value"] == "1"


def test_only_the_oldest_incomplete_referrals_are_listed_with_a_link_to_all(client_as):
    create_referrals(12, ecog=None)
    client = client_as("coordinator_wuwei")
    page = client.get(reverse("dashboard")).content.decode()
    assert text(find(page, **{"data-testid": "incomplete-count"})) == "12"
    assert "All 12 incomplete referrals" in page
    assert page.count('href="/referrals/S-') == 10


# Session, user (with its roles, sites and unread notifications), the database snapshot the
# figures are kept for, counts by site and status, the sites, the protocol, the enrolment count,
# enrolments by month and first MDT decisions, and for those who enter referrals the oldest
# incomplete ones.
DASHBOARD_QUERIES = {"coordinator_wuwei": 10, "mdt": 9, "data_manager": 10}


@pytest.mark.parametrize("who", DASHBOARD_QUERIES)
def test_dashboard_queries_do_not_grow_with_rows(client_as, who, django_assert_num_queries):
    client = client_as(who)
    create_referrals(5, ecog=None)
    create_referrals(5, site="lanzhou")
    with django_assert_num_queries(DASHBOARD_QUERIES[who]):
        assert client.get(reverse("dashboard")).status_code == 200
    create_referrals(495, number=6, ecog=None)
    create_referrals(495, site="lanzhou", number=6)
    with django_assert_num_queries(DASHBOARD_QUERIES[who]):
        page = client.get(reverse("dashboard")).content.decode()
    visible = "500" if who == "coordinator_wuwei" else "1000"
    assert _counts_table(page)["All sites"][-1] == visible


def test_figures_are_drawn_once_a_snapshot_for_each_scope_and_language(
    client_as, frozen_snapshot, django_assert_num_queries
):
    create_referrals(2)
    create_referral(number=10, site="lanzhou")
    wuwei, mdt = client_as("coordinator_wuwei"), client_as("mdt")

    def total(client):
        page = client.get(reverse("dashboard")).content.decode()
        return _counts_table(page)["All sites"][-1] if "dashboard-counts" in page else page

    assert (total(wuwei), total(mdt)) == ("2", "3")
    # Unseen while the snapshot stays the same (in life any commit changes it).
    create_referral(number=11)
    # Session, user with its roles, sites and unread notifications: the figures are kept.
    with django_assert_num_queries(2):
        assert total(wuwei) == "2"
    chinese = client_as("mdt")
    chinese.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "按状态和中心统计的转诊" in chinese.get(reverse("dashboard")).content.decode()

    frozen_snapshot.advance()
    assert (total(wuwei), total(mdt)) == ("3", "4")
