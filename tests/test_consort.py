"""The CONSORT flow: its numbers, their agreement with the screening log, the page."""

import datetime
import io
import re
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from PIL import Image

from screening import consort, consort_diagram, consort_image, exports, rules, services
from screening.forms.exports import ExportFilterForm
from screening.models import Referral
from tests.factories import create_referral, create_referrals
from tests.flows import amend, varied_trial
from tests.pages import find, find_all, input_value, text

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def trial(coordinator_wuwei, coordinator_lanzhou, mdt_member, data_manager):
    return varied_trial(data_manager, mdt_member)


def counts_from_screening_log(rows) -> consort.Flow:
    """The flow as a data manager would tally it from the screening-log export."""
    flow = consort.Flow()
    for row in rows:
        eligible = row["outcome"] == "potentially_eligible"
        decision = row["mdt_decision"]
        withdrawn = row["status"] == "withdrawn"
        flow.referred += 1
        flow.ineligible += row["outcome"] == "ineligible"
        flow.incomplete += row["outcome"] == "incomplete"
        flow.potentially_eligible += eligible
        if row["outcome"] == "ineligible":
            for code in rules.CODES:
                flow.failed[code] += row[code] == "fail"
        if not eligible:
            continue
        flow.awaiting_decision += decision is None and not withdrawn
        flow.withdrawn_before_decision += decision is None and withdrawn
        flow.rejected += decision == "reject"
        if decision == "approve":
            flow.approved += 1
            flow.awaiting_enrolment += row["status"] == "mdt_approved"
            flow.enrolled += row["status"] == "enrolled" and row["study_number"] is not None
            # The log shows a withdrawal after approval; the reason is in the referral.
            flow.declined_consent += withdrawn
    return flow


def comparable(flow: consort.Flow) -> dict:
    """What the screening log can tell: everything but the rejection reasons, and declined
    consent together with other withdrawals after approval."""
    numbers = {name: getattr(flow, name) for name in consort.COUNTED_BOXES}
    numbers["declined_consent"] += numbers.pop("withdrawn_after_approval")
    return {**numbers, "failed": flow.failed}


def test_counts_equal_the_screening_log_overall_and_by_site(trial):
    report = consort.consort_report()

    log = list(exports.screening_log_rows())
    assert comparable(report.overall) == comparable(counts_from_screening_log(log))
    for site, flow in report.by_site:
        site_rows = [row for row in log if row["site"] == site.code]
        assert comparable(flow) == comparable(counts_from_screening_log(site_rows))


def test_counting_rows_in_python_gives_the_database_counts(trial):
    rows = consort.flow_rows()

    assert consort.flow_from_rows(rows.values()) == consort.consort_report().overall
    for site, flow in consort.consort_report().by_site:
        site_rows = consort.flow_rows(Referral.objects.filter(site=site))
        assert consort.flow_from_rows(site_rows.values()) == flow


def test_every_box_holds_what_happened(trial):
    flow = consort.consort_report().overall

    assert (flow.referred, flow.ineligible, flow.incomplete, flow.potentially_eligible) == (
        22,
        6,
        2,
        14,
    )
    # A referral failing several criteria counts under each, and once among the ineligible.
    assert {code: n for code, n in flow.failed.items() if n} == {
        "I1": 2,
        "I2": 3,
        "I4": 1,
        "I5": 1,
        "I6": 1,
        "E3": 1,
        "E5": 1,
    }
    assert flow.awaiting_decision == 4  # one of them after its approval was superseded
    assert flow.withdrawn_before_decision == 1
    assert flow.rejected == 3
    assert {code: n for code, n in flow.rejected_by_reason.items() if n} == {
        "I2": 1,
        "E2": 1,
        "other": 1,
    }
    assert flow.approved == 6
    assert (flow.enrolled, flow.declined_consent, flow.withdrawn_after_approval) == (2, 1, 1)
    assert flow.awaiting_enrolment == 2
    # The boxes at the end of the paths hold every referral exactly once.
    ends = (
        flow.ineligible,
        flow.incomplete,
        flow.awaiting_decision,
        flow.withdrawn_before_decision,
        flow.rejected,
        flow.awaiting_enrolment,
        flow.declined_consent,
        flow.withdrawn_after_approval,
        flow.enrolled,
    )
    assert sum(ends) == flow.referred


