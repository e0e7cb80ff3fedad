"""Symbolic tier, DAE part 2: sympy proofs of DAE-COLLAPSE-RATE, DAE-DOUBLY-EXP and DAE-ROUNDS (symbols and formulas
from :mod:`.dae`, engine :mod:`.engine`; the conventions of :mod:`.dae` apply)."""

from __future__ import annotations

import sympy as sp

from .dae import C_SCALE, clean_map, gain, GAP, LAM, LAM0, renoise_map, ScalarFn, SIGMA2, T_ALPHA, X
from .engine import decreasing_to_nonnegative_limit, has_sign, is_zero, Proof

# ---------------------------------------------------------------------------------------------
# DAE-COLLAPSE-RATE
# ---------------------------------------------------------------------------------------------

def _iterate(fn, start, n):
    values = [start]
    for _ in range(n):
        values.append(sp.cancel(fn(values[-1])))
    return values


def prove_collapse_rate(rho: ScalarFn | None = None, rounds: int = 2) -> dict:
    """DAE-COLLAPSE-RATE. With rho(lam) = lam/(lam + sigma2) (default), rho0 = rho(lam0), lam <= lam0:

    - drho/dlam = sigma2/(lam + sigma2)^2 > 0; 0 <= rho < 1
    - rho0 - rho(lam) = sigma2 (lam0 - lam)/((lam0 + sigma2)(lam + sigma2)) >= 0
    - renoise: f(lam) = rho(lam) lam <= rho0 lam, so lam_k <= lam0 rho0^k (and lam_k decreases)
    - clean: h(lam) = rho(lam)^2 lam <= rho0^2 lam, so lam_k <= lam0 rho0^(2k)
    - ||W_k|| = rho(lam_k) <= lam_k/sigma2  (lam/sigma2 - rho = lam^2/(sigma2 (lam + sigma2)) >= 0)
    - telescoping with symbolic lam_0 and lam_{j+1} = f(lam_j) (default ``rounds`` = 2: lam_0 .. lam_3):
      prod_{j<=k} rho(lam_j) = lam_{k+1}/lam_0; clean (lam_{j+1} = h(lam_j)): (prod rho(lam_j))^2 = lam_{k+1}/lam_0
      (for every k this follows from the per-round identities rho(lam) lam = f(lam), rho(lam)^2 lam = h(lam);
      the nested check makes the telescoping explicit)."""
    rho = rho or gain
    proof = Proof()
    s2 = SIGMA2
    lam, lam0 = LAM, LAM + GAP      # lam0 = lam + d >= lam
    proof.identity("derivative", lambda: sp.diff(rho(lam, s2), lam) - s2 / (lam + s2) ** 2)
    proof.sign("increasing", "positive", lambda: sp.diff(rho(lam, s2), lam))
    proof.sign("nonnegative", "nonnegative", lambda: rho(lam, s2))
    proof.sign("below_one", "positive", lambda: 1 - rho(lam, s2))
    proof.identity("gap_formula",
                   lambda: rho(lam0, s2) - rho(lam, s2) - s2 * (lam0 - lam) / ((lam0 + s2) * (lam + s2)))
    proof.sign("gap_nonnegative", "nonnegative", lambda: rho(lam0, s2) - rho(lam, s2))
    proof.identity("renoise_step_is_gain_times_lam", lambda: rho(lam, s2) * lam - renoise_map(lam, s2))
    proof.sign("renoise_contraction", "nonnegative", lambda: rho(lam0, s2) * lam - renoise_map(lam, s2))
    proof.identity("clean_step_is_gain_squared_times_lam", lambda: rho(lam, s2) ** 2 * lam - clean_map(lam, s2))
    proof.sign("clean_contraction", "nonnegative", lambda: rho(lam0, s2) ** 2 * lam - clean_map(lam, s2))
    proof.sign("op_norm_bound", "nonnegative", lambda: lam / s2 - rho(lam, s2))

    def telescoping(rule):
        step = (lambda v: renoise_map(v, s2)) if rule == "renoise" else (lambda v: clean_map(v, s2))
        lams = _iterate(step, LAM0, rounds + 1)
        prod = sp.Mul(*[rho(v, s2) for v in lams[:-1]])
        ratio = lams[-1] / lams[0]
        if rule == "renoise":
            return is_zero(prod - ratio)
        return is_zero(prod ** 2 - ratio) and has_sign(prod, "positive")

    proof.step("renoise_telescoping", lambda: telescoping("renoise"))
    proof.step("clean_telescoping", lambda: telescoping("clean"))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-DOUBLY-EXP
