"""The collapse laws (third family): closed forms, validation, the `laws` / `law` commands, and the Monte-Carlo of
the three fixed-name laws within the Sidak-corrected z-limit of the closed form (through the CLI's JSON)."""

import json
from math import gamma

import numpy as np
import pytest

from collapse_theory.cli.shell import main
from collapse_theory.stats import z_limit
from collapse_theory.theory.laws import LAWS, get_law, run_law
from collapse_theory.theory.laws import gaussian as lg, regression as lr, wright_fisher as lw


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------------------------- closed forms

def test_gaussian_refit_closed_forms_match_the_issue_statements():
    M, s2, n = 7, 2.0, np.arange(9)
    k = M - 1
    c = np.sqrt(2 / k) * gamma((k + 1) / 2) / gamma(k / 2)
    cf = lg.gaussian_refit_closed_form(8, M, s2, "unbiased")
    assert np.allclose(cf["E_var"], s2)
    assert np.allclose(cf["E_mean_sq_error"], n * s2 / M)
    assert np.allclose(cf["E_w2_squared"], s2 * (n / M + 2 - 2 * c ** n))
    mle = lg.gaussian_refit_closed_form(8, M, s2, "mle")
    assert np.allclose(mle["E_var"], s2 * (1 - 1 / M) ** n)
    assert np.allclose(mle["E_mean_sq_error"], s2 * (1 - (1 - 1 / M) ** n))
    assert lg.log_drift(M, "unbiased") < 0 and lg.std_factor(M, "unbiased") < 1


def test_wright_fisher_pure_resampling_formula_and_bounded_mix():
    p0 = np.array([0.6, 0.3, 0.1])
    cf = lw.wright_fisher_closed_form(50, 8, p0, 0.0)
    m = np.arange(51)
    assert np.allclose(cf["E_collision"], 1 - (1 - 1 / 8) ** m * (1 - p0 @ p0))
    mixed = lw.wright_fisher_closed_form(500, 8, p0, 0.25)["E_sq_dist_to_real"]
    a = 0.75
    assert np.all(mixed <= a * a * (1 - p0 @ p0) / (8 - a * a * 7) + 1e-15) and np.all(np.diff(mixed) >= 0)


def test_regression_chain_replace_linear_accumulate_below_pi2_over_6():
    rep = lr.regression_chain_closed_form(100, 20, 5, 1.0, "replace")["E_test_error"]
    acc = lr.regression_chain_closed_form(100, 20, 5, 1.0, "accumulate")["E_test_error"]
    assert np.allclose(rep, np.arange(101) * 5 / 14)
    assert np.all(acc <= np.pi ** 2 / 6 * acc[1]) and acc[0] == rep[0] == 0


def test_exact_enumeration_agrees_with_the_closed_form():
    exact = lw.exact_wright_fisher(6, 4, [0.5, 0.25, 0.25], 0.4)
    cf = lw.wright_fisher_closed_form(6, 4, [0.5, 0.25, 0.25], 0.4)
    for q in exact:
        assert np.allclose(exact[q], cf[q], rtol=0, atol=1e-12)


def test_simulators_are_deterministic_given_a_seed():
    for law in LAWS.values():
        p = law.validate(dict(law.params))
        a = law.monte_carlo(2, 50, 7, **p)
        b = law.monte_carlo(2, 50, 7, **p)
        for q in law.quantities:
            assert np.array_equal(a[q], b[q])


