"""Sample-quality metrics for trained flows.

- :func:`empirical_w2`   exact W2 between two empirical measures (uniform weights, squared-Euclidean cost)
                         by the network-simplex solver of POT, ``ot.emd2``; returns W2, **not** W2^2.
                         It is the Wasserstein distance between the samples, so it carries the finite-sample
                         floor (for two independent samples of the same law it is > 0; see
                         :func:`empirical_w2` with ``b`` a second reference sample to measure that floor).
- :func:`gaussian_fit_w2`  W2 between the Gaussian fits N(mean, cov) of the samples and a target Gaussian
                         (Bures-Wasserstein, :func:`collapse_theory.theory.spectral.gaussian_w2`); for Gaussian
                         targets this is the closed-form distance of the fit to the truth.
- :func:`mean_cov_errors`  ||m_hat - m*||_2 and ||S_hat - S*||_F (absolute; S_hat the unbiased sample covariance).
- :func:`straightness`   S(v) = int_0^1 E || (Z_1 - Z_0) - v(Z_t, t) ||^2 dt along the ODE paths Z_t of the field
                         started at Z_0 = x0 (Liu et al. 2022; docs/derivations/gaussian-flow.md section 4):
                         Monte-Carlo over t, stratified (one uniform time in each of ``n_times`` equal strata of
                         [0, 1]), the path integrated with Heun between the sorted times. 0 exactly for straight
                         paths.
"""

from __future__ import annotations

import numpy as np
import torch

from ...theory.spectral import gaussian_w2
from ...validation import check_data_matrix
from .ode import integrate_path


def _np(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return check_data_matrix(x, name)


def empirical_w2(a, b) -> float:
    """Exact W2 between the empirical measures of the rows of ``a`` (n, d) and ``b`` (m, d), uniform weights.

    W2 = sqrt(min_P sum_ij P_ij ||a_i - b_j||^2) over couplings P with marginals 1/n and 1/m (``ot.emd2``)."""
    import ot

    a = _np(a, "a")
    b = _np(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"b must have the dimension of a ({a.shape[1]}), got {b.shape[1]}")
    cost = ot.dist(a, b, metric="sqeuclidean")
    wa = np.full(a.shape[0], 1.0 / a.shape[0])
    wb = np.full(b.shape[0], 1.0 / b.shape[0])
    w2sq = ot.emd2(wa, wb, cost, numItermax=10_000_000)
    return float(np.sqrt(max(float(w2sq), 0.0)))


def gaussian_fit(x) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and unbiased sample covariance (d x d) of the rows of x."""
    x = _np(x, "x")
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 samples to fit a covariance, got {x.shape[0]}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def gaussian_fit_w2(x, mean, cov) -> float:
    """Bures-Wasserstein W2 between N(mean_hat, cov_hat) fitted to the rows of x and N(mean, cov)."""
    m_hat, c_hat = gaussian_fit(x)
    return float(gaussian_w2(c_hat, np.atleast_2d(cov), m_hat, np.asarray(mean, dtype=float)))


def mean_cov_errors(x, mean, cov) -> tuple[float, float]:
    """(||m_hat - mean||_2, ||cov_hat - cov||_F) for the rows of x."""
    m_hat, c_hat = gaussian_fit(x)
    return (float(np.linalg.norm(m_hat - np.asarray(mean, dtype=float))),
            float(np.linalg.norm(c_hat - np.atleast_2d(cov), ord="fro")))


def straightness(field, x0, n_times: int = 16, substeps: int = 4, generator: torch.Generator | None = None,
                 per_sample_time: bool = False) -> float:
    """Monte-Carlo estimate of S = int_0^1 E||(Z_1 - Z_0) - v(Z_t, t)||^2 dt along the flow from Z_0 = x0.

    Times: u_j = (j + U_j)/n_times, U_j ~ U[0, 1) (stratified, unbiased for the t-integral); the path is
    integrated with Heun (``substeps`` steps per segment) through 0 < u_1 < ... < u_n < 1."""
    if isinstance(n_times, bool) or not isinstance(n_times, int) or n_times < 1:
        raise ValueError(f"n_times must be an integer >= 1, got {n_times!r}")
    x0 = torch.as_tensor(x0)
    u = (torch.arange(n_times, dtype=torch.float64) + torch.rand(n_times, generator=generator,
                                                                   dtype=torch.float64)) / n_times
    times = [0.0] + [float(t) for t in u] + [1.0]
    path = integrate_path(field, x0, times, method="heun", substeps=substeps, per_sample_time=per_sample_time)
    delta = path[-1] - path[0]
    total = 0.0
    with torch.no_grad():
        for j in range(n_times):
            z = path[j + 1]
            t = torch.tensor(times[j + 1], dtype=z.dtype)
            if per_sample_time:
                t = t.expand(z.shape[0])
            v = field(z, t)
            total += float(((delta - v) ** 2).sum(dim=1).mean())
    return total / n_times
