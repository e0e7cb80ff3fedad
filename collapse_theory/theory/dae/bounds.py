"""Closed-form bounds and finite-sample predictions of the DAE family that the checks compare with.

- :func:`doubly_exponential_log_bounds` (DAE-DOUBLY-EXP): once the scale-free top eigenvalue x_K = lambda_K/sigma2
  is <= 1, log 2 + p^j log(x_K/2) <= log x_{K+j} <= p^j log x_K, p = 2 (renoise) or 3 (clean).
- :func:`rounds_bounds` (DAE-ROUNDS): the number of rounds N(x0) until the gain falls to 1/2.
- :func:`predicted_population_error` (DAE-OPT, finite samples): the delta-method E||W*(S_hat) - W*(S)||_F^2.
- :func:`expected_op_norm` (DAE-FINITE-SAMPLE, trained): E||W_k||_op of finite-sample fits, second order in the
  off-diagonal dispersion of the training moments.

Derivations: docs/ (the DAE theory as the toolkit states it). numpy only.
"""

from __future__ import annotations

import numpy as np

from .recursion import rounds_to_collapse_bounds


def doubly_exponential_log_bounds(log_x, j, rule: str = "renoise"):
    """DAE-DOUBLY-EXP in logs, after j more rounds from x = x_K <= 1 (``log_x`` = log x_K, j >= 0, broadcast):
    renoise: [log 2 + 2^j log(x/2), 2^j log x]; clean: [log 2 + 3^j log(x/2), 3^j log x]
    (y = x/2 satisfies y' >= y^2, resp. y' >= y^3, because x' >= x^2/2, resp. x' >= x^3/4, on [0, 1]).
    Returns (lower, upper)."""
    power = (2.0 if rule == "renoise" else 3.0) ** np.asarray(j, dtype=float)
    return np.log(2.0) + power * (log_x - np.log(2.0)), power * log_x


def rounds_bounds(x0, rule: str = "renoise"):
    """DAE-ROUNDS bounds on N(x0) for x0 = lambda*/sigma2 > 1: renoise [x0 + ln x0 - 8/3, x0 + ln x0 + ln 2 - 1/2]
    (:func:`~.recursion.rounds_to_collapse_bounds`); clean [(x0 - 1)/2, 4 (x0 - 1)/3 + 1]. Returns (lower, upper)."""
    x0 = np.asarray(x0, dtype=float)
    if rule == "renoise":
        return rounds_to_collapse_bounds(x0)
    return (x0 - 1) / 2, 4 * (x0 - 1) / 3 + 1


def predicted_population_error(eigenvalues, sigma2, n_samples: int) -> float:
    """Delta-method prediction of E ||W*(S_hat) - W*(S)||_F^2 for n Gaussian samples (leading order in 1/n).

    dW* = sigma2 (S + sigma2 I)^-1 dS (S + sigma2 I)^-1 (from W* = I - sigma2 (S + sigma2 I)^-1), so in S's
    eigenbasis dW_ij = sigma2 dS_ij / ((l_i + sigma2)(l_j + sigma2)); for Gaussian data the empirical moment has
    Var S_hat_ij = (l_i l_j + delta_ij l_i^2)/n there. Hence
        E ||dW||_F^2 = (1/n) sum_ij sigma2^2 (l_i l_j + delta_ij l_i^2) / ((l_i + sigma2)^2 (l_j + sigma2)^2);
    the next order is O(n^-2)."""
    lam = np.asarray(eigenvalues, dtype=float)
    denom = (lam + sigma2) ** 2
    var = np.outer(lam, lam) + np.diag(lam ** 2)
    return float(np.sum(sigma2 ** 2 * var / np.outer(denom, denom)) / n_samples)


def expected_op_norm(training_eigenvalues: np.ndarray, sigma2: float, training_moment_matrices: np.ndarray):
    """E ||W_k||_op of trained DAEs on finite samples, from the closed-form training eigenvalues mu_k (K1, d; S*'s
    eigenbasis, top direction first) and the replicates' training moments T_k in that basis (R, K1, d, d).

    ||W_k||_op = g(lambda_max(T_k)), g(mu) = mu/(mu + sigma2). The top eigenvalue of a finite-sample moment is biased
    upward by eigenvalue repulsion; to second order in the off-diagonal entries (perturbation theory),
        E lambda_max = mu_1 + sum_{j>1} E[T_1j^2]/(mu_1 - mu_j),
    and E g(lambda_max) = g(mu_1) + g'(mu_1) sum_j E[T_1j^2]/(mu_1 - mu_j) + g''(mu_1) Var(T_11)/2 with
    g' = sigma2/(mu + sigma2)^2, g'' = -2 sigma2/(mu + sigma2)^3; E[T_1j^2] and Var T_11 are replicate estimates
    (the population recursion has no off-diagonal dispersion: it is the n -> infinity limit). The sampling noise
    of the off-diagonal entries accumulates over rounds, so the correction grows with k (O(k/n)).
    Returns (expected op norm (K1,), correction (K1,))."""
    mu = np.asarray(training_eigenvalues, dtype=float)
    m1 = mu[:, 0]
    gaps = m1[:, None] - mu[:, 1:]
    off = (training_moment_matrices[:, :, 0, 1:] ** 2).mean(axis=0)
    var11 = training_moment_matrices[:, :, 0, 0].var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(gaps > 0, off / np.where(gaps > 0, gaps, 1.0), np.inf).sum(axis=-1)
    denom = m1 + sigma2
    correction = sigma2 / denom ** 2 * shift - sigma2 / denom ** 3 * var11
    return m1 / denom + correction, correction
