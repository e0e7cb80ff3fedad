"""Symbolic-tier checks of the collapse laws: the sympy proofs of :mod:`collapse_theory.proofs.laws` and
:mod:`collapse_theory.proofs.laws_mean`, one check per law. ``impl`` is a dictionary of replaced formulas (``None``:
the toolkit's); each mutant replaces one formula by a plausible wrong one (wrong divisor, wrong exponent, missing
factor), and the proof must then fail at least one step.

A symbolic pass also certifies the numpy code users call: each check evaluates the (possibly replaced) proved formulas
at a grid of parameters and compares them with the numpy functions of collapse_theory/theory/laws/ (relative 1e-11:
the same expression evaluated in a different order in float64), so a proved formula and a wrong numpy function cannot
both pass."""

from __future__ import annotations

import sympy as sp

import numpy as np

from ...proofs import laws as L, laws_mean as LM, laws_tails as LT
from ...theory.laws import diffusion as dd, gaussian as lg, mean_estimation as me, regression as lr
from ...theory.laws import wright_fisher as lw, zipf as zz
from ..proved import proof_outcome
from ..registry import Outcome, check

LINK_RTOL = 1e-11


def _num(expr) -> float:
    return float(sp.N(sp.sympify(expr), 30))


def outcome(result: dict, pairs) -> Outcome:
    """The proof's outcome, failed too when a numpy value differs from the proved formula's value: ``pairs`` is an
    iterable of (numpy value, sympy expression); evidence ``numpy_link_max_rel_err``."""
    base = proof_outcome(result)
    worst = 0.0
    try:
        for value, expr in pairs:
            exact = _num(expr)
            worst = max(worst, abs(float(value) - exact) / max(abs(exact), 1e-300))
    except (ArithmeticError, TypeError, ValueError) as exc:  # a formula that cannot be evaluated is not linked
        worst = float("inf")
        base.evidence["numpy_link_error"] = f"{type(exc).__name__}: {exc}"[:120]
    base.evidence["numpy_link_max_rel_err"] = worst if np.isfinite(worst) else 1e300
    return Outcome(base.passed and worst <= LINK_RTOL, base.evidence)


def _I(v):
    return sp.Integer(v) if isinstance(v, int) else sp.Rational(str(v))


def _gamma_ratio(M, D):
    return sp.sqrt(2 / D) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)


@check("LAW-GAUSSIAN-REFIT", "symbolic", "refit-laws-1d", mutants={
    "mle variance with divisor M - 1 in the factor: (1 - 1/(M - 1))^n":
        {"E_var": lambda n, M, s2, e: s2 if e == "unbiased" else s2 * (1 - 1 / (M - 1)) ** n},
    "log drift with psi(M/2) (k = M)":
        {"E_log_var": lambda n, M, s2, e: sp.log(s2) + n * (sp.polygamma(0, M / 2)
                                                            + sp.log(2 / (M - 1 if e == "unbiased" else M)))},
    "std factor Gamma(M/2 + 1/2)/Gamma(M/2) (k = M)":
        {"E_std": lambda n, M, s2, e: sp.sqrt(s2) * (sp.sqrt(2 / (M - 1 if e == "unbiased" else M))
                                                     * sp.gamma((M + 1) / 2) / sp.gamma(M / 2)) ** n},
    "mean error divisor M - 1: n sigma2/(M - 1)":
        {"E_mean_sq_error": lambda n, M, s2, e: n * s2 / (M - 1) if e == "unbiased" else s2 * (1 - (1 - 1 / M) ** n)},
    "W2 without the factor 2: sigma2 [n/M + 2 - c^n]":
        {"E_w2_squared": lambda n, M, s2, e: s2 * (n / M + 2 - _gamma_ratio(M, M - 1) ** n) if e == "unbiased"
         else s2 * (2 - 2 * _gamma_ratio(M, M) ** n)},
})
def gaussian_refit_1d(impl):
    """chi-square moments integrated from the density; the one-round recursions of E sigma2, E log sigma2,
    E sigma, E (mu - mu0)^2 for the unbiased and mle fits (symbolic n, k); the W2 decomposition; Jensen gaps
    making the log drift negative and c < 1."""
    f = L.with_overrides(L.GAUSSIAN_FORMULAS, impl)
    pairs = []
    for M in (2, 5, 20):
        for e in lg.ESTIMATORS:
            cf = lg.gaussian_refit_closed_form(5, M, 1.7, e)
            pairs += [(cf[q][n], f[q](_I(n), _I(M), _I(1.7), e)) for q in cf for n in range(6)]
    return outcome(L.prove_gaussian_refit(impl), pairs)


