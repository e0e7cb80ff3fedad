"""collapse_theory.data: numpy-only loaders (digits, Fashion-MNIST/MNIST archives), seeded shuffles, PCA."""

import subprocess
import sys

import numpy as np
import pytest

from collapse_theory.data import (
    DATA_ENV_VAR,
    default_data_dir,
    load_digits_images,
    load_image_archive,
    load_real_dataset,
    pca_project,
    resolve_archive_path,
)


def _write_archive(path, n=30, dtype=np.uint8, shape=(28, 28), labels=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, *shape)).astype(dtype)
    arrays = {"images": images}
    if labels:
        arrays["labels"] = np.repeat(np.arange(3, dtype=np.uint8), n // 3)  # grouped by class, as the real files
    np.savez(path, **arrays)
    return images


def test_pca_scores_have_diagonal_second_moment_and_fixed_signs():
    X = np.random.default_rng(1).standard_normal((500, 6)) @ np.diag([3, 2, 1, 0.5, 0.2, 0.1]) + 1.0
    Z, components, mean, variances = pca_project(X, 3)
    assert Z.shape == (500, 3) and components.shape == (3, 6)
    assert np.allclose(Z.T @ Z / 500, np.diag(variances), atol=1e-12)
    assert np.all(np.diff(variances) <= 0) and np.allclose(mean, X.mean(0))
    assert np.all(components[np.arange(3), np.argmax(np.abs(components), axis=1)] > 0)
    with pytest.raises(ValueError, match="^dim"):
        pca_project(X, 7)


def test_digits_are_shuffled_with_a_fixed_seed():
    X, labels = load_digits_images(shuffle_seed=0, max_images=200)
    X2, labels2 = load_digits_images(shuffle_seed=0, max_images=200)
    _, labels3 = load_digits_images(shuffle_seed=1, max_images=200)
    assert X.shape == (200, 64) and 0 <= X.min() and X.max() <= 1
    assert np.array_equal(labels, labels2) and not np.array_equal(labels, labels3)
    assert len(set(labels[:50])) > 5  # not grouped by class


def test_archive_is_found_by_argument_env_var_and_default(tmp_path, monkeypatch):
    images = _write_archive(tmp_path / "mnist10k.npz")
    X, labels, path = load_image_archive("mnist", data_path=tmp_path, shuffle_seed=3)
    assert path == tmp_path / "mnist10k.npz" and X.shape == (30, 784)
    order = np.random.default_rng(3).permutation(30)
    assert np.allclose(X, images[order].reshape(30, -1) / 255.0)
    assert load_image_archive("mnist", data_path=tmp_path / "mnist10k.npz")[2] == path
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert resolve_archive_path("mnist") == path
    monkeypatch.delenv(DATA_ENV_VAR)
    assert resolve_archive_path("fashion") == default_data_dir() / "fashion_mnist70k.npz"


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"not an npz archive"), "cannot be read"),
    (lambda p: _write_archive(p, dtype=np.float32), "uint8"),
    (lambda p: _write_archive(p, shape=(8, 8)), "uint8"),
    (lambda p: np.savez(p, pixels=np.zeros((3, 28, 28), np.uint8)), "no 'images'"),
])
def test_missing_or_corrupt_archive_names_the_path_and_how_to_obtain_it(tmp_path, make, expected):
    path = tmp_path / "fashion_mnist70k.npz"
    make(path)
    with pytest.raises(ValueError) as info:
        load_image_archive("fashion-mnist", data_path=path)
    message = str(info.value)
    assert message.startswith("data_path ") and str(path) in message and expected in message
    assert "obtain fashion_mnist70k.npz" in message and DATA_ENV_VAR in message


def test_real_dataset_from_the_shared_archive_if_present():
    if not resolve_archive_path("mnist").is_file():  # $COLLAPSE_THEORY_DATA, else ../shared/data
        pytest.skip("mnist10k.npz is in neither $COLLAPSE_THEORY_DATA nor ../shared/data (build it: "
                    "collapse-theory data prepare --dataset mnist --from DIR)")
    ds = load_real_dataset("mnist", 4, max_images=2000)
    assert ds.points.shape == (2000, 4) and ds.eigenvalues[0] == pytest.approx(1.0)
    assert np.allclose(ds.points.T @ ds.points / 2000, np.diag(ds.eigenvalues), atol=1e-12)


def test_unknown_dataset_names_the_argument():
    with pytest.raises(ValueError, match="^data must be one of"):
        load_real_dataset("imagenet", 4)


def test_data_package_never_imports_torch():
    code = ("import sys, collapse_theory.data as d; d.load_real_dataset('digits', 2, max_images=50);"
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_truncated_archive_is_a_one_line_error_naming_the_path(tmp_path):
    from collapse_theory.data.loaders import load_image_archive

    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((4, 28, 28), dtype=np.uint8), labels=np.arange(4))
    bad = tmp_path / "fashion_mnist70k.npz"
    bad.write_bytes(good.read_bytes()[:-40])          # cut off the zip's central directory
    with pytest.raises(ValueError, match="fashion_mnist70k.npz") as info:
        load_image_archive("fashion-mnist", data_path=bad)
    assert "cannot be read" in str(info.value) and "\n" not in str(info.value)
