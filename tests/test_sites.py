"""The two sites are named in the reader's language: 武威重离子中心 and 兰州重离子中心 in Chinese,
on every page, in every choice of a site, and in the admin, where a data manager may correct
the names."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import translation

from screening.models import Site
from tests.factories import create_referral
from tests.pages import find, find_all, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def chinese():
    """Pages read in Chinese; English put back for the tests after this one."""
    with translation.override("en"):
        yield


def in_chinese(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def test_a_site_has_its_name_in_each_language():
    wuwei = Site.objects.get(code="wuwei")
    with translation.override("en"):
        assert wuwei.display_name == str(wuwei) == "Wuwei Heavy Ion Center"
    with translation.override("zh-hans"):
        assert wuwei.display_name == str(wuwei) == "武威重离子中心"
        assert str(Site.objects.get(code="lanzhou")) == "兰州重离子中心"


def test_a_site_without_a_chinese_name_keeps_its_english_one():
    site = Site(code="xian", name="Xi'an Center")
    with translation.override("zh-hans"):
        assert site.display_name == "Xi'an Center"


def test_the_chinese_names_migration_is_reversible():
    executor = MigrationExecutor(connection)
    (latest,) = executor.loader.graph.leaf_nodes("screening")
    executor.migrate([("screening", "0019_importupload")])
    executor.loader.build_graph()
    executor.migrate([latest])

    names = dict(Site.objects.values_list("code", "name_zh"))
    assert names == {"wuwei": "武威重离子中心", "lanzhou": "兰州重离子中心"}


def test_pages_name_the_site_in_chinese(client_as, chinese):
    referral = create_referral(site="wuwei")
    client = in_chinese(client_as("data_manager"))

    listed = client.get(reverse("referral_list")).content.decode()
    shown = client.get(reverse("referral_detail", args=[referral.screening_number]))
    dashboard = client.get(reverse("dashboard")).content.decode()
    form = client.get(reverse("referral_create")).content.decode()

    (row,) = [row for row in find_all(listed, "tr") if referral.screening_number in text(row)]
    assert "武威重离子中心" in text(row)
    site_filter = find(listed, "select", name="site")
    assert [text(option) for option in site_filter.children[1:]] == [
        "兰州重离子中心",
        "武威重离子中心",
    ]
    assert "武威重离子中心" in shown.content.decode()
    assert "兰州重离子中心" in dashboard and "Heavy Ion" not in dashboard
    assert "兰州重离子中心" in text(find(form, "select", name="site"))


def test_the_consort_page_names_each_site_in_chinese(client_as, chinese):
    client = in_chinese(client_as("data_manager"))

    page = client.get(reverse("consort")).content.decode()
    diagram = client.get(reverse("consort_svg") + "?site=lanzhou").content.decode()

    assert "武威重离子中心" in page and "兰州重离子中心" in page
    assert "兰州重离子中心" in diagram


def test_exports_keep_the_site_code_in_every_language(client_as, chinese):
    """Files are read by programs as well as people: the site column holds its code."""
    create_referral(site="wuwei")
    client = in_chinese(client_as("data_manager"))

    response = client.get(reverse("export_screening_log_csv"))

    rows = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert rows[1].split(",")[1] == "wuwei"


def test_a_data_manager_corrects_a_site_s_chinese_name_in_the_admin(client_as):
    wuwei = Site.objects.get(code="wuwei")
    url = reverse("admin:screening_site_change", args=[wuwei.pk])
    client = client_as("data_manager")

    response = client.post(
        url, {"name": "Wuwei Heavy Ion Center", "name_zh": "甘肃武威重离子中心", "code": "x"}
    )

    assert response.status_code == 302
    wuwei.refresh_from_db()
    assert (wuwei.code, wuwei.name_zh) == ("wuwei", "甘肃武威重离子中心")
    assert client.get(reverse("admin:screening_site_add")).status_code == 403
    delete = reverse("admin:screening_site_delete", args=[wuwei.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Site.objects.count() == 2
