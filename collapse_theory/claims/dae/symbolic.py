"""Symbolic-tier checks of the DAE family and the paper's DAE claims: the sympy proofs of :mod:`collapse_theory.proofs.dae`,
:mod:`~collapse_theory.proofs.dae_rates`, :mod:`~collapse_theory.proofs.dae_regimes` and :mod:`collapse_theory.proofs.paper`
registered per claim.

Each check runs ``run(impl)``: ``impl=None`` proves the toolkit's formula; a mutant (a plausible wrong
formula of the same signature) must make at least one proof step fail, so the check returns
``Outcome(passed=False)``. Evidence (:func:`collapse_theory.claims.proved.proof_outcome`): number of steps proved /
total, the failed steps, and a residual. Every check also links its proof to the numpy code users call
(:func:`collapse_theory.claims.proved.linked_outcome`): the proved expression, evaluated exactly, must equal the
package's numpy function at seeded random valid points within c eps (1 + condition) (:mod:`.symbolic_links`,
:mod:`.symbolic_links_more`); evidence ``numpy_max_err_over_tol`` and ``numpy_points``.
"""

from __future__ import annotations

import sympy as sp

from ...proofs import dae as sym, dae_rates as rates, dae_regimes as regimes, paper
from ...proofs.engine import inv
from ..proved import linked_outcome
from . import symbolic_links as links, symbolic_links_more as more_links
from ..registry import check


# ---------------------------------------------------------------------------------------------
# DAE-OPT
# ---------------------------------------------------------------------------------------------

_WIENER_MUTANTS = {
    "missing sigma2: S (S + I)^-1": lambda S, s2: S * inv(S + sp.eye(2)),
    "sigma instead of sigma2: S (S + sigma I)^-1": lambda S, s2: S * inv(S + sp.sqrt(s2) * sp.eye(2)),
    "factor 2, wrong side: 2 (S + sigma2 I)^-1 S": lambda S, s2: 2 * inv(S + s2 * sp.eye(2)) * S,
    "doubled noise: S (S + 2 sigma2 I)^-1": lambda S, s2: S * inv(S + 2 * s2 * sp.eye(2)),
}


@check("DAE-OPT", "symbolic", "wiener-filter", mutants=_WIENER_MUTANTS)
def wiener_filter(impl):
    """L(W) = E||x - W(x + sigma eps)||^2 = tr S - 2 tr(WS) + tr(W(S + sigma2 I)W^T); grad = 2W(S + sigma2 I) - 2S;
    Hessian 2 I (x) (S + sigma2 I) > 0; the unique stationary point is S (S + sigma2 I)^-1 with gains
    lam/(lam + sigma2) in [0, 1) (2x2 symbolic S, W). Link: the proved S (S + sigma2 I)^-1, lambdified, equals
    the package's ``linear_dae.optimal_dae`` at 12 random SPD S (:func:`.symbolic_links.wiener_link`)."""
    return linked_outcome(sym.prove_optimal_dae(impl), links.wiener_link(impl or sym.wiener))


@check("DAE-OPT", "symbolic", "least-squares-limit", mutants={
    "missing sigma2: S (S + I)^-1": lambda S, s2: S * inv(S + sp.eye(2)),
    "noise averages out: W -> I": lambda S, s2: sp.eye(2),
})
def least_squares_limit(impl):
    """With m -> oo noise draws per sample the least-squares DAE's normal equations average to
    W (S_hat + sigma2 I) = S_hat, so W -> S_hat (S_hat + sigma2 I)^-1 (2 samples in R^2, symbolic). Link: the proved
    limit, lambdified, equals the package's ``linear_dae.empirical_dae`` at 12 random 2-sample training sets, both
    with the noise expectation exact (``noise_draws=None``) and as the least-squares fit on 4 noise draws per sample
    from a balanced noise design whose empirical moments are the expectations (sum e = 0, sum e e^T = 4 I)
    (:func:`.symbolic_links_more.least_squares_link`)."""
    return linked_outcome(sym.prove_least_squares_limit(impl), more_links.least_squares_link(impl or sym.wiener))


