"""The figure registry: every figure is drawn from one tidy results file by one plotting function.

Each figure has its parameters as one frozen dataclass (next to its experiment: e.g.
:class:`collapse_theory.experiments.dae.CollapseFigure`), with defaults, a help text per field and ``validated()``.
:func:`parameter_listing` shows them (``collapse-theory figures --list``); :func:`parse_settings` turns
``name=value[,value]`` strings into parameter objects (``--set``), with a one-line ValueError naming the field on
bad or out-of-range values.

:func:`build_figures` (CLI: ``collapse-theory figures``) makes each figure's data from its parameters, writes it to
``<out>/data/<id>.csv``, reads it back, draws PNG and PDF, and writes ``<out>/MANIFEST.csv`` with the figure ID,
files, data file, the command that made the data (with the parameters that differ from the defaults) and the claim
IDs it illustrates. A data frame whose ``attrs`` hold a ``run_manifest`` (config, seed, versions;
:func:`collapse_theory.outputs.run_manifest`) is written with that manifest beside it (``<id>.csv.manifest.json``);
when the data are byte-identical to the file already there, neither is rewritten, so regenerating the committed
figures leaves the checkout clean. ``quick=True`` uses a figure's quick parameters where it has them (a smaller run
of the same experiment, or the committed image results, for ``reproduce --quick``).
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # headless and deterministic: the gallery only writes files

from .experiments import (  # noqa: E402
    dae as dae_theory,
    gaussian_reflow as gaussian_reflow_figures,
    image_reflow as image_reflow_figures,
    toy_reflow as toy_reflow_figures,
)
from .outputs import atomic_write_text, write_with_manifest  # noqa: E402
from .plotting import (  # noqa: E402
    dae as dae_figures,
    gaussian_reflow as flow_figures,
    image_reflow as image_figures,
    toy_reflow as toy_figures,
)
from .plotting.style import save_figure  # noqa: E402
from .experiments import reflow_decisions as reflow_decisions_data  # noqa: E402
from .plotting import reflow_decisions as reflow_decisions_figures  # noqa: E402
from .experiments import laws as laws_data  # noqa: E402
from .plotting import laws as laws_plots  # noqa: E402


@dataclass(frozen=True)
class FigureSpec:
    """One figure: ``make_data(params)`` -> tidy frame -> ``plot(frame)``; ``params`` the default parameters,
    ``quick_params`` those of ``quick=True`` (None: the defaults); ``data_command`` the function that makes the
    data, called with the parameter object (written to MANIFEST.csv)."""

    figure_id: str
    title: str
    make_data: Callable[[Any], pd.DataFrame]
    plot: Callable[[pd.DataFrame], object]
    claims: tuple[str, ...]
    data_command: str
    params: Any
    quick_params: Any = None


_DAE = "collapse_theory.experiments.dae"
_TOY = "collapse_theory.experiments.toy_reflow"
_IMG = "collapse_theory.experiments.image_reflow"

FIGURES: dict[str, FigureSpec] = {spec.figure_id: spec for spec in (
    FigureSpec("dae-collapse", "‖W_k‖ vs round, purely synthetic, several σ²: closed form and trained DAEs",
               dae_theory.CollapseFigure.make_data, dae_figures.plot_collapse,
               ("C-collapse", "DAE-COLLAPSE-RATE", "DAE-FINITE-SAMPLE"), f"{_DAE}.CollapseFigure.make_data",
               dae_theory.CollapseFigure()),
    FigureSpec("dae-real-fraction", "‖W_k‖ vs round for real fractions α ∈ {0, 0.05, 0.1, 0.25, 0.5, 1}",
               dae_theory.RealFractionFigure.make_data, dae_figures.plot_real_fraction,
               ("C-real", "DAE-REAL-FIXED-POINT"), f"{_DAE}.RealFractionFigure.make_data",
               dae_theory.RealFractionFigure()),
    FigureSpec("dae-spectrum", "eigen-spectrum evolution across rounds (replace)",
               dae_theory.SpectrumFigure.make_data, dae_figures.plot_spectrum, ("DAE-STEP", "DAE-DOUBLY-EXP"),
               f"{_DAE}.SpectrumFigure.make_data", dae_theory.SpectrumFigure()),
    FigureSpec("dae-phase-diagram", "fixed-point gain over (α, σ²/λmax); rounds to collapse at α = 0",
               dae_theory.PhaseDiagramFigure.make_data, dae_figures.plot_phase_diagram,
               ("DAE-REAL-FIXED-POINT", "DAE-ROUNDS"), f"{_DAE}.PhaseDiagramFigure.make_data",
               dae_theory.PhaseDiagramFigure()),
    FigureSpec("gaussian-reflow-w2", "estimated Gaussian Reflow vs RA / ORA / ORAS: W2 per round, log-det drift",
               gaussian_reflow_figures.ReflowW2Figure.make_data, flow_figures.plot_gaussian_reflow,
               ("C-RF", "C-RA", "REFLOW-ESTIMATED-DRIFT", "RA-REFLOW-BOUNDED"),
               "collapse_theory.experiments.gaussian_reflow.ReflowW2Figure.make_data",
               gaussian_reflow_figures.ReflowW2Figure()),
    FigureSpec("toy-reflow-samples", "trained Reflow vs RA (α = 0.5) on the 8-Gaussian ring: samples per round",
               toy_reflow_figures.samples_frame, toy_figures.plot_toy_samples, ("C-RF", "C-RA"),
               f"{_TOY}.samples_frame", toy_reflow_figures.DEFAULT, toy_reflow_figures.QUICK),
    FigureSpec("toy-reflow-paths", "ODE paths of fixed noise points: 1-RF vs the last Reflow / RA round, straightness",
               toy_reflow_figures.paths_frame, toy_figures.plot_toy_paths, ("C-RF", "C-RA"),
               f"{_TOY}.paths_frame", toy_reflow_figures.DEFAULT, toy_reflow_figures.QUICK),
    FigureSpec("image-reflow-fd-rounds", "smoke-scale image Reflow vs RA (α = 0.5): feature FD per round, per sampler",
               image_reflow_figures.fd_rounds_frame, image_figures.plot_fd_rounds, ("C-RF", "C-RA"),
               f"{_IMG}.fd_rounds_frame", image_reflow_figures.SmokeFigure(), image_reflow_figures.QUICK_FIGURE),
    FigureSpec("image-reflow-fd-nfe", "image Reflow vs RA: feature FD vs NFE at the last round (1-RF for reference)",
               image_reflow_figures.fd_nfe_frame, image_figures.plot_fd_nfe, ("C-RF", "C-RA"),
               f"{_IMG}.fd_nfe_frame", image_reflow_figures.SmokeFigure(), image_reflow_figures.QUICK_FIGURE),
    FigureSpec("image-reflow-samples", "image Reflow vs RA: 64-sample grids at round 0 (1-RF) and the last round",
               image_reflow_figures.samples_frame, image_figures.plot_samples, ("C-RF", "C-RA"),
               f"{_IMG}.samples_frame", image_reflow_figures.SmokeFigure(), image_reflow_figures.QUICK_FIGURE),
    FigureSpec("image-reflow-decisions", "image tier: Reflow vs RA, FD per round at NFE 1 and 16, per seed and mean",
               reflow_decisions_data.decisions_frame, reflow_decisions_figures.plot_reflow_decisions,
               ("C-RF", "C-RA"), "collapse_theory.experiments.reflow_decisions.decisions_frame",
               reflow_decisions_data.DecisionsFigure()),
    FigureSpec("collapse-laws", "exactly solvable collapse laws: error per round on one log scale, without and with "
               "real data", laws_data.CollapseLawsFigure.make_data, laws_plots.plot_collapse_laws,
               ("LAW-GAUSSIAN-REFIT", "LAW-WRIGHT-FISHER", "LAW-REGRESSION-CHAIN", "LAW-FIXED-REAL-RATIO",
                "LAW-FRESH-DATA", "LAW-OPTIMAL-WEIGHT", "LAW-DIFFUSION-EARLY-STOP", "LAW-ZIPF-TAIL"),
               "collapse_theory.experiments.laws.CollapseLawsFigure.make_data", laws_data.CollapseLawsFigure()),
)}

MANIFEST_COLUMNS = ["figure_id", "title", "png", "pdf", "data_file", "data_command", "claims"]

COST = {  # what making the data involves, for the progress lines (times measured on 2 shared, busy CPU cores)
    "dae-collapse": "trains linear DAEs (8 replicates per σ² by default): about 20-35 s",
    "gaussian-reflow-w2": "Monte-Carlo, about 10 s at the default 400 replicates",
    "toy-reflow-samples": "trains 1-RF, Reflow and RA on ring8 (shared with toy-reflow-paths): about 0.5-2 min",
    "image-reflow-fd-rounds": "committed data: seconds; otherwise trains or resumes the two smoke runs: 3-10 min "
                              "the first time (shared by the image figures)",
}


# --------------------------------------------------------------------------------------------- parameters

def _check_ids(ids) -> list[str]:
    ids = list(FIGURES) if not ids else list(dict.fromkeys(ids))
    unknown = [i for i in ids if i not in FIGURES]
    if unknown:
        raise ValueError(f"only must name figures among {', '.join(FIGURES)}, got {', '.join(unknown)}")
    return ids


def changed_fields(params) -> dict[str, Any]:
    """The fields of a parameter dataclass that differ from its class defaults."""
    default = type(params)()
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)
            if getattr(params, f.name) != getattr(default, f.name)}


def params_text(params) -> str:
    """``ClassName(field=value, ...)`` with only the fields that differ from the class defaults."""
    return f"{type(params).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in changed_fields(params).items()) + ")"


def data_command(spec: FigureSpec, params) -> str:
    """The call that makes the figure's data from ``params``: ``module.function(ClassName(changed fields))``."""
    if spec.data_command.endswith(".make_data"):     # a method of the parameter class
        return f"{spec.data_command.rsplit('.', 2)[0]}.{params_text(params)}.make_data()"
    return f"{spec.data_command}({params_text(params)})"


