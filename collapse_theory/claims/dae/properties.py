"""Numeric properties of the DAE theory, shared by the registry's numeric checks and the property tests.

Each ``property_*`` function takes one configuration (plain numbers and arrays) and an optional
substitute formula ``impl`` (``None`` = the toolkit's), and returns an :class:`Outcome` whose evidence
holds the worst margin found. The registry (``numeric_checks``) runs them over seeded random draws from
wide parameter ranges; ``tests/test_properties.py`` runs them under hypothesis.

Tolerances come from float64 rounding: a quantity built by k rounds of a few correctly rounded
operations carries a relative error of at most c (k + 1) eps with a small c, stated where used.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ...stats import max_abs_z, z_limit, z_scores
from ...theory.dae import finite_sample, linear as linear_dae, recursion
from ...theory.dae.bounds import doubly_exponential_log_bounds, rounds_bounds
from ..registry import Outcome

EPS = np.finfo(float).eps
TINY = 1e-280  # below this, values are near the subnormal range and relative comparisons stop being meaningful


@dataclass(frozen=True)
class Ranges:
    """The parameter ranges the numeric tier samples from (the issue's: sigma2 1e-8..1e4, d <= 64, rounds <= 1e4)."""

    log10_sigma2: tuple[float, float] = (-8.0, 4.0)
    log10_eigenvalue: tuple[float, float] = (-6.0, 4.0)
    max_dim: int = 64
    max_rounds: int = 10_000


RANGES = Ranges()


def random_spectrum(rng: np.random.Generator, max_dim: int = RANGES.max_dim, zero_prob: float = 0.1) -> np.ndarray:
    """A spectrum of random length 1..max_dim, log-uniform entries, some exact zeros, sorted descending."""
    d = int(rng.integers(1, max_dim + 1))
    lam = 10 ** rng.uniform(*RANGES.log10_eigenvalue, size=d)
    lam[1:][rng.random(d - 1) < zero_prob] = 0.0
    return np.sort(lam)[::-1]


def random_sigma2(rng: np.random.Generator) -> float:
    return float(10 ** rng.uniform(*RANGES.log10_sigma2))


def random_psd(rng: np.random.Generator, eigenvalues: np.ndarray) -> np.ndarray:
    """Q diag(eigenvalues) Q^T with Q Haar-random orthogonal (QR of a Gaussian matrix, sign-corrected)."""
    d = len(eigenvalues)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    S = (q * eigenvalues) @ q.T
    return 0.5 * (S + S.T)


def _slack(rounds) -> np.ndarray:
    """Relative float slack of a k-round computation: 16 (k + 1) eps."""
    return 16 * (np.asarray(rounds) + 1) * EPS


# ---------------------------------------------------------------------------------------------
# DAE-OPT
# ---------------------------------------------------------------------------------------------

def property_optimal_dae(S: np.ndarray, sigma2: float, impl=None) -> Outcome:
    """W*(S) satisfies the normal equations W (S + sigma2 I) = S (gradient of the DAE loss is zero), is
    symmetric with eigen-gains in [0, 1), and no perturbation lowers the loss.

    Residual tolerance: solving a d x d system in float64 gives ||W(S+sigma2 I) - S||_F <= c d eps ||S + sigma2 I||_F
    with c = 64 (covers eigh and the product)."""
    formula = impl or linear_dae.optimal_dae
    W = np.asarray(formula(S, sigma2), dtype=float)
    d = S.shape[0]
    noisy = S + sigma2 * np.eye(d)
    scale = np.linalg.norm(noisy) * max(1.0, np.linalg.norm(W))
    residual = np.linalg.norm(W @ noisy - S) / scale
    gains = np.linalg.eigvalsh(0.5 * (W + W.T))
    asym = np.linalg.norm(W - W.T) / max(np.linalg.norm(W), TINY)
    tol = 64 * d * EPS
    ok = residual <= tol and asym <= tol and gains.min() >= -tol and gains.max() < 1 + tol
    return Outcome(bool(ok), {"normal_eq_residual": float(residual), "tolerance": float(tol),
                              "max_gain": float(gains.max())})


def property_empirical_dae_limit(data: np.ndarray, sigma2: float, seed: int, impl=None) -> Outcome:
    """The least-squares DAE with m noise draws per sample tends to the claimed limit W*(S_hat) like 1/sqrt(m).

    For m in (64, 256, 1024, 4096) and R = 12 replicate noise seeds, e(m) = ||W_m - W_lim||_F; the fitted
    log-log slope per replicate has mean s, and with the true limit s = -1/2 (CLT of the noise averages).
    Accept when |s + 1/2| <= 4 SE (replicate standard error). The least-squares bias is O(1/(n m)) against
    a noise error of O(1/sqrt(n m)), so at these m it moves the slope by far less than the SE. Then, at m = 10^8
    (exact sufficient-statistics draws, R = 64), every entry of W_m - limit has |z| <= z_limit(d^2, R)."""
    limit = (impl or (lambda X, s2: linear_dae.optimal_dae(linear_dae.second_moment(X), s2)))(data, sigma2)
    draws = (64, 256, 1024, 4096)
    replicates = 12
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(replicates):
        errors = [np.linalg.norm(linear_dae.empirical_dae(data, sigma2, noise_draws=m, rng=rng) - limit)
                  for m in draws]
        slopes.append(np.polyfit(np.log(draws), np.log(errors), 1)[0])
    slopes = np.asarray(slopes)
    mean, se = slopes.mean(), slopes.std(ddof=1) / np.sqrt(replicates)
    slope_ok = abs(mean + 0.5) <= 4 * se
    # The limit itself, at m = 10^8 noise draws per point: the package draws the least-squares fit from its exact
    # sufficient statistics (finite_sample.least_squares_dae), so W_m - W*(S_hat) has noise ~ 1/sqrt(n m) and bias
    # O(1/(n m)) (far below one replicate standard error); the replicate z of every entry of W_m - limit must stay
    # within z_limit(d^2, R) (Sidak over the d^2 entries, t_{R-1}, family level 1e-3). A limit off by 1 % of sigma2
    # is ~1e3 standard errors away.
    n, d = data.shape
    big_m, big_reps = 10 ** 8, 64
    T = np.broadcast_to(data, (big_reps, n, d))
    S_hat = np.broadcast_to(linear_dae.second_moment(data), (big_reps, d, d))
    W_big, _ = finite_sample.least_squares_dae(np.ascontiguousarray(T), np.ascontiguousarray(S_hat), sigma2, big_m,
                                               np.random.default_rng(seed + 1))
    z = z_scores(W_big - limit, 0.0, axis=0)
    z_worst, z_lim = max_abs_z(z), z_limit(d * d, big_reps)
    return Outcome(bool(slope_ok and z_worst <= z_lim),
                   {"slope": float(mean), "slope_se": float(se), "expected_slope": -0.5,
                    "large_m_max_abs_z": z_worst, "z_limit": z_lim})


# ---------------------------------------------------------------------------------------------
# DAE-BOTTLENECK
# ---------------------------------------------------------------------------------------------

def property_bottleneck(eigenvalues: np.ndarray, sigma2: float, rank: int, seed: int, impl=None) -> Outcome:
    """The closed-form rank-r DAE (i) attains the loss tr S - sum_{i<=r} lambda_i^2/(lambda_i+sigma2),
    (ii) beats every other choice of r eigendirections with their gains (brute force), and (iii) is not beaten
    by L-BFGS on the factorised loss L(D E) from 4 random starts (accepted if no start goes below the closed
    form by more than 1e-9 relative: L-BFGS's gradient tolerance). Tested on a randomly rotated S."""
    rng = np.random.default_rng(seed)
    S = random_psd(rng, eigenvalues)
    d = len(eigenvalues)
    formula = impl or linear_dae.bottleneck_dae
    D, E = formula(S, sigma2, rank)
    loss = float(linear_dae.dae_loss(D @ E, S, sigma2))
    scale = max(float(np.sum(eigenvalues)), TINY)
    lam, U = np.linalg.eigh(S)
    best_subset = np.inf
    for subset in itertools.combinations(range(d), rank):
        idx = list(subset)
        W = (U[:, idx] * (lam[idx] / (lam[idx] + sigma2))) @ U[:, idx].T
        best_subset = min(best_subset, float(linear_dae.dae_loss(W, S, sigma2)))

    def factorised(theta):
        Dm = theta[: d * rank].reshape(d, rank)
        Em = theta[d * rank:].reshape(rank, d)
        W = Dm @ Em
        noisy = S + sigma2 * np.eye(d)
        value = np.trace(S) - 2 * np.trace(W @ S) + np.trace(W @ noisy @ W.T)
        grad_w = 2 * (W @ noisy - S)
        return value, np.concatenate([(grad_w @ Em.T).ravel(), (Dm.T @ grad_w).ravel()])

    best_search = np.inf
    for _ in range(4):
        theta0 = 0.5 * rng.standard_normal(2 * d * rank)
        res = optimize.minimize(factorised, theta0, jac=True, method="L-BFGS-B",
                                options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15})
        best_search = min(best_search, float(res.fun))
    tol = 1e-9 * scale + 64 * d * EPS * scale
    ok = loss <= best_subset + tol and loss <= best_search + tol
    return Outcome(bool(ok), {"closed_form_loss": loss, "best_subset_loss": best_subset,
                              "best_lbfgs_loss": best_search})


