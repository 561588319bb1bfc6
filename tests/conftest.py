"""The fixed cast of the permission tests (STYLE.md lesson 7) and shared fixtures."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def coordinator_wuwei(db):
    return UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])


@pytest.fixture
def coordinator_lanzhou(db):
    return UserFactory(username="coord-lanzhou", role="coordinator", site_codes=["lanzhou"])


@pytest.fixture
def mdt_member(db):
    return UserFactory(username="mdt-member", role="mdt")


@pytest.fixture
def data_manager(db):
    return UserFactory(username="data-manager", role="admin")


@pytest.fixture
def cast(coordinator_wuwei, coordinator_lanzhou, mdt_member, data_manager):
    """Every signed-in role by name; anonymous is ``None``."""
    return {
        "anonymous": None,
        "coordinator_wuwei": coordinator_wuwei,
        "coordinator_lanzhou": coordinator_lanzhou,
        "mdt": mdt_member,
        "data_manager": data_manager,
    }
