"""Numeric-tier checks of the paper's claims C-RF and C-RA in the Gaussian model (claims of :mod:`..paper` /
:mod:`.catalog`), on the estimated Reflow setting of :mod:`.estimated`.

Monte-Carlo: replicate z-scores beyond Z_LIMIT = 4 standard errors (paired round differences).

C-RF is also *decided* here by the pre-registered protocol (:mod:`collapse_theory.stats.decisions`) for Reflow whose
every round fits a velocity field by least squares on n pairs x 8 grid times (``velocity-fit-reflow-n256`` and
``-n32``, docs/derivations/reflow-velocity.md): the exact (per-time) family is the null that must not drift; the
time-affine family cannot represent the straightened field and its law moves.
"""

from __future__ import annotations

import numpy as np

from ...stats import z_scores
from ...stats.decisions import Protocol, controls_behaved, decide, decide_family, detectable_effect, power_report
from ...theory.flow import velocity_fit as vf
from . import catalog as catalog_flow  # noqa: F401 - registers the claims checked here
from ..registry import Outcome, check
from .estimated import ESTIMATED, RA_FRACTION, estimated_runs, estimated_setting

Z_LIMIT = 4.0


# --------------------------------------------------------------------------------------------- C-RF

def _population_simulator(method="reflow", real_fraction=0.0):
    """Exact population Reflow in the shape of an estimated trajectory: the law never changes (zero spread)."""
    ends = estimated_setting()
    K, R = ESTIMATED["rounds"], ESTIMATED["replicates"]
    ld = np.full((K + 1, R), float(np.linalg.slogdet(ends.cov1)[1]))
    return type("Traj", (), {"log_det": ld, "w2_to_real": np.zeros((K + 1, R))})


def _fresh_real_simulator(method="reflow", real_fraction=0.0):
    """Refits a fresh real sample every round (no self-consumption): round 0 repeated."""
    tr = estimated_runs("reflow", 0.0)
    rng = np.random.default_rng(5)
    K = len(tr.rounds) - 1
    idx = rng.integers(0, tr.replicates, size=(K + 1, tr.replicates))
    return type("Traj", (), {"log_det": tr.log_det[0][idx], "w2_to_real": tr.w2_to_real[0][idx]})


@check("REFLOW-ESTIMATED-DRIFT", "numeric", "gaussian-estimated-reflow-degrades", mutants={
    "exact population Reflow (no estimation)": _population_simulator,
    "a fresh real sample every round (no self-consumption)": _fresh_real_simulator,
})
def c_rf_degrades(impl=None) -> Outcome:
    """The Gaussian re-estimation drift (a toolkit theorem, not a decision of C-RF: this loop refits a Gaussian each
    round and involves no velocity field, so any refit-a-Gaussian loop passes it): over 8 estimated Reflow rounds (d = 3, n = 20, R = 4000) the
    mean of log det Sigma_k falls and the mean W2 to the real law rises, each by more than 4 replicate standard errors
    (paired differences round 8 - round 0). ``impl(method, real_fraction)`` returns the simulated trajectory."""
    tr = impl("reflow", 0.0) if impl else estimated_runs("reflow", 0.0)
    d_ld = tr.log_det[-1] - tr.log_det[0]
    d_w2 = tr.w2_to_real[-1] - tr.w2_to_real[0]
    z_ld = float(z_scores(d_ld, 0.0)) if np.std(d_ld) > 0 else 0.0
    z_w2 = float(z_scores(d_w2, 0.0)) if np.std(d_w2) > 0 else 0.0
    ok = z_ld < -Z_LIMIT and z_w2 > Z_LIMIT
    return Outcome(ok, {"z_log_det_change": z_ld, "z_w2_change": z_w2, "mean_log_det_change": float(np.mean(d_ld)),
                        "mean_w2_change": float(np.mean(d_w2))})


# --------------------------------------------------------------------------------------------- C-RA

def _ra_as_reflow(method="ra", real_fraction=RA_FRACTION):
    return estimated_runs("reflow", 0.0)


