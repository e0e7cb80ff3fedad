"""Closed-form optimal linear denoising autoencoders (DAEs).

Notation: x in R^d with second moment S = E[x x^T], noise eps ~ N(0, I) independent of x,
noise variance sigma2 = sigma^2. The DAE loss of a linear map W is

    L(W; S, sigma2) = E || x - W (x + sigma eps) ||^2
                    = tr(S) - 2 tr(W S) + tr(W (S + sigma2 I) W^T).

Its minimiser (toolkit theorem DAE-OPT) is the Wiener filter W*(S, sigma2) = S (S + sigma2 I)^{-1},
whose eigen-gains are g_i = lambda_i / (lambda_i + sigma2) in [0, 1).
"""

from __future__ import annotations

import numpy as np

from ...validation import (
    as_float_array,
    check_data_matrix,
    check_eigenvalues,
    check_positive_int,
    check_psd_matrix,
    check_sigma2,
)


def dae_gain(eigenvalues, sigma2) -> np.ndarray:
    """Eigen-gain of the optimal linear DAE: g(lambda) = lambda / (lambda + sigma2) (broadcasts)."""
    lam = check_eigenvalues(np.atleast_1d(eigenvalues))
    s2 = check_sigma2(sigma2)
    return lam / (lam + s2)


def optimal_dae(second_moment, sigma2) -> np.ndarray:
    """Optimal full linear DAE W*(S, sigma2) = S (S + sigma2 I)^{-1} for a PSD second moment S.

    Computed through the eigendecomposition S = U diag(lambda) U^T as U diag(lambda/(lambda+sigma2)) U^T,
    which is exactly symmetric and stable for sigma2 from 1e-8 to 1e4. ``second_moment`` may be a stack
    (..., d, d); ``sigma2`` must then broadcast against the leading axes."""
    S = check_psd_matrix(second_moment, "second_moment")
    s2 = check_sigma2(sigma2)
    lam, U = np.linalg.eigh(S)
    lam = np.clip(lam, 0.0, None)
    gain = lam / (lam + np.asarray(s2)[..., None])
    return (U * gain[..., None, :]) @ np.swapaxes(U, -1, -2)


def dae_loss(weights, second_moment, sigma2) -> np.ndarray:
    """Population DAE loss L(W) = tr(S) - 2 tr(W S) + tr(W (S + sigma2 I) W^T)."""
    W = as_float_array(weights, "weights")
    S = check_psd_matrix(second_moment, "second_moment")
    s2 = np.asarray(check_sigma2(sigma2))
    if W.shape[-1] != S.shape[-1] or W.shape[-2] != S.shape[-1]:
        raise ValueError(f"weights must have shape (d, d) = {S.shape[-2:]}, got {W.shape}")
    d = S.shape[-1]
    noisy = S + s2[..., None, None] * np.eye(d)
    return (np.trace(S, axis1=-2, axis2=-1) - 2 * np.einsum("...ij,...ji->...", W, S)
            + np.einsum("...ij,...jk,...ik->...", W, noisy, W))


def second_moment(data) -> np.ndarray:
    """Empirical second moment S_hat = X^T X / n for samples as rows X (n, d) (batched over leading axes)."""
    X = check_data_matrix(data, "data")
    return np.swapaxes(X, -1, -2) @ X / X.shape[-2]


def empirical_dae(data, sigma2, noise_draws: int | None = None, rng=None) -> np.ndarray:
    """Finite-sample linear DAE fitted to samples X (n, d) (rows are samples).

    - ``noise_draws=None``: the noise expectation is taken exactly, giving W*(S_hat) with
      S_hat = X^T X / n, i.e. the minimiser of (1/n) sum_j E_eps || x_j - W (x_j + sigma eps) ||^2.
    - ``noise_draws=m``: each sample is corrupted m times, Y = X + sigma E, and W is the least-squares
      fit W = (X~^T Y)(Y^T Y)^{-1} of the clean copies X~ on Y (rows: samples). As m -> infinity it tends
      to W*(S_hat) (checked in the numeric tier)."""
    X = check_data_matrix(data, "data")
    s2 = check_sigma2(sigma2)
    if noise_draws is None:
        return optimal_dae(second_moment(X), s2)
    m = check_positive_int(noise_draws, "noise_draws")
    if s2.ndim != 0:
        raise ValueError("sigma2 must be a scalar when noise_draws is given")
    s2 = float(s2)
    rng = np.random.default_rng(rng)
    clean = np.repeat(X, m, axis=-2)
    noisy = clean + np.sqrt(s2) * rng.standard_normal(clean.shape)
    cross = np.swapaxes(clean, -1, -2) @ noisy
    gram = np.swapaxes(noisy, -1, -2) @ noisy
    # W gram = cross  <=>  gram^T W^T = cross^T (gram is symmetric)
    return np.swapaxes(np.linalg.solve(gram, np.swapaxes(cross, -1, -2)), -1, -2)


def bottleneck_dae(second_moment, sigma2, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Optimal rank-r two-layer linear DAE x -> D E (x + sigma eps), D in R^{d x r}, E in R^{r x d}.

    Toolkit theorem DAE-BOTTLENECK (reduced-rank regression): completing the square,
    L(W) = L(W*) + || (W - W*) (S + sigma2 I)^{1/2} ||_F^2, so the best rank-r W is the best rank-r
    approximation (Eckart-Young) of W* (S + sigma2 I)^{1/2} = S (S + sigma2 I)^{-1/2}, whose singular
    values lambda_i / sqrt(lambda_i + sigma2) increase with lambda_i. Hence
    D E = sum_{i <= r} g_i u_i u_i^T: the top-r eigendirections of S with gains g_i, zero elsewhere.
    Unique when lambda_r > lambda_{r+1}. Returned as (decoder D = U_r diag(g_r), encoder E = U_r^T)."""
    S = check_psd_matrix(second_moment, "second_moment")
    if S.ndim != 2:
        raise ValueError(f"second_moment must be a single (d, d) matrix, got shape {S.shape}")
    d = S.shape[0]
    r = check_positive_int(rank, "rank")
    if r > d:
        raise ValueError(f"rank must be <= d = {d}, got {r}")
    s2 = float(check_sigma2(sigma2))
    lam, U = np.linalg.eigh(S)
    order = np.argsort(lam)[::-1][:r]
    lam_r = np.clip(lam[order], 0.0, None)
    U_r = U[:, order]
    return U_r * (lam_r / (lam_r + s2)), U_r.T.copy()


def bottleneck_dae_loss(eigenvalues, sigma2, rank: int) -> float:
    """Minimal rank-r DAE loss: tr(S) - sum_{i <= r} lambda_(i)^2 / (lambda_(i) + sigma2), lambda sorted descending."""
    lam = np.sort(check_eigenvalues(eigenvalues))[::-1]
    s2 = float(check_sigma2(sigma2))
    r = check_positive_int(rank, "rank")
    return float(lam.sum() - np.sum(lam[:r] ** 2 / (lam[:r] + s2)))
