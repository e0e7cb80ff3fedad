"""Law 8: Zipf tails cut at rank k (claim LAW-ZIPF-TAIL; compare: Dohmatob et al., "A Tale of Tails", ICML 2024).

Tokens i = 1, 2, ... have real probabilities p_i = i^{-beta}/zeta(beta), beta > 1. A generator that keeps only the top
k ranks produces q_i = p_i / P_k for i <= k (P_k = sum_{i<=k} p_i) and nothing beyond. A memorising learner trained on
T samples of q answers correctly exactly the tokens it has seen; its test error on real data is

    E(T, k) = sum_{i<=k} p_i (1 - q_i)^T + tail(k),     tail(k) = sum_{i>k} p_i = zeta(beta, k + 1)/zeta(beta)

(exact; zeta(beta, k + 1) is the Hurwitz zeta). Its two regimes (a scaling law with a plateau):

    T << k^beta:  E ~ C T^{-(1 - 1/beta)},  C = Gamma(1 - 1/beta) zeta(beta)^{-1/beta} / beta
    T -> oo:      E -> tail(k) ~ k^{-(beta - 1)} / ((beta - 1) zeta(beta))

so E ≍ T^{-(1 - 1/beta)} + k^{-(beta - 1)}: more synthetic data stops helping once T ~ k^beta. The law's rounds double
the sample size: round n uses T = T0 2^n.

Derivation: docs/derivations/laws.md §8.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .base import Law, check_int, check_number


def _validate(p: dict) -> dict:
    return {"beta": check_number(p["beta"], "beta", low=1.0, low_open=True), "k": check_int(p["k"], "k", 1),
            "T0": check_int(p["T0"], "T0", 1)}


def zipf_probabilities(k: int, beta: float) -> np.ndarray:
    """p_1..p_k of the infinite Zipf law, p_i = i^{-beta}/zeta(beta)."""
    i = np.arange(1, k + 1, dtype=float)
    return i ** -beta / special.zeta(beta)


def tail_mass(k, beta: float) -> np.ndarray:
    """sum_{i>k} p_i = zeta(beta, k + 1)/zeta(beta) (Hurwitz zeta)."""
    return special.zeta(beta, np.asarray(k, dtype=float) + 1) / special.zeta(beta)


def zipf_exponents(beta: float) -> tuple[float, float]:
    """(1 - 1/beta, beta - 1): E ~ T^{-(1 - 1/beta)} before the plateau, tail(k) ~ k^{-(beta - 1)}."""
    return 1 - 1 / beta, beta - 1


def zipf_asymptotics(beta: float) -> dict:
    """The two regimes: E ~ constant_T T^{-exponent_T} (uncut, T -> oo) and tail(k) ~ constant_k k^{-exponent_k}
    (k -> oo), exponent_T = 1 - 1/beta, constant_T = Gamma(1 - 1/beta) zeta(beta)^{-1/beta}/beta, exponent_k =
    beta - 1, constant_k = 1/((beta - 1) zeta(beta))."""
    z = special.zeta(beta)
    return {"exponent_T": 1 - 1 / beta, "constant_T": special.gamma(1 - 1 / beta) * z ** (-1 / beta) / beta,
            "exponent_k": beta - 1, "constant_k": 1 / ((beta - 1) * z)}


def uncut_error_bounds(T, beta: float, split: int = 10 ** 6) -> tuple[np.ndarray, np.ndarray]:
    """Rigorous bounds on the uncut error U(T) = sum_i p_i (1 - p_i)^T: the exact sum over i <= split plus the rest,
    which lies in [tail(split) (1 - p_{split+1})^T, tail(split)] ((1 - p_i)^T increases in i)."""
    p = zipf_probabilities(split, beta)
    T = np.atleast_1d(np.asarray(T, dtype=float))
    head = np.array([float(p @ np.exp(t * np.log1p(-p))) for t in T])
    rest = float(tail_mass(split, beta))
    p_next = (split + 1.0) ** -beta / special.zeta(beta)
    return head + rest * np.exp(T * np.log1p(-p_next)), head + rest


def zipf_test_error(T, k: int, beta: float) -> np.ndarray:
    """E(T, k) = sum_{i<=k} p_i (1 - q_i)^T + tail(k), exactly (vectorised over T)."""
    p = zipf_probabilities(k, beta)
    q = p / p.sum()
    T = np.atleast_1d(np.asarray(T, dtype=float))
    log_miss = np.log1p(-q)  # (1 - q)^T = exp(T log(1 - q)); q_1 < 1 for k >= 2; k = 1 gives 0 exactly
    seen_part = np.array([float(p @ np.exp(t * log_miss)) for t in T]) if k > 1 else np.zeros_like(T)
    return seen_part + tail_mass(k, beta)


def zipf_closed_form(rounds: int, beta: float = 2.0, k: int = 1000, T0: int = 100) -> dict:
    """E_test_error at T = T0 2^n, n = 0..rounds."""
    p = _validate({"beta": beta, "k": k, "T0": T0})
    T = p["T0"] * 2.0 ** np.arange(rounds + 1)
    return {"E_test_error": zipf_test_error(T, p["k"], p["beta"])}


def simulate_zipf(rounds: int, replicates: int, seed: int, beta: float = 2.0, k: int = 1000, T0: int = 100) -> dict:
    """R replicates per round: T = T0 2^n samples from the cut law q (numpy multinomial counts); test error =
    real mass of the unseen ranks i <= k plus tail(k). {"E_test_error": (R, rounds + 1)}."""
    p = _validate({"beta": beta, "k": k, "T0": T0})
    if p["T0"] * 2.0 ** rounds >= 2.0 ** 62:
        raise ValueError(f"rounds must keep T0 2^rounds below 2^62 for the Monte-Carlo sampler, got T0 = {p['T0']}, "
                         f"rounds = {rounds}")
    probs = zipf_probabilities(p["k"], p["beta"])
    q = probs / probs.sum()
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, rounds + 1))
    tail = float(tail_mass(p["k"], p["beta"]))
    for n in range(rounds + 1):
        counts = rng.multinomial(p["T0"] * 2 ** n, q, size=replicates)
        out[:, n] = (counts == 0) @ probs + tail
    return {"E_test_error": out}


ZIPF_TAIL = Law(
    name="zipf-tail", claim="LAW-ZIPF-TAIL",
    title="memorising learner on T samples of a Zipf law cut at rank k: T^-(1 - 1/beta) decay, k^-(beta - 1) plateau",
    params={"beta": 2.0, "k": 1000, "T0": 100}, quantities=("E_test_error",),
    validate=_validate, closed_form=zipf_closed_form, monte_carlo=simulate_zipf,
    state_size=lambda p: 3 * p["k"],
    param_help={"beta": "Zipf exponent > 1", "k": "rank cut k >= 1", "T0": "samples at round 0 (doubling per round)"},
    round_meaning="round n: T = T0 2^n training samples")
