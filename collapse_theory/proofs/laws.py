"""Symbolic tier of the collapse laws: sympy proofs of every step of laws 1-3 (Gaussian refitting, Wright-Fisher
resampling, regression chains; claims LAW-* of :mod:`collapse_theory.claims.laws.catalog`). Laws 4-8 are in
:mod:`.laws_mean`.

Each ``prove_*`` takes the formulas under test (``None``: the toolkit's own, the ``*_FORMULAS`` dictionaries here)
and returns ``{"steps": {name: bool}, "proved": bool, "residuals": {...}, "errors": {...}}``. A step is proved only
when sympy decides it: an identity by ``simplify`` (after rewriting harmonic numbers and gamma functions) giving
exactly 0, a sign by sympy's assumptions on the expression or its factorisation. A quick numeric evaluation at a
point respecting the symbols' assumptions is used only to *refute* a step (a nonzero residual), never to prove one.
Distributional inputs are derived, not assumed: chi-square moments by integrating the density, multinomial moments
by differentiating the generating function.

Derivations proved here: docs/derivations/laws.md §1, docs/derivations/laws.md §2, docs/derivations/laws.md §3.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import sympy as sp

from .engine import Proof as EngineProof, has_sign, is_zero as engine_is_zero, witness_value

N = sp.Symbol("n", integer=True, nonnegative=True)     # round
K = sp.Symbol("k", integer=True, positive=True)        # chi-square degrees of freedom k = M - 1
S2 = sp.Symbol("sigma2", positive=True)
X = sp.Symbol("x", positive=True)


# --------------------------------------------------------------------------------------------- engine additions

def is_zero(expr) -> bool:
    """:func:`~.engine.is_zero`, then (for identities beyond rational algebra) ``simplify`` after rewriting harmonic
    numbers as polygamma, expanding special functions and logs (symbols are positive), or ``gammasimp``. A nonzero
    value at a witness point refutes at once; no step is proved by evaluation."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    expr = sp.sympify(expr)
    if expr.has(sp.zoo, sp.nan):
        return False
    for shift in (0, 1):
        value = witness_value(expr, shift)
        if value is not None and (value != 0 if value.is_Rational else abs(value) > 1e-40):
            return False
    if engine_is_zero(expr):
        return True
    for form in (sp.expand_func(expr.rewrite(sp.polygamma)), sp.gammasimp(expr), _gamma_normal(expr)):
        if sp.simplify(sp.expand_func(form)) == 0 or sp.simplify(sp.expand_log(form, force=True)) == 0:
            return True
    return False


def _gamma_normal(expr):
    """Powers of positive symbols split (force: the symbols are positive) and each gamma argument written as a
    polynomial part plus proper fractions in its one symbol (so Gamma(1 + b/(b + 1)) and Gamma(1 - 1/(b + 1)) meet
    on expand_func)."""
    def normal_arg(g):
        arg = sp.cancel(sp.together(g.args[0]))
        free = arg.free_symbols
        return sp.gamma(sp.apart(arg, next(iter(free))) if len(free) == 1 else arg)

    expr = sp.expand_power_base(sp.powdenest(expr, force=True), force=True)
    expr = expr.replace(lambda a: isinstance(a, sp.gamma), normal_arg)
    return sp.powsimp(expr, force=True)


class Proof(EngineProof):
    """:class:`~.engine.Proof` whose identities use this module's :func:`is_zero` (special functions, logs)."""

    def identity(self, name: str, fn: Callable[[], object]) -> bool:
        def run():
            expr = fn()
            ok = is_zero(expr)
            if not ok:
                self.residuals[name] = str(expr)[:200]
            return ok
        return self.step(name, run)


def with_overrides(defaults: dict, overrides: dict | None) -> dict:
    """The toolkit's formulas with some replaced (a mutant replaces one)."""
    unknown = set(overrides or {}) - set(defaults)
    if unknown:
        raise KeyError(f"unknown formula(s): {', '.join(sorted(unknown))}")
    return {**defaults, **(overrides or {})}


@lru_cache(maxsize=None)
def _chi2_integral(kind: str, dof):
    g = {"mean": X, "sqrt": sp.sqrt(X), "log": sp.log(X), "inverse": 1 / X}[kind]
    density = X ** (dof / 2 - 1) * sp.exp(-X / 2) / (2 ** (dof / 2) * sp.gamma(dof / 2))
    return sp.simplify(sp.integrate(g * density, (X, 0, sp.oo), conds="none"))


