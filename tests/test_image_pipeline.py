"""The image-scale Reflow pipeline: CLI smoke run, kill/resume equality, torchrun (2 processes, gloo), NaN stop.

The runs here are CPU-sized: 8 x 8 digits and the ``tiny-8`` UNet. The feature classifier is trained once per
session into a shared cache folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from collapse_theory.cli.shell import main
from collapse_theory.train.image import distributed as D
from collapse_theory.train.image import pipeline as P
from collapse_theory.train.image.config import ImageReflowConfig, scale_config

REPO = Path(__file__).resolve().parents[1]

# a run of a few seconds: round 0 and one or two short rounds on 300 digits
MICRO = ["--n-train", "300", "--round0-steps", "60", "--steps", "40", "--batch-size", "32", "--n-pairs", "200",
         "--gen-steps", "4", "--n-eval", "64", "--eval-nfes", "1,2", "--checkpoint-every", "10", "--no-progress"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("featurenet-cache"))


def _env(cache_dir, **extra):
    env = dict(os.environ, COLLAPSE_THEORY_CACHE=cache_dir, PYTHONPATH=str(REPO))
    env.update(extra)
    return env


# `collapse-theory reflow ARGS` in a process that SIGKILLs itself through the pipeline's hooks (RunHooks): "k:s"
# right after training step s of round k (after its checkpoint), "pairs:k:i" right after pair shard i of round k
_KILLED_RUN = """
import functools, os, signal, sys
from collapse_theory.cli.shell import main
from collapse_theory.train.image import pipeline
from collapse_theory.train.image.hooks import RunHooks

where = sys.argv[1].split(":")
def die_at(*at):
    target = tuple(int(v) for v in where[-2:])
    return lambda *now: os.kill(os.getpid(), signal.SIGKILL) if tuple(now) == target else None
