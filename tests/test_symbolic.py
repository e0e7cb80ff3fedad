"""Symbolic tier: every registered sympy proof passes on the toolkit's formulas and rejects its mutants."""

from __future__ import annotations

import ast
import inspect

import pytest
import sympy as sp

from collapse_theory.claims.registry import Outcome, checks, claims, run_check
from collapse_theory.proofs import dae as sym, dae_rates as rates, dae_regimes as regimes, engine
from collapse_theory.proofs import paper as paper_proofs

SYMBOLIC_CHECKS = checks(["symbolic"])
_OUTCOMES: dict[tuple[str, str | None], Outcome] = {}


def _run(item, label: str | None) -> Outcome:
    """Run a check directly (no exception swallowing), once per (check, mutant) per session."""
    key = (item.key, label)
    if key not in _OUTCOMES:
        impl = None if label is None else item.mutants[label]
        _OUTCOMES[key] = item.run(impl)
    return _OUTCOMES[key]


def test_symbolic_checks_registered():
    assert len(SYMBOLIC_CHECKS) >= 15
    assert len({c.key for c in SYMBOLIC_CHECKS}) == len(SYMBOLIC_CHECKS)


def test_every_claim_with_symbolic_content_has_a_symbolic_check():
    covered = {c.claim_id for c in SYMBOLIC_CHECKS}
    needed = {c.id for c in claims() if "symbolic" not in c.no_check}
    assert needed <= covered, f"claims without a symbolic check: {sorted(needed - covered)}"


@pytest.mark.parametrize("item", SYMBOLIC_CHECKS, ids=lambda c: c.key)
def test_toolkit_formula_is_proved(item):
    outcome = _run(item, None)
    assert isinstance(outcome, Outcome)
    assert outcome.passed, outcome.evidence
    assert outcome.evidence["steps_proved"] == outcome.evidence["steps"] > 0
    assert outcome.evidence["residual"] == "0"


@pytest.mark.parametrize("item,label", [(c, m) for c in SYMBOLIC_CHECKS for m in c.mutants],
                         ids=lambda v: v.key if hasattr(v, "key") else str(v)[:40])
def test_mutant_is_rejected(item, label):
    outcome = _run(item, label)
    assert isinstance(outcome, Outcome)
    assert outcome.passed is False, f"{item.key}: mutant {label!r} was not rejected: {outcome.evidence}"
    assert outcome.evidence["steps_proved"] < outcome.evidence["steps"]
    assert outcome.evidence["failed"]


def test_run_check_status_pass():
    item = next(c for c in SYMBOLIC_CHECKS if c.claim_id == "DAE-REAL-FIXED-POINT")
    result = run_check(item)
    assert result.status == "pass", result.as_dict()
    assert all(result.mutants_rejected.values()) and len(result.mutants_rejected) == len(item.mutants)


def test_evidence_is_small():
    for item in SYMBOLIC_CHECKS:
        evidence = _run(item, None).evidence
        assert {k for k in evidence if not k.startswith("numpy_")} <= {"steps_proved", "steps", "failed", "residual"}
        assert all(isinstance(v, (int, float, str)) and len(str(v)) <= 200 for v in evidence.values())


# ---------------------------------------------------------------------------------------------
# The proof helpers: a step is proved only when sympy decides it
# ---------------------------------------------------------------------------------------------

x = sp.Symbol("x", positive=True)
y = sp.Symbol("y", real=True)


def test_is_zero_decides_identities():
    assert engine.is_zero((x + 1) ** 2 - x ** 2 - 2 * x - 1)
    assert engine.is_zero(x / (x + 1) + 1 / (x + 1) - 1)
    assert engine.is_zero(sp.sqrt(x + 1) ** 2 - x - 1)
    assert not engine.is_zero(x / (x + 1) - 1)
    assert not engine.is_zero(sp.Matrix([[0, x - x], [1e-30 * x, 0]]))
    assert engine.is_zero(sp.zeros(2, 2))
    with pytest.raises(ArithmeticError):
        engine.is_zero(x / sp.Integer(0))


def test_has_sign_needs_a_decision():
    assert engine.has_sign(x / (x + 1), "positive")
    assert engine.has_sign(-x ** 2 / (x + 1) ** 2, "negative")
    assert engine.has_sign(y ** 2, "nonnegative")
    assert not engine.has_sign(y ** 2, "positive")          # y = 0
    assert not engine.has_sign(x - 1, "positive")           # undecided / false: not proved
    assert not engine.has_sign(x - 1, "negative")
    assert not engine.has_sign(-x, "nonnegative")
    # a square root of a positive expression is handled as a positive atom
    assert engine.has_sign(sp.sqrt((x - 1) ** 2 + 4 * x) / x, "positive")


