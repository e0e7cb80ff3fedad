"""Phase 2 of benchmarks/gpu_reflow.py: Fashion-MNIST Reflow vs RA from one shared round 0, sized to the budget.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from pathlib import Path

from .common import FINAL_RESERVE_S, MARGIN, fmt, log
from .deadline import Budget, Deadline
from .planning import Limits, Sizes, plan_fashion, plan_reflow_steps, round_seconds
from .stages import PipelineHooks, calibrate, clean_run_dir


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
        clean_run_dir(path)
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
                    result = run(cfg, dirs[label], hooks=hooks.run_hooks(cfg))
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
