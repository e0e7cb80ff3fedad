"""Symbolic-tier checks of Gaussian rectified flow and the Reflow family (claims of :mod:`.catalog`).

Each check runs a proof of :mod:`collapse_theory.proofs.flow` (``impl=None``: the toolkit's formula, written in sympy)
and registers it with its mutants: plausible wrong formulas of the same signature, each of which must make a proof
step fail. Every check also lambdifies what it proved and compares it with the package's numpy function at seeded
random valid points (:mod:`.symbolic_links`). Evidence: :func:`collapse_theory.claims.proved.linked_outcome`.
"""

from __future__ import annotations

import sympy as sp

from ...proofs import flow as proofs
from ...proofs.dae import clean_map, renoise_map
from ...proofs.engine import inv
from ...proofs.flow import flow_matrix_formula, velocity_formula
from ..proved import linked_outcome
from ..registry import check
from .symbolic_links import (drift_link, fixed_point_link, flow_map_link, marginal_link, not_ot_link, ra_stationary_link,
                             reverse_link, shrinkage_link, straightness_link, velocity_link)


# ---------------------------------------------------------------------------------------------
# GRF-VELOCITY
# ---------------------------------------------------------------------------------------------


_VELOCITY_MUTANTS = {
    "C_t with a plus sign: t Sigma1 + (1-t) Sigma0": lambda m0, S0, m1, S1, t: (
        lambda A: (A, (m1 - m0) - A * ((1 - t) * m0 + t * m1)))((t * S1 + (1 - t) * S0) * inv((1 - t) ** 2 * S0 + t ** 2 * S1)),
    "linear covariance path: Sigma_t = (1-t) Sigma0 + t Sigma1": lambda m0, S0, m1, S1, t: (
        lambda A: (A, (m1 - m0) - A * ((1 - t) * m0 + t * m1)))((t * S1 - (1 - t) * S0) * inv((1 - t) * S0 + t * S1)),
    "inverse on the wrong side: Sigma_t^-1 C_t": lambda m0, S0, m1, S1, t: (
        lambda A: (A, (m1 - m0) - A * ((1 - t) * m0 + t * m1)))(inv((1 - t) ** 2 * S0 + t ** 2 * S1) * (t * S1 - (1 - t) * S0)),
    "intercept without the mean term: b = m1 - m0": lambda m0, S0, m1, S1, t: (
        velocity_formula(m0, S0, m1, S1, t)[0], m1 - m0),
}


@check("GRF-VELOCITY", "symbolic", "gaussian-conditional-expectation", mutants=_VELOCITY_MUTANTS)
def velocity_is_conditional_expectation(impl):
    """With X0 = m0 + P0 e0, X1 = m1 + P1 e1 (generic 2 x 2 Cholesky factors), the residual Y - v(X_t), Y = X1 - X0,
    has mean 0 and zero covariance with X_t: jointly Gaussian, so independent, so v(X_t) = E[Y | X_t]. Also proves
    A_t - A_t^T = t(1-t) Sigma_t^-1 [Sigma0, Sigma1] Sigma_t^-1 (v is a gradient field iff the covariances commute).
    Link: the proved (A_t, b_t), lambdified, equals the package's ``gaussian.velocity_affine`` at 12 random non-commuting
    pairs (:func:`.symbolic_links.velocity_link`)."""
    return linked_outcome(proofs.prove_velocity(impl), velocity_link(impl or velocity_formula))


# ---------------------------------------------------------------------------------------------
# GRF-MARGINAL
# ---------------------------------------------------------------------------------------------


