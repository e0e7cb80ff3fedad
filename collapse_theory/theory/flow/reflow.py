"""Gaussian Reflow recursions: population, estimated (finite n), shrinkage, and RA / ORA / ORAS (numpy only).

Setting (:mod:`.gaussian_flow`): noise N(m0, Sigma0) (Sigma0 positive definite), real data N(m*, Sigma*).
A *model* is a flow from the noise law; round 0 is 1-RF trained on (noise, real data) pairs, round k + 1 is
trained on pairs built from model k. Which statements are exact theorems and which are our reading of the
paper's algorithms is said for each recursion.

1. Population Reflow (exact, :func:`population_reflow`). Round 0 is the 1-RF map T(x) = M x + c. Round 1 trains
   on the deterministic coupling (Z0, T(Z0)); with L_t = (1 - t) I + t M (invertible: M is similar to
   B^{1/2} > 0) its velocity is v2(x, t) = E[T(Z0) - Z0 | L_t Z0 + t c = x] = (M - I) L_t^{-1} (x - t c) + c, the
   flow Z_t = L_t Z0 + t c is straight (S(Z^2) = 0) and ends at T(Z0): the same coupling, so every later round
   repeats it. Population Reflow is a fixed point after one round: no collapse.

2. Pair regression cannot drift (exact, :func:`fit_affine_velocity`). Pairs on the graph of an affine T satisfy
   Y = Z1 - Z0 = (M - I) L_t^{-1} (X_t - t c) + c exactly, so the least-squares affine velocity on any n >= d + 1
   pairs in general position reproduces v2 exactly, whatever the mix of synthetic pairs (z, T(z)) and real pairs
   (T^{-1}(x), x). Finite-sample drift therefore enters only where the model re-estimates the *law* it generates.

3. Estimated Reflow (:func:`estimated_reflow`; the model is our reading, the expectations are exact for it).
   Model k generates N(m_k, Sigma_k) through the 1-RF/2-RF map (:func:`gaussian_flow.flow_affine`, closed form).
   Round 0 fits (m_0, Sigma_0) to n real points; round k + 1 fits the sample mean and covariance
   (divisor n - ddof, default ddof = 1: unbiased) of the data side of its n training pairs: n - a synthetic points
   T_k(z), z ~ N(m0, Sigma0), and, for RA methods, a = round(alpha n) real points (the first a of round 0's real
   sample, the same every round, as in the scripts' fixed training set). For plain Reflow (a = 0), with
   N = n - 1 and W_k ~ Wishart_d(I, N) independent of the past, Sigma_{k+1} = Sigma_k^{1/2} W_k Sigma_k^{1/2}/(n - ddof):

       E log det Sigma_k = log det Sigma* + (k + 1) sum_{i=1}^d [psi((n - i)/2) + log(2/(n - ddof))]
       Var log det Sigma_k = (k + 1) sum_{i=1}^d psi'((n - i)/2)         (independent increments)
       E Sigma_k = ((n - 1)/(n - ddof))^(k+1) Sigma*                        (a martingale when ddof = 1)
       E||m_k - m*||^2 = (tr Sigma*/n) sum_{j=0}^{k} ((n - 1)/(n - ddof))^j  (= (k + 1) tr Sigma*/n when ddof = 1)

   (rounds counted from round 0's fit of the real sample; psi the digamma function). log det drifts to -infinity
   linearly (sum psi((n-i)/2) + d log(2/(n-1)) < 0 by Jensen), so Sigma_k -> 0 almost surely although
   E Sigma_k = Sigma*, while the mean performs a random walk.

4. RA Reflow (exact for the model of 3). Conditionally on the real sample (its a kept points r_i with mean r and
   scatter Sc = sum_i (r_i - r)(r_i - r)^T), with alpha = a/n, mu_k = E m_k, P_k = E m_k m_k^T:

       mu_{k+1}    = alpha r + (1 - alpha) mu_k
       P_{k+1}     = alpha^2 r r^T + alpha (1 - alpha)(r mu_k^T + mu_k r^T) + (1 - alpha)^2 (P_k + E Sigma_k/(n - a))
       E Sigma_{k+1} = [Sc + (n - a)(n - 1)/n E Sigma_k + (a (n - a)/n) E (r - m_k)(r - m_k)^T] / (n - ddof)

   (derived from E[scatter of the pooled sample]); and deterministically Sigma_{k+1} >= Sc/(n - ddof) (Loewner
   order: the pooled scatter dominates the real points' scatter). So for a >= d + 1 real points,
   log det Sigma_k >= log det Sc - d log(n - ddof) in every replicate for all k >= 1: bounded away from collapse.
   E Sigma_k converges geometrically to Sigma_inf = Sc / [(n - ddof) - (1 - alpha)(n - 1) - (1 - alpha)^2/(2 - alpha)].
   The real pairs' noise side does not enter the fitted law, so RA, ORA and ORAS have the same law recursion; they
   differ in the coupling: ``ra`` uses z_hat = T_k^{-1}(x) (reverse flow of the previous model), ``ora`` the reverse
   flow of the model being trained, z_hat = T_{k+1}^{-1}(x) (the fixed point of regenerating the real pairs during
   the round: our reading of "online"), ``oras`` a *stochastic* reverse Euler pass of the model being trained:
   steps h_j = (1 + u_j)/N, u_j ~ U(-0.1, 0.1) (+-10 % jitter, renormalised to sum to 1), N = 100, and Gaussian noise
   of std 1e-3 sqrt(h_j) per step (our reading of the first author's scripts; the paper does not describe ORAS in
   what is available). The reported ``pair_mismatch`` = mean ||T_{k+1}(z_hat) - x||^2 over the real pairs measures how
   far the real pairs are from the trained model's own (straight) coupling: 0 for ``ora`` (float rounding).

5. Shrinkage Reflow (exact for its model; :func:`shrinkage_reflow`). Centred data with second moment S, noise
   N(0, I). The 1-RF clean-data predictor x1_hat(x, t) = x + (1 - t) v(x, t) = E[X1 | X_t = x] is fitted, in the
   linear class, by the x1-prediction loss, which at time t is a DAE loss at noise sigma_t = (1 - t)/t:
       E||X1 - W X_t/t||^2 = E||X1 - W (X1 + sigma_t X0)||^2 = E||X1 - W X1||^2 + sigma_t^2 ||W||_F^2
   (the ridge penalty sigma_t^2 ||W||_F^2: Bishop's noise-injection identity), minimiser W*(S, sigma_t^2) =
   S (S + sigma_t^2 I)^{-1}. Generating the next round's data by one x1-prediction step from time t_s (re-noise a
   training point to x_{t_s} = t_s x + (1 - t_s) z and predict x1_hat) is exactly the DAE "renoise" rule
   x' = W (x + sigma eps) with sigma^2 = ((1 - t_s)/t_s)^2, so each eigenvalue follows
   lambda' = f(mu) = mu^2/(mu + sigma^2) (:mod:`.recursion`, reused, not re-implemented) with mu the training moment:
   mu = lambda (Reflow) or alpha lambda* + (1 - alpha) lambda (RA methods: the "mix" regime). Integrating the ODE
   to t = 1 instead gives no shrinkage at all (item 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..conventions import check_time
from .gaussian import (
    GaussianEndpoints,
    affine_map_cost,
    flow_affine,
    geometric_mean,
    joint_velocity_affine,
    psd_inverse_sqrt,
    velocity_affine,
    w2_distance,
)
from ..dae.recursion import DAETrajectory, dae_recursion
from ..spectral import gaussian_w2, psd_sqrt
from ...validation import as_float_array, check_fraction, check_positive_int, check_rule

METHODS = ("reflow", "ra", "ora", "oras")
"""reflow: synthetic pairs only; ra: + real pairs from the previous model's reverse flow; ora: real pairs from the
reverse flow of the model being trained; oras: as ora with a stochastic reverse Euler pass (our reading)."""
ORAS_NOISE_STD = 1e-3
"""Std of the Gaussian noise per reverse Euler step is ORAS_NOISE_STD * sqrt(|dt|)."""
ORAS_STEP_JITTER = 0.1
"""Reverse Euler step sizes are jittered by a factor 1 + U(-0.1, 0.1) (then renormalised to cover [0, 1])."""
REVERSE_STEPS = 100
"""Reverse Euler steps of the ORAS pass (the scripts' 100-point grid)."""


def check_method(method: str, name: str = "method") -> str:
    key = str(method).strip().lower()
    if key not in METHODS:
        raise ValueError(f"{name} must be one of {', '.join(METHODS)}, got {method!r}")
    return key


def _check_method_fraction(method: str, alpha: float) -> None:
    if method == "reflow" and alpha != 0:
        raise ValueError(f"real_fraction must be 0 for method 'reflow' (no real pairs), got {alpha!r}")
    if method != "reflow" and alpha == 0:
        raise ValueError(f"real_fraction must be > 0 for method {method!r} (it mixes in real pairs), got 0")


def _sym(M):
    return 0.5 * (M + np.swapaxes(M, -1, -2))


# ---------------------------------------------------------------------------------------------
# 1-2. Population Reflow and the pair regression
# ---------------------------------------------------------------------------------------------

def straight_velocity_affine(M, c, t) -> tuple[np.ndarray, np.ndarray]:
    """Velocity of Reflow on exact pairs (Z0, M Z0 + c): v2(x, t) = (M - I) L_t^{-1} (x - t c) + c, L_t = (1-t) I + t M.

    Returned as (A, b) with v2(x, t) = A x + b; batched over leading axes of M and c."""
    t = float(check_time(t))
    M = np.asarray(M, float)
    c = np.asarray(c, float)
    eye = np.eye(M.shape[-1])
    L = (1 - t) * eye + t * M
    A = np.swapaxes(np.linalg.solve(np.swapaxes(L, -1, -2), np.swapaxes(M - eye, -1, -2)), -1, -2)
    b = c - t * np.einsum("...ij,...j->...i", A, c)
    return A, b


def coupling_velocity_affine(m0, cov0, M, c, t) -> tuple[np.ndarray, np.ndarray]:
    """The rectified-flow velocity of the deterministic coupling (Z0, M Z0 + c), Z0 ~ N(m0, cov0), computed as the
    Gaussian conditional expectation (:func:`gaussian_flow.joint_velocity_affine`) -- independent of the closed
    form :func:`straight_velocity_affine` it must equal."""
    M = np.asarray(M, float)
    cov0 = np.asarray(cov0, float)
    m0 = np.asarray(m0, float)
    return joint_velocity_affine(m0, M @ m0 + c, cov0, cov0 @ M.T, M @ cov0 @ M.T, t)


def integrate_affine_field(field_fn, d: int, t_end: float = 1.0, rtol: float = 1e-10,
                           atol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Flow map (N, e) of dZ/dt = A_t Z + b_t from t = 0 to t_end, with field_fn(t) -> (A_t, b_t):
    dN/dt = A_t N, de/dt = A_t e + b_t, N_0 = I, e_0 = 0 (scipy solve_ivp, DOP853)."""
    from scipy import integrate

    def rhs(s, y):
        A, b = field_fn(min(max(s, 0.0), 1.0))
        N = y[: d * d].reshape(d, d)
        e = y[d * d:]
        return np.concatenate([(A @ N).ravel(), A @ e + b])

    y0 = np.concatenate([np.eye(d).ravel(), np.zeros(d)])
    if t_end == 0:
        return np.eye(d), np.zeros(d)
    sol = integrate.solve_ivp(rhs, (0.0, t_end), y0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover
        raise ArithmeticError(f"solve_ivp failed: {sol.message}")
    return sol.y[: d * d, -1].reshape(d, d), sol.y[d * d:, -1]


def coupling_kinetic_energy(m0, cov0, M, c, field_fn=None) -> float:
    """int_0^1 E||v(X_t, t)||^2 dt for the coupling (Z0, M Z0 + c) with X_t = L_t Z0 + t c and the velocity
    field_fn(t) -> (A, b) (default: :func:`coupling_velocity_affine`); quad with epsrel 1e-11."""
    from scipy import integrate

    M, c, m0, cov0 = (np.asarray(a, float) for a in (M, c, m0, cov0))
    eye = np.eye(M.shape[0])
    field_fn = field_fn or (lambda t: coupling_velocity_affine(m0, cov0, M, c, t))

    def integrand(t):
        A, b = field_fn(t)
        L = (1 - t) * eye + t * M
        mean = A @ (L @ m0 + t * c) + b
        return float(mean @ mean + np.trace(A @ L @ cov0 @ L.T @ A.T))

    return float(integrate.quad(integrand, 0.0, 1.0, epsabs=0.0, epsrel=1e-11, limit=200)[0])


@dataclass
class PopulationReflow:
    """Rounds of exact population Reflow (round 0 = 1-RF, round k = the k-th reflow), per round:
    maps[k] = (M_k, c_k) the flow map, straightness[k] = S of the round's flow (K - E||Z1 - Z0||^2),
    transport_cost[k] = E||Z1 - Z0||^2, w2_to_data[k] = W2(law generated by model k, data law),
    map_change[k] = ||M_k - M_{k-1}||_F + ||c_k - c_{k-1}|| (NaN at round 0)."""

    maps: list
    straightness: np.ndarray
    transport_cost: np.ndarray
    kinetic_energy: np.ndarray
    w2_to_data: np.ndarray
    map_change: np.ndarray


def population_reflow(ends: GaussianEndpoints, rounds: int = 3, velocity_fn=None) -> PopulationReflow:
    """Exact population Reflow. Round 0: the 1-RF map (closed form). Round k + 1: the rectified flow of the coupling
    (Z0, T_k(Z0)) with velocity ``velocity_fn(m0, cov0, M, c, t)`` (default: the Gaussian conditional expectation
    :func:`coupling_velocity_affine`), integrated with solve_ivp (rtol 1e-10); straightness = K - E||Z1 - Z0||^2 by
    quadrature. Theorem: rounds >= 1 all equal round 0's map with straightness 0."""
    n_rounds = check_positive_int(rounds, "rounds", minimum=0)
    velocity_fn = velocity_fn or coupling_velocity_affine
    from .gaussian import kinetic_energy, straightness, transport_cost

    M, c = flow_affine(ends, 1.0, "closed")
    maps = [(M, c)]
    S = [straightness(ends)]
    cost = [transport_cost(ends, "closed")]
    kin = [kinetic_energy(ends)]
    for _ in range(n_rounds):
        Mk, ck = maps[-1]
        field_fn = (lambda t, Mk=Mk, ck=ck: velocity_fn(ends.m0, ends.cov0, Mk, ck, t))
        M_new, c_new = integrate_affine_field(field_fn, ends.dim)
        K = coupling_kinetic_energy(ends.m0, ends.cov0, Mk, ck, field_fn)
        C = affine_map_cost(ends, M_new, c_new)
        maps.append((M_new, c_new))
        kin.append(K)
        cost.append(C)
        S.append(K - C)
    w2 = [float(gaussian_w2(Mk @ ends.cov0 @ Mk.T, ends.cov1, Mk @ ends.m0 + ck, ends.m1)) for Mk, ck in maps]
    change = [np.nan] + [float(np.linalg.norm(maps[k][0] - maps[k - 1][0]) + np.linalg.norm(maps[k][1] - maps[k - 1][1]))
                         for k in range(1, len(maps))]
    return PopulationReflow(maps, np.array(S), np.array(cost), np.array(kin), np.array(w2), np.array(change))


def fit_affine_velocity(z, x, t) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine velocity on pairs (z_i, x_i) (rows) at time t: regress Y = x - z on X_t = t x + (1 - t) z
    with an intercept; returns (A, b) with v(x, t) = A x + b (numpy lstsq)."""
    z = as_float_array(z, "z")
    x = as_float_array(x, "x")
    if z.shape != x.shape or z.ndim != 2:
        raise ValueError(f"z must have the shape (n, d) of x, got {z.shape} and {x.shape}")
    t = float(check_time(t))
    X = t * x + (1 - t) * z
    design = np.hstack([X, np.ones((X.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design, x - z, rcond=None)
    return coef[:-1].T, coef[-1]


# ---------------------------------------------------------------------------------------------
# 3-4. Estimated Reflow and RA / ORA / ORAS
# ---------------------------------------------------------------------------------------------

def _digamma(x):
    from scipy.special import digamma

    return digamma(x)


def _trigamma(x):
    from scipy.special import polygamma

    return polygamma(1, x)


def log_det_drift_per_round(n_samples: int, dim: int, ddof: int = 1) -> float:
    """E log det Sigma_hat - log det Sigma for the sample covariance (divisor n - ddof) of n Gaussian points:
    sum_{i=1}^d [psi((n - i)/2) + log(2/(n - ddof))] (log det of a Wishart_d(I, n - 1) matrix)."""
    n = check_positive_int(n_samples, "samples", minimum=2)
    d = check_positive_int(dim, "dim")
    if n < d + 1:
        raise ValueError(f"samples must be >= dim + 1 = {d + 1} (a non-singular sample covariance), got {n}")
    i = np.arange(1, d + 1)
    return float(np.sum(_digamma((n - i) / 2.0) + np.log(2.0 / (n - ddof))))


def log_det_variance_per_round(n_samples: int, dim: int) -> float:
    """Var log det Sigma_hat = sum_{i=1}^d psi'((n - i)/2) (independent of ddof)."""
    n = check_positive_int(n_samples, "samples", minimum=2)
    d = check_positive_int(dim, "dim")
    i = np.arange(1, d + 1)
    return float(np.sum(_trigamma((n - i) / 2.0)))


def reflow_expectations(cov_star, n_samples: int, rounds: int, ddof: int = 1) -> dict[str, np.ndarray]:
    """Closed-form expectations of estimated plain Reflow (a = 0), rounds 0..K (round 0 = the fit of n real points):
    E log det Sigma_k - log det Sigma*, Var log det Sigma_k, E tr Sigma_k, E||m_k - m*||^2 (module docstring, item 3)."""
    cov_star = np.asarray(cov_star, float)
    d = cov_star.shape[-1]
    K = check_positive_int(rounds, "rounds", minimum=0)
    k1 = np.arange(K + 1) + 1.0
    growth = (n_samples - 1.0) / (n_samples - ddof)
    tr = float(np.trace(cov_star))
    return {
        "log_det_drift": k1 * log_det_drift_per_round(n_samples, d, ddof),
        "log_det_variance": k1 * log_det_variance_per_round(n_samples, d),
        "trace": tr * growth ** k1,
        "mean_error_sq": tr / n_samples * np.cumsum(growth ** np.arange(K + 1)),
    }


def ra_conditional_expectations(real_points, mean_0, cov_0, n_samples: int, rounds: int, ddof: int = 1,
                                m_star=None) -> dict[str, np.ndarray]:
    """E[. | real sample, round-0 fit] of the estimated RA recursion (module docstring, item 4), batched over leading
    axes: real_points (..., a, d) the kept real points, (mean_0, cov_0) round 0's fit. Returns per round k = 0..K
    ``mean`` mu_k, ``mean_outer`` P_k, ``cov`` E Sigma_k, ``trace`` E tr Sigma_k and, with m_star, ``mean_error_sq``
    E||m_k - m*||^2. a = 0 gives plain Reflow conditional on round 0."""
    real_points = np.asarray(real_points, float)
    a = real_points.shape[-2]
    n = n_samples
    if a > n:
        raise ValueError(f"real_points must hold at most samples = {n} points, got {a}")
    mu = np.asarray(mean_0, float)
    cov = np.asarray(cov_0, float)
    P = mu[..., :, None] * mu[..., None, :]
    alpha = a / n
    if a:
        r = real_points.mean(axis=-2)
        dev = real_points - r[..., None, :]
        scatter = np.einsum("...ni,...nj->...ij", dev, dev)
        rr = r[..., :, None] * r[..., None, :]
    else:
        r = np.zeros_like(mu)
        scatter = np.zeros_like(cov)
        rr = np.zeros_like(cov)
    out = {"mean": [mu], "mean_outer": [P], "cov": [cov]}
    for _ in range(check_positive_int(rounds, "rounds", minimum=0)):
        r_mu = r[..., :, None] * mu[..., None, :]
        delta_outer = rr - r_mu - np.swapaxes(r_mu, -1, -2) + P
        synth = (n - a) * (n - 1) / n * cov if a < n else 0.0
        cov_next = (scatter + synth + a * (n - a) / n * delta_outer) / (n - ddof)
        P_next = alpha ** 2 * rr + alpha * (1 - alpha) * (r_mu + np.swapaxes(r_mu, -1, -2))
        if a < n:
            P_next = P_next + (1 - alpha) ** 2 * (P + cov / (n - a))
        mu = alpha * r + (1 - alpha) * mu
        P, cov = P_next, cov_next
        out["mean"].append(mu)
        out["mean_outer"].append(P)
        out["cov"].append(cov)
    res = {k: np.stack(v) for k, v in out.items()}
    res["trace"] = np.trace(res["cov"], axis1=-2, axis2=-1)
    if m_star is not None:
        ms = np.asarray(m_star, float)
        res["mean_error_sq"] = (np.trace(res["mean_outer"], axis1=-2, axis2=-1) - 2 * res["mean"] @ ms + ms @ ms)
    return res


def ra_stationary_covariance(real_scatter, n_samples: int, real_count: int, ddof: int = 1) -> np.ndarray:
    """lim_k E[Sigma_k | real sample] = Sc / [(n - ddof) - (1 - alpha)(n - 1) - (1 - alpha)^2/(2 - alpha)], alpha = a/n,
    for 1 <= a <= n (the fixed point of the linear recursion of :func:`ra_conditional_expectations`)."""
    n, a = n_samples, real_count
    if not 1 <= a <= n:
        raise ValueError(f"real_count must lie in [1, samples], got {a}")
    alpha = a / n
    denom = (n - ddof) - (1 - alpha) * (n - 1) - (1 - alpha) ** 2 / (2 - alpha)
    return np.asarray(real_scatter, float) / denom


def ra_covariance_lower_bound(real_points, n_samples: int, ddof: int = 1) -> np.ndarray:
    """Sc/(n - ddof): every RA round's fitted covariance dominates it (Loewner order), surely."""
    real_points = np.asarray(real_points, float)
    dev = real_points - real_points.mean(axis=-2, keepdims=True)
    return np.einsum("...ni,...nj->...ij", dev, dev) / (n_samples - ddof)


def _maps_to(cov0_root, cov0_inv_root, m0, means, covs):
    """Batched closed-form 1-RF maps from N(m0, Sigma0) to N(means, covs): M = S0^{1/2} B^{1/2} S0^{-1/2}."""
    B = _sym(cov0_inv_root @ covs @ cov0_inv_root)
    M = cov0_root @ psd_sqrt(B) @ cov0_inv_root
    return M, means - M @ m0


def _apply(M, c, x):
    """x (R, n, d) -> x @ M^T + c, batched over replicates."""
    return np.einsum("rij,rnj->rni", M, x) + c[:, None, :]


def _fit(x, ddof):
    mean = x.mean(axis=-2)
    dev = x - mean[..., None, :]
    return mean, _sym(np.einsum("rni,rnj->rij", dev, dev) / (x.shape[-2] - ddof))


def stochastic_reverse_euler(M, c, x1, rng: np.random.Generator, steps: int = REVERSE_STEPS,
                             noise_std: float = ORAS_NOISE_STD, jitter: float = ORAS_STEP_JITTER) -> np.ndarray:
    """ORAS reverse pass (our reading): integrate the straight model's velocity v2 (:func:`straight_velocity_affine`)
    backwards from t = 1 to 0 with Euler steps h_j = (1 + u_j)/N, u_j ~ U(-jitter, jitter), renormalised to sum to 1,
    adding N(0, noise_std^2 h_j I) per step. Batched: M (R, d, d), c (R, d), x1 (R, n, d). Without noise this is
    exact for any steps (v2 is constant along its straight paths)."""
    h = (1.0 + rng.uniform(-jitter, jitter, size=steps)) / steps
    h = h / h.sum()
    x = np.array(x1, dtype=float, copy=True)
    t = 1.0
    for hj in h:
        A, b = straight_velocity_affine(M, c, t)
        x = x - hj * (np.einsum("rij,rnj->rni", A, x) + b[:, None, :])
        x = x + noise_std * np.sqrt(hj) * rng.standard_normal(x.shape)
        t = max(t - hj, 0.0)
    return x


@dataclass
class EstimatedReflowTrajectory:
    """Monte-Carlo trajectory of estimated Reflow (shape (rounds + 1, replicates, ...); round 0 = fit to real data).

    means, covs        fitted (m_k, Sigma_k) of each round's model
    log_det, trace     log det Sigma_k, tr Sigma_k
    mean_error_sq      ||m_k - m*||^2
    w2_to_real         W2(N(m_k, Sigma_k), N(m*, Sigma*))
    pair_mismatch      mean ||T_k(z_hat) - x||^2 over the real pairs used to train round k (NaN if none)
    real_points        (replicates, a, d) the kept real points; expected_* the closed forms of this configuration."""

    method: str
    real_fraction: float
    real_count: int
    n_samples: int
    replicates: int
    seed: int
    ddof: int
    rounds: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    log_det: np.ndarray
    trace: np.ndarray
    mean_error_sq: np.ndarray
    w2_to_real: np.ndarray
    pair_mismatch: np.ndarray
    real_points: np.ndarray
    expected: dict = field(default_factory=dict)

    QUANTITIES = ("log_det", "trace", "mean_error_sq", "w2_to_real", "pair_mismatch")


def estimated_reflow(ends: GaussianEndpoints, n_samples: int, rounds: int, replicates: int = 200, seed: int = 0,
                     method: str = "reflow", real_fraction: float = 0.0, ddof: int = 1,
                     reverse_steps: int = REVERSE_STEPS, progress=None) -> EstimatedReflowTrajectory:
    """Monte-Carlo of estimated Reflow / RA / ORA / ORAS (module docstring, items 3-4), R replicates batched.

    ends          noise N(m0, cov0) (PD) and real data N(m1, cov1) = N(m*, Sigma*)
    n_samples     n >= d + 1 pairs per round; a = round(real_fraction n) of them real for RA methods (a >= 1)
    progress      optional callable(round) called after each round (e.g. a tqdm update)
    Randomness: numpy SeedSequence(seed) spawns three streams (real data, synthetic noise, ORAS reverse noise),
    so ra / ora / oras with one seed share the same fitted laws and differ only in their real pairs' noise side."""
    if not isinstance(ends, GaussianEndpoints):
        raise ValueError(f"ends must be a GaussianEndpoints, got {type(ends).__name__}")
    method = check_method(method)
    alpha = float(check_fraction(real_fraction))
    _check_method_fraction(method, alpha)
    d = ends.dim
    n = check_positive_int(n_samples, "samples", minimum=2)
    if n < d + 1:
        raise ValueError(f"samples must be >= dim + 1 = {d + 1} (a non-singular sample covariance), got {n}")
    K = check_positive_int(rounds, "rounds", minimum=0)
    R = check_positive_int(replicates, "replicates")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 (maximum likelihood) or 1 (unbiased), got {ddof!r}")
    a = int(round(alpha * n)) if method != "reflow" else 0
    if method != "reflow" and a < 1:
        raise ValueError(f"real_fraction must give at least one real pair (round(real_fraction * samples) >= 1), "
                         f"got {alpha} * {n}")
    if method != "reflow" and n - a < 0:
        raise ValueError("real_fraction must be <= 1")
    seed = int(seed)
    data_ss, noise_ss, reverse_ss = np.random.SeedSequence(seed).spawn(3)
    data_rng, noise_rng, reverse_rng = (np.random.default_rng(s) for s in (data_ss, noise_ss, reverse_ss))

    root_star = psd_sqrt(ends.cov1)
    real = ends.m1 + data_rng.standard_normal((R, n, d)) @ root_star.T
    kept = real[:, :a, :]
    root0, inv_root0 = psd_sqrt(ends.cov0), psd_inverse_sqrt(ends.cov0)

    mean, cov = _fit(real, ddof)
    means, covs, mismatch = [mean], [cov], [np.full(R, np.nan)]
    M, c = _maps_to(root0, inv_root0, ends.m0, mean, cov)
    for _ in range(K):
        z = ends.m0 + noise_rng.standard_normal((R, n - a, d)) @ root0.T
        synthetic = _apply(M, c, z)
        pooled = np.concatenate([kept, synthetic], axis=1) if a else synthetic
        mean, cov = _fit(pooled, ddof)
        M_new, c_new = _maps_to(root0, inv_root0, ends.m0, mean, cov)
        if a:
            if method == "ra":
                z_hat = np.linalg.solve(M[:, None, :, :], (kept - c[:, None, :])[..., None])[..., 0]
            elif method == "ora":
                z_hat = np.linalg.solve(M_new[:, None, :, :], (kept - c_new[:, None, :])[..., None])[..., 0]
            else:
                z_hat = stochastic_reverse_euler(M_new, c_new, kept, reverse_rng, steps=reverse_steps)
            err = _apply(M_new, c_new, z_hat) - kept
            mismatch.append(np.mean(np.sum(err ** 2, axis=-1), axis=-1))
        else:
            mismatch.append(np.full(R, np.nan))
        means.append(mean)
        covs.append(cov)
        M, c = M_new, c_new
        if progress is not None:
            progress(len(means) - 1)
    means, covs = np.stack(means), np.stack(covs)
    sign, log_det = np.linalg.slogdet(covs)
    log_det = np.where(sign > 0, log_det, -np.inf)
    err = means - ends.m1
    w2 = gaussian_w2(covs, np.broadcast_to(ends.cov1, covs.shape), means, np.broadcast_to(ends.m1, means.shape))
    traj = EstimatedReflowTrajectory(
        method=method, real_fraction=alpha if a else 0.0, real_count=a, n_samples=n, replicates=R, seed=seed,
        ddof=ddof, rounds=np.arange(K + 1), means=means, covs=covs, log_det=log_det,
        trace=np.trace(covs, axis1=-2, axis2=-1), mean_error_sq=np.sum(err ** 2, axis=-1), w2_to_real=w2,
        pair_mismatch=np.stack(mismatch), real_points=kept)
    cond = ra_conditional_expectations(kept, means[0], covs[0], n, K, ddof, m_star=ends.m1)
    traj.expected["conditional_trace"] = cond["trace"]
    traj.expected["conditional_mean_error_sq"] = cond["mean_error_sq"]
    if a == 0:
        uncond = reflow_expectations(ends.cov1, n, K, ddof)
        log_det_star = float(np.linalg.slogdet(ends.cov1)[1])
        traj.expected["log_det"] = log_det_star + uncond["log_det_drift"]
        traj.expected["log_det_variance"] = uncond["log_det_variance"]
        traj.expected["trace"] = uncond["trace"]
        traj.expected["mean_error_sq"] = uncond["mean_error_sq"]
    else:
        lower = ra_covariance_lower_bound(kept, n, ddof)
        traj.expected["log_det_lower_bound"] = np.linalg.slogdet(lower)[1] if a >= d + 1 else np.full(R, -np.inf)
        dev = kept - kept.mean(axis=1, keepdims=True)
        scatter = np.einsum("rni,rnj->rij", dev, dev)
        traj.expected["stationary_trace"] = np.trace(ra_stationary_covariance(scatter, n, a, ddof), axis1=-2, axis2=-1)
    return traj


# ---------------------------------------------------------------------------------------------
# 5. Shrinkage Reflow (the bridge to the DAE recursion)
# ---------------------------------------------------------------------------------------------

def shrinkage_sigma2(step_time) -> float:
    """sigma_t^2 = ((1 - t)/t)^2, the DAE noise variance of the x1-prediction step from time t (t in (0, 1])."""
    t = float(check_time(step_time, "step_time"))
    if t <= 0:
        raise ValueError(f"step_time must be > 0 (the x1-prediction from pure noise has sigma_t = inf), got {t}")
    return ((1 - t) / t) ** 2


def clean_prediction(ends: GaussianEndpoints, x_t, t) -> np.ndarray:
    """x1_hat(x, t) = x + (1 - t) v(x, t) = E[X1 | X_t = x] (the 1-RF clean-data predictor), points (..., d)."""
    A, b = velocity_affine(ends, t)
    t = float(t)
    x_t = np.asarray(x_t, float)
    return x_t + (1 - t) * (x_t @ A.T + b)


def shrinkage_reflow(eigenvalues, step_time: float, rounds: int = 50, method: str = "reflow",
                     real_fraction: float = 0.0, rule: str = "renoise") -> DAETrajectory:
    """Population shrinkage Reflow (module docstring, item 5): the DAE recursion of :mod:`.recursion` with
    sigma2 = ((1 - t_s)/t_s)^2, regime ``replace`` (reflow) or ``mix`` with real_fraction (ra / ora / oras, which
    coincide in the population), rule ``renoise`` (x1-prediction from a re-noised point; ``clean`` = predicting
    from the clean point, h(mu) = mu^3/(mu + sigma2)^2)."""
    method = check_method(method)
    alpha = float(check_fraction(real_fraction))
    _check_method_fraction(method, alpha)
    rule = check_rule(rule)
    sigma2 = shrinkage_sigma2(step_time)
    regime = "replace" if method == "reflow" else "mix"
    return dae_recursion(eigenvalues, sigma2, alpha, rounds, regime, rule)
