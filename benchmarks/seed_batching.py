"""Benchmark: 8 seeds trained as one stacked model (train/flow/ensemble.py) vs one by one, in one process.

    python benchmarks/seed_batching.py [--json FILE] [--threads 1]

Two workloads, each run batched (one stack of 8 members) and sequentially (8 runs of a stack of 1, the same code),
so the ratio = sequential seconds / batched seconds isolates what stacking saves:

1. ``image``: the image tier's driver (train/image/ensemble_reflow.py) on 8 x 8 digits with the tiny-8 UNet at a
   reduced length: 8 seeds, a 1-RF of 60 steps then 1 Reflow round of 30 steps on 300 generated pairs (Euler 10),
   FD at NFE 1 and 16 on 100 samples; the members use the same per-member random streams in both variants.
2. ``mlp``: 8 MLP velocity fields (d = 2, width 64, depth 2: the trained tier's toy flows), 300 AdamW steps of
   batch 256 with per-member clipping and EMA (StackedTrainer).
3. ``unet-train``: the image tier's training step alone: 8 tiny-8 UNets, 40 AdamW steps of batch 64 each
   (StackedTrainer), batched vs one member at a time.
4. ``unet-forward``: the image tier's no-gradient passes: 8 tiny-8 UNets each mapping 2048 images 10 times, as one
   vmapped stack ("sequential" column) vs member by member with a plain module ("batched" column): the driver's
   choice for generation, inversion and evaluation.
5. ``unet-ceiling``: what any seed batching of the training step could reach at best: ONE plain tiny-8 UNet trained
   40 AdamW steps on batches of 8 x 64 = 512 images ("batched") vs 8 x 40 steps on batches of 64 ("sequential"): the
   same images and FLOPs, so the ratio is the large-batch gain of the convolutions themselves.

Prints the machine (CPU count, load average) and the timings; ``--json`` writes them with a manifest, as strict
JSON: a number that is not finite (a loss or a time that diverged) is written as ``null``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from collapse_theory.outputs import run_manifest, strict_json, write_with_manifest
from collapse_theory.train.flow.ensemble import StackedEMA, StackedModels, StackedTrainer, member_generators
from collapse_theory.train.flow.reflow import make_model
from collapse_theory.train.image.ensemble_reflow import EnsembleReflowConfig, run_ensemble_reflow

SEEDS = tuple(range(8))
IMAGE = dict(methods=("reflow",), once=(), rounds=1, round0_steps=60, steps=30, n_pairs=300, gen_steps=10,
             n_eval=100, n_train=300, warmup_steps=10)


def image_workload(seeds) -> float:
    start = time.perf_counter()
    run_ensemble_reflow(EnsembleReflowConfig(seeds=tuple(seeds), threads=None, **IMAGE))
    return time.perf_counter() - start


def mlp_workload(seeds, steps: int = 300, batch: int = 256) -> float:
    stack = StackedModels([make_model(2, 64, 2, seed=s) for s in seeds])
    trainer = StackedTrainer(stack, StackedEMA(stack.params, 0.99), lr=1e-3, warmup_steps=10, grad_clip=1.0,
                             reduction="sum")
    gens = member_generators([1000 + s for s in seeds])
    start = time.perf_counter()
    for _ in range(steps):
        x0 = torch.stack([torch.randn(batch, 2, generator=g) for g in gens])
        x1 = torch.stack([torch.randn(batch, 2, generator=g) * 0.5 + 1 for g in gens])
        t = torch.stack([torch.rand(batch, generator=g) for g in gens])
        trainer.step(x0, x1, t)
    return time.perf_counter() - start


def unet_train_workload(seeds, steps: int = 40, batch: int = 64) -> float:
    from collapse_theory.train.image.unet import build_unet

    stack = StackedModels([build_unet("tiny-8") for _ in seeds])
    trainer = StackedTrainer(stack, StackedEMA(stack.params, 0.99), lr=1e-3, warmup_steps=5, grad_clip=1.0)
    gens = member_generators([2000 + s for s in seeds])
    start = time.perf_counter()
    for _ in range(steps):
        x0 = torch.stack([torch.randn(batch, 1, 8, 8, generator=g) for g in gens])
        x1 = torch.stack([torch.randn(batch, 1, 8, 8, generator=g) for g in gens])
        t = torch.stack([torch.rand(batch, generator=g) for g in gens])
        trainer.step(x0, x1, t)
    return time.perf_counter() - start


@torch.no_grad()
def unet_forward(plain: bool, members: int = 8, images: int = 2048, passes: int = 10) -> float:
    from collapse_theory.train.image.unet import build_unet

    stack = StackedModels([build_unet("tiny-8") for _ in range(members)])
    x = torch.randn(members, images, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((members, images), 0.5)
    start = time.perf_counter()
    for _ in range(passes):
        if plain:
            for i in range(members):
                stack.member_module(i)(x[i], t[i])
        else:
            stack.velocity(x, t)
    return time.perf_counter() - start


def unet_ceiling(batch: int, steps: int) -> float:
    from collapse_theory.train.image.unet import build_unet

    net = build_unet("tiny-8")
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        x0, x1 = torch.randn(batch, 1, 8, 8, generator=g), torch.randn(batch, 1, 8, 8, generator=g)
        t = torch.rand(batch, generator=g)
        xt = t[:, None, None, None] * x1 + (1 - t[:, None, None, None]) * x0
        loss = (net(xt, t) - (x1 - x0)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def measure_ceiling(members: int = 8, steps: int = 40, batch: int = 64) -> dict:
    unet_ceiling(batch, 3)
    big, small = unet_ceiling(members * batch, steps), unet_ceiling(batch, members * steps)
    return {"workload": "unet-ceiling", "seeds": members, "batched_s": round(big, 2), "sequential_s": round(small, 2),
            "speedup": round(small / big, 2), "note": "one plain model: batch 512 x 40 steps vs batch 64 x 320 steps"}


def measure_forward() -> dict:
    unet_forward(True, passes=1)
    unet_forward(False, passes=1)
    plain, stacked = unet_forward(True), unet_forward(False)
    return {"workload": "unet-forward", "seeds": 8, "batched_s": round(plain, 2), "sequential_s": round(stacked, 2),
            "speedup": round(stacked / plain, 2), "note": "batched = member by member (plain module), "
                                                         "sequential = one vmapped stack"}


def measure(name: str, fn) -> dict:
    fn(SEEDS[:1])                                   # warm-up (feature-net cache, allocator, vmap tracing)
    batched = fn(SEEDS)
    sequential = sum(fn((s,)) for s in SEEDS)
    return {"workload": name, "seeds": len(SEEDS), "batched_s": round(batched, 2), "sequential_s": round(sequential, 2),
            "speedup": round(sequential / batched, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("image", "mlp", "unet"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = {"cpus": os.cpu_count(), "threads": args.threads, "platform": platform.platform(),
               "processor": platform.processor(), "load_average_start": os.getloadavg()}
    rows = []
    if args.only in (None, "mlp"):
        rows.append(measure("mlp", mlp_workload))
        print(rows[-1], flush=True)
    if args.only in (None, "unet"):
        rows.append(measure("unet-train", unet_train_workload))
        print(rows[-1], flush=True)
        rows.append(measure_forward())
        print(rows[-1], flush=True)
        rows.append(measure_ceiling())
        print(rows[-1], flush=True)
    if args.only in (None, "image"):
        rows.append(measure("image", image_workload))
        print(rows[-1], flush=True)
    machine["load_average_end"] = os.getloadavg()
    print(machine)
    if args.json:
        doc = {"machine": machine, "results": rows}
        write_with_manifest(args.json, benchmark_json(doc),
                            run_manifest("benchmarks/seed_batching.py", vars(args)))


def benchmark_json(doc: dict) -> str:
    """The ``--json`` text: strict JSON, a non-finite number as ``null``."""
    return strict_json(doc, what="--json", nonfinite="null", indent=1) + "\n"


if __name__ == "__main__":
    main()
