"""The verification report: every claim with its provenance, its status per tier, evidence numbers and figures.

:func:`reproduce` is the main job (CLI: ``collapse-theory reproduce``): it runs the registry's checks,
regenerates the figures and writes ``report.md`` (plus ``verify.json`` and a run manifest) atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from .claims import registry
from .outputs import atomic_write_text, run_manifest, write_with_manifest

STATUS_MARK = {"pass": "pass", "fail": "FAIL", "weak": "WEAK", "error": "ERROR"}


def _evidence_text(evidence: dict, limit: int = 6) -> str:
    parts = []
    for key, value in list(evidence.items())[:limit]:
        parts.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


def render_report(results: list[registry.CheckResult], tiers: list[str], manifest: pd.DataFrame | None,
                  seconds: float) -> str:
    """Markdown: a claims x tiers status table, then per claim its statement, checks with evidence, and figures."""
    claims = registry.claims()
    by_claim: dict[str, list[registry.CheckResult]] = {}
    for r in results:
        by_claim.setdefault(r.claim_id, []).append(r)
    figures_of: dict[str, list[str]] = {}
    if manifest is not None:
        for row in manifest.itertuples():
            for claim_id in str(row.claims).split():
                figures_of.setdefault(claim_id, []).append(str(row.png))
    failed = [r for r in results if not r.ok]
    n_mutants = sum(len(r.mutants_rejected) for r in results)
    n_rejected = sum(sum(r.mutants_rejected.values()) for r in results)
    lines = ["# collapse_theory verification report", "",
             f"{len(results) - len(failed)} of {len(results)} checks passed in tiers {', '.join(tiers)}; "
             f"{n_rejected} of {n_mutants} deliberately wrong formulas rejected; {seconds:.1f} s.", "",
             "Provenance: `paper-claim` (the paper's abstract says so), `toolkit-theorem` (stated and proved here), "
             "`observation` (measured here).", "",
             "| claim | provenance | " + " | ".join(tiers) + " | figures |",
             "|---|---|" + "---|" * len(tiers) + "---|"]
    for claim in claims:
        cells = []
        for tier in tiers:
            mine = [r for r in by_claim.get(claim.id, []) if r.tier == tier]
            if mine:
                worst = "pass" if all(r.ok for r in mine) else next(r.status for r in mine if not r.ok)
                cells.append(f"{STATUS_MARK[worst]} ({len(mine)})")
            else:
                cells.append("n/a" if tier in claim.no_check else "-")
        figs = ", ".join(figures_of.get(claim.id, [])) or "-"
        lines.append(f"| {claim.id} | {claim.provenance} | " + " | ".join(cells) + f" | {figs} |")
    lines.append("")
    for claim in claims:
        lines += [f"## {claim.id} — {claim.title}", "", f"`{claim.provenance}`"
                  + (f", formalises {', '.join(claim.formalises)}" if claim.formalises else ""), "",
                  claim.statement, ""]
        for r in by_claim.get(claim.id, []):
            lines.append(f"- **{r.tier} / {r.name}**: {STATUS_MARK[r.status]} in {r.seconds:.2f} s; "
                         f"{_evidence_text(r.evidence)}; mutants rejected {sum(r.mutants_rejected.values())}"
                         f"/{len(r.mutants_rejected)}")
        for tier in tiers:
            if tier in claim.no_check and not any(r.tier == tier for r in by_claim.get(claim.id, [])):
                lines.append(f"- **{tier}**: not applicable here — {claim.no_check[tier]}")
        for png in figures_of.get(claim.id, []):
            lines.append(f"\n![{png}](figures/{png})")
        lines.append("")
    return "\n".join(lines)


def reproduce(out_dir: str | Path = ".", tiers: list[str] | None = None, progress: bool = True,
              figures: bool = True, claim_ids: list[str] | None = None,
              quick: bool | None = None) -> tuple[Path, bool]:
    """Run the checks of ``tiers`` (default symbolic + numeric), regenerate the figures into ``out_dir/figures``
    and write ``out_dir/report.md`` and ``out_dir/verify.json`` (each with a manifest). Returns (report, passed).

    ``quick``: figures with a quick variant (the trained 2-D toy Reflow vs RA run) use it; None (default) means
    quick exactly when ``tiers`` leave out the trained tier (``reproduce --quick`` runs symbolic + numeric). The
    image Reflow vs RA figures read the committed ``figures/data/image-reflow-*`` files in quick mode and run (or
    resume, seconds) the smoke-scale image runs in ``runs/image-smoke/`` otherwise (about 3-4 min the first time)."""
    out = Path(out_dir)
    tiers = tiers or ["symbolic", "numeric"]
    quick = "trained" not in tiers if quick is None else bool(quick)
    start = time.perf_counter()
    results = registry.run_checks(tiers, claim_ids, progress=progress)
    manifest = None
    if figures:
        from .gallery import build_figures

        manifest = build_figures(out / "figures", quick=quick)
    seconds = time.perf_counter() - start
    passed = all(r.ok for r in results)
    config = {"tiers": tiers, "figures": figures, "claims": claim_ids, "quick": quick}
    write_with_manifest(out / "verify.json", json.dumps({"tiers": tiers, "passed": passed,
                                                         "results": [r.as_dict() for r in results]},
                                                        indent=2, default=float) + "\n",
                        run_manifest("reproduce", config))
    report = atomic_write_text(out / "report.md", render_report(results, tiers, manifest, seconds) + "\n")
    return report, passed
