"""Finite-sample Monte-Carlo of the DAE recursions: samplers, exact structure, determinism, argument errors, the
registered Monte-Carlo checks (and their mutants), and the O(1/n) bias (slow)."""

import numpy as np
import pytest

from collapse_theory.claims.dae import numeric_finite_sample as MC
from collapse_theory.claims import registry
from collapse_theory.theory.dae import linear as linear_dae
from collapse_theory.theory.dae import finite_sample as mc
from collapse_theory.theory.dae.recursion import dae_recursion
from collapse_theory.stats import max_abs_z, summarise_z, z_scores

S_STAR = MC.reference_second_moment()
REGIMES = (("replace", 0.0), ("mix", 0.5), ("fresh", 0.25), ("accumulate", 0.0))


def _small(regime="replace", alpha=0.0, **kwargs):
    args = dict(rounds=3, regime=regime, n_samples=40, replicates=5, seed=11)
    args.update(kwargs)
    return mc.simulate_dae_recursion_mc(S_STAR, 0.1, alpha, **args)


# --------------------------------------------------------------------------------------------- samplers

@pytest.mark.parametrize("distribution", mc.DISTRIBUTIONS)
def test_samplers_have_second_moment_s_star(distribution):
    X = mc.sample_data(S_STAR, 500, distribution, replicates=400, seed=5)
    assert X.shape == (400, 500, 3)
    S_hat = np.swapaxes(X, -1, -2) @ X / 500
    rows, cols = np.triu_indices(3)
    z = z_scores(S_hat[:, rows, cols], S_STAR[rows, cols])
    assert max_abs_z(z) <= 4, z


def test_samplers_are_genuinely_different_distributions():
    """Marginal kurtosis (S* = I): gaussian 3, mixture 3 - 2 m^4 = 1.69, student-t(5) 9 (heavy tails)."""
    kurt = {}
    for dist in mc.DISTRIBUTIONS:
        y = mc.sample_data(np.eye(2), 200_000, dist, seed=6)[:, 0]
        kurt[dist] = float(np.mean(y ** 4) / np.mean(y ** 2) ** 2)
    assert abs(kurt["gaussian"] - 3) < 0.1
    assert abs(kurt["mixture"] - (3 - 2 * mc.MIXTURE_OFFSET ** 4)) < 0.05
    assert kurt["student-t"] > 5


def test_sampler_with_singular_second_moment_stays_in_its_range():
    S = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: data on the line x1 = x2
    X = mc.sample_data(S, 100, "student-t", seed=1)
    assert np.allclose(X[:, 0], X[:, 1])


# --------------------------------------------------------------------------------------------- exact structure

@pytest.mark.parametrize("regime,alpha", REGIMES)
def test_shapes_and_round_zero_is_the_real_sample(regime, alpha):
    traj = _small(regime, alpha)
    R, K1, d = 5, 4, 3
    assert traj.moments.shape == traj.eigenvalues.shape == traj.training_moments.shape == (R, K1, d)
    assert traj.op_norm.shape == traj.total_variance.shape == (R, K1)
    assert np.allclose(traj.total_variance, traj.eigenvalues.sum(axis=-1))
    assert np.allclose(traj.training_moments[:, 0], traj.moments[:, 0])
    # the real sample is drawn first: round 0 is the same in every regime for a given seed
    assert np.array_equal(traj.moments[:, 0], _small().moments[:, 0])
    # ||W_k|| = max mu/(mu + sigma2) over the training eigenvalues (noise expectation exact)
    top = traj.training_eigenvalues[..., 0]
    assert np.allclose(traj.op_norm, top / (top + 0.1))
    assert np.allclose(traj.population_eigenvalues, [4.0, 1.0, 0.25])


def test_regime_structure_is_exact():
    rep = _small("replace")
    assert np.array_equal(rep.training_moments, rep.moments)
    acc = _small("accumulate")
    running = np.cumsum(acc.moments, axis=1) / np.arange(1, 5)[None, :, None]
    assert np.allclose(acc.training_moments, running)
    all_real = _small("mix", 1.0)  # alpha = 1: the training set is the real sample every round
    assert np.allclose(all_real.training_moments, all_real.training_moments[:, :1])
    assert _small("mix", 0.3).effective_real_fraction == 12 / 40


