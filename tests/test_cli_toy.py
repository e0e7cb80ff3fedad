"""`toy-reflow` (collapse_theory.cli.toy): output formats, the CSV + manifest, one-line errors with exit 2."""

import argparse
import io
import json

import pandas as pd
import pytest

from collapse_theory.cli import toy as cli_toy
from collapse_theory.cli.shell import main

TINY = ["toy-reflow", "--data", "gaussian", "--rounds", "1", "--steps", "15", "--round0-steps", "20",
        "--batch-size", "16", "--n-real", "32", "--n-synth", "32", "--width", "8", "--depth", "1",
        "--n-eval", "30", "--eval-steps", "1", "--no-dopri5", "--gen-steps", "2", "--no-progress"]


def test_csv_side_by_side_and_manifest(tmp_path, capsys):
    out = tmp_path / "run.csv"
    assert main(TINY + ["--method", "reflow,ra", "--format", "csv", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(io.StringIO(printed))
    assert set(frame["method"]) == {"reflow", "ra"}
    assert set(frame.loc[frame.method == "reflow", "real_fraction"]) == {0.0}
    assert set(frame.loc[frame.method == "ra", "real_fraction"]) == {0.5}
    assert sorted(frame["round"].unique()) == [0, 1]
    assert out.read_text() == printed
    manifest = json.loads((tmp_path / "run.csv.manifest.json").read_text())
    assert manifest["command"] == "toy-reflow" and manifest["seed"] == 0
    assert manifest["config"]["methods"] == ["reflow", "ra"] and "torch" in manifest["versions"]


def test_table_and_json(capsys):
    assert main(TINY + ["--method", "reflow,oras", "--format", "table"]) == 0
    text = capsys.readouterr().out
    assert "reflow W2@1" in text and "oras W2@1" in text and "W2 floor" in text
    assert main(TINY + ["--method", "ora", "--format", "json", "--real-fraction", "0.25"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["configs"][0]["real_fraction"] == 0.25
    assert {r["method"] for r in payload["rows"]} == {"ora"}


def test_register_wires_into_a_parent_parser():
    parser = argparse.ArgumentParser(prog="collapse-theory")
    sub = parser.add_subparsers(dest="command")
    cli_toy.register(sub)
    args = parser.parse_args(["toy-reflow", "--data", "moons", "--method", "ra", "--rounds", "3"])
    assert args.data == "moons" and args.rounds == 3 and args.real_fraction == 0.5


@pytest.mark.parametrize("extra,flag", [
    (["--method", "flow"], "--method"), (["--real-fraction", "1.5"], "--real-fraction"),
    (["--data", "spiral"], "--data"), (["--rounds", "-1"], "--rounds"), (["--rounds", "two"], "--rounds"),
    (["--data", "ring8", "--dim", "3"], "--dim"), (["--ema", "2"], "--ema"), (["--eval-steps", "0"], "--eval-steps"),
    (["--method", "ra,ra"], "--method"),
])
def test_bad_input_one_line_exit_2(extra, flag, capsys):
    assert main(TINY + extra) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert len(err.splitlines()) == 1 and err.startswith("collapse-theory: error:") and flag in err
