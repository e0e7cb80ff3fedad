"""The figure registry: every figure is drawn from one tidy results file by one plotting function.

:func:`build_figures` (CLI: ``collapse-theory figures``) makes each figure's data, writes it to
``<out>/data/<id>.csv``, reads it back, draws PNG and PDF, and writes ``<out>/MANIFEST.csv`` with the
figure ID, files, data file, the command that made the data and the claim IDs it illustrates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..experiments import dae_theory, gaussian_reflow_figures
from ..runio import atomic_write_text
from . import dae_figures, flow_figures
from .style import save_figure


@dataclass(frozen=True)
class FigureSpec:
    figure_id: str
    title: str
    make_data: Callable[[], pd.DataFrame]
    plot: Callable[[pd.DataFrame], object]
    claims: tuple[str, ...]
    data_command: str


FIGURES: dict[str, FigureSpec] = {spec.figure_id: spec for spec in (
    FigureSpec("dae-collapse", "‖W_k‖ vs round, purely synthetic, several σ²: closed form and trained DAEs",
               dae_theory.collapse_curves_with_trained, dae_figures.plot_collapse,
               ("C-collapse", "DAE-COLLAPSE-RATE", "DAE-FINITE-SAMPLE"),
               "collapse_theory.experiments.dae_theory.collapse_curves_with_trained()"),
    FigureSpec("dae-real-fraction", "‖W_k‖ vs round for real fractions α ∈ {0, 0.05, 0.1, 0.25, 0.5, 1}",
               dae_theory.real_fraction_curves, dae_figures.plot_real_fraction, ("C-real", "DAE-REAL-FIXED-POINT"),
               "collapse_theory.experiments.dae_theory.real_fraction_curves()"),
    FigureSpec("dae-spectrum", "eigen-spectrum evolution across rounds (replace)",
               dae_theory.spectrum_evolution, dae_figures.plot_spectrum, ("DAE-STEP", "DAE-DOUBLY-EXP"),
               "collapse_theory.experiments.dae_theory.spectrum_evolution()"),
    FigureSpec("dae-phase-diagram", "fixed-point gain over (α, σ²/λmax); rounds to collapse at α = 0",
               dae_theory.phase_diagram, dae_figures.plot_phase_diagram, ("DAE-REAL-FIXED-POINT", "DAE-ROUNDS"),
               "collapse_theory.experiments.dae_theory.phase_diagram()"),
    FigureSpec("gaussian-reflow-w2", "estimated Gaussian Reflow vs RA / ORA / ORAS: W2 per round, log-det drift",
               gaussian_reflow_figures.reflow_w2_curves, flow_figures.plot_gaussian_reflow,
               ("C-RF", "C-RA", "REFLOW-ESTIMATED-DRIFT", "RA-REFLOW-BOUNDED"),
               "collapse_theory.experiments.gaussian_reflow_figures.reflow_w2_curves()"),
)}

MANIFEST_COLUMNS = ["figure_id", "title", "png", "pdf", "data_file", "data_command", "claims"]


def build_figures(out_dir: str | Path = "figures", only: list[str] | None = None) -> pd.DataFrame:
    """Regenerate the selected figures (default: all) into ``out_dir``; returns the manifest rows written."""
    out = Path(out_dir)
    ids = list(FIGURES) if not only else only
    unknown = [i for i in ids if i not in FIGURES]
    if unknown:
        raise ValueError(f"only must name figures among {', '.join(FIGURES)}, got {', '.join(unknown)}")
    manifest_path = out / "MANIFEST.csv"
    previous = pd.read_csv(manifest_path) if manifest_path.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
    rows = []
    for figure_id in ids:
        spec = FIGURES[figure_id]
        data_file = out / "data" / f"{figure_id}.csv"
        atomic_write_text(data_file, spec.make_data().to_csv(index=False, lineterminator="\n"))
        fig = spec.plot(pd.read_csv(data_file))
        png, pdf = save_figure(fig, out / figure_id)
        rows.append({"figure_id": figure_id, "title": spec.title, "png": png.name, "pdf": pdf.name,
                     "data_file": f"data/{data_file.name}", "data_command": spec.data_command,
                     "claims": " ".join(spec.claims)})
    kept = previous[~previous["figure_id"].isin(ids)] if len(previous) else previous
    manifest = pd.concat([kept, pd.DataFrame(rows, columns=MANIFEST_COLUMNS)], ignore_index=True)
    manifest = manifest.set_index("figure_id").reindex([i for i in FIGURES if i in set(manifest["figure_id"])]
                                                       ).reset_index()
    buffer = io.StringIO()
    manifest.to_csv(buffer, index=False, lineterminator="\n")
    atomic_write_text(manifest_path, buffer.getvalue())
    return manifest
