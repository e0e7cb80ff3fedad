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