# ---------------------------------------------------------------------------------------------
# DAE-BOTTLENECK
# ---------------------------------------------------------------------------------------------

@check("DAE-BOTTLENECK", "symbolic", "loss-formula", mutants={
    "gain instead of lam^2/(lam + sigma2): lam/(lam + sigma2)": lambda lam, s2: lam / (lam + s2),
    "no shrinkage (PCA): lam": lambda lam, s2: lam,
    "squared denominator: lam^2/(lam + sigma2)^2": lambda lam, s2: lam ** 2 / (lam + s2) ** 2,
})
def bottleneck_loss(impl):
    """L(W) = L(W*) + tr((W - W*)(S + sigma2 I)(W - W*)^T); the rank-r optimum's loss is
    tr S - sum_{i<=r} lam_i^2/(lam_i + sigma2), and lam^2/(lam + sigma2) increases with lam. Link: the proved loss
    tr S - sum_{i<=r} r(lam_(i)) equals the package's ``linear_dae.bottleneck_dae_loss`` at 12 random spectra (d 2..4,
    every rank) (:func:`.symbolic_links_more.bottleneck_loss_link`)."""
    return linked_outcome(sym.prove_bottleneck(impl), more_links.bottleneck_loss_link(impl or sym.loss_reduction))


@check("DAE-BOTTLENECK", "symbolic", "top-r-directions", mutants={
    "bottom-r instead of top-r": lambda lams, r: list(range(len(lams) - r, len(lams))),
    "keep every direction (rank ignored)": lambda lams, r: list(range(len(lams))),
})
def bottleneck_selection(impl):
    """For l1 > l2 and r = 1, keeping the top eigendirection (g_1 u_1 u_1^T) has strictly smaller loss than
    keeping the other one. Link: the selected rank-r map sum_i g_i u_i u_i^T (exact eigenpairs) equals D E of the
    package's ``linear_dae.bottleneck_dae`` at 12 random 3x3 S, r = 1, 2
    (:func:`.symbolic_links_more.bottleneck_selection_link`)."""
    return linked_outcome(sym.prove_bottleneck_selection(impl), more_links.bottleneck_selection_link(impl or sym.top_r))


# ---------------------------------------------------------------------------------------------
# DAE-STEP
# ---------------------------------------------------------------------------------------------

@check("DAE-STEP", "symbolic", "renoise-map", mutants={
    "sigma2^2 in the denominator: mu^2/(mu + sigma2^2)": lambda mu, s2: mu ** 2 / (mu + s2 ** 2),
    "sigma instead of sigma2: mu^2/(mu + sigma)": lambda mu, s2: mu ** 2 / (mu + sp.sqrt(s2)),
    "linearised: mu - sigma2": lambda mu, s2: mu - s2,
})
def renoise_map(impl):
    """W(S + sigma2 I)W^T = S^2 (S + sigma2 I)^-1 = R diag(f(l_i)) R^T, f(mu) = mu^2/(mu + sigma2)
    = mu - sigma2 + sigma2^2/(mu + sigma2) < mu. Link: the proved f equals one round of the package's
    ``dae_recursion`` (replace, renoise) at 12 random (mu, sigma2) (:func:`.symbolic_links.step_link`)."""
    return linked_outcome(sym.prove_renoise_step(impl), links.step_link(impl or sym.renoise_map, "renoise"))