def chi2_moment(kind: str, dof=K):
    """E g(chi2_dof) by integrating the chi-square density: kind 'mean' (x), 'sqrt', 'log' (integrated once for a
    symbolic positive integer k, then k -> dof) or 'inverse' (1/x; integrated for the given dof, which must exceed 2)."""
    if kind == "inverse":
        return _chi2_integral(kind, dof)
    return _chi2_integral(kind, K).subs(K, dof)


def jensen_gap_proof(proof: Proof, label: str, phi: Callable) -> None:
    """E phi(Y) < phi(E Y) for concave phi and non-degenerate Y > 0: the tangent gap
    w(y) = phi(m) + phi'(m)(y - m) - phi(y) has w(m) = 0, w'(m) = 0 and w'' = -phi'' > 0."""
    y, m = sp.Symbol("y", positive=True), sp.Symbol("m", positive=True)
    gap = phi(m) + sp.diff(phi(m), m) * (y - m) - phi(y)
    proof.identity(f"{label}_gap_zero_at_mean", lambda: gap.subs(y, m))
    proof.identity(f"{label}_gap_stationary", lambda: sp.diff(gap, y).subs(y, m))
    proof.sign(f"{label}_gap_strictly_convex", "positive", lambda: sp.diff(gap, y, 2))


# --------------------------------------------------------------------------------------------- law 1

GAUSSIAN_FORMULAS = {
    # (n, M, sigma2, estimator) -> expectation after n refits; k = M - 1, D = M - 1 (unbiased) or M (mle)
    "E_var": lambda n, M, s2, e: s2 if e == "unbiased" else s2 * (1 - 1 / M) ** n,
    "E_log_var": lambda n, M, s2, e: sp.log(s2) + n * (sp.polygamma(0, (M - 1) / 2)
                                                       + sp.log(2 / (M - 1 if e == "unbiased" else M))),
    "E_std": lambda n, M, s2, e: sp.sqrt(s2) * (sp.sqrt(2 / (M - 1 if e == "unbiased" else M))
                                                * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)) ** n,
    "E_mean_sq_error": lambda n, M, s2, e: n * s2 / M if e == "unbiased" else s2 * (1 - (1 - 1 / M) ** n),
    "E_w2_squared": lambda n, M, s2, e: (
        s2 * (n / M + 2 - 2 * (sp.sqrt(2 / (M - 1)) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)) ** n)
        if e == "unbiased" else
        s2 * (2 - 2 * (sp.sqrt(2 / M) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)) ** n)),
}
"""The toolkit's Gaussian refitting laws (the statement of LAW-GAUSSIAN-REFIT, 1-D)."""

GAUSSIAN_D_FORMULAS = {
    # (n, M, d, estimator) -> per-round factor of E det; E log det drift per round
    "det_factor": lambda M, d, e: sp.Mul(*[(M - i) for i in range(1, d + 1)]) / (M - 1 if e == "unbiased" else M) ** d,
    "log_det_drift": lambda M, d, e: sp.Add(*[sp.polygamma(0, (M - i) / 2) + sp.log(2 / (M - 1 if e == "unbiased"
                                                                                         else M))
                                              for i in range(1, d + 1)]),
}


