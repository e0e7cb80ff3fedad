"""The image tier's decisions of C-RF and C-RA (claims/flow/image.py) and the seed-batched image Reflow driver
(train/image/ensemble_reflow.py), at CI sizes through the same code path as the full run."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from collapse_theory.claims.flow import image as image_checks  # noqa: E402
from collapse_theory.claims.registry import run_checks  # noqa: E402
from collapse_theory.stats.decisions import decide, detectable_effect  # noqa: E402
from collapse_theory.train.image.ensemble_reflow import EnsembleReflowConfig, run_ensemble_reflow  # noqa: E402

TINY = dict(rounds=1, round0_steps=12, steps=6, warmup_steps=3, n_pairs=48, gen_steps=3, n_eval=48, n_train=64,
            regen_every=3)


def _tiny(**kw) -> EnsembleReflowConfig:
    return EnsembleReflowConfig(**(TINY | kw))


def test_protocols_are_pre_registered_and_seed_block_free():
    """8 seeds, paired t, level 0.01 over a family of 3; another seed block changes the seeds and nothing else."""
    for key, p in image_checks.PROTOCOLS.items():
        assert p.seeds == tuple(range(8)) and p.test == "paired-t" and p.level == 0.01 and p.family_size == 3
        assert p.can_confirm()
        other = image_checks.protocols_for(range(8, 16))[key]
        assert dataclasses.replace(other, seeds=p.seeds) == p and other.hash() != p.hash()
    assert image_checks.PROTOCOLS["ra-fewstep"].margin == pytest.approx(math.log(4))
    assert image_checks.full_config().seeds == tuple(range(8)) and image_checks.full_config().rounds >= 5


def _synthetic_frame(slope=0.3, gap=0.8, seeds=range(4), rounds=3):
    rng = np.random.default_rng(0)
    rows = []
    for s in seeds:
        for k in range(rounds + 1):
            for method in ("reflow", "ra"):
                fd16 = 5 + (slope * k if method == "reflow" else 0.0) + rng.normal(0, 0.01)
                fd1 = (60.0 if k == 0 else 6.0 + (gap if method == "reflow" else 0.0)) * (1 + rng.normal(0, 0.01))
                for nfe, v in ((1, fd1), (16, fd16)):
                    rows.append(dict(method=method, seed=s, round=k, nfe=nfe, value=v, real_vs_real=1.0))
            if k >= 1:   # the null rows: the 1-RF on fresh noise, no trend
                for nfe, v in ((1, 60.0 * (1 + rng.normal(0, 0.01))), (16, 5 + rng.normal(0, 0.01))):
                    rows.append(dict(method="1-rf-null", seed=s, round=k, nfe=nfe, value=v, real_vs_real=1.0))
    return pd.DataFrame(rows)


def test_statistics_equal_their_reference_and_mutants_differ():
    frame, seeds = _synthetic_frame(), list(range(4))
    for key, fn in image_checks.STATISTICS.items():
        assert np.allclose(fn(frame, seeds), image_checks.reference_values(key, frame, seeds), rtol=1e-12)
    assert np.allclose(image_checks.reflow_slopes(frame, seeds), 0.3, atol=0.05)
    assert np.allclose(image_checks.fewstep_log_ratio(frame, seeds), math.log(10), atol=0.05)
    mutants = [(k, m) for k, ms in (("reflow-slope", image_checks.SLOPE_MUTANTS),
                                    ("reflow-minus-ra", image_checks.DIFF_MUTANTS),
                                    ("ra-fewstep", image_checks.FEWSTEP_MUTANTS)) for m in ms.values()]
    for key, mutant in mutants:
        assert not np.allclose(mutant(frame, seeds), image_checks.reference_values(key, frame, seeds))


def test_controls_reject_deciders_that_always_confirm():
    """The controls (from a null statistic: true mean 0) catch a decision rule that ignores the test: 'confirm when
    the mean is positive'."""
    protocol = image_checks.PROTOCOLS["reflow-minus-ra"]
    values = np.random.default_rng(1).normal(0.0, 0.3, 8)
    good = image_checks.controls(protocol, values)
    assert good["null"] == "inconclusive" and good["planted"] == "confirmed"

    def naive(p, v):
        return dataclasses.replace(decide(p, v), decision="confirmed" if np.mean(v) >= p.margin else "refuted")

    bad = image_checks.controls(protocol, values, decide_fn=naive)
    assert bad["null"] != "inconclusive"


