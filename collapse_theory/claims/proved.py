"""What a proof of :mod:`collapse_theory.proofs` shows, as a check :class:`~.registry.Outcome` (the symbolic tier).

:func:`proof_outcome` turns a proof's result dict into the check's outcome: passed iff every step is proved; evidence
``steps_proved``/``steps``, the failed steps and the first residual (or error message).
"""

from __future__ import annotations

from .registry import Outcome


def proof_outcome(result: dict) -> Outcome:
    """``Outcome(passed = result["proved"])`` with evidence: steps proved / total, the failed steps, a residual."""
    steps = result["steps"]
    failed = [name for name, ok in steps.items() if not ok]
    evidence = {"steps_proved": sum(steps.values()), "steps": len(steps)}
    if failed:
        evidence["failed"] = ",".join(failed)[:200]
        first = next((result["residuals"][n] for n in failed if n in result["residuals"]), None)
        if first is None:
            first = next((result["errors"][n] for n in failed if n in result["errors"]), "")
        evidence["residual"] = str(first)[:160]
    else:
        evidence["residual"] = "0"
    return Outcome(passed=bool(result["proved"]), evidence=evidence)
