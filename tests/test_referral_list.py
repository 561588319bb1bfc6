"""The referral list: what each user sees, filters, search, sorting, counts and pages."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from screening import services
from screening.national_id import check_character
from tests.factories import create_referral, create_referrals, days_ago, referral_data
from tests.pages import find, find_all, text


def test_a_coordinator_lists_only_their_sites_referrals(client_as):
    wuwei = create_referral(site="wuwei", number=1)
    lanzhou = create_referral(site="lanzhou", number=2)
    client = client_as("coordinator_lanzhou")
    page = client.get(reverse("referral_list")).content.decode()
    assert lanzhou.screening_number in page
    assert wuwei.screening_number not in page
    assert 'value="wuwei"' not in page  # not even as a site filter choice


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "王"}, {"wang"}),
        ({"q": "wu-77"}, {"wang"}),
        ({"site": "lanzhou"}, {"li"}),
        ({"status": "screen_failed"}, {"li"}),
        ({"outcome": "incomplete"}, {"zhang"}),
        ({"referred_from": "2026-01-10"}, {"wang", "li"}),
        ({"referred_to": "2025-12-31"}, {"zhang"}),
        ({"referred_from": "2026-01-01", "referred_to": "2026-01-15"}, {"wang"}),
    ],
)
def test_list_filters_and_search(client_as, query, expected, monkeypatch):
    referrals = {
        "wang": create_referral(
            number=1,
            full_name="王建国",
            hospital_number="WU-77",
            referral_date="2026-01-10",
            screening_date="2026-01-10",
            labs_date="2026-01-05",
        ),
        "li": create_referral(
            number=2,
            site="lanzhou",
            full_name="李秀英",
            cm="M1",
            referral_date="2026-02-01",
            screening_date="2026-02-01",
            labs_date="2026-01-30",
        ),
        "zhang": create_referral(
            number=3,
            full_name="张伟",
            ecog=None,
            referral_date="2025-12-01",
            screening_date="2025-12-01",
            labs_date="2025-11-30",
        ),
    }
    client = client_as("data_manager")
    page = client.get(reverse("referral_list"), query).content.decode()
    shown = {name for name, referral in referrals.items() if referral.screening_number in page}
    assert shown == expected


def test_list_sorts_by_referral_date_both_ways(client_as):
    old = create_referral(
        number=1, referral_date="2025-12-01", screening_date="2025-12-01", labs_date="2025-11-30"
    )
    new = create_referral(
        number=2, referral_date="2026-02-01", screening_date="2026-02-01", labs_date="2026-01-30"
    )
    client = client_as("data_manager")
    newest = client.get(reverse("referral_list")).content.decode()
    oldest = client.get(reverse("referral_list"), {"sort": "oldest"}).content.decode()
    assert newest.index(new.screening_number) < newest.index(old.screening_number)
    assert oldest.index(old.screening_number) < oldest.index(new.screening_number)


def test_list_counts_per_status_and_paginates(client_as):
    create_referrals(55)
    create_referrals(3, site="lanzhou", cm="M1")
    client = client_as("data_manager")
    first = client.get(reverse("referral_list")).content.decode()
    assert (
        'data-status="mdt_review">MDT review <span class="badge text-bg-light border">55<' in first
    )
    assert (
        'data-status="screen_failed">Screen failed <span class="badge text-bg-light border">3<'
        in first
    )
    assert "58 referrals" in first
    assert "Page 1 of 2" in first
    assert first.count('<tr>\n  <th scope="row"><a href="/referrals/S-') == 50
    second = client.get(reverse("referral_list"), {"page": 2}).content.decode()
    assert second.count('<tr>\n  <th scope="row"><a href="/referrals/S-') == 8


# Session, user (with its roles, sites and unread notifications), then the page's own: row
# count, the page's ids, its rows, status counts, the site filter's choices.
LIST_QUERIES = {"coordinator_wuwei": 7, "mdt": 7, "data_manager": 7}


@pytest.mark.parametrize("who", LIST_QUERIES)
def test_list_queries_do_not_grow_with_rows(client_as, who, django_assert_num_queries):
    client = client_as(who)
    url = reverse("referral_list")
    create_referrals(10)
    with django_assert_num_queries(LIST_QUERIES[who]):
        assert client.get(url, {"q": "S-", "sort": "oldest"}).status_code == 200
    create_referrals(990, number=11)
    with django_assert_num_queries(LIST_QUERIES[who]):
        response = client.get(url, {"q": "S-", "sort": "oldest"})
    assert "1000 referrals" in response.content.decode()


def test_the_list_is_kept_while_the_snapshot_stays_the_same(
    client_as, frozen_snapshot, django_assert_num_queries
):
    wuwei_referrals = create_referrals(55)
    create_referral(site="lanzhou", number=100, full_name="李秀英")
    wuwei, lanzhou = client_as("coordinator_wuwei"), client_as("coordinator_lanzhou")
    url = reverse("referral_list")
    assert "55 referrals" in wuwei.get(url).content.decode()
    assert wuwei.get(url, {"page": 2}).content.decode().count('<th scope="row">') == 5
    # Unseen while the snapshot stays the same (in life any commit changes it).
    create_referral(number=200, full_name="王建国")

    # Session, user with its roles and unread notifications: counts and rows are kept.
    with django_assert_num_queries(2):
        again = wuwei.get(url).content.decode()
    assert "55 referrals" in again
    assert again.count('<th scope="row">') == 50
    assert "王建国" not in again
    # Filtered by site too: the filter form is kept drawn, so its sites are not read again.
    filtered = {"site": "wuwei", "status": "screen_failed"}
    wuwei.get(url, filtered)
    with django_assert_num_queries(2):
        kept_filtered = wuwei.get(url, filtered).content.decode()
    assert 'value="wuwei" selected' in kept_filtered
    assert find(kept_filtered, "a", class_="active", **{"data-status": "screen_failed"})
    # Kept apart for each page, sort, language and the sites the user sees.
    assert wuwei.get(url, {"page": 2}).content.decode().count('<th scope="row">') == 5
    oldest = min(wuwei_referrals, key=lambda referral: (referral.referral_date, referral.pk))
    by_age = wuwei.get(url, {"sort": "oldest"}).content.decode()
    assert f">{oldest.screening_number}</a>" in by_age.split('<th scope="row">')[1]
    in_chinese = client_as("coordinator_wuwei")
    in_chinese.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    with translation.override("en"):  # the request leaves Chinese active in the thread
        assert "例转诊" in in_chinese.get(url).content.decode()
    other_site = lanzhou.get(url).content.decode()
    assert "李秀英" in other_site
    assert wuwei_referrals[0].screening_number not in other_site

    frozen_snapshot.advance()
    fresh = wuwei.get(url).content.decode()
    assert "56 referrals" in fresh
    assert "王建国" in fresh


# --- sortable columns, the "why" column, national ID search, strict dates ---


def _order(page: str, referrals) -> list:
    return sorted(referrals, key=lambda referral: page.index(f">{referral.screening_number}<"))


def test_each_column_header_sorts_the_list_and_again_the_other_way(client_as):
    young = create_referral(number=1, age=45)
    failed = create_referral(number=2, age=60, ecog=3)
    old = create_referral(number=3, age=70, labs_date=None)
    client = client_as("data_manager")
    url = reverse("referral_list")

    page = client.get(url, {"sort": "age"}).content.decode()
    assert _order(page, [old, young, failed]) == [young, failed, old]
    header = find(page, "th", **{"aria-sort": "ascending"})
    assert "Age" in text(header)
    descending = dict(find(str(header), "a").attributes)["href"]
    page = client.get(url + descending).content.decode()
    assert _order(page, [old, young, failed]) == [old, failed, young]

    by_status = client.get(url, {"sort": "status"}).content.decode()
    # Workflow order: screening, screen failed, MDT review.
    assert _order(by_status, [young, failed, old]) == [old, failed, young]
    by_number = client.get(url, {"sort": "-screening_number"}).content.decode()
    assert _order(by_number, [young, failed, old]) == [old, failed, young]


def test_days_waiting_sorts_the_longest_waiting_open_referral_first(client_as, mdt_member):
    waited = create_referral(number=1, referral_date=days_ago(20), screening_date=days_ago(19))
    recent = create_referral(number=2, referral_date=days_ago(2), screening_date=days_ago(1))
    closed = create_referral(number=3, referral_date=days_ago(25), screening_date=days_ago(24))
    services.mdt_decision_record(
        referral=closed, user=mdt_member, decision="reject", reason_code="E3", rationale="Ulcer."
    )
    page = client_as("data_manager").get(reverse("referral_list"), {"sort": "days_waiting"})
    html = page.content.decode()

    assert _order(html, [recent, closed, waited]) == [waited, recent, closed]
    row = next(text(tr) for tr in find_all(html, "tr") if waited.screening_number in text(tr))
    assert " 20 " in f" {row} "


def test_the_why_column_names_failing_criteria_or_what_is_missing(client_as):
    failing = create_referral(number=1, ecog=3, cm="M1")
    missing = create_referral(number=2, ecog=None, cn="NX")
    ready = create_referral(number=3)
    html = client_as("data_manager").get(reverse("referral_list")).content.decode()

    def why(referral):
        row = next(tr for tr in find_all(html, "tr") if referral.screening_number in text(tr))
        return text(find(str(row), "td", class_="referral-why"))

    assert why(failing) == "I2, I6 fail"
    assert why(missing).startswith("Missing: ")
    assert "cN" in why(missing) and "ECOG" in why(missing)
    assert why(ready) == "E2 for the MDT to confirm"


def test_search_finds_a_whole_national_id_only(client_as):
    born = referral_data(number=1, sex="F")["date_of_birth"]
    first17 = "620602" + born.replace("-", "") + "024"  # 24: even, female
    national_id = first17 + check_character(first17)
    referral = create_referral(number=1, sex="F", national_id=national_id)
    other = create_referral(number=2)
    client = client_as("data_manager")

    whole = client.get(reverse("referral_list"), {"q": national_id.lower()}).content.decode()
    part = client.get(reverse("referral_list"), {"q": national_id[:10]}).content.decode()

    assert referral.screening_number in whole and other.screening_number not in whole
    assert referral.screening_number not in part


def test_date_filters_take_iso_dates_only(client_as):
    create_referral(number=1)
    client = client_as("data_manager")

    page = client.get(reverse("referral_list"), {"referred_from": "03/11/2026"}).content.decode()

    assert "Enter a valid date." in page
    field = dict(find(page, "input", name="referred_from").attributes)
    assert field["type"] == "date"
