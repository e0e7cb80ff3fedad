"""Symbolic tier: sympy proofs of every algebraic step of the linear-DAE collapse theory.

Each ``prove_*`` function builds the algebra of one claim (IDs of :mod:`collapse_theory.claims.dae.catalog`)
and proves it step by step. The formula under test can be injected (``candidate``, ``f``, ``mu_inf``,
...); ``None`` means the toolkit's own formula. Every function returns a :class:`dict`

    {"steps": {step name: bool}, "proved": bool, "residuals": {name: str}, ...}

where ``proved`` is ``all(steps.values())``. A step is proved only when sympy *decides* it:

- identities: the difference, over a common denominator, has the expanded numerator ``0`` (rational
  identities; square roots squared), or ``simplify`` gives exactly ``0`` (logs, symbolic exponents);
  matrices entry by entry;
- signs: for symbols declared positive / nonnegative, ``.is_positive`` (``.is_negative``, ...) returns
  ``True`` on the expression, its factorisation or its simplification. ``None`` (undecided) or ``False``
  is *not proved*; where sympy cannot decide directly the step goes through an explicit factorisation
  into manifestly signed factors, or through "derivative of one sign + limit at an endpoint";
- exceptions raised by sympy on a broken formula (division by zero, singular matrix, ...) make the
  step fail; they are reported in ``errors``;
- a wrong formula is usually refuted at once by its exact value at a fixed point that respects the
  symbols' assumptions (:func:`witness_value`: a nonzero value refutes an identity, a value of the wrong
  sign refutes a sign claim). This only ever makes a step *fail*; no step is proved by evaluation.

Notation (as in the catalog): S a symmetric PSD second moment, sigma2 > 0 the noise variance,
W*(S) = S (S + sigma2 I)^-1, g(lam) = lam/(lam + sigma2), f(mu) = mu^2/(mu + sigma2) (renoise rule),
h(mu) = mu^3/(mu + sigma2)^2 (clean rule), x = lam/sigma2, alpha in (0, 1] the real fraction, modelled
where alpha <= 1 matters as alpha = 1/(1 + t), t >= 0.

Matrices are 2x2 (generic symmetric [[a, b], [b, c]], or S = R diag(l1, l2) R^T with the rational
rotation R(u) = [[1-u^2, -2u], [2u, 1-u^2]]/(1+u^2), whose columns are the eigenvectors); no 3x3
symbolic inversions are used, so the whole tier runs in seconds. Only sympy and the standard library
are imported.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Callable

import sympy as sp

# ---------------------------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------------------------

LAM = sp.Symbol("lam", positive=True)            # an eigenvalue lambda
LAM0 = sp.Symbol("lam0", positive=True)          # lambda*_max (top eigenvalue of round 0)
LAM_STAR = sp.Symbol("lam_star", positive=True)  # a real eigenvalue lambda*
MU = sp.Symbol("mu", positive=True)              # a training eigenvalue
SIGMA2 = sp.Symbol("sigma2", positive=True)      # sigma^2
ALPHA = sp.Symbol("alpha", positive=True)        # real fraction (when alpha <= 1 is not needed)
T_ALPHA = sp.Symbol("t", nonnegative=True)       # alpha = 1/(1 + t) covers (0, 1]
X = sp.Symbol("x", positive=True)                # scale-free eigenvalue lambda/sigma2
K = sp.Symbol("k", integer=True, nonnegative=True)
C_SCALE = sp.Symbol("c", positive=True)
GAP = sp.Symbol("d", positive=True)              # a positive gap, e.g. lam0 = lam + d

MatrixFn = Callable[[sp.Matrix, sp.Expr], sp.Matrix]
ScalarFn = Callable[[sp.Expr, sp.Expr], sp.Expr]

_STEP_ERRORS = (ArithmeticError, ValueError, TypeError, AttributeError, NotImplementedError,
                IndexError, KeyError, sp.SympifyError, sp.PolynomialError)


# ---------------------------------------------------------------------------------------------
# The toolkit's formulas (defaults of the injectable arguments)
# ---------------------------------------------------------------------------------------------

def wiener(S: sp.Matrix, s2) -> sp.Matrix:
    """Toolkit's optimal linear DAE W*(S) = S (S + sigma2 I)^-1."""
    return S * _inv(S + s2 * sp.eye(S.shape[0]))