@check("DAE-STEP", "symbolic", "clean-map", mutants={
    "cubed denominator: mu^3/(mu + sigma2)^3": lambda mu, s2: mu ** 3 / (mu + s2) ** 3,
    "renoise map used for clean: mu^2/(mu + sigma2)": lambda mu, s2: mu ** 2 / (mu + s2),
    "dropped the factor mu: g^2 = mu^2/(mu + sigma2)^2": lambda mu, s2: mu ** 2 / (mu + s2) ** 2,
})
def clean_map(impl):
    """W S W^T = S^3 (S + sigma2 I)^-2 = R diag(h(l_i)) R^T, h(mu) = mu^3/(mu + sigma2)^2 < f(mu). Link: h equals one
    round of the package's ``dae_recursion`` (replace, clean) at 12 random points."""
    return linked_outcome(sym.prove_clean_step(impl), links.step_link(impl or sym.clean_map, "clean"))


# ---------------------------------------------------------------------------------------------
# DAE-MATRIX-EIGEN
# ---------------------------------------------------------------------------------------------

_E12 = sp.ImmutableMatrix([[0, 1], [0, 0]])


@check("DAE-MATRIX-EIGEN", "symbolic", "eigenbasis-preserved", mutants={
    "non-symmetric perturbation: W* + E12": lambda S, s2: sym.wiener(S, s2) + _E12,
    "per-coordinate Wiener filter: diag(S)(diag(S) + sigma2 I)^-1":
        lambda S, s2: sp.diag(S[0, 0] / (S[0, 0] + s2), S[1, 1] / (S[1, 1] + s2)),
})
def eigenbasis_preserved(impl):
    """W*(S) commutes with S; for S~ = p I + q S* (every regime), both rules give S' commuting with S* and
    again of the form p' I + q' S*: all rounds share S*'s eigenbasis. Link: 2 rounds of the mix recursion propagated as
    matrices with the proved trained map (exact) have the eigenvalues of the package's ``dae_recursion_matrix`` and of
    its eigenvalue-level ``dae_recursion`` on eig S* at 12 random (S*, sigma2, alpha), both rules
    (:func:`.symbolic_links_more.eigenbasis_link`)."""
    return linked_outcome(sym.prove_eigenbasis_preserved(impl), more_links.eigenbasis_link(impl or sym.wiener))


# ---------------------------------------------------------------------------------------------
# DAE-COLLAPSE-RATE
# ---------------------------------------------------------------------------------------------

@check("DAE-COLLAPSE-RATE", "symbolic", "gain-bounds-and-telescoping", mutants={
    "sigma instead of sigma2: lam/(lam + sigma)": lambda lam, s2: lam / (lam + sp.sqrt(s2)),
    "small-lam approximation: lam/sigma2": lambda lam, s2: lam / s2,
    "squared gain: (lam/(lam + sigma2))^2": lambda lam, s2: (lam / (lam + s2)) ** 2,
})
def collapse_rate(impl):
    """rho increasing, rho < 1, rho0 - rho(lam) = sigma2 (lam0 - lam)/((lam0 + sigma2)(lam + sigma2)) >= 0,
    f = rho lam <= rho0 lam, h = rho^2 lam <= rho0^2 lam, rho <= lam/sigma2, and the telescoping products
    prod rho(lam_j) = lam_{k+1}/lam_0 (renoise), = sqrt(lam_{k+1}/lam_0) (clean)."""
    return linked_outcome(rates.prove_collapse_rate(impl), links.collapse_bounds_link(impl or sym.gain))


# ---------------------------------------------------------------------------------------------
# DAE-DOUBLY-EXP
# ---------------------------------------------------------------------------------------------

@check("DAE-DOUBLY-EXP", "symbolic", "renoise-bounds", mutants={
    "cubic upper bound: x_{K+j} <= x_K^(3^j)": {"upper": lambda x, j: x ** (3 ** j)},
    "misplaced half: x_{K+j} >= x_K^(2^j)/2": {"lower": lambda x, j: x ** (2 ** j) / 2},
})
def doubly_exp_renoise(impl):
    """x' = x^2/(1+x) in [x^2/2, x^2] on (0, 1]; hence 2 (x_K/2)^(2^j) <= x_{K+j} <= x_K^(2^j)."""
    b = {**rates.doubly_exp_bounds("renoise"), **(impl or {})}
    return linked_outcome(rates.prove_doubly_exponential("renoise", **(impl or {})),
                          links.doubly_exp_link(b["lower"], b["upper"], "renoise"))


