"""Proof <-> numpy links of the flow symbolic checks: the expression a proof proved, lambdified, must equal the numpy
function users call at seeded random valid points (:func:`collapse_theory.claims.proved.numpy_link`).

Tolerance of the velocity (A_t, b_t): A_t = C_t Sigma_t^+ comes from an eigendecomposition of Sigma_t (backward
stable: relative error <= c d eps cond_2(Sigma_t)) of matrices formed with cancellation (C_t = t Sigma1 - (1-t) Sigma0:
relative error <= c eps (t ||Sigma1|| + (1-t) ||Sigma0||)/||C_t||); b_t = Delta - A_t m_t adds ||A_t|| ||m_t|| times that.
We accept c d eps (1 + cond_2(Sigma_t) + (t ||Sigma1|| + (1-t) ||Sigma0||)/||C_t||)(1 + ||m_t|| + ||Delta||/||A_t||),
c = 64, relative to max |[A_t | b_t]|.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ...theory.flow import gaussian as gf
from ...theory.flow import reflow as gr
from ..proved import exact_values, numpy_link

EPS = np.finfo(float).eps
C_ROUNDING = 64.0
LINK_ERRORS = (ArithmeticError, ValueError, TypeError)
_FAILED = {"ok": False, "numpy_max_err_over_tol": float("inf"), "numpy_points": 0}


def _spd(rng):
    theta = rng.uniform(0, np.pi)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    S = (R * 10 ** rng.uniform(-1, 1, 2)) @ R.T
    return 0.5 * (S + S.T)


def velocity_link(candidate, points: int = 12, seed: int = 8201) -> dict:
    """``candidate(m0, Sigma0, m1, Sigma1, t) -> (A_t, b_t)`` (sympy, generic symmetric 2 x 2 covariances) against
    :func:`gaussian.velocity_affine` for random non-commuting SPD pairs (eigenvalues log-uniform 1e-1..1e1), standard
    normal means and t uniform in 0.05..0.95."""
    p, r, u, w, t = sp.symbols("p r u w t", positive=True)
    q, v = sp.symbols("q v", real=True)
    m0 = sp.Matrix(sp.symbols("a1 a2", real=True))
    m1 = sp.Matrix(sp.symbols("b1 b2", real=True))
    symbols = (p, q, r, u, v, w, *m0, *m1, t)
    rng = np.random.default_rng(seed)
    pts, cases = [], []
    for _ in range(points):
        S0, S1 = _spd(rng), _spd(rng)
        mean0, mean1 = rng.standard_normal(2), rng.standard_normal(2)
        tt = float(rng.uniform(0.05, 0.95))
        pts.append((S0[0, 0], S0[0, 1], S0[1, 1], S1[0, 0], S1[0, 1], S1[1, 1], *mean0, *mean1, tt))
        cases.append((gf.GaussianEndpoints(mean0, S0, mean1, S1), tt))
    try:
        A, b = candidate(m0, sp.Matrix([[p, q], [q, r]]), m1, sp.Matrix([[u, v], [v, w]]), t)
        exact = exact_values(sp.Matrix.hstack(sp.Matrix(A), sp.Matrix(b)), symbols, pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    package, tol = [], []
    for ends, tt in cases:
        A_np, b_np = gf.velocity_affine(ends, tt)
        package.append(np.hstack([A_np, np.asarray(b_np)[:, None]]))
        cov_t = (1 - tt) ** 2 * ends.cov0 + tt ** 2 * ends.cov1
        C_t = tt * ends.cov1 - (1 - tt) * ends.cov0
        norm = np.linalg.norm
        cancel = (tt * norm(ends.cov1, 2) + (1 - tt) * norm(ends.cov0, 2)) / norm(C_t, 2)
        m_t = (1 - tt) * ends.m0 + tt * ends.m1
        A_norm = max(norm(A_np, 2), EPS)
        tol.append(C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(cov_t) + cancel)
                   * (1 + norm(m_t) + norm(ends.m1 - ends.m0) / A_norm))
    return numpy_link(exact, package, tol)


def drift_link(formulas: dict, seed: int = 8202) -> dict:
    """``formulas["log_det_drift"](n, d)`` and ``formulas["mean_error"](k, tr, n)`` (sympy) against the package's
    :func:`reflow.log_det_drift_per_round` (ddof 1) and :func:`reflow.reflow_expectations` ``mean_error_sq[k]`` at
    d = 1, 2, 3, n in d + 1..200 and k in 0..20 (seeded). Tolerance: the drift is a sum of 2d terms (digamma, logs), each
    evaluated to a few eps relative, so its error is <= c eps sum |terms|, taken relative to |drift| (c = 64); the mean
    error is a cumulative sum of k + 1 equal terms: c (k + 2) eps relative."""
    n_sym = sp.Symbol("n", positive=True)
    k_sym, tr_sym = sp.Symbol("k", integer=True, nonnegative=True), sp.Symbol("trS", positive=True)
    rng = np.random.default_rng(seed)
    exact, package, tol = [], [], []
    try:
        for d in (1, 2, 3):
            drift = formulas["log_det_drift"](n_sym, d)
            terms = sum(sp.Abs(sp.polygamma(0, (n_sym - i) / 2)) + sp.Abs(sp.log(2 / (n_sym - 1))) for i in range(1, d + 1))
            for n in sorted({int(v) for v in rng.integers(d + 1, 201, 4)}):
                value, size = exact_values(sp.Matrix([drift, terms]), (n_sym,), [(n,)])[0].ravel()
                exact.append(np.array(value))
                package.append(np.array(gr.log_det_drift_per_round(n, d, ddof=1)))
                tol.append(C_ROUNDING * EPS * size / max(abs(value), np.finfo(float).tiny))
        for _ in range(6):
            k, n, d = int(rng.integers(0, 21)), int(rng.integers(5, 201)), int(rng.integers(1, 4))
            Q, _r = np.linalg.qr(rng.standard_normal((d, d)))
            cov = (Q * 10 ** rng.uniform(-1, 1, d)) @ Q.T
            trace = float(np.trace(cov))
            exact.append(exact_values(formulas["mean_error"](k_sym, tr_sym, n_sym), (k_sym, tr_sym, n_sym),
                                      [(k, trace, n)])[0])
            package.append(np.array(gr.reflow_expectations(cov, n, k, ddof=1)["mean_error_sq"][k]))
            tol.append(C_ROUNDING * (k + 2) * EPS * (1 + d))
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)
