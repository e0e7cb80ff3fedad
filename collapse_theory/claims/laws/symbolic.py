"""Symbolic-tier checks of the collapse laws: the sympy proofs of :mod:`collapse_theory.proofs.laws` and
:mod:`collapse_theory.proofs.laws_mean`, one check per law. ``impl`` is a dictionary of replaced formulas (``None``:
the toolkit's); each mutant replaces one formula by a plausible wrong one (wrong divisor, wrong exponent, missing
factor), and the proof must then fail at least one step."""

from __future__ import annotations

import sympy as sp

from ...proofs import laws as L, laws_mean as LM, laws_tails as LT
from ..proved import proof_outcome as outcome
from ..registry import check


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
    return outcome(L.prove_gaussian_refit(impl))


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
    return outcome(L.prove_gaussian_refit_d(impl))


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
    return outcome(L.prove_wright_fisher(impl))


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
    return outcome(L.prove_regression_chain(impl))


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
    return outcome(LM.prove_fixed_real_ratio(impl))


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
    return outcome(LM.prove_fresh_data(impl))


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
    return outcome(LM.prove_optimal_weight(impl))


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
    return outcome(LT.prove_diffusion_early_stop(impl))


@check("LAW-ZIPF-TAIL", "symbolic", "zipf-asymptotics", mutants={
    "exponent_T = 1/beta": {"exponent_T": lambda beta: 1 / beta},
    "exponent_k = beta": {"exponent_k": lambda beta: beta},
    "constant_T without 1/beta": {"constant_T": lambda beta, z: sp.gamma(1 - 1 / beta) * z ** (-1 / beta)},
    "constant_k 1/(beta zeta)": {"constant_k": lambda beta, z: 1 / (beta * z)},
})
def zipf_tail(impl):
    """The seen-token error integral = C T^{-(1 - 1/beta)} and the tail integral = k^{-(beta - 1)}/((beta - 1) zeta)
    (sympy integrates both), their log-log slopes, the integral bounds on the tail sum, and (1 - p)^T <= e^{-T p}."""
    return outcome(LT.prove_zipf_tail(impl))
