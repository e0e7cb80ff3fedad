"""Every collapse-law claim has symbolic and numeric checks and is a toolkit-theorem with a 'Compare:' reference.
(The checks themselves, with every mutant, run in test_symbolic.py and test_registry.py, which cover every
registered symbolic and numeric check.)"""

from collapse_theory.claims import registry

LAW_CLAIMS = [c.id for c in registry.claims() if c.id.startswith("LAW-")]


def test_law_claims_are_toolkit_theorems_with_a_reference():
    assert len(LAW_CLAIMS) >= 3
    for claim_id in LAW_CLAIMS:
        claim = registry.get_claim(claim_id)
        assert claim.provenance == "toolkit-theorem"
        assert "Compare:" in claim.statement and "the paper proves" not in claim.statement.lower()


def test_every_law_claim_has_symbolic_and_numeric_checks():
    for tier in ("symbolic", "numeric"):
        assert {c.claim_id for c in registry.checks([tier], LAW_CLAIMS)} == set(LAW_CLAIMS)
