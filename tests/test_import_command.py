import json

import pytest
from django.core.management import call_command

from screening.models import Referral
from tests.factories import referral_data

pytestmark = pytest.mark.django_db


def write_json(tmp_path, rows, name="referrals.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def test_valid_file_imports_and_evaluates(tmp_path, capsys):
    path = write_json(
        tmp_path, [referral_data(number=1), referral_data(number=2, ct="T1", cn="N0")]
    )

    call_command("import_referrals", str(path))

    assert "imported 2 referral(s): ineligible 1, potentially_eligible 1" in capsys.readouterr().out
    assert Referral.objects.count() == 2