def gain(lam, s2):
    """Toolkit's eigen-gain g(lam) = lam/(lam + sigma2)."""
    return lam / (lam + s2)


def renoise_map(mu, s2):
    """Toolkit's renoise one-round eigenvalue map f(mu) = mu^2/(mu + sigma2)."""
    return mu ** 2 / (mu + s2)


def clean_map(mu, s2):
    """Toolkit's clean one-round eigenvalue map h(mu) = mu^3/(mu + sigma2)^2."""
    return mu ** 3 / (mu + s2) ** 2


def loss_reduction(lam, s2):
    """Toolkit's per-direction loss reduction of the (bottleneck) DAE: lam^2/(lam + sigma2)."""
    return lam ** 2 / (lam + s2)


def fixed_point_quadratic(mu, alpha, lam_star, s2):
    """Toolkit's renoise fixed-point quadratic q(mu) = alpha mu^2 + (sigma2 - alpha lam*) mu - alpha lam* sigma2."""
    return alpha * mu ** 2 + (s2 - alpha * lam_star) * mu - alpha * lam_star * s2


def renoise_fixed_point(alpha, lam_star, s2):
    """Toolkit's mu_inf = [(alpha lam* - sigma2) + sqrt((sigma2 - alpha lam*)^2 + 4 alpha^2 lam* sigma2)]/(2 alpha)."""
    disc = (s2 - alpha * lam_star) ** 2 + 4 * alpha ** 2 * lam_star * s2
    return ((alpha * lam_star - s2) + sp.sqrt(disc)) / (2 * alpha)


def clean_fixed_point_cubic(mu, alpha, lam_star, s2):
    """Toolkit's clean fixed-point cubic
    alpha mu^3 + (2 sigma2 - alpha lam*) mu^2 + (sigma2^2 - 2 alpha lam* sigma2) mu - alpha lam* sigma2^2."""
    return (alpha * mu ** 3 + (2 * s2 - alpha * lam_star) * mu ** 2
            + (s2 ** 2 - 2 * alpha * lam_star * s2) * mu - alpha * lam_star * s2 ** 2)


def accumulate_mean(total, k):
    """Toolkit's accumulate-regime training moment mu_k = A_k/(k + 1) (A_k = lam* + lam_1 + ... + lam_k)."""
    return total / (k + 1)


def renoise_conditional_moment(W: sp.Matrix, x: sp.Matrix, s2) -> sp.Matrix:
    """Toolkit's one-sample conditional mean E_eps[x' x'^T] = W (x x^T + sigma2 I) W^T for x' = W(x + sigma eps)."""
    return W * (x * x.T + s2 * sp.eye(x.shape[0])) * W.T


# ---------------------------------------------------------------------------------------------
# Proof helpers
# ---------------------------------------------------------------------------------------------

def _inv(M: sp.Matrix) -> sp.Matrix:
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
    except _STEP_ERRORS:
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


class _Proof:
    """Records named steps; a step is a zero-argument callable returning a bool."""

    def __init__(self):
        self.steps: dict[str, bool] = {}
        self.residuals: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def step(self, name: str, fn: Callable[[], bool]) -> bool:
        try:
            ok = fn() is True
        except _STEP_ERRORS as exc:
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


def _matrix_from_eigen(R: sp.Matrix, values) -> sp.Matrix:
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


def _mul(*factors) -> sp.Matrix:
    """Matrix product, reducing every entry to lowest terms after each multiplication."""
    out = factors[0]
    for factor in factors[1:]:
        out = (out * factor).applyfunc(sp.cancel)
    return out


def dae_loss_expr(W: sp.Matrix, S: sp.Matrix, s2):
    """L(W) = tr S - 2 tr(W S) + tr(W (S + sigma2 I) W^T)."""
    n = S.shape[0]
    return sp.cancel(S.trace() - 2 * _mul(W, S).trace() + _mul(W, S + s2 * sp.eye(n), W.T).trace())


