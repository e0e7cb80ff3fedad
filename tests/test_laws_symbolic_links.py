"""The law symbolic checks certify the numpy code users call with derived tolerances: the unbroken package passes every
check with numpy_max_err_over_tol <= 1, and a plausible small bug in a numpy law function (a 1e-9 relative slip, an
off-by-one in a count, a wrong divisor) fails its check through the link (numpy_max_err_over_tol > 1) while every proof
step still holds. The tolerance itself (collapse_theory.claims.laws.symbolic_links) grows with the exponent of a
rounded base, handles exact zeros, and fails a link it cannot derive."""

import numpy as np
import pytest
import sympy as sp
from scipy import special

from collapse_theory.claims import registry
from collapse_theory.claims.laws import symbolic_links as SL
from collapse_theory.theory.laws import diffusion as dd, gaussian as lg, mean_estimation as me, regression as lr
from collapse_theory.theory.laws import wright_fisher as lw, zipf as zz

LAW_CHECKS = ("refit-laws-1d", "refit-laws-d-dim", "resampling-laws", "chain-laws", "ratio-laws", "fresh-data-laws",
              "optimal-weight-laws", "hermite-mode-laws", "zipf-asymptotics")


def law_check(name):
    return next(c for c in registry.checks(["symbolic"]) if c.claim_id.startswith("LAW-") and c.name == name)


def slipped(function, key, rel=1e-9):
    """``function`` with its output ``key`` multiplied by 1 + rel."""
    def wrapper(*args, **kwargs):
        out = dict(function(*args, **kwargs))
        out[key] = np.asarray(out[key]) * (1 + rel)
        return out
    return wrapper


def slipped_value(function, rel=1e-9):
    return lambda *args, **kwargs: function(*args, **kwargs) * (1 + rel)


def log_drift_off_by_one(samples, estimator, dim=1):
    """Bartlett degrees k - i + 1 with i = 0..d - 1 instead of 1..d."""
    k, D = lg.refit_constants(samples, estimator)
    i = np.arange(dim)
    return float(np.sum(special.digamma((k - i + 1) / 2) + np.log(2.0 / D)))


def accumulate_off_by_one(rounds, mode):
    """sum_{i<=n} 1/(i + 1)^2 instead of 1/i^2."""
    n = np.arange(rounds + 1, dtype=np.float64)
    return n if mode == "replace" else np.concatenate([[0.0], np.cumsum(1.0 / (n[1:] + 1) ** 2)])


BREAKS = {
    "E_std slipped by 1e-9": ("refit-laws-1d", lg, "gaussian_refit_closed_form",
                              lambda: slipped(lg.gaussian_refit_closed_form, "E_std")),
    "log-det drift degrees off by one": ("refit-laws-d-dim", lg, "log_drift", lambda: log_drift_off_by_one),
    "loss probability 1 - k/(n + 1)": ("resampling-laws", lw, "loss_probability",
                                       lambda: (lambda n, k: 1.0 - k / (n + 1))),
    "collision slipped by 1e-9": ("resampling-laws", lw, "wright_fisher_closed_form",
                                  lambda: slipped(lw.wright_fisher_closed_form, "E_collision")),
    "accumulate factor 1/(i + 1)^2": ("chain-laws", lr, "error_factor", lambda: accumulate_off_by_one),
    "stationary variance divisor n (1 + lambda)": (
        "ratio-laws", me, "fixed_ratio_stationary_variance",
        lambda: (lambda n, ratio, sigma2=1.0: ratio * sigma2 / (n * (1 + ratio)))),
    "fresh-data v_inf slipped by 1e-9": ("fresh-data-laws", me, "fresh_data_fixed_points",
                                         lambda: slipped(me.fresh_data_fixed_points, "E_var")),
    "optimal weight slipped by 1e-9": ("optimal-weight-laws", me, "optimal_real_weight",
                                       lambda: slipped_value(me.optimal_real_weight)),
    "output gain slipped by 1e-9": ("hermite-mode-laws", dd, "output_gain", lambda: slipped_value(dd.output_gain)),
    "Hermite moments slipped by 1e-9": ("hermite-mode-laws", dd, "diffusion_closed_form",
                                        lambda: slipped(dd.diffusion_closed_form, "E_He3")),
    "zipf constant_k slipped by 1e-9": ("zipf-asymptotics", zz, "zipf_asymptotics",
                                        lambda: slipped(zz.zipf_asymptotics, "constant_k")),
}


