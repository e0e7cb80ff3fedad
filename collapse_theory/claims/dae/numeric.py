"""Numeric-tier checks: closed forms against linear algebra, long iterations, root finders and brute force,
over seeded random draws from wide parameter ranges (see :class:`properties.Ranges`).

Each check runs a property of :mod:`properties` over many configurations and passes when every
configuration passes; its mutants are deliberately wrong formulas the property must reject.
Configurations come from ``numpy.random.default_rng(seed)`` with fixed seeds, so a run is reproducible.
"""

from __future__ import annotations

import numpy as np

from ...theory.dae import bounds, linear as linear_dae, recursion
from . import mutants as wrong, properties as P
from ..outcomes import combine_outcomes
from ..registry import Outcome, check

MATH_MD_CHECK_VALUE = {
    "eigenvalues": (4.0, 2.0, 1.0, 0.5, 0.1), "sigma2": 0.1, "alpha": 0.1,
    # quoted to these digits in docs/derivations/dae.md section 6; a half unit in the last quoted place is the tolerance
    "fixed_point": (3.031, 1.079, 0.240, 0.039, 0.0011), "half_ulp": (5e-4, 5e-4, 5e-4, 5e-4, 5e-5),
}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------- DAE-OPT

@check("DAE-OPT", "numeric", "normal-equations-wide-range", mutants={
    "missing sigma2: S (S + I)^-1": lambda S, s2: linear_dae.optimal_dae(S, 1.0),
    "sigma instead of sigma2": lambda S, s2: linear_dae.optimal_dae(S, np.sqrt(s2)),
    "gain squared": lambda S, s2: linear_dae.optimal_dae(S, s2) @ linear_dae.optimal_dae(S, s2),
})
def opt_normal_equations(impl=None) -> Outcome:
    """W*(S, sigma2) solves the normal equations to float precision for 40 random rotated S (d <= 64,
    eigenvalues 1e-6..1e4 with zeros) and sigma2 in 1e-8..1e4."""
    rng = _rng(101)
    outcomes = []
    for _ in range(40):
        lam = P.random_spectrum(rng)
        outcomes.append(P.property_optimal_dae(P.random_psd(rng, lam), P.random_sigma2(rng), impl))
    return combine_outcomes(outcomes, {"normal_eq_residual": "max"})


@check("DAE-OPT", "numeric", "finite-sample-noise-draws-limit", mutants={
    "limit with 2 sigma2": lambda X, s2: linear_dae.optimal_dae(linear_dae.second_moment(X), 2 * s2),
    "limit with 1.01 sigma2": lambda X, s2: linear_dae.optimal_dae(linear_dae.second_moment(X), 1.01 * s2),
    "limit from the covariance instead of the second moment": lambda X, s2: linear_dae.optimal_dae(
        np.cov(X.T, bias=True), s2),
})
def opt_finite_sample(impl=None) -> Outcome:
    """The least-squares DAE with m noise draws converges to W*(S_hat) at the CLT rate m^-1/2 (n = 40, d = 3,
    non-zero-mean data so that second moment and covariance differ)."""
    rng = _rng(102)
    data = rng.standard_normal((40, 3)) * np.array([2.0, 1.0, 0.5]) + np.array([1.0, -0.5, 0.25])
    return P.property_empirical_dae_limit(data, 0.3, seed=103, impl=impl)


# --------------------------------------------------------------------------------------------- DAE-BOTTLENECK

@check("DAE-BOTTLENECK", "numeric", "brute-force-and-lbfgs", mutants={
    "bottom-r eigendirections": wrong.bottleneck_bottom_r,
    "projector (gains 1)": wrong.bottleneck_projector,
})
def bottleneck_optimum(impl=None) -> Outcome:
    """The closed-form rank-r DAE beats every other choice of r eigendirections and L-BFGS from random starts
    on 12 random rotated S (d = 2..6, distinct eigenvalues), sigma2 in 1e-2..1e1."""
    rng = _rng(201)
    outcomes = []
    for i in range(12):
        d = int(rng.integers(2, 7))
        lam = np.sort(10 ** rng.uniform(-1, 1, d))[::-1]
        sigma2 = float(10 ** rng.uniform(-2, 1))
        rank = int(rng.integers(1, d))
        outcomes.append(P.property_bottleneck(lam, sigma2, rank, seed=300 + i, impl=impl))
    return combine_outcomes(outcomes, {"closed_form_loss": "max"})