@check("GRF-MARGINAL", "symbolic", "continuity-equation", mutants={
    "linear covariance path: (1-t) Sigma0 + t Sigma1": lambda m0, S0, m1, S1, t: ((1 - t) * m0 + t * m1, (1 - t) * S0 + t * S1),
    "extra bridge noise: + t(1-t) I": lambda m0, S0, m1, S1, t: (
        (1 - t) * m0 + t * m1, (1 - t) ** 2 * S0 + t ** 2 * S1 + t * (1 - t) * sp.eye(2)),
    "mean without the noise mean: t m1": lambda m0, S0, m1, S1, t: (t * m1, (1 - t) ** 2 * S0 + t ** 2 * S1),
})
def marginal_continuity(impl):
    """X_t ~ N(m_t, Sigma_t) and its density solves d/dt p + div(p v) = 0 with the 1-RF velocity (2-D, Sigma0 diagonal,
    Sigma1 generic symmetric, symbolic means, point and t); the proved (m_t, Sigma_t), lambdified, equal
    :func:`gaussian.marginal` (:func:`.symbolic_links.marginal_link`)."""
    return linked_outcome(proofs.prove_marginal(impl), marginal_link(impl or proofs.marginal_formula))


# ---------------------------------------------------------------------------------------------
# GRF-MAP and GRF-REVERSE
# ---------------------------------------------------------------------------------------------


@check("GRF-MAP", "symbolic", "closed-form-solves-the-ode", mutants={
    "no square root: P G_t P^-1": lambda P, w, t: P * sp.diag(*[(1 - t) ** 2 + t ** 2 * wi ** 2 for wi in w]) * inv(P),
    "factors swapped: P^-T G_t^{1/2} P^T": lambda P, w, t: inv(P.T) * sp.diag(
        *[sp.sqrt((1 - t) ** 2 + t ** 2 * wi ** 2) for wi in w]) * P.T,
    "straight interpolation (1-t) I + t M_1 (the 2-RF path)": lambda P, w, t: (1 - t) * sp.eye(2) + t * P * sp.diag(*w) * inv(P),
})
def flow_map_closed_form(impl):
    """The general closed form M_t = Sigma0^{1/2} G_t^{1/2} Sigma0^{-1/2} (here in factor form P G_t^{1/2} P^-1, covering
    non-commuting pairs) solves the 1-RF matrix ODE from M_0 = I and is marginal-preserving; lambdified, it equals
    ``gaussian.flow_affine(ends, t, "closed")`` (:func:`.symbolic_links.flow_map_link`)."""
    return linked_outcome(proofs.prove_flow_map(impl), flow_map_link(impl or flow_matrix_formula))


@check("GRF-REVERSE", "symbolic", "reverse-flow-inverts", mutants={
    "transpose instead of inverse: m0 + M_1^T (x - m1)": lambda P, w, m0, m1, x: m0 + flow_matrix_formula(P, w, 1).T * (x - m1),
    "shift only: x - (m1 - m0)": lambda P, w, m0, m1, x: x - (m1 - m0),
    "wrong centre: m0 + M_1^-1 (x - m0)": lambda P, w, m0, m1, x: m0 + inv(flow_matrix_formula(P, w, 1)) * (x - m0),
})
def reverse_inverts(impl):
    """Integrating the 1-RF ODE backwards from x at t = 1 reaches T^{-1}(x) = m0 + M_1^-1 (x - m1) at t = 0 (factor
    setting, non-commuting allowed); lambdified, it equals ``gaussian.reverse_map(ends, x, "closed")``
    (:func:`.symbolic_links.reverse_link`)."""
    return linked_outcome(proofs.prove_reverse(impl), reverse_link(impl or proofs.reverse_formula))


# ---------------------------------------------------------------------------------------------
# GRF-STRAIGHTNESS-IDENTITY
# ---------------------------------------------------------------------------------------------


@check("GRF-STRAIGHTNESS-IDENTITY", "symbolic", "closed-form-energies", mutants={
    "(1 - pi/4) w": lambda w: (1 - sp.pi / 4) * w,
    "(2 - pi/2) w^2": lambda w: (2 - sp.pi / 2) * w ** 2,
    "the transport cost (w - 1)^2": lambda w: (w - 1) ** 2,
})
def straightness_closed_form(impl):
    """int_0^1 (t beta - (1-t))^2/((1-t)^2 + t^2 beta) dt = 1 + beta - (pi/2) sqrt(beta) (antiderivative + atan identity),
    hence S = (2 - pi/2) tr(Sigma0 # Sigma1), K = ||Delta||^2 + tr Sigma0 + tr Sigma1 - (pi/2) tr(Sigma0 # Sigma1),
    S + E||Z1 - Z0||^2 = K <= E||X1 - X0||^2, with the trace reduction over a generic 2 x 2 factor P; the proved S,
    lambdified, equals :func:`gaussian.straightness` (:func:`.symbolic_links.straightness_link`)."""
    return linked_outcome(proofs.prove_straightness(impl), straightness_link(impl or proofs.straightness_per_direction))


