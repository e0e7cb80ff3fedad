"""Plot functions of the image Reflow vs RA figures (data: :mod:`collapse_theory.experiments.image_reflow`).

- :func:`plot_fd_rounds`   figure ``image-reflow-fd-rounds``: the feature Fréchet distance vs round, one line per
  run (colour = method), one panel per sampler (Euler 1 step, Euler with the most steps, dopri5), one row of
  panels per feature extractor; the real-vs-real floor of the same sample size as a dashed grey line.
- :func:`plot_fd_nfe`      figure ``image-reflow-fd-nfe``: FD vs NFE (log x) at each run's last round, 1-RF
  (round 0) in grey for reference; dopri5 as an open marker at the NFE it used; the floor dashed.
- :func:`plot_samples`     figure ``image-reflow-samples``: the 64-sample grids, rows = runs (method, alpha),
  columns = round 0 (1-RF) and the last round, every title naming method, alpha, round and sampler.

The y labels name the extractor the distance is computed in (``FD (digitsnet features)``): these are proxy
distances in a small classifier's penultimate layer, not Inception FID; only rows with metric ``FID`` (runs with
``inception`` on) are labelled FID.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, MaxNLocator

from .style import OKABE_ITO, RC
from .toy_reflow import METHOD_COLOR, METHOD_NAME, method_label

FD_COLUMNS = ("run", "scale", "dataset", "method", "real_fraction", "round", "sampler", "nfe", "metric", "value",
              "n_samples", "real_vs_real")
SAMPLE_COLUMNS = ("run", "scale", "dataset", "method", "real_fraction", "round", "sampler", "nfe", "sample_id",
                  "height", "width", "channels", "pixels")
FLOOR_STYLE = dict(color="0.35", ls="--", lw=1.1)
ROUND0_COLOR = "0.55"
LINESTYLES = ("-", "--", "-.", ":")


def _check(data, columns, name: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{name} must have the columns {', '.join(columns)}; missing {', '.join(missing)}")
    if data.empty:
        raise ValueError(f"{name} must hold at least one row")
    return data


def metric_axis_label(metric: str) -> str:
    """``FD-digitsnet`` -> 'FD (digitsnet features)'; ``FID`` -> 'FID (Inception-v3 features)'."""
    metric = str(metric)
    if metric == "FID":
        return "FID (Inception-v3 features)"
    if "-" in metric:
        kind, net = metric.split("-", 1)
        return f"{kind} ({net} features)"
    return metric


def sampler_title(sampler: str, nfe=None) -> str:
    """'Euler, 1 step (NFE 1)', 'Euler, 16 steps (NFE 16)', 'dopri5 (adaptive, NFE 98)' or, for a (low, high)
    range of NFEs, 'dopri5 (adaptive, NFE 62–80)'."""
    sampler = str(sampler)
    if sampler.startswith("euler") and sampler[5:].isdigit():
        n = int(sampler[5:])
        return f"Euler, {n} step{'s' if n != 1 else ''} (NFE {n})"
    if sampler == "dopri5":
        if isinstance(nfe, tuple):
            lo, hi = nfe
            return f"dopri5 (adaptive, NFE {lo:.0f}–{hi:.0f})" if lo != hi else f"dopri5 (adaptive, NFE {lo:.0f})"
        return "dopri5 (adaptive" + (f", NFE {nfe:.0f})" if nfe is not None and math.isfinite(nfe) else ")")
    return sampler


def _fd_rows(data: pd.DataFrame) -> pd.DataFrame:
    data = _check(data, FD_COLUMNS)
    m = data["metric"].astype(str)
    fd = data[m.str.startswith("FD-") | (m == "FID")]
    if fd.empty:
        raise ValueError("data must hold FD-<net> or FID rows (column metric)")
    return fd


def _run_styles(data: pd.DataFrame) -> list[dict]:
    """One style per run: colour by method, line style by the run's scale/dataset group (several scales)."""
    order = {m: i for i, m in enumerate(METHOD_NAME)}
    runs = data.drop_duplicates("run")[["run", "scale", "dataset", "method", "real_fraction"]]
    runs = sorted(runs.itertuples(index=False), key=lambda r: (str(r.scale) != "smoke", str(r.scale), str(r.dataset),
                                                               order.get(str(r.method), 99), str(r.run)))
    groups = list(dict.fromkeys((str(r.scale), str(r.dataset)) for r in runs))
    several = len(groups) > 1
    out = []
    for i, r in enumerate(runs):
        g = groups.index((str(r.scale), str(r.dataset)))
        label = method_label(str(r.method), float(r.real_fraction))
        if several:
            label += f" ({r.dataset}, {r.scale})"
        out.append({"run": str(r.run), "label": label, "color": METHOD_COLOR.get(str(r.method), OKABE_ITO[4 + i % 3]),
                    "ls": LINESTYLES[g % len(LINESTYLES)], "marker": "os^Dv"[order.get(str(r.method), 4) % 5]})
    return out


