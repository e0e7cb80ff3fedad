"""``collapse-theory verify`` and ``collapse-theory claims``: run the registry's checks; list the claims.

``verify`` prints a table (claim, provenance, tier, check, status, seconds, evidence) or JSON and exits with 1 if
any check does not pass. A selection of tiers and claims that holds no check at all is an error (exit 2), never a
pass. ``claims`` prints the claims, as JSON, or the claims document (:func:`collapse_theory.documents.claims_markdown`).
"""

from __future__ import annotations

import json

import numpy as np

from .arguments import check_output_file, check_threads, parse_names, pin_torch_threads, write_output


def register(subparsers) -> None:
    """Add ``verify`` and ``claims``."""
    verify = subparsers.add_parser("verify", help="run the claims registry's checks")
    verify.add_argument("--tier", default="symbolic,numeric",
                        help="comma-separated tiers among symbolic,numeric,trained,image")
    verify.add_argument("--claim", action="append", default=None, metavar="ID",
                        help="only this claim (repeatable; default: all)")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.add_argument("--out", default=None, metavar="FILE",
                        help="also write the JSON report to FILE (atomically) with FILE.manifest.json")
    verify.add_argument("--threads", type=int, default=1,
                        help="torch threads for the trained and image tiers (1: timings that do not depend on "
                             "what else the machine runs; a check that sets its own count keeps it: the image "
                             "tier's run uses $COLLAPSE_THEORY_IMAGE_THREADS, default 2)")
    verify.set_defaults(handler=run_verify)

    claims = subparsers.add_parser("claims", help="list the registered claims")
    form = claims.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON records")
    form.add_argument("--markdown", action="store_true",
                      help="the claims document (docs/claims.md is this output; a test keeps them equal)")
    claims.set_defaults(handler=run_claims)


def parse_tiers(text, flag: str = "--tier") -> list[str]:
    """The comma list of tiers (:func:`~collapse_theory.cli.arguments.parse_names`), each one of the registry's."""
    from ..claims import registry

    tiers = parse_names(text, flag)
    for tier in tiers:
        if tier not in registry.TIERS:
            raise ValueError(f"{flag} must be among {', '.join(registry.TIERS)}, got {tier!r}")
    return tiers


def require_checks(tiers: list[str], claim_ids: list[str] | None = None, flag: str = "--tier") -> int:
    """The number of registered checks in the selection; a ValueError naming ``flag`` when there is none (zero
    checks must never read as a pass)."""
    from ..claims import registry

    count = len(registry.checks(tiers, claim_ids))
    if count == 0:
        which = f" for claim(s) {', '.join(claim_ids)}" if claim_ids else ""
        raise ValueError(f"{flag} {','.join(tiers)} selects no checks{which}: nothing would be verified")
    return count


WIDTH = 100
"""Every line of the verify table fits in this many characters (long evidence wraps, check names are never cut)."""


def _format_value(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _wrapped(label: str, text: str, indent: int, max_lines: int = 2) -> list[str]:
    """``label: text`` wrapped to :data:`WIDTH` under an indent, at most ``max_lines`` lines (then '...')."""
    import textwrap

    lines = textwrap.wrap(f"{label}: {text}", width=WIDTH - indent, break_long_words=True,
                          break_on_hyphens=False) or [f"{label}:"]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: WIDTH - indent - 3] + "..."
    return [" " * indent + line for line in lines]


def decision_text(row: dict) -> str:
    """One line for a pre-registered decision: outcome, effect with its 95 % CI, p (Holm-adjusted), seeds."""
    adjusted = row.get("p_adjusted", row["p_value"])
    text = (f"{row['decision']}  effect {row['effect']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]  "
            f"p {row['p_value']:.3g} (Holm {adjusted:.3g})")
    if row["decision"] == "refuted" and "p_opposite" in row:
        text += (f", opposite direction p {row['p_opposite']:.3g} "
                 f"(Holm {row.get('p_opposite_adjusted', row['p_opposite']):.3g})")
    return text + f"  {row['n_seeds']} seeds"


def run_verify(args) -> int:
    """Run the selected checks; print a table or JSON; exit status 0 (all pass) or 1."""
    from ..claims import registry
    from ..outputs import run_manifest

    tiers = parse_tiers(args.tier)
    threads = check_threads(args.threads)
    if args.out is not None:
        check_output_file(args.out)
    claim_ids = args.claim
    selected = [registry.get_claim(c) for c in claim_ids] if claim_ids else registry.claims()
    require_checks(tiers, [c.id for c in selected] if claim_ids else None)
    pin_torch_threads(tiers, threads)
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
    report = json.dumps(_finite(payload), indent=2, default=float, allow_nan=False)
    if args.out:
        write_output(args.out, report + "\n", run_manifest("verify", {"tiers": tiers, "claims": claim_ids}))
    if args.json:
        print(report)
    else:
        _print_table(selected, by_claim, uncovered, results, failed)
    return 0 if not failed else 1


def _finite(value):
    """A JSON-ready copy with non-finite floats (evidence of a failed check) as their strings 'nan'/'inf'."""
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else str(float(value))
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_table(selected, by_claim, uncovered, results, failed) -> None:
    """claim, tier, status, seconds and the full check name on one line; the decision (for decision checks), the
    evidence (wrapped) and what went wrong below it, indented; then the decisions per claim and tier."""
    header = f"{'claim':24} {'tier':9} {'status':6} {'sec':>7}  check"
    rule = "-" * WIDTH
    print(header)
    print(rule)
    decisions = []
    for claim in selected:
        for r in by_claim.get(claim.id, []):
            print(f"{r.claim_id:24} {r.tier:9} {r.status.upper():6} {r.seconds:7.2f}  {r.name}")
            row = r.as_dict()
            if r.decision is not None:
                decisions.append(row)
                print(*_wrapped("decision", decision_text(row), 4), sep="\n")
            evidence = ", ".join(f"{k}={_format_value(v)}" for k, v in r.evidence.items())
            print(*_wrapped("evidence", evidence, 4), sep="\n")
            if r.status == "weak":
                slipped = [m for m, ok in r.mutants_rejected.items() if not ok]
                print(*_wrapped("mutant(s) not rejected", "; ".join(slipped), 4), sep="\n")
            if r.status == "error":
                print(*_wrapped("error", r.message.splitlines()[0], 4), sep="\n")
        for c, tier, why in uncovered:
            if c.id == claim.id:
                print(f"{claim.id:24} {tier:9} {'n/a':6} {'':7}  -")
                print(*_wrapped("no check", why, 4), sep="\n")
    print(rule)
    if decisions:
        print("Decisions (pre-registered; confirmed / refuted / inconclusive is a result, not a failure):")
        for row in decisions:
            print(f"  {row['claim']:10} {row['tier']:9} {row['check']}")
            print(*_wrapped("decision", decision_text(row), 6), sep="\n")
        print(rule)
    mutants = sum(len(r.mutants_rejected) for r in results)
    rejected = sum(sum(r.mutants_rejected.values()) for r in results)
    print(f"{len(results) - len(failed)} of {len(results)} checks passed; {rejected} of {mutants} "
          f"deliberately wrong formulas rejected; {sum(r.seconds for r in results):.1f} s")


def run_claims(args) -> int:
    """List the claims (text, JSON, or the claims document)."""
    from .. import documents

    if args.markdown:
        print(documents.claims_markdown(), end="")
    elif args.json:
        print(json.dumps(documents.claims_records(), indent=2, allow_nan=False))
    else:
        print(documents.claims_text(), end="")
    return 0
