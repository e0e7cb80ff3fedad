"""Law 2: categorical resampling / Wright-Fisher (claim LAW-WRIGHT-FISHER; compare: Seddik et al.,
arXiv 2404.05090; Suresh et al. 2025).

Round 0 is the real distribution p0 over K symbols. Round m + 1 draws n symbols from p_m and refits
p_{m+1} = a c/n + (1 - a) p0 with counts c ~ Mult(n, p_m): the real distribution is mixed back at weight
w = 1 - a (``real_weight``; w = 0 is pure resampling). From E[c_i c_j | p] = n(n - 1) p_i p_j + n p_i delta_ij:

- pure resampling (w = 0): E ||p_m||^2 = 1 - (1 - 1/n)^m (1 - ||p0||^2) (collision probability -> 1: one symbol
  takes over); a symbol with count k out of n is eventually lost with probability 1 - k/n (p_{m,i} is a
  bounded martingale absorbed at 0 or 1);
- with real weight w = 1 - a in [0, 1] and rho = a^2 (1 - 1/n), the distance to the real distribution
  D_m = E ||p_m - p0||^2 obeys D_{m+1} = rho D_m + a^2 (1 - ||p0||^2)/n (E <p0, p_m - p0> = 0 every round), so

      D_m = D_inf (1 - rho^m),   D_inf = a^2 (1 - ||p0||^2) / (n - a^2 (n - 1)),
      E ||p_m||^2 = ||p0||^2 + D_m

  bounded for every w, and D_inf ~ a^2/(n w (2 - w)) small when n w >> 1 (w = 0 gives D_inf = 1 - ||p0||^2).

Derivation: docs/derivations/laws.md §2.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from .base import Law, check_distribution, check_int, check_number


def _validate(p: dict) -> dict:
    return {"n": check_int(p["n"], "n", 1), "p0": check_distribution(p["p0"], "p0").tolist(),
            "real_weight": check_number(p["real_weight"], "real_weight", low=0.0, high=1.0)}


def wright_fisher_closed_form(rounds: int, n: int = 10, p0=(0.5, 0.3, 0.2), real_weight: float = 0.0) -> dict:
    """E_collision = E ||p_m||^2 and E_sq_dist_to_real = E ||p_m - p0||^2 per round 0..rounds (module docstring)."""
    p = _validate({"n": n, "p0": p0, "real_weight": real_weight})
    n, p0 = p["n"], np.asarray(p["p0"])
    a = 1.0 - p["real_weight"]
    purity = float(p0 @ p0)
    rho = a * a * (1.0 - 1.0 / n)
    d_inf = a * a * (1.0 - purity) / (n - a * a * (n - 1))
    m = np.arange(rounds + 1, dtype=np.float64)
    dist = d_inf * (1.0 - rho ** m)
    return {"E_collision": purity + dist, "E_sq_dist_to_real": dist}


def simulate_wright_fisher(rounds: int, replicates: int, seed: int, n: int = 10, p0=(0.5, 0.3, 0.2),
                           real_weight: float = 0.0) -> dict:
    """R replicate chains at once: counts ~ numpy multinomial(n, p_m), p_{m+1} = a counts/n + (1 - a) p0.
    {quantity: (R, rounds + 1)}."""
    p = _validate({"n": n, "p0": p0, "real_weight": real_weight})
    n, p0 = p["n"], np.asarray(p["p0"])
    a = 1.0 - p["real_weight"]
    rng = np.random.default_rng(seed)
    probs = np.tile(p0, (replicates, 1))
    out = {"E_collision": np.empty((replicates, rounds + 1)), "E_sq_dist_to_real": np.empty((replicates, rounds + 1))}
    for m in range(rounds + 1):
        if m > 0:
            counts = rng.multinomial(n, probs)
            probs = a * counts / n + (1.0 - a) * p0
            probs /= probs.sum(axis=1, keepdims=True)  # rounding only: rows sum to 1 exactly in exact arithmetic
        out["E_collision"][:, m] = np.sum(probs ** 2, axis=1)
        out["E_sq_dist_to_real"][:, m] = np.sum((probs - p0) ** 2, axis=1)
    return out


def compositions(n: int, K: int) -> np.ndarray:
    """All count vectors of n items in K cells (rows), in lexicographic order."""
    rows = [c for c in itertools.product(range(n + 1), repeat=K) if sum(c) == n]
    return np.array(rows, dtype=np.int64)


def exact_wright_fisher(rounds: int, n: int, p0, real_weight: float = 0.0) -> dict:
    """Exact E ||p_m||^2 and E ||p_m - p0||^2 by enumerating every count vector (small n and K only):
    the state after round m >= 1 is the count vector c (p_m = a c/n + (1 - a) p0), its law is propagated with
    the transition matrix P[c, c'] = scipy.stats.multinomial(n, a c/n + (1 - a) p0).pmf(c')."""
    p = _validate({"n": n, "p0": p0, "real_weight": real_weight})
    n, p0 = p["n"], np.asarray(p["p0"])
    a = 1.0 - p["real_weight"]
    states = compositions(n, p0.size)
    if len(states) > 5000:
        raise ValueError(f"n must be small for exact enumeration ({len(states)} count vectors)")
    probs = a * states / n + (1 - a) * p0
    P = np.stack([stats.multinomial(n, row).pmf(states) for row in probs])
    coll, dist = np.sum(probs ** 2, axis=1), np.sum((probs - p0) ** 2, axis=1)
    law = stats.multinomial(n, p0).pmf(states)
    out = {"E_collision": [float(p0 @ p0)], "E_sq_dist_to_real": [0.0]}
    for _ in range(rounds):
        out["E_collision"].append(float(law @ coll))
        out["E_sq_dist_to_real"].append(float(law @ dist))
        law = law @ P
    return {k: np.array(v) for k, v in out.items()}


def loss_probability(n: int, k: int) -> float:
    """Probability that a symbol with count k of n is eventually lost under pure resampling: 1 - k/n."""
    n = check_int(n, "n", 1)
    k = check_int(k, "k", 0)
    if k > n:
        raise ValueError(f"k must be <= n = {n}, got {k}")
    return 1.0 - k / n


def loss_probability_by_round(n: int, k: int, rounds: int) -> np.ndarray:
    """P(count = 0 by round m), m = 0..rounds, from the exact binomial chain of one symbol's count
    (count' ~ Binomial(n, count/n)); increases to the absorption probability."""
    n = check_int(n, "n", 1)
    states = np.arange(n + 1)
    P = stats.binom.pmf(states[None, :], n, states[:, None] / n)
    law = np.zeros(n + 1)
    law[k] = 1.0
    out = [law[0]]
    for _ in range(rounds):
        law = law @ P
        out.append(law[0])
    return np.array(out)


WRIGHT_FISHER = Law(
    name="wright-fisher", claim="LAW-WRIGHT-FISHER",
    title="resample n symbols from the last empirical distribution (optionally mixed with the real one)",
    params={"n": 10, "p0": [0.5, 0.3, 0.2], "real_weight": 0.0},
    quantities=("E_collision", "E_sq_dist_to_real"),
    validate=_validate, closed_form=wright_fisher_closed_form, monte_carlo=simulate_wright_fisher,
    state_size=lambda p: 4 * len(p["p0"]),
    param_help={"n": "samples per round n >= 1", "p0": "real distribution (list summing to 1)",
                "real_weight": "weight w = 1 - a in [0, 1] of the real distribution in every refit"})
