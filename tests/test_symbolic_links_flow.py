"""The flow symbolic checks GRF-NONCOMMUTING-NOT-OT, REFLOW-POPULATION-FIXED-POINT and REFLOW-SHRINKAGE certify the
numpy code users call (a plausible bug in it fails the check while every proof step still holds), and the d = 3
Bartlett step of REFLOW-ESTIMATED-DRIFT is checked, not stated (a wrong degree, or a flipped statement, fails it)."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_theory.claims.registry import checks, run_check
from collapse_theory.proofs import flow as F
from collapse_theory.theory.flow import gaussian as gf, reflow as gr

LINKED = [("GRF-NONCOMMUTING-NOT-OT", "symmetric-iff-commuting"),
          ("REFLOW-POPULATION-FIXED-POINT", "straight-fixed-point"),
          ("REFLOW-SHRINKAGE", "x1-prediction-is-a-dae"),
          ("REFLOW-ESTIMATED-DRIFT", "wishart-log-det-drift")]
BARTLETT_D3 = "Bartlett d = 3: second Schur complement moments 1-3 are chi^2_(N-2)'s, N = 3, 4"


def _item(claim, name):
    return next(c for c in checks(["symbolic"]) if c.claim_id == claim and c.name == name)


@pytest.mark.parametrize("claim, name", LINKED, ids=[c for c, _ in LINKED])
def test_unbroken_checks_pass_with_a_numpy_link(claim, name):
    result = run_check(_item(claim, name))
    assert result.status == "pass", result.as_dict()
    assert result.evidence["steps_proved"] == result.evidence["steps"]
    assert result.evidence["numpy_points"] >= 12
    assert 0 <= result.evidence["numpy_max_err_over_tol"] <= 1


def _commuting_formula_always(f, ends, t=1.0, method="auto"):
    return f(ends, t, "commuting")                     # Sigma_t^{1/2} Sigma0^{-1/2} used for non-commuting pairs


def _no_shift(f, M, c, t):
    A, _b = f(M, c, t)
    return A, np.asarray(c, float)                     # b = c, dropping - t A c


def _slipped_intercept(f, M, c, t):
    A, b = f(M, c, t)
    return A, b * (1 + 1e-9)                           # a 1e-9 relative slip


def _independent_coupling(f, m0, cov0, M, c, t):
    M, cov0, m0 = (np.asarray(a, float) for a in (M, cov0, m0))
    # Cov(X0, X1) = 0 for Sigma0 M^T: the velocity of the independent coupling with the same marginals
    # (transposing it, M Sigma0, would be invisible: Sigma0 M^T = P diag(w) P^T is symmetric for the 1-RF map's M)
    return gf.joint_velocity_affine(m0, M @ m0 + c, cov0, np.zeros_like(cov0), M @ cov0 @ M.T, t)


def _unsquared_sigma(f, step_time):
    return np.sqrt(f(step_time))                       # sigma_t for sigma_t^2


def _slipped_sigma2(f, step_time):
    return f(step_time) * (1 + 1e-9)


def _full_step_prediction(f, ends, x_t, t):
    return np.asarray(x_t, float) + gf.velocity(ends, x_t, t)   # x + v instead of x + (1 - t) v


BREAKERS = {
    "flow_affine: commuting formula": (gf, "flow_affine", _commuting_formula_always, LINKED[0]),
    "straight_velocity_affine: no shift": (gr, "straight_velocity_affine", _no_shift, LINKED[1]),
    "straight_velocity_affine: 1e-9 slip": (gr, "straight_velocity_affine", _slipped_intercept, LINKED[1]),
    "coupling_velocity_affine: independent coupling": (gr, "coupling_velocity_affine", _independent_coupling, LINKED[1]),
    "shrinkage_sigma2: sigma not squared": (gr, "shrinkage_sigma2", _unsquared_sigma, LINKED[2]),
    "shrinkage_sigma2: 1e-9 slip": (gr, "shrinkage_sigma2", _slipped_sigma2, LINKED[2]),
    "clean_prediction: x + v": (gr, "clean_prediction", _full_step_prediction, LINKED[2]),
}


@pytest.mark.parametrize("label", list(BREAKERS))
def test_breaking_the_numpy_function_fails_the_symbolic_check(monkeypatch, label):
    module, target, wrap, (claim, name) = BREAKERS[label]
    item = _item(claim, name)
    assert run_check(item).status == "pass"
    original = getattr(module, target)
    monkeypatch.setattr(module, target, lambda *args, **kwargs: wrap(original, *args, **kwargs))
    result = run_check(item)
    assert result.status == "fail", result.as_dict()
    assert result.evidence["numpy_max_err_over_tol"] > 1
    assert result.evidence["steps_proved"] == result.evidence["steps"]   # the proof itself still holds


# ---------------------------------------------------------------------------------------------
# Bartlett d = 3
# ---------------------------------------------------------------------------------------------

def test_d3_bartlett_step_is_proved_and_fails_for_a_wrong_degree():
    """Only the third factor's degrees are changed (chi^2_{N-1} or chi^2_{N-3} for chi^2_{N-2}): the d = 2 steps still
    hold and the d = 3 step fails."""
    assert F.prove_log_det_drift()["steps"][BARTLETT_D3] is True
    for shift in (1, -1):
        wrong = lambda N, i, s=shift: N - i + 1 + (s if i == 3 else 0)  # noqa: E731
        steps = F.prove_log_det_drift({"bartlett_dof": wrong})["steps"]
        assert steps[BARTLETT_D3] is False, shift
        assert all(ok for step, ok in steps.items() if step.startswith("Bartlett d = 2"))


def test_schur_moments_pin_the_degrees():
    """E[s^p | x, y] equals the chi^2_{N-2} moments times det G(x, y)^p, and not those of chi^2_{N-1} or chi^2_{N-3}."""
    for N in (3, 4):
        for power, moment, base in F.schur_moments(N, 2):
            assert moment - F.chi2_moment(N - 2, power) * base == 0
            for dof in (N - 1, N - 3):
                assert moment - F.chi2_moment(dof, power) * base != 0
    assert F.chi2_moment(3, 3) == 3 * 5 * 7


@pytest.mark.parametrize("function, step", [
    ("prove_log_det_drift", BARTLETT_D3),
    ("prove_shrinkage", "x + (1-t) v(x, t) = W*(lam, sigma_t^2) x/t"),
    ("prove_shrinkage", "W*(lam, sigma_t^2)/t is the predictor gain"),
], ids=lambda v: str(v)[:40])
def test_new_steps_fail_when_their_statement_is_flipped(function, step):
    """The AST flip test of tests/test_symbolic.py run on the steps this change adds."""
    from test_symbolic import test_a_step_fails_when_its_own_statement_is_flipped as flip_test

    flip_test("flow", function, step)
