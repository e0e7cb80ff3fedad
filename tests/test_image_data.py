"""collapse_theory.data.images: image data sets as float32 (N, C, H, W) in [-1, 1] with fixed splits.

The torchvision layouts are written here byte by byte from the published formats (idx: big-endian magic 2051 for
images, 2049 for labels; CIFAR-10 python: pickled dicts with b"data" (N, 3072) uint8 R, G, B planes and b"labels"),
so the numpy readers are checked without torchvision or the network."""

import gzip
import pickle
import struct
import subprocess
import sys
import types
import urllib.error

import numpy as np
import pytest

from collapse_theory.data import (
    DATA_ENV_VAR,
    IMAGE_DATASET_ALIASES,
    IMAGE_DATASETS,
    ImageData,
    check_image_dataset,
    default_data_dir,
    load_image_dataset,
    resolve_archive_path,
    to_uint8,
)

IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _expected(pixels, scale=255):
    """The documented mapping p -> 2 p / scale - 1, computed independently in float64."""
    return (2.0 * np.asarray(pixels, dtype=np.float64) / scale - 1.0).astype(np.float32)


def _idx_bytes(arr, magic):
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def _write_idx(path, arr, magic, compress):
    data = _idx_bytes(arr, magic)
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def _write_mnist_layout(root, folder="MNIST", n_train=7, n_test=3, compress=False, seed=0):
    """Tiny MNIST-like raw folder; returns {split: (images uint8 (n, 28, 28), labels)}."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, :2] = (0, 255)  # both ends of the range present
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(raw / IDX_NAMES[split][0], images, 2051, compress)
        _write_idx(raw / IDX_NAMES[split][1], labels, 2049, compress)
        out[split] = (images, labels)
    return out


def _cifar_batch_bytes(data, labels, py2_numpy_path=False, bytes_keys=True):
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    batch = {key("batch_label"): b"batch", key("labels"): [int(v) for v in labels], key("data"): data,
             key("filenames"): [b"img.png"] * len(labels)}
    raw = pickle.dumps(batch, protocol=2)
    if py2_numpy_path:  # the global name the original (Python 2, numpy 1.x) files refer to
        raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    return raw


def _write_cifar_layout(root, per_batch=2, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_data, train_labels = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch)
        (folder / f"data_batch_{i}").write_bytes(_cifar_batch_bytes(data, labels, py2_numpy_path=i == 1,
                                                                     bytes_keys=i != 2))
        train_data.append(data)
        train_labels.append(labels)
    test_data = rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    test_labels = rng.integers(0, 10, size=n_test)
    (folder / "test_batch").write_bytes(_cifar_batch_bytes(test_data, test_labels))
    return np.concatenate(train_data), np.concatenate(train_labels), test_data, test_labels


# ------------------------------------------------------------------------------------------------------ digits


def test_digits_are_mapped_to_minus_one_one_and_split_as_documented():
    from sklearn.datasets import load_digits

    data = load_image_dataset("digits")
    assert isinstance(data, ImageData) and data.name == "digits" and data.n_classes == 10
    assert data.train.shape == (1500, 1, 8, 8) and data.test.shape == (297, 1, 8, 8)
    assert data.image_shape == (1, 8, 8)
    assert data.train.dtype == np.float32 and data.test.dtype == np.float32
    assert data.train_labels.dtype == np.int64 and data.test_labels.dtype == np.int64
    assert data.train.min() == -1.0 and data.train.max() == 1.0  # fails for x/16 or x/255 without 2x - 1
    assert set(data.train_labels) == set(range(10)) and set(data.test_labels) == set(range(10))
    assert data.source == "sklearn.datasets.load_digits" and data.shuffle_seed == 0
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    expected = _expected(bunch.images[:, None], scale=16)
    assert np.array_equal(data.test, expected[order[:297]]) and np.array_equal(data.train, expected[order[297:]])
    assert np.array_equal(data.test_labels, bunch.target[order[:297]])
    assert np.array_equal(data.train_labels, bunch.target[order[297:]])


def test_digits_are_deterministic_per_seed_and_a_permutation_across_seeds():
    a, b, c = (load_image_dataset("digits", shuffle_seed=s) for s in (3, 3, 4))
    for x, y in ((a.train, b.train), (a.test, b.test), (a.train_labels, b.train_labels)):
        assert np.array_equal(x, y)
    assert a.data_hash == b.data_hash and len(a.data_hash) == 16 and int(a.data_hash, 16) >= 0
    assert not np.array_equal(a.train_labels, c.train_labels) and a.data_hash != c.data_hash

    def rows(d):
        flat = np.concatenate([d.train, d.test]).reshape(1797, -1)
        labels = np.concatenate([d.train_labels, d.test_labels])[:, None]
        table = np.concatenate([flat, labels.astype(np.float32)], axis=1)
        return table[np.lexsort(table.T[::-1])]

    assert np.array_equal(rows(a), rows(c))  # same multiset of (image, label)


def test_n_test_and_max_train_change_only_what_they_should():
    full = load_image_dataset("digits", shuffle_seed=1)
    capped = load_image_dataset("digits", shuffle_seed=1, max_train=50)
    assert capped.train.shape == (50, 1, 8, 8) and np.array_equal(capped.train, full.train[:50])
    assert np.array_equal(capped.train_labels, full.train_labels[:50])
    assert np.array_equal(capped.test, full.test) and capped.data_hash != full.data_hash
    small = load_image_dataset("digits", shuffle_seed=1, n_test=100)
    assert small.test.shape[0] == 100 and small.train.shape[0] == 1697 and small.data_hash != full.data_hash
    assert load_image_dataset("digits", n_test=1795).train.shape[0] == 2


# ------------------------------------------------------------------------------------------- names and arguments


@pytest.mark.parametrize("alias, canonical", sorted(IMAGE_DATASET_ALIASES.items()))
def test_aliases_map_to_canonical_names(alias, canonical):
    assert canonical in IMAGE_DATASETS and check_image_dataset(alias) == canonical
    assert check_image_dataset(f" {alias.upper()} ") == canonical


def test_canonical_names_and_the_argument_name_in_errors():
    assert [check_image_dataset(n) for n in IMAGE_DATASETS] == list(IMAGE_DATASETS)
    with pytest.raises(ValueError, match="^image_data must be one of digits, mnist, fashion, cifar10"):
        check_image_dataset("imagenet", argument="image_data")


@pytest.mark.parametrize("kwargs, argument", [
    (dict(name="imagenet"), "dataset"),
    (dict(name="digits", shuffle_seed=-1), "shuffle_seed"),
    (dict(name="digits", shuffle_seed=1.5), "shuffle_seed"),
    (dict(name="digits", n_test=0), "n_test"),
    (dict(name="digits", n_test=1796), "n_test"),  # would leave one training image
    (dict(name="digits", max_train=1), "max_train"),
    (dict(name="digits", download="yes"), "download"),
    (dict(name="digits", download=True), "download"),
    (dict(name="digits", data_root="/tmp"), "data_root"),
    (dict(name="digits", data_path="/tmp"), "data_path"),
    (dict(name="cifar10"), "data_root"),
    (dict(name="mnist", download=True), "download"),
    (dict(name="mnist", data_path="/tmp", data_root="/tmp"), "data_path"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument} "):
        load_image_dataset(**kwargs)


# ----------------------------------------------------------------------------------------------------- to_uint8


def test_to_uint8_inverts_the_mapping_for_every_pixel_value_and_clips():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16).repeat(3, axis=1)
    pixels[0, 1] = pixels[0, 1][::-1]
    out = to_uint8(_expected(pixels))
    assert out.dtype == np.uint8 and out.shape == (1, 16, 16, 3) and out.flags["C_CONTIGUOUS"]
    assert np.array_equal(out, pixels.transpose(0, 2, 3, 1))
    assert np.array_equal(to_uint8(np.array([-3.0, -1.0, 0.0, 1.0, 1.5]).reshape(1, 1, 1, 5)).ravel(),
                          [0, 0, 128, 255, 255])
    with pytest.raises(ValueError, match="^images must have shape"):
        to_uint8(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="^images must be finite"):
        to_uint8(np.full((1, 1, 2, 2), np.nan))


# ------------------------------------------------------------------------------------------------ .npz archives


def _write_archive(path, n=30, dtype=np.uint8, shape=(28, 28)):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, *shape)).astype(dtype)
    np.savez(path, images=images, labels=np.repeat(np.arange(3, dtype=np.uint8), n // 3))  # grouped by class
    return images


def test_archive_is_read_shuffled_and_split_exactly(tmp_path, monkeypatch):
    images = _write_archive(tmp_path / "mnist10k.npz")
    data = load_image_dataset("mnist", data_path=tmp_path, shuffle_seed=5, n_test=6)
    order = np.random.default_rng(5).permutation(30)
    assert data.source == str(tmp_path / "mnist10k.npz") and data.image_shape == (1, 28, 28)
    assert np.array_equal(data.test, _expected(images[order[:6], None]))
    assert np.array_equal(data.train, _expected(images[order[6:], None]))
    assert np.array_equal(data.train_labels, order[6:] // 10)
    assert np.array_equal(to_uint8(data.test)[..., 0], images[order[:6]])
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    again = load_image_dataset("mnist", shuffle_seed=5, n_test=6)
    assert again.data_hash == data.data_hash and again.source == data.source
    with pytest.raises(ValueError, match="^n_test must leave >= 2 training images"):
        load_image_dataset("mnist", data_path=tmp_path)  # the default 1000 does not fit 30 images


def _truncated_archive(path):
    whole = path.with_name("whole.npz")
    _write_archive(whole)
    path.write_bytes(whole.read_bytes()[:200])


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"not an npz archive"), "cannot be read"),
    (lambda p: _truncated_archive(p), "cannot be read"),
    (lambda p: _write_archive(p, dtype=np.float32), "uint8"),
    (lambda p: _write_archive(p, shape=(8, 8)), "uint8"),
    (lambda p: np.savez(p, images=np.zeros((3, 28, 28), np.uint8)), "no 'labels'"),
    (lambda p: np.savez(p, images=np.zeros((3, 28, 28), np.uint8), labels=np.array([0, 1, 12])), "0..9"),
    (lambda p: np.savez(p, images=np.zeros((3, 28, 28), np.uint8), labels=np.array([0, 1])), "one integer label"),
])
def test_missing_or_corrupt_archive_names_the_path(tmp_path, make, expected):
    path = tmp_path / "fashion_mnist70k.npz"
    make(path)
    with pytest.raises(ValueError) as info:
        load_image_dataset("fashion", data_path=path)
    message = str(info.value)
    assert message.startswith("data_path ") and str(path) in message and expected in message
    assert "obtain fashion_mnist70k.npz" in message and "\n" not in message


@pytest.mark.parametrize("name, n_train, n_test, per_class", [("mnist", 9000, 1000, (50, 150)),
                                                              ("fashion", 60000, 10000, (800, 1200))])
def test_shared_archives_if_present(name, n_train, n_test, per_class):
    file_name = {"mnist": "mnist10k.npz", "fashion": "fashion_mnist70k.npz"}[name]
    path = resolve_archive_path({"mnist": "mnist", "fashion": "fashion-mnist"}[name])  # env var, else ../shared
    if not path.is_file():
        pytest.skip(f"{file_name} is in neither $COLLAPSE_THEORY_DATA nor ../shared/data (build it: "
                    f"collapse-theory data prepare --dataset {name} --from DIR)")
    if path != default_data_dir() / file_name:  # an archive built by 'data prepare' holds all 70,000 images
        n_train = int(np.load(path)["labels"].shape[0]) - n_test
    data = load_image_dataset(name)
    assert data.train.shape == (n_train, 1, 28, 28) and data.test.shape == (n_test, 1, 28, 28)
    assert data.image_shape == (1, 28, 28) and data.source == str(path)
    assert data.train.min() == -1.0 and data.train.max() == 1.0
    counts = np.bincount(data.test_labels, minlength=10)
    assert counts.size == 10 and per_class[0] <= counts.min() and counts.max() <= per_class[1]  # shuffled
    if name == "mnist":  # (one more load of the 70k archive would cost seconds)
        assert load_image_dataset(name).data_hash == data.data_hash
        assert load_image_dataset(name, max_train=10).data_hash != data.data_hash


# ---------------------------------------------------------------------------------------- torchvision layouts


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
@pytest.mark.parametrize("compress", [False, True])
def test_torchvision_idx_layout_is_read_exactly(tmp_path, name, folder, compress):
    written = _write_mnist_layout(tmp_path, folder, compress=compress)
    data = load_image_dataset(name, data_root=tmp_path, shuffle_seed=2)
    train_images, train_labels = written["train"]
    test_images, test_labels = written["test"]
    order = np.random.default_rng(2).permutation(7)
    assert data.source == str(tmp_path / folder / "raw") and data.image_shape == (1, 28, 28)
    assert np.array_equal(data.test, _expected(test_images[:, None]))  # official test set, file order
    assert np.array_equal(data.test_labels, test_labels)
    assert np.array_equal(data.train, _expected(train_images[order, None]))
    assert np.array_equal(data.train_labels, train_labels[order])
    assert data.train.min() == -1.0 and data.train.max() == 1.0
    assert np.array_equal(to_uint8(data.test)[..., 0], test_images)
    head = load_image_dataset(name, data_root=tmp_path, shuffle_seed=2, n_test=2, max_train=3)
    assert np.array_equal(head.test, data.test[:2]) and np.array_equal(head.train, data.train[:3])
    with pytest.raises(ValueError, match="^n_test must be <= the 3 official test images"):
        load_image_dataset(name, data_root=tmp_path, n_test=4)


def test_cifar_pickles_are_read_exactly_with_channel_major_pixels(tmp_path):
    train, train_labels, test, test_labels = _write_cifar_layout(tmp_path)
    data = load_image_dataset("cifar-10", data_root=tmp_path, shuffle_seed=0)
    order = np.random.default_rng(0).permutation(10)
    assert data.name == "cifar10" and data.image_shape == (3, 32, 32)
    assert data.train.shape == (10, 3, 32, 32) and data.test.shape == (3, 3, 32, 32)
    assert data.source == str(tmp_path / "cifar-10-batches-py")
    assert np.array_equal(data.test, _expected(test.reshape(3, 3, 32, 32)))
    assert np.array_equal(data.train, _expected(train.reshape(10, 3, 32, 32)[order]))
    assert np.array_equal(data.train_labels, train_labels[order]) and np.array_equal(data.test_labels, test_labels)
    # channel c of pixel (row, col) is byte c * 1024 + row * 32 + col of a row
    assert to_uint8(data.test)[1, 4, 5, 2] == test[1, 2 * 1024 + 4 * 32 + 5]


def test_a_pickle_with_foreign_globals_is_refused_without_running_it(tmp_path):
    _write_cifar_layout(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.write_bytes(pickle.dumps({b"data": Payload(), b"labels": []}, protocol=2))
    with pytest.raises(ValueError) as info:
        load_image_dataset("cifar10", data_root=tmp_path)
    assert str(info.value).startswith("data_root ") and str(path) in str(info.value)
    assert "not allowed" in str(info.value) and not marker.exists()


@pytest.mark.parametrize("name, missing", [("mnist", "MNIST/raw/train-images-idx3-ubyte"),
                                           ("fashion", "FashionMNIST/raw/train-images-idx3-ubyte"),
                                           ("cifar10", "cifar-10-batches-py/data_batch_1")])
def test_missing_root_names_the_path_and_download(tmp_path, name, missing):
    root = tmp_path / "nowhere"
    with pytest.raises(ValueError) as info:
        load_image_dataset(name, data_root=root)
    message = str(info.value)
    assert message.startswith("data_root ") and str(root / missing) in message
    assert "--download" in message and "\n" not in message


def _corrupt_cases():
    def truncate_plain(raw):
        path = raw / IDX_NAMES["train"][0]
        path.write_bytes(path.read_bytes()[:-5])
        return path

    def truncate_gz(raw):
        path = raw / (IDX_NAMES["test"][1] + ".gz")
        path.write_bytes(gzip.compress(_idx_bytes(np.arange(3, dtype=np.uint8), 2049))[:-12])
        return path

    def bad_magic(raw):
        path = raw / IDX_NAMES["test"][0]
        path.write_bytes(_idx_bytes(np.zeros((3, 28, 28), np.uint8), 2049))  # a labels header on images
        return path

    def wrong_size(raw):
        path = raw / IDX_NAMES["test"][0]
        path.write_bytes(_idx_bytes(np.zeros((3, 16, 16), np.uint8), 2051))
        return path

    def label_count(raw):
        path = raw / IDX_NAMES["test"][1]
        path.write_bytes(_idx_bytes(np.zeros(5, np.uint8), 2049))
        return path

    return [(truncate_plain, "truncated"), (truncate_gz, "cannot be read"), (bad_magic, "bad header"),
            (wrong_size, "28 x 28"), (label_count, "one integer label")]


@pytest.mark.parametrize("corrupt, expected", _corrupt_cases())
def test_corrupt_idx_files_name_the_path(tmp_path, corrupt, expected):
    _write_mnist_layout(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    if corrupt.__name__ == "truncate_gz":
        (raw / IDX_NAMES["test"][1]).unlink()
    path = corrupt(raw)
    with pytest.raises(ValueError) as info:
        load_image_dataset("mnist", data_root=tmp_path)
    message = str(info.value)
    assert message.startswith("data_root ") and str(path) in message and expected in message


@pytest.mark.parametrize("content", [b"garbage", b""])
def test_corrupt_cifar_batch_names_the_path(tmp_path, content):
    _write_cifar_layout(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_image_dataset("cifar10", data_root=tmp_path)
    assert str(info.value).startswith("data_root ") and str(path) in str(info.value)


# ------------------------------------------------------------------------------------------------- downloading


def test_download_without_torchvision_says_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # any `import torchvision...` now fails
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ValueError) as info:
        load_image_dataset("mnist", data_root=tmp_path, download=True)
    message = str(info.value)
    assert message.startswith("download: torchvision is needed to download mnist")
    assert "install it" in message and str(tmp_path) in message
    _write_mnist_layout(tmp_path)  # files present: nothing to download, torchvision not needed
    assert load_image_dataset("mnist", data_root=tmp_path, download=True).train.shape == (7, 1, 28, 28)


def _fake_torchvision(monkeypatch, make_class):
    datasets = types.ModuleType("torchvision.datasets")
    for cls in ("MNIST", "FashionMNIST", "CIFAR10"):
        setattr(datasets, cls, make_class(cls))
    package = types.ModuleType("torchvision")
    package.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)


def test_download_goes_through_torchvision_then_the_numpy_reader(tmp_path, monkeypatch):
    calls = []

    def make_class(cls):
        def dataset(root, train, download):
            calls.append((cls, root, train, download))
            if not (tmp_path / "FashionMNIST").exists():
                _write_mnist_layout(tmp_path, "FashionMNIST", compress=True)
        return dataset

    _fake_torchvision(monkeypatch, make_class)
    data = load_image_dataset("fmnist", data_root=tmp_path, download=True)
    assert calls == [("FashionMNIST", str(tmp_path), True, True), ("FashionMNIST", str(tmp_path), False, True)]
    assert data.name == "fashion" and data.train.shape == (7, 1, 28, 28) and data.test.shape == (3, 1, 28, 28)


def test_a_network_failure_names_the_root_and_where_to_get_the_data(tmp_path, monkeypatch):
    def make_class(cls):
        def dataset(root, train, download):
            raise urllib.error.URLError("Temporary failure in name resolution")
        return dataset

    _fake_torchvision(monkeypatch, make_class)
    root = tmp_path / "data"
    with pytest.raises(ValueError) as info:
        load_image_dataset("cifar10", data_root=root, download=True)
    message = str(info.value)
    assert message.startswith("data_root: downloading cifar10") and str(root) in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message and "name resolution" in message


def test_image_module_never_imports_torch():
    code = ("import sys, numpy as np, collapse_theory.data as d, collapse_theory.data.images as m;"
            "m.to_uint8(np.zeros((1, 3, 2, 2)));"
            "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
