"""Real data sets for the trained tier, numpy only (never torch): scikit-learn's digits and the offline
Fashion-MNIST / MNIST archives, shuffled with a fixed seed and projected by PCA to a few dimensions; and the
image data sets of the image-scale pipeline (digits, MNIST, Fashion-MNIST, CIFAR-10 as (N, C, H, W) in [-1, 1])."""

from .images import (
    IMAGE_DATASET_ALIASES,
    IMAGE_DATASETS,
    ImageData,
    check_image_dataset,
    load_image_dataset,
    to_uint8,
)
from .loaders import (
    DATA_ENV_VAR,
    IMAGE_FILES,
    REAL_DATASETS,
    default_data_dir,
    load_digits_images,
    load_image_archive,
    load_real_dataset,
    pca_project,
    resolve_archive_path,
)

__all__ = ["DATA_ENV_VAR", "IMAGE_DATASETS", "IMAGE_DATASET_ALIASES", "IMAGE_FILES", "ImageData", "REAL_DATASETS",
           "check_image_dataset", "default_data_dir", "load_digits_images", "load_image_archive",
           "load_image_dataset", "load_real_dataset", "pca_project", "resolve_archive_path", "to_uint8"]
