"""AJCC 8th edition clinical stage group for esophageal cancer (PROTOCOL section 5).

Shown next to the criteria, never used to decide them. Pure Python.
"""

from __future__ import annotations

NOT_ASSIGNABLE = "not assignable"

STAGE_GROUPS = ("0", "I", "II", "IIA", "IIB", "III", "IVA", "IVB")

_T_ALIASES = {"T1a": "T1", "T1b": "T1"}

# (T, N) -> group, M0 only; N3 and M1 are handled before the lookup.
_SQUAMOUS = {
    ("Tis", "N0"): "0",
    ("T1", "N0"): "I",
    ("T1", "N1"): "I",
    ("T2", "N0"): "II",
    ("T2", "N1"): "II",
    ("T3", "N0"): "II",
    ("T3", "N1"): "III",
    ("T1", "N2"): "III",
    ("T2", "N2"): "III",
    ("T3", "N2"): "III",
    **{(t, n): "IVA" for t in ("T4", "T4a", "T4b") for n in ("N0", "N1", "N2")},
}

_ADENOCARCINOMA = {
    ("Tis", "N0"): "0",
    ("T1", "N0"): "I",
    ("T1", "N1"): "IIA",
    ("T2", "N0"): "IIB",
    ("T2", "N1"): "III",
    ("T3", "N0"): "III",
    ("T3", "N1"): "III",
    ("T4a", "N0"): "III",
    ("T4a", "N1"): "III",
    **{(t, "N2"): "IVA" for t in ("T1", "T2", "T3", "T4a", "T4b", "T4")},
    ("T4b", "N0"): "IVA",
    ("T4b", "N1"): "IVA",
}

_TABLES = {"squamous_cell_carcinoma": _SQUAMOUS, "adenocarcinoma": _ADENOCARCINOMA}


def stage_group(histology: str | None, ct: str | None, cn: str | None, cm: str | None) -> str:
    """Clinical stage group ("0", "I", "II", "IIA", "IIB", "III", "IVA", "IVB") or NOT_ASSIGNABLE.

    Decisions where section 5 is silent:
    - histology other than squamous_cell_carcinoma / adenocarcinoma ("other", "unknown",
      None) is not assignable: AJCC 8th has no table for it;
    - cm missing is not assignable; cm M1 is IVB whatever T and N (TX and NX included);
    - N3 (with M0) is IVA for any T, including TX, T0, Tis and a missing T;
    - otherwise TX, T0, NX or a missing T or N is not assignable;
    - T1a and T1b count as T1; for squamous cell, T4 (a, b or unspecified) is one group;
    - adenocarcinoma "T4" without a/b: N0-1 is not assignable (T4a gives III, T4b IVA),
      N2 is IVA either way;
    - any combination the tables do not list (e.g. Tis N1) is not assignable.
    """
    table = _TABLES.get(histology)
    if table is None or cm not in ("M0", "M1"):
        return NOT_ASSIGNABLE
    if cm == "M1":
        return "IVB"
    if cn == "N3":
        return "IVA"
    t = _T_ALIASES.get(ct, ct)
    return table.get((t, cn), NOT_ASSIGNABLE)
