"""The trained tier's pre-registered C-RF / C-RA decisions at a reduced size (same code path, 3 steps per round):
seed-batched members equal members trained alone, the controls behave, the mutants of the decision rule break them."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from collapse_theory.claims.flow import trained_decisions as td  # noqa: E402
from collapse_theory.claims.flow import trained_runs as tr  # noqa: E402

SMALL = dict(steps=3, n_eval=300)


def test_a_member_does_not_depend_on_its_batch():
    alone = tr.run_batched((("ra", 3),), dict(SMALL, rounds=2))
    batched = tr.run_batched((("reflow", 3), ("ra", 3), ("reflow", 3, 1)), dict(SMALL, rounds=2))
    for steps in tr.SETTING["eval_steps"]:
        assert np.allclose(alone.select("ra", [3])[steps], batched.select("ra", [3])[steps], atol=1e-4)
    # another training stream of the same seed is another run
    assert not np.allclose(batched.select("reflow", [3])[32], batched.select("reflow", [3], 1)[32])


def test_protocols_are_fixed_and_share_everything_but_their_statistic():
    hashes = {k: p.hash() for k, p in td.PROTOCOLS.items()}
    assert len(set(hashes.values())) == 4
    for p in td.PROTOCOLS.values():
        assert p.n_seeds == 12 and p.family_size == 4 and p.level == 0.01 and p.test == "sign-flip"
        other = p.with_seeds(range(12, 24))
        assert {k for k, v in p.canonical().items() if other.canonical()[k] != v} == {"seeds"}


@pytest.fixture(scope="module")
def small_runs():
    return tr.run_batched(td._members(), SMALL)


def test_decision_checks_run_with_controls_at_small_size(small_runs, monkeypatch):
    from collapse_theory.claims.registry import checks, run_check

    monkeypatch.setattr(td, "cached_runs", lambda members: small_runs)
    items = [c for c in checks(["trained"], ["C-RF", "C-RA"]) if c.name.endswith("12-seeds")]
    assert {c.name for c in items} == {"reflow-w2-rises-12-seeds", "ra-below-reflow-12-seeds",
                                       "ra-keeps-few-step-12-seeds"}
    for item in items:
        result = run_check(item)
        d = result.as_dict()
        assert result.status == "pass", (item.name, d["evidence"])
        assert d["n_seeds"] == 12 and d["decision"] in ("confirmed", "refuted", "inconclusive")
        for key in ("claim", "tier", "effect", "ci_low", "ci_high", "p_value"):
            assert key in d
        assert all(result.mutants_rejected.values())


def test_planted_values_have_the_detectable_size():
    protocol = td.PROTOCOLS["C-RF"]
    null = np.random.default_rng(0).normal(0.0, 0.02, 12)
    planted, shift = td.planted_values(protocol, null)
    assert np.mean(planted) == pytest.approx(shift) and shift > 0
    assert np.std(planted, ddof=1) == pytest.approx(np.std(null, ddof=1))
    assert td.decide(protocol, planted).decision == "confirmed"
    margin = td.PROTOCOLS["C-RA far-below"]
    planted, shift = td.planted_values(margin, td.FAR_BELOW_MARGIN + null)
    assert shift < 0 and np.mean(planted) == pytest.approx(td.FAR_BELOW_MARGIN + shift)


# ------------------------------------------------------------------------------ margin sensitivity (synthetic)

import dataclasses  # noqa: E402 - this section was appended
from types import SimpleNamespace  # noqa: E402

EPS = np.finfo(float).eps


def _synthetic_values(few_mu, far_mu, seed):
    rng = np.random.default_rng(seed)
    return {"C-RF": rng.normal(0.007, 0.02, 12), "C-RA": rng.normal(0.03, 0.035, 12),
            "C-RA few-step": rng.normal(few_mu, 0.02, 12), "C-RA far-below": rng.normal(far_mu, 0.12, 12)}


SCENARIOS = [(few, far, seed) for seed, (few, far) in enumerate(
    [(-0.03, 0.25), (0.04, 0.45), (0.1, 0.75), (-0.01, 0.4), (0.05, 0.5), (0.07, 0.3)])]
# every margin claim at p = 1/4096 (all on one side) and C-RA not rejected: few-step is reported at Holm rank 1,
# but with only its own margin moving it is decided at rank 2 (after far-below)
TIED = {"C-RF": np.linspace(-0.01, 0.01, 12), "C-RA": np.linspace(-0.01, 0.02, 12),
        "C-RA few-step": -np.linspace(0.01, 0.05, 12), "C-RA far-below": np.linspace(0.1, 0.3, 12)}


def _sensitivity_offences(values) -> tuple[list[str], list[dict]]:
    """Where the reported sensitivity disagrees with the decisions it describes: the chosen margin against the
    edges, and the family re-decided with only the margin moved a step either side of each edge."""
    keys = list(td.PROTOCOLS)
    family = td.decide_family([(td.PROTOCOLS[k], values[k]) for k in keys])
    bad, out = [], []
    for k in td.MARGIN_DECISIONS:
        i, protocol = keys.index(k), td.PROTOCOLS[k]
        s = td.margin_sensitivity(protocol, values[k], family, i)
        out.append(s)
        chosen, confirming, in_family, refuting = (s["chosen_margin"], s["confirming_margin"],
                                                   s["confirming_margin_in_family"], s["refuting_margin"])
        reported = family[i].decision
        if s["reported_decision"] != reported or chosen != protocol.margin:
            bad.append(f"{k}: reported fields")
        if (reported == "confirmed") != (chosen >= in_family) or (reported == "refuted") != (chosen <= refuting):
            bad.append(f"{k}: reported {reported} at {chosen}, edges {in_family}, {refuting}")
        if reported == "confirmed" and chosen < confirming:
            bad.append(f"{k}: confirmed below the confirming margin at its rank")
        if (s["decision_at_rank"] == "confirmed") != (chosen >= confirming):
            bad.append(f"{k}: decision at rank vs confirming margin")

        def redecided(m):
            items = [(dataclasses.replace(td.PROTOCOLS[j], margin=m) if j == k else td.PROTOCOLS[j], values[j])
                     for j in keys]
            return td.decide_family(items)[i].decision

        for edge, outcome, sign in ((in_family, "confirmed", 1.0), (refuting, "refuted", -1.0)):
            step = 64 * EPS * (1 + np.abs(values[k]).max() + abs(edge))
            if redecided(edge + sign * step) != outcome or redecided(edge - sign * step) == outcome:
                bad.append(f"{k}: the family is not {outcome} exactly beyond {edge}")
    return bad, out


def test_margin_sensitivity_is_consistent_with_the_reported_decisions():
    seen, ranks_differ = set(), False
    for values in [_synthetic_values(*case) for case in SCENARIOS] + [TIED]:
        bad, sens = _sensitivity_offences(values)
        assert not bad, bad
        seen |= {s["reported_decision"] for s in sens}
        ranks_differ |= any(s["holm_rank"] != s["in_family_holm_rank"] for s in sens)
        for s in sens:
            assert s["alternative"] == "less" and str(s["chosen_margin"]) in s["reading"]
    # the scenarios exercise every outcome and a Holm rank that moves with the margin
    assert seen == {"confirmed", "refuted", "inconclusive"} and ranks_differ


def test_margin_sensitivity_check_rejects_the_reported_rank_as_the_family_rank(monkeypatch):
    monkeypatch.setattr(td, "family_rank", td.holm_rank)
    bad, _ = _sensitivity_offences(TIED)
    assert any("the family is not confirmed" in b for b in bad), bad


def test_family_rank_against_holm_on_the_others():
    """Holm (holm_adjust) with one p moved and the others fixed rejects it iff (M - k) p <= level, k + 1 the
    family rank; the reported rank is the position of p among all."""
    from collapse_theory.stats.decisions import holm_adjust

    for values in [TIED] + [_synthetic_values(*case) for case in SCENARIOS]:
        decisions = td.decide_family([(td.PROTOCOLS[k], values[k]) for k in td.PROTOCOLS])
        for key in ("p_value", "p_opposite"):
            p = np.array([getattr(d, key) for d in decisions])
            for i in range(4):
                assert td.holm_rank(decisions, i, key) == 1 + np.sum(p < p[i]) + np.sum(p[:i] == p[i])
                threshold = 0.01 / (4 - td.family_rank(decisions, i, key) + 1)
                for q in np.concatenate([np.geomspace(1e-5, 1, 60), [threshold, threshold * (1 + 4 * EPS)]]):
                    moved = p.copy()
                    moved[i] = q
                    assert (holm_adjust(moved)[i] <= 0.01) == (q <= threshold), (i, key, q, threshold)
    decisions = td.decide_family([(td.PROTOCOLS[k], v) for k, v in TIED.items()])
    assert [td.holm_rank(decisions, i) for i in (2, 3)] == [1, 2]
    assert [td.family_rank(decisions, i) for i in (2, 3)] == [2, 2]


def test_the_check_evidence_carries_the_margin_sensitivity(monkeypatch):
    values = _synthetic_values(-0.03, 0.25, 0)
    rng = np.random.default_rng(9)
    nulls = {"C-RF": rng.normal(0, 0.02, 12), "C-RA": rng.normal(0, 0.03, 12),
             "C-RA few-step": td.FEW_STEP_MARGIN + rng.normal(0, 0.02, 12),
             "C-RA far-below": td.FAR_BELOW_MARGIN * (1 + rng.normal(0, 0.1, 12))}
    monkeypatch.setattr(td, "cached_runs", lambda members: SimpleNamespace(seconds=0.0, seeds=members))
    monkeypatch.setattr(td, "_statistics", lambda runs: (values, nulls))
    outcome = td.ra_keeps_few_step()
    _, expected = _sensitivity_offences(values)
    for k, s in zip(td.MARGIN_DECISIONS, expected):
        got = outcome.evidence[k]["margin_sensitivity"]
        assert got == s and got["reported_decision"] == outcome.evidence[k]["decision"]["decision"]
        for key in ("confirming_margin", "confirming_margin_in_family", "refuting_margin"):
            assert isinstance(got[key], float)
    assert "margin_sensitivity" not in outcome.evidence.get("C-RF", {})
