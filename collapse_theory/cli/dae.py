"""``collapse-theory dae``: the population DAE recursion (eigenvalue form, or full matrix with --second-moment).

Prints a table, a tidy CSV (round, quantity, component, value) or JSON
(:meth:`~collapse_theory.theory.dae.recursion.DAETrajectory.as_dict`); ``--out FILE`` writes atomically with
``FILE.manifest.json``.
"""

from __future__ import annotations

import sys

import numpy as np

from .arguments import (also_named, check_memory, check_output_file, parse_floats, parse_matrix, strict_json,
                        write_output)

BYTES_PER_NUMBER = 250
"""Memory per reported number, generously: the float64 arrays, the Python lists of the JSON form (32 bytes a float),
the tidy rows of the CSV form (a tuple per number) and the text itself."""


def estimated_bytes(dim: int, rounds: int, matrix: bool = False) -> float:
    """Memory a ``dae`` request needs: (rounds + 1)(2d + 5) reported numbers at :data:`BYTES_PER_NUMBER`, plus
    about 20 d x d float64 matrices held at once by the full-matrix form."""
    numbers = (max(rounds, 0) + 1.0) * (2.0 * dim + 5.0)
    return numbers * BYTES_PER_NUMBER + (20.0 * 8 * dim * dim if matrix else 0.0)


def register(subparsers) -> None:
    """Add ``dae``."""
    dae = subparsers.add_parser("dae", help="population DAE recursion (eigenvalue form, or full-matrix with "
                                            "--second-moment)")
    source = dae.add_mutually_exclusive_group()
    also_named(source.add_argument("--spectrum", default="4,2,1,0.5,0.1",
                                   help="eigenvalues of the real second moment S*"), "eigenvalues")
    source.add_argument("--second-moment", default=None, metavar="MATRIX",
                        help="S* as rows 'a,b;c,d' or a .npy/.txt/.csv file (full-matrix recursion)")
    dae.add_argument("--sigma2", type=float, default=0.1, help="DAE noise variance sigma^2 > 0")
    dae.add_argument("--real-fraction", type=float, default=None,
                     help="real fraction alpha in [0, 1] (regimes mix/fresh; default 0.1 there)")
    dae.add_argument("--regime", default="replace", help="replace | mix | accumulate | fresh")
    dae.add_argument("--rule", default="renoise", help="renoise (x' = W(x + sigma eps)) | clean (x' = W x)")
    dae.add_argument("--rounds", type=int, default=50, help="rounds after round 0")
    dae.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    dae.add_argument("--out", default=None, metavar="FILE",
                     help="write the output to FILE (atomically) instead of stdout, with FILE.manifest.json")
    dae.set_defaults(handler=run)


def run(args) -> int:
    """Run the recursion and print or write it."""
    from ..outputs import run_manifest
    from ..theory.dae import recursion
    from ..validation import check_regime

    regime = check_regime(args.regime)
    if args.out is not None:
        check_output_file(args.out)
    alpha = args.real_fraction
    if alpha is None:
        alpha = 0.1 if regime in ("mix", "fresh") else 0.0
    if args.second_moment is not None:
        S = parse_matrix(args.second_moment, "--second-moment")
        check_memory(estimated_bytes(S.shape[-1] if S.ndim else 1, args.rounds, matrix=True),
                     "--rounds and --second-moment")
        traj = recursion.dae_recursion_matrix(S, args.sigma2, alpha, args.rounds, regime, args.rule)
    else:
        spectrum = parse_floats(args.spectrum, "--spectrum")
        check_memory(estimated_bytes(len(spectrum), args.rounds), "--rounds and --spectrum")
        traj = recursion.dae_recursion(np.array(spectrum), args.sigma2, alpha, args.rounds, regime, args.rule)
    _check_finite(traj, "--second-moment" if args.second_moment is not None else "--spectrum")
    if args.format == "json":
        text = strict_json(traj.as_dict()) + "\n"
    elif args.format == "csv":
        text = trajectory_frame(traj).to_csv(index=False, lineterminator="\n")
    else:
        text = trajectory_table(traj, regime, args.sigma2, alpha)
    if args.out:
        config = {k: v for k, v in vars(args).items() if k not in ("command", "out", "handler")}
        write_output(args.out, text, run_manifest("dae", config | {"real_fraction": alpha}))
    else:
        sys.stdout.write(text)
    return 0


def _check_finite(traj, flag: str) -> None:
    """Every reported array finite; NaN/Inf means float64 overflowed (e.g. eigenvalues near 1e308): a ValueError
    naming ``flag`` instead of garbage numbers or invalid JSON."""
    for name in ("eigenvalues", "training_eigenvalues", "op_norm", "composed_op_norm", "total_variance",
                 "effective_rank", "w2_to_real", "fixed_point"):
        value = getattr(traj, name)
        if value is not None and not np.all(np.isfinite(value)):
            raise ValueError(f"{flag} overflows float64 in the recursion (non-finite {name}); use smaller values")


def trajectory_table(traj, regime, sigma2, alpha) -> str:
    """The human-readable table: one line per round (op norm, composed op norm, trace, effective rank, W2,
    the first six eigenvalues)."""
    d = traj.eigenvalues.shape[-1]
    out = []
    out.append(f"regime={regime} rule={traj.rule} sigma2={sigma2:g} real_fraction={alpha:g} d={d}")
    if traj.fixed_point is not None:
        out.append("fixed point lambda_inf: " + ", ".join(f"{v:.6g}" for v in np.ravel(traj.fixed_point)))
    shown = min(d, 6)
    head = f"{'round':>5} {'op_norm':>11} {'composed':>11} {'tr S_k':>11} {'erank':>7} {'W2':>10}  eigenvalues"
    out.append(head)
    for k in range(len(traj.rounds)):
        eig = " ".join(f"{v:.4g}" for v in traj.eigenvalues[k][:shown]) + (" ..." if d > shown else "")
        out.append(f"{int(traj.rounds[k]):5d} {traj.op_norm[k]:11.5g} {traj.composed_op_norm[k]:11.5g} "
                   f"{traj.total_variance[k]:11.5g} {traj.effective_rank[k]:7.3f} {traj.w2_to_real[k]:10.4g}  {eig}")
    return "\n".join(out) + "\n"


def trajectory_frame(traj):
    """Tidy (long) table: one row per round x quantity x component."""
    import pandas as pd

    rows = []
    for k, r in enumerate(traj.rounds):
        for name in ("op_norm", "composed_op_norm", "total_variance", "effective_rank", "w2_to_real"):
            rows.append((int(r), name, 0, float(getattr(traj, name)[k])))
        for i, v in enumerate(np.ravel(traj.eigenvalues[k])):
            rows.append((int(r), "eigenvalue", i + 1, float(v)))
        for i, v in enumerate(np.ravel(traj.training_eigenvalues[k])):
            rows.append((int(r), "training_eigenvalue", i + 1, float(v)))
    return pd.DataFrame(rows, columns=["round", "quantity", "component", "value"])
