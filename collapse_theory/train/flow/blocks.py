"""The building blocks every rectified-flow trainer shares (the toy/vector pipeline, the image pipeline, the
seed-batched trainer): the loss, the EMA of the weights, the real/synthetic minibatch mixer and the validation of
a Reflow-family method with its real fraction.

Time convention (:mod:`collapse_theory.theory.conventions`): noise x0 at t = 0, data x1 at t = 1,
x_t = t x1 + (1 - t) x0.

- :func:`rf_loss`  L = E || (x1 - x0) - v(x_t, t) ||^2 (+ velocity_penalty E || v(x_t, t) ||^2), any shape
  (n, ...) with t of shape (n,): ``reduction="sum"`` sums the squared error over a sample's dimensions and
  averages over the batch (the norm squared); ``reduction="mean"`` also divides by the D entries of a sample
  (the per-pixel loss of image models).
- :class:`EMA`  p_ema <- decay p_ema + (1 - decay) p after every optimiser step.
- :class:`PairSource`  minibatches of (x0, x1) pairs: 1-RF pairs (a real x1, fresh N(0, I) noise x0), or
  n_r = floor(alpha B + 1/2) ("round(alpha B)") real pairs (z_hat, x) and B - n_r synthetic pairs (z, x_hat1),
  concatenated and then shuffled (the first author's scripts: mixing by concatenation, never by interpolation).
- :func:`check_reflow_method`  one of reflow, ra, ora, oras with its real fraction alpha (default 0 for reflow,
  0.5 otherwise; reflow demands alpha = 0).

Randomness: every draw takes the ``generator`` passed in (None: torch's global generator of the data's device),
in a fixed order, so a seed gives the same minibatches bit for bit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ...validation import check_choice, check_fraction

REFLOW_METHODS = ("reflow", "ra", "ora", "oras")
DEFAULT_REAL_FRACTION = 0.5
RF_REDUCTIONS = ("sum", "mean")


# ----------------------------------------------------------------------------------------------- method, fraction

def check_reflow_method(method, real_fraction=None, *, name: str = "method") -> tuple[str, float]:
    """``(method, real_fraction)`` validated: method one of :data:`REFLOW_METHODS`; real_fraction in [0, 1],
    None giving 0 for ``reflow`` and :data:`DEFAULT_REAL_FRACTION` for ra/ora/oras; ``reflow`` needs 0.

    ValueError naming the argument (``name`` for the method, ``real_fraction`` for the fraction) otherwise."""
    method = check_choice(method, REFLOW_METHODS, name)
    if real_fraction is None:
        real_fraction = 0.0 if method == "reflow" else DEFAULT_REAL_FRACTION
    real_fraction = float(check_fraction(real_fraction, "real_fraction"))
    if method == "reflow" and real_fraction != 0:
        raise ValueError(f"real_fraction must be 0 for method 'reflow' (use ra, ora or oras to mix real pairs), "
                         f"got {real_fraction:g}")
    return method, real_fraction


# ----------------------------------------------------------------------------------------------- loss

def rf_loss(velocity, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, velocity_penalty: float = 0.0, *,
            reduction: str = "sum") -> torch.Tensor:
    """The rectified-flow loss of the pairs (x0, x1) at times t (one per pair, shape (n,)):

        L = (1/n) sum_b || (x1_b - x0_b) - v(x_t_b, t_b) ||^2 / c  +  velocity_penalty (1/n) sum_b || v ||^2 / c,

    x_t = t x1 + (1 - t) x0, c = 1 for ``reduction="sum"`` and c = D (entries per sample) for ``"mean"``.
    ``velocity(x, t)`` takes x of the pairs' shape and t of shape (n,); its output is cast to x1's dtype
    (bf16 autocast outputs are compared in float32). The penalty's minimiser is v*/(1 + velocity_penalty),
    v* = E[x1 - x0 | x_t]: the ridge-shrunk velocity of the shrinkage setting."""
    if reduction not in RF_REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(RF_REDUCTIONS)}, got {reduction!r}")
    tt = t.reshape((-1,) + (1,) * (x1.ndim - 1))
    xt = tt * x1 + (1 - tt) * x0
    v = velocity(xt, t.reshape(-1))
    if v.dtype != x1.dtype:
        v = v.to(x1.dtype)
    loss = _reduce((x1 - x0 - v) ** 2, reduction)
    if velocity_penalty:
        loss = loss + velocity_penalty * _reduce(v ** 2, reduction)
    return loss


def _reduce(squares: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return squares.mean()
    return squares.reshape(squares.shape[0], -1).sum(dim=1).mean()


# ----------------------------------------------------------------------------------------------- EMA

class EMA:
    """Exponential moving average of a model's weights: p_ema <- decay p_ema + (1 - decay) p after each step
    (one fused ``lerp``: p_ema + (1 - decay)(p - p_ema)). ``model`` is a frozen copy in eval mode."""

    def __init__(self, model: nn.Module, decay: float):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not (0 < decay < 1):
            raise ValueError(f"ema_decay must lie in (0, 1), got {decay!r}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_p = list(self.model.parameters())
        p = [q.detach() for q in model.parameters()]
        torch._foreach_lerp_(ema_p, p, 1.0 - self.decay)


# ----------------------------------------------------------------------------------------------- the batch mixer

def real_pairs_in_batch(real_fraction: float, batch_size: int) -> int:
    """n_r = floor(alpha B + 1/2): the real pairs in every minibatch of B pairs ("round(alpha B)")."""
    return int(math.floor(real_fraction * batch_size + 0.5))


@dataclass
class PairSource:
    """Where a minibatch of (x0, x1) pairs comes from (see the module docstring).

    ``independent=True``: 1-RF pairs, x1 drawn from ``real_x`` and fresh N(0, I) noise x0.
    Otherwise round(real_fraction * B) pairs from (``real_z``, ``real_x``) and the rest from
    (``synth_z``, ``synth_x``), concatenated then shuffled. ``real_z`` may be replaced between batches
    (ORA regenerates it). Tensors of any shape (n, ...) on any one device; the draws happen on that device."""

    real_x: torch.Tensor
    synth_z: torch.Tensor | None = None
    synth_x: torch.Tensor | None = None
    real_z: torch.Tensor | None = None
    real_fraction: float = 0.0
    independent: bool = False

    def n_real_in_batch(self, batch_size: int) -> int:
        return 0 if self.independent else real_pairs_in_batch(self.real_fraction, batch_size)

    def batch(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One minibatch (x0, x1) of ``batch_size`` pairs, drawn with ``generator`` (None: the global one)."""
        device = self.real_x.device
        if self.independent:
            idx = torch.randint(self.real_x.shape[0], (batch_size,), generator=generator, device=device)
            x1 = self.real_x[idx]
            x0 = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=device)
            return x0, x1
        n_r = self.n_real_in_batch(batch_size)
        parts0, parts1 = [], []
        if n_r > 0:
            if self.real_z is None:
                raise ValueError("real_fraction > 0 needs real pairs (real_z)")
            idx = torch.randint(self.real_x.shape[0], (n_r,), generator=generator, device=device)
            parts0.append(self.real_z[idx])
            parts1.append(self.real_x[idx])
        if batch_size - n_r > 0:
            if self.synth_z is None or self.synth_x is None:
                raise ValueError("real_fraction < 1 needs synthetic pairs (synth_z, synth_x)")
            idx = torch.randint(self.synth_z.shape[0], (batch_size - n_r,), generator=generator, device=device)
            parts0.append(self.synth_z[idx])
            parts1.append(self.synth_x[idx])
        x0, x1 = torch.cat(parts0), torch.cat(parts1)
        perm = torch.randperm(batch_size, generator=generator, device=device)
        return x0[perm], x1[perm]
