"""Numeric-tier checks of Gaussian rectified flow, the GRF-* claims of :mod:`.catalog` (the Reflow family's numeric
checks are :mod:`.numeric_reflow`, the paper claims' :mod:`.numeric_paper`).

Configurations come from ``numpy.random.default_rng(seed)`` with fixed seeds (:func:`.numeric_support.random_configs`).
Reference computations that do not depend on ``impl`` (ODE integrations, Monte-Carlo simulations) are cached, so each
mutant pays only for its own formula. Tolerances: :mod:`.numeric_support` (ODE_TOL, QUAD_TOL, float_tol); Monte-Carlo:
replicate z-scores within :func:`collapse_theory.stats.z_limit` (Sidak over the comparisons, t_{R-1}).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...theory.flow import gaussian as gf
from ...stats import max_abs_z, z_limit
from ...theory.spectral import psd_sqrt
from ..outcomes import combine_outcomes
from ..registry import Outcome, check
from .numeric_support import ODE_TOL, QUAD_TOL, float_tol, random_configs, rel_error

# --------------------------------------------------------------------------------------------- GRF-MAP

_MAP_TIMES = (0.37, 1.0)


@lru_cache(maxsize=None)
def _point_ode_maps():
    """(M_t, c_t) per config and time from solve_ivp on the point ODE dx/dt = v(x, t) started at 0 and the basis vectors."""
    out = []
    for ends in random_configs(11, 10):
        starts = np.vstack([np.zeros(ends.dim), np.eye(ends.dim)])
        per_t = []
        for t in _MAP_TIMES:
            ends_t = gf.integrate_points(ends, starts, 0.0, t)
            c = ends_t[0]
            per_t.append(((ends_t[1:] - c).T, c))
        out.append(per_t)
    return out


def _map_commuting_everywhere(ends, t):
    return gf.flow_affine(ends, t, "commuting")


def _map_straight_interpolation(ends, t):
    M1, c1 = gf.flow_affine(ends, 1.0, "closed")
    M = (1 - t) * np.eye(ends.dim) + t * M1
    return M, (1 - t) * ends.m0 + t * ends.m1 - M @ ends.m0


def _map_factors_swapped(ends, t):
    root, inv_root = psd_sqrt(ends.cov0), gf.psd_inverse_sqrt(ends.cov0)
    G = (1 - t) ** 2 * np.eye(ends.dim) + t ** 2 * (inv_root @ ends.cov1 @ inv_root)
    M = inv_root @ psd_sqrt(0.5 * (G + G.T)) @ root
    return M, (1 - t) * ends.m0 + t * ends.m1 - M @ ends.m0


@check("GRF-MAP", "numeric", "closed-forms-vs-solve-ivp", mutants={
    "commuting formula Sigma_t^1/2 Sigma0^-1/2 for every pair": _map_commuting_everywhere,
    "straight interpolation (1-t) I + t M_1": _map_straight_interpolation,
    "factors swapped: Sigma0^-1/2 G_t^1/2 Sigma0^1/2": _map_factors_swapped,
})
def map_vs_solve_ivp(impl=None) -> Outcome:
    """The closed-form map (general form for all pairs; ``impl(ends, t) -> (M, c)``) equals solve_ivp on the point ODE
    from the origin and the basis vectors (rtol 1e-10) within ODE_TOL = 1e-7 relative, at t = 0.37 and 1, for 10 random
    configurations (d <= 5, 5 commuting, 5 not); also the toolkit's ``auto``/``ode``/``commuting`` routes where they apply."""
    formula = impl or (lambda ends, t: gf.flow_affine(ends, t, "closed"))
    outcomes = []
    for ends, refs in zip(random_configs(11, 10), _point_ode_maps()):
        worst = 0.0
        for t, (M_ref, c_ref) in zip(_MAP_TIMES, refs):
            M, c = formula(ends, t)
            worst = max(worst, rel_error(M, M_ref), rel_error(c, c_ref))
            if impl is None:
                routes = ["auto", "ode"] + (["commuting"] if gf.covariances_commute(ends) else [])
                for route in routes:
                    M2, c2 = gf.flow_affine(ends, t, route)
                    worst = max(worst, rel_error(M2, M_ref), rel_error(c2, c_ref))
        outcomes.append(Outcome(worst <= ODE_TOL, {"rel_error": worst}))
    return combine_outcomes(outcomes, {"rel_error": "max"})


