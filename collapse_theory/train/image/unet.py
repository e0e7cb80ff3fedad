"""A UNet velocity network v_theta(x, t) for image rectified flow.

Time convention (as everywhere in this package): x_0 is noise at t = 0, x_1 is data at t = 1, and the
rectified-flow ODE dx/dt = v_theta(x, t) runs t: 0 -> 1 with t in [0, 1]. The network maps an image batch
x in R^{B x C x H x W} and times t in R^B to a velocity of the same shape as x.

Architecture (the ADM / guided-diffusion UNet layout that torchcfm's ``UNetModelWrapper`` also uses, written
from scratch here):

- time embedding  e(t) = W_2 SiLU(W_1 s(1000 t) + b_1) + b_2 in R^{4 c}, c = ``base_channels``, where the
  sinusoids are s(tau)_j = cos(tau w_j), s(tau)_{j + c/2} = sin(tau w_j), w_j = 10000^{-j / (c/2)},
  j = 0..c/2 - 1 (a zero is appended when c is odd);
- residual block  ResBlock(h, e) = S h + Conv_2(Drop(SiLU(GN_2(Conv_1(SiLU(GN_1 h)) + P SiLU(e))))), with
  GN = GroupNorm, Conv = 3x3 convolution, P a linear map R^{4c} -> R^{C_out} broadcast over the pixels, and S
  the identity when C_in = C_out, else a 1x1 convolution;
- self-attention  Attn(h) = h + W_o MHA(GN h) over the H W pixel tokens, with q, k, v = W_qkv (GN h) split
  into n_h = C / ``num_head_channels`` heads (at least one, reduced to a divisor of C) and
  MHA = softmax(q k^T / sqrt(d_h)) v via :func:`torch.nn.functional.scaled_dot_product_attention`;
  W_o starts at zero, so each attention block starts as the identity;
- encoder: a 3x3 input convolution, then for each level l (channels c * ``channel_mult[l]``)
  ``num_res_blocks`` residual blocks (each followed by attention when the current size is in
  ``attention_resolutions``) and, except at the last level, a stride-2 3x3 convolution with padding 1,
  which maps size n to ceil(n / 2) (so 28 -> 14 -> 7 -> 4 -> 2 -> 1; any size >= 1 at any depth);
  every block output is kept as a skip tensor;
- middle: ResBlock, Attn (if ``mid_attention``), ResBlock;
- decoder: for each level in reverse, ``num_res_blocks + 1`` residual blocks, each on the channel
  concatenation [h, skip] of the last unused skip tensor (plus attention as in the encoder) and, except at
  level 0, nearest-neighbour upsampling to exactly the next skip tensor's size (``F.interpolate(size=...)``)
  followed by a 3x3 convolution;
- output: v = Conv_out(SiLU(GN h)) with Conv_out initialised to zero, so an untrained UNet has v == 0.

GroupNorm over C channels uses G groups, G the largest divisor of gcd(``norm_groups``, C) with C / G >= 4
(:func:`norm_group_count`), so narrow networks work and a group never shrinks to one channel. GroupNorm,
convolutions and attention act on each sample separately, so the output for sample i depends on sample i only.

The network works with ``torch.compile``, ``torch.autocast`` (bf16 / fp16) and ``channels_last`` inputs
(only reshape / permute, no ``.view`` of a possibly non-contiguous tensor).

:data:`UNET_PRESETS` (parameter counts in parentheses, :func:`count_parameters`):

- ``"tiny-8"``     8x8x1 digits, base 16, mult (1, 1, 1) (sizes 8, 4, 2), 1 res block, no attention
                   at all (95,233 parameters)
- ``"small-28"``   28x28x1 MNIST-like, base 32, mult (1, 2, 2) (sizes 28, 14, 7), 2 res blocks, attention at
                   14 and in the middle (1,623,169)
- ``"cifar-36m"``  32x32x3 CIFAR-10, base 128, mult (1, 2, 2, 2), 2 res blocks, attention at 16 and in the
                   middle, 64 channels per head, dropout 0.1: the layout and size of torchcfm's CIFAR-10
                   ``UNetModelWrapper`` (35,746,307)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNET_PRESETS", "UNet", "UNetConfig", "build_unet", "count_parameters"]

_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)  # torch >= 2.3

TIME_SCALE = 1000.0  # t in [0, 1] is multiplied by this before the sinusoids
MAX_PERIOD = 10000.0  # w_j = MAX_PERIOD^{-j / half}


def _int_at_least(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _int_tuple(value, name: str, minimum: int, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of integers >= {minimum}, got {value!r}")
    items = tuple(_int_at_least(v, name, minimum) for v in value)
    if not items and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return items


def level_sizes(image_size: int, n_levels: int) -> tuple[int, ...]:
    """Spatial size at each level: n_0 = image_size, n_{l+1} = ceil(n_l / 2) (stride-2 conv, padding 1)."""
    sizes = [int(image_size)]
    for _ in range(n_levels - 1):
        sizes.append((sizes[-1] + 1) // 2)
    return tuple(sizes)


@dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of :class:`UNet` (see the module docstring for the architecture).

    ``attention_resolutions`` lists spatial sizes (e.g. 16 for the 16x16 level of a 32x32 image); every
    listed size must be one of the level sizes n_l = ceil(n_{l-1} / 2). ``mid_attention`` puts a
    self-attention block between the two middle residual blocks (the ADM layout, on by default)."""

    in_channels: int = 1
    image_size: int = 8
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = ()
    num_head_channels: int = 64
    dropout: float = 0.0
    norm_groups: int = 32
    mid_attention: bool = True

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("in_channels", _int_at_least(self.in_channels, "in_channels", 1))
        set_("image_size", _int_at_least(self.image_size, "image_size", 1))
        set_("base_channels", _int_at_least(self.base_channels, "base_channels", 1))
        set_("channel_mult", _int_tuple(self.channel_mult, "channel_mult", 1, allow_empty=False))
        set_("num_res_blocks", _int_at_least(self.num_res_blocks, "num_res_blocks", 1))
        set_("attention_resolutions",
             _int_tuple(self.attention_resolutions, "attention_resolutions", 1, allow_empty=True))
        set_("num_head_channels", _int_at_least(self.num_head_channels, "num_head_channels", 1))
        set_("norm_groups", _int_at_least(self.norm_groups, "norm_groups", 1))
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        set_("dropout", float(dropout))
        if not isinstance(self.mid_attention, bool):
            raise ValueError(f"mid_attention must be a bool, got {self.mid_attention!r}")
        sizes = self.level_sizes
        missing = sorted(set(self.attention_resolutions) - set(sizes))
        if missing:
            raise ValueError(f"attention_resolutions {missing} are not level sizes {list(sizes)} of a "
                             f"{self.image_size}x{self.image_size} image with {len(self.channel_mult)} levels")

    @property
    def level_sizes(self) -> tuple[int, ...]:
        """Spatial size n_l of each level l (n_0 = image_size, n_{l+1} = ceil(n_l / 2))."""
        return level_sizes(self.image_size, len(self.channel_mult))

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (tuples as lists); ``UNetConfig.from_dict(c.to_dict()) == c``."""
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, d) -> UNetConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys are an error."""
        if not isinstance(d, dict):
            raise ValueError(f"d must be a dict, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names, key=str)
        if unknown:
            raise ValueError(f"d has unknown UNetConfig fields {unknown}; known: {sorted(names)}")
        return cls(**d)


def norm_group_count(channels: int, norm_groups: int) -> int:
    """G = the largest divisor of gcd(norm_groups, C) with C / G >= 4 (G = 1 when C < 8).

    gcd keeps G | C for narrow nets (G = 32 for the usual C = 128, 256, 384, 512 with norm_groups = 32);
    at least 4 channels per group keeps GroupNorm from turning into an instance norm, which would subtract
    the per-channel time shift P SiLU(e) again and make the network blind to t."""
    common = math.gcd(norm_groups, channels)
    return max(d for d in range(1, common + 1) if common % d == 0 and (d == 1 or channels // d >= 4))


def _group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(norm_group_count(channels, groups), channels)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """s(1000 t) in R^{B x dim}: [cos(1000 t w_j)]_j ++ [sin(1000 t w_j)]_j, w_j = 10000^{-j/half}, half = dim // 2
    (a zero column is appended for odd dim). Computed in float32 whatever the autocast state."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(MAX_PERIOD) / max(half, 1)))
    args = (t.to(torch.float32) * TIME_SCALE)[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


class ResBlock(nn.Module):
    """S h + Conv_2(Drop(SiLU(GN_2(Conv_1(SiLU(GN_1 h)) + P SiLU(e)))))."""

    def __init__(self, in_ch: int, out_ch: int, emb_ch: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = _group_norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb_proj = nn.Linear(emb_ch, out_ch)
        self.norm2 = _group_norm(out_ch, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        z = self.conv1(F.silu(self.norm1(h)))
        z = z + self.emb_proj(F.silu(emb))[:, :, None, None]
        z = self.conv2(self.dropout(F.silu(self.norm2(z))))
        return self.skip(h) + z


class AttentionBlock(nn.Module):
    """h + W_o MHA(GN h) over the H*W pixel tokens (W_o zero-initialised: starts as the identity)."""

    def __init__(self, channels: int, head_channels: int, groups: int):
        super().__init__()
        heads = max(1, channels // head_channels)
        while channels % heads:
            heads -= 1
        self.heads = heads
        self.norm = _group_norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = h.shape
        tokens = self.norm(h).permute(0, 2, 3, 1).reshape(b, hh * ww, c)  # (B, HW, C)
        qkv = self.qkv(tokens).reshape(b, hh * ww, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, heads, HW, d), last stride 1
        out = self.proj(out.transpose(1, 2).reshape(b, hh * ww, c))
        return h + out.reshape(b, hh, ww, c).permute(0, 3, 1, 2)


class Downsample(nn.Module):
    """Stride-2 3x3 convolution with padding 1: size n -> ceil(n / 2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(h)


class Upsample(nn.Module):
    """Nearest-neighbour resize to an exact target size, then a 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: torch.Tensor, size) -> torch.Tensor:
        return self.conv(F.interpolate(h, size=size, mode="nearest"))


class _Stage(nn.Module):
    """One residual block with optional attention after it and optional resampling after that."""

    def __init__(self, res: ResBlock, attn: AttentionBlock | None, resample: nn.Module | None = None):
        super().__init__()
        self.res = res
        self.attn = attn
        self.resample = resample


class UNet(nn.Module):
    """Velocity network v_theta(x, t): (B, C, H, W) x (B,) -> (B, C, H, W), H = W = ``config.image_size``.

    ``t`` may be a Python number, a 0-dim tensor (one time for the whole batch) or a (B,) tensor; it is
    used in float32 on x's device. Data at t = 1, noise at t = 0."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        if not isinstance(config, UNetConfig):
            raise ValueError(f"config must be a UNetConfig, got {type(config).__name__}")
        self.config = cfg = config
        c, g = cfg.base_channels, cfg.norm_groups
        emb_ch = 4 * c
        sizes = cfg.level_sizes
        attn_at = set(cfg.attention_resolutions)
        n_levels = len(cfg.channel_mult)

        def attention(ch: int, size: int) -> AttentionBlock | None:
            return AttentionBlock(ch, cfg.num_head_channels, g) if size in attn_at else None

        self.time_embed = nn.Sequential(nn.Linear(c, emb_ch), nn.SiLU(), nn.Linear(emb_ch, emb_ch))
        self.input_conv = nn.Conv2d(cfg.in_channels, c, 3, padding=1)

        skip_channels = [c]
        ch = c
        self.down = nn.ModuleList()
        for level, mult in enumerate(cfg.channel_mult):
            for i in range(cfg.num_res_blocks):
                last = i == cfg.num_res_blocks - 1 and level < n_levels - 1
                block = ResBlock(ch, c * mult, emb_ch, cfg.dropout, g)
                ch = c * mult
                self.down.append(_Stage(block, attention(ch, sizes[level]), Downsample(ch) if last else None))
                skip_channels.append(ch)
                if last:
                    skip_channels.append(ch)  # the downsampled tensor is a skip too

        self.mid1 = ResBlock(ch, ch, emb_ch, cfg.dropout, g)
        self.mid_attn = AttentionBlock(ch, cfg.num_head_channels, g) if cfg.mid_attention else None
        self.mid2 = ResBlock(ch, ch, emb_ch, cfg.dropout, g)

        self.up = nn.ModuleList()
        for level in reversed(range(n_levels)):
            mult = cfg.channel_mult[level]
            for i in range(cfg.num_res_blocks + 1):
                block = ResBlock(ch + skip_channels.pop(), c * mult, emb_ch, cfg.dropout, g)
                ch = c * mult
                up = Upsample(ch) if level > 0 and i == cfg.num_res_blocks else None
                self.up.append(_Stage(block, attention(ch, sizes[level]), up))
        assert not skip_channels

        self.out_norm = _group_norm(ch, g)
        self.out_conv = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def _check_x(self, x) -> None:
        cfg = self.config
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        expected = (cfg.in_channels, cfg.image_size, cfg.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected or x.shape[0] < 1:
            raise ValueError(f"x must have shape (B, {expected[0]}, {expected[1]}, {expected[2]}) with B >= 1, "
                             f"got {tuple(x.shape)}")

    @staticmethod
    def _time_vector(t, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if isinstance(t, torch.Tensor):
            if t.dtype == torch.bool or t.is_complex():
                raise ValueError(f"t must be a real tensor, got dtype {t.dtype}")
            if t.dim() == 0:
                t = t.reshape(1).expand(b)
            elif t.dim() != 1 or t.shape[0] != b:
                raise ValueError(f"t must be a number, a 0-dim tensor or a ({b},) tensor, got shape {tuple(t.shape)}")
            return t.to(device=x.device, dtype=torch.float32)
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or (
                not _is_compiling() and not math.isfinite(t)):
            raise ValueError(f"t must be a finite number, a 0-dim tensor or a ({b},) tensor, got {t!r}")
        return torch.full((b,), float(t), device=x.device, dtype=torch.float32)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        """v_theta(x, t) of shape x.shape."""
        self._check_x(x)
        emb = self.time_embed(timestep_embedding(self._time_vector(t, x), self.config.base_channels))

        h = self.input_conv(x)
        skips = [h]
        for stage in self.down:
            h = stage.res(h, emb)
            if stage.attn is not None:
                h = stage.attn(h)
            skips.append(h)
            if stage.resample is not None:
                h = stage.resample(h)
                skips.append(h)

        h = self.mid1(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid2(h, emb)

        for stage in self.up:
            h = stage.res(torch.cat([h, skips.pop()], dim=1), emb)
            if stage.attn is not None:
                h = stage.attn(h)
            if stage.resample is not None:
                h = stage.resample(h, skips[-1].shape[-2:])

        return self.out_conv(F.silu(self.out_norm(h)))


UNET_PRESETS: dict[str, UNetConfig] = {
    "tiny-8": UNetConfig(in_channels=1, image_size=8, base_channels=16, channel_mult=(1, 1, 1), num_res_blocks=1,
                         attention_resolutions=(), mid_attention=False),
    "small-28": UNetConfig(in_channels=1, image_size=28, base_channels=32, channel_mult=(1, 2, 2),
                           num_res_blocks=2, attention_resolutions=(14,), num_head_channels=64),
    "cifar-36m": UNetConfig(in_channels=3, image_size=32, base_channels=128, channel_mult=(1, 2, 2, 2),
                            num_res_blocks=2, attention_resolutions=(16,), num_head_channels=64, dropout=0.1),
}


def build_unet(config_or_preset: UNetConfig | str, **overrides) -> UNet:
    """A fresh :class:`UNet` from a config or a preset name in :data:`UNET_PRESETS`, with fields replaced by
    ``overrides`` (e.g. ``build_unet("small-28", dropout=0.1)``).

    When ``overrides`` change ``image_size`` or ``channel_mult`` but do not give ``attention_resolutions``,
    attention stays at the same levels: a listed size n_l of level l becomes the new size n'_l of that level
    (levels beyond the new depth are dropped), so ``build_unet("small-28", image_size=32)`` attends at 16 and
    ``build_unet("cifar-36m", image_size=28)`` at 14."""
    if isinstance(config_or_preset, str):
        if config_or_preset not in UNET_PRESETS:
            raise ValueError(f"config_or_preset must be a UNetConfig or one of {sorted(UNET_PRESETS)}, "
                             f"got {config_or_preset!r}")
        config = UNET_PRESETS[config_or_preset]
    elif isinstance(config_or_preset, UNetConfig):
        config = config_or_preset
    else:
        raise ValueError(f"config_or_preset must be a UNetConfig or a preset name, "
                         f"got {type(config_or_preset).__name__}")
    names = {f.name for f in dataclasses.fields(UNetConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"overrides has unknown UNetConfig fields {unknown}; known: {sorted(names)}")
    if not overrides:
        return UNet(config)
    if "attention_resolutions" not in overrides and ("image_size" in overrides or "channel_mult" in overrides):
        levels = {config.level_sizes.index(n) for n in config.attention_resolutions}
        new_sizes = dataclasses.replace(config, **overrides, attention_resolutions=()).level_sizes  # validates
        overrides["attention_resolutions"] = tuple(sorted({new_sizes[lv] for lv in levels if lv < len(new_sizes)},
                                                          reverse=True))
    return UNet(dataclasses.replace(config, **overrides))


def count_parameters(module) -> int:
    """Number of scalar parameters sum_p numel(p) of ``module`` (trainable or not; works on the meta device)."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters())
