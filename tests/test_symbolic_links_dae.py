"""Proof <-> numpy links of the DAE-family symbolic checks that had none (issue 12): each check passes on the package,
still rejects its mutants, and fails -- with the proof intact and numpy_max_err_over_tol > 1 -- once the package's
numpy function it links to carries a plausible bug (the pattern of test_symbolic.py's
test_breaking_the_numpy_function_fails_the_symbolic_check)."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_theory.claims.dae.symbolic_links_more import BalancedNoise
from collapse_theory.claims.registry import checks, run_check
from collapse_theory.theory.dae import finite_sample, linear as linear_dae, recursion
from collapse_theory.theory.laws import gaussian as laws_gaussian

LINKED = [
    ("DAE-OPT", "least-squares-limit"),
    ("DAE-BOTTLENECK", "loss-formula"),
    ("DAE-BOTTLENECK", "top-r-directions"),
    ("DAE-MATRIX-EIGEN", "eigenbasis-preserved"),
    ("DAE-ROUNDS", "scale-invariance"),
    ("DAE-CLEAN-RULE", "clean-fixed-point"),
    ("DAE-FINITE-SAMPLE", "one-round-unbiased"),
    ("DAE-LOG-DRIFT", "concavity-predicts-downward-drift"),
    ("C-collapse", "geometric-decay-from-rate"),
    ("C-real", "bounded-away-from-zero"),
]


def _item(claim: str, name: str):
    return next(c for c in checks(["symbolic"]) if c.claim_id == claim and c.name == name)


@pytest.mark.parametrize("claim, name", LINKED)
def test_linked_check_passes_and_rejects_its_mutants(claim, name):
    result = run_check(_item(claim, name))
    assert result.status == "pass", result.as_dict()
    assert result.evidence["numpy_points"] >= 12
    assert result.evidence["numpy_max_err_over_tol"] <= 1
    assert len(result.mutants_rejected) == len(_item(claim, name).mutants) and all(result.mutants_rejected.values())


# ---------------------------------------------------------------------------------------------- plausible bugs

def _least_squares_sigma2_for_sigma(f, X, s2, noise_draws=None, rng=None):
    """noisy = clean + sigma2 e in the least-squares fit: the noise variance becomes sigma2^2."""
    return f(X, s2 ** 2 if noise_draws else s2, noise_draws, rng)


def _bottom_r(f, S, s2, rank):
    """argsort ascending: the bottom-r eigendirections kept."""
    lam, U = np.linalg.eigh(S)
    order = np.argsort(lam)[:rank]
    U_r = U[:, order]
    return U_r * (lam[order] / (lam[order] + s2)), U_r.T.copy()


BREAKERS = {
    "second_moment divides by n - 1": (
        linear_dae, "second_moment", lambda f, X: f(X) * X.shape[-2] / (X.shape[-2] - 1),
        ("DAE-OPT", "least-squares-limit")),
    "least-squares noise sigma2 e": (
        linear_dae, "empirical_dae", _least_squares_sigma2_for_sigma, ("DAE-OPT", "least-squares-limit")),
    "bottleneck loss with sigma for sigma2": (
        linear_dae, "bottleneck_dae_loss", lambda f, lam, s2, r: f(lam, np.sqrt(s2), r),
        ("DAE-BOTTLENECK", "loss-formula")),
    "bottleneck keeps the bottom-r directions": (
        linear_dae, "bottleneck_dae", _bottom_r, ("DAE-BOTTLENECK", "top-r-directions")),
    "matrix recursion mixes with alpha <-> 1 - alpha": (
        recursion, "dae_recursion_matrix",
        lambda f, S, s2, a=0.0, rounds=50, regime="replace", rule="renoise": f(
            S, s2, 1 - a if regime == "mix" else a, rounds, regime, rule),
        ("DAE-MATRIX-EIGEN", "eigenbasis-preserved")),
    "eigenvalue recursion with the rules swapped": (
        recursion, "dae_recursion",
        lambda f, lam, s2, a=0.0, rounds=50, regime="replace", rule="renoise", **k: f(
            lam, s2, a, rounds, regime, "clean" if rule == "renoise" else "renoise", **k),
        ("DAE-MATRIX-EIGEN", "eigenbasis-preserved")),
    "scale-free map with the rules swapped": (
        recursion, "collapse_map",
        lambda f, x, rule="renoise": f(x, "clean" if rule == "renoise" else "renoise"),
        ("DAE-ROUNDS", "scale-invariance")),
    "clean fixed point with alpha <-> 1 - alpha": (
        recursion, "fixed_point_training_moment",
        lambda f, lam, s2, a, rule="renoise": f(lam, s2, 1 - a, rule), ("DAE-CLEAN-RULE", "clean-fixed-point")),
    "clean fixed point off by 1e-9": (
        recursion, "fixed_point", lambda f, *a, **k: f(*a, **k) * (1 + 1e-9), ("DAE-CLEAN-RULE", "clean-fixed-point")),
    "clean rate without (1 - alpha)": (
        recursion, "fixed_point_rate",
        lambda f, lam, s2, a, rule="renoise": f(lam, s2, a, rule) / (1 - a), ("DAE-CLEAN-RULE", "clean-fixed-point")),
    "finite-sample moment divides by n - 1": (
        finite_sample, "empirical_second_moment", lambda f, X: f(X) * X.shape[-2] / (X.shape[-2] - 1),
        ("DAE-FINITE-SAMPLE", "one-round-unbiased")),
    "generation fitted with sigma for sigma2": (
        finite_sample, "generate_from_training_set",
        lambda f, T, s2, rule="renoise", n=None, R=1000, seed=0: f(T, np.sqrt(s2), rule, n, R, seed),
        ("DAE-FINITE-SAMPLE", "one-round-unbiased")),
    "log drift with the divisors swapped": (
        laws_gaussian, "log_drift",
        lambda f, M, est, dim=1: f(M, "mle" if est == "unbiased" else "unbiased", dim),
        ("DAE-LOG-DRIFT", "concavity-predicts-downward-drift")),
    "composed bound rho0^k": (
        recursion, "collapse_bounds",
        lambda f, lam, s2, k, rule="renoise": {**f(lam, s2, k, rule), "composed_op_norm": (
            f(lam, s2, k, rule)["composed_op_norm"] / f(lam, s2, k, rule)["rho0"])},
        ("C-collapse", "geometric-decay-from-rate")),
    "real-fraction bound with alpha <-> 1 - alpha": (
        recursion, "real_fraction_lower_bound", lambda f, lam, s2, a: f(lam, s2, 1 - a),
        ("C-real", "bounded-away-from-zero")),
    "real-fraction bound off by 1e-9": (
        recursion, "real_fraction_lower_bound", lambda f, lam, s2, a: f(lam, s2, a) * (1 + 1e-9),
        ("C-real", "bounded-away-from-zero")),
}


@pytest.mark.parametrize("bug", list(BREAKERS))
def test_breaking_the_numpy_function_fails_the_symbolic_check(monkeypatch, bug):
    module, name, wrap, (claim, check_name) = BREAKERS[bug]
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args, **kwargs: wrap(original, *args, **kwargs))
    result = run_check(_item(claim, check_name))
    assert result.status == "fail", result.as_dict()
    assert result.evidence["numpy_max_err_over_tol"] > 1
    assert result.evidence["steps_proved"] == result.evidence["steps"]   # the proof itself still holds


def test_every_linked_check_has_a_breaker():
    assert {target for *_, target in BREAKERS.values()} == set(LINKED)


def test_balanced_noise_has_the_expected_moments():
    e = BalancedNoise(np.random.PCG64(0)).standard_normal((12, 2))
    for block in e.reshape(3, 4, 2):
        assert np.array_equal(block.sum(axis=0), np.zeros(2))
        assert np.array_equal(block.T @ block, 4 * np.eye(2))
    assert np.random.default_rng(rng := BalancedNoise(np.random.PCG64(0))) is rng
    with pytest.raises(ValueError, match="BalancedNoise"):
        BalancedNoise(np.random.PCG64(0)).standard_normal((6, 2))
