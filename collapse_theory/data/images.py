"""Image data sets for the image-scale Reflow pipeline (numpy only; torchvision is optional and imported lazily).

Data sets (:data:`IMAGE_DATASETS`), every one returned as float32 (N, C, H, W) in [-1, 1] with int64 labels 0..9:

- ``digits``   scikit-learn's ``load_digits`` (embedded, the default): 1797 images 1 x 8 x 8, values v in 0..16
               mapped to 2 (v / 16) - 1 (= v / 8 - 1, exact in float32).
- ``mnist``    without ``data_root``: the offline archive ``mnist10k.npz`` (10,000 MNIST images); with ``data_root``:
               torchvision's on-disk MNIST (``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``).
- ``fashion``  without ``data_root``: ``fashion_mnist70k.npz`` (all 70,000 Fashion-MNIST images); with ``data_root``:
               ``<root>/FashionMNIST/raw/`` with the same file names as MNIST.
- ``cifar10``  always needs ``data_root``: ``<root>/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``
               (python pickles holding ``data`` uint8 (N, 3072), channel-major R, G, B planes of 32 x 32, and
               ``labels``), giving 3 x 32 x 32 images.

Pixels p in 0..255 map to the float32 nearest 2 (p / 255) - 1, so -1 and 1 are hit exactly and :func:`to_uint8`
(round((x + 1) * 127.5), clipped to 0..255) inverts the mapping exactly.

Splits. The archives and digits have no official split (the archives are grouped by class): the images are
permuted by ``numpy.random.default_rng(shuffle_seed).permutation``, the first ``n_test`` of that order are the test
set and the rest the training set (defaults: digits 297, mnist 1000, fashion 10000 test images). torchvision
layouts have official splits: the test set is the official test set in its file order (the first ``n_test`` of it
when ``n_test`` is given; independent of ``shuffle_seed``), and the official training set is permuted with
``shuffle_seed``. In both cases ``max_train`` then keeps the first ``max_train`` training images (all when fewer);
the test set does not depend on ``max_train``.

The archives are looked for as in :mod:`collapse_theory.data.loaders`: ``data_path`` (file or folder), else the
folder in ``$COLLAPSE_THEORY_DATA``, else ``<repo>/../shared/data``. With ``download=True`` and torchvision layout
files missing, ``torchvision.datasets.{MNIST,FashionMNIST,CIFAR10}(data_root, train=..., download=True)`` fetches
them (torchvision is imported only then); the files are always read back by the numpy readers here. Missing or
corrupt data and bad arguments raise ``ValueError`` whose message starts with the argument's name.

CIFAR pickles are read with a restricted unpickler that only resolves the numpy array reconstruction globals, so a
foreign pickle in ``data_root`` cannot run code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import check_choice, check_positive_int
from .archives import read_idx
from .loaders import IMAGE_FILES, how_to_obtain, resolve_archive_path

IMAGE_DATASETS = ("digits", "mnist", "fashion", "cifar10")
IMAGE_DATASET_ALIASES = {"fashion-mnist": "fashion", "fashion_mnist": "fashion", "fmnist": "fashion",
                         "cifar": "cifar10", "cifar-10": "cifar10", "load_digits": "digits"}
N_CLASSES = 10
DEFAULT_N_TEST = {"digits": 297, "mnist": 1000, "fashion": 10000}
"""Test-set sizes for the sources without an official split (digits: 1500 training images remain)."""

_LOADER_KEY = {"mnist": "mnist", "fashion": "fashion-mnist"}  # our names -> collapse_theory.data.loaders names
_TV_FOLDER = {"mnist": "MNIST", "fashion": "FashionMNIST"}
_TV_CLASS = {"mnist": "MNIST", "fashion": "FashionMNIST", "cifar10": "CIFAR10"}
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = "test_batch"
_URLS = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ or http://yann.lecun.com/exdb/mnist/",
         "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"}


@dataclass(frozen=True)
class ImageData:
    """An image data set split into training and held-out test images.

    ``train`` / ``test`` are float32 (N, C, H, W) in [-1, 1]; ``train_labels`` / ``test_labels`` int64 in
    0..n_classes-1; ``source`` is the file or folder read (or ``sklearn.datasets.load_digits``); ``data_hash`` is the
    first 16 hex digits of the sha256 of the canonical name, the array shapes, then the uint8 pixels (the source
    values: 0..16 for digits, 0..255 otherwise) and int64 labels of train and test, in that order (a cache key)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    n_classes: int
    source: str
    shuffle_seed: int
    data_hash: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(int(s) for s in self.train.shape[1:])


