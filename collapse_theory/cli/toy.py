"""``collapse-theory toy-reflow``: trained Reflow-family runs on toy data (torch, CPU).

    collapse-theory toy-reflow --data ring8 --method reflow,ra --rounds 5 --real-fraction 0.5 --seed 0 \\
        --steps 1500 --out ring8.csv

Trains round 0 (1-RF) and ``--rounds`` Reflow rounds per method (:func:`collapse_theory.train.flow.reflow.run_reflow`)
and prints the per-round metrics: a table with the methods side by side (W2 to the target at 1 Euler step and
with dopri5, the Gaussian-fit W2, straightness), the tidy CSV, or JSON. ``--method`` takes a comma-separated
list; every method runs with the same seed, so round 0 is the same model for all of them. ``--real-fraction``
applies to ra/ora/oras; reflow always trains on synthetic pairs only (real fraction 0).
``--out FILE`` writes the tidy CSV atomically with ``FILE.manifest.json`` (config, seed, versions).

Bad input prints one line (``collapse-theory: error: ...``) and exits with status 2.
"""

from __future__ import annotations

import sys

from .arguments import (also_named, check_memory, check_output_file, parse_ints, parse_names, strict_json,
                        write_output)

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: the MLP's weights are float32, so a larger learning rate cannot even be applied."""


