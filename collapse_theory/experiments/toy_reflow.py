"""Tidy results of trained Reflow vs RA Reflow on 2-D toy data, the data behind the 2-D toy figures.

One run (:func:`run_toy_reflow`) trains, with the same seed, round 0 (1-RF) and ``rounds`` rounds of Reflow
(real fraction 0) and of RA Reflow (real fraction ``real_fraction``, default alpha = 0.5) through
:func:`collapse_theory.train.flow.reflow.run_reflow` and returns three tidy tables:

- ``samples``  columns ``method, real_fraction, round, sample_id, x, y``: each round's model integrated forward
  (dopri5, t = 0 -> 1) from ONE fixed evaluation noise set of ``n_samples`` points (the same for every round and
  method), plus ``n_samples`` real target points as rows with ``method = "target"``, ``round = -1`` and
  ``real_fraction`` empty (NaN).
- ``paths``    columns ``method, real_fraction, round, path_id, t, x, y, straightness``: the ODE paths
  (:func:`collapse_theory.train.flow.ode.integrate_path`, Heun) of ``n_paths`` fixed noise points at ``path_times``
  equally spaced times for 1-RF (stored as method ``reflow``, round 0; RA's round 0 is the same model) and for
  the last round of Reflow and of RA; ``straightness`` repeats run_reflow's straightness of that model
  (:func:`collapse_theory.train.flow.metrics.straightness`, on run_reflow's own evaluation noise).
- ``metrics``  run_reflow's tidy frame for both methods (columns ``data, method, real_fraction, seed, round,
  metric, sampler, nfe, value``: W2, Gaussian-fit W2, straightness, training loss per round).

The default setting is CPU-cheap (about 25 s of one core; :data:`QUICK` about 10 s, torch's import not counted)
and chosen to show the *estimated* regime of the theory (as in claim ``REFLOW-ESTIMATED-DRIFT``): Reflow re-fits
its flow each round to only ``n_synth = 64`` freshly generated pairs, while RA also sees the 2,000 real points
through the reverse flow. With 2,000 generated pairs per round neither method changes visibly in 5 rounds
(README, trained tier). Everything is
deterministic on CPU for a given setting (same seed -> identical tables). :func:`off_mode_fraction` counts the
ring8 samples that left the modes (what the samples figure shows).

:func:`write_results` writes the three tables to ``figures/data/`` (``toy-reflow-samples.csv``,
``toy-reflow-paths.csv``, ``toy-reflow-metrics.csv``), each with a ``.manifest.json`` (setting, seed, versions).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from ..data.toy2d import check_data, sample
from ..validation import check_fraction

SAMPLE_COLUMNS = ["method", "real_fraction", "round", "sample_id", "x", "y"]
PATH_COLUMNS = ["method", "real_fraction", "round", "path_id", "t", "x", "y", "straightness"]
METHODS = ("reflow", "ra")
DECIMALS = 5            # coordinates are rounded to this many decimals in the tables (plotting data)
FILES = {"samples": "toy-reflow-samples.csv", "paths": "toy-reflow-paths.csv", "metrics": "toy-reflow-metrics.csv"}


@dataclass(frozen=True)
class ToyReflowSetting:
    """Everything a run depends on; the training fields go to :class:`~collapse_theory.train.flow.reflow.ReflowConfig`."""

    data: str = "ring8"
    real_fraction: float = 0.5       # RA's alpha (Reflow always uses 0)
    rounds: int = 5                  # Reflow rounds after round 0
    n_real: int = 2000
    n_synth: int = 64                # generated (noise, sample) pairs per round: the estimated regime
    steps: int = 500                 # training steps per Reflow round
    round0_steps: int = 2000         # training steps of 1-RF
    batch_size: int = 256
    lr: float = 2e-3
    width: int = 128
    depth: int = 3
    gen_steps: int = 32              # Euler steps to generate pairs and to invert real data
    n_eval: int = 500                # run_reflow's evaluation sample (W2 against a 500-point reference)
    n_samples: int = 600             # points per panel of the samples figure
    n_paths: int = 16                # paths per panel of the paths figure
    path_times: int = 33             # times on [0, 1] per path
    seed: int = 0

    HELP: ClassVar[dict[str, str]] = {
        "data": "2-D data set: gaussian, ring8, moons or checkerboard", "real_fraction": "RA's α in (0, 1]",
        "rounds": "Reflow rounds after round 0 (1-RF)", "n_real": "real points",
        "n_synth": "generated pairs per Reflow round", "steps": "training steps per Reflow round",
        "round0_steps": "training steps of 1-RF", "batch_size": "minibatch size", "lr": "Adam learning rate",
        "width": "MLP width", "depth": "MLP depth", "gen_steps": "Euler steps to generate and invert pairs",
        "n_eval": "evaluation sample size (W2)", "n_samples": "points per panel of the samples figure",
        "n_paths": "paths per panel of the paths figure", "path_times": "times per path", "seed": "seed"}

    def validated(self) -> "ToyReflowSetting":
        """ValueError naming the argument on bad input; returns self."""
        check_data(self.data)
        check_fraction(self.real_fraction, "real_fraction")
        if not 0 < self.real_fraction:
            raise ValueError(f"real_fraction must be > 0 (RA's alpha; Reflow always uses 0), "
                             f"got {self.real_fraction!r}")
        minimum = {"rounds": 1, "path_times": 2, "n_eval": 2, "seed": 0}
        for f in dataclasses.fields(self):
            if f.type in ("int", int):
                value = getattr(self, f.name)
                low = minimum.get(f.name, 1)
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                    raise ValueError(f"{f.name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        return self

    def reflow_config(self, method: str):
        """The :class:`~collapse_theory.train.flow.reflow.ReflowConfig` of ``method`` (``reflow`` or ``ra``)."""
        from ..train.flow.reflow import ReflowConfig

        return ReflowConfig(data=self.data, dim=2, method=method,
                            real_fraction=0.0 if method == "reflow" else self.real_fraction,
                            rounds=self.rounds, n_real=self.n_real, n_synth=self.n_synth, steps=self.steps,
                            round0_steps=self.round0_steps, batch_size=self.batch_size, lr=self.lr,
                            width=self.width, depth=self.depth, gen_steps=self.gen_steps, n_eval=self.n_eval,
                            eval_steps=(1, 4), dopri5=True, empirical=True, seed=self.seed, threads=1).validated()


DEFAULT = ToyReflowSetting()
QUICK = ToyReflowSetting(rounds=3, steps=250, round0_steps=1000, width=64, n_samples=400, n_paths=12)


@dataclass
class ToyReflowRun:
    setting: ToyReflowSetting
    samples: pd.DataFrame
    paths: pd.DataFrame
    metrics: pd.DataFrame
    seconds: float


def _setting(setting: ToyReflowSetting | None, quick: bool, overrides: dict) -> ToyReflowSetting:
    base = setting if setting is not None else (QUICK if quick else DEFAULT)
    if not isinstance(base, ToyReflowSetting):
        raise ValueError(f"setting must be a ToyReflowSetting or None, got {type(base).__name__}")
    unknown = [k for k in overrides if k not in ToyReflowSetting.__dataclass_fields__]
    if unknown:
        raise ValueError(f"{unknown[0]} is not a ToyReflowSetting field")
    return dataclasses.replace(base, **overrides).validated()


def run_toy_reflow(setting: ToyReflowSetting | None = None, *, quick: bool = False, **overrides) -> ToyReflowRun:
    """Train Reflow and RA with the same seed and return the samples, paths and metrics tables (module docstring).

    ``setting`` defaults to :data:`DEFAULT` (:data:`QUICK` with ``quick=True``); keyword overrides replace its
    fields (``run_toy_reflow(rounds=2, steps=100)``). Deterministic on CPU."""
    import torch

    from ..train.flow.reflow import run_reflow, torch_threads
    from ..train.flow.ode import integrate, integrate_path

    start = time.perf_counter()
    s = _setting(setting, quick, overrides)
    z_samples = torch.randn(s.n_samples, 2, generator=torch.Generator().manual_seed(70_000 + s.seed))
    z_paths = torch.randn(s.n_paths, 2, generator=torch.Generator().manual_seed(80_000 + s.seed))
    times = np.linspace(0.0, 1.0, s.path_times)
    sample_parts, path_parts, frames = [], [], []
    target = sample(s.data, s.n_samples, seed=90_000 + s.seed)
    sample_parts.append(pd.DataFrame({"method": "target", "real_fraction": np.nan, "round": -1,
                                      "sample_id": np.arange(s.n_samples), "x": target[:, 0], "y": target[:, 1]}))
    for method in METHODS:
        cfg = s.reflow_config(method)
        result = run_reflow(cfg, keep_models=True)
        frames.append(result.frame)
        straight = result.frame[result.frame["metric"] == "straightness"].set_index("round")["value"]
        with torch_threads(1):
            for k, model in enumerate(result.models):
                x = integrate(model, z_samples, 0.0, 1.0, method="dopri5", rtol=cfg.rtol, atol=cfg.atol)
                x = x.double().numpy()
                sample_parts.append(pd.DataFrame({"method": method, "real_fraction": cfg.real_fraction, "round": k,
                                                  "sample_id": np.arange(s.n_samples), "x": x[:, 0], "y": x[:, 1]}))
                if (method == "reflow" and k == 0) or k == s.rounds:
                    path = integrate_path(model, z_paths, times, method="heun", substeps=2).double().numpy()
                    n_t, n_p = path.shape[:2]
                    path_parts.append(pd.DataFrame({
                        "method": method, "real_fraction": cfg.real_fraction, "round": k,
                        "path_id": np.tile(np.arange(n_p), n_t), "t": np.repeat(times, n_p),
                        "x": path[:, :, 0].ravel(), "y": path[:, :, 1].ravel(),
                        "straightness": float(straight.loc[k])}))
    samples = pd.concat(sample_parts, ignore_index=True)[SAMPLE_COLUMNS]
    paths = pd.concat(path_parts, ignore_index=True)[PATH_COLUMNS].sort_values(
        ["method", "round", "path_id", "t"], kind="stable").reset_index(drop=True)
    samples[["x", "y"]] = samples[["x", "y"]].round(DECIMALS)
    paths[["x", "y"]] = paths[["x", "y"]].round(DECIMALS)
    metrics = pd.concat(frames, ignore_index=True)
    return ToyReflowRun(s, samples, paths, metrics, time.perf_counter() - start)


@functools.lru_cache(maxsize=2)
def _cached(setting: ToyReflowSetting) -> ToyReflowRun:
    return run_toy_reflow(setting)


def manifest_config(setting: ToyReflowSetting) -> dict:
    """The setting and the resolved run_reflow configs of both methods (for the manifests)."""
    return {"setting": dataclasses.asdict(setting),
            "resolved": [dataclasses.asdict(setting.reflow_config(m)) for m in METHODS]}


def _with_manifest(frame: pd.DataFrame, setting: ToyReflowSetting, command: str) -> pd.DataFrame:
    from ..outputs import run_manifest

    frame = frame.copy()
    frame.attrs["run_manifest"] = run_manifest(command, manifest_config(setting), seed=setting.seed)
    return frame


def _figure_setting(setting: ToyReflowSetting | None, quick: bool) -> ToyReflowSetting:
    s = setting if setting is not None else (QUICK if quick else DEFAULT)
    if not isinstance(s, ToyReflowSetting):
        raise ValueError(f"setting must be a ToyReflowSetting or None, got {type(s).__name__}")
    return s.validated()


def _setting_text(s: ToyReflowSetting) -> str:
    changed = {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if getattr(s, f.name) != getattr(DEFAULT, f.name)}
    return "ToyReflowSetting(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"


def samples_frame(setting: ToyReflowSetting | None = None, *, quick: bool = False) -> pd.DataFrame:
    """The samples table of ``setting`` (default :data:`DEFAULT`, :data:`QUICK` with ``quick=True``); the data of
    figure ``toy-reflow-samples``. Both figures share one run per process (cached), so building both trains once."""
    s = _figure_setting(setting, quick)
    return _with_manifest(_cached(s).samples, s, f"{__name__}.samples_frame({_setting_text(s)})")


def paths_frame(setting: ToyReflowSetting | None = None, *, quick: bool = False) -> pd.DataFrame:
    """The paths table of ``setting`` (as :func:`samples_frame`); the data of figure ``toy-reflow-paths``."""
    s = _figure_setting(setting, quick)
    return _with_manifest(_cached(s).paths, s, f"{__name__}.paths_frame({_setting_text(s)})")


def write_results(out_dir: str | Path = "figures/data", setting: ToyReflowSetting | None = None, *,
                  quick: bool = False) -> list[Path]:
    """Run (or reuse the cached run of) ``setting`` and write the samples, paths and metrics tables to
    ``out_dir`` (names in :data:`FILES`), each atomically with a ``.manifest.json``. Returns the paths."""
    from ..outputs import run_manifest, write_with_manifest

    s = _setting(setting, quick, {})
    run = _cached(s)
    config = manifest_config(s) | {"seconds": round(run.seconds, 2)}
    written = []
    for key, name in FILES.items():
        text = getattr(run, key).to_csv(index=False, lineterminator="\n")
        target, _ = write_with_manifest(Path(out_dir) / name, text,
                                        run_manifest(f"{__name__}.write_results", config, seed=s.seed))
        written.append(target)
    return written


def off_mode_fraction(samples: pd.DataFrame, n_std: float = 3.0) -> pd.DataFrame:
    """ring8 only: per method and round, the fraction of samples farther than ``n_std`` mode standard deviations
    (:data:`collapse_theory.data.toy2d.RING_STD`) from every one of the 8 mode centres; the target rows give the
    real data's own rate. Columns: method, round, off_mode_fraction."""
    from ..data.toy2d import RING_RADIUS, RING_STD

    if not isinstance(samples, pd.DataFrame) or not set(SAMPLE_COLUMNS) <= set(samples.columns):
        raise ValueError(f"samples must be a DataFrame with the columns {', '.join(SAMPLE_COLUMNS)}")
    if not (isinstance(n_std, (int, float)) and n_std > 0 and math.isfinite(n_std)):
        raise ValueError(f"n_std must be a finite number > 0, got {n_std!r}")
    angle = 2 * np.pi * np.arange(8) / 8
    centres = RING_RADIUS * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    xy = samples[["x", "y"]].to_numpy(float)
    nearest = np.sqrt(((xy[:, None, :] - centres[None]) ** 2).sum(axis=2)).min(axis=1)
    off = pd.Series(nearest > n_std * RING_STD, index=samples.index, name="off_mode_fraction")
    out = off.groupby([samples["method"], samples["round"]], sort=False).mean().reset_index()
    return out[["method", "round", "off_mode_fraction"]]


def summary(run: ToyReflowRun, sampler: str = "dopri5") -> pd.DataFrame:
    """Rounds as rows; W2, Gaussian-fit W2 (``sampler``) and straightness per method side by side."""
    m = run.metrics
    sel = m[(m["metric"].isin(["w2", "w2_gauss"]) & (m["sampler"] == sampler)) | (m["metric"] == "straightness")]
    return sel.pivot_table(index="round", columns=["metric", "method"], values="value", aggfunc="first")


def main() -> None:  # pragma: no cover - convenience: python -m collapse_theory.experiments.toy_reflow
    import sys

    quick = "--quick" in sys.argv[1:]
    paths = write_results(quick=quick)
    run = _cached(QUICK if quick else DEFAULT)
    print(json.dumps({"seconds": round(run.seconds, 1), "files": [str(p) for p in paths]}))
    print(summary(run).round(4).to_string())


if __name__ == "__main__":  # pragma: no cover
    main()
