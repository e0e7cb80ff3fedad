"""The offline MNIST / Fashion-MNIST archives: build them from the official IDX files, and say where they are.

The loaders (:mod:`.loaders`, :mod:`.images`) read ``fashion_mnist70k.npz`` and ``mnist10k.npz``: ``images`` uint8
(N, 28, 28) and ``labels`` uint8 (N,). A user who has only the repository builds them here
(CLI: ``collapse-theory data prepare --dataset fashion|mnist --from DIR``):

- :func:`build_archive` reads the four official IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or ``.gz``) from DIR itself, from ``DIR/raw``
  or from torchvision's layout ``DIR/MNIST/raw`` / ``DIR/FashionMNIST/raw``, and writes the training images
  followed by the test images (70,000 for both data sets; the loaders shuffle with a fixed seed before taking a
  subset, so the order in the file does not matter) atomically to the archive path;
- :func:`read_idx` parses one IDX file: big-endian header ``0 0 8 ndim``, ``ndim`` uint32 sizes, then exactly
  prod(sizes) unsigned bytes;
- :func:`data_info` lists, per data set, where the loaders look (``--data-path``, ``$COLLAPSE_THEORY_DATA``, the
  default folder ``<repo>/../shared/data``) and whether the archive is there (CLI: ``collapse-theory data info``).

Errors are ValueError naming the argument (``source``, ``out``, ``dataset``), with what to do.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..outputs import atomic_write_via
from ..validation import check_choice
from .loaders import DATA_ENV_VAR, IMAGE_FILES, default_data_dir, resolve_archive_path

ARCHIVE_DATASETS = ("fashion", "mnist")
ARCHIVE_ALIASES = {"fashion-mnist": "fashion", "fashion_mnist": "fashion", "fmnist": "fashion"}
LOADER_NAME = {"fashion": "fashion-mnist", "mnist": "mnist"}
"""Names of :func:`build_archive` -> the names of :mod:`.loaders` (and ``train-dae --data``)."""
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
TORCHVISION_FOLDER = {"fashion": "FashionMNIST", "mnist": "MNIST"}
OFFICIAL_URL = {"fashion": "https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
                "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/"}


def check_archive_dataset(name, argument: str = "dataset") -> str:
    """``fashion`` or ``mnist`` (aliases: fashion-mnist, fashion_mnist, fmnist)."""
    return check_choice(name, ARCHIVE_DATASETS, argument, ARCHIVE_ALIASES)


def read_idx(path: str | os.PathLike, ndim: int, argument: str = "source", how: str = "") -> np.ndarray:
    """The uint8 array of one IDX file (plain, or gzip when the name ends in .gz) with ``ndim`` dimensions.

    Format: bytes 0 0 8 ndim (8 = unsigned byte), ndim big-endian uint32 sizes, then exactly prod(sizes) bytes.
    ValueError naming ``argument`` and the file for an unreadable, wrongly typed, truncated or padded file (with
    ``how``, what to do, appended)."""
    path = Path(path)
    tail = f"; {how}" if how else ""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{argument} must hold readable idx files, but {str(path)!r} cannot be read ({exc}){tail}"
                         ) from None
    header = 4 + 4 * ndim
    if len(data) < header or data[:4] != bytes((0, 0, 8, ndim)):
        raise ValueError(f"{argument} must hold idx files of uint8 with {ndim} dimension(s), but {str(path)!r} has a "
                         f"bad header ({data[:4].hex() or 'empty'}, expected {bytes((0, 0, 8, ndim)).hex()}){tail}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"{argument} must hold complete idx files, but {str(path)!r} is truncated or padded (header "
                         f"{' x '.join(map(str, dims))} = {expected} bytes, file has {len(data) - header}){tail}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _idx_path(folder: Path, base: str) -> Path | None:
    for name in (base, base + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_idx_files(dataset: str, source: str | os.PathLike, argument: str = "source") -> dict[str, tuple[Path, Path]]:
    """split -> (images file, labels file) of the official IDX files of ``dataset`` under ``source``: in the folder
    itself, in ``source/raw`` or in torchvision's ``source/<MNIST|FashionMNIST>/raw`` (the first complete one)."""
    key = check_archive_dataset(dataset)
    root = Path(source).expanduser()
    if not root.is_dir():
        raise ValueError(f"{argument} must be a folder holding the IDX files of {key}, got {str(source)!r}")
    candidates = [root, root / "raw", root / TORCHVISION_FOLDER[key] / "raw"]
    for folder in candidates:
        found = {split: tuple(_idx_path(folder, base) for base in pair) for split, pair in IDX_FILES.items()}
        if all(p is not None for pair in found.values() for p in pair):
            return found
    names = ", ".join(f"{base}[.gz]" for pair in IDX_FILES.values() for base in pair)
    raise ValueError(f"{argument} must hold the four IDX files of {key} ({names}; from {OFFICIAL_URL[key]}) in "
                     f"{', '.join(repr(str(c)) for c in candidates)}; not all were found")


