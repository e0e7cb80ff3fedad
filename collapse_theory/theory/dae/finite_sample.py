"""Finite-sample Monte-Carlo of the linear-DAE recursions (numpy only).

The population recursion (:mod:`collapse_theory.theory.dae.recursion`) propagates second moments. Here every
round holds an actual sample of n points, for R independent replicates at once: data sets are arrays of
shape (R, n, d), maps (R, d, d), and the only Python loop is over rounds.

Data (round 0) are drawn from a distribution with second moment exactly S* (see :func:`sample_data`):

- ``gaussian``   x ~ N(0, S*)
- ``mixture``    x = S*^{1/2} y with independent coordinates y_i = b_i m + sqrt(1 - m^2) z_i, b_i = +-1 with
                 probability 1/2 (Rademacher), z_i ~ N(0, 1), m = 0.9: a mixture of 2^d Gaussians at the corners
                 (+-m, ..., +-m); E y y^T = (m^2 + 1 - m^2) I = I, so E x x^T = S* (excess kurtosis -2 m^4 < 0)
- ``student-t``  x = S*^{1/2} z sqrt((nu - 2)/W), z ~ N(0, I), W ~ chi^2_nu, nu = 5: multivariate Student-t;
                 E[1/W] = 1/(nu - 2), so E x x^T = S* (heavy tails: marginal kurtosis 3 + 6/(nu - 4) = 9)

Finite-sample recursion (hats are empirical second moments, S_hat(X) = X^T X / |X|, rows are points):

- round 0's data X_0 is a real sample of n points, S_hat_0 = S_hat*;
- round k trains on the training set T_k fixed by the regime (T_0 = X_0 in every regime):
    replace     T_k = X_k                                               (n points)
    mix         T_k = the first a = round(alpha n) points of X_0 (the same real points every round)
                      + a uniformly random subset of n - a points of X_k
    fresh       T_k = a NEW real sample of a points + a random subset of n - a points of X_k
    accumulate  T_k = X_0 u X_1 u ... u X_k                             ((k + 1) n points, equal weight per round)
  and S_hat~_k = S_hat(T_k); the effective real fraction is a / n (it equals alpha when alpha n is an integer);
- the DAE of round k is W_k = W*(S_hat~_k) = S_hat~_k (S_hat~_k + sigma2 I)^{-1} (noise expectation exact), or,
  with ``noise_draws = m``, the least-squares fit on m noisy copies of every training point (as
  :func:`~collapse_theory.theory.dae.linear.empirical_dae`);
- round k + 1's data X_{k+1} applies the rule to n inputs: all of T_k (replace, mix, fresh), or n points drawn
  uniformly without replacement from the pool T_k (accumulate):
    renoise  x' = W_k (x + sigma eps), eps ~ N(0, I) fresh      clean  x' = W_k x.

One round is unbiased given the training set. With inputs I (E[S_hat(I) | T_k] = S_hat~_k, with equality
for replace/mix/fresh and by uniform sub-sampling for accumulate) and W_k fixed by T_k (noise_draws=None):

    E[S_hat_{k+1} | T_k] = W_k (S_hat~_k + sigma2 I) W_k^T = F(S_hat~_k),  F(S) = S^2 (S + sigma2 I)^{-1}  (renoise)
    E[S_hat_{k+1} | T_k] = W_k S_hat~_k W_k^T               = H(S_hat~_k),  H(S) = S^3 (S + sigma2 I)^{-2}  (clean)

exactly, the population one-round maps f(mu) = mu^2/(mu + sigma2) and h(mu) = mu^3/(mu + sigma2)^2 applied to the
empirical training moment. Over several rounds the mean differs from the population recursion only through the
curvature of F, an O(1/n) bias (E F(S_hat~) - F(E S_hat~) ~ F'' Var(S_hat~)/2), while the replicate standard error
of the mean of R replicates is O(1/sqrt(n R)); so the z-score of the bias grows like sqrt(R/n) and vanishes as n/R
grows (see :mod:`collapse_theory.claims.dae.numeric_finite_sample`). The bias constant grows as a direction collapses:
once the population moment lambda_{k,i} falls far below lambda*_i, the moment u_i^T S_hat_k u_i along S*'s
eigenvector is floored at O(lambda_max/n) by the random tilt (angle ~ n^{-1/2}) of the surviving eigen-subspace
of S_hat_k relative to S*'s, while the population keeps collapsing (doubly exponentially); the eigenvalues of
S_hat_k themselves do collapse.

Randomness: one :class:`numpy.random.Generator` (PCG64) seeded by ``seed``, consumed in a fixed order, so a
given seed reproduces every array exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .recursion import DAETrajectory, dae_recursion
from ..spectral import psd_sqrt
from ...stats import z_scores
from ...validation import (
    check_choice,
    check_fraction,
    check_positive_int,
    check_regime,
    check_rule,
    check_scalar_sigma2,
    check_seed,
    check_single_psd_matrix,
)

DISTRIBUTIONS = ("gaussian", "mixture", "student-t")
DISTRIBUTION_ALIASES = {"normal": "gaussian", "gauss": "gaussian", "gaussian-mixture": "mixture",
                        "student_t": "student-t", "studentt": "student-t", "t": "student-t"}
MIXTURE_OFFSET = 0.9
"""m in y_i = b_i m + sqrt(1 - m^2) z_i (the ``mixture`` distribution)."""
STUDENT_DOF = 5
"""nu of the ``student-t`` distribution (nu > 4: finite fourth moments, so replicate z-scores are valid)."""


# ---------------------------------------------------------------------------------------------
# Argument checks (ValueError naming the argument, as in validation.py)
# ---------------------------------------------------------------------------------------------

def check_distribution(distribution, name: str = "distribution") -> str:
    """One of :data:`DISTRIBUTIONS` (or an alias)."""
    return check_choice(distribution, DISTRIBUTIONS, name, DISTRIBUTION_ALIASES)


# ---------------------------------------------------------------------------------------------
# Samplers with second moment exactly S*
# ---------------------------------------------------------------------------------------------

def _standard_draw(shape: tuple[int, ...], distribution: str, rng: np.random.Generator) -> np.ndarray:
    """y of shape (..., n, d) with E y y^T = I for each point (see the module docstring)."""
    if distribution == "gaussian":
        return rng.standard_normal(shape)
    if distribution == "mixture":
        signs = rng.integers(0, 2, size=shape, dtype=np.int8).astype(np.float64) * 2.0 - 1.0
        y = rng.standard_normal(shape)
        y *= np.sqrt(1.0 - MIXTURE_OFFSET ** 2)
        y += MIXTURE_OFFSET * signs
        return y
    # student-t: z sqrt((nu - 2)/W), one W per point
    z = rng.standard_normal(shape)
    w = rng.chisquare(STUDENT_DOF, size=shape[:-1])
    z *= np.sqrt((STUDENT_DOF - 2) / w)[..., None]
    return z


def _draw(root: np.ndarray, shape: tuple[int, ...], distribution: str, rng: np.random.Generator) -> np.ndarray:
    """x = S*^{1/2} y for points on the second-to-last axis: (..., n, d) @ root^T (root is symmetric)."""
    return _standard_draw(shape, distribution, rng) @ root


def sample_data(second_moment, n_samples: int, distribution: str = "gaussian", replicates: int | None = None,
                seed=None) -> np.ndarray:
    """Draw n i.i.d. points (rows) with E x x^T = S* exactly: shape (n, d), or (R, n, d) with ``replicates=R``.

    ``distribution`` is ``gaussian``, ``mixture`` or ``student-t`` (module docstring); ``seed`` an int, None or
    a :class:`numpy.random.Generator` (used as is)."""
    S = check_single_psd_matrix(second_moment)
    n = check_positive_int(n_samples, "n_samples")
    dist = check_distribution(distribution)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))
    shape = (n, S.shape[0])
    if replicates is not None:
        shape = (check_positive_int(replicates, "replicates"),) + shape
    return _draw(psd_sqrt(S), shape, dist, rng)


# ---------------------------------------------------------------------------------------------
# Batched building blocks: moments, DAE fits, sub-sampling, generation
# ---------------------------------------------------------------------------------------------

def empirical_second_moment(X: np.ndarray) -> np.ndarray:
    """S_hat = X^T X / n per replicate: (R, n, d) -> (R, d, d), exactly symmetric."""
    S = np.matmul(np.swapaxes(X, -1, -2), X)
    S /= X.shape[-2]
    return 0.5 * (S + np.swapaxes(S, -1, -2))


def _wiener(S: np.ndarray, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
    """W*(S) = V diag(g) V^T with g = mu/(mu + sigma2), batched; returns (W, ||W||_op)."""
    mu, V = np.linalg.eigh(S)
    mu = np.clip(mu, 0.0, None)
    gain = mu / (mu + sigma2)
    return np.matmul(V * gain[..., None, :], np.swapaxes(V, -1, -2)), gain.max(axis=-1)


def _wishart_identity(dof: int, batch: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, d, d) draws of Wishart(dof, I) = sum of dof outer products e e^T, e ~ N(0, I).

    Bartlett decomposition A A^T (A lower triangular, A_ii^2 ~ chi^2_{dof - i}, A_ij ~ N(0, 1) below the diagonal)
    when dof >= d; the sum of outer products directly otherwise."""
    if dof == 0:
        return np.zeros((batch, d, d))
    if dof < d:
        e = rng.standard_normal((batch, dof, d))
        return np.matmul(np.swapaxes(e, -1, -2), e)
    A = np.zeros((batch, d, d))
    rows, cols = np.tril_indices(d, -1)
    A[:, rows, cols] = rng.standard_normal((batch, rows.size))
    diag = np.arange(d)
    A[:, diag, diag] = np.sqrt(rng.chisquare(dof - diag, size=(batch, d)))
    return np.matmul(A, np.swapaxes(A, -1, -2))