def test_witness_only_refutes():
    assert engine.witness_value(x - x) == 0
    assert engine.witness_value(1 / (x - x)) is None
    assert engine.witness_value(x) > 0


def test_decreasing_to_nonnegative_limit():
    assert engine.decreasing_to_nonnegative_limit(sp.log(1 + 1 / x) - 1 / (1 + x), x)
    assert not engine.decreasing_to_nonnegative_limit(sp.log(1 + 1 / x) - 1 / (1 + x) - 1, x)
    assert not engine.decreasing_to_nonnegative_limit(x, x)    # increasing


def test_expect_moments():
    e0, e1, x0, x1 = sp.symbols("e0 e1 x0 x1", real=True)
    S = sp.Matrix([[2, 3], [3, 5]])
    assert engine.expect_moments((e0 + 2 * e1) ** 2, [e0, e1]) == 5
    assert engine.expect_moments(e0 * e1 + e0 + 7, [e0, e1]) == 7
    assert engine.expect_moments((x0 + e0) * (x1 + e1), [e0, e1], [x0, x1], S) == 3
    assert engine.expect_moments((x0 - e0) ** 2, [e0, e1], [x0, x1], S) == 3
    with pytest.raises(ValueError):
        engine.expect_moments(e0 ** 4, [e0, e1])


def test_eigen_parametrisation():
    S, R, (l1, l2), _ = engine.eigen_psd_2x2()
    assert engine.is_zero(R * R.T - sp.eye(2))
    assert engine.is_zero(S * R[:, 0] - l1 * R[:, 0])
    assert engine.is_zero(S * R[:, 1] - l2 * R[:, 1])


# ---------------------------------------------------------------------------------------------
# The prove_* functions directly
# ---------------------------------------------------------------------------------------------

def _shape(result):
    assert set(result) >= {"steps", "proved", "residuals", "errors"}
    assert result["proved"] == all(result["steps"].values())
    assert all(isinstance(v, bool) for v in result["steps"].values())


def test_prove_optimal_dae_candidate_injection():
    good = sym.prove_optimal_dae()
    _shape(good)
    assert good["proved"]
    bad = sym.prove_optimal_dae(lambda S, s2: S * (S + sp.eye(2)).inv())
    _shape(bad)
    assert not bad["proved"]
    assert bad["steps"]["hessian_positive_definite"]           # candidate-independent steps still hold
    assert not bad["steps"]["stationary_at_candidate"]
    assert not bad["steps"]["unique_stationary_point_is_candidate"]
    assert "stationary_at_candidate" in bad["residuals"]


def test_prove_renoise_and_clean_step():
    assert sym.prove_renoise_step()["proved"]
    assert sym.prove_clean_step()["proved"]
    wrong = sym.prove_renoise_step(lambda mu, s2: mu ** 2 / (mu + s2 ** 2))
    assert not wrong["steps"]["partial_fraction"] and wrong["steps"]["matrix_identity"]


def test_collapse_rate_telescoping_depth():
    result = rates.prove_collapse_rate(rounds=1)
    assert result["proved"] and result["steps"]["renoise_telescoping"] and result["steps"]["clean_telescoping"]


def test_catalog_clean_doubly_exp_constant_is_false():
    """The catalog states 4 (x_K/2)^(3^j) <= x_{K+j}; at j = 0 that is 2 x_K <= x_K. The correct constant is 2."""
    catalog = rates.prove_doubly_exponential("clean", lower=lambda v, j: 4 * (v / 2) ** (3 ** j))
    assert not catalog["steps"]["lower_base"] and not catalog["steps"]["map_above_lower"]
    assert rates.prove_doubly_exponential("clean")["proved"]
    assert rates.prove_doubly_exponential("renoise")["proved"]
    with pytest.raises(ValueError):
        rates.prove_doubly_exponential("other")


def test_rounds_overrides():
    assert rates.prove_rounds_renoise()["proved"]
    assert not rates.prove_rounds_renoise({"tail_sum": sp.Integer(2)})["steps"]["tail_sum"]
    assert rates.prove_rounds_clean()["proved"]
    assert not rates.prove_rounds_clean({"decrement_min": sp.Integer(1)})["steps"]["decrement_at_least_min"]


