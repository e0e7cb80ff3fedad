"""Image-scale Reflow vs RA Reflow: the smoke runs, their collected results, and the data of the image figures.

**Runs.** :func:`run_smoke_image_runs` trains, through the library pipeline
(:func:`collapse_theory.train.image.pipeline.run` with :func:`~collapse_theory.train.image.config.scale_config`
``("smoke", ...)``: scikit-learn's 8 x 8 digits, the ``tiny-8`` UNet, CPU), first the Reflow run and then the RA
run (real fraction alpha = 0.5) started from the Reflow run's round 0 (``round0_from``), so both share one 1-RF.
The run folders are ``<runs_dir>/reflow`` and ``<runs_dir>/ra`` (default ``runs/image-smoke/`` under the
repository, git-ignored). A folder that exists is resumed (``resume=True``): a finished run costs only the
evaluator's set-up (a few seconds), an interrupted one continues where it stopped.

**Collected results.** :func:`collect_image_results` reads run folders (the layout of
:mod:`collapse_theory.train.image.pipeline`) into

- one tidy metrics frame, columns :data:`COLUMNS`: ``run`` (the folder name) and ``scale`` (from the folder's
  ``manifest.json``) followed by the columns of every run's ``metrics.csv``
  (:data:`collapse_theory.train.image.evaluate.METRIC_COLUMNS`; the metrics are explained there);
- a dict of uint8 sample grids (64, H, W, C) keyed ``<run>__round<k>``: round 0 and the last round of each run,
  the sampler chosen by :func:`choose_sampler` (``euler16`` when present, else the Euler sampler with the largest
  NFE, else ``dopri5``).

:func:`write_image_results` writes them to ``figures/data/image-reflow-metrics.csv`` (with a
``.manifest.json``) and ``figures/data/image-reflow-samples.npz`` (atomically; its ``.manifest.json`` lists each
grid's run, method, real fraction, round and sampler). These two files are committed; ``reproduce --quick`` draws
the image figures from them without training (:func:`read_image_results`), ``reproduce`` (full) re-runs the
smoke runs (resuming what exists) and collects them.

**Figure data** (gallery IDs ``image-reflow-fd-rounds``, ``image-reflow-fd-nfe``, ``image-reflow-samples``):
:func:`fd_rounds_frame`, :func:`fd_nfe_frame`, :func:`samples_frame` (one row per image, its pixels as a hex
string: ``bytes.fromhex(pixels)`` reshaped to (height, width, channels) gives the uint8 image back).

GPU runs: folders under ``docs/results/gpu/`` (any depth up to two, recognised by ``metrics.csv`` plus
``manifest.json``) are included in the default collection when they are present.

    python -m collapse_theory.experiments.image_reflow   # run (or resume) the smoke runs, write the data
"""

from __future__ import annotations

import functools
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MODULE = "collapse_theory.experiments.image_reflow"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNS_DIR = REPO_ROOT / "runs" / "image-smoke"
GPU_RESULTS_DIR = REPO_ROOT / "docs" / "results" / "gpu"
DATA_DIR = REPO_ROOT / "figures" / "data"
FILES = {"metrics": "image-reflow-metrics.csv", "samples": "image-reflow-samples.npz"}
METHODS = ("reflow", "ra")
RA_FRACTION = 0.5
FD_PREFIX = "FD-"
SAMPLE_COLUMNS = ["run", "scale", "dataset", "method", "real_fraction", "round", "sampler", "nfe", "sample_id",
                  "height", "width", "channels", "pixels"]


# the evaluate module imports torch; keep the column list here too (a test checks that the two agree)
BASE_COLUMNS = ["dataset", "method", "real_fraction", "seed", "round", "sampler", "nfe", "metric", "value",
                "n_samples", "real_vs_real"]
COLUMNS = ["run", "scale"] + BASE_COLUMNS


# --------------------------------------------------------------------------------------------- the runs