@check("RA-REFLOW-BOUNDED", "numeric", "gaussian-ra-bounded-where-reflow-drifts", mutants={
    "real pairs dropped (plain Reflow)": _ra_as_reflow,
})
def c_ra_bounded(impl=None) -> Outcome:
    """The Gaussian RA bound in the estimated model (a toolkit theorem about refitted Gaussians, not a decision of
    C-RA): after 30 rounds (d = 3, n = 20, R = 1000) every RA replicate
    (alpha = 0.25) has log det Sigma_k above the sure bound log det(Sc/(n - 1)) at every round, while plain Reflow's
    mean log det has fallen below RA's by more than 4 standard errors. ``impl(method, real_fraction)`` simulates RA."""
    ra = impl("ra", RA_FRACTION) if impl else estimated_runs("ra", RA_FRACTION, 30, 1000)
    base = estimated_runs("reflow", 0.0, 30, 1000)
    K = min(len(ra.rounds), len(base.rounds)) - 1
    lower = ra.expected.get("log_det_lower_bound", np.full(ra.replicates, -np.inf))
    above = bool(np.all(ra.log_det[1:] >= lower[None, :] - 1e-9))
    se = np.sqrt(ra.log_det[K].var(ddof=1) / ra.replicates + base.log_det[K].var(ddof=1) / base.replicates)
    z = float((ra.log_det[K].mean() - base.log_det[K].mean()) / se) if se > 0 else 0.0
    ok = above and np.isfinite(lower).all() and z > Z_LIMIT
    return Outcome(ok, {"z_ra_minus_reflow": z, "ra_mean_log_det": float(ra.log_det[K].mean()),
                        "reflow_mean_log_det": float(base.log_det[K].mean()), "rounds": K})


# --------------------------------------------------------------------------------------------- C-RF, fitted velocity
# Reflow whose every round fits a velocity field by least squares on n pairs x m grid times
# (:mod:`collapse_theory.theory.flow.velocity_fit`; derivation in docs/derivations/reflow-velocity.md).

VF = dict(grid=8, rounds=10, seeds=tuple(range(64)))
VF_RESOLUTION = 1e-9
"""Per-seed changes below this are float rounding (the least-squares solves of 11 rounds in float64: ~1e-13 measured
scale x 1e4 margin), set to exactly 0 before testing, so an exact null gives ties (p = 1), never a decision."""
VF_PLANTED_POWER = 0.99
_VF_COMMON = dict(tier="numeric", seeds=VF["seeds"], test="paired-t", alternative="greater", level=0.01,
                  family_size=2,
                  hypothesis="Reflow with a fitted (time-affine) velocity moves its law away from the real one")
VF_PROTOCOLS = {
    n: Protocol(claim="C-RF", statistic=(f"W2 of the generated law to the real law at round 10 minus round 0; "
                                         f"time-affine velocity fitted on n = {n} pairs x 8 grid times per round, "
                                         f"per replicate seed"), **_VF_COMMON)
    for n in (32, 256)
}


def _vf_setting():
    ends = estimated_setting()
    return ends.m1, ends.cov1


def _vf_values(family: str, n_pairs, fit=None) -> tuple[np.ndarray, "vf.VelocityFitTrajectory"]:
    mean, cov = _vf_setting()
    tr = vf.velocity_fit_reflow(mean, cov, family, VF["grid"], VF["rounds"], n_pairs, seeds=VF["seeds"], fit=fit)
    change = tr.w2[-1] - tr.w2[0]
    return np.where(np.abs(change) <= VF_RESOLUTION, 0.0, change), tr


def _explicit_rows_fit(z, y, family: str):
    """Reference: least squares on the explicit n x m rows with np.linalg.lstsq (independent of the moment form)."""
    d = z.shape[1]
    times = vf.grid_times(VF["grid"])
    if family == "per-time":
        A, b = [], []
        for t in times:
            x = (1 - t) * z + t * y
            X = np.hstack([x, np.ones((len(x), 1))])
            theta = np.linalg.lstsq(X, y - z, rcond=None)[0]
            A.append(theta[:d].T)
            b.append(theta[d])
        return np.array(A), np.array(b)
    rows, targets = [], []
    for t in times:
        x = (1 - t) * z + t * y
        rows.append(np.hstack([x, t * x, np.ones((len(x), 1)), np.full((len(x), 1), t)]))
        targets.append(y - z)
    theta = np.linalg.lstsq(np.vstack(rows), np.vstack(targets), rcond=None)[0]
    A = np.array([(theta[:d] + t * theta[d:2 * d]).T for t in times])
    b = np.array([theta[2 * d] + t * theta[2 * d + 1] for t in times])
    return A, b


def _fit_matches_rows(fit) -> float:
    """Largest relative difference between ``fit`` (moment form) and the explicit-rows least squares, both families,
    on 40 skewed non-Gaussian pairs (so nothing holds by symmetry)."""
    rng = np.random.default_rng(11)
    z = rng.standard_normal((40, 3))
    y = rng.exponential(size=(40, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.1, 0.0, 2.0]])
    worst = 0.0
    for family in vf.FAMILIES:
        A, b = fit(vf.moments(z, y), VF["grid"], family)
        A_ref, b_ref = _explicit_rows_fit(z, y, family)
        scale = max(np.abs(A_ref).max(), np.abs(b_ref).max())
        worst = max(worst, float(max(np.abs(A - A_ref).max(), np.abs(b - b_ref).max()) / scale))
    return worst


