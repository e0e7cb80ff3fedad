"""The gaussian-reflow sub-command (collapse_theory.cli.gaussian), driven through a parser built here."""

import argparse
import io
import json

import pandas as pd
import pytest

from collapse_theory.cli import gaussian as cli_gaussian
from collapse_theory.cli import shell


def parser():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_gaussian.register(sub)
    return p


def run(capsys, *argv):
    args = parser().parse_args(["gaussian-reflow", "--no-progress", *argv])
    code = cli_gaussian.run(args)
    return code, capsys.readouterr().out


SMALL = ["--dim", "2", "--rounds", "3", "--samples", "12", "--replicates", "6", "--seed", "1"]


def test_csv_is_tidy_and_deterministic(capsys):
    code, out = run(capsys, *SMALL, "--method", "ra", "--real-fraction", "0.25", "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == cli_gaussian.CSV_COLUMNS
    assert set(frame["round"]) == {0, 1, 2, 3}
    assert set(frame["replicate"]) == {str(i) for i in range(6)} | {"mean"}
    assert {"log_det", "trace", "mean_error_sq", "w2_to_real", "pair_mismatch", "expected_trace"} <= set(frame["quantity"])
    assert (frame["method"] == "ra").all() and (frame["real_fraction"] == 0.25).all()
    _, again = run(capsys, *SMALL, "--method", "ra", "--real-fraction", "0.25", "--format", "csv")
    assert again == out


def test_json_reflow_has_closed_form_expectations(capsys):
    code, out = run(capsys, *SMALL, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["config"]["method"] == "reflow"
    assert len(data["mean"]["log_det"]) == 4 and len(data["expected"]["log_det"]) == 4
    assert data["expected"]["log_det"][3] < data["expected"]["log_det"][0]


@pytest.mark.parametrize("recursion", ["shrinkage", "population"])
def test_other_recursions_and_table(capsys, recursion):
    code, out = run(capsys, "--recursion", recursion, "--rounds", "2", "--dim", "2")
    assert code == 0 and f"recursion={recursion}" in out and out.count("\n") >= 4
    code, out = run(capsys, "--recursion", recursion, "--rounds", "2", "--dim", "2", "--format", "json")
    assert code == 0 and json.loads(out)


def test_out_writes_file_and_manifest(capsys, tmp_path):
    target = tmp_path / "run.csv"
    code, out = run(capsys, *SMALL, "--format", "csv", "--out", str(target))
    assert code == 0 and out == ""
    assert pd.read_csv(target).shape[1] == 6
    manifest = json.loads((tmp_path / "run.csv.manifest.json").read_text())
    assert manifest["command"] == "gaussian-reflow" and manifest["seed"] == 1


@pytest.mark.parametrize("argv, name", [
    (["--dim", "0"], "dim"),
    (["--dim", "two"], "dim"),
    (["--method", "flow"], "method"),
    (["--rounds", "-1"], "rounds"),
    (["--real-fraction", "0.5"], "real_fraction"),
    (["--method", "ra", "--real-fraction", "1.5"], "real_fraction"),
    (["--method", "ora", "--real-fraction", "nan"], "real_fraction"),
    (["--method", "ra", "--real-fraction", "0"], "real_fraction"),
    (["--samples", "2", "--dim", "3"], "samples"),
    (["--replicates", "1"], "replicates"),
    (["--seed", "-3"], "seed"),
    (["--recursion", "shrinkage", "--step-time", "0"], "step_time"),
    (["--recursion", "magic"], "recursion"),
    (["--format", "xml"], "format"),
    (["--dim", "2", "--spectrum", "1,-1"], "spectrum"),
    (["--dim", "2", "--spectrum", "1,2,3"], "spectrum"),
])
def test_bad_input_raises_value_error_naming_the_argument(argv, name):
    args = parser().parse_args(["gaussian-reflow", "--no-progress", *argv])
    with pytest.raises(ValueError, match=f"^{name} ") as info:
        cli_gaussian.run(args)
    assert "\n" not in str(info.value)
    assert name in shell.flag_map(shell.build_parser(), "gaussian-reflow")