# ---------------------------------------------------------------------------------------------
# DAE-STEP and DAE-MATRIX-EIGEN
# ---------------------------------------------------------------------------------------------

def eigen_step(mu, sigma2, rule: str):
    """f(mu) = mu^2/(mu+sigma2) (renoise), h(mu) = mu^3/(mu+sigma2)^2 (clean), elementwise: the fixed-point checks'
    iteration map and the base of wrong maps (mutants). DAE-STEP checks the package's own map,
    :func:`package_one_round`, against literal matrix propagation."""
    gain = mu / (mu + sigma2)
    return mu * gain if rule == "renoise" else mu * gain * gain


def package_one_round(mu, sigma2, rule: str):
    """One round of the package's recursion from eigenvalues mu (replace regime):
    ``recursion.dae_recursion(mu, sigma2, rounds=1, regime="replace", rule=rule).eigenvalues[1]``."""
    return recursion.dae_recursion(np.asarray(mu, dtype=float), sigma2, 0.0, 1, "replace", rule).eigenvalues[1]


def property_one_step(S: np.ndarray, sigma2: float, rule: str, impl=None) -> Outcome:
    """Propagating the second moment literally (W = W*(S~) by a linear solve; S' = W(S~ + sigma2 I)W^T or W S~ W^T)
    gives the eigenvalues of ``impl`` (default :func:`package_one_round`, the package's recursion) at eig S~ and
    commutes with S~. Tolerance 64 d eps ||S~ + sigma2 I|| (float rounding)."""
    step = impl or package_one_round
    d = S.shape[0]
    noisy = S + sigma2 * np.eye(d)
    W = np.linalg.solve(noisy, S).T
    S_next = W @ (noisy if rule == "renoise" else S) @ W.T
    predicted = np.sort(step(np.clip(np.linalg.eigvalsh(S), 0, None), sigma2, rule))
    observed = np.sort(np.linalg.eigvalsh(0.5 * (S_next + S_next.T)))
    scale = np.linalg.norm(noisy, 2)
    err = float(np.max(np.abs(observed - predicted)) / scale)
    commute = float(np.linalg.norm(S_next @ S - S @ S_next) / max(scale * np.linalg.norm(S), TINY))
    tol = 64 * d * EPS * max(1.0, np.linalg.cond(noisy) ** 0.0)
    ok = err <= tol and commute <= tol
    return Outcome(bool(ok), {"eigenvalue_error": err, "commutator": commute, "tolerance": float(tol)})


