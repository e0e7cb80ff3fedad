"""The law record every exactly solvable collapse law fills in, and the small validators they share.

A :class:`Law` has a command-line name, the registry claim it belongs to, default parameters, the quantities it
tracks, and three functions:

- ``validate(params) -> params``: normalised parameters; raises ``ValueError`` naming the parameter
  (before any compute);
- ``closed_form(rounds, **params) -> {quantity: array (rounds + 1,)}``: the exact expectation per round 0..N;
- ``monte_carlo(rounds, replicates, seed, **params) -> {quantity: array (replicates, rounds + 1)}``: the literal
  procedure, vectorised over replicates (a seed gives identical results on a CPU).

:func:`run_law` turns one into the JSON-ready dictionary of ``collapse-theory law NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...validation import as_float_array, check_choice, check_positive_int

DISTRIBUTION_ATOL = 1e-9
"""A probability vector must sum to 1 within this (float rounding of typed-in decimals is far below it)."""


@dataclass(frozen=True)
class Law:
    name: str
    claim: str
    title: str
    params: dict[str, Any]
    quantities: tuple[str, ...]
    validate: Callable[[dict], dict]
    closed_form: Callable[..., dict]
    monte_carlo: Callable[..., dict]
    param_help: dict[str, str] = field(default_factory=dict)
    round_meaning: str = "round n: the n-th refit (round 0 is the real law)"
    state_size: Callable[[dict], float] = lambda p: 1.0
    """Numbers the Monte-Carlo holds per replicate at once (validated params -> count), for memory checks."""

    def monte_carlo_bytes(self, params: dict, rounds: int, replicates: int) -> float:
        """A generous estimate of the Monte-Carlo's memory: its outputs plus 4 copies of its per-replicate state."""
        return 8.0 * replicates * ((rounds + 1) * (len(self.quantities) + 2) + 4 * self.state_size(params))

    def describe(self) -> dict:
        """The ``collapse-theory laws --json`` entry: name, claim, default params, quantities."""
        return {"name": self.name, "claim": self.claim, "title": self.title, "params": jsonable(self.params),
                "quantities": list(self.quantities), "rounds": self.round_meaning}


def jsonable(value):
    """Plain JSON types (lists, floats, ints, str) from numpy values."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def merge_params(law: Law, given: dict) -> dict:
    """The law's defaults overridden by ``given``; an unknown name raises ValueError naming it."""
    unknown = [k for k in given if k not in law.params]
    if unknown:
        raise ValueError(f"{unknown[0]} is not a parameter of law {law.name} "
                         f"(its parameters: {', '.join(law.params)})")
    return {**law.params, **given}


def summarise(samples: dict) -> dict:
    """{quantity: {"mean": [...], "se": [...]}} over the replicate axis 0 (se = std(ddof=1)/sqrt(R))."""
    out = {}
    for name, values in samples.items():
        x = np.asarray(values, dtype=np.float64)
        out[name] = {"mean": x.mean(axis=0).tolist(), "se": (x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])).tolist()}
    return out


def run_law(law: Law, rounds: int, replicates: int | None = None, seed: int = 0, **params) -> dict:
    """{"law", "params", "closed_form"} and, with ``replicates``, "monte_carlo" ({quantity: {mean, se}})."""
    rounds = check_positive_int(rounds, "rounds", minimum=0)
    if replicates is not None:
        replicates = check_positive_int(replicates, "replicates", minimum=2)
    seed = check_positive_int(seed, "seed", minimum=0)
    p = law.validate(merge_params(law, params))
    closed = law.closed_form(rounds, **p)
    out = {"law": law.name, "claim": law.claim, "params": jsonable(p), "rounds": list(range(rounds + 1)),
           "closed_form": {q: np.asarray(closed[q], dtype=float).tolist() for q in law.quantities}}
    if replicates is not None:
        mc = law.monte_carlo(rounds, replicates, seed, **p)
        out["replicates"], out["seed"] = replicates, seed
        out["monte_carlo"] = summarise({q: mc[q] for q in law.quantities})
    return out


# --------------------------------------------------------------------------------------------- validators

def check_number(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite number within [low, high] (open ends where asked); the message names ``name``."""
    arr = as_float_array(value, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single number, got {value!r}")
    x = float(arr)
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {x:g}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {x:g}")
    return x


def check_int(value, name: str, minimum: int) -> int:
    return check_positive_int(value, name, minimum=minimum)


def check_option(value, options, name: str) -> str:
    return check_choice(value, options, name)


def check_distribution(p, name: str) -> np.ndarray:
    """A probability vector: 1-D, entries >= 0, summing to 1 within :data:`DISTRIBUTION_ATOL`."""
    arr = as_float_array(p, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a list of probabilities, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be a distribution: entries >= 0, got {arr.min():g}")
    if abs(arr.sum() - 1.0) > DISTRIBUTION_ATOL:
        raise ValueError(f"{name} must be a distribution: entries sum to 1, got sum {arr.sum():.12g}")
    return arr / arr.sum()


def check_vector(value, name: str, *, positive: bool = False, length: int | None = None) -> np.ndarray:
    arr = as_float_array(value, name)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a list of numbers, got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must hold {length} numbers, got {arr.size}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {arr.min():g}")
    return arr
