"""Numeric-tier checks of the paper's claims C-RF and C-RA in the Gaussian model (claims of :mod:`..paper` /
:mod:`.catalog`), on the estimated Reflow setting of :mod:`.estimated`.

Monte-Carlo: replicate z-scores beyond Z_LIMIT = 4 standard errors (paired round differences).
"""

from __future__ import annotations

import numpy as np

from ...stats import z_scores
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


@check("C-RF", "numeric", "gaussian-estimated-reflow-degrades", mutants={
    "exact population Reflow (no estimation)": _population_simulator,
    "a fresh real sample every round (no self-consumption)": _fresh_real_simulator,
})
def c_rf_degrades(impl=None) -> Outcome:
    """C-RF in the Gaussian model (REFLOW-ESTIMATED-DRIFT): over 8 estimated Reflow rounds (d = 3, n = 20, R = 4000) the
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


@check("C-RA", "numeric", "gaussian-ra-bounded-where-reflow-drifts", mutants={
    "real pairs dropped (plain Reflow)": _ra_as_reflow,
})
def c_ra_bounded(impl=None) -> Outcome:
    """C-RA in the Gaussian model (RA-REFLOW-BOUNDED): after 30 rounds (d = 3, n = 20, R = 1000) every RA replicate
    (alpha = 0.25) has log det Sigma_k above the sure bound log det(Sc/(n - 1)) at every round, while plain Reflow's mean
    log det has fallen below RA's by more than 4 standard errors. ``impl(method, real_fraction)`` simulates RA."""
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
