"""The sympy proof engine of the symbolic tier: decide identities and signs, record named proof steps.

A step is proved only when sympy *decides* it:

- identities (:func:`is_zero`): the difference, over a common denominator, has the expanded numerator ``0``
  (rational identities; square roots squared), or ``simplify`` gives exactly ``0`` (logs, symbolic exponents);
  matrices entry by entry;
- signs (:func:`has_sign`): for symbols declared positive / nonnegative, ``.is_positive`` (``.is_negative``, ...)
  returns ``True`` on the expression, its factorisation or its simplification. ``None`` (undecided) or ``False``
  is *not proved*; where sympy cannot decide directly a proof goes through an explicit factorisation into
  manifestly signed factors, or through "derivative of one sign + limit at an endpoint"
  (:func:`decreasing_to_nonnegative_limit`);
- exceptions raised by sympy on a broken formula (division by zero, singular matrix, ...; :data:`STEP_ERRORS`)
  make the step fail; they are reported in ``errors``;
- a wrong formula is usually refuted at once by its exact value at a fixed point that respects the symbols'
  assumptions (:func:`witness_value`: a nonzero value refutes an identity, a value of the wrong sign refutes a sign
  claim). This only ever makes a step *fail*; no step is proved by evaluation.

:class:`Proof` records the steps; ``Proof().result()`` is the dict every ``prove_*`` function of
:mod:`collapse_theory.proofs` returns: ``{"steps": {name: bool}, "proved": bool, "residuals": {name: str},
"errors": {name: str}, ...}`` with ``proved = all(steps.values())``. Only sympy and the standard library are imported.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import sympy as sp

STEP_ERRORS = (ArithmeticError, ValueError, TypeError, AttributeError, NotImplementedError,
               IndexError, KeyError, sp.SympifyError, sp.PolynomialError)
"""Exceptions a broken formula may raise inside a proof step: the step fails, the message is kept."""


def inv(M: sp.Matrix) -> sp.Matrix:
    """Inverse of a small symbolic matrix by the adjugate (raises ValueError when det = 0)."""
    det = sp.cancel(M.det())
    if det == 0:
        raise ValueError("singular matrix")
    return (M.adjugate() / det).applyfunc(sp.cancel)


def _numerator(expr):
    """The expanded numerator of ``expr`` over a common denominator (exact; zero iff ``expr`` is zero)."""
    expr = sp.sympify(expr)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ArithmeticError(f"expression is undefined: {expr}")
    return sp.expand(sp.fraction(sp.together(expr))[0])


_SIMPLIFY_LIMIT = 400   # operations; larger nonzero numerators are not handed to simplify (slow, and it
                        # only helps for identities beyond rational algebra: logs, symbolic exponents)


def _witness_values(expr, shift: int) -> dict:
    """A point respecting the symbols' assumptions (positive rationals; integers >= 2)."""
    point = {}
    for i, symbol in enumerate(sorted(expr.free_symbols, key=lambda v: v.name)):
        if symbol.is_integer:
            point[symbol] = sp.Integer(2 + i + 3 * shift)
        else:
            point[symbol] = sp.Rational(3 + 4 * i + 7 * shift, 5 + 2 * i + 3 * shift)
    return point


def witness_value(expr, shift: int = 0):
    """The value of ``expr`` at a fixed point respecting its symbols' assumptions: an exact Rational, a
    60-digit Float, or None where undefined. Used only to *refute* a step quickly (a nonzero value refutes
    an identity, a value of the wrong sign refutes a sign claim); a step is never proved by it."""
    try:
        value = sp.sympify(expr).xreplace(_witness_values(expr, shift))
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not value.is_number:
            return None
        if not value.is_Rational:
            value = sp.N(value, 60)
            if value.has(sp.zoo, sp.nan) or not value.is_real:
                return None
        return value
    except STEP_ERRORS:
        return None


def _refuted_zero(expr) -> bool:
    for shift in (0, 1):
        value = witness_value(expr, shift)
        if value is not None and (value != 0 if value.is_Rational else abs(value) > 1e-40):
            return True
    return False