# ----------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("name, params, word", [
    ("gaussian-refit", {"samples": 1}, "samples"),
    ("gaussian-refit", {"sigma2": 0}, "sigma2"),
    ("gaussian-refit", {"estimator": "median"}, "estimator"),
    ("gaussian-refit-d", {"samples": 2, "spectrum": [1, 1, 1]}, "samples"),
    ("wright-fisher", {"n": 0}, "n"),
    ("wright-fisher", {"p0": [0.5, 0.6]}, "p0"),
    ("wright-fisher", {"p0": [1.2, -0.2]}, "p0"),
    ("wright-fisher", {"real_weight": 1.5}, "real_weight"),
    ("regression-chain", {"T": 6, "d": 5}, "T"),
    ("regression-chain", {"mode": "mix"}, "mode"),
    ("regression-chain", {"sigma2": float("nan")}, "sigma2"),
    ("gaussian-refit", {"beta": 2}, "beta"),
    ("fixed-real-ratio", {"ratio": -0.5}, "ratio"),
    ("fixed-real-ratio", {"n": 3, "ratio": 0.5}, "ratio"),
    ("fresh-data", {"n_real": 0}, "n_real"),
    ("fresh-data", {"bias": 3.0, "n_real": 1, "n_synth": 1}, "bias"),
    ("optimal-weight", {"weight": 0.0}, "weight"),
    ("optimal-weight", {"n_synth": 0}, "n_synth"),
    ("diffusion-early-stop", {"alpha": 1.5}, "alpha"),
    ("diffusion-early-stop", {"delta": 0}, "delta"),
    ("diffusion-early-stop", {"weights": [0.5, 0.6]}, "weights"),
    ("diffusion-early-stop", {"stds": [1.0, -1.0]}, "stds"),
    ("zipf-tail", {"beta": 1.0}, "beta"),
    ("zipf-tail", {"k": 0}, "k"),
])
def test_bad_parameters_raise_naming_the_parameter(name, params, word):
    with pytest.raises(ValueError) as info:
        run_law(name, 3, **params)
    assert str(info.value).split(" ", 1)[0] == word


def test_bad_rounds_and_replicates():
    with pytest.raises(ValueError, match="^rounds"):
        run_law("gaussian-refit", -1)
    with pytest.raises(ValueError, match="^replicates"):
        run_law("gaussian-refit", 3, replicates=1)
    with pytest.raises(ValueError, match="^law"):
        get_law("nope")


# ----------------------------------------------------------------------------------------------- CLI

def test_laws_json_lists_name_claim_params_quantities(capsys):
    code, out, _ = run(capsys, "laws", "--json")
    assert code == 0
    items = json.loads(out)
    names = {i["name"]: i for i in items}
    assert {"gaussian-refit", "wright-fisher", "regression-chain"} <= set(names)
    g = names["gaussian-refit"]
    assert g["claim"] == "LAW-GAUSSIAN-REFIT" and set(g["params"]) == {"samples", "sigma2", "estimator"}
    assert g["quantities"] == ["E_var", "E_log_var", "E_std", "E_mean_sq_error", "E_w2_squared"]
    assert set(names["wright-fisher"]["params"]) >= {"n", "p0"} and "E_collision" in names["wright-fisher"]["quantities"]
    assert set(names["regression-chain"]["params"]) == {"T", "d", "sigma2", "mode"}
    assert names["regression-chain"]["quantities"] == ["E_test_error"]


@pytest.mark.parametrize("argv", [
    ["law", "gaussian-refit", "--samples", "1"],
    ["law", "wright-fisher", "--p0", "0.5,0.2"],
    ["law", "wright-fisher", "--p0", "0.5,,0.5"],
    ["law", "regression-chain", "--T", "5", "--d", "4"],
    ["law", "regression-chain", "--samples", "4"],
    ["law", "nope"],
    ["law", "gaussian-refit", "--replicates", "1"],
    ["law", "gaussian-refit", "--rounds", "10000000000"],
    ["law", "regression-chain", "--T", "100000", "--d", "50", "--replicates", "100000", "--rounds", "3"],
    ["law", "zipf-tail", "--rounds", "70", "--replicates", "3"],
    ["law", "optimal-weight", "--weight", "1.5"],
])
def test_cli_bad_input_one_line_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("collapse-theory: error:")


CLI_MC = {
    "gaussian-refit": ["--samples", "20", "--sigma2", "1.5", "--estimator", "mle"],
    "wright-fisher": ["--n", "12", "--p0", "0.5,0.3,0.2"],
    "regression-chain": ["--T", "25", "--d", "3", "--sigma2", "0.5", "--mode", "accumulate"],
}


