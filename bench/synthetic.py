"""Synthetic referrals with a realistic mix of sites, outcomes and Chinese names.

Pure Python (no Django): ``referral_row`` gives the PROTOCOL section 3 keys with typed values
(dates, Decimals, ``site`` as its code). ``import_row`` writes the same row as an import file
holds it. Every row is deterministic in its index, so two runs seed the same data.
"""

import datetime
import random
from decimal import Decimal

from screening.national_id import check_character

# Bump when the synthetic data changes, so that databases seeded before are seeded again.
SEED_VERSION = 4
ACCRUAL_START = datetime.date(2025, 5, 1)
SITES = (("wuwei", 6), ("lanzhou", 4))  # code, weight: Wuwei refers more
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺"
    "顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦向柳邢"
)
GIVEN_NAMES = (
    *("建国", "秀英", "伟", "洋", "静", "丽", "强", "敏", "军", "艳", "磊", "桂兰", "志明"),
    *("玉珍", "国华", "淑珍", "海燕", "建华", "红梅", "志强", "永红", "春梅", "德明", "文华"),
    *("小红", "金凤", "宝山", "兰英", "振华", "凤英", "明", "霞", "平", "刚", "杰", "娟", "涛"),
)
PHYSICIANS = ("赵医生", "钱医生", "孙医生", "李主任", "周主任", "Dr Wang", "Dr Chen", "")

# (weight, overrides) applied to an otherwise eligible referral; weights approximate a real
# screening log: about a quarter reach the MDT, half fail, a quarter wait for data.
VARIANTS = (
    (22, {}),
    (4, {"dosimetry_status": "feasible"}),
    (2, {"hemoglobin_g_dl": True}),
    (8, {"ct": "T2", "cn": "N0"}),
    (7, {"cm": "M1"}),
    (8, {"age": "old"}),
    (3, {"alt": Decimal(180)}),
    (3, {"platelets": Decimal(80)}),
    (5, {"ecog": 2}),
    (2, {"cardiac_implantable_device": "yes"}),
    (2, {"fistula_or_perforation": "yes"}),
    (3, {"prior_esophageal_radiotherapy": "yes"}),
    (3, {"abdominal_lymph_node_metastasis": "yes"}),
    (8, {"labs": "missing"}),
    (5, {"labs": "stale"}),
    (5, {"cn": "NX"}),
    (6, {"pathology_confirmed": "unknown"}),
    (4, {"interstitial_lung_disease": "unknown"}),
)
_VARIANT_WEIGHTS = tuple(weight for weight, _overrides in VARIANTS)
_SITE_CODES = tuple(code for code, _weight in SITES)
_SITE_WEIGHTS = tuple(weight for _code, weight in SITES)
LAB_UNITS = {
    "alt": "U/L",
    "ast": "U/L",
    "total_bilirubin": "umol/L",
    "creatinine": "umol/L",
    "creatinine_clearance": "mL/min",
    "wbc": "10^9/L",
    "anc": "10^9/L",
    "platelets": "10^9/L",
    "hemoglobin": "g/L",
}
TRI_STATE_NO = (
    "prior_esophageal_radiotherapy",
    "prior_esophageal_surgery",
    "cardiac_event_within_6_months",
    "uncontrolled_arrhythmia",
    "interstitial_lung_disease",
    "fistula_or_perforation",
    "deep_ulceration",
    "perforation_risk_other",
    "abdominal_lymph_node_metastasis",
    "cardiac_implantable_device",
    "metal_implant_in_treatment_region",
    "active_connective_tissue_disease",
    "prior_thoracic_radiotherapy_overlap",
    "other_absolute_rt_contraindication",
)


def _national_id(index: int, rng: random.Random, dob: datetime.date, sex: str) -> str:
    """A valid resident ID that no other referral number below 10^8 has: each synthetic referral
    is its own person, as the one-open-referral-per-national-ID rule needs. The index is written
    where the region code stands (which the app does not check) and in the sequence digits."""
    sex_digit = rng.randrange(1, 10, 2) if sex == "M" else rng.randrange(0, 10, 2)
    first17 = f"{index // 100 % 1_000_000:06d}{dob:%Y%m%d}{index % 100:02d}{sex_digit}"
    return first17 + check_character(first17)


