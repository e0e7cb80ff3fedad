"""Figures: drawn from tidy data files, listed in MANIFEST.csv, byte-identical when regenerated."""

import hashlib

import pandas as pd
import pytest

from collapse_theory.gallery import FIGURES, build_figures


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_figures_writes_manifest_data_and_images(tmp_path):
    manifest = build_figures(tmp_path, quick=True)   # quick: the image figures read the committed smoke-run data
    assert list(manifest["figure_id"]) == list(FIGURES)
    on_disk = pd.read_csv(tmp_path / "MANIFEST.csv")
    assert list(on_disk.columns) == ["figure_id", "title", "png", "pdf", "data_file", "data_command", "claims"]
    for row in on_disk.itertuples():
        assert (tmp_path / row.png).stat().st_size > 10_000
        assert (tmp_path / row.pdf).stat().st_size > 5_000
        assert len(pd.read_csv(tmp_path / row.data_file)) > 0
        assert row.claims


def test_figures_are_deterministic(tmp_path):
    build_figures(tmp_path / "a", only=["dae-real-fraction", "dae-spectrum"])
    build_figures(tmp_path / "b", only=["dae-real-fraction", "dae-spectrum"])
    for name in ("dae-real-fraction.png", "dae-real-fraction.pdf", "dae-spectrum.png", "data/dae-spectrum.csv"):
        assert _digest(tmp_path / "a" / name) == _digest(tmp_path / "b" / name), name


def test_only_updates_its_rows_and_rejects_unknown_ids(tmp_path):
    build_figures(tmp_path, only=["dae-collapse"])
    manifest = build_figures(tmp_path, only=["dae-spectrum"])
    assert list(manifest["figure_id"]) == ["dae-collapse", "dae-spectrum"]
    with pytest.raises(ValueError, match="^only must name figures"):
        build_figures(tmp_path, only=["nope"])


def test_figure_claims_exist_in_the_registry():
    from collapse_theory.claims import registry

    ids = {c.id for c in registry.claims()}
    for spec in FIGURES.values():
        assert set(spec.claims) <= ids


# --------------------------------------------------------------------------------------------- parameters

from collapse_theory import gallery  # noqa: E402
from collapse_theory.experiments import dae as dae_experiments  # noqa: E402


def test_every_figure_has_a_parameter_dataclass_with_valid_defaults():
    import dataclasses

    for figure_id, spec in FIGURES.items():
        assert dataclasses.is_dataclass(spec.params), figure_id
        assert spec.params.validated() == spec.params
        assert gallery.parameter_rows(figure_id), figure_id


def test_listing_shows_parameters_with_defaults():
    text = gallery.parameter_listing()
    for figure_id in FIGURES:
        assert f"{figure_id}: " in text
    assert "sigma2=0.1,0.2,0.5,1" in text and "rounds=auto" in text and "committed=false" in text


def test_set_overrides_and_draws(tmp_path):
    params = gallery.parse_settings(["dae-collapse"], ["sigma2=0.05,0.3", "rounds=120", "replicates=0"])
    p = params["dae-collapse"]
    assert p.sigma2 == (0.05, 0.3) and p.rounds == 120 and p.replicates == 0
    manifest = build_figures(tmp_path, only=["dae-collapse"], params=params)
    data = pd.read_csv(tmp_path / "data" / "dae-collapse.csv")
    assert sorted(data["sigma2"].unique()) == [0.05, 0.3] and data["round"].max() == 120
    assert "sigma2=(0.05, 0.3)" in manifest["data_command"].iloc[0]
    assert (tmp_path / "dae-collapse.png").stat().st_size > 10_000


def test_rounds_default_to_until_every_curve_has_collapsed():
    """auto rounds: the last curve's closed-form ||W_k|| has just fallen below the figure's floor; one round
    fewer than that is not enough."""
    from collapse_theory.theory import dae_recursion

    for sigma2 in ((0.1, 0.2, 0.5, 1.0), (0.05,), (0.5, 2.0)):
        p = dae_experiments.CollapseFigure(sigma2=sigma2)
        rounds = p.resolved_rounds()
        traj = dae_recursion(list(p.spectrum), sigma2=list(sigma2), rounds=rounds, regime="replace")
        assert (traj.op_norm[rounds - 2] <= dae_experiments.COLLAPSED_GAIN).all()
        assert (traj.op_norm[rounds - 3] > dae_experiments.COLLAPSED_GAIN).any()


@pytest.mark.parametrize("settings, message", [
    (["sigma2=-1"], "^sigma2 must be > 0"),
    (["sigma2=a,b"], "^sigma2 must be a comma-separated list of numbers"),
    (["rounds=1.5"], "^rounds must be an integer"),
    (["rounds=0"], "^rounds must be an integer >= 1"),
    (["rounds=100000"], "^rounds must be <= 2000"),
    (["sigma2=1e-6"], "^sigma2 must be large enough"),
    (["replicates=-1"], "^replicates must be an integer >= 0"),
    (["nope=1"], "^set: nope is not a parameter of figure dae-collapse"),
    (["sigma2"], "^set must look like name=value"),
])
def test_bad_settings_are_one_line_errors_naming_the_parameter(settings, message):
    with pytest.raises(ValueError, match=message) as info:
        gallery.parse_settings(["dae-collapse"], settings)
    assert "\n" not in str(info.value)


