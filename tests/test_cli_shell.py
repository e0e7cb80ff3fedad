"""The CLI house (cli/shell.py + one module per command family) and its reliability rules (issue 13):
one list parser, output paths checked before any work, zero checks never a pass, divergence = exit 3,
memory estimated before allocating, strict JSON, flags named in every error."""

import ast
import importlib
import json
import pathlib

import numpy as np
import pytest

from collapse_theory.cli import arguments, shell
from collapse_theory.cli.shell import main

CLI_DIR = pathlib.Path(shell.__file__).resolve().parent


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, flag: str) -> bool:
    return err.count("\n") == 1 and err.startswith("collapse-theory: error:") and flag in err and "Traceback" not in err


def strict_loads(text: str):
    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


# ----------------------------------------------------------------------------------------------- the house

def test_every_command_module_registers_handlers_and_none_imports_the_shell():
    parser = shell.build_parser()
    assert set(parser.commands) >= {"verify", "claims", "figures", "reproduce", "dae", "train-dae",
                                    "gaussian-reflow", "toy-reflow", "reflow"}
    def leaves(p):  # a sub-command parser, or the parsers of its nested sub-commands (data prepare / data info)
        nested = [a.choices for a in p._actions if isinstance(a.choices, dict)]
        return [leaf for choices in nested for q in choices.values() for leaf in leaves(q)] if nested else [p]

    for name, sub in parser.commands.items():
        assert all(callable(leaf.get_default("handler")) for leaf in leaves(sub)), name
    for name in shell.COMMAND_MODULES:
        module = importlib.import_module(f"collapse_theory.cli.{name}")
        assert callable(module.register)
        tree = ast.parse((CLI_DIR / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                assert not (node.module or "").endswith("shell") and not (node.module is None and "shell" in names), \
                    f"cli/{name}.py imports the shell"


def test_flag_map_is_derived_from_argparse_for_every_command():
    parser = shell.build_parser()
    for command, sub in parser.commands.items():
        flags = shell.flag_map(parser, command)
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert flags[action.dest] in action.option_strings
    toy, reflow, dae = (shell.flag_map(parser, c) for c in ("toy-reflow", "reflow", "dae"))
    assert toy["ema_decay"] == "--ema" and reflow["warmup_steps"] == "--warmup"
    assert reflow["inception_weights"] == "--inception-weights" and reflow["max_train"] == "--n-train"
    assert dae["eigenvalues"] == "--spectrum" and shell.flag_map(parser, "verify")["claim"] == "--claim"


def test_no_abbreviations_and_defaults_in_help(capsys):
    code, _, err = run(capsys, "verify", "--jso")
    assert code == 2 and one_line_error(err, "--jso")
    with pytest.raises(SystemExit):
        main(["dae", "--help"])
    assert "(default: 0.1)" in capsys.readouterr().out


def test_claim_error_names_the_flag(capsys):
    code, _, err = run(capsys, "verify", "--claim", "NOPE")
    assert code == 2 and one_line_error(err, "--claim:")


def test_claims_json_takes_figures_from_the_gallery(capsys):
    from collapse_theory.gallery import FIGURES

    code, out, _ = run(capsys, "claims", "--json")
    records = strict_loads(out)
    assert code == 0
    for record in records:
        expected = [f for f, spec in FIGURES.items() if record["id"] in spec.claims]
        assert record["figures"] == expected and record["figure"] == (expected[0] if expected else None)
    assert any(r["figures"] for r in records)


# ----------------------------------------------------------------------------------------------- lists

@pytest.mark.parametrize("text", ["1,,2", "1,", ",,,", "", " , "])
def test_list_parser_rejects_empty_items(text):
    with pytest.raises(ValueError, match="^--flag "):
        arguments.parse_floats(text, "--flag")


def test_list_parser_reads_items_and_rejects_garbage():
    assert arguments.parse_floats(" 1, -2.5 ,3e-1", "--x") == [1.0, -2.5, 0.3]
    assert arguments.parse_names("a, b", "--x") == ["a", "b"]
    with pytest.raises(ValueError, match="^--x "):
        arguments.parse_ints("1,2.5", "--x")


@pytest.mark.parametrize("argv, flag", [
    (["dae", "--spectrum", "1,,2"], "--spectrum"),
    (["dae", "--second-moment", "1,,0;0,1"], "--second-moment"),
    (["verify", "--tier", "numeric,,symbolic"], "--tier"),
    (["gaussian-reflow", "--dim", "2", "--spectrum", "1,,2"], "--spectrum"),
    (["toy-reflow", "--method", "reflow,,ra"], "--method"),
    (["toy-reflow", "--eval-steps", "1,,2"], "--eval-steps"),
    (["reflow", "--out", "unused", "--eval-nfes", "1,,2"], "--eval-nfes"),
])
def test_empty_list_items_are_errors_naming_the_flag(capsys, argv, flag):
    code, _, err = run(capsys, *argv)
    assert code == 2 and one_line_error(err, flag)


def test_train_dae_lists_reject_empty_items_and_read_negative_values(capsys, tmp_path):
    code, _, err = run(capsys, "train-dae", "--sigma2", "0.1,,0.2", "--out", str(tmp_path / "a.csv"))
    assert code == 2 and one_line_error(err, "--sigma2")
    code, _, err = run(capsys, "train-dae", "--sigma2", "-1,0.1", "--out", str(tmp_path / "a.csv"))
    assert code == 2 and one_line_error(err, "--sigma2") and "> 0" in err  # the range check, not "expected one arg"
    code, _, err = run(capsys, "train-dae", "--regime", "mix", "--real-fraction", "-0.5,0.1",
                       "--out", str(tmp_path / "a.csv"))
    assert code == 2 and one_line_error(err, "--real-fraction") and "[0, 1]" in err


# ----------------------------------------------------------------------------------------------- near-PSD input

@pytest.mark.parametrize("matrix", ["1,0;0,-0.99e-12", "1,0;0,-1e-12"])
def test_near_psd_second_moment_keeps_the_gain_at_most_one(capsys, matrix):
    code, out, _ = run(capsys, "dae", "--second-moment", matrix, "--sigma2", "1e-12", "--format", "json")
    data = strict_loads(out)
    assert code == 0 and max(data["op_norm"]) <= 1.0 and min(min(e) for e in data["eigenvalues"]) >= 0


def test_check_psd_matrix_clips_only_when_asked_and_only_negatives():
    from collapse_theory.validation import check_psd_matrix

    S = np.array([[1.0, 0.0], [0.0, -1e-12]])
    assert check_psd_matrix(S).min() == -1e-12                    # default unchanged
    assert np.linalg.eigvalsh(check_psd_matrix(S, clip=True)).min() >= 0
    P = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert np.array_equal(check_psd_matrix(P, clip=True), P)     # PSD input: returned as is


def test_singular_noisy_moment_names_sigma2(capsys):
    code, _, err = run(capsys, "dae", "--second-moment", "1,0;0,0", "--sigma2", "1e-320")
    assert code == 2 and one_line_error(err, "--sigma2")


# ----------------------------------------------------------------------------------------------- output paths

def _forbid(monkeypatch, target: str):
    module, name = target.rsplit(".", 1)

    def fail(*_a, **_k):
        raise AssertionError(f"{target} ran although the output path is bad")

    monkeypatch.setattr(importlib.import_module(module), name, fail)


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("x")
    return path


@pytest.mark.parametrize("argv, forbidden", [
    (["dae", "--format", "json"], "collapse_theory.theory.dae.recursion.dae_recursion"),
    (["verify", "--tier", "numeric", "--claim", "DAE-STEP"], "collapse_theory.claims.registry.run_checks"),
    (["gaussian-reflow", "--no-progress"], "collapse_theory.cli.gaussian.compute"),
    (["train-dae", "--no-progress"], "collapse_theory.train.dae.recursion.run_trained_recursion"),
    (["toy-reflow", "--no-progress"], "collapse_theory.train.flow.reflow.run_reflow"),
])
def test_bad_output_file_is_refused_before_any_work(capsys, monkeypatch, a_file, tmp_path, argv, forbidden):
    _forbid(monkeypatch, forbidden)
    for out in ("", str(a_file / "under.csv"), str(tmp_path), "/dev/null"):
        code, _, err = run(capsys, *argv, "--out", out)
        assert code == 2 and one_line_error(err, "--out"), (out, err)


@pytest.mark.parametrize("argv, forbidden", [
    (["figures"], "collapse_theory.gallery.build_figures"),
    (["reproduce", "--quick"], "collapse_theory.report.reproduce"),
    (["reflow"], "collapse_theory.train.image.pipeline.run"),
])
def test_bad_output_folder_is_refused_before_any_work(capsys, monkeypatch, a_file, argv, forbidden):
    _forbid(monkeypatch, forbidden)
    for out in ("", str(a_file), str(a_file / "sub")):
        code, _, err = run(capsys, *argv, "--out", out)
        assert code == 2 and one_line_error(err, "--out"), (out, err)


def test_write_error_is_one_line_naming_the_path(capsys, monkeypatch, tmp_path):
    import collapse_theory.outputs as outputs

    def disk_full(path, *_a, **_k):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_with_manifest", disk_full)
    target = tmp_path / "r.json"
    code, _, err = run(capsys, "dae", "--rounds", "2", "--format", "json", "--out", str(target))
    assert code == 2 and one_line_error(err, str(target)) and "No space left" in err


# ----------------------------------------------------------------------------------------------- zero checks

@pytest.mark.parametrize("argv", [["verify", "--tier", ""], ["verify", "--tier", ",,,"],
                                  ["reproduce", "--tier", ""], ["reproduce", "--tier", " , "]])
def test_empty_tier_lists_are_errors(capsys, monkeypatch, tmp_path, argv):
    _forbid(monkeypatch, "collapse_theory.report.reproduce")
    code, _, err = run(capsys, *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "reproduce" else []))
    assert code == 2 and one_line_error(err, "--tier")


def test_a_selection_without_checks_is_never_a_pass(capsys, monkeypatch, tmp_path):
    from collapse_theory.claims import registry

    uncovered = next(c.id for c in registry.claims() if not registry.checks(["symbolic"], [c.id]))
    code, _, err = run(capsys, "verify", "--tier", "symbolic", "--claim", uncovered)
    assert code == 2 and one_line_error(err, "--tier") and "no checks" in err
    # reproduce --tier T where T holds no check (as the image tier did before it had checks): refused before work
    monkeypatch.setattr(registry, "checks", lambda *a, **k: [])
    _forbid(monkeypatch, "collapse_theory.report.reproduce")
    code, _, err = run(capsys, "reproduce", "--tier", "image", "--out", str(tmp_path / "o"))
    assert code == 2 and one_line_error(err, "--tier") and "no checks" in err


# ----------------------------------------------------------------------------------------------- divergence

TOY = ["toy-reflow", "--data", "gaussian", "--rounds", "1", "--steps", "15", "--round0-steps", "20",
       "--batch-size", "16", "--n-real", "32", "--n-synth", "32", "--width", "8", "--depth", "1",
       "--n-eval", "30", "--eval-steps", "1", "--no-dopri5", "--gen-steps", "2", "--no-progress"]


def test_toy_reflow_divergence_is_exit_3_one_line(capsys):
    code, out, err = run(capsys, *TOY, "--lr", "1e30")
    assert code == 3 and err.count("\n") == 1 and err.startswith("collapse-theory: stopped:") and "nan" in err
    assert out == ""
    code, _, err = run(capsys, *TOY, "--lr", "1e308")
    assert code == 2 and one_line_error(err, "--lr")


def test_train_dae_divergence_is_exit_3_one_line(capsys, tmp_path):
    target = tmp_path / "t.csv"
    code, _, err = run(capsys, "train-dae", "--optimizer", "sgd", "--lr", "1e6", "--rounds", "1", "--replicates", "2",
                       "--n-samples", "64", "--no-progress", "--out", str(target))
    assert code == 3 and err.count("\n") == 1 and "diverged" in err and not target.exists()


# ----------------------------------------------------------------------------------------------- memory

@pytest.mark.parametrize("argv", [
    ["dae", "--rounds", "1000000000"],
    ["dae", "--spectrum", "1", "--rounds", "1000000000", "--format", "json"],
    ["gaussian-reflow", "--replicates", "1000000000"],
    ["gaussian-reflow", "--dim", "1000000000", "--recursion", "population"],
    ["train-dae", "--replicates", "1000000000", "--out", "never.csv"],
    ["toy-reflow", "--width", "1000000000"],
])
def test_oversized_requests_are_refused_before_allocating(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and one_line_error(err, "memory")


def test_check_memory_compares_with_what_is_available():
    arguments.check_memory(1e6, "--x", available=2_000_000)
    with pytest.raises(ValueError, match="^--x ask for about"):
        arguments.check_memory(3e6, "--x", available=2_000_000)
    assert arguments.machine_memory_bytes() > 0


def test_default_sizes_fit_in_little_memory():
    from collapse_theory.cli import dae, gaussian, toy, train_dae
    from collapse_theory.train.dae.recursion import RecursionConfig
    from collapse_theory.train.flow.reflow import ReflowConfig

    limit = 512 * 2 ** 20  # the defaults must run on a small machine
    assert dae.estimated_bytes(5, 50) < limit and gaussian.estimated_bytes("estimated", 3, 10, 100, 200) < limit
    assert train_dae.estimated_bytes(RecursionConfig().validated()) < limit
    assert toy.estimated_bytes(ReflowConfig().validated()) < limit


# ----------------------------------------------------------------------------------------------- strict JSON

def test_overflow_is_an_error_naming_the_flag_not_invalid_json(capsys):
    code, out, err = run(capsys, "dae", "--spectrum", "1e308,1e308", "--format", "json")
    assert code == 2 and out == "" and one_line_error(err, "--spectrum")
    code, out, err = run(capsys, "gaussian-reflow", "--dim", "2", "--spectrum", "1e300,1", "--recursion",
                         "population", "--rounds", "2", "--format", "json")
    assert code == 2 and out == "" and one_line_error(err, "--spectrum")


def test_population_straightness_is_never_negative(capsys):
    code, out, _ = run(capsys, "gaussian-reflow", "--dim", "3", "--recursion", "population", "--rounds", "3",
                       "--format", "json")
    data = strict_loads(out)
    assert code == 0 and min(data["straightness"]) >= 0 and data["straightness"][0] > 0


def test_straightness_beyond_solver_accuracy_is_refused():
    from types import SimpleNamespace

    from collapse_theory.cli.gaussian import STRAIGHTNESS_RTOL, nonnegative_straightness

    pr = SimpleNamespace(straightness=np.array([1.5, -1e-15]), kinetic_energy=np.array([2.7, 1.25]),
                         transport_cost=np.array([1.25, 1.25]))
    assert nonnegative_straightness(pr).tolist() == [1.5, 0.0]
    pr.straightness = np.array([1.5, -1e3 * STRAIGHTNESS_RTOL])
    with pytest.raises(ValueError, match="^spectrum "):
        nonnegative_straightness(pr)


@pytest.mark.parametrize("argv", [
    ["dae", "--regime", "mix", "--rounds", "3", "--format", "json"],
    ["dae", "--second-moment", "0,0;0,0", "--rounds", "3", "--format", "json"],
    ["gaussian-reflow", "--method", "ra", "--rounds", "2", "--replicates", "3", "--samples", "8", "--no-progress",
     "--format", "json"],
    ["gaussian-reflow", "--recursion", "shrinkage", "--rounds", "2", "--format", "json"],
    ["claims", "--json"],
])
def test_json_outputs_are_strict(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and strict_loads(out) is not None


# ----------------------------------------------------------------------------------------------- figures --only

def test_repeated_only_counts_once(capsys, monkeypatch, tmp_path):
    import pandas as pd

    import collapse_theory.gallery as gallery

    seen = {}

    def fake_build(out, only, quick=False, **_):
        seen["only"] = only
        return pd.DataFrame(columns=gallery.MANIFEST_COLUMNS)

    monkeypatch.setattr(gallery, "build_figures", fake_build)
    code, _, _ = run(capsys, "figures", "--only", "dae-spectrum", "--only", "dae-spectrum", "--out", str(tmp_path))
    assert code == 0 and seen["only"] == ["dae-spectrum"]


def test_messages_naming_an_argument_get_its_flag():
    flags = shell.flag_map(shell.build_parser(), "reflow")
    assert shell.one_line_message("inception_weights: '/x.pt' is not a file", flags).startswith(
        "--inception-weights: inception_weights:")
    assert shell.one_line_message("lr must be\n > 0", flags) == "--lr: lr must be > 0"
    assert shell.one_line_message("--out 'x' is a folder", flags) == "--out 'x' is a folder"


def test_train_dae_says_when_the_real_fraction_is_rounded(capsys, tmp_path):
    code, _, err = run(capsys, "train-dae", "--regime", "mix", "--real-fraction", "0.055,0.5", "--n-samples", "100",
                       "--rounds", "1", "--replicates", "2", "--dim", "2", "--no-progress",
                       "--out", str(tmp_path / "a.csv"))
    assert code == 0
    notes = [line for line in err.splitlines() if "note: --real-fraction" in line]
    # 0.055 x 100 = 5.5 real points -> 6, i.e. 0.06; 0.5 x 100 = 50 is exact (no note)
    assert len(notes) == 1 and "--real-fraction 0.055 " in notes[0] and notes[0].split("= ")[1].startswith("0.06 ")
