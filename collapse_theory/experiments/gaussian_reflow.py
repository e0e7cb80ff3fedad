"""Tidy results of the estimated Gaussian Reflow family (numpy Monte-Carlo), the data behind the Gaussian
Reflow figure: W2 to the real distribution per round for Reflow / RA / ORA / ORAS, and the log-det drift of
estimated Reflow beside its closed-form expectation (claims C-RF, C-RA, REFLOW-ESTIMATED-DRIFT, RA-REFLOW-BOUNDED)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..theory.flow import reflow as gr
from ..theory.flow.gaussian import GaussianEndpoints

METHODS = ("reflow", "ra", "ora", "oras")


def default_endpoints() -> GaussianEndpoints:
    """Noise N(0, I_2) at t = 0, data N(m*, Sigma*) at t = 1 with m* = (1, -0.5), Sigma* = [[2, 0.6], [0.6, 1]]."""
    return GaussianEndpoints(np.zeros(2), np.eye(2), np.array([1.0, -0.5]), np.array([[2.0, 0.6], [0.6, 1.0]]))


def reflow_w2_curves(n_samples: int = 50, rounds: int = 12, replicates: int = 400, real_fraction: float = 0.5,
                     seed: int = 0) -> pd.DataFrame:
    """Replicate mean and standard error per round of W2(N(m_k, Sigma_k), N(m*, Sigma*)) and of log det Sigma_k,
    for each method (reflow at real fraction 0), plus the closed-form E log det Sigma_k of estimated Reflow.

    Columns: method, real_fraction, round, quantity in {w2_to_real, log_det, expected_log_det}, mean, se."""
    ends = default_endpoints()
    rows = []
    for method in METHODS:
        alpha = 0.0 if method == "reflow" else real_fraction
        traj = gr.estimated_reflow(ends, n_samples, rounds, replicates=replicates, seed=seed, method=method,
                                   real_fraction=alpha)
        for name in ("w2_to_real", "log_det"):
            values = np.asarray(getattr(traj, name))
            mean = values.mean(axis=1)
            se = values.std(axis=1, ddof=1) / np.sqrt(values.shape[1])
            rows += [(method, alpha, int(k), name, float(m), float(s)) for k, m, s in zip(traj.rounds, mean, se)]
        if method == "reflow":
            expected = (np.linalg.slogdet(ends.cov1)[1]
                        + gr.reflow_expectations(ends.cov1, n_samples, rounds)["log_det_drift"])
            rows += [(method, alpha, int(k), "expected_log_det", float(v), 0.0)
                     for k, v in zip(traj.rounds, np.asarray(expected))]
    return pd.DataFrame(rows, columns=["method", "real_fraction", "round", "quantity", "mean", "se"])