def prove_gaussian_refit(overrides: dict | None = None) -> dict:
    """LAW-GAUSSIAN-REFIT (1-D), for both estimators, with M = k + 1 and n symbolic:

    - chi-square moments from the density: E chi2_k = k, E sqrt(chi2_k) = sqrt(2) Gamma((k+1)/2)/Gamma(k/2),
      E log chi2_k = psi(k/2) + log 2;
    - sigma2_{n+1} = sigma2_n chi2_k / D: E_var(0) = sigma2 and E_var(n + 1) = E_var(n) k/D; E_log_var(n + 1) =
      E_log_var(n) + E log chi2_k - log D; E_std(n + 1) = E_std(n) E sqrt(chi2_k)/sqrt(D);
    - mu_{n+1} = mu_n + sigma_n Z/sqrt(M) (Z independent of the fit): E_mean_sq_error(n + 1) = E_mean_sq_error(n)
      + E_var(n)/M, starting at 0;
    - W2^2 of 1-D Gaussians is (mu_n - mu)^2 + (sigma_n - sigma)^2: E_w2 = E_mse + E_var - 2 sigma E_std + sigma2;
    - collapse: log and sqrt are concave (Jensen tangent gap), so the log drift is < 0 and c = E sqrt(chi2_k/k) < 1
      (sigma_n -> 0 almost surely, E sigma_n = sigma c^n -> 0) while E sigma2_n = sigma2 (unbiased)."""
    f = with_overrides(GAUSSIAN_FORMULAS, overrides)
    proof = Proof()
    M = K + 1
    mean, sqrt_mean, log_mean = (lambda: chi2_moment("mean")), (lambda: chi2_moment("sqrt")), \
        (lambda: chi2_moment("log"))
    proof.identity("chi2_mean", lambda: mean() - K)
    proof.identity("chi2_sqrt_mean", lambda: sqrt_mean() - sp.sqrt(2) * sp.gamma((K + 1) / 2) / sp.gamma(K / 2))
    proof.identity("chi2_log_mean", lambda: log_mean() - sp.polygamma(0, K / 2) - sp.log(2))
    for e, D in (("unbiased", K), ("mle", K + 1)):
        def F(q, n, e=e):
            return f[q](n, M, S2, e)
        proof.identity(f"var_start_{e}", lambda F=F: F("E_var", 0) - S2)
        proof.identity(f"var_step_{e}", lambda F=F, D=D: F("E_var", N + 1) - F("E_var", N) * mean() / D)
        proof.identity(f"log_start_{e}", lambda F=F: F("E_log_var", 0) - sp.log(S2))
        proof.identity(f"log_step_{e}", lambda F=F, D=D: F("E_log_var", N + 1) - F("E_log_var", N) - log_mean()
                       + sp.log(D))
        proof.identity(f"std_start_{e}", lambda F=F: F("E_std", 0) - sp.sqrt(S2))
        proof.identity(f"std_step_{e}", lambda F=F, D=D: F("E_std", N + 1) - F("E_std", N) * sqrt_mean() / sp.sqrt(D))
        proof.identity(f"mse_start_{e}", lambda F=F: F("E_mean_sq_error", 0))
        proof.identity(f"mse_step_{e}", lambda F=F: F("E_mean_sq_error", N + 1) - F("E_mean_sq_error", N)
                       - F("E_var", N) / M)
        proof.identity(f"w2_decomposition_{e}", lambda F=F: F("E_w2_squared", N) - F("E_mean_sq_error", N)
                       - F("E_var", N) + 2 * sp.sqrt(S2) * F("E_std", N) - S2)
    jensen_gap_proof(proof, "log_drift_negative", sp.log)
    jensen_gap_proof(proof, "std_factor_below_one", sp.sqrt)
    return proof.result()


def prove_gaussian_refit_d(overrides: dict | None = None, dims=(2, 3)) -> dict:
    """LAW-GAUSSIAN-REFIT (d dimensions, d = 2, 3). Bartlett: det Wishart_d(k, I) = prod_{i=1..d} chi2_{k-i+1}
    (independent), so per round E det is multiplied by prod_{i} E chi2_{k-i+1} / D^d = prod (k - i + 1)/D^d and
    E log det grows by sum_i [E log chi2_{k-i+1} - log D]; E tr Sigma_n follows the 1-D variance law per eigen-
    direction (E S = k Sigma_n). With k = j + d - 1, j >= 1, every degree of freedom is positive."""
    f = with_overrides(GAUSSIAN_D_FORMULAS, overrides)
    proof = Proof()
    j = sp.Symbol("j", integer=True, positive=True)
    for d in dims:
        k = j + d - 1
        M = k + 1
        for e, D in (("unbiased", k), ("mle", k + 1)):
            means = [chi2_moment("mean", k - i + 1) for i in range(1, d + 1)]
            logs = [chi2_moment("log", k - i + 1) for i in range(1, d + 1)]
            proof.identity(f"det_factor_d{d}_{e}", lambda M=M, d=d, e=e, D=D, means=means:
                           f["det_factor"](M, d, e) - sp.Mul(*means) / D ** d)
            proof.identity(f"log_det_drift_d{d}_{e}", lambda M=M, d=d, e=e, D=D, logs=logs:
                           f["log_det_drift"](M, d, e) - sp.Add(*logs) + d * sp.log(D))
    return proof.result()