def property_matrix_matches_eigen(eigenvalues: np.ndarray, sigma2: float, alpha: float, rounds: int, regime: str,
                                  rule: str, seed: int, impl=None) -> Outcome:
    """The full-matrix recursion on a randomly rotated S* matches the eigenvalue recursion (``impl``) in
    eigenvalues, ||W_k||, ||W_k...W_0|| and W2 to float precision: eigenvalues within 64 d (k+1) eps lambda_max
    (the maps are contractions, so rounding errors add up at most linearly), norms within 64 d (k+1) eps,
    W2^2 within the rounding bound of the Bures formula (its inner square root amplifies rounding of
    near-zero eigenvalues; see the comment below)."""
    rng = np.random.default_rng(seed)
    S = random_psd(rng, eigenvalues)
    alpha = alpha if regime in ("mix", "fresh") else 0.0
    matrix = recursion.dae_recursion_matrix(S, sigma2, alpha, rounds, regime, rule)
    eigen = (impl or recursion.dae_recursion)(eigenvalues, sigma2, alpha, rounds, regime, rule)
    d = len(eigenvalues)
    k = np.arange(rounds + 1)
    top = max(float(eigenvalues.max()), TINY)
    tol_eig = 64 * d * (k + 1) * EPS * (top + sigma2)
    eig_sorted = np.sort(np.asarray(eigen.eigenvalues), axis=-1)[:, ::-1]
    eig_err = np.max(np.abs(matrix.eigenvalues - eig_sorted), axis=-1)
    op_err = np.abs(matrix.op_norm - eigen.op_norm)
    comp_err = np.abs(matrix.composed_op_norm - eigen.composed_op_norm)
    # W2^2 = tr A + tr B - 2 tr (A^1/2 B A^1/2)^1/2: eigenvalues of the inner matrix carry absolute errors
    # c eps ||A|| ||B||, and their square roots errors sqrt(c eps ||A|| ||B||), so W2^2 is good to
    # delta = 2 d sqrt(c eps ||A|| ||B||) + c eps (tr A + tr B), c = 64 d (k+1)
    w2sq_err = np.abs(matrix.w2_to_real ** 2 - eigen.w2_to_real ** 2)
    c = 64 * d * (k + 1)
    norm_a = np.max(matrix.eigenvalues, axis=-1)
    delta = (2 * d * np.sqrt(c * EPS * norm_a * top) + c * EPS * (matrix.total_variance + eigenvalues.sum()))
    tol_norm = 64 * d * (k + 1) * EPS
    ok = (np.all(eig_err <= tol_eig) and np.all(op_err <= tol_norm) and np.all(comp_err <= tol_norm)
          and np.all(w2sq_err <= delta))
    w2_err = np.abs(matrix.w2_to_real - eigen.w2_to_real)
    return Outcome(bool(ok), {"max_eigenvalue_error_rel": float(np.max(eig_err / (top + sigma2))),
                              "max_op_norm_error": float(op_err.max()), "max_w2_error": float(w2_err.max())})


