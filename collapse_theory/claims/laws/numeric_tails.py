"""Numeric-tier checks of laws 7-8 (LAW-DIFFUSION-EARLY-STOP, LAW-ZIPF-TAIL): the numpy closed forms (``impl``;
``None`` = the toolkit's) against Monte-Carlo of the literal loops (``z_limit(m, R)``), Gauss-Hermite quadrature of the
explicit Gaussian-mixture laws, and exact sums for the Zipf exponents. Conventions as in
:mod:`.numeric`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial import hermite_e
from scipy import special

from ...theory.laws import diffusion as dd, zipf as zz
from ..registry import Outcome, check
from .numeric import mc_agreement

# ============================================================================================= law 7

DIFF_REAL = {"weights": (0.3, 0.7), "means": (-2.0, 1.0), "stds": (0.5, 0.8)}


def _diff_training_gain(rounds, alpha=0.25, delta=0.1, n=200, weights=(0.3, 0.7), means=(-2.0, 1.0),
                        stds=(0.5, 0.8)):
    """Mutant: the output at the training law's moments (the factor rho of the last early-stopped pass missing)."""
    out = dd.diffusion_closed_form(rounds, alpha, delta, n, weights, means, stds)
    return {q: v / np.exp(-int(q[-1]) * delta) for q, v in out.items()}


def _diff_rate_1_minus_alpha(rounds, alpha=0.25, delta=0.1, n=200, weights=(0.3, 0.7), means=(-2.0, 1.0),
                             stds=(0.5, 0.8)):
    """Mutant: every mode approaching its limit at rate 1 - alpha."""
    h = dd.mixture_hermite_moments(weights, means, stds)
    k = np.arange(rounds + 1)
    out = {}
    for m, hm in zip(dd.MODES, h):
        gain = dd.output_gain(m, alpha, delta)
        start = np.exp(-m * delta)
        out[f"E_He{m}"] = hm * (gain + (start - gain) * (1 - alpha) ** k)
    return out


def _diff_gain_no_alpha(rounds, alpha=0.25, delta=0.1, n=200, weights=(0.3, 0.7), means=(-2.0, 1.0),
                        stds=(0.5, 0.8)):
    """Mutant: the modes decay as with alpha = 0 (fresh data ignored)."""
    return dd.diffusion_closed_form(rounds, 0.0, delta, n, weights, means, stds)


DIFF_MUTANTS = {"output at the training law (missing e^{-m delta})": _diff_training_gain,
                "rate 1 - alpha for every mode": _diff_rate_1_minus_alpha,
                "fresh fraction ignored (alpha = 0 law)": _diff_gain_no_alpha}


@lru_cache(maxsize=None)
def _quadrature_moments(alpha: float, delta: float, rounds: int) -> dict:
    """E He_m under the explicit Gaussian mixture q_k by Gauss-Hermite quadrature (numpy hermegauss, 8 nodes: exact
    for polynomials of degree <= 15, so for He_1..He_4 of every Gaussian component up to rounding)."""
    laws = dd.mixture_after_rounds(rounds, alpha, delta, DIFF_REAL["weights"], DIFF_REAL["means"], DIFF_REAL["stds"])
    nodes, weights = hermite_e.hermegauss(8)
    weights = weights / np.sqrt(2 * np.pi)
    out = {}
    for m in dd.MODES:
        c = np.eye(m + 1)[m]
        out[f"E_He{m}"] = np.array([sum(w * float(weights @ hermite_e.hermeval(mu + s * nodes, c))
                                        for w, mu, s in comp) for comp in laws])
    return out


@check("LAW-DIFFUSION-EARLY-STOP", "numeric", "mixture-quadrature", mutants=DIFF_MUTANTS)
def diffusion_quadrature(impl=None) -> Outcome:
    """The Hermite-mode closed form against an independent route: q_k written out as an explicit Gaussian mixture
    (P_delta maps N(mu, s^2) to N(mu e^{-delta}, s^2 e^{-2 delta} + 1 - e^{-2 delta})) and E He_m integrated by
    Gauss-Hermite quadrature (exact for these polynomials), alpha in {0, 0.25, 0.7}, delta in {0.05, 0.5}, rounds
    0..6, m = 1..4: |difference| <= 1e-10 (rounding of sums of O(30) terms of size <= 100)."""
    fn = impl or dd.diffusion_closed_form
    worst = 0.0
    for alpha in (0.0, 0.25, 0.7):
        for delta in (0.05, 0.5):
            quad = _quadrature_moments(alpha, delta, 6)
            cf = fn(6, alpha, delta, 20, **DIFF_REAL)
            worst = max(worst, max(float(np.max(np.abs(np.asarray(cf[q]) - quad[q]))) for q in quad))
    return Outcome(worst <= 1e-10, {"max_abs_err": worst, "tolerance": 1e-10})


DIFF_MC = {"configs": ((0.25, 0.1), (0.0, 0.3), (0.6, 0.3)), "n": 100, "rounds": 8, "replicates": 4000,
           "seed": 15701}


