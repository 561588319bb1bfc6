"""Summaries of repeated measurements: the median, and whether the repetitions agree."""

import statistics

# Repetitions spread wider than this (coefficient of variation) are labelled noisy.
NOISY_CV = 0.10


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: ``fraction`` 0.95 gives the value 95 % of samples do not
    exceed."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict:
    """Median of the repetitions, their coefficient of variation and the noisy label."""
    median = statistics.median(values)
    spread = statistics.pstdev(values) / statistics.fmean(values) if len(values) > 1 else 0.0
    return {
        "median": median,
        "repetitions": values,
        "cv": spread,
        "noisy": spread > NOISY_CV,
    }