def test_settings_for_other_figures():
    assert gallery.parse_settings(["dae-real-fraction"], ["alphas=0,0.3"])["dae-real-fraction"].alphas == (0.0, 0.3)
    with pytest.raises(ValueError, match="^alphas must lie in"):
        gallery.parse_settings(["dae-real-fraction"], ["alphas=0,1.5"])
    with pytest.raises(ValueError, match="^rule must be"):
        gallery.parse_settings(["dae-spectrum"], ["rule=dirty"])
    with pytest.raises(ValueError, match="^committed must be false"):
        gallery.parse_settings(["image-reflow-fd-nfe"], ["seed=3"], quick=True)
    quick = gallery.parse_settings(["toy-reflow-paths"], ["seed=2"], quick=True)["toy-reflow-paths"]
    assert quick.seed == 2 and quick.rounds == 3                       # quick parameters, then the override


# --------------------------------------------------------------------------------------------- a clean checkout

def test_regenerating_identical_data_rewrites_neither_data_nor_manifest(tmp_path):
    """Figures whose data carry a run manifest (time stamp, argv, git revision): a second build with the same data
    leaves the data file, its manifest and MANIFEST.csv untouched (same inode: not even replaced)."""
    import time

    ids = ["image-reflow-fd-nfe"]                       # quick: from the committed smoke-run data, carries a manifest
    build_figures(tmp_path, only=ids, quick=True)
    files = [tmp_path / "data" / "image-reflow-fd-nfe.csv", tmp_path / "data" / "image-reflow-fd-nfe.csv.manifest.json",
             tmp_path / "MANIFEST.csv", tmp_path / "image-reflow-fd-nfe.png"]
    before = [(f.stat().st_ino, f.read_bytes()) for f in files]
    time.sleep(1.1)                                     # a rewritten manifest would carry a new time stamp
    build_figures(tmp_path, only=ids, quick=True)
    after = [(f.stat().st_ino, f.read_bytes()) for f in files]
    assert after[:3] == before[:3]
    assert after[3][1] == before[3][1]                  # the PNG is byte-identical (re-saved)


def test_changed_data_rewrite_the_manifest(tmp_path):
    from collapse_theory.outputs import write_with_manifest

    target = tmp_path / "x.csv"
    write_with_manifest(target, "a\n1\n", {"run": 1})
    write_with_manifest(target, "a\n1\n", {"run": 2})     # same data: the first manifest stays
    assert '"run": 1' in (tmp_path / "x.csv.manifest.json").read_text()
    write_with_manifest(target, "a\n2\n", {"run": 3})     # new data: new manifest
    assert '"run": 3' in (tmp_path / "x.csv.manifest.json").read_text() and target.read_text() == "a\n2\n"


# --------------------------------------------------------------------------------------------- the CLI

def test_cli_lists_sets_and_rejects(tmp_path, capsys):
    from collapse_theory.cli import main

    assert main(["figures", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(f"{figure_id}: " in listing for figure_id in FIGURES) and "sigma2=0.1,0.2,0.5,1" in listing
    assert not (tmp_path / "MANIFEST.csv").exists()
    assert main(["figures", "--only", "dae-real-fraction", "--set", "alphas=0,0.5", "--set", "rounds=12",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    data = pd.read_csv(tmp_path / "data" / "dae-real-fraction.csv")
    assert sorted(data["real_fraction"].unique()) == [0.0, 0.5] and data["round"].max() == 12
    capsys.readouterr()
    for argv, message in ((["--set", "alphas=0,2"], "--set alphas must lie in [0, 1]"),
                          (["--set", "rounds=0"], "--set rounds must be an integer >= 1"),
                          (["--set", "nope=1"], "--set nope is not a parameter of figure dae-real-fraction")):
        assert main(["figures", "--only", "dae-real-fraction", "--out", str(tmp_path / "bad"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"collapse-theory: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()                       # nothing drawn on bad input


def test_keep_going_draws_the_others_and_names_the_failure(tmp_path, monkeypatch):
    import dataclasses

    def broken(params):
        raise ValueError("results_dir must hold x.csv")

    spec = dataclasses.replace(FIGURES["dae-spectrum"], figure_id="broken-figure", make_data=broken)
    monkeypatch.setitem(gallery.FIGURES, "broken-figure", spec)
    with pytest.raises(ValueError, match="results_dir"):
        build_figures(tmp_path, only=["broken-figure", "dae-spectrum"])
    manifest = build_figures(tmp_path, only=["broken-figure", "dae-spectrum"], keep_going=True)
    assert list(manifest["figure_id"]) == ["dae-spectrum"] and (tmp_path / "dae-spectrum.png").exists()
    assert manifest.attrs["failed"] == {"broken-figure": "ValueError: results_dir must hold x.csv"}
    from collapse_theory.report import render_html

    page = render_html([], ["numeric"], manifest, 0.0, tmp_path)
    assert "<h2>Figures not drawn</h2>" in page and "broken-figure" in page