@check("DAE-DOUBLY-EXP", "symbolic", "clean-bounds", mutants={
    "catalog's constant: x_{K+j} >= 4 (x_K/2)^(3^j)": {"lower": lambda x, j: 4 * (x / 2) ** (3 ** j)},
    "quartic upper bound: x_{K+j} <= x_K^(4^j)": {"upper": lambda x, j: x ** (4 ** j)},
})
def doubly_exp_clean(impl):
    """x' = x^3/(1+x)^2 in [x^3/4, x^3] on (0, 1]; hence 2 (x_K/2)^(3^j) <= x_{K+j} <= x_K^(3^j)
    (the catalog's 4 (x_K/2)^(3^j) fails already at j = 0)."""
    b = {**rates.doubly_exp_bounds("clean"), **(impl or {})}
    return linked_outcome(rates.prove_doubly_exponential("clean", **(impl or {})),
                          links.doubly_exp_link(b["lower"], b["upper"], "clean"))


# ---------------------------------------------------------------------------------------------
# DAE-ROUNDS
# ---------------------------------------------------------------------------------------------

@check("DAE-ROUNDS", "symbolic", "scale-invariance", mutants={
    "renoise with sigma2^2: mu^2/(mu + sigma2^2)": [lambda mu, s2: mu ** 2 / (mu + s2 ** 2)],
    "clean with cubed denominator: mu^3/(mu + sigma2)^3": [lambda mu, s2: mu ** 3 / (mu + s2) ** 3],
})
def scale_invariance(impl):
    """f(c lam, c sigma2) = c f(lam, sigma2) and h likewise (and g has degree 0): N depends on lam/sigma2 only.
    Link: F(lam, sigma2)/sigma2 of each proved map equals the package's scale-free map ``recursion.collapse_map`` at
    x = lam/sigma2 (renoise, clean) at 12 random (lam, sigma2) each
    (:func:`.symbolic_links_more.scale_invariance_link`)."""
    maps = impl if impl is not None else [sym.renoise_map, sym.clean_map]
    return linked_outcome(rates.prove_scale_invariance(impl), more_links.scale_invariance_link(maps))


@check("DAE-ROUNDS", "symbolic", "renoise-rounds", mutants={
    "Delta F <= -2": {"delta_upper": lambda x: sp.Integer(-2)},
    "tail sum 3/2 instead of 5/3": {"tail_sum": sp.Rational(3, 2)},
    "forgot F(1) = 1: lower constant -5/3": {"lower_const": -sp.Rational(5, 3)},
    "each round removes >= 1 (x >= 1)": {"decrement_min": sp.Integer(1)},
})
def rounds_renoise(impl):
    """Delta F = -1 + 1/(1+x) - ln(1 + 1/x) in [-1 - 1/(x(1+x)), -1]; tail sum 5/3; F(1/2) = 1/2 - ln 2,
    F(1) = 1; hence x0 + ln x0 - 8/3 <= N <= x0 + ln x0 + ln 2 - 1/2."""
    c = {**rates.rounds_renoise_claims(), **(impl or {})}
    return linked_outcome(rates.prove_rounds_renoise(impl), links.rounds_bounds_link(
        lambda x0: x0 + sp.log(x0) + c["lower_const"], lambda x0: x0 + sp.log(x0) + c["upper_const"], "renoise"))


