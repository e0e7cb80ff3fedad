"""Trained flows (collapse_theory.train.flow.reflow), their metrics and the toy data: shapes, determinism, the
documented equalities between methods, bad input. Tiny configurations only (the default suite stays fast);
the trained-tier checks themselves run in a subprocess (slow)."""

import functools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from collapse_theory.data import toy2d
from collapse_theory.theory.spectral import gaussian_w2
from collapse_theory.train.flow import metrics as flow_metrics
from collapse_theory.train.flow.reflow import (
    FRAME_COLUMNS,
    PairSource,
    ReflowConfig,
    VelocityMLP,
    make_model,
    rf_loss,
    run_reflow,
    wide_table,
)

TINY = dict(data="gaussian", dim=2, rounds=2, steps=25, round0_steps=40, batch_size=32, n_real=64, n_synth=64,
            width=16, depth=2, n_eval=40, eval_steps=(1, 2), dopri5=False, straightness_times=2, gen_steps=4)


def values(frame):
    return frame.drop(columns=["method", "real_fraction"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------- toy data

@pytest.mark.parametrize("name", toy2d.DATASETS)
def test_toy_samplers_shapes_and_seeds(name):
    a = toy2d.sample(name, 500, seed=3)
    assert a.shape == (500, 2) and a.dtype == np.float64 and np.all(np.isfinite(a))
    assert np.array_equal(a, toy2d.sample(name, 500, seed=3))
    assert not np.array_equal(a, toy2d.sample(name, 500, seed=4))


def test_toy_sampler_geometry():
    ring = toy2d.sample("ring8", 4000, seed=0)
    radius = np.linalg.norm(ring, axis=1)
    assert abs(np.median(radius) - toy2d.RING_RADIUS) < 0.1
    board = toy2d.sample("checkerboard", 4000, seed=0) / 2.0
    assert np.all(np.abs(board) <= 2.0)
    cells = (np.floor(board[:, 0]) + np.floor(board[:, 1])) % 2
    assert np.all(cells == cells[0])                           # only one colour of squares
    x = toy2d.sample("gaussian", 200_000, seed=1, dim=3)
    mean, cov = toy2d.gaussian_parameters(3)
    assert np.allclose(x.mean(axis=0), mean, atol=0.02) and np.allclose(np.cov(x, rowvar=False), cov, atol=0.05)


@pytest.mark.parametrize("kwargs,first", [
    (dict(data="spiral", n=5), "data"), (dict(data="ring8", n=5, dim=3), "dim"), (dict(data="moons", n=0), "n"),
    (dict(data="gaussian", n=5, seed=-1), "seed"),
])
def test_toy_bad_input(kwargs, first):
    with pytest.raises(ValueError) as info:
        toy2d.sample(**kwargs)
    assert str(info.value).startswith(first)


# ----------------------------------------------------------------------------------------------- metrics

def test_empirical_w2_exact_cases():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 2))
    assert flow_metrics.empirical_w2(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([0.3, -0.4])
    assert flow_metrics.empirical_w2(a, a + shift) == pytest.approx(0.5, rel=1e-9)   # W2, not W2^2
    b = a[rng.permutation(60)]
    assert flow_metrics.empirical_w2(a, b) == pytest.approx(0.0, abs=1e-6)   # sqrt of a rounding-size W2^2
    with pytest.raises(ValueError, match="^b must"):
        flow_metrics.empirical_w2(a, np.ones((3, 3)))


def test_gaussian_fit_w2_and_errors():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 2)) * [2.0, 0.5] + [1.0, -1.0]
    m, c = x.mean(axis=0), np.cov(x, rowvar=False)
    assert flow_metrics.gaussian_fit_w2(x, m, c) == pytest.approx(0.0, abs=1e-6)
    assert flow_metrics.gaussian_fit_w2(x, np.zeros(2), np.eye(2)) == pytest.approx(
        float(gaussian_w2(c, np.eye(2), m, np.zeros(2))))
    me, ce = flow_metrics.mean_cov_errors(x, m + [3.0, 4.0], c)
    assert me == pytest.approx(5.0) and ce == pytest.approx(0.0, abs=1e-12)


