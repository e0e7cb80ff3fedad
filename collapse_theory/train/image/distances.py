"""Distances between feature sets (rows are samples; float64): FD, KID, k-NN precision and recall, the
real-vs-real floor, tidy rows.

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

from typing import Any

import numpy as np
import torch

from ...theory.spectral import psd_sqrt
from ...validation import check_positive_int
from .metric_inputs import (check_extractor_name, check_features, check_nonnegative_float, check_same_dim,
                            metric_name, resolve_device)



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
    a = check_features(feats_a, "feats_a", min_rows=2)
    b = check_features(feats_b, "feats_b", min_rows=2)
    check_same_dim(a, b, "feats_a", "feats_b")
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
    a = check_features(feats_a, "feats_a", min_rows=2)
    b = check_features(feats_b, "feats_b", min_rows=2)
    check_same_dim(a, b, "feats_a", "feats_b")
    degree = check_positive_int(degree, "degree")
    coef = check_nonnegative_float(coef, "coef")
    return _mmd2_unbiased(a, b, degree, coef)


def kernel_inception_distance(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, device=None) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 of :func:`polynomial_mmd2` with k(x, y) = (x^T y / d + 1)^3,
    averaged over ``subsets`` random subsets.

    Each subset draws s = min(subset_size, n_a, n_b) rows without replacement from each set
    (``numpy.random.default_rng(seed)``); returns (mean, std) of the ``subsets`` estimates, std with ddof = 1
    (0 for one subset). Called KID-<extractor> unless the features are Inception-v3's."""
    a = check_features(feats_a, "feats_a", min_rows=2)
    b = check_features(feats_b, "feats_b", min_rows=2)
    check_same_dim(a, b, "feats_a", "feats_b")
    subsets = check_positive_int(subsets, "subsets")
    subset_size = check_positive_int(subset_size, "subset_size", minimum=2)
    seed = check_positive_int(seed, "seed", minimum=0)
    s = min(subset_size, a.shape[0], b.shape[0])
    if device is not None:                      # e.g. the run's GPU: same float64 arithmetic, much faster
        a, b = a.to(resolve_device(device)), b.to(resolve_device(device))
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
    real = check_features(real_feats, "real_feats")
    fake = check_features(fake_feats, "fake_feats")
    check_same_dim(real, fake, "real_feats", "fake_feats")
    batch_size = check_positive_int(batch_size, "batch_size")
    for name, x in (("real_feats", real), ("fake_feats", fake)):
        if x.shape[0] <= k:
            raise ValueError(f"{name} must hold more than k = {k} samples, got {x.shape[0]}")
    if device is not None:                      # e.g. the run's GPU (float64 as on the CPU)
        real, fake = real.to(resolve_device(device)), fake.to(resolve_device(device))
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
    a = check_features(real_feats_a, "real_feats_a", min_rows=2)
    b = check_features(real_feats_b, "real_feats_b", min_rows=2)
    check_same_dim(a, b, "real_feats_a", "real_feats_b")
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
    name = check_extractor_name(extractor_name)
    real = check_features(real_feats, "real_feats", min_rows=2)
    fake = check_features(fake_feats, "fake_feats", min_rows=2)
    real_b = check_features(real_feats_b, "real_feats_b", min_rows=2)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    check_same_dim(real, real_b, "real_feats", "real_feats_b")
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
