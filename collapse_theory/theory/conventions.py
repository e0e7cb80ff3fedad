"""The toolkit's one time convention: noise x0 at t = 0, data x1 at t = 1.

Rectified flow interpolates x_t = t x1 + (1 - t) x0 and integrates dx/dt = v(x, t) from t = 0 (noise) to
t = 1 (data); the reverse flow runs from t = 1 back to t = 0. Dividing by t, x_t / t = x1 + ((1 - t)/t) x0
is a noisy copy of the data with noise standard deviation sigma_t = (1 - t)/t: the bridge from Reflow to
the DAE recursion (noise variance sigma_t^2).
"""

from __future__ import annotations

import numpy as np

from ..validation import as_float_array

NOISE_TIME = 0.0
DATA_TIME = 1.0


def check_time(t, name: str = "t") -> np.ndarray:
    """t in [0, 1] (0 = noise, 1 = data)."""
    arr = as_float_array(t, name)
    if np.any((arr < NOISE_TIME) | (arr > DATA_TIME)):
        raise ValueError(f"{name} must lie in [0, 1] (0 = noise, 1 = data), got {arr}")
    return arr


def interpolate(noise, data, t) -> np.ndarray:
    """x_t = t * data + (1 - t) * noise: x_0 is the noise, x_1 the data."""
    t = check_time(t)
    return t * np.asarray(data, dtype=float) + (1 - t) * np.asarray(noise, dtype=float)


def dae_noise_std(t) -> np.ndarray:
    """sigma_t = (1 - t)/t, the noise level of x_t / t as a noisy copy of the data (infinite at t = 0)."""
    t = check_time(t)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, (1 - t) / np.where(t > 0, t, 1.0), np.inf)
