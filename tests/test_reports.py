"""Accrual against the straight line to the target, and days from referral to MDT decision."""

import datetime

import pytest
from django.utils import timezone

from screening import reports, services
from screening.models import Enrolment, MdtDecision, ProtocolVersion
from tests.factories import create_referral

pytestmark = pytest.mark.django_db


def _moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 0)))


def _enrolled_on(days, coordinator, mdt_member):
    """One enrolment per date in ``days``, dated then."""
    for number, day in enumerate(days, start=1):
        referral = create_referral(user=coordinator, number=number)
        services.mdt_decision_record(
            referral=referral, user=mdt_member, decision="approve", rationale="Fit."
        )
        enrolment = services.participant_enrol(
            referral=referral, user=coordinator, consent_date=timezone.localdate()
        )
        Enrolment.objects.filter(pk=enrolment.pk).update(enrolled_at=_moment(day))


def test_straight_line_runs_from_zero_at_accrual_start_to_the_target_at_its_end():
    protocol = ProtocolVersion.current()
    assert reports.expected_by(protocol, datetime.date(2025, 5, 1)) == 0
    assert reports.expected_by(protocol, datetime.date(2029, 5, 31)) == 32
    assert reports.expected_by(protocol, datetime.date(2031, 1, 1)) == 32
    assert reports.expected_by(protocol, datetime.date(2027, 5, 16)) == pytest.approx(16, abs=0.1)


def test_accrual_counts_enrolments_per_month_and_in_total(coordinator_wuwei, mdt_member):
    days = [datetime.date(2025, 6, 3), datetime.date(2025, 6, 28), datetime.date(2025, 8, 1)]
    _enrolled_on(days, coordinator_wuwei, mdt_member)
    protocol = ProtocolVersion.current()

    months = reports.accrual_by_month(protocol, today=datetime.date(2025, 9, 15))

    assert [(m.month, m.enrolled, m.cumulative) for m in months] == [
        (datetime.date(2025, 5, 1), 0, 0),
        (datetime.date(2025, 6, 1), 2, 2),
        (datetime.date(2025, 7, 1), 0, 2),
        (datetime.date(2025, 8, 1), 1, 3),
        (datetime.date(2025, 9, 1), 0, 3),
    ]
    assert months[-1].expected == pytest.approx(
        reports.expected_by(protocol, datetime.date(2025, 9, 15))
    )


def test_month_is_the_local_month_of_the_enrolment(coordinator_wuwei, mdt_member):
    """2025-06-30 20:00 UTC is already 1 July in Shanghai."""
    _enrolled_on([datetime.date(2025, 7, 1)], coordinator_wuwei, mdt_member)
    late_june_utc = datetime.datetime(2025, 6, 30, 20, 0, tzinfo=datetime.UTC)
    Enrolment.objects.update(enrolled_at=late_june_utc)

    months = reports.accrual_by_month(ProtocolVersion.current(), today=datetime.date(2025, 7, 2))

    assert [(m.month, m.enrolled) for m in months][-2:] == [
        (datetime.date(2025, 6, 1), 0),
        (datetime.date(2025, 7, 1), 1),
    ]


def test_chart_draws_bars_line_and_target_in_the_plot(coordinator_wuwei, mdt_member):
    _enrolled_on(
        [datetime.date(2025, 6, 3), datetime.date(2025, 6, 28)], coordinator_wuwei, mdt_member
    )
    chart = reports.accrual_chart(ProtocolVersion.current(), today=datetime.date(2025, 7, 10))

    plot = chart["plot"]
    assert (chart["enrolled"], chart["target"]) == (2, 32)
    assert len(chart["bars"]) == 1  # June only
    target = chart["target_line"]
    assert (target["x1"], target["y1"]) == (plot["left"], plot["bottom"])
    assert target["y2"] == plot["top"]  # the target sits at the top of the scale
    last_x, last_y = chart["cumulative_points"].split()[-1].split(",")
    assert float(last_x) == chart["today_x"]
    two_of_32 = plot["bottom"] - (plot["bottom"] - plot["top"]) * 2 / 32
    assert float(last_y) == pytest.approx(two_of_32, abs=0.1)
    assert [tick["value"] for tick in chart["y_ticks"]] == [0, 8, 16, 24, 32]
    assert [tick["label"] for tick in chart["x_ticks"]] == [
        "2025-05",
        "2026",
        "2027",
        "2028",
        "2029",
    ]


def test_median_days_from_referral_to_the_meeting_of_the_first_decision(
    coordinator_wuwei, mdt_member
):
    assert reports.median_days_to_decision() is None
    for number, wait in enumerate((3, 10, 4), start=1):
        referral = create_referral(user=coordinator_wuwei, number=number)
        decision = services.mdt_decision_record(
            referral=referral, user=mdt_member, decision="approve", rationale="Fit."
        )
        met_on = referral.referral_date + datetime.timedelta(days=wait)
        MdtDecision.objects.filter(pk=decision.pk).update(meeting_date=met_on)

    assert reports.median_days_to_decision() == 4


def test_dashboard_shows_accrual_and_days_to_decision(client_as, coordinator_wuwei, mdt_member):
    _enrolled_on([timezone.localdate()], coordinator_wuwei, mdt_member)
    decision = MdtDecision.objects.get()
    referred = decision.referral.referral_date
    MdtDecision.objects.update(meeting_date=referred + datetime.timedelta(days=6))
    protocol = ProtocolVersion.current()
    today = timezone.localdate()
    expected = int(reports.expected_by(protocol, today))
    client = client_as("data_manager")

    html = " ".join(client.get("/").content.decode().split())

    assert (
        f"1 enrolled by {today.isoformat()}; the straight line to 32 by 2029-05-31 expects "
        f"{expected} by now."
    ) in html
    assert '<svg class="accrual-chart"' in html
    assert 'class="accrual-cumulative"' in html and 'class="accrual-target"' in html
    assert 'data-testid="median-days-to-decision">6<' in html


def test_dashboard_before_any_decision(client_as):
    client = client_as("coordinator_wuwei")
    html = client.get("/").content.decode()
    assert "No MDT decision yet." in html
    assert "0 enrolled by" in html