@lru_cache(maxsize=None)
def _diffusion_runs():
    p = DIFF_MC
    return {c: dd.simulate_diffusion_early_stop(p["rounds"], p["replicates"], p["seed"] + i, c[0], c[1], p["n"],
                                                **DIFF_REAL) for i, c in enumerate(p["configs"])}


@check("LAW-DIFFUSION-EARLY-STOP", "numeric", "monte-carlo", mutants=DIFF_MUTANTS)
def diffusion_monte_carlo(impl=None) -> Outcome:
    """R = 4000 replicate loops of the finite-sample procedure (n = 100 per round: alpha n fresh real samples, the
    rest generated from the previous training set's exact-score model stopped at delta), (alpha, delta) in
    {(0.25, 0.1), (0, 0.3), (0.6, 0.3)}, rounds 0..8: the mean of He_1..He_4 over the generated samples within
    z_limit(m, R) of the closed form (every round is random)."""
    fn = impl or dd.diffusion_closed_form
    p = DIFF_MC
    pairs = [(f"alpha={a},delta={d}", fn(p["rounds"], a, d, p["n"], **DIFF_REAL), runs)
             for (a, d), runs in _diffusion_runs().items()]
    evidence = mc_agreement(pairs, p["replicates"], exact_rounds=0)
    passed = evidence.pop("passed")
    return Outcome(passed, evidence | {"seed": p["seed"]})


# ============================================================================================= law 8

def _zipf_asym(exponent_T=None, constant_T=None, exponent_k=None, constant_k=None):
    def asymptotics(beta):
        out = dict(zz.zipf_asymptotics(beta))
        for key, fn in (("exponent_T", exponent_T), ("constant_T", constant_T), ("exponent_k", exponent_k),
                        ("constant_k", constant_k)):
            if fn is not None:
                out[key] = fn(beta)
        return out
    return asymptotics


ZIPF_MUTANTS = {
    "exponent_T = 1/beta": _zipf_asym(exponent_T=lambda b: 1 / b),
    "exponent_T = 1 - 1/(2 beta)": _zipf_asym(exponent_T=lambda b: 1 - 1 / (2 * b)),
    "exponent_k = beta": _zipf_asym(exponent_k=lambda b: b),
    "constant_T without 1/beta": _zipf_asym(constant_T=lambda b: zz.zipf_asymptotics(b)["constant_T"] * b),
    "constant_k with 1/beta": _zipf_asym(constant_k=lambda b: zz.zipf_asymptotics(b)["constant_k"] * (b - 1) / b),
}
ZIPF_BETAS = (1.5, 2.0, 3.0)


@lru_cache(maxsize=None)
def _uncut_errors(beta: float):
    T = 10.0 ** np.arange(2, 6)
    return T, zz.uncut_error_bounds(T, beta, split=4 * 10 ** 6)


def _shrinks(deviation: np.ndarray, factor: float = 5.0) -> bool:
    """Strictly shrinking by >= ``factor`` per decade (the O(1/x) Euler-Maclaurin correction shrinks 10-fold)."""
    d = np.abs(deviation)
    return bool(np.all(d[1:] * factor <= d[:-1]))


@check("LAW-ZIPF-TAIL", "numeric", "exponents-from-exact-sums", mutants=ZIPF_MUTANTS)
def zipf_exponents(impl=None) -> Outcome:
    """For beta in {1.5, 2, 3}: the uncut error U(T) = sum_i p_i (1 - p_i)^T (the sum to rank 4 x 10^6 plus a
    bracketed remainder; the bracket must be 10 times narrower than the deviation tested) over T = 10^2..10^5, and tail(k) = zeta(beta, k + 1)/zeta(beta) over
    k = 10..10^6: the ratios U/(constant_T T^-exponent_T) and tail/(constant_k k^-exponent_k) tend to 1, their
    deviations shrinking at least 5-fold per decade (they are O(1/T), O(1/k)). A wrong exponent makes the ratio a
    power of T (or k); a wrong constant leaves a constant deviation."""
    fn = impl or zz.zipf_asymptotics
    ok, worst_T, worst_k = True, 0.0, 0.0
    for beta in ZIPF_BETAS:
        a = fn(beta)
        T, (lo, hi) = _uncut_errors(beta)
        dev_T = lo / (a["constant_T"] * T ** -a["exponent_T"]) - 1
        ok &= _shrinks(dev_T) and bool(np.all((hi - lo) / lo < np.abs(dev_T) / 10))
        k = 10.0 ** np.arange(1, 7)
        dev_k = zz.tail_mass(k, beta) / (a["constant_k"] * k ** -a["exponent_k"]) - 1
        ok &= _shrinks(dev_k)
        worst_T, worst_k = max(worst_T, float(abs(dev_T[-1]))), max(worst_k, float(abs(dev_k[-1])))
    return Outcome(bool(ok), {"last_rel_dev_T": worst_T, "last_rel_dev_k": worst_k, "betas": str(ZIPF_BETAS)})


