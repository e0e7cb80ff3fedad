"""collapse_theory: verify the theory of model collapse in denoising autoencoders and rectified flow.

Layers (one-way): ``theory`` (numpy + scipy + sympy only) is the ground floor; ``claims`` (the registry
and its checks) stands on it; the CLI (``collapse-theory``) is a thin shell over both.
Time convention everywhere: noise at t = 0, data at t = 1.
"""

__version__ = "0.1.0"
