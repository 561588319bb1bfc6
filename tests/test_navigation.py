"""The navigation every page draws (templates/base.html): its links and words are kept per
language, page and the user's roles; the CSRF tokens, the way back after a language switch and
the user's name are the request's own."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import translation

from screening.models import Role
from tests.pages import find, find_all, text


@pytest.fixture
def language_restored():
    """A request in Chinese leaves Chinese active in this thread: put English back after."""
    with translation.override("en"):
        yield


def links(page: str) -> set[str]:
    """Where the navigation's links lead."""
    return {dict(link.attributes)["href"] for link in find_all(page, "a", class_="nav-link")}


def current(page: str) -> str:
    """Where the link marked as the current page leads."""
    return dict(find(page, "a", **{"aria-current": "page"}).attributes)["href"]


def test_each_role_sees_its_own_links_on_the_same_page(client_as):
    pages = {
        role: client_as(role).get(reverse("referral_list")).content.decode()
        for role in ("coordinator_wuwei", "mdt", "data_manager", "coordinator_wuwei")
    }

    assert {"/referrals/new/", "/imports/"} <= links(pages["coordinator_wuwei"])
    assert not {"/mdt/", "/exports/", "/reports/audit/"} & links(pages["coordinator_wuwei"])
    assert {"/mdt/", "/reports/consort/"} <= links(pages["mdt"])
    assert not {"/referrals/new/", "/exports/"} & links(pages["mdt"])
    assert {"/exports/", "/reports/audit/", "/referrals/new/"} <= links(pages["data_manager"])
    assert "/imports/" not in links(pages["data_manager"])


def test_a_role_given_shows_its_links_on_the_next_page(client_as, coordinator_wuwei):
    client = client_as("coordinator_wuwei")
    assert "/mdt/" not in links(client.get(reverse("referral_list")).content.decode())

    coordinator_wuwei.groups.add(Group.objects.get(name=Role.MDT))

    assert "/mdt/" in links(client.get(reverse("referral_list")).content.decode())


def test_the_current_page_is_marked(client_as):
    client = client_as("mdt")
    for name in ("dashboard", "referral_list", "mdt_queue", "dashboard"):
        assert current(client.get(reverse(name)).content.decode()) == reverse(name)


def test_the_navigation_is_in_the_language_asked_for(client_as, language_restored):
    client = client_as("coordinator_wuwei")
    for language in ("en", "zh-hans", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        page = client.get(reverse("referral_list")).content.decode()
        with translation.override(language):
            words = [translation.gettext(word) for word in ("Referrals", "Language", "Main")]
        navigation = find(page, "nav", class_="navbar")
        assert words[0] in text(find(page, "a", class_="nav-link", href="/referrals/")), language
        assert words[1] in text(find(page, "label", **{"for": "language-select"})), language
        assert dict(navigation.attributes)["aria-label"] == words[2], language


def test_the_forms_carry_the_requests_own_token_and_way_back(coordinator_wuwei):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator_wuwei)
    client.get(reverse("dashboard"))
    page = client.get(reverse("referral_list") + "?page=2").content.decode()

    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert len(tokens) == 2
    assert 'name="next" value="/referrals/?page=2"' in page
    assert coordinator_wuwei.username in text(find(page, "span", class_="navbar-text"))
    answer = client.post(reverse("set_language"), {"language": "en", "next": "/referrals/"})
    assert answer.status_code == 403  # no token
    answer = client.post(
        reverse("set_language"),
        {"language": "en", "next": "/referrals/", "csrfmiddlewaretoken": tokens[0]},
    )
    assert answer.status_code == 302
    answer = client.post(reverse("logout"), {"csrfmiddlewaretoken": tokens[1]})
    assert answer.status_code == 302
