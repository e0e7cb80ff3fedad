"""Tidy results of the estimated Gaussian Reflow family (numpy Monte-Carlo), the data behind the Gaussian
Reflow figure: W2 to the real distribution per round for Reflow / RA / ORA / ORAS, and the log-det drift of
estimated Reflow beside its closed-form expectation (claims C-RF, C-RA, REFLOW-ESTIMATED-DRIFT, RA-REFLOW-BOUNDED)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..theory.flow import reflow as gr
from ..theory.flow.gaussian import GaussianEndpoints
from ..validation import check_fraction, check_positive_int

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


@dataclass(frozen=True)
class ReflowW2Figure:
    """gaussian-reflow-w2: estimated Gaussian Reflow vs RA / ORA / ORAS (fields as in :func:`reflow_w2_curves`)."""

    n_samples: int = field(default=50, metadata={"help": "pairs per round (>= 4: the 2-D covariance fit needs d + 2)"})
    rounds: int = field(default=12, metadata={"help": "Reflow rounds (<= 200)"})
    replicates: int = field(default=400, metadata={"help": "Monte-Carlo replicates (>= 2, <= 20000)"})
    real_fraction: float = field(default=0.5, metadata={"help": "α of ra, ora, oras in (0, 1]"})
    seed: int = field(default=0, metadata={"help": "seed"})

    def validated(self) -> "ReflowW2Figure":
        check_positive_int(self.n_samples, "n_samples", minimum=4)
        check_positive_int(self.rounds, "rounds", minimum=1)
        check_positive_int(self.replicates, "replicates", minimum=2)
        check_positive_int(self.seed, "seed", minimum=0)
        for name, top in (("rounds", 200), ("replicates", 20000)):
            if getattr(self, name) > top:
                raise ValueError(f"{name} must be <= {top}, got {getattr(self, name)}")
        check_fraction(self.real_fraction, "real_fraction")
        if self.real_fraction <= 0:
            raise ValueError(f"real_fraction must lie in (0, 1] (Reflow itself is drawn at 0), got {self.real_fraction}")
        return self

    def make_data(self) -> pd.DataFrame:
        self.validated()
        return reflow_w2_curves(self.n_samples, self.rounds, self.replicates, self.real_fraction, self.seed)
