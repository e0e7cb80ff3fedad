"""Tidy results of the closed-form DAE recursions, the data behind the DAE figures.

Each function returns a pandas DataFrame in long format (one row per configuration x round x quantity)
with the columns documented in its docstring. They use the theory layer only (numpy), so they are fast
and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..theory.dae import recursion
from ..validation import check_eigenvalues, check_fraction, check_positive_int, check_rule, check_sigma2

DEFAULT_SPECTRUM = (4.0, 2.0, 1.0, 0.5, 0.1)
COLLAPSE_SIGMA2 = (0.1, 0.2, 0.5, 1.0)
REAL_FRACTIONS = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0)


def collapse_curves(spectrum=DEFAULT_SPECTRUM, sigma2_values=COLLAPSE_SIGMA2, rounds: int = 60,
                    rule: str = "renoise") -> pd.DataFrame:
    """||W_k||_op and ||W_k ... W_0||_op per round, purely synthetic (replace), for several sigma2.

    Columns: sigma2, round, quantity in {op_norm, composed_op_norm, op_norm_bound}, value, where op_norm_bound
    is the C-collapse bound (lambda_max/sigma2) rho0^k (DAE-COLLAPSE-RATE)."""
    sigma2 = np.asarray(sigma2_values, dtype=float)
    traj = recursion.dae_recursion(np.asarray(spectrum, float), sigma2, 0.0, rounds, "replace", rule)
    bound = recursion.collapse_bounds(np.asarray(spectrum, float), sigma2, rounds, rule)["op_norm"]
    rows = []
    for j, s2 in enumerate(sigma2):
        for k in traj.rounds:
            rows.append((s2, int(k), "op_norm", float(traj.op_norm[k, j])))
            rows.append((s2, int(k), "composed_op_norm", float(traj.composed_op_norm[k, j])))
            rows.append((s2, int(k), "op_norm_bound", float(bound[k, j])))
    return pd.DataFrame(rows, columns=["sigma2", "round", "quantity", "value"])


def collapse_curves_with_trained(spectrum=DEFAULT_SPECTRUM, sigma2_values=COLLAPSE_SIGMA2, rounds: int = 60,
                                 replicates: int = 8, n_samples: int = 4096, seed: int = 0) -> pd.DataFrame:
    """:func:`collapse_curves` plus recursively *trained* linear DAEs (torch, certified full-batch fits, replace
    regime, renoise rule, ``n_samples`` Gaussian points per round, ``replicates`` independent runs) as rows with
    quantity trained_mean (replicate mean of ||W_k||_op), trained_lo and trained_hi (replicate min and max)."""
    from ..train import RecursionConfig, run_trained_recursion  # torch only here, when this figure is built

    closed = collapse_curves(spectrum, sigma2_values, rounds)
    config = RecursionConfig(model="linear", regime="replace", rule="renoise", sigma2=tuple(sigma2_values),
                             rounds=rounds, replicates=replicates, n_samples=n_samples, dim=len(spectrum),
                             spectrum=tuple(spectrum), seed=seed)
    trained = run_trained_recursion(config)
    ops = np.asarray(trained.op_norm)[:, 0]  # (sigma2, replicate, round)
    rows = []
    for j, s2 in enumerate(np.asarray(trained.sigma2, dtype=float)):
        for k in range(rounds + 1):
            values = ops[j, :, k]
            rows += [(float(s2), k, "trained_mean", float(values.mean())),
                     (float(s2), k, "trained_lo", float(values.min())),
                     (float(s2), k, "trained_hi", float(values.max()))]
    return pd.concat([closed, pd.DataFrame(rows, columns=closed.columns)], ignore_index=True)


def real_fraction_curves(spectrum=DEFAULT_SPECTRUM, sigma2: float = 1.0, alphas=REAL_FRACTIONS, rounds: int = 30,
                         rule: str = "renoise") -> pd.DataFrame:
    """||W_k||_op per round in the fixed-fraction regime for several alpha, with the closed-form fixed-point gain
    g(mu_inf,max) and the uniform lower bound alpha lambda*_max/(alpha lambda*_max + sigma2) (DAE-REAL-FIXED-POINT).

    Columns: sigma2, real_fraction, round, quantity in {op_norm, fixed_point_gain, lower_bound}, value."""
    lam = np.asarray(spectrum, dtype=float)
    a = np.asarray(alphas, dtype=float)
    traj = recursion.dae_recursion(lam, sigma2, a, rounds, "mix", rule)
    gain = recursion.fixed_point_gain(lam, np.full(a.shape, sigma2), a, rule)
    lower = recursion.real_fraction_lower_bound(lam, np.full(a.shape, sigma2), a)
    rows = []
    for j, alpha in enumerate(a):
        for k in traj.rounds:
            rows.append((sigma2, alpha, int(k), "op_norm", float(traj.op_norm[k, j])))
            rows.append((sigma2, alpha, int(k), "fixed_point_gain", float(gain[j])))
            rows.append((sigma2, alpha, int(k), "lower_bound", float(lower[j])))
    return pd.DataFrame(rows, columns=["sigma2", "real_fraction", "round", "quantity", "value"])


def spectrum_evolution(spectrum=tuple(np.geomspace(4.0, 0.01, 12)), sigma2: float = 0.1, rounds: int = 40,
                       rule: str = "renoise", real_fraction: float = 0.0) -> pd.DataFrame:
    """Each eigenvalue lambda_{k,i} of S_k per round (replace by default): the tail collapses first.

    Columns: sigma2, component (1 = largest), lambda_star, round, value."""
    lam = np.asarray(spectrum, dtype=float)
    regime = "mix" if real_fraction > 0 else "replace"
    traj = recursion.dae_recursion(lam, sigma2, real_fraction, rounds, regime, rule)
    rows = [(sigma2, i + 1, float(lam[i]), int(k), float(traj.eigenvalues[k, i]))
            for k in traj.rounds for i in range(len(lam))]
    return pd.DataFrame(rows, columns=["sigma2", "component", "lambda_star", "round", "value"])


def phase_diagram(n_alpha: int = 121, n_ratio: int = 121, rule: str = "renoise") -> pd.DataFrame:
    """Fixed-point gain ||W_inf||_op = g(mu_inf) over alpha in (0, 1] x sigma2/lambda_max in [1e-3, 1e1]
    (single eigenvalue lambda_max = 1), plus the rounds to collapse at alpha = 0 and the DAE-ROUNDS bounds.

    Columns: kind in {gain, rounds, rounds_lower, rounds_upper}, real_fraction, sigma2_over_lambda, value."""
    ratio = np.geomspace(1e-3, 1e1, n_ratio)
    alpha = np.linspace(0.0, 1.0, n_alpha)
    gain = recursion.fixed_point_gain(np.array([1.0]), ratio[:, None], alpha[None, :], rule)
    rows = [("gain", float(a), float(r), float(gain[i, j])) for i, r in enumerate(ratio) for j, a in enumerate(alpha)]
    x0 = 1.0 / ratio
    n = recursion.rounds_to_collapse(x0, rule)
    rows += [("rounds", 0.0, float(r), float(v)) for r, v in zip(ratio, n)]
    if rule == "renoise":
        above = x0 > 1
        lo, hi = recursion.rounds_to_collapse_bounds(x0[above])
        rows += [("rounds_lower", 0.0, float(r), float(max(v, 0.0))) for r, v in zip(ratio[above], lo)]
        rows += [("rounds_upper", 0.0, float(r), float(v)) for r, v in zip(ratio[above], hi)]
    return pd.DataFrame(rows, columns=["kind", "real_fraction", "sigma2_over_lambda", "value"])


# --------------------------------------------------------------------------------------------- figure parameters
# One frozen dataclass per DAE figure (gallery IDs dae-collapse, dae-real-fraction, dae-spectrum, dae-phase-diagram):
# its fields are what ``collapse-theory figures --set name=value`` changes; ``validated()`` raises ValueError
# naming the field; ``make_data()`` returns the figure's tidy data.

COLLAPSED_GAIN = 1e-6
"""dae-collapse: a curve has collapsed when ||W_k|| <= this (the figure's lower y limit)."""
MAX_FIGURE_ROUNDS = 2000


def _help(default, text: str):
    return field(default=default, metadata={"help": text})


def _check_rounds(value, name: str = "rounds") -> int:
    value = check_positive_int(value, name, minimum=1)
    if value > MAX_FIGURE_ROUNDS:
        raise ValueError(f"{name} must be <= {MAX_FIGURE_ROUNDS}, got {value}")
    return value


def _positive_spectrum(spectrum) -> None:
    lam = check_eigenvalues(spectrum, "spectrum")
    if lam.ndim != 1 or np.any(lam <= 0):
        raise ValueError(f"spectrum must be a list of eigenvalues > 0, got {tuple(spectrum)!r}")


@dataclass(frozen=True)
class CollapseFigure:
    """dae-collapse: ||W_k|| vs round, purely synthetic (replace, renoise), closed form + trained linear DAEs."""

    spectrum: tuple[float, ...] = _help(DEFAULT_SPECTRUM, "eigenvalues of the real data's second moment S (> 0)")
    sigma2: tuple[float, ...] = _help(COLLAPSE_SIGMA2, "noise variances σ² (> 0), one curve each")
    rounds: int | None = _help(None, "rounds to draw; auto = until every closed-form curve has collapsed "
                                     f"(‖W_k‖ ≤ {COLLAPSED_GAIN:g}) plus 2")
    replicates: int = _help(8, "trained linear DAEs per σ² (0: closed form only)")
    n_samples: int = _help(4096, "samples per round of the trained DAEs")
    seed: int = _help(0, "seed of the trained DAEs")

    def validated(self) -> "CollapseFigure":
        _positive_spectrum(self.spectrum)
        check_sigma2(self.sigma2, "sigma2")
        if self.rounds is not None:
            _check_rounds(self.rounds)
        check_positive_int(self.replicates, "replicates", minimum=0)
        check_positive_int(self.n_samples, "n_samples", minimum=2)
        check_positive_int(self.seed, "seed", minimum=0)
        self.resolved_rounds()
        return self

    def resolved_rounds(self) -> int:
        """``rounds``, or (auto) the rounds until every curve's closed-form ||W_k|| <= COLLAPSED_GAIN, plus 2."""
        if self.rounds is not None:
            return int(self.rounds)
        ratio = max(self.spectrum) / np.asarray(self.sigma2, dtype=float)
        n = recursion.rounds_to_collapse(ratio, "renoise", gain_threshold=COLLAPSED_GAIN,
                                         max_rounds=MAX_FIGURE_ROUNDS)
        if np.any(n < 0) or int(n.max()) + 2 > MAX_FIGURE_ROUNDS:
            raise ValueError(f"sigma2 must be large enough for every curve to collapse within "
                             f"{MAX_FIGURE_ROUNDS} rounds (λmax/σ² = {ratio.max():g}); set rounds explicitly")
        return int(n.max()) + 2

    def make_data(self) -> pd.DataFrame:
        self.validated()
        rounds = self.resolved_rounds()
        if self.replicates == 0:
            return collapse_curves(self.spectrum, self.sigma2, rounds)
        return collapse_curves_with_trained(self.spectrum, self.sigma2, rounds, self.replicates, self.n_samples,
                                            self.seed)


@dataclass(frozen=True)
class RealFractionFigure:
    """dae-real-fraction: ||W_k|| vs round for several real fractions α (mix regime)."""

    spectrum: tuple[float, ...] = _help(DEFAULT_SPECTRUM, "eigenvalues of the real data's second moment S (> 0)")
    sigma2: float = _help(1.0, "noise variance σ² (> 0)")
    alphas: tuple[float, ...] = _help(REAL_FRACTIONS, "real fractions α in [0, 1], one curve each")
    rounds: int = _help(30, "rounds to draw")
    rule: str = _help("renoise", "generation rule: renoise or clean")

    def validated(self) -> "RealFractionFigure":
        _positive_spectrum(self.spectrum)
        check_sigma2(self.sigma2, "sigma2")
        check_fraction(self.alphas, "alphas")
        _check_rounds(self.rounds)
        check_rule(self.rule)
        return self

    def make_data(self) -> pd.DataFrame:
        self.validated()
        return real_fraction_curves(self.spectrum, self.sigma2, self.alphas, self.rounds, self.rule)


@dataclass(frozen=True)
class SpectrumFigure:
    """dae-spectrum: every eigenvalue of S_k vs round."""

    spectrum: tuple[float, ...] = _help(tuple(float(v) for v in np.geomspace(4.0, 0.01, 12)),
                                        "initial eigenvalues λ*_i (> 0)")
    sigma2: float = _help(0.1, "noise variance σ² (> 0)")
    rounds: int = _help(40, "rounds to draw")
    rule: str = _help("renoise", "generation rule: renoise or clean")
    real_fraction: float = _help(0.0, "real fraction α in [0, 1] (0: replace regime)")

    def validated(self) -> "SpectrumFigure":
        _positive_spectrum(self.spectrum)
        check_sigma2(self.sigma2, "sigma2")
        _check_rounds(self.rounds)
        check_rule(self.rule)
        check_fraction(self.real_fraction, "real_fraction")
        return self

    def make_data(self) -> pd.DataFrame:
        self.validated()
        return spectrum_evolution(self.spectrum, self.sigma2, self.rounds, self.rule, self.real_fraction)


@dataclass(frozen=True)
class PhaseDiagramFigure:
    """dae-phase-diagram: fixed-point gain over (α, σ²/λmax) and rounds to collapse at α = 0."""

    n_alpha: int = _help(121, "grid points in α (>= 3)")
    n_ratio: int = _help(121, "grid points in σ²/λmax (>= 3)")
    rule: str = _help("renoise", "generation rule: renoise or clean")

    def validated(self) -> "PhaseDiagramFigure":
        check_positive_int(self.n_alpha, "n_alpha", minimum=3)
        check_positive_int(self.n_ratio, "n_ratio", minimum=3)
        for name in ("n_alpha", "n_ratio"):
            if getattr(self, name) > 2001:
                raise ValueError(f"{name} must be <= 2001, got {getattr(self, name)}")
        check_rule(self.rule)
        return self

    def make_data(self) -> pd.DataFrame:
        self.validated()
        return phase_diagram(self.n_alpha, self.n_ratio, self.rule)

