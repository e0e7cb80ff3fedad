"""The verification report: every claim with its provenance, its status per tier, evidence numbers and figures.

:func:`reproduce` is the main job (CLI: ``collapse-theory reproduce``): it runs the registry's checks,
regenerates the figures and writes ``report.md`` (plus ``verify.json`` and a run manifest) atomically.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from .claims import registry
from .outputs import atomic_write_text, run_manifest, write_with_manifest

STATUS_MARK = {"pass": "pass", "fail": "FAIL", "weak": "WEAK", "error": "ERROR"}



def tally(results) -> tuple[list, int, int]:
    """(the results that did not pass, the number of mutants run, the number rejected)."""
    failed = [r for r in results if not r.ok]
    return (failed, sum(len(r.mutants_rejected) for r in results),
            sum(sum(r.mutants_rejected.values()) for r in results))

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
    failed, n_mutants, n_rejected = tally(results)
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


def _phase(progress: bool, text: str) -> None:
    if progress:
        print(f"reproduce: {text}", file=sys.stderr, flush=True)


def reproduce(out_dir: str | Path = ".", tiers: list[str] | None = None, progress: bool = True,
              figures: bool = True, claim_ids: list[str] | None = None,
              quick: bool | None = None) -> tuple[Path, bool]:
    """Run the checks of ``tiers`` (default symbolic + numeric), regenerate the figures into ``out_dir/figures``
    and write ``out_dir/report.md``, the self-contained ``out_dir/report.html`` (:func:`render_html`) and
    ``out_dir/verify.json`` (with a manifest). Returns (report.md, passed): passed when every check passed and
    every figure was drawn (a figure that fails is reported in both reports and on stderr; the others are drawn). With ``progress`` every phase prints a
    line on stderr (the checks a progress bar, each figure a line when it starts and when it is drawn).

    ``quick``: figures with a quick variant (the trained 2-D toy Reflow vs RA run) use it; None (default) means
    quick exactly when ``tiers`` leave out the trained tier (``reproduce --quick`` runs symbolic + numeric). The
    image Reflow vs RA figures read the committed ``figures/data/image-reflow-*`` files in quick mode and run (or
    resume, seconds) the smoke-scale image runs in ``out_dir/runs/image-smoke/`` otherwise (about 3-4 min the first
    time; inside the output folder, so a checkout stays clean)."""
    out = Path(out_dir)
    tiers = tiers or ["symbolic", "numeric"]
    quick = "trained" not in tiers if quick is None else bool(quick)
    start = time.perf_counter()
    _phase(progress, f"verifying the {', '.join(tiers)} tiers")
    results = registry.run_checks(tiers, claim_ids, progress=progress)
    _phase(progress, f"{sum(r.ok for r in results)} of {len(results)} checks passed "
                     f"({time.perf_counter() - start:.0f} s)")
    manifest = None
    if figures:
        from . import gallery

        params = {}
        if not quick:
            from .experiments.image_reflow import SmokeFigure

            runs = SmokeFigure(runs_dir=str(out / "runs" / "image-smoke"))
            params = {i: runs for i, spec in gallery.FIGURES.items() if isinstance(spec.params, SmokeFigure)}
        _phase(progress, f"drawing {len(gallery.FIGURES)} figures into {out / 'figures'}"
                         + (" (quick variants)" if quick else ""))
        manifest = gallery.build_figures(out / "figures", quick=quick, params=params, progress=progress,
                                         keep_going=True)
    failed_figures = dict(manifest.attrs.get("failed", {})) if manifest is not None else {}
    seconds = time.perf_counter() - start
    passed = all(r.ok for r in results) and not failed_figures
    config = {"tiers": tiers, "figures": figures, "claims": claim_ids, "quick": quick}
    _phase(progress, "writing verify.json, report.md and report.html")
    write_with_manifest(out / "verify.json", json.dumps({"tiers": tiers, "passed": passed,
                                                         "results": [r.as_dict() for r in results]},
                                                        indent=2, default=float) + "\n",
                        run_manifest("reproduce", config))
    text = render_report(results, tiers, manifest, seconds)
    if failed_figures:
        text += "\n## Figures not drawn\n\n" + "".join(f"- `{k}`: {v}\n" for k, v in failed_figures.items())
    report = atomic_write_text(out / "report.md", text + "\n")
    atomic_write_text(out / "report.html", render_html(results, tiers, manifest, seconds, out / "figures"))
    _phase(progress, f"done in {time.perf_counter() - start:.0f} s: {report} and {out / 'report.html'}")
    return report, passed


# --------------------------------------------------------------------------------------------- report.html
# A self-contained page a class can open: CSS inline, figures as base64 PNG, every formula of the claims'
# statements pre-rendered with matplotlib's mathtext to an inline PNG (no network, no MathJax).

_GREEK = ("alpha", "beta", "gamma", "delta", "Delta", "epsilon", "eps", "lambda", "Lambda", "mu", "nu", "rho",
          "sigma", "Sigma", "tau", "phi", "Phi", "psi", "Psi", "pi", "theta", "kappa", "omega", "Gamma", "xi", "zeta", "eta", "chi")
_MATH_WORDS = {"tr", "det", "log", "ln", "exp", "sqrt", "max", "min", "E", "Var", "Cov", "inf", "sup", "div",
               "diag", "argmin", "int", "sum", "prod", "op", "Mult", "N", "I"} | set(_GREEK)
_OPERATORS = {"=", "+", "-", "<", ">", "<=", ">=", "->", "*", "/", "~", "!=", "x", "|", "||", "#", ">~", "<~"}
_MATH_CHARS = set("=<>^_|+*/")
_TRAIL = ",;:."


def _is_mathy(token: str) -> bool:
    import re

    core = token.strip(_TRAIL)
    if not core or re.fullmatch(r"\(?v\d+:?", core):      # "(v1:" names a version of the paper
        return False
    if core in _OPERATORS:
        return True
    if re.fullmatch(r"[(\[]*[B-Zb-z]'?~?'?[)\]]*", core) or re.match(r"[(\[]*[A-Za-z]{1,4}[(\[]", core):
        return True                                  # a single letter (not "a"), or L(W), tr(WS), N(0, ...
    if any(c in _MATH_CHARS for c in core) or any(c.isdigit() for c in core):
        return not core.replace("-", "").isalpha()
    bare = core.strip("()[]{}")
    root = bare.rstrip("0123456789*'")
    return bare in _MATH_WORDS or root in _GREEK


def _match_paren(text: str, start: int) -> int:
    """Index of the ')' closing the '(' at ``start``, or -1."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def to_mathtext(text: str) -> str:
    """The toolkit's plain-text formula notation (``sigma2``, ``lambda*_max``, ``||W||_op``, ``rho0^(k+1)``,
    ``sqrt(x)``, ``<=``) as a matplotlib mathtext string (``$...$``)."""
    import re

    s = text
    for word, tex in (("\\", r"\backslash "), ("#", r"\#"), ("%", r"\%"), ("&", r"\&"), ("$", r"\$")):
        s = s.replace(word, tex)
    s = s.replace("||", r"\|").replace("...", r"\cdots ")
    s = re.sub(r"(?<![A-Za-z])oo(?![A-Za-z])", r"\\infty ", s)
    s = re.sub(r"(?<![A-Za-z\\])([A-Za-z]+)_hat", r"\\hat{\1}", s)
    s = re.sub(r"([A-Za-z}])\*", r"\1^*", s)
    s = re.sub(r"(?<![A-Za-z\\])sigma2\^", r"(sigma2)^", s)
    for op, tex in (("<=", r"\leq "), (">=", r"\geq "), ("!=", r"\neq "), ("->", r"\to "), (">~", r"\gtrsim "),
                    ("<~", r"\lesssim ")):
        s = s.replace(op, tex)
    s = re.sub(r"(?<![A-Za-z\\])sigma2(?![A-Za-z0-9])", r"\\sigma^2", s)
    s = re.sub(r"(?<![A-Za-z\\])eps(?:ilon)?(?![A-Za-z])", r"\\varepsilon", s)
    s = re.sub(r"(?<![A-Za-z\\])(" + "|".join(g for g in _GREEK if g not in ("eps", "epsilon")) + r")(\d+)?(?![A-Za-z])",
               lambda m: "\\" + m.group(1) + (f"_{{{m.group(2)}}}" if m.group(2) else "") + " ", s)
    s = re.sub(r"(?<![A-Za-z\\])(max|min|inf|op)(?![A-Za-z])",
               lambda m: {"max": r"\max", "min": r"\min", "inf": r"\infty", "op": r"\mathrm{op}"}[m.group(1)], s)
    s = re.sub(r"(?<![A-Za-z\\])(tr|det|log|ln|exp|Var|Cov|diag)(?![A-Za-z])",
               lambda m: {"tr": r"\mathrm{tr}\,", "det": r"\det ", "log": r"\log ", "ln": r"\ln ",
                          "exp": r"\exp ", "Var": r"\mathrm{Var}\,", "Cov": r"\mathrm{Cov}\,",
                          "diag": r"\mathrm{diag}\,"}[m.group(1)], s)
    s = re.sub(r"(?<![A-Za-z\\])int_", r"\\int_", s)
    s = re.sub(r"(?<![A-Za-z\\])sum_", r"\\sum_", s)
    s = re.sub(r"(?<![A-Za-z\\])E(?=[\[(])", r"\\mathbb{E}", s)
    s = re.sub(r"(?<![A-Za-z\\])in(?![A-Za-z])", r"\\in ", s)
    s = re.sub(r"_([A-Za-z]{2,})(?![A-Za-z{])", r"_{\1}", s)
    for key in (r"\sqrt(", "sqrt(", "^("):
        while key in s:
            i = s.index(key)
            j = _match_paren(s, i + len(key) - 1)
            if j < 0:
                break
            head = r"\sqrt{" if "sqrt" in key else "^{"
            s = s[:i] + head + s[i + len(key):j] + "}" + s[j + 1:]
    s = re.sub(r"([A-Za-z])~", r"\\tilde{\1}", s)
    s = s.replace("~", r"\sim ")
    return f"${s.strip()}$"


