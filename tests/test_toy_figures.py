"""The 2-D toy Reflow vs RA figures: experiment tables, deterministic plots, gallery entries, input errors."""

import dataclasses
import hashlib
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from collapse_theory.experiments import toy_reflow as toy
from collapse_theory import gallery
from collapse_theory.plotting import toy_reflow as toy_figures
from collapse_theory.plotting.style import save_figure

TINY = toy.ToyReflowSetting(rounds=1, steps=12, round0_steps=20, batch_size=32, width=8, depth=1, n_real=64,
                            n_synth=16, gen_steps=4, n_eval=20, n_samples=30, n_paths=3, path_times=5, seed=3)


@pytest.fixture(scope="module")
def tiny_run():
    return toy.run_toy_reflow(TINY)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tables_have_the_documented_columns_and_shapes(tiny_run):
    s = TINY
    samples, paths, metrics = tiny_run.samples, tiny_run.paths, tiny_run.metrics
    assert list(samples.columns) == toy.SAMPLE_COLUMNS
    assert len(samples) == s.n_samples * (1 + 2 * (s.rounds + 1))
    target = samples[samples["method"] == "target"]
    assert len(target) == s.n_samples and set(target["round"]) == {-1} and target["real_fraction"].isna().all()
    for method, alpha in (("reflow", 0.0), ("ra", s.real_fraction)):
        mine = samples[samples["method"] == method]
        assert sorted(mine["round"].unique()) == list(range(s.rounds + 1))
        assert set(mine["real_fraction"]) == {alpha}
        assert sorted(mine["sample_id"].unique()) == list(range(s.n_samples))
    # round 0 is the same 1-RF model for both methods (same seed), so the same samples
    r0 = [samples[(samples["method"] == m) & (samples["round"] == 0)][["x", "y"]].to_numpy() for m in ("reflow", "ra")]
    np.testing.assert_array_equal(r0[0], r0[1])

    assert list(paths.columns) == toy.PATH_COLUMNS
    groups = sorted(set(zip(paths["method"], paths["round"])))
    assert groups == [("ra", s.rounds), ("reflow", 0), ("reflow", s.rounds)]
    assert len(paths) == 3 * s.n_paths * s.path_times
    np.testing.assert_allclose(sorted(paths["t"].unique()), np.linspace(0, 1, s.path_times))
    starts = [g[g["t"] == 0].sort_values("path_id")[["x", "y"]].to_numpy()
              for _, g in paths.groupby(["method", "round"])]
    for start in starts[1:]:
        np.testing.assert_array_equal(start, starts[0])         # the same fixed noise points in every panel
    straight = metrics[metrics["metric"] == "straightness"]
    for (method, k), group in paths.groupby(["method", "round"]):
        expected = straight[(straight["method"] == method) & (straight["round"] == k)]["value"].iloc[0]
        assert group["straightness"].nunique() == 1 and group["straightness"].iloc[0] == expected
    assert set(metrics["method"]) == {"reflow", "ra"} and {"w2", "w2_gauss", "straightness"} <= set(metrics["metric"])
    assert np.isfinite(samples[["x", "y"]].to_numpy()).all() and np.isfinite(paths[["x", "y"]].to_numpy()).all()


def test_run_is_deterministic_for_a_seed(tiny_run):
    again = toy.run_toy_reflow(TINY)
    for name in ("samples", "paths", "metrics"):
        pd.testing.assert_frame_equal(getattr(tiny_run, name), getattr(again, name))
    other = toy.run_toy_reflow(TINY, seed=4)
    assert not other.samples[["x", "y"]].equals(tiny_run.samples[["x", "y"]])


def test_write_results_writes_three_tables_with_manifests(tmp_path):
    written = toy.write_results(tmp_path, TINY)
    assert [p.name for p in written] == list(toy.FILES.values())
    for path in written:
        manifest = json.loads((tmp_path / (path.name + ".manifest.json")).read_text())
        assert manifest["seed"] == TINY.seed and manifest["config"]["setting"]["n_synth"] == TINY.n_synth
        assert len(pd.read_csv(path)) > 0


def test_plots_are_deterministic_png_and_pdf(tiny_run, tmp_path):
    tiny_run.samples.to_csv(tmp_path / "s.csv", index=False)
    tiny_run.paths.to_csv(tmp_path / "p.csv", index=False)
    for name, plot, csv in (("samples", toy_figures.plot_toy_samples, "s.csv"),
                            ("paths", toy_figures.plot_toy_paths, "p.csv")):
        first = save_figure(plot(pd.read_csv(tmp_path / csv)), tmp_path / "a" / name)
        second = save_figure(plot(pd.read_csv(tmp_path / csv)), tmp_path / "b" / name)
        assert [p.suffix for p in first] == [".png", ".pdf"]
        for a, b in zip(first, second):
            assert a.stat().st_size > 5_000
            assert _digest(a) == _digest(b), a.name