def _decimal(value: float, places: int = 1) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def referral_row(index: int, *, today: datetime.date, prefix: str = "BN") -> dict:
    """Referral number ``index`` as typed clinical data; the hospital number is unique per
    index and ``prefix``."""
    rng = random.Random(index)
    overrides = dict(rng.choices(VARIANTS, weights=_VARIANT_WEIGHTS)[0][1])
    site = rng.choices(_SITE_CODES, weights=_SITE_WEIGHTS)[0]
    sex = "M" if rng.random() < 0.7 else "F"
    span = (today - ACCRUAL_START).days
    referral_date = ACCRUAL_START + datetime.timedelta(days=rng.randint(0, span))
    screening_date = min(referral_date + datetime.timedelta(days=rng.randint(0, 5)), today)
    age = rng.randint(71, 86) if overrides.pop("age", None) else rng.randint(45, 70)
    dob = screening_date.replace(year=screening_date.year - age, day=1) - datetime.timedelta(
        days=rng.randint(1, 300)
    )
    labs = overrides.pop("labs", "fresh")
    labs_age = rng.randint(35, 120) if labs == "stale" else rng.randint(0, 14)
    row = {
        "site": site,
        "hospital_number": f"{prefix}{site[0].upper()}{index:08d}",
        "full_name": rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES),
        "sex": sex,
        "date_of_birth": dob,
        "national_id": _national_id(index, rng, dob, sex) if rng.random() < 0.4 else "",
        "referral_date": referral_date,
        "screening_date": screening_date,
        "referring_physician": rng.choice(PHYSICIANS),
        "pathology_confirmed": "yes",
        "histology": rng.choice(("squamous_cell_carcinoma",) * 9 + ("adenocarcinoma",)),
        "tumour_location": rng.choice(("upper_thoracic", "middle_thoracic", "lower_thoracic")),
        "ct": rng.choice(("T2", "T3", "T3", "T4a")),
        "cn": rng.choice(("N1", "N1", "N2", "N3")),
        "cm": "M0",
        "labs_date": screening_date - datetime.timedelta(days=labs_age),
        "alt": Decimal(rng.randint(8, 70)),
        "ast": Decimal(rng.randint(8, 70)),
        "total_bilirubin": _decimal(rng.uniform(4, 25)),
        "creatinine": Decimal(rng.randint(45, 130)),
        "creatinine_clearance": None,
        "wbc": _decimal(rng.uniform(4.2, 10)),
        "anc": _decimal(rng.uniform(1.8, 7)),
        "platelets": Decimal(rng.randint(120, 380)),
        "hemoglobin": Decimal(rng.randint(100, 160)),
        "ecog": rng.choice((0, 1, 1)),
        "lvef_percent": Decimal(rng.randint(52, 72)) if rng.random() < 0.5 else None,
        "fev1_litres": _decimal(rng.uniform(1.5, 3.5), 2) if rng.random() < 0.3 else None,
        "dosimetry_status": "not_assessed",
        "lung_v20_percent": None,
        "lung_mean_dose_gy": None,
        "heart_v30_percent": None,
        "spinal_cord_max_gy": None,
        "pregnant_or_breastfeeding": "no" if sex == "F" else "unknown",
        **dict.fromkeys(TRI_STATE_NO, "no"),
    }
    if overrides.pop("hemoglobin_g_dl", False):
        row["hemoglobin_entered_g_dl"] = True
    if labs == "missing":
        row.update(labs_date=None, wbc=None, anc=None, platelets=None, hemoglobin=None)
    if overrides.get("dosimetry_status") == "feasible":
        row.update(
            lung_v20_percent=_decimal(rng.uniform(10, 24)),
            lung_mean_dose_gy=_decimal(rng.uniform(8, 18)),
            heart_v30_percent=_decimal(rng.uniform(10, 35)),
            spinal_cord_max_gy=_decimal(rng.uniform(30, 44)),
        )
    row.update(overrides)
    return row


def clinical_data(row: dict, sites: dict) -> dict:
    """What ``ReferralForm.clinical_data()`` returns for ``row``: the Site object, lab values
    in SI with the entered unit beside each."""
    data = dict(row)
    entered_g_dl = data.pop("hemoglobin_entered_g_dl", False)
    data["site"] = sites[row["site"]]
    for key, unit in LAB_UNITS.items():
        data[f"{key}_unit"] = unit if data[key] is not None else ""
    if entered_g_dl and data["hemoglobin"] is not None:
        data["hemoglobin_unit"] = "g/dL"
    return data


def import_row(row: dict) -> dict:
    """``row`` as an import file holds it: text values, the unit of each lab beside it."""
    values = dict(row)
    entered_g_dl = values.pop("hemoglobin_entered_g_dl", False)
    for key, unit in LAB_UNITS.items():
        values[f"{key}_unit"] = unit if values[key] is not None else None
    if entered_g_dl and values["hemoglobin"] is not None:
        values["hemoglobin"] = values["hemoglobin"] / 10
        values["hemoglobin_unit"] = "g/dL"
    text = {}
    for key, value in values.items():
        if value is None:
            text[key] = ""
        elif isinstance(value, datetime.date):
            text[key] = value.isoformat()
        else:
            text[key] = str(value)
    return text
