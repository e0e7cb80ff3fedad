"""Input validation shared by the whole toolkit.

Every public function checks its arguments here and raises :class:`ValueError`
whose message starts with the argument's name, e.g. ``"sigma2 must be > 0, got -1.0"``.
The CLI prints that message on one line and exits with status 2.
"""

from __future__ import annotations

import numpy as np

REGIMES = ("replace", "mix", "accumulate", "fresh")
"""Regimes of recursive training.

- ``replace``: purely synthetic, round k trains on round k's generated data only.
- ``mix``: a fixed real fraction ``alpha`` of the same real data set every round.
- ``accumulate``: everything ever generated is kept beside the real data (equal weight per round).
- ``fresh``: like ``mix`` but with a new real sample every round (differs from ``mix`` only at finite n).
"""

REGIME_ALIASES = {"synthetic": "replace", "fixed": "mix", "fixed-fraction": "mix", "real-fraction": "mix"}

RULES = ("renoise", "clean")
"""Generation rules: ``renoise`` draws x_{k+1} = W_k (x_k + sigma eps); ``clean`` draws x_{k+1} = W_k x_k."""


def as_float_array(value, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Convert ``value`` to a float64 array; reject NaN/Inf and non-numeric input, naming ``name``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {value!r}") from None
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or Inf), got {_show(arr[~np.isfinite(arr)])}")
    return arr


def check_sigma2(sigma2, name: str = "sigma2") -> np.ndarray:
    """sigma2: noise variance(s), every entry finite and > 0."""
    arr = as_float_array(sigma2, name)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {_show(arr[arr <= 0])}")
    return arr


def check_fraction(alpha, name: str = "real_fraction") -> np.ndarray:
    """alpha: real-data fraction(s) in [0, 1]."""
    arr = as_float_array(alpha, name)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {_show(arr[(arr < 0) | (arr > 1)])}")
    return arr


def check_eigenvalues(eigenvalues, name: str = "eigenvalues") -> np.ndarray:
    """A spectrum: at least one axis (the last is the dimension d), entries finite and >= 0."""
    arr = as_float_array(eigenvalues, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D array of eigenvalues (last axis = dimension), got a scalar")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (a second moment is PSD), got {_show(arr[arr < 0])}")
    return arr


def check_psd_matrix(matrix, name: str = "second_moment", *, rtol: float = 1e-10,
                     clip: bool = False) -> np.ndarray:
    """A symmetric positive semi-definite matrix (or a stack of them on the leading axes).

    Symmetry is checked to ``rtol`` relative to the largest entry; PSD-ness to ``-rtol * ||S||_op``
    (float rounding of an exactly PSD matrix gives eigenvalues of that size). ``clip=True``: the tolerated
    negative eigenvalues are set to 0, i.e. the symmetric part S = V diag(l) V^T is returned as
    V diag(max(l, 0)) V^T whenever some l < 0 (unchanged otherwise), so that e.g. S (S + sigma2 I)^-1 has
    eigenvalues in [0, 1) however small sigma2 is."""
    arr = as_float_array(matrix, name)
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (shape (..., d, d)), got shape {arr.shape}")
    scale = max(float(np.max(np.abs(arr))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(arr - np.swapaxes(arr, -1, -2))))
    if asym > rtol * scale:
        raise ValueError(f"{name} must be symmetric, max |S - S^T| = {asym:.3g}")
    sym = 0.5 * (arr + np.swapaxes(arr, -1, -2))
    eig = np.linalg.eigvalsh(sym)
    if np.any(eig < -1e3 * np.finfo(float).eps * scale * arr.shape[-1] - rtol * scale):
        raise ValueError(f"{name} must be positive semi-definite, smallest eigenvalue {float(eig.min()):.6g}")
    if clip and np.any(eig < 0):
        eig, vec = np.linalg.eigh(sym)
        sym = (vec * np.clip(eig, 0.0, None)[..., None, :]) @ np.swapaxes(vec, -1, -2)
        sym = 0.5 * (sym + np.swapaxes(sym, -1, -2))
    return sym


def check_choice(value, choices, name: str, aliases: dict[str, str] | None = None) -> str:
    """``value`` (case- and space-insensitive, ``aliases`` mapped first) must be one of ``choices``; returns the key."""
    key = str(value).strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return key


def check_regime(regime: str, name: str = "regime") -> str:
    """One of :data:`REGIMES` (or an alias)."""
    return check_choice(regime, REGIMES, name, REGIME_ALIASES)


def check_rule(rule: str, name: str = "rule") -> str:
    """One of :data:`RULES`."""
    return check_choice(rule, RULES, name)


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
        if not np.isfinite(as_float) or as_float != int(as_float):
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        value = int(as_float)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_data_matrix(data, name: str = "data") -> np.ndarray:
    """Samples as rows: shape (n, d) (or (..., n, d) for batches), finite, n >= 1."""
    arr = as_float_array(data, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape (n_samples, d), got shape {arr.shape}")
    if arr.shape[-2] < 1 or arr.shape[-1] < 1:
        raise ValueError(f"{name} must hold at least one sample of dimension >= 1, got shape {arr.shape}")
    return arr


def check_seed(seed, name: str = "seed"):
    """A non-negative integer seed, or None (fresh OS entropy: not reproducible)."""
    if seed is None:
        return None
    return check_positive_int(seed, name, minimum=0)


def check_scalar_sigma2(sigma2, name: str = "sigma2") -> float:
    """One noise variance sigma2 > 0 (finite), as a float; a ValueError naming ``name`` for an array."""
    s2 = check_sigma2(sigma2, name)
    if s2.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {s2.shape}")
    return float(s2)


def check_single_psd_matrix(matrix, name: str = "second_moment") -> np.ndarray:
    """One symmetric PSD (d, d) matrix (:func:`check_psd_matrix` without the leading batch axes)."""
    S = check_psd_matrix(matrix, name)
    if S.ndim != 2:
        raise ValueError(f"{name} must be a single (d, d) matrix, got shape {S.shape}")
    return S


def _show(values: np.ndarray) -> str:
    flat = np.ravel(values)
    if flat.size == 1:
        return repr(float(flat[0]))
    return "[" + ", ".join(f"{v:g}" for v in flat[:5]) + (", ...]" if flat.size > 5 else "]")
