"""Plot functions of the 2-D toy Reflow figures (data: :mod:`collapse_theory.experiments.toy_reflow`).

- :func:`plot_toy_samples`  figure ``toy-reflow-samples``: rows = methods (Reflow, RA alpha), columns = rounds;
  the real target points in light grey behind each round's samples; equal aspect and the same limits everywhere.
- :func:`plot_toy_paths`    figure ``toy-reflow-paths``: ODE paths of fixed noise points for 1-RF (round 0) and the
  last round of each method, coloured by t, with start (noise, t = 0) and end (t = 1) points marked and the
  straightness S of each model in the panel title.
- :func:`plot_toy_metrics`  (notebook helper, no gallery entry) W2 and straightness per round from
  :func:`collapse_theory.train.flow.reflow.run_reflow`'s tidy frame, one line per method.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .style import OKABE_ITO, RC

SAMPLE_COLUMNS = ("method", "real_fraction", "round", "sample_id", "x", "y")
PATH_COLUMNS = ("method", "real_fraction", "round", "path_id", "t", "x", "y")
METHOD_COLOR = {"reflow": OKABE_ITO[0], "ra": OKABE_ITO[1], "ora": OKABE_ITO[2], "oras": OKABE_ITO[3]}
METHOD_NAME = {"reflow": "Reflow", "ra": "RA", "ora": "ORA", "oras": "ORAS"}
TARGET_GREY = "0.78"
PATH_CMAP = "viridis"


def _check_frame(data, columns, name: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{name} must have the columns {', '.join(columns)}; missing {', '.join(missing)}")
    if not np.all(np.isfinite(data[["x", "y"]].to_numpy(dtype=float))):
        raise ValueError(f"{name} must have finite x and y (no NaN or Inf)")
    return data


def method_label(method: str, real_fraction: float) -> str:
    """'Reflow' or e.g. 'RA, α = 0.5'."""
    name = METHOD_NAME.get(method, method)
    if method == "reflow" or real_fraction != real_fraction:  # NaN: no fraction
        return name
    return f"{name}, α = {real_fraction:g}"


def _limits(xy: np.ndarray, pad: float = 0.06) -> tuple[float, float]:
    """One symmetric-width square window holding (almost) every point: the 0.1 % / 99.9 % quantiles plus a pad."""
    lo = np.quantile(xy, 0.001, axis=0)
    hi = np.quantile(xy, 0.999, axis=0)
    centre = 0.5 * (lo + hi)
    half = 0.5 * float(np.max(hi - lo)) * (1 + 2 * pad)
    return (float(centre[0] - half), float(centre[0] + half)), (float(centre[1] - half), float(centre[1] + half))


def _methods(data: pd.DataFrame) -> list[tuple[str, float]]:
    rows = data[data["method"] != "target"].drop_duplicates("method")
    order = {m: i for i, m in enumerate(METHOD_NAME)}
    return sorted(((str(r.method), float(r.real_fraction)) for r in rows.itertuples()),
                  key=lambda mf: order.get(mf[0], len(order)))


def plot_toy_samples(data: pd.DataFrame, panel_size: float = 2.1):
    """Rows: methods; columns: rounds. Grey: the target points (rows with method ``target``); colour: each
    round's samples from the same noise set. Equal aspect, one window for every panel."""
    data = _check_frame(data, SAMPLE_COLUMNS)
    samples = data[data["method"] != "target"]
    if samples.empty:
        raise ValueError("data must hold samples of at least one method (rows with method other than 'target')")
    target = data[data["method"] == "target"][["x", "y"]].to_numpy(float)
    methods = _methods(data)
    rounds = sorted(int(r) for r in samples["round"].unique())
    xlim, ylim = _limits(data[["x", "y"]].to_numpy(float))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(methods), len(rounds), figsize=(panel_size * len(rounds) + 0.3,
                                                                     panel_size * len(methods) + 0.55),
                                 sharex=True, sharey=True, squeeze=False, constrained_layout=True)
        for i, (method, alpha) in enumerate(methods):
            for j, k in enumerate(rounds):
                ax = axes[i, j]
                pts = samples[(samples["method"] == method) & (samples["round"] == k)][["x", "y"]].to_numpy(float)
                if len(target):
                    ax.scatter(target[:, 0], target[:, 1], s=2.5, color=TARGET_GREY, lw=0)
                ax.scatter(pts[:, 0], pts[:, 1], s=2.5, color=METHOD_COLOR.get(method, OKABE_ITO[4]), lw=0,
                           alpha=0.85)
                ax.set_xlim(*xlim)
                ax.set_ylim(*ylim)
                ax.set_aspect("equal")
                ax.grid(False)
                head = "1-RF" if k == 0 else method_label(method, alpha)
                ax.set_title(f"{head}, round {k}", fontsize=8.5)
                if i == len(methods) - 1:
                    ax.set_xlabel("x₁")
                if j == 0:
                    ax.set_ylabel("x₂")
        fig.suptitle("Samples per round from one fixed noise set (grey: real target points)", fontsize=10)
    return fig