def test_clean_replace_is_deterministic_given_the_real_sample():
    """x' = W x on the whole set: S_hat_{k+1} = H(S_hat_k) exactly, so eigenvalues follow h per replicate."""
    traj = _small("replace", rule="clean", rounds=4)
    lam = traj.eigenvalues
    h = lam[:, :-1] ** 3 / (lam[:, :-1] + 0.1) ** 2
    assert np.allclose(lam[:, 1:], h, rtol=1e-9, atol=1e-14)


def test_noise_draws_fit_has_the_distribution_of_empirical_dae(monkeypatch):
    """The sufficient-statistic least-squares DAE vs empirical_dae on explicit noisy copies: two-sample z-scores
    of the means of W_ij and W_ij^2; the same comparison rejects a construction without the Wishart scatter."""
    rng = np.random.default_rng(3)
    T = rng.standard_normal((8, 2)) * np.array([1.5, 0.5])
    R, m, s2 = 20000, 3, 0.4
    ref = linear_dae.empirical_dae(np.broadcast_to(T, (R, 8, 2)), s2, noise_draws=m, rng=4)

    def two_sample_z(seed):
        batch = np.broadcast_to(T, (R, 8, 2))
        W, _ = mc.least_squares_dae(batch, mc.empirical_second_moment(batch), s2, m, np.random.default_rng(seed))
        zs = []
        for f in (lambda w: w, lambda w: w ** 2):
            a, b = f(W).reshape(R, -1), f(ref).reshape(R, -1)
            zs.append((a.mean(0) - b.mean(0)) / np.sqrt(a.var(0, ddof=1) / R + b.var(0, ddof=1) / R))
        return max_abs_z(*zs)

    assert two_sample_z(5) <= 4
    monkeypatch.setattr(mc, "_wishart_identity", lambda dof, batch, d, rng: np.zeros((batch, d, d)))
    assert two_sample_z(5) > 4


def test_many_noise_draws_approach_the_exact_fit():
    exact = _small("mix", 0.5, noise_draws=None)
    many = _small("mix", 0.5, noise_draws=20000)
    few = _small("mix", 0.5, noise_draws=1)
    assert np.array_equal(exact.moments[:, 0], many.moments[:, 0])
    assert np.max(np.abs(many.op_norm[:, 0] - exact.op_norm[:, 0])) < 2e-3
    assert np.max(np.abs(few.op_norm[:, 0] - exact.op_norm[:, 0])) > 2e-3


def test_one_step_from_a_fixed_training_set_is_unbiased():
    T = mc.sample_data(S_STAR, 30, "mixture", seed=8)
    draws = mc.generate_from_training_set(T, 0.3, "renoise", replicates=5000, seed=9)
    expected = dae_recursion(draws.training_eigenvalues, 0.3, rounds=1).eigenvalues[1]
    assert max_abs_z(z_scores(draws.along, expected)) <= 4
    wrong = dae_recursion(draws.training_eigenvalues, 0.3, rounds=1, rule="clean").eigenvalues[1]
    assert max_abs_z(z_scores(draws.along, wrong)) > 4


