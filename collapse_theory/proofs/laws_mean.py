"""Symbolic tier of the collapse laws 4-6 (claims LAW-FIXED-REAL-RATIO, LAW-FRESH-DATA, LAW-OPTIMAL-WEIGHT): sympy
proofs of the mean-refitting recursions, their fixed points and the optimal real weight. The conventions (formula
injection, step semantics) are those of :mod:`.laws`; laws 7-8 are in :mod:`.laws_tails`.

Derivations proved here: docs/derivations/laws.md §4, docs/derivations/laws.md §5, docs/derivations/laws.md §6.
"""

from __future__ import annotations

import sympy as sp

from .engine import has_sign
from .laws import Proof, with_overrides

S2 = sp.Symbol("sigma2", positive=True)
T_ROUND = sp.Symbol("t", integer=True, nonnegative=True)

# --------------------------------------------------------------------------------------------- law 4

FIXED_RATIO_FORMULAS = {
    "stationary": lambda lam, n, s2: lam * s2 / (n * (1 + 2 * lam)),
    "deviation": lambda t, lam, n, s2: lam * s2 / (n * (1 + 2 * lam)) * (1 - (lam / (1 + lam)) ** (2 * t)),
    "jacobian": lambda lam: lam / (1 + lam),
}
"""The toolkit's fixed-real-ratio laws (LAW-FIXED-REAL-RATIO)."""


def prove_fixed_real_ratio(overrides: dict | None = None) -> dict:
    """LAW-FIXED-REAL-RATIO, lambda > 0, n > 0, t symbolic:

    - one refit: mu' = (n xbar + m ybar)/(n + m) with m = lambda n is xbar + a (mu - xbar) + a (ybar - mu),
      a = lambda/(1 + lambda), and Var(ybar - mu) = sigma2/m: so D' = a D + noise with E D'^2 = a^2 (E D^2 + sigma2/m);
    - the closed form starts at 0 and follows that recursion; its limit is the stationary variance
      lambda sigma2/(n (1 + 2 lambda)), the fixed point of v = a^2 (v + sigma2/(lambda n));
    - the population map mu -> (mu* + lambda mu)/(1 + lambda) has derivative = the Jacobian formula, which lies in
      [0, 1) for every lambda >= 0 (1 - J > 0): a contraction for every finite lambda."""
    f = with_overrides(FIXED_RATIO_FORMULAS, overrides)
    proof = Proof()
    lam, n = sp.Symbol("lambda", positive=True), sp.Symbol("n", positive=True)
    xbar, mu, ybar, mu_star = sp.symbols("xbar mu ybar mu_star", real=True)
    a = lam / (1 + lam)
    m = lam * n
    proof.identity("refit_decomposition", lambda: (n * xbar + m * ybar) / (n + m)
                   - (xbar + a * (mu - xbar) + a * (ybar - mu)))
    v = lambda t: f["deviation"](t, lam, n, S2)  # noqa: E731
    proof.identity("deviation_start", lambda: v(0))
    proof.identity("deviation_step", lambda: v(T_ROUND + 1) - a ** 2 * (v(T_ROUND) + S2 / m))
    stat = f["stationary"](lam, n, S2)
    proof.identity("stationary_fixed_point", lambda: stat - a ** 2 * (stat + S2 / m))
    proof.step("deviation_limit_is_stationary",
               lambda: sp.simplify(sp.limit(v(T_ROUND), T_ROUND, sp.oo) - stat) == 0)
    J = f["jacobian"](lam)
    proof.identity("population_jacobian", lambda: sp.diff((mu_star + lam * mu) / (1 + lam), mu) - J)
    proof.sign("contraction_for_every_lambda", "positive", lambda: 1 - J)
    proof.sign("jacobian_nonnegative", "nonnegative", lambda: J)
    return proof.result()


# --------------------------------------------------------------------------------------------- law 5

FRESH_DATA_FORMULAS = {
    "var_fixed_point": lambda w, b, s2: (1 - w) * s2 / (1 - w * b),
    "mean_error_limit_b1": lambda nr, ns, s2: s2 * (nr + ns) / (nr * (nr + 2 * ns)),
}
"""The toolkit's fresh-data fixed points (LAW-FRESH-DATA)."""


