import dataclasses
import datetime
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from screening import rules
from screening.rules import (
    CODES,
    CRITERIA,
    DEFAULT_LIMITS,
    Outcome,
    Result,
    Snapshot,
    age_at,
    criterion_text,
    evaluate,
    labs_are_fresh,
)
from screening.units import LAB_KEYS, to_si

D = Decimal
PASS, FAIL, UNKNOWN = Result.PASS, Result.FAIL, Result.UNKNOWN
SCREENING = datetime.date(2026, 11, 3)

# A referral that passes all twelve criteria; each test changes only what it is about.
ELIGIBLE = Snapshot(
    sex="M",
    date_of_birth=datetime.date(1958, 4, 21),
    screening_date=SCREENING,
    pathology_confirmed="yes",
    histology="squamous_cell_carcinoma",
    ct="T3",
    cn="N1",
    cm="M0",
    prior_esophageal_radiotherapy="no",
    prior_esophageal_surgery="no",
    labs_date=datetime.date(2026, 10, 30),
    alt=D(30),
    ast=D(28),
    total_bilirubin=D(12),
    creatinine=D(80),
    creatinine_clearance=None,
    wbc=D("6.0"),
    anc=D("3.5"),
    platelets=D(220),
    hemoglobin=D(130),
    ecog=1,
    lvef_percent=D(60),
    fev1_litres=D("2.1"),
    cardiac_event_within_6_months="no",
    uncontrolled_arrhythmia="no",
    interstitial_lung_disease="no",
    dosimetry_status="feasible",
    fistula_or_perforation="no",
    deep_ulceration="no",
    perforation_risk_other="no",
    abdominal_lymph_node_metastasis="no",
    cardiac_implantable_device="no",
    metal_implant_in_treatment_region="no",
    pregnant_or_breastfeeding=None,
    active_connective_tissue_disease="no",
    prior_thoracic_radiotherapy_overlap="no",
    other_absolute_rt_contraindication="no",
)


def judge(code, limits=DEFAULT_LIMITS, **changes):
    """The result of one criterion for the eligible referral with ``changes``."""
    return evaluate(dataclasses.replace(ELIGIBLE, **changes), limits).result(code)


def test_the_eligible_referral_passes_everything():
    evaluation = evaluate(ELIGIBLE)
    assert [r.result for r in evaluation.results] == [PASS] * 12
    assert evaluation.outcome == Outcome.POTENTIALLY_ELIGIBLE
    assert evaluation.todo == ()
    assert evaluation.deferred is None


def test_criteria_are_the_twelve_of_the_announcement_in_order():
    assert CODES == ("I1", "I2", "I3", "I4", "I5", "I6", "E1", "E2", "E3", "E4", "E5", "E6")
    assert [c.code for c in CRITERIA] == list(CODES)
    assert criterion_text("I1", DEFAULT_LIMITS) == "Age 18–70 years (inclusive)"
    assert "cT1-4N0-3M0 (excluding cT1-2N0M0)" in criterion_text("I2", DEFAULT_LIMITS)
    evaluation = evaluate(ELIGIBLE)
    assert tuple(r.code for r in evaluation.results) == CODES
    assert all(evaluation.result(code).code == code for code in CODES)


def test_limits_defaults_are_the_protocol_defaults():
    assert dataclasses.asdict(DEFAULT_LIMITS) == {
        "age_min": 18,
        "age_max": 70,
        "alt_max": 100,
        "ast_max": 100,
        "total_bilirubin_max": D("31.5"),
        "creatinine_max": 156,
        "creatinine_clearance_min": 60,
        "wbc_min": D("4.0"),
        "anc_min": D("1.5"),
        "platelets_min": 100,
        "hemoglobin_min": 90,
        "ecog_max": 1,
        "lvef_min": 50,
        "fev1_min": D("1.2"),
        "labs_max_age_days": 28,
        "lung_v20_max": 25,
        "lung_mean_dose_max": 20,
        "heart_v30_max": 40,
        "spinal_cord_max": 45,
    }


# --- criterion texts -----------------------------------------------------------------------

# As a ProtocolVersion stores them: two decimals.
AMENDED_LIMITS = dataclasses.replace(
    DEFAULT_LIMITS,
    age_max=75,
    alt_max=D("120.00"),
    ast_max=D("120.00"),
    total_bilirubin_max=D("34.20"),
    creatinine_clearance_min=D("50.00"),
    platelets_min=D("75.00"),
    labs_max_age_days=21,
    spinal_cord_max=D("50.00"),
)

TEXTS_AT_DEFAULT_LIMITS = {
    "I1": "Age 18–70 years (inclusive)",
    "I2": "Meets AJCC 8th edition staging criteria: cT1-4N0-3M0 (excluding cT1-2N0M0)",
    "I3": "No prior radical radiotherapy or surgery for esophageal cancer",
    "I4": "Normal liver and kidney function: ALT and AST ≤ 100 U/L, total bilirubin ≤ 31.5 "
    "µmol/L, creatinine ≤ 156 µmol/L or clearance ≥ 60 mL/min; labs within 28 days",
    "I5": "Normal bone marrow function: WBC ≥ 4 ×10⁹/L, ANC ≥ 1.5 ×10⁹/L, platelets ≥ 100 "
    "×10⁹/L, hemoglobin ≥ 90 g/L; labs within 28 days",
    "I6": "Cardiopulmonary function sufficient to tolerate radiotherapy: ECOG ≤ 1; LVEF ≥ 50% "
    "and FEV1 ≥ 1.2 L when measured",
    "E1": "Esophageal malignancy without pathological confirmation",
    "E2": "Organs at risk cannot meet dose constraint requirements: lung V20 ≤ 25%, mean lung "
    "dose ≤ 20 Gy(RBE), heart V30 ≤ 40%, spinal cord max dose ≤ 45 Gy(RBE)",
    "E3": "High risk of esophageal perforation",
    "E4": "Presence of abdominal lymph node metastasis",
    "E5": "Implanted metal devices that may affect dose distribution or pose radiotherapy "
    "safety risks (e.g., pacemakers)",
    "E6": "Absolute contraindications to radiotherapy",
}