@pytest.fixture(scope="module")
def ci_results():
    image_checks.use_config(image_checks.ci_config())
    try:
        yield run_checks(["image"])
    finally:
        image_checks.use_config(None)


def test_image_tier_runs_at_ci_size_and_reports_decisions(ci_results):
    """verify --tier image's checks at the CI size (2 seeds, 2 rounds): machinery and controls pass, and each check
    carries a decision with the keys verify --json prints."""
    assert [(r.claim_id, r.name) for r in ci_results] == [("C-RF", "reflow-fd16-slope"),
                                                          ("C-RA", "reflow-minus-ra-fd16"),
                                                          ("C-RA", "ra-fewstep-vs-1rf")]
    for r in ci_results:
        assert r.status == "pass", r.message or r.evidence
        d = r.as_dict()
        for key in ("decision", "n_seeds", "effect", "ci_low", "ci_high", "p_value"):
            assert key in d
        assert d["n_seeds"] == 2 and d["decision"] in ("confirmed", "refuted", "inconclusive")
        assert all(r.mutants_rejected.values())


def test_results_are_written_with_protocol_hashes(tmp_path):
    result = run_ensemble_reflow(_tiny(seeds=(0, 1), once=()))
    csv, manifest = image_checks.write_results(result, tmp_path)
    frame = pd.read_csv(csv)
    assert set(frame["method"]) == {"reflow", "ra", "1-rf-null"} and set(frame["nfe"]) == {1, 16}
    nulls = frame[frame["method"] == "1-rf-null"]
    assert sorted(nulls["round"].unique()) == [1] and sorted(nulls["seed"].unique()) == [0, 1]
    assert (frame["n_samples"] == 48).all() and frame["real_vs_real"].nunique() == 1
    import json

    doc = json.loads(manifest.read_text())
    assert doc["protocols"]["reflow-slope"]["hash"] == image_checks.protocols_for((0, 1))["reflow-slope"].hash()


def test_batched_member_equals_the_member_alone():
    """RA of seed 1 in a run with seed 0 and with Reflow and ORAS members gives the FDs it gives alone (float32:
    the batched convolutions round differently, so rel 1e-3)."""
    both = run_ensemble_reflow(_tiny(seeds=(0, 1), methods=("reflow", "ra"), once=(("oras", 0),)))
    alone = run_ensemble_reflow(_tiny(seeds=(1,), methods=("ra",), once=()))

    def pick(frame, seed):
        sel = frame[(frame["method"] == "ra") & (frame["seed"] == seed)]
        return sel.sort_values(["round", "nfe"])["value"].to_numpy()

    assert np.allclose(pick(both.frame, 1), pick(alone.frame, 1), rtol=1e-3)
    assert not np.allclose(pick(both.frame, 1), pick(both.frame, 0), rtol=1e-3)


def test_null_control_through_the_code_path_is_inconclusive_and_planted_is_confirmed():
    """ra with real fraction 0 against reflow, 8 seeds, through the same driver: the pre-registered C-RA protocol
    (on these seeds) is inconclusive; the same values with the protocol's detectable effect planted are confirmed."""
    seeds = tuple(range(8))
    result = run_ensemble_reflow(_tiny(seeds=seeds, methods=("reflow", "ra"), once=(),
                                       real_fractions=(("ra", 0.0),)))
    protocol = image_checks.protocols_for(seeds)["reflow-minus-ra"]
    values = image_checks.last_round_difference(result.frame, seeds)
    assert decide(protocol, values, seeds).decision == "inconclusive"
    planted = values - values.mean() + detectable_effect(protocol, float(values.std(ddof=1)))
    assert decide(protocol, planted, seeds).decision == "confirmed"


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="methods"):
        run_ensemble_reflow(_tiny(methods=("nope",)))
    with pytest.raises(ValueError, match="real_fraction"):
        run_ensemble_reflow(_tiny(real_fractions=(("reflow", 0.5),)))
    with pytest.raises(ValueError, match="seeds"):
        run_ensemble_reflow(_tiny(seeds=()))
    with pytest.raises(ValueError, match="once"):
        run_ensemble_reflow(_tiny(seeds=(0,), once=(("ora", 5),)))


