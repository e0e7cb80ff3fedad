"""The claims registry: every claim once, with its provenance and its checks per verification tier.

A :class:`Claim` is a precise statement with assumptions and a provenance label:

- ``paper-claim``      what the paper's abstract says (arXiv:2412.08175; only its abstracts are available)
- ``toolkit-theorem``  a precise statement this toolkit states and proves (symbolic tier) and tests (numeric tier)
- ``observation``      a measured fact, reported with its numbers

A :class:`Check` belongs to one claim and one tier (``symbolic``, ``numeric``, ``trained``, ``image``).
It is a function ``run(impl) -> Outcome``: ``impl=None`` checks the toolkit's own formula; any other
value is a substitute formula of the same signature. Each check lists deliberately wrong formulas
(*mutants*); :func:`run_check` runs the check on the toolkit's formula **and** on every mutant, and a
check only passes when the real formula passes and every mutant is rejected. So each check shows on
every run that it can fail.

Checks are defined in the modules of :data:`CHECK_MODULES`, imported lazily per tier (the ``trained``
and ``image`` tiers need torch; ``symbolic`` and ``numeric`` never import it).
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

TIERS = ("symbolic", "numeric", "trained", "image")
PROVENANCES = ("paper-claim", "toolkit-theorem", "observation")

CATALOG_MODULES: list[str] = ["collapse_theory.claims.paper", "collapse_theory.claims.dae.catalog",
                               "collapse_theory.claims.flow.catalog", "collapse_theory.claims.laws.catalog"]
"""Modules that register claims (imported once, in order, before any check)."""

CHECK_MODULES: dict[str, list[str]] = {
    "symbolic": ["collapse_theory.claims.dae.symbolic", "collapse_theory.claims.flow.symbolic",
                 "collapse_theory.claims.laws.symbolic"],
    "numeric": ["collapse_theory.claims.dae.numeric", "collapse_theory.claims.dae.numeric_finite_sample",
                "collapse_theory.claims.flow.numeric", "collapse_theory.claims.flow.numeric_reflow",
                "collapse_theory.claims.flow.numeric_paper",
                "collapse_theory.claims.laws.numeric", "collapse_theory.claims.laws.numeric_mean",
                "collapse_theory.claims.laws.numeric_tails"],
    "trained": ["collapse_theory.claims.flow.trained", "collapse_theory.claims.dae.trained",
                "collapse_theory.claims.dae.trained_recursion", "collapse_theory.claims.dae.trained_collapse"],
    "image": ["collapse_theory.claims.flow.image"],
}


@dataclass(frozen=True)
class Claim:
    """A registered claim. ``formalises`` names the paper claim a toolkit theorem makes precise;
    ``no_check`` maps a tier to the reason no check of that tier applies (yet)."""

    id: str
    title: str
    statement: str
    provenance: str
    assumptions: tuple[str, ...] = ()
    formalises: tuple[str, ...] = ()
    no_check: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.provenance not in PROVENANCES:
            raise ValueError(f"provenance must be one of {', '.join(PROVENANCES)}, got {self.provenance!r}")
        for tier in self.no_check:
            if tier not in TIERS:
                raise ValueError(f"no_check tier must be one of {', '.join(TIERS)}, got {tier!r}")


@dataclass
class Outcome:
    """What one run of a check found: ``passed`` and the evidence numbers behind it.

    A *decision check* also returns ``decision`` (a :class:`collapse_theory.stats.decisions.Decision`): the
    claim's pre-registered decision on its seeds, reported whatever it is (``inconclusive`` or ``refuted`` is a
    result, not a failure); ``passed`` then says that the machinery ran and its controls behaved (null control
    ``inconclusive``, planted effect ``confirmed``)."""

    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    decision: Any = None


@dataclass(frozen=True)
class Check:
    claim_id: str
    tier: str
    name: str
    run: Callable[[Any], Outcome]
    mutants: dict[str, Any]
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.claim_id}/{self.tier}/{self.name}"


@dataclass
class CheckResult:
    """Status ``pass`` (formula passes, all mutants rejected), ``fail`` (formula fails), ``weak``
    (a mutant was not rejected: the check cannot tell right from wrong) or ``error`` (it raised)."""

    claim_id: str
    tier: str
    name: str
    status: str
    evidence: dict[str, Any]
    mutants_rejected: dict[str, bool]
    seconds: float
    message: str = ""
    decision: Any = None  # a stats.decisions.Decision for decision checks (see Outcome)

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def as_dict(self) -> dict:
        out = {
            "claim": self.claim_id, "tier": self.tier, "check": self.name, "status": self.status,
            "evidence": self.evidence, "mutants_rejected": self.mutants_rejected,
            "seconds": round(self.seconds, 4), "message": self.message,
        }
        if self.decision is not None:  # decision, n_seeds, effect, ci_low, ci_high, p_value, seeds, protocol_hash ...
            out |= {k: v for k, v in self.decision.as_dict().items() if k not in ("claim", "tier")}
        return out


_CLAIMS: dict[str, Claim] = {}
_CHECKS: dict[str, Check] = {}
_REGISTERED_BY: dict[str, str] = {}
_LOADED_TIERS: set[str] = set()


def register_claim(claim: Claim) -> Claim:
    """Add a claim; an ID can be registered once only (each claim lives once)."""
    if claim.id in _CLAIMS and _CLAIMS[claim.id] != claim:
        raise ValueError(f"claim id {claim.id!r} is already registered")
    _CLAIMS[claim.id] = claim
    _REGISTERED_BY.setdefault(claim.id, sys._getframe(1).f_globals.get("__name__", ""))
    return claim


def _catalog_rank(claim_id: str) -> tuple[int, int]:
    """(position of the registering module in CATALOG_MODULES, registration order): the order of :func:`claims`
    does not depend on which catalog module happened to be imported first."""
    module = _REGISTERED_BY.get(claim_id, "")
    rank = CATALOG_MODULES.index(module) if module in CATALOG_MODULES else len(CATALOG_MODULES)
    return rank, list(_CLAIMS).index(claim_id)


def check(claim_id: str, tier: str, name: str, mutants: dict[str, Any], description: str = ""):
    """Decorator registering ``run(impl) -> Outcome`` as a check of ``claim_id`` in ``tier``.

    ``mutants`` must hold at least one deliberately wrong substitute for ``impl``."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
    if not mutants:
        raise ValueError(f"check {claim_id}/{tier}/{name} needs at least one mutant (a wrong formula it rejects)")

    def decorate(run: Callable[[Any], Outcome]) -> Callable[[Any], Outcome]:
        _load_catalog()
        if claim_id not in _CLAIMS:
            raise ValueError(f"check {name!r} refers to unknown claim id {claim_id!r}")
        item = Check(claim_id, tier, name, run, dict(mutants), description or (run.__doc__ or "").strip())
        if item.key in _CHECKS:
            raise ValueError(f"check {item.key} is registered twice")
        _CHECKS[item.key] = item
        return run

    return decorate