# ---------------------------------------------------------------------------------------------
# C-collapse, DAE-COLLAPSE-RATE, DAE-DOUBLY-EXP, DAE-ROUNDS
# ---------------------------------------------------------------------------------------------

def property_collapse_bounds(eigenvalues: np.ndarray, sigma2: float, rounds: int, rule: str, impl=None) -> Outcome:
    """The replace-regime trajectory satisfies the C-collapse bounds of ``impl`` (default
    :func:`recursion.collapse_bounds`) at every round, within the float slack 16 (k+1) eps, and the composed
    map equals max_i (lambda_{k+1,i}/lambda*_i)^{1/p} (p = 1 renoise, 2 clean) where not underflowed."""
    traj = recursion.dae_recursion(eigenvalues, sigma2, 0.0, rounds, "replace", rule)
    bounds = (impl or recursion.collapse_bounds)(eigenvalues, sigma2, rounds, rule)
    k = traj.rounds
    slack = 1 + _slack(k)
    lam_max = traj.eigenvalues.max(axis=-1)
    checks = {
        "eigenvalue_max": lam_max <= bounds["eigenvalue_max"] * slack,
        "op_norm": traj.op_norm <= bounds["op_norm"] * slack,
        "composed_op_norm": traj.composed_op_norm <= bounds["composed_op_norm"] * slack,
    }
    finite = all(np.all(np.isfinite(a)) for a in (traj.eigenvalues, traj.op_norm, traj.composed_op_norm))
    # exact identity for the composed map, rounds 0..K-1 (needs lambda_{k+1})
    power = 1.0 if rule == "renoise" else 0.5
    positive = eigenvalues > 0
    ratio = np.zeros_like(traj.eigenvalues[1:])
    ratio[..., positive] = traj.eigenvalues[1:, positive] / eigenvalues[positive]
    predicted = (ratio ** power).max(axis=-1)
    measured = traj.composed_op_norm[:-1]
    # rounds where every eigenvalue of S_{k+1} (with lambda*_i > 0) is still a normal float
    usable = np.all(traj.eigenvalues[1:, positive] > TINY, axis=-1) & (measured > TINY)
    rel = np.abs(predicted - measured)[usable] / measured[usable]
    identity_ok = bool(np.all(rel <= 2 * _slack(k[:-1])[usable])) if rel.size else True
    ok = finite and identity_ok and all(bool(np.all(v)) for v in checks.values())
    worst = {name: float(np.max(getattr(traj, name) / np.maximum(bounds[name], TINY)))
             for name in ("op_norm", "composed_op_norm")}
    return Outcome(bool(ok), {"max_op_norm_over_bound": worst["op_norm"],
                              "max_composed_over_bound": worst["composed_op_norm"],
                              "composed_identity_max_rel_error": float(rel.max()) if rel.size else 0.0})


