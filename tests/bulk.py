"""Many referrals fast, for query-count tests: validated once, created in one batch."""

from screening import services
from screening.imports import validate_rows
from screening.models import ProtocolVersion
from tests.factories import referral_data


def bulk_referrals(count, *, site="wuwei", first=0, **overrides):
    """``count`` copies of ``referral_data(site=site, **overrides)`` with hospital numbers
    ``<site>-<first>`` onwards, validated once and created with ``services.referrals_create``."""
    cleaned, errors = validate_rows(
        [referral_data(site=site, **overrides)], protocol=ProtocolVersion.current()
    )
    assert not errors, errors
    rows = [{**cleaned[0], "hospital_number": f"{site}-{n}"} for n in range(first, first + count)]
    return services.referrals_create(rows=rows)