def _w_symbols(n=2):
    return sp.Matrix(n, n, sp.symbols(f"w0:{n * n}", real=True))


# ---------------------------------------------------------------------------------------------
# DAE-OPT
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _loss_and_gradient_proof() -> tuple[tuple[str, bool], ...]:
    """Steps of DAE-OPT that do not depend on the candidate (cached)."""
    proof = _Proof()
    S, _ = generic_symmetric_2x2()
    W = _w_symbols()
    s2 = SIGMA2
    expected_grad = 2 * W * (S + s2 * sp.eye(2)) - 2 * S

    def loss_is_expectation():
        xs = sp.symbols("x0:2", real=True)
        es = sp.symbols("e0:2", real=True)
        xv, ev = sp.Matrix(xs), sp.Matrix(es)
        resid = xv - W * (xv + sp.sqrt(s2) * ev)
        mean = expect_moments((resid.T * resid)[0, 0], es, xs, S)
        return is_zero(mean - dae_loss_expr(W, S, s2))

    def matrix_calculus():
        Wm = sp.MatrixSymbol("W", 2, 2)
        Sm = sp.MatrixSymbol("S", 2, 2)
        Id = sp.Identity(2)
        # differentiate term by term (tr S does not depend on W; diff of the whole sum is fragile in sympy)
        grad = (-2 * sp.Trace(Wm * Sm)).diff(Wm) + sp.Trace(Wm * (Sm + s2 * Id) * Wm.T).diff(Wm)
        grad = grad.subs(Sm.T, Sm)
        explicit = sp.Matrix(grad.subs({Wm: sp.ImmutableMatrix(W), Sm: S}).doit())
        return is_zero(explicit - expected_grad)

    def entrywise():
        L = dae_loss_expr(W, S, s2)
        grad = sp.Matrix(2, 2, lambda i, j: sp.diff(L, W[i, j]))
        return is_zero(grad - expected_grad)

    def hessian_kronecker():
        L = dae_loss_expr(W, S, s2)
        wv = list(W)  # row-major vec(W)
        H = sp.hessian(L, wv)
        return is_zero(H - 2 * sp.kronecker_product(sp.eye(2), S + s2 * sp.eye(2)))

    def hessian_positive_definite():
        Se, _, (l1, l2), _ = eigen_psd_2x2()
        H = 2 * sp.kronecker_product(sp.eye(2), Se + s2 * sp.eye(2))
        z = sp.Symbol("z")
        char = sp.factor(sp.cancel(H.charpoly(z).as_expr()))
        roots = sp.roots(sp.Poly(char, z))
        expected = {2 * (l1 + s2): 2, 2 * (l2 + s2): 2}
        same = (sorted(map(str, roots.values())) == sorted(map(str, expected.values()))
                and all(any(is_zero(r - e) for e in expected) for r in roots))
        return same and sum(roots.values()) == 4 and all(has_sign(r, "positive") for r in roots)

    proof.step("loss_is_expectation", loss_is_expectation)
    proof.step("gradient_matrix_calculus", matrix_calculus)
    proof.step("gradient_entrywise", entrywise)
    proof.step("hessian_is_2_I_kron_S_plus_sigma2", hessian_kronecker)
    proof.step("hessian_positive_definite", hessian_positive_definite)
    return tuple(proof.steps.items())


