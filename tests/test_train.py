"""The trained tier's torch side: batched models, training to the closed form, recursive training, train-dae CLI."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from collapse_theory.cli.shell import main
from collapse_theory.claims import registry
from collapse_theory.theory import bottleneck_dae, dae_recursion, optimal_dae
from collapse_theory.train import RecursionConfig, bottleneck_closed_form, make_model, run_trained_recursion
from collapse_theory.train.dae.recursion import data_source, fixed_rotation
from collapse_theory.train.dae.training import (
    certified_error_bound,
    dae_loss_from_moment,
    dae_loss_marginal,
    dae_loss_monte_carlo,
    generate,
    second_moments,
    sigma2_tensor,
    train_dae,
)


def _data(B=6, n=300, d=4, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    lam = np.linspace(1.0, 0.2, d)
    return (rng.standard_normal((B, n, d)) * np.sqrt(lam)) @ fixed_rotation(d).T + shift


def _closed(X, s2):
    s2 = np.broadcast_to(np.asarray(s2, dtype=float), (X.shape[0],))
    return np.stack([optimal_dae(X[b].T @ X[b] / X.shape[1], s2[b]) for b in range(X.shape[0])])


# ------------------------------------------------------------------------------------------ models and losses

@pytest.mark.parametrize("kind, kwargs", [("linear", {}), ("bottleneck", {"rank": 2}),
                                          ("bottleneck", {"rank": 2, "tied": True}),
                                          ("mlp", {"width": 8, "depth": 2, "activation": "relu", "skip": False}),
                                          ("mlp", {"width": 8, "depth": 1})])
def test_models_are_independent_per_batch_entry(kind, kwargs):
    """The batch loss is a sum over models: model b's gradient is the gradient of its own loss alone."""
    model = make_model(kind, 3, 4, generator=torch.Generator().manual_seed(0), **kwargs)
    x = torch.randn(3, 10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = model(x)
    assert out.shape == x.shape
    loss = ((x - out) ** 2).sum(-1).mean(-1)
    grads_all = torch.autograd.grad(loss.sum(), list(model.parameters()), retain_graph=True)
    grads_one = torch.autograd.grad(loss[1], list(model.parameters()))
    for g_all, g_one in zip(grads_all, grads_one):
        assert torch.allclose(g_all[1], g_one[1]) and torch.all(g_one[0] == 0) and torch.all(g_one[2] == 0)


def test_marginal_loss_identities():
    """E_eps ||x - M(x + sigma eps)||^2 = ||x - M x||^2 + sigma2 ||M||_F^2 = tr S - 2 tr(MS) + tr(M(S + sigma2 I)M^T);
    the Monte-Carlo loss averages to it (z-score over many noise draws)."""
    X = torch.as_tensor(_data(B=2, n=50))
    model = make_model("linear", 2, 4, init_scale=0.7, generator=torch.Generator().manual_seed(3))
    s2 = sigma2_tensor([0.1, 0.4], 2)
    exact = dae_loss_marginal(model, X, s2)
    assert torch.allclose(exact, dae_loss_from_moment(model, second_moments(X), s2), rtol=1e-12)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        draws = torch.stack([dae_loss_monte_carlo(model, X, s2, gen) for _ in range(2000)]).numpy()
    z = (draws.mean(0) - exact.detach().numpy()) / (draws.std(0, ddof=1) / np.sqrt(draws.shape[0]))
    assert np.all(np.abs(z) < 4)


def test_certified_bound_matches_autograd_and_bounds_the_error():
    X = _data()
    s2 = np.array([0.01, 0.05, 0.1, 0.3, 1.0, 3.0])
    model = make_model("linear", 6, 4, init_scale=0.5, generator=torch.Generator().manual_seed(5))
    xt = torch.as_tensor(X)
    s2t = sigma2_tensor(s2, 6)
    (grad,) = torch.autograd.grad(dae_loss_marginal(model, xt, s2t).sum(), model.weight)
    S = second_moments(xt)
    W = model.weight.detach()
    assert torch.allclose(grad, 2 * W @ S + 2 * s2t * W - 2 * S, rtol=1e-10, atol=1e-12)
    W_np = W.numpy()
    actual = np.linalg.norm(W_np - _closed(X, s2), axis=(1, 2)) / np.linalg.norm(W_np, axis=(1, 2))
    assert np.all(actual <= certified_error_bound(model, xt, s2).numpy() * (1 + 1e-9))


@pytest.mark.parametrize("method, steps, tol", [("lstsq", 1, 1e-12), ("cg", 32, 1e-11), ("lbfgs", 300, 1e-6),
                                                ("gd", 1500, 1e-9)])
def test_full_batch_training_reaches_the_closed_form(method, steps, tol):
    X = _data(shift=0.3)
    s2 = np.array([0.02, 0.05, 0.1, 0.3, 1.0, 3.0])
    model = make_model("linear", 6, 4, init_scale=0.1, generator=torch.Generator().manual_seed(6))
    report = train_dae(model, X, s2, method, steps=steps, lr=0.2 if method == "gd" else None, tolerance=1e-13)
    W = model.weight.detach().numpy()
    W_star = _closed(X, s2)
    rel = np.linalg.norm(W - W_star, axis=(1, 2)) / np.linalg.norm(W_star, axis=(1, 2))
    assert rel.max() < tol
    assert np.all(rel <= report.certified_relative_error * (1 + 1e-6) + 1e-13)


def test_adam_with_fresh_noise_approaches_the_closed_form():
    X = _data(B=4, n=400)
    model = make_model("linear", 4, 4)
    report = train_dae(model, X, 0.1, "adam", steps=600, lr=2e-2, batch_size=128, lr_schedule="cosine",
                       generator=torch.Generator().manual_seed(7))
    rel = np.linalg.norm(model.weight.detach().numpy() - _closed(X, 0.1), axis=(1, 2))
    assert rel.max() < 0.15 and len(report.history) == 600 and report.history[-1] < report.history[0]


def test_bottleneck_gradient_descent_finds_top_r():
    X = _data(B=4, n=400, d=5)
    model = make_model("bottleneck", 4, 5, rank=2, generator=torch.Generator().manual_seed(8))
    train_dae(model, X, 0.1, "gd", steps=2500, lr=0.2)
    M = model.linear_map().detach().numpy()
    for b in range(4):
        D, E = bottleneck_dae(X[b].T @ X[b] / X.shape[1], 0.1, 2)
        assert np.allclose(M[b], D @ E, atol=1e-8)


def test_mlp_training_lowers_the_loss_and_linear_only_methods_refuse_it():
    X = torch.as_tensor(_data(B=2, n=200), dtype=torch.float32)
    model = make_model("mlp", 2, 4, width=16, dtype=torch.float32, generator=torch.Generator().manual_seed(9))
    report = train_dae(model, X, 0.2, "adam", steps=150, generator=torch.Generator().manual_seed(10))
    assert np.mean(report.history[-20:]) < np.mean(report.history[:20])
    lbfgs = train_dae(model, X, 0.2, "lbfgs", steps=20, noise_draws=2, generator=torch.Generator().manual_seed(11))
    assert np.all(np.isfinite(lbfgs.final_loss))
    with pytest.raises(ValueError, match="^optimizer"):
        train_dae(model, X, 0.2, "cg")


def test_generate_rules():
    model = make_model("linear", 1, 3, init_scale=1.0, generator=torch.Generator().manual_seed(12))
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    assert torch.equal(generate(model, x, 0.1, "clean"), model(x).detach())
    a = generate(model, x, 0.1, "renoise", torch.Generator().manual_seed(13))
    b = generate(model, x, 0.1, "renoise", torch.Generator().manual_seed(13))
    assert torch.equal(a, b) and not torch.equal(a, model(x).detach())
    with pytest.raises(ValueError, match="^rule"):
        generate(model, x, 0.1, "dream")


@pytest.mark.parametrize("kwargs, argument", [
    ({"sigma2": 0}, "sigma2"), ({"sigma2": (0.1, -1)}, "sigma2"), ({"real_fraction": 1.2, "regime": "mix"},
                                                                   "real_fraction"),
    ({"real_fraction": 0.1}, "real_fraction"), ({"model": "cnn"}, "model"), ({"regime": "sometimes"}, "regime"),
    ({"rule": "magic"}, "rule"), ({"rounds": -1}, "rounds"), ({"replicates": 1}, "replicates"),
    ({"n_samples": 1}, "n_samples"), ({"data": "imagenet"}, "data"), ({"dim": 0}, "dim"),
    ({"spectrum": (1.0, 0.5)}, "spectrum"), ({"spectrum": (1, -1, 1, 1)}, "spectrum"),
    ({"data": "digits", "spectrum": (1, 1, 1, 1)}, "spectrum"), ({"model": "bottleneck", "rank": 5}, "rank"),
    ({"optimizer": "newton"}, "optimizer"), ({"model": "mlp", "optimizer": "cg"}, "optimizer"),
    ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"seed": -3}, "seed"),
    ({"activation": "tanh"}, "activation"), ({"dtype": "float16"}, "dtype"), ({"width": 0}, "width"),
])
def test_config_errors_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError) as info:
        RecursionConfig(**kwargs).validated()
    assert str(info.value).startswith(argument + " ")