# --------------------------------------------------------------------------------------------- law 2

WRIGHT_FISHER_FORMULAS = {
    "E_collision": lambda m, n, purity: 1 - (1 - 1 / n) ** m * (1 - purity),
    "E_sq_dist_to_real": lambda m, n, a, purity: a ** 2 * (1 - purity) / (n - a ** 2 * (n - 1))
    * (1 - (a ** 2 * (1 - 1 / n)) ** m),
    "loss_probability": lambda k, n: 1 - k / n,
}
"""The toolkit's Wright-Fisher laws (LAW-WRIGHT-FISHER)."""


@lru_cache(maxsize=None)
def _multinomial_moments():
    """First and second moments of Mult(n, p), K = 3, by differentiating G(t) = (sum_i p_i e^{t_i})^n at 0."""
    n = sp.Symbol("n", positive=True)
    p1, p2 = sp.symbols("p1 p2", positive=True)
    p = (p1, p2, 1 - p1 - p2)
    t = sp.symbols("t0:3")
    G = sp.Add(*[pi * sp.exp(ti) for pi, ti in zip(p, t)]) ** n
    at0 = {ti: 0 for ti in t}
    first = [sp.simplify(sp.diff(G, t[i]).subs(at0)) for i in range(3)]
    second = [[sp.simplify(sp.diff(G, t[i], t[j]).subs(at0)) for j in range(3)] for i in range(3)]
    return n, p, first, second


