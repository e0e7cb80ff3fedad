"""The main job's embedded default works with no image archive at all: the trained DAE recursion checks train on
gaussian data and digits and name Fashion-MNIST as skipped, instead of failing on a missing file."""

from collapse_theory.claims.dae import trained_recursion


def test_recursion_checks_skip_fashion_mnist_without_its_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_THEORY_DATA", str(tmp_path))  # an empty folder: no archive anywhere it looks
    ran, skipped = trained_recursion.recursion_datasets()
    assert ran == ("gaussian", "digits") and skipped == ("fashion-mnist",)


def test_recursion_checks_use_fashion_mnist_where_its_archive_is(tmp_path, monkeypatch):
    (tmp_path / "fashion_mnist70k.npz").write_bytes(b"")  # presence decides; the loader checks the contents
    monkeypatch.setenv("COLLAPSE_THEORY_DATA", str(tmp_path))
    ran, skipped = trained_recursion.recursion_datasets()
    assert ran == ("gaussian", "digits", "fashion-mnist") and skipped == ()
