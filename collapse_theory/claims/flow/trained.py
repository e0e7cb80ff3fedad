"""Checks of the ``trained`` tier for rectified flows (torch, CPU, about a minute on 2 cores in all).

Every check runs small trained flows (:mod:`collapse_theory.train.flow.reflow`) with fixed seeds and compares them with
a formula or a claimed behaviour given by ``impl``; the trained runs are cached, so the mutants (deliberately
wrong formulas or claims) cost no extra training. Tolerances are stated in each docstring: each is the upper
99.9 % prediction bound of one seed's error from the replicate spread over training seeds (SGD noise of a small MLP:
:data:`RF1_SEED_ERRORS`), and sits below the error of every mutant.

Shared setting: d = 2 Gaussian target N(m*, S*) (:func:`collapse_theory.data.toy2d.gaussian_parameters`),
noise N(0, I), MLP width 64, depth 2, Adam 1e-3, batch 256, 32 Euler steps to generate pairs and to invert
real data, quality = Bures W2 of the Gaussian fit of 1000 dopri5 samples (one fixed noise set) to the target.

Claimed behaviours (``impl`` of the trend checks), on the per-seed W2 trajectories w[s, k], k = 0..K:

- ``degrades``  the mean over seeds of w[s, K] - w[s, 0] is >= delta and every seed ends above its round 0
- ``improves``  the mean over seeds of w[s, K] - w[s, 0] is <= -delta and every seed ends below its round 0
- ``bounded``   no seed ever rises more than ``delta`` above its round 0: max_k w[s, k] - w[s, 0] <= delta

The paper's claims C-RF and C-RA are *decided* at this tier by the pre-registered protocol on 12 seeds
(:mod:`.trained_decisions`, one seed-batched run); the shrinkage trend checks below stay observations of a setting in
which the outcome holds by construction (the velocity penalty shrinks every round), on 2 seeds.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import catalog as _claims  # noqa: F401 - registers this module's claims
from . import trained_decisions  # noqa: F401 - registers the pre-registered C-RF/C-RA decision checks
from ..registry import Outcome, check

_BASE = dict(data="gaussian", dim=2, width=64, depth=2, n_eval=1000, empirical=False, eval_steps=(1,),
             straightness_times=4, rtol=1e-4, atol=1e-4, gen_steps=32, threads=1)

TRENDS = ("degrades", "improves", "bounded")


def _trend_holds(claim: str, w: np.ndarray, delta: float) -> bool:
    w = np.atleast_2d(np.asarray(w, dtype=float))
    if not np.all(np.isfinite(w)):
        return False
    change = w[:, -1] - w[:, 0]
    if claim == "degrades":
        return bool(change.mean() >= delta and np.all(change > 0))
    if claim == "improves":
        return bool(change.mean() <= -delta and np.all(change < 0))
    if claim == "bounded":
        return bool(np.all(w.max(axis=1) - w[:, 0] <= delta))
    raise ValueError(f"claim must be one of {', '.join(TRENDS)}, got {claim!r}")


def _w2_trajectory(frame) -> np.ndarray:
    sel = frame[(frame["metric"] == "w2_gauss") & (frame["sampler"] == "dopri5")].sort_values("round")
    return sel["value"].to_numpy()


# ----------------------------------------------------------------------------------------------- 1-RF vs closed form

@functools.lru_cache(maxsize=1)
def _rf1():
    """The trained 1-RF (seed 0), the closed-form endpoints and fixed evaluation points."""
    import torch

    from ...data.toy2d import gaussian_parameters
    from ...theory.flow.gaussian import GaussianEndpoints, marginal
    from ...train.flow.reflow import run_reflow
    from ...train.flow.ode import integrate

    result = run_reflow(**(_BASE | {"straightness_times": 32}), rounds=0, round0_steps=2000, n_real=20_000,
                        keep_models=True, seed=0)
    model = result.models[0]
    mean, cov = gaussian_parameters(2)
    ends = GaussianEndpoints(np.zeros(2), np.eye(2), mean, cov)
    rng = np.random.default_rng(7)
    grid = []
    for t in np.linspace(0.025, 0.975, 20):
        m_t, c_t = marginal(ends, t)
        x = rng.multivariate_normal(m_t, c_t, size=200)
        with torch.no_grad():
            v = model(torch.tensor(x, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)).double().numpy()
        grid.append((float(t), x, v))
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        mapped = integrate(model, z, 0.0, 1.0, method="dopri5", rtol=1e-6, atol=1e-6).double().numpy()
    from ...theory.flow.gaussian import flow_map

    x1 = flow_map(ends, z.double().numpy())
    back = integrate(model, torch.tensor(x1, dtype=torch.float32), 1.0, 0.0, method="dopri5",
                     rtol=1e-6, atol=1e-6).double().numpy()
    straight = float(result.frame.query("metric == 'straightness'")["value"].iloc[0])
    return {"ends": ends, "grid": grid, "z": z.double().numpy(), "mapped": mapped, "back": back,
            "straightness": straight, "seconds": result.seconds}


def _velocity_error(velocity_fn) -> float:
    data = _rf1()
    num = den = 0.0
    for t, x, v in data["grid"]:
        ref = np.asarray(velocity_fn(data["ends"], x, t), dtype=float)
        num += float(((v - ref) ** 2).sum())
        den += float((ref ** 2).sum())
    return float(np.sqrt(num / den))


def _axis_aligned(ends):
    return dataclasses.replace(ends, cov1=np.diag(np.diag(ends.cov1)))


def _v_time_reversed(ends, x, t):
    from ...theory.flow.gaussian import velocity
    return velocity(ends, x, 1.0 - t)


def _v_other_convention(ends, x, t):
    from ...theory.flow.gaussian import velocity
    return -velocity(ends, x, 1.0 - t)          # data at t = 0, noise at t = 1


def _v_axis_aligned(ends, x, t):
    from ...theory.flow.gaussian import velocity
    return velocity(_axis_aligned(ends), x, t)


def _v_mean_only(ends, x, t):
    return np.broadcast_to(ends.m1 - ends.m0, np.shape(x))


def prediction_bound(values, level: float = 1e-3) -> float:
    """Upper (1 - level) prediction bound for one more replicate from R replicates x_1..x_R:
    mean + t_{R-1}^{-1}(1 - level) sd sqrt(1 + 1/R) (normal replicates; level 1e-3 as the family level of
    :func:`collapse_theory.stats.z_limit`)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    R = x.size
    return float(x.mean() + stats.t.isf(level, R - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / R))


