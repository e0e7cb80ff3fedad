"""Law 1: recursive Gaussian refitting (claim LAW-GAUSSIAN-REFIT; compare: Shumailov et al., arXiv 2305.17493).

Round 0 is the real law N(mu, sigma2). Round n + 1 draws M samples from N(mu_n, sigma2_n) and fits
mu_{n+1} = sample mean, sigma2_{n+1} = S / D with S = sum (x_j - xbar)^2 ~ sigma2_n chi2_k, k = M - 1, and the
divisor D = M - 1 (``unbiased``) or D = M (``mle``). Sample mean and S are independent (Cochran), so with q = k/D
and c = E sqrt(chi2_k / D) = sqrt(2/D) Gamma((k + 1)/2) / Gamma(k/2):

    E sigma2_n        = sigma2 q^n                         (a martingale for the unbiased fit: q = 1)
    E log sigma2_n    = log sigma2 + n [psi(k/2) + log(2/D)]
    E sigma_n         = sigma c^n                          (c < 1 by Jensen: sigma_n -> 0 almost surely)
    E (mu_n - mu)^2   = (sigma2/M) sum_{j<n} q^j           (= n sigma2/M unbiased, sigma2 (1 - q^n) mle)
    E W2^2(N(mu_n, sigma2_n), N(mu, sigma2)) = E (mu_n - mu)^2 + E sigma2_n - 2 sigma E sigma_n + sigma2
                                             (= sigma2 [n/M + 2 - 2 c^n] unbiased, sigma2 [2 - 2 c^n] mle)

d dimensions (``gaussian-refit-d``): Sigma_{n+1} = S/D with S ~ Wishart_d(k, Sigma_n), M >= d + 1. By the Bartlett
decomposition det S = det Sigma_n prod_{i=1..d} chi2_{k-i+1} (independent), so

    E tr Sigma_n      = tr Sigma q^n
    E log det Sigma_n = log det Sigma + n sum_{i=1..d} [psi((k - i + 1)/2) + log(2/D)]
    E det Sigma_n     = det Sigma (prod_{i=1..d} (k - i + 1)/D)^n
    E ||mu_n - mu||^2 = (tr Sigma / M) sum_{j<n} q^j

Derivation: docs/derivations/laws.md §1.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .base import Law, check_int, check_number, check_option, check_vector

ESTIMATORS = ("unbiased", "mle")


def refit_constants(samples: int, estimator: str) -> tuple[int, int]:
    """(k, D): the chi-square degrees of freedom k = M - 1 and the variance divisor D (M - 1 or M)."""
    k = samples - 1
    return k, (k if estimator == "unbiased" else samples)


def std_factor(samples: int, estimator: str) -> float:
    """c = E sqrt(chi2_k / D) = sqrt(2/D) Gamma((k + 1)/2) / Gamma(k/2) (computed with log-gamma)."""
    k, D = refit_constants(samples, estimator)
    return float(np.sqrt(2.0 / D) * np.exp(special.gammaln((k + 1) / 2) - special.gammaln(k / 2)))


def log_drift(samples: int, estimator: str, dim: int = 1) -> float:
    """Per-round drift of E log det: sum_{i=1..dim} [psi((k - i + 1)/2) + log(2/D)] (< 0: Jensen)."""
    k, D = refit_constants(samples, estimator)
    i = np.arange(1, dim + 1)
    return float(np.sum(special.digamma((k - i + 1) / 2) + np.log(2.0 / D)))


def _validate_1d(p: dict) -> dict:
    samples = check_int(p["samples"], "samples", 2)
    return {"samples": samples, "sigma2": check_number(p["sigma2"], "sigma2", low=0, low_open=True),
            "estimator": check_option(p["estimator"], ESTIMATORS, "estimator")}


def gaussian_refit_closed_form(rounds: int, samples: int = 10, sigma2: float = 1.0,
                               estimator: str = "unbiased") -> dict:
    """Exact expectations per round 0..rounds (see the module docstring): E_var, E_log_var, E_std,
    E_mean_sq_error, E_w2_squared."""
    p = _validate_1d({"samples": samples, "sigma2": sigma2, "estimator": estimator})
    M, s2 = p["samples"], p["sigma2"]
    k, D = refit_constants(M, p["estimator"])
    n = np.arange(rounds + 1, dtype=np.float64)
    q = k / D
    c = std_factor(M, p["estimator"])
    e_var = s2 * q ** n
    mse = s2 / M * (n if q == 1.0 else (1 - q ** n) / (1 - q))
    e_std = np.sqrt(s2) * c ** n
    return {"E_var": e_var, "E_log_var": np.log(s2) + n * log_drift(M, p["estimator"]), "E_std": e_std,
            "E_mean_sq_error": mse, "E_w2_squared": mse + e_var - 2 * np.sqrt(s2) * e_std + s2}


def simulate_gaussian_refit(rounds: int, replicates: int, seed: int, samples: int = 10, sigma2: float = 1.0,
                            estimator: str = "unbiased", mean: float = 0.0) -> dict:
    """The literal procedure, R replicates at once: draw M samples from the current fit, refit with
    ``numpy.mean`` and ``numpy.var(ddof=1 or 0)``. Returns {quantity: (R, rounds + 1)} of sigma2_n, log sigma2_n,
    sigma_n, (mu_n - mu)^2 and W2^2 = (mu_n - mu)^2 + (sigma_n - sigma)^2."""
    p = _validate_1d({"samples": samples, "sigma2": sigma2, "estimator": estimator})
    M, s2 = p["samples"], p["sigma2"]
    ddof = 1 if p["estimator"] == "unbiased" else 0
    rng = np.random.default_rng(seed)
    mu = np.full(replicates, float(mean))
    var = np.full(replicates, s2)
    out = {q: np.empty((replicates, rounds + 1)) for q in ("E_var", "E_log_var", "E_std", "E_mean_sq_error",
                                                            "E_w2_squared")}
    for n in range(rounds + 1):
        if n > 0:
            x = mu[:, None] + np.sqrt(var)[:, None] * rng.standard_normal((replicates, M))
            mu, var = x.mean(axis=1), x.var(axis=1, ddof=ddof)
        err = (mu - mean) ** 2
        out["E_var"][:, n] = var
        out["E_log_var"][:, n] = np.log(var)
        out["E_std"][:, n] = np.sqrt(var)
        out["E_mean_sq_error"][:, n] = err
        out["E_w2_squared"][:, n] = err + (np.sqrt(var) - np.sqrt(s2)) ** 2
    return out


# --------------------------------------------------------------------------------------------- d dimensions

def _validate_d(p: dict) -> dict:
    spectrum = check_vector(p["spectrum"], "spectrum", positive=True)
    samples = check_int(p["samples"], "samples", 2)
    if samples < spectrum.size + 1:
        raise ValueError(f"samples must be >= d + 1 = {spectrum.size + 1} (a nonsingular covariance fit), "
                         f"got {samples}")
    return {"samples": samples, "spectrum": spectrum.tolist(),
            "estimator": check_option(p["estimator"], ESTIMATORS, "estimator")}


def gaussian_refit_d_closed_form(rounds: int, samples: int = 10, spectrum=(1.0, 0.5),
                                 estimator: str = "unbiased") -> dict:
    """Exact expectations per round for the d-dimensional refit with Sigma = diag(spectrum): E_trace_cov,
    E_log_det, E_det, E_mean_sq_error (see the module docstring)."""
    p = _validate_d({"samples": samples, "spectrum": spectrum, "estimator": estimator})
    M, lam = p["samples"], np.asarray(p["spectrum"])
    d = lam.size
    k, D = refit_constants(M, p["estimator"])
    n = np.arange(rounds + 1, dtype=np.float64)
    q = k / D
    det_factor = float(np.prod((k - np.arange(d)) / D))
    geometric = n if q == 1.0 else (1 - q ** n) / (1 - q)
    return {"E_trace_cov": lam.sum() * q ** n,
            "E_log_det": np.sum(np.log(lam)) + n * log_drift(M, p["estimator"], d),
            "E_det": np.prod(lam) * det_factor ** n,
            "E_mean_sq_error": lam.sum() / M * geometric}


def simulate_gaussian_refit_d(rounds: int, replicates: int, seed: int, samples: int = 10, spectrum=(1.0, 0.5),
                              estimator: str = "unbiased") -> dict:
    """The literal d-dimensional procedure (Cholesky sampling, sample mean, sample covariance with ddof 1 or 0),
    R replicates at once; {quantity: (R, rounds + 1)}."""
    p = _validate_d({"samples": samples, "spectrum": spectrum, "estimator": estimator})
    M, lam = p["samples"], np.asarray(p["spectrum"])
    d = lam.size
    D = M - 1 if p["estimator"] == "unbiased" else M
    rng = np.random.default_rng(seed)
    mu = np.zeros((replicates, d))
    cov = np.broadcast_to(np.diag(lam), (replicates, d, d)).copy()
    out = {q: np.empty((replicates, rounds + 1)) for q in ("E_trace_cov", "E_log_det", "E_det", "E_mean_sq_error")}
    for n in range(rounds + 1):
        if n > 0:
            L = np.linalg.cholesky(cov)
            x = mu[:, None, :] + np.einsum("rij,rmj->rmi", L, rng.standard_normal((replicates, M, d)))
            mu = x.mean(axis=1)
            centred = x - mu[:, None, :]
            cov = np.einsum("rmi,rmj->rij", centred, centred) / D
        sign, logdet = np.linalg.slogdet(cov)
        out["E_trace_cov"][:, n] = np.trace(cov, axis1=1, axis2=2)
        out["E_log_det"][:, n] = logdet
        out["E_det"][:, n] = sign * np.exp(logdet)
        out["E_mean_sq_error"][:, n] = np.sum(mu ** 2, axis=1)
    return out


GAUSSIAN_REFIT = Law(
    name="gaussian-refit", claim="LAW-GAUSSIAN-REFIT",
    title="fit mean and variance to M samples of the last fit, repeat",
    params={"samples": 10, "sigma2": 1.0, "estimator": "unbiased"},
    quantities=("E_var", "E_log_var", "E_std", "E_mean_sq_error", "E_w2_squared"),
    validate=_validate_1d, closed_form=gaussian_refit_closed_form, monte_carlo=simulate_gaussian_refit,
    state_size=lambda p: p["samples"] + 8,
    param_help={"samples": "M >= 2 samples per round", "sigma2": "real variance > 0",
                "estimator": "unbiased (divisor M - 1) | mle (divisor M)"})

GAUSSIAN_REFIT_D = Law(
    name="gaussian-refit-d", claim="LAW-GAUSSIAN-REFIT",
    title="d-dimensional refit: mean and covariance from M samples of the last fit",
    params={"samples": 10, "spectrum": [1.0, 0.5], "estimator": "unbiased"},
    quantities=("E_trace_cov", "E_log_det", "E_det", "E_mean_sq_error"),
    validate=_validate_d, closed_form=gaussian_refit_d_closed_form, monte_carlo=simulate_gaussian_refit_d,
    state_size=lambda p: (p["samples"] + len(p["spectrum"]) + 4) * len(p["spectrum"]),
    param_help={"samples": "M >= d + 1 samples per round", "spectrum": "eigenvalues of the real covariance (> 0)",
                "estimator": "unbiased (divisor M - 1) | mle (divisor M)"})