def _rk4_matrix(ends, steps):
    """Our own fixed-step RK4 on dM/dt = A_t M, dc/dt = A_t c + b_t (numpy)."""
    d = ends.dim
    M, c = np.eye(d), np.zeros(d)
    h = 1.0 / steps

    def f(t, M, c):
        A, b = gf.velocity_affine(ends, min(t, 1.0))
        return A @ M, A @ c + b

    for k in range(steps):
        t = k * h
        k1 = f(t, M, c)
        k2 = f(t + h / 2, M + h / 2 * k1[0], c + h / 2 * k1[1])
        k3 = f(t + h / 2, M + h / 2 * k2[0], c + h / 2 * k2[1])
        k4 = f(t + h, M + h * k3[0], c + h * k3[1])
        M = M + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        c = c + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return M, c  # Z_1(x) = M x + c


_RK4_STEPS = (32, 64, 128)


@lru_cache(maxsize=None)
def _rk4_runs():
    out = []
    for ends in random_configs(12, 6, max_dim=4, commuting_share=0.0):
        out.append([_rk4_matrix(ends, n) for n in _RK4_STEPS])
    return out


@check("GRF-MAP", "numeric", "own-rk4-converges-at-order-4", mutants={
    "commuting formula for non-commuting pairs": lambda ends, t: gf.flow_affine(ends, t, "commuting"),
    "factors swapped": _map_factors_swapped,
})
def map_vs_own_rk4(impl=None) -> Outcome:
    """Our own fixed-step RK4 (numpy) on the matrix ODE converges to the closed form at order 4: with N = 32, 64, 128
    steps (the asymptotic regime: errors 1e-5..1e-10, far above float rounding) the observed order log2(e(N)/e(2N)) of
    the error against ``impl(ends, 1)`` lies in 4 +- 0.5 for both halvings (a wrong closed form leaves an error floor,
    order ~ 0). 6 non-commuting configurations, d <= 4. (The torch solvers of the trained tier are checked against the
    same closed form there.)"""
    formula = impl or (lambda ends, t: gf.flow_affine(ends, t, "closed"))
    outcomes = []
    for ends, runs in zip(random_configs(12, 6, max_dim=4, commuting_share=0.0), _rk4_runs()):
        M_ref, c_ref = formula(ends, 1.0)
        errors = []
        for M, c_rk4 in runs:
            errors.append(max(np.max(np.abs(M - M_ref)), np.max(np.abs(c_rk4 - c_ref))))
        orders = [float(np.log2(errors[i] / errors[i + 1])) for i in range(len(errors) - 1)]
        ok = all(abs(o - 4.0) <= 0.5 for o in orders)
        outcomes.append(Outcome(ok, {"min_order": min(orders), "max_order": max(orders), "error_128": errors[-1]}))
    return combine_outcomes(outcomes, {"min_order": "min", "max_order": "max", "error_128": "max"})


# --------------------------------------------------------------------------------------------- GRF-MARGINAL

@lru_cache(maxsize=None)
def _ode_matrices():
    """(M_t, c_t) per config at t = 0.25, 0.6, 1 from solve_ivp on the point ODE dx/dt = v(x, t) started at 0 and the
    basis vectors (the same construction as GRF-MAP's reference: c_t comes from the integration, not from a mean
    formula, so the mean part of the marginal is compared with an independent computation)."""
    out = []
    for ends in random_configs(13, 8):
        starts = np.vstack([np.zeros(ends.dim), np.eye(ends.dim)])
        per_t = []
        for t in (0.25, 0.6, 1.0):
            ends_t = gf.integrate_points(ends, starts, 0.0, t)
            per_t.append(((ends_t[1:] - ends_t[0]).T, ends_t[0]))
        out.append(per_t)
    return out