def least_squares_dae(T: np.ndarray, S_train: np.ndarray, sigma2: float, noise_draws: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares DAE on m = noise_draws noisy copies y_jl = t_j + sigma e_jl of every training point t_j.

    W = C G^{-1} with C = sum t y^T and G = sum y y^T, drawn exactly from sufficient statistics instead of the
    (R, N m, d) copies: with Z_j = sum_l e_jl / sqrt(m) ~ N(0, I) and the within-point scatter
    sum_jl (e_jl - e_bar_j)(e_jl - e_bar_j)^T ~ Wishart(N (m - 1), I) independent of Z,
        C / (N m) = S~ + sigma T^T Z / (N sqrt(m)),
        G / (N m) = S~ + sigma (T^T Z + Z^T T) / (N sqrt(m)) + sigma2 (Z^T Z + Wishart) / (N m).
    This has exactly the distribution of :func:`~collapse_theory.theory.dae.linear.empirical_dae`'s fit."""
    R, N, d = T.shape
    m = noise_draws
    Z = rng.standard_normal(T.shape)
    cross_noise = np.matmul(np.swapaxes(T, -1, -2), Z)
    scatter = np.matmul(np.swapaxes(Z, -1, -2), Z) + _wishart_identity(N * (m - 1), R, d, rng)
    sigma = np.sqrt(sigma2)
    C = S_train + sigma * cross_noise / (N * np.sqrt(m))
    G = (S_train + sigma * (cross_noise + np.swapaxes(cross_noise, -1, -2)) / (N * np.sqrt(m))
         + sigma2 * scatter / (N * m))
    G = 0.5 * (G + np.swapaxes(G, -1, -2))
    # W G = C  <=>  G W^T = C^T (G symmetric)
    W = np.swapaxes(np.linalg.solve(G, np.swapaxes(C, -1, -2)), -1, -2)
    return W, np.linalg.norm(W, 2, axis=(-2, -1))


def _fit(T: np.ndarray, S_train: np.ndarray, sigma2: float, noise_draws: int | None,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if noise_draws is None:
        return _wiener(S_train, sigma2)
    return least_squares_dae(T, S_train, sigma2, noise_draws, rng)


def random_subset(X: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Per replicate, ``size`` of the N points of X (R, N, d), uniformly without replacement."""
    R, N, _ = X.shape
    if size >= N:
        return X
    if size == 0:
        return X[:, :0]
    keys = rng.random((R, N))
    idx = np.argpartition(keys, size - 1, axis=1)[:, :size]
    return np.take_along_axis(X, idx[..., None], axis=1)


def _generate(inputs: np.ndarray, W: np.ndarray, sigma2: float, rule: str, rng: np.random.Generator) -> np.ndarray:
    """x' = W (x + sigma eps) (renoise) or W x (clean) for every input point (rows), batched over replicates."""
    Wt = np.swapaxes(W, -1, -2)
    if rule == "clean":
        return np.matmul(inputs, Wt)
    noisy = rng.standard_normal(inputs.shape)
    noisy *= np.sqrt(sigma2)
    noisy += inputs
    return np.matmul(noisy, Wt)


def moments_along(S: np.ndarray, U: np.ndarray) -> np.ndarray:
    """diag(U^T S U) per replicate: (R, d, d) -> (R, d)."""
    return np.einsum("ji,rjk,ki->ri", U, S, U)


def descending_eigh(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of symmetric S (batched), largest first."""
    lam, U = np.linalg.eigh(S)
    return lam[..., ::-1], U[..., ::-1]


# ---------------------------------------------------------------------------------------------
# One generation step from a fixed training set
# ---------------------------------------------------------------------------------------------

@dataclass
class GenerationDraws:
    """R independent generations from ONE fixed training set T (see :func:`generate_from_training_set`).

    training_moment   S_hat~ = S_hat(T), (d, d)
    training_eigenvalues, basis   its eigenvalues (descending) and eigenvectors (columns, same order)
    weights           W = W*(S_hat~), (d, d)
    next_moments      S_hat' of each generated set, (R, d, d)
    along             diag(V^T S_hat' V) per draw, (R, d): the moments along S_hat~'s eigenvectors
    """

    rule: str
    sigma2: float
    n_samples: int
    replicates: int
    seed: int | None
    training_moment: np.ndarray
    training_eigenvalues: np.ndarray
    basis: np.ndarray
    weights: np.ndarray
    next_moments: np.ndarray
    along: np.ndarray


def generate_from_training_set(training_set, sigma2, rule: str = "renoise", n_samples: int | None = None,
                               replicates: int = 1000, seed=0) -> GenerationDraws:
    """Train W = W*(S_hat~) on a fixed training set T (N, d) and generate R independent next-round data sets.

    Each set applies the rule to n inputs: all of T when n_samples is None or N, else n points drawn uniformly
    without replacement (as the accumulate regime does). The exact conditional mean is
    E[S_hat' | T] = F(S_hat~): f(mu_i) (renoise) or h(mu_i) (clean) along S_hat~'s eigenvectors v_i, zero off the
    diagonal; ``along`` holds v_i^T S_hat' v_i per draw for z-scores against it."""
    T = np.asarray(training_set, dtype=np.float64)
    if T.ndim != 2 or T.shape[0] < 2 or T.shape[1] < 1 or not np.all(np.isfinite(T)):
        raise ValueError(f"training_set must be a finite (N, d) array with N >= 2, got shape {T.shape}")
    s2 = check_scalar_sigma2(sigma2)
    rule = check_rule(rule)
    N, d = T.shape
    n = N if n_samples is None else check_positive_int(n_samples, "n_samples", minimum=2)
    if n > N:
        raise ValueError(f"n_samples must be <= the training set size {N}, got {n}")
    R = check_positive_int(replicates, "replicates", minimum=2)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    S_train = empirical_second_moment(T[None])
    W, _ = _wiener(S_train, s2)
    inputs = np.broadcast_to(T, (R, N, d))
    if n < N:
        inputs = random_subset(inputs, n, rng)
    nxt = empirical_second_moment(_generate(inputs, W, s2, rule, rng))
    mu, V = descending_eigh(S_train[0])
    return GenerationDraws(rule=rule, sigma2=s2, n_samples=n, replicates=R, seed=seed,
                           training_moment=S_train[0], training_eigenvalues=mu, basis=V, weights=W[0],
                           next_moments=nxt, along=moments_along(nxt, V))


# ---------------------------------------------------------------------------------------------
# The multi-round Monte-Carlo
# ---------------------------------------------------------------------------------------------

@dataclass
class MonteCarloTrajectory:
    """Per replicate x round outputs of :func:`simulate_dae_recursion_mc` (round 0 first).

    Arrays have shape (R, rounds + 1[, d]). ``basis`` holds S*'s eigenvectors as columns, ordered like
    ``population_eigenvalues`` (S*'s eigenvalues, descending).

    eigenvalues[r, k]           eigenvalues of S_hat_k, the empirical second moment of round k's data (descending)
    moments[r, k]               diag(U^T S_hat_k U): round k's data moment along S*'s eigenvectors
    training_eigenvalues[r, k]  eigenvalues of S_hat~_k, the training set's moment (descending)
    training_moments[r, k]      diag(U^T S_hat~_k U)
    op_norm[r, k]               ||W_k||_op
    total_variance[r, k]        tr S_hat_k
    """

    regime: str
    rule: str
    distribution: str
    sigma2: float
    real_fraction: float
    effective_real_fraction: float
    n_samples: int
    replicates: int
    seed: int | None
    noise_draws: int | None
    rounds: np.ndarray
    basis: np.ndarray
    population_eigenvalues: np.ndarray
    eigenvalues: np.ndarray
    moments: np.ndarray
    training_eigenvalues: np.ndarray
    training_moments: np.ndarray
    op_norm: np.ndarray
    total_variance: np.ndarray

    def population(self, impl=None) -> DAETrajectory:
        """The population recursion with the same S*, sigma2, effective real fraction, rounds, regime and rule.

        ``impl`` replaces :func:`~collapse_theory.theory.dae.recursion.dae_recursion` (same signature)."""
        recursion = dae_recursion if impl is None else impl
        return recursion(self.population_eigenvalues, self.sigma2, self.effective_real_fraction,
                         rounds=int(self.rounds[-1]), regime=self.regime, rule=self.rule)

    def z_against_population(self, impl=None) -> dict[str, np.ndarray]:
        """Replicate z-scores of the means of moments, training moments and tr S_hat_k vs the population.

        Shapes (rounds + 1, d) and (rounds + 1,); round 0 is included (it is unbiased by construction)."""
        pop = self.population(impl)
        lam = np.asarray(pop.eigenvalues)
        return {
            "moments": z_scores(self.moments, lam),
            "training_moments": z_scores(self.training_moments, np.asarray(pop.training_eigenvalues)),
            "total_variance": z_scores(self.total_variance, lam.sum(axis=-1)),
        }


def simulate_dae_recursion_mc(second_moment, sigma2, real_fraction=0.0, rounds: int = 5, regime: str = "replace",
                              rule: str = "renoise", n_samples: int = 1000, replicates: int = 100,
                              distribution: str = "gaussian", seed=0,
                              noise_draws: int | None = None) -> MonteCarloTrajectory:
    """Finite-sample DAE recursion for R independent replicates at once (equations in the module docstring).

    second_moment  S* (d, d), any symmetric PSD matrix (the data's exact second moment)
    sigma2         DAE noise variance > 0
    real_fraction  alpha in [0, 1]: a = round(alpha n) real points per training set (regimes mix/fresh; must
                   be 0 for replace/accumulate)
    rounds         rounds after round 0 (outputs have rounds + 1 entries per replicate)
    n_samples      n >= 2 points per round;  replicates  R >= 2
    distribution   ``gaussian``, ``mixture`` or ``student-t``
    seed           int >= 0 (reproducible) or None
    noise_draws    None: W_k = W*(S_hat~_k) exactly; m >= 1: least-squares DAE on m noisy copies per point

    Memory is O(R n d) (accumulate: O(R n d (rounds + 1)) for the pool). Loop over rounds only."""
    S_star = check_single_psd_matrix(second_moment)
    s2 = check_scalar_sigma2(sigma2)
    alpha_arr = check_fraction(real_fraction)
    if alpha_arr.ndim != 0:
        raise ValueError(f"real_fraction must be a scalar, got shape {alpha_arr.shape}")
    alpha = float(alpha_arr)
    regime = check_regime(regime)
    rule = check_rule(rule)
    K = check_positive_int(rounds, "rounds", minimum=0)
    n = check_positive_int(n_samples, "n_samples", minimum=2)
    R = check_positive_int(replicates, "replicates", minimum=2)
    dist = check_distribution(distribution)
    seed = check_seed(seed)
    m_draws = None if noise_draws is None else check_positive_int(noise_draws, "noise_draws")
    if regime in ("replace", "accumulate") and alpha != 0:
        raise ValueError(f"real_fraction must be 0 (or omitted) for regime {regime!r}; "
                         "use regime 'mix' or 'fresh' for a fixed real fraction")

    d = S_star.shape[0]
    lam_star, U = descending_eigh(S_star)
    lam_star = np.clip(lam_star, 0.0, None)
    root = psd_sqrt(S_star)
    a = int(round(alpha * n)) if regime in ("mix", "fresh") else 0
    rng = np.random.default_rng(seed)

    eig_out = np.empty((R, K + 1, d))
    mom_out = np.empty((R, K + 1, d))
    teig_out = np.empty((R, K + 1, d))
    tmom_out = np.empty((R, K + 1, d))
    op_out = np.empty((R, K + 1))

    real = _draw(root, (R, n, d), dist, rng)        # X_0, the real sample (also round 0's data)
    data = real
    if regime == "accumulate":
        pool = np.empty((R, (K + 1) * n, d))
        pool[:, :n] = real
        pool_sum = np.matmul(np.swapaxes(real, -1, -2), real)   # sum of x x^T over the pool
    for k in range(K + 1):
        S_k = empirical_second_moment(data)
        eig_out[:, k] = np.clip(np.linalg.eigvalsh(S_k)[:, ::-1], 0.0, None)  # PSD: clip rounding
        mom_out[:, k] = moments_along(S_k, U)
        if k == 0:
            train = real
            S_train = S_k
        elif regime == "replace":
            train, S_train = data, S_k
        elif regime in ("mix", "fresh"):
            real_part = real[:, :a] if regime == "mix" else _draw(root, (R, a, d), dist, rng)
            train = np.concatenate([real_part, random_subset(data, n - a, rng)], axis=1)
            S_train = empirical_second_moment(train)
        else:  # accumulate
            pool[:, k * n:(k + 1) * n] = data
            pool_sum = pool_sum + np.matmul(np.swapaxes(data, -1, -2), data)
            train = pool[:, :(k + 1) * n]
            S_train = pool_sum / ((k + 1) * n)
            S_train = 0.5 * (S_train + np.swapaxes(S_train, -1, -2))
        teig_out[:, k] = np.clip(np.linalg.eigvalsh(S_train)[:, ::-1], 0.0, None)
        tmom_out[:, k] = moments_along(S_train, U)
        W, op_out[:, k] = _fit(train, S_train, s2, m_draws, rng)
        if k < K:
            inputs = random_subset(train, n, rng) if regime == "accumulate" else train
            data = _generate(inputs, W, s2, rule, rng)

    return MonteCarloTrajectory(
        regime=regime, rule=rule, distribution=dist, sigma2=s2, real_fraction=alpha,
        effective_real_fraction=a / n, n_samples=n, replicates=R, seed=seed, noise_draws=m_draws,
        rounds=np.arange(K + 1), basis=U, population_eigenvalues=lam_star, eigenvalues=eig_out, moments=mom_out,
        training_eigenvalues=teig_out, training_moments=tmom_out, op_norm=op_out,
        total_variance=mom_out.sum(axis=-1),
    )
