"""Reflow with a *fitted velocity field*: least squares on finitely many pairs and grid times (numpy only).

Setting: noise N(0, I_d) at t = 0, real data N(m*, S*) at t = 1 (x_t = (1 - t) x0 + t x1). A model is a velocity
field known at the m grid times t_j = j/m (j = 0..m-1), affine in x there, v(x, t_j) = A_j x + b_j, and it
generates by Euler on that grid: x_{j+1} = x_j + h (A_j x_j + b_j), h = 1/m. So every model's map is affine,
T(z) = M z + c with M = prod_j (I + h A_j) (later factors on the left) and c accumulated alike; the law it
generates is N(c, M M^T).

Fitting (one round): given pairs (z_i, y_i), i = 1..n, minimise over the family

    sum_i sum_j || (y_i - z_i) - v(x_ij, t_j) ||^2,   x_ij = (1 - t_j) z_i + t_j y_i.

Two families:

- ``per-time``     (A_j, b_j) free at every grid time: n x (d + 1) least squares per time;
- ``time-affine``  A_j = A + t_j A', b_j = b + t_j b' (features [x, t x, 1, t]): one least squares over all n m rows.

With u = (z, y) and w = (u, 1), each row's features are F_j w and its target Q w (Q = [-I, I, 0]), so the normal
equations only need the pairs' moment matrix W = mean_i w_i w_i^T:

    Theta = (sum_j F_j W F_j^T)^{-1} sum_j F_j W Q^T.                                  (1)

The finite-sample fit is (1) at the empirical W; the *population* fit is (1) at the exact W of the pairs' law
(z ~ N(0, I); y = M z + c for Reflow pairs, y ~ N(m*, S*) independent of z for round 0's 1-RF pairs).

Round 0 fits 1-RF pairs (fresh noise, n real points); round k >= 1 fits Reflow pairs (z, T_{k-1}(z)) on fresh
z ~ N(0, I). What drives the drift (docs/derivations/reflow-velocity.md):

1. ``per-time`` is exact on Reflow pairs: with L_t = (1 - t) I + t M, x_t = L_t z + t c and y - z = (M - I) z + c,
   so the target is the affine function (M - I) L_t^{-1}(x_t - t c) + c of x_t at each t_j: zero residual,
   the fit reproduces it from any n >= d + 1 pairs in general position, and Euler on straight lines is exact
   (x_{j+1} = x_j + h (y - z) stays on the line). Hence T_k = T_{k-1} for every k >= 1 and every n: the population
   fit (and every finite fit) is a fixed point, the null that must not drift.
2. ``time-affine`` cannot represent A(t) = (M - I) L_t^{-1} (rational in t) unless M = I; the fit is the
   projection (1), which depends on W. At the population W it is a deterministic map G(M, c) != (M, c): the
   generated law moves every round, toward the identity map (the noise law) in the 1-D cases tested
   (tests/test_velocity_fit.py). At finite n, W is the empirical moment matrix of n fresh noise
   points, W = W_pop + O(n^{-1/2}), so T_k = G(T_{k-1}) + a zero-mean fluctuation of order n^{-1/2} whose size is
   proportional to the misfit (the residual of the projection): Reflow with a misfitting velocity class performs a
   noisy walk along G's drift with no restoring force toward the real data (the real data enter only round 0).

So finite-sample velocity fitting alone cannot make Reflow drift (item 1: with noise-free pairs a well-specified
family fits exactly); drift needs a velocity class that cannot represent the straightened field (item 2), or
re-estimation of the law (REFLOW-ESTIMATED-DRIFT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...validation import check_choice, check_positive_int

FAMILIES = ("per-time", "time-affine")


def grid_times(m: int) -> np.ndarray:
    """t_j = j/m, j = 0..m-1 (the left ends of the m Euler steps)."""
    m = check_positive_int(m, "grid")
    return np.arange(m) / m


def _features(t: float, d: int, family: str) -> np.ndarray:
    """F_t: rows of the features as linear maps of w = (z, y, 1) (shape (p, 2d + 1))."""
    P = np.hstack([(1 - t) * np.eye(d), t * np.eye(d), np.zeros((d, 1))])
    one = np.zeros((1, 2 * d + 1))
    one[0, -1] = 1.0
    if family == "per-time":
        return np.vstack([P, one])
    return np.vstack([P, t * P, one, t * one])


def velocity_target(d: int) -> np.ndarray:
    """Q with Q w = y - z (the rectified-flow regression target) for w = (z, y, 1)."""
    return np.hstack([-np.eye(d), np.eye(d), np.zeros((d, 1))])


def fit_from_moments(W, grid: int, family: str, target=None) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares velocity (1) from the pairs' moment matrix W = E[w w^T], w = (z, y, 1) (shape
    (..., 2d + 1, 2d + 1)); returns the coefficients at the grid times, A (..., m, d, d) and b (..., m, d).
    ``target``: the matrix Q of the regression target Q w (default :func:`velocity_target`, y - z)."""
    family = check_choice(family, FAMILIES, "family")
    W = np.asarray(W, dtype=np.float64)
    d = (W.shape[-1] - 1) // 2
    times = grid_times(grid)
    Q = velocity_target(d) if target is None else np.asarray(target, dtype=np.float64)
    if family == "per-time":
        A, b = [], []
        for t in times:
            F = _features(t, d, family)
            G = F @ W @ F.T
            H = F @ W @ Q.T
            theta = np.linalg.solve(G, H)                      # (..., d + 1, d)
            A.append(np.swapaxes(theta[..., :d, :], -1, -2))
            b.append(theta[..., d, :])
        return np.stack(A, axis=-3), np.stack(b, axis=-2)
    G = sum(_features(t, d, family) @ W @ _features(t, d, family).T for t in times)
    H = sum(_features(t, d, family) @ W @ Q.T for t in times)
    theta = np.linalg.solve(G, H)                              # (..., 2d + 2, d)
    A0 = np.swapaxes(theta[..., :d, :], -1, -2)
    A1 = np.swapaxes(theta[..., d:2 * d, :], -1, -2)
    b0, b1 = theta[..., 2 * d, :], theta[..., 2 * d + 1, :]
    A = np.stack([A0 + t * A1 for t in times], axis=-3)
    b = np.stack([b0 + t * b1 for t in times], axis=-2)
    return A, b