def test_every_criterion_text_at_the_default_limits():
    assert {code: criterion_text(code, DEFAULT_LIMITS) for code in CODES} == (
        TEXTS_AT_DEFAULT_LIMITS
    )


def test_criterion_texts_follow_amended_limits():
    texts = {code: criterion_text(code, AMENDED_LIMITS) for code in CODES}
    assert texts["I1"] == "Age 18–75 years (inclusive)"
    assert texts["I4"] == (
        "Normal liver and kidney function: ALT and AST ≤ 120 U/L, total bilirubin ≤ 34.2 "
        "µmol/L, creatinine ≤ 156 µmol/L or clearance ≥ 50 mL/min; labs within 21 days"
    )
    assert texts["I5"] == (
        "Normal bone marrow function: WBC ≥ 4 ×10⁹/L, ANC ≥ 1.5 ×10⁹/L, platelets ≥ 75 "
        "×10⁹/L, hemoglobin ≥ 90 g/L; labs within 21 days"
    )
    assert texts["E2"].endswith("spinal cord max dose ≤ 50 Gy(RBE)")
    unchanged = {"I2", "I3", "I6", "E1", "E3", "E4", "E5", "E6"}
    assert {code for code in CODES if texts[code] != TEXTS_AT_DEFAULT_LIMITS[code]} == (
        set(CODES) - unchanged
    )


def test_liver_limits_set_apart_are_named_apart():
    limits = dataclasses.replace(DEFAULT_LIMITS, alt_max=D("120.00"))
    assert criterion_text("I4", limits).startswith(
        "Normal liver and kidney function: ALT ≤ 120 U/L, AST ≤ 100 U/L, total bilirubin"
    )


def test_criterion_texts_read_in_chinese_at_default_and_amended_limits():
    with translation.override("zh-hans"):
        assert criterion_text("I1", DEFAULT_LIMITS) == "年龄 18–70 岁（含）"
        assert criterion_text("I1", AMENDED_LIMITS) == "年龄 18–75 岁（含）"
        assert criterion_text("I4", AMENDED_LIMITS) == (
            "肝肾功能正常：ALT 和 AST ≤ 120 U/L，总胆红素 ≤ 34.2 µmol/L，肌酐 ≤ 156 µmol/L 或"
            "肌酐清除率 ≥ 50 mL/min；血液检查在 21 天内"
        )
        assert criterion_text("I4", dataclasses.replace(DEFAULT_LIMITS, ast_max=90)).startswith(
            "肝肾功能正常：ALT ≤ 100 U/L，AST ≤ 90 U/L，总胆红素"
        )
        assert criterion_text("I5", DEFAULT_LIMITS) == (
            "骨髓功能正常：白细胞 ≥ 4 ×10⁹/L，中性粒细胞绝对值 ≥ 1.5 ×10⁹/L，血小板 ≥ 100 "
            "×10⁹/L，血红蛋白 ≥ 90 g/L；血液检查在 28 天内"
        )
        assert criterion_text("I6", DEFAULT_LIMITS) == (
            "心肺功能可耐受放疗：ECOG 评分 ≤ 1；如有检测，左心室射血分数 ≥ 50%，FEV1 ≥ 1.2 L"
        )
        assert criterion_text("E2", AMENDED_LIMITS) == (
            "危及器官无法满足剂量限制要求：肺 V20 ≤ 25%，平均肺剂量 ≤ 20 Gy(RBE)，心脏 V30 ≤ "
            "40%，脊髓最大剂量 ≤ 50 Gy(RBE)"
        )
        chinese = {code: criterion_text(code, AMENDED_LIMITS) for code in CODES}
    # Every text is translated: no English headline is left.
    assert all(chinese[code] != TEXTS_AT_DEFAULT_LIMITS[code] for code in CODES)
    assert all("imit" not in text and "function" not in text for text in chinese.values())


# --- I1 age ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "on", "age", "result"),
    [
        ("2008-11-03", "2026-11-03", 18, PASS),  # 18th birthday
        ("2008-11-04", "2026-11-03", 17, FAIL),  # 18 tomorrow
        ("1956-11-03", "2026-11-03", 70, PASS),  # 70th birthday
        ("1955-11-04", "2026-11-03", 70, PASS),  # 71 tomorrow
        ("1955-11-03", "2026-11-03", 71, FAIL),  # 71st birthday
        ("2008-02-29", "2026-02-28", 17, FAIL),  # born 29 February: 18 on 1 March
        ("2008-02-29", "2026-03-01", 18, PASS),
        ("2008-02-29", "2028-02-29", 20, PASS),
        ("1956-02-29", "2027-02-28", 70, PASS),
        ("1956-02-29", "2027-03-01", 71, FAIL),
        ("1956-02-29", "2028-02-29", 72, FAIL),
    ],
)
def test_age_boundaries(dob, on, age, result):
    dob, on = datetime.date.fromisoformat(dob), datetime.date.fromisoformat(on)
    assert age_at(dob, on) == age
    outcome = judge("I1", date_of_birth=dob, screening_date=on, labs_date=on)
    assert outcome.result == result
    assert outcome.params["age"] == age


