"""Symbolic-tier checks of the collapse laws: the sympy proofs of :mod:`collapse_theory.proofs.laws`,
:mod:`collapse_theory.proofs.laws_mean` and :mod:`collapse_theory.proofs.laws_tails`, one check per law. ``impl`` is a
dictionary of replaced formulas (``None``: the toolkit's); each mutant replaces one formula by a plausible wrong one
(wrong divisor, wrong exponent, missing factor), and the proof must then fail at least one step.

A symbolic pass also certifies the numpy code users call: each check writes the (possibly replaced) proved formulas as
functions of the inputs the numpy functions of collapse_theory/theory/laws/ take (counts, rounds, variances, weights,
probabilities as symbols), evaluates them in 40-digit arithmetic at exactly those inputs and requires every numpy value
within its own derived tolerance (:func:`~collapse_theory.claims.laws.symbolic_links.derived_tolerance`: c eps times
the condition number of the expression with respect to its inputs and its rounded intermediates, c = 64, plus the
documented accuracy of digamma, Gamma and zeta and the length of numpy's sums), so a proved formula and a wrong numpy
function cannot both pass. Evidence ``numpy_max_err_over_tol`` (<= 1 to pass), ``numpy_points`` and
``numpy_link_max_rel_err``."""

from __future__ import annotations

import sympy as sp

from ...proofs import laws as L, laws_mean as LM, laws_tails as LT
from ...theory.laws import diffusion as dd, gaussian as lg, mean_estimation as me, regression as lr
from ...theory.laws import wright_fisher as lw, zipf as zz
from ..proved import linked_outcome
from ..registry import Outcome, check
from .symbolic_links import law_link

N, M, S2 = sp.symbols("n M sigma2", positive=True)
"""Rounds (or a count), the sample size and a variance: the inputs the numpy closed forms take."""