def prove_fresh_data(overrides: dict | None = None) -> dict:
    """LAW-FRESH-DATA, n_r, n_s, b > 0 symbolic, w = n_s/(n_r + n_s):

    - E[v' | past] = (n_r sigma2 + n_s b v)/N = (1 - w) sigma2 + w b v, whose fixed point is the formula
      (1 - w) sigma2/(1 - w b);
    - mu' - mu* = [sum (x - mu*) + sum (y - mu) + n_s (mu - mu*)]/N, three uncorrelated terms:
      E (mu' - mu*)^2 = (n_r sigma2 + n_s b v)/N^2 + w^2 (mu - mu*)^2;
    - at b = 1 (v_inf = sigma2) the fixed point of V = w^2 V + sigma2/N is the formula
      sigma2 (n_r + n_s)/(n_r (n_r + 2 n_s))."""
    f = with_overrides(FRESH_DATA_FORMULAS, overrides)
    proof = Proof()
    nr, ns, b, v, V = sp.symbols("n_r n_s b v V", positive=True)
    N = nr + ns
    w = ns / N
    proof.identity("variance_recursion", lambda: (nr * S2 + ns * b * v) / N - ((1 - w) * S2 + w * b * v))
    vinf = f["var_fixed_point"](w, b, S2)
    proof.identity("variance_fixed_point", lambda: vinf - ((1 - w) * S2 + w * b * vinf))
    terms = sp.symbols("A B C", real=True)  # sum(x - mu*), sum(y - mu), mu - mu*
    var_terms = {terms[0] ** 2: nr * S2, terms[1] ** 2: ns * b * v, terms[2] ** 2: V}

    def mean_error():
        sq = sp.expand(((terms[0] + terms[1] + ns * terms[2]) / N) ** 2)
        expectation = sp.Add(*[coef * var_terms.get(mono, 0) for mono, coef in
                               ((m_, sq.coeff(m_)) for m_ in var_terms)])
        # the cross terms have mean 0 (independent, centred); only the squares remain
        cross = sq - sp.Add(*[sq.coeff(m_) * m_ for m_ in var_terms])
        centred = all(sp.Poly(term, *terms).total_degree() == 2 and len(term.free_symbols & set(terms)) == 2
                      for term in sp.Add.make_args(sp.expand(cross)))
        return centred and sp.simplify(expectation - ((nr * S2 + ns * b * v) / N ** 2 + w ** 2 * V)) == 0

    proof.step("mean_error_recursion", mean_error)
    limit = f["mean_error_limit_b1"](nr, ns, S2)
    proof.identity("mean_error_fixed_point_b1", lambda: limit - (w ** 2 * limit + S2 / N))
    return proof.result()


# --------------------------------------------------------------------------------------------- law 6

OPTIMAL_WEIGHT_FORMULAS = {
    "stationary": lambda w, nr, ns, s2: s2 * (w ** 2 / nr + (1 - w) ** 2 / ns) / (1 - (1 - w) ** 2),
    "optimal": lambda r: (sp.sqrt(r * (r + 4)) - r) / 2,
}
"""The toolkit's optimal-weight laws (LAW-OPTIMAL-WEIGHT)."""


def prove_optimal_weight(overrides: dict | None = None) -> dict:
    """LAW-OPTIMAL-WEIGHT, r = n_r/n_s > 0:

    - mu' - mu* = w (xbar - mu*) + (1 - w)(ybar - mu) + (1 - w)(mu - mu*): the stationary variance formula is the
      fixed point of V = (1 - w)^2 V + sigma2 (w^2/n_r + (1 - w)^2/n_s);
    - dV_inf/dw = 0 at w = w*(r) and the numerator of dV_inf/dw is a positive multiple of w^2 + r w - r, whose
      only root in (0, 1] is w*; 0 < w* < 1; V_inf(w*) < V_inf(n_r/N) (the count-proportional weight of law 5)
      at r = 1;
    - n_r = n_s: w* = 1/phi = (sqrt 5 - 1)/2."""
    f = with_overrides(OPTIMAL_WEIGHT_FORMULAS, overrides)
    proof = Proof()
    w = sp.Symbol("w", positive=True)
    r, ns = sp.Symbol("r", positive=True), sp.Symbol("n_s", positive=True)
    nr = r * ns
    V = f["stationary"](w, nr, ns, S2)
    proof.identity("stationary_fixed_point", lambda: V - ((1 - w) ** 2 * V + S2 * (w ** 2 / nr + (1 - w) ** 2 / ns)))
    wstar = f["optimal"](r)

    def stationary_at_optimum():
        d = sp.together(sp.diff(V, w))
        num = sp.numer(d)
        return sp.simplify(sp.expand(num.subs(w, wstar))) == 0

    proof.step("derivative_vanishes_at_optimum", stationary_at_optimum)

    def numerator_is_quadratic():
        """dV/dw = q(w) (w^2 + r w - r) with q > 0 on (0, 1] (w = 1/(1 + u), u >= 0): exact division, then a sign."""
        quotient = sp.cancel(sp.together(sp.diff(V, w)) / (w ** 2 + r * w - r))
        num, den = sp.fraction(quotient)
        if sp.Poly(num, w).degree() > 0 and sp.div(sp.Poly(sp.numer(sp.together(sp.diff(V, w))), w),
                                                   sp.Poly(w ** 2 + r * w - r, w))[1] != 0:
            return False
        u = sp.Symbol("u", nonnegative=True)
        return has_sign(sp.factor(quotient.subs(w, 1 / (1 + u))), "positive")

    proof.step("derivative_numerator_w2_rw_r", numerator_is_quadratic)
    root = sp.sqrt(r * (r + 4))
    # signs through rationalisation: w* = 2r/(root + r) > 0 and 1 - w* = 2/(2 + r + root) > 0 ((2 + r)^2 - root^2 = 4)
    proof.identity("optimum_rationalised", lambda: wstar - 2 * r / (root + r))
    proof.sign("optimum_positive", "positive", lambda: 2 * r / (root + r))
    proof.identity("complement_rationalised", lambda: (1 - wstar) - 2 / (2 + r + root))
    proof.sign("optimum_below_one", "positive", lambda: 2 / (2 + r + root))
    proof.identity("golden_ratio_at_r1", lambda: f["optimal"](sp.Integer(1)) - (sp.sqrt(5) - 1) / 2)
    proof.sign("beats_count_weights_at_r1", "positive",  # a pure number once sigma2/n_s is divided out
               lambda: sp.nsimplify(sp.simplify(((V.subs(w, sp.Rational(1, 2)) - V.subs(w, f["optimal"](sp.Integer(1))))
                                                 .subs(r, 1)) * ns / S2)))
    return proof.result()
