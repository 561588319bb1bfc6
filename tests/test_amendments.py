"""Protocol amendments: a new version re-evaluates open referrals and says whose
outcome changed; in the admin, prefilled from the version in force, which stays unchanged."""

import datetime
import re

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from screening import amendments, consort, services
from screening.models import ProtocolVersion, Referral
from tests.factories import create_referral
from tests.flows import approve, enrol
from tests.pages import find_all, text

pytestmark = pytest.mark.django_db

Outcome = Referral.Outcome


def amendment(**changes) -> dict:
    """The version in force as an amendment's fields, with ``changes``."""
    current = ProtocolVersion.current()
    fields = {name: getattr(current, name) for name in amendments.AMENDABLE_FIELDS}
    return {**fields, "note": "Amendment 1", **changes}


@pytest.fixture
def ages(coordinator_wuwei, mdt_member):
    """Referrals by name: the age limit decides some, other criteria others."""

    def patient(number, age, **overrides):
        return create_referral(user=coordinator_wuwei, number=number, age=age, **overrides)

    referrals = {
        "69": patient(1, 69),
        "72": patient(2, 72),
        "74": patient(3, 74),
        "76": patient(4, 76),
        "72 metastatic": patient(5, 72, cm="M1"),
        "72 withdrawn": patient(6, 72),
        "62 approved": patient(7, 62),
        "62 enrolled": patient(8, 62),
    }
    services.referral_withdraw(
        code="other", referral=referrals["72 withdrawn"], reason="moved", user=None
    )
    approve(referrals["62 approved"], mdt_member)
    approve(referrals["62 enrolled"], mdt_member)
    enrol(referrals["62 enrolled"], coordinator_wuwei)
    return referrals


def outcomes(referrals) -> dict:
    fresh = Referral.objects.in_bulk([r.pk for r in referrals.values()])
    return {name: fresh[r.pk].outcome for name, r in referrals.items()}


def test_raising_the_age_limit_changes_exactly_the_patients_it_lets_in(ages, data_manager):
    before = outcomes(ages)

    protocol, changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=75))

    after = outcomes(ages)
    changed = {name for name in ages if before[name] != after[name]}
    assert changed == {"72", "74"}
    assert after["72"] == after["74"] == Outcome.POTENTIALLY_ELIGIBLE
    assert changes == [
        amendments.OutcomeChange(
            ages[name].screening_number, "wuwei", Outcome.INELIGIBLE, Outcome.POTENTIALLY_ELIGIBLE
        )
        for name in ("72", "74")
    ]
    assert protocol.version == 2
    assert protocol.created_by == data_manager


def test_let_in_patients_join_the_mdt_queue_and_decisions_stand(ages, data_manager):
    amendments.protocol_amend(user=data_manager, **amendment(age_max=75))

    statuses = dict(Referral.objects.values_list("screening_number", "status"))
    assert statuses[ages["72"].screening_number] == Referral.Status.MDT_REVIEW
    assert statuses[ages["76"].screening_number] == Referral.Status.SCREEN_FAILED
    # The approval saw the same data and outcome: it stands.
    approved = ages["62 approved"]
    assert statuses[approved.screening_number] == Referral.Status.MDT_APPROVED
    assert approved.decisions.get().superseded_at is None


def test_open_referrals_get_a_new_evaluation_and_old_ones_keep_their_version(ages, data_manager):
    first = {name: r.evaluation_id for name, r in ages.items()}

    protocol, _changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=75))

    for name, referral in ages.items():
        referral.refresh_from_db()
        closed = name in ("72 withdrawn", "62 enrolled")
        assert (referral.evaluation_id == first[name]) == closed, name
        assert referral.evaluation.protocol_version.version == (1 if closed else 2), name
        assert referral.evaluations.filter(protocol_version__version=1).count() == 1


def test_lowering_the_age_limit_supersedes_an_approval_it_contradicts(ages, data_manager):
    _protocol, changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=60))

    approved = Referral.objects.get(pk=ages["62 approved"].pk)
    assert approved.status == Referral.Status.SCREEN_FAILED
    assert approved.decisions.get().superseded_at is not None
    # The enrolled participant is not re-evaluated, so not reported.
    assert [change.screening_number for change in changes] == [
        ages["69"].screening_number,
        approved.screening_number,
    ]


def test_later_edits_under_the_new_version_are_not_part_of_its_changes(
    ages, data_manager, coordinator_wuwei
):
    protocol, changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=75))
    referral = Referral.objects.get(pk=ages["69"].pk)
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"cm": "M1"},
        user=coordinator_wuwei,
    )
    create_referral(number=20, age=74)

    assert amendments.protocol_outcome_changes(protocol=protocol) == changes


def test_versions_are_numbered_in_turn(ages, data_manager):
    amendments.protocol_amend(user=data_manager, **amendment(age_max=75))
    third, changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=75))

    assert third.version == 3
    assert ProtocolVersion.current() == third
    assert changes == []