# ------------------------------------------------------------------------------------------ recursions

def test_bottleneck_closed_form_is_the_truncated_recursion():
    lam = np.array([1.0, 0.6, 0.3, 0.1])
    full = dae_recursion(lam, 0.05, rounds=6)
    same = bottleneck_closed_form(lam, 0.05, 0.0, 4, 6, "replace", "renoise")
    assert np.allclose(same.eigenvalues, full.eigenvalues) and np.allclose(same.op_norm, full.op_norm)
    for regime, alpha in (("replace", 0.0), ("mix", 0.3), ("accumulate", 0.0)):
        cut = bottleneck_closed_form(lam, 0.05, alpha, 2, 6, regime, "clean")
        top = dae_recursion(lam[:2], 0.05, alpha, rounds=6, regime=regime, rule="clean")
        assert np.allclose(cut.eigenvalues[:, :2], top.eigenvalues)
        assert np.all(cut.eigenvalues[1:, 2:] == 0) and np.allclose(cut.eigenvalues[0], lam)


def test_mix_with_zero_real_fraction_is_replace_exactly():
    common = dict(rounds=3, replicates=2, n_samples=64, sigma2=0.1, seed=4)
    replace = run_trained_recursion(RecursionConfig(regime="replace", **common))
    mix = run_trained_recursion(RecursionConfig(regime="mix", real_fraction=0.0, **common))
    assert np.array_equal(replace.moment_matrices, mix.moment_matrices)
    assert np.array_equal(replace.op_norm, mix.op_norm)


