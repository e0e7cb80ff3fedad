"""Plot function of the figure ``image-reflow-decisions`` (data: :mod:`collapse_theory.experiments.reflow_decisions`).

:func:`plot_reflow_decisions`: one panel per NFE (Euler 1 step, Euler 16 steps): the FD in digitsnet classifier
features (a proxy, not FID) per round, thin lines for each seed, the mean over seeds with its 95 % Student-t CI
(error bars) per method (Reflow, RA at alpha = 0.5), ORA and ORAS (one seed each, observations) as open markers,
and the real-vs-real floor at the same sample size as a dashed grey line. Round 0 is the 1-RF shared by every method
of a seed. The 1-step panel has a log y axis (the 1-RF's 1-step FD is an order of magnitude above the rest). A last
panel shows the contrast C-RA decides: per seed FD(Reflow, k) - FD(RA, k) for rounds k >= 1 (paired by seed, so the
seed-to-seed spread of the FD level, which dominates the error bars of the other panels, cancels), mean +- 95 % CI.
"""

from __future__ import annotations

import pandas as pd

from .style import OKABE_ITO, RC
from .toy_reflow import METHOD_COLOR, METHOD_NAME

COLUMNS = ("kind", "method", "seed", "round", "nfe", "value", "ci_low", "ci_high", "n_seeds", "floor")
FLOOR_STYLE = dict(color="0.35", ls="--", lw=1.1)
ONCE_MARKER = {"ora": "s", "oras": "D"}


def plot_reflow_decisions(data: pd.DataFrame):
    """The figure (see the module docstring) from the tidy table of
    :func:`collapse_theory.experiments.reflow_decisions.decisions_table`."""
    import matplotlib.pyplot as plt

    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing or data.empty:
        raise ValueError(f"data must have the columns {', '.join(COLUMNS)} and rows; missing {', '.join(missing)}")
    nfes = sorted(int(n) for n in data["nfe"].unique())
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(nfes) + 1, figsize=(4.9 * (len(nfes) + 1), 3.9), constrained_layout=True,
                                 squeeze=False)
        _plot_paired(axes[0][-1], data, nfes)
        for ax, nfe in zip(axes[0], nfes):
            d = data[data["nfe"] == nfe]
            offsets = {"reflow": -0.06, "ra": 0.06}
            for method, off in offsets.items():
                color = METHOD_COLOR.get(method, OKABE_ITO[4])
                seeds = d[(d["kind"] == "seed") & (d["method"] == method)]
                for _, g in seeds.groupby("seed"):
                    g = g.sort_values("round")
                    ax.plot(g["round"] + off, g["value"], color=color, lw=0.6, alpha=0.35)
                m = d[(d["kind"] == "mean") & (d["method"] == method)].sort_values("round")
                if m.empty:
                    continue
                n = int(m["n_seeds"].iloc[0])
                label = f"{METHOD_NAME[method]}{', α = 0.5' if method == 'ra' else ''}: mean ± 95 % CI ({n} seeds)"
                ax.errorbar(m["round"] + off, m["value"], yerr=[m["value"] - m["ci_low"], m["ci_high"] - m["value"]],
                            color=color, lw=2, marker="o", ms=4, capsize=3, label=label)
            once = d[d["kind"] == "once"]
            for method, g in once.groupby("method"):
                g = g.sort_values("round")
                ax.plot(g["round"], g["value"], ls="none", marker=ONCE_MARKER.get(method, "^"), mfc="none",
                        color=METHOD_COLOR.get(method, OKABE_ITO[4]),
                        label=f"{METHOD_NAME.get(method, method)} (seed {int(g['seed'].iloc[0])}, observation)")
            floor = d[d["kind"] == "floor"]
            if not floor.empty:
                ax.axhline(float(floor["value"].iloc[0]), **FLOOR_STYLE,
                           label=f"real vs real (N = {int(floor['n_seeds'].iloc[0])})")
            if nfe == 1:
                ax.set_yscale("log")
            ax.set_xlabel("round (0 = shared 1-RF)")
            ax.set_ylabel("FD (digitsnet features)")
            ax.set_title(f"Euler, {nfe} step{'s' if nfe > 1 else ''}")
            rounds = sorted(int(r) for r in d["round"].unique() if r >= 0)
            ax.set_xticks(rounds)
        axes[0][-2].legend(loc="best", fontsize=7.5)
        fig.suptitle("8x8 digits, tiny UNet (CPU): Reflow vs RA Reflow per round, per seed and mean", fontsize=10.5)
    return fig


def _plot_paired(ax, data: pd.DataFrame, nfes) -> None:
    """The decided contrast: per seed FD(Reflow, k) - FD(RA, k) (paired by seed), mean +- 95 % t interval."""
    import numpy as np
    from scipy import stats

    seeds = data[data["kind"] == "seed"]
    for i, nfe in enumerate(nfes):
        d = seeds[seeds["nfe"] == nfe].pivot_table(index=["seed", "round"], columns="method", values="value")
        if not {"reflow", "ra"} <= set(d.columns):
            continue
        diff = (d["reflow"] - d["ra"]).unstack("round")
        diff = diff[[k for k in diff.columns if k >= 1]]
        color = OKABE_ITO[2 + 2 * i]
        off = -0.05 + 0.1 * i
        for _, row in diff.iterrows():
            ax.plot(np.array(diff.columns) + off, row.to_numpy(), color=color, lw=0.6, alpha=0.35)
        n = diff.shape[0]
        mean = diff.mean().to_numpy()
        half = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1).to_numpy() / np.sqrt(n) if n > 1 else 0 * mean
        ax.errorbar(np.array(diff.columns) + off, mean, yerr=half, color=color, lw=2, marker="o", ms=4, capsize=3,
                    label=f"Euler {nfe}: mean ± 95 % CI ({n} seeds)")
    ax.axhline(0.0, color="0.35", lw=0.9)
    ax.set_xlabel("round")
    ax.set_ylabel("FD(Reflow) − FD(RA), same seed")
    ax.set_title("paired difference (the C-RA contrast)")
    ax.legend(loc="best", fontsize=7.5)