# --------------------------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("regime,alpha", REGIMES)
@pytest.mark.parametrize("distribution", mc.DISTRIBUTIONS)
def test_same_seed_same_arrays(regime, alpha, distribution):
    a = _small(regime, alpha, distribution=distribution, noise_draws=2)
    b = _small(regime, alpha, distribution=distribution, noise_draws=2)
    for field in ("eigenvalues", "moments", "training_moments", "training_eigenvalues", "op_norm", "total_variance"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    c = _small(regime, alpha, distribution=distribution, noise_draws=2, seed=12)
    assert not np.array_equal(a.moments, c.moments)


def test_sample_data_determinism_and_generator_passthrough():
    assert np.array_equal(mc.sample_data(S_STAR, 10, seed=1), mc.sample_data(S_STAR, 10, seed=1))
    g1, g2 = np.random.default_rng(2), np.random.default_rng(2)
    assert np.array_equal(mc.sample_data(S_STAR, 10, seed=g1), mc.sample_data(S_STAR, 10, seed=g2))


# --------------------------------------------------------------------------------------------- argument errors

@pytest.mark.parametrize("kwargs,name", [
    ({"sigma2": 0.0}, "sigma2"),
    ({"sigma2": -1.0}, "sigma2"),
    ({"sigma2": [0.1, 0.2]}, "sigma2"),
    ({"real_fraction": 1.5, "regime": "mix"}, "real_fraction"),
    ({"real_fraction": 0.3, "regime": "replace"}, "real_fraction"),
    ({"real_fraction": 0.3, "regime": "accumulate"}, "real_fraction"),
    ({"second_moment": [[1.0, 0.0], [0.0, -1.0]]}, "second_moment"),
    ({"second_moment": [[1.0, 2.0], [0.0, 1.0]]}, "second_moment"),
    ({"second_moment": [1.0, 2.0]}, "second_moment"),
    ({"n_samples": 1}, "n_samples"),
    ({"n_samples": 2.5}, "n_samples"),
    ({"replicates": 1}, "replicates"),
    ({"rounds": -1}, "rounds"),
    ({"regime": "bogus"}, "regime"),
    ({"rule": "bogus"}, "rule"),
    ({"distribution": "cauchy"}, "distribution"),
    ({"noise_draws": 0}, "noise_draws"),
    ({"seed": -1}, "seed"),
    ({"seed": "abc"}, "seed"),
])
def test_simulation_errors_name_the_argument(kwargs, name):
    args = dict(second_moment=np.eye(2), sigma2=0.1, n_samples=10, replicates=3, rounds=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name} "):
        mc.simulate_dae_recursion_mc(**args)


def test_other_errors_name_the_argument():
    with pytest.raises(ValueError, match="^distribution "):
        mc.sample_data(np.eye(2), 5, "uniform")
    with pytest.raises(ValueError, match="^n_samples "):
        mc.sample_data(np.eye(2), 0)
    with pytest.raises(ValueError, match="^samples "):
        z_scores(np.ones((1, 3)), 1.0)
    with pytest.raises(ValueError, match="^training_set "):
        mc.generate_from_training_set(np.ones(3), 0.1)
    with pytest.raises(ValueError, match="^n_samples "):
        mc.generate_from_training_set(np.ones((4, 2)), 0.1, n_samples=5)
    with pytest.raises(ValueError, match="^sigma2 "):
        mc.generate_from_training_set(np.ones((4, 2)), 0.0)


# --------------------------------------------------------------------------------------------- z-scores

def test_z_scores_and_summaries():
    samples = np.array([[1.0, 2.0], [3.0, 2.0]])  # means (2, 2), sd (sqrt 2, 0)
    z = z_scores(samples, [1.0, 1.0])
    assert z[0] == pytest.approx(1.0) and z[1] == np.inf
    assert z_scores(samples, [2.0, 2.0])[1] == 0.0
    assert max_abs_z(z) == np.inf and max_abs_z([np.nan]) == np.inf and max_abs_z([0.5, -2.0]) == 2.0
    summary = summarise_z(np.array([0.5, -5.0, 1.0]), limit=4.0)
    assert summary == {"max_abs_z": 5.0, "n_compared": 3, "n_over_limit": 1, "z_limit": 4.0}


# --------------------------------------------------------------------------------------------- registered checks

CHECKS = MC.registered_checks()


def test_all_monte_carlo_checks_are_registered():
    assert {c.name for c in CHECKS} == {"one-step-conditional-mean", "multi-round-agreement", "log-moment-drift-sign",
                                        "log-moment-drift-closed-form", "log-moment-drift-reverses-after-collapse"}


def test_log_drift_closed_form_round_zero_is_the_chi2_log_mean():
    """Round 0 of the delta-method drift is exact: E log(chi^2_n/n) by scipy quadrature (an independent oracle)."""
    from scipy import stats

    n = 50
    exact = stats.chi2(n).expect(np.log) - np.log(n)
    drift = MC.delta_method_log_drift(np.array([[4.0, 1.0], [3.9, 0.95]]), 0.05, n)
    assert drift.shape == (2, 2)
    assert drift[0] == pytest.approx([exact, exact], rel=1e-8)
    assert np.all(drift[1] < drift[0])   # the drift deepens (a_k > 1, concave f in log space)


def test_log_drift_closed_form_rejects_the_population_mutants():
    """Issue 12: a population with sigma2/2 and one that never changes sit above the data; the one-sided sign test
    accepts both, the two-sided closed-form test rejects both."""
    for mutant in (MC._population_sigma2_halved, MC._population_never_changes):
        assert MC._log_drift_outcome(mutant).passed               # the sign test alone is fooled
        assert not MC.log_moment_drift_closed_form(mutant).passed


@pytest.mark.parametrize("item", CHECKS, ids=[c.key for c in CHECKS])
def test_check_passes_and_rejects_every_mutant(item):
    result = registry.run_check(item)
    assert result.status == "pass", (result.evidence, result.mutants_rejected, result.message)
    assert result.mutants_rejected and all(result.mutants_rejected.values())
    assert all(isinstance(v, (int, float, str)) for v in result.evidence.values())


def test_log_drift_mutant_fools_a_two_sided_checker():
    """The shifted mutant is a real test of the sign: |z| > 4 (two-sided) accepts it, the sign test does not."""
    mutant = MC._ShiftedByTwiceTheMeasuredDrift()
    assert MC._log_drift_outcome(mutant, two_sided=True).passed
    assert not MC._log_drift_outcome(mutant).passed
    assert MC._log_drift_outcome(None).passed


def test_log_drift_reverses_in_collapsed_directions():
    """Observation: past collapse (sigma2 = 0.5, lambda_5 ~ 5e-14 in the population) the moment along S*'s
    eigenvector is floored by the random tilt of the surviving subspace: the log drift there is positive."""
    evidence = MC._log_drift_outcome(None).evidence
    assert evidence["deep_z_u3_final"] > 4 and evidence["deep_drift_u3_final"] > 1
    assert evidence["deep_z_u1_final"] < -4  # the top direction, not collapsed, still drifts down


# --------------------------------------------------------------------------------------------- slow: O(1/n) bias

@pytest.mark.slow
def test_bias_shrinks_like_one_over_n():
    """Replace regime, renoise: the bias of the collapsing direction's moment at round 6 is significant at
    n = 250 and n * bias is the same at n = 250 and n = 1000 (so the bias is O(1/n)), within 4 standard errors."""
    R, rounds = 4000, 6
    bias, se = {}, {}
    for n in (250, 1000):
        traj = mc.simulate_dae_recursion_mc(S_STAR, 0.05, rounds=rounds, n_samples=n, replicates=R, seed=77)
        pop = traj.population().eigenvalues[-1, 2]
        x = traj.moments[:, -1, 2]
        bias[n], se[n] = x.mean() - pop, x.std(ddof=1) / np.sqrt(R)
    assert bias[250] / se[250] > 4
    assert abs(bias[1000]) < abs(bias[250])
    scaled_diff = 1000 * bias[1000] - 250 * bias[250]
    assert abs(scaled_diff) <= 4 * np.hypot(1000 * se[1000], 250 * se[250])


@pytest.mark.slow
def test_log_drift_shrinks_with_n():
    """Replace, renoise, sigma2 = 0.05, 5 rounds: the log drift is significantly negative at n = 50 and n = 200
    (R = 80 n keeps the drift's z-score comparable) and significantly smaller in size at n = 200."""
    drift, se = {}, {}
    for n in (50, 200):
        traj = mc.simulate_dae_recursion_mc(S_STAR, 0.05, rounds=5, n_samples=n, replicates=80 * n, seed=78)
        d, z = MC.log_drift(traj)
        assert np.all(z[-1] < -4), (n, z[-1])
        drift[n], se[n] = d[-1], d[-1] / z[-1]
    gap = (np.abs(drift[50]) - np.abs(drift[200])) / np.hypot(se[50], se[200])
    assert np.all(gap > 4), gap
