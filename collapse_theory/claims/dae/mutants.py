"""Deliberately wrong DAE closed forms that checks of more than one tier (or module) reject.

A mutant is used only as a substitute ``impl`` of a check (see :mod:`collapse_theory.claims.registry`); each one
here is a plausible mistake in the formula the check's default uses. Mutants a single check uses live next to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...theory.dae import linear as linear_dae
from ...theory.dae.bounds import doubly_exponential_log_bounds
from ...theory.dae.recursion import collapse_bounds, dae_recursion

# --------------------------------------------------------------------------------------------- DAE-BOTTLENECK
# (numeric: brute-force-and-lbfgs; trained: gradient-descent-finds-top-r-eigenspace); signature (S, sigma2, r) -> (D, E)


def bottleneck_bottom_r(S, s2, r):
    """The r *smallest* eigendirections with their Wiener gains (instead of the r largest)."""
    lam, U = np.linalg.eigh(S)
    idx = np.argsort(lam)[:r]
    return U[:, idx] * (lam[idx] / (lam[idx] + s2)), U[:, idx].T


def bottleneck_projector(S, s2, r):
    """The top-r projector: right directions, gains 1 instead of lam/(lam + sigma2)."""
    D, E = linear_dae.bottleneck_dae(S, s2, r)
    return E.T, E


# --------------------------------------------------------------------------------------------- DAE-REAL-FIXED-POINT
# (numeric: closed-form-vs-iteration-and-brentq; trained: trained-moments-converge-to-fixed-point);
# signature (lam*, sigma2, alpha, rule) -> lambda_inf


def fixed_point_minus_root(lam, s2, a, rule="renoise"):
    """The quadratic's other root (minus sign before the square root), made positive."""
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    b = s2 - a * lam
    mu = (-b - np.sqrt(b * b + 4 * a * a * lam * s2)) / (2 * a)
    return np.abs(mu * mu / (mu + s2))


def fixed_point_discriminant_typo(lam, s2, a, rule="renoise"):
    """4 alpha lambda* sigma2 instead of 4 alpha^2 lambda* sigma2 in the discriminant."""
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    b = s2 - a * lam
    mu = (-b + np.sqrt(b * b + 4 * a * lam * s2)) / (2 * a)
    return mu * mu / (mu + s2)


# --------------------------------------------------------------------------------------------- DAE-COLLAPSE-RATE
# (numeric: bounds-wide-range; trained: trained-recursion-within-collapse-bounds);
# signature (lam*, sigma2, rounds, rule) -> dict of bounds as recursion.collapse_bounds


def bounds_exponent_plus_one(lam, s2, rounds, rule="renoise"):
    """lambda_max bound rho0^(k+1) instead of rho0^k."""
    b = collapse_bounds(lam, s2, rounds, rule)
    return {**b, "eigenvalue_max": b["eigenvalue_max"] * b["rho0"]}


def bounds_composed_plus_one(lam, s2, rounds, rule="renoise"):
    """Composed-map bound rho0^(k+2) instead of rho0^(k+1)."""
    b = collapse_bounds(lam, s2, rounds, rule)
    return {**b, "composed_op_norm": b["composed_op_norm"] * b["rho0"]}


def bounds_renoise_with_clean_rate(lam, s2, rounds, rule="renoise"):
    """The clean rule's rho0^(2k) used for both rules."""
    return collapse_bounds(lam, s2, rounds, "clean")


# --------------------------------------------------------------------------------------------- DAE-DOUBLY-EXP

def doubly_exp_other_exponent(log_x, j, rule="renoise"):
    """Exponent 3^j for renoise and 2^j for clean (the rules' exponents swapped)."""
    return doubly_exponential_log_bounds(log_x, j, "clean" if rule == "renoise" else "renoise")


# --------------------------------------------------------------------------------------------- population recursions
# (trained tier: the closed form a trained recursion is compared with); signature of recursion.dae_recursion


def recursion_sigma2_doubled(eigenvalues, sigma2, real_fraction=0.0, **kwargs):
    """The population recursion with 2 sigma2."""
    return dae_recursion(eigenvalues, 2 * np.asarray(sigma2), real_fraction, **kwargs)


def recursion_other_rule(eigenvalues, sigma2, real_fraction=0.0, rule="renoise", **kwargs):
    """The population recursion with the other generation rule (renoise <-> clean)."""
    return dae_recursion(eigenvalues, sigma2, real_fraction, rule="clean" if rule == "renoise" else "renoise", **kwargs)


def _same_shape(real_fraction, value: float) -> np.ndarray:
    """``value`` in the shape of ``real_fraction`` (so a mutant keeps the grid of the configuration)."""
    return np.full(np.shape(real_fraction), value, dtype=float)


def recursion_alpha_ignored(eigenvalues, sigma2, real_fraction=0.0, regime="replace", **kwargs):
    """The real fraction ignored (mix/fresh computed as replace)."""
    return dae_recursion(eigenvalues, sigma2, _same_shape(real_fraction, 0.0),
                         regime="replace" if regime in ("mix", "fresh") else regime, **kwargs)


def recursion_as_replace(eigenvalues, sigma2, real_fraction=0.0, regime="replace", **kwargs):
    """The replace regime whatever the regime asked for."""
    return dae_recursion(eigenvalues, sigma2, _same_shape(real_fraction, 0.0), regime="replace", **kwargs)


def recursion_as_half_real(eigenvalues, sigma2, real_fraction=0.0, regime="replace", **kwargs):
    """The mix regime with alpha = 1/2 whatever the regime asked for."""
    return dae_recursion(eigenvalues, sigma2, _same_shape(real_fraction, 0.5), regime="mix", **kwargs)


def recursion_as_real_fraction_0_1(eigenvalues, sigma2, real_fraction=0.0, regime="replace", **kwargs):
    """The mix regime with alpha = 0.1 whatever the regime asked for."""
    return dae_recursion(eigenvalues, sigma2, _same_shape(real_fraction, 0.1), regime="mix", **kwargs)


def recursion_identity_gain(eigenvalues, sigma2, real_fraction=0.0, **kwargs):
    """The right eigenvalues but ||W_k||_op = 1 every round (the gain without the noise)."""
    traj = dae_recursion(eigenvalues, sigma2, real_fraction, **kwargs)
    return dataclasses.replace(traj, op_norm=np.ones_like(traj.op_norm))
