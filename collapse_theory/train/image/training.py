"""Training one round of an image Reflow run (:class:`RoundTrainer`), step by named step.

Per step s of round k on rank r: torch's global generators are seeded with derive_seed(seed, "step", k, s, r); a
minibatch of the local batch B holds round(alpha B) real pairs (rounds k >= 1 of ra/ora/oras) and the rest
synthetic, or independent (noise, image) pairs in round 0 (:class:`collapse_theory.train.flow.blocks.PairSource`);
t ~ U[0, 1] per pair; the loss is the per-pixel rectified-flow loss
(1 / (B D)) sum_b ||(x1_b - x0_b) - v(x_t_b, t_b)||^2 (:func:`~collapse_theory.train.flow.blocks.rf_loss`,
``reduction="mean"``); AdamW with a linear warm-up of ``warmup_steps``, gradient norm clipped at ``grad_clip``,
then the EMA update. ora/oras regenerate the real pairs with the EMA model every ``regen_every`` steps.

The losses are synchronised (averaged over ranks) and checked for NaN/Inf every ``loss_check_every`` steps, at
every checkpoint and at the end; a non-finite loss raises :class:`NonFiniteLossError`. Every ``checkpoint_every``
steps rank 0 writes ``round_k_partial.pt`` (weights, EMA, optimiser, scheduler, step, losses and the regenerated
real pairs), from which a killed run continues to the same numbers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..flow.blocks import EMA, PairSource, rf_loss
from . import distributed as D
from .field import derive_seed
from .rundir import atomic_torch_save, load_checkpoint


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or Inf; the run stopped and the last good checkpoint is kept."""


class RoundTrainer:
    """Trains ``net`` in place for ``n_steps`` steps of round ``k`` (``run`` is the pipeline's run object).

    ``pairs`` is (synth_z, synth_x, real_z) for rounds k >= 1 (real_z None without real pairs), unused in round 0."""

    def __init__(self, run, k: int, net: nn.Module, ema: EMA, n_steps: int, pairs):
        self.run, self.cfg, self.k, self.net, self.ema, self.n_steps = run, run.cfg, k, net, ema, n_steps
        self.device = run.device
        self.batch = run.local_batch()
        self.synth_z, self.synth_x, self.real_z = pairs
        self.n_real = run.n_real_in_batch() if k > 0 else 0
        self.regen = k > 0 and self.cfg.method in ("ora", "oras") and self.n_real > 0
        self.partial = run.folder.partial_path(k)
        self.losses: list[float] = []
        self.start = 0

    # ---------------- the round
    def train(self) -> list[float]:
        """Run the remaining steps of the round; returns the per-step losses (float)."""
        opt, sched = self.optimiser()
        self.resume(opt, sched)
        source = self.pair_source()
        step_net = self.run.training_module(self.net)
        pending: list[torch.Tensor] = []
        self.net.train()
        with self.run.bar(self.n_steps, f"round {self.k}: training") as bar:
            bar.update(self.start)
            for step in range(self.start, self.n_steps):
                self.regenerate_real_pairs(step, source)
                pending.append(self.step(step, step_net, source, opt, sched))
                done = step + 1
                checkpoint_now = self.checkpoint_due(done)
                if len(pending) >= self.cfg.loss_check_every or checkpoint_now or done == self.n_steps:
                    self.losses.extend(self.check_losses(pending, done - len(pending)))
                    pending = []
                if checkpoint_now:
                    self.save_partial(opt, sched, done)
                bar.update(1)
                if self.run.hooks.after_step is not None:
                    self.run.hooks.after_step(self.k, done)
        self.net.eval()
        D.assert_replicas_equal(self.run.dist, self.net)
        return self.losses

    # ---------------- its steps
    def optimiser(self):
        """AdamW (fused on CUDA) and the linear warm-up min(1, (s + 1) / warmup_steps) of the learning rate."""
        cfg = self.cfg
        opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                fused=self.device.type == "cuda")
        warm = max(cfg.warmup_steps, 0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
        return opt, sched

    def resume(self, opt, sched) -> None:
        """Continue from ``round_k_partial.pt`` when it exists (weights, EMA, optimiser, scheduler, step, losses)."""
        if not self.partial.is_file():
            return
        state = load_checkpoint(self.partial, f"delete it to restart round {self.k}'s training from its first step, "
                                              f"then resume with --resume")
        self.net.load_state_dict(state["model"])
        self.ema.model.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        self.start, self.losses = int(state["step"]), list(state["losses"])
        if state.get("real_z") is not None:
            self.real_z = state["real_z"].to(self.device)
        self.run.log(f"round {self.k}: resumed at step {self.start} of {self.n_steps}")

    def pair_source(self) -> PairSource:
        if self.k == 0:
            return PairSource(real_x=self.run.real_x, independent=True)
        return PairSource(real_x=self.run.real_x, synth_z=self.synth_z, synth_x=self.synth_x, real_z=self.real_z,
                          real_fraction=self.cfg.real_fraction if self.n_real > 0 else 0.0)

    def regenerate_real_pairs(self, step: int, source: PairSource) -> None:
        """ora/oras: every ``regen_every`` steps, invert the real images again with the EMA model being trained."""
        if self.regen and step > 0 and step % self.cfg.regen_every == 0:
            self.real_z = source.real_z = self.run.invert_all(self.ema.model, self.k, ("regen", step))

    def step(self, step: int, step_net: nn.Module, source: PairSource, opt, sched) -> torch.Tensor:
        """One optimiser step on a minibatch seeded by (seed, k, step, rank); returns the loss (a tensor)."""
        cfg = self.cfg
        torch.manual_seed(derive_seed(cfg.seed, "step", self.k, step, self.run.dist.rank))
        x0, x1 = source.batch(self.batch)
        t = torch.rand(self.batch, device=self.device)
        if cfg.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
            x1 = x1.contiguous(memory_format=torch.channels_last)
        with self.run.autocast():
            loss = rf_loss(step_net, x0, x1, t, reduction="mean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        sched.step()
        self.ema.update(self.net)
        return loss.detach()

    def checkpoint_due(self, done: int) -> bool:
        every = self.cfg.checkpoint_every
        return bool(every) and done % every == 0 and done < self.n_steps

    def save_partial(self, opt, sched, done: int) -> None:
        if self.run.dist.is_main:
            atomic_torch_save({"model": self.net.state_dict(), "ema": self.ema.model.state_dict(),
                               "opt": opt.state_dict(), "sched": sched.state_dict(), "step": done,
                               "losses": self.losses, "real_z": self.real_z.cpu() if self.regen else None},
                              self.partial)

    def check_losses(self, pending: list[torch.Tensor], first_step: int) -> list[float]:
        """The pending losses as floats (averaged over ranks); :class:`NonFiniteLossError` at the first NaN/Inf."""
        values = torch.stack(pending).float()
        dist = self.run.dist
        if dist.active:
            torch.distributed.all_reduce(values)
            values = values / dist.world
        values = values.cpu().tolist()
        for i, v in enumerate(values):
            if not math.isfinite(v):
                folder = self.run.folder
                last = self.partial if self.partial.is_file() else folder.ckpt_path(self.k - 1)
                kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
                raise NonFiniteLossError(f"training loss became {v} at round {self.k}, step {first_step + i + 1}; the "
                                         f"run stopped ({kept}); try a smaller --lr or stronger gradient clipping")
        return values