@check("DAE-ROUNDS", "symbolic", "clean-rounds", mutants={
    "decrement < 1 (as renoise)": {"decrement_max": sp.Integer(1)},
    "decrement >= 1 for x >= 1": {"decrement_min": sp.Integer(1)},
    "dropped the last round: N <= 4 (x0 - 1)/3": {"upper": lambda x0: 4 * (x0 - 1) / 3},
})
def rounds_clean(impl):
    """Clean decrement x(2x + 1)/(1+x)^2 in [3/4, 2) for x >= 1; hence (x0 - 1)/2 <= N <= 4(x0 - 1)/3 + 1."""
    c = {**rates.rounds_clean_claims(), **(impl or {})}
    return linked_outcome(rates.prove_rounds_clean(impl), links.rounds_bounds_link(c["lower"], c["upper"], "clean"))


# ---------------------------------------------------------------------------------------------
# DAE-REAL-FIXED-POINT and DAE-CLEAN-RULE
# ---------------------------------------------------------------------------------------------

def _mu_minus(a, lam, s2):
    return ((a * lam - s2) - sp.sqrt((s2 - a * lam) ** 2 + 4 * a ** 2 * lam * s2)) / (2 * a)


def _mu_bad_disc(a, lam, s2):
    return ((a * lam - s2) + sp.sqrt((s2 - a * lam) ** 2 + 4 * a * lam * s2)) / (2 * a)


def _mu_no_alpha(a, lam, s2):
    return ((a * lam - s2) + sp.sqrt((s2 - a * lam) ** 2 + 4 * a ** 2 * lam * s2)) / 2


@check("DAE-REAL-FIXED-POINT", "symbolic", "renoise-fixed-point", mutants={
    "minus sign before the sqrt": _mu_minus,
    "4 alpha lam* sigma2 in the discriminant": _mu_bad_disc,
    "missing alpha in the denominator": _mu_no_alpha,
})
def real_fixed_point(impl):
    """q(mu) = alpha mu^2 + (sigma2 - alpha lam*) mu - alpha lam* sigma2 from lam = f(alpha lam* + (1 - alpha) lam);
    mu_inf is its unique positive root, in [alpha lam*, lam*], equal to the stable form; 0 < T' <= 1 - alpha;
    g(mu_k) >= g(alpha lam*); catalog check value lam_inf ~ (3.031, 1.079, 0.240, 0.039, 0.0011). Link: the proved
    mu_inf and lambda_inf = f(mu_inf) equal the package's ``fixed_point_training_moment`` and ``fixed_point`` at 12
    random (alpha, lam*, sigma2) (:func:`.symbolic_links.fixed_point_link`), and the rate (1 - alpha) f'(mu_inf) equals
    ``fixed_point_rate`` (:func:`.symbolic_links.fixed_point_rate_link`)."""
    mu_inf = impl or sym.renoise_fixed_point
    return linked_outcome(regimes.prove_real_fixed_point(impl), links.both_links(
        links.fixed_point_link(mu_inf, sym.renoise_map), links.fixed_point_rate_link(mu_inf, sym.renoise_map)))


@check("DAE-MIX-SYNTHETIC-ONLY", "symbolic", "synthetic-only-fixed-point", mutants={
    "the mix regime's root (whole training set re-processed)": sym.renoise_fixed_point,
    "alpha lam* instead of 2 alpha lam* in the linear coefficient": lambda a, lam, s2: (
        (a * lam - s2) + sp.sqrt((s2 - a * lam) ** 2 + 4 * (1 + a) * a * lam * s2)) / (2 * (1 + a)),
    "missing (1 + alpha) in the denominator": lambda a, lam, s2: (
        (2 * a * lam - s2) + sp.sqrt((s2 - 2 * a * lam) ** 2 + 4 * (1 + a) * a * lam * s2)) / 2,
})
def synthetic_only_fixed_point(impl):
    """The synthetic-only reading lambda' = g(mu)^2 (lambda + sigma2): its fixed-point equation is the quadratic
    (1 + alpha) mu^2 + (sigma2 - 2 alpha lam*) mu - alpha lam* sigma2 = 0, mu_inf its unique positive root (>= alpha lam*),
    check value (0.321, 0.142, 0.0568, 0.0194, 0.00097). Link: the proved lambda_inf equals the package's
    ``synthetic_only_fixed_point`` at 12 random points (:func:`.symbolic_links.synthetic_only_link`)."""
    return linked_outcome(regimes.prove_synthetic_only_fixed_point(impl),
                          links.synthetic_only_link(impl or regimes.synthetic_only_mu))


