"""``collapse-theory figures`` and ``collapse-theory reproduce``: the gallery and the main job.

``figures`` regenerates the figures (PNG + PDF), their tidy data and ``MANIFEST.csv``
(:func:`collapse_theory.gallery.build_figures`); ``reproduce`` runs the checks, the figures and writes
``report.md`` and a self-contained ``report.html`` (:func:`collapse_theory.report.reproduce`). ``figures --list``
shows each figure's parameters (one dataclass per figure, :mod:`collapse_theory.gallery`) and ``--set name=value``
changes them; a bad or out-of-range value is one line naming it (exit 2). Output folders are checked before any work; a tier
selection with no checks is an error (exit 2), never a pass.
"""

from __future__ import annotations

from .arguments import check_output_dir, check_threads, pin_torch_threads


def register(subparsers) -> None:
    """Add ``figures`` and ``reproduce``."""
    figures = subparsers.add_parser("figures", help="regenerate the figures (PNG + PDF) and figures/MANIFEST.csv")
    figures.add_argument("--only", action="append", default=None, metavar="ID", help="only this figure (repeatable)")
    figures.add_argument("--out", default="figures", metavar="DIR", help="output folder")
    figures.add_argument("--quick", action="store_true",
                         help="use each figure's quick variant (smaller toy run; image figures from the committed "
                              "smoke-run data, no training)")
    figures.add_argument("--list", action="store_true",
                         help="list each figure's parameters with their defaults (draws nothing)")
    figures.add_argument("--set", action="append", default=None, metavar="NAME=VALUE[,VALUE]",
                         help="set a parameter of the figures chosen with --only (repeatable), e.g. "
                              "--only dae-collapse --set sigma2=0.05,0.3 --set rounds=120")
    figures.add_argument("--no-progress", action="store_true", help="no line per figure on stderr")
    figures.set_defaults(handler=run_figures)

    reproduce = subparsers.add_parser("reproduce", help="the main job: verify, figures and report.md")
    reproduce.add_argument("--out", default="reproduce-output", metavar="DIR",
                           help="folder for report.md, verify.json and figures/")
    reproduce.add_argument("--tier", default="symbolic,numeric,trained",
                           help="tiers to verify (the CPU tiers by default)")
    reproduce.add_argument("--quick", action="store_true",
                           help="symbolic and numeric tiers, quick figure variants (about 1.5 minutes)")
    reproduce.add_argument("--no-progress", action="store_true", help="no progress bar")
    reproduce.add_argument("--threads", type=int, default=1,
                           help="torch threads for the trained and image tiers (as verify --threads)")
    reproduce.set_defaults(handler=run_reproduce)


def run_figures(args) -> int:
    """Regenerate the selected figures (``--only`` repeated names count once) with their parameters (``--set``),
    or list the parameters (``--list``)."""
    from ..gallery import FIGURES, build_figures, parameter_listing, parse_settings

    only = list(dict.fromkeys(args.only)) if args.only else None
    unknown = [i for i in only or [] if i not in FIGURES]
    if unknown:
        raise ValueError(f"only must name figures among {', '.join(FIGURES)}, got {', '.join(unknown)}")
    try:
        params = parse_settings(only, args.set, quick=args.quick)
    except ValueError as exc:  # name the flag: "--set sigma2 must be > 0, got -1.0"
        text = str(exc)
        raise ValueError(f"--set {text.removeprefix('set: ').removeprefix('set ')}") from None
    if args.list:
        print(parameter_listing(only), end="")
        return 0
    check_output_dir(args.out)
    manifest = build_figures(args.out, only, quick=args.quick, params=params if args.set else None,
                             progress=not args.no_progress)
    for row in manifest[manifest["figure_id"].isin(only or list(FIGURES))].itertuples():
        print(f"{row.figure_id:22} {args.out}/{row.png}  {args.out}/{row.pdf}  claims: {row.claims}")
    print(f"manifest: {args.out}/MANIFEST.csv")
    return 0


def run_reproduce(args) -> int:
    """verify + figures + report.md; exit status 0 when every check passed, else 1."""
    from ..report import reproduce
    from .verify import parse_tiers, require_checks

    tiers = ["symbolic", "numeric"] if args.quick else parse_tiers(args.tier)
    threads = check_threads(args.threads)
    check_output_dir(args.out)
    require_checks(tiers)
    pin_torch_threads(tiers, threads)
    report, passed = reproduce(args.out, tiers, progress=not args.no_progress)
    verdict = "all checks passed, all figures drawn" if passed else "SOME CHECKS OR FIGURES FAILED: see the report"
    print(f"report: {report} and {report.with_name('report.html')}  ({verdict})")
    return 0 if passed else 1
