"""Plot functions of the DAE figures. Each draws one figure from one tidy results table (see
:mod:`collapse_theory.experiments.dae` for the columns) and returns the matplotlib figure."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.lines import Line2D
import pandas as pd

from .style import MARKERS, OKABE_ITO, new_figure


def plot_collapse(data: pd.DataFrame):
    """||W_k||_op vs round (log scale), purely synthetic: closed form as lines, the C-collapse bound
    (lambda_max/sigma2) rho0^k with rho0 = lambda_max/(lambda_max + sigma2) dotted in the curve's colour (not capped:
    it starts at lambda_max/sigma2 > 1), and, where the data hold quantities trained_mean / trained_lo / trained_hi,
    trained DAEs as markers (replicate mean, every second round) with a band from the replicates' min to max.
    Colour = sigma2 (first legend); line style = what is drawn (second legend)."""
    fig, ax = new_figure(width=7.4, height=4.0)
    has_trained = "trained_mean" in set(data["quantity"])
    colour_handles = []
    top = 1.0
    for i, (s2, group) in enumerate(data.groupby("sigma2", sort=True)):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        op = group[group.quantity == "op_norm"]
        bound = group[group.quantity == "op_norm_bound"]
        line, = ax.plot(op["round"], op["value"], color=color, lw=1.6, label=f"σ² = {s2:g}")
        colour_handles.append(line)
        ax.plot(bound["round"], bound["value"], color=color, lw=1.1, ls=":")
        top = max(top, float(bound["value"].max()))
        if has_trained:
            mean = group[group.quantity == "trained_mean"]
            lo = group[group.quantity == "trained_lo"]["value"].to_numpy()
            hi = group[group.quantity == "trained_hi"]["value"].to_numpy()
            ax.fill_between(mean["round"], np.maximum(lo, 1e-300), hi, color=color, alpha=0.2, lw=0)
            every = mean[mean["round"] % 2 == 0]
            ax.plot(every["round"], every["value"], ls="none", marker=MARKERS[i % len(MARKERS)], ms=3.5,
                    color=color, markerfacecolor="white")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="-", zorder=0)
    style_handles = [Line2D([], [], color="0.2", lw=1.6, label="closed form ‖W_k‖")]
    if has_trained:
        style_handles.append(Line2D([], [], color="0.2", ls="none", marker="o", ms=4, markerfacecolor="white",
                                    label="trained linear DAEs\n(mean; band: min–max)"))
    style_handles.append(Line2D([], [], color="0.2", lw=1.1, ls=":",
                                label="bound (λmax/σ²)·ρ₀ᵏ\nρ₀ = λmax/(λmax+σ²)"))
    ax.set_yscale("log")
    ax.set_ylim(1e-6, top * 2)
    ax.set_xlabel("round k")
    ax.set_ylabel("operator norm ‖W_k‖ (dimensionless)")
    ax.set_title("Purely synthetic training collapses (replace, renoise)")
    first = ax.legend(handles=colour_handles, title="noise variance", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.add_artist(first)
    ax.legend(handles=style_handles, loc="upper left", bbox_to_anchor=(1.01, 0.5), fontsize=7.5)
    return fig


def plot_real_fraction(data: pd.DataFrame):
    """||W_k||_op vs round for several real fractions alpha: curves plateau at the closed-form fixed-point gain
    (dashed); alpha = 0 collapses. Each alpha has its own marker; an inset on a linear scale separates the curves
    near the top (alpha = 0.5 and 1 differ by about 0.01 there). Legend outside the axes."""
    fig, ax = new_figure(width=7.0, height=4.0)
    inset = ax.inset_axes([0.38, 0.08, 0.58, 0.42])
    tops = []
    for i, (alpha, group) in enumerate(data.groupby("real_fraction", sort=True)):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        op = group[group.quantity == "op_norm"]
        style = dict(color=color, lw=1.6, marker=MARKERS[i % len(MARKERS)], ms=4, markevery=(i % 3, 3),
                     markerfacecolor="white")
        ax.plot(op["round"], op["value"], label=f"α = {alpha:g}", **style)
        if alpha > 0:
            gain = float(group[group.quantity == "fixed_point_gain"]["value"].iloc[0])
            ax.axhline(gain, color=color, lw=1, ls="--")
            inset.axhline(gain, color=color, lw=1, ls="--")
            inset.plot(op["round"], op["value"], **style)
            tops.append(op["value"].to_numpy())
    ax.plot([], [], color="0.4", lw=1, ls="--", label="fixed-point gain g(μ∞)")
    if tops:
        values = np.concatenate(tops)
        high = float(values.max())
        low = float(np.sort(np.unique(np.concatenate([t[-1:] for t in tops])))[-3:].min())
        pad = 0.08 * (high - low) if high > low else 0.01
        inset.set_ylim(low - pad, high + pad)
    inset.set_title("zoom, linear scale", fontsize=8)
    inset.tick_params(labelsize=7)
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.5)
    ax.set_xlabel("round k")
    ax.set_ylabel("operator norm ‖W_k‖ (dimensionless)")
    ax.set_title("A fixed real fraction α keeps ‖W_k‖ away from zero")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title=f"real fraction\n(mix regime, σ² = {data['sigma2'].iloc[0]:g})")
    return fig


def plot_spectrum(data: pd.DataFrame):
    """Each eigenvalue of S_k vs round (log scale), coloured by its index: the small (tail) eigenvalues collapse first."""
    fig, ax = new_figure()
    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.LogNorm(vmin=data.lambda_star.min(), vmax=data.lambda_star.max())
    for comp, group in data.groupby("component", sort=True):
        ax.plot(group["round"], group["value"], color=cmap(norm(group["lambda_star"].iloc[0])), lw=1.4)
    fig.colorbar(mpl.cm.ScalarMappable(cmap=cmap, norm=norm), ax=ax, label="initial eigenvalue λ*_i")
    ax.set_yscale("log")
    ax.set_ylim(max(1e-12, float(data["value"][data["value"] > 0].min())), float(data["value"].max()) * 2)
    ax.set_xlabel("round k")
    ax.set_ylabel("eigenvalue λ_k,i of S_k (data units²)")
    ax.set_title(f"Spectrum across rounds (replace, σ² = {data['sigma2'].iloc[0]:g}): the tail goes first")
    return fig


def plot_phase_diagram(data: pd.DataFrame):
    """Left: fixed-point gain g(mu_inf) over (alpha, sigma2/lambda_max) with contours. Right: rounds to collapse
    at alpha = 0 vs sigma2/lambda_max with the DAE-ROUNDS bounds."""
    fig, (left, right) = new_figure(ncols=2, width=4.8)
    fig.get_layout_engine().set(wspace=0.12)  # room between the colour bar's label and the right panel
    gain = data[data.kind == "gain"].pivot(index="sigma2_over_lambda", columns="real_fraction", values="value")
    A, R = np.meshgrid(gain.columns.to_numpy(), gain.index.to_numpy())
    mesh = left.pcolormesh(A, R, gain.to_numpy(), cmap="cividis", shading="auto", vmin=0, vmax=1)
    levels = [0.1, 0.25, 0.5, 0.75, 0.9]
    contours = left.contour(A, R, gain.to_numpy(), levels=levels, colors="white", linewidths=0.8)
    # labels placed on the column alpha = 0.6, well inside the axes (automatic placement clipped "0.1" at the edge)
    column = gain.iloc[:, int(np.argmin(np.abs(gain.columns.to_numpy() - 0.6)))]
    ratios, values = column.index.to_numpy(), column.to_numpy()
    order = np.argsort(values)
    spots = [(float(gain.columns[np.argmin(np.abs(gain.columns.to_numpy() - 0.6))]),
              float(np.exp(np.interp(level, values[order], np.log(ratios[order])))))
             for level in levels if values.min() < level < values.max()]
    left.clabel(contours, fmt="%.2g", fontsize=7, manual=spots, inline_spacing=3)
    left.set_yscale("log")
    left.set_xlabel("real fraction α")
    left.set_ylabel("σ² / λmax")
    left.set_title("fixed-point gain ‖W_∞‖")
    left.grid(False)
    fig.colorbar(mesh, ax=left, label="‖W_∞‖ (dimensionless)")
    rounds = data[(data.kind == "rounds") & (data.value > 0)]
    right.plot(rounds["sigma2_over_lambda"], rounds["value"], color=OKABE_ITO[0], lw=1.8,
               drawstyle="steps-mid", label="rounds to collapse (α = 0)")
    for kind, style in (("rounds_lower", "--"), ("rounds_upper", ":")):
        part = data[(data.kind == kind) & (data.value >= 1)]
        if len(part):
            right.plot(part["sigma2_over_lambda"], part["value"], color=OKABE_ITO[3], lw=1.2, ls=style,
                       label="x0 + ln x0 − 8/3" if kind == "rounds_lower" else "x0 + ln x0 + ln 2 − 1/2")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("σ² / λmax  (x0 = λmax/σ²)")
    right.set_ylabel("rounds until ‖W_k‖ ≤ 1/2")
    right.set_title("slow when σ² is small")
    right.legend(loc="upper right")
    return fig
