"""The access helpers: who sees which referral and who may change it.

What each page answers each role is the access sweep's (test_access_sweep.py).
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from screening import access
from screening.models import Site
from tests.factories import UserFactory, create_referral


@pytest.fixture
def lanzhou_referral(db):
    return create_referral(site="lanzhou", number=2)


def test_a_coordinator_gets_a_referral_of_their_site(coordinator_wuwei, wuwei_referral):
    number = wuwei_referral.screening_number
    for action in (access.VIEW, access.EDIT):
        found = access.referral_for_user(coordinator_wuwei, number, action=action)
        assert found == wuwei_referral


def test_another_sites_referral_is_not_found_for_a_coordinator(coordinator_lanzhou, wuwei_referral):
    for action in (access.VIEW, access.EDIT):
        with pytest.raises(Http404):
            access.referral_for_user(
                coordinator_lanzhou, wuwei_referral.screening_number, action=action
            )


def test_an_mdt_member_reads_every_site_but_may_not_edit(
    mdt_member, wuwei_referral, lanzhou_referral
):
    for referral in (wuwei_referral, lanzhou_referral):
        assert access.referral_for_user(mdt_member, referral.screening_number) == referral
        with pytest.raises(PermissionDenied):
            access.referral_for_user(mdt_member, referral.screening_number, action=access.EDIT)


def test_a_data_manager_reads_and_edits_every_site(data_manager, wuwei_referral, lanzhou_referral):
    for referral in (wuwei_referral, lanzhou_referral):
        found = access.referral_for_user(
            data_manager, referral.screening_number, action=access.EDIT
        )
        assert found == referral


def test_a_user_without_a_role_sees_nothing(db, wuwei_referral):
    nobody = UserFactory(username="no-role")
    with pytest.raises(Http404):
        access.referral_for_user(nobody, wuwei_referral.screening_number)
    assert not access.referrals_for_user(nobody).exists()
    assert not access.may_create_referral(nobody)


def test_an_unknown_screening_number_is_not_found(data_manager):
    with pytest.raises(Http404):
        access.referral_for_user(data_manager, "S-99999")


def test_an_unknown_action_is_a_programming_error(data_manager, wuwei_referral):
    with pytest.raises(ValueError, match="unknown action"):
        access.referral_for_user(data_manager, wuwei_referral.screening_number, action="delete")


def test_a_coordinator_bound_to_both_sites_sees_both(db, wuwei_referral, lanzhou_referral):
    both = UserFactory(username="both", role="coordinator", site_codes=["wuwei", "lanzhou"])
    assert set(access.referrals_for_user(both)) == {wuwei_referral, lanzhou_referral}
    assert access.may_edit_referral(both, lanzhou_referral)


def test_referral_scope_per_role(cast, wuwei_referral, lanzhou_referral):
    def numbers(user):
        return set(access.referrals_for_user(user).values_list("screening_number", flat=True))

    everything = {wuwei_referral.screening_number, lanzhou_referral.screening_number}
    assert numbers(cast["coordinator_wuwei"]) == {wuwei_referral.screening_number}
    assert numbers(cast["coordinator_lanzhou"]) == {lanzhou_referral.screening_number}
    assert numbers(cast["mdt"]) == everything
    assert numbers(cast["data_manager"]) == everything


def test_sites_a_user_may_enter_referrals_for(cast):
    def codes(user):
        return set(access.editable_sites(user).values_list("code", flat=True))

    assert codes(cast["coordinator_wuwei"]) == {"wuwei"}
    assert codes(cast["coordinator_lanzhou"]) == {"lanzhou"}
    assert codes(cast["mdt"]) == set()
    assert codes(cast["data_manager"]) == {"wuwei", "lanzhou"}
    assert [access.may_create_referral(cast[name]) for name in ("mdt", "data_manager")] == [
        False,
        True,
    ]


def test_a_request_reads_the_roles_and_sites_with_the_user(client_as, coordinator_wuwei):
    """The signed-in user comes with its roles and sites in one query; a change to either
    counts from the next request."""
    client = client_as("coordinator_wuwei")
    assert client.get(reverse("referral_create")).status_code == 200
    coordinator_wuwei.sites.clear()
    assert client.get(reverse("referral_create")).status_code == 403
    coordinator_wuwei.sites.set(Site.objects.filter(code="lanzhou"))
    assert client.get(reverse("referral_create")).status_code == 200
    coordinator_wuwei.groups.clear()
    assert client.get(reverse("referral_create")).status_code == 403


def test_the_user_with_roles_is_the_user_with_its_groups_and_sites(cast):
    for user in cast.values():
        if user is None:
            continue
        found = access.user_with_roles(user.pk)
        assert found == user
        assert access.roles_of(found) == {group.name for group in user.groups.all()}
        assert access.visible_site_ids(found) == access.visible_site_ids(
            get_user_model().objects.get(pk=user.pk)
        )
    assert access.user_with_roles(0) is None
