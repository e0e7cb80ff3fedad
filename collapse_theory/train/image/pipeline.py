"""Image-scale Reflow, RA, ORA and ORAS Reflow: one pipeline, resumable, single process or DDP (torchrun).

Time convention (:mod:`collapse_theory.theory.conventions`): noise x0 at t = 0, data x1 at t = 1,
x_t = t x1 + (1 - t) x0. Sampling integrates dx/dt = v(x, t) forward (0 -> 1); inversion integrates it backward
(1 -> 0). Images live in [-1, 1].

**Loss** (per minibatch of B pairs, t ~ U[0, 1] per pair, D = C H W pixels):

    L(theta) = (1 / (B D)) sum_b || (x1_b - x0_b) - v_theta(x_t_b, t_b) ||^2.

**Rounds** (``K`` = ``config.rounds``; ``method`` one of reflow, ra, ora, oras):

- round 0 (all methods): 1-RF on independent pairs: x1 a minibatch of real training images, x0 ~ N(0, I) fresh.
- round k = 1..K: the EMA model of round k-1 generates ``n_pairs`` synthetic pairs (z, Euler_{gen_steps}(z)),
  stored as shards on disk (``pairs/round_k/synth_*.pt``, skipped when present: generation resumes shard by
  shard). For ra/ora/oras with real fraction alpha > 0 the same model inverts every real training image x with
  the backward Euler pass into z_hat, giving real pairs (z_hat, x) (``pairs/round_k/real_*.pt``; for oras the
  stochastic pass of :func:`collapse_theory.train.flow.ode.integrate_stochastic`). The network is warm-started from
  model k-1's EMA weights and trained for ``steps`` steps on minibatches holding round(alpha B) real pairs and
  B - round(alpha B) synthetic pairs (concatenated, then shuffled). ora/oras regenerate the real pairs every
  ``regen_every`` steps with the EMA of the model being trained.
- Optimiser: AdamW (fused on CUDA), learning rate warmed up linearly over ``warmup_steps`` then constant, gradient
  norm clipped at ``grad_clip``, EMA of the weights p_ema <- d p_ema + (1 - d) p with d = ``ema_decay``.

**Randomness.** Step s of round k (rank r) seeds torch's global generators with a number derived from (seed, k, s,
r); pair shards and evaluation draw from generators seeded from (seed, round, shard). Nothing depends on how far
an earlier process got, so a run killed at any point and resumed with ``--resume`` ends with the same
``metrics.csv`` as an uninterrupted run on the CPU (a test checks it).

**Run directory** (``out``): ``manifest.json`` (config, seed, versions, git revision), ``state.json`` (completed
stages), ``checkpoints/round_k.pt`` (after round k trained) and ``checkpoints/round_k_partial.pt`` (every
``checkpoint_every`` steps), ``pairs/round_k/*.pt``, ``metrics.csv`` (tidy; see
:mod:`collapse_theory.train.image.evaluate`), ``samples/round_k.png`` and ``samples/round_k.npz``. Every file is
written atomically; checkpoints are read with ``torch.load(weights_only=True)``. A NaN or Inf loss stops the run
with :class:`NonFiniteLossError` and leaves the last good checkpoint in place.

**Speed** (GPU): bf16 autocast, channels_last, ``torch.compile`` (optional, ``compile_mode``), fused AdamW, large
generation batches; **DDP**: under ``torchrun`` every rank trains on its share of the batch, and pair generation
and inversion are split across ranks (shards round-robin, real images in contiguous blocks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...data.images import ImageData, load_image_dataset
from ...outputs import atomic_write_bytes, atomic_write_text, atomic_write_via, run_manifest
from ..flow.blocks import EMA, PairSource, rf_loss
from ..flow.ode import integrate, integrate_stochastic
from . import distributed as D
from .config import ImageReflowConfig
from .unet import UNET_PRESETS, build_unet

KILL_ENV = "COLLAPSE_THEORY_KILL_AT"
"""Testing hook: ``"k:s"`` makes the process SIGKILL itself right after training step s of round k (after any
checkpoint); ``"pairs:k:i"`` right after it wrote synthetic pair shard i of round k."""

_NOT_COMPARED = ("progress", "device", "compile", "compile_mode", "threads", "cache_dir")
_ROUND0_FREE = _NOT_COMPARED + ("method", "real_fraction", "rounds", "steps", "n_pairs", "regen_every", "oras_noise",
                                "oras_jitter", "round0_from", "checkpoint_every")
"""Fields that may differ between a run and the run whose round 0 it shares (``round0_from``)."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or Inf; the run stopped and the last good checkpoint is kept."""