# ---------------------------------------------------------------------------------------------

J = sp.Symbol("j", integer=True, nonnegative=True)


def doubly_exp_bounds(rule: str) -> dict:
    """The toolkit's closed-form bounds on x_{K+j} (x_K <= 1): renoise 2 (x/2)^(2^j) <= . <= x^(2^j);
    clean 2 (x/2)^(3^j) <= . <= x^(3^j). (The catalog's clean lower bound 4 (x/2)^(3^j) is false: j = 0
    would give x_K >= 2 x_K.)"""
    p = 2 if rule == "renoise" else 3
    return {"lower": lambda x, j: 2 * (x / 2) ** (p ** j), "upper": lambda x, j: x ** (p ** j)}


def prove_doubly_exponential(rule: str = "renoise", lower=None, upper=None) -> dict:
    """DAE-DOUBLY-EXP. For the scale-free map m(x) = x^2/(1+x) (renoise) or x^3/(1+x)^2 (clean) and claimed
    bounds L_j(x) <= x_{K+j} <= U_j(x) (x = x_K in (0, 1], defaults :func:`doubly_exp_bounds`):

    - one round on (0, 1] (x = 1/(1+t), t >= 0): L_1(x) <= m(x) <= U_1(x); m, L_1, U_1 increasing; U_1 <= 1
      (renoise: x^2 - m = x^3/(1+x) >= 0, m - x^2/2 = x^2 (1-x)/(2(1+x)) >= 0;
       clean:   x^3 - m = x^3 (1 - 1/(1+x)^2) >= 0, m - x^3/4 >= 0)
    - base: L_0(x) = U_0(x) = x
    - induction (symbolic j): U_1(U_j(x)) = U_{j+1}(x) and L_1(L_j(x)) = L_{j+1}(x), i.e. y = x/2 maps to
      y' >= y^2 (renoise) / y^3 (clean)."""
    if rule not in ("renoise", "clean"):
        raise ValueError(f"rule must be renoise or clean, got {rule!r}")
    bounds = doubly_exp_bounds(rule)
    lower = lower or bounds["lower"]
    upper = upper or bounds["upper"]
    proof = Proof()
    x = X
    m = (lambda v: v ** 2 / (1 + v)) if rule == "renoise" else (lambda v: v ** 3 / (1 + v) ** 2)
    x_unit = 1 / (1 + T_ALPHA)     # covers (0, 1]
    proof.sign("map_below_upper", "nonnegative", lambda: (upper(x, 1) - m(x)).subs(x, x_unit))
    proof.sign("map_above_lower", "nonnegative", lambda: (m(x) - lower(x, 1)).subs(x, x_unit))
    proof.sign("map_increasing", "positive", lambda: sp.diff(m(x), x))
    proof.sign("upper_increasing", "positive", lambda: sp.diff(upper(x, 1), x))
    proof.sign("lower_increasing", "positive", lambda: sp.diff(lower(x, 1), x))
    proof.sign("upper_stays_in_unit_interval", "nonnegative", lambda: (1 - upper(x, 1)).subs(x, x_unit))
    proof.identity("upper_base", lambda: upper(x, 0) - x)
    proof.identity("lower_base", lambda: lower(x, 0) - x)
    proof.step("upper_induction", lambda: sp.simplify(sp.powsimp(upper(upper(x, J), 1) - upper(x, J + 1),
                                                                  force=True)) == 0)
    proof.step("lower_induction", lambda: sp.simplify(sp.powsimp(lower(lower(x, J), 1) - lower(x, J + 1),
                                                                  force=True)) == 0)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-ROUNDS
# ---------------------------------------------------------------------------------------------