def _math_image(text: str, cache: dict) -> str:
    """An <img> of ``text`` rendered by mathtext (PNG, base64), or the escaped text in <code> when mathtext cannot
    parse the converted string."""
    import base64
    import html
    import io

    if text in cache:
        return cache[text]
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    dpi = 200
    try:
        depth = mathtext.math_to_image(to_mathtext(text), buffer, prop=FontProperties(size=10.5), dpi=dpi,
                                       format="png")
        from matplotlib.image import imread

        buffer.seek(0)
        height, width = imread(buffer).shape[:2]
        scale = 96 / dpi
        tag = (f'<img class="math" alt="{html.escape(text)}" width="{width * scale:.0f}" '
               f'height="{height * scale:.0f}" style="vertical-align:-{float(depth) * scale:.1f}px" '
               f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}">')
    except Exception:  # noqa: BLE001 - mathtext raises ValueError/ParseException variants: show the text as is
        tag = f"<code>{html.escape(text)}</code>"
    cache[text] = tag
    return tag


def statement_html(statement: str, cache: dict | None = None) -> str:
    """A claim's statement as HTML: runs of formula tokens rendered by mathtext (:func:`to_mathtext`), words as
    text. A single letter or "in" counts as a formula only beside another formula token (so the article "a" and the
    word "in" stay text)."""
    import html

    cache = {} if cache is None else cache
    tokens, depth, current = [], 0, ""
    for ch in statement:                       # split on spaces outside {...}: "R^{d x r}" is one token
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch.isspace() and depth <= 0:
            if current:
                tokens.append(current)
            current, depth = "", 0
        else:
            current += ch
    if current:
        tokens.append(current)
    mathy = [_is_mathy(t) for t in tokens]
    for i, t in enumerate(tokens):
        core = t.strip(_TRAIL + "()")
        if not mathy[i] and ((len(core) == 1 and core.isalpha()) or core == "in"):
            mathy[i] = (i > 0 and mathy[i - 1]) or (i + 1 < len(tokens) and _is_mathy(tokens[i + 1]))
    out, run = [], []

    def flush():
        if run:
            text = " ".join(run)
            trail = text[len(text.rstrip(_TRAIL)):]
            out.append(_math_image(text.rstrip(_TRAIL), cache) + html.escape(trail))
            run.clear()

    for token, is_math in zip(tokens, mathy):
        if is_math:
            run.append(token)
        else:
            flush()
            out.append(html.escape(token))
    flush()
    return " ".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1a1a1a;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f0f0f0}td{white-space:nowrap}td.wrap{white-space:normal}td.pass{background:#e3f4e3}td.FAIL,td.ERROR{background:#f9d6d6}td.WEAK{background:#fbeed0}
td.confirmed{background:#e3f4e3}td.refuted{background:#f9d6d6}td.inconclusive{background:#eee}
.statement{background:#fafafa;border-left:3px solid #0072B2;padding:.5em .8em}
img.figure{max-width:100%;border:1px solid #eee}img.math{display:inline}code{font-size:.9em}
.muted{color:#666;font-size:.9em}
"""


def _decision_dict(result) -> dict | None:
    decision = getattr(result, "decision", None)
    if decision is None:
        return None
    return decision.as_dict() if hasattr(decision, "as_dict") else dict(decision)


def seed_list(seeds) -> str:
    """Seeds compactly: ``0–63`` for a run of consecutive integers, else the list (the first 12, then '…')."""
    seeds = [int(x) for x in seeds]
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(x) for x in seeds[:12]) + (", …" if len(seeds) > 12 else "")


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_html(results: list[registry.CheckResult], tiers: list[str], manifest: pd.DataFrame | None,
                seconds: float, figures_dir: str | Path | None = None) -> str:
    """A self-contained HTML report (no network): the claims x tiers table, the pre-registered decisions with
    their seeds, each claim's statement with its formulas rendered (:func:`statement_html`), its checks, and the
    figures from ``figures_dir`` embedded as base64 PNG (``manifest`` lists them)."""
    import base64
    import html

    esc = html.escape
    claims = registry.claims()
    by_claim: dict[str, list[registry.CheckResult]] = {}
    for r in results:
        by_claim.setdefault(r.claim_id, []).append(r)
    figures_of: dict[str, list[str]] = {}
    figure_rows = []
    if manifest is not None:
        for row in manifest.itertuples():
            figure_rows.append(row)
            for claim_id in str(row.claims).split():
                figures_of.setdefault(claim_id, []).append(str(row.figure_id))
    failed, n_mutants, n_rejected = tally(results)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>collapse_theory verification report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>collapse_theory verification report</h1>",
           f"<p><b>{len(results) - len(failed)} of {len(results)} checks passed</b> in tiers {esc(', '.join(tiers))}; "
           f"{n_rejected} of {n_mutants} deliberately wrong formulas (mutants) rejected; {seconds:.1f} s.</p>",
           '<p class="muted">Provenance: <code>paper-claim</code> (the paper\'s abstract says so), '
           "<code>toolkit-theorem</code> (stated and proved here), <code>observation</code> (measured here). "
           "Each cell: the worst status of the claim's checks in that tier and their number; n/a: no check of that "
           "tier applies (the claim says why).</p>",
           "<h2>Claims × tiers</h2><table><tr><th>claim</th><th>provenance</th>"
           + "".join(f"<th>{esc(t)}</th>" for t in tiers) + "<th>figures</th></tr>"]
    for claim in claims:
        cells = []
        for tier in tiers:
            mine = [r for r in by_claim.get(claim.id, []) if r.tier == tier]
            if mine:
                worst = "pass" if all(r.ok for r in mine) else next(r.status for r in mine if not r.ok)
                mark = STATUS_MARK[worst]
                cells.append(f'<td class="{mark}">{mark} ({len(mine)})</td>')
            else:
                cells.append(f"<td>{'n/a' if tier in claim.no_check else '-'}</td>")
        figs = ", ".join(f'<a href="#fig-{esc(f)}">{esc(f)}</a>' for f in figures_of.get(claim.id, [])) or "-"
        out.append(f'<tr><td><a href="#{esc(claim.id)}">{esc(claim.id)}</a></td><td>{esc(claim.provenance)}</td>'
                   + "".join(cells) + f'<td class="wrap">{figs}</td></tr>')
    out.append("</table>")
    decided = [(r, d) for r in results if (d := _decision_dict(r)) is not None]
    out.append("<h2>Decisions (pre-registered protocols)</h2>")
    if decided:
        out.append("<table><tr><th>claim</th><th>tier</th><th>check</th><th>decision</th><th>seeds</th>"
                   "<th>effect</th><th>95 % CI</th><th>p</th></tr>")
        for r, d in decided:
            seeds = d.get("seeds")
            seed_text = f"{d.get('n_seeds', '?')}" + (f" ({seed_list(seeds)})" if seeds else "")
            out.append(f"<tr><td>{esc(str(d.get('claim', r.claim_id)))}</td><td>{esc(str(d.get('tier', r.tier)))}</td>"
                       f"<td>{esc(r.name)}</td><td class=\"{esc(str(d.get('decision')))}\">"
                       f"{esc(str(d.get('decision')))}</td><td>{esc(seed_text)}</td>"
                       f"<td>{_number(d.get('effect'))}</td>"
                       f"<td>[{_number(d.get('ci_low'))}, {_number(d.get('ci_high'))}]</td>"
                       f"<td>{_number(d.get('p_value'))}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="muted">No check in this run carries a pre-registered decision.</p>')
    cache: dict = {}
    for claim in claims:
        out.append(f'<h2 id="{esc(claim.id)}">{esc(claim.id)} — {esc(claim.title)}</h2>')
        out.append(f"<p><code>{esc(claim.provenance)}</code>"
                   + (f", formalises {esc(', '.join(claim.formalises))}" if claim.formalises else "") + "</p>")
        out.append(f'<div class="statement">{statement_html(claim.statement, cache)}</div>')
        if claim.assumptions:
            out.append("<p class=\"muted\">Assumptions: " + "; ".join(esc(a) for a in claim.assumptions) + "</p>")
        items = []
        for r in by_claim.get(claim.id, []):
            d = _decision_dict(r)
            extra = (f"; decision <b>{esc(str(d.get('decision')))}</b> on {d.get('n_seeds')} seeds"
                     if d else "")
            items.append(f"<li><b>{esc(r.tier)} / {esc(r.name)}</b>: {STATUS_MARK[r.status]} in {r.seconds:.2f} s; "
                         f"{esc(_evidence_text(r.evidence))}; mutants rejected {sum(r.mutants_rejected.values())}"
                         f"/{len(r.mutants_rejected)}{extra}</li>")
        for tier in tiers:
            if tier in claim.no_check and not any(r.tier == tier for r in by_claim.get(claim.id, [])):
                items.append(f"<li><b>{esc(tier)}</b>: not applicable here — {esc(claim.no_check[tier])}</li>")
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
        if figures_of.get(claim.id):
            out.append("<p>Figures: " + ", ".join(f'<a href="#fig-{esc(f)}">{esc(f)}</a>'
                                                  for f in figures_of[claim.id]) + "</p>")
    failed_figures = dict(manifest.attrs.get("failed", {})) if manifest is not None else {}
    if failed_figures:
        out.append("<h2>Figures not drawn</h2><ul>" + "".join(
            f"<li><code>{esc(k)}</code>: {esc(v)}</li>" for k, v in failed_figures.items()) + "</ul>")
    if figure_rows:
        out.append("<h2>Figures</h2>")
        for row in figure_rows:
            png = Path(figures_dir) / str(row.png) if figures_dir is not None else None
            body = (f'<img class="figure" alt="{esc(str(row.figure_id))}" src="data:image/png;base64,'
                    f'{base64.b64encode(png.read_bytes()).decode("ascii")}">' if png is not None and png.is_file()
                    else f"<p class=\"muted\">({esc(str(row.png))} not found)</p>")
            out.append(f'<h3 id="fig-{esc(str(row.figure_id))}">{esc(str(row.figure_id))}: {esc(str(row.title))}</h3>'
                       f"{body}<p class=\"muted\">claims: {esc(str(row.claims))}; data: {esc(str(row.data_file))} "
                       f"from <code>{esc(str(row.data_command))}</code></p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