def test_sites_add_up_to_the_overall_flow(trial):
    report = consort.consort_report()

    assert [site.code for site, _flow in report.by_site] == ["lanzhou", "wuwei"]
    wuwei = report.flow_of(report.by_site[1][0])
    lanzhou = report.flow_of(report.by_site[0][0])
    assert wuwei.referred + lanzhou.referred == report.overall.referred
    assert wuwei.referred == 11
    assert report.target == 32


def test_a_site_without_referrals_shows_zeros(coordinator_wuwei):
    create_referrals(2, site="wuwei")

    report = consort.consort_report()

    lanzhou = next(flow for site, flow in report.by_site if site.code == "lanzhou")
    assert lanzhou == consort.Flow()


def test_counts_take_the_same_queries_for_few_and_many_referrals(
    django_assert_num_queries, coordinator_wuwei
):
    # The snapshot, the counts (two), the sites and the enrolment target.
    create_referrals(3)
    with django_assert_num_queries(5):
        consort.consort_report()
    create_referrals(60, number=10, site=("wuwei", "lanzhou"))
    with django_assert_num_queries(5):
        report = consort.consort_report()
    assert report.overall.referred == 63


def texts_of(svg_markup: str) -> list[str]:
    root = ElementTree.fromstring(svg_markup)
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def test_page_draws_the_diagram_beside_the_table(client_as, trial):
    client = client_as("data_manager")

    response = client.get(reverse("consort"))

    page = response.content.decode()
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert "style=" not in page
    lines = texts_of(svg)
    assert "Referred and assessed (n = 22)" in lines
    assert "Excluded: ineligible (n = 6)" in lines
    assert "I2 stage: 3" in lines
    assert "Enrolled (n = 2)" in lines
    assert "target: 32" in lines
    # The table has a header per site and the numbers of each row, overall first.
    assert re.search(r'<th scope="col"[^>]*>Wuwei Heavy Ion Center</th>', page)
    row = re.search(r"Declined consent</th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["1", "0", "1"]  # all, Lanzhou, Wuwei


def test_the_table_words_each_criterion_with_the_protocol_in_force(
    client_as, coordinator_wuwei, data_manager
):
    create_referral(user=coordinator_wuwei, age=80)
    amend(data_manager, age_max=75)

    page = client_as("data_manager").get(reverse("consort")).content.decode()

    row = text(find_all(page, "tr", class_="consort-depth-2")[0])  # I1
    assert row.startswith("I1 age Age 18–75 years (inclusive)")
    assert row.endswith("1 0 1")  # all, Lanzhou, Wuwei
    assert "18–70" not in page


def test_svg_download_is_a_standalone_drawing_of_one_site(client_as, trial):
    client = client_as("mdt")

    response = client.get(reverse("consort_svg"), {"site": "lanzhou"})

    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="trialscreen-EC-consort-lanzhou-\d{4}-\d\d-\d\d\.svg"',
        response["Content-Disposition"],
    )
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Flow of referrals, Lanzhou Heavy Ion Center"
    assert "Referred and assessed (n = 11)" in texts_of(response.content.decode())


def test_unknown_site_is_refused_like_on_the_exports_page(client_as):
    client = client_as("data_manager")

    page = client.get(reverse("consort"), {"site": "beijing"})
    download = client.get(reverse("consort_png"), {"site": "beijing"})

    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
    assert "<svg" not in page.content.decode()
    assert download.status_code == 400


# Filters ------------------------------------------------------------------------------------


@pytest.fixture
def dated(coordinator_wuwei):
    """Referrals of both sites in January, February and March 2026: ineligible ones (cM1) in
    January, potentially eligible ones after."""
    months = {
        datetime.date(2026, 1, 15): ({"cm": "M1"}, ("wuwei", "lanzhou", "wuwei")),
        datetime.date(2026, 2, 15): ({}, ("wuwei", "lanzhou")),
        datetime.date(2026, 3, 15): ({}, ("lanzhou",)),
    }
    number = 1
    for day, (overrides, sites) in months.items():
        made = create_referrals(len(sites), number=number, site=sites, **overrides)
        Referral.objects.filter(pk__in=[r.pk for r in made]).update(referral_date=day)
        number += 10