def register(subparsers) -> None:
    """Add the ``toy-reflow`` sub-command."""
    p = subparsers.add_parser("toy-reflow", help="trained Reflow / RA / ORA / ORAS on toy data (CPU)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="ring8", help="gaussian | ring8 | moons | checkerboard ")
    p.add_argument("--dim", type=int, default=2, help="dimension (gaussian only; the 2-D sets need 2)")
    p.add_argument("--method", default="reflow,ra",
                   help="comma-separated among reflow, ra, ora, oras")
    p.add_argument("--rounds", type=int, default=5, help="Reflow rounds after round 0")
    p.add_argument("--real-fraction", type=float, default=0.5,
                   help="real fraction lambda in [0, 1] for ra/ora/oras (reflow uses 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--steps", type=int, default=1500, help="training steps per Reflow round")
    p.add_argument("--round0-steps", type=int, default=None, help="training steps of round 0 (default: --steps)")
    p.add_argument("--batch-size", type=int, default=256, help="minibatch size")
    p.add_argument("--n-real", type=int, default=2000, help="size of the real data set")
    p.add_argument("--n-synth", type=int, default=2000, help="synthetic pairs generated per round")
    p.add_argument("--gen-steps", type=int, default=32, help="Euler steps to generate pairs and invert real data")
    p.add_argument("--width", type=int, default=128, help="MLP hidden width")
    p.add_argument("--depth", type=int, default=3, help="MLP hidden layers")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--n-eval", type=int, default=1000, help="evaluation samples (exact OT is O(n^3): keep <= 2000)")
    p.add_argument("--eval-steps", default="1,2,4,8", help="Euler step counts to evaluate")
    p.add_argument("--no-dopri5", action="store_true", help="skip the dopri5 sampler")
    p.add_argument("--no-empirical", action="store_true", help="skip the exact empirical W2 (ot.emd2)")
    p.add_argument("--velocity-penalty", type=float, default=0.0,
                   help="shrinkage setting: loss + gamma E||v||^2")
    also_named(p.add_argument("--ema", type=float, default=None, metavar="DECAY",
                              help="EMA decay in (0, 1) (default off)"), "ema_decay")
    p.add_argument("--regen-every", type=int, default=None, help="ora/oras: regenerate real pairs every N steps")
    p.add_argument("--oras-noise", type=float, default=1e-3, help="oras: noise scale of the stochastic reverse pass")
    p.add_argument("--oras-jitter", type=float, default=0.1, help="oras: step-size jitter of the reverse pass")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the tidy CSV to FILE (atomically) with FILE.manifest.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _methods(text: str) -> list[str]:
    from ..train.flow.reflow import check_reflow_method

    names = parse_names(text, "--method")
    out = []
    for name in names:
        key, _ = check_reflow_method(name)
        if key in out:
            raise ValueError(f"method lists {key!r} twice")
        out.append(key)
    return out


def _eval_steps(text: str) -> tuple[int, ...]:
    values = tuple(parse_ints(text, "--eval-steps"))
    if any(v < 1 for v in values):
        raise ValueError(f"eval_steps must be a comma-separated list of integers >= 1, got {text!r}")
    return values


def _records(frame) -> list[dict]:
    """The frame's rows as JSON-ready dicts; a missing value (NaN, e.g. a metric a sampler does not have) is null."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def configs_from_args(args) -> list:
    """One validated :class:`~collapse_theory.train.flow.reflow.ReflowConfig` per method (ValueError on bad input)."""
    from ..train.flow.reflow import ReflowConfig

    methods = _methods(args.method)
    if not (args.lr is not None and abs(args.lr) < FLOAT32_MAX):
        raise ValueError(f"lr must be a number below {FLOAT32_MAX:.4g} (the float32 range of the network's weights), "
                         f"got {args.lr!r}")
    if args.real_fraction is None or not (0 <= args.real_fraction <= 1):
        raise ValueError(f"real_fraction must lie in [0, 1], got {args.real_fraction!r}")
    configs = []
    for method in methods:
        cfg = ReflowConfig(
            data=args.data, dim=args.dim, method=method,
            real_fraction=0.0 if method == "reflow" else args.real_fraction,
            rounds=args.rounds, n_real=args.n_real, n_synth=args.n_synth, steps=args.steps,
            round0_steps=args.round0_steps, batch_size=args.batch_size, lr=args.lr, width=args.width,
            depth=args.depth, gen_steps=args.gen_steps, regen_every=args.regen_every, oras_noise=args.oras_noise,
            oras_jitter=args.oras_jitter, velocity_penalty=args.velocity_penalty, ema_decay=args.ema,
            n_eval=args.n_eval, eval_steps=_eval_steps(args.eval_steps), dopri5=not args.no_dopri5,
            empirical=not args.no_empirical, seed=args.seed, progress=False)
        configs.append(cfg.validated())
    return configs


def estimated_bytes(cfg) -> float:
    """Memory one validated ReflowConfig needs, generously (8 bytes a number): the MLP's parameters
    P = (d + 9) w + (depth - 1) w^2 + w d + biases, ~7 copies (model, EMA, previous round's model, gradients, two
    Adam moments, a spare); activations of the largest pass (max(batch, n_real + n_synth, n_eval) points x width x
    depth, x 3 for autograd and the ODE solver); the point sets (~6 x (n_real + n_synth + n_eval) x d); and the exact
    OT of the empirical W2 (~3 n_eval^2: cost matrix, plan)."""
    d, w, depth = float(cfg.dim), float(cfg.width), float(cfg.depth)
    params = (d + 9) * w + (depth - 1) * w * w + w * d + depth * w + d
    points = float(max(cfg.batch_size, cfg.n_real + cfg.n_synth, cfg.n_eval))
    ot = 3.0 * float(cfg.n_eval) ** 2 if cfg.empirical else 0.0
    return 8 * (7 * params + 3 * points * w * depth + 6 * (cfg.n_real + cfg.n_synth + cfg.n_eval) * d + ot)


def table_text(frame) -> str:
    """Rounds as rows, methods side by side: W2 at 1 Euler step and dopri5, Gaussian-fit W2, straightness."""
    import pandas as pd

    methods = list(dict.fromkeys(frame["method"]))
    columns = [("w2", "euler1", "W2@1"), ("w2", "dopri5", "W2@dopri5"), ("w2_gauss", "euler1", "gW2@1"),
               ("w2_gauss", "dopri5", "gW2@dopri5"), ("straightness", "heun", "straight")]
    present = [(m, s, label) for m, s, label in columns
               if not frame[(frame["metric"] == m) & (frame["sampler"] == s)].empty]
    first = frame.iloc[0]
    lines = [f"data={first['data']} seed={first['seed']} methods={','.join(methods)} "
             f"real_fraction={','.join(f'{m}:{frame[frame.method == m].real_fraction.iloc[0]:g}' for m in methods)}"]
    floor = frame[frame["metric"] == "w2_floor"]
    if not floor.empty:
        lines.append(f"empirical W2 floor (two independent reference samples): {floor['value'].iloc[0]:.4f}")
    header = f"{'round':>5}"
    for _, _, label in present:
        for method in methods:
            header += f" {method + ' ' + label:>18}"
    lines.append(header)
    rounds = sorted(frame["round"].unique())
    lookup = frame.set_index(["method", "metric", "sampler", "round"])["value"]
    for r in rounds:
        line = f"{int(r):5d}"
        for metric, sampler, _ in present:
            for method in methods:
                try:
                    value = lookup.loc[(method, metric, sampler, r)]
                    value = float(value.iloc[0]) if isinstance(value, pd.Series) else float(value)
                    line += f" {value:18.4f}"
                except KeyError:
                    line += f" {'-':>18}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(args) -> int:
    """Run ``toy-reflow`` for parsed ``args``; returns the exit status (ValueError propagates on bad input)."""
    import dataclasses

    import pandas as pd

    from ..outputs import run_manifest
    from ..train.flow.reflow import run_reflow

    configs = configs_from_args(args)
    if args.out is not None:
        check_output_file(args.out)
    check_memory(max(estimated_bytes(c) for c in configs),
                 "--width, --depth, --batch-size, --n-real, --n-synth and --n-eval")
    frames = []
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        total = sum(c.round0_steps + c.rounds * c.steps for c in configs)
        bar = tqdm(total=total, desc=f"toy-reflow {configs[0].data}", unit="step", leave=False, file=sys.stderr)
    try:
        for cfg in configs:
            if bar is not None:
                bar.set_postfix_str(cfg.method)
            frames.append(run_reflow(cfg, progress_bar=bar).frame)
    finally:
        if bar is not None:
            bar.close()
    frame = pd.concat(frames, ignore_index=True)
    csv_text = frame.to_csv(index=False, lineterminator="\n")
    if args.format == "csv":
        text = csv_text
    elif args.format == "json":
        text = strict_json({"configs": [dataclasses.asdict(c) for c in configs],
                            "rows": _records(frame)}, default=float) + "\n"
    else:
        text = table_text(frame)
    if args.out:
        config = {k: v for k, v in vars(args).items() if k not in ("command", "out", "handler")}
        config["methods"] = [c.method for c in configs]
        config["resolved"] = [dataclasses.asdict(c) for c in configs]
        write_output(args.out, csv_text, run_manifest("toy-reflow", config, seed=args.seed))
    sys.stdout.write(text)
    return 0
