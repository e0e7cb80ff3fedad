"""The collapse-laws figure: tidy data with one normalised curve per law and panel, drawn in both panels, registered
in the gallery with every law claim, and the committed data equal to a fresh run."""

import io
import pathlib

import pandas as pd
import pytest

from collapse_theory.experiments.laws import COLUMNS, CollapseLawsFigure, collapse_laws_frame
from collapse_theory.gallery import FIGURES
from collapse_theory.plotting.laws import plot_collapse_laws

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_frame_is_tidy_and_normalised():
    frame = collapse_laws_frame(rounds=12, zipf_rounds=6)
    assert list(frame.columns) == COLUMNS
    assert set(frame["panel"]) == {"synthetic", "real"}
    for curve, group in frame.groupby("curve"):
        values = group.sort_values("round")["value"].to_numpy()
        assert min(abs(values[0] - 1), abs(values[1] - 1)) < 1e-12, curve
    claims = set(frame["claim"])
    assert {"LAW-GAUSSIAN-REFIT", "LAW-WRIGHT-FISHER", "LAW-REGRESSION-CHAIN", "LAW-ZIPF-TAIL"} <= claims


def test_plot_draws_both_panels():
    fig = plot_collapse_laws(collapse_laws_frame(rounds=8, zipf_rounds=4))
    axes = [ax for ax in fig.axes if ax.get_yscale() == "log"]
    assert len(axes) == 2 and all(len(ax.lines) >= 7 for ax in axes)


def test_gallery_entry_and_committed_data_match():
    spec = FIGURES["collapse-laws"]
    assert all(c.startswith("LAW-") for c in spec.claims) and len(spec.claims) == 8
    committed = (ROOT / "figures" / "data" / "collapse-laws.csv").read_text()
    buffer = io.StringIO()
    CollapseLawsFigure().make_data().to_csv(buffer, index=False, lineterminator="\n")
    assert buffer.getvalue() == committed
    assert (ROOT / "figures" / "collapse-laws.png").exists()


def test_bad_figure_parameters_name_the_field():
    with pytest.raises(ValueError, match="^zipf_rounds"):
        CollapseLawsFigure(zipf_rounds=31).validated()
    with pytest.raises(ValueError, match="^rounds"):
        CollapseLawsFigure(rounds=1).make_data()
