"""Symbolic tier, DAE part 3: sympy proofs of DAE-REAL-FIXED-POINT, DAE-CLEAN-RULE, DAE-ACCUMULATE,
DAE-FINITE-SAMPLE and DAE-LOG-DRIFT (symbols and formulas from :mod:`.dae`, engine :mod:`.engine`; the conventions of
:mod:`.dae` apply)."""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Callable

import sympy as sp

from .dae import (
    accumulate_mean,
    ALPHA,
    clean_fixed_point_cubic,
    clean_map,
    fixed_point_quadratic,
    gain,
    K,
    LAM_STAR,
    MU,
    renoise_conditional_moment,
    renoise_fixed_point,
    renoise_map,
    SIGMA2,
    T_ALPHA,
    w_symbols,
    wiener,
)
from .engine import expect_moments, has_sign, inv, is_zero, mul, Proof

# ---------------------------------------------------------------------------------------------
# DAE-REAL-FIXED-POINT
# ---------------------------------------------------------------------------------------------

REAL_FIXED_POINT_CHECK = {"lam_star": (4, 2, 1, sp.Rational(1, 2), sp.Rational(1, 10)),
                          "sigma2": sp.Rational(1, 10), "alpha": sp.Rational(1, 10),
                          "lam_inf": ("3.031", "1.079", "0.240", "0.039", "0.0011")}


def _matches_decimal(value, text: str) -> bool:
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(value) - float(text)) <= 0.5 * 10.0 ** (-decimals) + 1e-15