def test_panels_share_limits_and_show_every_round(tiny_run):
    fig = toy_figures.plot_toy_samples(tiny_run.samples)
    axes = fig.axes
    assert len(axes) == 2 * (TINY.rounds + 1)
    assert len({ax.get_xlim() for ax in axes}) == 1 and len({ax.get_ylim() for ax in axes}) == 1
    assert any("RA, α = 0.5" in ax.get_title() for ax in axes) and any("Reflow" in ax.get_title() for ax in axes)
    fig = toy_figures.plot_toy_paths(tiny_run.paths)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("1-RF, round 0\nstraightness S = ")
    assert len(toy_figures.plot_toy_metrics(tiny_run.metrics).axes) == 3
    plt.close("all")


def test_gallery_entries_exist_with_claims_and_quick_variants():
    from collapse_theory.claims import registry

    ids = {c.id for c in registry.claims()}
    for figure_id in ("toy-reflow-samples", "toy-reflow-paths"):
        spec = gallery.FIGURES[figure_id]
        assert {"C-RF", "C-RA"} <= set(spec.claims) <= ids
        assert "experiments.toy_reflow" in spec.data_command and spec.quick_params == toy.QUICK
        assert "rounds=3" in gallery.data_command(spec, spec.quick_params)


def test_build_figures_quick_writes_data_manifest(tmp_path, monkeypatch):
    for figure_id in ("toy-reflow-samples", "toy-reflow-paths"):   # the quick variant at test size
        monkeypatch.setitem(gallery.FIGURES, figure_id,
                            dataclasses.replace(gallery.FIGURES[figure_id], quick_params=TINY))
    manifest = gallery.build_figures(tmp_path, only=["toy-reflow-samples", "toy-reflow-paths"], quick=True)
    assert list(manifest["figure_id"]) == ["toy-reflow-samples", "toy-reflow-paths"]
    assert manifest["data_command"].str.contains("ToyReflowSetting(rounds=", regex=False).all()
    for figure_id in ("toy-reflow-samples", "toy-reflow-paths"):
        side = json.loads((tmp_path / "data" / f"{figure_id}.csv.manifest.json").read_text())
        assert side["config"]["setting"] == json.loads(json.dumps(dataclasses.asdict(TINY)))
        assert (tmp_path / f"{figure_id}.png").exists() and (tmp_path / f"{figure_id}.pdf").exists()


def test_reproduce_uses_quick_figures_without_the_trained_tier(tmp_path, monkeypatch):
    from collapse_theory import report

    seen = []
    monkeypatch.setattr(gallery, "build_figures", lambda out, quick=False, **kw: seen.append(quick) or None)
    report.reproduce(tmp_path / "q", tiers=["numeric"], progress=False, claim_ids=["DAE-STEP"])
    report.reproduce(tmp_path / "f", tiers=["numeric"], progress=False, claim_ids=["DAE-STEP"], quick=False)
    assert seen == [True, False]


def test_off_mode_fraction(tiny_run):
    off = toy.off_mode_fraction(tiny_run.samples)
    assert list(off.columns) == ["method", "round", "off_mode_fraction"]
    assert off["off_mode_fraction"].between(0, 1).all()
    ring = pd.DataFrame({"method": "target", "real_fraction": np.nan, "round": -1, "sample_id": [0, 1],
                         "x": [4.0, 0.0], "y": [0.0, 0.0]})
    assert toy.off_mode_fraction(ring)["off_mode_fraction"].iloc[0] == 0.5   # a mode centre and the origin


@pytest.mark.parametrize("kwargs, message", [
    ({"rounds": 0}, "^rounds must be an integer >= 1"),
    ({"n_paths": 0}, "^n_paths must be an integer >= 1"),
    ({"path_times": 1}, "^path_times must be an integer >= 2"),
    ({"real_fraction": 0.0}, "^real_fraction must be > 0"),
    ({"real_fraction": 1.5}, "^real_fraction must lie in"),
    ({"data": "spiral"}, "^data must be one of"),
    ({"lr": -1.0}, "^lr must be a finite number"),
    ({"bogus": 1}, "^bogus is not a ToyReflowSetting field"),
])
def test_bad_settings_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        toy.run_toy_reflow(TINY, **kwargs)


def test_bad_plot_input_names_the_argument(tiny_run):
    with pytest.raises(ValueError, match="^data must have the columns"):
        toy_figures.plot_toy_samples(tiny_run.samples.drop(columns=["sample_id"]))
    with pytest.raises(ValueError, match="^data must be a pandas DataFrame"):
        toy_figures.plot_toy_paths([[0, 1]])
    with pytest.raises(ValueError, match="^data must hold samples"):
        toy_figures.plot_toy_samples(tiny_run.samples[tiny_run.samples["method"] == "target"])
    bad = tiny_run.paths.copy()
    bad.loc[0, "x"] = np.nan
    with pytest.raises(ValueError, match="^data must have finite x and y"):
        toy_figures.plot_toy_paths(bad)
    with pytest.raises(ValueError, match="^sampler must be one of"):
        toy_figures.plot_toy_metrics(tiny_run.metrics, sampler="rk4")
    with pytest.raises(ValueError, match="^n_std must be"):
        toy.off_mode_fraction(tiny_run.samples, n_std=0)
    with pytest.raises(ValueError, match="^setting must be a ToyReflowSetting"):
        toy.run_toy_reflow({"rounds": 1})
