"""Reliability of the image pipeline's run folder (issue 13): one writer at a time, no folder left by a failed
start, corrupt files named with what to do, a cut metrics.csv rebuilt, resume flags that may change.

Every case starts from a copy of one finished CPU micro run (8 x 8 digits, tiny UNet, round 0 and one RA round).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from collapse_theory.cli.shell import main
from collapse_theory.outputs import FolderLockedError, lock_folder
from collapse_theory.train.image import pipeline
from collapse_theory.train.image.config import scale_config
from collapse_theory.train.image.hooks import RunHooks

REPO = Path(__file__).resolve().parents[1]
MICRO = ["--n-train", "300", "--round0-steps", "40", "--steps", "30", "--batch-size", "32", "--n-pairs", "200",
         "--shard-size", "100", "--gen-steps", "4", "--n-eval", "64", "--eval-nfes", "1,2", "--checkpoint-every",
         "10", "--no-adaptive", "--no-progress", "--method", "ra", "--rounds", "1"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(run folder, the CLI arguments that made it): a finished run, never modified (tests copy it)."""
    root = tmp_path_factory.mktemp("finished")
    args = MICRO + ["--cache-dir", str(root / "cache")]
    assert main(["reflow", *args, "--out", str(root / "run")]) == 0
    return root / "run", args


@pytest.fixture
def run(finished, tmp_path):
    """A copy of the finished run and its arguments (with --out)."""
    source, args = finished
    target = tmp_path / "run"
    shutil.copytree(source, target)
    return target, args + ["--out", str(target)]


def _resume(args, capsys):
    rc = main(["reflow", *args, "--resume"])
    return rc, capsys.readouterr().err.strip()


def _ema(path: Path) -> dict:
    return torch.load(path, weights_only=True)["ema"]


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _ema(a), _ema(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _forget(folder: Path, *stages: str) -> None:
    state = json.loads((folder / "state.json").read_text())
    state["completed"] = [s for s in state["completed"] if s not in stages]
    (folder / "state.json").write_text(json.dumps(state))


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ------------------------------------------------------------------------------------------- item 1: one writer

def test_a_second_writer_is_refused_and_a_killed_writers_lock_does_not_block(run, finished, capsys):
    folder, args = run
    before = (folder / "metrics.csv").read_bytes()
    held = lock_folder(folder)                       # a live writer holds the run folder
    try:
        rc, err = _resume(args, capsys)
    finally:
        held.release()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "--out" in err and "another process" in err and ".lock" in err
    assert (folder / "metrics.csv").read_bytes() == before
    with pytest.raises(FolderLockedError, match="^out"):
        with lock_folder(folder):
            lock_folder(folder)
    # a writer killed while holding the lock: the kernel drops its flock, so the next run is not blocked
    killer = ("import os, signal, sys; from collapse_theory.outputs import lock_folder; lock_folder(sys.argv[1]); "
              "os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", killer, str(folder)], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, timeout=120)
    assert proc.returncode == -9 and (folder / ".lock").is_file()
    rc, err = _resume(args, capsys)
    assert rc == 0, err
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()


def test_lock_is_held_for_the_runs_life(tmp_path):
    """While run() trains, another writer cannot take the folder's lock; after it ends, it can."""
    seen = []

    def try_lock(k, done):
        if k == 0 and done == 5:
            try:
                lock_folder(tmp_path / "r").release()
                seen.append("acquired")
            except FolderLockedError:
                seen.append("refused")

    cfg = scale_config("smoke", method="reflow", rounds=0, n_train=300, round0_steps=5, batch_size=16, n_eval=32,
                       eval_nfes=(1,), adaptive=False, progress=False, cache_dir=str(tmp_path / "cache"))
    pipeline.run(cfg, tmp_path / "r", hooks=RunHooks(after_step=try_lock))
    assert seen == ["refused"]
    lock_folder(tmp_path / "r").release()


# ------------------------------------------------------------------------------------------- item 2: failed starts

