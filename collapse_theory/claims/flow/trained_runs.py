"""Seed-batched toy Reflow / RA runs for the trained tier's pre-registered decisions (torch, CPU).

All members (seeds x methods) are trained as one stacked model (:mod:`collapse_theory.train.flow.ensemble`:
stacked parameters, ``torch.vmap``, per-member Adam, gradient clipping and RNG), so 12 seeds cost about as many
Python steps as one. Member s is exactly the toy pipeline of :func:`collapse_theory.train.flow.reflow.run_reflow`
with its own seed, in the *estimated* setting of the old trained checks:

- target N(m*, S*) of :func:`collapse_theory.data.toy2d.gaussian_parameters` (d = 2), noise N(0, I) at t = 0;
  ``n_real`` = 32 real points per seed (``sample("gaussian", 32, seed)``, as run_reflow draws them);
- MLP velocity (width 64, depth 2, 4 time frequencies, initialised from the seed), Adam lr 1e-3 (AdamW with zero
  weight decay), gradient clipping at 1 per member, batch 256, 400 steps in round 0 (1-RF on independent pairs)
  and in each of the 5 Reflow rounds (warm start from the previous round);
- round k >= 1: ``n_synth`` = 32 synthetic pairs (z, T_{k-1}(z)) by 32 Euler steps; RA (real fraction 0.5) also
  holds the real pairs (T_{k-1}^{-1}(x), x) from 32 reverse Euler steps, and every minibatch has round(0.5 B)
  real pairs (the first author's mixing, :class:`collapse_theory.train.flow.blocks.PairSource`);
- quality per round: the Bures W2 between the Gaussian fit of 2000 generated points (one fixed noise set per seed)
  and the target, at 32 Euler steps (the model's law: the paths are nearly straight after round 1, and the same
  sampler every round) and at 1 Euler step (few-step quality).

Randomness: member s draws everything (minibatch indices, noise, times, synthetic noise) from its own generator
seeded with its seed (plus ``STREAM_OFFSET`` times its training stream); the evaluation noise comes from a generator
seeded 40_000 + seed. Deterministic on CPU; a member's numbers do not depend on which other members share the batch
(to float rounding of the batched matmuls).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

SETTING = dict(dim=2, width=64, depth=2, n_freq=4, n_real=32, n_synth=32, rounds=5, steps=400, batch=256,
               lr=1e-3, gen_steps=32, n_eval=2000, eval_steps=(1, 32), real_fraction=0.5)
"""The estimated setting (as the old ``reflow-degrades-estimated`` check), fixed before any decision was run."""
STREAM_OFFSET = 1_000_003
"""Training-stream offset of a member's generator seed (see :func:`run_batched`)."""


@dataclass(frozen=True)
class BatchedRuns:
    """W2 of the Gaussian fit per member, round and sampler: ``w2[steps]`` has shape (members, rounds + 1)."""

    seeds: tuple[int, ...]
    methods: tuple[str, ...]
    streams: tuple[int, ...]
    w2: dict[int, np.ndarray]
    seconds: float

    def select(self, method: str, seeds, stream: int = 0) -> dict[int, np.ndarray]:
        """The rows of ``method`` for ``seeds`` (in that order) and training stream ``stream``."""
        index = {key: i for i, key in enumerate(zip(self.methods, self.seeds, self.streams))}
        rows = [index[(method, int(s), int(stream))] for s in seeds]
        return {k: v[rows] for k, v in self.w2.items()}