# --------------------------------------------------------------------------------------------- small helpers

def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of ints/strings (sha256), so independent streams never collide."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def atomic_torch_save(obj, path: Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` (readers never see half a file)."""
    return atomic_write_via(path, lambda handle: torch.save(obj, handle))


def load_checkpoint(path: Path) -> dict:
    """A checkpoint or shard written by this module (tensors, numbers, lists and dicts only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class FlatField:
    """v(x, t) on flattened images (n, C*H*W), as :mod:`collapse_theory.train.flow.ode` expects."""

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


# --------------------------------------------------------------------------------------------- the run object

@dataclass
class RunResult:
    """What :func:`run` returns: the run directory, the tidy metrics, and the time it took."""

    out: Path
    config: ImageReflowConfig
    metrics: "object"                 # pandas DataFrame
    seconds: float
    stages_run: list[str] = field(default_factory=list)


class _Run:
    def __init__(self, cfg: ImageReflowConfig, out: Path, resume: bool):
        self.cfg = cfg
        self.out = Path(out)
        self.dist = D.init(cfg.device)
        dev = cfg.device
        if dev.startswith("cuda") and self.dist.active:
            dev = f"cuda:{self.dist.local_rank}"
        self.device = torch.device(dev)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device must be a visible device: CUDA is not available on this machine "
                             "(use --device cpu)")
        self.resume = resume
        self.stages_run: list[str] = []
        self.state_path = self.out / "state.json"
        self.use_bf16 = cfg.bf16 and self.device.type == "cuda"

    # ---------------- bookkeeping
    def log(self, message: str) -> None:
        if self.dist.is_main and self.cfg.progress:
            from tqdm import tqdm

            tqdm.write(message)

    def bar(self, total: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="it", leave=False,
                    disable=not (self.cfg.progress and self.dist.is_main), dynamic_ncols=True)

    def autocast(self):
        if self.use_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def completed(self) -> list[str]:
        if self.state_path.is_file():
            return json.loads(self.state_path.read_text())["completed"]
        return []

    def mark(self, stage: str) -> None:
        if self.dist.is_main:
            done = self.completed()
            if stage not in done:
                done.append(stage)
            atomic_write_text(self.state_path, json.dumps({"completed": done}, indent=1) + "\n")
        D.barrier(self.dist)
        self.stages_run.append(stage)

    def is_done(self, stage: str) -> bool:
        return stage in self.completed()

    def prepare_directory(self) -> None:
        manifest_path = self.out / "manifest.json"
        config = self.cfg.to_dict()
        if self.dist.is_main:
            if manifest_path.is_file():
                if not self.resume:
                    raise ValueError(f"out already holds a run ({manifest_path}); pass --resume to continue it or "
                                     f"choose another --out")
                manifest = json.loads(manifest_path.read_text())
                saved = manifest["config"]
                diff = [k for k in config if k not in _NOT_COMPARED + ("rounds",) and saved.get(k) != config[k]]
                if diff:
                    raise ValueError(f"out holds a run with a different config ({diff[0]}: {saved.get(diff[0])!r} "
                                     f"there, {config[diff[0]]!r} now); resume with the same flags or use another "
                                     f"--out")
                if config["rounds"] < saved["rounds"]:
                    raise ValueError(f"rounds must be at least the run's {saved['rounds']} to resume it (more rounds "
                                     f"extend it), got {config['rounds']}")
                # a resumed run may add rounds: the manifest records every (re)start with its argv and versions
                restart = run_manifest("collapse-theory reflow --resume", config, self.cfg.seed)
                manifest.setdefault("resumed", []).append({k: restart[k] for k in
                                                           ("created_utc", "argv", "versions", "git_revision")})
                manifest["config"] = config
                atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
            elif self.out.exists() and any(self.out.iterdir()) and not self.resume:
                raise ValueError(f"out must be a new or empty folder, {str(self.out)!r} holds other files")
            else:
                manifest = run_manifest("collapse-theory reflow", config, self.cfg.seed)
                manifest["world_size"] = self.dist.world
                atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
                if self.cfg.round0_from:
                    self._adopt_round0(Path(self.cfg.round0_from))
        D.barrier(self.dist)

    def _adopt_round0(self, source: Path) -> None:
        """Start from the trained and evaluated round 0 of the run in ``source`` (same data, network, seed...)."""
        import pandas as pd

        src_manifest = source / "manifest.json"
        ckpt = source / "checkpoints" / "round_0.pt"
        if not src_manifest.is_file() or not ckpt.is_file():
            raise ValueError(f"round0_from must name a run folder with a trained round 0, but {str(source)!r} has no "
                             f"manifest.json or checkpoints/round_0.pt")
        saved = json.loads(src_manifest.read_text())["config"]
        config = self.cfg.to_dict()
        diff = [k for k in config if k not in _ROUND0_FREE and saved.get(k) != config[k]]
        if diff:
            raise ValueError(f"round0_from must name a run with the same round-0 settings, but {diff[0]} differs "
                             f"({saved.get(diff[0])!r} there, {config[diff[0]]!r} here)")
        state = load_checkpoint(ckpt)
        atomic_torch_save(state, self.ckpt_path(0))
        done = ["round0/train"]
        if (source / "metrics.csv").is_file():
            frame = pd.read_csv(source / "metrics.csv")
            frame = frame[frame["round"] == 0].copy()
            if not frame.empty:
                frame["method"] = self.cfg.method
                frame["real_fraction"] = self.cfg.real_fraction
                atomic_write_text(self.out / "metrics.csv", frame.to_csv(index=False, float_format="%.10g"))
                done.append("round0/eval")
                for name in ("round_0.png", "round_0.npz"):
                    if (source / "samples" / name).is_file():
                        (self.out / "samples").mkdir(parents=True, exist_ok=True)
                        atomic_write_bytes(self.out / "samples" / name, (source / "samples" / name).read_bytes())
        atomic_write_text(self.state_path, json.dumps({"completed": done}, indent=1) + "\n")

    # ---------------- data and network
    def load_data(self) -> None:
        cfg = self.cfg
        self.data: ImageData = load_image_dataset(cfg.dataset, data_path=cfg.data_path, data_root=cfg.data_root,
                                                  download=cfg.download and self.dist.is_main,
                                                  shuffle_seed=cfg.shuffle_seed, max_train=cfg.n_train)
        self.shape = self.data.image_shape
        self.real_x = torch.from_numpy(np.ascontiguousarray(self.data.train)).to(self.device)

    def new_net(self) -> nn.Module:
        cfg = self.cfg
        if cfg.unet not in UNET_PRESETS:
            raise ValueError(f"unet must be one of {', '.join(UNET_PRESETS)}, got {cfg.unet!r}")
        c, h, _ = self.shape
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, "init"))
            net = build_unet(cfg.unet, in_channels=c, image_size=h, **cfg.unet_overrides)
        net = net.to(device=self.device, dtype=torch.float32)   # images are float32 whatever the default dtype
        if cfg.channels_last:
            net = net.to(memory_format=torch.channels_last)
        return net

    def field(self, net: nn.Module) -> FlatField:
        return FlatField(net, self.shape, self.autocast if self.use_bf16 else None, self.cfg.channels_last)

    def fast_field(self, net: nn.Module) -> FlatField:
        """The field used for generation: compiled when ``compile`` is on."""
        if self.cfg.compile:
            net = self._compiled(net)
        return self.field(net)

    def _compiled(self, net: nn.Module) -> nn.Module:
        cache = getattr(self, "_compile_cache", {})
        self._compile_cache = cache
        if id(net) not in cache:
            cache[id(net)] = torch.compile(net, mode=self.cfg.compile_mode)
        return cache[id(net)]

    # ---------------- ODE passes, batched
    @torch.no_grad()
    def euler(self, net: nn.Module, x: torch.Tensor, t0: float, t1: float, steps: int) -> torch.Tensor:
        """Euler pass (x_{n+1} = x_n + h v(x_n, t_n), h = (t1 - t0)/steps) over ``x`` in chunks of ``gen_batch``."""
        field_ = self.fast_field(net)
        outs = []
        for chunk in torch.split(x, self.cfg.gen_batch):
            flat = chunk.to(self.device, torch.float32).reshape(chunk.shape[0], -1)
            outs.append(integrate(field_, flat, t0, t1, method="euler", steps=steps).reshape(chunk.shape))
        return torch.cat(outs) if outs else x

    @torch.no_grad()
    def invert_block(self, net: nn.Module, images: torch.Tensor, round_k: int, tag) -> torch.Tensor:
        """Real images -> noise with the backward pass (t: 1 -> 0): Euler, or the stochastic pass for oras."""
        cfg = self.cfg
        if cfg.method != "oras":
            return self.euler(net, images, 1.0, 0.0, cfg.gen_steps)
        field_ = self.fast_field(net)
        gen = torch.Generator(device=self.device).manual_seed(derive_seed(cfg.seed, "oras", round_k, tag))
        outs = []
        for chunk in torch.split(images, cfg.gen_batch):
            flat = chunk.to(self.device, torch.float32).reshape(chunk.shape[0], -1)
            out = integrate_stochastic(field_, flat, 1.0, 0.0, steps=cfg.gen_steps, noise_scale=cfg.oras_noise,
                                       jitter=cfg.oras_jitter, generator=gen)
            outs.append(out.reshape(chunk.shape))
        return torch.cat(outs)

    def invert_all(self, net: nn.Module, round_k: int, tag) -> torch.Tensor:
        """All real training images inverted (each rank one contiguous block, then all-gathered)."""
        n = self.real_x.shape[0]
        start, stop = D.row_block(n, self.dist.rank, self.dist.world)
        local = self.invert_block(net, self.real_x[start:stop], round_k, (tag, self.dist.rank))
        return D.all_gather_rows(self.dist, local.contiguous(), n)

    # ---------------- pairs on disk
    def pair_dir(self, k: int) -> Path:
        return self.out / "pairs" / f"round_{k}"

    def make_pairs(self, k: int, previous: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Synthetic pairs (and real pairs for ra/ora/oras) of round k from model k-1; shards resume."""
        cfg = self.cfg
        folder = self.pair_dir(k)
        folder.mkdir(parents=True, exist_ok=True)
        n_shards = math.ceil(cfg.n_pairs / cfg.shard_size)
        mine = [i for i in range(n_shards) if i % self.dist.world == self.dist.rank]
        todo = [i for i in mine if not (folder / f"synth_{i:05d}.pt").is_file()]
        with self.bar(len(todo), f"round {k}: generating pairs") as bar:
            for i in todo:
                size = min(cfg.shard_size, cfg.n_pairs - i * cfg.shard_size)
                gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "synth", k, i))
                z = torch.randn((size,) + self.shape, generator=gen)
                x = self.euler(previous, z, 0.0, 1.0, cfg.gen_steps).cpu()
                atomic_torch_save({"z": z, "x": x}, folder / f"synth_{i:05d}.pt")
                bar.update(1)
                if os.environ.get(KILL_ENV) == f"pairs:{k}:{i}":
                    os.kill(os.getpid(), signal.SIGKILL)
        D.barrier(self.dist)
        shards = [load_checkpoint(folder / f"synth_{i:05d}.pt") for i in range(n_shards)]
        synth_z = torch.cat([s["z"] for s in shards]).to(self.device)
        synth_x = torch.cat([s["x"] for s in shards]).to(self.device)
        real_z = None
        if self.n_real_in_batch() > 0:
            path = folder / "real.pt"
            if not path.is_file():
                with self.bar(1, f"round {k}: inverting {self.real_x.shape[0]} real images") as bar:
                    real_z = self.invert_all(previous, k, "start")
                    bar.update(1)
                if self.dist.is_main:
                    atomic_torch_save({"z": real_z.cpu()}, path)
                D.barrier(self.dist)
            real_z = load_checkpoint(path)["z"].to(self.device)
        if not torch.isfinite(synth_x).all() or (real_z is not None and not torch.isfinite(real_z).all()):
            raise NonFiniteLossError(f"round {k}: the pairs generated by model {k - 1} are not finite (NaN/Inf); "
                                     f"the run stopped, last good checkpoint: {self.ckpt_path(k - 1)}")
        return synth_z, synth_x, real_z

    def n_real_in_batch(self) -> int:
        if self.cfg.method == "reflow":
            return 0
        return int(math.floor(self.cfg.real_fraction * self.local_batch() + 0.5))

    def local_batch(self) -> int:
        if self.cfg.batch_size % self.dist.world:
            raise ValueError(f"batch_size must be divisible by the number of processes ({self.dist.world}), "
                             f"got {self.cfg.batch_size}")
        return self.cfg.batch_size // self.dist.world

    # ---------------- checkpoints
    def ckpt_path(self, k: int) -> Path:
        return self.out / "checkpoints" / f"round_{k}.pt"

    def partial_path(self, k: int) -> Path:
        return self.out / "checkpoints" / f"round_{k}_partial.pt"

    # ---------------- training
    def train_round(self, k: int, net: nn.Module, ema: EMA, n_steps: int, pairs) -> list[float]:
        """Train ``net`` in place for ``n_steps`` steps (round k); returns the per-step losses (float)."""
        cfg = self.cfg
        B = self.local_batch()
        fused = self.device.type == "cuda"
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
        warm = max(cfg.warmup_steps, 0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
        losses: list[float] = []
        start = 0
        synth_z, synth_x, real_z = pairs
        partial = self.partial_path(k)
        if partial.is_file():
            state = load_checkpoint(partial)
            net.load_state_dict(state["model"])
            ema.model.load_state_dict(state["ema"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            start, losses = int(state["step"]), list(state["losses"])
            if state.get("real_z") is not None:
                real_z = state["real_z"].to(self.device)
            self.log(f"round {k}: resumed at step {start} of {n_steps}")
        step_net = self.training_module(net)
        n_r = self.n_real_in_batch() if k > 0 else 0
        source = (PairSource(real_x=self.real_x, independent=True) if k == 0 else
                  PairSource(real_x=self.real_x, synth_z=synth_z, synth_x=synth_x, real_z=real_z,
                             real_fraction=self.cfg.real_fraction if n_r > 0 else 0.0))
        regen = k > 0 and cfg.method in ("ora", "oras") and n_r > 0
        kill = os.environ.get(KILL_ENV)
        pending: list[torch.Tensor] = []
        net.train()
        with self.bar(n_steps, f"round {k}: training") as bar:
            bar.update(start)
            for step in range(start, n_steps):
                if regen and step > 0 and step % cfg.regen_every == 0:
                    real_z = source.real_z = self.invert_all(ema.model, k, ("regen", step))
                torch.manual_seed(derive_seed(cfg.seed, "step", k, step, self.dist.rank))
                x0, x1 = source.batch(B)
                t = torch.rand(B, device=self.device)
                if cfg.channels_last:
                    x0 = x0.contiguous(memory_format=torch.channels_last)
                    x1 = x1.contiguous(memory_format=torch.channels_last)
                with self.autocast():
                    loss = rf_loss(step_net, x0, x1, t, reduction="mean")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip, foreach=True)
                opt.step()
                sched.step()
                ema.update(net)
                pending.append(loss.detach())
                done = step + 1
                checkpoint_now = cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < n_steps
                if len(pending) >= cfg.loss_check_every or checkpoint_now or done == n_steps:
                    losses.extend(self._check_losses(pending, k, done - len(pending)))
                    pending = []
                if checkpoint_now and self.dist.is_main:
                    atomic_torch_save({"model": net.state_dict(), "ema": ema.model.state_dict(),
                                       "opt": opt.state_dict(), "sched": sched.state_dict(), "step": done,
                                       "losses": losses, "real_z": real_z.cpu() if regen else None}, partial)
                bar.update(1)
                if kill == f"{k}:{done}":
                    os.kill(os.getpid(), signal.SIGKILL)
        net.eval()
        D.assert_replicas_equal(self.dist, net)
        return losses

    def training_module(self, net: nn.Module) -> nn.Module:
        """``net`` wrapped for training: DDP under torchrun, then ``torch.compile`` when asked.

        Built once per run and reused by every round (the weights are loaded into ``net`` in place), so the
        compile warm-up is paid once."""
        cached = getattr(self, "_training_module", None)
        if cached is not None and cached[0] is net:
            return cached[1]
        module = net
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel as DDP

            module = DDP(net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.cfg.compile:
            module = torch.compile(module, mode=self.cfg.compile_mode)
        self._training_module = (net, module)
        return module

    def _check_losses(self, pending: list[torch.Tensor], k: int, first_step: int) -> list[float]:
        values = torch.stack(pending).float()
        if self.dist.active:
            torch.distributed.all_reduce(values)
            values = values / self.dist.world
        values = values.cpu().tolist()
        for i, v in enumerate(values):
            if not math.isfinite(v):
                last = self.partial_path(k) if self.partial_path(k).is_file() else self.ckpt_path(k - 1)
                kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
                raise NonFiniteLossError(f"training loss became {v} at round {k}, step {first_step + i + 1}; the run "
                                         f"stopped ({kept}); try a smaller --lr or stronger gradient clipping")
        return values

    # ---------------- the whole run
    def execute(self) -> list[dict]:
        from .evaluate import Evaluator

        cfg = self.cfg
        self.prepare_directory()
        self.load_data()
        evaluator = Evaluator(self) if self.dist.is_main else None
        metrics_rows = evaluator.load_rows() if evaluator else []
        net = self.new_net()
        ema = EMA(net, cfg.ema_decay)
        for k in range(cfg.rounds + 1):
            if self.is_done(f"round{k}/train"):
                state = load_checkpoint(self.ckpt_path(k))
                net.load_state_dict(state["model"])
                ema.model.load_state_dict(state["ema"])
                losses = list(state["losses"])
            else:
                pairs = (None, None, None)
                if k > 0:
                    pairs = self.make_pairs(k, ema.model)
                    self.mark(f"round{k}/pairs")
                    # warm start from model k-1's EMA weights (as the Gaussian and 2-D pipelines do)
                    net.load_state_dict(ema.model.state_dict())
                losses = self.train_round(k, net, ema, cfg.round0_steps if k == 0 else cfg.steps, pairs)
                if self.dist.is_main:
                    atomic_torch_save({"model": net.state_dict(), "ema": ema.model.state_dict(), "losses": losses,
                                       "round": k}, self.ckpt_path(k))
                    self.partial_path(k).unlink(missing_ok=True)
                self.mark(f"round{k}/train")
            if not self.is_done(f"round{k}/eval"):
                if evaluator is not None:
                    metrics_rows = [r for r in metrics_rows if r["round"] != k]
                    metrics_rows += evaluator.evaluate_round(k, ema.model, losses)
                    evaluator.write(metrics_rows)
                self.mark(f"round{k}/eval")
        return metrics_rows


def run(config: ImageReflowConfig, out, *, resume: bool = False) -> RunResult:
    """Run (or with ``resume=True`` continue) the pipeline of ``config`` in the folder ``out``.

    Returns a :class:`RunResult` with the tidy metrics frame (rank 0; other ranks get an empty frame).
    Raises ValueError naming the argument for bad input, :class:`NonFiniteLossError` when training diverges."""
    import pandas as pd

    from .evaluate import METRIC_COLUMNS

    start = time.perf_counter()
    cfg = config.validated()
    threads_before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    r = _Run(cfg, Path(out), resume)
    try:
        rows = r.execute()
    finally:
        if cfg.threads is not None:
            torch.set_num_threads(threads_before)
        D.shutdown(r.dist)
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return RunResult(Path(out), cfg, frame, time.perf_counter() - start, r.stages_run)
