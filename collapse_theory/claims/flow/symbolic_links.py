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
from ...proofs.flow import clean_predictor_gain
from ..proved import exact_values, numpy_link, relative_condition

EPS = np.finfo(float).eps
C_ROUNDING = 64.0
LINK_ERRORS = (ArithmeticError, ValueError, TypeError)
_FAILED = {"ok": False, "numpy_max_err_over_tol": float("inf"), "numpy_points": 0}


def _spd(rng, decades: float = 1.0):
    """A random symmetric PD 2 x 2 matrix: random rotation, eigenvalues log-uniform 10^-decades..10^decades."""
    theta = rng.uniform(0, np.pi)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    S = (R * 10 ** rng.uniform(-decades, decades, 2)) @ R.T
    return 0.5 * (S + S.T)


def _endpoint_symbols():
    """Sympy stand-ins for two Gaussian endpoints in R^2 and a time: (symbols in point order, m0, Sigma0, m1, Sigma1,
    t) with Sigma0 = [[p, q], [q, r]], Sigma1 = [[u, v], [v, w]]."""
    p, r, u, w, t = sp.symbols("p r u w t", positive=True)
    q, v = sp.symbols("q v", real=True)
    m0 = sp.Matrix(sp.symbols("a1 a2", real=True))
    m1 = sp.Matrix(sp.symbols("b1 b2", real=True))
    return (p, q, r, u, v, w, *m0, *m1, t), m0, sp.Matrix([[p, q], [q, r]]), m1, sp.Matrix([[u, v], [v, w]]), t


def _endpoint_cases(rng, points: int, t_low: float, t_high: float):
    """``points`` random endpoint pairs (non-commuting SPD covariances, :func:`_spd`; standard normal means) and
    times uniform in [t_low, t_high]: (float points in :func:`_endpoint_symbols` order, [(GaussianEndpoints, t)])."""
    pts, cases = [], []
    for _ in range(points):
        S0, S1 = _spd(rng), _spd(rng)
        mean0, mean1 = rng.standard_normal(2), rng.standard_normal(2)
        tt = float(rng.uniform(t_low, t_high))
        pts.append((S0[0, 0], S0[0, 1], S0[1, 1], S1[0, 0], S1[0, 1], S1[1, 1], *mean0, *mean1, tt))
        cases.append((gf.GaussianEndpoints(mean0, S0, mean1, S1), tt))
    return pts, cases


def velocity_link(candidate, points: int = 12, seed: int = 8201) -> dict:
    """``candidate(m0, Sigma0, m1, Sigma1, t) -> (A_t, b_t)`` (sympy, generic symmetric 2 x 2 covariances) against
    :func:`gaussian.velocity_affine` for random non-commuting SPD pairs (eigenvalues log-uniform 1e-1..1e1), standard
    normal means and t uniform in 0.05..0.95."""
    symbols, m0, cov0, m1, cov1, t = _endpoint_symbols()
    pts, cases = _endpoint_cases(np.random.default_rng(seed), points, 0.05, 0.95)
    try:
        A, b = candidate(m0, cov0, m1, cov1, t)
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
            terms = sum(sp.Abs(sp.polygamma(0, (n_sym - i) / 2)) + sp.Abs(sp.log(2 / (n_sym - 1)))
                        for i in range(1, d + 1))
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


def _factor_case(rng):
    """A random factor pair: P with singular values log-uniform 10^-0.5..10^0.5 (random rotations), w log-uniform
    0.3..3, Sigma0 = P P^T, Sigma1 = P diag(w^2) P^T (non-commuting in general)."""
    def rot():
        th = rng.uniform(0, 2 * np.pi)
        return np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    P = (rot() * 10 ** rng.uniform(-0.5, 0.5, 2)) @ rot()
    w = 10 ** rng.uniform(np.log10(0.3), np.log10(3.0), 2)
    S0, S1 = P @ P.T, (P * w ** 2) @ P.T
    return P, w, gf.GaussianEndpoints(rng.standard_normal(2), 0.5 * (S0 + S0.T), rng.standard_normal(2),
                                      0.5 * (S1 + S1.T))


def _factor_symbols():
    P = sp.Matrix(2, 2, sp.symbols("p11 p12 p21 p22", real=True))
    return P, sp.symbols("w1 w2", positive=True), sp.Symbol("t", positive=True)


