"""What every stage of an image run shares: seeds derived from names, and the network seen as an ODE field.

- :func:`derive_seed`  a 63-bit seed from any tuple of ints/strings (sha256), so the streams of every stage
  (training step s of round k on rank r, pair shard i, evaluation noise, ...) never collide and never depend on how
  far an earlier process got.
- :class:`FlatField`  v(x, t) on flattened images (n, C*H*W), as :mod:`collapse_theory.train.flow.ode` expects.
"""

from __future__ import annotations

import contextlib
import hashlib

import torch
from torch import nn


def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of ints/strings (sha256), so independent streams never collide."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class FlatField:
    """v(x, t) on flattened images (n, C*H*W), as :mod:`collapse_theory.train.flow.ode` expects: x is reshaped to
    (n, C, H, W) (channels_last when asked), the network runs under ``autocast()`` when given, and its output is
    returned in float32, flattened again."""

    def __init__(self, net: nn.Module, shape: tuple[int, int, int], autocast=None, channels_last: bool = False):
        self.net, self.shape, self.autocast, self.channels_last = net, tuple(shape), autocast, channels_last

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        img = x.reshape((-1,) + self.shape)
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        ctx = self.autocast() if self.autocast is not None else contextlib.nullcontext()
        with ctx:
            out = self.net(img, t)
        return out.float().reshape(x.shape[0], -1)