def _panel_samplers(fd: pd.DataFrame) -> list[str]:
    names = set(fd["sampler"].astype(str))
    euler = sorted((s for s in names if s.startswith("euler") and s[5:].isdigit()), key=lambda s: int(s[5:]))
    chosen = []
    if euler:
        chosen.append(euler[0])
        preferred = "euler16" if "euler16" in euler else euler[-1]
        if preferred != euler[0]:
            chosen.append(preferred)
    if "dopri5" in names:
        chosen.append("dopri5")
    return chosen or sorted(names)


def _floor(ax, sel: pd.DataFrame) -> None:
    floors = sel["real_vs_real"].astype(float).dropna()
    if floors.empty:
        return
    n = sel["n_samples"].dropna()
    n_text = f", N = {int(n.iloc[0])}" if len(n) and sel["n_samples"].nunique() == 1 else ""
    for value in sorted(set(np.round(floors.to_numpy(), 12))):
        ax.axhline(value, **FLOOR_STYLE, zorder=1)
    ax.plot([], [], **FLOOR_STYLE, label=f"real vs real{n_text}")


def plot_fd_rounds(data: pd.DataFrame, samplers: list[str] | None = None, panel_width: float = 3.5):
    """FD (or FID) vs round per run; panels: samplers (columns) x metrics (rows); dashed: real-vs-real floor."""
    fd = _fd_rows(data)
    if samplers is None:
        samplers = _panel_samplers(fd)
    elif not samplers or any(s not in set(fd["sampler"].astype(str)) for s in samplers):
        raise ValueError(f"samplers must be a non-empty list of the data's samplers "
                         f"({', '.join(sorted(set(fd['sampler'].astype(str))))}), got {samplers!r}")
    metrics = sorted(fd["metric"].astype(str).unique(), key=lambda m: (m == "FID", m))
    styles = _run_styles(fd)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(metrics), len(samplers), squeeze=False, constrained_layout=True,
                                 figsize=(panel_width * len(samplers) + 0.2, 3.0 * len(metrics) + 0.9))
        for i, metric in enumerate(metrics):
            for j, sampler in enumerate(samplers):
                ax = axes[i, j]
                sel = fd[(fd["metric"] == metric) & (fd["sampler"] == sampler)]
                for st in styles:
                    mine = sel[sel["run"] == st["run"]].sort_values("round")
                    if mine.empty:
                        continue
                    ax.plot(mine["round"], mine["value"], color=st["color"], ls=st["ls"], marker=st["marker"], ms=5,
                            lw=1.6, label=st["label"], zorder=3)
                _floor(ax, sel)
                nfe = (float(sel["nfe"].min()), float(sel["nfe"].max())) if sampler == "dopri5" and len(sel) else None
                ax.set_title(sampler_title(sampler, nfe), fontsize=10)
                ax.set_xlabel("round k (0 = 1-RF)")
                ax.set_ylabel(metric_axis_label(metric))
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_ylim(bottom=0)
                ax.margins(y=0.12)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), frameon=False)
        fig.suptitle("Feature Fréchet distance to real test images per Reflow round (lower is better)", fontsize=10.5)
    return fig