def run_smoke_image_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR, rounds: int = 2, seed: int = 0,
                         progress: bool = True, real_fraction: float = RA_FRACTION, **overrides) -> list[Path]:
    """Run (or resume) the smoke-scale Reflow run and the RA run (``real_fraction``) that starts from its round 0.

    Returns the two run folders ``[runs_dir/reflow, runs_dir/ra]``. ``overrides`` are further
    :class:`~collapse_theory.train.image.config.ImageReflowConfig` fields (e.g. ``steps=20`` for a tiny run);
    a folder that exists is resumed, so its config must match. ValueError naming the argument on bad input."""
    from ..train.image.config import scale_config
    from ..train.image.pipeline import run

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(runs_dir, (str, Path)):
        raise ValueError(f"runs_dir must be a folder path, got {type(runs_dir).__name__}")
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise ValueError(f"runs_dir must be a folder, {str(runs_dir)!r} is a file")
    bad = [k for k in ("method", "real_fraction", "rounds", "seed", "scale", "round0_from", "progress")
           if k in overrides]
    if bad:
        raise ValueError(f"{bad[0]} is set by run_smoke_image_runs itself and cannot be overridden")
    folders = []
    for method in METHODS:
        out = runs_dir / method
        extra = {}
        if method == "ra":
            extra["real_fraction"] = real_fraction
            # round0_from is part of the saved config: reuse the saved value so a moved runs_dir still resumes
            saved = _saved_config(out)
            extra["round0_from"] = saved.get("round0_from") or str(runs_dir / "reflow")
        cfg = scale_config("smoke", method=method, rounds=rounds, seed=seed, progress=progress,
                           **overrides, **extra)
        resume = (out / "manifest.json").is_file()
        try:
            run(cfg, out, resume=resume)
        except ValueError as exc:
            if resume and "different config" in str(exc):
                raise ValueError(f"runs_dir holds a {method} run made with other settings ({exc}); delete "
                                 f"{str(out)!r} (or pass another runs_dir) to start it afresh") from exc
            raise
        folders.append(out)
    return folders


def _saved_config(folder: Path) -> dict:
    manifest = Path(folder) / "manifest.json"
    if manifest.is_file():
        return json.loads(manifest.read_text()).get("config", {})
    return {}


# --------------------------------------------------------------------------------------------- collecting

