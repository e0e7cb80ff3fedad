"""``collapse-theory laws`` and ``collapse-theory law NAME``: the exactly solvable collapse laws.

    collapse-theory laws [--json]
    collapse-theory law gaussian-refit --samples 20 --sigma2 1 --estimator mle --rounds 10 --replicates 4000 \\
        --seed 0 --format json

``laws`` lists every law (``--json``: a list of objects with ``name``, ``claim``, ``params`` (the defaults),
``quantities``). ``law NAME`` prints the closed-form expectation of each quantity for rounds 0..N and, with
``--replicates R``, the Monte-Carlo mean and standard error of the literal procedure (``--seed``). JSON keys:
``law``, ``claim``, ``params``, ``rounds``, ``closed_form`` (quantity -> list), and with ``--replicates``
``replicates``, ``seed``, ``monte_carlo`` (quantity -> {"mean": [...], "se": [...]}); strict JSON. CSV: tidy rows
(round, quantity, source, value, se). Each law takes only its own ``--<param>`` flags (list-valued ones as comma
lists, e.g. ``--p0 0.5,0.3,0.2``); a bad value raises ValueError naming the parameter before any compute (the shell
prints one line, exit status 2).
"""

from __future__ import annotations

import sys

from .arguments import check_memory, check_output_file, parse_floats, strict_json, write_output


def _param_flags() -> dict[str, object]:
    """Every law parameter name -> its default in the first law that has it (the flags are shared)."""
    from ..theory.laws import LAWS

    names: dict[str, object] = {}
    for law in LAWS.values():
        for name, default in law.params.items():
            names.setdefault(name, default)
    return names


def register(subparsers) -> None:
    """Add ``laws`` and ``law``."""
    from ..theory.laws import LAWS

    listing = subparsers.add_parser("laws", help="list the exactly solvable collapse laws")
    listing.add_argument("--json", action="store_true", help="JSON list of {name, claim, params, quantities}")
    listing.set_defaults(handler=run_list)

    law = subparsers.add_parser("law", help="closed form (and Monte-Carlo) of one collapse law per round")
    law.add_argument("name", help="one of " + ", ".join(LAWS))
    law.add_argument("--rounds", type=int, default=10, help="rounds N: report rounds 0..N")
    law.add_argument("--replicates", type=int, default=None, help="Monte-Carlo replicates R >= 2 (default: none)")
    law.add_argument("--seed", type=int, default=0, help="Monte-Carlo seed")
    law.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    law.add_argument("--out", default=None, metavar="FILE",
                     help="write the output to FILE (atomically) instead of stdout, with FILE.manifest.json")
    group = law.add_argument_group("law parameters (each law takes its own; see `collapse-theory laws`)")
    for name in _param_flags():
        group.add_argument("--" + name.replace("_", "-"), dest=name, default=None, metavar="VALUE",
                           help="default: the law's own (see `collapse-theory laws`)")
    law.set_defaults(handler=run_law)


def run_list(args) -> int:
    from ..theory.laws import LAWS

    items = [law.describe() for law in LAWS.values()]
    if args.json:
        print(strict_json(items, indent=2))
        return 0
    for item in items:
        params = ", ".join(f"{k}={v}" for k, v in item["params"].items())
        print(f"{item['name']:22} {item['claim']:26} {params}\n{'':22} quantities: {', '.join(item['quantities'])}")
    return 0


def given_params(args) -> dict:
    """The law parameters given on the command line (list-valued ones parsed as comma lists)."""
    from ..theory.laws import get_law

    law = get_law(args.name)
    given = {}
    for name in _param_flags():
        value = getattr(args, name, None)
        if value is None:
            continue
        if name not in law.params:
            raise ValueError(f"--{name.replace('_', '-')} is not a parameter of law {law.name} "
                             f"(its parameters: {', '.join(law.params)})")
        if isinstance(law.params[name], (list, tuple)):
            value = parse_floats(value, "--" + name.replace("_", "-"))
        given[name] = value
    return given


def run_law(args) -> int:
    from ..outputs import run_manifest
    from ..theory.laws import get_law, merge_params, run_law as compute

    law = get_law(args.name)
    params = given_params(args)
    if args.out is not None:
        check_output_file(args.out)
    if args.rounds >= 0:  # reported numbers: ~250 bytes each across the arrays, JSON lists and text
        check_memory(250.0 * (args.rounds + 1) * len(law.quantities) * (3 if args.replicates else 1), "--rounds")
    if args.replicates is not None and args.rounds >= 0 and args.replicates >= 2:
        validated = law.validate(merge_params(law, params))
        check_memory(law.monte_carlo_bytes(validated, args.rounds, args.replicates),
                     "--replicates, --rounds and the law's sizes")
    result = compute(law.name, args.rounds, args.replicates, args.seed, **params)
    if args.format == "json":
        text = strict_json(result) + "\n"
    elif args.format == "csv":
        text = law_csv(result)
    else:
        text = law_table(result)
    if args.out:
        config = {"law": law.name, "rounds": args.rounds, "replicates": args.replicates, "seed": args.seed,
                  "params": result["params"]}
        write_output(args.out, text, run_manifest("law", config, seed=args.seed))
    else:
        sys.stdout.write(text)
    return 0


def law_csv(result: dict) -> str:
    """Tidy rows: round, quantity, source (closed_form | monte_carlo), value, se (empty for the closed form)."""
    lines = ["round,quantity,source,value,se"]
    for q, values in result["closed_form"].items():
        for r, v in zip(result["rounds"], values):
            lines.append(f"{r},{q},closed_form,{v!r},")
    for q, summary in result.get("monte_carlo", {}).items():
        for r, v, se in zip(result["rounds"], summary["mean"], summary["se"]):
            lines.append(f"{r},{q},monte_carlo,{v!r},{se!r}")
    return "\n".join(lines) + "\n"


def law_table(result: dict) -> str:
    params = " ".join(f"{k}={v}" for k, v in result["params"].items())
    out = [f"law={result['law']} claim={result['claim']} {params}"]
    mc = result.get("monte_carlo")
    if mc:
        out.append(f"monte carlo: {result['replicates']} replicates, seed {result['seed']} (mean +- se)")
    quantities = list(result["closed_form"])
    width = 26 if mc else 14
    out.append(f"{'round':>5} " + " ".join(f"{q[:width]:>{width}}" for q in quantities))
    for i, r in enumerate(result["rounds"]):
        cells = []
        for q in quantities:
            cell = f"{result['closed_form'][q][i]:.6g}"
            if mc:
                cell += f" | {mc[q]['mean'][i]:.4g}+-{mc[q]['se'][i]:.2g}"
            cells.append(f"{cell:>{width}}")
        out.append(f"{r:5d} " + " ".join(cells))
    return "\n".join(out) + "\n"
