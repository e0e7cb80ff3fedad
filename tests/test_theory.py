"""Direct tests of the closed forms and recursions (theory layer)."""

import json

import numpy as np
import pytest

from collapse_theory.theory import (
    bottleneck_dae,
    bottleneck_dae_loss,
    dae_loss,
    dae_recursion,
    dae_recursion_matrix,
    effective_rank,
    empirical_dae,
    fixed_point,
    fixed_point_rate,
    gaussian_w2,
    gaussian_w2_commuting,
    optimal_dae,
    rounds_to_collapse,
    rounds_to_collapse_bounds,
    second_moment,
)

CHECK = dict(eigenvalues=[4, 2, 1, 0.5, 0.1], sigma2=0.1, alpha=0.1)
QUOTED = np.array([3.031, 1.079, 0.240, 0.039, 0.0011])


def test_optimal_dae_is_the_wiener_filter_and_minimises_the_loss():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    S = A @ A.T
    W = optimal_dae(S, 0.5)
    assert np.allclose(W, S @ np.linalg.inv(S + 0.5 * np.eye(4)), rtol=1e-12, atol=1e-12)
    base = dae_loss(W, S, 0.5)
    for _ in range(20):
        assert dae_loss(W + 1e-3 * rng.standard_normal((4, 4)), S, 0.5) > base


def test_optimal_dae_broadcasts_over_sigma2():
    S = np.diag([4.0, 1.0])
    W = optimal_dae(S, np.array([0.1, 1.0]))
    assert W.shape == (2, 2, 2)
    assert np.allclose(np.diagonal(W, axis1=-2, axis2=-1), [[4 / 4.1, 1 / 1.1], [4 / 5, 1 / 2]])


def test_empirical_dae_without_noise_draws_is_wiener_filter_of_sample_moment():
    X = np.random.default_rng(1).standard_normal((50, 3))
    assert np.allclose(empirical_dae(X, 0.2), optimal_dae(X.T @ X / 50, 0.2))
    assert np.allclose(second_moment(X), X.T @ X / 50)


def test_empirical_dae_with_noise_draws_approaches_limit():
    X = np.random.default_rng(2).standard_normal((30, 3))
    limit = optimal_dae(second_moment(X), 0.3)
    coarse = np.linalg.norm(empirical_dae(X, 0.3, noise_draws=4, rng=3) - limit)
    fine = np.linalg.norm(empirical_dae(X, 0.3, noise_draws=4096, rng=3) - limit)
    assert fine < coarse / 5  # 1/sqrt(1024) of the error in expectation; 5 leaves room for the noise of one draw


def test_bottleneck_keeps_top_eigendirections():
    S = np.diag([0.5, 4.0, 1.0])
    D, E = bottleneck_dae(S, 0.1, 2)
    W = D @ E
    assert np.allclose(W, np.diag([0.0, 4 / 4.1, 1 / 1.1]))
    assert np.isclose(dae_loss(W, S, 0.1), bottleneck_dae_loss([0.5, 4.0, 1.0], 0.1, 2))


def test_fixed_point_reproduces_math_md_check_value():
    fp = fixed_point(CHECK["eigenvalues"], CHECK["sigma2"], CHECK["alpha"])
    assert np.all(np.abs(fp - QUOTED) <= np.array([5e-4, 5e-4, 5e-4, 5e-4, 5e-5]))
    long_run = dae_recursion(CHECK["eigenvalues"], CHECK["sigma2"], CHECK["alpha"], 1000, "mix")
    assert np.allclose(long_run.eigenvalues[-1], fp, rtol=1e-12, atol=1e-15)
    assert np.allclose(long_run.fixed_point, fp)


def test_fixed_point_rate_is_below_one_minus_alpha():
    rate = fixed_point_rate(CHECK["eigenvalues"], CHECK["sigma2"], CHECK["alpha"])
    assert np.all(rate < 1 - CHECK["alpha"]) and np.all(rate > 0)


def test_fixed_point_edge_cases():
    assert np.all(fixed_point([4.0, 1.0], 0.1, 0.0) == 0)  # alpha = 0: collapse
    # alpha = 1: every round trains on S* alone, so the recursion reaches the fixed point after one round
    assert np.allclose(fixed_point([4.0], 0.1, 1.0), dae_recursion([4.0], 0.1, 1.0, 3, "mix").eigenvalues[1:],
                       rtol=1e-14)
    assert np.all(fixed_point([0.0, 1.0], 0.1, 0.5) >= 0)


def test_recursion_vectorises_over_grids():
    sigma2 = np.geomspace(1e-3, 1, 7)[:, None]
    alpha = np.linspace(0, 1, 5)[None, :]
    traj = dae_recursion([4.0, 1.0, 0.1], sigma2, alpha, 30, "mix")
    assert traj.eigenvalues.shape == (31, 7, 5, 3)
    assert traj.op_norm.shape == (31, 7, 5)
    one = dae_recursion([4.0, 1.0, 0.1], float(sigma2[3, 0]), float(alpha[0, 2]), 30, "mix")
    assert np.array_equal(traj.eigenvalues[:, 3, 2], one.eigenvalues)
    final = dae_recursion([4.0, 1.0, 0.1], sigma2, alpha, 30, "mix", keep="final", workers=2)
    assert np.array_equal(final.eigenvalues[0], traj.eigenvalues[-1])