def prove_optimal_dae(candidate: MatrixFn | None = None) -> dict:
    """DAE-OPT. Proves, for 2x2 symbolic S and W:

    - E||x - W(x + sigma eps)||^2 = tr S - 2 tr(WS) + tr(W (S + sigma2 I) W^T) =: L(W)   (moment substitution)
    - grad_W L = 2 W (S + sigma2 I) - 2 S   (MatrixSymbol calculus, term by term, S^T = S; and entrywise)
    - Hessian of L in vec(W) = 2 I (x) (S + sigma2 I), eigenvalues 2(lam_i + sigma2) > 0: strictly convex
    - grad L(candidate) = 0, and grad L = 0 has exactly one solution, equal to candidate(S, sigma2)
      (default candidate: W* = S (S + sigma2 I)^-1)
    - candidate(S) u_i = g(lam_i) u_i with g(lam) = lam/(lam + sigma2), and 0 <= g < 1: 1 - g = sigma2/(lam + sigma2) > 0.
    """
    candidate = candidate or wiener
    proof = _Proof()
    for name, ok in _loss_and_gradient_proof():
        proof.steps[name] = ok
    S, _ = generic_symmetric_2x2()
    W = _w_symbols()
    s2 = SIGMA2
    grad = 2 * W * (S + s2 * sp.eye(2)) - 2 * S

    proof.identity("stationary_at_candidate",
                   lambda: grad.subs(dict(zip(list(W), list(sp.Matrix(candidate(S, s2)))))))

    def unique_solution():
        sols = sp.solve(list(grad), list(W), dict=True)
        if len(sols) != 1 or len(sols[0]) != 4:
            return False
        sol = sp.Matrix(2, 2, [sols[0][w] for w in W])
        return is_zero(sol - sp.Matrix(candidate(S, s2)))

    proof.step("unique_stationary_point_is_candidate", unique_solution)

    def eigen_gains():
        Se, R, (l1, l2), _ = eigen_psd_2x2()
        Wc = sp.Matrix(candidate(Se, s2))
        return all(is_zero(Wc * R[:, i] - gain(li, s2) * R[:, i]) for i, li in enumerate((l1, l2)))

    proof.step("eigen_gains_lam_over_lam_plus_sigma2", eigen_gains)
    lam_nn = sp.Symbol("l", nonnegative=True)
    proof.sign("gain_nonnegative", "nonnegative", lambda: gain(lam_nn, s2))
    proof.identity("one_minus_gain", lambda: 1 - gain(lam_nn, s2) - s2 / (lam_nn + s2))
    proof.sign("gain_below_one", "positive", lambda: 1 - gain(lam_nn, s2))
    return proof.result()


def prove_least_squares_limit(candidate: MatrixFn | None = None) -> dict:
    """DAE-OPT (finite samples). For n = 2 fixed samples x_1, x_2 in R^2 (symbolic) with m noise draws each,
    y = x + sigma eps, the least-squares DAE solves W (sum y y^T) = sum x y^T. As m -> oo (law of large
    numbers) (1/nm) sum y y^T -> (1/n) sum_j E_eps[y_j y_j^T] = S_hat + sigma2 I and (1/nm) sum x y^T -> S_hat,
    S_hat = (x_1 x_1^T + x_2 x_2^T)/2, so the limit is S_hat (S_hat + sigma2 I)^-1 = candidate(S_hat, sigma2)."""
    candidate = candidate or wiener
    proof = _Proof()
    s2 = SIGMA2
    xs = [sp.Matrix(sp.symbols(f"x{j}_0:2", real=True)) for j in range(2)]
    es = [sp.symbols(f"e{j}_0:2", real=True) for j in range(2)]
    S_hat = (xs[0] * xs[0].T + xs[1] * xs[1].T) / 2
    ys = [x + sp.sqrt(s2) * sp.Matrix(e) for x, e in zip(xs, es)]
    eps_all = list(es[0]) + list(es[1])
    gram = ((ys[0] * ys[0].T + ys[1] * ys[1].T) / 2).applyfunc(lambda v: expect_moments(v, eps_all))
    cross = ((xs[0] * ys[0].T + xs[1] * ys[1].T) / 2).applyfunc(lambda v: expect_moments(v, eps_all))
    proof.identity("gram_mean_is_S_hat_plus_sigma2", lambda: gram - (S_hat + s2 * sp.eye(2)))
    proof.identity("cross_mean_is_S_hat", lambda: cross - S_hat)
    proof.identity("limit_is_candidate", lambda: cross * _inv(gram) - sp.Matrix(candidate(S_hat, s2)))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-BOTTLENECK
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _completing_square_proved() -> bool:
    S, _ = generic_symmetric_2x2()
    W = _w_symbols()
    s2 = SIGMA2
    Ws = wiener(S, s2)
    diff = W - Ws
    excess = (diff * (S + s2 * sp.eye(2)) * diff.T).trace()
    return is_zero(dae_loss_expr(W, S, s2) - dae_loss_expr(Ws, S, s2) - excess)