def _euler_matches_iteration(fit) -> float:
    """Largest difference between :func:`vf.euler_map` of the time-affine fit (whose A_j do not commute, so the
    product order matters) and the literal Euler iteration x_{j+1} = x_j + h (A_j x_j + b_j) of 5 points."""
    rng = np.random.default_rng(12)
    z = rng.standard_normal((40, 3))
    y = rng.exponential(size=(40, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.1, 0.0, 2.0]])
    A, b = fit(vf.moments(z, y), VF["grid"], "time-affine")
    M, c = vf.euler_map(A, b)
    x = rng.standard_normal((5, 3))
    out = x.copy()
    for j in range(VF["grid"]):
        out = out + (out @ A[j].T + b[j]) / VF["grid"]
    return float(np.abs(x @ M.T + c - out).max() / max(1.0, np.abs(out).max()))


def _bures_matches_sqrtm(tr) -> float:
    """Largest relative difference of the squared W2 the decision uses (:func:`vf.bures_w2`) from the formula
    |m_a - m_b|^2 + tr Sa + tr Sb - 2 tr (Sb^1/2 Sa Sb^1/2)^1/2 with scipy.linalg.sqrtm, over every round of 4 seeds."""
    from scipy.linalg import sqrtm

    mean, cov = _vf_setting()
    root_b = np.real(sqrtm(cov))
    worst = 0.0
    for k in range(tr.M.shape[0]):
        for r in range(min(4, tr.M.shape[1])):
            Sa = tr.M[k, r] @ tr.M[k, r].T
            sq = (np.sum((tr.c[k, r] - mean) ** 2) + np.trace(Sa) + np.trace(cov)
                  - 2 * np.trace(np.real(sqrtm(root_b @ Sa @ root_b))))
            worst = max(worst, abs(float(tr.w2[k, r]) ** 2 - sq) / (np.trace(Sa) + np.trace(cov)))
    return worst


VF_NULL_SEEDS = tuple(range(1000, 1064))
"""The null control's second block of seeds (disjoint from VF["seeds"])."""


def _fit_no_time_slope(W, grid, family):
    """Wrong: drops the t x features (a slope constant in time) in the time-affine family."""
    A, b = vf.fit_from_moments(W, grid, "per-time")
    if family == "per-time":
        return A, b
    mean_A = np.broadcast_to(A.mean(axis=-3, keepdims=True), A.shape)
    return mean_A, b


def _fit_swapped_convention(W, grid, family):
    """Wrong: x_t = t z + (1 - t) y (noise at t = 1), i.e. the field of time 1 - t used at time t."""
    d = (W.shape[-1] - 1) // 2
    perm = np.r_[d:2 * d, 0:d, 2 * d]
    Wp = W[..., perm, :][..., :, perm]
    A, b = vf.fit_from_moments(Wp, grid, family)
    return -A, -b


def _fit_x1_target(W, grid, family):
    """Wrong: regresses the data point y (x1-prediction) instead of the velocity y - z."""
    d = (W.shape[-1] - 1) // 2
    return vf.fit_from_moments(W, grid, family, target=np.hstack([np.zeros((d, d)), np.eye(d), np.zeros((d, 1))]))


VF_MUTANTS = {"time-affine fit without the t x features": _fit_no_time_slope,
              "x_t = t z + (1 - t) y (noise at t = 1)": _fit_swapped_convention,
              "x1-prediction target y instead of y - z": _fit_x1_target}