def test_target_below_the_enrolled_count_is_refused(ages, data_manager):
    with pytest.raises(services.WorkflowError, match="1 already enrolled"):
        amendments.protocol_amend(user=data_manager, **amendment(enrolment_target=0))
    assert ProtocolVersion.objects.count() == 1


def test_the_amendment_is_audited_with_its_author(ages, data_manager):
    protocol, _changes = amendments.protocol_amend(user=data_manager, **amendment(age_max=75))

    event = protocol.events.get()
    assert event.pgh_context.metadata["user"] == data_manager.pk


# The admin ---------------------------------------------------------------------------------


def posted(fields: dict) -> dict:
    return {
        name: value.isoformat() if isinstance(value, datetime.date) else str(value)
        for name, value in fields.items()
    }


@pytest.fixture
def admin_client(client_as):
    return client_as("data_manager")


ADD_URL = reverse("admin:screening_protocolversion_add")


def test_add_form_is_prefilled_from_the_version_in_force(admin_client):
    ProtocolVersion.objects.filter(version=1).update(age_max=71, enrolment_target=30)

    page = admin_client.get(ADD_URL).content.decode()

    assert re.search(r'name="age_max" value="71"', page)
    assert re.search(r'name="enrolment_target" value="30"', page)
    assert 'name="version"' not in page
    assert "re-evaluates every referral" in page
    assert 'name="_preview"' in page
    assert 'name="_save"' not in page


def row_counts() -> dict[str, int]:
    """Rows of every table the application and its audit trail write, by model."""
    models = [
        model
        for model in apps.get_models()
        if model._meta.app_label in ("screening", "pghistory") and model._meta.managed
    ]
    return {model._meta.label: model.objects.count() for model in models}


def preview(client, fields: dict):
    return client.post(ADD_URL, posted(fields))


def preview_form(previewed) -> dict:
    """What the preview page's form posts when "Adopt amendment" is pressed."""
    form = find_all(previewed.content.decode(), "form", method="post")[-1]
    inputs = [dict(element.attributes) for element in find_all(str(form), "input")]
    return {attrs["name"]: attrs.get("value", "") for attrs in inputs}


def adopt(client, previewed):
    return client.post(ADD_URL, preview_form(previewed), follow=True)


def test_preview_writes_nothing_and_lists_exactly_whose_outcome_would_change(ages, admin_client):
    before = row_counts()

    response = preview(admin_client, amendment(age_max=60, effective_date=timezone.localdate()))

    assert response.status_code == 200
    assert row_counts() == before
    assert ProtocolVersion.objects.count() == 1
    changes = response.context["preview"].changes
    assert [(c.screening_number, c.old_outcome, c.new_outcome) for c in changes] == [
        (ages["69"].screening_number, Outcome.POTENTIALLY_ELIGIBLE, Outcome.INELIGIBLE),
        (ages["62 approved"].screening_number, Outcome.POTENTIALLY_ELIGIBLE, Outcome.INELIGIBLE),
    ]
    # The approval would be superseded: the status changes too.
    assert [(c.old_status, c.new_status) for c in changes] == [
        (Referral.Status.MDT_REVIEW, Referral.Status.SCREEN_FAILED),
        (Referral.Status.MDT_APPROVED, Referral.Status.SCREEN_FAILED),
    ]
    page = response.content.decode()
    table = text(find_all(page, "table", id="outcome-changes")[0])
    assert "2 referrals would change outcome" in table
    assert "Potentially eligible → Ineligible" in table
    assert "MDT approved → Screen failed" in table
    assert "Nothing has been adopted yet." in page


def test_preview_shows_the_consort_counts_before_and_after(ages, admin_client):
    response = preview(admin_client, amendment(age_max=75))

    page = response.content.decode()
    table = str(find_all(page, "table", id="consort-before-after")[0])
    rows = {
        text(find_all(str(row), "th")[0]): [text(cell) for cell in find_all(str(row), "td")]
        for row in find_all(table, "tr")[1:]
    }
    # 72 and 74 would be let in; 76, the metastatic 72 and the withdrawn 72 stay out.
    assert rows["Referred and assessed"] == ["8", "8"]
    assert rows["Excluded: ineligible"] == ["5", "3"]
    assert rows["I1 age"] == ["5", "2"]
    assert rows["Awaiting an MDT decision"] == ["1", "3"]
    assert rows["Enrolled"] == ["1", "1"]
    after = response.context["preview"].after
    # Adopting makes the counts the preview announced.
    adopt(admin_client, response)
    assert consort.consort_report().overall == after


