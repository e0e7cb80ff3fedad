"""The estimated Gaussian Reflow setting shared by the numeric flow checks (:mod:`.numeric`, :mod:`.numeric_paper`).

Noise N(0, I), real data N(m*, Sigma*) in d = 3; each round refits a Gaussian to n = 20 generated (and, for RA, real)
points. :func:`estimated_runs` caches the Monte-Carlo simulations so every check and mutant pays for them once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...theory.flow import gaussian as gf
from ...theory.flow import reflow as gr

RA_FRACTION = 0.25
"""Real fraction alpha of the RA/ORA/ORAS runs (a = alpha n = 5 >= d + 1 real points)."""


def random_rotation(rng, d):
    """A Haar-distributed rotation: Q of the QR decomposition of a standard normal matrix, signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


ESTIMATED = {"dim": 3, "samples": 20, "rounds": 8, "replicates": 4000, "seed": 2024}


def estimated_setting() -> gf.GaussianEndpoints:
    """Noise N(0, I); real data N(m*, Sigma*), m* = (1, -0.5, 0.25), Sigma* = Q diag(4, 1, 0.25) Q^T (fixed rotation)."""
    Q = random_rotation(np.random.default_rng(7), 3)
    S = (Q * np.array([4.0, 1.0, 0.25])) @ Q.T
    return gf.GaussianEndpoints.standard_noise(np.array([1.0, -0.5, 0.25]), 0.5 * (S + S.T))


@lru_cache(maxsize=None)
def estimated_runs(method: str, real_fraction: float, rounds: int = ESTIMATED["rounds"],
                    replicates: int = ESTIMATED["replicates"]):
    """Estimated Reflow (or RA/ORA/ORAS) in :func:`estimated_setting`, n = ESTIMATED["samples"] per round, cached so
    that every check and mutant of the numeric tier shares one simulation per argument tuple."""
    p = ESTIMATED
    return gr.estimated_reflow(estimated_setting(), p["samples"], rounds, replicates, seed=p["seed"],
                               method=method, real_fraction=real_fraction, reverse_steps=20)
