"""Symbolic tier: the paper's DAE claims C-collapse and C-real derived from the toolkit theorems DAE-COLLAPSE-RATE and
DAE-REAL-FIXED-POINT (symbols and formulas from :mod:`.dae`, engine :mod:`.engine`)."""

from __future__ import annotations

import sympy as sp

from .dae import gain, K, LAM0, LAM_STAR, SIGMA2, T_ALPHA
from .engine import Proof

# ---------------------------------------------------------------------------------------------
# Paper claims C-collapse and C-real
# ---------------------------------------------------------------------------------------------

def prove_paper_collapse(params: dict | None = None) -> dict:
    """C-collapse from DAE-COLLAPSE-RATE. ``params`` may replace ``sigma2`` (default a positive symbol), the rate
    ``rate(lam0, sigma2)`` (default rho0 = g(lam0) = lam0/(lam0 + sigma2)) and the bound ``bound(rho0, k)`` on the
    composed map ||W_k...W_0|| (default rho0^(k+1)). Steps, each an exact statement that fails if its formula is
    wrong: 1 - rho0 = sigma2/(lam0 + sigma2) (identity) > 0; bound(rho0, 0) = rho0 = ||W_0|| at most (round 0 has one
    gain); bound(rho0, k+1)/bound(rho0, k) = rho0 (geometric); lim_k bound = 0 (computed with rho0 = 1/(1 + y),
    y = sigma2/lam0)."""
    params = params or {}
    proof = Proof()
    s2 = params.get("sigma2", SIGMA2)
    lam0 = LAM0
    rho0 = params.get("rate", gain)(lam0, s2)
    bound = params.get("bound", lambda rho, k: rho ** (k + 1))
    proof.identity("one_minus_rate", lambda: 1 - rho0 - s2 / (lam0 + s2))
    proof.sign("rho0_below_one", "positive", lambda: s2 / (lam0 + s2))
    proof.identity("bound_at_round_0_is_one_gain", lambda: bound(rho0, sp.Integer(0)) - rho0)
    proof.identity("geometric_ratio", lambda: bound(rho0, K + 1) / bound(rho0, K) - rho0)
    y = sp.Symbol("y", positive=True)

    def limit_zero():
        base = sp.simplify(rho0.subs(lam0, s2 / y)) if s2 != 0 else sp.simplify(rho0)
        return sp.limit(bound(base, K), K, sp.oo) == 0

    proof.step("composed_norm_bound_to_zero", limit_zero)
    return proof.result()


def prove_paper_real(params: dict | None = None) -> dict:
    """C-real from DAE-REAL-FIXED-POINT (i). ``params`` may replace ``alpha`` (default alpha = 1/(1+t), t >= 0, i.e.
    alpha in (0, 1]), ``sigma2`` and the lower bound ``bound(alpha, lam*, sigma2)`` (default
    b = g(alpha lam*) = alpha lam*/(alpha lam* + sigma2)). Steps: b > 0 and independent of k; and for every
    lam_k >= 0 the exact excess ||W_k|| - b = g(alpha lam* + (1 - alpha) lam_k) - b
    = sigma2 (1 - alpha) lam_k / ((alpha lam* + (1 - alpha) lam_k + sigma2)(alpha lam* + sigma2)) (an identity, so a
    wrong bound fails it) is >= 0: the operator norm stays bounded away from 0."""
    params = params or {}
    proof = Proof()
    a = params.get("alpha", 1 / (1 + T_ALPHA))
    s2 = params.get("sigma2", SIGMA2)
    lam = LAM_STAR
    bound = params.get("bound", lambda al, lm, v: gain(al * lm, v))(a, lam, s2)
    proof.sign("bound_positive", "positive", lambda: bound)
    proof.step("bound_uniform_in_k", lambda: not bound.has(K))
    lam_k = sp.Symbol("lam_k", nonnegative=True)
    excess = s2 * (1 - a) * lam_k / ((a * lam + (1 - a) * lam_k + s2) * (a * lam + s2))
    proof.identity("op_norm_excess_closed_form", lambda: gain(a * lam + (1 - a) * lam_k, s2) - bound - excess)
    proof.sign("op_norm_above_bound", "nonnegative", lambda: excess)
    return proof.result()
