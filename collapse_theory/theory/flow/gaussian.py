"""Closed forms of Gaussian rectified flow (numpy + scipy only; never torch).

Convention (:mod:`.conventions`): noise X0 ~ N(m0, Sigma0) at t = 0, data X1 ~ N(m1, Sigma1) at t = 1,
independent (the 1-RF coupling), X_t = t X1 + (1 - t) X0. Write Delta = m1 - m0.

Marginal and velocity (1-RF)::

    m_t     = (1 - t) m0 + t m1
    Sigma_t = (1 - t)^2 Sigma0 + t^2 Sigma1                  (= Cov X_t)
    C_t     = t Sigma1 - (1 - t) Sigma0                       (= Cov(X1 - X0, X_t) = (d/dt Sigma_t) / 2)
    v(x, t) = E[X1 - X0 | X_t = x] = Delta + C_t Sigma_t^+ (x - m_t) =: A_t x + b_t

(Sigma_t^+ the Moore-Penrose inverse: the Gaussian conditional expectation; Sigma_t is invertible for
t in (0, 1) whenever Sigma0 + Sigma1 is, and at t = 0 when Sigma0 is.)

Flow map. Z_t = M_t (Z_0 - m0) + m_t, i.e. Z_t = M_t Z_0 + c_t with c_t = m_t - M_t m0, where
dM/dt = A_t M, M_0 = I. For Sigma0 positive definite (PD) this has a closed form for *every* Sigma1
(derived in docs/derivations/gaussian-flow.md section 2, for commuting and non-commuting pairs):

    B   = Sigma0^{-1/2} Sigma1 Sigma0^{-1/2},   G_t = (1 - t)^2 I + t^2 B
    M_t = Sigma0^{1/2} G_t^{1/2} Sigma0^{-1/2}

because Sigma_t = Sigma0^{1/2} G_t Sigma0^{1/2}, C_t = Sigma0^{1/2} D_t Sigma0^{1/2} with D_t = t B - (1 - t) I,
so A_t = Sigma0^{1/2} D_t G_t^{-1} Sigma0^{-1/2}, and D_t G_t^{-1} = d/dt log G_t^{1/2} is a function of B alone
(all times commute). When Sigma0 and Sigma1 commute, M_t = Sigma_t^{1/2} Sigma0^{-1/2} (the commuting form).
M_1 = Sigma0^{1/2} B^{1/2} Sigma0^{-1/2} is similar to B^{1/2}; it is symmetric -- hence the Brenier
(optimal transport) map -- if and only if Sigma0 and Sigma1 commute.

Energies (Sigma0 PD; A # B = A^{1/2} (A^{-1/2} B A^{-1/2})^{1/2} A^{1/2} the matrix geometric mean):

    transport cost   E||T(X0) - X0||^2 = ||Delta||^2 + tr Sigma0 + tr Sigma1 - 2 tr(Sigma0 # Sigma1)
    kinetic energy   K = int_0^1 E||v(X_t, t)||^2 dt = ||Delta||^2 + tr Sigma0 + tr Sigma1 - (pi/2) tr(Sigma0 # Sigma1)
    straightness     S = int_0^1 E||(Z1 - Z0) - v(Z_t, t)||^2 dt = (2 - pi/2) tr(Sigma0 # Sigma1)
    identity         S + E||Z1 - Z0||^2 = K <= E||X1 - X0||^2 = ||Delta||^2 + tr Sigma0 + tr Sigma1

(per eigenvalue beta of B: int_0^1 (t beta - (1 - t))^2 / ((1 - t)^2 + t^2 beta) dt = 1 + beta - (pi/2) sqrt(beta)).
W2^2 = ||Delta||^2 + tr Sigma0 + tr Sigma1 - 2 tr (Sigma0^{1/2} Sigma1 Sigma0^{1/2})^{1/2} <= the transport cost,
with equality iff Sigma0 and Sigma1 commute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from ..conventions import check_time
from ..spectral import gaussian_w2, psd_sqrt
from ...validation import as_float_array, check_psd_matrix

EPS = np.finfo(float).eps
ODE_RTOL = 1e-10
"""Relative tolerance of every scipy ``solve_ivp`` integration here (docs/derivations/tolerances.md section 2)."""
ODE_ATOL = 1e-12
QUAD_EPSREL = 1e-11
"""Relative tolerance of the ``scipy.integrate.quad`` quadratures (kinetic energy, straightness)."""
FLOW_METHODS = ("auto", "commuting", "closed", "ode")


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class GaussianEndpoints:
    """Noise law N(m0, cov0) at t = 0 and data law N(m1, cov1) at t = 1 (independent coupling).

    Validated on construction: means 1-D of length d, covariances symmetric PSD d x d, all finite.
    Bad input raises ValueError whose message starts with the argument name (m0, cov0, m1, cov1)."""

    m0: np.ndarray
    cov0: np.ndarray
    m1: np.ndarray
    cov1: np.ndarray

    def __post_init__(self):
        m0 = as_float_array(self.m0, "m0")
        m1 = as_float_array(self.m1, "m1")
        for name, m in (("m0", m0), ("m1", m1)):
            if m.ndim != 1:
                raise ValueError(f"{name} must be a 1-D mean vector, got shape {m.shape}")
        cov0 = check_psd_matrix(self.cov0, "cov0")
        cov1 = check_psd_matrix(self.cov1, "cov1")
        if cov0.ndim != 2:
            raise ValueError(f"cov0 must be a single d x d matrix, got shape {cov0.shape}")
        if cov1.ndim != 2:
            raise ValueError(f"cov1 must be a single d x d matrix, got shape {cov1.shape}")
        d = m0.shape[0]
        if cov0.shape != (d, d):
            raise ValueError(f"cov0 must have shape ({d}, {d}) to match m0, got {cov0.shape}")
        if m1.shape != (d,):
            raise ValueError(f"m1 must have length {d} to match m0, got shape {m1.shape}")
        if cov1.shape != (d, d):
            raise ValueError(f"cov1 must have shape ({d}, {d}) to match m0, got {cov1.shape}")
        for name, value in (("m0", m0), ("cov0", cov0), ("m1", m1), ("cov1", cov1)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        return int(self.m0.shape[0])

    @classmethod
    def standard_noise(cls, m1, cov1) -> "GaussianEndpoints":
        """N(0, I) noise to N(m1, cov1) data (the usual rectified-flow setting)."""
        m1 = np.asarray(m1, dtype=float)
        d = m1.shape[-1] if m1.ndim else 1
        return cls(np.zeros(d), np.eye(d), m1, cov1)

    @property
    def mean_gap(self) -> np.ndarray:
        """Delta = m1 - m0."""
        return self.m1 - self.m0


def _check_ends(ends) -> GaussianEndpoints:
    if not isinstance(ends, GaussianEndpoints):
        raise ValueError(f"ends must be a GaussianEndpoints, got {type(ends).__name__}")
    return ends


def _check_scalar_time(t, name: str = "t") -> float:
    arr = check_time(t, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar in [0, 1], got shape {arr.shape}")
    return float(arr)


def _pd_tolerance(cov: np.ndarray) -> float:
    return 1e3 * cov.shape[-1] * EPS * max(float(np.max(np.abs(cov))), np.finfo(float).tiny)


def _require_pd(cov: np.ndarray, name: str, purpose: str) -> None:
    if float(np.linalg.eigvalsh(cov).min()) <= _pd_tolerance(cov):
        raise ValueError(f"{name} must be positive definite {purpose}, smallest eigenvalue "
                         f"{float(np.linalg.eigvalsh(cov).min()):.3g}")


def _sym(M: np.ndarray) -> np.ndarray:
    return 0.5 * (M + np.swapaxes(M, -1, -2))


def psd_inverse_sqrt(cov) -> np.ndarray:
    """S^{-1/2} of a PD matrix (batched) via eigh."""
    lam, U = np.linalg.eigh(cov)
    return (U / np.sqrt(lam)[..., None, :]) @ np.swapaxes(U, -1, -2)


def psd_pinv(cov, rcond: float | None = None) -> np.ndarray:
    """Moore-Penrose inverse of a symmetric PSD matrix via eigh; eigenvalues below rcond * max are dropped
    (default rcond = 1e3 d eps, the float64 noise level of a computed PSD matrix)."""
    cov = np.asarray(cov, dtype=float)
    lam, U = np.linalg.eigh(cov)
    cut = (1e3 * cov.shape[-1] * EPS if rcond is None else rcond) * np.max(np.abs(lam), axis=-1, keepdims=True)
    inv = np.where(lam > cut, 1.0 / np.where(lam > cut, lam, 1.0), 0.0)
    return (U * inv[..., None, :]) @ np.swapaxes(U, -1, -2)


def geometric_mean(cov_a, cov_b) -> np.ndarray:
    """Matrix geometric mean A # B = A^{1/2} (A^{-1/2} B A^{-1/2})^{1/2} A^{1/2} (A PD, B PSD; batched).

    It is the unique PSD X with X A^{-1} X = B, symmetric in A and B, and equals A^{1/2} B^{1/2} when they commute."""
    root = psd_sqrt(cov_a)
    inv_root = psd_inverse_sqrt(cov_a)
    inner = _sym(inv_root @ cov_b @ inv_root)
    return _sym(root @ psd_sqrt(inner) @ root)


def commutator_norm(ends: GaussianEndpoints) -> float:
    """||Sigma0 Sigma1 - Sigma1 Sigma0||_F / (||Sigma0||_F ||Sigma1||_F) (0 for commuting covariances)."""
    ends = _check_ends(ends)
    scale = np.linalg.norm(ends.cov0) * np.linalg.norm(ends.cov1)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(ends.cov0 @ ends.cov1 - ends.cov1 @ ends.cov0) / scale)


def covariances_commute(ends: GaussianEndpoints) -> bool:
    """True when the relative commutator is at float-rounding level (<= 64 d eps)."""
    return commutator_norm(ends) <= 64 * ends.dim * EPS


# ---------------------------------------------------------------------------------------------
# Marginal and velocity
# ---------------------------------------------------------------------------------------------

def marginal(ends: GaussianEndpoints, t) -> tuple[np.ndarray, np.ndarray]:
    """Law of X_t = t X1 + (1 - t) X0: mean m_t = (1 - t) m0 + t m1, covariance Sigma_t = (1-t)^2 Sigma0 + t^2 Sigma1."""
    ends = _check_ends(ends)
    t = _check_scalar_time(t)
    return (1 - t) * ends.m0 + t * ends.m1, _sym((1 - t) ** 2 * ends.cov0 + t ** 2 * ends.cov1)


def cross_covariance(ends: GaussianEndpoints, t) -> np.ndarray:
    """C_t = Cov(X1 - X0, X_t) = t Sigma1 - (1 - t) Sigma0 (symmetric; equals (d/dt Sigma_t)/2)."""
    ends = _check_ends(ends)
    t = _check_scalar_time(t)
    return _sym(t * ends.cov1 - (1 - t) * ends.cov0)


def joint_velocity_affine(mean0, mean1, cov00, cov01, cov11, t) -> tuple[np.ndarray, np.ndarray]:
    """Rectified-flow velocity of any jointly Gaussian coupling (X0, X1) with E X0 = mean0, E X1 = mean1,
    Cov X0 = cov00, Cov(X0, X1) = E (X0 - mean0)(X1 - mean1)^T = cov01, Cov X1 = cov11:

        Y = X1 - X0, X_t = t X1 + (1 - t) X0
        Cov X_t      = (1-t)^2 cov00 + t(1-t)(cov01 + cov01^T) + t^2 cov11
        Cov(Y, X_t)  = t cov11 - (1-t) cov00 + (1-t) cov01^T - t cov01
        v(x, t) = E[Y | X_t = x] = (mean1 - mean0) + Cov(Y, X_t) (Cov X_t)^+ (x - E X_t) = A x + b.

    The independent coupling is cov01 = 0; a deterministic coupling X1 = M X0 + c has cov01 = cov00 M^T,
    cov11 = M cov00 M^T."""
    t = _check_scalar_time(t)
    mean0, mean1 = np.asarray(mean0, float), np.asarray(mean1, float)
    cov00, cov01, cov11 = (np.asarray(a, float) for a in (cov00, cov01, cov11))
    cov_t = _sym((1 - t) ** 2 * cov00 + t * (1 - t) * (cov01 + cov01.T) + t ** 2 * cov11)
    cross = t * cov11 - (1 - t) * cov00 + (1 - t) * cov01.T - t * cov01
    A = cross @ psd_pinv(cov_t)
    mean_t = (1 - t) * mean0 + t * mean1
    return A, (mean1 - mean0) - A @ mean_t


def velocity_affine(ends: GaussianEndpoints, t) -> tuple[np.ndarray, np.ndarray]:
    """The 1-RF velocity v(x, t) = A_t x + b_t with A_t = C_t Sigma_t^+ and b_t = (m1 - m0) - A_t m_t."""
    ends = _check_ends(ends)
    t = _check_scalar_time(t)
    m_t, cov_t = marginal(ends, t)
    A = cross_covariance(ends, t) @ psd_pinv(cov_t)
    return A, ends.mean_gap - A @ m_t


def _check_points(ends: GaussianEndpoints, x, name: str) -> np.ndarray:
    arr = as_float_array(x, name)
    if arr.ndim == 0 or arr.shape[-1] != ends.dim:
        raise ValueError(f"{name} must have shape (..., {ends.dim}), got shape {arr.shape}")
    return arr


def velocity(ends: GaussianEndpoints, x, t) -> np.ndarray:
    """v(x, t) = E[X1 - X0 | X_t = x] for points x of shape (..., d)."""
    ends = _check_ends(ends)
    x = _check_points(ends, x, "x")
    A, b = velocity_affine(ends, t)
    return x @ A.T + b


# ---------------------------------------------------------------------------------------------
# Flow map
# ---------------------------------------------------------------------------------------------

def _check_method(method: str) -> str:
    if method not in FLOW_METHODS:
        raise ValueError(f"method must be one of {', '.join(FLOW_METHODS)}, got {method!r}")
    return method


def _flow_matrix_commuting(ends: GaussianEndpoints, t: float) -> np.ndarray:
    """M_t = Sigma_t^{1/2} Sigma0^{-1/2} (valid when Sigma0, Sigma1 commute)."""
    _, cov_t = marginal(ends, t)
    return psd_sqrt(cov_t) @ psd_inverse_sqrt(ends.cov0)


def _flow_matrix_closed(ends: GaussianEndpoints, t: float) -> np.ndarray:
    """M_t = Sigma0^{1/2} ((1-t)^2 I + t^2 B)^{1/2} Sigma0^{-1/2}, B = Sigma0^{-1/2} Sigma1 Sigma0^{-1/2} (any Sigma1)."""
    root, inv_root = psd_sqrt(ends.cov0), psd_inverse_sqrt(ends.cov0)
    B = _sym(inv_root @ ends.cov1 @ inv_root)
    G = _sym((1 - t) ** 2 * np.eye(ends.dim) + t ** 2 * B)
    return root @ psd_sqrt(G) @ inv_root


def _flow_matrix_ode(ends: GaussianEndpoints, t: float) -> np.ndarray:
    """Integrate dM/dt = A_t M, M_0 = I with solve_ivp (DOP853, rtol 1e-10, atol 1e-12)."""
    d = ends.dim
    if t == 0.0:
        return np.eye(d)

    def rhs(s, y):
        A, _ = velocity_affine(ends, min(max(s, 0.0), 1.0))
        return (A @ y.reshape(d, d)).ravel()

    sol = integrate.solve_ivp(rhs, (0.0, t), np.eye(d).ravel(), method="DOP853", rtol=ODE_RTOL, atol=ODE_ATOL)
    if not sol.success:  # pragma: no cover - the field is smooth on [0, 1) for PD Sigma0
        raise ArithmeticError(f"solve_ivp failed: {sol.message}")
    return sol.y[:, -1].reshape(d, d)


def flow_affine(ends: GaussianEndpoints, t=1.0, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The 1-RF flow map Z_t = M_t Z_0 + c_t (dZ/dt = v(Z, t), Z at time 0 = Z_0), c_t = m_t - M_t m0.

    method
      ``auto``       the commuting closed form when Sigma0, Sigma1 commute (:func:`covariances_commute`),
                     otherwise the matrix ODE dM/dt = A_t M with scipy solve_ivp (rtol 1e-10)
      ``commuting``  M_t = Sigma_t^{1/2} Sigma0^{-1/2} (only correct when the covariances commute)
      ``closed``     M_t = Sigma0^{1/2} G_t^{1/2} Sigma0^{-1/2}, G_t = (1-t)^2 I + t^2 Sigma0^{-1/2} Sigma1 Sigma0^{-1/2}
                     (exact for every Sigma1; derived in the module docstring)
      ``ode``        always the matrix ODE.
    Requires Sigma0 positive definite (the map starts from a non-degenerate noise law)."""
    ends = _check_ends(ends)
    t = _check_scalar_time(t)
    method = _check_method(method)
    _require_pd(ends.cov0, "cov0", "for the flow map")
    if method == "auto":
        method = "commuting" if covariances_commute(ends) else "ode"
    M = {"commuting": _flow_matrix_commuting, "closed": _flow_matrix_closed, "ode": _flow_matrix_ode}[method](ends, t)
    m_t, _ = marginal(ends, t)
    return M, m_t - M @ ends.m0


