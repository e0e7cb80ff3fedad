"""Closed forms and recursions of the collapse theory (numpy, scipy and sympy only; never torch)."""

from .dae.linear import (
    bottleneck_dae,
    bottleneck_dae_loss,
    dae_gain,
    dae_loss,
    empirical_dae,
    optimal_dae,
    second_moment,
)
from .dae.recursion import (
    DAETrajectory,
    accumulate_bounds,
    collapse_bounds,
    collapse_map,
    dae_recursion,
    dae_recursion_matrix,
    fixed_point,
    fixed_point_gain,
    fixed_point_rate,
    fixed_point_training_moment,
    real_fraction_lower_bound,
    rounds_to_collapse,
    rounds_to_collapse_bounds,
)
from .spectral import effective_rank, gaussian_w2, gaussian_w2_commuting, psd_sqrt
from ..validation import REGIMES, RULES

__all__ = [
    "DAETrajectory", "REGIMES", "RULES", "accumulate_bounds", "bottleneck_dae", "bottleneck_dae_loss",
    "collapse_bounds", "collapse_map", "dae_gain", "dae_loss", "dae_recursion", "dae_recursion_matrix",
    "effective_rank", "empirical_dae", "fixed_point", "fixed_point_gain", "fixed_point_rate",
    "fixed_point_training_moment", "gaussian_w2", "gaussian_w2_commuting", "optimal_dae", "psd_sqrt",
    "real_fraction_lower_bound", "rounds_to_collapse", "rounds_to_collapse_bounds", "second_moment",
]