def test_age_reasons():
    assert judge("I1").reason == "age 68 (18-70)"
    assert judge("I1", date_of_birth=datetime.date(2008, 11, 4)).reason == "age 17 is below 18"
    assert judge("I1", date_of_birth=datetime.date(1955, 11, 3)).reason == "age 71 is above 70"


def test_age_limits_come_from_the_protocol_version():
    amended = dataclasses.replace(DEFAULT_LIMITS, age_max=75)
    assert judge("I1", amended, date_of_birth=datetime.date(1955, 11, 3)).result == PASS


@pytest.mark.parametrize("key", ["date_of_birth", "screening_date"])
def test_age_unknown_without_dates(key):
    result = judge("I1", **{key: None})
    assert result.result == UNKNOWN
    assert result.missing == (key,)


# --- I2 stage -------------------------------------------------------------------------------

T_VALUES = [None, "TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"]
N_VALUES = [None, "NX", "N0", "N1", "N2", "N3"]
M_VALUES = [None, "M0", "M1"]


def _expected_i2(ct, cn, cm):
    """Section 4, I2 row, read literally."""
    if cm == "M1" or ct in ("T0", "Tis") or (ct in ("T1", "T1a", "T1b", "T2") and cn == "N0"):
        return FAIL, ()
    missing = tuple(
        key
        for key, unusable in (
            ("ct", ct in (None, "TX")),
            ("cn", cn in (None, "NX")),
            ("cm", cm is None),
        )
        if unusable
    )
    return (UNKNOWN, missing) if missing else (PASS, ())


@pytest.mark.parametrize(("ct", "cn", "cm"), list(itertools.product(T_VALUES, N_VALUES, M_VALUES)))
def test_stage_every_combination(ct, cn, cm):
    result = judge("I2", ct=ct, cn=cn, cm=cm)
    assert (result.result, result.missing) == _expected_i2(ct, cn, cm)


@pytest.mark.parametrize(
    ("ct", "cn", "cm", "reason"),
    [
        ("T2", "N0", "M0", "cT2N0 is excluded (cT1-2N0M0)"),
        ("T1b", "N0", None, "cT1bN0 is excluded (cT1-2N0M0)"),
        ("Tis", None, "M0", "cTis is outside cT1-4"),
        ("T3", "N1", "M1", "distant metastasis (cM1)"),
        ("T0", "N2", "M1", "distant metastasis (cM1); cT0 is outside cT1-4"),
        ("T3", "N0", "M0", "cT3N0M0 is within cT1-4N0-3M0"),
        ("T1", "N1", "M0", "cT1N1M0 is within cT1-4N0-3M0"),
        ("TX", "N1", "M0", "cTX: primary tumour not assessed"),
        ("T3", "NX", None, "missing: cM; cNX: regional nodes not assessed"),
        (None, None, None, "missing: cT, cN, cM"),
    ],
)
def test_stage_reasons(ct, cn, cm, reason):
    assert judge("I2", ct=ct, cn=cn, cm=cm).reason == reason


# --- tri-state criteria: I3, I6 answers, E1, E3, E4, E5, E6 ---------------------------------

TRI_STATE = [
    ("I3", "prior_esophageal_radiotherapy"),
    ("I3", "prior_esophageal_surgery"),
    ("I6", "cardiac_event_within_6_months"),
    ("I6", "uncontrolled_arrhythmia"),
    ("I6", "interstitial_lung_disease"),
    ("E3", "fistula_or_perforation"),
    ("E3", "deep_ulceration"),
    ("E3", "perforation_risk_other"),
    ("E4", "abdominal_lymph_node_metastasis"),
    ("E5", "cardiac_implantable_device"),
    ("E5", "metal_implant_in_treatment_region"),
    ("E6", "active_connective_tissue_disease"),
    ("E6", "prior_thoracic_radiotherapy_overlap"),
    ("E6", "other_absolute_rt_contraindication"),
]


@pytest.mark.parametrize(("code", "key"), TRI_STATE)
@pytest.mark.parametrize(
    ("answer", "result"), [("yes", FAIL), ("no", PASS), ("unknown", UNKNOWN), (None, UNKNOWN)]
)
def test_tri_state_answers(code, key, answer, result):
    evaluation = evaluate(dataclasses.replace(ELIGIBLE, **{key: answer}))
    outcome = evaluation.result(code)
    assert outcome.result == result
    assert outcome.values[key] == answer
    if result == UNKNOWN:
        assert outcome.missing == (key,)
        assert evaluation.outcome == Outcome.INCOMPLETE
        assert evaluation.todo == ((code, (key,)),)
    else:
        assert outcome.missing == ()
    if result == FAIL:
        assert evaluation.outcome == Outcome.INELIGIBLE


@pytest.mark.parametrize(
    ("answer", "result"), [("yes", PASS), ("no", FAIL), ("unknown", UNKNOWN), (None, UNKNOWN)]
)
def test_pathology_confirmation(answer, result):
    outcome = judge("E1", pathology_confirmed=answer)
    assert outcome.result == result
    assert outcome.missing == (("pathology_confirmed",) if result == UNKNOWN else ())


