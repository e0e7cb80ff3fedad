"""What the DAE trained-tier check modules share: torch on first use, seeded generators, replicate z-scores.

torch is imported lazily (through :mod:`collapse_theory.train`), so that listing the checks (``collapse-theory
claims``) never imports it; only running them does.
"""

from __future__ import annotations

import numpy as np

from ...stats import z_scores

Z_LIMIT = 4.0
"""Replicate z-limit of the trained DAE checks (fixed seeds)."""


def train_package():
    """The torch side (:mod:`collapse_theory.train`), imported on first use."""
    from ... import train

    return train


def torch_generator(seed: int):
    """A seeded torch.Generator (torch imported on first use)."""
    import torch

    return torch.Generator().manual_seed(int(seed))


def replicate_z(samples: np.ndarray, expected) -> np.ndarray:
    """Replicate z-scores over axis 0: (mean - expected)/(std(ddof=1)/sqrt(R)) (:func:`collapse_theory.stats.z_scores`)."""
    return z_scores(samples, expected, axis=0)
