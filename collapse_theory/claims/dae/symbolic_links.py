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

from ...theory.dae import bounds, linear as linear_dae, recursion
from ..proved import exact_values, numpy_link, relative_condition

EPS = np.finfo(float).eps
C_ROUNDING = 64.0
LINK_ERRORS = (ArithmeticError, ValueError, TypeError)
"""A proved expression that cannot be evaluated at a valid point (complex value, division by zero) fails the link."""
FAILED = {"ok": False, "numpy_max_err_over_tol": float("inf"), "numpy_points": 0}
"""The link of a proved expression that cannot be evaluated (copy it: ``dict(FAILED)``)."""


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
        return dict(FAILED)
    package = [linear_dae.optimal_dae(S, sigma2) for S, sigma2 in mats]
    tol = [C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(S + sigma2 * np.eye(2))) for S, sigma2 in mats]
    return numpy_link(exact, package, tol)


def scalar_points(rng, points, lam_range=(-3, 3), s2_range=(-3, 1)):
    """``points`` pairs (lam, sigma2), log-uniform over 10^lam_range x 10^s2_range."""
    return [(float(10 ** rng.uniform(*lam_range)), float(10 ** rng.uniform(*s2_range))) for _ in range(points)]


def step_link(candidate, rule: str, points: int = 12, seed: int = 8102) -> dict:
    """``candidate(mu, sigma2)`` against one round of the package's recursion,
    ``recursion.dae_recursion([mu], sigma2, rounds=1, regime="replace", rule=rule).eigenvalues[1]``
    (mu log-uniform 1e-3..1e3, sigma2 1e-3..1e1)."""
    mu, s2 = sp.symbols("mu sigma2", positive=True)
    pts = scalar_points(_rng(seed), points)
    try:
        expr = sp.sympify(candidate(mu, s2))
        exact = exact_values(expr, (mu, s2), pts)
        kappa = relative_condition(expr, (mu, s2), pts)
    except LINK_ERRORS:
        return dict(FAILED)
    package = [recursion.dae_recursion(np.array([m]), v, 0.0, 1, "replace", rule).eigenvalues[1, 0] for m, v in pts]
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def fixed_point_link(candidate, renoise_map, points: int = 12, seed: int = 8103) -> dict:
    """``candidate(alpha, lam*, sigma2)`` = mu_inf against ``recursion.fixed_point_training_moment`` and
    f(mu_inf) = lambda_inf against ``recursion.fixed_point`` (renoise; alpha uniform 0.05..0.95, lam* log-uniform
    1e-3..1e3, sigma2 1e-3..1e1)."""
    a, lam, s2 = sp.symbols("alpha lam_star sigma2", positive=True)
    rng = _rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in scalar_points(rng, points)]
    try:
        mu_expr = sp.sympify(candidate(a, lam, s2))
        lam_expr = sp.sympify(renoise_map(mu_expr, s2))
        exact = exact_values(mu_expr, (a, lam, s2), pts) + exact_values(lam_expr, (a, lam, s2), pts)
        kappa = np.concatenate([relative_condition(mu_expr, (a, lam, s2), pts),
                                relative_condition(lam_expr, (a, lam, s2), pts)])
    except LINK_ERRORS:
        return dict(FAILED)
    package = ([recursion.fixed_point_training_moment(np.array([l_]), v, al, "renoise")[0] for al, l_, v in pts]
               + [recursion.fixed_point(np.array([l_]), v, al, "renoise")[0] for al, l_, v in pts])
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def synthetic_only_link(candidate, points: int = 12, seed: int = 8104) -> dict:
    """``candidate(alpha, lam*, sigma2)`` = mu_inf of the synthetic-only reading; lambda_inf = (mu_inf - alpha lam*)/
    (1 - alpha) against ``recursion.synthetic_only_fixed_point`` (alpha uniform 0.05..0.95, lam* log-uniform
    1e-3..1e3, sigma2 1e-3..1e1)."""
    a, lam, s2 = sp.symbols("alpha lam_star sigma2", positive=True)
    rng = _rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in scalar_points(rng, points)]
    try:
        lam_expr = (sp.sympify(candidate(a, lam, s2)) - a * lam) / (1 - a)
        exact = exact_values(lam_expr, (a, lam, s2), pts)
        kappa = relative_condition(lam_expr, (a, lam, s2), pts)
    except LINK_ERRORS:
        return dict(FAILED)
    package = [recursion.synthetic_only_fixed_point(np.array([l_]), v, al)[0] for al, l_, v in pts]
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def scalar_link(exprs_and_points, package) -> dict:
    """Exact values of each (expr, symbols, point) with the tolerance c eps (1 + kappa) of that point; a point where
    kappa is not finite (the proved value is 0 or undefined there) fails the link."""
    try:
        exact, tol = [], []
        for expr, symbols, point in exprs_and_points:
            expr = sp.sympify(expr)
            exact += exact_values(expr, symbols, [point])
            tol.append(float(C_ROUNDING * EPS * (1 + relative_condition(expr, symbols, [point])[0])))
    except LINK_ERRORS:
        return dict(FAILED)
    if not np.all(np.isfinite(tol)):
        return dict(FAILED)
    return numpy_link(exact, package, tol)