def is_zero(expr) -> bool:
    """True iff ``expr`` (scalar or matrix) is identically zero: the expanded numerator over a common
    denominator is 0 (rational identities, square roots squared), or ``simplify`` gives 0. A nonzero
    exact value at a witness point answers False at once (a counterexample)."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    if _refuted_zero(expr):
        return False
    num = _numerator(expr)
    if num == 0:
        return True
    if sp.count_ops(num) > _SIMPLIFY_LIMIT:
        return False
    return sp.simplify(expr) == 0


def _residual(expr) -> str:
    """A short description of a nonzero residual (its reduced form when small)."""
    if isinstance(expr, sp.MatrixBase):
        return "[" + ", ".join(_residual(e) for e in expr) + "]"
    expr = sp.sympify(expr)
    if sp.count_ops(expr) > _SIMPLIFY_LIMIT:
        return f"<nonzero, {sp.count_ops(expr)} ops>"
    return str(sp.factor(sp.cancel(sp.together(expr))))


def _radicals_to_symbols(expr):
    """Replace each square root whose sign sympy knows by a dummy symbol carrying that sign."""
    subs = {}
    for p in expr.atoms(sp.Pow):
        if p.exp == sp.Rational(1, 2):
            if p.is_positive:
                subs[p] = sp.Dummy("r", positive=True)
            elif p.is_nonnegative:
                subs[p] = sp.Dummy("r", nonnegative=True)
    return expr.xreplace(subs) if subs else expr


def has_sign(expr, sign: str) -> bool:
    """True iff sympy decides that ``expr`` is ``sign`` (positive / negative / nonnegative / nonpositive)
    for all values of its symbols, on the expression, its factorisation or its simplification."""
    attr = {"positive": "is_positive", "negative": "is_negative",
            "nonnegative": "is_nonnegative", "nonpositive": "is_nonpositive"}[sign]
    expr = sp.sympify(expr)
    if expr.has(sp.zoo, sp.nan):
        return False
    value = witness_value(expr)
    if value is not None:
        tol = 0 if value.is_Rational else sp.Float(1e-40)
        violated = {"positive": value <= tol, "negative": value >= -tol,
                    "nonnegative": value < -tol, "nonpositive": value > tol}[sign]
        if violated:
            return False
    forms = [expr]
    plain = _radicals_to_symbols(expr)
    if plain is not expr:
        forms.append(plain)
    try:
        reduced = sp.cancel(sp.together(plain))
        forms += [reduced, sp.factor(reduced)]
    except sp.PolynomialError:
        reduced = plain
    for form in forms:
        if getattr(form, attr) is True:
            return True
    if sp.count_ops(reduced) > _SIMPLIFY_LIMIT:
        return False
    return getattr(sp.factor(sp.simplify(reduced)), attr) is True


def decreasing_to_nonnegative_limit(w, var) -> bool:
    """Prove w(var) >= 0 for all var > 0: dw/dvar <= 0 (sign decided by sympy) and lim_{var->oo} w >= 0."""
    deriv = sp.diff(w, var)
    if not has_sign(deriv, "nonpositive"):
        return False
    lim = sp.limit(w, var, sp.oo)
    return bool(lim.is_finite) and lim.is_nonnegative is True


class Proof:
    """Records named steps; a step is a zero-argument callable returning a bool (True = proved)."""

    def __init__(self):
        self.steps: dict[str, bool] = {}
        self.residuals: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def step(self, name: str, fn: Callable[[], bool]) -> bool:
        try:
            ok = fn() is True
        except STEP_ERRORS as exc:
            ok = False
            self.errors[name] = f"{type(exc).__name__}: {exc}"[:200]
        self.steps[name] = ok
        return ok

    def identity(self, name: str, fn: Callable[[], object]) -> bool:
        """Step proving that the expression returned by ``fn`` is identically zero; keeps the residual."""
        def run():
            expr = fn()
            ok = is_zero(expr)
            if not ok:
                self.residuals[name] = _residual(expr)[:300]
            return ok
        return self.step(name, run)

    def sign(self, name: str, sign: str, fn: Callable[[], object]) -> bool:
        def run():
            expr = fn()
            ok = has_sign(expr, sign)
            if not ok:
                self.residuals[name] = _residual(expr)[:300]
            return ok
        return self.step(name, run)

    def result(self, **extra) -> dict:
        out = {"steps": dict(self.steps), "proved": bool(self.steps) and all(self.steps.values()),
               "residuals": dict(self.residuals), "errors": dict(self.errors)}
        out.update(extra)
        return out


class FailFastProof(Proof):
    """A :class:`Proof` that stops at the first failed step: later steps are recorded as not proved ("skipped"),
    so a wrong formula is rejected without paying for the rest of the proof."""

    def step(self, name, fn):
        if self.steps and not all(self.steps.values()):
            self.steps[name] = False
            self.errors[name] = "skipped after an earlier failed step"
            return False
        return super().step(name, fn)


# ---------------------------------------------------------------------------------------------
# 2x2 symbolic matrices and moment substitution
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def generic_symmetric_2x2() -> tuple[sp.Matrix, tuple[sp.Symbol, ...]]:
    """S = [[a, b], [b, c]] with a, c > 0 and b real (generic symmetric, not assumed PSD)."""
    a, c = sp.symbols("a c", positive=True)
    b = sp.Symbol("b", real=True)
    return sp.ImmutableMatrix([[a, b], [b, c]]), (a, b, c)


@lru_cache(maxsize=None)
def eigen_psd_2x2() -> tuple[sp.Matrix, sp.Matrix, tuple[sp.Symbol, sp.Symbol], sp.Symbol]:
    """S = R diag(l1, l2) R^T, l1, l2 >= 0, R the rational rotation [[1-u^2, -2u], [2u, 1-u^2]]/(1+u^2).

    Returns (S, R, (l1, l2), u); the columns of R are orthonormal eigenvectors of S (every 2x2 rotation
    but the half-turn is of this form)."""
    u = sp.Symbol("u", real=True)
    l1, l2 = sp.symbols("l1 l2", nonnegative=True)
    R = sp.ImmutableMatrix([[1 - u ** 2, -2 * u], [2 * u, 1 - u ** 2]]) / (1 + u ** 2)
    S = (R * sp.diag(l1, l2) * R.T).applyfunc(sp.cancel)
    return sp.ImmutableMatrix(S), sp.ImmutableMatrix(R), (l1, l2), u


def matrix_from_eigen(R: sp.Matrix, values) -> sp.Matrix:
    return (R * sp.diag(*values) * R.T).applyfunc(sp.cancel)


def expect_moments(expr, eps, x=None, S=None):
    """Expectation of a polynomial in noise ``eps`` (E eps = 0, E eps eps^T = I, odd moments 0; order <= 3)
    and, optionally, in an independent random vector ``x`` with second moment ``S`` (E x x^T = S; only
    x-degrees 0 and 2 may meet a nonzero noise moment). Substitutes eps_i eps_j -> delta_ij, eps_i -> 0,
    x_i x_j -> S_ij on the expanded polynomial."""
    gens = list(eps) + (list(x) if x is not None else [])
    poly = sp.Poly(sp.expand(expr), *gens)
    n_eps = len(eps)
    total = sp.Integer(0)
    for monom, coeff in poly.terms():
        e_part, x_part = monom[:n_eps], monom[n_eps:]
        deg_e = sum(e_part)
        if deg_e == 0:
            e_mom = 1
        elif deg_e == 1 or deg_e == 3:
            e_mom = 0
        elif deg_e == 2:
            e_mom = 1 if max(e_part) == 2 else 0
        else:
            raise ValueError("noise moments above order 3 are not supported")
        if e_mom == 0:
            continue
        deg_x = sum(x_part)
        if deg_x == 0:
            x_mom = 1
        elif deg_x == 2:
            idx = [i for i, p in enumerate(x_part) for _ in range(p)]
            x_mom = S[idx[0], idx[1]]
        else:
            raise ValueError("only second moments of x are known")
        total += coeff * e_mom * x_mom
    return total


def mul(*factors) -> sp.Matrix:
    """Matrix product, reducing every entry to lowest terms after each multiplication."""
    out = factors[0]
    for factor in factors[1:]:
        out = (out * factor).applyfunc(sp.cancel)
    return out