def replace_op_norm_trajectory(eigenvalues, sigma2, rounds, rule="renoise"):
    """||W_k||_op of the purely synthetic recursion (the toolkit's model of C-collapse)."""
    return recursion.dae_recursion(eigenvalues, sigma2, 0.0, rounds, "replace", rule).op_norm


def property_collapse_to_zero(eigenvalues: np.ndarray, sigma2: float, rule: str, impl=None) -> Outcome:
    """C-collapse: the op norm falls below 1e-12 within N + 12 rounds, N the top eigenvalue's number of rounds
    to collapse (gain 1/2), and from round N on each round multiplies it by at most x_k = g_k/(1 - g_k) <= 1
    (the scale-free top eigenvalue; the ratio g_{k+1}/g_k equals x_k/(1 + x_{k+1}) for renoise and
    x_k^2/((1 + x_k)(1 + x_{k+1})) for clean), so the decay is geometric and then faster.
    ``impl(eigenvalues, sigma2, rounds, rule)`` returns the op-norm trajectory. Slack 16 (k+1) eps."""
    top = float(eigenvalues.max())
    n_collapse = int(recursion.rounds_to_collapse(top / sigma2, rule)[0])
    horizon = n_collapse + 12
    ops = np.asarray((impl or replace_op_norm_trajectory)(eigenvalues, sigma2, horizon, rule), dtype=float)
    tail = ops[n_collapse:]
    alive = (tail[:-1] > TINY) & (tail[1:] > TINY)  # ratios of normal floats only
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(alive, tail[1:] / tail[:-1], 0.0)
        x_k = np.where(tail[:-1] < 1, tail[:-1] / (1 - tail[:-1]), np.inf)
    slack = 1 + _slack(horizon)
    ok = ops[-1] <= 1e-12 and np.all(ratios <= x_k * slack) and np.all(x_k[alive] <= 1 * slack)
    return Outcome(bool(ok), {"rounds_to_collapse": n_collapse, "final_op_norm": float(ops[-1]),
                              "max_tail_ratio": float(ratios.max()) if ratios.size else 0.0})


def property_doubly_exponential(x0: float, rule: str, impl=None) -> Outcome:
    """From the first round K with x_K <= 1, the iterates x_{K+j} stay between the bounds of ``impl`` (default
    :func:`~collapse_theory.theory.dae.bounds.doubly_exponential_log_bounds`), compared in logs while x > 1e-280; slack 16 (j+1) eps in the log
    of each factor (|log| is at most 700, so an absolute 1e-9 covers it)."""
    bounds = impl or doubly_exponential_log_bounds
    x = x0
    while x > 1:
        x = float(recursion.collapse_map(x, rule))
    x_K, j, worst, ok = x, 0, -np.inf, True
    while x > TINY and j < 12:
        lo, hi = bounds(np.log(x_K), j, rule)
        lx = np.log(x)
        worst = max(worst, lo - lx, lx - hi)
        ok &= bool(lo - 1e-9 <= lx <= hi + 1e-9)
        x = float(recursion.collapse_map(x, rule))
        j += 1
    return Outcome(bool(ok and j >= 2), {"x_K": x_K, "rounds_checked": j, "worst_log_violation": float(worst)})


def property_rounds(x0: np.ndarray, rule: str, impl=None) -> Outcome:
    """N(x0), measured by iterating the scale-free map, lies within the bounds of ``impl`` for every x0 > 1;
    and is scale invariant: the recursion in (lambda, sigma2) = (c x0, c) collapses in the same round for
    c = 2^-20 and 2^20 (powers of two keep every float operation exact under scaling)."""
    measured = recursion.rounds_to_collapse(x0, rule)
    lo, hi = (impl or rounds_bounds)(x0, rule)
    inside = (measured >= lo) & (measured <= hi)
    # scale invariance, exact in floating point when the scale is a power of two
    invariant = True
    for scale in (2.0 ** -20, 2.0 ** 20):
        scaled = recursion.dae_recursion((x0 * scale)[:, None], scale, 0.0, int(measured.max()) + 1,
                                         "replace", rule).op_norm
        invariant &= bool(np.array_equal(np.argmax(scaled <= 0.5, axis=0), measured))
    return Outcome(bool(np.all(inside) and invariant),
                   {"min_margin_low": float(np.min(measured - lo)), "min_margin_high": float(np.min(hi - measured)),
                    "max_x0": float(np.max(x0))})