# --------------------------------------------------------------------------------------------- DAE-STEP

@check("DAE-STEP", "numeric", "matrix-propagation-both-rules", mutants={
    "rules swapped": lambda mu, s2, rule: P.eigen_step(mu, s2, "clean" if rule == "renoise" else "renoise"),
    "2 sigma2 in the map": lambda mu, s2, rule: P.eigen_step(mu, 2 * s2, rule),
})
def one_step(impl=None) -> Outcome:
    """Propagating S~ literally through W = W*(S~) gives eigenvalues f(mu) (renoise) and h(mu) (clean), and S'
    commutes with S~: 30 random rotated S~ per rule (d <= 64, wide ranges)."""
    rng = _rng(401)
    outcomes = []
    for rule in ("renoise", "clean"):
        for _ in range(30):
            lam = P.random_spectrum(rng)
            outcomes.append(P.property_one_step(P.random_psd(rng, lam), P.random_sigma2(rng), rule, impl))
    return combine_outcomes(outcomes, {"eigenvalue_error": "max", "commutator": "max"})


# --------------------------------------------------------------------------------------------- DAE-MATRIX-EIGEN

def _recursion_rules_swapped(lam, s2, a, rounds, regime, rule):
    return recursion.dae_recursion(lam, s2, a, rounds, regime, "clean" if rule == "renoise" else "renoise")


def _recursion_without_real_data(lam, s2, a, rounds, regime, rule):
    return recursion.dae_recursion(lam, s2, 0.0, rounds, "replace" if regime != "accumulate" else regime, rule)


@check("DAE-MATRIX-EIGEN", "numeric", "all-regimes-both-rules", mutants={
    "rules swapped": _recursion_rules_swapped,
    "real data ignored": _recursion_without_real_data,
})
def matrix_vs_eigen(impl=None) -> Outcome:
    """Full-matrix recursion (random rotations, d <= 12, 40 rounds) vs eigenvalue recursion for the four regimes
    x two rules x 3 random configurations each (alpha in 0.05..1 for mix/fresh)."""
    rng = _rng(501)
    outcomes = []
    for regime in ("replace", "mix", "fresh", "accumulate"):
        for rule in ("renoise", "clean"):
            for _ in range(3):
                lam = P.random_spectrum(rng, max_dim=12)
                lam = lam * (10 ** rng.uniform(-1, 1)) / max(lam.max(), 1e-300)
                sigma2 = float(10 ** rng.uniform(-2, 0))
                alpha = float(rng.uniform(0.05, 1.0))
                outcomes.append(P.property_matrix_matches_eigen(lam, sigma2, alpha, 40, regime, rule,
                                                                seed=int(rng.integers(1 << 30)), impl=impl))
    return combine_outcomes(outcomes, {"max_eigenvalue_error_rel": "max", "max_w2_error": "max"})


# --------------------------------------------------------------------------------------------- C-collapse

def _mix_trajectory(lam, s2, rounds, rule):
    return recursion.dae_recursion(lam, s2, 0.1, rounds, "mix", rule).op_norm


def _noiseless_gain(lam, s2, rounds, rule):
    return np.ones(rounds + 1) * float(lam.max() > 0)


@check("C-collapse", "numeric", "op-norm-to-zero-geometrically", mutants={
    "a fixed real fraction 0.1 (must not look like collapse)": _mix_trajectory,
    "gain without the noise (identity map)": _noiseless_gain,
})
def collapse_to_zero(impl=None) -> Outcome:
    """Purely synthetic training: ||W_k||_op falls below 1e-12 within 12 rounds after the top eigenvalue's
    collapse round, with per-round ratios below rho0 < 1 from then on; 30 random spectra (d <= 64) with
    lambda_max/sigma2 in 1e-2..1e3, both rules."""
    rng = _rng(601)
    outcomes = []
    for rule in ("renoise", "clean"):
        for _ in range(15):
            lam = P.random_spectrum(rng)
            sigma2 = float(lam.max() / 10 ** rng.uniform(-2, 3))
            outcomes.append(P.property_collapse_to_zero(lam, sigma2, rule, impl))
    return combine_outcomes(outcomes, {"rounds_to_collapse": "max", "final_op_norm": "max"})


