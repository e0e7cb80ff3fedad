"""The verification report lists every claim with provenance, status per tier, evidence and figures."""

import json

from collapse_theory.claims import registry
from collapse_theory.report import render_report, reproduce


def test_reproduce_writes_report_json_and_figures(tmp_path):
    report, passed = reproduce(tmp_path, tiers=["numeric"], progress=False, claim_ids=["DAE-STEP", "C-real"])
    text = report.read_text()
    assert passed
    for claim in registry.claims():
        assert f"| {claim.id} | {claim.provenance} |" in text
    assert "| C-real | paper-claim | pass (1) | dae-real-fraction.png |" in text
    data = json.loads((tmp_path / "verify.json").read_text())
    assert data["passed"] and {r["claim"] for r in data["results"]} == {"DAE-STEP", "C-real"}
    assert json.loads((tmp_path / "verify.json.manifest.json").read_text())["command"] == "reproduce"
    assert (tmp_path / "figures" / "MANIFEST.csv").exists()
    page = (tmp_path / "report.html").read_text()
    assert "C-real" in page and '<h3 id="fig-dae-real-fraction">' in page


def test_report_marks_failures():
    result = registry.CheckResult("DAE-OPT", "numeric", "x", "fail", {"err": 1.0}, {"m": True}, 0.1)
    text = render_report([result], ["numeric"], None, 0.1)
    assert "| DAE-OPT | toolkit-theorem | FAIL (1) | - |" in text and "0 of 1 checks passed" in text


# --------------------------------------------------------------------------------------------- report.html

import shutil  # noqa: E402
import subprocess  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from collapse_theory.report import render_html, statement_html, to_mathtext  # noqa: E402

FIGURES_DIR = __import__("pathlib").Path(__file__).resolve().parents[1] / "figures"


class _Decision:
    def as_dict(self):
        return {"claim": "C-RA", "tier": "trained", "decision": "inconclusive", "n_seeds": 5, "effect": 0.0123,
                "ci_low": -0.01, "ci_high": 0.035, "p_value": 0.21, "seeds": [0, 1, 2, 3, 4]}


def _page() -> str:
    results = [registry.CheckResult("DAE-STEP", "numeric", "step-map", "pass", {"err": 1e-12}, {"m": True}, 0.1),
               registry.CheckResult("C-RA", "trained", "ra-decision", "pass", {"x": 1.0}, {"m": True}, 2.0,
                                    decision=_Decision())]
    manifest = pd.read_csv(FIGURES_DIR / "MANIFEST.csv").iloc[:2]
    return render_html(results, ["numeric", "trained"], manifest, 3.0, FIGURES_DIR)


def test_report_html_is_self_contained_with_table_decisions_and_figures():
    page = _page()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page and "<script" not in page   # opens offline
    for claim in registry.claims():
        assert f'<h2 id="{claim.id}">' in page and f'<a href="#{claim.id}">' in page
    assert '<td class="pass">pass (1)</td>' in page
    assert '<td class="inconclusive">inconclusive</td><td>5 (0–4)</td>' in page
    assert "[-0.01, 0.035]" in page and "<td>0.21</td>" in page
    assert page.count("data:image/png;base64,") > 2 * 1 + 100        # 2 figures + the rendered formulas
    assert '<h3 id="fig-dae-collapse">' in page


def test_seed_lists_are_compact():
    from collapse_theory.report import seed_list

    assert seed_list(range(64)) == "0–63" and seed_list([3, 5]) == "3, 5"
    assert seed_list([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]).endswith("22, …")


def test_formulas_become_mathtext_and_every_statement_renders():
    assert to_mathtext("sigma2 > 0") == r"$\sigma^2 > 0$"
    assert to_mathtext("rho0^(k+1)") == r"$\rho_{0} ^{k+1}$"
    assert to_mathtext("lambda*_max <= 1") == r"$\lambda ^*_\max \leq  1$"
    assert to_mathtext("sqrt(x)") == r"$\sqrt{x}$"
    cache: dict = {}
    for claim in registry.claims():
        statement_html(claim.statement, cache)
    assert cache and not [k for k, v in cache.items() if "<code>" in v]   # no formula fell back to plain text
    assert "<code>" in statement_html("x = y^{2")                      # ... which does happen on bad input
    assert statement_html("a fixed fraction in each round") == "a fixed fraction in each round"


def _browser():
    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def _screenshot(html_path, png_path) -> "object":
    from matplotlib.image import imread

    subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,2400", f"--screenshot={png_path}", html_path.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return imread(png_path)[..., :3]


@pytest.mark.skipif(_browser() is None, reason="no headless browser (apt-get install chromium)")
def test_report_html_screenshot_in_a_headless_browser_is_not_blank(tmp_path):
    (tmp_path / "report.html").write_text(_page(), encoding="utf-8")
    image = _screenshot(tmp_path / "report.html", tmp_path / "shot.png")
    ink = (image.min(axis=2) < 0.85).mean()            # fraction of pixels that are not (near) white
    assert image.std() > 0.05 and ink > 0.02
    (tmp_path / "blank.html").write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    blank = _screenshot(tmp_path / "blank.html", tmp_path / "blank.png")
    assert (blank.min(axis=2) < 0.85).mean() == 0.0    # the measure does see a blank page
