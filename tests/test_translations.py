"""The Simplified Chinese catalogue: complete, current with the sources, compiled, and used.

The interface is used in Chinese every day, so an English string left in the catalogue is a
defect a user sees. After changing any user-visible text run ``make messages``, translate the
new entries in locale/zh_Hans/LC_MESSAGES/django.po and commit the .po and the .mo.
"""

import ast
import csv
import datetime
import gettext
import io
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from screening import rules
from screening.models import TRI_STATE_FIELDS
from tests.factories import create_referral
from tests.pages import find, find_all, text

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
# Everything makemessages reads; vendored libraries and generated files are left out.
SOURCES = ("manage.py", "trialscreen", "screening", "templates", "static/js")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_0-9]*(?::[^}]*)?\}")


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file as dicts: ctx, id, plural, strs (index -> text), fuzzy.

    Obsolete (``#~``) entries and the header are left out.
    """
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = {"ctx": None, "id": None, "plural": None, "strs": {}, "fuzzy": False}
        field = None
        for line in block.splitlines():
            if line.startswith("#,") and "fuzzy" in line:
                entry["fuzzy"] = True
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                text = ast.literal_eval(line)
                if isinstance(field, int):
                    entry["strs"][field] += text
                else:
                    entry[field] += text
            else:
                keyword, _, quoted = line.partition(" ")
                text = ast.literal_eval(quoted)
                field = {"msgctxt": "ctx", "msgid": "id", "msgid_plural": "plural"}.get(keyword)
                if field is None:  # msgstr or msgstr[n]
                    field = int(keyword[7:-1]) if "[" in keyword else 0
                    entry["strs"][field] = text
                else:
                    entry[field] = text
        if entry["id"]:
            entries.append(entry)
    return entries


def msgids(entries: list[dict]) -> set[tuple]:
    return {(e["ctx"], e["id"], e["plural"]) for e in entries}


@pytest.fixture(scope="module")
def entries():
    return read_po(CATALOGUE / "django.po")


def test_every_entry_is_translated_and_none_is_fuzzy(entries):
    untranslated = [e["id"] for e in entries if not all(e["strs"].values()) or e["fuzzy"]]
    assert len(entries) > 400
    assert untranslated == [], "untranslated or fuzzy entries in django.po"


def test_translations_keep_every_placeholder(entries):
    """A dropped or misspelled placeholder raises at render time or loses a value."""
    broken = [
        (e["id"], text)
        for e in entries
        for text in e["strs"].values()
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(e["plural"] or e["id"]))
    ]
    assert broken == []


def test_catalogue_holds_exactly_the_strings_of_the_sources(tmp_path, entries):
    """makemessages on a copy of the sources finds the same msgids as the committed .po."""
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale").mkdir()
    env = {
        **os.environ,
        "SECRET_KEY": "test-only-not-secret",
        # makemessages needs no database; a URL keeps settings from starting the embedded one.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/unused",
    }
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale=zh_Hans", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = msgids(read_po(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    committed = msgids(entries)
    assert sorted(fresh - committed, key=str) == [], "new strings: run make messages"
    assert sorted(committed - fresh, key=str) == [], "strings no longer in the sources"


def test_compiled_catalogue_matches_the_po(entries):
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = []
    for e in entries:
        if e["plural"]:
            found = (
                compiled.npgettext(e["ctx"], e["id"], e["plural"], 1)
                if e["ctx"]
                else (compiled.ngettext(e["id"], e["plural"], 1))
            )
        elif e["ctx"]:
            found = compiled.pgettext(e["ctx"], e["id"])
        else:
            found = compiled.gettext(e["id"])
        if found != e["strs"][0]:
            stale.append(e["id"])
    assert stale == [], "django.mo is older than django.po: run make messages"


# The cardiopulmonary and exclusion answers: every yes/no question but pathology and prior
# treatment.
SAFETY_ANSWERS = TRI_STATE_FIELDS[TRI_STATE_FIELDS.index("cardiac_event_within_6_months") :]


def test_criteria_and_reasons_read_in_chinese():
    evaluation = rules.evaluate(rules.Snapshot(ecog=2))
    with translation.override("zh-hans"):
        assert rules.criterion_text("I1", rules.DEFAULT_LIMITS) == "年龄 18–70 岁（含）"
        assert evaluation.result("I6").reason == "ECOG 评分 2，高于 1"
        assert evaluation.result("I1").reason == "缺少：出生日期、筛选日期"
    with translation.override("en"):
        assert evaluation.result("I6").reason == "ECOG 2 is above 1"


# Snapshots between them giving every criterion its pass, fail and unknown reasons.
REASON_SNAPSHOTS = (
    rules.Snapshot(),
    rules.Snapshot(
        sex="F",
        date_of_birth=datetime.date(1960, 1, 1),
        screening_date=datetime.date(2026, 3, 1),
        labs_date=datetime.date(2026, 2, 20),
        pathology_confirmed="no",
        ct="T2",
        cn="N0",
        cm="M1",
        prior_esophageal_radiotherapy="yes",
        prior_esophageal_surgery="yes",
        alt=Decimal(200),
        ast=Decimal(200),
        total_bilirubin=Decimal(40),
        creatinine=Decimal(200),
        creatinine_clearance=Decimal(40),
        wbc=Decimal(2),
        anc=Decimal(1),
        platelets=Decimal(50),
        hemoglobin=Decimal(70),
        ecog=3,
        lvef_percent=Decimal(40),
        fev1_litres=Decimal(1),
        dosimetry_status="not_feasible",
        lung_v20_percent=Decimal(30),
        lung_mean_dose_gy=Decimal(25),
        heart_v30_percent=Decimal(50),
        spinal_cord_max_gy=Decimal(50),
        **dict.fromkeys(SAFETY_ANSWERS, "yes"),
    ),
    rules.Snapshot(
        sex="M",
        date_of_birth=datetime.date(1960, 1, 1),
        screening_date=datetime.date(2026, 3, 1),
        labs_date=datetime.date(2026, 1, 1),
        pathology_confirmed="yes",
        ct="TX",
        cn="NX",
        cm="M0",
        prior_esophageal_radiotherapy="no",
        prior_esophageal_surgery="no",
        ecog=1,
        dosimetry_status="feasible",
        **dict.fromkeys(("cardiac_event_within_6_months", "fistula_or_perforation"), "no"),
    ),
    rules.Snapshot(
        date_of_birth=datetime.date(2010, 1, 1),
        screening_date=datetime.date(2026, 3, 1),
        labs_date=datetime.date(2026, 3, 2),
        ct="T3",
        cn="N1",
        cm="M0",
        lung_v20_percent=Decimal(20),
    ),
    rules.Snapshot(
        date_of_birth=datetime.date(1980, 1, 1),
        screening_date=datetime.date(2026, 3, 1),
        labs_date=datetime.date(2026, 2, 27),
        ct="T0",
        alt=Decimal(30),
        ast=Decimal(30),
        total_bilirubin=Decimal(10),
        creatinine=Decimal(200),
        creatinine_clearance=Decimal(80),
        wbc=Decimal(6),
        anc=Decimal(3),
        platelets=Decimal(200),
        hemoglobin=Decimal(130),
        ecog=0,
        lung_v20_percent=Decimal(20),
        lung_mean_dose_gy=Decimal(10),
        heart_v30_percent=Decimal(20),
        spinal_cord_max_gy=Decimal(30),
        **dict.fromkeys(set(SAFETY_ANSWERS) - {"pregnant_or_breastfeeding"}, "no"),
    ),
)
# Latin script a Chinese clinician writes too: codes, units and lab abbreviations.
LATIN_IN_CHINESE = re.compile(
    r"ECOG|LVEF|FEV1|ALT|AST|WBC|ANC|ICD|MDT|RBE|Gy|U/L|umol/L|mL/min|g/L|x10\^9/L|\bL\b"
    r"|\bc?(?:T(?:is|X|[0-4][ab]?)|N[X0-3]|M[01])+\b|\bc[TNM]\b|\bV[23]0\b"
)


def test_every_reason_reads_in_chinese():
    """Each part of a multi-part reason is translated on its own, so each must be a msgid."""
    templates = set()
    leftovers = {}
    with translation.override("zh-hans"):
        for snapshot in REASON_SNAPSHOTS:
            for result in rules.evaluate(snapshot).results:
                templates.add(result.template)
                latin = re.findall(r"[A-Za-z]{2,}", LATIN_IN_CHINESE.sub(" ", result.reason))
                if latin:
                    leftovers[result.template] = latin
    assert len(templates) > 30
    assert leftovers == {}


@pytest.fixture
def language_restored():
    """A request leaves its language active in this thread (LocaleMiddleware never resets it);
    put English back so that tests after this one are not run in Chinese."""
    with translation.override("en"):
        yield


def test_language_choice_is_remembered(client_as, language_restored):
    client = client_as("coordinator_wuwei")
    assert "Dashboard" in client.get("/").content.decode()

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/referrals/"})

    assert response.status_code == 302
    assert response["Location"] == "/referrals/"
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "首页" in page and "Dashboard" not in page


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_downloads_have_chinese_headers_for_a_reader_in_chinese(client_as, language_restored):
    create_referral()
    client = client_as("data_manager")
    english = client.get(reverse("export_screening_log_csv"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = client.get(reverse("export_screening_log_csv"))
    workbook = client.get(reverse("export_enrolment_xlsx"))

    english_rows = read_csv(english)
    chinese_rows = read_csv(chinese)
    assert english_rows[0][:4] == ["screening_number", "site", "referral_date", "screening_date"]
    assert chinese_rows[0][:4] == ["筛选编号", "中心", "转诊日期", "筛选日期"]
    assert chinese_rows[0][13:25] == list(rules.CODES)
    assert len(chinese_rows[0]) == len(english_rows[0])
    assert chinese_rows[1][0] == english_rows[1][0]  # the values themselves stay codes
    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content))).active
    assert [cell.value for cell in sheet[1]][:3] == ["研究编号", "筛选编号", "中心"]


def test_the_sign_in_page_offers_the_language_choice_and_keeps_next(client, language_restored):
    sign_in = reverse("login") + "?next=/referrals/"

    page = client.get(sign_in).content.decode()

    find(page, "form", action=reverse("set_language"))
    # The language form's, then the sign-in form's.
    nexts = [dict(field.attributes)["value"] for field in find_all(page, "input", name="next")]
    assert nexts == [sign_in, "/referrals/"]
    options = find_all(page, "option")
    assert [text(option) for option in options] == ["English", "简体中文"]
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": sign_in})
    assert response.status_code == 302
    assert response["Location"] == sign_in
    chinese = client.get(response["Location"]).content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert 'name="next" value="/referrals/"' in chinese
    assert text(find(chinese, "h1")) == "登录"


def test_the_server_error_page_offers_no_language_form_it_could_not_send():
    """Rendered without a request, it would have no CSRF token: the choice waits for a page
    that works."""
    page = render_to_string("500.html")
    assert reverse("set_language") not in page


def test_lists_in_templates_join_the_language_s_way():
    names = Template("{% load lists %}{{ items|join_items }} / {{ items|join_words }}")
    reasons = Template("{% load lists %}{{ items|join_clauses }}")
    context = Context({"items": ["ALT", "AST", "WBC"]})
    with translation.override("en"):
        assert names.render(context) == "ALT, AST, WBC / ALT, AST and WBC"
        assert reasons.render(context) == "ALT; AST; WBC"
    with translation.override("zh-hans"):
        assert names.render(context) == "ALT、AST、WBC / ALT、AST 和 WBC"
        assert reasons.render(context) == "ALT；AST；WBC"