# ---------------------------------------------------------------------------------------------
# C-real, DAE-REAL-FIXED-POINT, DAE-CLEAN-RULE
# ---------------------------------------------------------------------------------------------

def property_real_lower_bound(eigenvalues: np.ndarray, sigma2: float, alpha: float, rounds: int, rule: str,
                              impl=None) -> Outcome:
    """C-real: with a fixed real fraction alpha > 0, min_k ||W_k||_op >= the bound of ``impl`` (default
    alpha lambda*_max/(alpha lambda*_max + sigma2)) over all rounds, within 16 (k+1) eps, and > 0."""
    traj = recursion.dae_recursion(eigenvalues, sigma2, alpha, rounds, "mix", rule)
    bound = float(np.asarray((impl or recursion.real_fraction_lower_bound)(eigenvalues, sigma2, alpha)))
    worst = float(traj.op_norm.min())
    ok = worst > 0 and worst >= bound * (1 - _slack(rounds))
    return Outcome(bool(ok), {"min_op_norm": worst, "lower_bound": bound})


def property_fixed_point(eigenvalues: np.ndarray, sigma2: float, alpha: float, rule: str, impl=None) -> Outcome:
    """The fixed point of ``impl`` (default :func:`recursion.fixed_point`) (i) is a root of T(lambda) - lambda
    with T(lambda) = F(alpha lambda* + (1-alpha) lambda), to 64 eps relative to lambda*; (ii) matches brentq on
    [0, lambda*] within 64 eps / alpha relative (the root's condition number is 1/(1 - T') <= 1/alpha); (iii) is the limit of the recursion started at lambda*: lambda_k decreases
    monotonically and |lambda_k - lambda_inf| <= (1-alpha)^k |lambda* - lambda_inf| (slack 16 (k+1) eps lambda*)."""
    lam_inf = np.asarray((impl or recursion.fixed_point)(eigenvalues, sigma2, alpha, rule=rule), dtype=float)

    def T(lam, lam_star):
        return eigen_step(alpha * lam_star + (1 - alpha) * lam, sigma2, rule)

    scale = np.maximum(eigenvalues, TINY)
    residual = np.abs(T(lam_inf, eigenvalues) - lam_inf) / scale
    root_err = []
    for ls, li in zip(eigenvalues, lam_inf):
        if ls == 0:
            root_err.append(abs(li))
            continue
        root = optimize.brentq(lambda v: T(v, ls) - v, 0.0, ls, xtol=1e-300, rtol=4 * EPS, maxiter=500)
        root_err.append(abs(root - li) / ls)
    rounds = int(min(RANGES.max_rounds, np.ceil(40 / alpha)))
    traj = recursion.dae_recursion(eigenvalues, sigma2, alpha, rounds, "mix", rule)
    k = traj.rounds[:, None]
    err = np.abs(traj.eigenvalues - lam_inf)
    contraction = err <= (1 - alpha) ** k * np.abs(eigenvalues - lam_inf) + _slack(k) * eigenvalues
    monotone = np.all(np.diff(traj.eigenvalues, axis=0) <= _slack(k[1:]) * eigenvalues)
    # conditioning of the root: a residual r moves the root by r / (1 - T'), and 1 - T' >= alpha
    root_tol = 64 * EPS / alpha
    ok = (np.all(residual <= 64 * EPS) and max(root_err) <= root_tol and np.all(contraction) and monotone)
    return Outcome(bool(ok), {"max_residual_rel": float(residual.max()), "max_brentq_error_rel": float(max(root_err)),
                              "final_error_rel": float(np.max(err[-1] / scale)), "rounds": rounds})