@check("GRF-MARGINAL", "numeric", "ode-pushforward-has-the-marginal", mutants={
    "linear covariance path": lambda ends, t: ((1 - t) * ends.m0 + t * ends.m1, (1 - t) * ends.cov0 + t * ends.cov1),
    "extra bridge noise t(1-t) I": lambda ends, t: (
        gf.marginal(ends, t)[0], gf.marginal(ends, t)[1] + t * (1 - t) * np.eye(ends.dim)),
    "mean t m1": lambda ends, t: (t * ends.m1, gf.marginal(ends, t)[1]),
})
def marginal_pushforward(impl=None) -> Outcome:
    """The solve_ivp flow (matrix ODE, rtol 1e-10) pushes N(m0, Sigma0) to ``impl(ends, t)`` = (m_t, Sigma_t):
    M_t Sigma0 M_t^T and M_t m0 + c_t agree within ODE_TOL relative at t = 0.25, 0.6, 1 (8 configurations, half
    non-commuting)."""
    formula = impl or gf.marginal
    outcomes = []
    for ends, mats in zip(random_configs(13, 8), _ode_matrices()):
        worst = 0.0
        for t, (M, c) in zip((0.25, 0.6, 1.0), mats):   # (M_t, c_t) both from the integrated flow
            m_t, S_t = formula(ends, t)
            worst = max(worst, rel_error(M @ ends.cov0 @ M.T, S_t), rel_error(M @ ends.m0 + c, m_t))
        outcomes.append(Outcome(worst <= ODE_TOL, {"rel_error": worst}))
    return combine_outcomes(outcomes, {"rel_error": "max"})


# --------------------------------------------------------------------------------------------- GRF-VELOCITY

_OLS = {"seed": 14, "samples": 20000, "configs": 5}


@lru_cache(maxsize=None)
def _ols_fits():
    """Per configuration: t, OLS coefficients of Y = X1 - X0 on (X_t, 1), and their classical standard errors."""
    rng = np.random.default_rng(_OLS["seed"] + 1)
    out = []
    for ends in random_configs(_OLS["seed"], _OLS["configs"], max_dim=3, commuting_share=0.0):
        t = float(rng.uniform(0.1, 0.9))
        n, d = _OLS["samples"], ends.dim
        x0 = ends.m0 + rng.standard_normal((n, d)) @ psd_sqrt(ends.cov0)
        x1 = ends.m1 + rng.standard_normal((n, d)) @ psd_sqrt(ends.cov1)
        X = np.hstack([t * x1 + (1 - t) * x0, np.ones((n, 1))])
        Y = x1 - x0
        coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
        resid = Y - X @ coef
        s2 = np.sum(resid ** 2, axis=0) / (n - d - 1)
        diag = np.diag(np.linalg.inv(X.T @ X))
        se = np.sqrt(np.outer(diag, s2))  # (d + 1, d): rows = regressors, cols = outputs
        out.append((ends, t, coef, se))
    return out


def _velocity_plus(ends, t):
    m_t, S_t = gf.marginal(ends, t)
    A = (t * ends.cov1 + (1 - t) * ends.cov0) @ np.linalg.inv(S_t)
    return A, ends.mean_gap - A @ m_t


def _velocity_wrong_side(ends, t):
    m_t, S_t = gf.marginal(ends, t)
    A = np.linalg.inv(S_t) @ gf.cross_covariance(ends, t)
    return A, ends.mean_gap - A @ m_t