def prove_real_fixed_point(mu_inf: Callable | None = None) -> dict:
    """DAE-REAL-FIXED-POINT (renoise, mix regime, alpha in (0, 1]). With mu_inf(alpha, lam*, sigma2) (default
    the toolkit's root), q(mu) = alpha mu^2 + (sigma2 - alpha lam*) mu - alpha lam* sigma2:

    - (mu - alpha lam*)(mu + sigma2) - (1 - alpha) mu^2 = q(mu)  (lam = (mu - alpha lam*)/(1 - alpha) in lam = f(mu))
    - q(mu_inf) = 0; mu_inf is the larger root (mu_inf - other root = sqrt(D)/alpha > 0, D > 0)
    - Vieta: product of the roots = -lam* sigma2 < 0, so exactly one positive root, the larger one
    - stable form: mu_inf ((sigma2 - alpha lam*) + sqrt(D)) = 2 alpha lam* sigma2
    - q(alpha lam*) = alpha^2 lam*^2 (alpha - 1) <= 0 and q(lam*) = (1 - alpha) lam* sigma2 >= 0, so
      alpha lam* <= mu_inf <= lam* (lam_inf >= 0)
    - (1 - alpha) f(mu) - (mu - alpha lam*) = -q(mu)/(mu + sigma2): lam_inf = f(mu_inf) = (mu_inf - alpha lam*)/(1 - alpha)
    - T(lam) = f(alpha lam* + (1 - alpha) lam): T' = (1 - alpha) f'(mu), f'(mu) = mu (mu + 2 sigma2)/(mu + sigma2)^2 > 0,
      1 - f'(mu) = sigma2^2/(mu + sigma2)^2 > 0, so 0 < T' <= 1 - alpha (contraction, monotone convergence)
    - lower bound (i): g(alpha lam* + (1 - alpha) lam) >= g(alpha lam*) for lam >= 0
    - the catalog's check value lam_inf ~ (3.031, 1.079, 0.240, 0.039, 0.0011)."""
    mu_inf = mu_inf or renoise_fixed_point
    proof = Proof()
    a, lam, s2, mu = ALPHA, LAM_STAR, SIGMA2, MU
    q = lambda v: fixed_point_quadratic(v, a, lam, s2)  # noqa: E731
    a_unit = 1 / (1 + T_ALPHA)
    proof.identity("quadratic_from_fixed_point_equation",
                   lambda: sp.expand((mu - a * lam) * (mu + s2) - (1 - a) * mu ** 2) - q(mu))
    root = mu_inf(a, lam, s2)
    proof.identity("candidate_is_root", lambda: sp.expand(q(root)))
    coeffs = sp.Poly(q(mu), mu).all_coeffs()
    disc = (s2 - a * lam) ** 2 + 4 * a ** 2 * lam * s2
    proof.identity("discriminant", lambda: coeffs[1] ** 2 - 4 * coeffs[0] * coeffs[2] - disc)
    # root - (other root) = 2 root + b/a (Vieta's sum); for the '+' root it is sqrt(D)/alpha > 0
    proof.sign("candidate_is_larger_root", "positive", lambda: 2 * root + coeffs[1] / coeffs[0])
    proof.identity("vieta_product", lambda: coeffs[2] / coeffs[0] + lam * s2)
    proof.sign("vieta_product_negative", "negative", lambda: coeffs[2] / coeffs[0])
    proof.identity("stable_form", lambda: sp.expand(root * ((s2 - a * lam) + sp.sqrt(disc)) - 2 * a * lam * s2))
    proof.identity("q_at_alpha_lam", lambda: q(a * lam) - a ** 2 * lam ** 2 * (a - 1))
    proof.sign("q_at_alpha_lam_nonpositive", "nonpositive", lambda: q(a * lam).subs(a, a_unit))
    proof.sign("q_at_lam_nonnegative", "nonnegative", lambda: q(lam).subs(a, a_unit))
    proof.identity("fixed_point_consistency",
                   lambda: (1 - a) * renoise_map(mu, s2) - (mu - a * lam) + q(mu) / (mu + s2))
    lam_k = sp.Symbol("lam_k", nonnegative=True)
    mu_k = a * lam + (1 - a) * lam_k
    fprime = lambda v: v * (v + 2 * s2) / (v + s2) ** 2  # noqa: E731
    proof.identity("f_prime", lambda: sp.diff(renoise_map(mu, s2), mu) - fprime(mu))
    proof.identity("map_derivative", lambda: sp.diff(renoise_map(mu_k, s2), lam_k) - (1 - a) * fprime(mu_k))
    proof.sign("f_prime_positive", "positive", lambda: fprime(mu))
    proof.identity("one_minus_f_prime", lambda: 1 - fprime(mu) - s2 ** 2 / (mu + s2) ** 2)
    proof.sign("f_prime_below_one", "positive", lambda: 1 - fprime(mu))
    proof.sign("rate_at_most_one_minus_alpha", "nonnegative",
               lambda: ((1 - a) - sp.diff(renoise_map(mu_k, s2), lam_k)).subs(a, a_unit))
    proof.sign("gain_lower_bound", "nonnegative", lambda: (gain(mu_k, s2) - gain(a * lam, s2)).subs(a, a_unit))

    def check_value():
        cv = REAL_FIXED_POINT_CHECK
        values = []
        for ls, text in zip(cv["lam_star"], cv["lam_inf"]):
            m_inf = mu_inf(cv["alpha"], sp.Integer(ls) if isinstance(ls, int) else ls, cv["sigma2"])
            values.append(sp.N(renoise_map(m_inf, cv["sigma2"]), 30))
        proof.residuals["check_value"] = ", ".join(f"{float(v):.5g}" for v in values)
        return all(_matches_decimal(v, text) for v, text in zip(values, cv["lam_inf"]))

    proof.step("catalog_check_value", check_value)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-CLEAN-RULE
# ---------------------------------------------------------------------------------------------

def _sign_changes(signs) -> int:
    nonzero = [s for s in signs if s != 0]
    return sum(1 for u, v in zip(nonzero, nonzero[1:]) if u != v)


