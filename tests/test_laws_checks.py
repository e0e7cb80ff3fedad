"""The registered checks of the collapse-law claims pass on the toolkit's formulas and reject every mutant (the
symbolic and numeric tiers), and every law claim is a toolkit-theorem with a 'compare:' reference."""

import pytest

from collapse_theory.claims import registry

LAW_CLAIMS = [c.id for c in registry.claims() if c.id.startswith("LAW-")]


def test_law_claims_are_toolkit_theorems_with_a_reference():
    assert len(LAW_CLAIMS) >= 3
    for claim_id in LAW_CLAIMS:
        claim = registry.get_claim(claim_id)
        assert claim.provenance == "toolkit-theorem"
        assert "Compare:" in claim.statement and "the paper proves" not in claim.statement.lower()


@pytest.mark.parametrize("tier", ["symbolic", "numeric"])
def test_law_checks_pass_and_reject_their_mutants(tier):
    results = registry.run_checks([tier], LAW_CLAIMS)
    covered = {r.claim_id for r in results}
    assert covered == set(LAW_CLAIMS)
    for r in results:
        assert r.status == "pass", (r.claim_id, r.name, r.status, r.message, r.mutants_rejected)
        assert r.mutants_rejected and all(r.mutants_rejected.values())