@pytest.mark.parametrize(
    ("query", "referred", "ineligible", "eligible"),
    [
        ({}, 6, 3, 3),
        ({"referred_from": "2026-02-01"}, 3, 0, 3),
        ({"referred_to": "2026-02-15"}, 5, 3, 2),
        ({"referred_from": "2026-01-15", "referred_to": "2026-01-15"}, 3, 3, 0),
        ({"site": "wuwei"}, 3, 2, 1),
        ({"site": "lanzhou", "referred_from": "2026-02-01"}, 2, 0, 2),
    ],
)
def test_filters_count_the_referrals_the_exports_would_hold(
    client_as, dated, query, referred, ineligible, eligible
):
    client = client_as("mdt")

    response = client.get(reverse("consort"), query)

    flow = response.context["report"].overall
    assert (flow.referred, flow.ineligible, flow.potentially_eligible) == (
        referred,
        ineligible,
        eligible,
    )
    svg = re.search(r"<svg.*?</svg>", response.content.decode(), re.S).group(0)
    assert f"Referred and assessed (n = {referred})" in texts_of(svg)
    # The same filter on the exports selects as many referrals.
    form = ExportFilterForm(query)
    assert form.is_valid()
    assert form.referrals().count() == referred


def test_a_site_filter_shows_that_site_alone_in_the_table(client_as, dated):
    page = client_as("data_manager").get(reverse("consort"), {"site": "lanzhou"}).content.decode()

    headers = [text(th) for th in find_all(page, "th", scope="col")]
    assert headers == ["Stage", "Lanzhou Heavy Ion Center"]
    row = text(find_all(page, "tr", class_="consort-depth-0")[0])
    assert row == "Referred and assessed 3"
    assert "Flow of referrals, Lanzhou Heavy Ion Center." in page


def test_downloads_carry_the_filter_into_the_drawing_and_its_name(client_as, dated):
    client = client_as("data_manager")
    query = {"site": "wuwei", "referred_from": "2026-01-01", "referred_to": "2026-01-31"}

    response = client.get(reverse("consort_svg"), query)

    root = ElementTree.fromstring(response.content)
    assert root.find(f"{SVG}title").text == (
        "Flow of referrals, Wuwei Heavy Ion Center, referred 2026-01-01 to 2026-01-31"
    )
    assert "Referred and assessed (n = 2)" in texts_of(response.content.decode())
    assert re.fullmatch(
        r'attachment; filename="trialscreen-EC-consort-wuwei-from-2026-01-01-to-2026-01-31-'
        r'\d{4}-\d\d-\d\d\.svg"',
        response["Content-Disposition"],
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"referred_from": "03/11/2026"}, "Enter the date as YYYY-MM-DD"),
        ({"referred_from": "2026-03-01", "referred_to": "2026-02-01"}, "starts after it ends"),
    ],
)
def test_dates_are_iso_and_in_order(client_as, dated, query, message):
    client = client_as("data_manager")

    page = client.get(reverse("consort"), query)
    svg = client.get(reverse("consort_svg"), query)
    png = client.get(reverse("consort_png"), query)

    assert message in page.content.decode()
    assert "<svg" not in page.content.decode()
    assert svg.status_code == png.status_code == 400
    assert message in png.content.decode()


def test_the_page_offers_both_downloads_for_the_filter_in_its_fields(client_as, dated):
    page = client_as("mdt").get(reverse("consort"), {"site": "wuwei"}).content.decode()

    form = find(page, "form", id="consort-form")
    actions = [dict(b.attributes).get("formaction") for b in find_all(str(form), "button")]
    assert actions == [None, reverse("consort_svg"), reverse("consort_png")]
    assert input_value(page, "site") == "wuwei"


def test_filtered_page_runs_the_same_queries_for_few_and_many_referrals(
    client_as, django_assert_num_queries
):
    client = client_as("data_manager")
    query = {"site": "wuwei", "referred_from": "2020-01-01"}
    create_referrals(2)
    with django_assert_num_queries(10) as few:  # the filter's site looked up as well
        client.get(reverse("consort"), query)
    create_referrals(50, number=10, site=("wuwei", "lanzhou"))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(reverse("consort"), query)


# The PNG ------------------------------------------------------------------------------------