RF1_SEED_ERRORS = {
    "velocity": (0.0479, 0.0838, 0.0392, 0.0617, 0.0637, 0.0598, 0.0587, 0.0599),
    "map": (0.0219, 0.0956, 0.0368, 0.0368, 0.0249, 0.0394, 0.0722, 0.0809),
    "reverse": (0.0287, 0.0789, 0.0492, 0.0588, 0.0306, 0.0845, 0.0542, 0.0777),
    "straightness_rel": (0.0226, 0.0842, 0.0008, 0.0026, 0.0384, 0.0760, 0.0089, 0.0713),
}
"""Replicate spread of the trained 1-RF's errors: the setting of :func:`_rf1` trained with seeds 0..7 (seed 0 is the
checks' run), CPU, torch 1 thread (measured 2026-12-02 by rerunning ``_rf1`` per seed, ~10 s each). The training
noise (SGD, initialisation) is the only source of the error that no formula gives, so each tolerance below is the
upper 99.9 % prediction bound of one seed's error from these 8 seeds (:func:`prediction_bound`): velocity 0.125,
forward map 0.192, reverse map 0.167, straightness 0.214 (relative). Seed 1 alone (0.084 / 0.096) already exceeded
the former hand-set 0.08 / 0.06."""

VELOCITY_TOL = prediction_bound(RF1_SEED_ERRORS["velocity"])


@check("FLOW-TRAINED-1RF", "trained", "rf1-velocity-matches-closed-form",
       mutants={"velocity at 1 - t (wrong time convention)": _v_time_reversed,
                "-v(x, 1 - t) (data at t = 0, noise at t = 1)": _v_other_convention,
                "velocity of the axis-aligned covariance diag(S1)": _v_axis_aligned,
                "mean-only velocity m1 - m0": _v_mean_only})
