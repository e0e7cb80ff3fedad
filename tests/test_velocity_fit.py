"""Reflow with a fitted velocity (collapse_theory.theory.flow.velocity_fit) and the numeric C-RF decision checks."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_theory.theory.flow import velocity_fit as vf


def _whitened(rng, n, d):
    """n points with empirical mean exactly 0 and empirical second moment exactly I."""
    x = rng.standard_normal((n, d))
    x -= x.mean(axis=0)
    vals, vecs = np.linalg.eigh(x.T @ x / n)
    return x @ vecs @ np.diag(vals ** -0.5) @ vecs.T


def _explicit(z, y, grid, family):
    d = z.shape[1]
    times = vf.grid_times(grid)
    if family == "per-time":
        out = [np.linalg.lstsq(np.hstack([(1 - t) * z + t * y, np.ones((len(z), 1))]), y - z, rcond=None)[0]
               for t in times]
        return np.array([o[:d].T for o in out]), np.array([o[d] for o in out])
    X = np.vstack([np.hstack([(1 - t) * z + t * y, t * ((1 - t) * z + t * y), np.ones((len(z), 1)),
                              np.full((len(z), 1), t)]) for t in times])
    th = np.linalg.lstsq(X, np.vstack([y - z] * len(times)), rcond=None)[0]
    return (np.array([(th[:d] + t * th[d:2 * d]).T for t in times]),
            np.array([th[2 * d] + t * th[2 * d + 1] for t in times]))


@pytest.mark.parametrize("family", vf.FAMILIES)
def test_moment_form_equals_explicit_least_squares(family):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((30, 2))
    y = rng.gamma(2.0, size=(30, 2))
    A, b = vf.fit_from_moments(vf.moments(z, y), 5, family)
    A_ref, b_ref = _explicit(z, y, 5, family)
    assert np.allclose(A, A_ref, atol=1e-10) and np.allclose(b, b_ref, atol=1e-10)


def test_euler_map_is_the_euler_iteration():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 2, 2))
    b = rng.normal(size=(4, 2))
    M, c = vf.euler_map(A, b)
    x = rng.normal(size=(5, 2))
    z = x.copy()
    for j in range(4):
        x = x + 0.25 * (x @ A[j].T + b[j])
    assert np.allclose(z @ M.T + c, x, atol=1e-12)


def test_population_moments_are_exact_for_a_whitened_sample():
    rng = np.random.default_rng(2)
    d = 3
    zu = _whitened(rng, 500, 2 * d)           # z and u jointly white: uncorrelated with exact unit moments
    z, u = zu[:, :d], zu[:, d:]
    M = rng.normal(size=(d, d)) + 2 * np.eye(d)
    c = rng.normal(size=d)
    assert np.allclose(vf.moments(z, z @ M.T + c), vf.reflow_pair_moments(M, c), atol=1e-10)
    mean = rng.normal(size=d)
    root = np.linalg.cholesky(np.eye(d) + 0.5 * np.ones((d, d)))
    assert np.allclose(vf.moments(z, mean + u @ root.T), vf.independent_pair_moments(mean, root @ root.T),
                       atol=1e-10)


def test_per_time_family_is_a_fixed_point_at_every_n():
    """Theorem (item 1): exact on Reflow pairs, so T_k = T_{k-1} from round 1 on, at finite n and population."""
    mean, cov = np.array([1.0, -1.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    for n in (None, 4, 50):
        tr = vf.velocity_fit_reflow(mean, cov, "per-time", 6, 4, n, seeds=range(5))
        assert np.abs(np.diff(tr.M[1:], axis=0)).max() < 1e-10
        assert np.abs(np.diff(tr.c[1:], axis=0)).max() < 1e-10


def test_time_affine_population_moves_toward_the_identity_map_in_1d():
    """Item 2: the misfitting family is not a fixed point; in 1-D its population recursion shrinks |log m|."""
    for scale in (0.25, 0.5, 2.0, 4.0):
        tr = vf.velocity_fit_reflow(np.array([1.0]), np.array([[scale ** 2]]), "time-affine", 8, 6, None)
        log_scale = np.abs(tr.log_det[:, 0]) / 2
        assert np.all(np.diff(log_scale) < 0)
        assert np.allclose(tr.M[:, 0], tr.M[:, -1])  # population: replicates agree


def test_bures_w2_closed_form_in_1d():
    assert vf.bures_w2(np.array([1.0]), np.array([[4.0]]), np.array([0.0]), np.array([[1.0]])) == pytest.approx(
        np.sqrt(1 + 1))
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert vf.bures_w2(np.zeros(2), cov, np.zeros(2), cov) == pytest.approx(0.0, abs=1e-7)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="family"):
        vf.velocity_fit_reflow(np.zeros(1), np.eye(1), "cubic", 4, 1, 10)
    with pytest.raises(ValueError, match="n_pairs"):
        vf.velocity_fit_reflow(np.zeros(2), np.eye(2), "per-time", 4, 1, 2)
    with pytest.raises(ValueError, match="grid"):
        vf.grid_times(0)


def test_numeric_decision_checks_pass_with_their_controls():
    from collapse_theory.claims.registry import checks, run_check

    items = [c for c in checks(["numeric"], ["C-RF"]) if c.name.startswith("velocity-fit-reflow")]
    assert len(items) == 2
    for item in items:
        result = run_check(item)
        assert result.status == "pass", result.message
        d = result.as_dict()
        assert d["n_seeds"] == 64 and d["decision"] in ("confirmed", "refuted", "inconclusive")
        assert d["evidence"]["null_control"] == "inconclusive" and d["evidence"]["planted_control"] == "confirmed"
        assert all(result.mutants_rejected.values())


def test_decision_check_catches_wrong_euler_order_and_wrong_w2(monkeypatch):
    """H10 audit: a product-order bug in euler_map (invisible to the per-time null, whose A_j commute) and a wrong
    Bures cross term tr (Sa Sb)^1/2 (which turned the n = 256 decision into 'confirmed') passed the decision checks;
    the checks now compare both with independent computations."""
    from collapse_theory.claims.registry import checks

    item = next(c for c in checks(["numeric"], ["C-RF"]) if c.name == "velocity-fit-reflow-n32")
    assert item.run(None).passed
    exact_euler, exact_w2 = vf.euler_map, vf.bures_w2

    def reversed_order(A, b):
        A, b = np.asarray(A), np.asarray(b)
        m, d = A.shape[-3], A.shape[-1]
        M, c = np.broadcast_to(np.eye(d), A.shape[:-3] + (d, d)).copy(), np.zeros(A.shape[:-3] + (d,))
        for j in range(m):
            step = np.eye(d) + A[..., j, :, :] / m
            M, c = M @ step, np.einsum("...ij,...j->...i", step, c) + b[..., j, :] / m
        return M, c

    def trace_cross_term(mean_a, cov_a, mean_b, cov_b):
        cross = np.sqrt(np.clip(np.trace(np.asarray(cov_a) @ cov_b, axis1=-2, axis2=-1), 0, None))
        sq = (np.sum((np.asarray(mean_a) - mean_b) ** 2, axis=-1) + np.trace(cov_a, axis1=-2, axis2=-1)
              + np.trace(cov_b) - 2 * cross)
        return np.sqrt(np.clip(sq, 0, None))

    monkeypatch.setattr(vf, "euler_map", reversed_order)
    assert not item.run(None).passed
    monkeypatch.setattr(vf, "euler_map", exact_euler)
    monkeypatch.setattr(vf, "bures_w2", trace_cross_term)
    assert not item.run(None).passed
    monkeypatch.setattr(vf, "bures_w2", exact_w2)
    assert item.run(None).passed