hooks = RunHooks(after_shard=die_at()) if where[0] == "pairs" else RunHooks(after_step=die_at())
pipeline.run = functools.partial(pipeline.run, hooks=hooks)
sys.exit(main(["reflow", *sys.argv[2:]]))
"""


def _cli(args, cache_dir, kill_at: str | None = None, **extra_env):
    command = [sys.executable, "-m", "collapse_theory", "reflow"] if kill_at is None else \
        [sys.executable, "-c", _KILLED_RUN, kill_at]
    return subprocess.run([*command, *args], env=_env(cache_dir, **extra_env), capture_output=True, text=True,
                          timeout=600)


# ------------------------------------------------------------------------------------------- the done-when smoke run

def test_cli_smoke_ra_two_rounds(tmp_path, cache_dir, capsys):
    """`collapse-theory reflow --dataset digits --scale smoke --method ra --rounds 2` end to end."""
    out = tmp_path / "smoke"
    os.environ["COLLAPSE_THEORY_CACHE"] = cache_dir
    try:
        rc = main(["reflow", "--dataset", "digits", "--scale", "smoke", "--method", "ra", "--rounds", "2",
                   "--out", str(out), "--no-progress"])
    finally:
        os.environ.pop("COLLAPSE_THEORY_CACHE", None)
    assert rc == 0
    printed = capsys.readouterr().out
    assert "FD-digitsnet" in printed and "real-vs-real" in printed
    frame = pd.read_csv(out / "metrics.csv")
    assert list(frame.columns) == ["dataset", "method", "real_fraction", "seed", "round", "sampler", "nfe", "metric",
                                   "value", "n_samples", "real_vs_real"]
    assert sorted(frame["round"].unique()) == [0, 1, 2]
    assert set(frame["sampler"]) >= {"euler1", "euler2", "euler4", "euler8", "euler16", "dopri5", "heun"}
    assert np.isfinite(frame["value"]).all()
    assert (frame["method"] == "ra").all() and (frame["real_fraction"] == 0.5).all()
    fd = frame[frame["metric"] == "FD-digitsnet"].set_index(["round", "sampler"])
    assert np.isfinite(fd["real_vs_real"]).all() and (fd["n_samples"] == 297).all()
    # round 0 learned the data: the 16-step FD is far below the 1-step FD (the mean image) of the same model
    assert fd.loc[(0, "euler16"), "value"] < fd.loc[(0, "euler1"), "value"] / 4
    # Reflow straightens: the 1-step FD of round 2 is far below that of round 0
    assert fd.loc[(2, "euler1"), "value"] < fd.loc[(0, "euler1"), "value"] / 4
    # real-pair inversion of the trained model: reverse-then-forward with 16 Euler steps reproduces real images to
    # well within the pixel variance, and the inverted noise has about unit variance
    var = float(np.var(np.load(out / "samples" / "round_0.npz")["euler16"] / 127.5 - 1))
    recon = frame[(frame["metric"] == "recon_mse")].set_index(["round", "sampler"])["value"]
    assert recon.loc[(2, "euler16")] < 0.01 * var
    latent = frame[(frame["metric"] == "latent_std") & (frame["sampler"] == "dopri5")]["value"]
    assert ((latent > 0.7) & (latent < 1.3)).all()
    # shapes on disk: pairs, real pairs (RA), sample grids, checkpoints loadable with weights_only
    real = P.load_checkpoint(out / "pairs" / "round_1" / "real.pt")["z"]
    assert real.shape == (1500, 1, 8, 8)
    synth = [P.load_checkpoint(p) for p in sorted((out / "pairs" / "round_2").glob("synth_*.pt"))]
    assert sum(s["z"].shape[0] for s in synth) == 1000 and synth[0]["x"].shape[1:] == (1, 8, 8)
    grids = np.load(out / "samples" / "round_2.npz")
    assert grids["euler16"].shape == (64, 8, 8, 1) and grids["euler16"].dtype == np.uint8
    assert (out / "samples" / "round_2.png").stat().st_size > 0
    state = torch.load(out / "checkpoints" / "round_2.pt", weights_only=True)
    assert set(state) >= {"model", "ema", "losses"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["method"] == "ra" and manifest["seed"] == 0 and "git_revision" in manifest
    assert manifest["versions"]["torch"]


# ------------------------------------------------------------------------------------------- resume

def test_killed_run_resumes_to_identical_metrics(tmp_path, cache_dir):
    """A run SIGKILLed mid-round (ORA, after a real-pair regeneration) and resumed equals an uninterrupted run."""
    args = MICRO + ["--method", "ora", "--rounds", "1", "--regen-every", "15", "--no-adaptive"]
    whole = _cli(args + ["--out", str(tmp_path / "whole")], cache_dir)
    assert whole.returncode == 0, whole.stderr
    killed = _cli(args + ["--out", str(tmp_path / "killed")], cache_dir, kill_at="1:25")
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "killed" / "checkpoints" / "round_1.pt").exists()
    assert (tmp_path / "killed" / "checkpoints" / "round_1_partial.pt").is_file()
    resumed = _cli(args + ["--out", str(tmp_path / "killed"), "--resume"], cache_dir)
    assert resumed.returncode == 0, resumed.stderr
    a = (tmp_path / "whole" / "metrics.csv").read_text()
    b = (tmp_path / "killed" / "metrics.csv").read_text()
    assert a == b
    wa = torch.load(tmp_path / "whole" / "checkpoints" / "round_1.pt", weights_only=True)["ema"]
    wb = torch.load(tmp_path / "killed" / "checkpoints" / "round_1.pt", weights_only=True)["ema"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_after_kill_in_round0_and_rerun_of_finished_run(tmp_path, cache_dir):
    args = MICRO + ["--method", "reflow", "--rounds", "1", "--no-adaptive"]
    killed = _cli(args + ["--out", str(tmp_path / "r")], cache_dir, kill_at="0:35")
    assert killed.returncode == -9
    assert _cli(args + ["--out", str(tmp_path / "r"), "--resume"], cache_dir).returncode == 0
    whole = _cli(args + ["--out", str(tmp_path / "w")], cache_dir)
    assert whole.returncode == 0
    assert (tmp_path / "r" / "metrics.csv").read_text() == (tmp_path / "w" / "metrics.csv").read_text()
    # resuming a finished run does nothing and keeps the metrics
    again = _cli(args + ["--out", str(tmp_path / "w"), "--resume"], cache_dir)
    assert again.returncode == 0
    assert (tmp_path / "r" / "metrics.csv").read_text() == (tmp_path / "w" / "metrics.csv").read_text()
    # a deliberately different run is not equal (the comparison above can fail)
    other = _cli(args + ["--out", str(tmp_path / "o"), "--seed", "1"], cache_dir)
    assert other.returncode == 0
    assert (tmp_path / "o" / "metrics.csv").read_text() != (tmp_path / "w" / "metrics.csv").read_text()


def test_resume_refuses_other_config_and_fresh_run_refuses_used_folder(tmp_path, cache_dir):
    args = MICRO + ["--method", "reflow", "--rounds", "0", "--no-adaptive"]
    assert _cli(args + ["--out", str(tmp_path / "r")], cache_dir).returncode == 0
    again = _cli(args + ["--out", str(tmp_path / "r")], cache_dir)
    assert again.returncode == 2 and "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    other = _cli(args + ["--out", str(tmp_path / "r"), "--resume", "--lr", "0.01"], cache_dir)
    assert other.returncode == 2 and "lr" in other.stderr


def test_round0_from_shares_the_1rf(tmp_path, cache_dir):
    base = MICRO + ["--rounds", "1", "--no-adaptive"]
    assert _cli(base + ["--method", "reflow", "--out", str(tmp_path / "reflow")], cache_dir).returncode == 0
    ra = _cli(base + ["--method", "ra", "--out", str(tmp_path / "ra"), "--round0-from", str(tmp_path / "reflow")],
              cache_dir)
    assert ra.returncode == 0, ra.stderr
    fa = pd.read_csv(tmp_path / "reflow" / "metrics.csv")
    fb = pd.read_csv(tmp_path / "ra" / "metrics.csv")
    r0a, r0b = fa[fa["round"] == 0], fb[fb["round"] == 0]
    assert np.array_equal(r0a["value"].to_numpy(), r0b["value"].to_numpy())
    assert (r0b["method"] == "ra").all()
    r1a, r1b = fa[fa["round"] == 1]["value"].to_numpy(), fb[fb["round"] == 1]["value"].to_numpy()
    assert not np.array_equal(r1a, r1b)                      # RA's real pairs change round 1
    bad = _cli(base + ["--method", "ra", "--lr", "0.01", "--out", str(tmp_path / "bad"),
                       "--round0-from", str(tmp_path / "reflow")], cache_dir)
    assert bad.returncode == 2 and "round0-from" in bad.stderr and "lr" in bad.stderr


# ------------------------------------------------------------------------------------------- distributed

def test_torchrun_two_processes_gloo(tmp_path, cache_dir):
    """DDP on the CPU: 2 processes (gloo) train, split generation and inversion, and end with equal replicas."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "collapse_theory", "reflow", *MICRO, "--method", "ora", "--rounds", "1", "--regen-every", "15",
           "--no-adaptive", "--out", str(out)]
    res = subprocess.run(cmd, env=_env(cache_dir, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    frame = pd.read_csv(out / "metrics.csv")
    assert sorted(frame["round"].unique()) == [0, 1] and np.isfinite(frame["value"]).all()
    assert len(list((out / "pairs" / "round_1").glob("synth_*.pt"))) == 1   # 200 pairs in one shard of 500
    assert P.load_checkpoint(out / "pairs" / "round_1" / "real.pt")["z"].shape == (300, 1, 8, 8)


def test_row_blocks_partition_the_rows():
    for total in (0, 1, 7, 300, 301):
        for world in (1, 2, 3, 8):
            blocks = [D.row_block(total, r, world) for r in range(world)]
            assert blocks[0][0] == 0 and blocks[-1][1] == total
            assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
            sizes = [b - a for a, b in blocks]
            assert max(sizes) - min(sizes) <= 1


# ------------------------------------------------------------------------------------------- robustness

def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, cache_dir, monkeypatch, capsys):
    from collapse_theory.train.image import training

    real_loss = training.rf_loss
    calls = {"n": 0}

    def exploding(net, x0, x1, t, *args, **kwargs):
        calls["n"] += 1
        loss = real_loss(net, x0, x1, t, *args, **kwargs)
        return loss * float("nan") if calls["n"] > 23 else loss

    monkeypatch.setattr(training, "rf_loss", exploding)
    monkeypatch.setenv("COLLAPSE_THEORY_CACHE", cache_dir)
    out = tmp_path / "nan"
    rc = main(["reflow", *MICRO, "--method", "reflow", "--rounds", "1", "--out", str(out), "--no-adaptive"])
    err = capsys.readouterr().err.strip()
    assert rc == 3
    assert len(err.splitlines()) == 1 and "round 0, step 24" in err and "last good checkpoint" in err
    partial = out / "checkpoints" / "round_0_partial.pt"
    state = torch.load(partial, weights_only=True)
    assert state["step"] == 20 and all(np.isfinite(state["losses"]))
    assert all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize("flags, flag", [
    (["--method", "sideways"], "--method"),
    (["--method", "ra", "--real-fraction", "1.5"], "--real-fraction"),
    (["--method", "reflow", "--real-fraction", "0.5"], "--real-fraction"),
    (["--dataset", "cifar10"], "--data-root"),
    (["--scale", "huge"], "--scale"),
    (["--rounds", "-1"], "--rounds"),
    (["--eval-nfes", "1,x"], "--eval-nfes"),
    (["--unet", "nonesuch"], "--unet"),
    (["--lr", "nan"], "--lr"),
    (["--device", "tpu"], "--device"),
])
def test_bad_input_one_line_exit_2(tmp_path, cache_dir, capsys, monkeypatch, flags, flag):
    monkeypatch.setenv("COLLAPSE_THEORY_CACHE", cache_dir)
    rc = main(["reflow", *MICRO, *flags, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and flag in err, err


def test_missing_data_names_the_path(tmp_path, capsys):
    rc = main(["reflow", "--dataset", "fashion", "--data-path", str(tmp_path / "nowhere.npz"), "--out",
               str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "nowhere.npz" in err and "--data-path" in err


# ------------------------------------------------------------------------------------------- pieces

def test_rf_loss_is_the_mean_squared_velocity_error():
    class Const(torch.nn.Module):
        def forward(self, x, t):
            return torch.full_like(x, 0.25) * t.reshape(-1, 1, 1, 1)

    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(5, 1, 4, 4, generator=g), torch.randn(5, 1, 4, 4, generator=g)
    t = torch.rand(5, generator=g)
    expected = ((x1 - x0 - 0.25 * t.reshape(-1, 1, 1, 1)) ** 2).mean()
    assert torch.allclose(P.rf_loss(Const(), x0, x1, t, reduction="mean"), expected)
    wrong = ((x1 - x0 - 0.25 * (1 - t).reshape(-1, 1, 1, 1)) ** 2).mean()   # the t=0-is-data convention
    assert not torch.allclose(P.rf_loss(Const(), x0, x1, t, reduction="mean"), wrong)
    # the norm-squared reduction of the toy pipeline is the per-pixel loss times D = 16
    assert torch.allclose(P.rf_loss(Const(), x0, x1, t), 16 * expected)


def test_ema_update_formula():
    net = torch.nn.Linear(3, 2)
    ema = P.EMA(net, 0.9)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net)
    for b, e, p in zip(before, ema.model.parameters(), net.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * p)


def test_seeds_are_stable_and_distinct():
    assert P.derive_seed(0, "step", 1, 2, 0) == P.derive_seed(0, "step", 1, 2, 0)
    seeds = {P.derive_seed(0, "step", k, s, r) for k in range(3) for s in range(50) for r in range(2)}
    assert len(seeds) == 300


def test_scale_presets_validate_and_overrides_apply():
    for scale in ("smoke", "small"):
        cfg = scale_config(scale)
        assert cfg.scale == scale
    cfg = scale_config("smoke", method="ra", rounds=3)
    assert cfg.real_fraction == 0.5 and cfg.rounds == 3
    with pytest.raises(ValueError, match="^data_root"):
        scale_config("paper")
    assert scale_config("paper", data_root="/nowhere").unet == "cifar-36m"
    with pytest.raises(ValueError, match="^nonesuch"):
        scale_config("smoke", nonesuch=1)
    assert ImageReflowConfig.from_dict(cfg.to_dict()) == cfg


def test_ora_without_regeneration_is_ra_and_oras_perturbs_the_real_pairs(tmp_path, cache_dir):
    """ora with regen_every >= steps never regenerates, so it is exactly ra; oras's stochastic reverse pass gives
    real pairs near, but not equal to, ra's deterministic ones (noise scale 1e-3 per sqrt(step), jitter 10 %)."""
    base = MICRO + ["--rounds", "1", "--no-adaptive"]
    assert _cli(base + ["--method", "reflow", "--out", str(tmp_path / "r0")], cache_dir).returncode == 0
    runs = {}
    for method, extra in (("ra", []), ("ora", ["--regen-every", "40"]), ("oras", [])):
        res = _cli(base + ["--method", method, *extra, "--out", str(tmp_path / method),
                           "--round0-from", str(tmp_path / "r0")], cache_dir)
        assert res.returncode == 0, res.stderr
        runs[method] = pd.read_csv(tmp_path / method / "metrics.csv")
    assert np.array_equal(runs["ra"]["value"].to_numpy(), runs["ora"]["value"].to_numpy())
    z_ra = P.load_checkpoint(tmp_path / "ra" / "pairs" / "round_1" / "real.pt")["z"]
    z_oras = P.load_checkpoint(tmp_path / "oras" / "pairs" / "round_1" / "real.pt")["z"]
    gap = float((z_ra - z_oras).abs().max())
    assert 0 < gap < 0.5
    assert np.isfinite(runs["oras"]["value"]).all()


def test_run_killed_during_pair_generation_resumes_shard_by_shard(tmp_path, cache_dir):
    """Killed after the first of four synthetic-pair shards: the resumed run keeps that shard, writes the other
    three, and ends with the metrics of an uninterrupted run."""
    args = MICRO + ["--method", "reflow", "--rounds", "1", "--no-adaptive", "--shard-size", "50"]
    killed = _cli(args + ["--out", str(tmp_path / "k")], cache_dir, kill_at="pairs:1:0")
    assert killed.returncode == -9
    shards = sorted((tmp_path / "k" / "pairs" / "round_1").glob("synth_*.pt"))
    assert [p.name for p in shards] == ["synth_00000.pt"]
    first = shards[0].stat().st_mtime_ns
    assert _cli(args + ["--out", str(tmp_path / "k"), "--resume"], cache_dir).returncode == 0
    assert (tmp_path / "k" / "pairs" / "round_1" / "synth_00000.pt").stat().st_mtime_ns == first   # kept
    assert len(list((tmp_path / "k" / "pairs" / "round_1").glob("synth_*.pt"))) == 4
    whole = _cli(args + ["--out", str(tmp_path / "w")], cache_dir)
    assert whole.returncode == 0
    assert (tmp_path / "k" / "metrics.csv").read_text() == (tmp_path / "w" / "metrics.csv").read_text()


def test_resume_with_more_rounds_extends_the_run(tmp_path, cache_dir):
    """A finished run resumed with a larger --rounds continues; it equals a run made with that many rounds."""
    args = MICRO + ["--method", "ra", "--no-adaptive"]
    assert _cli(args + ["--rounds", "0", "--out", str(tmp_path / "x")], cache_dir).returncode == 0
    assert _cli(args + ["--rounds", "1", "--out", str(tmp_path / "x"), "--resume"], cache_dir).returncode == 0
    assert _cli(args + ["--rounds", "1", "--out", str(tmp_path / "y")], cache_dir).returncode == 0
    assert (tmp_path / "x" / "metrics.csv").read_text() == (tmp_path / "y" / "metrics.csv").read_text()
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["config"]["rounds"] == 1 and len(manifest["resumed"]) == 1
    fewer = _cli(args + ["--rounds", "0", "--out", str(tmp_path / "x"), "--resume"], cache_dir)
    assert fewer.returncode == 2 and "--rounds" in fewer.stderr