# --------------------------------------------------------------------------------------------- DAE-COLLAPSE-RATE

@check("DAE-COLLAPSE-RATE", "numeric", "bounds-wide-range", mutants={
    "lambda_max rho0^(k+1)": wrong.bounds_exponent_plus_one,
    "composed rho0^(k+2)": wrong.bounds_composed_plus_one,
    "rho0^(2k) for the renoise rule": wrong.bounds_renoise_with_clean_rate,
})
def collapse_rate(impl=None) -> Outcome:
    """All C-collapse bounds and the composed-map identity hold at every round: 24 configurations with d <= 64,
    eigenvalues 1e-6..1e4, sigma2 1e-8..1e4 and 300 rounds, plus 4 with 10^4 rounds; both rules."""
    rng = _rng(701)
    outcomes = []
    for rule in ("renoise", "clean"):
        for i in range(14):
            lam = P.random_spectrum(rng)
            if i % 3 == 0:  # make sure small lambda/sigma2 (the doubly-exponential regime) is covered
                sigma2 = float(lam.max() * 10 ** rng.uniform(-1, 2))
            else:
                sigma2 = P.random_sigma2(rng)
            rounds = P.RANGES.max_rounds if i < 2 else 300
            outcomes.append(P.property_collapse_bounds(lam, sigma2, rounds, rule, impl))
    return combine_outcomes(outcomes, {"max_op_norm_over_bound": "max", "composed_identity_max_rel_error": "max"})


# --------------------------------------------------------------------------------------------- DAE-DOUBLY-EXP

@check("DAE-DOUBLY-EXP", "numeric", "log-bounds-after-collapse", mutants={
    "exponent 3^j for renoise / 2^j for clean": wrong.doubly_exp_other_exponent,
    "single-exponential x_K^(j+1)": lambda lx, j, rule: (np.log(2.0) + (j + 1) * (lx - np.log(2.0)),
                                                         (j + 1) * lx),
})
def doubly_exponential(impl=None) -> Outcome:
    """After the first round with x <= 1, x_{K+j} stays between the DAE-DOUBLY-EXP bounds until underflow:
    x0 = lambda/sigma2 on a log grid 1e-3..1e4, both rules."""
    outcomes = [P.property_doubly_exponential(float(x0), rule, impl)
                for rule in ("renoise", "clean") for x0 in np.geomspace(1e-3, 1e4, 25)]
    return combine_outcomes(outcomes, {"worst_log_violation": "max", "rounds_checked": "min"})


# --------------------------------------------------------------------------------------------- DAE-ROUNDS

@check("DAE-ROUNDS", "numeric", "rounds-within-bounds", mutants={
    "no log term (x0 - 8/3, x0 + 0.2)": lambda x0, rule: (np.asarray(x0) - 8 / 3, np.asarray(x0) + 0.2),
    "lower bound x0 + ln x0 (no constant)": lambda x0, rule: (bounds.rounds_bounds(x0, rule)[1] - np.log(2) + 0.5,
                                                              bounds.rounds_bounds(x0, rule)[1]),
    "clean collapses as slowly as renoise": lambda x0, rule: bounds.rounds_bounds(x0, "renoise"),
})
def rounds(impl=None) -> Outcome:
    """N(x0) lies within the DAE-ROUNDS bounds for 300 x0 log-spaced in (1, 1e4] per rule and is scale invariant."""
    x0 = np.geomspace(1.001, 1e4, 300)
    return combine_outcomes([P.property_rounds(x0, rule, impl) for rule in ("renoise", "clean")],
                {"min_margin_low": "min", "min_margin_high": "min"})


# --------------------------------------------------------------------------------------------- C-real

@check("C-real", "numeric", "op-norm-bounded-below", mutants={
    "bound without alpha": lambda lam, s2, a: recursion.real_fraction_lower_bound(lam, s2, 1.0),
    "bound sqrt(alpha) lambda": lambda lam, s2, a: recursion.real_fraction_lower_bound(lam, s2, np.sqrt(a)),
})
def real_lower_bound(impl=None) -> Outcome:
    """With alpha in (0, 1] (log-uniform 1e-3..1), min over 2000 rounds of ||W_k||_op >= alpha lambda*_max /
    (alpha lambda*_max + sigma2) > 0: 30 random configurations (d <= 64, wide ranges), both rules."""
    rng = _rng(801)
    outcomes = []
    for rule in ("renoise", "clean"):
        for _ in range(15):
            lam = P.random_spectrum(rng)
            sigma2 = float(lam.max() / 10 ** rng.uniform(-2, 3))
            alpha = float(10 ** rng.uniform(-3, 0))
            outcomes.append(P.property_real_lower_bound(lam, sigma2, alpha, 2000, rule, impl))
    return combine_outcomes(outcomes, {"min_op_norm": "min"})