def prove_clean_fixed_point(cubic: Callable | None = None) -> dict:
    """DAE-CLEAN-RULE. With p(mu) = cubic(mu, alpha, lam*, sigma2) (default the toolkit's cubic):

    - (mu - alpha lam*)(mu + sigma2)^2 - (1 - alpha) mu^3 = p(mu)  (lam = (mu - alpha lam*)/(1 - alpha) in lam = h(mu))
    - p(alpha lam*) = -(1 - alpha) alpha^3 lam*^3 <= 0, p(lam*) = (1 - alpha)(2 sigma2 lam*^2 + sigma2^2 lam*) >= 0
    - Descartes: leading coefficient alpha > 0, constant -alpha lam* sigma2^2 < 0; the middle coefficients
      (2 sigma2 - alpha lam*, sigma2^2 - 2 alpha lam* sigma2) cannot be (-, +): 2 sigma2 - alpha lam* < 0 forces
      sigma2^2 - 2 alpha lam* sigma2 < 0; every other sign pattern has exactly one sign change, so p has exactly
      one positive root mu_inf, and it lies in [alpha lam*, lam*]
    - h'(mu) = mu^2 (mu + 3 sigma2)/(mu + sigma2)^3 >= 0, 1 - h'(mu) = sigma2^2 (3 mu + sigma2)/(mu + sigma2)^3 > 0."""
    cubic = cubic or clean_fixed_point_cubic
    proof = Proof()
    a, lam, s2, mu = ALPHA, LAM_STAR, SIGMA2, MU
    p = lambda v: cubic(v, a, lam, s2)  # noqa: E731
    a_unit = 1 / (1 + T_ALPHA)
    proof.identity("cubic_from_fixed_point_equation",
                   lambda: sp.expand((mu - a * lam) * (mu + s2) ** 2 - (1 - a) * mu ** 3) - p(mu))
    proof.identity("value_at_alpha_lam", lambda: p(a * lam) + (1 - a) * a ** 3 * lam ** 3)
    proof.sign("value_at_alpha_lam_nonpositive", "nonpositive", lambda: p(a * lam).subs(a, a_unit))
    proof.identity("value_at_lam", lambda: p(lam) - (1 - a) * (2 * s2 * lam ** 2 + s2 ** 2 * lam))
    proof.sign("value_at_lam_nonnegative", "nonnegative", lambda: p(lam).subs(a, a_unit))

    def descartes():
        coeffs = sp.Poly(p(mu), mu).all_coeffs()
        if len(coeffs) != 4:
            return False
        lead, b, c, d = coeffs
        if not (has_sign(lead, "positive") and has_sign(d, "negative")):
            return False
        # the pattern (b < 0, c > 0) is impossible: with alpha lam* = 2 sigma2 + e (e > 0), c < 0
        e = sp.Symbol("e", positive=True)
        b_neg = {lam: (2 * s2 + e) / a}
        if not has_sign(b.subs(b_neg), "negative"):
            return False
        if not has_sign(c.subs(b_neg), "negative"):
            return False
        for sb, sc in itertools.product((-1, 0, 1), repeat=2):
            if sb == -1 and sc >= 0:
                continue     # excluded: b < 0 implies c < 0
            if _sign_changes([1, sb, sc, -1]) != 1:
                return False
        return True

    proof.step("descartes_one_positive_root", descartes)
    hprime = lambda v: v ** 2 * (v + 3 * s2) / (v + s2) ** 3  # noqa: E731
    proof.identity("h_prime", lambda: sp.diff(clean_map(mu, s2), mu) - hprime(mu))
    proof.sign("h_prime_nonnegative", "nonnegative", lambda: hprime(mu))
    proof.identity("one_minus_h_prime", lambda: 1 - hprime(mu) - s2 ** 2 * (3 * mu + s2) / (mu + s2) ** 3)
    proof.sign("h_prime_below_one", "positive", lambda: 1 - hprime(mu))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-ACCUMULATE
# ---------------------------------------------------------------------------------------------