def find_run_dirs(root: str | Path, depth: int = 2) -> list[Path]:
    """Run folders (holding ``metrics.csv`` and ``manifest.json``) at ``root`` or up to ``depth`` levels below it,
    sorted; [] when ``root`` does not exist."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    level = [root]
    for _ in range(depth + 1):
        nxt = []
        for folder in level:
            if (folder / "metrics.csv").is_file() and (folder / "manifest.json").is_file():
                found.append(folder)
            else:
                nxt.extend(sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
        level = nxt
    return sorted(found)


def default_run_dirs(runs_dir: str | Path = DEFAULT_RUNS_DIR, gpu_dir: str | Path | None = GPU_RESULTS_DIR
                     ) -> list[Path]:
    """The smoke run folders under ``runs_dir``, then any GPU run folders under ``gpu_dir`` (when present)."""
    dirs = [Path(runs_dir) / m for m in METHODS if (Path(runs_dir) / m / "metrics.csv").is_file()]
    if gpu_dir is not None:
        dirs += find_run_dirs(gpu_dir)
    return dirs


def choose_sampler(names) -> str:
    """``euler16`` if among ``names``, else the Euler sampler with the largest NFE, else ``dopri5``, else the first
    name in sorted order. ValueError when ``names`` is empty."""
    names = [str(n) for n in names]
    if not names:
        raise ValueError("names must hold at least one sampler name")
    if "euler16" in names:
        return "euler16"
    euler = [n for n in names if n.startswith("euler") and n[5:].isdigit()]
    if euler:
        return max(euler, key=lambda n: int(n[5:]))
    return "dopri5" if "dopri5" in names else sorted(names)[0]


def _run_names(paths: list[Path]) -> list[str]:
    """Folder names; names that clash get their parent folders' names prefixed (``fashion-small-reflow``)."""
    depth = [1] * len(paths)
    names = [p.name for p in paths]
    for _ in range(8):
        clashing = [i for i, n in enumerate(names) if names.count(n) > 1]
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1
            names[i] = "-".join(paths[i].parts[-depth[i]:])
    raise ValueError("run_dirs must name distinct run folders (the same folder appears twice)")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def collect_image_results(run_dirs) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Concatenate the runs' ``metrics.csv`` (adding ``run`` and ``scale``) and pick the round-0 and last-round
    sample grids (module docstring). The frame's ``attrs["grids"]`` lists each grid's run, method, real fraction,
    round and sampler; ``attrs["runs"]`` each run's folder and config. ValueError naming ``run_dirs`` when a
    folder is missing, is not a run folder, or the list is empty."""
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    try:
        paths = [Path(p) for p in run_dirs]
    except TypeError:
        raise ValueError(f"run_dirs must be a list of run folders, got {type(run_dirs).__name__}") from None
    if not paths:
        raise ValueError("run_dirs must name at least one run folder (none given or none found; run "
                         "run_smoke_image_runs first)")
    for p in paths:
        if not (p / "metrics.csv").is_file() or not (p / "manifest.json").is_file():
            raise ValueError(f"run_dirs must name run folders holding metrics.csv and manifest.json, "
                             f"{str(p)!r} does not")
    frames, grids, index, runs = [], {}, [], []
    for name, path in zip(_run_names(paths), paths):
        config = json.loads((path / "manifest.json").read_text()).get("config", {})
        frame = pd.read_csv(path / "metrics.csv")
        missing = [c for c in BASE_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"run_dirs: {str(path / 'metrics.csv')!r} lacks the columns {', '.join(missing)}")
        frame = frame[BASE_COLUMNS].copy()
        frame.insert(0, "scale", str(config.get("scale", "unknown")))
        frame.insert(0, "run", name)
        frames.append(frame)
        runs.append({"run": name, "folder": str(path), "config": config})
        if frame.empty:
            continue
        rounds = sorted(int(k) for k in frame["round"].unique())
        for k in sorted({rounds[0], rounds[-1]}):
            npz = path / "samples" / f"round_{k}.npz"
            if not npz.is_file():
                continue
            arrays = _load_npz(npz)
            if not arrays:
                continue
            sampler = choose_sampler(arrays)
            grid = np.asarray(arrays[sampler])
            if grid.dtype != np.uint8 or grid.ndim != 4:
                raise ValueError(f"run_dirs: {str(npz)!r}[{sampler!r}] must be a uint8 (N, H, W, C) array, got "
                                 f"{grid.dtype} {grid.shape}")
            key = f"{name}__round{k}"
            grids[key] = grid
            sel = frame[(frame["round"] == k) & (frame["sampler"] == sampler)]
            index.append({"key": key, "run": name, "scale": frame["scale"].iloc[0],
                          "dataset": str(frame["dataset"].iloc[0]), "method": str(frame["method"].iloc[0]),
                          "real_fraction": float(frame["real_fraction"].iloc[0]), "round": k, "sampler": sampler,
                          "nfe": int(sel["nfe"].iloc[0]) if len(sel) else -1})
    metrics = pd.concat(frames, ignore_index=True)[COLUMNS]
    metrics.attrs["grids"] = index
    metrics.attrs["runs"] = runs
    return metrics, grids


# --------------------------------------------------------------------------------------------- files

def write_image_results(metrics: pd.DataFrame, samples: dict[str, np.ndarray], out_dir: str | Path = DATA_DIR,
                        command: str | None = None) -> list[Path]:
    """Write ``image-reflow-metrics.csv`` (tidy, with ``.manifest.json``) and ``image-reflow-samples.npz`` (uint8
    grids keyed ``<run>__round<k>``, with ``.manifest.json`` listing the grids) to ``out_dir``, atomically.
    Returns the two data paths. ValueError naming the argument on bad input."""
    from ..outputs import atomic_write_bytes, atomic_write_text, run_manifest, write_with_manifest

    _check_metrics(metrics, "metrics")
    _check_samples(samples, "samples")
    out = Path(out_dir)
    command = command or f"{MODULE}.write_image_results"
    runs = metrics.attrs.get("runs", [])
    config = {"runs": runs, "files": FILES}
    text = metrics[COLUMNS].to_csv(index=False, lineterminator="\n", float_format="%.10g")
    metrics_path, _ = write_with_manifest(out / FILES["metrics"], text, run_manifest(command, config))
    samples_path = atomic_write_bytes(out / FILES["samples"], npz_bytes(samples))
    grids = metrics.attrs.get("grids") or _grid_index(metrics, samples)
    atomic_write_text(str(samples_path) + ".manifest.json",
                      json.dumps(run_manifest(command, config | {"grids": grids}), indent=2, default=str) + "\n")
    return [metrics_path, samples_path]


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed ``.npz`` (readable by ``np.load``) of ``arrays`` in sorted key order, byte-identical for equal
    input: unlike ``np.savez_compressed`` every member carries a fixed time stamp."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def read_image_results(data_dir: str | Path = DATA_DIR) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The committed ``image-reflow-metrics.csv`` and ``image-reflow-samples.npz`` of ``data_dir`` (no training).

    FileNotFoundError naming the missing file and how to make it."""
    data_dir = Path(data_dir)
    missing = [data_dir / name for name in FILES.values() if not (data_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"data_dir must hold the committed image results, {str(missing[0])!r} is missing; make them with "
            f"'python -m {MODULE}' (trains the smoke runs, ~4 min on 2 CPU cores) or run 'collapse-theory "
            f"reproduce' in full mode")
    metrics = pd.read_csv(data_dir / FILES["metrics"])
    _check_metrics(metrics, "data_dir")
    samples = _load_npz(data_dir / FILES["samples"])
    side = Path(str(data_dir / FILES["samples"]) + ".manifest.json")
    if side.is_file():
        manifest = json.loads(side.read_text())
        metrics.attrs["grids"] = manifest.get("config", {}).get("grids", [])
        metrics.attrs["runs"] = manifest.get("config", {}).get("runs", [])
    metrics.attrs["source"] = str(data_dir)
    return metrics, samples


def _check_metrics(metrics, name: str) -> None:
    if not isinstance(metrics, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(metrics).__name__}")
    missing = [c for c in COLUMNS if c not in metrics.columns]
    if missing:
        raise ValueError(f"{name} must have the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")


def _check_samples(samples, name: str) -> None:
    if not isinstance(samples, dict):
        raise ValueError(f"{name} must be a dict of uint8 arrays keyed '<run>__round<k>', got {type(samples).__name__}")
    for key, grid in samples.items():
        if not isinstance(key, str) or "__round" not in key or not key.rsplit("__round", 1)[1].isdigit():
            raise ValueError(f"{name} keys must look like '<run>__round<k>', got {key!r}")
        if not isinstance(grid, np.ndarray) or grid.dtype != np.uint8 or grid.ndim != 4:
            raise ValueError(f"{name}[{key!r}] must be a uint8 array of shape (N, H, W, C), got "
                             f"{getattr(grid, 'dtype', type(grid).__name__)} {getattr(grid, 'shape', '')}")


def _grid_index(metrics: pd.DataFrame, samples: dict[str, np.ndarray]) -> list[dict]:
    """Each grid's run, method, real fraction, round and sampler, recovered from the metrics: the sampler is
    :func:`choose_sampler` over the samplers with a finite FD value in that round (exactly those have a grid)."""
    out = []
    for key in sorted(samples):
        run, k = key.rsplit("__round", 1)
        k = int(k)
        sel = metrics[(metrics["run"] == run) & (metrics["round"] == k)]
        if sel.empty:
            raise ValueError(f"samples key {key!r} has no rows in the metrics (run {run!r}, round {k})")
        fd = sel[sel["metric"].astype(str).str.startswith(FD_PREFIX) & np.isfinite(sel["value"].astype(float))]
        names = sorted(set(fd["sampler"].astype(str))) or sorted(set(sel["sampler"].astype(str)) - {"-", "heun"})
        sampler = choose_sampler(names) if names else "unknown"
        nfe = fd[fd["sampler"] == sampler]["nfe"]
        first = sel.iloc[0]
        out.append({"key": key, "run": run, "scale": str(first["scale"]), "dataset": str(first["dataset"]),
                    "method": str(first["method"]), "real_fraction": float(first["real_fraction"]), "round": k,
                    "sampler": sampler, "nfe": int(nfe.iloc[0]) if len(nfe) else -1})
    return out


# --------------------------------------------------------------------------------------------- figure data

def fd_frame(metrics: pd.DataFrame) -> pd.DataFrame:
    """The feature-distance rows (``FD-<net>`` and, where Inception was on, ``FID``) of a collected frame."""
    _check_metrics(metrics, "metrics")
    m = metrics["metric"].astype(str)
    return metrics[m.str.startswith(FD_PREFIX) | (m == "FID")][COLUMNS].reset_index(drop=True)


def fd_rounds_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Data of ``image-reflow-fd-rounds``: every FD/FID row (all rounds, all samplers)."""
    return fd_frame(metrics)


def fd_nfe_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Data of ``image-reflow-fd-nfe``: the FD/FID rows of round 0 (1-RF) and of each run's last round."""
    fd = fd_frame(metrics)
    last = fd.groupby("run")["round"].transform("max")
    return fd[(fd["round"] == last) | (fd["round"] == 0)].reset_index(drop=True)


def samples_table(metrics: pd.DataFrame, samples: dict[str, np.ndarray]) -> pd.DataFrame:
    """Data of ``image-reflow-samples``: one row per image of every grid (columns :data:`SAMPLE_COLUMNS`), the
    pixels as a hex string of the uint8 (height, width, channels) array."""
    _check_metrics(metrics, "metrics")
    _check_samples(samples, "samples")
    index = {g["key"]: g for g in (metrics.attrs.get("grids") or _grid_index(metrics, samples))}
    rows = []
    for key in sorted(samples):
        info = index.get(key) or _grid_index(metrics, {key: samples[key]})[0]
        grid = samples[key]
        n, h, w, c = grid.shape
        for i in range(n):
            rows.append({"run": info["run"], "scale": info["scale"], "dataset": info["dataset"],
                         "method": info["method"], "real_fraction": info["real_fraction"], "round": info["round"],
                         "sampler": info["sampler"], "nfe": info["nfe"], "sample_id": i, "height": h, "width": w,
                         "channels": c, "pixels": grid[i].tobytes().hex()})
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)


