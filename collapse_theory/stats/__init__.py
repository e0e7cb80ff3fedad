"""Statistics shared by every family and tier (numpy + scipy only, never torch).

- :mod:`.replicates`  replicate z-scores against a closed form and the limit they are held to, corrected for the
                      number of comparisons (Sidak) with the t distribution of R - 1 degrees of freedom
- :mod:`.decisions`   the pre-registered decision protocol (Protocol, decide, Holm, power) that decides the paper's
                      claims from per-seed values: confirmed / refuted / inconclusive
"""

from .decisions import Decision, Protocol, decide, decide_family, holm, holm_adjust
from .replicates import max_abs_z, summarise_z, z_limit, z_scores

__all__ = ["Decision", "Protocol", "decide", "decide_family", "holm", "holm_adjust", "max_abs_z", "summarise_z",
           "z_limit", "z_scores"]