# ---------------------------------------------------------------------------------------------
# GRF-NONCOMMUTING-NOT-OT
# ---------------------------------------------------------------------------------------------


@check("GRF-NONCOMMUTING-NOT-OT", "symbolic", "symmetric-iff-commuting", mutants={
    "Q alone (ignores Sigma0)": lambda P, Q: Q,
    "wrong similarity: P^-1 Q P": lambda P, Q: inv(P) * Q * P,
    "P Q P (not a similarity)": lambda P, Q: P * Q * P,
})
def noncommuting_not_ot(impl):
    """M_1 = Sigma0^{1/2} B^{1/2} Sigma0^{-1/2} pushes Sigma0 to Sigma1 and is symmetric iff [Sigma0, Sigma1] = 0, so the
    1-RF map is the Brenier map iff the covariances commute (generic symmetric 2 x 2 P, Q). Link: the proved
    M_1 = P Q P^-1 (Sigma0 = P^2, Sigma1 = P Q^2 P), lambdified, equals ``gaussian.flow_affine(ends, 1, "closed")[0]``
    at 12 random non-commuting pairs (:func:`.symbolic_links.not_ot_link`)."""
    return linked_outcome(proofs.prove_not_ot(impl), not_ot_link(impl or proofs.not_ot_map_formula))


# ---------------------------------------------------------------------------------------------
# REFLOW-POPULATION-FIXED-POINT
# ---------------------------------------------------------------------------------------------


@check("REFLOW-POPULATION-FIXED-POINT", "symbolic", "straight-fixed-point", mutants={
    "ignores L_t^-1: (M - I) x + c": lambda M, c, x, t: (M - sp.eye(2)) * x + c,
    "drops the shift: (M - I) L_t^-1 x + c": lambda M, c, x, t: (M - sp.eye(2)) * inv((1 - t) * sp.eye(2) + t * M) * x + c,
    "drops the intercept: (M - I) L_t^-1 (x - t c)": lambda M, c, x, t: (
        (M - sp.eye(2)) * inv((1 - t) * sp.eye(2) + t * M) * (x - t * c)),
})
def reflow_fixed_point(impl):
    """One reflow on exact pairs gives the straight flow Z_t = L_t Z0 + t c (S(Z^2) = 0) ending at T(Z0): a fixed point
    (generic 2 x 2 similarity P, positive w_i, symbolic shift c and start z). Link: the proved
    v2(x, t) = (M - I) L_t^-1 (x - t c) + c, lambdified, equals ``reflow.straight_velocity_affine`` and
    ``reflow.coupling_velocity_affine`` (the velocity ``reflow.population_reflow`` integrates), each as A x + b, at 12
    random points (:func:`.symbolic_links.fixed_point_link`)."""
    return linked_outcome(proofs.prove_reflow_fixed_point(impl),
                          fixed_point_link(impl or proofs.straight_velocity_formula))


# ---------------------------------------------------------------------------------------------
# REFLOW-SHRINKAGE
# ---------------------------------------------------------------------------------------------


