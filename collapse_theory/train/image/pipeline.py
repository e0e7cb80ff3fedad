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

**Run directory** (``out``; :mod:`collapse_theory.train.image.rundir`): ``manifest.json`` (config, seed, versions,
git revision), ``state.json`` (completed stages), ``checkpoints/round_k.pt`` (after round k trained) and
``checkpoints/round_k_partial.pt`` (every ``checkpoint_every`` steps), ``pairs/round_k/*.pt``, ``metrics.csv``
(tidy; see :mod:`collapse_theory.train.image.evaluate`), ``samples/round_k.png`` and ``samples/round_k.npz``.
Everything a run needs (data, network, Inception weights, the run it shares round 0 with, the output path) is
validated before the folder is created, atomically; one process at a time writes it (a lock held for the run's
life). Every file is written atomically; checkpoints are read with ``torch.load(weights_only=True)``, and an
unreadable file stops the run with one line naming it and what to do. A NaN or Inf loss stops the run with
:class:`NonFiniteLossError` and leaves the last good checkpoint in place.

**Stages** (``state.json``): ``round{k}/pairs``, ``round{k}/train`` (:class:`~.training.RoundTrainer`),
``round{k}/eval`` (:class:`~.evaluate.Evaluator`). Callers may pass :class:`~.hooks.RunHooks` to observe them.

**Speed** (GPU): bf16 autocast, channels_last, ``torch.compile`` (optional, ``compile_mode``), fused AdamW, large
generation batches; **DDP**: under ``torchrun`` every rank trains on its share of the batch, and pair generation
and inversion are split across ranks (shards round-robin, real images in contiguous blocks).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...data.images import ImageData, load_image_dataset
from ...outputs import FolderLock, atomic_write_bytes, atomic_write_text, lock_folder, run_manifest, strict_json
from ..flow.blocks import EMA, rf_loss
from ..flow.ode import integrate, integrate_stochastic
from . import distributed as D
from . import metrics as M
from .config import ImageReflowConfig
from .evaluate import METRIC_COLUMNS, Evaluator, read_metric_rows, write_metric_rows
from .field import FlatField, derive_seed
from .hooks import RunHooks
from .rundir import (
    RunFolder,
    atomic_torch_save,
    check_output_folder,
    check_resume,
    check_round0_source,
    create_run_folder,
    load_checkpoint,
)
from .training import NonFiniteLossError, RoundTrainer
from .unet import UNET_PRESETS, build_unet

__all__ = ["EMA", "FlatField", "NonFiniteLossError", "RunHooks", "RunResult", "atomic_torch_save", "derive_seed",
           "load_checkpoint", "rf_loss", "run"]


@dataclass
class RunResult:
    """What :func:`run` returns: the run directory, the tidy metrics, and the time it took."""

    out: Path
    config: ImageReflowConfig
    metrics: "object"                 # pandas DataFrame
    seconds: float
    stages_run: list[str] = field(default_factory=list)


def _note(message: str) -> None:
    print(f"collapse-theory: note: {message}", file=sys.stderr)


class _Run:
    def __init__(self, cfg: ImageReflowConfig, out: Path, resume: bool, hooks: RunHooks | None = None):
        self.cfg = cfg
        self.out = Path(out)
        self.folder = RunFolder(self.out)
        self.hooks = hooks if hooks is not None else RunHooks()
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
        self.use_bf16 = cfg.bf16 and self.device.type == "cuda"
        self.lock: FolderLock | None = None

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

    def mark(self, stage: str, metric_rows: int | None = None) -> None:
        if self.dist.is_main:
            self.folder.mark(stage, metric_rows)
        D.barrier(self.dist)
        self.stages_run.append(stage)

    def is_done(self, stage: str) -> bool:
        return stage in self.folder.completed()

    # ---------------- before the folder: validate everything
    def validate(self) -> tuple[nn.Module, Path | None]:
        """Output path, data, network, Inception weights and the round-0 source, before anything is written."""
        cfg = self.cfg
        if self.dist.is_main:
            check_output_folder(self.out, self.resume)
        self.load_data()
        net = self.new_net()
        if cfg.inception:
            M.find_inception_weights(cfg.inception_weights)
        source = None
        if cfg.round0_from and not self.folder.manifest_path.is_file():
            _, source = check_round0_source(Path(cfg.round0_from), cfg.to_dict())
            load_checkpoint(source, "retrain that run's round 0 or name another run", argument="round0_from")
        return net, source

    def open_folder(self, round0_checkpoint: Path | None) -> None:
        """Resume the run in ``out`` (locked first) or create it atomically (then locked) with its manifest."""
        if self.dist.is_main:
            if self.folder.manifest_path.is_file():
                self.lock = lock_folder(self.out)
                manifest = check_resume(self.folder, self.cfg.to_dict())
                atomic_write_text(self.folder.manifest_path, manifest_json(manifest))
            else:
                if self.out.is_dir() and any(self.out.iterdir()):
                    raise ValueError(f"out must be a new or empty folder (or a run to resume), {str(self.out)!r} "
                                     f"holds other files but no manifest.json")
                manifest = run_manifest("collapse-theory reflow", self.cfg.to_dict(), self.cfg.seed)
                manifest["world_size"] = self.dist.world

                def build(tmp: Path) -> None:
                    atomic_write_text(tmp / "manifest.json", manifest_json(manifest))
                    if round0_checkpoint is not None:
                        self._adopt_round0(tmp, round0_checkpoint)

                create_run_folder(self.out, build)
                self.lock = lock_folder(self.out)
        D.barrier(self.dist)

    def _adopt_round0(self, tmp: Path, ckpt: Path) -> None:
        """Start from the trained and evaluated round 0 of the run ``round0_from`` (checked by validate())."""
        import pandas as pd

        source = ckpt.parent.parent
        target = RunFolder(tmp)
        atomic_torch_save(load_checkpoint(ckpt), target.ckpt_path(0))
        done, rows = ["round0/train"], None
        frame_rows, whole = read_metric_rows(source / "metrics.csv")
        frame = pd.DataFrame(frame_rows, columns=METRIC_COLUMNS)
        frame = frame[frame["round"] == 0].copy()
        if whole and not frame.empty:
            frame["method"] = self.cfg.method
            frame["real_fraction"] = self.cfg.real_fraction
            write_metric_rows(target.metrics_path, frame.to_dict("records"))
            done.append("round0/eval")
            rows = len(frame)
            for name in ("round_0.png", "round_0.npz"):
                if (source / "samples" / name).is_file():
                    atomic_write_bytes(tmp / "samples" / name, (source / "samples" / name).read_bytes())
        target.write_state({"completed": done, **({"metric_rows": {"0": rows}} if rows is not None else {})})

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
        with self.hooks.stage("invert", round_k):
            n = self.real_x.shape[0]
            start, stop = D.row_block(n, self.dist.rank, self.dist.world)
            local = self.invert_block(net, self.real_x[start:stop], round_k, (tag, self.dist.rank))
            return D.all_gather_rows(self.dist, local.contiguous(), n)

    # ---------------- pairs on disk
    def make_pairs(self, k: int, previous: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Synthetic pairs (and real pairs for ra/ora/oras) of round k from model k-1; shards resume."""
        cfg = self.cfg
        folder = self.folder.pair_dir(k)
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
                if self.hooks.after_shard is not None:
                    self.hooks.after_shard(k, i)
        D.barrier(self.dist)
        remedy = "delete it to generate that shard again (the same pairs), then resume with --resume"
        shards = [load_checkpoint(folder / f"synth_{i:05d}.pt", remedy) for i in range(n_shards)]
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
            real_z = load_checkpoint(path, "delete it to invert the real images again (the same pairs), then "
                                           "resume with --resume")["z"].to(self.device)
        if not torch.isfinite(synth_x).all() or (real_z is not None and not torch.isfinite(real_z).all()):
            raise NonFiniteLossError(f"round {k}: the pairs generated by model {k - 1} are not finite (NaN/Inf); "
                                     f"the run stopped, last good checkpoint: {self.folder.ckpt_path(k - 1)}")
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

    # ---------------- training
    def train_round(self, k: int, net: nn.Module, ema: EMA, n_steps: int, pairs) -> list[float]:
        """Train ``net`` in place for ``n_steps`` steps (round k); returns the per-step losses (float)."""
        return RoundTrainer(self, k, net, ema, n_steps, pairs).train()

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

    # ---------------- metrics.csv
    def load_metric_rows(self) -> list[dict]:
        """The rows of metrics.csv; rounds whose rows are missing or cut short (fewer than the state recorded, or a
        truncated file) lose their evaluation mark and are evaluated again (the same numbers)."""
        rows, whole = read_metric_rows(self.folder.metrics_path)
        state = self.folder.state()
        counts = state.get("metric_rows", {})
        evaluated = [int(s[len("round"):-len("/eval")]) for s in state["completed"] if s.endswith("/eval")]
        damaged = []
        for k in evaluated:
            have = sum(1 for r in rows if int(r["round"]) == k)
            if have == 0 or (str(k) in counts and have != counts[str(k)]) or (not whole and str(k) not in counts):
                damaged.append(k)
        if damaged:
            _note(f"{self.folder.metrics_path} is missing rows of round(s) {', '.join(map(str, damaged))} (truncated "
                  f"or edited); evaluating them again")
            rows = [r for r in rows if int(r["round"]) not in damaged]
            self.folder.unmark([f"round{k}/eval" for k in damaged])
            write_metric_rows(self.folder.metrics_path, rows)
        return rows

    def load_round(self, k: int, net: nn.Module, ema: EMA) -> list[float] | None:
        """Round k's trained weights into ``net`` and ``ema`` and its losses, or None when its checkpoint is gone
        (the round is then trained again: the same weights)."""
        path = self.folder.ckpt_path(k)
        if not path.is_file():
            if self.dist.is_main:
                _note(f"{path} is missing although state.json says round {k} was trained; training it again")
            return None
        state = load_checkpoint(path, f"delete it to train round {k} again (the same weights), then resume with "
                                      f"--resume")
        net.load_state_dict(state["model"])
        ema.model.load_state_dict(state["ema"])
        return list(state["losses"])

    # ---------------- the whole run
    def execute(self) -> list[dict]:
        net, round0_checkpoint = self.validate()
        try:
            self.open_folder(round0_checkpoint)
            return self.rounds(net)
        finally:
            if self.lock is not None:
                self.lock.release()

    def rounds(self, net: nn.Module) -> list[dict]:
        cfg = self.cfg
        metrics_rows = self.load_metric_rows() if self.dist.is_main else []
        evaluator: Evaluator | None = None          # built only when a round is left to evaluate
        ema = EMA(net, cfg.ema_decay)
        for k in range(cfg.rounds + 1):
            losses = self.load_round(k, net, ema) if self.is_done(f"round{k}/train") else None
            if losses is None:
                losses = self.train_and_save(k, net, ema)
            if not self.is_done(f"round{k}/eval"):
                new_rows: list[dict] = []
                if self.dist.is_main:
                    evaluator = evaluator or Evaluator(self)
                    with self.hooks.stage("eval", k):
                        new_rows = evaluator.evaluate_round(k, ema.model, losses)
                    metrics_rows = [r for r in metrics_rows if r["round"] != k] + new_rows
                    evaluator.write(metrics_rows)
                self.mark(f"round{k}/eval", metric_rows=len(new_rows))
        return metrics_rows

    def train_and_save(self, k: int, net: nn.Module, ema: EMA) -> list[float]:
        pairs = (None, None, None)
        if k > 0:
            with self.hooks.stage("pairs", k):
                pairs = self.make_pairs(k, ema.model)
            self.mark(f"round{k}/pairs")
            # warm start from model k-1's EMA weights (as the Gaussian and 2-D pipelines do)
            net.load_state_dict(ema.model.state_dict())
        with self.hooks.stage("train", k):
            losses = self.train_round(k, net, ema, self.cfg.round0_steps if k == 0 else self.cfg.steps, pairs)
        if self.dist.is_main:
            atomic_torch_save({"model": net.state_dict(), "ema": ema.model.state_dict(), "losses": losses,
                               "round": k}, self.folder.ckpt_path(k))
            self.folder.partial_path(k).unlink(missing_ok=True)
        self.mark(f"round{k}/train")
        return losses


def manifest_json(obj) -> str:
    """``manifest.json``'s text: strict JSON (a NaN or an infinity in the config is an error naming the entry; the
    config is validated before, so none reaches here)."""
    return strict_json(obj, what="manifest.json", indent=2, default=str) + "\n"


def run(config: ImageReflowConfig, out, *, resume: bool = False, hooks: RunHooks | None = None) -> RunResult:
    """Run (or with ``resume=True`` continue) the pipeline of ``config`` in the folder ``out``.

    Returns a :class:`RunResult` with the tidy metrics frame (rank 0; other ranks get an empty frame).
    Raises ValueError naming the argument for bad input (and for an unreadable run file, naming it),
    :class:`NonFiniteLossError` when training diverges. ``hooks`` (:class:`RunHooks`) observe the stages."""
    import pandas as pd

    start = time.perf_counter()
    cfg = config.validated()
    threads_before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    r = _Run(cfg, Path(out), resume, hooks)
    try:
        rows = r.execute()
    finally:
        if cfg.threads is not None:
            torch.set_num_threads(threads_before)
        D.shutdown(r.dist)
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return RunResult(Path(out), cfg, frame, time.perf_counter() - start, r.stages_run)