@pytest.mark.parametrize(
    ("answer", "result"), [("yes", FAIL), ("no", PASS), ("unknown", UNKNOWN), (None, UNKNOWN)]
)
def test_pregnancy_counts_for_women(answer, result):
    outcome = judge("E6", sex="F", pregnant_or_breastfeeding=answer)
    assert outcome.result == result
    if result == FAIL:
        assert outcome.reason == "pregnant or breastfeeding"


@pytest.mark.parametrize("sex", ["M", None])
@pytest.mark.parametrize("answer", ["yes", "unknown", None])
def test_pregnancy_is_ignored_for_men(sex, answer):
    outcome = judge("E6", sex=sex, pregnant_or_breastfeeding=answer)
    assert outcome.result == PASS
    assert "pregnant_or_breastfeeding" not in outcome.values


def test_several_yes_answers_are_all_named():
    outcome = judge("E5", cardiac_implantable_device="yes", metal_implant_in_treatment_region="yes")
    assert outcome.reason == (
        "cardiac implantable device (pacemaker or ICD); metal implant in the treatment region"
    )


def test_yes_wins_over_unknown_in_the_same_criterion():
    outcome = judge("E3", fistula_or_perforation="yes", deep_ulceration=None)
    assert outcome.result == FAIL
    assert outcome.missing == ()


def test_unknown_answers_are_listed_readably():
    outcome = judge("E3", deep_ulceration="unknown", perforation_risk_other=None)
    assert outcome.missing == ("deep_ulceration", "perforation_risk_other")
    assert outcome.reason == "missing: deep ulceration, other perforation risk"


# --- labs: freshness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labs_date", "fresh"),
    [
        ("2026-11-03", True),  # same day
        ("2026-10-06", True),  # 28 days
        ("2026-10-05", False),  # 29 days
        ("2026-11-04", False),  # after the screening date
        (None, False),
    ],
)
def test_labs_window(labs_date, fresh):
    labs_date = labs_date and datetime.date.fromisoformat(labs_date)
    assert labs_are_fresh(labs_date, SCREENING, 28) is fresh
    for code in ("I4", "I5"):
        outcome = judge(code, labs_date=labs_date)
        assert outcome.result == (PASS if fresh else UNKNOWN)
        assert outcome.missing == (() if fresh else ("labs_date",))


def test_labs_freshness_needs_a_screening_date():
    assert labs_are_fresh(SCREENING, None, 28) is False
    outcome = judge("I4", screening_date=None)
    assert (outcome.result, outcome.missing) == (UNKNOWN, ("screening_date",))


def test_stale_labs_reason():
    outcome = judge("I4", labs_date=datetime.date(2026, 9, 1))
    assert outcome.reason == "labs older than 28 days (dated 2026-09-01, screening 2026-11-03)"
    future = judge("I5", labs_date=datetime.date(2026, 11, 4))
    assert future.reason == "labs dated 2026-11-04, after the screening date 2026-11-03"
    assert judge("I4", labs_date=None).reason == "labs undated"


def test_undated_labs_also_list_absent_values():
    outcome = judge("I5", labs_date=None, anc=None)
    assert outcome.missing == ("labs_date", "anc")
    assert outcome.reason == "labs undated; missing: ANC"


def test_stale_labs_with_failing_values_are_unknown_not_fail():
    evaluation = evaluate(
        dataclasses.replace(
            ELIGIBLE,
            labs_date=datetime.date(2026, 10, 5),
            alt=D(900),
            creatinine=D(400),
            hemoglobin=D(50),
            platelets=D(10),
        )
    )
    assert evaluation.result("I4").result == UNKNOWN
    assert evaluation.result("I5").result == UNKNOWN
    assert evaluation.outcome == Outcome.INCOMPLETE
    assert evaluation.todo == (("I4", ("labs_date",)), ("I5", ("labs_date",)))


def test_labs_window_comes_from_the_protocol_version():
    amended = dataclasses.replace(DEFAULT_LIMITS, labs_max_age_days=14)
    outcome = judge("I4", amended, labs_date=datetime.date(2026, 10, 19))  # 15 days
    assert outcome.result == UNKNOWN
    assert outcome.reason.startswith("labs older than 14 days")


# --- labs: thresholds in SI and in the alternative unit ------------------------------------