def test_recursion_is_independent_of_chunking(monkeypatch):
    from collapse_theory.theory.dae import recursion

    sigma2 = np.geomspace(1e-3, 1, 50)
    full = dae_recursion([4.0, 1.0], sigma2, 0.0, 20)
    monkeypatch.setattr(recursion, "_CHUNK_ELEMENTS", 6)
    chunked = dae_recursion([4.0, 1.0], sigma2, 0.0, 20, workers=3)
    assert np.array_equal(full.eigenvalues, chunked.eigenvalues)
    assert np.array_equal(full.composed_op_norm, chunked.composed_op_norm)


def test_replace_regime_collapses_and_mix_does_not():
    replace = dae_recursion([4.0, 1.0], 0.5, 0.0, 200)
    mix = dae_recursion([4.0, 1.0], 0.5, 0.2, 200, "mix")
    assert replace.op_norm[-1] < 1e-12 and replace.effective_rank[-1] <= 1.0 + 1e-9
    assert mix.op_norm[-1] > 0.5


def test_accumulate_decays_harmonically():
    traj = dae_recursion([1.0], 1.0, 0.0, 4000, "accumulate")
    k = np.array([1000, 2000, 4000])
    scaled = traj.op_norm[k] * (k + 1)
    assert np.all(np.diff(scaled) > 0) and scaled[-1] / scaled[0] < 1.1  # (k+1)||W_k|| rises to a finite limit


def test_matrix_recursion_accepts_rotated_moment():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    S = Q @ np.diag([4.0, 2.0, 0.5, 0.1]) @ Q.T
    m = dae_recursion_matrix(S, 0.2, 0.3, 20, "mix", "clean")
    e = dae_recursion([4.0, 2.0, 0.5, 0.1], 0.2, 0.3, 20, "mix", "clean")
    assert np.allclose(m.eigenvalues, e.eigenvalues, rtol=0, atol=1e-12)
    assert np.allclose(m.fixed_point, e.fixed_point)


def test_rounds_to_collapse_examples_and_bounds():
    x0 = np.array([0.5, 1.0, 10.0, 1000.0])
    n = rounds_to_collapse(x0)
    assert n[0] == 0 and n[1] == 0
    lo, hi = rounds_to_collapse_bounds(x0[2:])
    assert np.all((lo <= n[2:]) & (n[2:] <= hi))
    assert rounds_to_collapse(1000.0, "clean")[0] < n[3]


def test_spectral_helpers():
    assert effective_rank([1.0, 1.0, 1.0]) == pytest.approx(3.0)
    assert effective_rank([1.0, 0.0]) == pytest.approx(1.0)
    assert effective_rank([0.0, 0.0]) == 0.0
    A, B = np.diag([4.0, 1.0]), np.diag([1.0, 1.0])
    assert gaussian_w2(A, B) == pytest.approx(1.0)
    assert gaussian_w2_commuting([4.0, 1.0], [1.0, 1.0]) == pytest.approx(1.0)
    assert gaussian_w2(A, B, mean_a=[3.0, 0.0], mean_b=[0.0, 4.0]) == pytest.approx(np.sqrt(26.0))


def test_trajectory_as_dict_is_json_serialisable():
    traj = dae_recursion([4.0, 1.0], 0.1, 0.1, 3, "mix")
    data = json.loads(json.dumps(traj.as_dict()))
    assert len(data["eigenvalues"]) == 4 and len(data["op_norm"]) == 4 and len(data["fixed_point"]) == 2


def test_rounds_to_collapse_has_no_round_cap():
    """N(1e7) = 10,000,015 lies inside the DAE-ROUNDS bounds (it used to be -1: N exceeded a fixed cap of 1e7)."""
    from collapse_theory.theory.dae.recursion import rounds_to_collapse_bounds

    n = rounds_to_collapse(1e7)
    lo, hi = rounds_to_collapse_bounds(1e7)
    assert lo[0] <= n[0] <= hi[0]
    assert rounds_to_collapse(1e3, max_rounds=10)[0] == -1            # an explicit cap still reports -1
    with pytest.raises(ValueError, match="^max_rounds "):
        rounds_to_collapse(1e3, max_rounds=-1)


def test_synthetic_only_reading_has_its_own_lower_fixed_point():
    """The other reading of a real fraction (next round from the synthetic part only): fixed point below the mix
    regime's at the check value (9.4x for the top eigenvalue), reached by its recursion; alpha = 0 collapses."""
    from collapse_theory.theory.dae.recursion import synthetic_only_fixed_point, synthetic_only_recursion

    lam = [4.0, 2.0, 1.0, 0.5, 0.1]
    fp = synthetic_only_fixed_point(lam, 0.1, 0.1)
    assert np.all(np.abs(fp - [0.321, 0.142, 0.0568, 0.0194, 0.00097]) <= [5e-4, 5e-4, 5e-5, 5e-5, 5e-6])
    assert np.allclose(synthetic_only_recursion(lam, 0.1, 0.1, 3000)[-1], fp, rtol=1e-12)
    mix = fixed_point(lam, 0.1, 0.1)
    assert np.all(fp < mix) and fp[0] < mix[0] / 9          # 9.4x below for the top eigenvalue, 1.1x for the last
    assert np.all(synthetic_only_fixed_point(lam, 0.1, 0.0) == 0)
