"""The figure registry: every figure is drawn from one tidy results file by one plotting function.

:func:`build_figures` (CLI: ``collapse-theory figures``) makes each figure's data, writes it to
``<out>/data/<id>.csv``, reads it back, draws PNG and PDF, and writes ``<out>/MANIFEST.csv`` with the
figure ID, files, data file, the command that made the data and the claim IDs it illustrates. A data frame
whose ``attrs`` hold a ``run_manifest`` (config, seed, versions; :func:`collapse_theory.outputs.run_manifest`) is
written with that manifest beside it (``<id>.csv.manifest.json``). ``quick=True`` uses a figure's
``make_quick_data`` where it has one (a smaller run of the same experiment, for ``reproduce --quick``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .experiments import (
    dae as dae_theory,
    gaussian_reflow as gaussian_reflow_figures,
    image_reflow as image_reflow_figures,
    toy_reflow as toy_reflow_figures,
)
from .outputs import atomic_write_text, write_with_manifest
from .plotting import (
    dae as dae_figures,
    gaussian_reflow as flow_figures,
    image_reflow as image_figures,
    toy_reflow as toy_figures,
)
from .plotting.style import save_figure


@dataclass(frozen=True)
class FigureSpec:
    figure_id: str
    title: str
    make_data: Callable[[], pd.DataFrame]
    plot: Callable[[pd.DataFrame], object]
    claims: tuple[str, ...]
    data_command: str
    make_quick_data: Callable[[], pd.DataFrame] | None = None
    quick_data_command: str | None = None


FIGURES: dict[str, FigureSpec] = {spec.figure_id: spec for spec in (
    FigureSpec("dae-collapse", "‖W_k‖ vs round, purely synthetic, several σ²: closed form and trained DAEs",
               dae_theory.collapse_curves_with_trained, dae_figures.plot_collapse,
               ("C-collapse", "DAE-COLLAPSE-RATE", "DAE-FINITE-SAMPLE"),
               "collapse_theory.experiments.dae.collapse_curves_with_trained()"),
    FigureSpec("dae-real-fraction", "‖W_k‖ vs round for real fractions α ∈ {0, 0.05, 0.1, 0.25, 0.5, 1}",
               dae_theory.real_fraction_curves, dae_figures.plot_real_fraction, ("C-real", "DAE-REAL-FIXED-POINT"),
               "collapse_theory.experiments.dae.real_fraction_curves()"),
    FigureSpec("dae-spectrum", "eigen-spectrum evolution across rounds (replace)",
               dae_theory.spectrum_evolution, dae_figures.plot_spectrum, ("DAE-STEP", "DAE-DOUBLY-EXP"),
               "collapse_theory.experiments.dae.spectrum_evolution()"),
    FigureSpec("dae-phase-diagram", "fixed-point gain over (α, σ²/λmax); rounds to collapse at α = 0",
               dae_theory.phase_diagram, dae_figures.plot_phase_diagram, ("DAE-REAL-FIXED-POINT", "DAE-ROUNDS"),
               "collapse_theory.experiments.dae.phase_diagram()"),
    FigureSpec("gaussian-reflow-w2", "estimated Gaussian Reflow vs RA / ORA / ORAS: W2 per round, log-det drift",
               gaussian_reflow_figures.reflow_w2_curves, flow_figures.plot_gaussian_reflow,
               ("C-RF", "C-RA", "REFLOW-ESTIMATED-DRIFT", "RA-REFLOW-BOUNDED"),
               "collapse_theory.experiments.gaussian_reflow.reflow_w2_curves()"),
    FigureSpec("toy-reflow-samples", "trained Reflow vs RA (α = 0.5) on the 8-Gaussian ring: samples per round",
               toy_reflow_figures.samples_frame, toy_figures.plot_toy_samples, ("C-RF", "C-RA"),
               "collapse_theory.experiments.toy_reflow.samples_frame()",
               lambda: toy_reflow_figures.samples_frame(quick=True),
               "collapse_theory.experiments.toy_reflow.samples_frame(quick=True)"),
    FigureSpec("toy-reflow-paths", "ODE paths of fixed noise points: 1-RF vs the last Reflow / RA round, straightness",
               toy_reflow_figures.paths_frame, toy_figures.plot_toy_paths, ("C-RF", "C-RA"),
               "collapse_theory.experiments.toy_reflow.paths_frame()",
               lambda: toy_reflow_figures.paths_frame(quick=True),
               "collapse_theory.experiments.toy_reflow.paths_frame(quick=True)"),
    FigureSpec("image-reflow-fd-rounds", "smoke-scale image Reflow vs RA (α = 0.5): feature FD per round, per sampler",
               image_reflow_figures.fd_rounds_frame, image_figures.plot_fd_rounds, ("C-RF", "C-RA"),
               "collapse_theory.experiments.image_reflow.fd_rounds_frame()",
               lambda: image_reflow_figures.fd_rounds_frame(quick=True),
               "collapse_theory.experiments.image_reflow.fd_rounds_frame(quick=True)"),
    FigureSpec("image-reflow-fd-nfe", "image Reflow vs RA: feature FD vs NFE at the last round (1-RF for reference)",
               image_reflow_figures.fd_nfe_frame, image_figures.plot_fd_nfe, ("C-RF", "C-RA"),
               "collapse_theory.experiments.image_reflow.fd_nfe_frame()",
               lambda: image_reflow_figures.fd_nfe_frame(quick=True),
               "collapse_theory.experiments.image_reflow.fd_nfe_frame(quick=True)"),
    FigureSpec("image-reflow-samples", "image Reflow vs RA: 64-sample grids at round 0 (1-RF) and the last round",
               image_reflow_figures.samples_frame, image_figures.plot_samples, ("C-RF", "C-RA"),
               "collapse_theory.experiments.image_reflow.samples_frame()",
               lambda: image_reflow_figures.samples_frame(quick=True),
               "collapse_theory.experiments.image_reflow.samples_frame(quick=True)"),
)}

MANIFEST_COLUMNS = ["figure_id", "title", "png", "pdf", "data_file", "data_command", "claims"]


def build_figures(out_dir: str | Path = "figures", only: list[str] | None = None,
                  quick: bool = False) -> pd.DataFrame:
    """Regenerate the selected figures (default: all) into ``out_dir``; returns the manifest rows written.

    ``quick=True`` makes the data of figures that have a quick variant with it (the others as usual)."""
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
        use_quick = quick and spec.make_quick_data is not None
        frame = (spec.make_quick_data if use_quick else spec.make_data)()
        text = frame.to_csv(index=False, lineterminator="\n")
        if frame.attrs.get("run_manifest"):
            write_with_manifest(data_file, text, frame.attrs["run_manifest"])
        else:
            atomic_write_text(data_file, text)
        fig = spec.plot(pd.read_csv(data_file))
        png, pdf = save_figure(fig, out / figure_id)
        rows.append({"figure_id": figure_id, "title": spec.title, "png": png.name, "pdf": pdf.name,
                     "data_file": f"data/{data_file.name}",
                     "data_command": spec.quick_data_command if use_quick else spec.data_command,
                     "claims": " ".join(spec.claims)})
    kept = previous[~previous["figure_id"].isin(ids)] if len(previous) else previous
    manifest = pd.concat([kept, pd.DataFrame(rows, columns=MANIFEST_COLUMNS)], ignore_index=True)
    manifest = manifest.set_index("figure_id").reindex([i for i in FIGURES if i in set(manifest["figure_id"])]
                                                       ).reset_index()
    buffer = io.StringIO()
    manifest.to_csv(buffer, index=False, lineterminator="\n")
    atomic_write_text(manifest_path, buffer.getvalue())
    return manifest
