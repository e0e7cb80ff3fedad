"""What the numeric flow check modules (:mod:`.numeric`, :mod:`.numeric_reflow`) share: tolerances and seeded random
Gaussian endpoints.

Tolerances:

- ODE: scipy ``solve_ivp`` (DOP853) with rtol 1e-10, atol 1e-12. The global error of an integration over [0, 1] is the
  local tolerance amplified by at most exp(int ||A_t|| dt); for the eigenvalue range used here (1e-1..1e1, so
  ||A_t|| <= 10) we accept a relative error of ODE_TOL = 1e-7 (1000 x rtol).
- Closed forms against each other (eigh, products): :func:`float_tol` = 1e3 d eps relative.
- Quadrature: scipy ``quad`` with epsrel 1e-11; accepted at QUAD_TOL = 1e-8 relative.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...theory.flow import gaussian as gf
from .estimated import random_rotation

EPS = np.finfo(float).eps
ODE_TOL = 1e-7
"""Accepted relative error of a solve_ivp (DOP853, rtol 1e-10) integration over [0, 1] (module docstring)."""
QUAD_TOL = 1e-8
"""Accepted relative error of a scipy quad (epsrel 1e-11) integral."""


def float_tol(d: int) -> float:
    """FLOAT_TOL = 1e3 d eps: closed forms against each other (eigh, products), relative."""
    return 1e3 * d * EPS


def random_psd(rng, d, rotation=None, low=-1.0, high=1.0):
    """Q diag(10^u) Q^T, u ~ U(low, high) (Q a random rotation unless given), exactly symmetric."""
    Q = random_rotation(rng, d) if rotation is None else rotation
    S = (Q * 10 ** rng.uniform(low, high, d)) @ Q.T
    return 0.5 * (S + S.T)


@lru_cache(maxsize=None)
def random_configs(seed: int, count: int, max_dim: int = 5, commuting_share: float = 0.5):
    """Random endpoints: eigenvalues log-uniform in 1e-1..1e1, means standard normal, d in 1..max_dim (>= 2 for the
    non-commuting ones); the first round(commuting_share * count) share one rotation (commuting covariances)."""
    rng = np.random.default_rng(seed)
    out = []
    n_comm = int(round(commuting_share * count))
    for i in range(count):
        commuting = i < n_comm
        d = int(rng.integers(1 if commuting else 2, max_dim + 1))
        Q = random_rotation(rng, d)
        cov0 = random_psd(rng, d, Q)
        cov1 = random_psd(rng, d, Q if commuting else None)
        out.append(gf.GaussianEndpoints(rng.standard_normal(d), cov0, rng.standard_normal(d), cov1))
    return tuple(out)


def rel_error(a, b) -> float:
    """max |a - b| / max(1, max |b|)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))
