"""Each proof step of the collapse laws fails when its statement is wrong: a flipped sign or constant in one formula
makes exactly the steps that use it fail (and the toolkit's formulas prove every step)."""

import sympy as sp

from collapse_theory.proofs import laws as L
from collapse_theory.proofs.engine import Proof


def failed(result):
    return {name for name, ok in result["steps"].items() if not ok}


def test_gaussian_refit_proves_and_each_flip_fails_its_step():
    assert L.prove_gaussian_refit()["proved"]
    base = L.GAUSSIAN_FORMULAS
    flips = {
        "E_var": (lambda n, M, s2, e: base["E_var"](n, M, s2, e) * (1 + 1 / M) ** n, {"var_step_unbiased"}),
        "E_log_var": (lambda n, M, s2, e: 2 * sp.log(s2) - base["E_log_var"](n, M, s2, e), {"log_step_mle", "log_step_unbiased"}),
        "E_std": (lambda n, M, s2, e: base["E_std"](n, M, s2, e) * 2 ** n, {"std_step_mle"}),
        "E_mean_sq_error": (lambda n, M, s2, e: base["E_mean_sq_error"](n, M, s2, e) + s2, {"mse_start_unbiased"}),
        "E_w2_squared": (lambda n, M, s2, e: base["E_w2_squared"](n, M, s2, e) - 2 * s2, {"w2_decomposition_mle"}),
    }
    for name, (formula, expected) in flips.items():
        result = L.prove_gaussian_refit({name: formula})
        assert not result["proved"] and expected <= failed(result), name
        assert "chi2_mean" not in failed(result)


def test_gaussian_refit_d_flips_fail():
    assert L.prove_gaussian_refit_d()["proved"]
    wrong = lambda M, d, e: -L.GAUSSIAN_D_FORMULAS["log_det_drift"](M, d, e)  # noqa: E731
    assert {"log_det_drift_d2_unbiased", "log_det_drift_d3_mle"} <= failed(L.prove_gaussian_refit_d({"log_det_drift": wrong}))


def test_jensen_step_fails_for_a_convex_function():
    proof = Proof()
    L.jensen_gap_proof(proof, "convex", sp.exp)
    assert proof.steps["convex_gap_strictly_convex"] is False
    proof = L.Proof()
    L.jensen_gap_proof(proof, "log", sp.log)
    assert all(proof.steps.values())


def test_wright_fisher_flips_fail():
    assert L.prove_wright_fisher()["proved"]
    r = L.prove_wright_fisher({"E_collision": lambda m, n, P: 1 - (1 + 1 / n) ** m * (1 - P)})
    assert "collision_step" in failed(r) and "multinomial_second_moment" not in failed(r)
    r = L.prove_wright_fisher({"loss_probability": lambda k, n: 1 + k / n})
    assert {"loss_at_n", "loss_martingale"} & failed(r)
    r = L.prove_wright_fisher({"E_sq_dist_to_real": lambda m, n, a, P:
                               L.WRIGHT_FISHER_FORMULAS["E_sq_dist_to_real"](m, n, a, P) * 2})
    assert "mixed_distance_step" in failed(r)


def test_regression_chain_flips_fail():
    assert L.prove_regression_chain()["proved"]
    r = L.prove_regression_chain({"factor": lambda n, mode: n if mode == "replace" else sp.harmonic(n, 2) + 1})
    assert "factor_start_accumulate" in failed(r)
    r = L.prove_regression_chain({"E_test_error": lambda n, T, d, s2, mode: s2 * d / (T - d + 1) * n})
    assert "test_error_formula" in failed(r)


def test_mean_law_flips_fail():
    from collapse_theory.proofs import laws_mean as LM

    assert LM.prove_fixed_real_ratio()["proved"] and LM.prove_fresh_data()["proved"] and LM.prove_optimal_weight()["proved"]
    r = LM.prove_fixed_real_ratio({"stationary": lambda lam, n, s2: lam * s2 / (n * (1 - 2 * lam))})
    assert "stationary_fixed_point" in failed(r) and "population_jacobian" not in failed(r)
    r = LM.prove_fixed_real_ratio({"jacobian": lambda lam: -lam / (1 + lam)})
    assert {"population_jacobian", "jacobian_nonnegative"} <= failed(r)
    r = LM.prove_fresh_data({"var_fixed_point": lambda w, b, s2: (1 + w) * s2 / (1 - w * b)})
    assert failed(r) == {"variance_fixed_point"}
    r = LM.prove_optimal_weight({"optimal": lambda r: (sp.sqrt(r * (r + 4)) - r) / 3})
    assert "derivative_vanishes_at_optimum" in failed(r) and "stationary_fixed_point" not in failed(r)


def test_tail_law_flips_fail():
    from collapse_theory.proofs import laws_tails as LT

    assert LT.prove_diffusion_early_stop()["proved"] and LT.prove_zipf_tail()["proved"]
    r = LT.prove_diffusion_early_stop({"rate": lambda a, rho: (1 + a) * rho})
    assert "error_contracts_at_rate" in failed(r) and "ou_eigenfunction_He3" not in failed(r)
    r = LT.prove_zipf_tail({"exponent_k": lambda beta: beta + 1})
    assert {"tail_integral", "tail_slope"} <= failed(r) and "seen_error_integral" not in failed(r)


def _law_check(name):
    from collapse_theory.claims import registry

    return next(c for c in registry.checks(["symbolic"]) if c.claim_id.startswith("LAW-") and c.name == name)


def test_breaking_the_numpy_function_fails_the_symbolic_check(monkeypatch):
    from collapse_theory.theory.laws import gaussian as lg, wright_fisher as lw, zipf as zz

    item = _law_check("resampling-laws")
    assert item.run(None).passed
    monkeypatch.setattr(lw, "loss_probability", lambda n, k: k / n)
    assert not item.run(None).passed
    original = lg.gaussian_refit_closed_form

    def slipped(*args, **kwargs):
        out = dict(original(*args, **kwargs))
        out["E_std"] = out["E_std"] * (1 + 1e-9)
        return out

    monkeypatch.setattr(lg, "gaussian_refit_closed_form", slipped)
    result = _law_check("refit-laws-1d").run(None)
    assert not result.passed and result.evidence["numpy_link_max_rel_err"] > 1e-10
    monkeypatch.setattr(zz, "zipf_asymptotics", lambda beta: {"exponent_T": 1 / beta, "constant_T": 1.0,
                                                               "exponent_k": beta - 1, "constant_k": 1.0})
    assert not _law_check("zipf-asymptotics").run(None).passed
