"""Proof <-> numpy links of the DAE symbolic checks: the expression a proof proved, lambdified, must equal the numpy
function users call at seeded random valid points (:func:`collapse_theory.claims.proved.numpy_link`).

Tolerances (float rounding only; the exact values carry ~1e-40 relative error): a backward-stable evaluation of a
scalar map has relative error <= c eps (1 + kappa), kappa the relative condition number of the proved expression
(:func:`~collapse_theory.claims.proved.relative_condition`); we take c = 64. The matrix W* = S (S + sigma2 I)^-1 comes
from a linear solve: normwise relative error <= c d eps (1 + cond_2(S + sigma2 I)), c = 64.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ...theory.dae import linear as linear_dae, recursion
from ..proved import exact_values, numpy_link, relative_condition

EPS = np.finfo(float).eps
C_ROUNDING = 64.0
LINK_ERRORS = (ArithmeticError, ValueError, TypeError)
"""A proved expression that cannot be evaluated at a valid point (complex value, division by zero) fails the link."""
_FAILED = {"ok": False, "numpy_max_err_over_tol": float("inf"), "numpy_points": 0}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def wiener_link(candidate, points: int = 12, seed: int = 8101) -> dict:
    """``candidate(S, sigma2)`` (sympy, S = [[a, b], [b, c]]) against :func:`linear_dae.optimal_dae` for random SPD S
    (eigenvalues log-uniform 1e-2..1e2, random rotation) and sigma2 log-uniform 1e-3..1e1."""
    a, c, s2 = sp.symbols("a c sigma2", positive=True)
    b = sp.Symbol("b", real=True)
    rng = _rng(seed)
    pts, mats = [], []
    for _ in range(points):
        theta = rng.uniform(0, np.pi)
        R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        S = (R * 10 ** rng.uniform(-2, 2, 2)) @ R.T
        S = 0.5 * (S + S.T)
        sigma2 = float(10 ** rng.uniform(-3, 1))
        pts.append((S[0, 0], S[0, 1], S[1, 1], sigma2))
        mats.append((S, sigma2))
    try:
        exact = exact_values(sp.Matrix(candidate(sp.Matrix([[a, b], [b, c]]), s2)), (a, b, c, s2), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    package = [linear_dae.optimal_dae(S, sigma2) for S, sigma2 in mats]
    tol = [C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(S + sigma2 * np.eye(2))) for S, sigma2 in mats]
    return numpy_link(exact, package, tol)


def _scalar_points(rng, points, lam_range=(-3, 3), s2_range=(-3, 1)):
    return [(float(10 ** rng.uniform(*lam_range)), float(10 ** rng.uniform(*s2_range))) for _ in range(points)]


def step_link(candidate, rule: str, points: int = 12, seed: int = 8102) -> dict:
    """``candidate(mu, sigma2)`` against one round of the package's recursion,
    ``recursion.dae_recursion([mu], sigma2, rounds=1, regime="replace", rule=rule).eigenvalues[1]``
    (mu log-uniform 1e-3..1e3, sigma2 1e-3..1e1)."""
    mu, s2 = sp.symbols("mu sigma2", positive=True)
    pts = _scalar_points(_rng(seed), points)
    try:
        expr = sp.sympify(candidate(mu, s2))
        exact = exact_values(expr, (mu, s2), pts)
        kappa = relative_condition(expr, (mu, s2), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    package = [recursion.dae_recursion(np.array([m]), v, 0.0, 1, "replace", rule).eigenvalues[1, 0] for m, v in pts]
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def fixed_point_link(candidate, renoise_map, points: int = 12, seed: int = 8103) -> dict:
    """``candidate(alpha, lam*, sigma2)`` = mu_inf against ``recursion.fixed_point_training_moment`` and
    f(mu_inf) = lambda_inf against ``recursion.fixed_point`` (renoise; alpha uniform 0.05..0.95, lam* log-uniform
    1e-3..1e3, sigma2 1e-3..1e1)."""
    a, lam, s2 = sp.symbols("alpha lam_star sigma2", positive=True)
    rng = _rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in _scalar_points(rng, points)]
    try:
        mu_expr = sp.sympify(candidate(a, lam, s2))
        lam_expr = sp.sympify(renoise_map(mu_expr, s2))
        exact = exact_values(mu_expr, (a, lam, s2), pts) + exact_values(lam_expr, (a, lam, s2), pts)
        kappa = np.concatenate([relative_condition(mu_expr, (a, lam, s2), pts),
                                relative_condition(lam_expr, (a, lam, s2), pts)])
    except LINK_ERRORS:
        return dict(_FAILED)
    package = ([recursion.fixed_point_training_moment(np.array([l_]), v, al, "renoise")[0] for al, l_, v in pts]
               + [recursion.fixed_point(np.array([l_]), v, al, "renoise")[0] for al, l_, v in pts])
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def synthetic_only_link(candidate, points: int = 12, seed: int = 8104) -> dict:
    """``candidate(alpha, lam*, sigma2)`` = mu_inf of the synthetic-only reading; lambda_inf = (mu_inf - alpha lam*)/
    (1 - alpha) against ``recursion.synthetic_only_fixed_point`` (alpha uniform 0.05..0.95, lam* log-uniform
    1e-3..1e3, sigma2 1e-3..1e1)."""
    a, lam, s2 = sp.symbols("alpha lam_star sigma2", positive=True)
    rng = _rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in _scalar_points(rng, points)]
    try:
        lam_expr = (sp.sympify(candidate(a, lam, s2)) - a * lam) / (1 - a)
        exact = exact_values(lam_expr, (a, lam, s2), pts)
        kappa = relative_condition(lam_expr, (a, lam, s2), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    package = [recursion.synthetic_only_fixed_point(np.array([l_]), v, al)[0] for al, l_, v in pts]
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))