# (criterion, key, value, unit, result): at the limit, just beyond, just inside.
LAB_BOUNDARIES = [
    ("I4", "alt", "100", "U/L", PASS),
    ("I4", "alt", "100.1", "U/L", FAIL),
    ("I4", "alt", "99.9", "U/L", PASS),
    ("I4", "alt", "100", "IU/L", PASS),
    ("I4", "alt", "101", "IU/L", FAIL),
    ("I4", "ast", "100", "U/L", PASS),
    ("I4", "ast", "100.1", "U/L", FAIL),
    ("I4", "ast", "99.9", "IU/L", PASS),
    ("I4", "ast", "100.1", "IU/L", FAIL),
    ("I4", "total_bilirubin", "31.5", "umol/L", PASS),
    ("I4", "total_bilirubin", "31.6", "umol/L", FAIL),
    ("I4", "total_bilirubin", "31.4", "µmol/L", PASS),
    ("I4", "total_bilirubin", "1.842", "mg/dL", PASS),  # 31.4982
    ("I4", "total_bilirubin", "1.843", "mg/dL", FAIL),  # 31.5153
    ("I4", "creatinine", "156", "umol/L", PASS),
    ("I4", "creatinine", "156.1", "umol/L", FAIL),  # no clearance given
    ("I4", "creatinine", "155.9", "umol/L", PASS),
    ("I4", "creatinine", "1.76", "mg/dL", PASS),  # 155.584
    ("I4", "creatinine", "1.77", "mg/dL", FAIL),  # 156.468
    ("I5", "wbc", "4.0", "10^9/L", PASS),
    ("I5", "wbc", "3.99", "10^9/L", FAIL),
    ("I5", "wbc", "4.01", "10^9/L", PASS),
    ("I5", "wbc", "3.99", "10^3/uL", FAIL),
    ("I5", "anc", "1.5", "10^9/L", PASS),
    ("I5", "anc", "1.49", "10^9/L", FAIL),
    ("I5", "anc", "1.51", "10^3/uL", PASS),
    ("I5", "anc", "1.49", "10^3/uL", FAIL),
    ("I5", "platelets", "100", "10^9/L", PASS),
    ("I5", "platelets", "99", "10^9/L", FAIL),
    ("I5", "platelets", "101", "10^3/uL", PASS),
    ("I5", "platelets", "99.9", "10^3/uL", FAIL),
    ("I5", "hemoglobin", "90", "g/L", PASS),
    ("I5", "hemoglobin", "89.9", "g/L", FAIL),
    ("I5", "hemoglobin", "90.1", "g/L", PASS),
    ("I5", "hemoglobin", "9.0", "g/dL", PASS),
    ("I5", "hemoglobin", "8.99", "g/dL", FAIL),
]


@pytest.mark.parametrize(("code", "key", "value", "unit", "result"), LAB_BOUNDARIES)
def test_lab_limits(code, key, value, unit, result):
    assert judge(code, **{key: to_si(key, D(value), unit)}).result == result


def test_every_lab_has_boundary_cases_in_every_unit_that_converts():
    tested = {key for _, key, *_ in LAB_BOUNDARIES}
    assert tested == set(LAB_KEYS) - {"creatinine_clearance"}  # clearance: see kidney tests


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"alt": D(120)}, "ALT 120 U/L is above 100 U/L"),
        (
            {"alt": D(120), "total_bilirubin": D("40.0")},
            "ALT 120 U/L is above 100 U/L; total bilirubin 40 umol/L is above 31.5 umol/L",
        ),
        ({"hemoglobin": D("85.50")}, "hemoglobin 85.5 g/L is below 90 g/L"),
        (
            {"wbc": D("3.2"), "anc": D("1.0")},
            "WBC 3.2 x10^9/L is below 4 x10^9/L; ANC 1 x10^9/L is below 1.5 x10^9/L",
        ),
    ],
)
def test_lab_failure_reasons(changes, reason):
    code = "I4" if {"alt", "total_bilirubin"} & set(changes) else "I5"
    assert judge(code, **changes).reason == reason


def test_missing_liver_values_are_unknown():
    outcome = judge("I4", alt=None, ast=None)
    assert (outcome.result, outcome.missing) == (UNKNOWN, ("alt", "ast"))
    assert outcome.reason == "missing: ALT, AST"


@pytest.mark.parametrize("key", ["wbc", "anc", "platelets", "hemoglobin"])
def test_missing_blood_count_is_unknown(key):
    outcome = judge("I5", **{key: None})
    assert (outcome.result, outcome.missing) == (UNKNOWN, (key,))


def test_a_failing_value_wins_over_a_missing_one():
    assert judge("I4", alt=D(120), ast=None).result == FAIL
    assert judge("I5", hemoglobin=D(80), wbc=None).result == FAIL


# --- kidney ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creatinine", "clearance", "result"),
    [
        ("156", None, PASS),
        ("156", "30", PASS),  # creatinine within limit: clearance not needed
        ("157", "60", PASS),
        ("157", "59", FAIL),
        ("157", None, FAIL),
        (None, "60", PASS),
        (None, "59", FAIL),
        (None, None, UNKNOWN),
    ],
)
def test_kidney_alternatives(creatinine, clearance, result):
    outcome = judge(
        "I4",
        creatinine=creatinine and D(creatinine),
        creatinine_clearance=clearance and D(clearance),
    )
    assert outcome.result == result
    if result == UNKNOWN:
        assert outcome.missing == ("creatinine", "creatinine_clearance")


def test_kidney_reasons():
    both = judge("I4", creatinine=D(157), creatinine_clearance=D(59))
    assert both.reason == (
        "creatinine 157 umol/L is above 156 umol/L and creatinine clearance 59 mL/min "
        "is below 60 mL/min"
    )
    no_clearance = judge("I4", creatinine=to_si("creatinine", D("1.77"), "mg/dL"))
    assert no_clearance.reason == (
        "creatinine 156.468 umol/L is above 156 umol/L and no creatinine clearance is given"
    )
    clearance_only = judge("I4", creatinine=None, creatinine_clearance=D(59))
    assert clearance_only.reason == "creatinine clearance 59 mL/min is below 60 mL/min"
    rescued = judge("I4", creatinine=D(170), creatinine_clearance=D(65))
    assert rescued.reason == (
        "liver function within limits; kidney function by creatinine clearance 65 mL/min "
        "(at least 60 mL/min)"
    )


