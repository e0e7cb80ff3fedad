"""Numeric-tier checks of laws 1-3 (LAW-GAUSSIAN-REFIT, LAW-WRIGHT-FISHER, LAW-REGRESSION-CHAIN): the numpy closed
forms users call (``impl``; ``None`` = the toolkit's) against Monte-Carlo of the literal procedure and against
independent oracles (scipy.stats distributions, exact enumeration). Laws 4-6: :mod:`.numeric_mean`; laws 7-8: :mod:`.numeric_tails`.

Monte-Carlo comparisons: replicate z-scores z = (mean - closed form)/(std(ddof=1)/sqrt(R)) at every random round
(round 0 is the real law itself and is compared exactly), held to ``z_limit(m, R)`` for the m comparisons of the
check (Sidak-corrected t_{R-1}; a false failure in at most 1 of 1000 runs). Simulations do not depend on ``impl``,
so they run once per process (cached) and each mutant costs only its closed form. Parameters keep the replicate
quantities close enough to Gaussian for the t limit: where a quantity is log-normal-like (refitted variances,
determinants) Var(log) <= 1.1 at the last round, so its skewness is <= 7 and that of a mean of R >= 8000 replicates
<= 0.08.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special, stats

from ...stats import z_limit, z_scores
from ...theory.laws import gaussian as lg, regression as lr, wright_fisher as lw
from ..registry import Outcome, check


def mc_agreement(pairs, replicates: int, exact_rounds: int = 1) -> dict:
    """pairs: [(label, closed form {q: (N+1,)}, samples {q: (R, N+1)})]. Compares rounds >= ``exact_rounds`` of every
    quantity by z-scores; the first ``exact_rounds`` rounds (the real law itself, not random) must agree exactly (to
    1e-12 relative: float rounding of the same number). Returns evidence with 'passed'."""
    zs, worst_start = [], 0.0
    per_label = {}
    for label, closed, samples in pairs:
        worst_here = 0.0
        for q, draws in samples.items():
            expected = np.asarray(closed[q], dtype=float)
            z = z_scores(draws[:, exact_rounds:], expected[exact_rounds:])
            zs.append(np.ravel(z))
            worst_here = max(worst_here, float(np.max(np.abs(np.nan_to_num(z, nan=np.inf)))))
            for r in range(exact_rounds):
                start = np.abs(draws[:, r] - expected[r]).max() / max(1.0, abs(expected[r]))
                worst_start = max(worst_start, float(start))
        per_label[label] = worst_here
    z = np.concatenate(zs)
    m = z.size
    limit = z_limit(m, replicates)
    worst = float(np.max(np.abs(np.nan_to_num(z, nan=np.inf))))
    evidence = {"max_abs_z": worst, "z_limit": limit, "n_compared": m, "replicates": replicates,
                "round0_rel_err": worst_start}
    evidence.update({f"max_abs_z[{k}]": v for k, v in per_label.items()})
    evidence["passed"] = bool(worst <= limit and worst_start <= 1e-12)
    return evidence


def _result(evidence: dict) -> Outcome:
    passed = evidence.pop("passed")
    return Outcome(passed, evidence)


# ============================================================================================= law 1

def _g_unbiased_divisor_m(rounds, samples=10, sigma2=1.0, estimator="unbiased"):
    return lg.gaussian_refit_closed_form(rounds, samples, sigma2, "mle")


def _g_std_k_is_m(rounds, samples=10, sigma2=1.0, estimator="unbiased"):
    out = dict(lg.gaussian_refit_closed_form(rounds, samples, sigma2, estimator))
    _, D = lg.refit_constants(samples, estimator)
    c_wrong = np.sqrt(2.0 / D) * np.exp(special.gammaln((samples + 1) / 2) - special.gammaln(samples / 2))
    out["E_std"] = np.sqrt(sigma2) * c_wrong ** np.arange(rounds + 1)
    return out


def _g_mse_divisor(rounds, samples=10, sigma2=1.0, estimator="unbiased"):
    out = dict(lg.gaussian_refit_closed_form(rounds, samples, sigma2, estimator))
    out["E_mean_sq_error"] = out["E_mean_sq_error"] * samples / (samples - 1)
    return out


def _g_log_drift_ignores_divisor(rounds, samples=10, sigma2=1.0, estimator="unbiased"):
    out = dict(lg.gaussian_refit_closed_form(rounds, samples, sigma2, estimator))
    out["E_log_var"] = np.log(sigma2) + np.arange(rounds + 1) * lg.log_drift(samples, "unbiased")
    return out


def _g_w2_factor(rounds, samples=10, sigma2=1.0, estimator="unbiased"):
    out = dict(lg.gaussian_refit_closed_form(rounds, samples, sigma2, estimator))
    out["E_w2_squared"] = out["E_mean_sq_error"] + out["E_var"] - out["E_std"] * np.sqrt(sigma2)
    return out


GAUSSIAN_MUTANTS = {
    "unbiased fit given the mle law (divisor M)": _g_unbiased_divisor_m,
    "E sigma_n with c_k at k = M": _g_std_k_is_m,
    "E (mu_n - mu)^2 with divisor M - 1": _g_mse_divisor,
    "log drift psi(k/2) + log(2/k) for both estimators": _g_log_drift_ignores_divisor,
    "W2 with 1 sigma E sigma_n (missing factor 2)": _g_w2_factor,
}

GAUSSIAN_MC = {"configs": ((16, "unbiased"), (16, "mle"), (50, "unbiased")), "sigma2": 2.0, "rounds": 6,
               "replicates": 20000, "seed": 15001}


@lru_cache(maxsize=None)
def _gaussian_runs():
    p = GAUSSIAN_MC
    return {(M, e): lg.simulate_gaussian_refit(p["rounds"], p["replicates"], p["seed"] + i, M, p["sigma2"], e,
                                               mean=0.5)
            for i, (M, e) in enumerate(p["configs"])}


@check("LAW-GAUSSIAN-REFIT", "numeric", "monte-carlo-1d", mutants=GAUSSIAN_MUTANTS)
def gaussian_monte_carlo(impl=None) -> Outcome:
    """R = 20000 replicates of the literal procedure (draw M samples, numpy mean and var with ddof 1 or 0) for
    M = 16 (unbiased, mle) and M = 50 (unbiased), sigma2 = 2, rounds 1..6: every quantity (E_var, E_log_var, E_std,
    E_mean_sq_error, E_w2_squared) within z_limit(m, R) of the closed form (Var log sigma2_6 = 6 psi'(7.5) = 0.86)."""
    fn = impl or lg.gaussian_refit_closed_form
    p = GAUSSIAN_MC
    pairs = [(f"M={M},{e}", fn(p["rounds"], M, p["sigma2"], e), runs)
             for (M, e), runs in _gaussian_runs().items()]
    return _result(mc_agreement(pairs, p["replicates"]) | {"seed": p["seed"]})


def _gd_det_factor(rounds, samples=10, spectrum=(1.0, 0.5), estimator="unbiased"):
    out = dict(lg.gaussian_refit_d_closed_form(rounds, samples, spectrum, estimator))
    k, D = lg.refit_constants(samples, estimator)
    out["E_det"] = np.prod(spectrum) * ((k / D) ** len(spectrum)) ** np.arange(rounds + 1)
    return out


def _gd_log_det(rounds, samples=10, spectrum=(1.0, 0.5), estimator="unbiased"):
    out = dict(lg.gaussian_refit_d_closed_form(rounds, samples, spectrum, estimator))
    out["E_log_det"] = np.sum(np.log(spectrum)) + np.arange(rounds + 1) * len(spectrum) * lg.log_drift(samples,
                                                                                                       estimator)
    return out


def _gd_mse_dim(rounds, samples=10, spectrum=(1.0, 0.5), estimator="unbiased"):
    out = dict(lg.gaussian_refit_d_closed_form(rounds, samples, spectrum, estimator))
    out["E_mean_sq_error"] = out["E_mean_sq_error"] * len(spectrum) / np.sum(spectrum) * np.max(spectrum)
    return out


GAUSSIAN_D_MC = {"samples": 30, "spectrum": (2.0, 1.0, 0.5), "rounds": 5, "replicates": 8000, "seed": 15101}


@lru_cache(maxsize=None)
def _gaussian_d_runs():
    p = GAUSSIAN_D_MC
    return {e: lg.simulate_gaussian_refit_d(p["rounds"], p["replicates"], p["seed"] + i, p["samples"],
                                            p["spectrum"], e) for i, e in enumerate(lg.ESTIMATORS)}


@check("LAW-GAUSSIAN-REFIT", "numeric", "monte-carlo-d-dim", mutants={
    "E det with factor (k/D)^d (Bartlett degrees ignored)": _gd_det_factor,
    "E log det drift d x the 1-D drift": _gd_log_det,
    "E ||mu_n - mu||^2 with d lambda_max for tr Sigma": _gd_mse_dim,
})
def gaussian_d_monte_carlo(impl=None) -> Outcome:
    """d = 3, Sigma = diag(2, 1, 0.5), M = 30, both estimators, R = 8000, rounds 1..5: E tr, E log det, E det and
    E ||mu_n - mu||^2 of the literal refit (Cholesky sampling, sample covariance) within z_limit(m, R) of the closed
    form (Var log det Sigma_5 = 5 sum_i psi'((30 - i)/2) = 1.1)."""
    fn = impl or lg.gaussian_refit_d_closed_form
    p = GAUSSIAN_D_MC
    pairs = [(e, fn(p["rounds"], p["samples"], p["spectrum"], e), runs) for e, runs in _gaussian_d_runs().items()]
    return _result(mc_agreement(pairs, p["replicates"]) | {"seed": p["seed"]})


def _gd_mse_divisor(rounds, samples=10, spectrum=(1.0, 0.5), estimator="unbiased"):
    out = dict(lg.gaussian_refit_d_closed_form(rounds, samples, spectrum, estimator))
    out["E_mean_sq_error"] = out["E_mean_sq_error"] * samples / (samples - 1)
    return out


def _gd_trace_shift(rounds, samples=10, spectrum=(1.0, 0.5), estimator="unbiased"):
    out = dict(lg.gaussian_refit_d_closed_form(rounds + 1, samples, spectrum, estimator))
    out = {q: v[1:] for q, v in out.items()}
    exact = lg.gaussian_refit_d_closed_form(rounds, samples, spectrum, estimator)
    return {**exact, "E_trace_cov": out["E_trace_cov"]}


GAUSSIAN_D_ORACLE_CASES = ((2, (1.5,)), (5, (2.0, 0.5)), (9, (1.0, 3.0, 0.25)), (40, (2.0, 1.0, 0.5, 0.1)))


@check("LAW-GAUSSIAN-REFIT", "numeric", "d-dim-scipy-oracle", mutants={
    "E ||mu_n - mu||^2 with divisor M - 1 (d dimensions)": _gd_mse_divisor,
    "E ||mu_n - mu||^2 with d lambda_max for tr Sigma": _gd_mse_dim,
    "E tr Sigma_n one round ahead (q^(n+1))": _gd_trace_shift,
    "E det with factor (k/D)^d (Bartlett degrees ignored)": _gd_det_factor,
    "E log det drift d x the 1-D drift": _gd_log_det,
})
def gaussian_d_scipy_oracle(impl=None) -> Outcome:
    """Exact, rounds 0..8, both estimators, (M, spectrum) in GAUSSIAN_D_ORACLE_CASES (d = 1..4), from scipy.stats
    one-round moments and the tower rule (Sigma_{n+1} = S/D, S ~ Wishart_d(k, Sigma_n); mu_{n+1} ~ N(mu_n, Sigma_n/M)):
    E tr Sigma_n = tr Sigma (chi2(k).mean()/D)^n (E S = k Sigma); E ||mu_n - mu||^2 = sum_{j<n} E tr Sigma_j / M;
    E det Sigma_n = det Sigma prod_i (chi2(k - i + 1).mean()/D)^n and E log det Sigma_n - log det Sigma =
    n sum_i [chi2(k - i + 1).expect(log, epsrel=1e-12) - log D] (Bartlett). The Monte-Carlo check alone cannot see a
    3 % error in E ||mu_n - mu||^2 at R = 8000 (relative standard error ~1 %); this one does. Tolerance 1e-9
    relative (quad asked for 1e-12; the rest is float64 products of <= 9 factors)."""
    fn = impl or lg.gaussian_refit_d_closed_form
    rounds, worst = 8, 0.0
    n = np.arange(rounds + 1)
    for M, spectrum in GAUSSIAN_D_ORACLE_CASES:
        lam = np.asarray(spectrum)
        d, k = lam.size, M - 1
        for e in lg.ESTIMATORS:
            D = k if e == "unbiased" else M
            trace = lam.sum() * (stats.chi2(k).mean() / D) ** n
            oracle = {"E_trace_cov": trace,
                      "E_mean_sq_error": np.concatenate([[0.0], np.cumsum(trace[:-1])]) / M,
                      "E_det": np.prod(lam) * np.prod([stats.chi2(k - i).mean() / D for i in range(d)]) ** n,
                      "E_log_det": np.sum(np.log(lam)) + n * sum(stats.chi2(k - i).expect(np.log, epsrel=1e-12)
                                                                 - np.log(D) for i in range(d))}
            cf = fn(rounds, M, spectrum, e)
            for q, v in oracle.items():
                scale = np.maximum(np.abs(v), 1.0 if q == "E_log_det" else 1e-300)
                worst = max(worst, float(np.max(np.abs(np.asarray(cf[q]) - v) / scale)))
    return Outcome(worst <= 1e-9, {"max_rel_err": worst, "tolerance": 1e-9, "rounds": rounds})


@lru_cache(maxsize=None)
def _scipy_one_round(M: int, estimator: str, s2: float) -> tuple[float, ...]:
    """(E sigma2_1, E sigma_1, E log sigma2_1, E (mu_1 - mu)^2, E W2^2) from scipy.stats.chi / chi2 (quad)."""
    k = M - 1
    D = k if estimator == "unbiased" else M
    var1 = s2 * stats.chi2(k).mean() / D
    std1 = np.sqrt(s2) * stats.chi(k).mean() / np.sqrt(D)
    log1 = np.log(s2) + stats.chi2(k).expect(np.log, epsrel=1e-12) - np.log(D)
    return var1, std1, log1, s2 / M, s2 / M + var1 - 2 * np.sqrt(s2) * std1 + s2


@check("LAW-GAUSSIAN-REFIT", "numeric", "scipy-oracle", mutants=GAUSSIAN_MUTANTS)
def gaussian_scipy_oracle(impl=None) -> Outcome:
    """One round of the closed form against scipy.stats, M = 2..40, both estimators: E sigma_1/sigma =
    scipy.stats.chi(k).mean()/sqrt(D); E log sigma2_1 - log sigma2 = chi2(k).expect(log, epsrel=1e-12) - log D;
    E (mu_1 - mu)^2 = sigma2/M; E W2^2 = sigma2/M + E sigma2_1 - 2 sigma E sigma_1 + sigma2 with E sigma2_1 =
    sigma2 chi2(k).mean()/D; and round 2 of E sigma is sigma (E sigma_1/sigma)^2. Tolerance 1e-9 absolute (quad asked
    for 1e-12 relative; the values are O(1))."""
    fn = impl or lg.gaussian_refit_closed_form
    s2, worst = 1.7, 0.0
    for e in lg.ESTIMATORS:
        for M in range(2, 41):
            var1, std1, log1, mse1, w21 = _scipy_one_round(M, e, s2)
            cf = fn(2, M, s2, e)
            diffs = [cf["E_var"][1] - var1, cf["E_std"][1] - std1, cf["E_log_var"][1] - log1,
                     cf["E_mean_sq_error"][1] - mse1, cf["E_w2_squared"][1] - w21,
                     cf["E_std"][2] - std1 ** 2 / np.sqrt(s2)]
            worst = max(worst, float(np.max(np.abs(diffs))))
    return Outcome(worst <= 1e-9, {"max_abs_err": worst, "tolerance": 1e-9, "M": "2..40"})


# ============================================================================================= law 2

def _w_rate(rounds, n=10, p0=(0.5, 0.3, 0.2), real_weight=0.0):
    out = dict(lw.wright_fisher_closed_form(rounds, n, p0, real_weight))
    purity = float(np.dot(p0, p0))
    a = 1 - real_weight
    rho = a * a * (1 - 2.0 / n)
    d_inf = a * a * (1 - purity) / (n - a * a * (n - 1))
    out["E_sq_dist_to_real"] = d_inf * (1 - rho ** np.arange(rounds + 1))
    out["E_collision"] = purity + out["E_sq_dist_to_real"]
    return out


def _w_shift(rounds, n=10, p0=(0.5, 0.3, 0.2), real_weight=0.0):
    out = lw.wright_fisher_closed_form(rounds + 1, n, p0, real_weight)
    return {q: v[1:] for q, v in out.items()}


def _w_linear_a(rounds, n=10, p0=(0.5, 0.3, 0.2), real_weight=0.0):
    a = 1 - real_weight
    purity = float(np.dot(p0, p0))
    rho = a * (1 - 1.0 / n)
    dist = a * (1 - purity) / (n - a * (n - 1)) * (1 - rho ** np.arange(rounds + 1))
    return {"E_collision": purity + dist, "E_sq_dist_to_real": dist}


WRIGHT_FISHER_MUTANTS = {
    "rate 1 - 2/n": _w_rate,
    "one round ahead (m + 1)": _w_shift,
    "mixing weight a instead of a^2": _w_linear_a,
}


@check("LAW-WRIGHT-FISHER", "numeric", "exact-enumeration", mutants=WRIGHT_FISHER_MUTANTS)
def wright_fisher_exact(impl=None) -> Outcome:
    """Against exact enumeration of every count vector (scipy.stats.multinomial transition matrices):
    n in {3, 6}, p0 = (0.5, 0.3, 0.2) and (0.4, 0.3, 0.2, 0.1), real weight in {0, 0.3, 0.7}, rounds 0..15.
    Tolerance 1e-11 absolute: sums of <= 84 probabilities, each step O(states x eps)."""
    fn = impl or lw.wright_fisher_closed_form
    worst = 0.0
    for n in (3, 6):
        for p0 in ((0.5, 0.3, 0.2), (0.4, 0.3, 0.2, 0.1)):
            for w in (0.0, 0.3, 0.7):
                exact = lw.exact_wright_fisher(15, n, p0, w)
                cf = fn(15, n, p0, w)
                worst = max(worst, max(float(np.max(np.abs(np.asarray(cf[q]) - exact[q]))) for q in exact))
    return Outcome(worst <= 1e-11, {"max_abs_err": worst, "tolerance": 1e-11})


WF_MC = {"n": 20, "p0": (0.4, 0.3, 0.2, 0.1), "weights": (0.0, 0.2), "rounds": 30, "replicates": 20000,
         "seed": 15201}


@lru_cache(maxsize=None)
def _wf_runs():
    p = WF_MC
    return {w: lw.simulate_wright_fisher(p["rounds"], p["replicates"], p["seed"] + i, p["n"], p["p0"], w)
            for i, w in enumerate(p["weights"])}


@check("LAW-WRIGHT-FISHER", "numeric", "monte-carlo", mutants=WRIGHT_FISHER_MUTANTS)
def wright_fisher_monte_carlo(impl=None) -> Outcome:
    """R = 20000 chains with numpy's multinomial sampler, n = 20, p0 = (0.4, 0.3, 0.2, 0.1), real weight 0 and 0.2,
    rounds 1..30: E ||p_m||^2 and E ||p_m - p0||^2 within z_limit(m, R) of the closed form."""
    fn = impl or lw.wright_fisher_closed_form
    p = WF_MC
    pairs = [(f"w={w}", fn(p["rounds"], p["n"], p["p0"], w), runs) for w, runs in _wf_runs().items()]
    return _result(mc_agreement(pairs, p["replicates"]) | {"seed": p["seed"]})


LOSS_ROUNDS = 4000


@lru_cache(maxsize=None)
def _absorption(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P(count = 0) and P(count = n) after LOSS_ROUNDS rounds of the exact one-symbol chain (count' ~
    Binomial(n, count/n), scipy.stats.binom), from every start k = 0..n (a matrix power)."""
    states = np.arange(n + 1)
    P = stats.binom.pmf(states[None, :], n, states[:, None] / n)
    Pm = np.linalg.matrix_power(P, LOSS_ROUNDS)
    return Pm[:, 0], Pm[:, n]


@check("LAW-WRIGHT-FISHER", "numeric", "loss-probability", mutants={
    "k/n (the fixation probability)": lambda n, k: k / n,
    "1 - k/(n + 1)": lambda n, k: 1 - k / (n + 1),
    "(1 - k/n)^2": lambda n, k: (1 - k / n) ** 2,
})
def wright_fisher_loss(impl=None) -> Outcome:
    """P(a symbol of count k is lost) = 1 - k/n against the exact one-symbol chain after 4000 rounds,
    n in {2, 5, 10, 20}, every k: |h(k) - P(count_4000 = 0)| <= P(not absorbed by round 4000) + 1e-12 (the limit
    lies between P(lost by m) and P(lost by m) + P(unabsorbed at m); 1e-12 covers the matrix power's rounding)."""
    fn = impl or lw.loss_probability
    worst, slack, ok = 0.0, 0.0, True
    for n in (2, 5, 10, 20):
        lost, fixed = _absorption(n)
        for k in range(n + 1):
            unabsorbed = max(0.0, 1.0 - lost[k] - fixed[k])
            err = abs(fn(n, k) - lost[k])
            worst, slack = max(worst, float(err)), max(slack, float(unabsorbed))
            ok &= bool(err <= unabsorbed + 1e-12)
    return Outcome(ok, {"max_abs_err": worst, "max_unabsorbed": slack, "rounds": LOSS_ROUNDS})


# ============================================================================================= law 3

def _r_divisor(rounds, T=20, d=5, sigma2=1.0, mode="replace"):
    return {"E_test_error": sigma2 * d / (T - d) * lr.error_factor(rounds, mode)}


def _r_harmonic(rounds, T=20, d=5, sigma2=1.0, mode="replace"):
    n = np.arange(rounds + 1, dtype=float)
    factor = n if mode == "replace" else np.concatenate([[0.0], np.cumsum(1.0 / n[1:])])
    return {"E_test_error": sigma2 * d / (T - d - 1) * factor}


def _r_missing_d(rounds, T=20, d=5, sigma2=1.0, mode="replace"):
    return {"E_test_error": sigma2 / (T - d - 1) * lr.error_factor(rounds, mode)}


def _r_accumulate_linear(rounds, T=20, d=5, sigma2=1.0, mode="replace"):
    return {"E_test_error": sigma2 * d / (T - d - 1) * lr.error_factor(rounds, "replace")}


REGRESSION_MUTANTS = {
    "divisor T - d": _r_divisor,
    "accumulate with sum 1/i": _r_harmonic,
    "missing factor d": _r_missing_d,
    "accumulate grows like replace": _r_accumulate_linear,
}
REG_MC = {"T": 30, "d": 4, "sigma2": 0.5, "rounds": 8, "replicates": 20000, "seed": 15301, "spectrum": (3, 1, 1, .2)}


@lru_cache(maxsize=None)
def _regression_runs():
    p = REG_MC
    return {mode: lr.simulate_regression_chain(p["rounds"], p["replicates"], p["seed"] + i, p["T"], p["d"],
                                               p["sigma2"], mode, spectrum=p["spectrum"])
            for i, mode in enumerate(lr.MODES)}


@check("LAW-REGRESSION-CHAIN", "numeric", "monte-carlo", mutants=REGRESSION_MUTANTS)
def regression_monte_carlo(impl=None) -> Outcome:
    """R = 20000 chains (one Gaussian design per chain, rows N(0, diag(3, 1, 1, 0.2)), T = 30, d = 4, sigma2 = 0.5,
    least squares by numpy.linalg.solve, accumulate on the stacked data), rounds 1..8, both modes: the mean test
    error within z_limit(m, R) of the closed form (which does not depend on Sigma)."""
    fn = impl or lr.regression_chain_closed_form
    p = REG_MC
    pairs = [(mode, fn(p["rounds"], p["T"], p["d"], p["sigma2"], mode), runs)
             for mode, runs in _regression_runs().items()]
    return _result(mc_agreement(pairs, p["replicates"]) | {"seed": p["seed"]})


@check("LAW-REGRESSION-CHAIN", "numeric", "inverse-wishart-oracle", mutants=REGRESSION_MUTANTS)
def regression_oracle(impl=None) -> Outcome:
    """Round 1 of the closed form equals sigma2 tr E[(X^T X)^{-1}] with the mean of scipy.stats.invwishart(df=T,
    scale=I_d) (T = d + 2 .. d + 40, d = 1..6) to 1e-12 relative, and rounds n <= 10^4: accumulate / round 1 =
    sum_{i<=n} 1/i^2 rises to pi^2/6 (the gap at n = 10^4 lies in [1/(n + 1), 1/n]) and replace / round 1 = n."""
    fn = impl or lr.regression_chain_closed_form
    worst, ok = 0.0, True
    for d in range(1, 7):
        for T in range(d + 2, d + 41):
            oracle = np.trace(np.atleast_2d(stats.invwishart(df=T, scale=np.eye(d) if d > 1 else 1.0).mean())) * 0.7
            got = fn(1, T, d, 0.7, "replace")["E_test_error"][1]
            worst = max(worst, abs(got - oracle) / oracle)
            got_acc = fn(1, T, d, 0.7, "accumulate")["E_test_error"][1]
            worst = max(worst, abs(got_acc - oracle) / oracle)
    n = 10_000
    acc = fn(n, 12, 3, 1.0, "accumulate")["E_test_error"]
    rep = fn(n, 12, 3, 1.0, "replace")["E_test_error"]
    ratio = acc / acc[1]
    gap = np.pi ** 2 / 6 - ratio[-1]
    ok &= bool(np.all(np.diff(ratio) > 0)) and 1 / (n + 1) <= gap <= 1 / n
    ok &= bool(np.allclose(rep / rep[1], np.arange(n + 1), rtol=1e-12, atol=0))
    return Outcome(bool(ok and worst <= 1e-12), {"max_rel_err_invwishart": worst, "pi2_6_gap_at_1e4": float(gap)})
