"""The MDT meeting packet: a cover page, then one page per candidate to print for the meeting;
and the names the queue shows to pick them."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from screening.models import RecordView, Referral
from tests.factories import create_referral, create_referrals, referral_data

Status = Referral.Status

TRIAL = (
    "Phase II Clinical Study on Photon Combined with Carbon Ion Radiotherapy for Locally "
    "Advanced Esophageal Cancer"
)


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def referred(user, number: int, days: int, **overrides) -> Referral:
    """A referral of patient ``number`` referred, screened and with blood taken ``days`` ago."""
    return create_referral(
        user=user,
        number=number,
        referral_date=days_ago(days),
        screening_date=days_ago(days),
        labs_date=days_ago(days),
        **overrides,
    )


def pages(html: str) -> list[str]:
    """The packet's printed pages: the cover first, then one per candidate."""
    return html.split('<article class="packet-page')[1:]


def packet(client, *numbers) -> str:
    return client.get(reverse("mdt_packet"), {"sn": numbers} if numbers else {}).content.decode()


# --- the queue ---


def test_queue_names_each_candidate_and_offers_the_packet(client_as, coordinator_wuwei):
    candidate = create_referral(
        user=coordinator_wuwei, full_name="欧阳明月", hospital_number="WU-778", ct="T3", cn="N1"
    )
    html = client_as("data_manager").get(reverse("mdt_queue")).content.decode()

    row = html[html.index(candidate.screening_number) :].split("</tr>")[0]
    assert "欧阳明月" in row
    assert "WU-778" in row
    assert f'form="packet-form" id="packet-{candidate.pk}"' in html
    assert f'name="sn" value="{candidate.screening_number}"' in html
    assert f'action="{reverse("mdt_packet")}"' in html
    assert "Print packet" in html


# --- the packet ---


def test_packet_has_a_cover_and_a_page_per_candidate_longest_waiting_first(
    client_as, coordinator_wuwei
):
    newer = referred(coordinator_wuwei, 2, 3, full_name="Newer Patient", ct="T3", cn="N1")
    older = referred(
        coordinator_wuwei,
        3,
        12,
        full_name="Older Patient",
        site="lanzhou",
        hospital_number="LZ-9001",
        dosimetry_status="feasible",
        histology="squamous_cell_carcinoma",
    )
    create_referral(user=coordinator_wuwei, number=4, ecog=None)  # incomplete: not in review

    cover, first, second = pages(packet(client_as("mdt")))

    assert "MDT meeting packet" in cover
    assert TRIAL in cover
    assert timezone.localdate().isoformat() in cover
    assert ">2</dd>" in cover  # candidates
    assert cover.index("Older Patient") < cover.index("Newer Patient")
    listed = cover[cover.index(older.screening_number) :].split("</tr>")[0]
    assert "LZ-9001" in listed
    assert "Lanzhou Heavy Ion Center" in listed
    assert ">12<" in listed
    assert "Meeting date" in cover
    assert "Attendees" in cover
    assert cover.count('class="write-in-line"') == 5

    assert "Older Patient" in first and older.screening_number in first
    assert "LZ-9001" in first
    assert f"{older.age()} years" in first
    assert "Squamous cell carcinoma" in first
    assert f"{older.referral_date:%Y-%m-%d}" in first
    assert first.count('class="criterion criterion-') == 12
    assert "MDT to confirm:</strong>\n      Nothing" in first  # dosimetry feasible
    assert "Decision / rationale" in first
    assert first.count('class="write-in-line"') == 4

    assert "Newer Patient" in second and newer.screening_number in second
    assert "cT3N1M0" in second
    assert ">III<" in second  # squamous cT3 N1 M0 (PROTOCOL section 5)
    assert "dosimetry not assessed: MDT to confirm" in second
    assert "criterion criterion-deferred" in second
    assert "Possible duplicate" not in first + second


def test_packet_says_when_the_stage_group_cannot_be_assigned(client_as, coordinator_wuwei):
    create_referral(user=coordinator_wuwei, histology="other", ct="T3", cn="N1")
    client = client_as("mdt")

    english = pages(packet(client))[1]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = pages(packet(client))[1]

    assert ">not assignable<" in english
    assert ">无法分期<" in chinese


def test_packet_flags_a_possible_duplicate(client_as, coordinator_wuwei, coordinator_lanzhou):
    row = referral_data(full_name="王小明", hospital_number="WU1")
    first = create_referral(user=coordinator_wuwei, **row)
    create_referral(
        user=coordinator_lanzhou, **{**row, "site": "lanzhou", "hospital_number": "LZ1"}
    )

    cover, *candidate_pages = pages(packet(client_as("mdt"), first.screening_number))

    assert "Possible duplicate" not in cover
    (page,) = candidate_pages
    assert "Possible duplicate" in page
    assert "Another referral has the same name, date of birth and sex" in page