def marginal_link(candidate, points: int = 12, seed: int = 8203) -> dict:
    """``candidate(m0, Sigma0, m1, Sigma1, t) -> (m_t, Sigma_t)`` (sympy, generic symmetric 2 x 2 covariances) against
    :func:`gaussian.marginal`. Tolerance: m_t and Sigma_t are sums of two scaled terms, so each entry has error
    <= c eps (|(1-t) m0| + |t m1| + (1-t)^2 ||Sigma0|| + t^2 ||Sigma1||), relative to max |[m_t | Sigma_t]|."""
    symbols, m0, cov0, m1, cov1, t = _endpoint_symbols()
    pts, cases = _endpoint_cases(np.random.default_rng(seed), points, 0.0, 1.0)
    package, tol = [], []
    for ends, tt in cases:
        m_t, S_t = gf.marginal(ends, tt)
        out = np.hstack([np.asarray(m_t)[:, None], S_t])
        package.append(out)
        size = (np.abs((1 - tt) * ends.m0).max() + np.abs(tt * ends.m1).max()
                + (1 - tt) ** 2 * np.abs(ends.cov0).max() + tt ** 2 * np.abs(ends.cov1).max())
        tol.append(C_ROUNDING * EPS * size / np.abs(out).max())
    try:
        m_t, S_t = candidate(m0, cov0, m1, cov1, t)
        exact = exact_values(sp.Matrix.hstack(sp.Matrix(m_t), sp.Matrix(S_t)), symbols, pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)


def flow_map_link(candidate, points: int = 12, seed: int = 8204) -> dict:
    """``candidate(P, (w1, w2), t) -> M_t`` (sympy) against ``gaussian.flow_affine(ends, t, "closed")[0]`` with
    Sigma0 = P P^T, Sigma1 = P diag(w^2) P^T (the package computes Sigma0^{1/2} G_t^{1/2} Sigma0^{-1/2} from
    eigendecompositions: normwise relative error <= c d eps (1 + cond(Sigma0)) (1 + cond(G_t)), c = 64)."""
    P_sym, w_sym, t_sym = _factor_symbols()
    rng = np.random.default_rng(seed)
    pts, package, tol = [], [], []
    for _ in range(points):
        P, w, ends = _factor_case(rng)
        tt = float(rng.uniform(0.05, 1.0))
        pts.append((*P.ravel(), *w, tt))
        package.append(gf.flow_affine(ends, tt, "closed")[0])
        inv_root = np.linalg.inv(np.linalg.cholesky(ends.cov0))
        G = (1 - tt) ** 2 * np.eye(2) + tt ** 2 * inv_root @ ends.cov1 @ inv_root.T
        tol.append(C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(ends.cov0)) * (1 + np.linalg.cond(G)))
    try:
        exact = exact_values(sp.Matrix(candidate(P_sym, w_sym, t_sym)), (*P_sym, *w_sym, t_sym), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)


def straightness_link(candidate, points: int = 12, seed: int = 8205) -> dict:
    """``candidate(w)`` (straightness of one direction with B-eigenvalue w^2 and unit weight) summed with the weights
    omega_i = (P^T P)_ii, S = sum_i omega_i candidate(w_i), against :func:`gaussian.straightness` for
    Sigma0 = P P^T, Sigma1 = P diag(w^2) P^T (the package takes tr(Sigma0 # Sigma1) from eigendecompositions:
    relative error <= c d eps (1 + cond(Sigma0)) (1 + cond(B)), c = 64)."""
    P_sym, w_sym, _t = _factor_symbols()
    omega = (P_sym.T * P_sym).diagonal()
    rng = np.random.default_rng(seed)
    pts, package, tol = [], [], []
    for _ in range(points):
        P, w, ends = _factor_case(rng)
        pts.append((*P.ravel(), *w))
        package.append(np.array(gf.straightness(ends)))
        tol.append(C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(ends.cov0)) * (1 + (w.max() / w.min()) ** 2))
    try:
        expr = sum(omega[i] * candidate(w_sym[i]) for i in range(2))
        exact = exact_values(expr, (*P_sym, *w_sym), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)


