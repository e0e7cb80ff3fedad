"""Symbolic tier of the collapse laws 7-8 (claims LAW-DIFFUSION-EARLY-STOP, LAW-ZIPF-TAIL); conventions of :mod:`.laws`.

Derivations proved here: docs/derivations/laws.md §7, docs/derivations/laws.md §8.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .laws import Proof, with_overrides

K_ROUND = sp.Symbol("k", integer=True, nonnegative=True)

# --------------------------------------------------------------------------------------------- law 7

DIFFUSION_FORMULAS = {
    # rho = e^{-m delta}; h = the real Hermite moment h_m*
    "training_moment": lambda k, alpha, rho, h: h * (alpha / (1 - (1 - alpha) * rho)
                                                     + (1 - alpha / (1 - (1 - alpha) * rho)) * ((1 - alpha) * rho) ** k),
    "output_gain": lambda alpha, rho: alpha * rho / (1 - (1 - alpha) * rho),
    "rate": lambda alpha, rho: (1 - alpha) * rho,
}
"""The toolkit's diffusion laws (LAW-DIFFUSION-EARLY-STOP)."""


def prove_diffusion_early_stop(overrides: dict | None = None, modes=(1, 2, 3, 4)) -> dict:
    """LAW-DIFFUSION-EARLY-STOP, alpha = 1/(1 + t) in (0, 1), c = e^{-delta} in (0, 1):

    - OU eigenfunctions: E_Z He_m(c x + sqrt(1 - c^2) Z) = c^m He_m(x) for m = 1..4 (Gaussian moments of Z);
    - the training moments follow h(k + 1) = alpha h* + (1 - alpha) rho h(k), h(0) = h*, and the per-mode error
      h(k) - h(oo) is multiplied by the rate formula each round;
    - the generated output's gain is rho times the fixed point of f = alpha + (1 - alpha) rho f (solved by sympy);
    - rate ordering: (1 - alpha) c^m <= (1 - alpha) c < 1 - alpha for m >= 1: the exact rate is below 1 - alpha."""
    f = with_overrides(DIFFUSION_FORMULAS, overrides)
    proof = Proof()
    x, z = sp.Symbol("x", real=True), sp.Symbol("z", real=True)
    u, t = sp.Symbol("u", positive=True), sp.Symbol("t", positive=True)
    c = 1 / (1 + u)                     # e^{-delta} in (0, 1)
    alpha = 1 / (1 + t)                 # alpha in (0, 1)
    gauss = {1: 0, 2: 1, 3: 0, 4: 3, 5: 0, 6: 15, 7: 0, 8: 105}

    def ou_eigen(m):
        He = sp.Poly(sp.hermite_prob(m, x), x)
        y = sp.expand(He.as_expr().subs(x, c * x + sp.sqrt(1 - c ** 2) * z))
        poly = sp.Poly(y, z)
        mean = sp.Add(*[coef * (gauss[deg] if deg else 1) for (deg,), coef in poly.terms()])
        return mean - c ** m * sp.hermite_prob(m, x)

    for m in modes:
        proof.identity(f"ou_eigenfunction_He{m}", lambda m=m: ou_eigen(m))
    rho, h = sp.Symbol("rho", positive=True), sp.Symbol("h", real=True)
    H = lambda k: f["training_moment"](k, alpha, rho, h)  # noqa: E731
    proof.identity("training_moment_start", lambda: H(0) - h)
    proof.identity("training_moment_step", lambda: H(K_ROUND + 1) - (alpha * h + (1 - alpha) * rho * H(K_ROUND)))
    fixed = sp.Symbol("f")
    f_inf = sp.solve(sp.Eq(fixed, alpha + (1 - alpha) * rho * fixed), fixed)
    proof.step("fixed_point_unique", lambda: len(f_inf) == 1)
    proof.identity("output_gain", lambda: f["output_gain"](alpha, rho) - rho * f_inf[0])
    proof.identity("error_contracts_at_rate", lambda: (H(K_ROUND + 1) - h * f_inf[0])
                   - f["rate"](alpha, rho) * (H(K_ROUND) - h * f_inf[0]))
    for m in modes[1:]:
        proof.sign(f"rate_mode{m}_below_mode1", "nonnegative",
                   lambda m=m: sp.factor(f["rate"](alpha, c) - f["rate"](alpha, c ** m)))
    proof.sign("rate_below_one_minus_alpha", "positive", lambda: sp.factor((1 - alpha) - f["rate"](alpha, c)))
    return proof.result()