def rf1_velocity(impl=None) -> Outcome:
    """A trained 1-RF (d = 2 Gaussian, 20,000 real points, 2,000 Adam steps) has the closed-form velocity.

    Relative L2 error sqrt(sum ||v_theta - v||^2 / sum ||v||^2) over 200 points x ~ N(m_t, S_t) at each of 20
    times in [0.025, 0.975] must be <= VELOCITY_TOL = 0.125, the upper 99.9 % prediction bound of one seed's error
    from 8 training seeds (:data:`RF1_SEED_ERRORS`: mean 0.059, sd 0.013, max 0.084). An observation: the size of
    the SGD error is measured, not derived; the nearest mutant (axis-aligned covariance) sits at 0.22."""
    from ...theory.flow.gaussian import velocity

    err = _velocity_error(impl or velocity)
    return Outcome(err <= VELOCITY_TOL, {"velocity_rel_error": err, "tolerance": VELOCITY_TOL,
                                         "train_seconds": _rf1()["seconds"]})


def _map_reverse(ends, x0):
    from ...theory.flow.gaussian import reverse_map
    return reverse_map(ends, x0)


def _map_axis_aligned(ends, x0):
    from ...theory.flow.gaussian import flow_map
    return flow_map(_axis_aligned(ends), x0)


def _map_translation(ends, x0):
    return np.asarray(x0) + (ends.m1 - ends.m0)


MAP_TOL = prediction_bound(RF1_SEED_ERRORS["map"])
REVERSE_TOL = prediction_bound(RF1_SEED_ERRORS["reverse"])
STRAIGHTNESS_RTOL = prediction_bound(RF1_SEED_ERRORS["straightness_rel"])


@check("FLOW-TRAINED-1RF", "trained", "rf1-map-matches-closed-form",
       mutants={"reverse map used as the forward map": _map_reverse,
                "map of the axis-aligned covariance diag(S1)": _map_axis_aligned,
                "translation x0 + m1 - m0": _map_translation})
def rf1_map(impl=None) -> Outcome:
    """The trained 1-RF's dopri5 map (rtol = atol = 1e-6) equals the closed-form map T; its reverse flow inverts T.

    Relative RMS errors sqrt(E||T_theta(z) - T(z)||^2 / tr S1) (forward, 2000 z ~ N(0, I)) and
    sqrt(E||T_theta^{-1}(T z) - z||^2 / d) (reverse) must be <= MAP_TOL = 0.192 and REVERSE_TOL = 0.167, and the
    Monte-Carlo straightness of the trained flow within STRAIGHTNESS_RTOL = 0.214 (relative) of the closed form: each
    the upper 99.9 % prediction bound of one seed's error from 8 training seeds (:data:`RF1_SEED_ERRORS`; means
    0.051, 0.058, 0.038). An observation (the SGD error is measured, not derived); the nearest mutant (axis-aligned
    covariance) has forward error 0.23. The dopri5 solver error (rtol = atol = 1e-6) is far below these."""
    from ...theory.flow.gaussian import flow_map, straightness

    data = _rf1()
    ends = data["ends"]
    ref = np.asarray((impl or flow_map)(ends, data["z"]), dtype=float)
    fwd = float(np.sqrt(((data["mapped"] - ref) ** 2).sum(axis=1).mean() / np.trace(ends.cov1)))
    rev = float(np.sqrt(((data["back"] - data["z"]) ** 2).sum(axis=1).mean() / ends.cov1.shape[0]))
    s_ref = float(straightness(ends))
    s_rel = abs(data["straightness"] - s_ref) / s_ref
    passed = fwd <= MAP_TOL and rev <= REVERSE_TOL and s_rel <= STRAIGHTNESS_RTOL
    return Outcome(passed, {"map_rel_error": fwd, "reverse_rel_error": rev, "tolerance": MAP_TOL,
                            "reverse_tolerance": REVERSE_TOL, "straightness_rtol": STRAIGHTNESS_RTOL,
                            "straightness": data["straightness"], "straightness_closed_form": s_ref})


# ----------------------------------------------------------------------------------------------- Reflow over rounds

SHRINK = dict(velocity_penalty=0.2, n_real=4000, n_synth=4000, rounds=4, steps=400, regen_every=100)
SEEDS = (0, 1)


@functools.lru_cache(maxsize=None)
def _trajectories(setting: str, method: str) -> np.ndarray:
    from ...train.flow.reflow import run_reflow

    kwargs = {"shrinkage": SHRINK}[setting]
    seeds = SEEDS if method != "ora" else (0,)
    rows = [_w2_trajectory(run_reflow(**_BASE, **kwargs, method=method, seed=s).frame) for s in seeds]
    return np.array(rows)