# --------------------------------------------------------------------------------------------- DAE-REAL-FIXED-POINT

@check("DAE-REAL-FIXED-POINT", "numeric", "closed-form-vs-iteration-and-brentq", mutants={
    "minus sign before the square root": wrong.fixed_point_minus_root,
    "4 alpha lambda sigma2 in the discriminant": wrong.fixed_point_discriminant_typo,
    "training moment mu_inf reported as lambda_inf": lambda lam, s2, a, rule="renoise":
        recursion.fixed_point_training_moment(lam, s2, a, rule),
})
def real_fixed_point(impl=None) -> Outcome:
    """The closed-form fixed point is a root of T(lambda) = lambda, equals brentq's root, and is the monotone
    limit of the recursion with contraction factor 1 - alpha: 20 configurations (d <= 16, lambda*/sigma2 in
    1e-3..1e4, alpha log-uniform 1e-2..1)."""
    rng = _rng(901)
    outcomes = []
    for _ in range(20):
        lam = P.random_spectrum(rng, max_dim=16)
        sigma2 = float(lam.max() / 10 ** rng.uniform(-3, 4))
        alpha = float(10 ** rng.uniform(-2, 0))
        outcomes.append(P.property_fixed_point(lam, sigma2, alpha, "renoise", impl))
    return combine_outcomes(outcomes, {"max_residual_rel": "max", "max_brentq_error_rel": "max"})


@check("DAE-REAL-FIXED-POINT", "numeric", "math-md-check-value", mutants={
    "4 alpha lambda sigma2 in the discriminant": wrong.fixed_point_discriminant_typo,
    "sigma instead of sigma2": lambda lam, s2, a, rule="renoise": recursion.fixed_point(lam, np.sqrt(s2), a),
})
def math_md_check_value(impl=None) -> Outcome:
    """lambda* = (4, 2, 1, 0.5, 0.1), sigma2 = 0.1, alpha = 0.1 gives lambda_inf ~ (3.031, 1.079, 0.240, 0.039,
    0.0011) (docs/derivations/dae.md section 6), to half a unit in the last quoted digit; and 2000 rounds of the recursion agree to 1e-12."""
    v = MATH_MD_CHECK_VALUE
    lam = np.array(v["eigenvalues"])
    fp = np.asarray((impl or recursion.fixed_point)(lam, v["sigma2"], v["alpha"]), dtype=float)
    iterated = recursion.dae_recursion(lam, v["sigma2"], v["alpha"], 2000, "mix").eigenvalues[-1]
    quoted_err = np.abs(fp - np.array(v["fixed_point"]))
    ok = np.all(quoted_err <= np.array(v["half_ulp"])) and np.all(np.abs(iterated - fp) <= 1e-12)
    return Outcome(bool(ok), {"fixed_point": ", ".join(f"{x:.6g}" for x in fp),
                              "max_error_vs_quoted": float(quoted_err.max()),
                              "max_error_vs_iteration": float(np.max(np.abs(iterated - fp)))})


@check("DAE-REAL-FIXED-POINT", "numeric", "convergence-rate", mutants={
    "rate 1 - alpha (no f')": lambda lam, s2, a, rule="renoise": np.full(np.shape(np.atleast_1d(lam)), 1 - a),
    "rate f'(mu_inf) (no 1 - alpha)": lambda lam, s2, a, rule="renoise":
        recursion.fixed_point_rate(lam, s2, a, rule) / (1 - a),
})
def real_fixed_point_rate(impl=None) -> Outcome:
    """The error ratio e_{k+1}/e_k converges to (1 - alpha) f'(mu_inf), within the Taylor remainder bound:
    20 configurations, lambda*/sigma2 in 1e-2..1e2, alpha in 0.02..0.9."""
    rng = _rng(1001)
    outcomes = []
    for _ in range(20):
        lam = float(10 ** rng.uniform(-2, 2))
        outcomes.append(P.property_fixed_point_rate(lam, 1.0, float(rng.uniform(0.02, 0.9)), "renoise", impl))
    return combine_outcomes(outcomes, {"tolerance": "max"})