@check("LAW-GAUSSIAN-REFIT", "symbolic", "refit-laws-d-dim", mutants={
    "det factor k^d/D^d (Bartlett degrees ignored)":
        {"det_factor": lambda M, d, e: (M - 1) ** d / (M - 1 if e == "unbiased" else M) ** d},
    "log-det drift d [psi(k/2) + log(2/D)]":
        {"log_det_drift": lambda M, d, e: d * (sp.polygamma(0, (M - 1) / 2)
                                               + sp.log(2 / (M - 1 if e == "unbiased" else M)))},
})
def gaussian_refit_d(impl):
    """Bartlett decomposition for d = 2, 3: the per-round factor of E det Sigma_n is prod_i (k - i + 1)/D^d and the
    log-det drift sum_i [psi((k - i + 1)/2) + log(2/D)], from integrated chi-square moments."""
    f = L.with_overrides(L.GAUSSIAN_D_FORMULAS, impl)
    pairs = []
    for M, spectrum in ((4, (2.0, 0.5)), (9, (1.0, 3.0, 0.25))):
        d = len(spectrum)
        for e in lg.ESTIMATORS:
            cf = lg.gaussian_refit_d_closed_form(1, M, spectrum, e)
            pairs += [(cf["E_det"][1] / np.prod(spectrum), f["det_factor"](_I(M), d, e)),
                      (cf["E_log_det"][1] - np.sum(np.log(spectrum)), f["log_det_drift"](_I(M), d, e))]
    return outcome(L.prove_gaussian_refit_d(impl), pairs)


@check("LAW-WRIGHT-FISHER", "symbolic", "resampling-laws", mutants={
    "collision with (1 - 1/n)^(m+1)":
        {"E_collision": lambda m, n, P: 1 - (1 - 1 / n) ** (m + 1) * (1 - P)},
    "collision with rate 1 - 2/n":
        {"E_collision": lambda m, n, P: 1 - (1 - 2 / n) ** m * (1 - P)},
    "mixed distance with rate a (1 - 1/n) instead of a^2 (1 - 1/n)":
        {"E_sq_dist_to_real": lambda m, n, a, P: a ** 2 * (1 - P) / (n - a * (n - 1)) * (1 - (a * (1 - 1 / n)) ** m)},
    "mixed distance limit a^2 (1 - ||p0||^2)/n (missing the geometric sum)":
        {"E_sq_dist_to_real": lambda m, n, a, P: a ** 2 * (1 - P) / n * (1 - (a ** 2 * (1 - 1 / n)) ** m)},
    "loss probability k/n":
        {"loss_probability": lambda k, n: k / n},
    "loss probability (1 - k/n)^2":
        {"loss_probability": lambda k, n: (1 - k / n) ** 2},
})
def wright_fisher(impl):
    """Multinomial moments from the generating function; the collision recursion; the mixed chain's mean
    contraction and distance recursion and bound; the absorption (loss) probability as a harmonic function."""
    f = L.with_overrides(L.WRIGHT_FISHER_FORMULAS, impl)
    pairs = []
    for n, p0 in ((3, (0.5, 0.3, 0.2)), (12, (0.25, 0.25, 0.25, 0.25))):
        purity = _I(sum(v * v for v in p0))
        pairs += [(v, f["E_collision"](_I(m), _I(n), purity))
                  for m, v in enumerate(lw.wright_fisher_closed_form(6, n, p0)["E_collision"])]
        for w in (0.0, 0.3):
            pairs += [(v, f["E_sq_dist_to_real"](_I(m), _I(n), 1 - _I(w), purity))
                      for m, v in enumerate(lw.wright_fisher_closed_form(6, n, p0, w)["E_sq_dist_to_real"]) if m]
        pairs += [(lw.loss_probability(n, k), f["loss_probability"](_I(k), _I(n))) for k in range(n) if k]
    return outcome(L.prove_wright_fisher(impl), pairs)