@pytest.mark.parametrize("regime, alpha", [("replace", 0.0), ("mix", (0.1, 0.5)), ("fresh", (0.0, 0.25)),
                                           ("mix", (0.0, 1.0)), ("accumulate", 0.0)])
def test_trained_recursion_shapes_and_closed_form(regime, alpha):
    cfg = RecursionConfig(regime=regime, real_fraction=alpha, sigma2=(0.05, 0.2), rounds=3, replicates=2,
                          n_samples=128, seed=1)
    traj = run_trained_recursion(cfg)
    A = len(np.atleast_1d(alpha))
    assert traj.moments.shape == (2, A, 2, 4, 4) and traj.op_norm.shape == (2, A, 2, 4)
    assert np.nanmax(traj.certified_relative_error) < 1e-9
    closed = traj.closed_form()
    assert np.asarray(closed.eigenvalues).shape == (4, 2, A, 4)
    assert np.allclose(np.asarray(closed.eigenvalues)[0], traj.population_eigenvalues)
    # round 0 trains on the real sample: op norm = g(top eigenvalue of S_hat_0) exactly (certified fit)
    g0 = traj.eigenvalues[..., 0, 0] / (traj.eigenvalues[..., 0, 0] + traj.sigma2[:, None, None])
    assert np.allclose(traj.op_norm[..., 0], g0, rtol=1e-8)
    frame = traj.frame()
    assert list(frame.columns) == ["sigma2", "real_fraction", "replicate", "round", "quantity", "component",
                                   "trained", "closed_form"]
    op = frame.query("quantity == 'op_norm' and round == 0")
    assert len(op) == 2 * A * 2 and np.all(np.isfinite(op["closed_form"]))


def test_real_data_source_is_the_pca_population():
    source = data_source(RecursionConfig(data="digits", dim=3).validated())
    S = source.points.T @ source.points / source.points.shape[0]
    assert np.allclose(S, np.diag(source.eigenvalues), atol=1e-12) and source.eigenvalues[0] == pytest.approx(1.0)
    sample = source.sample(2, 5, np.random.default_rng(0))
    assert sample.shape == (2, 5, 3)


def test_mlp_and_bottleneck_recursions_run():
    mlp = run_trained_recursion(RecursionConfig(model="mlp", data="mixture", dim=2, spectrum=(1.0, 0.5), rounds=2,
                                                replicates=2, n_samples=64, steps=20, width=8, seed=2))
    assert mlp.closed_form() is None and np.all(np.isnan(mlp.op_norm))
    assert mlp.frame()["closed_form"].isna().all()
    bn = run_trained_recursion(RecursionConfig(model="bottleneck", rank=1, dim=3, rounds=2, replicates=2,
                                               n_samples=64, steps=50, seed=2, warm_start=False))
    assert np.all(bn.eigenvalues[:, :, :, 1:, 1:] < 1e-10)   # rank 1: generated data lie on a line


