"""The image tier's Reflow vs RA decisions: run, results files and figure data.

**Run** (:func:`run_image_decisions`): the image-tier checks of the registry
(:mod:`collapse_theory.claims.flow.image`, the same code path as ``collapse-theory verify --tier image``) with
``$COLLAPSE_THEORY_IMAGE_OUT`` pointing at ``docs/results/image_reflow_decisions/``, so the run writes

- ``image-reflow-decisions.csv``: tidy, one row per member (seed x method, plus ORA and ORAS at seed 0) x round x
  NFE (1, 16): FD-digitsnet, its sample size and the real-vs-real floor at that size; with
  ``image-reflow-decisions.csv.manifest.json`` (config, the pre-registered protocols and their sha256 hashes,
  versions, git revision, seconds per phase);
- ``decisions.json``: per check its status, the decision (claim, tier, decision, n_seeds, effect, ci_low, ci_high,
  p_value, ...), the controls, the per-seed values, and the wall time of the whole tier. Strict JSON: a NaN or an
  infinity in a check's evidence (a failed check — the registry fails an outcome whose evidence holds one) or in
  a decision's numbers (e.g. a p-value of a degenerate sample) is written as ``null``, meaning "not a finite
  number"; the check's ``status`` and ``message`` say why.

These files are committed; the figure ``image-reflow-decisions`` is drawn from them (:func:`decisions_frame`,
no training).

    python -m collapse_theory.experiments.reflow_decisions          # the full run (about 15 minutes on 2 cores)
    python -m collapse_theory.experiments.reflow_decisions --ci     # the CI size, into a temporary folder
    python -m collapse_theory.experiments.reflow_decisions --from-results   # decisions from the committed results
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..outputs import atomic_write_text, strict_json

MODULE = "collapse_theory.experiments.reflow_decisions"
REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "docs" / "results" / "image_reflow_decisions"
RESULTS_FILE = "image-reflow-decisions.csv"
DECISIONS_FILE = "decisions.json"
FIGURE_COLUMNS = ["kind", "method", "seed", "round", "nfe", "value", "ci_low", "ci_high", "n_seeds", "floor"]


def run_image_decisions(out: str | Path = RESULTS_DIR, size: str = "full", threads: int = 1) -> dict:
    """Run the image tier's checks (``size`` 'full' or 'ci') with ``threads`` torch threads (unless
    ``$COLLAPSE_THEORY_IMAGE_THREADS`` says otherwise), write the results and ``decisions.json`` into ``out``;
    returns the decisions document."""
    import torch

    from ..claims.flow import image as image_checks

    torch.set_num_threads(threads)
    from ..claims.registry import run_checks

    if size not in ("full", "ci"):
        raise ValueError(f"size must be 'full' or 'ci', got {size!r}")
    out = Path(out)
    old = {k: os.environ.get(k) for k in (image_checks.SIZE_ENV, image_checks.OUT_ENV)}
    os.environ[image_checks.SIZE_ENV] = size
    os.environ[image_checks.OUT_ENV] = str(out)
    image_checks.use_config(None)
    try:
        start = time.perf_counter()
        results = run_checks(["image"])
        seconds = time.perf_counter() - start
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    doc = {"seconds": round(seconds, 1), "torch_threads": image_checks.current_config().threads or threads,
           "load_average_at_end": list(os.getloadavg()), "checks": [r.as_dict() for r in results]}
    atomic_write_text(out / DECISIONS_FILE, decisions_json(doc))
    return doc


def decisions_json(doc: dict) -> str:
    """``decisions.json``'s text: strict JSON, non-finite numbers as ``null`` (module docstring)."""
    return strict_json(doc, what=DECISIONS_FILE, nonfinite="null", indent=1, default=_jsonable) + "\n"