def outcome(result: dict, link: dict) -> Outcome:
    """The proof's outcome, failed too when a numpy value is off its proved value by more than its tolerance
    (:func:`~collapse_theory.claims.laws.symbolic_links.law_link`); evidence ``numpy_max_err_over_tol``,
    ``numpy_points``, ``numpy_link_max_rel_err`` (and ``numpy_link_error`` when a formula cannot be evaluated)."""
    base = linked_outcome(result, link)
    base.evidence["numpy_link_max_rel_err"] = link["numpy_link_max_rel_err"]
    if "numpy_link_error" in link:
        base.evidence["numpy_link_error"] = link["numpy_link_error"]
    return base


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
    making the log drift negative and c < 1. Link: each proved formula f_q(n, M, sigma2) against
    ``gaussian.gaussian_refit_closed_form(5, M, 1.7, estimator)[q][n]``, M = 2, 5, 20, n = 0..5 (digamma and the
    gammaln-based Gamma ratio add their documented accuracy)."""
    f = L.with_overrides(L.GAUSSIAN_FORMULAS, impl)
    cases = {(m, e): lg.gaussian_refit_closed_form(5, m, 1.7, e) for m in (2, 5, 20) for e in lg.ESTIMATORS}
    keys = [(m, n) for m in (2, 5, 20) for n in range(6)]
    items = []
    for q in L.GAUSSIAN_FORMULAS:
        for e in lg.ESTIMATORS:
            items.append((f[q](N, M, S2, e), (N, M, S2), [(n, m, 1.7) for m, n in keys],
                          [cases[m, e][q][n] for m, n in keys]))
    return outcome(L.prove_gaussian_refit(impl), law_link(items))


@check("LAW-GAUSSIAN-REFIT", "symbolic", "refit-laws-d-dim", mutants={
    "det factor k^d/D^d (Bartlett degrees ignored)":
        {"det_factor": lambda M, d, e: (M - 1) ** d / (M - 1 if e == "unbiased" else M) ** d},
    "log-det drift d [psi(k/2) + log(2/D)]":
        {"log_det_drift": lambda M, d, e: d * (sp.polygamma(0, (M - 1) / 2)
                                               + sp.log(2 / (M - 1 if e == "unbiased" else M)))},
})
def gaussian_refit_d(impl):
    """Bartlett decomposition for d = 2, 3: the per-round factor of E det Sigma_n is prod_i (k - i + 1)/D^d and the
    log-det drift sum_i [psi((k - i + 1)/2) + log(2/D)], from integrated chi-square moments. Link:
    E det Sigma_n = prod_i lambda_i det_factor(M, d)^n and E log det Sigma_n = sum_i log lambda_i
    + n log_det_drift(M, d) (lambda = the spectrum) against ``gaussian.gaussian_refit_d_closed_form(3, M, spectrum,
    estimator)`` ``E_det[n]``, ``E_log_det[n]``, n = 0..3."""
    f = L.with_overrides(L.GAUSSIAN_D_FORMULAS, impl)
    items = []
    for m, spectrum in ((4, (2.0, 0.5)), (9, (1.0, 3.0, 0.25))):
        d = len(spectrum)
        lam = sp.symbols(f"lambda1:{d + 1}", positive=True)
        symbols, points = (N, M, *lam), [(n, m, *spectrum) for n in range(4)]
        for e in lg.ESTIMATORS:
            cf = lg.gaussian_refit_d_closed_form(3, m, spectrum, e)
            items += [(sp.Mul(*lam) * f["det_factor"](M, d, e) ** N, symbols, points, cf["E_det"]),
                      (sp.Add(*[sp.log(v) for v in lam]) + N * f["log_det_drift"](M, d, e), symbols, points,
                       cf["E_log_det"])]
    return outcome(L.prove_gaussian_refit_d(impl), law_link(items))


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
    contraction and distance recursion and bound; the absorption (loss) probability as a harmonic function. Link,
    with ||p0||^2 = sum_i p_i^2 of the symbols p_i: E_collision(m, n, ||p0||^2) against
    ``wright_fisher.wright_fisher_closed_form(6, n, p0)["E_collision"][m]``, E_sq_dist_to_real(m, n, 1 - w, ||p0||^2)
    against ``..._closed_form(6, n, p0, w)["E_sq_dist_to_real"][m]`` (w = 0, 0.3; m = 0..6) and
    loss_probability(k, n) against ``wright_fisher.loss_probability(n, k)``, k = 0..n."""
    f = L.with_overrides(L.WRIGHT_FISHER_FORMULAS, impl)
    m_, k_, w_ = sp.symbols("m k w", nonnegative=True)
    items = []
    for n, p0 in ((3, (0.5, 0.3, 0.2)), (12, (0.25, 0.25, 0.25, 0.25))):
        p = sp.symbols(f"p1:{len(p0) + 1}", positive=True)
        purity = sp.Add(*[v ** 2 for v in p])
        symbols = (m_, N, w_, *p)
        points = [(m, n, 0.0, *p0) for m in range(7)]
        items.append((f["E_collision"](m_, N, purity), symbols, points,
                      lw.wright_fisher_closed_form(6, n, p0)["E_collision"]))
        for w in (0.0, 0.3):
            items.append((f["E_sq_dist_to_real"](m_, N, 1 - w_, purity), symbols, [(m, n, w, *p0) for m in range(7)],
                          lw.wright_fisher_closed_form(6, n, p0, w)["E_sq_dist_to_real"]))
        items.append((f["loss_probability"](k_, N), (k_, N), [(k, n) for k in range(n + 1)],
                      [lw.loss_probability(n, k) for k in range(n + 1)]))
    return outcome(L.prove_wright_fisher(impl), law_link(items))


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
    e_n = e_{n-1} + u_n/n; the factors n and sum 1/i^2 (-> pi^2/6); E 1/chi2_{T-d+1} = 1/(T - d - 1). Link:
    E_test_error(n, T, d, sigma2) against ``regression.regression_chain_closed_form(8, T, d, 0.7, mode)``
    ``["E_test_error"][n]``, (T, d) = (5, 2), (30, 4), n = 0..8 (accumulate: numpy's cumulative sum of n terms adds
    c eps n |f|)."""
    f = L.with_overrides(L.REGRESSION_FORMULAS, impl)
    T_, d_ = sp.symbols("T d", positive=True)
    designs = ((5, 2), (30, 4))
    items = []
    for mode in lr.MODES:
        cases = [lr.regression_chain_closed_form(8, T, d, 0.7, mode)["E_test_error"] for T, d in designs]
        for n in range(9):
            items.append((f["E_test_error"](sp.Integer(n), T_, d_, S2, mode), (T_, d_, S2),
                          [(T, d, 0.7) for T, d in designs], [case[n] for case in cases],
                          [n if mode == "accumulate" else 0] * len(designs)))
    return outcome(L.prove_regression_chain(impl), law_link(items))


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
    and the population Jacobian lambda/(1 + lambda) in [0, 1). Link: deviation(t, lambda, n, sigma2) against
    ``mean_estimation.fixed_real_ratio_closed_form(6, n, lambda, 1.3)["E_sq_dev_from_real_mean"][t]`` (t = 0..6),
    stationary(lambda, n, sigma2) against ``fixed_ratio_stationary_variance`` and jacobian(lambda) against
    ``fixed_ratio_jacobian``, (n, lambda) = (4, 0.5), (10, 2)."""
    f = L.with_overrides(LM.FIXED_RATIO_FORMULAS, impl)
    t_, lam_ = sp.symbols("t lambda", positive=True)
    cases = ((4, 0.5), (10, 2.0))
    deviations = [me.fixed_real_ratio_closed_form(6, n, lam, 1.3)["E_sq_dev_from_real_mean"] for n, lam in cases]
    items = [(f["deviation"](t_, lam_, N, S2), (t_, lam_, N, S2),
              [(t, lam, n, 1.3) for n, lam in cases for t in range(7)], [v for dev in deviations for v in dev]),
             (f["stationary"](lam_, N, S2), (lam_, N, S2), [(lam, n, 1.3) for n, lam in cases],
              [me.fixed_ratio_stationary_variance(n, lam, 1.3) for n, lam in cases]),
             (f["jacobian"](lam_), (lam_,), [(lam,) for _n, lam in cases],
              [me.fixed_ratio_jacobian(lam) for _n, lam in cases])]
    return outcome(LM.prove_fixed_real_ratio(impl), law_link(items))