def _cubic_with(b=None, c=None, d=None):
    def cubic(mu, a, lam, s2):
        bb = (2 * s2 - a * lam) if b is None else b(a, lam, s2)
        cc = (s2 ** 2 - 2 * a * lam * s2) if c is None else c(a, lam, s2)
        dd = (-a * lam * s2 ** 2) if d is None else d(a, lam, s2)
        return a * mu ** 3 + bb * mu ** 2 + cc * mu + dd
    return cubic


@check("DAE-CLEAN-RULE", "symbolic", "clean-fixed-point", mutants={
    "linear coefficient sigma2^2 - alpha lam* sigma2": _cubic_with(c=lambda a, lam, s2: s2 ** 2 - a * lam * s2),
    "constant -alpha lam* sigma2 (sigma2 not squared)": _cubic_with(d=lambda a, lam, s2: -a * lam * s2),
    "sign error: 2 sigma2 + alpha lam*": _cubic_with(b=lambda a, lam, s2: 2 * s2 + a * lam),
})
def clean_fixed_point(impl):
    """The clean cubic from lam = h(alpha lam* + (1 - alpha) lam); values of opposite sign at alpha lam*, lam*;
    Descartes: one sign change in every feasible sign pattern; h' = mu^2 (mu + 3 sigma2)/(mu + sigma2)^3 in [0, 1).
    Link: the cubic's unique positive root (exact) equals the package's ``fixed_point_training_moment`` (clean), and
    h(mu_inf), (1 - alpha) h'(mu_inf) equal ``fixed_point`` and ``fixed_point_rate`` (clean) at 12 random
    (alpha, lam*, sigma2) (:func:`.symbolic_links_more.clean_fixed_point_link`)."""
    return linked_outcome(regimes.prove_clean_fixed_point(impl),
                          more_links.clean_fixed_point_link(impl or sym.clean_fixed_point_cubic))


# ---------------------------------------------------------------------------------------------
# DAE-ACCUMULATE, DAE-FINITE-SAMPLE
# ---------------------------------------------------------------------------------------------

@check("DAE-ACCUMULATE", "symbolic", "running-mean", mutants={
    "weights 1/k instead of 1/(k+1)": lambda A, k: A / k,
    "weights 1/(k+2)": lambda A, k: A / (k + 2),
})
def accumulate(impl):
    """mu_k = A_k/(k+1): mu_{k+1} - mu_k = -(mu_k - F(mu_k))/(k+2) < 0, A non-decreasing, mu_k >= lam*/(k+1),
    ||W_k|| >= lam*/(lam* + (k+1) sigma2), k g(A/(k+1)) -> A/sigma2."""
    return linked_outcome(regimes.prove_accumulate(impl), links.accumulate_link(impl or sym.accumulate_mean))


@check("DAE-FINITE-SAMPLE", "symbolic", "one-round-unbiased", mutants={
    "forgot the noise: W x x^T W^T": lambda W, x, s2: W * x * x.T * W.T,
    "sigma instead of sigma2: W (x x^T + sigma I) W^T": lambda W, x, s2: W * (x * x.T + sp.sqrt(s2) * sp.eye(2)) * W.T,
})
def finite_sample(impl):
    """E_eps[W(x + sigma eps)(x + sigma eps)^T W^T] = W(x x^T + sigma2 I)W^T; averaged over the training set with
    W = W*(S_hat) it equals S_hat^2 (S_hat + sigma2 I)^-1 exactly (clean: S_hat^3 (S_hat + sigma2 I)^-2). Link: at 12
    random 2-point training sets the proved renoise mean equals the conditional mean the package states, V diag(f(mu))
    V^T from ``finite_sample.generate_from_training_set``'s training eigenpairs and ``dae_recursion``, and the proved
    clean moment equals that function's deterministic clean generation
    (:func:`.symbolic_links_more.finite_sample_link`)."""
    return linked_outcome(regimes.prove_finite_sample(impl),
                          more_links.finite_sample_link(impl or sym.renoise_conditional_moment))


