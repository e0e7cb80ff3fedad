"""Building the MNIST / Fashion-MNIST archives from the official IDX files (collapse_theory.data.archives and
``collapse-theory data prepare|info``), with tiny synthetic IDX files written here."""

import gzip
import json
import struct

import numpy as np
import pytest

from collapse_theory.cli.shell import main
from collapse_theory.data import archives
from collapse_theory.data.loaders import load_image_archive

N_TRAIN, N_TEST = 7, 3


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0 0 8 ndim, big-endian uint32 sizes, the bytes."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes((0, 0, 8, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_set(folder, seed=0, gz=False, n_train=N_TRAIN, n_test=N_TEST):
    """Four IDX files under ``folder``; returns (images, labels) in train-then-test order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        prefix = "train" if split == "train" else "t10k"
        for name, arr in ((f"{prefix}-images-idx3-ubyte", x), (f"{prefix}-labels-idx1-ubyte", y)):
            data = idx_bytes(arr)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("layout, gz", [("flat", False), ("flat", True), ("raw", True), ("torchvision", False)])
def test_build_archive_round_trips_through_the_loader(tmp_path, layout, gz):
    sub = {"flat": "", "raw": "raw", "torchvision": "FashionMNIST/raw"}[layout]
    images, labels = write_idx_set(tmp_path / "src" / sub, gz=gz)
    path = archives.build_archive("fashion", tmp_path / "src", tmp_path / "out")
    assert path == tmp_path / "out" / "fashion_mnist70k.npz"
    with np.load(path) as archive:
        assert archive["images"].dtype == np.uint8 and archive["labels"].dtype == np.uint8
        assert np.array_equal(archive["images"], images) and np.array_equal(archive["labels"], labels)
    loaded, loaded_labels = load_image_archive("fashion-mnist", path)[:2]
    assert loaded.shape == (N_TRAIN + N_TEST, 28 * 28) and sorted(loaded_labels.tolist()) == sorted(labels.tolist())


def test_read_idx_rejects_wrong_type_truncation_and_padding(tmp_path):
    good = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    path = tmp_path / "f-idx2-ubyte"
    path.write_bytes(good)
    assert archives.read_idx(path, 2).shape == (2, 3)
    for bad, why in ((good[:-1], "truncated"), (good + b"\0", "padded"), (b"\0\0\x0d\x02" + good[4:], "bad header"),
                     (b"", "bad header")):
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=f"^source must hold .*{why}"):
            archives.read_idx(path, 2)
    (tmp_path / "g.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="^source must hold readable"):
        archives.read_idx(tmp_path / "g.gz", 2)


def test_build_archive_checks_before_writing(tmp_path):
    write_idx_set(tmp_path / "src")
    (tmp_path / "src" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(N_TEST + 1)))  # one label too many
    with pytest.raises(ValueError, match="^source must hold one label per image"):
        archives.build_archive("mnist", tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="^source must hold the four IDX files"):
        archives.build_archive("mnist", tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="^dataset must be one of"):
        archives.build_archive("cifar10", tmp_path / "src")


def test_cli_prepare_then_info_finds_the_archive(tmp_path, capsys, monkeypatch):
    write_idx_set(tmp_path / "idx", gz=True)
    monkeypatch.setenv("COLLAPSE_THEORY_DATA", str(tmp_path / "data"))
    assert main(["data", "prepare", "--dataset", "mnist", "--from", str(tmp_path / "idx")]) == 0
    assert f"{N_TRAIN + N_TEST} images of mnist" in capsys.readouterr().out
    assert (tmp_path / "data" / "mnist10k.npz").is_file()
    assert main(["data", "info", "--json"]) == 0
    records = {r["dataset"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["mnist"]["present"] and records["mnist"]["images"] == N_TRAIN + N_TEST
    assert records["mnist"]["path"] == str(tmp_path / "data" / "mnist10k.npz")
    assert not records["fashion-mnist"]["present"] and records["digits"]["present"]
    # an existing archive is kept unless --force
    assert main(["data", "prepare", "--dataset", "mnist", "--from", str(tmp_path / "idx")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["data", "prepare", "--dataset", "mnist", "--from", str(tmp_path / "idx"), "--force"]) == 0
    capsys.readouterr()
    for out in ("", str(tmp_path / "data" / "mnist10k.npz" / "under")):
        assert main(["data", "prepare", "--dataset", "mnist", "--from", str(tmp_path / "idx"), "--out", out]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--out" in err


@pytest.mark.parametrize("argv, flag", [
    (["data", "prepare", "--dataset", "mnist", "--from", "/nonexistent-folder"], "--from"),
    (["data", "prepare", "--dataset", "svhn", "--from", "."], "--dataset"),
    (["data"], "prepare"),
])
def test_cli_data_errors_are_one_line_naming_the_flag(capsys, argv, flag):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("collapse-theory: error:") and flag in err


def test_missing_archive_error_names_the_data_commands(tmp_path):
    with pytest.raises(ValueError) as info:
        load_image_archive("fashion-mnist", tmp_path / "nowhere.npz")
    assert "collapse-theory data prepare" in str(info.value) and "collapse-theory data info" in str(info.value)
