"""More proof <-> numpy links of the DAE symbolic checks (continued from :mod:`.symbolic_links`, same conventions):
the expression a proof proved, evaluated exactly (40 digits), against the package's numpy function at seeded random
valid points, within c eps (1 + condition), c = 64 (:func:`collapse_theory.claims.proved.numpy_link`; matrices and
vectors are compared normwise: max |package - exact| / max |exact|).

Second moments propagated through a trained map (:func:`eigenbasis_link`, :func:`finite_sample_link`) get the
absolute tolerance c d eps (lambda_max + sigma2), divided by max |exact|: a backward-stable solve or
eigendecomposition of N = S + sigma2 I perturbs N by Delta N, ||Delta N|| <= c d eps ||N||, which enters
S' = W N W^T (or W S W^T) to first order only as -W Delta N W^T (N W^T = S), of norm <= ||Delta N|| since ||W|| < 1;
the maps f, h and the mix S~ = alpha S* + (1 - alpha) S are contractions (0 <= f', h' < 1), so these errors add up at
most linearly over rounds (the argument of :func:`collapse_theory.claims.dae.properties.property_matrix_matches_eigen`).
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from ...proofs import dae as sym
from ...theory.dae import finite_sample, linear as linear_dae, recursion
from ...theory.laws import gaussian as laws_gaussian
from ..proved import exact_values, numpy_link, relative_condition
from .symbolic_links import C_ROUNDING, EPS, FAILED, LINK_ERRORS, scalar_link, scalar_points

DIGITS = 40
SELECTION_ERRORS = LINK_ERRORS + (IndexError,)


def _rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def _random_spd(rng, d: int, log_range=(-2, 2)) -> tuple[np.ndarray, np.ndarray]:
    """S = Q diag(l) Q^T (exactly symmetric in floats), l log-uniform over 10^log_range, Q Haar-like (QR)."""
    lam = 10 ** rng.uniform(*log_range, d)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    S = (Q * lam) @ Q.T
    return 0.5 * (S + S.T), lam


def _two_samples():
    """Symbols of 2 samples x_0, x_1 in R^2 (the proofs' training set) and S_hat = (x_0 x_0^T + x_1 x_1^T)/2."""
    xs = [sp.Matrix(sp.symbols(f"x{j}_0:2", real=True)) for j in range(2)]
    return xs, (xs[0] * xs[0].T + xs[1] * xs[1].T) / 2


# --------------------------------------------------------------------------------------------- DAE-OPT (finite samples)

class BalancedNoise(np.random.Generator):
    """A :class:`numpy.random.Generator` whose ``standard_normal((4 n, 2))`` returns, for each of n consecutive blocks
    of 4 rows, the sign patterns (1, 1), (1, -1), (-1, 1), (-1, -1): per block sum e = 0 and sum e e^T = 4 I exactly,
    the noise moments the least-squares proof takes in expectation (E e = 0, E e e^T = I)."""

    PATTERNS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        shape = tuple(np.atleast_1d(size))
        if len(shape) != 2 or shape[1] != 2 or shape[0] % 4:
            raise ValueError(f"BalancedNoise draws (4 n, 2) arrays, got {shape}")
        return np.tile(self.PATTERNS, (shape[0] // 4, 1))


def least_squares_link(candidate, points: int = 12, seed: int = 8110) -> dict:
    """``candidate(S_hat, sigma2)``, S_hat = (x_0 x_0^T + x_1 x_1^T)/2 (the proved limit of the least-squares DAE on 2
    samples), against :func:`linear_dae.empirical_dae` (X rows x_j with entries N(0, 1) x 10^U(-1, 1), sigma2
    log-uniform 1e-2..1e1) twice: ``noise_draws=None`` (noise expectation exact) and ``noise_draws=4`` on the balanced
    noise design :class:`BalancedNoise`, whose empirical noise moments equal the expectations, so the least-squares
    normal equations W G = C themselves (G = Y^T Y, C = X~^T Y over nm = 8 rows) must give the proved limit.

    Tolerances: W* = S_hat (S_hat + sigma2 I)^-1 has normwise relative condition cond(N), N = S_hat + sigma2 I, w.r.t.
    N (and S_hat's own rounding, n d eps ||S_hat||, enters with the same factor): c (n + 1) d eps (1 + cond(N)). The
    least-squares path forms G and C with errors <= nm d eps ||G||, resp. nm d eps ||X~|| ||Y|| (normwise), and
    ||X~|| ||Y|| = nm sqrt(lam_max (lam_max + sigma2)), so
    ||dW||/||W|| <= nm d eps cond(N) (1 + sqrt(1 + sigma2/lam_max)), plus the solve's c d eps cond(N):
    c nm d eps (1 + cond(N) (1 + sqrt(1 + sigma2/lam_max)))."""
    s2 = sp.Symbol("sigma2", positive=True)
    xs, S_hat = _two_samples()
    symbols = (*xs[0], *xs[1], s2)
    rng = np.random.default_rng(seed)
    n, m, d = 2, 4, 2
    data = [(rng.standard_normal((n, d)) * 10 ** rng.uniform(-1, 1), float(10 ** rng.uniform(-2, 1)))
            for _ in range(points)]
    try:
        exact = exact_values(sp.Matrix(candidate(S_hat, s2)), symbols, [(*X.ravel(), v) for X, v in data])
    except LINK_ERRORS:
        return dict(FAILED)
    out, package, tol = [], [], []
    for (X, v), value in zip(data, exact):
        lam = np.linalg.eigvalsh(X.T @ X / n)
        cond = (lam[-1] + v) / (max(lam[0], 0.0) + v)
        noisy = linear_dae.empirical_dae(X, v, noise_draws=m, rng=BalancedNoise(np.random.PCG64(0)))
        out += [value, value]
        package += [linear_dae.empirical_dae(X, v), noisy]
        tol += [C_ROUNDING * (n + 1) * d * EPS * (1 + cond),
                C_ROUNDING * n * m * d * EPS * (1 + cond * (1 + np.sqrt(1 + v / lam[-1])))]
    return numpy_link(out, package, tol)


# --------------------------------------------------------------------------------------------- DAE-BOTTLENECK

def bottleneck_loss_link(reduction, points: int = 12, seed: int = 8111) -> dict:
    """tr S - sum_{i <= r} ``reduction``(lam_(i), sigma2) (lam sorted descending; the proved minimal rank-r loss)
    against :func:`linear_dae.bottleneck_dae_loss` (d uniform 2..4, rank r uniform 1..d, lam log-uniform 1e-2..1e2 in
    random order, sigma2 log-uniform 1e-2..1e1). Tolerance: the package sums d + r terms, each of the r reductions
    within c eps (1 + kappa_r) (kappa_r its relative condition), so the loss is good to
    c (d + r) eps (1 + max kappa_r) sum |terms| / |loss| (the cancellation of the sum counted, not hidden)."""
    lam_s, s2 = sp.symbols("lam sigma2", positive=True)
    rng = np.random.default_rng(seed)
    exact, package, tol = [], [], []
    for _ in range(points):
        d = int(rng.integers(2, 5))
        r = int(rng.integers(1, d + 1))
        lam = 10 ** rng.uniform(-2, 2, d)
        v = float(10 ** rng.uniform(-2, 1))
        top = np.sort(lam)[::-1][:r]
        try:
            expr = sp.sympify(reduction(lam_s, s2))
            terms = [float(t) for t in exact_values(expr, (lam_s, s2), [(t, v) for t in top])]
            kappa = relative_condition(expr, (lam_s, s2), [(t, v) for t in top])
            with mpmath.workdps(DIGITS):
                fn = sp.lambdify((lam_s, s2), expr, modules="mpmath")
                loss = (mpmath.fsum(mpmath.mpf(float(t)) for t in lam)
                        - mpmath.fsum(fn(mpmath.mpf(float(t)), mpmath.mpf(v)) for t in top))
                loss = float(loss)
        except LINK_ERRORS:
            return dict(FAILED)
        if not (np.all(np.isfinite(kappa)) and loss != 0):
            return dict(FAILED)
        exact.append(np.array(loss))
        package.append(np.array(linear_dae.bottleneck_dae_loss(lam, v, r)))
        tol.append(C_ROUNDING * (d + r) * EPS * (1 + float(np.max(kappa)))
                   * (lam.sum() + np.sum(np.abs(terms))) / abs(loss))
    return numpy_link(exact, package, tol)


def bottleneck_selection_link(select, points: int = 12, seed: int = 8112) -> dict:
    """The rank-r map sum_{i in select(lam, r)} g(lam_i) u_i u_i^T (eigenpairs of S descending, g = lam/(lam + sigma2);
    the proof: keeping the top directions minimises the loss) against D E of :func:`linear_dae.bottleneck_dae`
    (d = 3, r uniform 1..2, S = Q diag(l) Q^T with l log-uniform 1e-2..1e2, sigma2 log-uniform 1e-2..1e1); exact
    eigenpairs of the float S by ``mpmath.eigsy`` at 40 digits. Tolerance: eigh is backward stable (||Delta S|| <=
    c d eps ||S||); the kept map is P_r W*(S), P_r the top-r spectral projector, whose error is ||Delta S||/gap_r
    (gap_r = l_(r) - l_(r+1), Davis-Kahan) besides W*'s cond(S + sigma2 I): c d eps (1 + cond + ||S||/gap_r)."""
    lam_s, s2 = sp.symbols("lam sigma2", positive=True)
    gain = sp.lambdify((lam_s, s2), sym.gain(lam_s, s2), modules="mpmath")
    rng = np.random.default_rng(seed)
    d = 3
    exact, package, tol = [], [], []
    for _ in range(points):
        S, _ = _random_spd(rng, d)
        r = int(rng.integers(1, d))
        v = float(10 ** rng.uniform(-2, 1))
        try:
            with mpmath.workdps(DIGITS):
                values, vectors = mpmath.eigsy(mpmath.matrix(S.tolist()))
                order = sorted(range(d), key=lambda i: -values[i])
                lam = [values[i] for i in order]
                W = mpmath.zeros(d, d)
                for i in select(lam, r):
                    u = vectors[:, order[i]]
                    W += gain(lam[i], mpmath.mpf(v)) * (u * u.T)
                W_exact = np.array(W.tolist(), dtype=float)
                gap = float(lam[r - 1] - lam[r])
        except SELECTION_ERRORS:
            return dict(FAILED)
        D, E = linear_dae.bottleneck_dae(S, v, r)
        exact.append(W_exact)
        package.append(D @ E)
        tol.append(C_ROUNDING * d * EPS * (1 + np.linalg.cond(S + v * np.eye(d)) + np.linalg.norm(S, 2) / gap))
    return numpy_link(exact, package, tol)


# --------------------------------------------------------------------------------------------- DAE-MATRIX-EIGEN

def _eig2_desc(M) -> np.ndarray:
    """Eigenvalues of a symmetric 2x2 mpmath matrix, descending."""
    mean = (M[0, 0] + M[1, 1]) / 2
    radius = mpmath.sqrt(((M[0, 0] - M[1, 1]) / 2) ** 2 + ((M[0, 1] + M[1, 0]) / 2) ** 2)
    return np.array([float(mean + radius), float(mean - radius)])


def eigenbasis_link(train_map, rounds: int = 2, points: int = 12, seed: int = 8113) -> dict:
    """The eigenvalues of S_1..S_rounds of the mix recursion propagated as matrices with ``train_map`` (the proof's
    trained map W(S~, sigma2), default W*): S~_k = alpha S* + (1 - alpha) S_k, S_{k+1} = W (S~_k + sigma2 I) W^T
    (renoise) or W S~_k W^T (clean), in 40 digits, against the package's full-matrix
    :func:`recursion.dae_recursion_matrix` and its eigenvalue-level :func:`recursion.dae_recursion` on eig S* (valid
    because the eigenbasis is preserved): S* 2x2 with eigenvalues log-uniform 1e-2..1e2 and a random rotation,
    sigma2 log-uniform 1e-2..1e1, alpha uniform 0.05..0.95, rules alternating. Tolerance at round k:
    c d (k + 1) eps (lam*_max + sigma2) / max |exact| (module docstring)."""
    a, c, s2 = sp.symbols("a c sigma2", positive=True)
    b = sp.Symbol("b", real=True)
    try:
        fn = sp.lambdify((a, b, c, s2), sp.Matrix(train_map(sp.Matrix([[a, b], [b, c]]), s2)), modules="mpmath")
    except LINK_ERRORS:
        return dict(FAILED)
    rng = np.random.default_rng(seed)
    d = 2
    exact, package, tol = [], [], []
    for i in range(points):
        lam = 10 ** rng.uniform(-2, 2, d)
        R = _rotation(rng.uniform(0, np.pi))
        S = (R * lam) @ R.T
        S = 0.5 * (S + S.T)
        v, alpha, rule = float(10 ** rng.uniform(-2, 1)), float(rng.uniform(0.05, 0.95)), ("renoise", "clean")[i % 2]
        try:
            with mpmath.workdps(DIGITS):
                star, sv, al = mpmath.matrix(S.tolist()), mpmath.mpf(v), mpmath.mpf(alpha)
                current, per_round = star, []
                for _ in range(rounds):
                    train = al * star + (1 - al) * current
                    W = mpmath.matrix(fn(train[0, 0], train[0, 1], train[1, 1], sv))
                    middle = train + sv * mpmath.eye(d) if rule == "renoise" else train
                    current = W * middle * W.T
                    per_round.append(_eig2_desc(current))
        except LINK_ERRORS:
            return dict(FAILED)
        matrix = recursion.dae_recursion_matrix(S, v, alpha, rounds, "mix", rule).eigenvalues
        eigen = recursion.dae_recursion(np.linalg.eigvalsh(S), v, alpha, rounds, "mix", rule).eigenvalues
        for k, values in enumerate(per_round, start=1):
            t = C_ROUNDING * d * (k + 1) * EPS * (lam.max() + v) / max(float(np.max(np.abs(values))), 1e-300)
            exact += [values, values]
            package += [np.asarray(matrix[k]), np.sort(np.asarray(eigen[k]))[::-1]]
            tol += [t, t]
    return numpy_link(exact, package, tol)


# --------------------------------------------------------------------------------------------- DAE-ROUNDS

def scale_invariance_link(maps, points: int = 12, seed: int = 8114) -> dict:
    """F(lam, sigma2)/sigma2 for each proved map (``maps[i]`` paired with rule ("renoise", "clean")[i], the proof's
    default order f, h) against the package's scale-free map :func:`recursion.collapse_map` at x = lam/sigma2 (lam
    and sigma2 each log-uniform 1e-3..1e3): scale invariance F(c lam, c sigma2) = c F(lam, sigma2) is what makes
    F(lam, sigma2)/sigma2 a function of x alone. Tolerance c eps (1 + kappa), kappa the relative condition of
    F(lam, sigma2)/sigma2 in (lam, sigma2) (which covers the rounding of x = lam/sigma2)."""
    lam, s2 = sp.symbols("lam sigma2", positive=True)
    rng = np.random.default_rng(seed)
    items, package = [], []
    for F, rule in zip(maps, ("renoise", "clean")):
        for point in scalar_points(rng, points, lam_range=(-3, 3), s2_range=(-3, 3)):
            try:
                items.append((sp.sympify(F(lam, s2)) / s2, (lam, s2), point))
            except LINK_ERRORS:
                return dict(FAILED)
            package.append(np.asarray(recursion.collapse_map(point[0] / point[1], rule), dtype=float).reshape(()))
    return scalar_link(items, package)


# --------------------------------------------------------------------------------------------- DAE-CLEAN-RULE

def _absolute_coefficients(coeffs):
    """|c|_abs = sum of the absolute values of the additive terms of each coefficient (the size its evaluation
    rounds)."""
    return [sum(sp.Abs(t) for t in sp.Add.make_args(sp.expand(c))) for c in coeffs]


def clean_fixed_point_link(cubic, points: int = 12, seed: int = 8115) -> dict:
    """The unique positive root mu_inf of ``cubic``(mu, alpha, lam*, sigma2) (the proof's clean fixed-point cubic; roots
    by ``mpmath.polyroots`` at 40 digits; no or several positive roots fail the link) against
    :func:`recursion.fixed_point_training_moment` (clean), and h(mu_inf), (1 - alpha) h'(mu_inf) (h = mu^3/(mu +
    sigma2)^2, h' as the proof derives it) against :func:`recursion.fixed_point` and :func:`recursion.fixed_point_rate`
    (clean; alpha uniform 0.05..0.95, lam* log-uniform 1e-3..1e3, sigma2 1e-3..1e1). Tolerances: a root found where
    the float polynomial vanishes to rounding is good to c eps kappa_root, kappa_root = sum |c_i|_abs mu^i /
    |mu p'(mu)| (the root's relative condition w.r.t. relative errors in the coefficients' terms); F(mu_inf) then to
    c eps (1 + kappa_F)(1 + kappa_root), kappa_F the relative condition of F in (mu, sigma2, alpha)."""
    a, lam, s2, mu = sp.symbols("alpha lam_star sigma2 mu", positive=True)
    rng = np.random.default_rng(seed)
    pts = [(float(rng.uniform(0.05, 0.95)),) + p for p in scalar_points(rng, points)]
    h = sym.clean_map(mu, s2)
    maps = (h, (1 - a) * sp.diff(h, mu))
    try:
        coeffs = sp.Poly(sp.expand(cubic(mu, a, lam, s2)), mu).all_coeffs()
        coeff_fn = sp.lambdify((a, lam, s2), coeffs, modules="mpmath")
        size_fn = sp.lambdify((a, lam, s2), _absolute_coefficients(coeffs), modules="mpmath")
    except LINK_ERRORS + (sp.PolynomialError,):
        return dict(FAILED)
    exact, package, tol = [], [], []
    for al, l_, v in pts:
        try:
            with mpmath.workdps(DIGITS):
                args = [mpmath.mpf(x) for x in (al, l_, v)]
                cs = coeff_fn(*args)
                roots = mpmath.polyroots(cs, maxsteps=200, extraprec=2 * DIGITS * 4)
                positive = [mpmath.re(z) for z in roots
                            if abs(mpmath.im(z)) <= mpmath.mpf(10) ** (-DIGITS // 2) * abs(z) and mpmath.re(z) > 0]
                if len(positive) != 1:
                    return dict(FAILED)
                root = positive[0]
                degree = len(cs) - 1
                slope = sum((degree - i) * cs[i] * root ** (degree - i - 1) for i in range(degree))
                size = sum(s_ * root ** (degree - i) for i, s_ in enumerate(size_fn(*args)))
                kappa_root = float(size / abs(root * slope))
            root = float(root)
            values = [float(e) for e in exact_values(list(maps), (mu, s2, a), [(root, v, al)])[0]]
            kappas = [relative_condition(F, (mu, s2, a), [(root, v, al)])[0] for F in maps]
        except LINK_ERRORS:
            return dict(FAILED)
        lam_star = np.array([l_])
        exact += [np.array(root), np.array(values[0]), np.array(values[1])]
        package += [recursion.fixed_point_training_moment(lam_star, v, al, "clean")[0],
                    recursion.fixed_point(lam_star, v, al, "clean")[0],
                    recursion.fixed_point_rate(lam_star, v, al, "clean")[0]]
        tol += [C_ROUNDING * EPS * (1 + kappa_root)] + [C_ROUNDING * EPS * (1 + k) * (1 + kappa_root) for k in kappas]
    if not np.all(np.isfinite(tol)):
        return dict(FAILED)
    return numpy_link(exact, package, tol)


# --------------------------------------------------------------------------------------------- DAE-FINITE-SAMPLE

def finite_sample_link(conditional_moment, points: int = 12, seed: int = 8116) -> dict:
    """For a training set of 2 points x_0, x_1 in R^2 and W = W*(S_hat) (the proof's setting): the proved conditional
    mean of the renoise generation, (1/2) sum_j ``conditional_moment``(W, x_j, sigma2), against the conditional mean
    the package states, F(S_hat~) = V diag(f(mu)) V^T with (mu, V) the training eigenpairs of
    :func:`finite_sample.generate_from_training_set` and f one round of :func:`recursion.dae_recursion` (what the
    numeric one-step check compares its draws with); and the proved clean moment (1/2) sum_j W x_j x_j^T W^T against
    that function's (deterministic) clean generation, ``next_moments``. T entries N(0, 1) x 10^U(-1, 1), sigma2
    log-uniform 1e-2..1e1. Tolerance c d eps (lam_max(S_hat) + sigma2) / max |exact| (module docstring; n = d = 2)."""
    s2 = sp.Symbol("sigma2", positive=True)
    xs, S_hat = _two_samples()
    symbols = (*xs[0], *xs[1], s2)
    rng = np.random.default_rng(seed)
    d = 2
    data = [(rng.standard_normal((2, d)) * 10 ** rng.uniform(-1, 1), float(10 ** rng.uniform(-2, 1)))
            for _ in range(points)]
    pts = [(*T.ravel(), v) for T, v in data]
    try:
        W = sym.wiener(S_hat, s2)
        renoise = (sp.Matrix(conditional_moment(W, xs[0], s2)) + sp.Matrix(conditional_moment(W, xs[1], s2))) / 2
        clean = (W * xs[0] * xs[0].T * W.T + W * xs[1] * xs[1].T * W.T) / 2
        exact_renoise = exact_values(renoise, symbols, pts)
        exact_clean = exact_values(clean, symbols, pts)
    except LINK_ERRORS:
        return dict(FAILED)
    exact, package, tol = [], [], []
    for i, ((T, v), e_r, e_c) in enumerate(zip(data, exact_renoise, exact_clean)):
        draws = finite_sample.generate_from_training_set(T, v, "renoise", None, 2, seed + i)
        mu = np.clip(draws.training_eigenvalues, 0.0, None)
        f = recursion.dae_recursion(mu, v, 0.0, 1, "replace", "renoise").eigenvalues[1]
        clean_draws = finite_sample.generate_from_training_set(T, v, "clean", None, 2, seed + i)
        scale = float(np.linalg.eigvalsh(T.T @ T / 2)[-1]) + v
        exact += [e_r, e_c]
        package += [(draws.basis * f) @ draws.basis.T, clean_draws.next_moments[0]]
        tol += [C_ROUNDING * d * EPS * scale / max(float(np.max(np.abs(e))), 1e-300) for e in (e_r, e_c)]
    return numpy_link(exact, package, tol)


# --------------------------------------------------------------------------------------------- DAE-LOG-DRIFT

def log_drift_link(points: int = 12, seed: int = 8117) -> dict:
    """The proof's Gaussian example E log(lam_hat/lam) = psi(n/2) + log(2/n) for lam_hat = lam chi2_n/n (n uniform
    2..1000) against the package's closed form of E log(chi2_k/D),
    :func:`collapse_theory.theory.laws.gaussian.log_drift` with samples n + 1 and the unbiased divisor (k = D = n). The
    DAE theory has no numpy function of its own for the drift (the numeric tier measures it); this is the package's
    function for the same quantity. Tolerance: the sum of two terms, each within c eps relative (scipy's digamma and
    log), is good to c eps (1 + kappa), kappa = (|psi(n/2)| + |log(2/n)|) / |psi(n/2) + log(2/n)| (the sum cancels
    as n grows: the drift is ~ -1/n)."""
    rng = np.random.default_rng(seed)
    exact, package, tol = [], [], []
    for n in rng.integers(2, 1001, points):
        n = int(n)
        psi, log = sp.digamma(sp.Rational(n, 2)), sp.log(sp.Rational(2, n))
        value = float((psi + log).evalf(DIGITS))
        kappa = (abs(float(psi.evalf(DIGITS))) + abs(float(log.evalf(DIGITS)))) / abs(value)
        exact.append(np.array(value))
        package.append(np.array(laws_gaussian.log_drift(n + 1, "unbiased", 1)))
        tol.append(C_ROUNDING * EPS * (1 + kappa))
    return numpy_link(exact, package, tol)


# --------------------------------------------------------------------------------------------- C-collapse, C-real

def paper_collapse_link(params: dict | None = None, points: int = 8, seed: int = 8118) -> dict:
    """The paper's rate rho0 = ``rate``(lam0, sigma2) and bound ``bound``(rho0, k) on ||W_k...W_0|| (defaults g(lam0)
    and rho0^(k+1), ``sigma2`` a positive symbol unless overridden) against ``rho0`` and ``composed_op_norm[k]`` of
    :func:`recursion.collapse_bounds` (d = 1, lam0 log-uniform 1e-3..1e3, sigma2 1e-3..1e1, k uniform 0..40, both
    rules); tolerance c eps (1 + kappa)."""
    params = params or {}
    lam, s2 = sp.symbols("lam sigma2", positive=True)
    s2_expr = params.get("sigma2", s2)
    rate = params.get("rate", sym.gain)
    bound = params.get("bound", lambda rho, k: rho ** (k + 1))
    rng = np.random.default_rng(seed)
    items, package = [], []
    for rule in ("renoise", "clean"):
        for point in scalar_points(rng, points):
            k = int(rng.integers(0, 41))
            try:
                rho = sp.sympify(rate(lam, s2_expr))
                exprs = (rho, sp.sympify(bound(rho, sp.Integer(k))))
            except LINK_ERRORS:
                return dict(FAILED)
            out = recursion.collapse_bounds(np.array([point[0]]), point[1], k, rule)
            for expr, value in zip(exprs, (out["rho0"], out["composed_op_norm"][k])):
                items.append((expr, (lam, s2), point))
                package.append(np.asarray(value, dtype=float).reshape(()))
    return scalar_link(items, package)


def paper_real_link(params: dict | None = None, points: int = 12, seed: int = 8119) -> dict:
    """The paper's uniform lower bound ``bound``(alpha, lam*_max, sigma2) on ||W_k|| (default g(alpha lam*) =
    alpha lam*/(alpha lam* + sigma2); ``alpha`` and ``sigma2`` symbols unless overridden; the proof's alpha = 1/(1 + t)
    covers the same (0, 1]) against :func:`recursion.real_fraction_lower_bound` (3 eigenvalues log-uniform 1e-3..1e3,
    sigma2 1e-3..1e1, alpha uniform 0.05..1); tolerance c eps (1 + kappa). A bound that is 0 fails the link."""
    params = params or {}
    a, lam, s2 = sp.symbols("alpha lam sigma2", positive=True)
    bound = params.get("bound", lambda al, lm, v: sym.gain(al * lm, v))
    rng = np.random.default_rng(seed)
    items, package = [], []
    for _ in range(points):
        lams = 10 ** rng.uniform(-3, 3, 3)
        v, alpha = float(10 ** rng.uniform(-3, 1)), float(rng.uniform(0.05, 1.0))
        try:
            items.append((sp.sympify(bound(params.get("alpha", a), lam, params.get("sigma2", s2))), (a, lam, s2),
                          (alpha, float(lams.max()), v)))
        except LINK_ERRORS:
            return dict(FAILED)
        package.append(np.asarray(recursion.real_fraction_lower_bound(lams, v, alpha), dtype=float).reshape(()))
    return scalar_link(items, package)