def plot_toy_paths(data: pd.DataFrame, panel_size: float = 3.0):
    """One panel per (method, round) group: paths coloured by t (colour bar), noise start points (t = 0) as open
    circles, end points (t = 1) as filled dots; the title carries the straightness S if the data have it."""
    data = _check_frame(data, PATH_COLUMNS)
    if data.empty:
        raise ValueError("data must hold at least one path")
    order = {m: i for i, m in enumerate(METHOD_NAME)}
    groups = sorted(data.groupby(["method", "round"], sort=False),
                    key=lambda g: (g[0][1], order.get(g[0][0], len(order))))
    xlim, ylim = _limits(data[["x", "y"]].to_numpy(float), pad=0.08)
    norm = plt.Normalize(0.0, 1.0)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(groups), figsize=(panel_size * len(groups) + 0.9, panel_size + 1.0),
                                 sharex=True, sharey=True, squeeze=False, constrained_layout=True)
        line_collection = None
        for ax, ((method, k), group) in zip(axes[0], groups):
            alpha = float(group["real_fraction"].iloc[0])
            segments = []
            colours = []
            for _, path in group.sort_values(["path_id", "t"]).groupby("path_id", sort=True):
                xy = path[["x", "y"]].to_numpy(float)
                t = path["t"].to_numpy(float)
                segments.extend(np.stack([xy[:-1], xy[1:]], axis=1))
                colours.extend(0.5 * (t[:-1] + t[1:]))
            line_collection = LineCollection(segments, cmap=PATH_CMAP, norm=norm, linewidths=1.4)
            line_collection.set_array(np.asarray(colours))
            ax.add_collection(line_collection)
            starts = group[group["t"] == group["t"].min()]
            ends = group[group["t"] == group["t"].max()]
            ax.scatter(starts["x"], starts["y"], s=16, facecolors="white", edgecolors="black", lw=0.8, zorder=3)
            ax.scatter(ends["x"], ends["y"], s=16, color="black", lw=0, zorder=3)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            ax.set_aspect("equal")
            head = "1-RF, round 0" if int(k) == 0 else f"{method_label(method, alpha)}, round {int(k)}"
            if "straightness" in group.columns and np.isfinite(group["straightness"].iloc[0]):
                head += f"\nstraightness S = {float(group['straightness'].iloc[0]):.2g}"
            ax.set_title(head, fontsize=9.5)
            ax.set_xlabel("x₁")
        axes[0, 0].set_ylabel("x₂")
        handles = [Line2D([], [], ls="none", marker="o", mfc="white", mec="black", label="noise x₀ (t = 0)"),
                   Line2D([], [], ls="none", marker="o", color="black", label="end point (t = 1)")]
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
        bar = fig.colorbar(line_collection, ax=axes[0, :].tolist(), shrink=0.8, pad=0.02)
        bar.set_label("time t")
        fig.suptitle("ODE paths of the same fixed noise points (colour: time t)", fontsize=10)
    return fig


METRIC_COLUMNS = ("method", "real_fraction", "round", "metric", "sampler", "value")


def plot_toy_metrics(frame: pd.DataFrame, sampler: str = "dopri5"):
    """Left: exact empirical W2 to the target's reference sample (solid) and the real-vs-real floor (grey dotted);
    middle: W2 of the Gaussian fit; right: straightness S (log scale). One line per method; x = round.
    ``frame``: run_reflow's tidy frame (columns method, real_fraction, round, metric, sampler, value, ...)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame must have the columns {', '.join(METRIC_COLUMNS)}; missing {', '.join(missing)}")
    if sampler not in set(frame["sampler"]):
        raise ValueError(f"sampler must be one of the frame's samplers "
                         f"({', '.join(sorted(set(frame['sampler']) - {'-', 'heun', 'reference'}))}), got {sampler!r}")
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.4), constrained_layout=True)
        panels = (("w2", sampler, f"exact empirical W2 ({sampler})"),
                  ("w2_gauss", sampler, f"Gaussian-fit W2 ({sampler})"),
                  ("straightness", "heun", "straightness S"))
        for ax, (metric, samp, ylabel) in zip(axes, panels):
            for i, (method, group) in enumerate(frame.groupby("method", sort=False)):
                sel = group[(group["metric"] == metric) & (group["sampler"] == samp)].sort_values("round")
                label = method_label(method, float(group["real_fraction"].iloc[0]))
                ax.plot(sel["round"], sel["value"], marker="os"[i % 2], ms=4, ls="-" if i == 0 else "--",
                        color=METHOD_COLOR.get(method, OKABE_ITO[4]), label=label)
            ax.set_xlabel("round k")
            ax.set_ylabel(ylabel)
        floor = frame[frame["metric"] == "w2_floor"]
        if not floor.empty:
            axes[0].axhline(float(floor["value"].iloc[0]), color="0.5", ls=":", lw=1.2, label="floor (real vs real)")
        axes[2].set_yscale("log")
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].legend(fontsize=8)
        axes[0].set_title("W2 to the target")
        axes[1].set_title("W2 of the Gaussian fit")
        axes[2].set_title("straightness (0 = straight paths)")
    return fig