def _type_text(f: dataclasses.Field) -> str:
    return str(f.type).replace("typing.", "")


def _show(value) -> str:
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value) if value != "" else "''"


def parameter_rows(figure_id: str) -> list[dict[str, str]]:
    """Each parameter of a figure: name, type, default (as ``--set`` takes it) and help."""
    spec = FIGURES[_check_ids([figure_id])[0]]
    return [{"name": f.name, "type": _type_text(f), "default": _show(getattr(spec.params, f.name)),
             "help": f.metadata.get("help") or getattr(type(spec.params), "HELP", {}).get(f.name, "")}
            for f in dataclasses.fields(spec.params)]


def parameter_listing(only: list[str] | None = None) -> str:
    """The text of ``collapse-theory figures --list``: per figure its title and parameters with defaults."""
    lines = []
    for figure_id in _check_ids(only):
        spec = FIGURES[figure_id]
        quick = (f"  (--quick: {params_text(spec.quick_params)})" if spec.quick_params is not None else "")
        lines.append(f"{figure_id}: {spec.title}{quick}")
        rows = parameter_rows(figure_id)
        width = min(28, max(len(f"{r['name']}={r['default']}") for r in rows))
        for r in rows:
            lines.append(f"    {r['name'] + '=' + r['default']:<{width}}  {r['type']}; {r['help']}".rstrip("; "))
        lines.append("")
    return "\n".join(lines)