def _rank_one_loss(S, R, lams, keep: int, s2):
    u = R[:, keep]
    W = gain(lams[keep], s2) * u * u.T
    return dae_loss_expr(W, S, s2)


@lru_cache(maxsize=None)
def _eigen_losses():
    """L(W*), L(g_1 u_1 u_1^T), L(g_2 u_2 u_2^T) for S = R diag(l1, l2) R^T (cached)."""
    S, R, lams, _ = eigen_psd_2x2()
    full = dae_loss_expr(wiener(S, SIGMA2), S, SIGMA2)
    return full, _rank_one_loss(S, R, lams, 0, SIGMA2), _rank_one_loss(S, R, lams, 1, SIGMA2)


def prove_bottleneck(reduction: ScalarFn | None = None) -> dict:
    """DAE-BOTTLENECK (loss formula). With r(lam) = lam^2/(lam + sigma2) (default of ``reduction``):

    - completing the square: L(W) = L(W*) + tr((W - W*)(S + sigma2 I)(W - W*)^T)  (generic 2x2 S, W)
    - L(W*) = tr S - r(lam_1) - r(lam_2)  (S = R diag(l1, l2) R^T)
    - W_1 = g_1 u_1 u_1^T (rank 1, direction 1 kept): L(W_1) = tr S - r(lam_1) and L(W_1) - L(W*) = r(lam_2)
    - the singular values lam/sqrt(lam + sigma2) of W*(S + sigma2 I)^{1/2} satisfy s^2 = r(lam)
    - dr/dlam = lam (lam + 2 sigma2)/(lam + sigma2)^2 > 0 (r, hence the singular values, increase with lam)."""
    reduction = reduction or loss_reduction
    proof = _Proof()
    s2 = SIGMA2
    proof.step("completing_the_square", _completing_square_proved)
    _, _, (l1, l2), _ = eigen_psd_2x2()
    proof.identity("full_rank_loss",
                   lambda: _eigen_losses()[0] - (l1 + l2 - reduction(l1, s2) - reduction(l2, s2)))
    proof.identity("rank1_loss", lambda: _eigen_losses()[1] - (l1 + l2 - reduction(l1, s2)))
    proof.identity("rank1_excess_is_dropped_reduction",
                   lambda: _eigen_losses()[1] - _eigen_losses()[0] - reduction(l2, s2))
    proof.identity("singular_value_squared", lambda: (LAM / sp.sqrt(LAM + s2)) ** 2 - reduction(LAM, s2))
    proof.identity("reduction_derivative",
                   lambda: sp.diff(reduction(LAM, s2), LAM) - LAM * (LAM + 2 * s2) / (LAM + s2) ** 2)
    proof.sign("reduction_increasing", "positive", lambda: sp.diff(reduction(LAM, s2), LAM))
    return proof.result()


def top_r(eigenvalues_desc: list, r: int) -> list[int]:
    """Toolkit's selection: keep the top-r eigendirections (indices into a descending spectrum)."""
    return list(range(r))


def prove_bottleneck_selection(select: Callable[[list, int], list[int]] | None = None) -> dict:
    """DAE-BOTTLENECK (which directions). For S = R diag(l1, l2) R^T with l1 = l2 + d, d > 0, and r = 1:
    the rank-1 DAE g_i u_i u_i^T chosen by ``select`` (default: top-r) has strictly smaller loss than every
    other rank-1 choice: L(keep 2) - L(keep 1) = r(l1) - r(l2) > 0."""
    select = select or top_r
    proof = _Proof()
    _, _, (l1, l2), _ = eigen_psd_2x2()
    l2p = sp.Symbol("l2p", positive=True)
    subs = {l1: l2p + GAP, l2: l2p}

    def best():
        chosen = select([l1, l2], 1)
        if len(chosen) != 1:
            return False
        losses = {i: _eigen_losses()[1 + i].subs(subs) for i in range(2)}
        return all(has_sign(losses[j] - losses[chosen[0]], "positive") for j in range(2) if j != chosen[0])

    proof.step("selected_rank1_is_strictly_best", best)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-STEP
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _step_matrix_identities() -> tuple[bool, bool]:
    S, _ = generic_symmetric_2x2()
    s2 = SIGMA2
    Wm = wiener(S, s2)
    noisy = S + s2 * sp.eye(2)
    renoise = is_zero(Wm * noisy * Wm.T - S * S * _inv(noisy))
    inv = _inv(noisy)
    clean = is_zero(Wm * S * Wm.T - S ** 3 * inv * inv)
    return renoise, clean