def prove_accumulate(running_mean: Callable | None = None) -> dict:
    """DAE-ACCUMULATE. With mu_k = running_mean(A_k, k) (default A_k/(k+1)), A_0 = lam*, A_{k+1} = A_k + F(mu_k):

    - mu_0 = lam*
    - mu_{k+1} - mu_k = -(mu_k - F(mu_k))/(k + 2) for every value F(mu_k) (symbolic k)
    - mu - f(mu) = mu sigma2/(mu + sigma2) > 0 and mu - h(mu) > 0 (mu_k strictly decreases)
    - A_{k+1} - A_k = F(mu_k) >= 0, so A_k >= lam* and mu_k >= lam*/(k + 1) (mu increasing in A)
    - ||W_k|| >= g(lam*/(k+1)) = lam*/(lam* + (k + 1) sigma2); k g(A/(k+1)) -> A/sigma2 (harmonic rate)."""
    running_mean = running_mean or accumulate_mean
    proof = Proof()
    lam, s2, mu, k = LAM_STAR, SIGMA2, MU, K
    A = sp.Symbol("A", positive=True)
    Fv = sp.Symbol("F_mu", nonnegative=True)
    proof.identity("initial_moment", lambda: running_mean(lam, sp.Integer(0)) - lam)

    def recursion():
        sols = sp.solve(sp.Eq(running_mean(A, k), mu), A)
        if len(sols) != 1:
            return False
        A_k = sols[0]
        mu_next = running_mean(A_k + Fv, k + 1)
        return is_zero(mu_next - mu + (mu - Fv) / (k + 2))

    proof.step("mean_recursion", recursion)
    proof.sign("renoise_decrease", "positive", lambda: mu - renoise_map(mu, s2))
    proof.sign("clean_decrease", "positive", lambda: mu - clean_map(mu, s2))
    proof.sign("renoise_increment_nonnegative", "nonnegative", lambda: renoise_map(mu, s2))
    proof.sign("clean_increment_nonnegative", "nonnegative", lambda: clean_map(mu, s2))
    proof.sign("mean_increasing_in_total", "positive", lambda: sp.diff(running_mean(A, k), A))
    proof.identity("training_lower_bound", lambda: running_mean(lam, k) - lam / (k + 1))
    proof.identity("gain_lower_bound", lambda: gain(running_mean(lam, k), s2) - lam / (lam + (k + 1) * s2))
    proof.step("harmonic_rate", lambda: sp.simplify(sp.limit(k * gain(running_mean(A, k), s2), k, sp.oo)
                                                    - A / s2) == 0)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-FINITE-SAMPLE
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _two_samples():
    """Two symbolic samples in R^2, S_hat = (x_1 x_1^T + x_2 x_2^T)/2, S_hat + sigma2 I, W*(S_hat) (cached)."""
    xs = tuple(sp.ImmutableMatrix(sp.symbols(f"x{j}_0:2", real=True)) for j in range(2))
    S_hat = sp.ImmutableMatrix((xs[0] * xs[0].T + xs[1] * xs[1].T) / 2)
    noisy = sp.ImmutableMatrix(S_hat + SIGMA2 * sp.eye(2))
    return xs, S_hat, noisy, sp.ImmutableMatrix(wiener(S_hat, SIGMA2))


@lru_cache(maxsize=None)
def _finite_sample_clean_proved() -> bool:
    """(1/2) sum_j W x_j x_j^T W^T = S_hat^3 (S_hat + sigma2 I)^-2 for W = W*(S_hat) (no noise; cached)."""
    xs, S_hat, noisy, Wh = _two_samples()
    avg = (mul(Wh, xs[0] * xs[0].T, Wh.T) + mul(Wh, xs[1] * xs[1].T, Wh.T)) / 2
    noisy_inv = inv(noisy)
    return is_zero(avg - mul(S_hat, S_hat, S_hat, noisy_inv, noisy_inv))


def prove_finite_sample(conditional_moment: Callable | None = None) -> dict:
    """DAE-FINITE-SAMPLE. For fixed training samples x_1, x_2 in R^2 (symbolic) and symbolic W:

    - E_eps[W (x + sigma eps)(x + sigma eps)^T W^T] = conditional_moment(W, x, sigma2)
      (default W (x x^T + sigma2 I) W^T; by expanding and substituting eps_i eps_j -> delta_ij, eps_i -> 0)
    - averaging over the samples: (1/2) sum_j conditional_moment(W, x_j) = W (S_hat + sigma2 I) W^T
    - with W = W*(S_hat): = S_hat^2 (S_hat + sigma2 I)^-1 = F_renoise(S_hat) exactly (no bias);
      clean: (1/2) sum_j W x_j x_j^T W^T = W S_hat W^T = S_hat^3 (S_hat + sigma2 I)^-2."""
    conditional_moment = conditional_moment or renoise_conditional_moment
    proof = Proof()
    s2 = SIGMA2
    Wsym = w_symbols()
    x = sp.Matrix(sp.symbols("x0:2", real=True))
    es = sp.symbols("e0:2", real=True)
    eps = sp.Matrix(es)

    def one_sample():
        y = Wsym * (x + sp.sqrt(s2) * eps)
        mean = (y * y.T).applyfunc(lambda v: expect_moments(v, es))
        return is_zero(mean - sp.Matrix(conditional_moment(Wsym, x, s2)))

    proof.step("conditional_mean_one_sample", one_sample)
    xs, S_hat, noisy, Wh = _two_samples()
    proof.identity("average_over_training_set",
                   lambda: (conditional_moment(Wsym, xs[0], s2) + conditional_moment(Wsym, xs[1], s2)) / 2
                   - Wsym * noisy * Wsym.T)

    def population_map():
        avg = (sp.Matrix(conditional_moment(Wh, xs[0], s2)) + sp.Matrix(conditional_moment(Wh, xs[1], s2))) / 2
        return is_zero(avg - S_hat * S_hat * inv(noisy))

    proof.step("equals_population_map_renoise", population_map)

    proof.step("equals_population_map_clean", _finite_sample_clean_proved)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-LOG-DRIFT (the direction predicted for the observation)