def _convert(f: dataclasses.Field, text: str):
    kind = _type_text(f)
    name = f.name
    try:
        if kind.startswith("tuple"):
            item = float if "float" in kind else int if "int" in kind else str
            values = tuple(item(v) for v in text.split(",") if v.strip() != "")
            if not values:
                raise ValueError
            return values
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if "None" in kind and text.lower() in ("auto", "none", ""):
            return None
        if kind.startswith("int"):
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind.startswith("float"):
            return float(text)
        return text
    except (TypeError, ValueError, OverflowError):
        expect = {"tuple": "a comma-separated list of numbers", "bool": "true or false", "int": "an integer",
                  "float": "a number"}
        what = next((v for k, v in expect.items() if kind.startswith(k)), "a value")
        raise ValueError(f"{name} must be {what}{' or auto' if 'None' in kind else ''}, got {text!r}") from None


def parse_settings(only: list[str] | None, settings: list[str] | None, quick: bool = False) -> dict[str, Any]:
    """Figure ID -> validated parameters for the figures selected by ``only`` (default all): each starts from its
    defaults (its quick parameters with ``quick``) and takes every ``name=value[,value]`` of ``settings``. A name
    must be a parameter of every selected figure. ValueError (one line, naming the parameter) on bad input."""
    ids = _check_ids(only)
    chosen = {i: (FIGURES[i].quick_params if quick and FIGURES[i].quick_params is not None else FIGURES[i].params)
              for i in ids}
    changes: dict[str, str] = {}
    for item in settings or []:
        if not isinstance(item, str) or "=" not in item or not item.split("=", 1)[0].strip():
            raise ValueError(f"set must look like name=value[,value], got {item!r}")
        name, value = (part.strip() for part in item.split("=", 1))
        changes[name] = value
    out = {}
    for figure_id, params in chosen.items():
        fields = {f.name: f for f in dataclasses.fields(params)}
        updates = {}
        for name, value in changes.items():
            if name not in fields:
                raise ValueError(f"set: {name} is not a parameter of figure {figure_id} (its parameters: "
                                 f"{', '.join(fields)}; pick the figure with --only)")
            updates[name] = _convert(fields[name], value)
        out[figure_id] = dataclasses.replace(params, **updates).validated()
    return out