def check_image_dataset(name, argument: str = "dataset") -> str:
    """The canonical name (one of :data:`IMAGE_DATASETS`) of ``name`` or its alias; ``argument`` names it in errors."""
    return check_choice(name, IMAGE_DATASETS, argument, IMAGE_DATASET_ALIASES)


def to_uint8(images) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] (numpy, or a tensor with ``.detach()``) as uint8 (N, H, W, C) for PNG files
    and metrics: round((x + 1) * 127.5) clipped to 0..255 (half-way cases round to even)."""
    if hasattr(images, "detach"):  # a torch tensor, handled without importing torch
        images = images.detach().cpu().numpy()
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"images must be a numeric array of shape (N, C, H, W), got {type(images).__name__}") from None
    if arr.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("images must be finite (no NaN or Inf)")
    pixels = np.clip(np.rint((arr + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))


def load_image_dataset(name, *, data_path: str | os.PathLike | None = None,
                       data_root: str | os.PathLike | None = None, download: bool = False, shuffle_seed: int = 0,
                       n_test: int | None = None, max_train: int | None = None) -> ImageData:
    """Load an image data set as :class:`ImageData` (sources, mapping and splits: see the module docstring).

    ``data_path``: the .npz archive (file or folder) for mnist / fashion without ``data_root``. ``data_root``: a
    torchvision data folder (mnist, fashion, cifar10; required for cifar10). ``download``: fetch missing torchvision
    files with torchvision (needs ``data_root``). ``n_test`` (>= 1) overrides the default test size and must leave
    >= 2 training images; ``max_train`` (>= 2) caps the training set after shuffling."""
    key = check_image_dataset(name)
    seed = check_positive_int(shuffle_seed, "shuffle_seed", minimum=0)
    test_size = None if n_test is None else check_positive_int(n_test, "n_test")
    train_cap = None if max_train is None else check_positive_int(max_train, "max_train", minimum=2)
    if not isinstance(download, (bool, np.bool_)):
        raise ValueError(f"download must be True or False, got {download!r}")
    if key == "digits" and (data_path is not None or data_root is not None):
        raise ValueError(f"{'data_path' if data_path is not None else 'data_root'} is not used by digits "
                         "(it is embedded in scikit-learn); pass None")
    if data_path is not None and data_root is not None:
        raise ValueError("data_path (an .npz archive) and data_root (a torchvision folder) cannot both be given")
    if key == "cifar10" and data_root is None:
        raise ValueError("data_root must be given for cifar10 (there is no offline archive): a folder holding "
                         f"{_CIFAR_FOLDER}/ (from {_URLS['cifar10']}, extracted), or any folder with --download "
                         "to fetch it with torchvision")
    if download and data_root is None:
        raise ValueError(f"download needs data_root (the folder torchvision downloads into); {key} without data_root "
                         "is read from " + ("scikit-learn" if key == "digits" else "the offline .npz archive"))

    if data_root is None:
        if key == "digits":
            pixels, labels, source = _read_digits()
        else:
            pixels, labels, source = _read_npz(key, data_path)
        size = DEFAULT_N_TEST[key] if test_size is None else test_size
        if size > pixels.shape[0] - 2:
            raise ValueError(f"n_test must leave >= 2 training images: {size} test images of {pixels.shape[0]} in "
                             f"{source}" + (" (the default for " + key + ")" if test_size is None else ""))
        order = np.random.default_rng(seed).permutation(pixels.shape[0])
        test_idx, train_idx = order[:size], order[size:]
        train_px, train_lb, test_px, test_lb = pixels[train_idx], labels[train_idx], pixels[test_idx], labels[test_idx]
    else:
        root = Path(data_root).expanduser()
        if download and not _tv_complete(key, root):
            _download(key, root)
        (train_px, train_lb), (test_px, test_lb), source = _read_torchvision(key, root)
        if test_size is not None:
            if test_size > test_px.shape[0]:
                raise ValueError(f"n_test must be <= the {test_px.shape[0]} official test images in {source}, "
                                 f"got {test_size}")
            test_px, test_lb = test_px[:test_size], test_lb[:test_size]
        order = np.random.default_rng(seed).permutation(train_px.shape[0])
        train_px, train_lb = train_px[order], train_lb[order]
    if train_cap is not None:
        train_px, train_lb = train_px[:train_cap], train_lb[:train_cap]

    scale = 16 if key == "digits" else 255
    digest = hashlib.sha256(f"{key};{train_px.shape};{test_px.shape};".encode())
    for arr in (train_px, train_lb, test_px, test_lb):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return ImageData(name=key, train=_to_float(train_px, scale), test=_to_float(test_px, scale),
                     train_labels=np.ascontiguousarray(train_lb, dtype=np.int64),
                     test_labels=np.ascontiguousarray(test_lb, dtype=np.int64), n_classes=N_CLASSES,
                     source=str(source), shuffle_seed=seed, data_hash=digest.hexdigest()[:16])


# ----------------------------------------------------------------------------------------------------- helpers


def _to_float(pixels: np.ndarray, scale: int) -> np.ndarray:
    """uint8 values p in 0..scale -> the float32 nearest 2 p / scale - 1 (a lookup table computed in float64, so
    -1 and 1 are exact and no float64 copy of the images is made)."""
    table = (np.arange(scale + 1, dtype=np.float64) * (2.0 / scale) - 1.0).astype(np.float32)
    return table[pixels]


def _check_labels(labels: np.ndarray, n_images: int, argument: str, path, how: str) -> np.ndarray:
    """Labels: 1-D integers in 0..N_CLASSES-1, one per image, as int64."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_images or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{argument} must hold one integer label per image, but {str(path)!r} has labels of dtype "
                         f"{labels.dtype} and shape {labels.shape} for {n_images} images; {how}")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{argument} must hold labels in 0..{N_CLASSES - 1}, but {str(path)!r} has labels in "
                         f"{int(labels.min())}..{int(labels.max())}; {how}")
    return labels.astype(np.int64)


