"""One outcome over many configurations: the numeric tiers' combination rule (proofs: :mod:`.proved`)."""

from __future__ import annotations

from .registry import Outcome


def combine_outcomes(outcomes: list[Outcome], worst: dict[str, str]) -> Outcome:
    """Pass iff every outcome passes. Evidence: ``configs``, ``failed`` and, for each ``key: "max" | "min"`` of
    ``worst``, ``"{how}_{key}"`` = the largest (smallest) value of that evidence entry over the outcomes."""
    evidence: dict = {"configs": len(outcomes), "failed": sum(not o.passed for o in outcomes)}
    for key, how in worst.items():
        values = [o.evidence[key] for o in outcomes if key in o.evidence]
        if values:
            evidence[f"{how}_{key}"] = float(max(values) if how == "max" else min(values))
    return Outcome(evidence["failed"] == 0, evidence)
