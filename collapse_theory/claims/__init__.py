"""The claims registry (see :mod:`collapse_theory.claims.registry`) and the catalog of claims."""

from .registry import (
    PROVENANCES,
    TIERS,
    Check,
    CheckResult,
    Claim,
    Outcome,
    check,
    checks,
    claims,
    get_claim,
    run_check,
    run_checks,
)

__all__ = ["PROVENANCES", "TIERS", "Check", "CheckResult", "Claim", "Outcome", "check", "checks", "claims",
           "get_claim", "run_check", "run_checks"]