def _vf_decision(n_pairs: int, impl) -> Outcome:
    fit = impl or vf.fit_from_moments
    protocol = VF_PROTOCOLS[n_pairs]
    rows_error = _fit_matches_rows(fit)
    euler_error = _euler_matches_iteration(fit)
    values, tr = _vf_values("time-affine", n_pairs, fit)
    bures_error = _bures_matches_sqrtm(tr)
    fixed_values, null_tr = _vf_values("per-time", n_pairs, fit)
    # null control: the same statistic on a second, disjoint block of seeds, paired seed by seed; the difference of
    # two i.i.d. blocks is symmetric about 0 with the statistic's own spread (x sqrt 2), so it must come out
    # inconclusive (P >= 1 - 2 x level), and the planted control adds the 99 %-power shift for that spread.
    # (The per-time family's values are exactly 0: a zero-spread null that any test passes, so it is checked as
    # an identity above, not used as a decision control.)
    other = vf.velocity_fit_reflow(*_vf_setting(), "time-affine", VF["grid"], VF["rounds"], n_pairs,
                                   seeds=VF_NULL_SEEDS, fit=fit)
    null_values = values - (other.w2[-1] - other.w2[0])
    pop = vf.velocity_fit_reflow(*_vf_setting(), "per-time", VF["grid"], VF["rounds"], None, seeds=(0,), fit=fit)
    pop_affine = vf.velocity_fit_reflow(*_vf_setting(), "time-affine", VF["grid"], VF["rounds"], None, seeds=(0,),
                                        fit=fit)
    # the exact (per-time) family is a fixed point from round 1 on, at every n and at the population
    fixed = max(float(np.abs(np.diff(t.M[1:], axis=0)).max()) + float(np.abs(np.diff(t.c[1:], axis=0)).max())
                for t in (null_tr, pop))
    null = decide(protocol, null_values)
    sd = float(np.std(values, ddof=1))
    null_sd = float(np.std(null_values, ddof=1))
    shift = detectable_effect(protocol, null_sd if null_sd > 0 else 1.0, VF_PLANTED_POWER)
    planted = decide(protocol, null_values + shift)
    decisions = decide_family([(VF_PROTOCOLS[n], _vf_values("time-affine", n, fit)[0] if n != n_pairs else values)
                               for n in VF_PROTOCOLS])
    mine = decisions[list(VF_PROTOCOLS).index(n_pairs)]
    ok = (rows_error <= 1e-8 and euler_error <= 1e-12 and bures_error <= 1e-9 and fixed <= VF_RESOLUTION
          and bool(np.all(fixed_values == 0.0)) and null_sd > 0 and controls_behaved(null, planted))
    return Outcome(bool(ok), {
        "fit_vs_explicit_rows_rel_error": rows_error, "per_time_fixed_point_max_change": fixed,
        "euler_map_vs_iteration_error": euler_error, "bures_w2_sq_vs_sqrtm_rel_error": bures_error,
        "null_control_p": null.p_value, "null_control_sd": null_sd,
        "null_control": null.decision, "planted_control": planted.decision, "planted_shift": shift,
        "population_w2_round0_round10": [float(pop_affine.w2[0, 0]), float(pop_affine.w2[-1, 0])],
        "mean_w2_round0_round10": [float(tr.w2[0].mean()), float(tr.w2[-1].mean())],
        "mean_log_det_change": float(np.mean(tr.log_det[-1] - tr.log_det[0])),
        "population_log_det_change": float(pop_affine.log_det[-1, 0] - pop_affine.log_det[0, 0]),
        "power": power_report(protocol, sd if sd > 0 else None)}, decision=mine if impl is None else None)


@check("C-RF", "numeric", "velocity-fit-reflow-n256", mutants=VF_MUTANTS)
def c_rf_velocity_fit_256(impl=None) -> Outcome:
    """C-RF decided at the numeric tier with a fitted velocity (docs/derivations/reflow-velocity.md): d = 3 Gaussian
    (the estimated setting), velocity affine in x on an 8-point time grid, time-affine coefficients, fitted each round
    on n = 256 Reflow pairs (1-RF pairs at round 0) x 8 times, Euler on the grid; per replicate seed (64 seeds) the W2
    of the generated law at round 10 minus round 0, one-sided greater, paired t test (64 independent replicates of
    a smooth statistic: the t test's normal approximation is accurate and it is the most powerful), Holm over
    the two numeric C-RF decisions (n = 32, 256) at 0.01. Passes when the fit equals explicit-row least squares
    (1e-8), ``euler_map`` equals the literal Euler iteration of the (non-commuting) time-affine field (1e-12),
    ``bures_w2`` equals the scipy.linalg.sqrtm formula (1e-9 relative on W2^2), the exact per-time family is a fixed
    point (changes <= 1e-9, per-seed values exactly 0), the null control (the statistic on seeds 0..63 minus the
    same statistic on the disjoint seeds 1000..1063: symmetric about 0 with the statistic's spread) comes out
    inconclusive and that null plus the shift detected with 99 % power at its spread comes out confirmed; the
    decision is reported whatever it is."""
    return _vf_decision(256, impl)


@check("C-RF", "numeric", "velocity-fit-reflow-n32", mutants=VF_MUTANTS)
def c_rf_velocity_fit_32(impl=None) -> Outcome:
    """As ``velocity-fit-reflow-n256`` with n = 32 pairs per round (round 0's own estimation error is then larger
    than ten rounds of misfit drift)."""
    return _vf_decision(32, impl)