@check("DAE-LOG-DRIFT", "symbolic", "concavity-predicts-downward-drift", mutants={
    "convex transform -log (predicts an upward drift)": lambda v: -sp.log(v),
    "linear transform (predicts no drift)": lambda v: v,
    "convex transform exp": lambda v: sp.exp(v),
})
def log_drift_direction(impl):
    """log is strictly concave (tangent gap w >= 0 with w'' = 1/y^2 > 0), so unbiased moments (DAE-FINITE-SAMPLE)
    have log-moments drifting down (Jensen); Gaussian example digamma(n/2) + log(2/n) < 0, shrinking with n. Link
    (independent of the injected transform): the example's value equals the package's closed form of E log(chi2_k/D),
    ``laws.gaussian.log_drift(n + 1, "unbiased")`` (k = D = n), at 12 random n; the DAE theory has no numpy function
    of its own for the drift (the numeric tier measures it) (:func:`.symbolic_links_more.log_drift_link`)."""
    return linked_outcome(regimes.prove_log_drift_direction(impl), more_links.log_drift_link())


# ---------------------------------------------------------------------------------------------
# Paper claims
# ---------------------------------------------------------------------------------------------

@check("C-collapse", "symbolic", "geometric-decay-from-rate", mutants={
    "no noise: sigma2 = 0 (rho0 = 1)": {"sigma2": sp.Integer(0)},
    "wrong exponent: rho0^k (round 0's gain missing)": {"bound": lambda rho, k: rho ** k},
    "wrong exponent: rho0^(2k + 2) (the clean rule's rate for renoise)": {"bound": lambda rho, k: rho ** (2 * k + 2)},
    "wrong rate: lam0/(lam0 + sigma2^2)": {"rate": lambda lam0, s2: lam0 / (lam0 + s2 ** 2)},
})
def paper_collapse(impl):
    """DAE-COLLAPSE-RATE implies the paper's claim: rho0 < 1 for sigma2 > 0, so rho0^(k+1) -> 0 geometrically. Link:
    the proved rate rho0 and bound rho0^(k+1) equal ``rho0`` and ``composed_op_norm[k]`` of the package's
    ``recursion.collapse_bounds`` at 8 random (lam0, sigma2, k) per rule
    (:func:`.symbolic_links_more.paper_collapse_link`)."""
    return linked_outcome(paper.prove_paper_collapse(impl), more_links.paper_collapse_link(impl))


@check("C-real", "symbolic", "bounded-away-from-zero", mutants={
    "no real data: alpha = 0": {"alpha": sp.Integer(0)},
    "wrong rate: lam*/(lam* + sigma2) (alpha dropped)": {"bound": lambda a, lam, s2: lam / (lam + s2)},
    "wrong rate: alpha lam*/(lam* + sigma2)": {"bound": lambda a, lam, s2: a * lam / (lam + s2)},
    "sigma instead of sigma2: alpha lam*/(alpha lam* + sigma)": {
        "bound": lambda a, lam, s2: a * lam / (a * lam + sp.sqrt(s2))},
})
def paper_real(impl):
    """DAE-REAL-FIXED-POINT (i) implies the paper's claim: ||W_k|| >= alpha lam*/(alpha lam* + sigma2) > 0 for
    alpha > 0, uniformly in k. Link: the proved bound equals the package's ``recursion.real_fraction_lower_bound`` at
    12 random (spectrum, sigma2, alpha) (:func:`.symbolic_links_more.paper_real_link`)."""
    return linked_outcome(paper.prove_paper_real(impl), more_links.paper_real_link(impl))
