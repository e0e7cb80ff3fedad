"""``collapse-theory``: a thin command-line shell over the library.

Sub-commands:
  verify   run the claims registry's checks and print a table (exit 1 if any check does not pass)
  claims   list the registered claims with provenance and statements
  dae      run a population DAE recursion and print it as a table, CSV or JSON
  train-dae  train DAEs recursively on their own outputs (torch) beside the closed form; tidy CSV + manifest
  figures  regenerate the figures and figures/MANIFEST.csv
  reproduce  the main job: verify, figures and a report (report.md)

Bad input prints one line on stderr (``collapse-theory: error: ...``) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

import numpy as np

from ..outputs import run_manifest, write_with_manifest

EXIT_BAD_INPUT = 2
_FLAG_OF_ARGUMENT = {"eigenvalues": "--spectrum", "second_moment": "--second-moment", "sigma2": "--sigma2",
                     "real_fraction": "--real-fraction", "regime": "--regime", "rule": "--rule", "rounds": "--rounds",
                     "only": "--only"}
_FLAG_OF_ARGUMENT.update({  # train-dae (collapse_theory/cli_train.py)
    "model": "--model", "data": "--data", "dim": "--dim", "spectrum": "--spectrum", "replicates": "--replicates",
    "n_samples": "--n-samples", "optimizer": "--optimizer", "steps": "--steps", "lr": "--lr",
    "batch_size": "--batch-size", "rank": "--rank", "width": "--width", "depth": "--depth",
    "activation": "--activation", "seed": "--seed", "data_path": "--data-path", "out": "--out",
    "max_images": "--max-images"})


class _BadInput(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise _BadInput(message)


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise _BadInput(f"{flag} must be a comma-separated list of numbers, got {text!r}") from None


def _matrix(text: str, flag: str) -> np.ndarray:
    """Rows separated by ';', entries by ','; or a path to a .npy / whitespace- or comma-separated text file."""
    from pathlib import Path

    path = Path(text)
    if path.suffix in (".npy", ".txt", ".csv") or path.exists():
        if not path.exists():
            raise _BadInput(f"{flag}: file {text!r} does not exist")
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
            return np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=2)
        except (OSError, ValueError) as exc:
            raise _BadInput(f"{flag}: cannot read {text!r}: {exc}") from None
    rows = [_floats(row, flag) for row in text.split(";") if row.strip()]
    if not rows or len({len(r) for r in rows}) != 1:
        raise _BadInput(f"{flag} must be rows of equal length separated by ';', got {text!r}")
    return np.array(rows)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="collapse-theory", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    verify = sub.add_parser("verify", help="run the claims registry's checks")
    verify.add_argument("--tier", default="symbolic,numeric",
                        help="comma-separated tiers among symbolic,numeric,trained,image (default: symbolic,numeric)")
    verify.add_argument("--claim", action="append", default=None, metavar="ID",
                        help="only this claim (repeatable; default: all)")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.add_argument("--out", default=None, metavar="FILE",
                        help="also write the JSON report to FILE (atomically) with FILE.manifest.json")

    claims = sub.add_parser("claims", help="list the registered claims")
    form = claims.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--markdown", action="store_true",
                      help="the claims document (docs/claims.md is this output; a test keeps them equal)")

    figures = sub.add_parser("figures", help="regenerate the figures (PNG + PDF) and figures/MANIFEST.csv")
    figures.add_argument("--only", action="append", default=None, metavar="ID", help="only this figure (repeatable)")
    figures.add_argument("--out", default="figures", metavar="DIR", help="output folder (default: figures)")
    figures.add_argument("--quick", action="store_true",
                         help="use each figure's quick variant (smaller toy run; image figures from the committed "
                              "smoke-run data, no training)")

    reproduce = sub.add_parser("reproduce", help="the main job: verify, figures and report.md")
    reproduce.add_argument("--out", default="reproduce-output", metavar="DIR",
                           help="folder for report.md, verify.json and figures/ (default: reproduce-output)")
    reproduce.add_argument("--tier", default="symbolic,numeric,trained",
                           help="tiers to verify (default: the CPU tiers symbolic,numeric,trained)")
    reproduce.add_argument("--quick", action="store_true", help="symbolic and numeric tiers, quick figure variants (about 1.5 minutes)")
    reproduce.add_argument("--no-progress", action="store_true", help="no progress bar")

    from . import gaussian as cli_gaussian, reflow as cli_reflow, toy as cli_toy

    cli_gaussian.add_parser(sub)
    cli_toy.add_parser(sub)
    cli_reflow.add_parser(sub)

    from . import train_dae as cli_train

    cli_train.add_parser(sub)

    dae = sub.add_parser("dae", help="population DAE recursion (eigenvalue form, or full-matrix with --second-moment)")
    source = dae.add_mutually_exclusive_group()
    source.add_argument("--spectrum", default="4,2,1,0.5,0.1", help="eigenvalues of the real second moment S*")
    source.add_argument("--second-moment", default=None, metavar="MATRIX",
                        help="S* as rows 'a,b;c,d' or a .npy/.txt/.csv file (full-matrix recursion)")
    dae.add_argument("--sigma2", type=float, default=0.1, help="DAE noise variance sigma^2 > 0")
    dae.add_argument("--real-fraction", type=float, default=None,
                     help="real fraction alpha in [0, 1] (regimes mix/fresh; default 0.1 there)")
    dae.add_argument("--regime", default="replace", help="replace | mix | accumulate | fresh")
    dae.add_argument("--rule", default="renoise", help="renoise (x' = W(x + sigma eps)) | clean (x' = W x)")
    dae.add_argument("--rounds", type=int, default=50, help="rounds after round 0")
    dae.add_argument("--format", choices=("table", "csv", "json"), default="table")
    dae.add_argument("--out", default=None, metavar="FILE",
                     help="write the output to FILE (atomically) instead of stdout, with FILE.manifest.json")
    return parser


# ----------------------------------------------------------------------------------------------- verify

def _format_evidence(evidence: dict, limit: int = 110) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        else:
            parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _run_verify(args) -> int:
    from ..claims import registry

    tiers = [t.strip() for t in args.tier.split(",") if t.strip()]
    for tier in tiers:
        if tier not in registry.TIERS:
            raise ValueError(f"--tier must be among {', '.join(registry.TIERS)}, got {tier!r}")
    claim_ids = args.claim
    selected = [registry.get_claim(c) for c in claim_ids] if claim_ids else registry.claims()
    results = registry.run_checks(tiers, [c.id for c in selected], progress=not (args.no_progress or args.json))
    by_claim: dict[str, list] = {}
    for r in results:
        by_claim.setdefault(r.claim_id, []).append(r)
    uncovered = []
    for claim in selected:
        for tier in tiers:
            if not any(r.tier == tier for r in by_claim.get(claim.id, [])):
                uncovered.append((claim, tier, claim.no_check.get(tier, "no check registered")))
    failed = [r for r in results if not r.ok]
    payload = {
        "tiers": tiers,
        "passed": not failed,
        "claims": [{"id": c.id, "title": c.title, "provenance": c.provenance, "statement": c.statement,
                    "formalises": list(c.formalises)} for c in selected],
        "results": [r.as_dict() for r in results],
        "not_covered": [{"claim": c.id, "tier": t, "reason": why} for c, t, why in uncovered],
    }
    report = json.dumps(payload, indent=2, default=float)
    if args.out:
        write_with_manifest(args.out, report + "\n", run_manifest("verify", {"tiers": tiers, "claims": claim_ids}))
    if args.json:
        print(report)
    else:
        provenance = {c.id: c.provenance for c in selected}
        header = f"{'claim':22} {'provenance':16} {'tier':9} {'check':38} {'status':6} {'sec':>6}  evidence"
        print(header)
        print("-" * len(header))
        for claim in selected:
            for r in by_claim.get(claim.id, []):
                print(f"{r.claim_id:22} {provenance[r.claim_id]:16} {r.tier:9} {r.name[:38]:38} "
                      f"{r.status.upper():6} {r.seconds:6.2f}  {_format_evidence(r.evidence)}")
                if r.status == "weak":
                    slipped = [m for m, ok in r.mutants_rejected.items() if not ok]
                    print(f"{'':22} mutant(s) not rejected: {'; '.join(slipped)}")
                if r.status == "error":
                    print(f"{'':22} {r.message.splitlines()[0]}")
            for c, tier, why in uncovered:
                if c.id == claim.id:
                    print(f"{claim.id:22} {claim.provenance:16} {tier:9} {'-':38} {'n/a':6} {'':6}  {why}")
        mutants = sum(len(r.mutants_rejected) for r in results)
        rejected = sum(sum(r.mutants_rejected.values()) for r in results)
        print("-" * len(header))
        print(f"{len(results) - len(failed)} of {len(results)} checks passed; {rejected} of {mutants} "
              f"deliberately wrong formulas rejected; {sum(r.seconds for r in results):.1f} s")
    return 0 if not failed else 1


def _run_claims(args) -> int:
    from ..claims import registry

    items = registry.claims()
    if args.markdown:
        print(claims_markdown(), end="")
        return 0
    if args.json:
        print(json.dumps([{"id": c.id, "title": c.title, "provenance": c.provenance, "statement": c.statement,
                           "assumptions": list(c.assumptions), "formalises": list(c.formalises),
                           "figure": c.figure} for c in items], indent=2))
        return 0
    for c in items:
        extra = f" (formalises {', '.join(c.formalises)})" if c.formalises else ""
        print(f"{c.id} [{c.provenance}]{extra}: {c.title}\n    {c.statement}\n")
    return 0


def _run_figures(args) -> int:
    from ..gallery import build_figures

    manifest = build_figures(args.out, args.only, quick=args.quick)
    for row in manifest.itertuples():
        print(f"{row.figure_id:22} {args.out}/{row.png}  {args.out}/{row.pdf}  claims: {row.claims}")
    print(f"manifest: {args.out}/MANIFEST.csv")
    return 0


def _run_reproduce(args) -> int:
    from ..claims import registry
    from ..report import reproduce

    tiers = ["symbolic", "numeric"] if args.quick else [t.strip() for t in args.tier.split(",") if t.strip()]
    for tier in tiers:
        if tier not in registry.TIERS:
            raise ValueError(f"--tier must be among {', '.join(registry.TIERS)}, got {tier!r}")
    report, passed = reproduce(args.out, tiers, progress=not args.no_progress)
    print(f"report: {report}  ({'all checks passed' if passed else 'SOME CHECKS FAILED'})")
    return 0 if passed else 1


def claims_tier_table(note: str = "see below") -> list[str]:
    """Markdown rows of the claims x tiers table: the number of checks per tier, or ``note`` where the claim
    records why no check of that tier applies (yet), or "-"."""
    from ..claims import registry

    all_checks = registry.checks(["symbolic", "numeric", "trained"])
    lines = ["| claim | provenance | " + " | ".join(registry.TIERS) + " |",
             "|---|---|" + "---|" * len(registry.TIERS)]
    for claim in registry.claims():
        cells = []
        for tier in registry.TIERS:
            n = sum(1 for c in all_checks if c.claim_id == claim.id and c.tier == tier)
            cells.append(f"{n} check{'s' if n != 1 else ''}" if n else (note if tier in claim.no_check else "-"))
        lines.append(f"| {claim.id} | {claim.provenance} | " + " | ".join(cells) + " |")
    return lines


def claims_markdown() -> str:
    """The claims document: a claims x tiers table, then each claim's statement, assumptions and checks."""
    from ..claims import registry

    items = registry.claims()
    all_checks = registry.checks(["symbolic", "numeric", "trained"])  # trained checks import torch only when run
    lines = ["# Claims registry", "",
             "Generated by `collapse-theory claims --markdown` from the catalog modules in `collapse_theory/claims/` "
             "(`catalog.py`, `catalog_flow.py`, `catalog_flow_trained.py`); "
             "a test keeps this file equal to that output. Provenance: `paper-claim` (the paper's abstract says so), "
             "`toolkit-theorem` (stated and proved here), `observation` (measured here). "
             "`collapse-theory verify` runs every check below.", "",
             *claims_tier_table(), ""]
    for claim in items:
        lines += [f"## {claim.id}: {claim.title}", "", f"*Provenance:* `{claim.provenance}`"
                  + (f"; formalises {', '.join(claim.formalises)}" if claim.formalises else ""), "",
                  claim.statement, ""]
        if claim.assumptions:
            lines += ["*Assumptions:* " + "; ".join(claim.assumptions) + ".", ""]
        own = [c for c in all_checks if c.claim_id == claim.id]
        for c in own:
            first = c.description.split("\n\n")[0].replace("\n", " ")
            first = " ".join(first.split())
            lines.append(f"- `{c.tier}` **{c.name}**: {first} Rejects: {'; '.join(c.mutants)}.")
        for tier, why in claim.no_check.items():
            lines.append(f"- `{tier}`: {why}")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- dae

