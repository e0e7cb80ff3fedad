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
