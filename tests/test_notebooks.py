"""The classroom notebooks run top to bottom (executed with nbclient) and are committed without outputs."""

import json
import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "analysis_notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_within_a_minute(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - start < 60


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


def test_reflow_vs_ra_2d_notebook_is_executed():
    assert "04_reflow_vs_ra_2d.ipynb" in {p.name for p in NOTEBOOKS}


def test_reading_image_results_notebook_is_executed():
    assert "05_reading_image_results.ipynb" in {p.name for p in NOTEBOOKS}
