"""Exactly solvable collapse laws (the third family; numpy and scipy only, never torch).

Each law is a :class:`~.base.Law`: closed-form expectations per round and a vectorised Monte-Carlo of the literal
procedure. :data:`LAWS` maps the command-line names to them; :func:`run_law` gives the JSON-ready result.

- :mod:`.gaussian`       ``gaussian-refit``, ``gaussian-refit-d``  (claim LAW-GAUSSIAN-REFIT)
- :mod:`.wright_fisher`  ``wright-fisher``                       (LAW-WRIGHT-FISHER)
- :mod:`.regression`     ``regression-chain``                    (LAW-REGRESSION-CHAIN)
- :mod:`.mean_estimation` ``fixed-real-ratio``, ``fresh-data``, ``optimal-weight``
                          (LAW-FIXED-REAL-RATIO, LAW-FRESH-DATA, LAW-OPTIMAL-WEIGHT)
- :mod:`.diffusion`      ``diffusion-early-stop``                (LAW-DIFFUSION-EARLY-STOP)
- :mod:`.zipf`           ``zipf-tail``                           (LAW-ZIPF-TAIL)

Statements and derivations of all eight laws: docs/derivations/laws.md (one section per law).
"""

from __future__ import annotations

from .base import Law, jsonable, merge_params, run_law as _run, summarise
from .diffusion import DIFFUSION_EARLY_STOP
from .gaussian import GAUSSIAN_REFIT, GAUSSIAN_REFIT_D
from .mean_estimation import FIXED_REAL_RATIO, FRESH_DATA, OPTIMAL_WEIGHT
from .regression import REGRESSION_CHAIN
from .wright_fisher import WRIGHT_FISHER
from .zipf import ZIPF_TAIL

LAWS: dict[str, Law] = {law.name: law for law in (
    GAUSSIAN_REFIT, GAUSSIAN_REFIT_D, WRIGHT_FISHER, REGRESSION_CHAIN, FIXED_REAL_RATIO, FRESH_DATA, OPTIMAL_WEIGHT,
    DIFFUSION_EARLY_STOP, ZIPF_TAIL,
)}


def get_law(name: str) -> Law:
    """The law called ``name``; ValueError naming ``law`` otherwise."""
    key = str(name).strip().lower()
    if key not in LAWS:
        raise ValueError(f"law must be one of {', '.join(LAWS)}, got {name!r}")
    return LAWS[key]


def run_law(name: str, rounds: int, replicates: int | None = None, seed: int = 0, **params) -> dict:
    """{"law", "claim", "params", "rounds", "closed_form"} and with ``replicates`` "monte_carlo" (quantity ->
    {"mean", "se"}) for the law called ``name``; bad parameters raise ValueError naming them, before any compute."""
    return _run(get_law(name), rounds, replicates, seed, **params)


__all__ = ["LAWS", "Law", "get_law", "jsonable", "merge_params", "run_law", "summarise"]
