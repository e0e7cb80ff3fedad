"""The ``collapse-laws`` figure: every exactly solvable law's error or signal per round on one log scale, purely
synthetic (left) and with real data (right). Data: :func:`collapse_theory.experiments.laws.collapse_laws_frame`."""

from __future__ import annotations

import numpy as np
import pandas as pd

import matplotlib.pyplot as plt

from .style import MARKERS, OKABE_ITO, RC

FLOOR = 1e-4
"""Values below this (the doubly exponential DAE collapse) are cut at the axis bottom."""
COLOURS = tuple(c for c in OKABE_ITO if c != "#F0E442")
"""Okabe-Ito without its yellow (too light for thin lines on white)."""


def _line_style(i: int) -> dict:
    """Curve i: a colour of :data:`COLOURS`, solid for the first round of colours then dashed, its own marker."""
    return {"color": COLOURS[i % len(COLOURS)], "lw": 1.5, "ls": "-" if i < len(COLOURS) else "--",
            "marker": MARKERS[(i + i // len(COLOURS)) % len(MARKERS)], "markevery": 5, "ms": 4}


def plot_collapse_laws(data: pd.DataFrame):
    """Two log-scale panels sharing the y axis; one line per curve (colour and marker per curve, markers every fifth
    round), value normalised to round 1 (round 0 where the law starts from a random fit); the accumulate chain's
    pi^2/6 bound dotted."""
    with plt.rc_context(RC):  # two stacked panels in the project style (style.new_figure makes one row)
        fig, axes = plt.subplots(2, 1, figsize=(10.5, 8.6), sharex=True, constrained_layout=True)
    titles = {"synthetic": "(a) purely synthetic: collapse in many shapes",
              "real": "(b) with real data: every law levels off"}
    for ax, panel in zip(axes, ("synthetic", "real")):
        part = data[data["panel"] == panel]
        inset = None
        for i, (curve, group) in enumerate(part.groupby("curve", sort=False)):
            group = group.sort_values("round")
            values = group["value"].to_numpy()
            shown = np.where(values > FLOOR, values, np.nan)
            style = _line_style(i)
            ax.plot(group["round"], shown, **style, label=f"{curve}\n   → {group['shape'].iloc[0]}")
            if panel == "real":
                inset = inset or ax.inset_axes([0.56, 0.07, 0.42, 0.4])
                inset.plot(group["round"], values, **(style | {"markevery": 3}))
        if inset is not None:
            inset.set_xlim(0, 15)
            inset.set_ylim(0.55, 1.4)
            inset.set_title("linear scale, rounds 0-15", fontsize=7.5)
            inset.tick_params(labelsize=7)
        ax.tick_params(labelbottom=True)
        if panel == "synthetic":
            ax.axhline(np.pi ** 2 / 6, color="0.4", lw=0.9, ls=":", zorder=0)
            ax.annotate("π²/6", xy=(part["round"].max(), np.pi ** 2 / 6), xytext=(-22, 3), textcoords="offset points",
                        fontsize=8, color="0.3")
        ax.axhline(1.0, color="0.6", lw=0.7, zorder=0)
        ax.set_yscale("log")
        ax.set_ylim(FLOOR, 200)
        ax.set_xlim(-0.5, part["round"].max() + 0.5)
        ax.set_title(titles[panel], loc="left")
        ax.set_ylabel("relative to round 1 (or 0)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.02), fontsize=7.5, frameon=False, labelspacing=0.55)
    axes[1].set_xlabel("round k (Zipf curves: T = 10·2^k training samples)")
    return fig