def prove_scale_invariance(maps: list[ScalarFn] | None = None) -> dict:
    """DAE-ROUNDS (scale invariance). Each map F(lam, sigma2) (default: f and h) is homogeneous of degree 1:
    F(c lam, c sigma2) = c F(lam, sigma2); hence F(lam, sigma2)/sigma2 depends on x = lam/sigma2 only and
    the rounds-to-collapse N depends on x0 only (the gain g is homogeneous of degree 0)."""
    maps = maps if maps is not None else [renoise_map, clean_map]
    proof = Proof()
    c = C_SCALE
    for i, F in enumerate(maps):
        proof.identity(f"homogeneous_{i}", lambda F=F: F(c * LAM, c * SIGMA2) - c * F(LAM, SIGMA2))
    proof.identity("gain_degree_0", lambda: gain(c * LAM, c * SIGMA2) - gain(LAM, SIGMA2))
    return proof.result()


def rounds_renoise_claims() -> dict:
    """The toolkit's constants of the renoise rounds-to-collapse theorem (see :func:`prove_rounds_renoise`)."""
    return {
        "delta_F": lambda x: -1 + 1 / (1 + x) - sp.log(1 + 1 / x),   # F(x') - F(x), F = x + ln x
        "delta_upper": lambda x: sp.Integer(-1),
        "delta_lower": lambda x: -1 - 1 / (x * (1 + x)),
        "decrement_min": sp.Rational(1, 2),     # x - x' >= 1/2 for x >= 1
        "tail_sum": sp.Rational(5, 3),          # sum_m 4/((m+2)(m+4))
        "lower_const": -sp.Rational(8, 3),      # N >= x0 + ln x0 + lower_const
        "upper_const": sp.log(2) - sp.Rational(1, 2),   # N <= x0 + ln x0 + upper_const
    }


def _expand_logs(expr):
    expr = expr.replace(sp.log, lambda arg: sp.log(sp.factor(sp.together(arg))))
    return sp.expand_log(expr, force=True)


def prove_rounds_renoise(overrides: dict | None = None) -> dict:
    """DAE-ROUNDS, renoise, x' = x^2/(1+x), F(x) = x + ln x, x0 > 1, N = first round with x_N <= 1:

    - Delta F = F(x') - F(x) = -1 + 1/(1+x) - ln(1 + 1/x)
    - Delta F <= -1: u = ln(1+1/x) - 1/(1+x) has u' = -1/(x(1+x)^2) < 0 and u -> 0 (x -> oo), so u >= 0
    - Delta F >= -1 - 1/(x(1+x)): v = 1/x - ln(1+1/x) has v' < 0 and v -> 0, so v >= 0
    - x' is increasing and x'(1) = 1/2, so x_N in (1/2, 1]; F(1/2) = 1/2 - ln 2, F(1) = 1
    - x - x' = x/(1+x) in [1/2, 1) for x >= 1, so x_{N-1-m} >= 1 + m/2 and 1/(x(1+x)) (decreasing) is at most
      4/((m+2)(m+4)); sum_{m>=0} 4/((m+2)(m+4)) = 5/3
    - N <= F(x0) - F(x_N) < F(x0) - F(1/2) = x0 + ln x0 + ln 2 - 1/2;
      N >= F(x0) - F(x_N) - 5/3 >= F(x0) - F(1) - 5/3 = x0 + ln x0 - 8/3."""
    claims = rounds_renoise_claims()
    claims.update(overrides or {})
    proof = Proof()
    x = X
    xmap = x ** 2 / (1 + x)
    F = lambda v: v + sp.log(v)  # noqa: E731

    proof.step("delta_F_closed_form",
               lambda: sp.simplify(_expand_logs(F(xmap) - F(x) - claims["delta_F"](x))) == 0)
    proof.step("delta_F_upper_bound",
               lambda: decreasing_to_nonnegative_limit(claims["delta_upper"](x) - claims["delta_F"](x), x))
    proof.step("delta_F_lower_bound",
               lambda: decreasing_to_nonnegative_limit(claims["delta_F"](x) - claims["delta_lower"](x), x))
    proof.sign("map_increasing", "positive", lambda: sp.diff(xmap, x))
    proof.step("last_iterate_above_half", lambda: xmap.subs(x, 1) == sp.Rational(1, 2))
    s = sp.Symbol("s", nonnegative=True)    # x = 1 + s >= 1
    dmin = claims["decrement_min"]
    proof.sign("decrement_at_least_min", "nonnegative", lambda: (x - xmap).subs(x, 1 + s) - dmin)
    proof.sign("decrement_below_one", "positive", lambda: 1 - (x - xmap))
    proof.sign("tail_term_decreasing", "negative", lambda: sp.diff(1 / (x * (1 + x)), x))
    m = sp.Symbol("m", integer=True, nonnegative=True)
    y = 1 + m * dmin
    proof.identity("tail_term_bound", lambda: 1 / (y * (1 + y)) - 4 / ((m + 2) * (m + 4)))
    proof.step("tail_sum", lambda: sp.simplify(sp.summation(1 / (y * (1 + y)), (m, 0, sp.oo))
                                               - claims["tail_sum"]) == 0)
    proof.step("F_at_half", lambda: sp.simplify(F(sp.Rational(1, 2)) - (sp.Rational(1, 2) - sp.log(2))) == 0)
    proof.step("F_at_one", lambda: F(sp.Integer(1)) == 1)
    proof.step("upper_constant", lambda: sp.simplify(-F(sp.Rational(1, 2)) - claims["upper_const"]) == 0)
    proof.step("lower_constant", lambda: sp.simplify(-F(sp.Integer(1)) - claims["tail_sum"]
                                                     - claims["lower_const"]) == 0)
    return proof.result()