@check("LAW-REGRESSION-CHAIN", "symbolic", "chain-laws", mutants={
    "inverse-Wishart divisor T - d: n sigma2 d/(T - d)":
        {"E_test_error": lambda n, T, d, s2, mode: s2 * d / (T - d) * (n if mode == "replace" else sp.harmonic(n, 2))},
    "accumulate with the harmonic sum 1/i (not 1/i^2)":
        {"factor": lambda n, mode: n if mode == "replace" else sp.harmonic(n)},
    "replace with n^2":
        {"factor": lambda n, mode: n ** 2 if mode == "replace" else sp.harmonic(n, 2)},
    "missing d: n sigma2/(T - d - 1)":
        {"E_test_error": lambda n, T, d, s2, mode: s2 / (T - d - 1) * (n if mode == "replace" else sp.harmonic(n, 2))},
})
def regression_chain(impl):
    """OLS unbiasedness and covariance on a symbolic design; the accumulate fit averages the labels, so
    e_n = e_{n-1} + u_n/n; the factors n and sum 1/i^2 (-> pi^2/6); E 1/chi2_{T-d+1} = 1/(T - d - 1)."""
    f = L.with_overrides(L.REGRESSION_FORMULAS, impl)
    pairs = [(v, f["E_test_error"](_I(n), _I(T), _I(d), _I(0.7), mode))
             for T, d in ((5, 2), (30, 4)) for mode in lr.MODES
             for n, v in enumerate(lr.regression_chain_closed_form(8, T, d, 0.7, mode)["E_test_error"]) if n]
    return outcome(L.prove_regression_chain(impl), pairs)


@check("LAW-FIXED-REAL-RATIO", "symbolic", "ratio-laws", mutants={
    "stationary variance lambda sigma2/(n (1 + lambda))":
        {"stationary": lambda lam, n, s2: lam * s2 / (n * (1 + lam))},
    "deviation with rate a instead of a^2":
        {"deviation": lambda t, lam, n, s2: lam * s2 / (n * (1 + 2 * lam)) * (1 - (lam / (1 + lam)) ** t)},
    "Jacobian 1/(1 + lambda)": {"jacobian": lambda lam: 1 / (1 + lam)},
    "Jacobian lambda (contraction only for lambda < 1)": {"jacobian": lambda lam: lam},
})
def fixed_real_ratio(impl):
    """The refit decomposition, the deviation recursion and its stationary limit lambda sigma2/(n (1 + 2 lambda)),
    and the population Jacobian lambda/(1 + lambda) in [0, 1)."""
    f = L.with_overrides(LM.FIXED_RATIO_FORMULAS, impl)
    pairs = []
    for n, lam in ((4, 0.5), (10, 2.0)):
        dev = me.fixed_real_ratio_closed_form(6, n, lam, 1.3)["E_sq_dev_from_real_mean"]
        pairs += [(v, f["deviation"](_I(t), _I(lam), _I(n), _I(1.3))) for t, v in enumerate(dev) if t]
        pairs += [(me.fixed_ratio_stationary_variance(n, lam, 1.3), f["stationary"](_I(lam), _I(n), _I(1.3))),
                  (me.fixed_ratio_jacobian(lam), f["jacobian"](_I(lam)))]
    return outcome(LM.prove_fixed_real_ratio(impl), pairs)


@check("LAW-FRESH-DATA", "symbolic", "fresh-data-laws", mutants={
    "variance fixed point (1 - w) sigma2/(1 - b)": {"var_fixed_point": lambda w, b, s2: (1 - w) * s2 / (1 - b)},
    "variance fixed point sigma2/(1 - w b)": {"var_fixed_point": lambda w, b, s2: s2 / (1 - w * b)},
    "Var_inf sigma2 (n_r + n_s)/(n_r (n_r + n_s))":
        {"mean_error_limit_b1": lambda nr, ns, s2: s2 * (nr + ns) / (nr * (nr + ns))},
    "Var_inf sigma2/n_r": {"mean_error_limit_b1": lambda nr, ns, s2: s2 / nr},
})
def fresh_data(impl):
    """E[v' | past] = (1 - w) sigma2 + w b v and its fixed point; the mean-error recursion from three uncorrelated
    terms; its b = 1 fixed point sigma2 (n_r + n_s)/(n_r (n_r + 2 n_s))."""
    f = L.with_overrides(LM.FRESH_DATA_FORMULAS, impl)
    pairs = []
    for nr, ns, b in ((4, 12, 0.6), (10, 5, 1.2), (3, 3, 1.0)):
        fixed = me.fresh_data_fixed_points(nr, ns, 1.3, b)
        pairs.append((fixed["E_var"], f["var_fixed_point"](sp.Rational(ns, nr + ns), _I(b), _I(1.3))))
        if b == 1.0:
            pairs.append((fixed["E_sq_error"], f["mean_error_limit_b1"](_I(nr), _I(ns), _I(1.3))))
    return outcome(LM.prove_fresh_data(impl), pairs)


