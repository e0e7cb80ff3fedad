"""Phase 3 (optional Inception FID) and the final table of benchmarks/gpu_reflow.py.

``summary.json`` is strict JSON: a number that is not finite (an FD of a run that diverged, a throughput that was
not measured) is written as ``null``; the notes and the FD table say what happened.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from pathlib import Path

from . import common
from .common import FINAL_RESERVE_S, fmt, log
from .deadline import Budget, Deadline
from .fashion import read_metrics, run_dirs


def inception_phase(args, device, fashion: dict, budget: Budget, notes: list[str]) -> dict:
    import torch

    from collapse_theory.data.images import load_image_dataset
    from collapse_theory.train.image import metrics as M
    from collapse_theory.train.image.config import ImageReflowConfig
    from collapse_theory.train.image.evaluate import run_seed
    from collapse_theory.train.image.field import FlatField
    from collapse_theory.train.image.rundir import load_checkpoint
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


def json_default(obj):
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


def summary_json(summary: dict) -> str:
    """``summary.json``'s text: strict JSON, a non-finite number as ``null`` (module docstring)."""
    from collapse_theory.outputs import strict_json

    return strict_json(summary, what="summary.json", nonfinite="null", indent=1, default=json_default) + "\n"


def write_outputs(args, env, budget, phases, notes, tp, fashion, inception) -> list[str]:
    """``<out>/fashion_metrics.csv`` (tidy, every run), ``<out>/summary.json`` and the ``--export`` copies; returns
    the FD table's lines."""
    out = Path(args.out)
    t0 = time.monotonic()
    fd_lines, tidy = fd_table(out)
    csv_path = out / "fashion_metrics.csv"
    from collapse_theory.outputs import atomic_write_text

    if tidy is not None:
        atomic_write_text(csv_path, tidy.to_csv(index=False, float_format="%.10g"))
    phases["summary"] = time.monotonic() - t0
    phases["total"] = time.monotonic() - common.T_START
    summary = {"env": env, "budget_s": budget.total, "dry_run": args.dry_run, "argv": sys.argv[1:],
               "phases_s": phases, "notes": notes, "throughput": tp,
               "fashion": fashion,
               "inception": inception, "csv": str(csv_path) if tidy is not None else None,
               "fd_table": fd_lines}
    atomic_write_text(out / "summary.json", summary_json(summary))
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
    return fd_lines


def print_table(args, env, phases, notes, tp, fashion, inception, fd_lines) -> None:
    """The table: the last lines the script prints."""
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