@check("GRF-VELOCITY", "numeric", "ols-z-scores", mutants={
    "C_t with a plus sign": _velocity_plus,
    "Sigma_t^-1 C_t (wrong side)": _velocity_wrong_side,
    "intercept b = m1 - m0": lambda ends, t: (gf.velocity_affine(ends, t)[0], ends.mean_gap),
})
def velocity_ols(impl=None) -> Outcome:
    """Regressing Y = X1 - X0 on X_t (OLS with intercept, 20000 independent draws, 5 non-commuting configurations,
    d <= 3, t in 0.1..0.9) recovers ``impl(ends, t) = (A_t, b_t)``: every coefficient's z-score (classical OLS
    standard errors, exact for Gaussian residuals independent of X_t) has |z| <= z_limit(m, None): Sidak over the m
    coefficients with the normal quantile (known standard errors), family level 1e-3 (:func:`collapse_theory.stats.z_limit`)."""
    formula = impl or gf.velocity_affine
    zs = []
    for ends, t, coef, se in _ols_fits():
        A, b = formula(ends, t)
        expected = np.vstack([np.asarray(A).T, np.asarray(b)[None, :]])
        zs.append(((coef - expected) / se).ravel())
    worst = max_abs_z(*zs)
    m = int(sum(z.size for z in zs))
    limit = z_limit(m, None)
    return Outcome(worst <= limit, {"max_abs_z": worst, "coefficients": m, "z_limit": limit,
                                    "samples": _OLS["samples"], "seed": _OLS["seed"]})


# --------------------------------------------------------------------------------------------- GRF-STRAIGHTNESS-IDENTITY

@lru_cache(maxsize=None)
def _energy_references():
    out = []
    for ends in random_configs(15, 8, max_dim=4):
        out.append({"S_quad": gf.straightness_quadrature(ends), "K_quad": gf.kinetic_energy_quadrature(ends),
                    "cost": gf.transport_cost(ends, "closed"), "indep": gf.independent_coupling_cost(ends)})
    return out


def _straightness_commuting_roots(ends):
    return (2 - np.pi / 2) * float(np.trace(psd_sqrt(ends.cov0) @ psd_sqrt(ends.cov1)))


def _straightness_fidelity(ends):
    r = psd_sqrt(ends.cov0)
    return (2 - np.pi / 2) * float(np.trace(psd_sqrt(r @ ends.cov1 @ r)))


@check("GRF-STRAIGHTNESS-IDENTITY", "numeric", "closed-forms-vs-quadrature", mutants={
    "(2 - pi/2) tr(Sigma0^1/2 Sigma1^1/2) (commuting form)": _straightness_commuting_roots,
    "(2 - pi/2) tr(Sigma0^1/2 Sigma1 Sigma0^1/2)^1/2 (OT fidelity)": _straightness_fidelity,
    "(1 - pi/4) tr(Sigma0 # Sigma1)": lambda ends: gf.straightness(ends) / 2,
})
def straightness_identity(impl=None) -> Outcome:
    """``impl(ends)`` = S equals the quadrature of its definition (int_0^1 tr(E_t Sigma0 E_t^T) dt, quad epsrel 1e-11)
    within QUAD_TOL = 1e-8 relative; K (closed form) equals the quadrature of int E||v||^2; S + E||Z1 - Z0||^2 = K and
    K <= E||X1 - X0||^2; for Sigma0 = I the per-eigenvalue integral of docs/derivations/gaussian-flow.md section 4 equals (2 - pi/2) s_i. 8 configurations
    (d <= 4, half non-commuting)."""
    formula = impl or gf.straightness
    outcomes = []
    for ends, ref in zip(random_configs(15, 8, max_dim=4), _energy_references()):
        S = float(formula(ends))
        K = gf.kinetic_energy(ends)
        scale = max(1.0, ref["indep"])
        errs = {"straightness_rel": abs(S - ref["S_quad"]) / scale, "kinetic_rel": abs(K - ref["K_quad"]) / scale,
                "identity_rel": abs(S + ref["cost"] - K) / scale}
        ok = all(v <= QUAD_TOL for v in errs.values()) and K <= ref["indep"] * (1 + float_tol(ends.dim)) and S > 0
        outcomes.append(Outcome(ok, errs))
    if impl is None:  # the per-eigenvalue integral (docs/derivations/gaussian-flow.md section 4), Sigma0 = I, per eigenvalue s^2 of Sigma1
        from scipy import integrate
        for s in (0.1, 0.7, 1.0, 3.0):
            val = integrate.quad(lambda t: (s - 1 - (t * s * s - (1 - t)) / np.sqrt((1 - t) ** 2 + t * t * s * s)) ** 2,
                                 0, 1, epsabs=0, epsrel=1e-11)[0]
            err = abs(val - (2 - np.pi / 2) * s) / max(1.0, s * s)
            outcomes.append(Outcome(err <= QUAD_TOL, {"straightness_rel": err}))
    return combine_outcomes(outcomes, {"straightness_rel": "max", "kinetic_rel": "max", "identity_rel": "max"})