def _read_digits() -> tuple[np.ndarray, np.ndarray, str]:
    """scikit-learn's digits as uint8 (1797, 1, 8, 8) values 0..16 and int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.rint(bunch.images).astype(np.uint8)[:, None]
    return pixels, np.asarray(bunch.target, dtype=np.int64), "sklearn.datasets.load_digits"


def _read_npz(key: str, data_path) -> tuple[np.ndarray, np.ndarray, Path]:
    """An offline archive as uint8 (N, 1, 28, 28) and int64 labels, in file order."""
    loader_key = _LOADER_KEY[key]
    path = resolve_archive_path(loader_key, data_path)
    how = (f"{how_to_obtain(loader_key)}; or pass data_root (a torchvision data folder, with --download to fetch "
           "it with torchvision)")
    if not path.is_file():
        raise ValueError(f"data_path must name the {IMAGE_FILES[loader_key]} archive, but {str(path)!r} does not "
                         f"exist; {how}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [a for a in ("images", "labels") if a not in archive.files]
            if missing:
                raise ValueError(f"it has no {' or '.join(repr(m) for m in missing)} array "
                                 f"(arrays: {', '.join(archive.files) or 'none'})")
            images, labels = archive["images"], archive["labels"]
    except (OSError, ValueError, EOFError, KeyError, zlib.error, zipfile.BadZipFile) as exc:
        raise ValueError(f"data_path must name a readable .npz archive, but {str(path)!r} cannot be read ({exc}); "
                         f"{how}") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"data_path must name an archive with 'images' uint8 (N, 28, 28), but {str(path)!r} has "
                         f"dtype {images.dtype} and shape {images.shape}; {how}")
    labels = _check_labels(labels, images.shape[0], "data_path", path, how)
    return images[:, None], labels, path


def _tv_paths(key: str, root: Path) -> list[Path]:
    """The files a torchvision layout of ``key`` needs (uncompressed idx names for MNIST-like sets)."""
    if key == "cifar10":
        return [root / _CIFAR_FOLDER / f for f in (*_CIFAR_TRAIN, _CIFAR_TEST)]
    return [root / _TV_FOLDER[key] / "raw" / f for pair in _IDX_FILES.values() for f in pair]


def _idx_file(path: Path) -> Path | None:
    """``path`` if it exists, else ``path.gz`` if that exists, else None."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def _tv_complete(key: str, root: Path) -> bool:
    """Whether every file of the torchvision layout is present (idx files plain or gzipped)."""
    if key == "cifar10":
        return all(p.is_file() for p in _tv_paths(key, root))
    return all(_idx_file(p) is not None for p in _tv_paths(key, root))


def _tv_where(key: str, root: Path) -> str:
    """Which files of ``key`` go where under ``root`` in torchvision's layout, and where to get them."""
    if key == "cifar10":
        return (f"{_CIFAR_FOLDER}/{{data_batch_1..5,test_batch}} (from {_URLS[key]}, extracted) under "
                f"{str(root)!r}")
    names = ", ".join(f + "[.gz]" for pair in _IDX_FILES.values() for f in pair)
    return f"{names} (from {_URLS[key]}) under {str(root / _TV_FOLDER[key] / 'raw')!r}"


