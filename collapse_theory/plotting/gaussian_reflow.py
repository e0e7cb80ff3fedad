"""Plot functions of the rectified-flow figures (data: :mod:`collapse_theory.experiments.gaussian_reflow`)."""

from __future__ import annotations

import pandas as pd

from .style import MARKERS, OKABE_ITO, new_figure

LINESTYLES = ("-", "--", ":", "-.")


def plot_gaussian_reflow(data: pd.DataFrame):
    """Left: W2 of each round's fitted Gaussian to the real one, per method (replicate mean +- 2 SE).
    Right: log det Sigma_k of estimated Reflow (Monte-Carlo mean +- 2 SE) against its closed-form expectation."""
    fig, (left, right) = new_figure(ncols=2, width=4.8)
    for i, (method, group) in enumerate(data[data.quantity == "w2_to_real"].groupby("method", sort=False)):
        alpha = float(group["real_fraction"].iloc[0])
        color = OKABE_ITO[i % len(OKABE_ITO)]
        label = method if method == "reflow" else f"{method} (α = {alpha:g})"
        left.plot(group["round"], group["mean"], color=color, ls=LINESTYLES[i % 4], marker=MARKERS[i], ms=3.5,
                  label=label)
        left.fill_between(group["round"], group["mean"] - 2 * group["se"], group["mean"] + 2 * group["se"],
                          color=color, alpha=0.15, lw=0)
    left.set_xlabel("round k")
    left.set_ylabel("W2 of N(m_k, Σ_k) to N(m*, Σ*) (data units)")
    left.set_title("Estimated Gaussian Reflow: W2 to the real law")
    left.legend(loc="upper left", title="ra, ora, oras coincide here:\nsame fitted laws, exact pairs")
    reflow = data[data.method == "reflow"]
    mc = reflow[reflow.quantity == "log_det"]
    expected = reflow[reflow.quantity == "expected_log_det"]
    right.plot(mc["round"], mc["mean"], color=OKABE_ITO[0], marker="o", ms=3.5, label="Monte-Carlo mean ± 2 SE")
    right.fill_between(mc["round"], mc["mean"] - 2 * mc["se"], mc["mean"] + 2 * mc["se"], color=OKABE_ITO[0],
                       alpha=0.2, lw=0)
    right.plot(expected["round"], expected["mean"], color=OKABE_ITO[3], ls="--", label="closed form E log det Σ_k")
    right.set_xlabel("round k")
    right.set_ylabel("log det Σ_k (log data units²)")
    right.set_title("Reflow's log det drifts down linearly")
    right.legend(loc="lower left")
    return fig