def test_creatinine_in_mg_dl_with_clearance():
    creatinine = to_si("creatinine", D("1.77"), "mg/dL")
    assert judge("I4", creatinine=creatinine, creatinine_clearance=D(60)).result == PASS
    assert judge("I4", creatinine=creatinine, creatinine_clearance=D(59)).result == FAIL


# --- I6 cardiopulmonary ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "result"),
    [
        ({"ecog": 0}, PASS),
        ({"ecog": 1}, PASS),
        ({"ecog": 2}, FAIL),
        ({"ecog": None}, UNKNOWN),
        ({"lvef_percent": D(50)}, PASS),
        ({"lvef_percent": D(49)}, FAIL),
        ({"lvef_percent": None}, PASS),  # judged only when given
        ({"fev1_litres": D("1.2")}, PASS),
        ({"fev1_litres": D("1.19")}, FAIL),
        ({"fev1_litres": None}, PASS),
        ({"ecog": None, "lvef_percent": D(40)}, FAIL),
    ],
)
def test_cardiopulmonary(changes, result):
    outcome = judge("I6", **changes)
    assert outcome.result == result
    if result == UNKNOWN:
        assert outcome.missing == ("ecog",)


def test_cardiopulmonary_reasons():
    outcome = judge("I6", ecog=2, lvef_percent=D(45), fev1_litres=D("1.10"))
    assert outcome.reason == "ECOG 2 is above 1; LVEF 45% is below 50%; FEV1 1.1 L is below 1.2 L"
    assert judge("I6").reason == "ECOG 1; no cardiopulmonary contraindication"


# --- E2 dosimetry ---------------------------------------------------------------------------

METRIC_LIMITS = {
    "lung_v20_percent": D(25),
    "lung_mean_dose_gy": D(20),
    "heart_v30_percent": D(40),
    "spinal_cord_max_gy": D(45),
}


@pytest.mark.parametrize(
    ("status", "result"),
    [("feasible", PASS), ("not_feasible", FAIL), ("not_assessed", UNKNOWN), (None, UNKNOWN)],
)
def test_dosimetry_status(status, result):
    outcome = judge("E2", dosimetry_status=status)
    assert outcome.result == result
    if result == UNKNOWN:
        assert outcome.missing == tuple(METRIC_LIMITS)
        assert outcome.reason == "dosimetry not assessed: MDT to confirm"


def test_all_metrics_at_their_limits_pass_without_a_status():
    assert judge("E2", dosimetry_status=None, **METRIC_LIMITS).result == PASS


@pytest.mark.parametrize("metric", list(METRIC_LIMITS))
@pytest.mark.parametrize("status", ["feasible", "not_assessed", None])
def test_a_metric_over_its_limit_fails_even_when_feasible(metric, status):
    over = {**METRIC_LIMITS, metric: METRIC_LIMITS[metric] + D("0.1")}
    outcome = judge("E2", dosimetry_status=status, **over)
    assert outcome.result == FAIL
    assert outcome.params[metric] == over[metric]


@pytest.mark.parametrize("metric", list(METRIC_LIMITS))
def test_one_metric_over_fails_even_when_the_others_are_missing(metric):
    over = {metric: METRIC_LIMITS[metric] + 1}
    assert judge("E2", dosimetry_status=None, **over).result == FAIL


@pytest.mark.parametrize("metric", list(METRIC_LIMITS))
def test_partial_metrics_within_limits_stay_unknown(metric):
    given = {key: value for key, value in METRIC_LIMITS.items() if key != metric}
    outcome = judge("E2", dosimetry_status="not_assessed", **given)
    assert (outcome.result, outcome.missing) == (UNKNOWN, (metric,))
    assert outcome.reason.endswith("MDT to confirm")


def test_dosimetry_reason():
    outcome = judge("E2", dosimetry_status="feasible", heart_v30_percent=D("42.5"))
    assert outcome.reason == "heart V30 42.5% is above 40%"


def test_unknown_dosimetry_is_deferred_to_the_mdt():
    evaluation = evaluate(dataclasses.replace(ELIGIBLE, dosimetry_status="not_assessed"))
    assert evaluation.outcome == Outcome.POTENTIALLY_ELIGIBLE
    assert evaluation.deferred is evaluation.result("E2")
    assert evaluation.todo == ()


def test_failing_dosimetry_makes_ineligible():
    evaluation = evaluate(dataclasses.replace(ELIGIBLE, dosimetry_status="not_feasible"))
    assert evaluation.outcome == Outcome.INELIGIBLE
    assert evaluation.deferred is None


# --- outcome --------------------------------------------------------------------------------


def test_a_fail_makes_ineligible_even_with_unknowns():
    evaluation = evaluate(dataclasses.replace(ELIGIBLE, ecog=3, alt=None, pathology_confirmed=None))
    assert evaluation.outcome == Outcome.INELIGIBLE


def test_incomplete_lists_exactly_what_is_missing():
    evaluation = evaluate(
        dataclasses.replace(ELIGIBLE, ast=None, ecog=None, dosimetry_status=None, ct="TX")
    )
    assert evaluation.outcome == Outcome.INCOMPLETE
    assert evaluation.todo == (("I2", ("ct",)), ("I4", ("ast",)), ("I6", ("ecog",)))
    assert evaluation.deferred.code == "E2"


def test_empty_snapshot_is_incomplete():
    evaluation = evaluate(Snapshot())
    assert evaluation.outcome == Outcome.INCOMPLETE
    assert {r.result for r in evaluation.results} == {UNKNOWN}
    assert [code for code, _ in evaluation.todo] == [c for c in CODES if c != "E2"]