def property_fixed_point_rate(lam_star: float, sigma2: float, alpha: float, rule: str, impl=None) -> Outcome:
    """The observed error ratio e_{k+1}/e_k tends to the rate of ``impl`` (default (1-alpha) F'(mu_inf)).

    Taylor: e_{k+1}/e_k = T' + T'' e_k / 2 + O(e_k^2), so at the first k with e_k <= 1e-6 lambda* we accept
    |ratio - rate| <= |T''| e_k + 1e3 eps lambda*/e_k (the second term: rounding in the difference e_k),
    with T'' = (1-alpha)^2 F''(mu_inf) bounded by (1-alpha)^2 * 6 sigma2^2/(mu+sigma2)^3 for both rules."""
    lam_star_arr = np.array([lam_star])
    rate = float(np.asarray((impl or recursion.fixed_point_rate)(lam_star_arr, sigma2, alpha, rule=rule))[0])
    lam_inf = float(recursion.fixed_point(lam_star_arr, sigma2, alpha, rule=rule)[0])
    mu = alpha * lam_star + (1 - alpha) * lam_inf
    second = (1 - alpha) ** 2 * 6 * sigma2 ** 2 / (mu + sigma2) ** 3
    lam = lam_star
    for _ in range(100_000):
        e = abs(lam - lam_inf)
        if e <= 1e-6 * lam_star:
            break
        lam = float(eigen_step(alpha * lam_star + (1 - alpha) * lam, sigma2, rule))
    e_k = lam - lam_inf
    if e_k == 0:
        return Outcome(rate == 0.0 or alpha == 1.0, {"observed_ratio": 0.0, "rate": rate, "tolerance": 0.0})
    lam_next = float(eigen_step(alpha * lam_star + (1 - alpha) * lam, sigma2, rule))
    ratio = (lam_next - lam_inf) / e_k
    tol = second * abs(e_k) + 1e3 * EPS * lam_star / abs(e_k)
    ok = abs(ratio - rate) <= tol
    return Outcome(bool(ok), {"observed_ratio": ratio, "rate": rate, "tolerance": float(tol)})


# ---------------------------------------------------------------------------------------------
# DAE-ACCUMULATE
# ---------------------------------------------------------------------------------------------

def property_accumulate(eigenvalues: np.ndarray, sigma2: float, rounds: int, rule: str, impl=None) -> Outcome:
    """Accumulate regime: A_k = (k+1) mu_k is non-decreasing, mu_k decreases, and ||W_k|| stays above the lower
    bound of ``impl`` (default lambda*_max/(lambda*_max + (k+1) sigma2)), all within 16 (k+1) eps."""
    traj = recursion.dae_recursion(eigenvalues, sigma2, 0.0, rounds, "accumulate", rule)
    k = traj.rounds
    A = (k[:, None] + 1) * traj.training_eigenvalues
    slack = _slack(k)[:, None]
    A_ok = np.all(np.diff(A, axis=0) >= -slack[1:] * A[1:])
    mu_ok = np.all(np.diff(traj.training_eigenvalues, axis=0) <= slack[1:] * traj.training_eigenvalues[:-1])
    lower = (impl or recursion.accumulate_bounds)(eigenvalues, sigma2, rounds)["op_norm"]
    bound_ok = np.all(traj.op_norm >= lower * (1 - _slack(k)))
    return Outcome(bool(A_ok and mu_ok and bound_ok),
                   {"min_op_norm_over_bound": float(np.min(traj.op_norm / lower)),
                    "final_op_norm": float(traj.op_norm[-1])})


def accumulate_decay_exponent() -> float:
    """DAE-ACCUMULATE: ||W_k||_op ~ A_inf/(sigma2 k), i.e. decay exponent 1 in k."""
    return 1.0


def property_accumulate_harmonic(lam_star: float, sigma2: float, impl=None) -> Outcome:
    """||W_k||_op decays like k^-p with the exponent p of ``impl`` (default 1): the local log-log slope between
    k = 5000 and k = 10000 is -p within 4 A/(sigma2 k) (the relative size of the neglected term of the
    expansion ||W_k|| = A/(sigma2 k) (1 + O(A/(sigma2 k)) + O(1/k)) with A <= the final (k+1) mu_k), plus 4/k."""
    p = float((impl or accumulate_decay_exponent)())
    traj = recursion.dae_recursion(np.array([lam_star]), sigma2, 0.0, 10_000, "accumulate", "renoise")
    k1, k2 = 5000, 10_000
    slope = (np.log(traj.op_norm[k2]) - np.log(traj.op_norm[k1])) / (np.log(k2 + 1) - np.log(k1 + 1))
    A = float((k2 + 1) * traj.training_eigenvalues[k2, 0])
    tol = 4 * A / (sigma2 * k1) + 4.0 / k1
    ok = abs(slope + p) <= tol and traj.op_norm[k2] < traj.op_norm[k1]
    return Outcome(bool(ok), {"slope": float(slope), "expected": -p, "tolerance": float(tol), "A_final": A})
