"""Real data sets for the trained tier, numpy only (never torch): scikit-learn's digits and the offline
Fashion-MNIST / MNIST archives, shuffled with a fixed seed and projected by PCA to a few dimensions."""

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

__all__ = ["DATA_ENV_VAR", "IMAGE_FILES", "REAL_DATASETS", "default_data_dir", "load_digits_images",
           "load_image_archive", "load_real_dataset", "pca_project", "resolve_archive_path"]