def test_straightness_estimator_against_closed_form():
    """The Monte-Carlo straightness of the closed-form Gaussian velocity field matches the closed form
    (docs/derivations/gaussian-flow.md section 4) within 5 %; a constant field is exactly straight."""
    from collapse_theory.theory.flow import gaussian as gf

    mean, cov = toy2d.gaussian_parameters(2)
    ends = gf.GaussianEndpoints(np.zeros(2), np.eye(2), mean, cov)

    @functools.lru_cache(maxsize=None)
    def affine(t: float):
        A, b = gf.velocity_affine(ends, t)
        return torch.as_tensor(A).T, torch.as_tensor(b)

    def field(x, t):
        At, b = affine(float(t))
        return x @ At + b

    z = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = flow_metrics.straightness(field, z, n_times=64, substeps=4, generator=torch.Generator().manual_seed(1))
    assert s == pytest.approx(gf.straightness(ends), rel=0.05)
    const = flow_metrics.straightness(lambda x, t: torch.ones_like(x), z, n_times=4)
    assert const == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------------------------- network, loss, batches

def test_velocity_mlp_time_forms():
    net = make_model(3, width=8, depth=2, seed=0)
    x = torch.randn(5, 3)
    a = net(x, 0.3)
    b = net(x, torch.tensor(0.3))
    c = net(x, torch.full((5,), 0.3))
    assert a.shape == (5, 3) and torch.allclose(a, b) and torch.allclose(a, c)
    assert torch.equal(make_model(3, 8, 2, seed=0)(x, 0.3), a)
    with pytest.raises(ValueError, match="^t must"):
        net(x, torch.zeros(4))
    with pytest.raises(ValueError, match="^width"):
        VelocityMLP(2, width=0)


def test_rf_loss_is_zero_for_the_true_straight_velocity():
    c = torch.tensor([1.0, -2.0])
    x0 = torch.randn(10, 2)
    loss = rf_loss(lambda x, t: c.expand_as(x), x0, x0 + c, torch.rand(10))
    assert float(loss) == pytest.approx(0.0, abs=1e-12)
    penalised = rf_loss(lambda x, t: c.expand_as(x), x0, x0 + c, torch.rand(10), velocity_penalty=0.5)
    assert float(penalised) == pytest.approx(0.5 * 5.0, rel=1e-6)


@pytest.mark.parametrize("fraction,expected", [(0.0, 0), (0.5, 16), (0.1, 3), (1.0, 32)])
def test_pair_source_mixes_round_lambda_b_real_pairs(fraction, expected):
    real_x = torch.full((50, 2), -100.0)
    source = PairSource(real_x=real_x, real_z=torch.zeros(50, 2), synth_z=torch.zeros(70, 2),
                        synth_x=torch.full((70, 2), 100.0), real_fraction=fraction)
    x0, x1 = source.batch(32, torch.Generator().manual_seed(0))
    assert x1.shape == (32, 2)
    assert int((x1[:, 0] < 0).sum()) == expected                  # round(lambda B) real pairs per minibatch
    if 0 < expected < 32:
        assert not torch.all(x1[:expected, 0] < 0)                 # ... shuffled, not stacked first


def test_pair_source_mixes_image_shaped_pairs_and_1rf_pairs():
    """The one mixer serves the image pipeline too: (n, C, H, W) pairs, round(alpha B) real per batch."""
    real_x = torch.full((40, 1, 4, 4), -1.0)
    source = PairSource(real_x=real_x, real_z=torch.zeros(40, 1, 4, 4), synth_z=torch.zeros(30, 1, 4, 4),
                        synth_x=torch.full((30, 1, 4, 4), 1.0), real_fraction=0.25)
    x0, x1 = source.batch(10, torch.Generator().manual_seed(1))
    assert x0.shape == x1.shape == (10, 1, 4, 4)
    assert int((x1[:, 0, 0, 0] < 0).sum()) == 3                   # floor(0.25 * 10 + 1/2) = 3, not int(2.5) = 2
    x0, x1 = PairSource(real_x=real_x, independent=True).batch(10, torch.Generator().manual_seed(1))
    assert (x1 == -1).all() and float(x0.std()) > 0.5             # 1-RF: real x1, fresh N(0, I) noise x0
    again = PairSource(real_x=real_x, independent=True).batch(10, torch.Generator().manual_seed(1))[0]
    assert torch.equal(x0, again)                                  # a seed gives the same batch