@check("LAW-FRESH-DATA", "symbolic", "fresh-data-laws", mutants={
    "variance fixed point (1 - w) sigma2/(1 - b)": {"var_fixed_point": lambda w, b, s2: (1 - w) * s2 / (1 - b)},
    "variance fixed point sigma2/(1 - w b)": {"var_fixed_point": lambda w, b, s2: s2 / (1 - w * b)},
    "Var_inf sigma2 (n_r + n_s)/(n_r (n_r + n_s))":
        {"mean_error_limit_b1": lambda nr, ns, s2: s2 * (nr + ns) / (nr * (nr + ns))},
    "Var_inf sigma2/n_r": {"mean_error_limit_b1": lambda nr, ns, s2: s2 / nr},
})
def fresh_data(impl):
    """E[v' | past] = (1 - w) sigma2 + w b v and its fixed point; the mean-error recursion from three uncorrelated
    terms; its b = 1 fixed point sigma2 (n_r + n_s)/(n_r (n_r + 2 n_s)). Link: var_fixed_point(n_s/(n_r + n_s), b,
    sigma2) against ``mean_estimation.fresh_data_fixed_points(n_r, n_s, 1.3, b)["E_var"]`` and, at b = 1,
    mean_error_limit_b1(n_r, n_s, sigma2) against its ``["E_sq_error"]``."""
    f = L.with_overrides(LM.FRESH_DATA_FORMULAS, impl)
    nr_, ns_, b_ = sp.symbols("n_r n_s b", positive=True)
    cases = ((4, 12, 0.6), (10, 5, 1.2), (3, 3, 1.0))
    fixed = [me.fresh_data_fixed_points(nr, ns, 1.3, b) for nr, ns, b in cases]
    items = [(f["var_fixed_point"](ns_ / (nr_ + ns_), b_, S2), (nr_, ns_, b_, S2), [(*c, 1.3) for c in cases],
              [x["E_var"] for x in fixed]),
             (f["mean_error_limit_b1"](nr_, ns_, S2), (nr_, ns_, S2),
              [(nr, ns, 1.3) for nr, ns, b in cases if b == 1.0],
              [x["E_sq_error"] for x, (_nr, _ns, b) in zip(fixed, cases) if b == 1.0])]
    return outcome(LM.prove_fresh_data(impl), law_link(items))


