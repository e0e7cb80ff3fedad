"""The command-line shell: outputs, the fixed-point check value (docs/derivations/dae.md §6), and one-line errors with
exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from collapse_theory.cli.shell import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dae_json_reproduces_the_fixed_point_check_value(capsys):
    code, out, _ = run(capsys, "dae", "--spectrum", "4,2,1,0.5,0.1", "--sigma2", "0.1", "--real-fraction", "0.1",
                       "--regime", "mix", "--rule", "renoise", "--rounds", "400", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert len(data["eigenvalues"]) == 401 and data["eigenvalues"][0] == [4, 2, 1, 0.5, 0.1]
    assert len(data["op_norm"]) == 401
    quoted = np.array([3.031, 1.079, 0.240, 0.039, 0.0011])
    assert np.all(np.abs(np.array(data["fixed_point"]) - quoted) <= [5e-4, 5e-4, 5e-4, 5e-4, 5e-5])
    assert np.allclose(data["eigenvalues"][-1], data["fixed_point"], rtol=1e-6, atol=0)


def test_dae_json_fixed_point_is_null_without_real_data(capsys):
    code, out, _ = run(capsys, "dae", "--rounds", "3", "--format", "json")
    assert code == 0 and json.loads(out)["fixed_point"] is None


def test_dae_csv_is_tidy(capsys, tmp_path):
    code, out, _ = run(capsys, "dae", "--spectrum", "4,1", "--rounds", "2", "--format", "csv")
    assert code == 0
    path = tmp_path / "out.csv"
    path.write_text(out)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["round", "quantity", "component", "value"]
    assert set(frame["round"]) == {0, 1, 2}
    assert frame.query("quantity == 'eigenvalue' and round == 0")["value"].tolist() == [4.0, 1.0]


def test_dae_table_and_matrix_input(capsys):
    code, out, _ = run(capsys, "dae", "--second-moment", "2,0.5;0.5,1", "--rounds", "3", "--regime", "mix")
    assert code == 0 and "fixed point" in out and out.count("\n") >= 6


@pytest.mark.parametrize("argv, flag", [
    (["dae", "--sigma2", "0"], "--sigma2"),
    (["dae", "--sigma2", "-2"], "--sigma2"),
    (["dae", "--sigma2", "nan"], "--sigma2"),
    (["dae", "--real-fraction", "1.5", "--regime", "mix"], "--real-fraction"),
    (["dae", "--spectrum", "4,-1"], "--spectrum"),
    (["dae", "--spectrum", "4,nan"], "--spectrum"),
    (["dae", "--spectrum", "four"], "--spectrum"),
    (["dae", "--regime", "unknown"], "--regime"),
    (["dae", "--rule", "unknown"], "--rule"),
    (["dae", "--second-moment", "1,2;0,1"], "--second-moment"),
    (["dae", "--second-moment", "1,0;0,-1"], "--second-moment"),
    (["dae", "--second-moment", "missing.npy"], "--second-moment"),
    (["dae", "--rounds", "-1"], "--rounds"),
    (["verify", "--tier", "psychic"], "--tier"),
    (["verify", "--claim", "NOPE"], "claim"),
    (["reproduce", "--tier", "psychic"], "--tier"),
    (["figures", "--only", "nope"], "--only"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, flag):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("collapse-theory: error:") and flag in err
    assert "Traceback" not in err


def test_verify_json_lists_claims_with_provenance(capsys):
    code, out, _ = run(capsys, "verify", "--tier", "numeric", "--claim", "DAE-REAL-FIXED-POINT", "--json")
    data = json.loads(out)
    assert code == 0 and data["passed"]
    assert data["claims"][0]["provenance"] == "toolkit-theorem"
    assert {r["check"] for r in data["results"]} >= {"math-md-check-value"}
    assert all(all(r["mutants_rejected"].values()) for r in data["results"])


def test_verify_table_and_exit_code_on_failure(capsys, monkeypatch):
    from collapse_theory.claims import registry

    code, out, _ = run(capsys, "verify", "--tier", "numeric", "--claim", "DAE-STEP", "--no-progress")
    assert code == 0 and "PASS" in out and "DAE-STEP" in out
    item = next(c for c in registry.checks(["numeric"], ["DAE-STEP"]))
    broken = registry.Check(item.claim_id, item.tier, item.name, lambda impl: registry.Outcome(False, {}),
                            item.mutants)
    monkeypatch.setitem(registry._CHECKS, item.key, broken)
    code, out, _ = run(capsys, "verify", "--tier", "numeric", "--claim", "DAE-STEP", "--no-progress")
    assert code == 1 and "FAIL" in out


def test_claims_listing(capsys):
    code, out, _ = run(capsys, "claims", "--json")
    ids = {c["id"] for c in json.loads(out)}
    assert {"C-collapse", "C-real", "DAE-OPT", "DAE-ACCUMULATE"} <= ids


def test_console_script_runs_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "collapse_theory", "dae", "--sigma2", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_dae_out_writes_file_and_manifest(capsys, tmp_path):
    target = tmp_path / "sub" / "run.json"
    code, out, _ = run(capsys, "dae", "--regime", "mix", "--rounds", "5", "--format", "json", "--out", str(target))
    assert code == 0 and out == ""
    assert len(json.loads(target.read_text())["op_norm"]) == 6
    manifest = json.loads((tmp_path / "sub" / "run.json.manifest.json").read_text())
    assert manifest["command"] == "dae" and manifest["config"]["real_fraction"] == 0.1
    assert manifest["versions"]["numpy"] == np.__version__
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    from collapse_theory import outputs as runio

    target = tmp_path / "result.txt"
    runio.atomic_write_text(target, "old")

    def explode(*_):
        raise OSError("disk full")

    monkeypatch.setattr(runio.os, "replace", explode)
    with pytest.raises(OSError):
        runio.atomic_write_text(target, "new")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
