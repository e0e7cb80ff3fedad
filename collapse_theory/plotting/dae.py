"""Plot functions of the DAE figures. Each draws one figure from one tidy results table (see
:mod:`collapse_theory.experiments.dae` for the columns) and returns the matplotlib figure."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd

from .style import MARKERS, OKABE_ITO, new_figure


def plot_collapse(data: pd.DataFrame):
    """||W_k||_op vs round (log scale), purely synthetic: closed form as lines, the C-collapse bound dotted,
    and, where the data hold quantities trained_mean / trained_lo / trained_hi, trained DAEs as markers (replicate
    mean, every second round) with a band from the replicates' min to max."""
    fig, ax = new_figure()
    has_trained = "trained_mean" in set(data["quantity"])
    for i, (s2, group) in enumerate(data.groupby("sigma2", sort=True)):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        op = group[group.quantity == "op_norm"]
        bound = group[group.quantity == "op_norm_bound"]
        ax.plot(op["round"], op["value"], color=color, lw=1.6, label=f"closed form, σ² = {s2:g}")
        ax.plot(bound["round"], np.minimum(bound["value"], 1.0), color=color, lw=1, ls=":")
        if has_trained:
            mean = group[group.quantity == "trained_mean"]
            lo = group[group.quantity == "trained_lo"]["value"].to_numpy()
            hi = group[group.quantity == "trained_hi"]["value"].to_numpy()
            ax.fill_between(mean["round"], np.maximum(lo, 1e-300), hi, color=color, alpha=0.2, lw=0)
            every = mean[mean["round"] % 2 == 0]
            ax.plot(every["round"], every["value"], ls="none", marker=MARKERS[i % len(MARKERS)], ms=3.5,
                    color=color, markerfacecolor="white", label=f"trained DAEs, σ² = {s2:g}")
    ax.plot([], [], color="0.4", lw=1, ls=":", label="bound (λmax/σ²)·ρ0^k")
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 1.5)
    ax.set_xlabel("round k")
    ax.set_ylabel("operator norm ‖W_k‖ (dimensionless)")
    ax.set_title("Purely synthetic training collapses (replace, renoise)")
    ax.legend(loc="lower left", ncol=2 if has_trained else 1, fontsize=7.5)
    return fig


def plot_real_fraction(data: pd.DataFrame):
    """||W_k||_op vs round for several real fractions alpha: curves plateau at the closed-form fixed-point gain
    (dashed); alpha = 0 collapses."""
    fig, ax = new_figure()
    for i, (alpha, group) in enumerate(data.groupby("real_fraction", sort=True)):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        op = group[group.quantity == "op_norm"]
        ax.plot(op["round"], op["value"], color=color, lw=1.8, label=f"α = {alpha:g}")
        if alpha > 0:
            gain = float(group[group.quantity == "fixed_point_gain"]["value"].iloc[0])
            ax.axhline(gain, color=color, lw=1, ls="--")
    ax.plot([], [], color="0.4", lw=1, ls="--", label="fixed-point gain g(μ∞)")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.5)
    ax.set_xlabel("round k")
    ax.set_ylabel("operator norm ‖W_k‖ (dimensionless)")
    ax.set_title("A fixed real fraction α keeps ‖W_k‖ away from zero")
    ax.legend(loc="lower left", ncol=2, title=f"real fraction (mix regime, σ² = {data['sigma2'].iloc[0]:g})")
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
    gain = data[data.kind == "gain"].pivot(index="sigma2_over_lambda", columns="real_fraction", values="value")
    A, R = np.meshgrid(gain.columns.to_numpy(), gain.index.to_numpy())
    mesh = left.pcolormesh(A, R, gain.to_numpy(), cmap="cividis", shading="auto", vmin=0, vmax=1)
    contours = left.contour(A, R, gain.to_numpy(), levels=[0.1, 0.25, 0.5, 0.75, 0.9], colors="white", linewidths=0.8)
    left.clabel(contours, fmt="%.2g", fontsize=7)
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
