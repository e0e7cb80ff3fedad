"""Symbolic tier: sympy proofs of Gaussian rectified flow and the Reflow family (claims GRF-*, REFLOW-*, RA-REFLOW-*
of :mod:`collapse_theory.claims.flow.catalog`; the checks that run them are :mod:`collapse_theory.claims.flow.symbolic`).

Each ``prove_*`` function proves the algebra of one claim step by step with the engine of :mod:`.engine` (a step is
proved only when sympy decides it; :class:`~.engine.FailFastProof` stops at the first failed step). The formula under
test is injected in sympy (``None`` = the toolkit's; the defaults below mirror :mod:`collapse_theory.theory.flow.gaussian`
and :mod:`collapse_theory.theory.flow.reflow`).

Reductions used (all exact, stated once here):

- *Factor form.* Any pair of covariances with Sigma0 positive definite is Sigma0 = P P^T, Sigma1 = P B P^T with P
  invertible and B = diag(beta_1, ..., beta_d) >= 0 (P = Sigma0^{1/2} R, R the eigenvectors of
  Sigma0^{-1/2} Sigma1 Sigma0^{-1/2}). Proofs over a generic 2 x 2 P (four free entries) and diagonal B therefore
  cover every PD/PSD pair in 2-D, commuting or not.
- *Gaussian conditioning.* For jointly Gaussian (Y, X), an affine v with E[Y - v(X)] = 0 and Cov(Y - v(X), X) = 0 has
  Y - v(X) independent of X, so v(X) = E[Y | X]. Writing X0 = m0 + P0 e0, X1 = m1 + P1 e1 (e0, e1 independent
  standard normal), every such moment is an exact matrix product.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations

import sympy as sp

from .dae import renoise_map
from .engine import FailFastProof, inv

T = sp.Symbol("t", positive=True)


TAU = sp.Symbol("tau", positive=True)             # t = tau/(1 + tau) covers (0, 1)


W1, W2 = sp.symbols("w1 w2", positive=True)        # square roots of the eigenvalues of B


W = sp.Symbol("w", positive=True)


LAM = sp.Symbol("lam", positive=True)


def symbolic_vector(name):
    """The 2-vector (name1, name2) of real symbols."""
    return sp.Matrix(sp.symbols(f"{name}1 {name}2", real=True))


@lru_cache(maxsize=None)
def factor_setting():
    """Generic invertible P (2 x 2), B = diag(w1^2, w2^2), Sigma0 = P P^T, Sigma1 = P B P^T, means, a point x."""
    p = sp.symbols("p11 p12 p21 p22", real=True)
    P = sp.ImmutableMatrix([[p[0], p[1]], [p[2], p[3]]])
    B = sp.diag(W1 ** 2, W2 ** 2)
    S0 = sp.ImmutableMatrix(P * P.T)
    S1 = sp.ImmutableMatrix(P * B * P.T)
    return P, B, S0, S1, symbolic_vector("a"), symbolic_vector("b"), symbolic_vector("x")


@lru_cache(maxsize=None)
def toolkit_velocity_matrix():
    """A_t = C_t Sigma_t^{-1} in the factor setting (computed once)."""
    P, B, S0, S1, *_ = factor_setting()
    S_t = (1 - T) ** 2 * S0 + T ** 2 * S1
    C_t = T * S1 - (1 - T) * S0
    return sp.ImmutableMatrix((C_t * inv(S_t)).applyfunc(sp.cancel))


# ---------------------------------------------------------------------------------------------
# The toolkit's formulas in sympy (defaults of impl)
# ---------------------------------------------------------------------------------------------


def velocity_formula(m0, S0, m1, S1, t):
    """(A_t, b_t): A_t = C_t Sigma_t^{-1}, b_t = (m1 - m0) - A_t m_t."""
    S_t = (1 - t) ** 2 * S0 + t ** 2 * S1
    C_t = t * S1 - (1 - t) * S0
    A = C_t * inv(S_t)
    return A, (m1 - m0) - A * ((1 - t) * m0 + t * m1)


def marginal_formula(m0, S0, m1, S1, t):
    return (1 - t) * m0 + t * m1, (1 - t) ** 2 * S0 + t ** 2 * S1


def flow_matrix_formula(P, w, t):
    """M_t = P G_t^{1/2} P^{-1}, G_t = (1 - t)^2 I + t^2 diag(w^2)."""
    return P * sp.diag(*[sp.sqrt((1 - t) ** 2 + t ** 2 * wi ** 2) for wi in w]) * inv(P)


def reverse_formula(P, w, m0, m1, x):
    """T^{-1}(x) = m0 + M_1^{-1} (x - m1)."""
    return m0 + inv(flow_matrix_formula(P, w, 1)) * (x - m1)


def straightness_per_direction(w):
    """(2 - pi/2) w: straightness of one direction with B-eigenvalue w^2 and unit weight."""
    return (2 - sp.pi / 2) * w


def straight_velocity_formula(M, c, x, t):
    """v2(x, t) = (M - I) L_t^{-1} (x - t c) + c, L_t = (1 - t) I + t M."""
    eye = sp.eye(M.shape[0])
    return (M - eye) * inv((1 - t) * eye + t * M) * (x - t * c) + c


def clean_predictor_gain(lam, t):
    """W*(lam, sigma_t^2)/t = lam/((lam + ((1 - t)/t)^2) t): the 1-RF clean-data predictor x + (1 - t) v(x, t) per
    eigen-direction of Sigma1 = diag(lam) (noise N(0, I), zero means)."""
    return lam / (lam + ((1 - t) / t) ** 2) / t


def shrinkage_map(lam, t):
    """Variance of one x1-prediction step from time t: f(lam) with sigma2 = ((1 - t)/t)^2 (reuses :func:`.dae.renoise_map`)."""
    return renoise_map(lam, ((1 - t) / t) ** 2)


# ---------------------------------------------------------------------------------------------
# GRF-VELOCITY
# ---------------------------------------------------------------------------------------------


def prove_velocity(velocity_fn=None) -> dict:
    """E[Y - v(X_t)] = 0 and Cov(Y - v(X_t), X_t) = 0 with X0 = m0 + P0 e0, X1 = m1 + P1 e1 (P0, P1 lower triangular,
    i.e. Cholesky factors of arbitrary PD covariances); plus A_t - A_t^T = t(1-t) Sigma_t^{-1}[Sigma0, Sigma1] Sigma_t^{-1}."""
    fn = velocity_fn or velocity_formula
    q = sp.symbols("q1:7", positive=True)
    r = sp.symbols("r1 r2", real=True)
    P0 = sp.Matrix([[q[0], 0], [r[0], q[1]]])
    P1 = sp.Matrix([[q[2], 0], [r[1], q[3]]])
    S0, S1 = P0 * P0.T, P1 * P1.T
    m0, m1 = symbolic_vector("a"), symbolic_vector("b")
    proof = FailFastProof()
    A, b = fn(m0, S0, m1, S1, T)
    A, b = sp.Matrix(A), sp.Matrix(b)
    # Y - v(X_t) = F e + f, X_t - m_t = H e with e = (e0, e1)
    H = sp.Matrix.hstack((1 - T) * P0, T * P1)
    F = sp.Matrix.hstack(-P0, P1) - A * H
    m_t = (1 - T) * m0 + T * m1
    f = (m1 - m0) - (A * m_t + b)
    proof.identity("residual has mean zero", lambda: f)
    proof.identity("residual uncorrelated with X_t", lambda: (F * H.T).applyfunc(sp.cancel))
    S_t = H * H.T
    proof.identity("A_t - A_t^T = t(1-t) Sigma_t^-1 [Sigma0, Sigma1] Sigma_t^-1",
                   lambda: (A - A.T - T * (1 - T) * inv(S_t) * (S0 * S1 - S1 * S0) * inv(S_t)).applyfunc(sp.cancel))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# GRF-MARGINAL
# ---------------------------------------------------------------------------------------------


def prove_marginal(marginal_fn=None) -> dict:
    """Moments of X_t from the factor representation, and the continuity equation for p_t = N(m_t, Sigma_t) with the
    toolkit velocity, as (d/dt p + div(p v))/p = d/dt log p + grad log p . v + tr A = 0. Sigma0 = diag(a, c) and a
    generic symmetric Sigma1 (no loss of generality: both sides are equivariant under rotations of coordinates)."""
    fn = marginal_fn or marginal_formula
    a, c, e, g = sp.symbols("a c e g", positive=True)
    f = sp.Symbol("f", real=True)
    S0 = sp.Matrix([[a, 0], [0, c]])
    S1 = sp.Matrix([[e, f], [f, g]])
    m0, m1, x = symbolic_vector("a"), symbolic_vector("b"), symbolic_vector("x")
    proof = FailFastProof()
    m_t, S_t = fn(m0, S0, m1, S1, T)
    m_t, S_t = sp.Matrix(m_t), sp.Matrix(S_t)
    proof.identity("E X_t = m_t", lambda: m_t - ((1 - T) * m0 + T * m1))
    proof.identity("Cov X_t = (1-t)^2 Sigma0 + t^2 Sigma1 (independence)", lambda: S_t - ((1 - T) ** 2 * S0 + T ** 2 * S1))

    def continuity():
        A, b = velocity_formula(m0, S0, m1, S1, T)
        S_t_inv = inv(S_t)
        dev = x - m_t
        log_p = -sp.Rational(1, 2) * (dev.T * S_t_inv * dev)[0, 0] - sp.Rational(1, 2) * sp.log(S_t.det())
        grad = sp.Matrix([sp.diff(log_p, xi) for xi in x])
        v = A * x + b
        return sp.diff(log_p, T) + (grad.T * v)[0, 0] + A.trace()

    proof.identity("continuity equation d/dt p + div(p v) = 0", continuity)
    return proof.result()


# ---------------------------------------------------------------------------------------------
# GRF-MAP and GRF-REVERSE
# ---------------------------------------------------------------------------------------------


def prove_flow_map(flow_fn=None) -> dict:
    """M_t = P G_t^{1/2} P^{-1} solves dM/dt = A_t M, M_0 = I, pushes Sigma0 to Sigma_t and M_1 = P B^{1/2} P^{-1}
    (factor setting: generic P, B = diag(w1^2, w2^2), so Sigma0 and Sigma1 need not commute)."""
    fn = flow_fn or flow_matrix_formula
    P, B, S0, S1, *_ = factor_setting()
    proof = FailFastProof()
    M = sp.Matrix(fn(P, (W1, W2), T))
    A = toolkit_velocity_matrix()
    proof.identity("Sigma_t = P G_t P^T, C_t = P D_t P^T", lambda: sp.Matrix.vstack(
        (1 - T) ** 2 * S0 + T ** 2 * S1 - P * ((1 - T) ** 2 * sp.eye(2) + T ** 2 * B) * P.T,
        T * S1 - (1 - T) * S0 - P * (T * B - (1 - T) * sp.eye(2)) * P.T))
    proof.identity("dM/dt = A_t M", lambda: (M.diff(T) - A * M).applyfunc(sp.cancel))
    proof.identity("M_0 = I", lambda: M.subs(T, 0) - sp.eye(2))
    proof.identity("M_t Sigma0 M_t^T = Sigma_t", lambda: (M * S0 * M.T - ((1 - T) ** 2 * S0 + T ** 2 * S1)).applyfunc(sp.cancel))
    proof.identity("M_1 = P B^{1/2} P^-1", lambda: M.subs(T, 1) - P * sp.diag(W1, W2) * inv(P))
    return proof.result()


def prove_reverse(reverse_fn=None) -> dict:
    """The backward path Y_t = m_t + M_t M_1^{-1} (x - m1) solves dY/dt = v(Y, t) (given dM/dt = A_t M, proved by
    GRF-MAP) with Y_1 = x and Y_0 = reverse(x); T(reverse(x)) = x."""
    fn = reverse_fn or reverse_formula
    P, B, S0, S1, m0, m1, x = factor_setting()
    proof = FailFastProof()
    z = sp.Matrix(fn(P, (W1, W2), m0, m1, x))
    M1 = flow_matrix_formula(P, (W1, W2), 1)
    proof.identity("T(reverse(x)) = x", lambda: (m1 + M1 * (z - m0) - x).applyfunc(sp.cancel))
    # the backward path Y_t = m_t + N_t K, K = M_1^-1 (x - m1), for ANY N with dN/dt = A_t N (GRF-MAP proves
    # that M_t is one): dY/dt - v(Y, t) = (dN/dt - A_t N) K, an identity over generic functions n_ij(t), a_ij(t)
    N = sp.Matrix(2, 2, lambda i, j: sp.Function(f"n{i}{j}")(T))
    A = sp.Matrix(2, 2, lambda i, j: sp.Function(f"a{i}{j}")(T))
    K = sp.Matrix(sp.symbols("k1 k2", real=True))
    Y = (1 - T) * m0 + T * m1 + N * K
    b = (m1 - m0) - A * ((1 - T) * m0 + T * m1)
    proof.identity("backward path: dY/dt - v(Y, t) = (dN/dt - A_t N) K",
                   lambda: sp.expand(Y.diff(T) - (A * Y + b) - (N.diff(T) - A * N) * K))
    M1_inv = inv(M1)
    proof.identity("Y_1 = x (N_1 = M_1, K = M_1^-1 (x - m1))", lambda: (m1 + M1 * M1_inv * (x - m1) - x).applyfunc(sp.cancel))
    proof.identity("Y_0 = reverse(x) (N_0 = I)", lambda: (m0 + M1_inv * (x - m1) - z).applyfunc(sp.cancel))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# GRF-STRAIGHTNESS-IDENTITY
# ---------------------------------------------------------------------------------------------


def prove_straightness(per_direction=None) -> dict:
    """Per direction (B-eigenvalue w^2, unit weight): K = int_0^1 d_t^2/g_t dt = 1 + w^2 - (pi/2) w via the antiderivative
    F(t) = (1 + w^2) t - w atan(((1 + w^2) t - 1)/w); straightness int_0^1 (w - 1 - d_t/sqrt(g_t))^2 dt
    = (w - 1)^2 - 2 (w - 1)[sqrt g]_0^1 + K = (2 - pi/2) w; S + cost = K <= 1 + w^2. Matrix reduction: with
    weights omega_i = (P^T P)_ii, tr Sigma0 = sum omega_i, tr Sigma1 = sum omega_i w_i^2, tr(C_t Sigma_t^-1 C_t) =
    sum omega_i d_i^2/g_i, tr(M_1 Sigma0) = tr(P B^{1/2} P^T) = sum omega_i w_i, and X = P B^{1/2} P^T solves
    X Sigma0^-1 X = Sigma1 (so X = Sigma0 # Sigma1, the unique PSD solution)."""
    fn = per_direction or straightness_per_direction
    proof = FailFastProof()
    g = (1 - T) ** 2 + T ** 2 * W ** 2
    d = T * W ** 2 - (1 - T)
    F = (1 + W ** 2) * T - W * sp.atan(((1 + W ** 2) * T - 1) / W)
    proof.identity("F'(t) = d_t^2/g_t", lambda: sp.diff(F, T) - d ** 2 / g)
    atan_sum = sp.atan(W) + sp.atan(1 / W)
    proof.identity("d/dw [atan w + atan 1/w] = 0", lambda: sp.diff(atan_sum, W))
    proof.step("atan 1 + atan 1 = pi/2", lambda: sp.simplify(atan_sum.subs(W, 1) - sp.pi / 2) == 0)
    kinetic = 1 + W ** 2 - sp.pi / 2 * W
    proof.identity("F(1) - F(0) = 1 + w^2 - w (atan w + atan 1/w) = 1 + w^2 - (pi/2) w",
                   lambda: (F.subs(T, 1) - F.subs(T, 0)) - (1 + W ** 2 - W * atan_sum))
    proof.identity("(sqrt g)' = d/sqrt g", lambda: sp.diff(sp.sqrt(g), T) - d / sp.sqrt(g))
    proof.identity("[sqrt g]_0^1 = w - 1", lambda: sp.sqrt(g).subs(T, 1) - sp.sqrt(g).subs(T, 0) - (W - 1))
    straight = (W - 1) ** 2 - 2 * (W - 1) * (W - 1) + kinetic
    proof.identity("straightness = (W-1)^2 - 2(W-1)^2 + K equals the claim", lambda: straight - fn(W))
    proof.identity("S + E||Z1 - Z0||^2 = K", lambda: fn(W) + (W - 1) ** 2 - kinetic)
    proof.sign("K <= E||X1 - X0||^2 = 1 + w^2", "nonnegative", lambda: (1 + W ** 2) - kinetic)
    proof.sign("S > 0", "positive", lambda: fn(W))
    # matrix reduction in the factor setting
    P, B, S0, S1, *_ = factor_setting()
    omega = [(P.T * P)[i, i] for i in range(2)]
    ws = (W1, W2)
    proof.identity("tr Sigma0 = sum omega_i, tr Sigma1 = sum omega_i w_i^2", lambda: sp.Matrix(
        [S0.trace() - sum(omega), S1.trace() - sum(o * wi ** 2 for o, wi in zip(omega, ws))]))
    proof.identity("tr(C_t Sigma_t^-1 C_t) = sum omega_i d_i^2/g_i", lambda: sp.cancel(
        (toolkit_velocity_matrix() * (T * S1 - (1 - T) * S0)).trace()
        - sum(o * (T * wi ** 2 - (1 - T)) ** 2 / ((1 - T) ** 2 + T ** 2 * wi ** 2) for o, wi in zip(omega, ws))))
    root_term = P * sp.diag(W1, W2) * P.T
    proof.identity("tr(M_1 Sigma0) = tr(P B^1/2 P^T) = sum omega_i w_i", lambda: sp.cancel(
        (flow_matrix_formula(P, ws, 1) * S0).trace() - root_term.trace()) + sp.expand(
        root_term.trace() - sum(o * wi for o, wi in zip(omega, ws))))
    proof.identity("P B^1/2 P^T solves X Sigma0^-1 X = Sigma1 (geometric mean)",
                   lambda: (root_term * inv(S0) * root_term - S1).applyfunc(sp.cancel))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# GRF-NONCOMMUTING-NOT-OT
# ---------------------------------------------------------------------------------------------


def not_ot_map_formula(P, Q):
    """M_1 = P Q P^-1 for Sigma0 = P^2 (P the symmetric PD root) and B^{1/2} = Q (Sigma1 = P Q^2 P)."""
    return P * Q * inv(P)


def prove_not_ot(map_fn=None) -> dict:
    """With Sigma0 = P^2 (P symmetric, the PD root) and B^{1/2} = Q symmetric (Sigma1 = P Q^2 P): the 1-RF map
    M_1 = P Q P^-1 pushes Sigma0 to Sigma1; M_1 - M_1^T = P^-1 [P^2, Q] P^-1; [Sigma0, Sigma1] = P [P^2, Q^2] P.
    As Q = (Q^2)^{1/2} is a polynomial in Q^2, [P^2, Q] = 0 iff [P^2, Q^2] = 0: M_1 symmetric iff the covariances
    commute. The Brenier map is the unique symmetric PSD push-forward, so a non-commuting pair has cost > W2^2;
    an explicit rational non-commuting pair with M_1 != M_1^T shows the case occurs."""
    p, q, r = sp.symbols("p q r", real=True)
    u, v, w = sp.symbols("u v w", real=True)
    P = sp.Matrix([[p, q], [q, r]])
    Q = sp.Matrix([[u, v], [v, w]])
    fn = map_fn or not_ot_map_formula
    M = sp.Matrix(fn(P, Q))
    S0, S1 = P * P, P * Q * Q * P
    proof = FailFastProof()
    proof.identity("M_1 Sigma0 M_1^T = Sigma1", lambda: (M * S0 * M.T - S1).applyfunc(sp.cancel))
    proof.identity("M_1 - M_1^T = P^-1 [P^2, Q] P^-1",
                   lambda: (M - M.T - inv(P) * (P * P * Q - Q * P * P) * inv(P)).applyfunc(sp.cancel))
    proof.identity("[Sigma0, Sigma1] = P [P^2, Q^2] P", lambda: (S0 * S1 - S1 * S0 - P * (P * P * Q * Q - Q * Q * P * P) * P))
    point = {p: 2, q: 1, r: 3, u: 1, v: 1, w: 4}
    proof.step("a non-commuting example has M_1 != M_1^T",
               lambda: (S0 * S1 - S1 * S0).subs(point) != sp.zeros(2) and (M - M.T).subs(point) != sp.zeros(2))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# REFLOW-POPULATION-FIXED-POINT
# ---------------------------------------------------------------------------------------------


def prove_reflow_fixed_point(velocity_fn=None) -> dict:
    """Exact pairs (z, M z + c), M = P diag(w1, w2) P^-1 (the 1-RF map's form, w_i > 0): L_t = (1-t) I + t M has
    det = prod((1-t) + t w_i) > 0 (t = tau/(1+tau)), X_t = L_t z + t c determines z, so E[Y | X_t] = Y = (M - I) z + c;
    the claimed v2 equals it at X_t, the 2-RF flow is the straight line Z_t = L_t z + t c (zero straightness integrand)
    and ends at M z + c: the same coupling (fixed point)."""
    fn = velocity_fn or straight_velocity_formula
    P, *_ = factor_setting()
    M = P * sp.diag(W1, W2) * inv(P)
    c, z = symbolic_vector("c"), symbolic_vector("z")
    eye = sp.eye(2)
    L = (1 - T) * eye + T * M
    proof = FailFastProof()
    proof.identity("det L_t = prod((1-t) + t w_i)", lambda: sp.cancel(L.det() - ((1 - T) + T * W1) * ((1 - T) + T * W2)))
    proof.sign("det L_t > 0 on [0, 1]", "positive",
               lambda: (((1 - T) + T * W1) * ((1 - T) + T * W2)).subs(T, TAU / (1 + TAU)))
    Zt = L * z + T * c
    v = sp.Matrix(fn(M, c, Zt, T))
    proof.identity("v2(X_t, t) = E[Y | X_t] = (M - I) z + c", lambda: (v - ((M - eye) * z + c)).applyfunc(sp.cancel))
    proof.identity("dZ_t/dt = v2(Z_t, t) (straight 2-RF flow)", lambda: (Zt.diff(T) - v).applyfunc(sp.cancel))
    proof.identity("straightness integrand (Z1 - Z0) - v2(Z_t, t) = 0",
                   lambda: ((Zt.subs(T, 1) - z) - v).applyfunc(sp.cancel))
    proof.identity("Z_1 = T(z): the coupling is reproduced", lambda: Zt.subs(T, 1) - (M * z + c))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# REFLOW-SHRINKAGE
# ---------------------------------------------------------------------------------------------


def prove_shrinkage(eigen_map=None) -> dict:
    """Per eigenvalue lam (noise variance 1, t in (0, 1)): the 1-RF velocity coefficient (t lam - (1-t))/(t^2 lam + (1-t)^2)
    gives the clean predictor x + (1-t) v = W x/t with W = lam/(lam + sigma_t^2), sigma_t = (1-t)/t; W minimises the
    x1-prediction loss (1 - W)^2 lam + W^2 sigma_t^2 (= E(X1 - W X1)^2 + sigma_t^2 W^2: ridge); one prediction step
    from a re-noised point gives variance W^2 (lam + sigma_t^2) = the claimed map = f(lam) of the DAE recursion."""
    fn = eigen_map or shrinkage_map
    proof = FailFastProof()
    s2 = ((1 - T) / T) ** 2
    vel = (T * LAM - (1 - T)) / (T ** 2 * LAM + (1 - T) ** 2)
    Wt = LAM / (LAM + s2)
    proof.identity("x + (1-t) v(x, t) = W*(lam, sigma_t^2) x/t",
                   lambda: (1 + (1 - T) * vel) - clean_predictor_gain(LAM, T))
    proof.identity("W*(lam, sigma_t^2)/t is the predictor gain", lambda: Wt / T - clean_predictor_gain(LAM, T))
    Wsym = sp.Symbol("W", real=True)
    loss = (1 - Wsym) ** 2 * LAM + Wsym ** 2 * s2
    proof.identity("x1-prediction loss at time t = DAE loss at sigma_t^2",
                   lambda: sp.expand(((1 - Wsym) ** 2 * LAM + Wsym ** 2 * (1 - T) ** 2 / T ** 2) - loss))
    proof.identity("W* is its stationary point", lambda: sp.diff(loss, Wsym).subs(Wsym, Wt))
    proof.identity("one prediction step from a re-noised point: W^2 (lam + sigma_t^2) = claimed map",
                   lambda: Wt ** 2 * (LAM + s2) - fn(LAM, T))
    proof.identity("claimed map = DAE renoise map f(lam) at sigma2 = sigma_t^2",
                   lambda: fn(LAM, T) - renoise_map(LAM, s2))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# RA-REFLOW-BOUNDED
# ---------------------------------------------------------------------------------------------


def ra_stationary_formula(scatter, n, a):
    alpha = a / n
    return scatter / ((n - 1) - (1 - alpha) * (n - 1) - (1 - alpha) ** 2 / (2 - alpha))


def ra_d_recursion(D, sigma, n, a):
    """D_{k+1} = (1 - alpha)^2 (D_k + E Sigma_k/(n - a)), alpha = a/n: the mean-offset second moment of estimated RA."""
    return (1 - a / n) ** 2 * (D + sigma / (n - a))


def ra_sigma_recursion(D, sigma, sc, n, a):
    """E Sigma_{k+1} = [Sc + (n - a)(n - 1)/n E Sigma_k + (a (n - a)/n) D_k]/(n - 1)."""
    return (sc + (n - a) * (n - 1) / n * sigma + a * (n - a) / n * D) / (n - 1)


def prove_ra_stationary(stationary_fn=None, d_recursion=None) -> dict:
    """The fixed point of E Sigma_{k+1} = [Sc + (n-a)(n-1)/n E Sigma_k + (a(n-a)/n) D_k]/(n-1),
    D_{k+1} = (1-alpha)^2 (D_k + E Sigma_k/(n-a)) (D_k = E (r - m_k)(r - m_k)^T, alpha = a/n) is the claimed Sigma_inf
    (per direction: the recursion acts on multiples of Sc), and the one-dimensional pooled-scatter identity behind the
    Loewner bound: sum_i (x_i - xbar)^2 = sum_real (r_i - rbar)^2 + sum_synth (y_j - ybar)^2 + (a b/n)(rbar - ybar)^2.
    The fixed point is derived: sympy solves D = d_recursion(D, Sigma) for D (one solution, compared with
    D_inf = (1-alpha)^2 Sigma/((n-a)(1-(1-alpha)^2))), then Sigma = sigma_recursion(D_inf(Sigma), Sigma) for Sigma (one
    solution, compared with the claimed ``stationary_fn(Sc, n, a)``). ``d_recursion`` replaces :func:`ra_d_recursion`
    (tests: a wrong recursion fails the "D fixed point" step)."""
    fn = stationary_fn or ra_stationary_formula
    d_next = d_recursion or ra_d_recursion
    n, a, sc = sp.symbols("n a Sc", positive=True)
    D_sym, S_sym = sp.symbols("D Sigma", positive=True)
    proof = FailFastProof()
    alpha = a / n
    D_claimed = (1 - alpha) ** 2 * S_sym / ((n - a) * (1 - (1 - alpha) ** 2))

    def solve_one(equation, unknown):
        roots = sp.solve(equation, unknown)
        if len(roots) != 1:
            raise ValueError(f"{len(roots)} solutions for {unknown}: {roots}")
        return roots[0]

    proof.identity("D fixed point", lambda: solve_one(D_sym - d_next(D_sym, S_sym, n, a), D_sym) - D_claimed)
    proof.identity("Sigma fixed point", lambda: solve_one(
        S_sym - ra_sigma_recursion(D_claimed, S_sym, sc, n, a), S_sym) - fn(sc, n, a))
    r = sp.symbols("r1:3", real=True)
    y = sp.symbols("y1:4", real=True)
    pts = list(r) + list(y)
    mean = sum(pts) / 5
    rbar, ybar = sum(r) / 2, sum(y) / 3
    proof.identity("pooled scatter = real scatter + synthetic scatter + between term", lambda: sp.expand(
        sum((p_ - mean) ** 2 for p_ in pts) - sum((p_ - rbar) ** 2 for p_ in r) - sum((p_ - ybar) ** 2 for p_ in y)
        - sp.Rational(2 * 3, 5) * (rbar - ybar) ** 2))
    return proof.result()


# ---------------------------------------------------------------------------------------------
# REFLOW-ESTIMATED-DRIFT
# ---------------------------------------------------------------------------------------------


N_SAMPLES = sp.Symbol("n", positive=True)


def log_det_drift_formula(n, d):
    """Per-round E log det Sigma_hat - log det Sigma = sum_{i=1}^d [psi((n - i)/2) + log(2/(n - 1))] (divisor n - 1)."""
    return sum(sp.polygamma(0, (n - i) / 2) + sp.log(2 / (n - 1)) for i in range(1, d + 1))


def mean_error_formula(k, tr, n):
    """E||m_k - m*||^2 = (k + 1) tr Sigma*/n after rounds 0..k of estimated plain Reflow (divisor n - 1)."""
    return (k + 1) * tr / n


def bartlett_dof(N, i):
    """Degrees of freedom of the i-th Bartlett factor of Wishart_d(I, N): log det W = sum_i log chi^2_{N - i + 1}."""
    return N - i + 1


DRIFT_FORMULAS = {"log_det_drift": log_det_drift_formula, "mean_error": mean_error_formula,
                  "bartlett_dof": bartlett_dof}
"""The formulas :func:`prove_log_det_drift` proves; a candidate dict overrides any of them."""


def gaussian_moment(expr, variables):
    """E expr for independent standard normal ``variables`` (expr a polynomial in them): each monomial
    prod v^p_v -> prod (p_v - 1)!! for even p_v, 0 if some p_v is odd."""
    poly = sp.Poly(sp.expand(expr), *variables)
    total = sp.Integer(0)
    for monom, coeff in poly.terms():
        if any(p % 2 for p in monom):
            continue
        total += coeff * sp.Mul(*[sp.factorial2(p - 1) for p in monom])
    return sp.expand(total)


def chi2_moment(dof: int, power: int) -> int:
    """E (chi^2_dof)^power = dof (dof + 2) ... (dof + 2 (power - 1))."""
    out = 1
    for j in range(power):
        out *= dof + 2 * j
    return out


def _determinant(rows):
    """Leibniz determinant of a small square matrix of ring elements."""
    total = 0
    for perm in permutations(range(len(rows))):
        inversions = sum(perm[a] > perm[b] for a in range(len(perm)) for b in range(a + 1, len(perm)))
        term = -1 if inversions % 2 else 1
        for r, c in enumerate(perm):
            term = term * rows[r][c]
        total = total + term
    return total


@lru_cache(maxsize=None)
def schur_moments(N: int, given: int, powers: tuple = (1, 2, 3)) -> tuple:
    """((p, E_z[det G(x_1, ..., x_given, z)^p], det G(x_1, ..., x_given)^p) for p in powers): G the Gram matrix of
    fixed symbolic columns x_1..x_given in R^N and z ~ N(0, I_N), exact polynomials of ZZ[x] (sympy ``ring``: fast).
    det G(x_1..x_given, z) = det G(x_1..x_given) s with s = |z|^2 - z^T X (X^T X)^-1 X^T z the Schur complement (the
    squared distance of z from span(x_1..x_given)), so the first entry over the second is E[s^p | x_1..x_given];
    Bartlett's decomposition says it is E (chi^2_{N - given})^p whatever the x_j are."""
    names = [f"x{j}_{i}" for j in range(1, given + 1) for i in range(1, N + 1)] + [f"z{i}" for i in range(1, N + 1)]
    ring, *gens = sp.ring(names, sp.ZZ)
    cols = [gens[j * N:(j + 1) * N] for j in range(given + 1)]
    gram = [[sum((a * b for a, b in zip(u, v)), ring.zero) for v in cols] for u in cols]
    full = _determinant(gram)
    base = _determinant([row[:given] for row in gram[:given]]) if given else ring.one
    out = []
    for power in powers:
        moment: dict = {}
        for monom, coeff in (full ** power).terms():
            z_exp = monom[given * N:]
            if any(e % 2 for e in z_exp):
                continue
            weight = 1
            for e in z_exp:
                weight *= int(sp.factorial2(e - 1))
            key = monom[:given * N] + (0,) * N
            moment[key] = moment.get(key, 0) + coeff * weight
        out.append((power, ring({k: v for k, v in moment.items() if v}), base ** power))
    return tuple(out)


def schur_complement_moment(N: int, power: int):
    """E_y[(|x|^2 |y|^2 - (x.y)^2)^power] - |x|^(2 power) (N - 1)(N + 1)...(N + 2 power - 3) for x in R^N fixed
    (symbolic) and y ~ N(0, I_N): zero iff the power-th moment of the Schur complement s = |y|^2 - (x.y)^2/|x|^2 given x
    is the chi^2_{N-1} moment (N - 1)(N + 1)...(N - 1 + 2 (power - 1)), whatever x is (:func:`schur_moments`)."""
    _p, moment, base = schur_moments(N, 1, (power,))[0]
    return (moment - chi2_moment(N - 1, power) * base).as_expr()


def prove_log_det_drift(formulas=None) -> dict:
    """E log G = psi(a) for G ~ Gamma(a, 1) (sympy integral), so E log chi^2_nu = psi(nu/2) + log 2. Bartlett's
    decomposition, checked for d = 2 and d = 3: W = X^T X (X an N x d standard normal matrix, columns x, y, z) has
    det W = |x|^2 s2 s3 with s2 = det G(x, y)/|x|^2 and s3 = det G(x, y, z)/det G(x, y) (G the Gram matrix; Schur
    complements: squared distances of y from span(x), of z from span(x, y)), |x|^2 ~ chi^2_N, and the first three
    moments of s2 given x and of s3 given (x, y) are exactly those of chi^2_{N-1} and chi^2_{N-2} whatever the fixed
    columns are (Gaussian moments of polynomials, N = 3, 4; :func:`schur_moments`), so
    log det W = log chi^2_N + log chi^2_{N-1} + log chi^2_{N-2} (independent; Bartlett: log det Wishart_d(I, N) =
    sum_{i=1}^d log chi^2_{N-i+1}, the degrees ``bartlett_dof(N, i)`` of the formulas). With N = n - 1 and the divisor
    n - 1 the per-round drift is sum_i [psi(bartlett_dof(n - 1, i)/2) + log 2] - d log(n - 1), checked against the
    claimed ``log_det_drift(n, d)`` for d = 1, 2, 3.
    The mean's increments m_j - m_{j-1} have E[. | past] = 0 and E[||.||^2 | past] = tr Sigma_{j-1}/n with
    E tr Sigma_{j-1} = tr Sigma* (unbiased refits), so E||m_k - m*||^2 = sum_{j=0}^{k} tr Sigma*/n, checked against
    the claimed ``mean_error(k, tr, n)``."""
    fns = {**DRIFT_FORMULAS, **(formulas or {})}
    proof = FailFastProof()
    x = sp.Symbol("x", positive=True)
    a = sp.Symbol("a", positive=True)

    def gamma_log_moment():
        value = sp.integrate(sp.log(x) * x ** (a - 1) * sp.exp(-x), (x, 0, sp.oo))
        return sp.simplify(value / sp.gamma(a) - sp.polygamma(0, a)) == 0

    proof.step("E log Gamma(a, 1) = psi(a)", gamma_log_moment)
    dof = fns["bartlett_dof"]
    for N in (3, 4):
        for power in (1, 2, 3):
            proof.identity(f"Bartlett d = 2: Schur complement moment {power} is chi^2_(N-1)'s, N = {N}",
                           lambda N=N, power=power: (schur_moments(N, 1)[power - 1][1]
                                                     - chi2_moment(dof(N, 2), power) * schur_moments(N, 1)[power - 1][2]
                                                     ).as_expr())
    proof.identity("Bartlett d = 3: second Schur complement moments 1-3 are chi^2_(N-2)'s, N = 3, 4",
                   lambda: sp.Matrix([(moment - chi2_moment(dof(N, 3), p) * base).as_expr()
                                      for N in (3, 4) for p, moment, base in schur_moments(N, 2)]))
    for d in (1, 2, 3):
        bartlett = sum(sp.polygamma(0, dof(N_SAMPLES - 1, i) / 2) + sp.log(2) for i in range(1, d + 1))
        bartlett = bartlett - d * sp.log(N_SAMPLES - 1)
        proof.identity(f"per-round drift, d = {d}", lambda b=bartlett, d=d: sp.expand_log(
            sp.expand(b - fns["log_det_drift"](N_SAMPLES, d)), force=True))
    k, j = sp.symbols("k j", integer=True, nonnegative=True)
    tr = sp.Symbol("trS", positive=True)
    proof.identity("E||m_k - m*||^2 = (k + 1) tr Sigma*/n",
                   lambda: sp.summation(tr / N_SAMPLES, (j, 0, k)) - fns["mean_error"](k, tr, N_SAMPLES))
    return proof.result()