def test_rf_loss_reductions_and_ema():
    from collapse_theory.train.flow.blocks import EMA

    g = torch.Generator().manual_seed(0)
    x0, x1, t = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g), torch.rand(6, generator=g)
    zero = lambda x, tt: torch.zeros_like(x)                       # noqa: E731
    assert torch.allclose(rf_loss(zero, x0, x1, t), ((x1 - x0) ** 2).sum(1).mean())
    assert torch.allclose(rf_loss(zero, x0, x1, t, reduction="mean"), ((x1 - x0) ** 2).mean())
    with pytest.raises(ValueError, match="^reduction"):
        rf_loss(zero, x0, x1, t, reduction="max")
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, 0.75)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(2.0)
    ema.update(net)
    for b, e, p in zip(before, ema.model.parameters(), net.parameters()):
        assert torch.allclose(e, 0.75 * b + 0.25 * p)
    for bad in (0.0, 1.0, 1.5, True):
        with pytest.raises(ValueError, match="^ema_decay"):
            EMA(net, bad)


def test_one_reflow_method_validator_for_both_pipelines():
    from collapse_theory.train.flow.blocks import check_reflow_method
    from collapse_theory.train.image.config import ImageReflowConfig

    assert check_reflow_method("RA") == ("ra", 0.5) and check_reflow_method("reflow") == ("reflow", 0.0)
    assert check_reflow_method("oras", 0.1) == ("oras", 0.1)
    for method, fraction, first in (("reflow", 0.5, "real_fraction"), ("rf", None, "method"),
                                    ("ra", 1.5, "real_fraction")):
        messages = []
        for build in (lambda: ReflowConfig(**TINY, method=method, real_fraction=fraction).validated(),
                      lambda: ImageReflowConfig(method=method, real_fraction=fraction).validated()):
            with pytest.raises(ValueError) as info:
                build()
            messages.append(str(info.value))
        assert messages[0] == messages[1] and messages[0].startswith(first)


# ----------------------------------------------------------------------------------------------- pipeline

def test_pipeline_frame_shape():
    res = run_reflow(**TINY, method="ra", keep_models=True)
    f = res.frame
    assert list(f.columns) == FRAME_COLUMNS
    assert sorted(f["round"].unique()) == [0, 1, 2]
    assert set(f["metric"]) == {"w2", "w2_gauss", "mean_error", "cov_error", "straightness", "train_loss", "w2_floor"}
    assert set(f["sampler"]) == {"euler1", "euler2", "heun", "-", "reference"}
    assert set(f.loc[f.sampler == "euler2", "nfe"]) == {2}
    assert (f["method"] == "ra").all() and (f["real_fraction"] == 0.5).all()
    assert len(res.models) == 3 and np.isfinite(f["value"]).all()
    assert not wide_table(pd.concat([f, run_reflow(**TINY, method="reflow").frame])).empty


def test_same_seed_same_csv_and_seed_matters():
    a = run_reflow(**TINY, method="ora", regen_every=10, seed=3).frame.to_csv(index=False)
    b = run_reflow(**TINY, method="ora", regen_every=10, seed=3).frame.to_csv(index=False)
    c = run_reflow(**TINY, method="ora", regen_every=10, seed=4).frame.to_csv(index=False)
    assert a == b and a != c