def decide_results(folder: str | Path = RESULTS_DIR) -> list[dict]:
    """The three image-tier decisions recomputed from a run's results file (no training): per protocol the check's
    status (statistic agrees with its reference, controls behaved), the decision and its evidence."""
    from ..claims.flow import image as image_checks

    frame = read_results(folder)
    seeds = tuple(sorted(int(s) for s in frame[frame["method"] == "reflow"]["seed"].unique()))
    out = []
    for key, protocol in image_checks.protocols_for(seeds).items():
        outcome = image_checks.decide_frame(key, frame, seeds)
        out.append({"protocol": key, "claim": protocol.claim, "tier": protocol.tier,
                    "status": "pass" if outcome.passed else "fail", "evidence": outcome.evidence}
                   | outcome.decision.as_dict())
    return out


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_results(folder: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """The committed tidy results frame."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"results_dir must hold {RESULTS_FILE} (run python -m {MODULE}), got {str(folder)!r}")
    return pd.read_csv(path)


def decisions_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Figure data: per-seed FD lines (kind 'seed') of the decided methods, their mean with the 95 % Student-t CI
    per method, round and NFE (kind 'mean'), the ORA/ORAS observations (kind 'once') and the real-vs-real floor
    (kind 'floor', one row per NFE); the null controls' 1-RF re-evaluations are left out."""
    from scipy import stats

    from ..train.image.ensemble_reflow import NULL_METHOD

    rows = []
    seeds_of = frame.groupby("method")["seed"].nunique()
    decided = [m for m in ("reflow", "ra") if m in seeds_of.index]
    for (method, nfe, k), g in frame[frame["method"].isin(decided)].groupby(["method", "nfe", "round"]):
        v = g["value"].to_numpy(float)
        for s, x in zip(g["seed"], v):
            rows.append(dict(kind="seed", method=method, seed=int(s), round=int(k), nfe=int(nfe), value=float(x)))
        n = v.size
        half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        rows.append(dict(kind="mean", method=method, seed=-1, round=int(k), nfe=int(nfe), value=float(v.mean()),
                         ci_low=float(v.mean() - half), ci_high=float(v.mean() + half), n_seeds=n))
    for _, r in frame[~frame["method"].isin(decided + [NULL_METHOD])].iterrows():
        rows.append(dict(kind="once", method=r["method"], seed=int(r["seed"]), round=int(r["round"]),
                         nfe=int(r["nfe"]), value=float(r["value"])))
    for nfe, g in frame.groupby("nfe"):
        rows.append(dict(kind="floor", method="real-vs-real", seed=-1, round=-1, nfe=int(nfe),
                         value=float(g["real_vs_real"].iloc[0]), n_seeds=int(g["n_samples"].iloc[0])))
    out = pd.DataFrame(rows)
    for c in FIGURE_COLUMNS:
        if c not in out:
            out[c] = np.nan
    return out[FIGURE_COLUMNS]


@dataclass(frozen=True)
class DecisionsFigure:
    """Parameters of the figure ``image-reflow-decisions`` (drawn from a finished run's files; no training)."""

    results_dir: str = field(default="", metadata={
        "help": "folder holding image-reflow-decisions.csv ('' = the committed docs/results/image_reflow_decisions)"})

    def validated(self) -> "DecisionsFigure":
        if not isinstance(self.results_dir, str):
            raise ValueError(f"results_dir must be a folder path, got {self.results_dir!r}")
        return self

    @property
    def folder(self) -> Path:
        return Path(self.results_dir) if self.results_dir else RESULTS_DIR


def decisions_frame(params: DecisionsFigure | None = None) -> pd.DataFrame:
    """Figure data of ``image-reflow-decisions`` from the committed run (no training); its manifest is the run's."""
    folder = (params or DecisionsFigure()).validated().folder
    frame = read_results(folder)
    table = decisions_table(frame)
    side = Path(folder) / (RESULTS_FILE + ".manifest.json")
    manifest = json.loads(side.read_text()) if side.is_file() else {}
    table.attrs["run_manifest"] = {"command": f"{MODULE}.decisions_frame()", "source": str(RESULTS_FILE),
                                   "config": manifest.get("config"),
                                   "protocols": {k: v.get("hash") for k, v in manifest.get("protocols", {}).items()},
                                   "git_revision": manifest.get("git_revision")}
    return table


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--from-results" in argv:       # recompute the decisions from the committed results file, no training
        for d in decide_results(RESULTS_DIR):
            print(strict_json({k: d[k] for k in ("claim", "protocol", "status", "decision", "n_seeds", "effect",
                                                 "ci_low", "ci_high", "p_value", "p_adjusted")},
                              nonfinite="null", default=_jsonable))
        return 0
    if "--ci" in argv:
        import tempfile

        doc = run_image_decisions(Path(tempfile.mkdtemp(prefix="image-decisions-")), size="ci")
    else:
        doc = run_image_decisions(RESULTS_DIR, size="full")
    for c in doc["checks"]:
        print(f"{c['claim']:6s} {c['check']:24s} {c['status']:5s} {c.get('decision')} effect={c.get('effect'):.4g} "
              f"CI=[{c.get('ci_low'):.4g}, {c.get('ci_high'):.4g}] p={c.get('p_value'):.3g} n={c.get('n_seeds')}")
    print(f"{doc['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