# --------------------------------------------------------------------------------------------- DAE-MIX-SYNTHETIC-ONLY

SYNTHETIC_ONLY_CHECK_VALUE = {"eigenvalues": (4.0, 2.0, 1.0, 0.5, 0.1), "sigma2": 0.1, "alpha": 0.1,
                              "fixed_point": (0.321, 0.142, 0.0568, 0.0194, 0.00097),
                              "half_ulp": (5e-4, 5e-4, 5e-5, 5e-5, 5e-6)}


@check("DAE-MIX-SYNTHETIC-ONLY", "numeric", "closed-form-vs-iteration-brentq-and-check-value", mutants={
    "the mix regime's fixed point": lambda lam, s2, a: recursion.fixed_point(lam, s2, a),
    "alpha lam* instead of 2 alpha lam*": lambda lam, s2, a: np.clip(
        ((a * lam - s2) + np.sqrt((s2 - a * lam) ** 2 + 4 * (1 + a) * a * lam * s2)) / (2 * (1 + a)) - a * lam,
        0, None) / (1 - a),
    "mu_inf reported as lambda_inf": lambda lam, s2, a: (1 - a) * recursion.synthetic_only_fixed_point(lam, s2, a)
        + a * np.asarray(lam),
    "alpha instead of alpha^2 in the constant term": lambda lam, s2, a: recursion.synthetic_only_fixed_point(
        lam, s2, np.sqrt(a)),
})
def synthetic_only_fixed_point(impl=None) -> Outcome:
    """``impl(lam*, sigma2, alpha)`` (default ``recursion.synthetic_only_fixed_point``): (i) equals brentq's root of
    T(lambda) - lambda on [0, lambda*], T(lambda) = g(mu)^2 (lambda + sigma2), within 64 eps / (1 - T'(lambda_inf))
    relative to lambda* (T' by the exact derivative; the root's condition number), and the limit of
    ``recursion.synthetic_only_recursion`` from lambda* within 1e-9 relative after 2 log(1e-12)/log T' + 100 rounds
    (T' < 1 at the root: a contraction there); 20
    configurations, d <= 8, lambda* in 1e-2..1e2, sigma2 in 1e-2..1e1, alpha in 0.05..0.95; (ii) the check value
    (0.321, 0.142, 0.0568, 0.0194, 0.00097) to half a unit in the last quoted digit."""
    from scipy import optimize

    formula = impl or recursion.synthetic_only_fixed_point
    rng = _rng(361)
    eps = np.finfo(float).eps
    worst_root, worst_iter, ok = 0.0, 0.0, True
    for _ in range(20):
        lam = 10 ** rng.uniform(-2, 2, int(rng.integers(1, 9)))
        s2, a = float(10 ** rng.uniform(-2, 1)), float(rng.uniform(0.05, 0.95))
        lam_inf = np.asarray(formula(lam, s2, a), dtype=float)
        rates = []
        for ls, li in zip(lam, lam_inf):
            def T(v, ls=ls):
                mu = a * ls + (1 - a) * v
                return (mu / (mu + s2)) ** 2 * (v + s2)

            root = optimize.brentq(lambda v: T(v) - v, 0.0, ls, xtol=1e-300, rtol=4 * eps, maxiter=500)
            mu = a * ls + (1 - a) * root
            g = mu / (mu + s2)
            t_prime = g * g + 2 * g * s2 / (mu + s2) ** 2 * (1 - a) * (root + s2)   # dT/dlambda at the root
            err = abs(li - root) / ls
            worst_root = max(worst_root, err)
            rates.append(t_prime)
            ok &= bool(t_prime < 1 and err <= 64 * eps / (1 - t_prime))
        # twice the rounds the asymptotic rate T' needs to shrink an error by 1e-12, plus 100 for the transient
        rounds = int(min(10 ** 6, 2 * np.ceil(np.log(1e-12) / np.log(max(rates))) + 100))
        iterated = recursion.synthetic_only_recursion(lam, s2, a, rounds)[-1]
        iter_err = float(np.max(np.abs(iterated - lam_inf) / lam))
        worst_iter = max(worst_iter, iter_err)
        ok &= iter_err <= 1e-9
    c = SYNTHETIC_ONLY_CHECK_VALUE
    check = np.asarray(formula(np.array(c["eigenvalues"]), c["sigma2"], c["alpha"]), dtype=float)
    check_ok = bool(np.all(np.abs(check - np.array(c["fixed_point"])) <= np.array(c["half_ulp"])))
    return Outcome(bool(ok and check_ok), {"max_brentq_error_rel": float(worst_root),
                                           "max_iteration_error_rel": worst_iter,
                                           "check_value": [float(v) for v in check]})


