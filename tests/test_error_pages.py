"""Error pages in the app's layout: what happened in a sentence, the way back, in the reader's
language; the server error page without the database."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from tests.factories import create_referral
from tests.pages import find, text

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _main(response) -> str:
    return text(find(response.content.decode(), "main"))


@pytest.mark.django_db
def test_a_coordinator_following_a_link_to_a_decision_gets_a_page_that_says_why(client_as):
    referral = create_referral()
    client = client_as("coordinator_wuwei")

    response = client.get(reverse("referral_decision", args=[referral.screening_number]))

    assert response.status_code == 403
    page = response.content.decode()
    assert "This page is not open to your role" in _main(response)
    assert "ask the trial's data manager for access" in _main(response)
    # The navigation is there, with the way back.
    assert find(page, "nav", **{"aria-label": "Main"})
    assert reverse("referral_list") in page
    assert "Sign out" in page


@pytest.mark.django_db
def test_a_wrong_screening_number_gets_a_page_with_the_way_back(client_as):
    client = client_as("coordinator_wuwei")

    response = client.get(reverse("referral_detail", args=["S-99999"]))

    assert response.status_code == 404
    assert "no referral with that screening number that you may see" in _main(response)
    assert 'href="/referrals/"' in response.content.decode()
    assert "Sign out" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "status", "english", "chinese"),
    [
        ("referral_decision", 403, "This page is not open to your role", "此页面不对您的角色开放"),
        ("referral_detail", 404, "Nothing here", "此处没有内容"),
    ],
)
def test_error_pages_are_in_the_reader_s_language(client_as, url_name, status, english, chinese):
    referral = create_referral()
    client = client_as("coordinator_wuwei")
    number = referral.screening_number if status == 403 else "S-99999"

    response = client.get(reverse(url_name, args=[number]), **CHINESE)

    assert response.status_code == status
    assert chinese in _main(response)
    assert english not in response.content.decode()
    assert '<html lang="zh-hans">' in response.content.decode()


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_says_what_to_do(coordinator_wuwei):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator_wuwei)

    response = client.post(reverse("referral_create"), {})

    assert response.status_code == 403
    assert "CSRF" in _main(response)
    assert "reload the page and send it again" in _main(response)


def test_the_server_error_page_renders_without_the_database():
    """No ``db`` fixture: any query would fail this test."""
    request = RequestFactory().get("/referrals/")
    with translation.override("zh-hans"):
        response = defaults.server_error(request)

    assert response.status_code == 500
    page = response.content.decode()
    assert "我们这边出了问题" in page
    assert 'href="/"' in page


@pytest.mark.django_db
def test_a_request_refused_before_sign_in_gets_the_bad_request_page(client):
    response = client.get("/", HTTP_HOST="not-this-site.example")

    assert response.status_code == 400
    assert "Nothing was saved. Go back, reload the page and try again." in _main(response)
