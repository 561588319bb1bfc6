"""The sign-in page: open to everyone, and it signs a member of the team in.

Lockouts and the second factor are in test_security.py.
"""

from django.urls import reverse

from tests.factories import PASSWORD


def test_login_page_is_open_and_signs_in(client, coordinator_wuwei):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "coord-wuwei", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