# --------------------------------------------------------------------------------------------- GRF-NONCOMMUTING-NOT-OT

@lru_cache(maxsize=None)
def _ode_maps_at_one():
    return [gf.flow_affine(ends, 1.0, "ode") for ends in random_configs(16, 10)]


def _m1_transposed(ends):
    M, _ = gf.flow_affine(ends, 1.0, "closed")
    return M.T, ends.m1 - M.T @ ends.m0


def _assignment_gap(ends, M, c, seed: int) -> float:
    """Independent oracle (POT's exact discrete OT, ``ot.emd2``): for n = 300 draws x_i ~ N(m0, Sigma0) and y_i = M x_i + c,
    (identity-assignment cost - optimal assignment cost) / identity cost. A map that is the gradient of a convex
    function (an OT map) is cyclically monotone, so the identity assignment is optimal: gap 0 up to float rounding;
    a strictly positive gap proves the map is not OT."""
    import ot

    rng = np.random.default_rng(seed)
    n = _POT_SAMPLES
    X = ends.m0 + rng.standard_normal((n, ends.dim)) @ np.linalg.cholesky(ends.cov0).T
    C = ot.dist(X, X @ np.asarray(M).T + np.asarray(c))
    identity = float(np.trace(C)) / n
    optimal = float(ot.emd2(np.full(n, 1.0 / n), np.full(n, 1.0 / n), C, numItermax=10 ** 7))
    return (identity - optimal) / max(identity, np.finfo(float).tiny)


_POT_SAMPLES = 300


