"""``collapse-theory train-dae``: DAEs trained recursively on their own outputs (torch), beside the closed form.

    collapse-theory train-dae --model linear --data digits --dim 4 --regime mix --real-fraction 0.05,0.5 \\
        --sigma2 0.02 --rounds 20 --replicates 8 --seed 0 --out runs/digits.csv

One :class:`~collapse_theory.train.dae.recursion.RecursionConfig` built from the flags drives both the trained run
(:func:`~collapse_theory.train.dae.recursion.run_trained_recursion`) and the closed-form recursion; ``--sigma2`` and
``--real-fraction`` take comma-separated grids, trained together as one batch. The output is a tidy CSV (columns
sigma2, real_fraction, replicate, round, quantity, component, trained, closed_form; one row per grid point x
replicate x round x quantity [x component]), written atomically with ``FILE.manifest.json`` (config, seed,
package versions, git revision). The closed form is NaN for the MLP (no closed form) and for the training loss.
The same seed gives the same CSV on the same machine. Bad input prints one line and exits with status 2 (the
library's ValueError names the argument; the shell maps it to the flag).
"""

from __future__ import annotations

import sys

from .arguments import also_named, check_memory, check_output_file, parse_floats, write_output


def register(subparsers) -> None:
    """Add the ``train-dae`` sub-command."""
    p = subparsers.add_parser("train-dae", help="train DAEs recursively on their own outputs (torch) beside the "
                                                "closed form; tidy CSV + manifest",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="linear", help="linear (W x) | bottleneck (D E x, rank --rank) | mlp")
    p.add_argument("--data", default="gaussian",
                   help="gaussian | mixture | student-t (S* = rotated --spectrum) | digits | fashion-mnist | mnist "
                        "(PCA scores in --dim dimensions)")
    p.add_argument("--dim", type=int, default=4, help="dimension d")
    also_named(p.add_argument("--spectrum", default=None,
                              help="eigenvalues of S* for synthetic data, comma-separated (default: evenly 1 .. 0.25)"),
               "eigenvalues")
    p.add_argument("--regime", default="replace", help="replace | mix | accumulate | fresh")
    p.add_argument("--rule", default="renoise", help="renoise (x' = f(x + sigma eps)) | clean (x' = f(x))")
    p.add_argument("--real-fraction", default=None,
                   help="alpha in [0, 1], or a comma-separated grid (regimes mix/fresh; default 0.1 there)")
    p.add_argument("--sigma2", default="0.05", help="noise variance sigma^2 > 0, or a comma-separated grid")
    p.add_argument("--rounds", type=int, default=20, help="rounds after round 0")
    p.add_argument("--replicates", type=int, default=8, help="independent replicates per grid point")
    p.add_argument("--n-samples", type=int, default=1024, help="points per round")
    p.add_argument("--optimizer", default="auto",
                   help="auto (cg for linear, lbfgs for bottleneck, adam for mlp) | adam | sgd | gd | lbfgs | cg "
                        "| lstsq")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per round (default depends on it)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default depends on the optimiser)")
    p.add_argument("--batch-size", type=int, default=256, help="minibatch size of adam/sgd")
    p.add_argument("--rank", type=int, default=2, help="bottleneck rank r")
    p.add_argument("--tied", action="store_true", help="bottleneck with tied weights D = E^T")
    p.add_argument("--width", type=int, default=64, help="MLP hidden width")
    p.add_argument("--depth", type=int, default=2, help="MLP hidden layers")
    p.add_argument("--activation", default="silu", help="MLP activation: silu | relu")
    p.add_argument("--no-skip", action="store_true", help="MLP without the skip connection x + g(x)")
    p.add_argument("--reinit", action="store_true",
                   help="re-initialise the models every round (default: warm start from the previous round)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--data-path", default=None,
                   help="the .npz file (or its folder) for fashion-mnist/mnist (default: $COLLAPSE_THEORY_DATA, "
                        "else ../shared/data)")
    p.add_argument("--max-images", type=int, default=10000,
                   help="images of the fashion-mnist/mnist archive used (after the seeded shuffle)")
    p.add_argument("--out", required=True, metavar="FILE", help="the tidy CSV (written atomically, with "
                                                               "FILE.manifest.json)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _numbers(text, flag: str) -> tuple[float, ...]:
    """A comma-separated list of numbers (one-line error naming ``flag`` otherwise)."""
    return tuple(parse_floats(text, flag))


def _grid(text, flag: str) -> tuple[float, ...] | float:
    values = _numbers(text, flag)
    return values[0] if len(values) == 1 else values


def config_from_args(args):
    """The :class:`RecursionConfig` of the parsed flags (validated: ValueError naming the argument)."""
    from ..validation import check_regime
    from ..train.dae.recursion import RecursionConfig

    regime = check_regime(args.regime)
    alpha = args.real_fraction
    if alpha is None:
        alpha = 0.1 if regime in ("mix", "fresh") else 0.0
    else:
        alpha = _grid(alpha, "--real-fraction")
    spectrum = None if args.spectrum is None else _numbers(args.spectrum, "--spectrum")
    config = RecursionConfig(
        model=args.model, regime=regime, rule=args.rule, sigma2=_grid(args.sigma2, "--sigma2"), real_fraction=alpha,
        rounds=args.rounds, replicates=args.replicates, n_samples=args.n_samples, data=args.data, dim=args.dim,
        spectrum=spectrum, rank=args.rank, tied=args.tied, width=args.width, depth=args.depth,
        activation=args.activation, skip=not args.no_skip, optimizer=args.optimizer, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, warm_start=not args.reinit, seed=args.seed, data_path=args.data_path,
        max_images=args.max_images)
    return config.validated()


def estimated_bytes(config) -> float:
    """Memory a validated :class:`RecursionConfig` needs, generously: B = |sigma2| x |alpha| x replicates models;
    ~8 float64 arrays of B x n x d (real, generated and training data, their torch copies; accumulate keeps all
    rounds: B x (K + 1) x n x d more), the records B x (K + 1) x (2 d^2 + d) float64, the parameters x 4 (weights,
    gradients, two Adam moments) and the MLP's activations B x batch x width x depth x 4, and the tidy CSV:
    B x (K + 1) x (3 d + 6) rows at 300 bytes each (frame columns and text)."""
    B = float(len(config.sigma2) * len(config.real_fraction) * config.replicates)
    n, d, K1 = float(config.n_samples), float(config.dim), float(config.rounds) + 1.0
    data = 8 * n * d * (8.0 + (K1 if config.regime == "accumulate" else 0.0))
    params = {"linear": d * d, "bottleneck": 2.0 * d * config.rank}.get(
        config.model, 2.0 * d * config.width + (config.depth - 1.0) * config.width ** 2)
    activations = (float(config.batch_size) * config.width * config.depth * 4 if config.model == "mlp" else 0.0)
    per_model = data + 8 * K1 * (2 * d * d + d) + 8 * 4 * params + 8 * activations + K1 * (3 * d + 6) * 300
    return B * per_model


def run(args) -> int:
    """Run the experiment and write the CSV + manifest; prints one summary line on stdout."""
    from ..outputs import run_manifest
    from ..train.dae.recursion import run_trained_recursion

    config = config_from_args(args)
    check_output_file(args.out)
    check_memory(estimated_bytes(config), "--replicates, --sigma2, --real-fraction, --n-samples, --dim, --rounds "
                                          "and the model's size")
    for asked in (config.real_fraction if config.regime in ("mix", "fresh") else ()):  # round(alpha n) real points
        used = round(asked * config.n_samples) / config.n_samples
        if used != asked:
            print(f"train-dae: note: --real-fraction {asked:g} uses round(alpha n)/n = {used:.10g} "
                  f"(n = {config.n_samples} points per round; the CSV's real_fraction column is this value)",
                  file=sys.stderr)
    trajectory = run_trained_recursion(config, progress=not args.no_progress)
    frame = trajectory.frame()
    text = frame.to_csv(index=False, lineterminator="\n")
    csv_path, manifest_path = write_output(args.out, text, run_manifest("train-dae", config.as_dict(),
                                                                         seed=config.seed))
    print(f"train-dae: {len(frame)} rows -> {csv_path} (manifest {manifest_path.name}); "
          f"{trajectory.seconds:.1f} s", file=sys.stdout)
    return 0