def test_a_selection_prints_only_those_in_review(client_as, coordinator_wuwei):
    first, second, third = (
        referred(coordinator_wuwei, number, days) for number, days in ((1, 9), (2, 6), (3, 3))
    )
    screening = create_referral(user=coordinator_wuwei, number=4, ecog=None)
    client = client_as("mdt")

    html = packet(
        client,
        third.screening_number,
        first.screening_number,
        screening.screening_number,
        "S-99999",
        first.screening_number,  # asked twice, printed and counted once
    )

    cover, *candidate_pages = pages(html)
    assert len(candidate_pages) == 2
    assert first.screening_number in candidate_pages[0]  # still the longest-waiting first
    assert third.screening_number in candidate_pages[1]
    for left_out in (second, screening):
        assert left_out.screening_number not in cover + "".join(candidate_pages)
    assert "Selection: 4 screening numbers asked for, 2 in this packet." in cover
    assert "Numbers not awaiting the MDT are left out." in cover


def test_a_selection_that_is_all_in_review_says_nothing_is_left_out(client_as, coordinator_wuwei):
    candidate = create_referral(user=coordinator_wuwei)

    cover = pages(packet(client_as("mdt"), candidate.screening_number))[0]

    assert "Selection: 1 screening number asked for, 1 in this packet." in cover
    assert "left out" not in cover


def test_without_candidates_the_packet_says_so(client_as, coordinator_wuwei):
    screening = create_referral(user=coordinator_wuwei, ecog=None)
    client = client_as("mdt")

    whole = packet(client)
    selected = packet(client, screening.screening_number, "S-99999")

    assert pages(whole) == pages(selected) == []
    assert "No referral awaits the MDT." in whole
    assert "None of the 2 screening numbers asked for is awaiting the MDT" in selected
    assert "data-print" not in whole
    assert not RecordView.objects.exists()


def test_packet_in_chinese(client_as, coordinator_wuwei):
    create_referral(user=coordinator_wuwei, full_name="欧阳明月", ct="T3", cn="N1")
    client = client_as("mdt")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    cover, page = pages(packet(client))

    assert "MDT 会议资料" in cover
    assert "局部晚期食管癌光子联合碳离子放疗 II 期临床研究" in cover
    assert "出席成员" in cover and "会议日期" in cover
    assert "欧阳明月" in cover and "欧阳明月" in page
    assert "决定 / 理由" in page
    assert "待 MDT 确认" in page


def test_showing_the_packet_is_recorded(client_as, coordinator_wuwei, mdt_member):
    create_referrals(2, user=coordinator_wuwei, status=Status.MDT_REVIEW)

    client_as("mdt").get(reverse("mdt_packet"))

    view = RecordView.objects.get()
    assert (view.viewer, view.kind, view.referral) == (mdt_member, "packet", None)
    assert view.get_kind_display() == "MDT meeting packet"


def test_the_print_button_is_bound_by_a_script_not_inline(client_as, coordinator_wuwei):
    create_referral(user=coordinator_wuwei)

    html = packet(client_as("mdt"))

    assert '<button class="btn btn-primary" type="button" data-print hidden>Print</button>' in html
    assert '<script src="/static/js/print_button.js"></script>' in html
    assert "onclick" not in html


# --- query counts ---


@pytest.mark.parametrize("count", [10, 1000])
def test_packet_query_count_does_not_grow_with_candidates(
    client_as, count, django_assert_num_queries
):
    referrals = create_referrals(count, status=Status.MDT_REVIEW)
    client = client_as("mdt")
    # session, user with its roles and unread notifications, the referrals with site,
    # evaluation and protocol version, and the record that the packet was shown
    with django_assert_num_queries(4):
        html = client.get(reverse("mdt_packet")).content.decode()
    assert len(pages(html)) == count + 1
    assert html.count('class="criterion criterion-') == 12 * count
    assert referrals[-1].full_name in html


@pytest.mark.parametrize("count", [10, 1000])
def test_selected_packet_query_count_does_not_grow(client_as, count, django_assert_num_queries):
    referrals = create_referrals(count, status=Status.MDT_REVIEW)
    client = client_as("mdt")
    numbers = [referral.screening_number for referral in referrals[::2]]
    with django_assert_num_queries(4):
        html = client.get(reverse("mdt_packet"), {"sn": numbers}).content.decode()
    assert len(pages(html)) == len(numbers) + 1