def grids_from_table(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The inverse of :func:`samples_table`: uint8 (N, H, W, C) grids keyed ``<run>__round<k>``."""
    out = {}
    for (run, k), group in table.sort_values(["run", "round", "sample_id"]).groupby(["run", "round"], sort=True):
        h, w, c = (int(group[col].iloc[0]) for col in ("height", "width", "channels"))
        images = [np.frombuffer(bytes.fromhex(str(p)), dtype=np.uint8).reshape(h, w, c) for p in group["pixels"]]
        out[f"{run}__round{int(k)}"] = np.stack(images)
    return out


# --------------------------------------------------------------------------------------------- gallery hooks

@dataclass(frozen=True)
class SmokeFigure:
    """Parameters of the image figures (``image-reflow-fd-rounds``, ``-fd-nfe``, ``-samples``)."""

    committed: bool = field(default=False, metadata={
        "help": "draw from the committed figures/data/image-reflow-* files (no training; the quick variant)"})
    rounds: int = field(default=2, metadata={"help": "Reflow / RA rounds after the shared 1-RF (1..10)"})
    seed: int = field(default=0, metadata={"help": "training seed"})
    real_fraction: float = field(default=RA_FRACTION, metadata={"help": "RA's α in (0, 1]"})
    runs_dir: str = field(default="", metadata={
        "help": "folder of the two smoke runs, resumed when present ('' = runs/image-smoke, git-ignored)"})

    def validated(self) -> "SmokeFigure":
        if not isinstance(self.committed, bool):
            raise ValueError(f"committed must be true or false, got {self.committed!r}")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or not 1 <= self.rounds <= 10:
            raise ValueError(f"rounds must be an integer in 1..10, got {self.rounds!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.real_fraction, (int, float)) or not 0 < self.real_fraction <= 1:
            raise ValueError(f"real_fraction must lie in (0, 1], got {self.real_fraction!r}")
        if not isinstance(self.runs_dir, str):
            raise ValueError(f"runs_dir must be a folder path, got {self.runs_dir!r}")
        if self.committed and (self.rounds, self.seed, self.real_fraction) != (2, 0, RA_FRACTION):
            raise ValueError("committed must be false when rounds, seed or real_fraction differ from the committed "
                             "smoke runs (2, 0, 0.5): those settings need training")
        return self

    def folder(self) -> Path:
        return Path(self.runs_dir) if self.runs_dir else DEFAULT_RUNS_DIR


QUICK_FIGURE = SmokeFigure(committed=True)


@functools.lru_cache(maxsize=2)
def _full_results(params: SmokeFigure = SmokeFigure()) -> tuple[pd.DataFrame, dict[str, np.ndarray], float]:
    start = time.perf_counter()
    folder = params.folder()
    run_smoke_image_runs(folder, rounds=params.rounds, seed=params.seed, progress=False,
                         real_fraction=params.real_fraction)
    metrics, samples = collect_image_results(default_run_dirs(folder))
    return metrics, samples, time.perf_counter() - start


def _params(params: SmokeFigure | None, quick: bool) -> SmokeFigure:
    p = params if params is not None else (QUICK_FIGURE if quick else SmokeFigure())
    if not isinstance(p, SmokeFigure):
        raise ValueError(f"params must be a SmokeFigure or None, got {type(p).__name__}")
    return p.validated()


def _results(p: SmokeFigure) -> tuple[pd.DataFrame, dict[str, np.ndarray], str]:
    if p.committed:
        metrics, samples = read_image_results(DATA_DIR)
        return metrics, samples, f"read {FILES['metrics']} and {FILES['samples']} from figures/data (no training)"
    metrics, samples, _ = _full_results(p)
    return metrics, samples, (f"run_smoke_image_runs({str(p.folder())!r}, rounds={p.rounds}, seed={p.seed}, "
                              f"real_fraction={p.real_fraction:g}) + collect_image_results")


def _with_manifest(frame: pd.DataFrame, metrics: pd.DataFrame, command: str, how: str) -> pd.DataFrame:
    from ..outputs import run_manifest

    frame = frame.copy()
    frame.attrs = {}
    frame.attrs["run_manifest"] = run_manifest(command, {"how": how, "runs": metrics.attrs.get("runs", [])})
    return frame


def _call(name: str, p: SmokeFigure) -> str:
    changed = ", ".join(f"{f}={getattr(p, f)!r}" for f in SmokeFigure.__dataclass_fields__
                        if getattr(p, f) != getattr(SmokeFigure(), f))
    return f"{MODULE}.{name}(SmokeFigure({changed}))"


def fd_rounds_frame(params: SmokeFigure | None = None, *, quick: bool = False) -> pd.DataFrame:
    """Figure data of ``image-reflow-fd-rounds``; ``quick`` (= ``SmokeFigure(committed=True)``) reads the
    committed files instead of running."""
    p = _params(params, quick)
    metrics, _, how = _results(p)
    return _with_manifest(fd_rounds_table(metrics), metrics, _call("fd_rounds_frame", p), how)


def fd_nfe_frame(params: SmokeFigure | None = None, *, quick: bool = False) -> pd.DataFrame:
    """Figure data of ``image-reflow-fd-nfe`` (as :func:`fd_rounds_frame`)."""
    p = _params(params, quick)
    metrics, _, how = _results(p)
    return _with_manifest(fd_nfe_table(metrics), metrics, _call("fd_nfe_frame", p), how)


def samples_frame(params: SmokeFigure | None = None, *, quick: bool = False) -> pd.DataFrame:
    """Figure data of ``image-reflow-samples`` (as :func:`fd_rounds_frame`)."""
    p = _params(params, quick)
    metrics, samples, how = _results(p)
    return _with_manifest(samples_table(metrics, samples), metrics, _call("samples_frame", p), how)


def summary(metrics: pd.DataFrame, samplers=("euler1", "euler16", "dopri5")) -> pd.DataFrame:
    """Rows (run, round); columns: FD per sampler of ``samplers``, the real-vs-real FD floor, recon_mse (euler16),
    straightness. For the README and the notebook."""
    _check_metrics(metrics, "metrics")
    fd_name = next((m for m in metrics["metric"].astype(str).unique() if m.startswith(FD_PREFIX)), None)
    if fd_name is None:
        raise ValueError("metrics must hold FD-<net> rows")
    pieces = {}
    for s in samplers:
        sel = metrics[(metrics["metric"] == fd_name) & (metrics["sampler"] == s)]
        if not sel.empty:
            pieces[f"{fd_name} {s}"] = sel.set_index(["run", "round"])["value"]
    floor = metrics[metrics["metric"] == fd_name].groupby(["run", "round"])["real_vs_real"].first()
    pieces["FD floor (real vs real)"] = floor
    for metric, s in (("recon_mse", "euler16"), ("straightness", "heun")):
        sel = metrics[(metrics["metric"] == metric) & (metrics["sampler"] == s)]
        if not sel.empty:
            pieces[f"{metric} {s}" if metric == "recon_mse" else metric] = sel.set_index(["run", "round"])["value"]
    return pd.DataFrame(pieces)


def main() -> None:  # pragma: no cover - python -m collapse_theory.experiments.image_reflow
    import sys

    args = sys.argv[1:]
    start = time.perf_counter()
    run_smoke_image_runs(DEFAULT_RUNS_DIR, progress="--no-progress" not in args)
    seconds = time.perf_counter() - start
    metrics, samples = collect_image_results(default_run_dirs())
    paths = write_image_results(metrics, samples, DATA_DIR, command=f"python -m {MODULE}")
    print(json.dumps({"seconds": round(seconds, 1), "files": [str(p) for p in paths]}))
    print(summary(metrics).round(4).to_string())


if __name__ == "__main__":  # pragma: no cover
    main()
