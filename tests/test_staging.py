import itertools

import pytest

from screening.staging import NOT_ASSIGNABLE, stage_group

SCC = "squamous_cell_carcinoma"
ADENO = "adenocarcinoma"

T_VALUES = [None, "TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"]
N_VALUES = [None, "NX", "N0", "N1", "N2", "N3"]
T1 = ["T1", "T1a", "T1b"]  # T1a/T1b count as T1

# PROTOCOL section 5, row by row: (group, T values, N values), all M0.
SQUAMOUS_ROWS = [
    ("0", ["Tis"], ["N0"]),
    ("I", T1, ["N0", "N1"]),
    ("II", ["T2"], ["N0", "N1"]),
    ("II", ["T3"], ["N0"]),
    ("III", ["T3"], ["N1"]),
    ("III", [*T1, "T2", "T3"], ["N2"]),
    ("IVA", ["T4", "T4a", "T4b"], ["N0", "N1", "N2"]),
    ("IVA", T_VALUES, ["N3"]),
]
ADENOCARCINOMA_ROWS = [
    ("0", ["Tis"], ["N0"]),
    ("I", T1, ["N0"]),
    ("IIA", T1, ["N1"]),
    ("IIB", ["T2"], ["N0"]),
    ("III", ["T2"], ["N1"]),
    ("III", ["T3"], ["N0", "N1"]),
    ("III", ["T4a"], ["N0", "N1"]),
    ("IVA", [*T1, "T2", "T3", "T4a"], ["N2"]),
    ("IVA", ["T4b"], ["N0", "N1", "N2"]),
    ("IVA", ["T4"], ["N2"]),  # T4a or T4b: IVA either way
    ("IVA", T_VALUES, ["N3"]),
]


def _expected(rows):
    table = {}
    for group, ts, ns in rows:
        for t, n in itertools.product(ts, ns):
            assert (t, n) not in table, f"row overlap at {t} {n}"
            table[t, n] = group
    return table


@pytest.mark.parametrize(
    ("histology", "rows"),
    [(SCC, SQUAMOUS_ROWS), (ADENO, ADENOCARCINOMA_ROWS)],
    ids=["scc", "adeno"],
)
@pytest.mark.parametrize(("ct", "cn"), list(itertools.product(T_VALUES, N_VALUES)))
def test_every_m0_combination_follows_the_table(histology, rows, ct, cn):
    """Every listed combination gets its group; every unlisted one is not assignable."""
    expected = _expected(rows).get((ct, cn), NOT_ASSIGNABLE)
    assert stage_group(histology, ct, cn, "M0") == expected


@pytest.mark.parametrize(
    ("histology", "ct", "cn", "group"),
    [
        (SCC, "T3", "N2", "III"),
        (SCC, "T2", "N0", "II"),
        (SCC, "T4a", "N0", "IVA"),
        (SCC, "T1b", "N1", "I"),
        (ADENO, "T1a", "N1", "IIA"),
        (ADENO, "T2", "N0", "IIB"),
        (ADENO, "T4a", "N1", "III"),
        (ADENO, "T4b", "N0", "IVA"),
    ],
)
def test_examples_a_clinician_would_check(histology, ct, cn, group):
    assert stage_group(histology, ct, cn, "M0") == group


@pytest.mark.parametrize("histology", [SCC, ADENO])
@pytest.mark.parametrize("ct", T_VALUES)
@pytest.mark.parametrize("cn", N_VALUES)
def test_m1_is_ivb_whatever_t_and_n(histology, ct, cn):
    assert stage_group(histology, ct, cn, "M1") == "IVB"


@pytest.mark.parametrize("histology", [SCC, ADENO])
def test_missing_m_is_not_assignable(histology):
    assert stage_group(histology, "T3", "N1", None) == NOT_ASSIGNABLE


@pytest.mark.parametrize("histology", ["other", "unknown", None])
@pytest.mark.parametrize("cm", ["M0", "M1"])
def test_other_histology_is_not_assignable(histology, cm):
    assert stage_group(histology, "T3", "N3", cm) == NOT_ASSIGNABLE


@pytest.mark.parametrize("histology", [SCC, ADENO])
@pytest.mark.parametrize("ct", ["TX", "T0", "Tis", None])
def test_n3_is_iva_for_any_t(histology, ct):
    assert stage_group(histology, ct, "N3", "M0") == "IVA"


@pytest.mark.parametrize("histology", [SCC, ADENO])
@pytest.mark.parametrize(
    ("ct", "cn"), [("TX", "N0"), ("T0", "N1"), ("T2", "NX"), (None, "N1"), ("T3", None)]
)
def test_unassessed_t_or_n_is_not_assignable(histology, ct, cn):
    assert stage_group(histology, ct, cn, "M0") == NOT_ASSIGNABLE


@pytest.mark.parametrize("cn", ["N0", "N1"])
def test_adenocarcinoma_t4_without_a_or_b_is_not_assignable_below_n2(cn):
    assert stage_group(ADENO, "T4", cn, "M0") == NOT_ASSIGNABLE
    assert stage_group(SCC, "T4", cn, "M0") == "IVA"


@pytest.mark.parametrize("histology", [SCC, ADENO])
def test_combination_not_in_the_tables_is_not_assignable(histology):
    assert stage_group(histology, "Tis", "N1", "M0") == NOT_ASSIGNABLE
    assert stage_group(histology, "T5", "N0", "M0") == NOT_ASSIGNABLE