def _run_dae(args) -> int:
    from ..theory.dae import recursion
    from ..validation import check_regime

    regime = check_regime(args.regime)
    alpha = args.real_fraction
    if alpha is None:
        alpha = 0.1 if regime in ("mix", "fresh") else 0.0
    if args.second_moment is not None:
        S = _matrix(args.second_moment, "--second-moment")
        traj = recursion.dae_recursion_matrix(S, args.sigma2, alpha, args.rounds, regime, args.rule)
    else:
        spectrum = _floats(args.spectrum, "--spectrum")
        if not spectrum:
            raise _BadInput("--spectrum must hold at least one eigenvalue")
        traj = recursion.dae_recursion(np.array(spectrum), args.sigma2, alpha, args.rounds, regime, args.rule)
    if args.format == "json":
        text = json.dumps(traj.as_dict()) + "\n"
    elif args.format == "csv":
        text = _trajectory_frame(traj).to_csv(index=False, lineterminator="\n")
    else:
        text = _trajectory_table(traj, regime, args.sigma2, alpha)
    if args.out:
        config = {k: v for k, v in vars(args).items() if k not in ("command", "out")} | {"real_fraction": alpha}
        write_with_manifest(args.out, text, run_manifest("dae", config))
    else:
        sys.stdout.write(text)
    return 0


