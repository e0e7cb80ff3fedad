"""What a proof of :mod:`collapse_theory.proofs` shows, as a check :class:`~.registry.Outcome` (the symbolic tier).

:func:`proof_outcome` turns a proof's result dict into the check's outcome: passed iff every step is proved; evidence
``steps_proved``/``steps``, the failed steps and the first residual (or error message).

A symbolic pass should also certify the numpy code users call: :func:`numpy_link` compares the proved expression,
lambdified and evaluated in 40-digit arithmetic (:func:`exact_values`), with the package's numpy function at seeded
random valid points, within a float tolerance c eps (1 + condition number) (:func:`relative_condition`);
:func:`linked_outcome` requires both.
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from .registry import Outcome


def proof_outcome(result: dict) -> Outcome:
    """``Outcome(passed = result["proved"])`` with evidence: steps proved / total, the failed steps, a residual."""
    steps = result["steps"]
    failed = [name for name, ok in steps.items() if not ok]
    evidence = {"steps_proved": sum(steps.values()), "steps": len(steps)}
    if failed:
        evidence["failed"] = ",".join(failed)[:200]
        first = next((result["residuals"][n] for n in failed if n in result["residuals"]), None)
        if first is None:
            first = next((result["errors"][n] for n in failed if n in result["errors"]), "")
        evidence["residual"] = str(first)[:160]
    else:
        evidence["residual"] = "0"
    return Outcome(passed=bool(result["proved"]), evidence=evidence)


# --------------------------------------------------------------------------------------------- proof <-> numpy links

def exact_values(expr, symbols, points, digits: int = 40) -> list[np.ndarray]:
    """``sympy.lambdify(symbols, expr, "mpmath")`` evaluated at each float point with ``digits`` significant digits.

    Float inputs are exact binary fractions, so the values are the proved expression at exactly the inputs numpy gets,
    correct to ~10^-digits: any larger difference is numpy's own rounding (or a wrong numpy formula)."""
    fn = sp.lambdify(symbols, expr, modules="mpmath")
    out = []
    with mpmath.workdps(digits):
        for point in points:
            value = fn(*[mpmath.mpf(float(v)) for v in point])
            if isinstance(value, mpmath.matrix):
                value = value.tolist()
            out.append(np.array(value, dtype=float) if not isinstance(value, (list, tuple))
                       else np.array([[float(x) for x in row] if isinstance(row, (list, tuple)) else float(row)
                                      for row in value], dtype=float))
    return out


def relative_condition(expr, symbols, points, digits: int = 40) -> np.ndarray:
    """kappa = sum_p |p df/dp| / |f| of a scalar expression at each point: the relative condition number, so a
    backward-stable float evaluation has relative error <= c eps (1 + kappa)."""
    kappa = sum(sp.Abs(s * sp.diff(expr, s)) for s in symbols) / sp.Abs(expr)
    return np.array([float(v) for v in exact_values(kappa, symbols, points, digits)])


def numpy_link(candidate: list[np.ndarray], package: list[np.ndarray], tolerance: list[float]) -> dict:
    """Compare the proved expression's exact values with the package's numpy values point by point: passes iff
    max |package - candidate| / max(|candidate|) <= tolerance at every point (tolerances derived by the caller from
    eps x a condition number). Returns ``{"ok": bool, "numpy_max_err_over_tol": float, "numpy_points": int}``;
    a NaN, a shape mismatch or a non-finite value fails the link."""
    worst = 0.0
    ok = True
    for exact, value, tol in zip(candidate, package, tolerance):
        exact, value = np.asarray(exact, dtype=float), np.asarray(value, dtype=float)
        if exact.shape != value.shape or not (np.all(np.isfinite(exact)) and np.all(np.isfinite(value))):
            ok, worst = False, float("inf")
            continue
        err = float(np.max(np.abs(value - exact)) / max(float(np.max(np.abs(exact))), np.finfo(float).tiny))
        ratio = float(err / tol)
        worst = max(worst, ratio)
        ok &= ratio <= 1.0
    return {"ok": bool(ok and candidate), "numpy_max_err_over_tol": worst, "numpy_points": len(candidate)}


def linked_outcome(result: dict, link: dict) -> Outcome:
    """:func:`proof_outcome` of ``result`` that also requires the numpy link; its evidence carries the link's numbers."""
    outcome = proof_outcome(result)
    evidence = {**outcome.evidence, "numpy_max_err_over_tol": link["numpy_max_err_over_tol"],
                "numpy_points": link["numpy_points"]}
    return Outcome(outcome.passed and link["ok"], evidence)
