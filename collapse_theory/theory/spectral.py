"""Spectral summaries of second-moment matrices and Gaussian Wasserstein-2 distances (numpy only)."""

from __future__ import annotations

import numpy as np

from ..validation import check_eigenvalues, check_psd_matrix


def effective_rank(eigenvalues) -> np.ndarray:
    """Entropy effective rank (Roy & Vetterli 2007) along the last axis.

    erank(lambda) = exp(-sum_i p_i log p_i), p_i = lambda_i / sum_j lambda_j, with 0 log 0 = 0.
    It lies in [1, d] for a non-zero spectrum; a spectrum that is exactly zero (total collapse,
    e.g. after float underflow) has effective rank 0 by convention."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    top = np.max(lam, axis=-1, keepdims=True)
    safe_top = np.where(top > 0, top, 1.0)
    scaled = lam / safe_top  # in [0, 1]: no underflow of the normalisation
    total = scaled.sum(axis=-1, keepdims=True)
    p = scaled / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    erank = np.exp(-plogp.sum(axis=-1))
    return np.where(top[..., 0] > 0, erank, 0.0)


def gaussian_w2_commuting(eigenvalues_a, eigenvalues_b) -> np.ndarray:
    """W2 between N(0, A) and N(0, B) for commuting A, B given their eigenvalues in a common basis.

    W2^2 = sum_i (sqrt(a_i) - sqrt(b_i))^2 (the Bures distance when A and B commute)."""
    a = check_eigenvalues(eigenvalues_a, "eigenvalues_a")
    b = check_eigenvalues(eigenvalues_b, "eigenvalues_b")
    return np.sqrt(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2, axis=-1))


def psd_sqrt(matrix) -> np.ndarray:
    """Symmetric PSD square root via eigh: S^{1/2} = U diag(sqrt(max(lambda, 0))) U^T (batched)."""
    lam, U = np.linalg.eigh(matrix)
    return (U * np.sqrt(np.clip(lam, 0.0, None))[..., None, :]) @ np.swapaxes(U, -1, -2)


def gaussian_w2(cov_a, cov_b, mean_a=None, mean_b=None) -> np.ndarray:
    """W2 between N(m_a, A) and N(m_b, B) (Bures-Wasserstein, Dowson & Landau 1982):

    W2^2 = ||m_a - m_b||^2 + tr(A + B - 2 (A^{1/2} B A^{1/2})^{1/2})."""
    A = check_psd_matrix(cov_a, "cov_a")
    B = check_psd_matrix(cov_b, "cov_b")
    if A.shape[-1] != B.shape[-1]:
        raise ValueError(f"cov_b must have the dimension of cov_a ({A.shape[-1]}), got {B.shape[-1]}")
    root_a = psd_sqrt(A)
    cross = psd_sqrt(root_a @ B @ root_a)
    w2sq = (np.trace(A, axis1=-2, axis2=-1) + np.trace(B, axis1=-2, axis2=-1)
            - 2 * np.trace(cross, axis1=-2, axis2=-1))
    if mean_a is not None or mean_b is not None:
        d = A.shape[-1]
        ma = np.zeros(d) if mean_a is None else np.asarray(mean_a, dtype=float)
        mb = np.zeros(d) if mean_b is None else np.asarray(mean_b, dtype=float)
        w2sq = w2sq + np.sum((ma - mb) ** 2, axis=-1)
    return np.sqrt(np.clip(w2sq, 0.0, None))
