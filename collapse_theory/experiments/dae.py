"""Tidy results of the closed-form DAE recursions, the data behind the DAE figures.

Each function returns a pandas DataFrame in long format (one row per configuration x round x quantity)
with the columns documented in its docstring. They use the theory layer only (numpy), so they are fast
and deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..theory.dae import recursion

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