def test_figure_data_and_plot_from_a_results_folder(tmp_path):
    """The figure's table (per-seed lines, mean with its t interval, ORA/ORAS once, the floor) and its plot."""
    import matplotlib

    matplotlib.use("Agg")
    from collapse_theory.experiments.reflow_decisions import DecisionsFigure, decisions_frame
    from collapse_theory.plotting.reflow_decisions import plot_reflow_decisions

    frame = _synthetic_frame(seeds=range(3)).assign(n_samples=297)
    extra = frame[(frame["method"] == "ra") & (frame["seed"] == 0)].assign(method="oras")
    pd.concat([frame, extra]).to_csv(tmp_path / "image-reflow-decisions.csv", index=False)
    table = decisions_frame(DecisionsFigure(results_dir=str(tmp_path)))
    mean = table[(table["kind"] == "mean") & (table["method"] == "reflow") & (table["nfe"] == 16)]
    seeds = table[(table["kind"] == "seed") & (table["method"] == "reflow") & (table["nfe"] == 16)]
    assert len(mean) == 4 and (mean["n_seeds"] == 3).all() and (mean["ci_low"] < mean["value"]).all()
    assert np.allclose(mean.sort_values("round")["value"], seeds.groupby("round")["value"].mean())
    assert set(table[table["kind"] == "once"]["method"]) == {"oras"}
    assert (table[table["kind"] == "floor"]["value"] == 1.0).all()
    fig = plot_reflow_decisions(table)
    assert len(fig.axes) == 3      # NFE 1, NFE 16, the paired difference
    assert "1-rf-null" not in set(table["method"])
    with pytest.raises(ValueError, match="results_dir"):
        decisions_frame(DecisionsFigure(results_dir=str(tmp_path / "missing")))


def test_decisions_recomputed_from_a_results_file(tmp_path):
    """decide_results reads a results file and gives each protocol's decision with the check's status."""
    from collapse_theory.experiments.reflow_decisions import decide_results

    frame = _synthetic_frame(seeds=range(8)).assign(n_samples=297)
    frame.to_csv(tmp_path / "image-reflow-decisions.csv", index=False)
    out = {d["protocol"]: d for d in decide_results(tmp_path)}
    assert set(out) == set(image_checks.PROTOCOLS)
    assert all(d["status"] == "pass" and d["n_seeds"] == 8 for d in out.values())
    assert out["reflow-slope"]["decision"] == "confirmed" and out["ra-fewstep"]["claim"] == "C-RA"
    old = frame[frame["method"] != "1-rf-null"]        # a results file from before the null rows existed
    old.to_csv(tmp_path / "image-reflow-decisions.csv", index=False)
    with pytest.raises(ValueError, match="1-rf-null"):
        decide_results(tmp_path)


def test_controls_place_the_null_at_the_margin_and_the_planted_at_the_detectable_mean():
    """For the margin protocol (log 4): null = null statistic + margin; planted = null statistic + the true mean the
    protocol confirms with power 0.999 (margin included, not added twice)."""
    protocol = image_checks.PROTOCOLS["ra-fewstep"]
    v = np.random.default_rng(3).normal(0.0, 0.05, 8)
    seen = []

    def spy(p, values):
        seen.append(np.asarray(values, dtype=float))
        return decide(p, values)

    out = image_checks.controls(protocol, v, decide_fn=spy)
    target = detectable_effect(protocol, float(v.std(ddof=1)), image_checks.PLANTED_POWER)
    assert np.allclose(seen[0] - v, protocol.margin, rtol=0, atol=1e-12)
    assert np.allclose(seen[1] - v, target, rtol=0, atol=1e-12) and target > protocol.margin
    assert out["null"] == "inconclusive" and out["planted"] == "confirmed"
