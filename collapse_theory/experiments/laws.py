"""Tidy data of the ``collapse-laws`` figure: how each exactly solvable law's error grows or decays with the rounds,
without and with real data, from the closed forms (collapse_theory/theory/laws/ and the DAE recursion).

Each curve is normalised by its value at round 1 (round 0 where the law starts from a random fit), so every curve
starts near 1 and the shapes (flat, linear, geometric, doubly exponential, harmonic, bounded, plateau) compare on one
log scale. Columns: panel (``synthetic`` | ``real``), curve, claim, shape, round, value, raw (the unnormalised value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..theory.dae import recursion
from ..theory.laws import diffusion, gaussian, mean_estimation, regression, wright_fisher, zipf
from ..validation import check_positive_int

ROUNDS = 40
ZIPF_ROUNDS = 20
"""The Zipf curves double T each round (T = 10 * 2^k), so they stop at k = 20 (T ~ 10^7)."""
COLUMNS = ["panel", "curve", "claim", "shape", "round", "value", "raw"]


def _rows(panel, curve, claim, shape, values, norm_round=1):
    values = np.asarray(values, dtype=float)
    scale = values[norm_round]
    return [(panel, curve, claim, shape, k, float(v / scale), float(v)) for k, v in enumerate(values)]


def collapse_laws_frame(rounds: int = ROUNDS, zipf_rounds: int = ZIPF_ROUNDS) -> pd.DataFrame:
    """The curves of the figure (see the module docstring); parameters are written into the curve labels."""
    N = check_positive_int(rounds, "rounds", minimum=2)
    zipf_rounds = check_positive_int(zipf_rounds, "zipf_rounds", minimum=1)
    rows = []
    g = gaussian.gaussian_refit_closed_form(N, samples=20, sigma2=1.0, estimator="unbiased")
    rows += _rows("synthetic", "Gaussian refit (M = 20): E σ²", "LAW-GAUSSIAN-REFIT", "flat (martingale)", g["E_var"])
    rows += _rows("synthetic", "Gaussian refit: typical σ² = exp E log σ²", "LAW-GAUSSIAN-REFIT",
                  r"geometric: $e^{n[\psi(k/2) + \log(2/k)]}$ (log-drift)", np.exp(g["E_log_var"]))
    rows += _rows("synthetic", "Gaussian refit: E W2²", "LAW-GAUSSIAN-REFIT", r"linear: $\approx n/M$", g["E_w2_squared"])
    p0 = np.full(5, 0.2)
    wf = wright_fisher.wright_fisher_closed_form(N, n=20, p0=p0)
    rows += _rows("synthetic", "Wright–Fisher (n = 20): diversity 1 − E‖p‖²", "LAW-WRIGHT-FISHER",
                  r"geometric: $(1 - 1/n)^m$", 1 - wf["E_collision"], norm_round=0)
    for mode, shape in (("replace", r"linear: $\propto n$"), ("accumulate", r"bounded: $\sum_{i \leq n} 1/i^2 < \pi^2/6$")):
        r = regression.regression_chain_closed_form(N, T=20, d=5, sigma2=1.0, mode=mode)["E_test_error"]
        rows += _rows("synthetic", f"regression chain, {mode}: test error", "LAW-REGRESSION-CHAIN", shape, r)
    dae_replace = recursion.dae_recursion([1.0], 0.1, 0.0, N, "replace", "renoise").op_norm
    dae_acc = recursion.dae_recursion([1.0], 1.0, 0.0, N, "accumulate", "renoise").op_norm
    rows += _rows("synthetic", "linear DAE (λ/σ² = 10), replace: ‖W_k‖", "DAE-DOUBLY-EXP", "doubly exponential",
                  dae_replace, norm_round=0)
    rows += _rows("synthetic", "linear DAE (λ/σ² = 1), accumulate: ‖W_k‖", "DAE-ACCUMULATE", r"harmonic: $\sim 1/k$", dae_acc,
                  norm_round=0)
    h0 = diffusion.diffusion_closed_form(N, alpha=0.0, delta=0.1)["E_He1"]
    rows += _rows("synthetic", "diffusion, early stop δ = 0.1: mean signal E He₁", "LAW-DIFFUSION-EARLY-STOP",
                  r"geometric: $e^{-\delta (k+1)}$", h0, norm_round=0)
    z_cut = zipf.zipf_closed_form(zipf_rounds, beta=2.0, k=100, T0=10)["E_test_error"]
    rows += _rows("synthetic", "Zipf cut at k = 100 (T = 10·2^k): test error", "LAW-ZIPF-TAIL",
                  r"power law, then a plateau $\propto k^{-(\beta-1)}$", z_cut, norm_round=0)

    wf_real = wright_fisher.wright_fisher_closed_form(N, n=20, p0=p0, real_weight=0.1)
    rows += _rows("real", "Wright–Fisher, real weight 0.1: diversity", "LAW-WRIGHT-FISHER", "plateau",
                  1 - wf_real["E_collision"], norm_round=0)
    fr = mean_estimation.fixed_real_ratio_closed_form(N, n=10, ratio=1.0)["E_sq_error"]
    rows += _rows("real", "fixed real data, λ = 1: E(μ − μ*)²", "LAW-FIXED-REAL-RATIO", r"plateau: $(1 + 3\lambda)/(1 + 2\lambda)$",
                  fr, norm_round=0)
    fd = mean_estimation.fresh_data_closed_form(N, n_real=10, n_synth=10)["E_sq_error"]
    rows += _rows("real", "fresh data n_r = n_s = 10: E(μ − μ*)²", "LAW-FRESH-DATA", "plateau", fd, norm_round=0)
    ow = mean_estimation.optimal_weight_closed_form(N, n_real=10, n_synth=10)["E_sq_error"]
    rows += _rows("real", "optimal real weight w* = 1/φ: E(μ − μ*)²", "LAW-OPTIMAL-WEIGHT", "lower plateau (the best weight)", ow,
                  norm_round=0)
    h25 = diffusion.diffusion_closed_form(N, alpha=0.25, delta=0.1)["E_He1"]
    rows += _rows("real", "diffusion, fresh α = 0.25: mean signal E He₁", "LAW-DIFFUSION-EARLY-STOP",
                  r"plateau: $\alpha e^{-\delta}/(1 - (1 - \alpha) e^{-\delta})$", h25, norm_round=0)
    dae_mix = recursion.dae_recursion([1.0], 0.1, 0.1, N, "mix", "renoise").op_norm
    rows += _rows("real", "linear DAE, real fraction α = 0.1: ‖W_k‖", "DAE-REAL-FIXED-POINT", "fixed point",
                  dae_mix, norm_round=0)
    z_real = zipf.zipf_test_error(10 * 2.0 ** np.arange(zipf_rounds + 1), 10 ** 6, 2.0)
    rows += _rows("real", "Zipf uncut (k = 10⁶): test error", "LAW-ZIPF-TAIL", r"power law: $T^{-(1 - 1/\beta)}$", z_real,
                  norm_round=0)
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class CollapseLawsFigure:
    """collapse-laws: every law's error or signal per round on one log scale, without and with real data."""

    rounds: int = field(default=ROUNDS, metadata={"help": "rounds drawn (>= 2)"})
    zipf_rounds: int = field(default=ZIPF_ROUNDS, metadata={"help": "rounds of the Zipf curves (T = 10 2^k; <= 30)"})

    def validated(self) -> "CollapseLawsFigure":
        check_positive_int(self.rounds, "rounds", minimum=2)
        if check_positive_int(self.zipf_rounds, "zipf_rounds", minimum=1) > 30:
            raise ValueError(f"zipf_rounds must be <= 30 (T = 10 2^k samples), got {self.zipf_rounds}")
        return self

    def make_data(self) -> pd.DataFrame:
        self.validated()
        return collapse_laws_frame(self.rounds, self.zipf_rounds)
