"""The toolkit's feature classifier for image metrics: :class:`FeatureNet`, trained once per data set by
:func:`train_feature_net`, cached by :func:`load_or_train_feature_net`, and :func:`extract_features` (any
extractor, Inception included).

:class:`FeatureNet` is a small CNN (conv + GroupNorm + ReLU blocks, global average pool, a ``feature_dim``-d
penultimate layer, a linear head); the metrics computed on its penultimate features are called ``FD-<name>``,
``KID-<name>``, ``precision-<name>``, ``recall-<name>`` (:data:`~.metric_inputs.EXTRACTOR_NAMES`): they are **not**
FID/KID, whose numbers are only comparable with Inception-v3 features.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...outputs import atomic_write_text, atomic_write_via, strict_json
from ...validation import check_positive_int
from .metric_inputs import (EXTRACTOR_NAMES, canonical_dataset, check_images, check_labels, check_nonnegative_float,
                            check_positive_float, resolve_device)

DEFAULT_EPOCHS = {"digits": 30, "mnist": 6, "fashion": 10, "cifar10": 30}
"""Training epochs :func:`load_or_train_feature_net` uses when ``epochs`` is None (batch 128, AdamW, one-cycle).

digits (1500 train images, 8 x 8, width 16): 30 epochs = 360 steps, ~5 s of CPU time on one thread, 96.0 % on
the last 297 images. fashion (60,000 images, 28 x 28, width 32): 10 epochs = 4,690 steps, ~8 TFLOP per epoch:
92.4 % on the 10,000 test images (measured: 19 CPU-minutes on one thread; estimated well under a GPU-minute).
mnist: 6 epochs; cifar10: 30 epochs (a feature space, not a strong classifier; not measured)."""

DEFAULT_WIDTH = {"digits": 16, "mnist": 32, "fashion": 32, "cifar10": 32}
""":class:`FeatureNet` base width per data set (the wider net overfits the 1500 digits images: 93 % vs 96 %)."""

FEATURENET_FORMAT = "collapse_theory.featurenet/1"



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
    lr = check_positive_float(lr, "lr")
    weight_decay = check_nonnegative_float(weight_decay, "weight_decay")
    device = resolve_device(device)
    x_train = check_images(train_images, "train_images").cpu()
    x_test = check_images(test_images, "test_images").cpu()
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"test_images must have the (C, H, W) of train_images {tuple(x_train.shape[1:])}, "
                         f"got {tuple(x_test.shape[1:])}")
    if min(x_train.shape[2:]) < 4:
        raise ValueError(f"train_images must be at least 4 x 4 pixels, got {tuple(x_train.shape[2:])}")
    y_train = check_labels(train_labels, x_train.shape[0], n_classes, "train_labels")
    y_test = check_labels(test_labels, x_test.shape[0], n_classes, "test_labels")

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


def write_meta(path: Path, meta: dict) -> Path:
    """Write the feature network's description (``featurenet-*.json`` beside its checkpoint) atomically as strict
    JSON: its numbers (test accuracy, seconds) are finite, so a NaN or an infinity is an error naming the entry."""
    return atomic_write_text(path, strict_json(meta, what=str(path), indent=2, sort_keys=True) + "\n")


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
    x_train = check_images(train_images, "train_images")
    config = _train_config(x_train.shape[1], x_train.shape[2:], n_classes,
                           seed=check_positive_int(seed, "seed", minimum=0), epochs=epochs,
                           batch_size=check_positive_int(batch_size, "batch_size"), lr=check_positive_float(lr, "lr"),
                           weight_decay=check_nonnegative_float(weight_decay, "weight_decay"),
                           feature_dim=check_positive_int(feature_dim, "feature_dim"),
                           width=width)
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"featurenet-{dataset}-{data_hash}-{config_hash}.pt"
    device = resolve_device(device)
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
    write_meta(path.with_suffix(".json"), meta)
    info.update(test_accuracy=float(accuracy), loaded=False, train_seconds=seconds)
    return net, info



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
    x = check_images(images, "images")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(extractor, FeatureNet) and x.shape[1] != extractor.in_channels:
        raise ValueError(f"images must have the extractor's {extractor.in_channels} channel(s), got {x.shape[1]}")
    if device is None:
        device = _module_device(extractor)
    else:
        device = resolve_device(device)
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