def test_methods_differ_only_as_documented():
    reflow = run_reflow(**TINY, method="reflow").frame
    for method in ("ra", "ora", "oras"):                     # lambda = 0: no real pair enters: exactly reflow
        same = run_reflow(**TINY, method=method, real_fraction=0.0, regen_every=5).frame
        pd.testing.assert_frame_equal(values(same), values(reflow))
    ra = run_reflow(**TINY, method="ra", real_fraction=0.5).frame
    ora_never = run_reflow(**TINY, method="ora", real_fraction=0.5, regen_every=10_000).frame
    pd.testing.assert_frame_equal(values(ora_never), values(ra))   # ORA that never regenerates is RA
    ora = run_reflow(**TINY, method="ora", real_fraction=0.5, regen_every=5).frame
    oras = run_reflow(**TINY, method="oras", real_fraction=0.5, regen_every=5).frame
    r0 = lambda f: values(f[f["round"] == 0])  # noqa: E731 - round 0 (1-RF) is the same for every method
    for other in (ra, ora, oras):
        pd.testing.assert_frame_equal(r0(other), r0(reflow))
    later = lambda f: f[(f["round"] > 0) & (f["metric"] == "w2_gauss")]["value"].to_numpy()  # noqa: E731
    assert not np.array_equal(later(ra), later(reflow))
    assert not np.array_equal(later(ora), later(ra))
    assert not np.array_equal(later(oras), later(ora))


def test_ema_and_shrinkage_options_run():
    f = run_reflow(**(TINY | dict(rounds=1)), method="reflow", ema_decay=0.9, velocity_penalty=0.1).frame
    assert np.isfinite(f["value"]).all()


def test_other_data_sets_run():
    f = run_reflow(**(TINY | dict(data="moons", rounds=1)), method="oras").frame
    assert set(f["data"]) == {"moons"} and np.isfinite(f["value"]).all()


@pytest.mark.parametrize("kwargs,first", [
    (dict(method="rf"), "method"), (dict(method="reflow", real_fraction=0.5), "real_fraction"),
    (dict(method="ra", real_fraction=1.5), "real_fraction"), (dict(rounds=-1), "rounds"),
    (dict(data="spiral"), "data"), (dict(data="ring8", dim=3), "dim"), (dict(steps=0), "steps"),
    (dict(lr=-1.0), "lr"), (dict(ema_decay=1.5), "ema_decay"), (dict(bogus=1), "bogus"),
    (dict(method="ora", regen_every=0), "regen_every"), (dict(oras_jitter=1.0), "oras_jitter"),
])
def test_bad_input(kwargs, first):
    with pytest.raises(ValueError) as info:
        run_reflow(ReflowConfig(**{k: v for k, v in TINY.items()}), **kwargs)
    assert str(info.value).startswith(first)


# ----------------------------------------------------------------------------------------------- trained checks

_CHECKS_SCRIPT = """
import json, sys
from collapse_theory.claims import registry
items = [c for c in registry.checks(tiers=["trained"]) if c.run.__module__.startswith("collapse_theory.claims.flow.")]
if sys.argv[1] == "list":
    print(json.dumps([[c.claim_id, c.name, len(c.mutants)] for c in items]))
else:
    print(json.dumps([registry.run_check(c).as_dict() for c in items], default=float))
"""


def _checks_subprocess(mode: str):
    # a separate interpreter: the claims registered here never leak into this test session's registry
    out = subprocess.run([sys.executable, "-c", _CHECKS_SCRIPT, mode], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_trained_checks_register_with_mutants():
    listed = _checks_subprocess("list")
    assert {c[0] for c in listed} == {"FLOW-TRAINED-1RF", "C-RF", "C-RA", "FLOW-TRAINED-RA-SHRINKAGE"}
    assert {"rf1-velocity-matches-closed-form", "rf1-map-matches-closed-form", "reflow-degrades-shrinkage",
            "ra-ora-degrade-under-shrinkage"} <= {c[1] for c in listed}
    assert all(n >= 2 for _, _, n in listed)


@pytest.mark.slow
def test_trained_checks_pass_and_reject_every_mutant():
    results = _checks_subprocess("run")
    assert results and all(r["status"] == "pass" for r in results), [(r["check"], r["status"]) for r in results]
    assert all(all(r["mutants_rejected"].values()) for r in results)