def ra_stationary_link(candidate, points: int = 12, seed: int = 8206) -> dict:
    """``candidate(Sc, n, a)`` (the proved Sigma_inf per direction) against :func:`reflow.ra_stationary_covariance`
    (ddof 1) for a random 2 x 2 scatter Sc (applied entrywise: the recursion acts on multiples of Sc), n in 3..200 and
    a in 1..n. Tolerance c eps (1 + kappa), kappa the relative condition number of the proved expression in (Sc, n, a)
    (the denominator cancels for a -> n), c = 64."""
    sc, n_sym, a_sym = sp.symbols("Sc n a", positive=True)
    rng = np.random.default_rng(seed)
    try:
        expr = sp.sympify(candidate(sc, n_sym, a_sym))
    except LINK_ERRORS:
        return dict(_FAILED)
    exact, package, tol = [], [], []
    for _ in range(points):
        n = int(rng.integers(3, 201))
        a = int(rng.integers(1, n + 1))
        S = _spd(rng)
        try:
            exact.append(np.array([[exact_values(expr, (sc, n_sym, a_sym), [(v, n, a)])[0] for v in row] for row in S]))
            kappa = max(float(relative_condition(expr, (sc, n_sym, a_sym), [(1.0, n, a)])[0]), 0.0)
        except LINK_ERRORS:
            return dict(_FAILED)
        package.append(gr.ra_stationary_covariance(S, n, a, ddof=1))
        tol.append(C_ROUNDING * EPS * (1 + kappa))
    return numpy_link(exact, package, tol)


def reverse_link(candidate, points: int = 12, seed: int = 8207) -> dict:
    """``candidate(P, (w1, w2), m0, m1, x)`` = T^{-1}(x) (sympy) against ``gaussian.reverse_map(ends, x, "closed")``
    with Sigma0 = P P^T, Sigma1 = P diag(w^2) P^T (M_1^{-1} from eigendecompositions and an inverse: error <=
    c d eps (1 + cond(Sigma0)) (1 + cond(B)) cond(M_1) (||m0|| + ||m1|| + ||x||) relative to ||T^{-1}(x)||, c = 64)."""
    P_sym, w_sym, _t = _factor_symbols()
    m0 = sp.Matrix(sp.symbols("a1 a2", real=True))
    m1 = sp.Matrix(sp.symbols("b1 b2", real=True))
    x = sp.Matrix(sp.symbols("x1 x2", real=True))
    rng = np.random.default_rng(seed)
    pts, package, tol = [], [], []
    for _ in range(points):
        P, w, ends = _factor_case(rng)
        xv = ends.m1 + rng.standard_normal(2)
        pts.append((*P.ravel(), *w, *ends.m0, *ends.m1, *xv))
        out = gf.reverse_map(ends, xv[None, :], "closed")[0]
        package.append(out[:, None])
        M1 = gf.flow_affine(ends, 1.0, "closed")[0]
        size = (np.linalg.norm(ends.m0) + np.linalg.norm(ends.m1) + np.linalg.norm(xv)) / max(np.linalg.norm(out), EPS)
        tol.append(C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(ends.cov0)) * (1 + (w.max() / w.min()) ** 2)
                   * np.linalg.cond(M1) * (1 + size))
    try:
        exact = exact_values(sp.Matrix(candidate(P_sym, w_sym, m0, m1, x)), (*P_sym, *w_sym, *m0, *m1, *x), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)