@check("LAW-OPTIMAL-WEIGHT", "symbolic", "optimal-weight-laws", mutants={
    "w* = (sqrt(r (r + 4)) + r)/2": {"optimal": lambda r: (sp.sqrt(r * (r + 4)) + r) / 2},
    "w* = r/(1 + r) (count-proportional)": {"optimal": lambda r: r / (1 + r)},
    "w* = (sqrt(r (r + 2)) - r)/2": {"optimal": lambda r: (sp.sqrt(r * (r + 2)) - r) / 2},
    "stationary variance without the (1 - w)^2 in the denominator":
        {"stationary": lambda w, nr, ns, s2: s2 * (w ** 2 / nr + (1 - w) ** 2 / ns) / w},
})
def optimal_weight(impl):
    """V_inf(w) is the fixed point of the weighted recursion; dV_inf/dw = q (w^2 + r w - r) with q > 0, vanishing at
    w*; 0 < w* < 1 (rationalised); w* = (sqrt 5 - 1)/2 at r = 1 and it beats the count weight 1/2. Link:
    optimal(n_r/n_s) against ``mean_estimation.optimal_real_weight(n_r, n_s)`` and stationary(w, n_r, n_s, sigma2)
    against ``weighted_stationary_variance(w, n_r, n_s, 1.3)``, w = 0.2, 0.5, 1."""
    f = L.with_overrides(LM.OPTIMAL_WEIGHT_FORMULAS, impl)
    nr_, ns_, w_ = sp.symbols("n_r n_s w", positive=True)
    cases = ((1, 1), (4, 12), (30, 7))
    items = [(f["optimal"](nr_ / ns_), (nr_, ns_), cases, [me.optimal_real_weight(nr, ns) for nr, ns in cases]),
             (f["stationary"](w_, nr_, ns_, S2), (w_, nr_, ns_, S2),
              [(w, nr, ns, 1.3) for nr, ns in cases for w in (0.2, 0.5, 1.0)],
              [me.weighted_stationary_variance(w, nr, ns, 1.3) for nr, ns in cases for w in (0.2, 0.5, 1.0)])]
    return outcome(LM.prove_optimal_weight(impl), law_link(items))


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
    1 - alpha. Link, with rho = e^{-m delta}: rho training_moment(k, alpha, rho, h_m*) against
    ``diffusion.diffusion_closed_form(5, alpha, delta)["E_He<m>"][k]`` (h_m* = the package's
    ``mixture_hermite_moments``, an input of the proved law) and output_gain(alpha, rho) against
    ``diffusion.output_gain(m, alpha, delta)``, (alpha, delta) = (0.25, 0.1), (0.7, 0.5), m = 1..4, k = 0..5."""
    f = L.with_overrides(LT.DIFFUSION_FORMULAS, impl)
    k_, a_, d_, h_ = sp.symbols("k alpha delta h")
    h = dd.mixture_hermite_moments((0.3, 0.7), (-2.0, 1.0), (0.5, 0.8))
    cases = ((0.25, 0.1), (0.7, 0.5))
    closed = [dd.diffusion_closed_form(5, alpha, delta) for alpha, delta in cases]
    items = []
    for m in dd.MODES:
        rho = sp.exp(-m * d_)
        items += [(rho * f["training_moment"](k_, a_, rho, h_), (k_, a_, d_, h_),
                   [(k, alpha, delta, h[m - 1]) for alpha, delta in cases for k in range(6)],
                   [v for cf in closed for v in cf[f"E_He{m}"]]),
                  (f["output_gain"](a_, rho), (a_, d_), cases,
                   [dd.output_gain(m, alpha, delta) for alpha, delta in cases])]
    return outcome(LT.prove_diffusion_early_stop(impl), law_link(items))


@check("LAW-ZIPF-TAIL", "symbolic", "zipf-asymptotics", mutants={
    "exponent_T = 1/beta": {"exponent_T": lambda beta: 1 / beta},
    "exponent_k = beta": {"exponent_k": lambda beta: beta},
    "constant_T without 1/beta": {"constant_T": lambda beta, z: sp.gamma(1 - 1 / beta) * z ** (-1 / beta)},
    "constant_k 1/(beta zeta)": {"constant_k": lambda beta, z: 1 / (beta * z)},
})
def zipf_tail(impl):
    """The seen-token error integral = C T^{-(1 - 1/beta)} and the tail integral = k^{-(beta - 1)}/((beta - 1) zeta)
    (sympy integrates both), their log-log slopes, the integral bounds on the tail sum, and (1 - p)^T <= e^{-T p}.
    Link: each formula at zeta = zeta(beta) against ``zipf.zipf_asymptotics(beta)``, beta = 1.5, 2, 3 (Gamma and zeta
    add their documented accuracy)."""
    f = L.with_overrides(LT.ZIPF_FORMULAS, impl)
    beta = sp.Symbol("beta", positive=True)
    betas = (1.5, 2.0, 3.0)
    found = [zz.zipf_asymptotics(b) for b in betas]
    args = {"exponent_T": (beta,), "constant_T": (beta, sp.zeta(beta)), "exponent_k": (beta,),
            "constant_k": (beta, sp.zeta(beta))}
    items = [(f[q](*args[q]), (beta,), [(b,) for b in betas], [a[q] for a in found]) for q in args]
    return outcome(LT.prove_zipf_tail(impl), law_link(items))
