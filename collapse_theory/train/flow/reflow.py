"""Trained rectified flows and the Reflow family (Reflow, RA, ORA, ORAS) in one pipeline (torch, CPU).

Time convention (:mod:`collapse_theory.theory.conventions`): noise x0 at t = 0, data x1 at t = 1,
x_t = t x1 + (1 - t) x0; sampling integrates dx/dt = v(x, t) forward (0 -> 1), inversion backward (1 -> 0).

**Network.** :class:`VelocityMLP`: v_theta(x, t) = MLP([x, phi(t)]) with time features
phi(t) = (t, sin(pi f t), cos(pi f t) for f = 1..n_freq), ``depth`` hidden layers of ``width`` units and SiLU.

**Loss** (:func:`rf_loss`): for pairs (x0, x1) and t ~ U[0, 1] drawn per pair,

    L(theta) = E || (x1 - x0) - v_theta(x_t, t) ||^2  +  velocity_penalty * E || v_theta(x_t, t) ||^2.

The penalty (default 0) is the *shrinkage setting*: its minimiser is v*/(1 + velocity_penalty), v* the
rectified-flow velocity E[x1 - x0 | x_t], a ridge-shrunk velocity (docs/derivations/reflow.md section 5).

**Training** (:func:`train_flow`): Adam, minibatches of ``batch_size`` pairs drawn uniformly with replacement,
fresh t per pair, optional gradient clipping and EMA of the weights, all randomness from one seeded
``torch.Generator``: the same seed gives the same weights bit for bit on CPU.

**The pipeline** (:func:`run_reflow`, one code path for every method; ``K`` = ``config.rounds``):

- round 0 (every method): 1-RF on independent pairs: x1 a minibatch of the ``n_real`` real points, x0 fresh
  N(0, I) noise per minibatch.
- round k + 1 (k = 0..K-1): warm-start from model k (its EMA weights when EMA is on); synthetic pairs
  (z, x_hat1) with z ~ N(0, I) (``n_synth`` of them, drawn once per round) and x_hat1 = model k integrated
  forward (Euler, ``gen_steps``). Every minibatch holds n_r = floor(lambda B + 1/2) ("round(lambda B)") *real*
  pairs and B - n_r synthetic pairs, concatenated and then shuffled (the authors' scripts; mixing is by
  concatenation, never by interpolating pairs). lambda = ``real_fraction``.

  ``method``:
  - ``reflow``  lambda must be 0: synthetic pairs only (the baseline).
  - ``ra``      real pairs (z_hat, x) with z_hat = model k integrated *backward* (Euler, ``gen_steps``) from each
                real x; fixed for the round.
  - ``ora``     as ``ra``, but the real pairs are regenerated with the model *being trained* every
                ``regen_every`` steps of the round (the authors' scripts: every 2 epochs).
  - ``oras``    as ``ora`` with a stochastic reverse pass (:func:`collapse_theory.train.flow.ode.integrate_stochastic`:
                Euler steps jittered +-``oras_jitter`` plus N(0, oras_noise^2 |dt|) noise per step). The paper's
                available text does not define ORAS: this is OUR reading of the first author's scripts.

  So with lambda = 0, ``ra``/``ora``/``oras`` give exactly ``reflow`` (no real pair enters a minibatch, and the
  real-pair passes draw no numbers from the training generator); ``ora`` with ``regen_every >= steps`` gives
  exactly ``ra``. The tests check both.

**Metrics** per round k (the model trained at round k), in a tidy DataFrame with columns
``data, method, real_fraction, seed, round, metric, sampler, nfe, value``: for each sampler (Euler with 1, 2, 4,
8 steps, ``dopri5``) applied to one fixed evaluation noise set (the same for every round and method):
``w2`` (exact empirical W2 to an independent reference sample of the target, ``ot.emd2``), ``w2_gauss``
(Bures W2 of the samples' Gaussian fit to the target's Gaussian: the true N(m*, S*) for ``gaussian`` data,
the moments of a 50,000-point reference sample otherwise), ``mean_error``, ``cov_error``; per round also
``straightness`` (sampler ``heun``; see :func:`collapse_theory.train.flow.metrics.straightness`) and
``train_loss`` (mean of the last 10 % of the round's minibatch losses). Round 0 also holds ``w2_floor``
(sampler ``reference``): the empirical W2 between two independent reference samples of size ``n_eval``, the
floor that the empirical ``w2`` cannot go below in expectation.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...data.toy2d import check_data, gaussian_parameters, sample
from . import metrics as flow_metrics
from .blocks import DEFAULT_REAL_FRACTION, EMA, REFLOW_METHODS, PairSource, check_reflow_method, rf_loss
from .ode import integrate, integrate_stochastic

__all__ = ["DEFAULT_REAL_FRACTION", "EMA", "FRAME_COLUMNS", "PairSource", "REFLOW_METHODS", "ReflowConfig",
           "ReflowResult", "Target", "VelocityMLP", "check_reflow_method", "evaluate_model", "make_model",
           "make_target", "rf_loss", "run_reflow", "torch_threads", "train_flow", "wide_table"]
FRAME_COLUMNS = ["data", "method", "real_fraction", "seed", "round", "metric", "sampler", "nfe", "value"]
PER_SAMPLER_METRICS = ("w2", "w2_gauss", "mean_error", "cov_error")


# ----------------------------------------------------------------------------------------------- network

class VelocityMLP(nn.Module):
    """Time-conditioned MLP velocity v(x, t): input [x, phi(t)], ``depth`` hidden layers of ``width``, SiLU.

    ``t`` may be a float, a 0-dim tensor (one time for the batch) or a tensor of shape (n,) or (n, 1)."""

    def __init__(self, dim: int, width: int = 128, depth: int = 3, n_freq: int = 4):
        super().__init__()
        for name, value, minimum in (("dim", dim, 1), ("width", width, 1), ("depth", depth, 1), ("n_freq", n_freq, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        self.dim, self.width, self.depth, self.n_freq = dim, width, depth, n_freq
        layers: list[nn.Module] = [nn.Linear(dim + 1 + 2 * n_freq, width), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.SiLU()]
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)
        self.register_buffer("freqs", math.pi * torch.arange(1, n_freq + 1, dtype=torch.get_default_dtype()))

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1)
        angles = t * self.freqs
        return torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=1)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0 or t.numel() == 1:
            t = t.reshape(1).expand(x.shape[0])
        elif t.numel() != x.shape[0]:
            raise ValueError(f"t must be a scalar or hold one time per sample ({x.shape[0]}), got shape {tuple(t.shape)}")
        return self.net(torch.cat([x, self.time_features(t.reshape(-1))], dim=1))


def make_model(dim: int, width: int = 128, depth: int = 3, n_freq: int = 4, seed: int = 0) -> VelocityMLP:
    """A :class:`VelocityMLP` initialised from ``seed`` (the global torch RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VelocityMLP(dim, width, depth, n_freq)


# ----------------------------------------------------------------------------------------------- training

def train_flow(model: nn.Module, source: PairSource, steps: int, batch_size: int = 256, lr: float = 1e-3,
               generator: torch.Generator | None = None, *, velocity_penalty: float = 0.0,
               grad_clip: float | None = 1.0, ema: EMA | None = None, progress=None,
               on_step: Callable[[int], None] | None = None) -> list[float]:
    """Train ``model`` in place on minibatches of ``source`` with Adam; returns the per-step losses.
    A NaN/Inf loss raises FloatingPointError (the run diverged).

    ``on_step(step)`` is called before each step (ORA uses it to regenerate the real pairs);
    ``progress`` is a tqdm bar (or None) advanced once per step."""
    _positive_int(steps, "steps")
    _positive_int(batch_size, "batch_size")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (velocity_penalty >= 0 and math.isfinite(velocity_penalty)):
        raise ValueError(f"velocity_penalty must be a finite number >= 0, got {velocity_penalty!r}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        x0, x1 = source.batch(batch_size, generator)
        t = torch.rand(batch_size, generator=generator, dtype=x1.dtype)
        loss = rf_loss(model, x0, x1, t, velocity_penalty)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        if ema is not None:
            ema.update(model)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):  # diverged: FloatingPointError (the CLI's exit status 3)
            raise FloatingPointError(f"training loss became {losses[-1]} at step {step + 1} (lr {lr:g}): the run "
                                     f"diverged; lower --lr")
        if progress is not None:
            progress.update(1)
    model.eval()
    return losses


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------- pipeline

@dataclass
class ReflowConfig:
    """Everything a Reflow-family run depends on (see the module docstring)."""

    data: str = "gaussian"
    dim: int = 2
    method: str = "reflow"
    real_fraction: float | None = None        # None: 0 for reflow, 0.5 for ra/ora/oras
    rounds: int = 3                           # Reflow rounds after round 0 (rows for rounds 0..rounds)
    n_real: int = 2000
    n_synth: int = 2000
    steps: int = 1500                         # training steps per Reflow round
    round0_steps: int | None = None           # None: same as steps
    batch_size: int = 256
    lr: float = 1e-3
    width: int = 128
    depth: int = 3
    n_freq: int = 4
    gen_steps: int = 32                       # Euler steps to generate pairs and to invert real data
    regen_every: int | None = None            # ora/oras; None: max(1, steps // 4)
    oras_noise: float = 1e-3
    oras_jitter: float = 0.1
    velocity_penalty: float = 0.0
    ema_decay: float | None = None
    grad_clip: float | None = 1.0
    n_eval: int = 1000
    eval_steps: tuple[int, ...] = (1, 2, 4, 8)
    dopri5: bool = True
    rtol: float = 1e-5
    atol: float = 1e-5
    empirical: bool = True                    # compute the exact empirical W2 (ot.emd2)
    straightness_times: int = 16
    seed: int = 0
    progress: bool = False
    threads: int | None = 1                   # torch intra-op threads during the run (restored after); None: leave

    def validated(self) -> "ReflowConfig":
        """A copy with defaults filled in; ValueError naming the argument on bad input."""
        cfg = copy.copy(self)
        cfg.data = check_data(cfg.data)
        cfg.method, cfg.real_fraction = check_reflow_method(cfg.method, cfg.real_fraction)
        if cfg.data != "gaussian" and cfg.dim != 2:
            raise ValueError(f"dim must be 2 for data {cfg.data!r}, got {cfg.dim!r}")
        _positive_int(cfg.dim, "dim")
        _positive_int(cfg.rounds, "rounds", minimum=0)
        for name in ("n_real", "n_synth", "steps", "batch_size", "width", "depth", "gen_steps", "straightness_times"):
            _positive_int(getattr(cfg, name), name)
        _positive_int(cfg.n_eval, "n_eval", minimum=2)
        _positive_int(cfg.n_freq, "n_freq", minimum=0)
        _positive_int(cfg.seed, "seed", minimum=0)
        if cfg.threads is not None:
            _positive_int(cfg.threads, "threads")
        cfg.round0_steps = cfg.steps if cfg.round0_steps is None else _positive_int(cfg.round0_steps, "round0_steps")
        cfg.regen_every = (max(1, cfg.steps // 4) if cfg.regen_every is None
                           else _positive_int(cfg.regen_every, "regen_every"))
        cfg.eval_steps = tuple(_positive_int(s, "eval_steps") for s in cfg.eval_steps)
        for name in ("lr", "rtol", "atol"):
            value = getattr(cfg, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("oras_noise", "velocity_penalty"):
            value = getattr(cfg, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (0 <= cfg.oras_jitter < 1):
            raise ValueError(f"oras_jitter must lie in [0, 1), got {cfg.oras_jitter!r}")
        if cfg.ema_decay is not None and not (0 < cfg.ema_decay < 1):
            raise ValueError(f"ema_decay must lie in (0, 1), got {cfg.ema_decay!r}")
        if cfg.grad_clip is not None and not (cfg.grad_clip > 0):
            raise ValueError(f"grad_clip must be > 0 or None, got {cfg.grad_clip!r}")
        return cfg


@dataclass
class Target:
    """The target distribution for evaluation: its Gaussian moments and an independent reference sample."""

    mean: np.ndarray
    cov: np.ndarray
    reference: np.ndarray
    floor_sample: np.ndarray


def make_target(data: str, dim: int, n_eval: int, seed: int) -> Target:
    """Reference samples come from seeds 10_000 + seed and 20_000 + seed (never the training data's seed)."""
    if data == "gaussian":
        mean, cov = gaussian_parameters(dim)
    else:
        big = sample(data, 50_000, seed=30_000 + seed, dim=dim)
        mean, cov = big.mean(axis=0), np.cov(big, rowvar=False)
    return Target(mean, np.atleast_2d(cov), sample(data, n_eval, seed=10_000 + seed, dim=dim),
                  sample(data, n_eval, seed=20_000 + seed, dim=dim))


@dataclass
class ReflowResult:
    config: ReflowConfig
    frame: pd.DataFrame
    models: list[nn.Module] = field(default_factory=list)   # model k per round (copies, eval mode), if kept
    seconds: float = 0.0
    real_x: torch.Tensor | None = None


def evaluate_model(model: nn.Module, z_eval: torch.Tensor, target: Target, cfg: ReflowConfig,
                   straightness_gen: torch.Generator) -> list[tuple[str, str, int, float]]:
    """(metric, sampler, nfe, value) rows for one model; see the module docstring."""
    rows = []
    samplers = [(f"euler{s}", "euler", s) for s in cfg.eval_steps]
    if cfg.dopri5:
        samplers.append(("dopri5", "dopri5", 0))
    for label, method, steps in samplers:
        x, nfe = integrate(model, z_eval, 0.0, 1.0, method=method, steps=max(steps, 1), rtol=cfg.rtol,
                           atol=cfg.atol, return_nfe=True)
        x = x.double().numpy()
        if not np.all(np.isfinite(x)):
            for metric in PER_SAMPLER_METRICS:
                rows.append((metric, label, nfe, float("nan")))
            continue
        if cfg.empirical:
            rows.append(("w2", label, nfe, flow_metrics.empirical_w2(x, target.reference)))
        rows.append(("w2_gauss", label, nfe, flow_metrics.gaussian_fit_w2(x, target.mean, target.cov)))
        m_err, c_err = flow_metrics.mean_cov_errors(x, target.mean, target.cov)
        rows.append(("mean_error", label, nfe, m_err))
        rows.append(("cov_error", label, nfe, c_err))
    s = flow_metrics.straightness(model, z_eval, n_times=cfg.straightness_times, generator=straightness_gen)
    rows.append(("straightness", "heun", 0, s))
    return rows


def run_reflow(config: ReflowConfig | None = None, *, keep_models: bool = False, progress_bar=None,
               **overrides) -> ReflowResult:
    """Run round 0 (1-RF) and ``config.rounds`` rounds of ``config.method``; see the module docstring.

    Keyword overrides replace config fields (``run_reflow(method="ra", rounds=2)``). Deterministic on CPU for a
    given config (same seed -> identical frame). ``keep_models=True`` keeps a copy of each round's model."""
    start = time.perf_counter()
    config = config if config is not None else ReflowConfig()
    unknown = [k for k in overrides if k not in ReflowConfig.__dataclass_fields__]
    if unknown:
        raise ValueError(f"{unknown[0]} is not a ReflowConfig field")
    cfg = dataclasses.replace(config, **overrides)
    cfg = cfg.validated()
    with torch_threads(cfg.threads):
        result = _run(cfg, keep_models, progress_bar)
    result.seconds = time.perf_counter() - start
    return result


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` torch intra-op threads, restoring the previous number after (None: unchanged).

    Tiny MLPs gain nothing from intra-op parallelism, and on a busy 2-core machine extra threads only spin."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run(cfg: ReflowConfig, keep_models: bool, progress_bar) -> ReflowResult:
    start = time.perf_counter()
    dtype = torch.float32
    real_x = torch.as_tensor(sample(cfg.data, cfg.n_real, seed=cfg.seed, dim=cfg.dim), dtype=dtype)
    target = make_target(cfg.data, cfg.dim, cfg.n_eval, cfg.seed)
    z_eval = torch.randn(cfg.n_eval, cfg.dim, generator=torch.Generator().manual_seed(40_000 + cfg.seed), dtype=dtype)
    train_gen = torch.Generator().manual_seed(cfg.seed)
    oras_gen = torch.Generator().manual_seed(50_000 + cfg.seed)

    model = make_model(cfg.dim, cfg.width, cfg.depth, cfg.n_freq, seed=cfg.seed)
    bar = progress_bar
    own_bar = False
    if bar is None and cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.round0_steps + cfg.rounds * cfg.steps, desc=f"{cfg.data} {cfg.method}",
                   unit="step", leave=False)
        own_bar = True

    rows: list[tuple] = []
    models: list[nn.Module] = []

    def record(k: int, current: nn.Module, losses: list[float]):
        # a fresh generator per round: the metrics never touch the training randomness
        s_gen = torch.Generator().manual_seed(60_000 + 1000 * k + cfg.seed)
        for metric, sampler_name, nfe, value in evaluate_model(current, z_eval, target, cfg, s_gen):
            rows.append((k, metric, sampler_name, nfe, value))
        tail = losses[-max(1, len(losses) // 10):]
        rows.append((k, "train_loss", "-", 0, float(np.mean(tail))))
        if keep_models:
            models.append(copy.deepcopy(current).eval())

    try:
        # ---- round 0: 1-RF on independent pairs
        ema = EMA(model, cfg.ema_decay) if cfg.ema_decay else None
        losses = train_flow(model, PairSource(real_x=real_x, independent=True), cfg.round0_steps, cfg.batch_size,
                            cfg.lr, train_gen, velocity_penalty=cfg.velocity_penalty, grad_clip=cfg.grad_clip,
                            ema=ema, progress=bar)
        current = ema.model if ema else model
        record(0, current, losses)
        if cfg.empirical:
            rows.append((0, "w2_floor", "reference", 0, flow_metrics.empirical_w2(target.floor_sample,
                                                                                   target.reference)))

        # ---- rounds 1..K
        for k in range(1, cfg.rounds + 1):
            previous = (ema.model if ema else model)
            previous.eval()
            z = torch.randn(cfg.n_synth, cfg.dim, generator=train_gen, dtype=dtype)
            synth_x = integrate(previous, z, 0.0, 1.0, method="euler", steps=cfg.gen_steps)
            source = PairSource(real_x=real_x, synth_z=z, synth_x=synth_x, real_fraction=cfg.real_fraction)
            model = copy.deepcopy(previous)                     # warm start from model k-1 (EMA weights if on)
            for p in model.parameters():
                p.requires_grad_(True)
            ema = EMA(model, cfg.ema_decay) if cfg.ema_decay else None

            def invert(net: nn.Module) -> torch.Tensor:
                net.eval()
                if cfg.method == "oras":
                    out = integrate_stochastic(net, real_x, 1.0, 0.0, steps=cfg.gen_steps, noise_scale=cfg.oras_noise,
                                               jitter=cfg.oras_jitter, generator=oras_gen)
                else:
                    out = integrate(net, real_x, 1.0, 0.0, method="euler", steps=cfg.gen_steps)
                net.train()
                return out

            on_step = None
            if cfg.method != "reflow" and source.n_real_in_batch(cfg.batch_size) > 0:
                source.real_z = invert(previous)               # real pairs (z_hat, x) from model k-1's reverse flow
                if cfg.method in ("ora", "oras"):
                    def on_step(step: int, source=source, ema=ema, training=model):
                        if step > 0 and step % cfg.regen_every == 0:
                            source.real_z = invert(ema.model if ema else training)
            losses = train_flow(model, source, cfg.steps, cfg.batch_size, cfg.lr, train_gen,
                                velocity_penalty=cfg.velocity_penalty, grad_clip=cfg.grad_clip, ema=ema,
                                progress=bar, on_step=on_step)
            current = ema.model if ema else model
            record(k, current, losses)
    finally:
        if own_bar:
            bar.close()

    frame = pd.DataFrame(rows, columns=["round", "metric", "sampler", "nfe", "value"])
    frame.insert(0, "seed", cfg.seed)
    frame.insert(0, "real_fraction", cfg.real_fraction)
    frame.insert(0, "method", cfg.method)
    frame.insert(0, "data", cfg.data)
    frame = frame[FRAME_COLUMNS]
    return ReflowResult(cfg, frame, models, time.perf_counter() - start, real_x)


def wide_table(frame: pd.DataFrame, metrics=("w2", "w2_gauss"), samplers=("euler1", "dopri5")) -> pd.DataFrame:
    """Rounds as rows and (metric, sampler, method) as columns: Reflow and RA side by side per round."""
    sel = frame[frame["metric"].isin(metrics) & frame["sampler"].isin(samplers)]
    if sel.empty:
        return pd.DataFrame()
    wide = sel.pivot_table(index="round", columns=["metric", "sampler", "method"], values="value", aggfunc="first")
    return wide
