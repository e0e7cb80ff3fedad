"""Gaussian rectified flow closed forms (collapse_theory.theory.flow.gaussian): validation, maps, energies, OT gap.

Tolerances: closed forms against each other 1e3 d eps (float64); against solve_ivp (rtol 1e-10) 1e-7 relative;
against quad (epsrel 1e-11) 1e-8 relative (see collapse_theory/claims/flow_numeric_checks.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collapse_theory.theory.flow import gaussian as gf
from collapse_theory.theory.spectral import psd_sqrt

EPS = np.finfo(float).eps
ODE_TOL = 1e-7
QUAD_TOL = 1e-8


def random_ends(seed, d=None, commuting=False):
    rng = np.random.default_rng(seed)
    d = d or int(rng.integers(2, 5))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov0 = (q * 10 ** rng.uniform(-1, 1, d)) @ q.T
    q1 = q if commuting else np.linalg.qr(rng.standard_normal((d, d)))[0]
    cov1 = (q1 * 10 ** rng.uniform(-1, 1, d)) @ q1.T
    return gf.GaussianEndpoints(rng.standard_normal(d), 0.5 * (cov0 + cov0.T), rng.standard_normal(d),
                                0.5 * (cov1 + cov1.T))


# ---------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, name", [
    (dict(m0=[0.0], cov0=[[1.0]], m1=[0.0, 1.0], cov1=np.eye(2)), "m1"),
    (dict(m0=[0.0, 0.0], cov0=[[1.0, 2.0], [2.0, 1.0]], m1=[0.0, 0.0], cov1=np.eye(2)), "cov0"),
    (dict(m0=[0.0, 0.0], cov0=np.eye(2), m1=[0.0, 0.0], cov1=[[1.0, 0.5], [0.0, 1.0]]), "cov1"),
    (dict(m0=[np.nan, 0.0], cov0=np.eye(2), m1=[0.0, 0.0], cov1=np.eye(2)), "m0"),
    (dict(m0=[0.0, 0.0], cov0=np.eye(3), m1=[0.0, 0.0], cov1=np.eye(2)), "cov0"),
    (dict(m0=[[0.0]], cov0=np.eye(1), m1=[0.0], cov1=np.eye(1)), "m0"),
])
def test_endpoints_validation_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        gf.GaussianEndpoints(**kwargs)


@pytest.mark.parametrize("t", [-0.1, 1.5, np.nan, [0.2, 0.3]])
def test_time_validation(t):
    ends = random_ends(0)
    with pytest.raises(ValueError, match="^t "):
        gf.velocity_affine(ends, t)


def test_flow_requires_pd_noise_and_reverse_requires_pd_data():
    singular = gf.GaussianEndpoints(np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="^cov0 must be positive definite"):
        gf.flow_affine(singular)
    degenerate_data = gf.GaussianEndpoints(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, 0.0]))
    gf.flow_affine(degenerate_data, 1.0, "closed")  # a map onto a degenerate law exists
    with pytest.raises(ValueError, match="^cov1 must be positive definite"):
        gf.reverse_map(degenerate_data, np.zeros(2))
    with pytest.raises(ValueError, match="^method "):
        gf.flow_affine(random_ends(1), 1.0, "magic")
    with pytest.raises(ValueError, match="^x0 "):
        gf.flow_map(random_ends(1, d=2), np.zeros(3))


# ---------------------------------------------------------------------------------------------- formulas

def test_marginal_velocity_and_endpoints():
    ends = random_ends(2)
    m, S = gf.marginal(ends, 0.0)
    assert np.allclose(m, ends.m0) and np.allclose(S, ends.cov0)
    m, S = gf.marginal(ends, 1.0)
    assert np.allclose(m, ends.m1) and np.allclose(S, ends.cov1)
    x = np.random.default_rng(3).standard_normal((5, 2, ends.dim))
    A, b = gf.velocity_affine(ends, 0.4)
    assert gf.velocity(ends, x, 0.4).shape == x.shape
    assert np.allclose(gf.velocity(ends, x, 0.4), x @ A.T + b)
    # the velocity at the mean is the mean velocity m1 - m0
    assert np.allclose(gf.velocity(ends, gf.marginal(ends, 0.4)[0], 0.4), ends.m1 - ends.m0)


def test_joint_velocity_with_zero_cross_covariance_is_the_1rf_velocity():
    ends = random_ends(4)
    for t in (0.0, 0.3, 1.0):
        A1, b1 = gf.velocity_affine(ends, t)
        A2, b2 = gf.joint_velocity_affine(ends.m0, ends.m1, ends.cov0, np.zeros_like(ends.cov0), ends.cov1, t)
        assert np.allclose(A1, A2, atol=1e-12) and np.allclose(b1, b2, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.sampled_from([0.2, 0.5, 1.0]), commuting=st.booleans())
def test_closed_form_map_matches_solve_ivp(seed, t, commuting):
    ends = random_ends(seed, commuting=commuting)
    M_ode, c_ode = gf.flow_affine(ends, t, "ode")
    M, c = gf.flow_affine(ends, t, "closed")
    scale = max(1.0, np.abs(M_ode).max())
    assert np.abs(M - M_ode).max() <= ODE_TOL * scale and np.abs(c - c_ode).max() <= ODE_TOL * max(1.0, np.abs(c_ode).max())
    assert np.allclose(M @ ends.cov0 @ M.T, gf.marginal(ends, t)[1], rtol=0, atol=ODE_TOL * scale ** 2 * 10)
    if commuting:
        M_c, _ = gf.flow_affine(ends, t, "commuting")
        assert np.abs(M_c - M).max() <= 1e3 * ends.dim * EPS * scale * 10


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_wrong_formula_commuting_map_fails_for_noncommuting_pairs(seed):
    """Counterpart: the commuting formula Sigma_t^{1/2} Sigma0^{-1/2} does not push Sigma0 to Sigma1 for a non-commuting pair."""
    ends = random_ends(seed, commuting=False)
    assert gf.commutator_norm(ends) > 1e-6
    M_wrong, _ = gf.flow_affine(ends, 0.5, "commuting")
    M_right, _ = gf.flow_affine(ends, 0.5, "closed")
    S_half = gf.marginal(ends, 0.5)[1]
    assert np.abs(M_wrong @ ends.cov0 @ M_wrong.T - S_half).max() <= 1e-9 * np.abs(S_half).max()  # it does push forward...
    assert np.abs(M_wrong - M_right).max() > 1e-6  # ...but it is not the flow


def test_reverse_map_inverts_and_matches_backward_ode():
    ends = random_ends(5)
    x1 = np.random.default_rng(6).standard_normal((4, ends.dim))
    z = gf.reverse_map(ends, x1)
    assert np.allclose(gf.flow_map(ends, z), x1, atol=1e-12 * 1e3)
    back = gf.integrate_points(ends, x1, 1.0, 0.0)
    assert np.abs(back - z).max() <= ODE_TOL * max(1.0, np.abs(z).max())


# ---------------------------------------------------------------------------------------------- energies and OT

@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), commuting=st.booleans())
def test_straightness_identity_and_quadrature(seed, commuting):
    ends = random_ends(seed, commuting=commuting)
    parts = gf.straightness_identity(ends)
    scale = max(1.0, parts["independent_cost"])
    assert abs(parts["straightness"] - gf.straightness_quadrature(ends)) <= QUAD_TOL * scale
    assert abs(parts["kinetic_energy"] - gf.kinetic_energy_quadrature(ends)) <= QUAD_TOL * scale
    assert abs(parts["straightness"] + parts["transport_cost"] - parts["kinetic_energy"]) <= 1e3 * EPS * scale * 10
    assert parts["kinetic_energy"] <= parts["independent_cost"]
    assert parts["w2_squared"] <= parts["transport_cost"] * (1 + 1e-12) + 1e-12


def test_wrong_formula_commuting_root_straightness_is_rejected():
    """Counterpart: (2 - pi/2) tr(Sigma0^1/2 Sigma1^1/2) (the commuting form) misses the quadrature for a strongly
    non-commuting pair, by far more than the quadrature tolerance."""
    ends = gf.GaussianEndpoints(np.zeros(2), np.diag([4.0, 0.25]), np.zeros(2), np.array([[1.0, 0.9], [0.9, 1.0]]))
    wrong = (2 - np.pi / 2) * np.trace(psd_sqrt(ends.cov0) @ psd_sqrt(ends.cov1))
    quad = gf.straightness_quadrature(ends)
    assert abs(gf.straightness(ends) - quad) <= QUAD_TOL * 10
    assert abs(wrong - quad) > 1e3 * QUAD_TOL * 10


def test_math_md_straightness_integral_for_identity_noise():
    lam = np.array([4.0, 1.0, 0.25])
    ends = gf.GaussianEndpoints.standard_noise(np.ones(3), np.diag(lam))
    assert np.isclose(gf.straightness(ends), (2 - np.pi / 2) * np.sqrt(lam).sum(), rtol=1e-13)
    assert np.isclose(gf.transport_cost(ends), gf.w2_distance(ends) ** 2, rtol=1e-13)


def test_noncommuting_1rf_is_not_the_brenier_map():
    ends = random_ends(7, commuting=False)
    M, c = gf.flow_affine(ends, 1.0)
    M_ot, c_ot = gf.ot_map_affine(ends)
    assert np.allclose(M_ot, M_ot.T) and np.allclose(M_ot @ ends.cov0 @ M_ot, ends.cov1)
    assert np.abs(M - M.T).max() > 1e-3
    assert gf.transport_cost(ends) - gf.w2_distance(ends) ** 2 > 1e-6
    assert np.isclose(gf.affine_map_cost(ends, M_ot, c_ot), gf.w2_distance(ends) ** 2, rtol=1e-10)


def test_geometric_mean_solves_riccati_and_is_symmetric():
    ends = random_ends(8)
    G = gf.geometric_mean(ends.cov0, ends.cov1)
    assert np.allclose(G @ np.linalg.inv(ends.cov0) @ G, ends.cov1, rtol=1e-9, atol=1e-10)
    assert np.allclose(G, gf.geometric_mean(ends.cov1, ends.cov0), rtol=1e-9, atol=1e-10)


def test_discrete_ot_oracle_catches_a_wrong_brenier_map(monkeypatch):
    """GRF-NONCOMMUTING-NOT-OT checks the package's Brenier map against POT's exact discrete OT on samples (not only
    against the package's own Bures W2): a Brenier map replaced by the 1-RF map fails the check."""
    from collapse_theory.claims import registry
    from collapse_theory.theory.flow import gaussian as gf

    item = next(c for c in registry.checks(["numeric"], ["GRF-NONCOMMUTING-NOT-OT"]))
    monkeypatch.setattr(gf, "ot_map_affine", lambda ends: gf.flow_affine(ends, 1.0, "closed"))
    assert registry.run_check(item).status == "fail"