def test_png_download_is_a_picture_of_the_filtered_flow(client_as, dated):
    response = client_as("mdt").get(reverse("consort_png"), {"site": "lanzhou"})

    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert re.fullmatch(
        r'attachment; filename="trialscreen-EC-consort-lanzhou-\d{4}-\d\d-\d\d\.png"',
        response["Content-Disposition"],
    )
    image = Image.open(io.BytesIO(response.content))
    diagram = consort_diagram.diagram(consort.consort_report(), None)
    scale = consort_image.SCALE
    assert image.size == (
        diagram.width * scale,
        (diagram.height + consort_image.TITLE_HEIGHT) * scale,
    )
    assert getattr(image, "n_frames", 1) == 1


def test_png_draws_chinese_text_with_a_cjk_font(client_as, dated):
    installed = [
        regular for regular, _bold, _index in consort_image.FONTS if Path(regular).exists()
    ]
    if not installed:
        pytest.skip("no CJK font installed")
    font = consort_image.font(consort_image.FONT_SIZE)
    # A font without the glyphs draws the same empty box for every character.
    assert bytes(font.getmask("转")) != bytes(font.getmask("诊"))
    assert font.getmask("转").getbbox() is not None
    client = client_as("mdt")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    response = client.get(reverse("consort_png"))

    assert response.content.startswith(b"\x89PNG")
    with translation.override("zh-hans"):
        title = consort_diagram.diagram(consort.consort_report()).title
    assert title == "转诊流程图（全部中心）"


def test_png_is_drawn_without_any_cjk_font_too(client_as, dated, monkeypatch):
    monkeypatch.setattr(consort_image, "FONTS", (("/nowhere.ttc", "/nowhere.ttc", 0),))
    consort_image.font.cache_clear()
    try:
        response = client_as("mdt").get(reverse("consort_png"))
    finally:
        consort_image.font.cache_clear()

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_page_runs_the_same_queries_for_few_and_many_referrals(
    client_as, django_assert_num_queries
):
    client = client_as("data_manager")
    create_referrals(2)
    # Session, user with its roles and unread notifications, the snapshot the page is kept
    # for, and the report's five: snapshot, counts, rejections, sites, protocol; the filter's
    # choice of sites.
    with django_assert_num_queries(9) as few:
        client.get(reverse("consort"))
    create_referrals(50, number=10, site=("wuwei", "lanzhou"))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(reverse("consort"))


def test_page_is_drawn_once_a_snapshot_for_each_filter(
    client_as, dated, frozen_snapshot, django_assert_num_queries
):
    client = client_as("mdt")

    def referred(**query):
        page = client.get(reverse("consort"), query).content.decode()
        svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
        return [line for line in texts_of(svg) if line.startswith("Referred and assessed")]

    assert referred() == ["Referred and assessed (n = 6)"]
    assert referred(site="wuwei") == ["Referred and assessed (n = 3)"]
    # Unseen while the snapshot stays the same (in life any commit changes it).
    create_referral(number=90)
    # Session, user with its roles and unread notifications: the page is kept.
    with django_assert_num_queries(2):
        assert referred() == ["Referred and assessed (n = 6)"]
    assert referred(site="wuwei") == ["Referred and assessed (n = 3)"]

    frozen_snapshot.advance()
    assert referred() == ["Referred and assessed (n = 7)"]


def test_rejection_reasons_count_under_their_criterion(trial):
    reasons = Counter(
        decision.reason_code
        for referral in trial["rejected"]
        for decision in referral.decisions.filter(superseded_at__isnull=True)
    )

    flow = consort.consort_report().overall

    assert {code: n for code, n in flow.rejected_by_reason.items() if n} == dict(reasons)


@pytest.mark.django_db(transaction=True)
def test_counts_are_kept_only_while_the_database_is_unchanged(seeded, django_assert_num_queries):
    create_referrals(3)
    assert consort.consort_report().overall.referred == 3

    # Nothing written since: the kept counts, with the sites and the target read afresh.
    with django_assert_num_queries(3):
        assert consort.consort_report().overall.referred == 3

    withdrawn = create_referral(number=10)
    assert consort.consort_report().overall.referred == 4
    services.referral_withdraw(code="other", referral=withdrawn, user=None, reason="Moved away.")
    assert consort.consort_report().overall.withdrawn_before_decision == 1
