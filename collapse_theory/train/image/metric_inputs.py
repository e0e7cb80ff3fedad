"""Names and input checks shared by the image metrics (:mod:`collapse_theory.train.image.metrics`).

- data-set and extractor names: :data:`EXTRACTOR_NAMES`, :func:`canonical_dataset`, :func:`extractor_name`,
  :func:`metric_name` (``FD-<extractor>`` etc.), :func:`array_hash` (the data fingerprint of the classifier cache);
- checks that raise ValueError naming the argument: images (N, C, H, W) finite, labels, feature sets (N, F)
  returned as float64 CPU tensors, positive and non-negative numbers, torch devices.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import torch

from ...validation import check_positive_int

EXTRACTOR_NAMES = {"digits": "digitsnet", "mnist": "mnistnet", "fashion": "fmnistnet", "cifar10": "cifar10net"}
"""Data set -> name of its :class:`~collapse_theory.train.image.features.FeatureNet` extractor (metric names are
``FD-<name>`` etc.)."""

DATASET_ALIASES = {"fashion-mnist": "fashion", "fashion_mnist": "fashion", "fmnist": "fashion",
                   "cifar-10": "cifar10", "cifar": "cifar10", "load_digits": "digits", "sklearn-digits": "digits"}



def canonical_dataset(name, argument: str = "dataset_name") -> str:
    """A key of :data:`EXTRACTOR_NAMES` (case-insensitive; :data:`DATASET_ALIASES` mapped first)."""
    key = str(name).strip().lower()
    key = DATASET_ALIASES.get(key, key)
    if key not in EXTRACTOR_NAMES:
        raise ValueError(f"{argument} must be one of {', '.join(EXTRACTOR_NAMES)} (or an alias), got {name!r}")
    return key


def extractor_name(dataset_name) -> str:
    """The :class:`FeatureNet` extractor name of a data set, e.g. ``fashion`` -> ``fmnistnet``."""
    return EXTRACTOR_NAMES[canonical_dataset(dataset_name)]


def metric_name(kind: str, extractor: str) -> str:
    """``<kind>-<extractor>``, e.g. ``FD-fmnistnet``; ``kind`` is one of FD, KID, precision, recall."""
    if kind not in ("FD", "KID", "precision", "recall"):
        raise ValueError(f"kind must be one of FD, KID, precision, recall, got {kind!r}")
    return f"{kind}-{check_extractor_name(extractor)}"


def check_extractor_name(name) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+]+", name):
        raise ValueError(f"extractor_name must be a non-empty name of letters, digits, '_', '.', '+', got {name!r}")
    if name.lower() in ("fid", "kid", "inception-fid"):
        raise ValueError(f"extractor_name must name the feature extractor (e.g. 'inception'), got {name!r}")
    return name


def array_hash(*arrays, length: int = 16) -> str:
    """Hex SHA-256 (first ``length`` characters) of the arrays' dtypes, shapes and bytes: a data-set fingerprint
    for the :class:`FeatureNet` cache name."""
    h = hashlib.sha256()
    for a in arrays:
        arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:check_positive_int(length, "length")]


def as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a tensor or array, got {type(value).__name__}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def check_images(images, name: str = "images") -> torch.Tensor:
    """(N, C, H, W) float, finite, N >= 1; returned as float32 on its own device."""
    x = as_tensor(images, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    if min(x.shape) < 1:
        raise ValueError(f"{name} must hold at least one image of positive size, got shape {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or Inf)")
    return x


def check_labels(labels, n: int, n_classes: int, name: str) -> torch.Tensor:
    y = as_tensor(labels, name)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per image), got shape {tuple(y.shape)}")
    if y.is_floating_point():
        if not bool(torch.isfinite(y).all()) or not bool((y == y.round()).all()):
            raise ValueError(f"{name} must be integer class labels")
    y = y.long()
    if n and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"{name} must lie in [0, n_classes - 1] = [0, {n_classes - 1}], "
                         f"got range [{int(y.min())}, {int(y.max())}]")
    return y.cpu()


def check_features(feats, name: str, *, min_rows: int = 1) -> torch.Tensor:
    """(N, F) float64 CPU tensor, finite, N >= min_rows."""
    x = as_tensor(feats, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n_samples, n_features), got shape {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature, got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} must hold at least {min_rows} samples, got {x.shape[0]}")
    if x.is_complex():
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    x = x.to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or Inf)")
    return x


def check_same_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_b} must have the feature dimension of {name_a} ({a.shape[1]}), got {b.shape[1]}")


def check_positive_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return v


def check_nonnegative_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return v


def resolve_device(device) -> torch.device:
    try:
        return torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}") from None