def euler_map(A, b) -> tuple[np.ndarray, np.ndarray]:
    """The affine map (M, c) of Euler on the grid: x_{j+1} = (I + h A_j) x_j + h b_j, h = 1/m, from x_0 = z."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, d = A.shape[-3], A.shape[-1]
    h = 1.0 / m
    M = np.broadcast_to(np.eye(d), A.shape[:-3] + (d, d)).copy()
    c = np.zeros(A.shape[:-3] + (d,))
    for j in range(m):
        step = np.eye(d) + h * A[..., j, :, :]
        M = step @ M
        c = np.einsum("...ij,...j->...i", step, c) + h * b[..., j, :]
    return M, c


def moments(z, y) -> np.ndarray:
    """Empirical W = mean_i w_i w_i^T of pairs (z_i, y_i) (shapes (..., n, d)); w = (z, y, 1)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.concatenate([z, y, np.ones(z.shape[:-1] + (1,))], axis=-1)
    return np.einsum("...ni,...nj->...ij", w, w) / z.shape[-2]


def reflow_pair_moments(M, c) -> np.ndarray:
    """Exact W of Reflow pairs (z, M z + c), z ~ N(0, I)."""
    M = np.asarray(M, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    d = M.shape[-1]
    shape = M.shape[:-2]
    W = np.zeros(shape + (2 * d + 1, 2 * d + 1))
    W[..., :d, :d] = np.eye(d)
    W[..., :d, d:2 * d] = np.swapaxes(M, -1, -2)
    W[..., d:2 * d, :d] = M
    W[..., d:2 * d, d:2 * d] = M @ np.swapaxes(M, -1, -2) + c[..., :, None] * c[..., None, :]
    W[..., d:2 * d, -1] = c
    W[..., -1, d:2 * d] = c
    W[..., -1, -1] = 1.0
    return W


def independent_pair_moments(mean, cov) -> np.ndarray:
    """Exact W of 1-RF pairs (z, y), z ~ N(0, I) independent of y ~ N(mean, cov)."""
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    d = mean.shape[-1]
    W = np.zeros((2 * d + 1, 2 * d + 1))
    W[:d, :d] = np.eye(d)
    W[d:2 * d, d:2 * d] = cov + np.outer(mean, mean)
    W[d:2 * d, -1] = W[-1, d:2 * d] = mean
    W[-1, -1] = 1.0
    return W


def bures_w2(mean_a, cov_a, mean_b, cov_b) -> np.ndarray:
    """W2 between N(mean_a, cov_a) (batched on leading axes) and N(mean_b, cov_b)."""
    cov_a = np.asarray(cov_a, dtype=np.float64)
    vals, vecs = np.linalg.eigh(np.asarray(cov_b, dtype=np.float64))
    root_b = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_b @ cov_a @ root_b)
    cross = np.sqrt(np.clip(inner, 0, None)).sum(axis=-1)
    sq = (np.sum((np.asarray(mean_a) - mean_b) ** 2, axis=-1) + np.trace(cov_a, axis1=-2, axis2=-1)
          + np.trace(cov_b) - 2 * cross)
    return np.sqrt(np.clip(sq, 0, None))


