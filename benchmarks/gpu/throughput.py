"""Throughput of our UNet (cifar-36m) against torchcfm's UNetModelWrapper on one GPU; torchcfm imported from its
wheel without its package __init__ (see benchmarks/gpu_reflow.py, phase 1).
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import importlib.util
import os
import sys
import time
import traceback
import types
from pathlib import Path

from .common import REPO, fmt, free_memory, log, synchronizer
from .deadline import Deadline


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

    from collapse_theory.train.flow.blocks import rf_loss
    from collapse_theory.train.image.unet import build_unet, count_parameters

    dry = args.dry_run
    cuda = device.type == "cuda"
    sync = synchronizer(device)
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
                loss = rf_loss(forward, x0, x1, t, reduction="mean")
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
