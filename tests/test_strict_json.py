"""Strict JSON everywhere the toolkit writes JSON (issue 13 item 9): no writer emits ``NaN``/``Infinity`` tokens.

One test per writer: a NaN (and an infinity) input either raises a ValueError naming the entry and writes nothing,
or, where the writer documents that a non-finite number legitimately occurs, writes ``null`` in JSON that a strict
parser (``json.loads`` with a ``parse_constant`` that refuses every constant) reads.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from collapse_theory.outputs import (NonFiniteJSONError, check_strict_json_text, nonfinite_entries, strict_json,
                                     write_with_manifest)

REPO = Path(__file__).resolve().parents[1]
BAD = [float("nan"), float("inf"), -float("inf")]


def _refuse(token):
    raise AssertionError(f"non-strict JSON token {token}")


def strict_loads(text: str):
    """``json.loads`` that fails on ``NaN``, ``Infinity`` and ``-Infinity``."""
    return json.loads(text, parse_constant=_refuse)


def _load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_strict_parser_of_these_tests_rejects_what_json_dumps_writes_by_default():
    for bad in BAD:
        with pytest.raises(AssertionError, match="non-strict"):
            strict_loads(json.dumps({"x": bad}))


# ------------------------------------------------------------------------------------------------ outputs

@pytest.mark.parametrize("bad", BAD)
def test_strict_json_names_the_entry_and_its_value(bad):
    payload = {"config": {"lr": 0.1, "grid": [1.0, bad]}, "seed": 3}
    with pytest.raises(NonFiniteJSONError, match=r"^the manifest: config\.grid\[1\] is (nan|inf|-inf); strict JSON"):
        strict_json(payload, what="the manifest")
    assert isinstance(NonFiniteJSONError("x"), ValueError)      # the CLI shell's one-line path


def test_strict_json_null_mode_writes_null_and_leaves_finite_values_byte_identical():
    payload = {"a": [1.5, float("nan")], "b": (2, np.float64(np.inf)), "c": {"d": np.float32(0.25)}}
    text = strict_json(payload, nonfinite="null", default=float)
    assert strict_loads(text) == {"a": [1.5, None], "b": [2, None], "c": {"d": 0.25}}
    finite = {"x": [1.0, 2.5e-300, 7], "y": "s", "z": None, "t": True}
    assert strict_json(finite, indent=2) == json.dumps(finite, indent=2)
    with pytest.raises(ValueError, match="nonfinite must be"):
        strict_json(finite, nonfinite="drop")


def test_strict_json_catches_a_nan_made_by_the_default_conversion():
    # json.dumps(default=float) turns np.float32(nan) into a float NaN only while encoding; the check sees it too
    assert nonfinite_entries({"k": np.float32("nan")}, default=float) == [("k", pytest.approx(math.nan, nan_ok=True))]
    with pytest.raises(NonFiniteJSONError, match="k is nan"):
        strict_json({"k": np.float32("nan")}, default=float)
    assert strict_loads(strict_json({"k": np.float32("nan")}, default=str)) == {"k": "nan"}   # a string is valid


def test_check_strict_json_text():
    check_strict_json_text('{"a": [1, null]}')
    for token in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(NonFiniteJSONError, match=f"the token {token}"):
            check_strict_json_text(f'{{"a": {token}}}', what="out.json")
    with pytest.raises(ValueError, match="not valid JSON"):
        check_strict_json_text("{", what="out.json")


@pytest.mark.parametrize("bad", BAD)
def test_write_with_manifest_refuses_a_nonfinite_manifest_before_writing_anything(tmp_path, bad):
    target = tmp_path / "result.csv"
    with pytest.raises(NonFiniteJSONError, match=r"result\.csv: config\.sigma2 is"):
        write_with_manifest(target, "a,b\n1,2\n", {"config": {"sigma2": bad}})
    assert list(tmp_path.iterdir()) == []
    path, side = write_with_manifest(target, "a,b\n1,2\n", {"config": {"sigma2": 0.1}})
    assert strict_loads(side.read_text()) == {"config": {"sigma2": 0.1}}


def test_write_with_manifest_refuses_json_text_with_nan_tokens(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(NonFiniteJSONError, match="result.json: the JSON holds the token NaN"):
        write_with_manifest(target, json.dumps({"x": float("nan")}), {"config": {}})
    assert list(tmp_path.iterdir()) == []
    write_with_manifest(target, strict_json({"x": float("nan")}, nonfinite="null"), {"config": {}})
    assert strict_loads(target.read_text()) == {"x": None}


# ------------------------------------------------------------------------------------- train/image run folder

def test_run_folder_state_json_is_strict(tmp_path):
    from collapse_theory.train.image.rundir import RunFolder

    folder = RunFolder(tmp_path)
    folder.write_state({"completed": ["round0/train"], "metric_rows": {"0": 12}})
    assert strict_loads(folder.state_path.read_text())["metric_rows"] == {"0": 12}
    for bad in BAD:
        with pytest.raises(NonFiniteJSONError, match=r"state\.json: metric_rows\.0 is"):
            folder.write_state({"completed": [], "metric_rows": {"0": bad}})
    assert strict_loads(folder.state_path.read_text())["completed"] == ["round0/train"]   # the old file is intact


def test_run_folder_manifest_json_is_strict():
    from collapse_theory.train.image.pipeline import manifest_json

    manifest = {"config": {"lr": 2e-4, "out": Path("/x")}, "seed": 0}
    assert strict_loads(manifest_json(manifest)) == {"config": {"lr": 2e-4, "out": "/x"}, "seed": 0}
    for bad in BAD:
        with pytest.raises(NonFiniteJSONError, match=r"manifest\.json: config\.lr is"):
            manifest_json({"config": {"lr": bad}})


def test_feature_net_meta_json_is_strict(tmp_path):
    from collapse_theory.train.image.features import write_meta

    path = write_meta(tmp_path / "featurenet.json", {"test_accuracy": 0.97, "train_seconds": 1.5})
    assert strict_loads(path.read_text()) == {"test_accuracy": 0.97, "train_seconds": 1.5}
    for bad in BAD:
        with pytest.raises(NonFiniteJSONError, match=r"featurenet-bad\.json: test_accuracy is"):
            write_meta(tmp_path / "featurenet-bad.json", {"test_accuracy": bad})
    assert not (tmp_path / "featurenet-bad.json").exists()


# ------------------------------------------------------------------------------- documented nulls: results

def test_image_decisions_json_writes_nonfinite_evidence_as_null():
    from collapse_theory.experiments.reflow_decisions import decisions_json

    doc = {"seconds": 1.0, "checks": [{"status": "fail", "evidence": {"fd": np.float64("nan"), "z": (1.0, np.inf)},
                                       "p_value": float("nan"), "seeds": (0, np.int64(1))}]}
    parsed = strict_loads(decisions_json(doc))
    assert parsed["checks"][0] == {"status": "fail", "evidence": {"fd": None, "z": [1.0, None]}, "p_value": None,
                                   "seeds": [0, 1]}


def test_batched_dae_benchmark_json_writes_a_diverged_error_as_null():
    module = _load_file("bench_batched_dae", REPO / "benchmarks" / "batched_dae.py")
    payload = {"speed": [{"ratio": 3.0}], "time_to_accuracy": [{"method": "gd", "max_rel_err": float("inf")},
                                                               {"method": "adam", "max_rel_err": float("nan")}]}
    parsed = strict_loads(module.benchmark_json(payload))
    assert [r["max_rel_err"] for r in parsed["time_to_accuracy"]] == [None, None]
    assert parsed["speed"] == [{"ratio": 3.0}]


def test_seed_batching_benchmark_json_writes_nonfinite_as_null():
    module = _load_file("bench_seed_batching", REPO / "benchmarks" / "seed_batching.py")
    parsed = strict_loads(module.benchmark_json({"machine": {"load": (1.0, float("nan"))},
                                                 "results": [{"seconds": float("inf")}]}))
    assert parsed == {"machine": {"load": [1.0, None]}, "results": [{"seconds": None}]}


def test_gpu_benchmark_summary_json_writes_nonfinite_as_null(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from gpu.report import summary_json

    summary = {"fashion": {"fd": [np.float32("nan"), 1.25]}, "throughput": {"ours": {"train_img_s": float("inf")}},
               "csv": Path("/tmp/x.csv")}
    assert strict_loads(summary_json(summary)) == {"fashion": {"fd": [None, 1.25]},
                                                   "throughput": {"ours": {"train_img_s": None}},
                                                   "csv": "/tmp/x.csv"}