# --------------------------------------------------------------------------------------------- DAE-CLEAN-RULE

@check("DAE-CLEAN-RULE", "numeric", "cubic-fixed-point-and-rate", mutants={
    "renoise fixed point used for the clean rule": lambda lam, s2, a, rule="clean":
        recursion.fixed_point(lam, s2, a, "renoise"),
    "cubic root reported as lambda_inf": lambda lam, s2, a, rule="clean":
        recursion.fixed_point_training_moment(lam, s2, a, "clean"),
})
def clean_fixed_point(impl=None) -> Outcome:
    """Clean rule: the cubic's root gives a fixed point that is a root of T, equals brentq's root and is the monotone
    limit with contraction 1 - alpha; the asymptotic rate matches (1 - alpha) h'(mu_inf); 16 + 12 configurations."""
    rng = _rng(1101)
    outcomes = []
    for _ in range(16):
        lam = P.random_spectrum(rng, max_dim=16)
        sigma2 = float(lam.max() / 10 ** rng.uniform(-3, 4))
        outcomes.append(P.property_fixed_point(lam, sigma2, float(10 ** rng.uniform(-2, 0)), "clean", impl))
    if impl is None:
        for _ in range(12):
            lam = float(10 ** rng.uniform(-2, 2))
            outcomes.append(P.property_fixed_point_rate(lam, 1.0, float(rng.uniform(0.02, 0.9)), "clean"))
    return combine_outcomes(outcomes, {"max_residual_rel": "max", "max_brentq_error_rel": "max"})


# --------------------------------------------------------------------------------------------- DAE-ACCUMULATE

@check("DAE-ACCUMULATE", "numeric", "monotone-and-lower-bound", mutants={
    "bounded away from zero like alpha = 1/2": lambda lam, s2, rounds: {
        "op_norm": np.full(rounds + 1, recursion.real_fraction_lower_bound(lam, s2, 0.5))},
    "weights 1/k: lambda*/(lambda* + k sigma2)": lambda lam, s2, rounds: {
        "op_norm": lam.max() / (lam.max() + np.maximum(np.arange(rounds + 1), 1e-300) * s2)},
})
def accumulate_monotone(impl=None) -> Outcome:
    """Accumulate regime over 3000 rounds: A_k non-decreasing, mu_k decreasing, ||W_k|| >= lambda*_max /
    (lambda*_max + (k+1) sigma2); 16 configurations (d <= 64, lambda_max/sigma2 in 1e-2..1e3), both rules."""
    rng = _rng(1201)
    outcomes = []
    for rule in ("renoise", "clean"):
        for _ in range(8):
            lam = P.random_spectrum(rng)
            sigma2 = float(lam.max() / 10 ** rng.uniform(-2, 3))
            outcomes.append(P.property_accumulate(lam, sigma2, 3000, rule, impl))
    return combine_outcomes(outcomes, {"min_op_norm_over_bound": "min", "final_op_norm": "max"})


@check("DAE-ACCUMULATE", "numeric", "harmonic-decay", mutants={
    "geometric-like exponent 2": lambda: 2.0,
    "bounded (exponent 0)": lambda: 0.0,
})
def accumulate_harmonic(impl=None) -> Outcome:
    """||W_k||_op ~ k^-1: local log-log slope between k = 5000 and 10000 for lambda*/sigma2 in (0.1, 1, 3)."""
    return combine_outcomes([P.property_accumulate_harmonic(x, 1.0, impl) for x in (0.1, 1.0, 3.0)], {"tolerance": "max"})