@check("REFLOW-SHRINKAGE", "symbolic", "x1-prediction-is-a-dae", mutants={
    "clean rule h(lam) = lam^3/(lam + sigma_t^2)^2": lambda lam, t: clean_map(lam, ((1 - t) / t) ** 2),
    "sigma_t not squared: lam^2/(lam + (1-t)/t)": lambda lam, t: lam ** 2 / (lam + (1 - t) / t),
    "inverted noise level sigma_t = t/(1-t)": lambda lam, t: renoise_map(lam, (t / (1 - t)) ** 2),
})
def shrinkage_is_dae(impl):
    """The 1-RF clean-data predictor at time t is the Wiener filter at sigma_t = (1-t)/t, the minimiser of a ridge /
    DAE loss; generating by one prediction step gives lam' = lam^2/(lam + sigma_t^2), the DAE renoise map. Link: the
    proved map, lambdified, equals one round of ``reflow.shrinkage_reflow``, and the proved predictor gain
    W*(lam, sigma_t^2)/t equals ``reflow.clean_prediction`` (data N(0, diag(lam))), at 12 random points
    (:func:`.symbolic_links.shrinkage_link`)."""
    return linked_outcome(proofs.prove_shrinkage(impl), shrinkage_link(impl or proofs.shrinkage_map))


# ---------------------------------------------------------------------------------------------
# RA-REFLOW-BOUNDED
# ---------------------------------------------------------------------------------------------


@check("RA-REFLOW-BOUNDED", "symbolic", "stationary-covariance", mutants={
    "ignores the mean-offset term: Sc/((n-1) alpha)": lambda sc, n, a: sc / ((n - 1) * a / n),
    "real points' own covariance: Sc/(a - 1)": lambda sc, n, a: sc / (a - 1),
    "Sc/(n - 1) (the Loewner bound, not the limit)": lambda sc, n, a: sc / (n - 1),
})
def ra_stationary(impl):
    """The conditional-expectation recursion of estimated RA Reflow has the fixed point
    Sigma_inf = Sc/[(n-1) - (1-alpha)(n-1) - (1-alpha)^2/(2-alpha)]; the pooled-scatter decomposition gives the sure
    Loewner bound Sigma_k >= Sc/(n-1); the proved Sigma_inf, lambdified, equals reflow.ra_stationary_covariance
    (:func:`.symbolic_links.ra_stationary_link`)."""
    return linked_outcome(proofs.prove_ra_stationary(impl), ra_stationary_link(impl or proofs.ra_stationary_formula))


# ---------------------------------------------------------------------------------------------
# REFLOW-ESTIMATED-DRIFT
# ---------------------------------------------------------------------------------------------


def _drift(fn):
    return {"log_det_drift": fn}


@check("REFLOW-ESTIMATED-DRIFT", "symbolic", "wishart-log-det-drift", mutants={
    "psi((n - i + 1)/2) (off by one)": _drift(lambda n, d: sum(sp.polygamma(0, (n - i + 1) / 2) + sp.log(2 / (n - 1))
                                                               for i in range(1, d + 1))),
    "normaliser 2/n": _drift(lambda n, d: sum(sp.polygamma(0, (n - i) / 2) + sp.log(2 / n) for i in range(1, d + 1))),
    "digamma only (no log(2/(n - 1)))": _drift(lambda n, d: sum(sp.polygamma(0, (n - i) / 2) for i in range(1, d + 1))),
    "E||m_k - m*||^2 with n - 1 for n": {"mean_error": lambda k, tr, n: (k + 1) * tr / (n - 1)},
    "E||m_k - m*||^2 = k tr Sigma*/n (round 0 not counted)": {"mean_error": lambda k, tr, n: k * tr / n},
})
def log_det_drift(impl=None):
    """E log det of the unbiased sample covariance of n Gaussian points drifts by sum_i [psi((n - i)/2) + log(2/(n - 1))]
    per round (Gamma log-moment by sympy integration; Bartlett's decomposition checked for d = 2 and d = 3 by the exact
    moments of the Schur complements), and the mean's squared error grows by tr Sigma*/n per round; ``impl`` (a dict overriding
    :data:`proofs.flow.DRIFT_FORMULAS`) is proved, and the proved expressions, lambdified, equal the package's
    ``reflow.log_det_drift_per_round`` and ``reflow_expectations(...)["mean_error_sq"]``
    (:func:`.symbolic_links.drift_link`)."""
    formulas = {**proofs.DRIFT_FORMULAS, **(impl or {})}
    return linked_outcome(proofs.prove_log_det_drift(formulas), drift_link(formulas))
