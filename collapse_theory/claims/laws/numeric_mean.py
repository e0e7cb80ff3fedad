"""Numeric-tier checks of laws 4-6 (LAW-FIXED-REAL-RATIO, LAW-FRESH-DATA, LAW-OPTIMAL-WEIGHT): the numpy closed forms
(``impl``; ``None`` = the toolkit's) against Monte-Carlo of the literal loops (every round is random here: round 0
fits real samples), finite differences and scipy's minimiser. Conventions as in :mod:`.numeric`: every Monte-Carlo
comparison is held to ``z_limit(m, R)`` over its m comparisons; simulations are cached, mutants cost a closed form.
The replicate quantities are squared Gaussian errors (chi-square-like, skewness 2 sqrt 2) and fitted variances
(skewness <= 2 sqrt(2/N)): with R = 20000 the skewness of a mean is <= 0.02.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize

from ...theory.laws import mean_estimation as me
from ..registry import Outcome, check
from .numeric import mc_agreement

R = 20000

# ============================================================================================= law 4


def _ratio_stationary_1_plus_lambda(rounds, n=10, ratio=1.0, sigma2=1.0):
    a = ratio / (1 + ratio)
    dev = ratio * sigma2 / (n * (1 + ratio)) * (1 - a ** (2 * np.arange(rounds + 1)))
    return {"E_sq_error": sigma2 / n + dev, "E_sq_dev_from_real_mean": dev}


def _ratio_rate_a(rounds, n=10, ratio=1.0, sigma2=1.0):
    a = ratio / (1 + ratio)
    dev = me.fixed_ratio_stationary_variance(n, ratio, sigma2) * (1 - a ** np.arange(rounds + 1))
    return {"E_sq_error": sigma2 / n + dev, "E_sq_dev_from_real_mean": dev}


def _ratio_no_real_error(rounds, n=10, ratio=1.0, sigma2=1.0):
    out = dict(me.fixed_real_ratio_closed_form(rounds, n, ratio, sigma2))
    out["E_sq_error"] = out["E_sq_dev_from_real_mean"]
    return out


RATIO_MC = {"configs": ((5, 2.0), (4, 0.5), (10, 0.0)), "sigma2": 1.5, "rounds": 10, "seed": 15401}


@lru_cache(maxsize=None)
def _ratio_runs():
    p = RATIO_MC
    return {(n, lam): me.simulate_fixed_real_ratio(p["rounds"], R, p["seed"] + i, n, lam, p["sigma2"])
            for i, (n, lam) in enumerate(p["configs"])}


@check("LAW-FIXED-REAL-RATIO", "numeric", "monte-carlo", mutants={
    "stationary variance lambda sigma2/(n (1 + lambda))": _ratio_stationary_1_plus_lambda,
    "approach at rate a, not a^2": _ratio_rate_a,
    "error to mu* without the real-sample term sigma2/n": _ratio_no_real_error,
})
def fixed_ratio_monte_carlo(impl=None) -> Outcome:
    """R = 20000 replicate loops (n real samples drawn once, lambda n synthetic per round), (n, lambda) in
    {(5, 2), (4, 0.5), (10, 0)}, sigma2 = 1.5, rounds 0..10: E (mu_t - mu*)^2 and E (mu_t - xbar)^2 within
    z_limit(m, R) of the closed form (round 0 of the deviation is exactly 0)."""
    fn = impl or me.fixed_real_ratio_closed_form
    p = RATIO_MC
    pairs = []
    for (n, lam), runs in _ratio_runs().items():
        cf = fn(p["rounds"], n, lam, p["sigma2"])
        # lambda = 0: the deviation is identically 0 (compared exactly below, not by z-scores)
        keys = ("E_sq_error", "E_sq_dev_from_real_mean") if lam > 0 else ("E_sq_error",)
        pairs.append((f"n={n},lambda={lam}", cf, {q: runs[q] for q in keys}))
    # one family: every round of both quantities (round 0 of the deviation is exactly 0 on both sides: z = 0)
    evidence = mc_agreement(pairs, R, exact_rounds=0)
    passed = evidence.pop("passed")
    zero_ratio_flat = bool(np.all(_ratio_runs()[(10, 0.0)]["E_sq_dev_from_real_mean"] == 0)
                           and np.all(fn(p["rounds"], 10, 0.0, p["sigma2"])["E_sq_dev_from_real_mean"] == 0))
    evidence.update({"seed": p["seed"], "lambda0_exactly_flat": zero_ratio_flat})
    return Outcome(bool(passed and zero_ratio_flat), evidence)


@check("LAW-FIXED-REAL-RATIO", "numeric", "population-jacobian", mutants={
    "1/(1 + lambda)": lambda lam: 1 / (1 + np.asarray(lam, dtype=float)),
    "lambda (the sufficient-condition reading)": lambda lam: np.asarray(lam, dtype=float),
    "lambda/(1 + 2 lambda)": lambda lam: np.asarray(lam, dtype=float) / (1 + 2 * np.asarray(lam, dtype=float)),
})
def fixed_ratio_jacobian(impl=None) -> Outcome:
    """The Jacobian formula equals the central difference (h = 1e-3) of the population map mu -> (mu* + lambda mu)/
    (1 + lambda) at mu = 0.4, mu* = -1.3 for lambda in {0} U geomspace(1e-3, 1e4, 50) (the map is affine: the
    difference is exact up to rounding, 1e-10 absolute), lies in [0, 1), and the closed-form deviation approaches its
    limit at rate J^2."""
    fn = impl or me.fixed_ratio_jacobian
    lams = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 50)])
    h, mu, mu_star = 1e-3, 0.4, -1.3
    fd = (((mu_star + lams * (mu + h)) / (1 + lams)) - ((mu_star + lams * (mu - h)) / (1 + lams))) / (2 * h)
    J = np.asarray(fn(lams), dtype=float)
    err = float(np.max(np.abs(J - fd)))
    stationary = me.fixed_ratio_stationary_variance(4, 0.5)
    gaps = stationary - me.fixed_real_ratio_closed_form(4, 4, 0.5, 1.0)["E_sq_dev_from_real_mean"]
    rate_err = float(np.max(np.abs(gaps[1:] / gaps[:-1] - np.asarray(fn(0.5)) ** 2)))
    # each gap carries a rounding error <= 2 eps x stationary; a ratio of two gaps then <= 8 eps stationary/min gap
    rate_tol = 8 * np.finfo(float).eps * stationary / float(np.min(np.abs(gaps)))
    ok = err <= 1e-10 and bool(np.all((J >= 0) & (J < 1))) and rate_err <= rate_tol
    return Outcome(ok, {"max_abs_err_fd": err, "max_J": float(J.max()), "rate_err": rate_err, "rate_tol": rate_tol})


# ============================================================================================= law 5

def _fresh_no_bias_in_noise(rounds, n_real=10, n_synth=10, sigma2=1.0, bias=1.0):
    out = dict(me.fresh_data_closed_form(rounds, n_real, n_synth, sigma2, bias))
    N, w = n_real + n_synth, n_synth / (n_real + n_synth)
    V = np.empty(rounds + 1)
    V[0] = sigma2 / n_real
    for t in range(rounds):
        V[t + 1] = w * w * V[t] + sigma2 / N
    out["E_sq_error"] = V
    return out


def _fresh_var_fixed_point(rounds, n_real=10, n_synth=10, sigma2=1.0, bias=1.0):
    out = dict(me.fresh_data_closed_form(rounds, n_real, n_synth, sigma2, bias))
    w = n_synth / (n_real + n_synth)
    v_inf = (1 - w) * sigma2 / (1 - bias) if bias != 1 else sigma2
    out["E_var"] = v_inf + (w * bias) ** np.arange(rounds + 1) * (sigma2 - v_inf)
    return out


def _fresh_rate_w(rounds, n_real=10, n_synth=10, sigma2=1.0, bias=1.0):
    out = dict(me.fresh_data_closed_form(rounds, n_real, n_synth, sigma2, bias))
    N, w = n_real + n_synth, n_synth / (n_real + n_synth)
    V = np.empty(rounds + 1)
    V[0] = sigma2 / n_real
    for t in range(rounds):
        V[t + 1] = w * V[t] + (n_real * sigma2 + n_synth * bias * out["E_var"][t]) / (N * N)
    out["E_sq_error"] = V
    return out


FRESH_MUTANTS = {"synthetic noise ignores the bias": _fresh_no_bias_in_noise,
                 "variance fixed point (1 - w) sigma2/(1 - b)": _fresh_var_fixed_point,
                 "mean error contracts at w, not w^2": _fresh_rate_w}
FRESH_MC = {"configs": ((4, 12, 1.0), (4, 12, 0.6), (10, 5, 1.2)), "sigma2": 0.8, "rounds": 12, "seed": 15501}


@lru_cache(maxsize=None)
def _fresh_runs():
    p = FRESH_MC
    return {c: me.simulate_fresh_data(p["rounds"], R, p["seed"] + i, c[0], c[1], p["sigma2"], c[2])
            for i, c in enumerate(p["configs"])}


@check("LAW-FRESH-DATA", "numeric", "monte-carlo", mutants=FRESH_MUTANTS)
def fresh_monte_carlo(impl=None) -> Outcome:
    """R = 20000 replicate loops with fresh real samples each round, (n_r, n_s, b) in {(4, 12, 1), (4, 12, 0.6),
    (10, 5, 1.2)}, sigma2 = 0.8, rounds 0..12: E (mu_t - mu*)^2 and E v_t within z_limit(m, R) of the closed form."""
    fn = impl or me.fresh_data_closed_form
    p = FRESH_MC
    pairs = [(f"{c}", fn(p["rounds"], c[0], c[1], p["sigma2"], c[2]), runs) for c, runs in _fresh_runs().items()]
    return Outcome(**_split(mc_agreement(pairs, R, exact_rounds=0), p["seed"]))


def _split(evidence: dict, seed: int) -> dict:
    passed = evidence.pop("passed")
    return {"passed": passed, "evidence": evidence | {"seed": seed}}


@check("LAW-FRESH-DATA", "numeric", "fixed-points", mutants=FRESH_MUTANTS)
def fresh_fixed_points(impl=None) -> Outcome:
    """After 3000 rounds the closed form sits on the stated fixed points: E v -> v_inf = (1 - w) sigma2/(1 - w b),
    E (mu - mu*)^2 -> (n_r sigma2 + n_s b v_inf)/(N^2 (1 - w^2)), which at b = 1 is sigma2 (n_r + n_s)/(n_r (n_r +
    2 n_s)), for n_r, n_s in 1..12 and b in {0.5, 1}
    (relative 1e-12: the geometric transients (w b)^3000, w^6000 are below 1e-15 for these w b <= 12/13)."""
    fn = impl or me.fresh_data_closed_form
    worst = 0.0
    for nr in (1, 2, 5, 12):
        for ns in (1, 3, 7, 12):
            for b in (0.5, 1.0):
                cf = fn(3000, nr, ns, 1.3, b)
                w = ns / (nr + ns)
                targets = {"E_var": (1 - w) * 1.3 / (1 - w * b),
                           "E_sq_error": (nr * 1.3 + ns * b * (1 - w) * 1.3 / (1 - w * b))
                           / ((nr + ns) ** 2 * (1 - w * w))}
                if b == 1.0:
                    worst = max(worst, abs(targets["E_sq_error"] - 1.3 * (nr + ns) / (nr * (nr + 2 * ns)))
                                / targets["E_sq_error"])
                for q, v in targets.items():
                    worst = max(worst, abs(cf[q][-1] - v) / v)
    return Outcome(worst <= 1e-12, {"max_rel_err": worst})


# ============================================================================================= law 6

@check("LAW-OPTIMAL-WEIGHT", "numeric", "scipy-minimiser", mutants={
    "(sqrt(r (r + 4)) + r)/2": lambda nr, ns: (np.sqrt((nr / ns) * (nr / ns + 4)) + nr / ns) / 2,
    "count-proportional n_r/(n_r + n_s)": lambda nr, ns: nr / (nr + ns),
    "(sqrt(r (r + 2)) - r)/2": lambda nr, ns: (np.sqrt((nr / ns) * (nr / ns + 2)) - nr / ns) / 2,
})
def optimal_weight_minimiser(impl=None) -> Outcome:
    """w*(n_r, n_s) against scipy.optimize.minimize_scalar (bounded, xatol 1e-12) of V_inf(w) over (0, 1], for
    n_r, n_s in {1, 2, 3, 5, 8, 13, 21, 34}: |w* - argmin| <= 1e-6 (a flat minimum is located to ~sqrt(eps) = 1.5e-8
    relative in w; margin 60) and V_inf(w*) <= V_inf(argmin) + 1e-14; w*(1, 1) = 1/phi to 1e-15."""
    fn = impl or me.optimal_real_weight
    worst, worst_v = 0.0, -np.inf
    counts = (1, 2, 3, 5, 8, 13, 21, 34)
    for nr in counts:
        for ns in counts:
            res = optimize.minimize_scalar(lambda w: float(me.weighted_stationary_variance(w, nr, ns)),
                                           bounds=(1e-9, 1.0), method="bounded", options={"xatol": 1e-12})
            w = float(fn(nr, ns))
            worst = max(worst, abs(w - res.x))
            worst_v = max(worst_v, float(me.weighted_stationary_variance(w, nr, ns)) - res.fun)
    golden = abs(float(fn(1, 1)) - 2 / (1 + np.sqrt(5)))
    ok = worst <= 1e-6 and worst_v <= 1e-14 and golden <= 1e-15
    return Outcome(ok, {"max_abs_err_w": worst, "max_excess_V": worst_v, "golden_err": golden})


def _weight_rate(rounds, n_real=10, n_synth=10, sigma2=1.0, weight=None):
    w = me.optimal_real_weight(n_real, n_synth) if weight is None else weight
    v_inf = me.weighted_stationary_variance(w, n_real, n_synth, sigma2)
    return {"E_sq_error": v_inf + (1 - w) ** np.arange(rounds + 1) * (sigma2 / n_real - v_inf)}


def _weight_noise(rounds, n_real=10, n_synth=10, sigma2=1.0, weight=None):
    w = me.optimal_real_weight(n_real, n_synth) if weight is None else weight
    v_inf = sigma2 * (w ** 2 / n_real + (1 - w) / n_synth) / (1 - (1 - w) ** 2)
    return {"E_sq_error": v_inf + (1 - w) ** (2 * np.arange(rounds + 1)) * (sigma2 / n_real - v_inf)}


WEIGHT_MC = {"configs": ((4, 12, None), (4, 12, 0.25), (6, 6, None)), "sigma2": 1.0, "rounds": 10, "seed": 15601}


@lru_cache(maxsize=None)
def _weight_runs():
    p = WEIGHT_MC
    return {c: me.simulate_optimal_weight(p["rounds"], R, p["seed"] + i, c[0], c[1], p["sigma2"], c[2])
            for i, c in enumerate(p["configs"])}


@check("LAW-OPTIMAL-WEIGHT", "numeric", "monte-carlo", mutants={
    "decay (1 - w)^t instead of (1 - w)^(2t)": _weight_rate,
    "synthetic noise (1 - w)/n_s instead of (1 - w)^2/n_s": _weight_noise,
})
def optimal_weight_monte_carlo(impl=None) -> Outcome:
    """R = 20000 replicate loops, (n_r, n_s, w) in {(4, 12, w*), (4, 12, 0.25), (6, 6, w* = 1/phi)}, rounds 0..10:
    E (mu_t - mu*)^2 within z_limit(m, R) of the closed form; and at w = n_r/N the closed form equals law 5's
    (LAW-FRESH-DATA at b = 1) to 1e-12 relative."""
    fn = impl or me.optimal_weight_closed_form
    p = WEIGHT_MC
    pairs = [(f"{c}", fn(p["rounds"], c[0], c[1], p["sigma2"], c[2]), runs) for c, runs in _weight_runs().items()]
    result = _split(mc_agreement(pairs, R, exact_rounds=0), p["seed"])
    law5 = me.fresh_data_closed_form(30, 4, 12, 1.0, 1.0)["E_sq_error"]
    law6 = fn(30, 4, 12, 1.0, 4 / 16)["E_sq_error"]
    consistency = float(np.max(np.abs(law6 - law5) / law5))
    result["evidence"]["law5_consistency_rel_err"] = consistency
    result["passed"] = bool(result["passed"] and consistency <= 1e-12)
    return Outcome(**result)