def prove_wright_fisher(overrides: dict | None = None) -> dict:
    """LAW-WRIGHT-FISHER, K = 3 symbols, n and m symbolic:

    - multinomial moments from the generating function: E c_i = n p_i, E c_i c_j = n(n-1) p_i p_j + n p_i delta_ij;
    - one step: E ||c/n||^2 = ||p||^2 + (1 - ||p||^2)/n, so E_collision(0) = ||p0||^2 and
      E_collision(m + 1) = E_collision(m) + (1 - E_collision(m))/n;
    - mixed back at real weight 1 - a: E[p' - p0 | p] = a (p - p0) (so E <p0, p_m - p0> = 0) and
      E[||p' - p0||^2 | p] = a^2 (1 - 1/n) ||p - p0||^2 + a^2 (1 - ||p0||^2 - 2 <p0, p - p0>)/n; the closed form
      D(m) satisfies D(0) = 0, D(m + 1) = a^2 (1 - 1/n) D(m) + a^2 (1 - ||p0||^2)/n, and stays below
      D_inf = a^2 (1 - ||p0||^2)/(n - a^2 (n - 1)) (a = 1/(1 + s), s >= 0; n = 1 + u, u >= 0);
    - at a = 1 the mixed law is the pure one: ||p0||^2 + D(m) = E_collision(m);
    - loss: h(k) = P(symbol with count k is lost) solves h(0) = 1, h(n) = 0 and E[h(c') | c = k] = h(k) for
      c' ~ Binomial(n, k/n) (moments from (1 - q + q e^t)^n), a bounded martingale's absorption law."""
    f = with_overrides(WRIGHT_FISHER_FORMULAS, overrides)
    proof = Proof()
    n, p, first, second = _multinomial_moments()
    proof.identity("multinomial_first_moment", lambda: sp.Matrix(first) - sp.Matrix([n * pi for pi in p]))
    proof.identity("multinomial_second_moment", lambda: sp.Matrix(second) - sp.Matrix(
        3, 3, lambda i, j: n * (n - 1) * p[i] * p[j] + (n * p[i] if i == j else 0)))
    purity = sp.Add(*[pi ** 2 for pi in p])
    proof.identity("collision_one_step", lambda: sp.Add(*[second[i][i] for i in range(3)]) / n ** 2
                   - purity - (1 - purity) / n)
    m = sp.Symbol("m", integer=True, nonnegative=True)
    P0 = sp.Symbol("P0", positive=True)  # ||p0||^2
    C = lambda mm: f["E_collision"](mm, n, P0)  # noqa: E731
    proof.identity("collision_start", lambda: C(0) - P0)
    proof.identity("collision_step", lambda: C(m + 1) - C(m) - (1 - C(m)) / n)
    # mixing with the real distribution r (a fixed point of the simplex) at weight 1 - a
    a = sp.Symbol("a", positive=True)
    r1, r2 = sp.symbols("r1 r2", positive=True)
    r = (r1, r2, 1 - r1 - r2)

    def cond_moments():
        mean_next = [a * first[i] / n + (1 - a) * r[i] for i in range(3)]
        sq = sp.Add(*[a ** 2 * second[i][i] / n ** 2 + 2 * a * (1 - a) * r[i] * first[i] / n
                      + (1 - a) ** 2 * r[i] ** 2 - 2 * r[i] * (a * first[i] / n + (1 - a) * r[i]) + r[i] ** 2
                      for i in range(3)])
        return mean_next, sq

    proof.identity("mixed_mean_contracts", lambda: sp.Matrix(cond_moments()[0]) - sp.Matrix(
        [r[i] + a * (p[i] - r[i]) for i in range(3)]))
    dist = sp.Add(*[(p[i] - r[i]) ** 2 for i in range(3)])
    rr = sp.Add(*[ri ** 2 for ri in r])
    inner = sp.Add(*[r[i] * (p[i] - r[i]) for i in range(3)])
    proof.identity("mixed_distance_one_step", lambda: cond_moments()[1] - a ** 2 * (1 - 1 / n) * dist
                   - a ** 2 * (1 - rr - 2 * inner) / n)
    Dm = lambda mm: f["E_sq_dist_to_real"](mm, n, a, P0)  # noqa: E731
    proof.identity("mixed_distance_start", lambda: Dm(0))
    proof.identity("mixed_distance_step", lambda: Dm(m + 1) - a ** 2 * (1 - 1 / n) * Dm(m) - a ** 2 * (1 - P0) / n)
    s, u = sp.Symbol("s", nonnegative=True), sp.Symbol("u", nonnegative=True)
    Pp = sp.Symbol("Q", positive=True)  # 1 - ||p0||^2 > 0

    def bounded():
        aa, nn = 1 / (1 + s), 1 + u
        bound = aa ** 2 * Pp / (nn - aa ** 2 * (nn - 1))
        return bound - f["E_sq_dist_to_real"](m, nn, aa, 1 - Pp)

    proof.sign("mixed_distance_bounded", "nonnegative", bounded)
    proof.identity("pure_resampling_special_case", lambda: P0 + f["E_sq_dist_to_real"](m, n, 1, P0) - C(m))
    # loss probability: harmonic function of the one-symbol binomial chain
    k, c, t = sp.Symbol("k", positive=True), sp.Symbol("c"), sp.Symbol("t")
    h = lambda kk: f["loss_probability"](kk, n)  # noqa: E731
    proof.identity("loss_at_zero", lambda: h(sp.Integer(0)) - 1)
    proof.identity("loss_at_n", lambda: h(n))

    def harmonic():
        poly = sp.Poly(sp.expand(h(c)), c)
        mgf = (1 - k / n + k / n * sp.exp(t)) ** n
        expectation = sp.Add(*[coef * sp.diff(mgf, t, deg).subs(t, 0) if deg else coef
                               for (deg,), coef in poly.terms()])
        return expectation - h(k)

    proof.identity("loss_martingale", harmonic)
    return proof.result()


# --------------------------------------------------------------------------------------------- law 3

REGRESSION_FORMULAS = {
    "factor": lambda n, mode: n if mode == "replace" else sp.harmonic(n, 2),
    "E_test_error": lambda n, T, d, s2, mode: s2 * d / (T - d - 1) * (n if mode == "replace" else sp.harmonic(n, 2)),
}
"""The toolkit's regression-chain laws (LAW-REGRESSION-CHAIN)."""


