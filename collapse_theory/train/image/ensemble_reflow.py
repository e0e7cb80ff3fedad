"""Seed-batched image Reflow, RA, ORA and ORAS Reflow on the CPU: every seed and method trained as one stacked model.

The same algorithm as :mod:`collapse_theory.train.image.pipeline` (time convention: noise x0 at t = 0, data x1 at
t = 1, x_t = t x1 + (1 - t) x0; images in [-1, 1]), with the members of all seeds and methods stacked by
:mod:`collapse_theory.train.flow.ensemble` and nothing written to disk:

- round 0 (one member per seed, shared by every method of that seed): 1-RF on independent pairs, x1 a real training
  image and x0 ~ N(0, I) fresh, ``round0_steps`` steps;
- round k = 1..K (one member per (seed, method), plus the ``once`` members): the previous round's EMA model of the
  member (round 0's for k = 1) generates ``n_pairs`` synthetic pairs (z, Euler_{gen_steps}(z)); for alpha > 0 it
  inverts every real training image x with the backward Euler pass (t: 1 -> 0) into z_hat (oras: the stochastic
  reverse pass :func:`collapse_theory.train.flow.ode.integrate_stochastic`), giving real pairs (z_hat, x); the
  member is warm-started from the previous EMA weights and trained ``steps`` steps on minibatches of B pairs holding
  round(alpha B) real pairs (:class:`collapse_theory.train.flow.blocks.PairSource`); ora/oras regenerate the real
  pairs every ``regen_every`` steps with the member's current EMA;
- loss (1/(B D)) sum_b ||(x1_b - x0_b) - v(x_t_b, t_b)||^2 (``rf_loss`` with ``reduction="mean"``), AdamW with
  linear warm-up, per-member gradient clipping, per-member EMA.

Evaluation (what the decisions need, nothing else): after every round, each member's EMA model maps one fixed set of
``n_eval`` noise images per seed (the same for every round and method of that seed) with Euler at each NFE of
``eval_nfes`` (default 1 and 16); FD-<net> is the Frechet distance ||mu_r - mu_g||^2 +
tr(S_r + S_g - 2 (S_r^1/2 S_g S_r^1/2)^1/2) between the real test images' and the samples' features in the
toolkit's classifier (:mod:`collapse_theory.train.image.metrics`, ``digitsnet`` for digits: a proxy, not FID), with
``real_vs_real`` the same FD between ``n_eval`` test and ``n_eval`` training images (the floor at that N). After
every round k >= 1 each seed's 1-RF is also evaluated on a fresh noise set (rows of method :data:`NULL_METHOD`).

Randomness: every draw of a member comes from its own generator, seeded from (seed, method, alpha, round, purpose),
so a member's result does not depend on which other members share the run (up to float rounding of the batched
convolutions; a test checks it). A seed gives identical CPU results.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...data.images import load_image_dataset
from ...validation import check_positive_int
from ..flow.blocks import PairSource, check_reflow_method
from ..flow.ensemble import (StackedEMA, StackedModels, StackedTrainer, chunks, member_generators, select_members,
                             stacked_field)
from ..flow.ode import integrate, integrate_stochastic
from . import metrics as M
from .evaluate import default_cache_dir
from .pipeline import derive_seed
from .unet import UNET_PRESETS, build_unet

NULL_METHOD = "1-rf-null"
"""Rows of the null evaluations: each seed's 1-RF (round 0's EMA model) evaluated again after every round k >= 1 on a
fresh noise set of its own (seeded from (seed, "eval-null", k)); nothing about it changes with k, so any trend or
difference across k is evaluation noise (the decisions' null controls, :mod:`collapse_theory.claims.flow.image`)."""

COLUMNS = ["dataset", "member", "method", "real_fraction", "seed", "round", "sampler", "nfe", "metric", "value",
           "n_samples", "real_vs_real"]


@dataclass(frozen=True)
class EnsembleReflowConfig:
    """Everything a seed-batched image Reflow run depends on (defaults: the smoke scale of the image pipeline,
    8 x 8 digits and the ``tiny-8`` UNet, with 5 rounds and evaluation at NFE 1 and 16).

    ``methods`` run for every seed; ``once`` adds (method, seed) members (e.g. ORA and ORAS for one seed);
    ``real_fractions`` overrides alpha per method (None: 0 for reflow, 0.5 otherwise)."""

    seeds: tuple[int, ...] = tuple(range(8))
    methods: tuple[str, ...] = ("reflow", "ra")
    once: tuple[tuple[str, int], ...] = (("ora", 0), ("oras", 0))
    real_fractions: tuple[tuple[str, float], ...] = ()
    rounds: int = 5
    dataset: str = "digits"
    unet: str = "tiny-8"
    shuffle_seed: int = 0
    n_train: int | None = None
    round0_steps: int = 400
    steps: int = 150
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 20
    grad_clip: float | None = 1.0
    ema_decay: float = 0.99
    n_pairs: int = 1000
    gen_steps: int = 10
    regen_every: int | None = None          # ora/oras (None: steps // 4)
    oras_noise: float = 1e-3
    oras_jitter: float = 0.1
    n_eval: int = 297
    eval_nfes: tuple[int, ...] = (1, 16)
    chunk_images: int = 2048                # images per batched forward pass in generation and evaluation
    threads: int | None = 1
    cache_dir: str | None = None
    progress: bool = False

    def validated(self) -> "EnsembleReflowConfig":
        """The config with names checked; ValueError naming the field otherwise."""
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")
        for s in self.seeds:
            check_positive_int(s, "seeds", minimum=0)
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods must be distinct, got {list(self.methods)}")
        for m in self.methods:
            check_reflow_method(m, self.alpha(m), name="methods")
        for m, s in self.once:
            check_reflow_method(m, self.alpha(m), name="once")
            check_positive_int(s, "once", minimum=0)
        for name in ("rounds",):
            check_positive_int(getattr(self, name), name, minimum=0)
        for name in ("round0_steps", "steps", "batch_size", "n_pairs", "gen_steps", "chunk_images"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.n_eval, "n_eval", minimum=4)
        if not self.eval_nfes:
            raise ValueError("eval_nfes must hold at least one NFE")
        for n in self.eval_nfes:
            check_positive_int(n, "eval_nfes")
        if self.unet not in UNET_PRESETS:
            raise ValueError(f"unet must be one of {', '.join(UNET_PRESETS)}, got {self.unet!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (0 < self.ema_decay < 1):
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay!r}")
        return self

    def alpha(self, method: str) -> float:
        return check_reflow_method(method, dict(self.real_fractions).get(method), name="methods")[1]

    @property
    def regen_period(self) -> int:
        return self.regen_every if self.regen_every is not None else max(1, self.steps // 4)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        return d


@dataclass(frozen=True)
class Member:
    """One trained model of rounds 1..K: its seed, method and real fraction."""

    seed: int
    method: str
    real_fraction: float

    @property
    def label(self) -> str:
        return f"{self.method}@{self.real_fraction:g}/seed{self.seed}"

    def stream(self, *parts) -> int:
        return derive_seed(self.seed, self.method, f"{self.real_fraction:g}", *parts)


@dataclass
class EnsembleResult:
    """What :func:`run_ensemble_reflow` returns: the tidy frame (columns :data:`COLUMNS`), the config, the members,
    the final EMA weights of every member and the seconds it took (per phase too)."""

    frame: object
    config: EnsembleReflowConfig
    members: list[Member]
    ema_params: dict[str, torch.Tensor]
    seconds: float
    phase_seconds: dict[str, float] = field(default_factory=dict)


def members_of(cfg: EnsembleReflowConfig) -> list[Member]:
    """The members of rounds 1..K: every (seed, method), then the ``once`` members."""
    out = [Member(s, m, cfg.alpha(m)) for s in cfg.seeds for m in cfg.methods]
    out += [Member(s, m, cfg.alpha(m)) for m, s in cfg.once]
    return out


class _Runner:
    def __init__(self, cfg: EnsembleReflowConfig):
        self.cfg = cfg
        data = load_image_dataset(cfg.dataset, shuffle_seed=cfg.shuffle_seed, max_train=cfg.n_train)
        full = data if cfg.n_train is None else load_image_dataset(cfg.dataset, shuffle_seed=cfg.shuffle_seed)
        self.data, self.shape = data, data.image_shape
        self.real_x = torch.from_numpy(np.ascontiguousarray(data.train))
        cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
        self.extractor, info = M.load_or_train_feature_net(cfg.dataset, full.data_hash, full.train, full.train_labels,
                                                           full.test, full.test_labels, full.n_classes,
                                                           cache_dir=cache, seed=0, device="cpu")
        self.metric = f"FD-{info['extractor']}"
        n = min(cfg.n_eval, data.test.shape[0], data.train.shape[0])
        self.n_eval = n
        self.real_feats = M.extract_features(self.extractor, torch.from_numpy(data.test[:n]))
        self.floor = M.frechet_distance(self.real_feats, M.extract_features(self.extractor,
                                                                            torch.from_numpy(data.train[:n])))
        self.z_eval = {s: torch.randn((n,) + self.shape, generator=torch.Generator().manual_seed(
            derive_seed(s, "eval"))) for s in cfg.seeds}
        self.phase: dict[str, float] = {}

    def timed(self, name: str, start: float) -> None:
        self.phase[name] = self.phase.get(name, 0.0) + time.perf_counter() - start

    def new_stack(self) -> StackedModels:
        c, h, _ = self.shape
        nets = []
        for s in self.cfg.seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(s, "init"))
                nets.append(build_unet(self.cfg.unet, in_channels=c, image_size=h).to(torch.float32))
        return StackedModels(nets)

    # ---------------- ODE passes (no gradient: one plain module per member)
    @torch.no_grad()
    def euler(self, stack: StackedModels, params: dict, x: torch.Tensor, t0: float, t1: float, steps: int):
        """Euler pass of every member on its own images: x of shape (M, n, C, H, W).

        Member by member with an ordinary module holding that member's weights (:meth:`StackedModels.member_module`),
        in chunks of ``chunk_images``: without a gradient the vmapped (grouped) convolutions of a stack are slower
        than one member's plain convolutions on a large batch (docs/benchmarks.md), and a member's pass does not
        depend on the others."""
        d = int(np.prod(self.shape))
        out = torch.empty_like(x)
        for i in range(x.shape[0]):
            net = stack.member_module(i, params)
            field_ = _flat_field(net, self.shape)
            for sl in chunks(x.shape[1], self.cfg.chunk_images):
                flat = x[i, sl].reshape(-1, d)
                out[i, sl] = integrate(field_, flat, t0, t1, method="euler", steps=steps).reshape(x[i, sl].shape)
        return out

    @torch.no_grad()
    def invert(self, stack, params: dict, members: list[Member], index: list[int], round_k: int, tag) -> dict:
        """Real pairs' noises z_hat for the listed member indices (alpha > 0): {index: (n_train, C, H, W)}."""
        cfg, out = self.cfg, {}
        plain = [i for i in index if members[i].method != "oras"]
        if plain:
            sub = select_members(params, plain)
            x = self.real_x.unsqueeze(0).expand((len(plain),) + tuple(self.real_x.shape))
            z = self.euler(stack, sub, x, 1.0, 0.0, cfg.gen_steps)
            out.update({i: z[j] for j, i in enumerate(plain)})
        d = int(np.prod(self.shape))
        for i in (i for i in index if members[i].method == "oras"):
            gen = torch.Generator().manual_seed(members[i].stream(round_k, "oras", tag))
            field_ = _flat_field(stack.member_module(i, params), self.shape)
            z = integrate_stochastic(field_, self.real_x.reshape(-1, d), 1.0, 0.0, steps=cfg.gen_steps,
                                     noise_scale=cfg.oras_noise, jitter=cfg.oras_jitter, generator=gen)
            out[i] = z.reshape(self.real_x.shape)
        return out

    # ---------------- training
    def train(self, stack: StackedModels, ema: StackedEMA, sources: list[PairSource], gens, n_steps: int,
              regen=None) -> np.ndarray:
        cfg = self.cfg
        trainer = StackedTrainer(stack, ema, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                 warmup_steps=cfg.warmup_steps, grad_clip=cfg.grad_clip, reduction="mean")
        losses = []
        for step in range(n_steps):
            if regen is not None and step > 0 and step % cfg.regen_period == 0:
                regen(step)
            x0s, x1s, ts = [], [], []
            for src, g in zip(sources, gens):
                x0, x1 = src.batch(cfg.batch_size, generator=g)
                x0s.append(x0)
                x1s.append(x1)
                ts.append(torch.rand(cfg.batch_size, generator=g))
            loss = trainer.step(torch.stack(x0s), torch.stack(x1s), torch.stack(ts))
            if not bool(torch.isfinite(loss).all()):
                raise FloatingPointError(f"training loss became non-finite at step {step + 1}: {loss.tolist()}")
            losses.append(loss)
        return torch.stack(losses).numpy()

    # ---------------- evaluation
    @torch.no_grad()
    def evaluate(self, stack, params: dict, member_seeds: list[int], null_round: int | None = None
                 ) -> dict[int, list[float]]:
        """{nfe: [FD of member i]} with each member's seed's evaluation noise (``null_round`` k: the fresh noise set
        of round k's null evaluation instead)."""
        if null_round is None:
            z = torch.stack([self.z_eval[s] for s in member_seeds])
        else:
            z = torch.stack([torch.randn((self.n_eval,) + self.shape, generator=torch.Generator().manual_seed(
                derive_seed(s, "eval-null", null_round))) for s in member_seeds])
        out = {}
        for nfe in self.cfg.eval_nfes:
            x = self.euler(stack, params, z, 0.0, 1.0, nfe)
            values = []
            for i in range(x.shape[0]):
                if not bool(torch.isfinite(x[i]).all()):
                    values.append(float("nan"))
                    continue
                feats = M.extract_features(self.extractor, x[i].clamp(-1, 1))
                values.append(M.frechet_distance(self.real_feats, feats))
            out[nfe] = values
        return out

    def rows(self, k: int, fds: dict[int, list[float]], members: list[Member]) -> list[dict]:
        out = []
        for nfe, values in fds.items():
            for mem, v in zip(members, values):
                out.append(dict(dataset=self.cfg.dataset, member=mem.label, method=mem.method,
                                real_fraction=mem.real_fraction, seed=mem.seed, round=k, sampler=f"euler{nfe}",
                                nfe=int(nfe), metric=self.metric, value=float(v), n_samples=self.n_eval,
                                real_vs_real=self.floor))
        return out

    # ---------------- the run
    def run(self) -> EnsembleResult:
        cfg = self.cfg
        start = time.perf_counter()
        members = members_of(cfg)
        seed_index = {s: i for i, s in enumerate(cfg.seeds)}
        extra = sorted({m.seed for m in members} - set(seed_index))
        if extra:
            raise ValueError(f"once must name seeds of the run ({list(cfg.seeds)}), got {extra}")
        # round 0: one 1-RF per seed
        stack = self.new_stack()
        ema = StackedEMA(stack.params, cfg.ema_decay)
        t = time.perf_counter()
        sources = [PairSource(self.real_x, independent=True) for _ in cfg.seeds]
        gens = member_generators([derive_seed(s, "1rf", 0, "train") for s in cfg.seeds])
        self.train(stack, ema, sources, gens, cfg.round0_steps)
        self.timed("train", t)
        t = time.perf_counter()
        fd0 = self.evaluate(stack, ema.params, list(cfg.seeds))
        self.timed("evaluate", t)
        rows = []
        for nfe, values in fd0.items():     # round 0 belongs to every member of its seed
            rows += self.rows(0, {nfe: [values[seed_index[m.seed]] for m in members]}, members)
        if cfg.rounds == 0:
            return self._result(rows, members, select_members(ema.params, [seed_index[s] for s in cfg.seeds]), start)
        previous = select_members(ema.params, [seed_index[m.seed] for m in members])
        one_rf = select_members(ema.params, list(range(len(cfg.seeds))))
        nulls = [Member(s, NULL_METHOD, 0.0) for s in cfg.seeds]
        stack = StackedModels([stack.member_module(0)] * len(members))
        n_real = {i for i, m in enumerate(members) if m.real_fraction > 0}
        online = [i for i in sorted(n_real) if members[i].method in ("ora", "oras")]
        for k in range(1, cfg.rounds + 1):
            t = time.perf_counter()
            z = torch.stack([torch.randn((cfg.n_pairs,) + self.shape,
                                         generator=torch.Generator().manual_seed(m.stream(k, "synth")))
                             for m in members])
            synth_x = self.euler(stack, previous, z, 0.0, 1.0, cfg.gen_steps)
            self.timed("generate", t)
            t = time.perf_counter()
            real_z = self.invert(stack, previous, members, sorted(n_real), k, "start")
            self.timed("invert", t)
            sources = [PairSource(self.real_x, synth_z=z[i], synth_x=synth_x[i], real_z=real_z.get(i),
                                  real_fraction=m.real_fraction) for i, m in enumerate(members)]
            if not all(bool(torch.isfinite(s.synth_x).all()) for s in sources):
                raise FloatingPointError(f"round {k}: the generated pairs are not finite (NaN/Inf)")
            stack.assign(previous)                      # warm start from the previous EMA weights
            ema = StackedEMA(previous, cfg.ema_decay)

            def regen(step, k=k, ema=ema, sources=sources):
                t_r = time.perf_counter()
                fresh = self.invert(stack, ema.params, members, online, k, ("regen", step))
                for i, z_hat in fresh.items():
                    sources[i].real_z = z_hat
                self.timed("invert", t_r)

            gens = member_generators([m.stream(k, "train") for m in members])
            t = time.perf_counter()
            self.train(stack, ema, sources, gens, cfg.steps, regen if online else None)
            self.timed("train", t)
            t = time.perf_counter()
            rows += self.rows(k, self.evaluate(stack, ema.params, [m.seed for m in members]), members)
            rows += self.rows(k, self.evaluate(stack, one_rf, list(cfg.seeds), null_round=k), nulls)
            self.timed("evaluate", t)
            previous = {key: v.clone() for key, v in ema.params.items()}
        return self._result(rows, members, previous, start)

    def _result(self, rows, members, params, start) -> EnsembleResult:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=COLUMNS)
        return EnsembleResult(frame, self.cfg, members, params, time.perf_counter() - start, dict(self.phase))


def _flat_field(net: torch.nn.Module, shape: tuple[int, ...]):
    """v(x, t) of one module on the flattened (n, D) state of :func:`collapse_theory.train.flow.ode.integrate`."""

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        ts = t.reshape(()).expand(n) if t.ndim == 0 else t.reshape(n)
        return net(x.reshape((n,) + tuple(shape)), ts).reshape(x.shape)

    return field


def run_ensemble_reflow(config: EnsembleReflowConfig | None = None) -> EnsembleResult:
    """Run the seed-batched image Reflow family of ``config`` (see the module docstring); returns its tidy frame.

    Torch's CPU threads are set to ``config.threads`` for the run and restored after."""
    cfg = (config or EnsembleReflowConfig()).validated()
    before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _Runner(cfg).run()
    finally:
        torch.set_num_threads(before)