def test_adopting_the_preview_makes_exactly_the_changes_it_listed(ages, admin_client):
    previewed = preview(admin_client, amendment(age_max=75, effective_date=timezone.localdate()))
    listed = [
        (c.screening_number, c.old_outcome, c.new_outcome)
        for c in previewed.context["preview"].changes
    ]

    response = adopt(admin_client, previewed)

    protocol = ProtocolVersion.current()
    assert protocol.version == 2
    assert protocol.age_max == 75
    made = amendments.protocol_outcome_changes(protocol=protocol)
    assert [(c.screening_number, c.old_outcome, c.new_outcome) for c in made] == listed
    assert len(listed) == 2
    statuses = dict(Referral.objects.values_list("screening_number", "status"))
    assert {statuses[c.screening_number] for c in previewed.context["preview"].changes} == {
        Referral.Status.MDT_REVIEW
    }
    assert response.redirect_chain[-1][0] == reverse(
        "admin:screening_protocolversion_outcome_changes", args=[protocol.pk]
    )


def test_a_value_changed_after_the_preview_is_previewed_again(ages, admin_client):
    previewed = preview(admin_client, amendment(age_max=75))
    data = preview_form(previewed)
    data["age_max"] = "80"

    response = admin_client.post(ADD_URL, data)

    assert ProtocolVersion.objects.count() == 1
    assert "differ from the ones previewed" in response.content.decode()
    assert [c.screening_number for c in response.context["preview"].changes] == [
        ages[name].screening_number for name in ("72", "74", "76")
    ]


def test_adopting_without_a_preview_only_previews(ages, admin_client):
    response = admin_client.post(ADD_URL, {**posted(amendment(age_max=75)), "_adopt": "1"})

    assert response.status_code == 200
    assert ProtocolVersion.objects.count() == 1


def test_change_the_values_returns_to_the_form_with_them(ages, admin_client):
    previewed = preview(admin_client, amendment(age_max=75, note="Older patients"))
    link = next(
        dict(a.attributes)["href"]
        for a in find_all(previewed.content.decode(), "a")
        if text(a) == "Change the values"
    )

    page = admin_client.get(link).content.decode()

    assert re.search(r'name="age_max" value="75"', page)
    assert "Older patients" in page


def test_saving_in_the_admin_shows_whose_outcome_changed(ages, admin_client):
    response = adopt(
        admin_client,
        preview(admin_client, amendment(age_max=75, effective_date=timezone.localdate())),
    )

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:screening_protocolversion_outcome_changes",
        args=[ProtocolVersion.current().pk],
    )
    assert "Protocol version 2 adopted: 2 referrals changed outcome." in page
    listed = re.findall(r"<th scope=\"row\"><a [^>]*>(S-\d+)</a></th>", page)
    assert listed == [ages["72"].screening_number, ages["74"].screening_number]
    assert page.count("Potentially eligible") == 2
    assert ProtocolVersion.current().age_max == 75


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"study_number_format": "EC"}, "study_number_format", "put the number"),
        ({"study_number_format": "EC-{:03d}-{}"}, "study_number_format", "one number"),
        ({"age_min": 40, "age_max": 30}, "age_max", "below the minimum"),
        ({"effective_date": datetime.date(2025, 1, 1)}, "effective_date", "took effect"),
        ({"accrual_end": datetime.date(2025, 1, 1)}, "accrual_end", "close after"),
    ],
)
def test_admin_explains_what_is_wrong(admin_client, changes, field, message):
    response = admin_client.post(ADD_URL, posted(amendment(**changes)))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert ProtocolVersion.objects.count() == 1


def test_a_version_in_force_cannot_be_changed_or_deleted(admin_client):
    version = ProtocolVersion.current()
    change_url = reverse("admin:screening_protocolversion_change", args=[version.pk])

    page = admin_client.get(change_url)
    posted_change = admin_client.post(change_url, posted(amendment(age_max=99)))
    deleted = admin_client.post(
        reverse("admin:screening_protocolversion_delete", args=[version.pk]), {"post": "yes"}
    )

    assert page.status_code == 200
    assert 'type="submit"' not in page.content.decode().split('id="content-main"')[1]
    assert posted_change.status_code == 403
    assert deleted.status_code == 403
    assert ProtocolVersion.objects.get().age_max == 70


@pytest.mark.parametrize(
    "model", ["referral", "evaluation", "mdtdecision", "enrolment", "exportlog", "site"]
)
def test_trial_data_is_listed_read_only(ages, admin_client, model):
    changelist = admin_client.get(reverse(f"admin:screening_{model}_changelist"))
    add = admin_client.get(reverse(f"admin:screening_{model}_add"))

    assert changelist.status_code == 200
    assert add.status_code == 403


def test_referral_cannot_be_edited_through_the_admin(ages, admin_client):
    referral = ages["69"]
    url = reverse("admin:screening_referral_change", args=[referral.pk])

    response = admin_client.post(url, {"full_name": "Changed", "status": "enrolled"})

    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.full_name != "Changed"


def test_a_note_sent_back_with_other_line_ends_is_the_note_previewed(ages, admin_client):
    previewed = preview(admin_client, amendment(age_max=75, note="Amendment 1:\r\nages"))
    data = preview_form(previewed)
    data["note"] = data["note"].replace("\r\n", "\n")

    admin_client.post(ADD_URL, data)

    assert ProtocolVersion.current().version == 2
