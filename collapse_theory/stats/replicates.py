"""Replicate z-scores against a closed form, and the limit they must stay within.

A Monte-Carlo or trained check compares the mean of R independent replicates with a closed form at m points
(rounds x quantities x configurations). With z_j = (mean_j - expected_j) / (s_j / sqrt(R)) and Gaussian
replicates, each z_j is Student-t with R - 1 degrees of freedom under the closed form. Asking max_j |z_j| <= c
with one fixed c would make a false failure ever more likely as m grows; instead the limit is

    c(m, R) = t_{R-1}^{-1}(1 - a/2),   a = 1 - (1 - FAMILY_LEVEL)^(1/m)        (Sidak)

so that the probability of a false failure over all m comparisons is at most FAMILY_LEVEL when the
comparisons are independent (and Sidak is conservative for positively dependent ones, as rounds of one
trajectory are). Non-Gaussian replicate means are close to Gaussian at the R used here (central limit);
a check that uses an exact standard error instead of a replicate one passes ``replicates=None`` (normal limit).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

FAMILY_LEVEL = 1e-3
"""Probability of a false failure of one check over all its comparisons (one in a thousand runs)."""


def z_limit(n_comparisons: int, replicates: int | None, family_level: float = FAMILY_LEVEL) -> float:
    """c(m, R) = t_{R-1}^{-1}(1 - a/2) with a = 1 - (1 - family_level)^(1/m) (Sidak correction over m
    comparisons); the normal quantile when ``replicates`` is None (known standard errors)."""
    m = int(n_comparisons)
    if m < 1:
        raise ValueError(f"n_comparisons must be >= 1, got {n_comparisons!r}")
    if not 0.0 < family_level < 1.0:
        raise ValueError(f"family_level must lie in (0, 1), got {family_level!r}")
    per = -np.expm1(np.log1p(-family_level) / m)  # 1 - (1 - level)^(1/m), accurate for large m
    if replicates is None:
        return float(_st.norm.isf(per / 2))
    R = int(replicates)
    if R < 2:
        raise ValueError(f"replicates must be >= 2, got {replicates!r}")
    return float(_st.t.isf(per / 2, R - 1))


def z_scores(samples, expected, axis: int = 0) -> np.ndarray:
    """z = (mean - expected) / (std(ddof=1) / sqrt(R)) over the replicate axis (default: the first).

    ``expected`` broadcasts against the remaining axes. A zero spread gives z = 0 where the mean equals
    ``expected`` and +-inf elsewhere; a NaN anywhere stays NaN (and fails every limit, see :func:`max_abs_z`)."""
    x = np.asarray(samples, dtype=np.float64)
    R = x.shape[axis]
    if R < 2:
        raise ValueError(f"samples must hold at least 2 replicates along axis {axis}, got {R}")
    mean = x.mean(axis=axis)
    se = x.std(axis=axis, ddof=1) / np.sqrt(R)
    diff = mean - np.asarray(expected, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    z = np.where(se > 0, z, np.where(diff == 0, 0.0, np.copysign(np.inf, diff)))
    return np.where(np.isnan(diff) | np.isnan(se), np.nan, z)


def max_abs_z(*z_arrays) -> float:
    """max |z| over all given arrays (NaN counts as +inf, so it can never pass a |z| <= c test)."""
    worst = 0.0
    for z in z_arrays:
        a = np.abs(np.asarray(z, dtype=np.float64))
        if a.size == 0:
            continue
        if np.any(np.isnan(a)):
            return float("inf")
        worst = max(worst, float(a.max()))
    return worst


def summarise_z(z, limit: float) -> dict[str, float]:
    """{'max_abs_z', 'n_compared', 'n_over_limit', 'z_limit'} of a z array (for evidence dicts)."""
    a = np.abs(np.asarray(z, dtype=np.float64))
    a = np.where(np.isnan(a), np.inf, a)
    return {"max_abs_z": float(a.max()) if a.size else 0.0, "n_compared": int(a.size),
            "n_over_limit": int(np.sum(a > limit)), "z_limit": float(limit)}