# ------------------------------------------------------------------------------------------ CLI

def _train_dae(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["train-dae", "--rounds", "3", "--replicates", "2", "--n-samples", "64", "--sigma2", "0.05,0.1",
                 "--regime", "mix", "--real-fraction", "0.25", "--seed", "11", "--no-progress", "--out", str(out),
                 *extra])
    return code, out


def test_train_dae_csv_is_tidy_and_reproducible(tmp_path, capsys):
    code, first = _train_dae(tmp_path, "a.csv")
    assert code == 0
    code, second = _train_dae(tmp_path, "b.csv")
    assert code == 0 and first.read_bytes() == second.read_bytes()         # same seed -> identical CSV
    _, other = _train_dae(tmp_path, "c.csv", "--seed", "12")
    assert other.read_bytes() != first.read_bytes()
    frame = pd.read_csv(first)
    assert set(frame["round"]) == {0, 1, 2, 3} and set(frame["replicate"]) == {0, 1}
    assert set(frame["sigma2"]) == {0.05, 0.1}
    assert {"op_norm", "eigenvalue", "moment", "total_variance", "effective_rank"} <= set(frame["quantity"])
    manifest = json.loads((tmp_path / "a.csv.manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["config"]["regime"] == "mix" and "git_revision" in manifest
    assert manifest["versions"]["torch"]
    assert "rows" in capsys.readouterr().out


@pytest.mark.parametrize("argv, flag", [
    (["--sigma2", "0"], "--sigma2"), (["--sigma2", "x"], "--sigma2"), (["--model", "cnn"], "--model"),
    (["--regime", "mix", "--real-fraction", "1.5"], "--real-fraction"), (["--data", "imagenet"], "--data"),
    (["--rounds", "-1"], "--rounds"), (["--replicates", "1"], "--replicates"), (["--rule", "x"], "--rule"),
    (["--data", "fashion-mnist", "--data-path", "/nonexistent"], "--data-path"), (["--dim", "0"], "--dim"),
    (["--model", "mlp", "--optimizer", "cg"], "--optimizer"), (["--spectrum", "1,2"], "--spectrum"),
    (["--n-samples", "1"], "--n-samples"), (["--rounds", "two"], "--rounds"),
])
def test_train_dae_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, flag):
    code = main(["train-dae", *argv, "--no-progress", "--out", str(tmp_path / "x.csv")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and err.startswith("collapse-theory: error:") and flag in err
    assert not (tmp_path / "x.csv").exists()


def test_train_dae_mlp_csv_is_reproducible(tmp_path):
    argv = ["train-dae", "--model", "mlp", "--data", "mixture", "--dim", "2", "--spectrum", "1,0.5", "--rounds", "2",
            "--replicates", "2", "--n-samples", "64", "--steps", "20", "--width", "8", "--seed", "3", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a.csv")]) == 0 and main([*argv, "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_train_dae_needs_out(capsys):
    assert main(["train-dae"]) == 2 and "--out" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ registry

def test_every_dae_claim_has_a_trained_check_or_a_reason():
    trained = {c.claim_id for c in registry.checks(["trained"])}
    for claim in registry.claims():
        if claim.id.startswith(("DAE-", "C-collapse", "C-real")):
            assert claim.id in trained or "trained" in claim.no_check, claim.id
            assert "image" in claim.no_check, claim.id


def test_listing_trained_checks_does_not_import_torch():
    code = ("import sys, collapse_theory.claims.registry as r; r.checks(['trained']);"
            "import collapse_theory.claims.dae.trained;"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_verify_trained_tier_runs_a_check(capsys):
    code = main(["verify", "--tier", "trained", "--claim", "DAE-OPT", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["passed"] and {r["check"] for r in data["results"]} == {
        "trained-fit-equals-empirical-closed-form", "population-error-predicted-by-n"}


@pytest.mark.slow
def test_every_trained_dae_check_passes_and_rejects_its_mutants():
    from collapse_theory.claims.dae import trained as trained_checks  # noqa: F401

    for item in registry.checks(["trained"]):
        if item.run.__module__ != "collapse_theory.claims.dae.trained":
            continue
        result = registry.run_check(item)
        assert result.status == "pass", (item.key, result.evidence, result.mutants_rejected, result.message)
