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
    """C-collapse from DAE-COLLAPSE-RATE. With rho0 = lam0/(lam0 + sigma2) (sigma2 from ``params``, default a
    positive symbol): rho0 < 1, and the formalised bound ||W_k...W_0|| <= rho0^(k+1) decays geometrically:
    ratio of consecutive bounds = rho0 < 1 and lim_k rho0^k = 0 (computed with rho0 = 1/(1 + y), y = sigma2/lam0)."""
    params = params or {}
    proof = Proof()
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
    proof = Proof()
    a = params.get("alpha", 1 / (1 + T_ALPHA))
    s2 = params.get("sigma2", SIGMA2)
    lam = LAM_STAR
    bound = gain(a * lam, s2)
    proof.sign("bound_positive", "positive", lambda: bound)
    proof.step("bound_uniform_in_k", lambda: not bound.has(K))
    lam_k = sp.Symbol("lam_k", nonnegative=True)
    proof.sign("op_norm_above_bound", "nonnegative", lambda: gain(a * lam + (1 - a) * lam_k, s2) - bound)
    return proof.result()