def test_real_fixed_point_check_value():
    result = regimes.prove_real_fixed_point()
    assert result["proved"]
    values = [float(v) for v in result["residuals"]["check_value"].split(",")]
    assert values == pytest.approx([3.03098, 1.07869, 0.240253, 0.0393447, 0.00108580], rel=1e-4)


def test_real_fixed_point_minus_root_is_the_negative_one():
    minus = regimes.prove_real_fixed_point(
        lambda a, lam, s2: ((a * lam - s2) - sp.sqrt((s2 - a * lam) ** 2 + 4 * a ** 2 * lam * s2)) / (2 * a))
    assert minus["steps"]["candidate_is_root"]            # it is a root of q ...
    assert not minus["steps"]["candidate_is_larger_root"]  # ... but the negative one


def test_log_drift_needs_concavity():
    result = regimes.prove_log_drift_direction()
    assert result["proved"]
    assert not regimes.prove_log_drift_direction(lambda v: -sp.log(v))["steps"]["gap_strictly_convex"]
    assert regimes.prove_log_drift_direction(sp.sqrt)["proved"]     # any strictly concave transform drifts down


def test_paper_claims_need_their_assumptions():
    assert paper_proofs.prove_paper_collapse()["proved"]
    assert not paper_proofs.prove_paper_collapse({"sigma2": sp.Integer(0)})["proved"]
    assert paper_proofs.prove_paper_real()["proved"]
    assert not paper_proofs.prove_paper_real({"alpha": sp.Integer(0)})["proved"]


@pytest.mark.parametrize("module", ["engine", "dae", "dae_rates", "dae_regimes", "paper", "flow"])
def test_proof_modules_import_only_sympy_stdlib_and_each_other(module):
    import importlib

    tree = ast.parse(inspect.getsource(importlib.import_module(f"collapse_theory.proofs.{module}")))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
    assert roots <= {"__future__", "itertools", "functools", "typing", "sympy", "."}, roots


# ---------------------------------------------------------------------------------------------
# A symbolic pass certifies the numpy code users call (proof <-> numpy links)
# ---------------------------------------------------------------------------------------------

def _broken(module, name, wrap):
    original = getattr(module, name)
    return name, (lambda *args, **kwargs: wrap(original, *args, **kwargs))