def collapse_bounds_link(candidate, points: int = 8, seed: int = 8105) -> dict:
    """``candidate(lam, sigma2)`` = rho, the gain, raised to the bounds of C-collapse, against
    :func:`recursion.collapse_bounds` (d = 1, lam log-uniform 1e-3..1e3, sigma2 1e-3..1e1, k uniform 0..40, both rules):
    rho0, lam rho0^p, (lam/sigma2) rho0^p and rho0^(k+1), p = k (renoise) or 2k (clean)."""
    lam, s2 = sp.symbols("lam sigma2", positive=True)
    rng = _rng(seed)
    items, package = [], []
    for rule in ("renoise", "clean"):
        for point in scalar_points(rng, points):
            k = int(rng.integers(0, 41))
            p = k if rule == "renoise" else 2 * k
            try:
                rho = sp.sympify(candidate(lam, s2))
            except LINK_ERRORS:
                return dict(FAILED)
            out = recursion.collapse_bounds(np.array([point[0]]), point[1], k, rule)
            for expr, value in ((rho, out["rho0"]), (lam * rho ** p, out["eigenvalue_max"][k]),
                                (lam / s2 * rho ** p, out["op_norm"][k]), (rho ** (k + 1), out["composed_op_norm"][k])):
                items.append((expr, (lam, s2), point))
                package.append(np.asarray(value, dtype=float).reshape(()))
    return scalar_link(items, package)


def rounds_bounds_link(lower, upper, rule: str, points: int = 12, seed: int = 8106) -> dict:
    """``lower(x0)``, ``upper(x0)`` (the proved bounds on N(x0)) against :func:`recursion.rounds_to_collapse_bounds`
    (renoise) or :func:`bounds.rounds_bounds` (clean), x0 log-uniform 1..1e6."""
    x0 = sp.Symbol("x0", positive=True)
    rng = _rng(seed)
    items, package = [], []
    for _ in range(points):
        x = float(10 ** rng.uniform(0, 6))
        lo, up = (recursion.rounds_to_collapse_bounds(np.array([x])) if rule == "renoise"
                  else bounds.rounds_bounds(np.array([x]), rule))
        try:
            items += [(lower(x0), (x0,), (x,)), (upper(x0), (x0,), (x,))]
        except LINK_ERRORS:
            return dict(FAILED)
        package += [np.asarray(lo, float).reshape(()), np.asarray(up, float).reshape(())]
    return scalar_link(items, package)


def doubly_exp_link(lower, upper, rule: str, points: int = 12, seed: int = 8107) -> dict:
    """log of ``lower(x, j)``, ``upper(x, j)`` against :func:`bounds.doubly_exponential_log_bounds` (x log-uniform
    1e-3..1, j uniform 0..6)."""
    x = sp.Symbol("x", positive=True)
    rng = _rng(seed)
    items, package = [], []
    for _ in range(points):
        xv, j = float(10 ** rng.uniform(-3, 0)), int(rng.integers(0, 7))
        lo, up = bounds.doubly_exponential_log_bounds(np.log(xv), j, rule)
        try:
            items += [(sp.expand_log(sp.log(lower(x, j)), force=True), (x,), (xv,)),
                      (sp.expand_log(sp.log(upper(x, j)), force=True), (x,), (xv,))]
        except LINK_ERRORS:
            return dict(FAILED)
        package += [np.asarray(lo, float).reshape(()), np.asarray(up, float).reshape(())]
    return scalar_link(items, package)


def accumulate_link(running_mean, points: int = 12, seed: int = 8108) -> dict:
    """``running_mean(A, k)`` at A = lam* (A_k >= A_0 = lam*) is the lower bound on mu_k, and g of it the lower bound on
    ||W_k||: against :func:`recursion.accumulate_bounds` (lam* log-uniform 1e-3..1e3, sigma2 1e-3..1e1, k 0..1000)."""
    lam, s2 = sp.symbols("lam sigma2", positive=True)
    rng = _rng(seed)
    items, package = [], []
    for point in scalar_points(rng, points):
        k = int(rng.integers(0, 1001))
        out = recursion.accumulate_bounds(np.array([point[0]]), point[1], k)
        try:
            mu = sp.sympify(running_mean(lam, k))
        except LINK_ERRORS:
            return dict(FAILED)
        items += [(mu, (lam, s2), point), (mu / (mu + s2), (lam, s2), point)]
        package += [np.asarray(out["training_eigenvalues"][k], float).reshape(()),
                    np.asarray(out["op_norm"][k], float).reshape(())]
    return scalar_link(items, package)


def fixed_point_rate_link(candidate, renoise_map, points: int = 12, seed: int = 8109) -> dict:
    """T'(lambda_inf) = (1 - alpha) f'(mu_inf), with f' the sympy derivative of the proved renoise map and mu_inf =
    ``candidate(alpha, lam*, sigma2)``, against :func:`recursion.fixed_point_rate` (renoise; alpha uniform 0.05..0.95,
    lam* log-uniform 1e-3..1e3, sigma2 1e-3..1e1); tolerance c eps (1 + kappa)."""
    a, lam, s2, mu = sp.symbols("alpha lam_star sigma2 mu", positive=True)
    rng = _rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in scalar_points(rng, points)]
    try:
        rate = ((1 - a) * sp.diff(renoise_map(mu, s2), mu)).subs(mu, sp.sympify(candidate(a, lam, s2)))
        exact = exact_values(rate, (a, lam, s2), pts)
        kappa = relative_condition(rate, (a, lam, s2), pts)
    except LINK_ERRORS:
        return dict(FAILED)
    package = [recursion.fixed_point_rate(np.array([l_]), v, al, "renoise")[0] for al, l_, v in pts]
    return numpy_link(exact, package, list(C_ROUNDING * EPS * (1 + kappa)))


def both_links(first: dict, second: dict) -> dict:
    """One link from two: passes iff both pass; worst ratio and points combined."""
    return {"ok": bool(first["ok"] and second["ok"]),
            "numpy_max_err_over_tol": max(first["numpy_max_err_over_tol"], second["numpy_max_err_over_tol"]),
            "numpy_points": first["numpy_points"] + second["numpy_points"]}