def flow_map(ends: GaussianEndpoints, x0, t=1.0, method: str = "auto") -> np.ndarray:
    """Z_t for starting points x0 of shape (..., d): x0 @ M_t^T + c_t."""
    ends = _check_ends(ends)
    x0 = _check_points(ends, x0, "x0")
    M, c = flow_affine(ends, t, method)
    return x0 @ M.T + c


def reverse_affine(ends: GaussianEndpoints, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The reverse flow (integrating dZ/dt = v from t = 1 back to t = 0) is T^{-1}(x) = M_1^{-1}(x - c_1):
    returns (M_1^{-1}, -M_1^{-1} c_1). Requires Sigma1 positive definite (T is then invertible)."""
    ends = _check_ends(ends)
    _require_pd(ends.cov1, "cov1", "for the reverse map")
    M, c = flow_affine(ends, 1.0, method)
    M_inv = np.linalg.inv(M)
    return M_inv, -M_inv @ c


def reverse_map(ends: GaussianEndpoints, x1, method: str = "auto") -> np.ndarray:
    """T^{-1}(x1) for data points x1 of shape (..., d): the endpoint at t = 0 of the flow run backwards from x1."""
    ends = _check_ends(ends)
    x1 = _check_points(ends, x1, "x1")
    M_inv, c_inv = reverse_affine(ends, method)
    return x1 @ M_inv.T + c_inv


def integrate_points(ends: GaussianEndpoints, x, t_start: float, t_end: float, rtol: float = ODE_RTOL,
                     atol: float = ODE_ATOL) -> np.ndarray:
    """Integrate dx/dt = v(x, t) for each point of x (shape (n, d)) from t_start to t_end (either direction)
    with solve_ivp (DOP853). An independent route to :func:`flow_map` / :func:`reverse_map` for the checks."""
    ends = _check_ends(ends)
    x = _check_points(ends, x, "x")
    t_start, t_end = _check_scalar_time(t_start, "t_start"), _check_scalar_time(t_end, "t_end")
    shape = x.shape
    pts = x.reshape(-1, ends.dim)
    if t_start == t_end:
        return x.copy()

    def rhs(s, y):
        A, b = velocity_affine(ends, min(max(s, 0.0), 1.0))
        return (y.reshape(-1, ends.dim) @ A.T + b).ravel()

    sol = integrate.solve_ivp(rhs, (t_start, t_end), pts.ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover
        raise ArithmeticError(f"solve_ivp failed: {sol.message}")
    return sol.y[:, -1].reshape(shape)


# ---------------------------------------------------------------------------------------------
# Optimal transport, costs, energies, straightness
# ---------------------------------------------------------------------------------------------

def ot_map_affine(ends: GaussianEndpoints) -> tuple[np.ndarray, np.ndarray]:
    """Brenier map x -> M x + c from N(m0, Sigma0) to N(m1, Sigma1) (Sigma0 PD):
    M = Sigma0^{-1/2} (Sigma0^{1/2} Sigma1 Sigma0^{1/2})^{1/2} Sigma0^{-1/2} (symmetric PSD), c = m1 - M m0."""
    ends = _check_ends(ends)
    _require_pd(ends.cov0, "cov0", "for the Brenier map")
    root, inv_root = psd_sqrt(ends.cov0), psd_inverse_sqrt(ends.cov0)
    M = _sym(inv_root @ psd_sqrt(_sym(root @ ends.cov1 @ root)) @ inv_root)
    return M, ends.m1 - M @ ends.m0


def w2_distance(ends: GaussianEndpoints) -> float:
    """W2(N(m0, Sigma0), N(m1, Sigma1)) (Bures-Wasserstein; reuses :func:`.spectral.gaussian_w2`)."""
    ends = _check_ends(ends)
    return float(gaussian_w2(ends.cov0, ends.cov1, ends.m0, ends.m1))


def affine_map_cost(ends: GaussianEndpoints, M, c) -> float:
    """E||(M X0 + c) - X0||^2 for X0 ~ N(m0, Sigma0) = ||(M - I) m0 + c||^2 + tr((M - I) Sigma0 (M - I)^T)."""
    ends = _check_ends(ends)
    D = np.asarray(M, float) - np.eye(ends.dim)
    shift = D @ ends.m0 + np.asarray(c, float)
    return float(shift @ shift + np.trace(D @ ends.cov0 @ D.T))


def transport_cost(ends: GaussianEndpoints, method: str = "auto") -> float:
    """E||T(X0) - X0||^2 of the 1-RF map T (= ||Delta||^2 + tr Sigma0 + tr Sigma1 - 2 tr(Sigma0 # Sigma1))."""
    M, c = flow_affine(ends, 1.0, method)
    return affine_map_cost(ends, M, c)


def independent_coupling_cost(ends: GaussianEndpoints) -> float:
    """E||X1 - X0||^2 under the independent coupling = ||Delta||^2 + tr Sigma0 + tr Sigma1."""
    ends = _check_ends(ends)
    return float(ends.mean_gap @ ends.mean_gap + np.trace(ends.cov0) + np.trace(ends.cov1))


def _geometric_trace(ends: GaussianEndpoints) -> float:
    _require_pd(ends.cov0, "cov0", "for the closed-form energies")
    return float(np.trace(geometric_mean(ends.cov0, ends.cov1)))


def kinetic_energy(ends: GaussianEndpoints) -> float:
    """K = int_0^1 E||v(X_t, t)||^2 dt = ||Delta||^2 + tr Sigma0 + tr Sigma1 - (pi/2) tr(Sigma0 # Sigma1) (closed form)."""
    ends = _check_ends(ends)
    return independent_coupling_cost(ends) - 0.5 * np.pi * _geometric_trace(ends)


def straightness(ends: GaussianEndpoints) -> float:
    """S(Z) = int_0^1 E||(Z1 - Z0) - v(Z_t, t)||^2 dt of the 1-RF flow = (2 - pi/2) tr(Sigma0 # Sigma1) (closed form;
    with Sigma0 = I and eigenvalues s_i^2 of Sigma1: (2 - pi/2) sum_i s_i, the per-eigenvalue integral of docs/derivations/gaussian-flow.md section 4)."""
    ends = _check_ends(ends)
    return (2.0 - 0.5 * np.pi) * _geometric_trace(ends)


def kinetic_energy_quadrature(ends: GaussianEndpoints) -> float:
    """int_0^1 (||Delta||^2 + tr(C_t Sigma_t^+ C_t)) dt by scipy.integrate.quad (epsrel 1e-11)."""
    ends = _check_ends(ends)

    def integrand(t):
        _, cov_t = marginal(ends, t)
        C = cross_covariance(ends, t)
        return float(np.trace(C @ psd_pinv(cov_t) @ C))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=0.0, epsrel=QUAD_EPSREL, limit=200)
    return float(ends.mean_gap @ ends.mean_gap + value)


def straightness_quadrature(ends: GaussianEndpoints, method: str = "ode") -> float:
    """The definition evaluated by quadrature: with Z_t = M_t (Z0 - m0) + m_t,
    (Z1 - Z0) - v(Z_t, t) = (M_1 - I - A_t M_t)(Z0 - m0), so S = int_0^1 tr(E_t Sigma0 E_t^T) dt, E_t = M_1 - I - A_t M_t
    (quad, epsrel 1e-11). M_t from ``method``: by default ``ode``, the matrix ODE dM/dt = A_t M integrated once by
    solve_ivp (DOP853, rtol 1e-10) with its dense output (an independent computation of the flow, not the closed form
    whose identity is being checked); any method of :func:`flow_affine` otherwise."""
    ends = _check_ends(ends)
    method = _check_method(method)
    eye = np.eye(ends.dim)
    if method == "ode":
        _require_pd(ends.cov0, "cov0", "for the flow map")
        d = ends.dim

        def rhs(s, y):
            A_s, _ = velocity_affine(ends, min(max(s, 0.0), 1.0))
            return (A_s @ y.reshape(d, d)).ravel()

        sol = integrate.solve_ivp(rhs, (0.0, 1.0), eye.ravel(), method="DOP853", rtol=ODE_RTOL, atol=ODE_ATOL,
                                  dense_output=True)
        if not sol.success:  # pragma: no cover - the field is smooth on [0, 1) for PD Sigma0
            raise ArithmeticError(f"solve_ivp failed: {sol.message}")

        def flow_matrix(t):
            return sol.sol(t).reshape(d, d)
    else:
        def flow_matrix(t):
            return flow_affine(ends, t, method)[0]
    M1 = flow_matrix(1.0)

    def integrand(t):
        A, _ = velocity_affine(ends, t)
        Mt = flow_matrix(t)
        E = M1 - eye - A @ Mt
        return float(np.trace(E @ ends.cov0 @ E.T))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=0.0, epsrel=QUAD_EPSREL, limit=200)
    return float(value)


def straightness_identity(ends: GaussianEndpoints) -> dict[str, float]:
    """The pieces of S + E||Z1 - Z0||^2 = K <= E||X1 - X0||^2 (closed forms) and W2^2 <= E||Z1 - Z0||^2."""
    return {"straightness": straightness(ends), "transport_cost": transport_cost(ends, "closed"),
            "kinetic_energy": kinetic_energy(ends), "independent_cost": independent_coupling_cost(ends),
            "w2_squared": w2_distance(ends) ** 2}


def diagonal_real_law(dim: int, spectrum=None) -> GaussianEndpoints:
    """Noise N(0, I_d) and real data N(0, diag(spectrum)) (the law of ``collapse-theory gaussian-reflow``);
    default spectrum: d values geometrically spaced from 4 to 0.25 (just 4 when d = 1). ValueError naming
    ``spectrum`` unless it holds ``dim`` finite values > 0 (a positive definite real covariance)."""
    if spectrum is None:
        lam = np.geomspace(4.0, 0.25, dim) if dim > 1 else np.array([4.0])
    else:
        lam = as_float_array(spectrum, "spectrum")
        if lam.ndim != 1 or lam.shape[0] != dim:
            raise ValueError(f"spectrum must hold dim = {dim} eigenvalues, got {lam.shape[-1] if lam.ndim else 0}")
        if np.any(lam <= 0):
            raise ValueError("spectrum must be > 0 (a positive definite real covariance)")
    return GaussianEndpoints.standard_noise(np.zeros(dim), np.diag(lam))