@pytest.mark.parametrize("name", list(CLI_MC))
def test_law_json_monte_carlo_within_corrected_z_limit(capsys, name):
    R, N = 4000, 8
    code, out, _ = run(capsys, "law", name, *CLI_MC[name], "--rounds", str(N), "--replicates", str(R),
                       "--seed", "3", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"law", "params", "closed_form", "monte_carlo"} and data["law"] == name
    assert all(len(v) == N + 1 for v in data["closed_form"].values())
    z = []
    for q, closed in data["closed_form"].items():
        mean, se = np.array(data["monte_carlo"][q]["mean"]), np.array(data["monte_carlo"][q]["se"])
        assert abs(mean[0] - closed[0]) <= 1e-12 * max(1, abs(closed[0]))  # round 0: the real law itself
        z.append((mean[1:] - np.array(closed[1:])) / se[1:])
    z = np.concatenate(z)
    assert np.max(np.abs(z)) <= z_limit(z.size, R)


def test_law_json_is_strict_and_csv_tidy(capsys, tmp_path):
    code, out, _ = run(capsys, "law", "regression-chain", "--rounds", "3", "--format", "json")
    assert code == 0 and "NaN" not in out and "monte_carlo" not in json.loads(out)
    code, out, _ = run(capsys, "law", "wright-fisher", "--rounds", "2", "--replicates", "10", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0] == "round,quantity,source,value,se" and len(lines) == 1 + 2 * 3 * 2
    target = tmp_path / "wf.json"
    code, _, _ = run(capsys, "law", "wright-fisher", "--rounds", "2", "--format", "json", "--out", str(target))
    assert code == 0 and json.loads(target.read_text())["law"] == "wright-fisher"
    assert (tmp_path / "wf.json.manifest.json").exists()
    code, out, _ = run(capsys, "law", "gaussian-refit", "--rounds", "2")
    assert code == 0 and "E_w2_squared" in out


def test_mean_laws_fixed_points_and_golden_weight():
    from collapse_theory.theory.laws import mean_estimation as me

    dev = me.fixed_real_ratio_closed_form(400, 8, 1.5, 2.0)["E_sq_dev_from_real_mean"]
    assert np.isclose(dev[-1], 1.5 * 2.0 / (8 * (1 + 2 * 1.5)), rtol=1e-12)
    fresh = me.fresh_data_closed_form(400, 3, 9, 1.0, 1.0)["E_sq_error"]
    assert np.isclose(fresh[-1], 12 / (3 * (3 + 18)), rtol=1e-12)
    assert np.isclose(me.optimal_real_weight(7, 7), (np.sqrt(5) - 1) / 2, rtol=1e-15)
    assert run_law("optimal-weight", 2)["params"]["weight"] == pytest.approx((np.sqrt(5) - 1) / 2)


def test_diffusion_gain_and_zipf_plateau():
    from collapse_theory.theory.laws import diffusion as dd, zipf as zz

    cf = dd.diffusion_closed_form(3000, alpha=0.3, delta=0.2)
    h = dd.mixture_hermite_moments([0.3, 0.7], [-2.0, 1.0], [0.5, 0.8])
    for m in dd.MODES:
        assert np.isclose(cf[f"E_He{m}"][-1] / h[m - 1], 0.3 * np.exp(-0.2 * m) / (1 - 0.7 * np.exp(-0.2 * m)))
    collapse = dd.diffusion_closed_form(5, alpha=0.0, delta=0.2)["E_He1"]
    assert np.allclose(collapse, h[0] * np.exp(-0.2 * np.arange(1, 7)))
    plateau = zz.zipf_closed_form(40, beta=2.0, k=100, T0=10)["E_test_error"]
    assert np.isclose(plateau[-1], zz.tail_mass(100, 2.0), rtol=1e-12) and np.all(np.diff(plateau) <= 0)
