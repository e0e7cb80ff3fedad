"""The verification report lists every claim with provenance, status per tier, evidence and figures."""

import json

from collapse_theory.claims import registry
from collapse_theory.report import render_report, reproduce


def test_reproduce_writes_report_json_and_figures(tmp_path):
    report, passed = reproduce(tmp_path, tiers=["numeric"], progress=False, claim_ids=["DAE-STEP", "C-real"])
    text = report.read_text()
    assert passed
    for claim in registry.claims():
        assert f"| {claim.id} | {claim.provenance} |" in text
    assert "| C-real | paper-claim | pass (1) | dae-real-fraction.png |" in text
    data = json.loads((tmp_path / "verify.json").read_text())
    assert data["passed"] and {r["claim"] for r in data["results"]} == {"DAE-STEP", "C-real"}
    assert json.loads((tmp_path / "verify.json.manifest.json").read_text())["command"] == "reproduce"
    assert (tmp_path / "figures" / "MANIFEST.csv").exists()


def test_report_marks_failures():
    result = registry.CheckResult("DAE-OPT", "numeric", "x", "fail", {"err": 1.0}, {"m": True}, 0.1)
    text = render_report([result], ["numeric"], None, 0.1)
    assert "| DAE-OPT | toolkit-theorem | FAIL (1) | - |" in text and "0 of 1 checks passed" in text