_CATALOG_LOADED = False


def _load_catalog() -> None:
    global _CATALOG_LOADED
    if not _CATALOG_LOADED:
        _CATALOG_LOADED = True
        for module in CATALOG_MODULES:
            importlib.import_module(module)


def load_tier(tier: str) -> None:
    """Import the check modules of ``tier`` (once)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
    _load_catalog()
    if tier in _LOADED_TIERS:
        return
    for module in CHECK_MODULES[tier]:
        importlib.import_module(module)
    _LOADED_TIERS.add(tier)


def claims() -> list[Claim]:
    """All registered claims: catalog by catalog in the order of CATALOG_MODULES, registration order within one."""
    _load_catalog()
    return [_CLAIMS[c] for c in sorted(_CLAIMS, key=_catalog_rank)]


def get_claim(claim_id: str) -> Claim:
    _load_catalog()
    if claim_id not in _CLAIMS:
        raise ValueError(f"claim must be one of {', '.join(_CLAIMS)}, got {claim_id!r}")
    return _CLAIMS[claim_id]


def checks(tiers: Iterable[str] | None = None, claim_ids: Iterable[str] | None = None) -> list[Check]:
    """Registered checks of the given tiers (default: symbolic and numeric) and claims (default: all)."""
    tiers = list(tiers) if tiers is not None else ["symbolic", "numeric"]
    for tier in tiers:
        load_tier(tier)
    wanted = None
    if claim_ids is not None:
        wanted = {get_claim(c).id for c in claim_ids}
    order = {claim.id: i for i, claim in enumerate(claims())}
    selected = [c for c in _CHECKS.values() if c.tier in tiers and (wanted is None or c.claim_id in wanted)]
    # deterministic order whatever the import order: by claim, then tier; registration order within a tier
    return sorted(selected, key=lambda c: (order[c.claim_id], TIERS.index(c.tier)))


def evidence_has_nan(value) -> bool:
    """True iff a NaN sits anywhere in ``value`` (a number, a numpy array, or lists/tuples/dicts of them)."""
    if isinstance(value, dict):
        return any(evidence_has_nan(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(evidence_has_nan(v) for v in value)
    if isinstance(value, (str, bytes, bool)) or value is None:
        return False
    try:
        return bool(np.isnan(np.asarray(value, dtype=float)).any())
    except (TypeError, ValueError):
        return False


def _guarded(outcome: Outcome) -> Outcome:
    """A NaN anywhere in the evidence fails the outcome: a one-sided test must not pass on NaN data."""
    nan_keys = [key for key, value in outcome.evidence.items() if evidence_has_nan(value)]
    if outcome.passed and nan_keys:
        return Outcome(False, {**outcome.evidence, "nan_in_evidence": ",".join(nan_keys)}, decision=outcome.decision)
    return outcome


def run_check(item: Check) -> CheckResult:
    """Run a check on the toolkit's formula and on each mutant; see :class:`CheckResult` for the statuses.

    A NaN anywhere in an outcome's evidence makes that outcome fail (:func:`evidence_has_nan`). A mutant counts as
    rejected only when the check runs to the end on it and fails; a mutant that makes the check *raise* is NOT
    rejected (the check did not tell it apart, it broke), and the exception is kept in ``message``."""
    start = time.perf_counter()
    try:
        outcome = _guarded(item.run(None))
        rejected = {}
        raised = []
        for label, mutant in item.mutants.items():
            try:
                rejected[label] = not _guarded(item.run(mutant)).passed
            except Exception as exc:  # noqa: BLE001 - a check that breaks on a wrong formula did not reject it
                rejected[label] = False
                raised.append(f"mutant {label!r} raised {type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # noqa: BLE001 - reported as an 'error' status, never swallowed silently
        return CheckResult(item.claim_id, item.tier, item.name, "error", {}, {},
                           time.perf_counter() - start,
                           f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    if not outcome.passed:
        status = "fail"
    elif not all(rejected.values()):
        status = "weak"
    else:
        status = "pass"
    decision = outcome.decision
    if decision is not None and (decision.claim, decision.tier) != (item.claim_id, item.tier):
        return CheckResult(item.claim_id, item.tier, item.name, "error", outcome.evidence, rejected,
                           time.perf_counter() - start,
                           f"decision is about {decision.claim}/{decision.tier}, not {item.claim_id}/{item.tier}")
    return CheckResult(item.claim_id, item.tier, item.name, status, outcome.evidence, rejected,
                       time.perf_counter() - start, "; ".join(raised), decision=decision)


def run_checks(tiers: Iterable[str] | None = None, claim_ids: Iterable[str] | None = None,
               progress: bool = False) -> list[CheckResult]:
    """Run the selected checks (see :func:`checks`), with an optional tqdm progress bar."""
    selected = checks(tiers, claim_ids)
    iterator = selected
    if progress:
        from tqdm import tqdm

        iterator = tqdm(selected, desc="verify", unit="check", leave=False)
    return [run_check(item) for item in iterator]