def _rounded(w: np.ndarray) -> list:
    return [[round(float(v), 3) for v in row] for row in w]


SHRINK_SEED_RISES = {
    "reflow": (0.800, 0.856, 0.822, 0.759, 0.765, 0.739),
    "ra": (0.793, 0.851, 0.818, 0.758, 0.766, 0.735),
}
"""W2 rise from round 0 to round 4 in the shrinkage setting for seeds 0..5 (seeds 0, 1 are the checks' runs), CPU,
torch 1 thread, measured 2026-12-02 (~10 s per run)."""

SHRINK_GAPS = (0.0215, 0.0245, 0.0193, 0.0131, 0.0093, 0.0164)
"""max over rounds |W2_RA - W2_Reflow| per seed, seeds 0..5 (same runs)."""

SHRINK_DELTA = 0.5
"""The observation's stated effect: W2 rises by at least 0.5 over 4 rounds. Justified by the replicate spread, not
tuned: the lower 99.9 % prediction bound of one seed's rise (mean - t_{R-1} sd sqrt(1 + 1/R), R = 6) is 0.511 for
Reflow and 0.514 for RA (means 0.790 and 0.787, sd 0.044), both >= 0.5."""


@check("C-RF", "trained", "reflow-degrades-shrinkage",
       mutants={"claims Reflow improves": "improves", "claims Reflow stays bounded": "bounded"})
def reflow_degrades_shrinkage(impl=None) -> Outcome:
    """Shrinkage setting (velocity penalty 0.2, 4,000 points, 4 rounds of 400 steps, seeds 0 and 1): trained
    Reflow degrades: the Gaussian-fit W2 rises by at least SHRINK_DELTA = 0.5 on average over the seeds, and for every
    seed (measured rises 0.80 and 0.86, from 0.31 and 0.23 at round 0; over seeds 0..5 mean 0.79, sd 0.044, lower
    99.9 % prediction bound 0.511: :data:`SHRINK_SEED_RISES`). An observation of a setting built to degrade."""
    claim = impl or "degrades"
    w = _trajectories("shrinkage", "reflow")
    return Outcome(_trend_holds(claim, w, SHRINK_DELTA),
                   {"claim": claim, "delta": SHRINK_DELTA, "w2_reflow": _rounded(w)})


TRACK_TOL = prediction_bound(SHRINK_GAPS, level=5e-4)
"""Upper prediction bound of one seed's max |W2_RA - W2_Reflow| from :data:`SHRINK_GAPS` (R = 6, mean 0.017, sd 0.0056)
at level 5e-4 per seed (the check takes the max over its 2 seeds: family level 1e-3): 0.059."""


@check("FLOW-TRAINED-RA-SHRINKAGE", "trained", "ra-ora-degrade-under-shrinkage",
       mutants={"claims RA/ORA stay bounded": "bounded", "claims RA/ORA improve": "improves"})
def ra_shrinkage(impl=None) -> Outcome:
    """Shrinkage setting as ``reflow-degrades-shrinkage``, RA and ORA at real fraction 0.5: both degrade (every
    seed ends at least 0.5 above round 0) and RA tracks Reflow: max over seeds and rounds |W2_RA - W2_Reflow|
    <= TRACK_TOL = 0.059 (measured 0.024 on the checks' seeds; the bound is derived from the spread over seeds 0..5,
    :data:`SHRINK_GAPS`). The paper's claim C-RA does not hold in this setting (see the claim)."""
    claim = impl or "degrades"
    ra = _trajectories("shrinkage", "ra")
    ora = _trajectories("shrinkage", "ora")
    reflow = _trajectories("shrinkage", "reflow")
    gap = float(np.max(np.abs(ra - reflow)))
    holds = _trend_holds(claim, ra, SHRINK_DELTA) and _trend_holds(claim, ora, SHRINK_DELTA)
    return Outcome(holds and gap <= TRACK_TOL,
                   {"claim": claim, "delta": SHRINK_DELTA, "w2_ra": _rounded(ra), "w2_ora": _rounded(ora),
                    "w2_reflow": _rounded(reflow), "max_abs_ra_minus_reflow": gap})