def _tv_how(key: str, root: Path) -> str:
    """How to obtain the torchvision layout of ``key`` under ``root`` (one line)."""
    return f"pass --download to fetch it with torchvision, or place {_tv_where(key, root)}"


def _read_torchvision(key: str, root: Path):
    """((train uint8 NCHW, labels), (test uint8 NCHW, labels), folder) from a torchvision layout under ``root``."""
    how = _tv_how(key, root)
    if key == "cifar10":
        folder = root / _CIFAR_FOLDER
        for path in _tv_paths(key, root):
            if not path.is_file():
                raise ValueError(f"data_root must hold CIFAR-10 in torchvision's layout, but {str(path)!r} does not "
                                 f"exist; {how}")
        train = [_read_cifar_batch(folder / f, how) for f in _CIFAR_TRAIN]
        test = _read_cifar_batch(folder / _CIFAR_TEST, how)
        train = (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]))
        return train, test, folder
    folder = root / _TV_FOLDER[key] / "raw"
    splits = []
    for split in ("train", "test"):
        found = []
        for base in _IDX_FILES[split]:
            path = _idx_file(folder / base)
            if path is None:
                raise ValueError(f"data_root must hold {_TV_FOLDER[key]} in torchvision's layout, but "
                                 f"{str(folder / base)!r} (or .gz) does not exist; {how}")
            found.append(path)
        images = _read_idx(found[0], 3, how)
        if images.shape[1:] != (28, 28):
            raise ValueError(f"data_root must hold 28 x 28 idx images, but {str(found[0])!r} holds shape "
                             f"{images.shape}; {how}")
        labels = _check_labels(_read_idx(found[1], 1, how), images.shape[0], "data_root", found[1], how)
        splits.append((images[:, None], labels))
    return splits[0], splits[1], folder


def _read_idx(path: Path, ndim: int, how: str) -> np.ndarray:
    """An idx file (plain or .gz) of unsigned bytes with ``ndim`` dimensions (:func:`.archives.read_idx`)."""
    return read_idx(path, ndim, "data_root", f"delete it and {how}")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings and numpy arrays only (the globals a CIFAR batch refers to)."""

    _NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}
    _OTHER = {("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
              ("__builtin__", "object"), ("builtins", "object")}

    def find_class(self, module, name):
        if (module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                       "numpy._core.numeric") and name in self._NUMPY_NAMES) or (module, name) in self._OTHER:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _read_cifar_batch(path: Path, how: str) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch: dict with ``data`` uint8 (N, 3072) and ``labels`` (N,) (bytes or str keys) ->
    (uint8 (N, 3, 32, 32), int64 labels)."""
    try:
        with open(path, "rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 -- any unpickling failure means a corrupt or foreign file
        raise ValueError(f"data_root must hold readable CIFAR-10 python batches, but {str(path)!r} cannot be read "
                         f"({type(exc).__name__}: {exc}); delete it and {how}") from None
    if not isinstance(batch, dict):
        raise ValueError(f"data_root must hold CIFAR-10 batches (pickled dicts), but {str(path)!r} holds a "
                         f"{type(batch).__name__}; delete it and {how}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"data_root must hold CIFAR-10 batches with 'data' and 'labels', but {str(path)!r} has keys "
                         f"{sorted(map(repr, batch))}; delete it and {how}")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"data_root must hold CIFAR-10 'data' uint8 (N, 3072), but {str(path)!r} has dtype "
                         f"{data.dtype} and shape {data.shape}; delete it and {how}")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray([], dtype=object)
    labels = _check_labels(labels, data.shape[0], "data_root", path, f"delete it and {how}")
    return data.reshape(-1, 3, 32, 32), labels


def _download(key: str, root: Path) -> None:
    """Fetch both splits of ``key`` into ``root`` with torchvision (imported here, never at module import)."""
    try:
        import torchvision.datasets as tv_datasets
    except Exception as exc:  # noqa: BLE001 -- ImportError, or a broken install raising at import
        raise ValueError(f"download: torchvision is needed to download {key} ({type(exc).__name__}: {exc}); install "
                         f"it (pip install torchvision) or place the files under {str(root)!r}: "
                         f"{_tv_where(key, root)}") from None
    dataset_class = getattr(tv_datasets, _TV_CLASS[key])
    try:
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            dataset_class(str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 -- network errors surface as URLError, RuntimeError, OSError, ...
        message = " ".join(str(exc).split())
        raise ValueError(f"data_root: downloading {key} into {str(root)!r} with torchvision failed "
                         f"({type(exc).__name__}: {message}); check the network, or obtain it from {_URLS[key]} "
                         f"and place it under {str(root)!r} as torchvision does "
                         f"({_tv_where(key, root)})") from None