@pytest.mark.parametrize("target, claim, check_name", [
    ("optimal_dae", "DAE-OPT", "wiener-filter"),
    ("fixed_point", "DAE-REAL-FIXED-POINT", "renoise-fixed-point"),
    ("fixed_point_training_moment", "DAE-REAL-FIXED-POINT", "renoise-fixed-point"),
    ("fixed_point_rate", "DAE-REAL-FIXED-POINT", "renoise-fixed-point"),
    ("dae_recursion", "DAE-STEP", "renoise-map"),
    ("dae_recursion", "DAE-STEP", "clean-map"),
    ("velocity_affine", "GRF-VELOCITY", "gaussian-conditional-expectation"),
    ("log_det_drift_per_round", "REFLOW-ESTIMATED-DRIFT", "wishart-log-det-drift"),
    ("reflow_expectations", "REFLOW-ESTIMATED-DRIFT", "wishart-log-det-drift"),
    ("collapse_bounds", "DAE-COLLAPSE-RATE", "gain-bounds-and-telescoping"),
    ("rounds_to_collapse_bounds", "DAE-ROUNDS", "renoise-rounds"),
    ("doubly_exponential_log_bounds", "DAE-DOUBLY-EXP", "clean-bounds"),
    ("accumulate_bounds", "DAE-ACCUMULATE", "running-mean"),
    ("marginal", "GRF-MARGINAL", "continuity-equation"),
    ("ra_stationary_covariance", "RA-REFLOW-BOUNDED", "stationary-covariance"),
    ("reverse_map", "GRF-REVERSE", "reverse-flow-inverts"),
    ("flow_affine", "GRF-MAP", "closed-form-solves-the-ode"),
    ("straightness", "GRF-STRAIGHTNESS-IDENTITY", "closed-form-energies"),
])
def test_breaking_the_numpy_function_fails_the_symbolic_check(monkeypatch, target, claim, check_name):
    import numpy as np

    from collapse_theory.theory.dae import bounds, linear as linear_dae, recursion
    from collapse_theory.theory.flow import gaussian as gf, reflow as gr

    item = next(c for c in SYMBOLIC_CHECKS if c.claim_id == claim and c.name == check_name)
    assert run_check(item).status == "pass"
    breakers = {
        "optimal_dae": (linear_dae, lambda f, S, s2: f(S, 2 * s2)),                    # doubled noise
        "fixed_point": (recursion, lambda f, *a, **k: f(*a, **k) * (1 + 1e-9)),        # a 1e-9 relative slip
        "fixed_point_training_moment": (recursion, lambda f, lam, s2, a, rule="renoise": f(lam, s2, 1 - a, rule)),
        "dae_recursion": (recursion, lambda f, lam, s2, *a, **k: f(lam, np.sqrt(s2), *a, **k)),  # sigma for sigma2
        "velocity_affine": (gf, lambda f, ends, t: (f(ends, t)[0].T, f(ends, t)[1])),  # transposed A_t
        "fixed_point_rate": (recursion, lambda f, lam, s2, a, rule="renoise": f(lam, s2, a, rule) / (1 - a)),  # no 1-a
        "collapse_bounds": (recursion, lambda f, lam, s2, k, rule="renoise": {            # clean with power k
            **f(lam, s2, k, rule), **{key: f(lam, s2, k, "renoise")[key] for key in ("eigenvalue_max", "op_norm")}}),
        "rounds_to_collapse_bounds": (recursion, lambda f, x0: (f(x0)[0], f(x0)[1] + 1e-6)),  # a 1e-6 slip
        "doubly_exponential_log_bounds": (bounds, lambda f, log_x, j, rule="renoise": f(log_x, j, "renoise")),
        "accumulate_bounds": (recursion, lambda f, lam, s2, k: {                                # weights 1/(k + 2)
            **f(lam, s2, k), "training_eigenvalues": f(lam, s2, k)["training_eigenvalues"] * (
                np.arange(k + 1) + 1.0)[:, None] / (np.arange(k + 1) + 2.0)[:, None]}),
        "marginal": (gf, lambda f, ends, t: f(ends, 1 - t)),                            # time reversed
        "ra_stationary_covariance": (gr, lambda f, sc, n, a, ddof=1: f(sc, n, a, ddof) * (1 + 1e-9)),  # a 1e-9 slip
        "reverse_map": (gf, lambda f, ends, x, method="auto": f(ends, x, method) + 1e-9),      # a 1e-9 shift
        "flow_affine": (gf, lambda f, ends, t=1.0, method="auto": (f(ends, t, method)[0].T,  # transposed M_t
                                                                   f(ends, t, method)[1])),
        "straightness": (gf, lambda f, ends: f(ends) * (1 + 1e-9)),                      # a 1e-9 slip
        "log_det_drift_per_round": (gr, lambda f, n, d, ddof=1: f(n, d, ddof) * (1 + 1e-9)),  # a 1e-9 slip
        "reflow_expectations": (gr, lambda f, cov, n, k, ddof=1: {**f(cov, n, k, ddof), "mean_error_sq":  # n - 1 for n
                                                                  f(cov, n, k, ddof)["mean_error_sq"] * n / (n - 1)}),
    }
    module, wrap = breakers[target]
    monkeypatch.setattr(module, *_broken(module, target, wrap))
    result = run_check(item)
    assert result.status == "fail", result.as_dict()
    assert result.evidence["numpy_max_err_over_tol"] > 1
    assert result.evidence["steps_proved"] == result.evidence["steps"]   # the proof itself still holds


# ---------------------------------------------------------------------------------------------
# Every proof step can fail: flip the first + / - (or bump the first number) inside a step's own expression
# ---------------------------------------------------------------------------------------------

_FLIPPED_STEPS = [
    ("dae", "prove_optimal_dae", "one_minus_gain"),
    ("dae", "prove_renoise_step", "partial_fraction"),
    ("dae", "prove_renoise_step", "strictly_below_mu"),
    ("dae", "prove_clean_step", "gap_to_renoise"),
    ("dae", "prove_bottleneck", "rank1_loss"),
    ("dae_rates", "prove_rounds_clean", "decrement_at_least_min"),
    ("dae_rates", "prove_rounds_clean", "decrement_closed_form"),
    ("dae_regimes", "prove_log_drift_direction", "tangent_mean_is_phi_of_mean"),
    ("dae_regimes", "prove_log_drift_direction", "two_point_law_has_mean_m"),
    ("dae_regimes", "prove_real_fixed_point", "quadratic_from_fixed_point_equation"),
    ("dae_regimes", "prove_real_fixed_point", "vieta_product"),
    ("paper", "prove_paper_collapse", "one_minus_rate"),
    ("paper", "prove_paper_collapse", "geometric_ratio"),
    ("paper", "prove_paper_collapse", "bound_at_round_0_is_one_gain"),
    ("paper", "prove_paper_real", "op_norm_excess_closed_form"),
    ("flow", "prove_marginal", "E X_t = m_t"),
    ("flow", "prove_flow_map", "dM/dt = A_t M"),
    ("flow", "prove_flow_map", "M_0 = I"),
    ("flow", "prove_reverse", "T(reverse(x)) = x"),
    ("flow", "prove_straightness", "S + E||Z1 - Z0||^2 = K"),
    ("flow", "prove_ra_stationary", "D fixed point"),
    ("flow", "prove_ra_stationary", "Sigma fixed point"),
    ("flow", "prove_log_det_drift", "E||m_k - m*||^2 = (k + 1) tr Sigma*/n"),
]