def run_batched(members: tuple[tuple, ...], setting: dict | None = None) -> BatchedRuns:
    """Train every member of ``members`` as one stacked model. A member is ``(method, seed)`` or
    ``(method, seed, stream)`` (method ``reflow`` or ``ra``): the seed fixes the real data, the initial weights and
    the evaluation noise; the training draws come from a generator seeded ``seed + STREAM_OFFSET * stream`` (stream
    0 is the seed itself), so two streams of one seed differ only in their training randomness."""
    import torch

    from ...data.toy2d import gaussian_parameters, sample
    from ...train.flow import metrics as flow_metrics
    from ...train.flow.blocks import real_pairs_in_batch
    from ...train.flow.ensemble import StackedEMA, StackedTrainer, member_generators, stack_mlps, stacked_field
    from ...train.flow.ode import integrate
    from ...train.flow.reflow import make_model, torch_threads

    p = dict(SETTING, **(setting or {}))
    methods = tuple(m[0] for m in members)
    seeds = tuple(int(m[1]) for m in members)
    streams = tuple(int(m[2]) if len(m) > 2 else 0 for m in members)
    for m in methods:
        if m not in ("reflow", "ra"):
            raise ValueError(f"method must be reflow or ra, got {m!r}")
    S, d, B = len(members), p["dim"], p["batch"]
    start = time.perf_counter()
    dtype = torch.float32
    with torch_threads(1):
        real = torch.stack([torch.as_tensor(sample("gaussian", p["n_real"], seed=s, dim=d), dtype=dtype)
                            for s in seeds])                                          # (S, n_real, d)
        mean, cov = gaussian_parameters(d)
        z_eval = torch.stack([torch.randn(p["n_eval"], d, generator=torch.Generator().manual_seed(40_000 + s),
                                          dtype=dtype) for s in seeds])
        gens = member_generators([s + STREAM_OFFSET * k for s, k in zip(seeds, streams)])
        stack = stack_mlps(lambda s: make_model(d, p["width"], p["depth"], p["n_freq"], seed=s), seeds)
        n_r = np.array([real_pairs_in_batch(p["real_fraction"], B) if m == "ra" else 0 for m in methods])
        w2 = {k: np.zeros((S, p["rounds"] + 1)) for k in p["eval_steps"]}

        def flow(x, t0, t1):
            field = stacked_field(stack, stack.detached(), S, (d,))
            with torch.no_grad():
                out = integrate(field, x.reshape(-1, d), t0, t1, method="euler", steps=p["gen_steps"])
            return out.reshape(x.shape)

        def evaluate(k):
            field = stacked_field(stack, stack.detached(), S, (d,))
            for steps in p["eval_steps"]:
                with torch.no_grad():
                    x = integrate(field, z_eval.reshape(-1, d), 0.0, 1.0, method="euler", steps=steps)
                x = x.reshape(S, p["n_eval"], d).double().numpy()
                for s in range(S):
                    w2[steps][s, k] = flow_metrics.gaussian_fit_w2(x[s], mean, cov)

        def train(x0, x1, t):
            """One round: x0, x1 (S, steps, B, d) and t (S, steps, B) drawn up front, member by member."""
            trainer = StackedTrainer(stack, StackedEMA(stack.params, 0.5), lr=p["lr"], grad_clip=1.0,
                                     reduction="sum")
            for j in range(p["steps"]):
                losses = trainer.step(x0[:, j], x1[:, j], t[:, j])
                if not torch.all(torch.isfinite(losses)):
                    raise FloatingPointError("a member's training loss became non-finite: the run diverged")

        steps = p["steps"]
        # round 0: 1-RF pairs (a real point, fresh noise); each member draws its whole round from its generator
        x0, x1, t = [], [], []
        for s in range(S):
            idx = torch.randint(0, p["n_real"], (steps, B), generator=gens[s])
            x1.append(real[s][idx])
            x0.append(torch.randn(steps, B, d, generator=gens[s], dtype=dtype))
            t.append(torch.rand(steps, B, generator=gens[s], dtype=dtype))
        train(torch.stack(x0), torch.stack(x1), torch.stack(t))
        evaluate(0)
        for k in range(1, p["rounds"] + 1):
            z = torch.stack([torch.randn(p["n_synth"], d, generator=gens[s], dtype=dtype) for s in range(S)])
            synth = flow(z, 0.0, 1.0)
            real_z = flow(real, 1.0, 0.0)
            x0, x1, t = [], [], []
            for s in range(S):
                r = int(n_r[s])
                i_s = torch.randint(0, p["n_synth"], (steps, B - r), generator=gens[s])
                a0, a1 = z[s][i_s], synth[s][i_s]
                if r:
                    i_r = torch.randint(0, p["n_real"], (steps, r), generator=gens[s])
                    a0, a1 = torch.cat([real_z[s][i_r], a0], dim=1), torch.cat([real[s][i_r], a1], dim=1)
                x0.append(a0)
                x1.append(a1)
                t.append(torch.rand(steps, B, generator=gens[s], dtype=dtype))
            train(torch.stack(x0), torch.stack(x1), torch.stack(t))
            evaluate(k)
    return BatchedRuns(seeds, methods, streams, w2, time.perf_counter() - start)


@functools.lru_cache(maxsize=4)
def cached_runs(members: tuple[tuple, ...]) -> BatchedRuns:
    """:func:`run_batched` once per member tuple (the checks of one verify run share it)."""
    return run_batched(members)
