"""The claims registry: every check passes on the toolkit's formula and rejects each of its mutants."""

import pathlib

import pytest

from collapse_theory.claims import registry

NUMERIC = registry.checks(["numeric"])


@pytest.mark.parametrize("item", NUMERIC, ids=[c.key for c in NUMERIC])
def test_numeric_check_passes_and_rejects_every_mutant(item):
    result = registry.run_check(item)
    assert result.status == "pass", (result.evidence, result.mutants_rejected, result.message)
    assert result.mutants_rejected and all(result.mutants_rejected.values())


def test_every_claim_has_provenance_and_every_dae_claim_is_checked():
    items = registry.claims()
    assert all(c.provenance in registry.PROVENANCES for c in items)
    covered = {c.claim_id for c in registry.checks(["symbolic", "numeric"])}
    for claim in items:
        for tier in ("symbolic", "numeric"):
            has = any(c.claim_id == claim.id and c.tier == tier for c in registry.checks([tier]))
            assert has or tier in claim.no_check, f"{claim.id} has no {tier} check and no reason"
    assert {"C-collapse", "C-real"} <= covered


def test_a_check_that_cannot_fail_is_reported_weak():
    always = registry.Check("DAE-OPT", "numeric", "always-true", lambda impl: registry.Outcome(True, {}),
                            {"anything": object()})
    assert registry.run_check(always).status == "weak"


def test_registry_rejects_duplicates_and_unknown_ids():
    with pytest.raises(ValueError, match="mutant"):
        registry.check("DAE-OPT", "numeric", "x", mutants={})
    with pytest.raises(ValueError, match="unknown claim"):
        registry.check("NOPE", "numeric", "x", mutants={"m": 1})(lambda impl: None)
    with pytest.raises(ValueError, match="provenance"):
        registry.Claim("X", "t", "s", provenance="rumour")


def test_claims_document_is_generated_from_the_registry():
    from collapse_theory.documents import claims_markdown

    doc = pathlib.Path(__file__).resolve().parents[1] / "docs" / "claims.md"
    assert doc.read_text() == claims_markdown(), "regenerate: collapse-theory claims --markdown > docs/claims.md"


def test_readme_claims_table_is_the_registry_table():
    from collapse_theory.documents import claims_tier_table

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- claims-table:start -->\n", 1)[1].split("\n<!-- claims-table:end -->", 1)[0]
    assert block == "\n".join(claims_tier_table(note="see claims.md"))


def _item(run, mutants):
    return registry.Check("DAE-OPT", "numeric", "synthetic", run, mutants)


def test_a_mutant_that_makes_the_check_raise_is_not_rejected():
    def run(impl):
        if impl == "breaks":
            raise ValueError("singular matrix in the mutant")
        return registry.Outcome(impl is None, {"x": 1.0})

    result = registry.run_check(_item(run, {"wrong and rejected": "wrong", "breaks the check": "breaks"}))
    assert result.mutants_rejected == {"wrong and rejected": True, "breaks the check": False}
    assert result.status == "weak"
    assert "singular matrix in the mutant" in result.message and "breaks the check" in result.message


@pytest.mark.parametrize("evidence", [{"z": float("nan")}, {"z": [1.0, float("nan")]},
                                      {"nested": {"a": __import__("numpy").array([0.0, float("nan")])}}])
def test_nan_anywhere_in_the_evidence_fails_the_check(evidence):
    def run(impl):  # a one-sided test that passes on NaN data (NaN > 4 is False, so 'not below' holds)
        return registry.Outcome(impl is None, dict(evidence))

    result = registry.run_check(_item(run, {"wrong": "wrong"}))
    assert result.status == "fail"
    assert "nan_in_evidence" in result.evidence


def test_finite_evidence_is_untouched_by_the_nan_guard():
    def run(impl):
        return registry.Outcome(impl is None, {"z": 1.5, "label": "ok", "flag": True, "none": None})

    result = registry.run_check(_item(run, {"wrong": "wrong"}))
    assert result.status == "pass" and "nan_in_evidence" not in result.evidence


def test_claim_order_does_not_depend_on_which_catalog_is_imported_first():
    import subprocess
    import sys

    script = ("import {first}\nfrom collapse_theory.claims import registry\n"
              "print(','.join(c.id for c in registry.claims()))")
    orders = {subprocess.run([sys.executable, "-c", script.format(first=m)], capture_output=True, text=True,
                             check=True).stdout
              for m in ("collapse_theory.claims.flow.catalog", "collapse_theory.claims.laws.catalog",
                        "collapse_theory.claims.registry")}
    assert len(orders) == 1 and orders.pop().startswith("C-collapse,C-real,C-RF,C-RA,")