# --- the example referrals ------------------------------------------------------------------

EXAMPLES = json.loads(
    (Path(__file__).parent / "data" / "example_referrals.json").read_text(encoding="utf-8")
)


def snapshot_from_referral(referral: dict) -> Snapshot:
    """Test-only converter: labs to SI with their *_unit, then the snapshot's own parsing."""
    labs = {
        key: to_si(key, D(str(referral[key])), referral.get(f"{key}_unit"))
        for key in LAB_KEYS
        if referral.get(key) is not None
    }
    return Snapshot.from_json({**referral, **labs})


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[e["referral"]["hospital_number"] for e in EXAMPLES]
)
def test_example_referrals(example):
    evaluation = evaluate(snapshot_from_referral(example["referral"]))
    expected = example["expected"]
    assert {code: str(evaluation.result(code).result) for code in CODES} == {
        code: expected[code] for code in CODES
    }
    assert evaluation.outcome == expected["outcome"]


def test_example_with_hemoglobin_in_g_dl_is_converted():
    referral = next(e["referral"] for e in EXAMPLES if e["referral"]["hemoglobin_unit"] == "g/dL")
    assert snapshot_from_referral(referral).hemoglobin == D("115")


# --- serialisation for audit replay ---------------------------------------------------------


def test_snapshot_json_round_trip():
    data = json.loads(json.dumps(ELIGIBLE.to_json()))
    assert data["date_of_birth"] == "1958-04-21"
    assert data["wbc"] == "6.0"
    assert Snapshot.from_json(data) == ELIGIBLE
    exact = dataclasses.replace(ELIGIBLE, total_bilirubin=D("31.49820000000000000001"))
    assert Snapshot.from_json(json.loads(json.dumps(exact.to_json()))) == exact


def test_from_json_ignores_keys_it_does_not_know():
    assert Snapshot.from_json({"ecog": 1, "full_name": "王建国"}) == Snapshot(ecog=1)


def test_stored_results_render_the_same_reason():
    evaluation = evaluate(dataclasses.replace(ELIGIBLE, alt=D(120), ast=None, labs_date=None))
    for result in evaluation.results:
        stored = json.loads(json.dumps(result.to_json()))
        assert rules.render_reason(stored["template"], stored["params"]) == result.reason
    stored = json.loads(json.dumps(evaluation.to_json()))
    assert stored["outcome"] == "incomplete"


# --- properties -----------------------------------------------------------------------------

TRI = st.sampled_from(["yes", "no", "unknown"])
DATES = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2100, 12, 31))


def _decimals(high, limit=None):
    """Anywhere in the plausible range, often close to the protocol limit."""
    anywhere = st.decimals(min_value=0, max_value=high, places=2)
    if limit is None:
        return anywhere
    near = st.decimals(min_value=max(0, limit - 3), max_value=limit + 3, places=2)
    return anywhere | near


FIELD_STRATEGIES = {
    "sex": st.sampled_from(["M", "F"]),
    "date_of_birth": DATES,
    "screening_date": DATES,
    "pathology_confirmed": TRI,
    "histology": st.sampled_from(["squamous_cell_carcinoma", "adenocarcinoma", "other", "unknown"]),
    "ct": st.sampled_from(T_VALUES[1:]),
    "cn": st.sampled_from(N_VALUES[1:]),
    "cm": st.sampled_from(M_VALUES[1:]),
    "labs_date": DATES,
    "alt": _decimals(5000, 100),
    "ast": _decimals(5000, 100),
    "total_bilirubin": _decimals(1000, D("31.5")),
    "creatinine": _decimals(2000, 156),
    "creatinine_clearance": _decimals(250, 60),
    "wbc": _decimals(200, 4),
    "anc": _decimals(100, D("1.5")),
    "platelets": _decimals(2000, 100),
    "hemoglobin": _decimals(250, 90),
    "ecog": st.integers(0, 5),
    "lvef_percent": _decimals(100, 50),
    "fev1_litres": _decimals(8, D("1.2")),
    "dosimetry_status": st.sampled_from(["not_assessed", "feasible", "not_feasible"]),
    "lung_v20_percent": _decimals(100, 25),
    "lung_mean_dose_gy": _decimals(100, 20),
    "heart_v30_percent": _decimals(100, 40),
    "spinal_cord_max_gy": _decimals(100, 45),
}
snapshots = st.builds(
    Snapshot,
    **{
        name: st.none() | FIELD_STRATEGIES.get(name, TRI)
        for name in (f.name for f in dataclasses.fields(Snapshot))
    },
)
# Fresh labs, so that the lab values decide I4 and I5.
fresh_labs = snapshots.map(
    lambda s: dataclasses.replace(
        s,
        screening_date=SCREENING if s.screening_date else None,
        labs_date=SCREENING - datetime.timedelta(days=3) if s.labs_date else None,
    )
)


def _expected_outcome(results):
    if any(r.result == FAIL for r in results):
        return Outcome.INELIGIBLE
    if any(r.result == UNKNOWN for r in results if r.code != "E2"):
        return Outcome.INCOMPLETE
    return Outcome.POTENTIALLY_ELIGIBLE