@lru_cache(maxsize=None)
def _least_squares_steps() -> dict:
    """The formula-independent least-squares steps of LAW-REGRESSION-CHAIN (proved once per process): on a symbolic
    3 x 2 design, A X = I and A A^T = (X^T X)^{-1}; the minimiser of sum_{j<=3} ||y_j - x w||^2 averages the labels."""
    proof = Proof()
    Xs = sp.Matrix(3, 2, sp.symbols("x0:6", real=True))
    gram = Xs.T * Xs
    gram_inv = gram.adjugate() / sp.factor(gram.det())
    A = gram_inv * Xs.T
    proof.identity("ols_unbiased", lambda: (A * Xs).applyfunc(sp.cancel) - sp.eye(2))
    proof.identity("ols_covariance", lambda: (A * A.T - gram_inv).applyfunc(sp.cancel))
    x = sp.Matrix(sp.symbols("z0:2", real=True))
    ys = [sp.Matrix(sp.symbols(f"y{j}_0:2", real=True)) for j in range(3)]
    w = sp.Symbol("w")

    def accumulate_fit():
        loss = sp.Add(*[((y - x * w).T * (y - x * w))[0] for y in ys])
        sol = sp.solve(sp.diff(loss, w), w)
        Ax = (x.T / (x.T * x)[0])
        return sp.Matrix([sol[0] - (Ax * (ys[0] + ys[1] + ys[2]) / 3)[0]])

    proof.identity("accumulate_fit_averages_labels", accumulate_fit)
    return proof.steps


def prove_regression_chain(overrides: dict | None = None) -> dict:
    """LAW-REGRESSION-CHAIN:

    - least squares A = (X^T X)^{-1} X^T on a symbolic 3 x 2 design: A X = I (refits are unbiased given the labels'
      mean) and A A^T = (X^T X)^{-1} (Cov(A eps) = sigma2 (X^T X)^{-1});
    - accumulate: the minimiser of sum_{j<=3} ||y_j - x w||^2 (symbolic x in R^2, labels y_j) is A (y_1 + y_2 +
      y_3)/3; so n e_n = sum_{j<=n} (e_{j-1} + u_j) and e_n = e_{n-1} + u_n/n (symbolic n);
    - the error factors (independent u_j): replace V(n + 1) = V(n) + 1, accumulate V(n + 1) = V(n) + 1/(n + 1)^2,
      V(0) = 0; accumulate increases to sum 1/i^2 = pi^2/6 (the bound);
    - over the design: (X^T X)^{-1}_{11} = 1/chi2_{T-d+1} (Schur complement of a Wishart), E = 1/(T - d - 1) by
      integrating the density (T - d + 1 = v + 3, v >= 0); E test error = sigma2 d/(T - d - 1) V(n)."""
    f = with_overrides(REGRESSION_FORMULAS, overrides)
    proof = Proof()
    design = _least_squares_steps()
    for name in ("ols_unbiased", "ols_covariance", "accumulate_fit_averages_labels"):
        proof.step(name, lambda name=name: design[name])
    e_prev, u_n = sp.symbols("e_prev u_n")
    n = sp.Symbol("n", integer=True, positive=True)
    proof.identity("accumulate_error_recursion", lambda: ((n - 1) * e_prev + e_prev + u_n) / n - e_prev - u_n / n)
    for mode, increment in (("replace", lambda nn: 1), ("accumulate", lambda nn: 1 / (nn + 1) ** 2)):
        proof.identity(f"factor_start_{mode}", lambda mode=mode: f["factor"](sp.Integer(0), mode))
        proof.identity(f"factor_step_{mode}", lambda mode=mode, inc=increment:
                       f["factor"](N + 1, mode) - f["factor"](N, mode) - inc(N))
    proof.step("accumulate_limit_pi2_over_6",
               lambda: sp.simplify(sp.limit(f["factor"](N, "accumulate"), N, sp.oo) - sp.pi ** 2 / 6) == 0)
    v = sp.Symbol("v", nonnegative=True)
    T, d = sp.Symbol("T", positive=True), sp.Symbol("d", positive=True)
    proof.identity("inverse_chi2_mean", lambda: chi2_moment("inverse", v + 3) - 1 / (v + 1))
    proof.identity("test_error_formula", lambda: f["E_test_error"](N, T, d, S2, "replace")
                   - S2 * d * (1 / ((T - d + 1) - 2)) * f["factor"](N, "replace"))
    proof.identity("test_error_formula_accumulate", lambda: f["E_test_error"](N, T, d, S2, "accumulate")
                   - S2 * d * (1 / ((T - d + 1) - 2)) * f["factor"](N, "accumulate"))
    return proof.result()