def rounds_clean_claims() -> dict:
    """The toolkit's constants of the clean rounds-to-collapse bounds (see :func:`prove_rounds_clean`)."""
    return {
        "decrement": lambda x: x * (2 * x + 1) / (1 + x) ** 2,
        "decrement_max": sp.Integer(2),             # x - x' < 2 for all x > 0
        "decrement_min": sp.Rational(3, 4),         # x - x' >= 3/4 for x >= 1
        "lower": lambda x0: (x0 - 1) / 2,           # N >= lower(x0)
        "upper": lambda x0: 4 * (x0 - 1) / 3 + 1,   # N <= upper(x0)
    }


def prove_rounds_clean(overrides: dict | None = None) -> dict:
    """DAE-ROUNDS, clean, x' = x^3/(1+x)^2, x0 > 1:

    - decrement x - x' = x (2x + 1)/(1+x)^2; 2 - (x - x') = (3x + 2)/(1+x)^2 > 0 (each round removes < 2 sigma2);
      for x = 1 + s >= 1: (x - x') - 3/4 = s (5 s + 8)/(4 (s+2)^2) (an identity) >= 0
    - x0 - 1 <= x0 - x_N < 2N gives N > (x0 - 1)/2;
      1 < x_{N-1} <= x0 - 3 (N-1)/4 gives N < 4 (x0 - 1)/3 + 1."""
    claims = rounds_clean_claims()
    claims.update(overrides or {})
    proof = Proof()
    x = X
    xmap = x ** 3 / (1 + x) ** 2
    s = sp.Symbol("s", nonnegative=True)
    proof.identity("decrement_closed_form", lambda: x - xmap - claims["decrement"](x))
    proof.sign("decrement_below_max", "positive", lambda: claims["decrement_max"] - (x - xmap))
    # exact excess over the claimed minimum (an identity: wrong in any constant or sign, it fails), then its sign
    excess = s * (5 * s + 8) / (4 * (s + 2) ** 2)
    proof.identity("decrement_at_least_min", lambda: (x - xmap).subs(x, 1 + s) - claims["decrement_min"] - excess)
    proof.sign("decrement_excess_nonnegative", "nonnegative", lambda: excess)
    x0 = sp.Symbol("x0", positive=True)
    proof.identity("lower_bound_from_max_decrement", lambda: claims["lower"](x0) - (x0 - 1) / claims["decrement_max"])
    proof.identity("upper_bound_from_min_decrement",
                   lambda: claims["upper"](x0) - ((x0 - 1) / claims["decrement_min"] + 1))
    return proof.result()