@lru_cache(maxsize=None)
def _eigen_next_moments() -> tuple[sp.Matrix, sp.Matrix]:
    """W (S + sigma2 I) W^T and W S W^T for W = W*(S), S = R diag(l1, l2) R^T (cached)."""
    S, _, _, _ = eigen_psd_2x2()
    Wm = wiener(S, SIGMA2)
    return _mul(Wm, S + SIGMA2 * sp.eye(2), Wm.T), _mul(Wm, S, Wm.T)


def prove_renoise_step(f: ScalarFn | None = None) -> dict:
    """DAE-STEP (renoise). With W = W*(S) (2x2):

    - W (S + sigma2 I) W^T = S^2 (S + sigma2 I)^-1  (generic symmetric S; zero residual matrix)
    - for S = R diag(l1, l2) R^T: W (S + sigma2 I) W^T = R diag(f(l1), f(l2)) R^T (eigenbasis kept)
    - f(mu) = g(mu)^2 (mu + sigma2) = mu^2/(mu + sigma2) = mu - sigma2 + sigma2^2/(mu + sigma2)
    - f(mu) - mu = -mu sigma2/(mu + sigma2) < 0 for mu > 0."""
    f = f or renoise_map
    proof = _Proof()
    s2 = SIGMA2
    proof.step("matrix_identity", lambda: _step_matrix_identities()[0])
    _, R, (l1, l2), _ = eigen_psd_2x2()

    def eigen_level():
        return is_zero(_eigen_next_moments()[0] - _matrix_from_eigen(R, (f(l1, s2), f(l2, s2))))

    proof.step("matrix_acts_per_eigenvalue", eigen_level)
    proof.identity("gain_form", lambda: gain(MU, s2) ** 2 * (MU + s2) - f(MU, s2))
    proof.identity("partial_fraction", lambda: f(MU, s2) - (MU - s2 + s2 ** 2 / (MU + s2)))
    proof.identity("decrement", lambda: f(MU, s2) - MU + MU * s2 / (MU + s2))
    proof.sign("strictly_below_mu", "negative", lambda: f(MU, s2) - MU)
    return proof.result()


def prove_clean_step(h: ScalarFn | None = None) -> dict:
    """DAE-STEP (clean). With W = W*(S) (2x2):

    - W S W^T = S^3 (S + sigma2 I)^-2 (generic symmetric S)
    - for S = R diag(l1, l2) R^T: W S W^T = R diag(h(l1), h(l2)) R^T
    - h(mu) = g(mu)^2 mu = mu^3/(mu + sigma2)^2
    - f(mu) - h(mu) = mu^2 sigma2/(mu + sigma2)^2 > 0 and mu - h(mu) > 0 for mu > 0."""
    h = h or clean_map
    proof = _Proof()
    s2 = SIGMA2
    proof.step("matrix_identity", lambda: _step_matrix_identities()[1])
    _, R, (l1, l2), _ = eigen_psd_2x2()

    def eigen_level():
        return is_zero(_eigen_next_moments()[1] - _matrix_from_eigen(R, (h(l1, s2), h(l2, s2))))

    proof.step("matrix_acts_per_eigenvalue", eigen_level)
    proof.identity("gain_form", lambda: gain(MU, s2) ** 2 * MU - h(MU, s2))
    proof.identity("gap_to_renoise", lambda: renoise_map(MU, s2) - h(MU, s2) - MU ** 2 * s2 / (MU + s2) ** 2)
    proof.sign("below_renoise", "positive", lambda: renoise_map(MU, s2) - h(MU, s2))
    proof.sign("strictly_below_mu", "positive", lambda: MU - h(MU, s2))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-MATRIX-EIGEN
# ---------------------------------------------------------------------------------------------