# --------------------------------------------------------------------------------------------- law 8

ZIPF_FORMULAS = {
    "exponent_T": lambda beta: 1 - 1 / beta,
    "constant_T": lambda beta, zeta: sp.gamma(1 - 1 / beta) * zeta ** (-1 / beta) / beta,
    "exponent_k": lambda beta: beta - 1,
    "constant_k": lambda beta, zeta: 1 / ((beta - 1) * zeta),
}
"""The toolkit's Zipf-tail asymptotics (LAW-ZIPF-TAIL)."""


@lru_cache(maxsize=None)
def _zipf_integrals():
    """int_0^oo x^{-beta} e^{-T x^{-beta}/zeta}/zeta dx and int_k^oo x^{-beta}/zeta dx (beta = 1 + b; cached)."""
    b, T, zeta = sp.Symbol("b", positive=True), sp.Symbol("T", positive=True), sp.Symbol("zeta", positive=True)
    x, k = sp.Symbol("x", positive=True), sp.Symbol("k", positive=True)
    beta = 1 + b
    seen = sp.integrate(x ** (-beta) * sp.exp(-T * x ** (-beta) / zeta) / zeta, (x, 0, sp.oo), conds="none")
    return seen, sp.integrate(x ** (-beta) / zeta, (x, k, sp.oo), conds="none")


def prove_zipf_tail(overrides: dict | None = None) -> dict:
    """LAW-ZIPF-TAIL, beta = 1 + b, b > 0, zeta = zeta(beta) > 0:

    - the seen-token error sum_i p_i e^{-T p_i} with p(x) = x^{-beta}/zeta is, as an integral over x in (0, oo),
      constant_T T^{-exponent_T} (sympy integrates; (1 - p)^T <= e^{-T p});
    - the tail integral int_k^oo x^{-beta}/zeta dx = constant_k k^{-exponent_k}, and sum_{i>k} p_i lies between the
      integrals from k + 1 and from k (x^{-beta} decreasing): their ratio tends to 1 as k -> oo;
    - the exponents are the log-log slopes: T d log I/dT = -exponent_T, k d log tail/dk = -exponent_k."""
    f = with_overrides(ZIPF_FORMULAS, overrides)
    proof = Proof()
    b, T, zeta = sp.Symbol("b", positive=True), sp.Symbol("T", positive=True), sp.Symbol("zeta", positive=True)
    x, k = sp.Symbol("x", positive=True), sp.Symbol("k", positive=True)
    beta = 1 + b
    integral, tail = _zipf_integrals()
    proof.identity("seen_error_integral", lambda: integral - f["constant_T"](beta, zeta) * T ** (-f["exponent_T"](beta)))
    proof.identity("seen_error_slope", lambda: T * sp.diff(sp.log(integral), T) + f["exponent_T"](beta))
    proof.identity("tail_integral", lambda: tail - f["constant_k"](beta, zeta) * k ** (-f["exponent_k"](beta)))
    proof.identity("tail_slope", lambda: k * sp.diff(sp.log(tail), k) + f["exponent_k"](beta))
    proof.sign("tail_term_decreasing", "negative", lambda: sp.diff(x ** (-beta), x))
    proof.step("tail_bounds_ratio_to_one",
               lambda: sp.simplify(sp.limit(tail.subs(k, k + 1) / tail, k, sp.oo) - 1) == 0)
    # (1 - p)^T <= e^{-T p}: g(p) = e^{-p} - (1 - p) has g(0) = 0 and g'(p) = 1 - e^{-p} >= 0 (p = log(1 + s))
    p, s = sp.Symbol("p", nonnegative=True), sp.Symbol("s", nonnegative=True)
    gap = sp.exp(-p) - (1 - p)
    proof.identity("miss_gap_zero_at_0", lambda: gap.subs(p, 0))
    proof.sign("miss_gap_increasing", "nonnegative", lambda: sp.simplify(sp.diff(gap, p).subs(p, sp.log(1 + s))))
    return proof.result()