# --------------------------------------------------------------------------------------------- building

def _say(progress, text: str) -> None:
    if progress:
        (progress if callable(progress) else lambda t: print(t, file=sys.stderr, flush=True))(text)


def manifest_row(figure_id: str, params) -> dict[str, str]:
    """The MANIFEST.csv row of a figure drawn with ``params``."""
    spec = FIGURES[figure_id]
    return {"figure_id": figure_id, "title": spec.title, "png": f"{figure_id}.png", "pdf": f"{figure_id}.pdf",
            "data_file": f"data/{figure_id}.csv", "data_command": data_command(spec, params),
            "claims": " ".join(spec.claims)}


def build_figures(out_dir: str | Path = "figures", only: list[str] | None = None, quick: bool = False,
                  params: dict[str, Any] | None = None, progress=False, keep_going: bool = False) -> pd.DataFrame:
    """Regenerate the selected figures (default: all) into ``out_dir``; returns the manifest rows written.

    ``keep_going``: a figure whose data or drawing raises is left out (its old manifest row too), the others are
    drawn, and ``manifest.attrs["failed"]`` maps its ID to the one-line error (``reproduce`` reports them);
    otherwise the first error propagates.

    ``params``: figure ID -> parameter object (from :func:`parse_settings`); figures not in it use their defaults,
    or their quick parameters with ``quick=True``. ``progress``: True prints one line per figure on stderr (a
    callable receives the lines instead)."""
    out = Path(out_dir)
    ids = _check_ids(only)
    params = dict(params or {})
    unknown = [i for i in params if i not in FIGURES]
    if unknown:
        raise ValueError(f"params must be keyed by figure IDs, got {', '.join(unknown)}")
    chosen = {i: params.get(i) or (FIGURES[i].quick_params if quick and FIGURES[i].quick_params is not None
                                   else FIGURES[i].params) for i in ids}
    for p in chosen.values():
        p.validated()
    manifest_path = out / "MANIFEST.csv"
    previous = pd.read_csv(manifest_path) if manifest_path.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
    rows, failed = [], {}
    for n, figure_id in enumerate(ids, 1):
        spec = FIGURES[figure_id]
        start = time.perf_counter()
        cost = f"; {COST[figure_id]}" if figure_id in COST else ""
        _say(progress, f"figures [{n}/{len(ids)}] {figure_id}: making the data "
                       f"({data_command(spec, chosen[figure_id])}{cost})")
        try:
            _draw(spec, chosen[figure_id], out)
        except Exception as exc:  # noqa: BLE001 - with keep_going every failure is reported, none is hidden
            if not keep_going:
                raise
            failed[figure_id] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            _say(progress, f"figures [{n}/{len(ids)}] {figure_id}: FAILED ({failed[figure_id]})")
            continue
        rows.append(manifest_row(figure_id, chosen[figure_id]))
        _say(progress, f"figures [{n}/{len(ids)}] {figure_id}: drawn in {time.perf_counter() - start:.1f} s")
    kept = previous[~previous["figure_id"].isin(ids)] if len(previous) else previous
    manifest = pd.concat([kept, pd.DataFrame(rows, columns=MANIFEST_COLUMNS)], ignore_index=True)
    manifest = manifest.set_index("figure_id").reindex([i for i in FIGURES if i in set(manifest["figure_id"])]
                                                       ).reset_index()
    buffer = io.StringIO()
    manifest.to_csv(buffer, index=False, lineterminator="\n")
    if not (manifest_path.is_file() and manifest_path.read_text(encoding="utf-8") == buffer.getvalue()):
        atomic_write_text(manifest_path, buffer.getvalue())
    manifest.attrs["failed"] = failed
    return manifest


def _draw(spec: FigureSpec, params, out: Path) -> None:
    """Make the data, write it (with its run manifest, only when the bytes changed), read it back and draw."""
    data_file = out / "data" / f"{spec.figure_id}.csv"
    frame = spec.make_data(params)
    text = frame.to_csv(index=False, lineterminator="\n")
    if frame.attrs.get("run_manifest"):
        write_with_manifest(data_file, text, frame.attrs["run_manifest"])
    elif not (data_file.is_file() and data_file.read_bytes() == text.encode("utf-8")):
        atomic_write_text(data_file, text)
    fig = spec.plot(pd.read_csv(data_file))
    save_figure(fig, out / spec.figure_id)
