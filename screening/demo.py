"""Demo data for ``make run``: a trial six months into accrual at both sites.

``referral_row`` is one eligible patient as an import row; the tests' factories build on it, so
what it returns for a given number stays as it is. ``demo_cases`` is the demo trial: about 60
patients referred over the last six months, each with what happened to them afterwards (MDT
decisions, a voided one, consent declined, withdrawals, edits, enrolments), for
``manage.py load_demo`` to play through the services. Pure data: no database here.
"""

import datetime
import random
from dataclasses import dataclass

from screening.national_id import check_character

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


# Names by sex for the demo trial's patients; ``referral_row`` keeps its own list.
GIVEN_NAMES_BY_SEX = {
    "M": ("建国", "伟", "强", "军", "磊", "志明", "国华", "德明", "永强", "海涛", "文斌", "振华"),
    "F": ("秀英", "丽", "静", "艳", "桂兰", "玉珍", "淑芬", "红梅", "秀兰", "凤英", "丽华", "春梅"),
}
# Resident ID region codes: Liangzhou district of Wuwei, Chengguan district of Lanzhou.
REGION_CODES = {"wuwei": "620602", "lanzhou": "620102"}
ATTENDEES = (
    "Dr Zhang (radiation oncology), Dr Li (thoracic surgery), Dr Wang (medical oncology), "
    "Dr Chen (radiology)"
)
# What makes two referrals possible duplicates (PROTOCOL section 3a).
PERSON_KEYS = ("full_name", "date_of_birth", "sex")
FIT = "Locally advanced, fit for photon and carbon-ion radiotherapy; labs and staging complete."


@dataclass(frozen=True)
class Decide:
    """The MDT meets on ``day`` and approves or rejects (``reason_code`` for a rejection)."""

    day: datetime.date
    decision: str
    rationale: str = FIT
    reason_code: str = ""


@dataclass(frozen=True)
class Void:
    """An MDT member voids the current decision on ``day``: the referral goes back to review."""

    day: datetime.date
    reason: str


@dataclass(frozen=True)
class Enrol:
    """The patient consents on ``day`` and is enrolled under the next study number."""

    day: datetime.date


@dataclass(frozen=True)
class Decline:
    """The approved patient declines consent on ``day``."""

    day: datetime.date


@dataclass(frozen=True)
class Withdraw:
    """The coordinator withdraws the referral on ``day`` for a coded reason."""

    day: datetime.date
    code: str
    reason: str


@dataclass(frozen=True)
class Edit:
    """The coordinator changes the referral's data (row keys, as entered) on ``day``."""

    day: datetime.date
    changes: dict
    reason: str


