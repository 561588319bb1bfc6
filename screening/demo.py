"""Demo referrals for ``make run``: both sites, every outcome, realistic Chinese names."""

import datetime
import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = (
    "建国",
    "秀英",
    "伟",
    "洋",
    "静",
    "丽",
    "强",
    "敏",
    "军",
    "艳",
    "磊",
    "桂兰",
    "志明",
    "玉珍",
)

# Each variant changes an otherwise eligible referral into one outcome or another.
VARIANTS = (
    ("potentially eligible", {}),
    ("potentially eligible, dosimetry done", {"dosimetry_status": "feasible"}),
    ("early stage", {"ct": "T2", "cn": "N0"}),
    ("metastatic", {"cm": "M1"}),
    ("too old", {"age": 74}),
    ("high ALT", {"alt": 180}),
    ("low platelets", {"platelets": 80}),
    ("ECOG 2", {"ecog": 2}),
    ("pacemaker", {"cardiac_implantable_device": "yes"}),
    ("fistula", {"fistula_or_perforation": "yes"}),
    ("labs missing", {"labs_date": None, "wbc": None, "anc": None}),
    ("staging incomplete", {"cn": "NX"}),
    ("pathology pending", {"pathology_confirmed": "unknown"}),
    ("hemoglobin in g/dL", {"hemoglobin": 12.1, "hemoglobin_unit": "g/dL"}),
)


def referral_row(*, number: int, site: str, today: datetime.date, age: int = 62, **overrides):
    """An eligible referral as an import row (PROTOCOL section 3 keys), then ``overrides``."""
    rng = random.Random(number)
    sex = rng.choice("MF")
    screening_date = today - datetime.timedelta(days=rng.randint(0, 20))
    referral_date = screening_date - datetime.timedelta(days=rng.randint(0, 5))
    dob = screening_date.replace(year=screening_date.year - age) - datetime.timedelta(days=30)
    row = {
        "site": site,
        "hospital_number": f"{site[:2].upper()}{100000 + number}",
        "full_name": rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES),
        "sex": sex,
        "date_of_birth": dob.isoformat(),
        "referral_date": referral_date.isoformat(),
        "screening_date": screening_date.isoformat(),
        "referring_physician": rng.choice(("赵医生", "钱医生", "Dr Sun")),
        "pathology_confirmed": "yes",
        "histology": rng.choice(("squamous_cell_carcinoma",) * 4 + ("adenocarcinoma",)),
        "tumour_location": rng.choice(("upper_thoracic", "middle_thoracic", "lower_thoracic")),
        "ct": rng.choice(("T2", "T3", "T3", "T4a")),
        "cn": rng.choice(("N1", "N2")),
        "cm": "M0",
        "prior_esophageal_radiotherapy": "no",
        "prior_esophageal_surgery": "no",
        # At most 27 days before today: fresh at screening and on a consent date of today.
        "labs_date": (screening_date - datetime.timedelta(days=rng.randint(0, 7))).isoformat(),
        "alt": rng.randint(12, 60),
        "ast": rng.randint(12, 60),
        "total_bilirubin": rng.randint(5, 25),
        "total_bilirubin_unit": "umol/L",
        "creatinine": rng.randint(50, 120),
        "creatinine_unit": "umol/L",
        "wbc": round(rng.uniform(4.5, 9), 1),
        "anc": round(rng.uniform(2, 6), 1),
        "platelets": rng.randint(150, 350),
        "hemoglobin": rng.randint(110, 150),
        "hemoglobin_unit": "g/L",
        "ecog": rng.choice((0, 1)),
        "cardiac_event_within_6_months": "no",
        "uncontrolled_arrhythmia": "no",
        "interstitial_lung_disease": "no",
        "dosimetry_status": "not_assessed",
        "fistula_or_perforation": "no",
        "deep_ulceration": "no",
        "perforation_risk_other": "no",
        "abdominal_lymph_node_metastasis": "no",
        "cardiac_implantable_device": "no",
        "metal_implant_in_treatment_region": "no",
        "pregnant_or_breastfeeding": "no" if sex == "F" else "unknown",
        "active_connective_tissue_disease": "no",
        "prior_thoracic_radiotherapy_overlap": "no",
        "other_absolute_rt_contraindication": "no",
    }
    row.update(overrides)
    return row


def demo_rows(today: datetime.date, count: int = 42) -> list[dict]:
    rows = []
    for number in range(1, count + 1):
        _label, overrides = VARIANTS[number % len(VARIANTS)]
        site = "wuwei" if number % 3 else "lanzhou"
        rows.append(referral_row(number=number, site=site, today=today, **overrides))
    return rows
