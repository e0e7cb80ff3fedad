"""Hypothesis property tests of the DAE theory over wide parameter ranges, each paired with a test that the
same property rejects a deliberately wrong formula."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collapse_theory.claims.dae import properties as P
from collapse_theory.theory.dae import linear as linear_dae, recursion
from collapse_theory.theory.dae.bounds import doubly_exponential_log_bounds

sigma2s = st.floats(min_value=1e-8, max_value=1e4, allow_nan=False, allow_infinity=False)
log_eigs = st.floats(min_value=-6.0, max_value=4.0)
alphas = st.floats(min_value=1e-3, max_value=1.0)
rules = st.sampled_from(["renoise", "clean"])


@st.composite
def spectra(draw, max_dim=64):
    d = draw(st.integers(min_value=1, max_value=max_dim))
    exps = draw(st.lists(log_eigs, min_size=d, max_size=d))
    lam = np.sort(10.0 ** np.array(exps))[::-1]
    zeros = draw(st.lists(st.booleans(), min_size=d, max_size=d))
    lam[1:][np.array(zeros[1:], dtype=bool)] = 0.0
    return lam


@st.composite
def psd_matrices(draw, max_dim=64):
    lam = draw(spectra(max_dim))
    seed = draw(st.integers(0, 2**31 - 1))
    return P.random_psd(np.random.default_rng(seed), lam)


# ------------------------------------------------------------------------------------- optimal DAE

@given(psd_matrices(), sigma2s)
def test_optimal_dae_solves_normal_equations(S, sigma2):
    assert P.property_optimal_dae(S, sigma2).passed


def test_optimal_dae_property_rejects_missing_sigma2():
    S = P.random_psd(np.random.default_rng(0), np.array([4.0, 1.0, 0.1]))
    assert not P.property_optimal_dae(S, 0.3, impl=lambda S, s2: linear_dae.optimal_dae(S, 1.0)).passed


# ------------------------------------------------------------------------------------- one step

@given(psd_matrices(), sigma2s, rules)
def test_one_step_matches_eigen_map(S, sigma2, rule):
    assert P.property_one_step(S, sigma2, rule).passed


def test_one_step_rejects_swapped_rules():
    S = P.random_psd(np.random.default_rng(1), np.array([4.0, 1.0, 0.1]))
    wrong = lambda mu, s2, rule: P.eigen_step(mu, s2, "clean" if rule == "renoise" else "renoise")  # noqa: E731
    assert not P.property_one_step(S, 0.5, "renoise", impl=wrong).passed


# ------------------------------------------------------------------------------------- collapse bounds

@given(spectra(), sigma2s, st.integers(min_value=0, max_value=400), rules)
def test_collapse_bounds_hold(lam, sigma2, rounds, rule):
    outcome = P.property_collapse_bounds(lam, sigma2, rounds, rule)
    assert outcome.passed, outcome.evidence


@given(spectra(max_dim=8), sigma2s, rules)
def test_collapse_bounds_hold_over_ten_thousand_rounds(lam, sigma2, rule):
    assert P.property_collapse_bounds(lam, sigma2, 10_000, rule).passed


def test_collapse_bounds_reject_a_wrong_exponent():
    def too_tight(lam, s2, rounds, rule):
        b = recursion.collapse_bounds(lam, s2, rounds, rule)
        return {**b, "eigenvalue_max": b["eigenvalue_max"] * b["rho0"]}
    assert not P.property_collapse_bounds(np.array([4.0, 1.0]), 0.5, 50, "renoise", impl=too_tight).passed


@given(spectra(), st.floats(min_value=-2, max_value=3), rules)
def test_op_norm_collapses_to_zero(lam, log_ratio, rule):
    sigma2 = float(lam.max() / 10**log_ratio)
    assert P.property_collapse_to_zero(lam, sigma2, rule).passed


def test_collapse_to_zero_rejects_a_bounded_trajectory():
    bounded = lambda lam, s2, rounds, rule: recursion.dae_recursion(lam, s2, 0.1, rounds, "mix", rule).op_norm  # noqa
    assert not P.property_collapse_to_zero(np.array([4.0, 1.0]), 0.5, "renoise", impl=bounded).passed


@given(st.floats(min_value=1e-3, max_value=1e4), rules)
def test_doubly_exponential_bounds(x0, rule):
    assert P.property_doubly_exponential(x0, rule).passed


def test_doubly_exponential_rejects_the_other_exponent():
    wrong = lambda lx, j, rule: doubly_exponential_log_bounds(lx, j, "clean")  # noqa: E731
    assert not P.property_doubly_exponential(5.0, "renoise", impl=wrong).passed


@given(st.lists(st.floats(min_value=1.0001, max_value=1e4), min_size=1, max_size=20), rules)
def test_rounds_to_collapse_within_bounds(x0, rule):
    assert P.property_rounds(np.array(x0), rule).passed


def test_rounds_bounds_reject_missing_log_term():
    wrong = lambda x0, rule: (np.asarray(x0) - 8 / 3, np.asarray(x0) + 0.2)  # noqa: E731
    assert not P.property_rounds(np.geomspace(2, 1e4, 20), "renoise", impl=wrong).passed


# ------------------------------------------------------------------------------------- real data

@given(spectra(), st.floats(min_value=-2, max_value=3), alphas, rules)
def test_real_fraction_lower_bound(lam, log_ratio, alpha, rule):
    sigma2 = float(lam.max() / 10**log_ratio)
    assert P.property_real_lower_bound(lam, sigma2, alpha, 500, rule).passed


def test_real_fraction_bound_rejects_bound_without_alpha():
    wrong = lambda lam, s2, a: recursion.real_fraction_lower_bound(lam, s2, 1.0)  # noqa: E731
    assert not P.property_real_lower_bound(np.array([4.0, 1.0]), 0.5, 0.1, 200, "renoise", impl=wrong).passed


@given(spectra(max_dim=16), st.floats(min_value=-3, max_value=4), st.floats(min_value=1e-2, max_value=1.0), rules)
def test_fixed_point_is_the_limit(lam, log_ratio, alpha, rule):
    sigma2 = float(lam.max() / 10**log_ratio)
    outcome = P.property_fixed_point(lam, sigma2, alpha, rule)
    assert outcome.passed, outcome.evidence


def test_fixed_point_property_rejects_sign_error():
    def minus_root(lam, s2, a, rule="renoise"):
        b = s2 - a * lam
        mu = (-b - np.sqrt(b * b + 4 * a * a * lam * s2)) / (2 * a)
        return np.abs(mu * mu / (mu + s2))
    assert not P.property_fixed_point(np.array([4.0, 1.0]), 0.1, 0.1, "renoise", impl=minus_root).passed


@given(st.floats(min_value=1e-2, max_value=1e2), st.floats(min_value=0.02, max_value=0.9), rules)
def test_fixed_point_rate(lam, alpha, rule):
    assert P.property_fixed_point_rate(lam, 1.0, alpha, rule).passed


def test_fixed_point_rate_rejects_one_minus_alpha():
    wrong = lambda lam, s2, a, rule="renoise": np.full(np.shape(np.atleast_1d(lam)), 1 - a)  # noqa: E731
    assert not P.property_fixed_point_rate(1.0, 1.0, 0.3, "renoise", impl=wrong).passed


# ------------------------------------------------------------------------------------- accumulate

@given(spectra(), st.floats(min_value=-2, max_value=3), rules)
def test_accumulate_monotone_and_bounded_below(lam, log_ratio, rule):
    sigma2 = float(lam.max() / 10**log_ratio)
    assert P.property_accumulate(lam, sigma2, 1000, rule).passed


def test_accumulate_rejects_a_constant_lower_bound():
    wrong = lambda lam, s2, rounds: {"op_norm": np.full(rounds + 1, 0.5 * lam.max() / (0.5 * lam.max() + s2))}  # noqa
    assert not P.property_accumulate(np.array([4.0, 1.0]), 0.5, 1000, "renoise", impl=wrong).passed


# ------------------------------------------------------------------------------------- matrix vs eigen

@given(spectra(max_dim=10), st.floats(min_value=-2, max_value=1), st.floats(min_value=0.05, max_value=1.0),
       st.sampled_from(["replace", "mix", "fresh", "accumulate"]), rules, st.integers(0, 2**31 - 1))
def test_matrix_recursion_matches_eigen_recursion(lam, log_s2, alpha, regime, rule, seed):
    outcome = P.property_matrix_matches_eigen(lam, float(10**log_s2), alpha, 25, regime, rule, seed)
    assert outcome.passed, outcome.evidence


def test_matrix_recursion_check_rejects_swapped_rule():
    def swapped(lam, s2, a, rounds, regime, rule):
        return recursion.dae_recursion(lam, s2, a, rounds, regime, "clean" if rule == "renoise" else "renoise")
    assert not P.property_matrix_matches_eigen(np.array([4.0, 1.0, 0.2]), 0.3, 0.2, 10, "mix", "renoise", 0,
                                               impl=swapped).passed


# ------------------------------------------------------------------------------------- no NaN / overflow

@given(spectra(), sigma2s, alphas, st.sampled_from(["replace", "mix", "fresh", "accumulate"]), rules)
def test_no_nan_or_overflow_over_wide_ranges(lam, sigma2, alpha, regime, rule):
    a = alpha if regime in ("mix", "fresh") else 0.0
    traj = recursion.dae_recursion(lam, sigma2, a, 2000, regime, rule)
    for name in ("eigenvalues", "op_norm", "composed_op_norm", "total_variance", "effective_rank", "w2_to_real"):
        values = getattr(traj, name)
        assert np.all(np.isfinite(values)), name
    assert np.all(traj.op_norm >= 0) and np.all(traj.op_norm < 1)
    assert np.all(traj.effective_rank <= len(lam) + 1e-9)


@pytest.mark.slow
@given(spectra(), sigma2s, alphas, rules)
def test_no_nan_at_ten_thousand_rounds(lam, sigma2, alpha, rule):
    traj = recursion.dae_recursion(lam, sigma2, alpha, 10_000, "mix", rule, keep="final")
    assert np.all(np.isfinite(traj.eigenvalues)) and np.all(np.isfinite(traj.op_norm))


def test_dae_step_numeric_check_tests_the_package_recursion(monkeypatch):
    """DAE-STEP/numeric compares literal matrix propagation with the package's own one-round recursion (not a copy of
    the map in the checker): breaking recursion.dae_recursion makes it fail."""
    from collapse_theory.claims import registry

    item = next(c for c in registry.checks(["numeric"], ["DAE-STEP"]) if c.name == "matrix-propagation-both-rules")
    assert registry.run_check(item).status == "pass"
    original = recursion.dae_recursion
    monkeypatch.setattr(recursion, "dae_recursion",
                        lambda lam, s2, *args, **kwargs: original(lam, 1.01 * np.asarray(s2), *args, **kwargs))
    assert registry.run_check(item).status == "fail"


def test_empirical_dae_limit_rejects_one_percent_sigma2():
    """The finite-sample DAE-OPT check compares the least-squares fit at m = 10^8 noise draws (exact sufficient
    statistics) with the claimed limit: a limit computed with 1.01 sigma2 is rejected, the right one passes."""
    rng = np.random.default_rng(7)
    data = rng.standard_normal((30, 3)) + 0.5
    right = P.property_empirical_dae_limit(data, 0.2, seed=11)
    wrong = P.property_empirical_dae_limit(
        data, 0.2, seed=11, impl=lambda X, s2: linear_dae.optimal_dae(linear_dae.second_moment(X), 1.01 * s2))
    assert right.passed and not wrong.passed
    assert wrong.evidence["large_m_max_abs_z"] > 10 * wrong.evidence["z_limit"]
