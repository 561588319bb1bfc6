"""The referral list: what each user sees, filters, search, sorting, counts and pages."""

import pytest
from django.urls import reverse

from tests.factories import create_referral, create_referrals


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


# Session, user, roles, the user's sites, then the page's own: row count, the page's ids, its
# rows, status counts, the site filter's choices; the unread notifications of the navigation.
LIST_QUERIES = {"coordinator_wuwei": 10, "mdt": 9, "data_manager": 9}


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