# ---------------------------------------------------------------------------------------------

def prove_log_drift_direction(phi: Callable | None = None) -> dict:
    """DAE-LOG-DRIFT (prediction). For the transform phi (default log) of a moment estimate y > 0 with mean m > 0,
    the tangent gap w(y) = phi(m) + phi'(m)(y - m) - phi(y) has w(m) = 0, w'(m) = 0 and w''(y) = -phi''(y) > 0,
    so w >= 0 (zero only at y = m): E phi(y) <= phi(E y) (Jensen), strictly unless y is a.s. constant. With
    E[lam_hat_{k+1} | training set] = F(S_hat~_k) (DAE-FINITE-SAMPLE) the log-moments drift below the population
    recursion. Gaussian example (not injected): lam_hat = lam chi2_n/n gives
    E log(lam_hat/lam) = digamma(n/2) + log(2/n) < 0, increasing towards 0 in n (n = 2, 5, 10, 100, 1000)."""
    phi = phi or sp.log
    proof = Proof()
    y, m = sp.Symbol("y", positive=True), sp.Symbol("m", positive=True)
    tangent = phi(m) + sp.diff(phi(m), m) * (y - m)
    gap = tangent - phi(y)
    proof.identity("gap_zero_at_mean", lambda: gap.subs(y, m))
    proof.identity("gap_stationary_at_mean", lambda: sp.diff(gap, y).subs(y, m))
    proof.sign("gap_strictly_convex", "positive", lambda: sp.diff(gap, y, 2))
    # E[tangent(y)] = phi(E y) for every law of y with mean m: a generic two-point law y in {m - p d, m + (1 - p) d}
    # with probabilities (1 - p, p) has mean m; the tangent expression proved above (not a retyped copy) is averaged
    p_, d_ = sp.Symbol("p", positive=True), sp.Symbol("delta", positive=True)
    low, high = m - p_ * d_, m + (1 - p_) * d_
    proof.identity("two_point_law_has_mean_m", lambda: (1 - p_) * low + p_ * high - m)
    proof.identity("tangent_mean_is_phi_of_mean",
                   lambda: (1 - p_) * tangent.subs(y, low) + p_ * tangent.subs(y, high) - phi(m))

    def gaussian_example():
        ns = (2, 5, 10, 100, 1000)
        drift = [sp.digamma(sp.Rational(n, 2)) + sp.log(sp.Rational(2, n)) for n in ns]
        negative = all(d.is_negative is True for d in drift)
        shrinking = all((b - a).is_positive is True for a, b in zip(drift, drift[1:]))
        proof.residuals["gaussian_drift"] = ", ".join(f"{float(d):.4g}" for d in drift)
        return negative and shrinking

    proof.step("gaussian_example_negative_and_shrinking", gaussian_example)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-MIX-SYNTHETIC-ONLY: the other reading of a fixed real fraction
# ---------------------------------------------------------------------------------------------

SYNTHETIC_ONLY_CHECK = {"lam_star": (4, 2, 1, sp.Rational(1, 2), sp.Rational(1, 10)),
                        "sigma2": sp.Rational(1, 10), "alpha": sp.Rational(1, 10),
                        "lam_inf": ("0.321", "0.142", "0.0568", "0.0194", "0.00097")}


def synthetic_only_mu(alpha, lam_star, s2):
    """Toolkit's mu_inf of the synthetic-only reading: the positive root of
    (1 + alpha) mu^2 + (sigma2 - 2 alpha lam*) mu - alpha lam* sigma2."""
    b = s2 - 2 * alpha * lam_star
    return (-b + sp.sqrt(b ** 2 + 4 * (1 + alpha) * alpha * lam_star * s2)) / (2 * (1 + alpha))