class _FlipFirstOperator(ast.NodeTransformer):
    """Inside the lambda of one ``proof.identity/sign("name", ..., lambda: expr)`` call: swap the first + / - met
    in breadth-first order (the outermost operator) or, if there is none, add 1 to the first number."""

    def __init__(self, step_name):
        self.step_name, self.done = step_name, False

    def visit_Call(self, node):
        self.generic_visit(node)
        if (not self.done and isinstance(node.func, ast.Attribute) and node.func.attr in ("identity", "sign")
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == self.step_name
                and isinstance(node.args[-1], ast.Lambda)):
            for sub in ast.walk(node.args[-1].body):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub)):
                    sub.op = ast.Sub() if isinstance(sub.op, ast.Add) else ast.Add()
                    self.done = True
                    break
            else:
                for sub in ast.walk(node.args[-1].body):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float)):
                        sub.value += 1
                        self.done = True
                        break
        return node


@pytest.mark.parametrize("module_name, function, step", _FLIPPED_STEPS, ids=lambda v: str(v)[:40])
def test_a_step_fails_when_its_own_statement_is_flipped(module_name, function, step):
    import importlib
    import textwrap

    module = importlib.import_module(f"collapse_theory.proofs.{module_name}")
    original = getattr(module, function)
    assert original()["steps"][step] is True
    tree = ast.parse(textwrap.dedent(inspect.getsource(original)))
    flipper = _FlipFirstOperator(step)
    tree = ast.fix_missing_locations(flipper.visit(tree))
    assert flipper.done, f"no operator found in step {step!r}"
    namespace = dict(vars(module))
    exec(compile(tree, f"<flipped {function}>", "exec"), namespace)  # noqa: S102 - the proof's own source, mutated
    assert namespace[function]()["steps"][step] is False, f"{function}: step {step!r} still holds when flipped"


def test_ra_d_fixed_point_is_derived_from_the_recursion():
    """The "D fixed point" step solves the recursion's fixed-point equation: a wrong recursion (flipped + in
    D_k + Sigma_k/(n - a), or (1 - alpha) for (1 - alpha)^2) fails it."""
    from collapse_theory.proofs import flow as F

    assert F.prove_ra_stationary()["steps"]["D fixed point"] is True
    flipped = lambda D, s, n, a: (1 - a / n) ** 2 * (D - s / (n - a))  # noqa: E731
    unsquared = lambda D, s, n, a: (1 - a / n) * (D + s / (n - a))  # noqa: E731
    for wrong in (flipped, unsquared):
        assert F.prove_ra_stationary(d_recursion=wrong)["steps"]["D fixed point"] is False


def test_bartlettschur_complement_moments_are_chi2_n_minus_1():
    """The d = 2 Bartlett step is checked, not stated: E y^4 = 3 (Gaussian moments), the Schur complement's moments
    are chi^2_{N-1}'s, and they are not chi^2_N's (the plausible wrong decomposition log det W = 2 log chi^2_N)."""
    import sympy as sp

    from collapse_theory.proofs import flow as F

    y = sp.Symbol("y", real=True)
    assert F.gaussian_moment(y ** 4 + 2 * y ** 2 + y ** 3, [y]) == 5
    assert F.schur_complement_moment(3, 2) == 0
    x = sp.symbols("x1:4", real=True)
    ys = sp.symbols("y1:4", real=True)
    xx = sum(v ** 2 for v in x)
    q = xx * sum(v ** 2 for v in ys) - sum(a * b for a, b in zip(x, ys)) ** 2
    assert sp.expand(F.gaussian_moment(q, ys) - 3 * xx ** 2) != 0    # chi^2_3 mean would be 3