def read_idx_dataset(dataset: str, source: str | os.PathLike,
                     argument: str = "source") -> tuple[np.ndarray, np.ndarray, int]:
    """(images uint8 (N, 28, 28), labels uint8 (N,), n_train): the training images, then the test images."""
    key = check_archive_dataset(dataset)
    images, labels = [], []
    n_train = 0
    for split, (image_file, label_file) in find_idx_files(key, source, argument).items():
        x = read_idx(image_file, 3, argument)
        y = read_idx(label_file, 1, argument)
        if x.shape[1:] != (28, 28):
            raise ValueError(f"{argument} must hold 28 x 28 images, but {str(image_file)!r} holds shape {x.shape}")
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{argument} must hold one label per image, but {str(label_file)!r} has {y.shape[0]} "
                             f"labels for the {x.shape[0]} images of {str(image_file)!r}")
        if y.size and int(y.max()) > 9:
            raise ValueError(f"{argument} must hold labels 0..9, but {str(label_file)!r} holds {int(y.max())}")
        if x.shape[0] == 0:
            raise ValueError(f"{argument} must hold images, but {str(image_file)!r} holds none")
        images.append(x)
        labels.append(y)
        n_train = x.shape[0] if split == "train" else n_train
    return np.concatenate(images), np.concatenate(labels), n_train


def archive_path(dataset: str, out: str | os.PathLike | None = None) -> Path:
    """Where :func:`build_archive` writes: ``out`` (a .npz file, or a folder that gets the archive's file name),
    else where the loaders look without ``--data-path``: ``$COLLAPSE_THEORY_DATA``, else ``<repo>/../shared/data``."""
    key = check_archive_dataset(dataset)
    if out is None:
        return resolve_archive_path(LOADER_NAME[key], None)
    if not str(out).strip():
        raise ValueError(f"out must name a .npz file or a folder, got {str(out)!r}")
    path = Path(out).expanduser()
    return path if path.suffix == ".npz" else path / IMAGE_FILES[LOADER_NAME[key]]


def build_archive(dataset: str, source: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Build the archive of ``dataset`` (fashion | mnist) from the official IDX files under ``source`` (module
    docstring) and write it atomically (np.savez_compressed: ``images`` uint8 (N, 28, 28), ``labels`` uint8 (N,))
    to :func:`archive_path` (``out``); returns the path. Everything is read and checked before anything is written."""
    key = check_archive_dataset(dataset)
    target = archive_path(key, out)
    if target.is_dir():
        raise ValueError(f"out must name a file or a folder for {IMAGE_FILES[LOADER_NAME[key]]}, but {str(target)!r} "
                         f"is a folder")
    images, labels, _ = read_idx_dataset(key, source)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, labels=labels.astype(np.uint8))
    return atomic_write_via(target, lambda handle: handle.write(buffer.getvalue()))


def data_info(data_path: str | os.PathLike | None = None) -> list[dict]:
    """Per data set: where the loaders look, in order, and whether the archive is present there.

    Records: ``dataset`` (the name of ``--data``/``--dataset``), ``source`` (what it is), ``looked_up`` (the
    places, in order: ``--data-path``, ``$COLLAPSE_THEORY_DATA``, the default folder), ``path`` (the file the loader
    reads), ``present`` and ``images`` (the count, when present and readable)."""
    env = os.environ.get(DATA_ENV_VAR)
    records = [{"dataset": "digits", "source": "scikit-learn's load_digits (embedded; always present)",
                "looked_up": [], "path": None, "present": True, "images": 1797}]
    for key in ARCHIVE_DATASETS:
        name = LOADER_NAME[key]
        path = resolve_archive_path(name, data_path)
        looked = ([f"--data-path {data_path}"] if data_path is not None else
                  ["--data-path (not given)"]) + [
            f"${DATA_ENV_VAR} = {env}" if env else f"${DATA_ENV_VAR} (not set)",
            f"default folder {default_data_dir()}"]
        count = None
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as archive:
                    count = int(archive["labels"].shape[0]) if "labels" in archive.files else None
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:  # reported, not raised
                count = f"unreadable ({type(exc).__name__}: {exc})"
        records.append({"dataset": name, "source": f"{IMAGE_FILES[name]} (build it: collapse-theory data prepare "
                                                   f"--dataset {key} --from DIR)",
                        "looked_up": looked, "path": str(path), "present": path.is_file(), "images": count})
    records.append({"dataset": "cifar10", "source": "torchvision's on-disk layout under --data-root (reflow only; "
                                                    "--download fetches it)",
                    "looked_up": ["--data-root"], "path": None, "present": None, "images": None})
    return records
