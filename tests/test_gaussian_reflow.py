"""Gaussian Reflow recursions (collapse_theory.theory.flow.reflow) and their registry checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from collapse_theory.theory.flow import gaussian as gf
from collapse_theory.theory.flow import reflow as gr
from collapse_theory.theory.dae.recursion import dae_recursion

from test_gaussian_flow import random_ends


def small_setting():
    return gf.GaussianEndpoints.standard_noise(np.array([1.0, -0.5]), np.array([[2.0, 0.3], [0.3, 0.5]]))


def test_population_reflow_is_a_straight_fixed_point():
    ends = random_ends(11)
    pr = gr.population_reflow(ends, rounds=2)
    assert pr.straightness[0] > 0.01
    assert np.all(np.abs(pr.straightness[1:]) <= 1e-8 * gf.independent_coupling_cost(ends))
    assert np.all(pr.map_change[1:] <= 1e-7)
    assert np.all(pr.w2_to_data <= 1e-6)


def test_pair_regression_reproduces_the_straight_velocity():
    ends = random_ends(12)
    M, c = gf.flow_affine(ends, 1.0, "closed")
    z = np.random.default_rng(1).standard_normal((ends.dim + 1, ends.dim))
    for t in (0.0, 0.5, 1.0):
        A_fit, b_fit = gr.fit_affine_velocity(z, z @ M.T + c, t)
        A, b = gr.straight_velocity_affine(M, c, t)
        assert np.allclose(A_fit, A, atol=1e-9) and np.allclose(b_fit, b, atol=1e-9)


def test_estimated_reflow_is_deterministic_and_shaped():
    ends = small_setting()
    a = gr.estimated_reflow(ends, 10, 3, 5, seed=3)
    b = gr.estimated_reflow(ends, 10, 3, 5, seed=3)
    assert a.covs.shape == (4, 5, 2, 2) and a.log_det.shape == (4, 5)
    assert np.array_equal(a.covs, b.covs)
    assert not np.array_equal(a.covs, gr.estimated_reflow(ends, 10, 3, 5, seed=4).covs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(method="reflow", real_fraction=0.3), "real_fraction"),
    (dict(method="ra", real_fraction=0.0), "real_fraction"),
    (dict(method="bogus"), "method"),
    (dict(n_samples=2), "samples"),
    (dict(method="ra", real_fraction=0.01), "real_fraction"),
    (dict(ddof=2), "ddof"),
    (dict(rounds=-1), "rounds"),
])
def test_estimated_reflow_validation(kwargs, name):
    args = dict(n_samples=10, rounds=2, replicates=3) | kwargs
    with pytest.raises(ValueError, match=f"^{name} "):
        gr.estimated_reflow(small_setting(), **args)


def test_ra_variants_share_the_law_and_differ_in_pairs():
    ends = small_setting()
    runs = {m: gr.estimated_reflow(ends, 12, 3, 20, seed=1, method=m, real_fraction=0.25, reverse_steps=10)
            for m in ("ra", "ora", "oras")}
    assert all(np.array_equal(runs[m].covs, runs["ra"].covs) for m in runs)
    mis = {m: np.nanmean(runs[m].pair_mismatch[1:]) for m in runs}
    assert mis["ora"] < 1e-20 and 1e-9 < mis["oras"] < 1e-4 and mis["ra"] > 100 * mis["oras"]
    lower = gr.ra_covariance_lower_bound(runs["ra"].real_points, 12)
    assert np.linalg.eigvalsh(runs["ra"].covs[1:] - lower[None]).min() >= -1e-12


def test_one_dimensional_drift_is_shumailovs_law():
    """docs/derivations/reflow.md section 3 with M = n samples, k = n - 1: E log sigma^2 drifts by psi(k/2) + log(2/k) per fit."""
    n = 15
    k = n - 1   # independent oracle: E log(chi2_k / k) by scipy's numerical integration over the chi2 density
    oracle = stats.chi2(k).expect(lambda x: np.log(x / k), epsabs=1e-13, epsrel=1e-12)
    assert np.isclose(gr.log_det_drift_per_round(n, 1), oracle, rtol=1e-9)
    assert gr.log_det_drift_per_round(n, 3) < 0
    exp = gr.reflow_expectations(np.diag([2.0, 1.0]), 10, 4)
    assert np.allclose(exp["trace"], 3.0) and np.allclose(exp["mean_error_sq"], 3.0 * np.arange(1, 6) / 10)


def test_ra_conditional_recursion_with_no_real_points_is_plain_reflow():
    cov0 = np.array([[2.0, 0.3], [0.3, 0.5]])
    out = gr.ra_conditional_expectations(np.zeros((0, 2)), np.zeros(2), cov0, 10, 3)
    assert np.allclose(out["cov"], cov0[None])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(4, 200), frac=st.floats(0.05, 1.0), seed=st.integers(0, 1000))
def test_ra_stationary_covariance_is_the_fixed_point(n, frac, seed):
    a = max(1, int(round(frac * n)))
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((a, 2))
    long = gr.ra_conditional_expectations(real, np.ones(2), np.eye(2) * 3, n, 3000)
    dev = real - real.mean(axis=0)
    stationary = gr.ra_stationary_covariance(dev.T @ dev, n, a)
    assert np.allclose(long["cov"][-1], stationary, rtol=1e-8, atol=1e-12)
    # wrong formula (mean-offset term dropped): off by the relative amount (1-alpha)^2/((2-alpha)(n-1)alpha) >~ 1/n^3
    # (>= 1.2e-7 here) unless alpha = 1; the recursion has converged far below that (3000 rounds, rate <~ 1 - alpha)
    wrong = dev.T @ dev / ((n - 1) * a / n)
    if a < n and np.abs(dev).max() > 0:
        assert not np.allclose(long["cov"][-1], wrong, rtol=1e-9, atol=0)


def test_shrinkage_reflow_reuses_the_dae_recursion():
    lam = np.array([4.0, 1.0, 0.25])
    traj = gr.shrinkage_reflow(lam, 0.5, rounds=5)
    assert np.array_equal(traj.eigenvalues, dae_recursion(lam, 1.0, 0.0, 5).eigenvalues)
    ra = gr.shrinkage_reflow(lam, 0.8, rounds=5, method="ra", real_fraction=0.2)
    assert np.array_equal(ra.eigenvalues, dae_recursion(lam, gr.shrinkage_sigma2(0.8), 0.2, 5, "mix").eigenvalues)
    with pytest.raises(ValueError, match="^step_time "):
        gr.shrinkage_sigma2(0.0)
    with pytest.raises(ValueError, match="^real_fraction "):
        gr.shrinkage_reflow(lam, 0.5, method="reflow", real_fraction=0.1)


def test_clean_prediction_is_the_wiener_filter():
    from collapse_theory.theory.dae.linear import optimal_dae

    S = np.array([[2.0, 0.3], [0.3, 0.5]])
    ends = gf.GaussianEndpoints.standard_noise(np.zeros(2), S)
    x = np.random.default_rng(2).standard_normal((3, 2))
    t = 0.3
    assert np.allclose(gr.clean_prediction(ends, x, t), x @ optimal_dae(S, ((1 - t) / t) ** 2).T / t, atol=1e-12)


@pytest.fixture(scope="module")
def flow_checks():
    """The registered symbolic and numeric checks of the flow family (claims/flow/*)."""
    from collapse_theory.claims import registry

    return [c for c in registry.checks(["symbolic", "numeric"]) if c.run.__module__.startswith("collapse_theory.claims.flow.")]


@pytest.mark.parametrize("tier", ["numeric", "symbolic"])
def test_flow_checks_pass_and_reject_every_mutant(tier, flow_checks):
    from collapse_theory.claims import registry

    checks = [c for c in flow_checks if c.tier == tier]
    assert len(checks) >= 8
    for item in checks:
        result = registry.run_check(item)
        assert result.status == "pass", (item.key, result.status, result.evidence, result.mutants_rejected, result.message)