def test_unbroken_law_checks_pass_within_their_tolerances():
    for name in LAW_CHECKS:
        result = law_check(name).run(None)
        ev = result.evidence
        assert result.passed, (name, ev)
        assert 0 <= ev["numpy_max_err_over_tol"] <= 1 and ev["numpy_points"] > 0, (name, ev)
        assert ev["numpy_link_max_rel_err"] < 1e-12, (name, ev)


@pytest.mark.parametrize("label", list(BREAKS))
def test_a_small_bug_in_the_numpy_law_fails_the_link_with_the_proof_intact(monkeypatch, label):
    name, module, attribute, make = BREAKS[label]
    monkeypatch.setattr(module, attribute, make())
    result = law_check(name).run(None)
    ev = result.evidence
    assert not result.passed, (label, ev)
    assert ev["numpy_max_err_over_tol"] > 1, (label, ev)
    assert ev["steps_proved"] == ev["steps"] and "failed" not in ev, (label, ev)


def test_tolerance_grows_with_the_power_of_a_rounded_base():
    n, M, s2 = sp.symbols("n M sigma2", positive=True)
    expr = s2 * (1 - 1 / M) ** n
    exact, tol = SL.derived_tolerance(expr, (n, M, s2), [(1, 20, 1.7), (8, 20, 1.7)])
    rel = tol / np.abs(exact)
    assert rel[1] >= SL.C_ROUNDING * SL.EPS * 8 and rel[1] > rel[0]
    assert np.allclose(exact, [1.7 * 0.95, 1.7 * 0.95 ** 8], rtol=1e-15)


def test_digamma_adds_its_documented_accuracy_and_fails_outside_its_domain():
    x = sp.Symbol("x", positive=True)
    _exact, tol = SL.derived_tolerance(sp.polygamma(0, x), (x,), [(5.0,)])
    assert tol[0] >= 1.3e-15 * float(sp.polygamma(0, 5).evalf())
    link = SL.law_link([(sp.polygamma(0, x), (x,), [(40.0,)], [float(sp.polygamma(0, 40).evalf())])])
    assert not link["ok"]


def test_exact_zero_values_are_linked_absolutely():
    m, r = sp.symbols("m r", positive=True)
    expr = 1 - r ** m
    ok = SL.law_link([(expr, (m, r), [(0, 0.5), (3, 0.5)], [0.0, 0.875])])
    assert ok["ok"] and ok["numpy_points"] == 2 and ok["numpy_max_err_over_tol"] == 0.0
    off = SL.law_link([(expr, (m, r), [(0, 0.5), (3, 0.5)], [1e-12, 0.875])])
    assert not off["ok"] and off["numpy_max_err_over_tol"] > 1


def test_one_value_off_fails_the_whole_link():
    a = sp.Symbol("a", positive=True)
    values = [v / (1 + v) for v in (0.5, 2.0, 7.0)]
    assert SL.law_link([(a / (1 + a), (a,), [(0.5,), (2.0,), (7.0,)], values)])["ok"]
    values[1] *= 1 + 1e-12
    link = SL.law_link([(a / (1 + a), (a,), [(0.5,), (2.0,), (7.0,)], values)])
    assert not link["ok"] and link["numpy_max_err_over_tol"] > 1


def test_a_function_without_documented_accuracy_fails_the_link():
    x = sp.Symbol("x", positive=True)
    link = SL.law_link([(sp.besselj(0, x), (x,), [(1.0,)], [0.7651976865579666])])
    assert not link["ok"] and "besselj" in link["numpy_link_error"]
