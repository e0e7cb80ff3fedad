"""Law 3: regression chains, replace vs accumulate (claim LAW-REGRESSION-CHAIN; compare: Dohmatob-Feng-Kempe,
arXiv 2402.07712; Gerstgrasser et al., arXiv 2404.01413; Dey-Donoho, arXiv 2410.22812).

A design X (T x d, rows i.i.d. N(0, Sigma), drawn once and kept fixed over the rounds) and a true weight w*.
w_0 = w* (the real labeller). Round n >= 1 labels the design with the previous fit, y_n = X w_{n-1} + eps_n,
eps_n ~ N(0, sigma2 I_T), and refits by least squares:

- ``replace``: w_n = argmin ||y_n - X w||^2 = w_{n-1} + A eps_n, A = (X^T X)^{-1} X^T;
- ``accumulate``: w_n = argmin sum_{j <= n} ||y_j - X w||^2 (all data kept) = (1/n) sum_j (w_{j-1} + A eps_j), i.e.
  e_n = w_n - w* = e_{n-1} + A eps_n / n.

With Cov(A eps) = sigma2 (X^T X)^{-1}, the test error E_x (x^T (w_n - w*))^2 (excess risk, x ~ N(0, Sigma)) given X
is sigma2 tr(Sigma (X^T X)^{-1}) times n (replace) or H2(n) = sum_{i<=n} 1/i^2 (accumulate), and over the design
E tr(Sigma (X^T X)^{-1}) = d/(T - d - 1) (inverse-Wishart mean; T > d + 1), so

    E test error = n sigma2 d/(T - d - 1)                       (replace: linear growth)
    E test error = sigma2 d/(T - d - 1) sum_{i<=n} 1/i^2        (accumulate: <= (pi^2/6) x the round-1 error)

Round 1 is the fit on real labels (error sigma2 d/(T - d - 1)); round 0 is w* itself (error 0).

Derivation: docs/derivations/laws.md §3.
"""

from __future__ import annotations

import numpy as np

from .base import Law, check_int, check_number, check_option, check_vector

MODES = ("replace", "accumulate")


def _validate(p: dict) -> dict:
    d = check_int(p["d"], "d", 1)
    T = check_int(p["T"], "T", 1)
    if T <= d + 1:
        raise ValueError(f"T must be > d + 1 = {d + 1} (the inverse-Wishart mean is finite only then), got {T}")
    return {"T": T, "d": d, "sigma2": check_number(p["sigma2"], "sigma2", low=0, low_open=True),
            "mode": check_option(p["mode"], MODES, "mode")}


def error_factor(rounds: int, mode: str) -> np.ndarray:
    """n (replace) or H2(n) = sum_{i<=n} 1/i^2 (accumulate) for n = 0..rounds."""
    n = np.arange(rounds + 1, dtype=np.float64)
    if mode == "replace":
        return n
    return np.concatenate([[0.0], np.cumsum(1.0 / n[1:] ** 2)])


def regression_chain_closed_form(rounds: int, T: int = 20, d: int = 5, sigma2: float = 1.0,
                                 mode: str = "replace") -> dict:
    """E_test_error per round 0..rounds: sigma2 d/(T - d - 1) times n (replace) or sum_{i<=n} 1/i^2 (accumulate)."""
    p = _validate({"T": T, "d": d, "sigma2": sigma2, "mode": mode})
    base = p["sigma2"] * p["d"] / (p["T"] - p["d"] - 1)
    return {"E_test_error": base * error_factor(rounds, p["mode"])}


def regression_chain_given_design(X, rounds: int, sigma2: float = 1.0, mode: str = "replace",
                                  test_cov=None) -> np.ndarray:
    """The expected test error given the design X: sigma2 tr(Sigma (X^T X)^{-1}) times n or H2(n)."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    Sigma = np.eye(d) if test_cov is None else np.asarray(test_cov, dtype=np.float64)
    return sigma2 * float(np.trace(Sigma @ np.linalg.inv(X.T @ X))) * error_factor(rounds, mode)


def simulate_regression_chain(rounds: int, replicates: int, seed: int, T: int = 20, d: int = 5,
                              sigma2: float = 1.0, mode: str = "replace", spectrum=None) -> dict:
    """The literal chain, R replicates at once: one design per replicate (rows N(0, diag(spectrum)), default
    identity), labels from the previous fit plus noise, least squares on this round's data (replace) or on the
    stacked data of every round so far (accumulate: the stacked normal equations n X^T X w = X^T sum_j y_j).
    Test error (w_n - w*)^T Sigma (w_n - w*) exactly. {"E_test_error": (R, rounds + 1)}."""
    p = _validate({"T": T, "d": d, "sigma2": sigma2, "mode": mode})
    T, d, s2 = p["T"], p["d"], p["sigma2"]
    lam = np.ones(d) if spectrum is None else check_vector(spectrum, "spectrum", positive=True, length=d)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((replicates, T, d)) * np.sqrt(lam)
    w_star = rng.standard_normal((replicates, d))
    gram = np.einsum("rti,rtj->rij", X, X)
    w = w_star.copy()
    stacked_xty = np.zeros((replicates, d))
    errors = np.zeros((replicates, rounds + 1))
    for n in range(1, rounds + 1):
        y = np.einsum("rti,ri->rt", X, w) + np.sqrt(s2) * rng.standard_normal((replicates, T))
        xty = np.einsum("rti,rt->ri", X, y)
        if p["mode"] == "replace":
            w = np.linalg.solve(gram, xty[..., None])[..., 0]
        else:
            stacked_xty += xty
            w = np.linalg.solve(n * gram, stacked_xty[..., None])[..., 0]
        e = w - w_star
        errors[:, n] = np.einsum("ri,i,ri->r", e, lam, e)
    return {"E_test_error": errors}


REGRESSION_CHAIN = Law(
    name="regression-chain", claim="LAW-REGRESSION-CHAIN",
    title="least squares refit on labels from the previous fit (fixed Gaussian design), replace or accumulate",
    params={"T": 20, "d": 5, "sigma2": 1.0, "mode": "replace"},
    quantities=("E_test_error",),
    validate=_validate, closed_form=regression_chain_closed_form, monte_carlo=simulate_regression_chain,
    state_size=lambda p: 3 * p["T"] * p["d"] + 4 * p["d"] ** 2 + 2 * p["T"],
    param_help={"T": "design rows T > d + 1", "d": "dimension d >= 1", "sigma2": "label noise variance > 0",
                "mode": "replace (only the last round's data) | accumulate (all rounds' data)"},
    round_meaning="round n: the n-th least-squares fit (round 1 uses real labels, round 0 is w* itself)")
