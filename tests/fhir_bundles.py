"""FHIR R4 Bundles as a hospital laboratory system exports them, so tests need no hospital.

``bundle(referral, results=...)`` builds a ``collection`` Bundle holding the referral's patient
(``Patient`` with resident ID, name and birth date) and one ``Observation`` per result, coded
in LOINC with a UCUM unit. Results are ``obs(key, value, unit, day=..., status=...)``.
"""

import datetime
import json

from django.utils import timezone

from screening import fhir_labs

LOINC = {key: code for code, key in fhir_labs.LOINC_KEYS.items()}

# A full panel that passes I4 and I5, in SI (UCUM codes) and in the conventional units.
SI_PANEL = {
    "alt": ("32", "U/L"),
    "ast": ("28", "U/L"),
    "total_bilirubin": ("12.3", "umol/L"),
    "creatinine": ("76", "umol/L"),
    "creatinine_clearance": ("95", "mL/min"),
    "wbc": ("6.1", "10*9/L"),
    "anc": ("3.4", "10*9/L"),
    "platelets": ("210", "10*9/L"),
    "hemoglobin": ("132", "g/L"),
}
CONVENTIONAL_PANEL = {
    "alt": ("32", "[IU]/L"),
    "ast": ("28", "U/L"),
    "total_bilirubin": ("0.8", "mg/dL"),
    "creatinine": ("1.1", "mg/dL"),
    "creatinine_clearance": ("95", "mL/min"),
    "wbc": ("6.1", "10*3/uL"),
    "anc": ("3.4", "10*3/uL"),
    "platelets": ("210", "10*3/uL"),
    "hemoglobin": ("13.2", "g/dL"),
}


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def obs(key, value, unit, *, day=None, status="final", code=None, ident=None, time="08:30:00"):
    """One result: ``key`` a lab key (or None with ``code`` for another LOINC code)."""
    return {
        "key": key,
        "code": code or LOINC[key],
        "value": value,
        "unit": unit,
        "day": day or days_ago(0),
        "status": status,
        "id": ident,
        "time": time,
    }


def panel(units_of=SI_PANEL, *, day=None, status="final", only=None) -> list[dict]:
    """A day's results for every key of ``units_of`` (or only those of ``only``)."""
    return [
        obs(key, value, unit, day=day, status=status)
        for key, (value, unit) in units_of.items()
        if only is None or key in only
    ]


def _observation(result: dict, index: int, patient_url: str) -> dict:
    ident = result["id"] or f"obs-{index + 1}"
    return {
        "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{index + 1:012d}",
        "resource": {
            "resourceType": "Observation",
            "id": ident,
            "status": result["status"],
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": result["code"]}]},
            "subject": {"reference": patient_url},
            "effectiveDateTime": f"{result['day'].isoformat()}T{result['time']}+08:00",
            "valueQuantity": {
                "value": float(result["value"]) if "." in result["value"] else int(result["value"]),
                "unit": result["unit"],
                "system": "http://unitsofmeasure.org",
                "code": result["unit"],
            },
        },
    }


def patient_resource(
    *, name: str, birth_date: datetime.date | str, national_id: str = "", system=None
) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": "patient-1",
        "name": [{"text": name, "family": name[:1], "given": [name[1:]]}],
        "birthDate": str(birth_date),
    }
    if national_id:
        resource["identifier"] = [
            {"system": system or fhir_labs.RESIDENT_ID_SYSTEMS[0], "value": national_id}
        ]
    return resource


def bundle_dict(referral=None, results=(), *, patient=None, extra=()) -> dict:
    """A Bundle for ``referral``'s patient (or ``patient``, a Patient resource) with
    ``results``; ``extra`` entries are appended as they are."""
    if patient is None:
        patient = patient_resource(
            name=referral.full_name,
            birth_date=referral.date_of_birth,
            national_id=referral.national_id,
        )
    patient_url = "urn:uuid:00000000-0000-4000-8000-000000000000"
    entries = [{"fullUrl": patient_url, "resource": patient}]
    entries += [_observation(result, index, patient_url) for index, result in enumerate(results)]
    entries += list(extra)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def bundle(referral=None, results=(), **options) -> str:
    """``bundle_dict`` as the JSON text of a file."""
    return json.dumps(bundle_dict(referral, results, **options), ensure_ascii=False, indent=1)