@check("LAW-OPTIMAL-WEIGHT", "symbolic", "optimal-weight-laws", mutants={
    "w* = (sqrt(r (r + 4)) + r)/2": {"optimal": lambda r: (sp.sqrt(r * (r + 4)) + r) / 2},
    "w* = r/(1 + r) (count-proportional)": {"optimal": lambda r: r / (1 + r)},
    "w* = (sqrt(r (r + 2)) - r)/2": {"optimal": lambda r: (sp.sqrt(r * (r + 2)) - r) / 2},
    "stationary variance without the (1 - w)^2 in the denominator":
        {"stationary": lambda w, nr, ns, s2: s2 * (w ** 2 / nr + (1 - w) ** 2 / ns) / w},
})
def optimal_weight(impl):
    """V_inf(w) is the fixed point of the weighted recursion; dV_inf/dw = q (w^2 + r w - r) with q > 0, vanishing at
    w*; 0 < w* < 1 (rationalised); w* = (sqrt 5 - 1)/2 at r = 1 and it beats the count weight 1/2."""
    f = L.with_overrides(LM.OPTIMAL_WEIGHT_FORMULAS, impl)
    pairs = []
    for nr, ns in ((1, 1), (4, 12), (30, 7)):
        pairs.append((me.optimal_real_weight(nr, ns), f["optimal"](sp.Rational(nr, ns))))
        pairs += [(me.weighted_stationary_variance(w, nr, ns, 1.3), f["stationary"](_I(w), _I(nr), _I(ns), _I(1.3)))
                  for w in (0.2, 0.5, 1.0)]
    return outcome(LM.prove_optimal_weight(impl), pairs)


@check("LAW-DIFFUSION-EARLY-STOP", "symbolic", "hermite-mode-laws", mutants={
    "training-law gain alpha/(1 - (1 - alpha) rho) given as the output gain":
        {"output_gain": lambda a, rho: a / (1 - (1 - a) * rho)},
    "output gain alpha rho/(1 - rho)": {"output_gain": lambda a, rho: a * rho / (1 - rho)},
    "rate 1 - alpha": {"rate": lambda a, rho: 1 - a},
    "rate (1 - alpha) rho^2": {"rate": lambda a, rho: (1 - a) * rho ** 2},
})
def diffusion_early_stop(impl):
    """OU eigenfunctions He_1..He_4 (Gaussian moments); the training-moment recursion and its closed form; the output
    gain as rho x the solved fixed point; the per-mode rate (1 - alpha) e^{-m delta} <= (1 - alpha) e^{-delta} <
    1 - alpha."""
    f = L.with_overrides(LT.DIFFUSION_FORMULAS, impl)
    pairs = []
    h = dd.mixture_hermite_moments((0.3, 0.7), (-2.0, 1.0), (0.5, 0.8))
    for alpha, delta in ((0.25, 0.1), (0.7, 0.5)):
        cf = dd.diffusion_closed_form(5, alpha, delta)
        for m in dd.MODES:
            rho = sp.exp(-m * _I(delta))
            pairs += [(v, rho * f["training_moment"](_I(k), _I(alpha), rho, sp.Float(h[m - 1], 30)))
                      for k, v in enumerate(cf[f"E_He{m}"])]
            pairs.append((dd.output_gain(m, alpha, delta), f["output_gain"](_I(alpha), rho)))
    return outcome(LT.prove_diffusion_early_stop(impl), pairs)


@check("LAW-ZIPF-TAIL", "symbolic", "zipf-asymptotics", mutants={
    "exponent_T = 1/beta": {"exponent_T": lambda beta: 1 / beta},
    "exponent_k = beta": {"exponent_k": lambda beta: beta},
    "constant_T without 1/beta": {"constant_T": lambda beta, z: sp.gamma(1 - 1 / beta) * z ** (-1 / beta)},
    "constant_k 1/(beta zeta)": {"constant_k": lambda beta, z: 1 / (beta * z)},
})
def zipf_tail(impl):
    """The seen-token error integral = C T^{-(1 - 1/beta)} and the tail integral = k^{-(beta - 1)}/((beta - 1) zeta)
    (sympy integrates both), their log-log slopes, the integral bounds on the tail sum, and (1 - p)^T <= e^{-T p}."""
    f = L.with_overrides(LT.ZIPF_FORMULAS, impl)
    pairs = []
    for beta in (1.5, 2.0, 3.0):
        a = zz.zipf_asymptotics(beta)
        z = sp.zeta(_I(beta))
        pairs += [(a["exponent_T"], f["exponent_T"](_I(beta))), (a["constant_T"], f["constant_T"](_I(beta), z)),
                  (a["exponent_k"], f["exponent_k"](_I(beta))), (a["constant_k"], f["constant_k"](_I(beta), z))]
    return outcome(LT.prove_zipf_tail(impl), pairs)