@pytest.mark.parametrize("flags, flag", [
    (["--dataset", "fashion", "--data-path", "{tmp}/nowhere.npz"], "--data-path"),
    (["--unet", "nonesuch"], "--unet"),
    (["--round0-from", "{tmp}/no-such-run"], "--round0-from"),
    (["--inception-weights", "{tmp}/no-such-weights.pt"], "--inception-weights"),
])
def test_a_failed_start_leaves_no_folder_behind(tmp_path, capsys, flags, flag):
    out = tmp_path / "new"
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    rc = main(["reflow", *MICRO, "--cache-dir", str(tmp_path / "cache"), *flags, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert flag in err or flag[2:].replace("-", "_") in err, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []      # no half-built sibling


def test_round0_from_with_a_corrupt_checkpoint_fails_before_the_folder(run, tmp_path, capsys):
    folder, args = run
    _truncate(folder / "checkpoints" / "round_0.pt")
    out = tmp_path / "other"
    rc = main(["reflow", *MICRO, "--cache-dir", str(tmp_path / "cache"), "--round0-from", str(folder), "--out",
               str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--round0-from" in err and "round_0.pt" in err, err
    assert not out.exists()


# ------------------------------------------------------------------------------------------- item 4: corrupt files

@pytest.mark.parametrize("name, damage", [
    ("checkpoints/round_1.pt", "truncate"), ("checkpoints/round_1.pt", "empty"),
    ("checkpoints/round_0.pt", "truncate"),
])
def test_a_corrupt_round_checkpoint_is_named_and_deleting_it_retrains_the_same_round(run, finished, capsys, name,
                                                                                      damage):
    folder, args = run
    path = folder / name
    _truncate(path, 0.5 if damage == "truncate" else 0.0)
    rc, err = _resume(args, capsys)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert str(path) in err and "delete it to train round" in err
    path.unlink()
    rc, err = _resume(args, capsys)
    assert rc == 0, err
    assert _same_weights(path, finished[0] / name)
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()


def test_a_missing_checkpoint_that_state_calls_done_is_trained_again(run, finished, capsys):
    folder, args = run
    (folder / "checkpoints" / "round_1.pt").unlink()
    rc, err = _resume(args, capsys)
    assert rc == 0 and "round_1.pt is missing" in err and "training it again" in err
    assert _same_weights(folder / "checkpoints" / "round_1.pt", finished[0] / "checkpoints" / "round_1.pt")


@pytest.mark.parametrize("shard", ["synth_00001.pt", "real.pt"])
def test_a_truncated_pair_shard_is_named_and_regenerated_when_deleted(run, finished, capsys, shard):
    folder, args = run
    (folder / "checkpoints" / "round_1.pt").unlink()
    _forget(folder, "round1/train", "round1/eval")
    path = folder / "pairs" / "round_1" / shard
    _truncate(path)
    rc, err = _resume(args, capsys)
    assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err, err
    assert ("generate that shard again" if shard.startswith("synth") else "invert the real images again") in err
    path.unlink()
    rc, err = _resume(args, capsys)
    assert rc == 0, err
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()


def test_a_truncated_partial_checkpoint_is_named_and_deleting_it_restarts_the_round(tmp_path, finished, capsys):
    source, args = finished
    out = tmp_path / "cut"

    class Stop(Exception):
        pass

    def stop(k, done):
        if (k, done) == (1, 20):
            raise Stop

    real_run = pipeline.run               # the CLI builds the config; these hooks stop it mid-round
    pipeline.run = lambda *a, **kw: real_run(*a, hooks=RunHooks(after_step=stop), **kw)
    try:
        with pytest.raises(Stop):
            main(["reflow", *args, "--out", str(out)])
    finally:
        pipeline.run = real_run
    partial = out / "checkpoints" / "round_1_partial.pt"
    assert partial.is_file()
    _truncate(partial)
    rc, err = _resume(args + ["--out", str(out)], capsys)
    assert rc == 2 and str(partial) in err and "restart round 1's training" in err, err
    partial.unlink()
    rc, err = _resume(args + ["--out", str(out)], capsys)
    assert rc == 0, err
    assert (out / "metrics.csv").read_bytes() == (source / "metrics.csv").read_bytes()


@pytest.mark.parametrize("name, text", [("state.json", "{garbage"), ("state.json", "[1, 2]"),
                                        ("state.json", '{"completed": 3}'), ("manifest.json", ""),
                                        ("manifest.json", '{"config": null}')])
def test_garbage_json_names_the_file(run, capsys, name, text):
    folder, args = run
    (folder / name).write_text(text)
    rc, err = _resume(args, capsys)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert str(folder / name) in err and "--out" in err
    assert ("recompute the run" in err) if name == "state.json" else ("another --out" in err)


@pytest.mark.parametrize("keep", [0.6, 0.97])
def test_a_truncated_metrics_csv_of_a_finished_run_is_rebuilt(run, finished, capsys, keep):
    """Cut mid-line (0.97: inside the last row) or dropping whole rows of round 1: the rows the state recorded
    are missing, so the damaged rounds are evaluated again, to the same bytes."""
    folder, args = run
    _truncate(folder / "metrics.csv", keep)
    rc, err = _resume(args, capsys)
    assert rc == 0, err
    assert "metrics.csv is missing rows" in err
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()


def test_a_metrics_csv_cut_at_a_line_end_is_detected_from_the_row_counts(run, finished, capsys):
    folder, args = run
    lines = (folder / "metrics.csv").read_text().splitlines(keepends=True)
    (folder / "metrics.csv").write_text("".join(lines[:-2]))       # whole lines gone: only the counts can tell
    rc, err = _resume(args, capsys)
    assert rc == 0 and "round(s) 1" in err, err
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()


# ------------------------------------------------------------------------------------------- item 11: resume flags

def test_resume_with_other_machine_flags_is_allowed_recorded_and_trains_nothing(run, finished, tmp_path, capsys):
    """--cache-dir, --threads and --device choose the machine, not the numbers: a finished run resumed with them
    changed does no work (no feature classifier is trained into the new cache) and the manifest records them."""
    folder, args = run
    new_cache = tmp_path / "new-cache"
    changed = [a for a in args]
    changed[changed.index("--cache-dir") + 1] = str(new_cache)
    rc, err = _resume(changed + ["--threads", "2", "--device", "cpu"], capsys)
    assert rc == 0, err
    assert not new_cache.exists() or not any(new_cache.iterdir())
    entry = json.loads((folder / "manifest.json").read_text())["resumed"][-1]
    assert entry["changed"]["cache_dir"][1] == str(new_cache) and entry["changed"]["threads"] == [1, 2]
    assert (folder / "metrics.csv").read_bytes() == (finished[0] / "metrics.csv").read_bytes()