@dataclass(frozen=True)
class Case:
    """One demo patient: the referral as its site's coordinator enters it, then what happens."""

    row: dict
    steps: tuple = ()

    @property
    def referred(self) -> datetime.date:
        return datetime.date.fromisoformat(self.row["referral_date"])


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def demo_cases(today: datetime.date) -> list[Case]:
    """The demo trial as of ``today``: the same patients and stories every time (fixed seed),
    dated relative to ``today``.

    Every status and outcome is there, with ineligible and incomplete referrals for a variety
    of criteria; MDT decisions a few days after referral, each consent after its meeting with
    labs at most 28 days old on it, the enrolments in consent-date order.
    """
    rng = random.Random(2026)
    used_names = set()
    cases = []

    def ago(days: int) -> datetime.date:
        return today - datetime.timedelta(days=days)

    def name(sex: str) -> str:
        while True:
            candidate = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES_BY_SEX[sex])
            if candidate not in used_names:
                used_names.add(candidate)
                return candidate

    def patient(
        site,
        sex,
        age,
        referred_ago,
        *steps,
        same_person_as=None,
        duplicate_of=None,
        labs_ago=None,
        **changes,
    ) -> Case:
        """A patient of ``age`` referred and screened ``referred_ago`` days before today, with
        labs taken two days earlier (or ``labs_ago``), then ``changes`` (None leaves a field
        empty). ``same_person_as`` (a re-referral) and ``duplicate_of`` (a possible duplicate,
        under its own hospital number) copy that case's identity."""
        number = len(cases) + 1
        referred = ago(referred_ago)
        labs = ago(referred_ago + 2 if labs_ago is None else labs_ago)
        row = referral_row(number=number, site=site, today=referred)
        dob = _years_before(referred, age) - datetime.timedelta(days=rng.randint(20, 330))
        identity = {"sex": sex, "full_name": name(sex), "date_of_birth": dob.isoformat()}
        if number % 2:
            sequence = rng.randrange(100, 999, 2) + (sex == "M")
            first17 = f"{REGION_CODES[site]}{dob:%Y%m%d}{sequence}"
            identity["national_id"] = first17 + check_character(first17)
        if same_person_as is not None:
            # The same patient and tumour; the clinical data of the new referral are its own.
            kept = (*PERSON_KEYS, "hospital_number", "national_id", "histology", "tumour_location")
            identity = {key: same_person_as.row.get(key) for key in kept}
        elif duplicate_of is not None:
            identity = {key: duplicate_of.row[key] for key in PERSON_KEYS}
        row.update(
            identity,
            referral_date=referred.isoformat(),
            screening_date=referred.isoformat(),
            labs_date=labs.isoformat(),
            pregnant_or_breastfeeding="no" if identity["sex"] == "F" else "unknown",
        )
        row.update(changes)
        case = Case({key: value for key, value in row.items() if value is not None}, steps)
        cases.append(case)
        return case

    approve = "approve"
    reject = "reject"
    scc, adeno = "squamous_cell_carcinoma", "adenocarcinoma"

    # Enrolled, in the order they consented: EC-001 to EC-007.
    patient("wuwei", "M", 58, 172, Decide(ago(166), approve), Enrol(ago(159)), ct="T3", cn="N1")
    patient("lanzhou", "M", 64, 150, Decide(ago(145), approve), Enrol(ago(138)), ct="T3", cn="N2")
    # Consent postponed: a new blood panel keeps the approval (PROTOCOL section 6).
    patient(
        "wuwei",
        "F",
        52,
        121,
        Decide(ago(116), approve),
        Edit(
            ago(83),
            {
                "screening_date": ago(83).isoformat(),
                "labs_date": ago(83).isoformat(),
                "alt": 38,
                "ast": 31,
                "platelets": 212,
            },
            "Consent postponed by the patient; new blood panel before consent.",
        ),
        Enrol(ago(80)),
        histology=adeno,
        tumour_location="gej",
        ct="T2",
        cn="N1",
    )
    # An approval voided and decided again at the next meeting.
    patient(
        "wuwei",
        "M",
        67,
        95,
        Decide(ago(90), approve),
        Void(ago(89), "Approved before the restaging CT was reviewed; to be decided with it."),
        Decide(ago(83), approve, "Restaging CT reviewed: no distant disease. " + FIT),
        Enrol(ago(76)),
        histology=scc,
        tumour_location="upper_thoracic",
        ct="T4a",
        cn="N1",
    )
    patient("lanzhou", "F", 45, 70, Decide(ago(64), approve), Enrol(ago(57)), ct="T3", cn="N0")
    patient("wuwei", "M", 61, 42, Decide(ago(37), approve), Enrol(ago(30)), ct="T3", cn="N1")
    patient(
        "lanzhou",
        "M",
        49,
        28,
        Decide(ago(22), approve),
        Enrol(ago(15)),
        histology=adeno,
        tumour_location="lower_thoracic",
    )

    # Approved, awaiting consent; the last one's labs will be too old on any consent date now.
    patient("wuwei", "F", 57, 12, Decide(ago(6), approve), ct="T2", cn="N2")
    patient("lanzhou", "M", 63, 9, Decide(ago(2), approve), dosimetry_status="feasible")
    patient("wuwei", "M", 66, 48, Decide(ago(43), approve), ct="T3", cn="N2")

    # Approved, then declined consent or withdrawn.
    patient("wuwei", "M", 59, 100, Decide(ago(94), approve), Decline(ago(88)))
    patient("lanzhou", "F", 54, 33, Decide(ago(29), approve), Decline(ago(24)), ct="T4a", cn="N0")
    patient(
        "wuwei",
        "M",
        68,
        80,
        Decide(ago(73), approve),
        Withdraw(
            ago(70),
            "clinical_deterioration",
            "Admitted with aspiration pneumonia; no longer fit for radiotherapy.",
        ),
    )

    # Approved, then voided: back in the MDT queue.
    patient(
        "wuwei",
        "F",
        50,
        30,
        Decide(ago(24), approve),
        Void(
            ago(20),
            "Restaging PET-CT after the meeting shows a possible liver lesion; to be discussed "
            "again with the scan.",
        ),
    )

    # Rejected by the MDT, on a criterion or for another reason.
    patient(
        "wuwei",
        "M",
        69,
        140,
        Decide(
            ago(134),
            reject,
            "FEV1 1.3 L and on home oxygen: would not tolerate thoracic radiotherapy.",
            "I6",
        ),
        fev1_litres=1.3,
    )
    patient(
        "lanzhou",
        "F",
        56,
        88,
        Decide(
            ago(81),
            reject,
            "Endoscopy review: deep ulceration at the tumour, perforation risk too high.",
            "E3",
        ),
    )
    patient(
        "wuwei",
        "M",
        60,
        62,
        Decide(
            ago(56),
            reject,
            "Resectable disease: neoadjuvant chemoradiotherapy and esophagectomy recommended.",
            "other",
        ),
        histology=adeno,
        tumour_location="lower_thoracic",
        ct="T2",
        cn="N1",
    )
    patient(
        "wuwei",
        "M",
        65,
        35,
        Decide(
            ago(29),
            reject,
            "Trial plan: lung V20 31 %, over the constraint whatever the beam arrangement.",
            "E2",
        ),
        ct="T4b",
        cn="N2",
        tumour_location="upper_thoracic",
    )
    # Rejected, then referred again after nutritional support: linked to the first referral.
    rejected = patient(
        "lanzhou",
        "M",
        55,
        160,
        Decide(
            ago(154),
            reject,
            "15 % weight loss and poor nutrition; re-refer after nutritional support.",
            "I6",
        ),
        ct="T3",
        cn="N2",
        ecog=1,
    )
    patient("lanzhou", "M", 55, 20, same_person_as=rejected, ct="T3", cn="N2", ecog=0)

    # Awaiting the MDT, from 1 to 38 days.
    patient("wuwei", "M", 62, 3, ct="T3", cn="N1", tumour_location="middle_thoracic")
    patient(
        "lanzhou",
        "F",
        47,
        6,
        histology=adeno,
        tumour_location="gej",
        ct="T3",
        cn="N1",
        dosimetry_status="feasible",
    )
    patient("wuwei", "M", 53, 10, histology="other", ct="T3", cn="N2")
    patient("lanzhou", "M", 44, 14, ct="T4a", cn="N3", tumour_location="cervical")
    patient("lanzhou", "M", 36, 8, histology=adeno, tumour_location="lower_thoracic")
    # Entered while the blood panel was outstanding; completed when it came.
    patient(
        "wuwei",
        "F",
        41,
        16,
        Edit(
            ago(11),
            {
                "screening_date": ago(11).isoformat(),
                "labs_date": ago(11).isoformat(),
                "wbc": 5.6,
                "anc": 3.1,
            },
            "Blood panel results received.",
        ),
        labs_date=None,
        wbc=None,
        anc=None,
    )
    # An ALT typed ten times too high, corrected: screen failed, then in review.
    patient(
        "wuwei",
        "F",
        70,
        38,
        Edit(ago(36), {"alt": 80}, "ALT was typed as 800; the laboratory report says 80 U/L."),
        alt=800,
    )
    # Possible duplicates (PROTOCOL section 3a): same name, birth date and sex under another
    # hospital number, at the other site ...
    namesake = patient("lanzhou", "M", 66, 21, ct="T3", cn="N1")
    patient("wuwei", "M", 66, 19, duplicate_of=namesake, pathology_confirmed="unknown")
    # ... and at the same site, entered twice and withdrawn as a duplicate.
    entered_twice = patient("wuwei", "M", 57, 25, ct="T3", cn="N2")
    patient(
        "wuwei",
        "M",
        57,
        24,
        Withdraw(
            ago(23),
            "duplicate_referral",
            "Same patient as the referral entered the day before under his outpatient number.",
        ),
        duplicate_of=entered_twice,
    )

    # Withdrawn before the MDT met, or while incomplete.
    patient(
        "lanzhou",
        "M",
        63,
        55,
        Withdraw(ago(50), "patient_choice", "Chose surgery at a hospital in Xi'an."),
    )
    patient(
        "wuwei",
        "M",
        58,
        130,
        Withdraw(ago(126), "died", "Died of a massive upper GI haemorrhage before the MDT met."),
    )
    patient(
        "wuwei",
        "M",
        48,
        110,
        Withdraw(
            ago(80), "lost_to_follow_up", "Did not return for blood tests; not reachable by phone."
        ),
        labs_date=None,
        wbc=None,
        anc=None,
    )

    # Incomplete: each with something else missing.
    patient("wuwei", "M", 64, 5, labs_date=None, wbc=None, anc=None, platelets=None)
    patient("lanzhou", "F", 38, 4, pregnant_or_breastfeeding="unknown")
    patient("wuwei", "M", 55, 2, cn="NX")
    patient("wuwei", "M", 59, 7, pathology_confirmed="unknown")
    patient("lanzhou", "M", 67, 13, ecog=None, prior_esophageal_radiotherapy="unknown")
    patient("wuwei", "F", 62, 18, labs_ago=58)
    patient("lanzhou", "M", 52, 1, ct="TX", deep_ulceration="unknown")
    patient("wuwei", "M", 69, 0, interstitial_lung_disease="unknown", lvef_percent=58)

    # Ineligible, for a variety of criteria.
    patient("wuwei", "M", 74, 176)
    patient("lanzhou", "M", 78, 168)
    patient("wuwei", "F", 76, 58, ecog=2)
    patient("wuwei", "M", 63, 163, ct="T2", cn="N0")
    patient("lanzhou", "M", 57, 147, cm="M1", cn="N2")
    patient("wuwei", "F", 66, 134, ct="T1b", cn="N0")
    patient("wuwei", "M", 61, 125, prior_esophageal_surgery="yes")
    patient("lanzhou", "M", 65, 117, alt=180, ast=150)
    patient("wuwei", "M", 68, 104, creatinine=190)
    patient("wuwei", "F", 59, 97, platelets=80)
    patient("lanzhou", "M", 50, 84, hemoglobin=8.2, hemoglobin_unit="g/dL")
    patient("wuwei", "M", 67, 76, ecog=2)
    patient("lanzhou", "M", 62, 66, lvef_percent=42)
    patient("wuwei", "M", 30, 52, pathology_confirmed="no", histology="unknown")
    patient("wuwei", "M", 64, 45, dosimetry_status="not_feasible")
    patient("lanzhou", "F", 58, 40, fistula_or_perforation="yes")
    patient("wuwei", "M", 60, 27, abdominal_lymph_node_metastasis="yes")
    patient("lanzhou", "M", 71, 22, cardiac_implantable_device="yes")
    patient("wuwei", "F", 53, 11, active_connective_tissue_disease="yes")
    return cases
