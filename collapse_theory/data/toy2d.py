"""Toy data sets for trained rectified flows (numpy only, seeded): a Gaussian in d dimensions and three 2-D sets.

- ``gaussian``      N(m*, S*) in ``dim`` dimensions, with the fixed parameters of :func:`gaussian_parameters`
- ``ring8``         8 Gaussians with centres on a circle of radius 4 (angles 2 pi k / 8), each with std 0.3
- ``moons``         two interleaving half circles (as scikit-learn's make_moons), centred, scaled by 2,
                    with Gaussian noise of std 0.1 (after scaling)
- ``checkerboard``  uniform on the 8 black squares of a 4 x 4 board of side-1 squares, scaled by 2 to [-4, 4]^2

Every sampler takes ``n`` and a ``seed`` (an int or a ``numpy.random.Generator``) and returns an (n, dim)
float64 array; the same seed gives the same sample. The 2-D sets need ``dim = 2``.
"""

from __future__ import annotations

import numpy as np

DATASETS = ("gaussian", "ring8", "moons", "checkerboard")

RING_RADIUS = 4.0
RING_STD = 0.3
MOONS_NOISE = 0.1


def check_data(data, name: str = "data") -> str:
    key = str(data).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"{name} must be one of {', '.join(DATASETS)}, got {data!r}")
    return key


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return int(n)


def _check_dim(dim, data: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    if data != "gaussian" and dim != 2:
        raise ValueError(f"dim must be 2 for data {data!r} (a 2-D data set), got {dim}")
    return int(dim)


def gaussian_parameters(dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The target N(m*, S*) of the ``gaussian`` data set in ``dim`` dimensions.

    m*_i = linspace(-1, 1, dim)_i (m* = 1 when dim = 1); S* = U diag(s) U^T with eigenvalues
    s = geomspace(4, 0.25, dim) (s = 1 when dim = 1) and U a fixed rotation (QR of a Gaussian matrix drawn
    with seed 1234 + dim, signs fixed so that diag(R) > 0). Anisotropic and not axis-aligned, so a wrong
    covariance or a transposed map shows."""
    dim = _check_dim(dim, "gaussian")
    if dim == 1:
        return np.ones(1), np.ones((1, 1))
    mean = np.linspace(-1.0, 1.0, dim)
    spectrum = np.geomspace(4.0, 0.25, dim)
    q, r = np.linalg.qr(np.random.default_rng(1234 + dim).standard_normal((dim, dim)))
    u = q * np.sign(np.diag(r))
    cov = (u * spectrum) @ u.T
    return mean, 0.5 * (cov + cov.T)


def sample(data: str, n: int, seed=0, dim: int = 2) -> np.ndarray:
    """``n`` samples of ``data`` (one of :data:`DATASETS`) as an (n, dim) float64 array."""
    data = check_data(data)
    n = _check_n(n)
    dim = _check_dim(dim, data)
    rng = _rng(seed)
    if data == "gaussian":
        mean, cov = gaussian_parameters(dim)
        root = np.linalg.cholesky(cov)
        return mean + rng.standard_normal((n, dim)) @ root.T
    if data == "ring8":
        k = rng.integers(0, 8, size=n)
        angle = 2 * np.pi * k / 8
        centres = RING_RADIUS * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return centres + RING_STD * rng.standard_normal((n, 2))
    if data == "moons":
        upper = rng.random(n) < 0.5
        s = np.pi * rng.random(n)
        x = np.where(upper, np.cos(s), 1.0 - np.cos(s))
        y = np.where(upper, np.sin(s), 0.5 - np.sin(s))
        pts = 2.0 * (np.stack([x, y], axis=1) - np.array([0.5, 0.25]))
        return pts + MOONS_NOISE * rng.standard_normal((n, 2))
    # checkerboard: x ~ U[-2, 2); y in a black square of column floor(x)
    x = 4.0 * rng.random(n) - 2.0
    y = rng.random(n) - 2.0 * rng.integers(0, 2, size=n).astype(float)
    y = y + np.mod(np.floor(x), 2.0)
    return 2.0 * np.stack([x, y], axis=1)