@dataclass
class VelocityFitTrajectory:
    """Per round k = 0..K and replicate r: the map (M, c), W2 of the generated law N(c, M M^T) to the real law,
    and log det of the generated covariance. Shapes (K + 1, R, ...)."""

    family: str
    grid: int
    n_pairs: int | None
    M: np.ndarray
    c: np.ndarray
    w2: np.ndarray
    log_det: np.ndarray


def velocity_fit_reflow(real_mean, real_cov, family: str, grid: int, rounds: int, n_pairs: int | None,
                        seeds=(0,), fit=None) -> VelocityFitTrajectory:
    """Reflow with the fitted velocity: round 0 fits 1-RF pairs (n real points of the replicate's seed with fresh
    noise), rounds 1..K fit Reflow pairs of the previous map on n fresh noise points. ``n_pairs=None`` is the
    population fit (exact moments; every replicate equal). One replicate per seed (numpy default_rng(seed)).
    ``fit`` replaces :func:`fit_from_moments` (same signature; the checks pass wrong formulas here)."""
    family = check_choice(family, FAMILIES, "family")
    fit = fit_from_moments if fit is None else fit
    grid = check_positive_int(grid, "grid")
    rounds = check_positive_int(rounds, "rounds", minimum=0)
    mean = np.asarray(real_mean, dtype=np.float64)
    cov = np.asarray(real_cov, dtype=np.float64)
    d = mean.shape[-1]
    seeds = [int(s) for s in seeds]
    R = len(seeds)
    if n_pairs is not None:
        n_pairs = check_positive_int(n_pairs, "n_pairs", minimum=d + 2)
        rngs = [np.random.default_rng(s) for s in seeds]
        root = np.linalg.cholesky(cov)
        y0 = np.stack([mean + g.standard_normal((n_pairs, d)) @ root.T for g in rngs])
        z0 = np.stack([g.standard_normal((n_pairs, d)) for g in rngs])
        W = moments(z0, y0)
    else:
        W = np.broadcast_to(independent_pair_moments(mean, cov), (R, 2 * d + 1, 2 * d + 1))
    Ms, cs = [], []
    M, c = euler_map(*fit(W, grid, family))
    Ms.append(M)
    cs.append(c)
    for _ in range(rounds):
        if n_pairs is not None:
            z = np.stack([g.standard_normal((n_pairs, d)) for g in rngs])
            W = moments(z, np.einsum("rij,rnj->rni", M, z) + c[:, None, :])
        else:
            W = reflow_pair_moments(M, c)
        M, c = euler_map(*fit(W, grid, family))
        Ms.append(M)
        cs.append(c)
    M = np.stack(Ms)
    c = np.stack(cs)
    gen_cov = M @ np.swapaxes(M, -1, -2)
    w2 = bures_w2(c, gen_cov, mean, cov)
    log_det = np.linalg.slogdet(gen_cov)[1]
    return VelocityFitTrajectory(family, grid, n_pairs, M, c, w2, log_det)