def not_ot_link(candidate, points: int = 12, seed: int = 8208) -> dict:
    """``candidate(P, Q) -> M_1`` (sympy, generic symmetric 2 x 2 P, Q) against ``gaussian.flow_affine(ends, 1,
    "closed")[0]`` for Sigma0 = P^2, Sigma1 = P Q^2 P with P, Q random SPD (random rotations, eigenvalues log-uniform
    10^-0.5..10^0.5: non-commuting pairs): then Sigma0^{1/2} = P and B = Sigma0^{-1/2} Sigma1 Sigma0^{-1/2} = Q^2, so
    the package's Sigma0^{1/2} B^{1/2} Sigma0^{-1/2} is the proved P Q P^-1. Tolerance as :func:`flow_map_link` at
    t = 1 (G_1 = B): c d eps (1 + cond(Sigma0)) (1 + cond(B)), c = 64."""
    p, q, r, u, v, w = sp.symbols("p q r u v w", real=True)
    rng = np.random.default_rng(seed)
    pts, package, tol = [], [], []
    for _ in range(points):
        P, Q = _spd(rng, 0.5), _spd(rng, 0.5)
        S0, S1 = P @ P, P @ Q @ Q @ P
        ends = gf.GaussianEndpoints(rng.standard_normal(2), 0.5 * (S0 + S0.T), rng.standard_normal(2),
                                    0.5 * (S1 + S1.T))
        pts.append((P[0, 0], P[0, 1], P[1, 1], Q[0, 0], Q[0, 1], Q[1, 1]))
        package.append(gf.flow_affine(ends, 1.0, "closed")[0])
        tol.append(C_ROUNDING * 2 * EPS * (1 + np.linalg.cond(ends.cov0)) * (1 + np.linalg.cond(Q) ** 2))
    try:
        M = candidate(sp.Matrix([[p, q], [q, r]]), sp.Matrix([[u, v], [v, w]]))
        exact = exact_values(sp.Matrix(M), (p, q, r, u, v, w), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link(exact, package, tol)


def _affine_value_tol(K: float, A: np.ndarray, x: np.ndarray, shift: float, value: np.ndarray) -> float:
    """Relative float tolerance of v = A x + b from a numpy A with absolute error <= d eps K (1 + 2||A||) (K from the
    solve or pseudo-inverse that formed it) and b formed from vectors of total norm ``shift`` (b = c - t A c, or
    Delta - A m_t): |dv| <= d eps [K (1 + 2||A||) + 1 + ||A||] (||x|| + shift), c = 64, relative to max |v|."""
    norm_A = np.linalg.norm(A, 2)
    return float(C_ROUNDING * len(x) * EPS * (K * (1 + 2 * norm_A) + 1 + norm_A) * (np.linalg.norm(x) + shift)
                 / max(np.abs(value).max(), np.finfo(float).tiny))


def fixed_point_link(candidate, points: int = 12, seed: int = 8209) -> dict:
    """``candidate(M, c, x, t) -> v2(x, t)`` (sympy, generic 2 x 2 M, 2-vectors c, x) against both numpy routes to the
    velocity of Reflow on exact pairs (Z0, M Z0 + c), each as A x + b: ``reflow.straight_velocity_affine(M, c, t)``
    (the closed form (M - I) L_t^{-1} (x - t c) + c, a solve with L_t = (1 - t) I + t M) and
    ``reflow.coupling_velocity_affine(m0, Sigma0, M, c, t)`` (the Gaussian conditional expectation E[Y | X_t] that
    ``reflow.population_reflow`` integrates), at M = P diag(w) P^-1 of the 1-RF map's form (P, w as :func:`_factor_case`,
    Sigma0 = P P^T), standard normal c, x, m0 and t uniform in 0..1.
    Tolerances (:func:`_affine_value_tol`): the solve has ||dA|| <= d eps ||L_t^-1|| (1 + ||M||) (1 + 2||A||) (forming
    M - I and L_t, then backward-stable elimination), shift ||c||; the conditional expectation forms
    Cov X_t = L_t Sigma0 L_t^T and Cov(Y, X_t) from terms of size s = ||Sigma0|| (1 + ||M||)^2 and applies an eigh
    pseudo-inverse: ||dA|| <= d eps s ||(Cov X_t)^-1|| (1 + 2||A||), shift ||m_t|| + (1 + ||M||) ||m0|| + ||c||."""
    M_sym = sp.Matrix(2, 2, sp.symbols("m11 m12 m21 m22", real=True))
    c_sym, x_sym = sp.Matrix(sp.symbols("c1 c2", real=True)), sp.Matrix(sp.symbols("x1 x2", real=True))
    t_sym = sp.Symbol("t", positive=True)
    norm = np.linalg.norm
    rng = np.random.default_rng(seed)
    pts, package, tol = [], [], []
    for _ in range(points):
        P, w, ends = _factor_case(rng)
        M = np.linalg.solve(P.T, (P * w).T).T                      # P diag(w) P^-1
        c, x, tt = rng.standard_normal(2), rng.standard_normal(2), float(rng.uniform(0.0, 1.0))
        pts.append((*M.ravel(), *c, *x, tt))
        L = (1 - tt) * np.eye(2) + tt * M
        A, b = gr.straight_velocity_affine(M, c, tt)
        package.append((A @ x + b)[:, None])
        tol.append(_affine_value_tol(norm(np.linalg.inv(L), 2) * (1 + norm(M, 2)), A, x, norm(c), package[-1]))
        A, b = gr.coupling_velocity_affine(ends.m0, ends.cov0, M, c, tt)
        package.append((A @ x + b)[:, None])
        size = norm(ends.cov0, 2) * (1 + norm(M, 2)) ** 2
        m_t = (1 - tt) * ends.m0 + tt * (M @ ends.m0 + c)
        shift = norm(m_t) + (1 + norm(M, 2)) * norm(ends.m0) + norm(c)
        tol.append(_affine_value_tol(size * norm(np.linalg.inv(L @ ends.cov0 @ L.T), 2), A, x, shift, package[-1]))
    try:
        exact = exact_values(sp.Matrix(candidate(M_sym, c_sym, x_sym, t_sym)), (*M_sym, *c_sym, *x_sym, t_sym), pts)
    except LINK_ERRORS:
        return dict(_FAILED)
    return numpy_link([value for value in exact for _route in range(2)], package, tol)


def shrinkage_link(candidate, points: int = 12, seed: int = 8210) -> dict:
    """Two comparisons per point (eigenvalues lam_1, lam_2 log-uniform 1e-2..1e2, t uniform 0.05..0.95):

    - ``candidate(lam, t)`` (the proved one-step map lam' = lam^2/(lam + sigma_t^2)) against
      ``reflow.shrinkage_reflow((lam_1, lam_2), t, rounds=1).eigenvalues[1]`` (sigma_t^2 from ``shrinkage_sigma2``, then
      the DAE recursion); tolerance c eps (1 + kappa), kappa the larger relative condition number of the candidate in
      (lam, t) at the two eigenvalues (:func:`relative_condition`), c = 64;
    - the proof's clean-data predictor gain W*(lam, sigma_t^2)/t (:func:`proofs.flow.clean_predictor_gain`) applied to
      a standard normal x against ``reflow.clean_prediction(ends, x, t)`` for noise N(0, I) and data N(0, diag(lam))
      (x + (1 - t)(A_t x + b_t), A_t = C_t Sigma_t^+ by eigh): ||dA|| <= d eps [||Sigma_t^-1|| (t ||Sigma1|| + 1 - t)
      + ||A|| (1 + cond(Sigma_t))], so |d pred| <= d eps [(1 - t)(that) + 1 + 2 (1 - t) ||A||] ||x||, c = 64, relative
      to max |pred|."""
    lam_sym, t_sym = sp.Symbol("lam", positive=True), sp.Symbol("t", positive=True)
    l_sym, x_sym = sp.symbols("l1 l2", positive=True), sp.symbols("x1 x2", real=True)
    try:
        step = sp.sympify(candidate(lam_sym, t_sym))
        one_step = sp.Matrix([step.subs(lam_sym, l_sym[0]), step.subs(lam_sym, l_sym[1])])
    except LINK_ERRORS:
        return dict(_FAILED)
    predictor = sp.Matrix([clean_predictor_gain(l_sym[i], t_sym) * x_sym[i] for i in range(2)])
    norm = np.linalg.norm
    rng = np.random.default_rng(seed)
    exact, package, tol = [], [], []
    for _ in range(points):
        lams, tt, x = 10 ** rng.uniform(-2, 2, 2), float(rng.uniform(0.05, 0.95)), rng.standard_normal(2)
        try:
            exact.append(exact_values(one_step, (*l_sym, t_sym), [(*lams, tt)])[0])
            kappa = max(float(relative_condition(step, (lam_sym, t_sym), [(lam, tt)])[0]) for lam in lams)
        except LINK_ERRORS:
            return dict(_FAILED)
        package.append(gr.shrinkage_reflow(lams, tt, rounds=1).eigenvalues[1][:, None])
        tol.append(C_ROUNDING * EPS * (1 + kappa))
        ends = gf.GaussianEndpoints.standard_noise(np.zeros(2), np.diag(lams))
        pred = gr.clean_prediction(ends, x, tt)
        exact.append(exact_values(predictor, (*l_sym, t_sym, *x_sym), [(*lams, tt, *x)])[0])
        package.append(pred[:, None])
        A, _b = gf.velocity_affine(ends, tt)
        cov_t = (1 - tt) ** 2 * np.eye(2) + tt ** 2 * np.diag(lams)
        dA = norm(np.linalg.inv(cov_t), 2) * (tt * lams.max() + 1 - tt) + norm(A, 2) * (1 + np.linalg.cond(cov_t))
        tol.append(float(C_ROUNDING * 2 * EPS * ((1 - tt) * dA + 1 + 2 * (1 - tt) * norm(A, 2)) * norm(x)
                         / np.abs(pred).max()))
    return numpy_link(exact, package, tol)