@given(snapshots)
def test_evaluate_never_raises_and_outcome_agrees_with_results(snapshot):
    evaluation = evaluate(snapshot)
    assert tuple(r.code for r in evaluation.results) == CODES
    assert evaluation.outcome == _expected_outcome(evaluation.results)
    for result in evaluation.results:
        # An unknown always says what to complete; a decided result never does.
        assert bool(result.missing) == (result.result == UNKNOWN)
        assert set(result.missing) <= {f.name for f in dataclasses.fields(Snapshot)}
        assert result.reason


@given(snapshots)
def test_snapshot_json_round_trips(snapshot):
    assert Snapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot


@given(snapshots)
def test_the_json_text_an_import_stores_is_to_json_written_out(snapshot):
    evaluation = evaluate(snapshot)
    results = {result.code: result.to_json() for result in evaluation.results}
    assert json.loads(evaluation.results_json_text()) == results
    assert json.loads(snapshot.json_text()) == snapshot.to_json()


def test_the_json_text_writes_equal_numbers_as_to_json_does():
    # -0 and 0 are equal Decimals, and 1.50 and 1.5: each is written from its own digits.
    for value in (D("-0"), D("0"), D("1.50"), D("1.5"), D("1E+2")):
        snapshot = Snapshot(lvef_percent=value)
        i6 = evaluate(snapshot).result("I6")
        assert json.loads(evaluate(snapshot).results_json_text())["I6"] == i6.to_json()
        assert json.loads(snapshot.json_text())["lvef_percent"] == f"{value:f}"


# key -> (criterion, +1 when a higher value is worse, -1 when a lower value is worse)
WORSENING = {
    "alt": ("I4", 1),
    "ast": ("I4", 1),
    "total_bilirubin": ("I4", 1),
    "creatinine": ("I4", 1),
    "creatinine_clearance": ("I4", -1),
    "wbc": ("I5", -1),
    "anc": ("I5", -1),
    "platelets": ("I5", -1),
    "hemoglobin": ("I5", -1),
    "lvef_percent": ("I6", -1),
    "fev1_litres": ("I6", -1),
    "lung_v20_percent": ("E2", 1),
    "lung_mean_dose_gy": ("E2", 1),
    "heart_v30_percent": ("E2", 1),
    "spinal_cord_max_gy": ("E2", 1),
}


@given(
    fresh_labs,
    st.sampled_from(sorted(WORSENING)),
    st.decimals(min_value=D("0.01"), max_value=500, places=2),
)
def test_worsening_one_value_never_improves_its_criterion(snapshot, key, delta):
    if getattr(snapshot, key) is None:
        return
    code, direction = WORSENING[key]
    worse = dataclasses.replace(snapshot, **{key: getattr(snapshot, key) + direction * delta})
    before, after = evaluate(snapshot).result(code).result, evaluate(worse).result(code).result
    if before == FAIL:
        assert after == FAIL
    if after == PASS:
        assert before == PASS


# --- shared results and common-case shortcuts -------------------------------------------------

SHARED = (
    rules._i2_stage,
    rules._i3_prior_treatment,
    rules._e1_pathology,
    rules._e2_unmeasured,
    rules._e3_perforation,
    rules._e4_abdominal_nodes,
    rules._e5_metal,
    rules._e6_contraindication,
)


@given(snapshots)
def test_a_shared_result_equals_the_one_judged_afresh(snapshot):
    # The caches hold results judged for earlier examples, with the same answers.
    shared = evaluate(snapshot)
    for judge in SHARED:
        judge.cache_clear()
    afresh = evaluate(snapshot)
    assert shared == afresh
    assert json.dumps(shared.to_json()) == json.dumps(afresh.to_json())


def test_evaluations_with_the_same_answers_share_the_result():
    other = dataclasses.replace(ELIGIBLE, date_of_birth=datetime.date(1960, 1, 1), alt=D(50))
    assert evaluate(other).result("I2") is evaluate(ELIGIBLE).result("I2")


def test_free_text_answers_cannot_grow_the_caches():
    for index in range(rules._SHARED_RESULTS + 500):
        result = judge("I2", ct=f"free text {index}").result
        assert result == UNKNOWN
    assert rules._i2_stage.cache_info().currsize <= rules._SHARED_RESULTS


boundary_labs = fresh_labs.map(lambda s: dataclasses.replace(s, screening_date=SCREENING))
LIMIT_SETS = st.sampled_from(
    [
        DEFAULT_LIMITS,
        # As ProtocolVersion.limits() reads them: numeric(8, 2) columns.
        rules.Limits(
            **{
                name: D(value).quantize(D("0.01")) if isinstance(value, D | int) else value
                for name, value in dataclasses.asdict(DEFAULT_LIMITS).items()
            }
        ),
        dataclasses.replace(DEFAULT_LIMITS, alt_max=D("120.00"), ast_max=80, ecog_max=2),
    ]
)


@given(boundary_labs, LIMIT_SETS)
def test_the_common_case_shortcuts_agree_with_the_full_judgement(snapshot, limits):
    """I4, I5 and I6 decide the all-within-limits case before working out reasons; E2 without
    any dose metric is judged once per status. Each must reach what the full path reaches."""
    for result, judged in (
        (rules._i4_liver_kidney(snapshot, limits, True), rules._i4_judged),
        (rules._i5_bone_marrow(snapshot, limits, True), rules._i5_judged),
        (rules._i6_cardiopulmonary(snapshot, limits), rules._i6_judged),
        (rules._e2_dosimetry(snapshot, limits), rules._e2_judged),
    ):
        assert result == judged(result.values, limits)