def prove_synthetic_only_fixed_point(mu_inf: Callable | None = None) -> dict:
    """DAE-MIX-SYNTHETIC-ONLY (renoise, alpha in (0, 1)): lambda' = g(mu)^2 (lambda + sigma2), mu = alpha lam* +
    (1 - alpha) lambda. With mu_inf(alpha, lam*, sigma2) (default the toolkit's root) and
    q(mu) = (1 + alpha) mu^2 + (sigma2 - 2 alpha lam*) mu - alpha lam* sigma2:

    - (mu - alpha lam*)(mu + sigma2)^2 - mu^2 (mu - alpha lam* + (1 - alpha) sigma2) = sigma2 q(mu), i.e. the fixed-point
      equation lambda (mu + sigma2)^2 = mu^2 (lambda + sigma2) with lambda = (mu - alpha lam*)/(1 - alpha), times (1 - alpha)
    - q(mu_inf) = 0; mu_inf is the larger root (2 mu_inf + B/A > 0); product of the roots -alpha lam* sigma2/(1 + alpha) < 0
      (exactly one positive root)
    - q(alpha lam*) = alpha^2 lam*^2 (alpha - 1) <= 0, so mu_inf >= alpha lam* and lambda_inf >= 0
    - q(alpha lam* + (1 - alpha) L) = (1 - alpha)[(1 - alpha^2) L^2 + (sigma2 + 2 alpha^2 lam*) L - alpha^2 lam*^2]:
      the quadratic in lambda the numpy code solves
    - the check value lambda_inf ~ (0.321, 0.142, 0.0568, 0.0194, 0.00097) (half a unit in the last quoted digit)."""
    mu_inf = mu_inf or synthetic_only_mu
    proof = Proof()
    a, lam, s2, mu = ALPHA, LAM_STAR, SIGMA2, MU
    q = lambda v: (1 + a) * v ** 2 + (s2 - 2 * a * lam) * v - a * lam * s2  # noqa: E731
    proof.identity("quadratic_from_fixed_point_equation",
                   lambda: sp.expand((mu - a * lam) * (mu + s2) ** 2 - mu ** 2 * (mu - a * lam + (1 - a) * s2)
                                     - s2 * q(mu)))
    root = mu_inf(a, lam, s2)
    proof.identity("candidate_is_root", lambda: sp.expand(q(root)))
    coeffs = sp.Poly(q(mu), mu).all_coeffs()
    proof.sign("candidate_is_larger_root", "positive", lambda: 2 * root + coeffs[1] / coeffs[0])
    proof.identity("vieta_product", lambda: coeffs[2] / coeffs[0] + a * lam * s2 / (1 + a))
    proof.sign("vieta_product_negative", "negative", lambda: coeffs[2] / coeffs[0])
    proof.identity("q_at_alpha_lam_star", lambda: sp.expand(q(a * lam) - a ** 2 * lam ** 2 * (a - 1)))
    L = sp.Symbol("L", nonnegative=True)   # the same equation in lambda (the numpy code's cancellation-free form)
    proof.identity("quadratic_in_lambda", lambda: sp.expand(
        q(a * lam + (1 - a) * L) - (1 - a) * ((1 - a ** 2) * L ** 2 + (s2 + 2 * a ** 2 * lam) * L - a ** 2 * lam ** 2)))
    a_unit = 1 / (1 + T_ALPHA)   # alpha in (0, 1]
    proof.sign("q_at_alpha_lam_star_nonpositive", "nonpositive", lambda: (a_unit ** 2 * lam ** 2 * (a_unit - 1)))

    def check_value():
        c = SYNTHETIC_ONLY_CHECK
        values = []
        for lam_star, text in zip(c["lam_star"], c["lam_inf"]):
            m = mu_inf(c["alpha"], sp.sympify(lam_star), c["sigma2"])
            lam_inf = (m - c["alpha"] * lam_star) / (1 - c["alpha"])
            values.append(sp.N(lam_inf, 30))
            decimals = len(text.split(".")[1])
            if abs(float(values[-1]) - float(text)) > 0.5 * 10.0 ** (-decimals) + 1e-15:
                return False
        return True

    proof.step("check_value", check_value)
    return proof.result()