def plot_fd_nfe(data: pd.DataFrame, panel_width: float = 5.6):
    """FD vs NFE (log x, log y) at each run's last round; 1-RF (round 0) grey dotted; dopri5 open markers."""
    fd = _fd_rows(data)
    metrics = sorted(fd["metric"].astype(str).unique(), key=lambda m: (m == "FID", m))
    styles = _run_styles(fd)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(metrics), squeeze=False, constrained_layout=True,
                                 figsize=(panel_width * len(metrics) + 0.6, 4.6))
        for ax, metric in zip(axes[0], metrics):
            sel = fd[fd["metric"] == metric]
            drawn_round0 = set()
            for st in styles:
                mine = sel[sel["run"] == st["run"]]
                if mine.empty:
                    continue
                last = int(mine["round"].max())
                for k, colour, ls, label, z in (
                        (0, ROUND0_COLOR, ":", "1-RF (round 0)", 2),
                        (last, st["color"], st["ls"], f"{st['label']}, round {last}", 3)):
                    if k == 0 and last == 0:
                        continue
                    rows = mine[mine["round"] == k]
                    group = tuple(str(v) for v in rows[["scale", "dataset"]].iloc[0]) if len(rows) else None
                    if k == 0:
                        if rows.empty or group in drawn_round0:
                            continue        # runs that share round 0 draw it once
                        drawn_round0.add(group)
                        if len(drawn_round0) > 1:
                            label = f"1-RF (round 0, {group[1]}, {group[0]})"
                    euler = rows[rows["sampler"].astype(str).str.match(r"^euler\d+$")].sort_values("nfe")
                    ax.plot(euler["nfe"], euler["value"], color=colour, ls=ls, lw=1.6,
                            marker=st["marker"] if k else ".", ms=5 if k else 7, label=f"{label}, Euler",
                            zorder=z)
                    adaptive = rows[rows["sampler"] == "dopri5"]
                    if not adaptive.empty:
                        ax.plot(adaptive["nfe"], adaptive["value"], ls="none", marker=st["marker"] if k else "o",
                                ms=7, mfc="white", mec=colour, mew=1.5, zorder=z + 1)
            _floor(ax, sel)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("NFE (network evaluations per sample, log scale)")
            ax.set_ylabel(metric_axis_label(metric) + ", log scale")
            top = max(16.0, float(sel["nfe"].max()))
            ax.set_xticks([2 ** e for e in range(0, int(math.ceil(math.log2(top))) + 1)])
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(plt.NullFormatter())
            if len(metrics) > 1:
                ax.set_title(metric_axis_label(metric), fontsize=10)
        ax = axes[0, 0]
        handles, labels = ax.get_legend_handles_labels()
        adaptive = fd[fd["sampler"] == "dopri5"]["nfe"]
        if len(adaptive):
            lo, hi = int(adaptive.min()), int(adaptive.max())
            handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="0.2", ms=7))
            labels.append(f"dopri5, adaptive (open markers; NFE {lo}–{hi})" if lo != hi else f"dopri5 (NFE {lo})")
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
        fig.suptitle("Sample quality vs sampling cost at the last round", fontsize=10.5)
    return fig


def _tile(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(N, H, W, C) uint8 -> one square-ish tiled image on a white ground (the run folders' PNG layout)."""
    n, h, w, c = images.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = images[i]
    return grid


def _grids(data: pd.DataFrame) -> list[dict]:
    out = []
    for (run, k), group in data.sort_values(["run", "round", "sample_id"]).groupby(["run", "round"], sort=True):
        h, w, c = (int(group[col].iloc[0]) for col in ("height", "width", "channels"))
        try:
            images = np.stack([np.frombuffer(bytes.fromhex(str(p)), dtype=np.uint8).reshape(h, w, c)
                               for p in group["pixels"]])
        except ValueError:
            raise ValueError(f"data pixels of run {run!r} round {int(k)} must be hex strings of height*width*channels "
                             f"= {h * w * c} bytes") from None
        first = group.iloc[0]
        out.append({"run": str(run), "round": int(k), "images": images, "method": str(first["method"]),
                    "real_fraction": float(first["real_fraction"]), "sampler": str(first["sampler"]),
                    "nfe": int(first["nfe"]), "scale": str(first["scale"]), "dataset": str(first["dataset"])})
    return out


def plot_samples(data: pd.DataFrame, panel_size: float = 2.9):
    """Rows: runs (Reflow, RA alpha, ...); columns: round 0 (1-RF) and the last round; each panel the run's
    sample grid from one fixed noise set, pixels shown as they are (no smoothing), grey scale for one channel."""
    data = _check(data, SAMPLE_COLUMNS)
    grids = _grids(data)
    styles = _run_styles(data)
    by_run: dict[str, list[dict]] = {}
    for g in grids:
        by_run.setdefault(g["run"], []).append(g)
    runs = [st for st in styles if st["run"] in by_run]
    n_cols = max(len(v) for v in by_run.values())
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(runs), n_cols, squeeze=False, constrained_layout=True,
                                 figsize=(panel_size * n_cols + 0.2, (panel_size + 0.45) * len(runs) + 0.35))
        for i, st in enumerate(runs):
            mine = sorted(by_run[st["run"]], key=lambda g: g["round"])
            for j in range(n_cols):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for side in ax.spines.values():
                    side.set_visible(False)
                if j >= len(mine):
                    continue
                g = mine[j]
                tile = _tile(g["images"])
                if tile.shape[2] == 1:
                    ax.imshow(tile[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                else:
                    ax.imshow(tile, interpolation="nearest")
                head = f"{method_label(g['method'], g['real_fraction'])}, round {g['round']}"
                if g["round"] == 0:
                    head += " (1-RF" + (", shared)" if g["method"] != "reflow" else ")")
                sampler = sampler_title(g["sampler"], g["nfe"])
                ax.set_title(f"{head}\n{sampler}", fontsize=8.5)
                if j == 0:
                    ax.set_ylabel(st["label"], fontsize=9.5)
        n = int(data.groupby(["run", "round"])["sample_id"].nunique().max())
        fig.suptitle(f"{n} samples per panel from one fixed noise set (same noise in every panel)", fontsize=10)
    return fig