def _trajectory_table(traj, regime, sigma2, alpha) -> str:
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


def _trajectory_frame(traj):
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


def _flag_map(command: str | None) -> dict[str, str]:
    """Argument names used in the library's ValueError messages -> this command's flags."""
    from . import gaussian as cli_gaussian, toy as cli_toy

    if command == "gaussian-reflow":
        return cli_gaussian.FLAG_OF_ARGUMENT
    if command == "toy-reflow":
        return cli_toy._FLAG_OF_ARGUMENT
    if command == "reflow":
        from . import reflow as cli_reflow

        return cli_reflow.FLAG_OF_ARGUMENT
    return _FLAG_OF_ARGUMENT


def _run_train_dae(args) -> int:
    from . import train_dae as cli_train

    return cli_train.run(args)


def _run_reflow(args) -> int:
    from . import reflow as cli_reflow

    return cli_reflow.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        from . import gaussian as cli_gaussian, toy as cli_toy

        handler = {"verify": _run_verify, "claims": _run_claims, "dae": _run_dae, "figures": _run_figures,
                   "reproduce": _run_reproduce, "gaussian-reflow": cli_gaussian.run,
                   "toy-reflow": cli_toy.run, "train-dae": _run_train_dae, "reflow": _run_reflow}[args.command]
        return handler(args)
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    except (_BadInput, ValueError) as exc:
        message = " ".join(str(exc).split())
        first = message.split(" ", 1)[0]
        flags = _flag_map(getattr(args, "command", None))
        if first in flags:  # name the flag too: "--spectrum: eigenvalues must be >= 0, ..."
            message = f"{flags[first]}: {message}"
        print(f"collapse-theory: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