@check("GRF-NONCOMMUTING-NOT-OT", "numeric", "transport-gap", mutants={
    "the Brenier map": gf.ot_map_affine,
    "commuting formula Sigma1^1/2 Sigma0^-1/2": lambda ends: gf.flow_affine(ends, 1.0, "commuting"),
    "M_1 transposed": _m1_transposed,
})
def noncommuting_gap(impl=None) -> Outcome:
    """``impl(ends)`` = the 1-RF map (M, c): it matches the solve_ivp map within ODE_TOL, pushes Sigma0 to Sigma1, and its
    cost E||T(X0) - X0||^2 exceeds W2^2 by a relative gap > 1e-6 (well above ODE_TOL) exactly when the covariances do not
    commute (otherwise the gap is <= FLOAT_TOL); the Brenier map is symmetric and attains W2^2. 10 configurations
    (5 commuting, 5 not, d <= 5). Independent oracle (POT, :func:`_assignment_gap` on 300 draws): the package's Brenier
    map and, for commuting covariances, ``impl``'s map leave the identity assignment optimal (gap <= FLOAT_TOL), and
    for at least one non-commuting pair POT finds a strictly cheaper assignment for ``impl``'s map (gap > FLOAT_TOL):
    it is not an OT map."""
    formula = impl or (lambda ends: gf.flow_affine(ends, 1.0, "closed"))
    outcomes = []
    pot_noncommuting = []
    for i, (ends, (M_ode, c_ode)) in enumerate(zip(random_configs(16, 10), _ode_maps_at_one())):
        M, c = formula(ends)
        scale = max(1.0, gf.independent_coupling_cost(ends))
        w2sq = gf.w2_distance(ends) ** 2
        gap = (gf.affine_map_cost(ends, M, c) - w2sq) / scale
        M_ot, c_ot = gf.ot_map_affine(ends)
        ot_gap = abs(gf.affine_map_cost(ends, M_ot, c_ot) - w2sq) / scale
        match = max(rel_error(M, M_ode), rel_error(c, c_ode))
        push = rel_error(M @ ends.cov0 @ M.T, ends.cov1)
        tol = float_tol(ends.dim)
        commuting = gf.covariances_commute(ends)
        ok = match <= ODE_TOL and push <= ODE_TOL and ot_gap <= tol and rel_error(M_ot, M_ot.T) <= tol
        ok = ok and (abs(gap) <= 1e3 * tol if commuting else gap > 1e-6)
        pot_brenier = _assignment_gap(ends, M_ot, c_ot, seed=1600 + i)
        pot_impl = _assignment_gap(ends, M, c, seed=1600 + i)
        ok = ok and abs(pot_brenier) <= tol and (abs(pot_impl) <= tol if commuting else pot_impl >= -tol)
        if not commuting:
            pot_noncommuting.append(pot_impl)
        evidence = {"gap_noncommuting": gap} if not commuting else {"gap_commuting": abs(gap)}
        outcomes.append(Outcome(ok, {**evidence, "pot_brenier_gap": abs(pot_brenier)}))
    combined = combine_outcomes(outcomes, {"gap_noncommuting": "min", "gap_commuting": "max", "pot_brenier_gap": "max"})
    detected = max(pot_noncommuting, default=0.0)
    return Outcome(combined.passed and detected > float_tol(5),
                   {**combined.evidence, "pot_max_gap_noncommuting": detected})


# --------------------------------------------------------------------------------------------- GRF-REVERSE

@lru_cache(maxsize=None)
def _reverse_references():
    rng = np.random.default_rng(17)
    out = []
    for ends in random_configs(17, 6):
        x1 = ends.m1 + rng.standard_normal((4, ends.dim)) @ psd_sqrt(ends.cov1)
        out.append((x1, gf.integrate_points(ends, x1, 1.0, 0.0)))
    return out


@check("GRF-REVERSE", "numeric", "reverse-vs-backward-solve-ivp", mutants={
    "transpose instead of inverse": lambda ends, x: (x - gf.flow_affine(ends, 1.0, "closed")[1]) @ gf.flow_affine(ends, 1.0, "closed")[0],
    "inverse of the Brenier map": lambda ends, x: np.linalg.solve(gf.ot_map_affine(ends)[0], (x - gf.ot_map_affine(ends)[1]).T).T,
    "the forward map again": lambda ends, x: gf.flow_map(ends, x, method="closed"),
})
def reverse_vs_backward(impl=None) -> Outcome:
    """``impl(ends, x1)`` equals solve_ivp integrating dx/dt = v backwards from t = 1 to 0 (rtol 1e-10) within ODE_TOL,
    and T(impl(x1)) = x1 within FLOAT_TOL-scaled error; 6 configurations (half non-commuting), 4 points each."""
    formula = impl or (lambda ends, x: gf.reverse_map(ends, x, "closed"))
    outcomes = []
    for ends, (x1, back) in zip(random_configs(17, 6), _reverse_references()):
        z = np.asarray(formula(ends, x1))
        roundtrip = rel_error(gf.flow_map(ends, z, method="closed"), x1)
        err = rel_error(z, back)
        outcomes.append(Outcome(err <= ODE_TOL and roundtrip <= 1e4 * float_tol(ends.dim),
                                {"rel_error": err, "roundtrip": roundtrip}))
    return combine_outcomes(outcomes, {"rel_error": "max", "roundtrip": "max"})