@lru_cache(maxsize=None)
def _tail_direct(k: int, beta: float) -> float:
    """1 - sum_{i<=k} i^-beta / zeta(beta) at 40 significant digits (mpmath): the tail by its definition."""
    import mpmath

    with mpmath.workdps(40):
        b = mpmath.mpf(beta)
        head = mpmath.fsum(mpmath.mpf(i) ** -b for i in range(1, k + 1))
        return float(1 - head / mpmath.zeta(b))


ZIPF_TAIL_KS = (1, 2, 3, 10, 50, 400, 2000)


@check("LAW-ZIPF-TAIL", "numeric", "tail-mass-oracle", mutants={
    "tail from rank k (zeta(beta, k) counts p_k)": lambda k, beta: (special.zeta(beta, np.asarray(k, dtype=float))
                                                                  / special.zeta(beta)),
    "tail not normalised (zeta(beta, k + 1))": lambda k, beta: special.zeta(beta, np.asarray(k, dtype=float) + 1),
    "tail by the integral k^(1 - beta)/((beta - 1) zeta)": lambda k, beta: (np.asarray(k, dtype=float) ** (1 - beta)
                                                                           / ((beta - 1) * special.zeta(beta))),
})
def zipf_tail_mass(impl=None) -> Outcome:
    """tail(k) = sum_{i>k} p_i (which the closed form and the Monte-Carlo both add, and the exponent check only
    tests asymptotically) against its definition 1 - sum_{i<=k} i^-beta/zeta(beta) summed in 40-digit mpmath, for
    beta in {1.5, 2, 3} and k in ZIPF_TAIL_KS. Tolerance 1e-12 relative: scipy's Hurwitz zeta is accurate to a few
    ulp (the tails here are >= 1e-7, so the 40-digit subtraction keeps > 30 digits)."""
    fn = impl or zz.tail_mass
    worst = 0.0
    for beta in ZIPF_BETAS:
        for k in ZIPF_TAIL_KS:
            exact = _tail_direct(k, beta)
            worst = max(worst, abs(float(np.asarray(fn(k, beta))) - exact) / exact)
    return Outcome(worst <= 1e-12, {"max_rel_err": worst, "tolerance": 1e-12, "k": str(ZIPF_TAIL_KS)})


def _zipf_unnormalised(rounds, beta=2.0, k=1000, T0=100):
    """Mutant: (1 - p_i)^T with the uncut p_i (the cut law not renormalised)."""
    p = zz.zipf_probabilities(k, beta)
    T = T0 * 2.0 ** np.arange(rounds + 1)
    return {"E_test_error": np.array([p @ (1 - p) ** t for t in T]) + zz.tail_mass(k, beta)}


def _zipf_no_tail(rounds, beta=2.0, k=1000, T0=100):
    """Mutant: the tail mass beyond rank k forgotten."""
    out = zz.zipf_closed_form(rounds, beta, k, T0)["E_test_error"]
    return {"E_test_error": out - zz.tail_mass(k, beta)}


def _zipf_exp_approx(rounds, beta=2.0, k=1000, T0=100):
    """Mutant: e^{-T q} for (1 - q)^T."""
    p = zz.zipf_probabilities(k, beta)
    q = p / p.sum()
    T = T0 * 2.0 ** np.arange(rounds + 1)
    return {"E_test_error": np.array([p @ np.exp(-t * q) for t in T]) + zz.tail_mass(k, beta)}


ZIPF_MC = {"configs": ((2.0, 50, 20), (1.5, 400, 10), (3.0, 30, 4)), "rounds": 9, "replicates": 4000,
           "seed": 15801}


@lru_cache(maxsize=None)
def _zipf_runs():
    p = ZIPF_MC
    return {c: zz.simulate_zipf(p["rounds"], p["replicates"], p["seed"] + i, *c) for i, c in enumerate(p["configs"])}


@check("LAW-ZIPF-TAIL", "numeric", "monte-carlo", mutants={
    "cut law not renormalised": _zipf_unnormalised,
    "tail beyond k forgotten": _zipf_no_tail,
    "e^{-T q} instead of (1 - q)^T": _zipf_exp_approx,
})
def zipf_monte_carlo(impl=None) -> Outcome:
    """R = 4000 memorising learners per round on T = T0 2^n samples of the cut law (numpy multinomial), (beta, k, T0)
    in {(2, 50, 20), (1.5, 400, 10), (3, 30, 4)}, rounds 0..9: the mean test error within z_limit(m, R) of the exact
    closed form."""
    fn = impl or zz.zipf_closed_form
    p = ZIPF_MC
    pairs = [(f"beta={c[0]},k={c[1]}", fn(p["rounds"], *c), runs) for c, runs in _zipf_runs().items()]
    evidence = mc_agreement(pairs, p["replicates"], exact_rounds=0)
    passed = evidence.pop("passed")
    return Outcome(passed, evidence | {"seed": p["seed"]})
