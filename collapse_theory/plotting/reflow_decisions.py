"""Plot function of the figure ``image-reflow-decisions`` (data: :mod:`collapse_theory.experiments.reflow_decisions`).

:func:`plot_reflow_decisions`: one panel per NFE (Euler 1 step, Euler 16 steps): the FD in digitsnet classifier
features (a proxy, not FID) per round, thin lines for each seed, the mean over seeds with its 95 % Student-t CI
(error bars) per method (Reflow, RA at alpha = 0.5), ORA and ORAS (one seed each, observations) as open markers,
and the real-vs-real floor at the same sample size as a dashed grey line. Round 0 is the 1-RF shared by every method
of a seed. The 1-step panel has a log y axis (the 1-RF's 1-step FD is an order of magnitude above the rest).
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
        fig, axes = plt.subplots(1, len(nfes), figsize=(5.2 * len(nfes), 3.9), constrained_layout=True,
                                 squeeze=False)
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
        axes[0][-1].legend(loc="best", fontsize=7.5)
        fig.suptitle("8x8 digits, tiny UNet (CPU): Reflow vs RA Reflow per round, per seed and mean", fontsize=10.5)
    return fig
