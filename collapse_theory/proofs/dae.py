"""Symbolic tier: sympy proofs of the linear-DAE collapse theory, part 1: the symbols, the toolkit's formulas in
sympy, and the proofs of DAE-OPT, DAE-BOTTLENECK, DAE-STEP and DAE-MATRIX-EIGEN. Part 2 (rates, doubly-exponential
bounds, rounds) is :mod:`.dae_rates`, part 3 (fixed points, accumulate, finite sample, log drift) :mod:`.dae_regimes`,
the paper's claims :mod:`.paper`; the proof engine (:class:`~.engine.Proof`, :func:`~.engine.is_zero`, ...) is
:mod:`.engine`.

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

from functools import lru_cache
from typing import Callable

import sympy as sp

from .engine import (
    eigen_psd_2x2,
    expect_moments,
    generic_symmetric_2x2,
    has_sign,
    inv,
    is_zero,
    matrix_from_eigen,
    mul,
    Proof,
)

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


# ---------------------------------------------------------------------------------------------
# The toolkit's formulas (defaults of the injectable arguments)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# The toolkit's formulas (defaults of the injectable arguments)
# ---------------------------------------------------------------------------------------------

def wiener(S: sp.Matrix, s2) -> sp.Matrix:
    """Toolkit's optimal linear DAE W*(S) = S (S + sigma2 I)^-1."""
    return S * inv(S + s2 * sp.eye(S.shape[0]))


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
# The DAE loss in 2x2 symbolic matrices
# ---------------------------------------------------------------------------------------------

def dae_loss_expr(W: sp.Matrix, S: sp.Matrix, s2):
    """L(W) = tr S - 2 tr(W S) + tr(W (S + sigma2 I) W^T)."""
    n = S.shape[0]
    return sp.cancel(S.trace() - 2 * mul(W, S).trace() + mul(W, S + s2 * sp.eye(n), W.T).trace())


def w_symbols(n=2):
    return sp.Matrix(n, n, sp.symbols(f"w0:{n * n}", real=True))


# ---------------------------------------------------------------------------------------------
# DAE-OPT
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _loss_and_gradient_proof() -> tuple[tuple[str, bool], ...]:
    """Steps of DAE-OPT that do not depend on the candidate (cached)."""
    proof = Proof()
    S, _ = generic_symmetric_2x2()
    W = w_symbols()
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
    proof = Proof()
    for name, ok in _loss_and_gradient_proof():
        proof.steps[name] = ok
    S, _ = generic_symmetric_2x2()
    W = w_symbols()
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
    proof = Proof()
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
    proof.identity("limit_is_candidate", lambda: cross * inv(gram) - sp.Matrix(candidate(S_hat, s2)))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# DAE-BOTTLENECK
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _completing_square_proved() -> bool:
    S, _ = generic_symmetric_2x2()
    W = w_symbols()
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
    proof = Proof()
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
    proof = Proof()
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
    renoise = is_zero(Wm * noisy * Wm.T - S * S * inv(noisy))
    noisy_inv = inv(noisy)
    clean = is_zero(Wm * S * Wm.T - S ** 3 * noisy_inv * noisy_inv)
    return renoise, clean


@lru_cache(maxsize=None)
def _eigen_next_moments() -> tuple[sp.Matrix, sp.Matrix]:
    """W (S + sigma2 I) W^T and W S W^T for W = W*(S), S = R diag(l1, l2) R^T (cached)."""
    S, _, _, _ = eigen_psd_2x2()
    Wm = wiener(S, SIGMA2)
    return mul(Wm, S + SIGMA2 * sp.eye(2), Wm.T), mul(Wm, S, Wm.T)


def prove_renoise_step(f: ScalarFn | None = None) -> dict:
    """DAE-STEP (renoise). With W = W*(S) (2x2):

    - W (S + sigma2 I) W^T = S^2 (S + sigma2 I)^-1  (generic symmetric S; zero residual matrix)
    - for S = R diag(l1, l2) R^T: W (S + sigma2 I) W^T = R diag(f(l1), f(l2)) R^T (eigenbasis kept)
    - f(mu) = g(mu)^2 (mu + sigma2) = mu^2/(mu + sigma2) = mu - sigma2 + sigma2^2/(mu + sigma2)
    - f(mu) - mu = -mu sigma2/(mu + sigma2) < 0 for mu > 0."""
    f = f or renoise_map
    proof = Proof()
    s2 = SIGMA2
    proof.step("matrix_identity", lambda: _step_matrix_identities()[0])
    _, R, (l1, l2), _ = eigen_psd_2x2()

    def eigen_level():
        return is_zero(_eigen_next_moments()[0] - matrix_from_eigen(R, (f(l1, s2), f(l2, s2))))

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
    proof = Proof()
    s2 = SIGMA2
    proof.step("matrix_identity", lambda: _step_matrix_identities()[1])
    _, R, (l1, l2), _ = eigen_psd_2x2()

    def eigen_level():
        return is_zero(_eigen_next_moments()[1] - matrix_from_eigen(R, (h(l1, s2), h(l2, s2))))

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
    proof = Proof()
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
