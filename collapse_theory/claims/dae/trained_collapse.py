"""Trained-tier checks of collapse: recursively trained torch DAEs under the replace regime against the collapse
bounds (C-collapse, DAE-COLLAPSE-RATE, DAE-DOUBLY-EXP, DAE-ROUNDS), the log drift (DAE-LOG-DRIFT) and the nonlinear
MLP observation (DAE-MLP-COLLAPSE).

Conventions shared by every DAE trained check (what ``impl`` and the mutants are, lazy torch, how fits are
certified, the Sidak-corrected z-limits and the common designs): the module docstring of
:mod:`collapse_theory.claims.dae.trained`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...stats import max_abs_z, z_limit
from ...theory.dae.bounds import doubly_exponential_log_bounds
from ...theory.dae.recursion import collapse_bounds, dae_recursion, rounds_to_collapse_bounds
from . import mutants as wrong
from ..registry import Outcome, check
from .trained_support import Z_LIMIT, replicate_z, train_package


# ============================================================================================ collapse runs

COLLAPSE = {"dim": 4, "spectrum": (1.0, 0.5, 0.25, 0.125), "sigma2": 0.1, "replicates": 32, "n_samples": 8192,
            "rounds": {"renoise": 20, "clean": 12}, "seed": 6500, "underflow_guard": 1e-250}


@lru_cache(maxsize=None)
def _collapse_runs():
    """Replace regime, gaussian, lambda* = (1, 0.5, 0.25, 0.125) rotated, sigma2 = 0.1 (x0 = 10 for the top
    direction: gain 1/2 reached at round 12 (renoise) / 6 (clean), then doubly-exponential collapse; the rounds stop
    before float64 underflow of the top moment). Linear DAEs trained by CG, 32 replicates of n = 8192."""
    train = train_package()
    p = COLLAPSE
    runs = {}
    for i, rule in enumerate(("renoise", "clean")):
        cfg = train.RecursionConfig(model="linear", data="gaussian", dim=p["dim"], spectrum=p["spectrum"],
                                    regime="replace", rule=rule, sigma2=p["sigma2"], rounds=p["rounds"][rule],
                                    replicates=p["replicates"], n_samples=p["n_samples"], optimizer="cg",
                                    seed=p["seed"] + i)
        runs[rule] = train.run_trained_recursion(cfg)
    return runs


def _log_z(samples: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """z-scores of mean log(samples) against log(expected) (positive values)."""
    with np.errstate(divide="ignore"):
        return replicate_z(np.log(samples), np.log(expected))


@check("C-collapse", "trained", "trained-op-norm-collapses-geometrically", mutants={
    "a fixed real fraction 0.1 (must not look like collapse)": wrong.recursion_as_real_fraction_0_1,
    "gain without the noise (identity map)": wrong.recursion_identity_gain,
})
def trained_op_norm_collapses(impl=None) -> Outcome:
    """Linear DAEs trained recursively on their own (renoised) outputs collapse: ||W_k||_op falls from 0.91 to
    ~1e-100 in 20 rounds (gaussian, x0 = lambda*_max/sigma2 = 10, 32 replicates, n = 8192), and the replicate mean of
    log ||W_k||_op follows the log of the closed form (impl) within |z| <= z_limit(m, R) at every round; every replicate stays
    below the geometric envelope (lambda*_max/sigma2) rho0^k of DAE-COLLAPSE-RATE.

    Why compare logs: after the collapse round the finite-sample error of log x_k doubles each round with fresh
    noise of variance ~2/n added (log x_{k+1} = 2 log x_k - log(1 + x_k) + log e_k, E log e_k ~ -1/n), so mean and
    spread of the log grow alike and the drift stays ~sqrt(R/(2 n)) = 0.04 standard errors; the raw values are
    log-normal with a spread that no replicate band captures."""
    traj = _collapse_runs()["renoise"]
    p = COLLAPSE
    recursion = impl or dae_recursion
    closed = recursion(traj.population_eigenvalues, p["sigma2"], 0.0, rounds=p["rounds"]["renoise"],
                       regime="replace", rule="renoise")
    op = traj.op_norm[0, 0]                                                 # (R, K1)
    z = _log_z(op, np.asarray(closed.op_norm))
    envelope = collapse_bounds(traj.population_eigenvalues, p["sigma2"], p["rounds"]["renoise"])["op_norm"]
    inside = bool(np.all(op <= envelope[None, :]))
    worst = max_abs_z(z)
    limit = z_limit(np.size(z), op.shape[0])                              # Sidak over the rounds, t_{R-1}
    evidence = {"x0": float(traj.population_eigenvalues.max() / p["sigma2"]), "rounds": p["rounds"]["renoise"],
                "z_limit": limit,
                "mean_op_norm_round_0": float(op[:, 0].mean()), "median_op_norm_last": float(np.median(op[:, -1])),
                "closed_form_op_norm_last": float(np.asarray(closed.op_norm)[-1]), "max_abs_z_log_op_norm": worst,
                "all_below_geometric_envelope": inside}
    return Outcome(worst <= limit and inside, evidence)


@check("DAE-COLLAPSE-RATE", "trained", "trained-recursion-within-collapse-bounds", mutants={
    "lambda_max rho0^(k+1)": wrong.bounds_exponent_plus_one,
    "composed rho0^(k+2)": wrong.bounds_composed_plus_one,
    "rho0^(2k) for the renoise rule": wrong.bounds_renoise_with_clean_rate,
})
def trained_within_collapse_bounds(impl=None) -> Outcome:
    """Recursively trained linear DAEs (replace; renoise 20 rounds, clean 12 rounds; x0 = 10) stay within the explicit
    collapse bounds (impl): the replicate means of the top moment lambda_k,1 (along u_1), of ||W_k||_op and of the
    composed map ||W_k ... W_0||_op are below lambda*_max rho0^k (clean rho0^(2k)), (lambda*_max/sigma2) rho0^k and
    rho0^(k+1) plus 4 standard errors at every round; and the composed norm follows the exact identity
    ||W_k ... W_0||_op = max_i lambda_{k+1,i}/lambda*_i (clean: its square root) of the closed form in log scale,
    |z| <= z_limit(m, R) (Sidak over the m rounds compared; see C-collapse/trained for why logs), at the rounds where every value exceeds 1e-250 (float64 range)."""
    bounds_of = impl or collapse_bounds
    p = COLLAPSE
    evidence = {}
    passed = True
    worst_excess, worst_z, compared, replicates = -np.inf, 0.0, 0, 2
    for rule, traj in _collapse_runs().items():
        K = p["rounds"][rule]
        bounds = bounds_of(traj.population_eigenvalues, p["sigma2"], K, rule)
        checks = {"eigenvalue_max": traj.moments[0, 0][..., 0], "op_norm": traj.op_norm[0, 0],
                  "composed_op_norm": traj.composed_op_norm[0, 0]}
        for name, samples in checks.items():
            mean = samples.mean(axis=0)
            se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
            bound = np.asarray(bounds[name], dtype=float).reshape(-1)
            with np.errstate(invalid="ignore"):
                excess = (mean - bound - Z_LIMIT * se) / np.where(se > 0, se, np.inf)
            excess = np.where(se > 0, excess, np.where(mean > bound, np.inf, 0.0))
            worst_here = float(np.max(excess))
            evidence[f"{rule}_{name}_max_excess_in_se"] = worst_here
            worst_excess = max(worst_excess, worst_here)
            passed &= worst_here <= 0
        closed = dae_recursion(traj.population_eigenvalues, p["sigma2"], rounds=K, regime="replace", rule=rule)
        composed = traj.composed_op_norm[0, 0]
        expected = np.asarray(closed.composed_op_norm)
        kept = (expected > p["underflow_guard"]) & np.all(composed > p["underflow_guard"], axis=0)
        z = _log_z(composed[:, kept], expected[kept])
        evidence[f"{rule}_max_abs_z_log_composed"] = max_abs_z(z)
        evidence[f"{rule}_rounds_compared_in_log"] = int(kept.sum())
        worst_z = max(worst_z, max_abs_z(z))
        compared += int(kept.sum())
        replicates = composed.shape[0]
    limit = z_limit(max(compared, 1), replicates)     # Sidak over the rounds compared in log, t_{R-1}
    evidence.update({"max_excess_in_se": worst_excess, "max_abs_z_log_composed": worst_z, "z_limit": limit})
    return Outcome(bool(passed) and worst_z <= limit, evidence)


@check("DAE-DOUBLY-EXP", "trained", "trained-log-collapse-doubles", mutants={
    "exponent 3^j for renoise / 2^j for clean": wrong.doubly_exp_other_exponent,
    "single-exponential x_K^(j+1)": lambda lx, j, rule="renoise": (
        np.log(2.0) + (np.asarray(j) + 1.0) * (lx - np.log(2.0)), (np.asarray(j) + 1.0) * lx),
})
def trained_log_collapse_doubles(impl=None) -> Outcome:
    """After the first round K with x_K = lambda_max(S_hat_K)/sigma2 <= 1 (per replicate), recursively trained linear
    DAEs collapse doubly exponentially: for j >= 0 the replicate means of log x_{K+j} - upper_j and of
    log x_{K+j} - lower_j (impl: upper = p^j log x_K, lower = log 2 + p^j log(x_K/2), p = 2 renoise / 3 clean) are
    <= 0 + 4 SE and >= 0 - 4 SE (runs of C-collapse/trained and the clean run: 32 replicates, x0 = 10; rounds with
    x > 1e-250 only). Clean generation is deterministic after round 0, so there the bounds hold per replicate up to
    the certified fit error."""
    bounds_of = impl or doubly_exponential_log_bounds
    p = COLLAPSE
    evidence = {}
    passed = True
    worst_upper, worst_lower = -np.inf, -np.inf
    for rule, traj in _collapse_runs().items():
        x = traj.eigenvalues[0, 0][..., 0] / p["sigma2"]                     # (R, K1): top sample eigenvalue
        R, K1 = x.shape
        upper_gap, lower_gap = {}, {}
        for r in range(R):
            below = np.nonzero(x[r] <= 1.0)[0]
            if below.size == 0:
                passed = False
                continue
            K = int(below[0])
            for j in range(K1 - K):
                if x[r, K + j] <= p["underflow_guard"]:
                    break
                lower, upper = bounds_of(np.log(x[r, K]), j, rule)
                upper_gap.setdefault(j, []).append(np.log(x[r, K + j]) - float(upper))
                lower_gap.setdefault(j, []).append(np.log(x[r, K + j]) - float(lower))
        for j in sorted(upper_gap):
            up, lo = np.asarray(upper_gap[j]), np.asarray(lower_gap[j])
            if up.size < 2:
                continue
            se_up = up.std(ddof=1) / np.sqrt(up.size)
            se_lo = lo.std(ddof=1) / np.sqrt(lo.size)
            excess_up = (up.mean() - Z_LIMIT * se_up) if se_up > 0 else up.max()
            excess_lo = -(lo.mean() + Z_LIMIT * se_lo) if se_lo > 0 else -lo.min()
            worst_upper, worst_lower = max(worst_upper, float(excess_up)), max(worst_lower, float(excess_lo))
            passed &= excess_up <= 0 and excess_lo <= 0
        evidence[f"{rule}_rounds_after_collapse"] = max(upper_gap) if upper_gap else -1
        evidence[f"{rule}_mean_collapse_round"] = float(np.mean([np.nonzero(row <= 1)[0][0] for row in x
                                                                 if np.any(row <= 1)]))
    evidence.update({"max_upper_excess": worst_upper, "max_lower_excess": worst_lower})
    return Outcome(bool(passed), evidence)


ROUNDS = {"x0": (5.0, 10.0, 20.0, 30.0), "replicates": 32, "n_samples": 4096, "rounds": 40, "scale": 10.0,
          "seed": 6700}


@lru_cache(maxsize=None)
def _rounds_runs():
    """d = 1, lambda* = 1, sigma2 = 1/x0 for x0 in {5, 10, 20, 30} as one batched grid (4 x 32 models), replace,
    renoise, 40 rounds, n = 4096; and the same run with lambda* and sigma2 both multiplied by 10 (same seed)."""
    train = train_package()
    p = ROUNDS
    out = {}
    for scale in (1.0, p["scale"]):
        cfg = train.RecursionConfig(model="linear", data="gaussian", dim=1, spectrum=(scale,),
                                    sigma2=tuple(scale / x for x in p["x0"]), regime="replace", rounds=p["rounds"],
                                    replicates=p["replicates"], n_samples=p["n_samples"], optimizer="cg",
                                    seed=p["seed"])
        traj = train.run_trained_recursion(cfg)
        op = traj.op_norm[:, 0]                                            # (S, R, K1)
        collapsed = op <= 0.5
        first = np.where(collapsed.any(axis=-1), collapsed.argmax(axis=-1), -1)
        out[scale] = first                                                 # (S, R) rounds to gain <= 1/2
    return out


@check("DAE-ROUNDS", "trained", "trained-rounds-to-collapse-within-bounds", mutants={
    "no log term (x0 - 8/3, x0 + 0.2)": lambda x0: (np.asarray(x0) - 8 / 3, np.asarray(x0) + 0.2),
    "lower bound x0 + ln x0 (no constant)": lambda x0: (np.asarray(x0) + np.log(x0),
                                                        rounds_to_collapse_bounds(x0)[1]),
})
def trained_rounds_to_collapse(impl=None) -> Outcome:
    """The number N of rounds until a recursively trained DAE's gain falls to 1/2 (first k with ||W_k||_op <= 1/2;
    d = 1, replace, renoise, 32 replicates of n = 4096) has its replicate mean within the DAE-ROUNDS bounds
    (impl: x0 + ln x0 - 8/3 <= N <= x0 + ln x0 + ln 2 - 1/2) widened by 4 standard errors, for x0 = 5, 10, 20, 30
    (sigma2 = 1/x0, one batched grid); and it depends on lambda*/sigma2 only: multiplying lambda* and sigma2 by 10
    (same seed) gives the same N for every replicate (the trained pipeline is scale-equivariant up to rounding)."""
    bounds_of = impl or rounds_to_collapse_bounds
    runs = _rounds_runs()
    p = ROUNDS
    x0 = np.asarray(p["x0"])
    N = runs[1.0].astype(float)
    lower, upper = (np.asarray(v, dtype=float).reshape(-1) for v in bounds_of(x0))
    mean = N.mean(axis=1)
    se = N.std(axis=1, ddof=1) / np.sqrt(N.shape[1])
    inside = bool(np.all(N >= 0) and np.all(mean >= lower - Z_LIMIT * se) and np.all(mean <= upper + Z_LIMIT * se))
    invariant = bool(np.array_equal(runs[1.0], runs[p["scale"]]))
    evidence = {f"x0_{x:g}_mean_rounds": float(m) for x, m in zip(x0, mean)}
    evidence.update({f"x0_{x:g}_bounds": f"[{lo:.2f}, {hi:.2f}]" for x, lo, hi in zip(x0, lower, upper)})
    evidence.update({"max_se": float(se.max()), "scale_invariant": invariant})
    return Outcome(inside and invariant, evidence)


# ============================================================================================ log drift

LOG_DRIFT = {"spectrum": (4.0, 1.0, 0.25), "sigma2": 0.05, "n_samples": 50, "replicates": 4000, "rounds": 5,
             "seed": 7000}


@lru_cache(maxsize=None)
def _log_drift_run():
    train = train_package()
    p = LOG_DRIFT
    cfg = train.RecursionConfig(model="linear", data="gaussian", dim=3, spectrum=p["spectrum"], sigma2=p["sigma2"],
                                regime="replace", rounds=p["rounds"], replicates=p["replicates"],
                                n_samples=p["n_samples"], optimizer="cg", seed=p["seed"])
    return train.run_trained_recursion(cfg)


@check("DAE-LOG-DRIFT", "trained", "trained-log-moments-drift-down", mutants={
    "population with 2 sigma2": wrong.recursion_sigma2_doubled,
    "population with the clean rule": wrong.recursion_other_rule,
})
def trained_log_drift(impl=None) -> Outcome:
    """Recursively trained linear DAEs on small samples (replace, renoise, gaussian lambda* = (4, 1, 0.25) rotated,
    n = 50, R = 4000, sigma2 = 0.05, 5 rounds) show the downward log drift: in every direction the replicate mean of
    log u_i^T S_hat_5 u_i lies below log lambda_5,i of the population recursion (impl) with z < -4 (no direction
    has collapsed: lambda_5,i > sigma2). The drifts are reported."""
    traj = _log_drift_run()
    p = LOG_DRIFT
    recursion = impl or dae_recursion
    closed = recursion(traj.population_eigenvalues, p["sigma2"], 0.0, rounds=p["rounds"], regime="replace",
                       rule="renoise")
    final = np.asarray(closed.eigenvalues)[-1]
    logs = np.log(traj.moments[0, 0][:, -1])                                # (R, d)
    z = replicate_z(logs, np.log(final))
    drift = logs.mean(axis=0) - np.log(final)
    evidence = {f"u{i + 1}_drift": float(drift[i]) for i in range(drift.size)}
    evidence.update({f"u{i + 1}_z": float(z[i]) for i in range(z.size)})
    evidence["min_population_over_sigma2"] = float(final.min() / p["sigma2"])
    return Outcome(bool(np.all(z < -Z_LIMIT)), evidence)


# ============================================================================================ nonlinear MLP DAEs

MLP = {"data": (("mixture", 2, (1.0, 0.5)), ("digits", 8, None)), "sigma2": 0.1, "real_fractions": (0.0, 0.1, 0.5),
       "rounds": 20, "replicates": 8, "n_samples": 1024, "width": 64, "depth": 2, "activation": "silu",
       "skip": True, "steps": 150, "lr": 1e-2, "batch_size": 256, "seed": 7100}


@lru_cache(maxsize=None)
def _mlp_runs():
    """MLP DAEs (SiLU, 2 hidden layers of 64, skip connection, float32), Adam with fresh noise each step (150 steps
    of 256 points per round, lr 1e-2, warm start), renoise, sigma2 = 0.1, n = 1024, 20 rounds, 8 replicates, on a 2-D
    Gaussian mixture (montecarlo's 'mixture': 4 modes at (+-0.9, +-0.9) mapped by S*^{1/2}, lambda* = (1, 0.5)
    rotated) and on digits PCA scores (d = 8). Regime mix with alpha in {0, 0.1, 0.5} as one batch: alpha = 0 is the
    replace regime exactly (T_k = all of X_k)."""
    train = train_package()
    p = MLP
    runs = {}
    for i, (data, dim, spectrum) in enumerate(p["data"]):
        cfg = train.RecursionConfig(model="mlp", data=data, dim=dim, spectrum=spectrum, regime="mix",
                                    real_fraction=p["real_fractions"], sigma2=p["sigma2"], rounds=p["rounds"],
                                    replicates=p["replicates"], n_samples=p["n_samples"], width=p["width"],
                                    depth=p["depth"], activation=p["activation"], skip=p["skip"], optimizer="adam",
                                    steps=p["steps"], lr=p["lr"], batch_size=p["batch_size"], seed=p["seed"] + i)
        traj = train.run_trained_recursion(cfg)
        runs[data] = {float(a): (traj.total_variance[0, j], traj.effective_rank[0, j])
                      for j, a in enumerate(p["real_fractions"])}
    return runs


def _slope(values: np.ndarray, first: int, last: int) -> np.ndarray:
    """Per replicate least-squares slope of values[:, first..last] against the round."""
    k = np.arange(first, last + 1)
    return np.polyfit(k, values[:, first:last + 1].T, 1)[0]


def _select_replace(runs_of_data):
    return runs_of_data[0.0]


def _select_half_real(runs_of_data):
    return runs_of_data[0.5]


@check("DAE-MLP-COLLAPSE", "trained", "replace-total-variance-and-rank-fall", mutants={
    "the alpha = 0.5 run presented as replace (must not look like collapse)": _select_half_real,
})
def mlp_replace_collapses(impl=None) -> Outcome:
    """Recursively trained nonlinear MLP DAEs collapse under replace (impl picks the replace run): on the 2-D mixture
    and on digits (d = 8) the replicate mean of log tr S_hat_k decreases at every one of 20 rounds, the per-replicate
    slope of log tr S_hat_k is negative with z < -4 both over rounds 0-10 and over rounds 10-20 (it keeps falling),
    and the effective rank falls over rounds 0-10 (slope z < -4). Measured: total variance and effective rank at
    rounds 0 and 20, the minimum effective rank and its round (8 replicates; Adam with fresh noise)."""
    select = impl or _select_replace
    half = MLP["rounds"] // 2
    evidence, passed = {}, True
    for data, runs in _mlp_runs().items():
        tv, erank = select(runs)
        log_tv = np.log(tv)
        every_round = bool(np.all(np.diff(log_tv.mean(axis=0)) < 0))
        z_first = float(replicate_z(_slope(log_tv, 0, half), 0.0))
        z_second = float(replicate_z(_slope(log_tv, half, MLP["rounds"]), 0.0))
        z_rank = float(replicate_z(_slope(erank, 0, half), 0.0))
        mean_rank = erank.mean(axis=0)
        evidence.update({
            f"{data}_tv_round0": float(tv[:, 0].mean()), f"{data}_tv_last": float(tv[:, -1].mean()),
            f"{data}_tv_last_over_round0": float(tv[:, -1].mean() / tv[:, 0].mean()),
            f"{data}_tv_falls_every_round": every_round,
            f"{data}_z_slope_log_tv_rounds_0_{half}": z_first, f"{data}_z_slope_log_tv_rounds_{half}_{MLP['rounds']}":
                z_second,
            f"{data}_erank_round0": float(mean_rank[0]), f"{data}_erank_last": float(mean_rank[-1]),
            f"{data}_erank_min": float(mean_rank.min()), f"{data}_erank_min_round": int(mean_rank.argmin()),
            f"{data}_z_slope_erank_rounds_0_{half}": z_rank,
        })
        passed &= every_round and z_first < -Z_LIMIT and z_second < -Z_LIMIT and z_rank < -Z_LIMIT
    return Outcome(bool(passed), evidence)


@check("DAE-MLP-COLLAPSE", "trained", "real-fraction-keeps-variance", mutants={
    "the replace run presented as alpha = 0.5": _select_replace,
})
def mlp_real_fraction_bounded(impl=None) -> Outcome:
    """With a fixed real fraction alpha = 0.5 (impl picks that run) the recursively trained MLP DAEs stay bounded:
    over rounds 10-20 neither log tr S_hat_k nor the effective rank decreases significantly (per-replicate slopes,
    z > -4), and at round 20 the total variance exceeds the replace run's (Welch z > 4). Measured, not tested:
    alpha = 0.1, whose total variance still decreases slowly at round 20 (slope per round reported)."""
    select = impl or _select_half_real
    half, last = MLP["rounds"] // 2, MLP["rounds"]
    evidence, passed = {}, True
    for data, runs in _mlp_runs().items():
        tv, erank = select(runs)
        tv_replace = runs[0.0][0]
        z_tv = float(replicate_z(_slope(np.log(tv), half, last), 0.0))
        z_rank = float(replicate_z(_slope(erank, half, last), 0.0))
        a, b = tv[:, -1], tv_replace[:, -1]
        welch = float((a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
        slow = _slope(np.log(runs[0.1][0]), half, last)
        evidence.update({
            f"{data}_tv_last_over_round0": float(tv[:, -1].mean() / tv[:, 0].mean()),
            f"{data}_z_slope_log_tv_rounds_{half}_{last}": z_tv, f"{data}_z_slope_erank_rounds_{half}_{last}": z_rank,
            f"{data}_welch_z_tv_last_vs_replace": welch,
            f"{data}_alpha_0.1_tv_last_over_round0": float(runs[0.1][0][:, -1].mean() / runs[0.1][0][:, 0].mean()),
            f"{data}_alpha_0.1_log_tv_slope_per_round": float(slow.mean()),
        })
        passed &= z_tv > -Z_LIMIT and z_rank > -Z_LIMIT and welch > Z_LIMIT
    return Outcome(bool(passed), evidence)