def prove_eigenbasis_preserved(train_map: MatrixFn | None = None) -> dict:
    """DAE-MATRIX-EIGEN. With S* = [[a, b], [b, c]] generic and the trained map W = train_map(S~, sigma2)
    (default W*):

    - W(S) S = S W(S)                                          (W shares S's eigenvectors)
    - for every S~ = p I + q S* (the span of I and S*, which contains every regime's training moment once
      all S_j are in it): S' = W (S~ + sigma2 I) W^T (renoise) and S' = W S~ W^T (clean) commute with S*
    - and S' = p' I + q' S* again (explicit p', q'), so by induction every S_k, S~_k, W_k is a function of S*:
      all share S*'s eigenbasis, and the matrix recursion acts eigenvalue by eigenvalue."""
    train_map = train_map or wiener
    proof = _Proof()
    s2 = SIGMA2
    S, (a, b, c) = generic_symmetric_2x2()

    def commutes():
        Wm = sp.Matrix(train_map(S, s2))
        return is_zero(Wm * S - S * Wm)

    proof.step("W_commutes_with_S", commutes)
    p, q = sp.symbols("p q", real=True)
    S_train = p * sp.eye(2) + q * S

    def next_moments():
        Wm = sp.Matrix(train_map(S_train, s2))
        return {"renoise": Wm * (S_train + s2 * sp.eye(2)) * Wm.T, "clean": Wm * S_train * Wm.T}

    cache: dict = {}

    def get_next():
        if not cache:
            cache.update(next_moments())
        return cache

    for rule in ("renoise", "clean"):
        proof.step(f"{rule}_next_commutes_with_S_star",
                   lambda rule=rule: is_zero(get_next()[rule] * S - S * get_next()[rule]))

        def in_span(rule=rule):
            M = get_next()[rule]
            # solve M = p' I + q' S* from the (0, 1) and (0, 0) entries (b != 0), then check all four
            q_new = M[0, 1] / b
            p_new = M[0, 0] - q_new * a
            return is_zero(M - (p_new * sp.eye(2) + q_new * S))

        proof.step(f"{rule}_next_in_span_I_S_star", in_span)
    return proof.result()


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
    proof = _Proof()
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
    proof = _Proof()
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
    proof = _Proof()
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
    proof = _Proof()
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
      for x = 1 + s >= 1: (x - x') - 3/4 = s (5 s + 8)/(4 (s+2)^2) >= 0
    - x0 - 1 <= x0 - x_N < 2N gives N > (x0 - 1)/2;
      1 < x_{N-1} <= x0 - 3 (N-1)/4 gives N < 4 (x0 - 1)/3 + 1."""
    claims = rounds_clean_claims()
    claims.update(overrides or {})
    proof = _Proof()
    x = X
    xmap = x ** 3 / (1 + x) ** 2
    s = sp.Symbol("s", nonnegative=True)
    proof.identity("decrement_closed_form", lambda: x - xmap - claims["decrement"](x))
    proof.sign("decrement_below_max", "positive", lambda: claims["decrement_max"] - (x - xmap))
    proof.sign("decrement_at_least_min", "nonnegative",
               lambda: (x - xmap).subs(x, 1 + s) - claims["decrement_min"])
    x0 = sp.Symbol("x0", positive=True)
    proof.identity("lower_bound_from_max_decrement", lambda: claims["lower"](x0) - (x0 - 1) / claims["decrement_max"])
    proof.identity("upper_bound_from_min_decrement",
                   lambda: claims["upper"](x0) - ((x0 - 1) / claims["decrement_min"] + 1))
    return proof.result()


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
    proof = _Proof()
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
    proof = _Proof()
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
    proof = _Proof()
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
    avg = (_mul(Wh, xs[0] * xs[0].T, Wh.T) + _mul(Wh, xs[1] * xs[1].T, Wh.T)) / 2
    inv = _inv(noisy)
    return is_zero(avg - _mul(S_hat, S_hat, S_hat, inv, inv))


def prove_finite_sample(conditional_moment: Callable | None = None) -> dict:
    """DAE-FINITE-SAMPLE. For fixed training samples x_1, x_2 in R^2 (symbolic) and symbolic W:

    - E_eps[W (x + sigma eps)(x + sigma eps)^T W^T] = conditional_moment(W, x, sigma2)
      (default W (x x^T + sigma2 I) W^T; by expanding and substituting eps_i eps_j -> delta_ij, eps_i -> 0)
    - averaging over the samples: (1/2) sum_j conditional_moment(W, x_j) = W (S_hat + sigma2 I) W^T
    - with W = W*(S_hat): = S_hat^2 (S_hat + sigma2 I)^-1 = F_renoise(S_hat) exactly (no bias);
      clean: (1/2) sum_j W x_j x_j^T W^T = W S_hat W^T = S_hat^3 (S_hat + sigma2 I)^-2."""
    conditional_moment = conditional_moment or renoise_conditional_moment
    proof = _Proof()
    s2 = SIGMA2
    Wsym = _w_symbols()
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
        return is_zero(avg - S_hat * S_hat * _inv(noisy))

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
    proof = _Proof()
    y, m = sp.Symbol("y", positive=True), sp.Symbol("m", positive=True)
    tangent = phi(m) + sp.diff(phi(m), m) * (y - m)
    gap = tangent - phi(y)
    proof.identity("gap_zero_at_mean", lambda: gap.subs(y, m))
    proof.identity("gap_stationary_at_mean", lambda: sp.diff(gap, y).subs(y, m))
    proof.sign("gap_strictly_convex", "positive", lambda: sp.diff(gap, y, 2))
    mean_y = sp.Symbol("E_y", positive=True)
    proof.identity("tangent_mean_is_phi_of_mean",
                   lambda: (phi(m) + sp.diff(phi(m), m) * (mean_y - m)).subs(mean_y, m) - phi(m))

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
# Paper claims C-collapse and C-real
# ---------------------------------------------------------------------------------------------

def prove_paper_collapse(params: dict | None = None) -> dict:
    """C-collapse from DAE-COLLAPSE-RATE. With rho0 = lam0/(lam0 + sigma2) (sigma2 from ``params``, default a
    positive symbol): rho0 < 1, and the formalised bound ||W_k...W_0|| <= rho0^(k+1) decays geometrically:
    ratio of consecutive bounds = rho0 < 1 and lim_k rho0^k = 0 (computed with rho0 = 1/(1 + y), y = sigma2/lam0)."""
    params = params or {}
    proof = _Proof()
    s2 = params.get("sigma2", SIGMA2)
    lam0 = LAM0
    rho0 = gain(lam0, s2)
    proof.sign("rho0_below_one", "positive", lambda: 1 - rho0)
    proof.identity("geometric_ratio", lambda: rho0 ** (K + 2) / rho0 ** (K + 1) - rho0)
    y = sp.Symbol("y", positive=True)

    def limit_zero():
        base = sp.simplify(rho0.subs(lam0, s2 / y)) if s2 != 0 else sp.simplify(rho0)
        return sp.limit(base ** K, K, sp.oo) == 0

    proof.step("composed_norm_bound_to_zero", limit_zero)
    return proof.result()


def prove_paper_real(params: dict | None = None) -> dict:
    """C-real from DAE-REAL-FIXED-POINT (i). With alpha from ``params`` (default alpha = 1/(1+t), t >= 0, i.e.
    alpha in (0, 1]): the bound b = alpha lam*/(alpha lam* + sigma2) is > 0 and independent of k, and
    ||W_k|| = g(alpha lam* + (1 - alpha) lam_k) >= b for every lam_k >= 0: the operator norm stays bounded away from 0."""
    params = params or {}
    proof = _Proof()
    a = params.get("alpha", 1 / (1 + T_ALPHA))
    s2 = params.get("sigma2", SIGMA2)
    lam = LAM_STAR
    bound = gain(a * lam, s2)
    proof.sign("bound_positive", "positive", lambda: bound)
    proof.step("bound_uniform_in_k", lambda: not bound.has(K))
    lam_k = sp.Symbol("lam_k", nonnegative=True)
    proof.sign("op_norm_above_bound", "nonnegative", lambda: gain(a * lam + (1 - a) * lam_k, s2) - bound)
    return proof.result()
