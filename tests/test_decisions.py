"""The pre-registered decision protocol (collapse_theory.stats.decisions): exact p-values against scipy and
enumeration, null / planted / opposite controls within binomial bounds, Holm, and seed blocks."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from collapse_theory.stats import decisions as D
from collapse_theory.stats.decisions import Protocol, decide, decide_family, detectable_effect, holm, holm_adjust

# Bounds on simulated rates: a binomial tail of 1e-4 (so a correct implementation fails one run in ~10^4).
TAIL = 1e-4


def _proto(test="sign-flip", n=8, **kw):
    base = dict(claim="C-RF", tier="numeric", hypothesis="Reflow's metric rises", statistic="last - first",
                seeds=tuple(range(n)), test=test)
    return Protocol(**(base | kw))


def _upper(n_draws, rate):
    return stats.binom.ppf(1 - TAIL, n_draws, rate) / n_draws


def _lower(n_draws, rate):
    return stats.binom.ppf(TAIL, n_draws, rate) / n_draws


# ----------------------------------------------------------------------------------------------- exact p-values

@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_paired_t_matches_scipy(alternative):
    rng = np.random.default_rng(1)
    for n in (3, 8, 12):
        v = rng.normal(0.3, 1.0, n)
        expected = stats.ttest_1samp(v, 0.0, alternative=alternative).pvalue
        assert D.one_sided_p("paired-t", v, alternative) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_sign_test_matches_binomtest(alternative):
    rng = np.random.default_rng(2)
    for n in (4, 9, 12):
        v = rng.normal(0.4, 1.0, n)
        v[0] = 0.0  # zeros are dropped, as in the exact sign test
        k = int(np.sum(v > 0))
        n_eff = int(np.sum(v != 0))
        expected = stats.binomtest(k, n_eff, 0.5, alternative=alternative).pvalue
        assert D.one_sided_p("sign", v, alternative) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_sign_flip_matches_enumeration(alternative):
    rng = np.random.default_rng(3)
    for n in (2, 5, 8, 10):
        v = rng.standard_t(3, n) + 0.3
        sgn = 1 if alternative == "greater" else -1
        observed = sgn * v.sum()
        count = sum(sgn * np.dot(s, v) >= observed - 1e-12 for s in itertools.product((1, -1), repeat=n))
        assert D.one_sided_p("sign-flip", v, alternative) == pytest.approx(count / 2 ** n, abs=0)


def test_sign_flip_counts_ties_and_smallest_p():
    assert D.one_sided_p("sign-flip", np.ones(8)) == 1 / 256  # only the identity reaches the observed sum
    assert D.one_sided_p("sign-flip", np.ones(8), "less") == 1.0
    assert D.one_sided_p("sign-flip", np.zeros(5)) == 1.0  # every pattern ties
    v = np.array([1.0, 2.0, 3.0])
    assert D.one_sided_p("sign-flip", v) == 1 / 8
    # sums of (+-3, +-1, +-1) at least the observed 3 - 1 + 1 = 3: 3 + 1 + 1, 3 - 1 + 1, 3 + 1 - 1
    assert D.one_sided_p("sign-flip", np.array([3.0, -1.0, 1.0])) == 3 / 8


def test_sign_flip_monte_carlo_agrees_with_exact(monkeypatch):
    rng = np.random.default_rng(4)
    v = rng.normal(0.45, 1.0, 12)
    monkeypatch.setattr(D, "EXACT_SIGN_FLIP_MAX", 11)
    p_mc = D.one_sided_p("sign-flip", v)
    monkeypatch.setattr(D, "EXACT_SIGN_FLIP_MAX", 12)
    p_exact = D.one_sided_p("sign-flip", v)
    se = math.sqrt(p_exact * (1 - p_exact) / D.MONTE_CARLO_FLIPS)
    assert abs(p_mc - p_exact) <= 5 * se + 1 / D.MONTE_CARLO_FLIPS
    assert p_mc >= 1 / (1 + D.MONTE_CARLO_FLIPS)


def test_monte_carlo_sign_flip_counts_the_identity():
    """Above EXACT_SIGN_FLIP_MAX seeds p = (1 + #{draws >= observed}) / (1 + draws): never below 1/(1 + draws), the
    protocol's min_p. With 20 distinct positive values only the all-plus pattern reaches the observed sum, so p is
    1/(1 + draws) plus the (rare) all-plus draws; dropping the identity's 1 (a common bug) would give p = 0 here."""
    n = D.EXACT_SIGN_FLIP_MAX + 4
    v = np.arange(1.0, n + 1)
    p = D.one_sided_p("sign-flip", v)
    protocol = Protocol("C-X", "numeric", "h", "s", tuple(range(n)), "sign-flip")
    assert protocol.min_p() == 1 / (1 + D.MONTE_CARLO_FLIPS)
    assert protocol.min_p() <= p <= 4 / (1 + D.MONTE_CARLO_FLIPS)


def test_vectorised_blocks_equal_one_by_one():
    rng = np.random.default_rng(5)
    blocks = rng.normal(size=(7, 6))
    for test in D.TESTS:
        together = D.one_sided_p(test, blocks)
        assert np.allclose(together, [D.one_sided_p(test, b) for b in blocks], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------ controls

def _rates(protocol, draws):
    """Rates of confirmed and refuted decisions over rows of ``draws`` (the decide rule, vectorised)."""
    thr = protocol.threshold()
    d = draws - protocol.margin
    p = D.one_sided_p(protocol.test, d, protocol.alternative)
    p_opp = D.one_sided_p(protocol.test, d, "less" if protocol.alternative == "greater" else "greater")
    return float(np.mean(p <= thr)), float(np.mean(p_opp <= thr))


@pytest.mark.parametrize("test", D.TESTS)
@pytest.mark.parametrize("law", ["normal", "laplace"])
def test_null_is_inconclusive_within_binomial_bound(test, law):
    protocol = _proto(test, n=8, level=0.05)  # a larger level so the bound has teeth
    rng = np.random.default_rng(10)
    n_draws = 2000
    draws = rng.normal(size=(n_draws, 8)) if law == "normal" else rng.laplace(size=(n_draws, 8))
    confirm, refute = _rates(protocol, draws)
    assert confirm <= _upper(n_draws, protocol.level)
    assert refute <= _upper(n_draws, protocol.level)
    # the full decide path on part of the same draws agrees with the vectorised rule
    decided = [decide(protocol, row).decision for row in draws[:200]]
    c, r = _rates(protocol, draws[:200])
    assert decided.count("confirmed") == round(200 * c) and decided.count("refuted") == round(200 * r)


@pytest.mark.parametrize("test", D.TESTS)
def test_null_control_at_the_default_level(test):
    protocol = _proto(test, n=12)
    draws = np.random.default_rng(11).normal(size=(2000, 12))
    confirm, refute = _rates(protocol, draws)
    assert confirm <= _upper(2000, 0.01) and refute <= _upper(2000, 0.01)
    assert 1 - confirm - refute >= 1 - 2 * _upper(2000, 0.01)


@pytest.mark.parametrize("test", D.TESTS)
def test_planted_effect_of_the_detectable_size_is_confirmed_with_its_power(test):
    protocol = _proto(test, n=12)
    sd = 0.7
    effect = detectable_effect(protocol, sd, target_power=0.8)
    assert effect is not None and effect > 0
    n_draws = 1000
    draws = np.random.default_rng(12).normal(effect, sd, size=(n_draws, 12))
    confirm, refute = _rates(protocol, draws)
    # closed forms (t, sign) are exact; the sign-flip size comes from 2000 simulated blocks (sd of the power
    # estimate ~0.009), allowed 0.04 either way
    slack = 0.04 if test == "sign-flip" else 0.0
    assert _lower(n_draws, 0.8 - slack) <= confirm <= _upper(n_draws, 0.8 + slack)
    assert refute == 0.0
    # the same size in the opposite direction is refuted with the same power
    confirm_opp, refute_opp = _rates(protocol, -draws)
    assert confirm_opp == 0.0 and refute_opp == confirm
    # and half the size has less power
    assert _rates(protocol, draws - effect / 2)[0] < confirm


def test_power_closed_form_matches_simulation():
    for test in ("paired-t", "sign"):
        protocol = _proto(test, n=10)
        analytic = D.power(protocol, 0.9, 1.0)
        draws = np.random.default_rng(13).normal(0.9, 1.0, size=(4000, 10))
        simulated = _rates(protocol, draws)[0]
        assert _lower(4000, analytic) <= simulated <= _upper(4000, analytic)


def test_three_seeds_can_never_confirm_at_001():
    protocol = _proto("sign-flip", n=3)
    assert protocol.min_p() == 1 / 8 and not protocol.can_confirm()
    assert detectable_effect(protocol, 1.0) is None
    assert D.power(protocol, 100.0, 1.0) == 0.0
    result = decide(protocol, [5.0, 6.0, 7.0])
    assert result.decision == "inconclusive" and result.p_value == 1 / 8 and not result.can_confirm
    report = D.power_report(protocol, sd=1.0)
    assert report["can_confirm"] is False and report["detectable_effect"] is None
    assert _proto("sign-flip", n=8).min_p() == 1 / 256 and _proto("sign-flip", n=8).can_confirm()


def test_margin_non_inferiority():
    # "RA's 1-step FD is at most Reflow's + 2": values = ra - reflow, less than margin 2
    protocol = _proto("paired-t", n=8, claim="C-RA", alternative="less", margin=2.0, statistic="ra - reflow FD1")
    v = np.array([0.5, -0.2, 0.3, 0.1, 0.4, -0.1, 0.2, 0.0])
    res = decide(protocol, v)
    assert res.decision == "confirmed" and res.effect == pytest.approx(v.mean())
    assert res.p_value == pytest.approx(stats.ttest_1samp(v - 2.0, 0.0, alternative="less").pvalue)
    assert decide(protocol, v + 4.0).decision == "refuted"  # RA clearly worse than the margin
    effect = detectable_effect(protocol, 0.5)
    assert effect < 2.0  # a true mean below the margin


# ---------------------------------------------------------------------------------------------- decisions, Holm

def test_decision_fields_and_strict_json():
    protocol = _proto("sign-flip", n=8)
    res = decide(protocol, np.arange(1.0, 9.0), seeds=range(8))
    d = res.as_dict()
    for key in ("claim", "tier", "decision", "n_seeds", "effect", "ci_low", "ci_high", "p_value"):
        assert key in d
    assert d["decision"] == "confirmed" and d["n_seeds"] == 8 and d["p_value"] == 1 / 256
    assert d["protocol_hash"] == protocol.hash() and d["seeds"] == list(range(8))
    lo, hi = stats.t.interval(0.95, 7, loc=4.5, scale=stats.sem(np.arange(1.0, 9.0)))
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((lo, hi))
    json.dumps(d, allow_nan=False)


def test_holm_adjust_against_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    adj = holm_adjust(p)
    # sorted: 0.005 (x4) 0.01 (x3) 0.03 (x2) 0.04 (x1), running max
    assert np.allclose(adj, [0.03, 0.06, 0.06, 0.02])
    assert holm(p, 0.05) == [True, False, False, True]
    assert holm([0.2], 0.05) == [False]


def test_decide_family_applies_holm():
    seeds = tuple(range(8))
    a = Protocol("C-RF", "trained", "rises", "slope", seeds, "sign-flip", family_size=2)
    b = Protocol("C-RA", "trained", "ra lower", "reflow - ra", seeds, "sign-flip", family_size=2)
    strong = np.arange(1.0, 9.0)                         # p = 1/256
    weaker = np.array([1.0, 2, 3, 4, 5, 6, 7, -0.5])     # p = 2/256 (only flipping -0.5 beats it)
    ra, rb = decide_family([(a, strong), (b, weaker)])
    assert ra.decision == "confirmed" and ra.p_adjusted == pytest.approx(2 / 256)
    assert rb.p_value == pytest.approx(2 / 256) and rb.p_adjusted == pytest.approx(2 / 256)
    assert rb.decision == "confirmed"  # Holm: the second smallest p is compared with 0.01 / 1
    assert decide(b, weaker).decision == "inconclusive"  # Bonferroni alone: 2 * 2/256 > 0.01
    assert decide(b, weaker, holm_rank=2).decision == "confirmed"
    with pytest.raises(ValueError, match="family_size"):
        decide_family([(a, strong)])
    with pytest.raises(ValueError, match="distinct decisions"):
        decide_family([(a, strong), (a, weaker)])


# ------------------------------------------------------------------------------------------------ seed blocks

def test_another_seed_block_is_the_same_protocol_but_its_seeds():
    first = _proto("sign-flip", n=8, tier="trained")
    second = first.with_seeds(range(8, 16))
    c1, c2 = first.canonical(), second.canonical()
    assert {k for k in c1 if c1[k] != c2[k]} == {"seeds"}
    assert first.hash() != second.hash()
    assert second.with_seeds(range(8)).hash() == first.hash()
    values = np.random.default_rng(20).normal(1.5, 1.0, 8)
    r1 = decide(first, values, seeds=range(8))
    r2 = decide(second, values, seeds=range(8, 16))
    # the same numbers on another block decide the same way with the same thresholds: nothing is per-block
    assert (r1.decision, r1.p_value, r1.effect, r1.level) == (r2.decision, r2.p_value, r2.effect, r2.level)
    with pytest.raises(ValueError, match="seeds"):
        decide(first, values, seeds=range(8, 16))


def test_hash_is_stable_and_sensitive():
    protocol = _proto()
    assert protocol.hash() == _proto().hash() and len(protocol.hash()) == 64
    text = json.dumps(protocol.canonical(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    import hashlib

    assert protocol.hash() == hashlib.sha256(text.encode()).hexdigest()
    for change in (dict(level=0.05), dict(test="paired-t"), dict(margin=0.1), dict(alternative="less"),
                   dict(family_size=2), dict(statistic="slope")):
        assert _proto(**change).hash() != protocol.hash()


# ------------------------------------------------------------------------------------------------ bad input

def test_bad_input_names_the_argument():
    protocol = _proto(n=4)
    with pytest.raises(ValueError, match="values"):
        decide(protocol, [1.0, float("nan"), 2.0, 3.0])
    with pytest.raises(ValueError, match="values"):
        decide(protocol, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="seeds"):
        decide(protocol, [1.0, 2.0, 3.0, 4.0], seeds=[0, 1, 2, 5])
    for kw, name in ((dict(test="wilcoxon"), "test"), (dict(alternative="two-sided"), "alternative"),
                     (dict(level=1.5), "level"), (dict(level=float("nan")), "level"),
                     (dict(seeds=(1, 1, 2)), "seeds"), (dict(seeds=(1,)), "seeds"),
                     (dict(family_size=0), "family_size"), (dict(margin=float("inf")), "margin"),
                     (dict(hypothesis=""), "hypothesis")):
        with pytest.raises(ValueError, match=name):
            _proto(**kw)
    with pytest.raises(ValueError, match="holm_rank"):
        decide(protocol, [1.0, 2.0, 3.0, 4.0], holm_rank=2)
    with pytest.raises(ValueError, match="sd"):
        detectable_effect(protocol, 0.0)
    with pytest.raises(ValueError, match="p_values"):
        holm_adjust([0.5, 1.5])


# ------------------------------------------------------------------------------------------ registry integration

def test_check_result_carries_the_decision():
    from collapse_theory.claims.registry import Check, Outcome, run_check

    protocol = _proto("sign-flip", n=8, claim="C-RF", tier="numeric")

    def run(impl):
        values = np.arange(1.0, 9.0) if impl is None else impl
        return Outcome(impl is None, {"n": 8}, decision=decide(protocol, values))

    item = Check("C-RF", "numeric", "toy-decision", run, {"wrong": -np.arange(1.0, 9.0)})
    result = run_check(item)
    assert result.status == "pass" and result.decision.decision == "confirmed"
    d = result.as_dict()
    for key in ("claim", "tier", "decision", "n_seeds", "effect", "ci_low", "ci_high", "p_value"):
        assert key in d
    assert (d["claim"], d["tier"], d["check"], d["decision"], d["n_seeds"]) == ("C-RF", "numeric", "toy-decision",
                                                                             "confirmed", 8)
    json.dumps(d, allow_nan=False)
    # a decision about another claim is a machinery error
    wrong = Check("C-RA", "numeric", "toy-decision", run, {"wrong": -np.arange(1.0, 9.0)})
    assert run_check(wrong).status == "error"
    # checks without a decision keep their old keys only
    plain = run_check(Check("C-RF", "numeric", "plain", lambda impl: Outcome(impl is None), {"m": 1}))
    assert plain.status == "pass" and "decision" not in plain.as_dict()


# ------------------------------------------------------------------------------------- margin sensitivity

import dataclasses  # noqa: E402 - this section was appended

EPS = np.finfo(float).eps


def _paired_t_bound_gap(protocol, values, rank, edge=D.confirming_margin):
    """|edge - the one-sided (1 - a/k) confidence bound mean +- t_{n-1}^{-1}(1 - a/k) s/sqrt(n)| minus its
    tolerance (> 0: mismatch). The bound's sign: + for confirming "less" / refuting "greater". Tolerance
    64 eps (1 + |v|max + |bound| + se (t + q / f(t))): the rounding of v - m and of the statistic, and of the
    crossing of k sf(t) = a (a relative error of the p-value moves it by q / f(t) in t)."""
    n = protocol.n_seeds
    k = protocol.family_size - (rank or 1) + 1 if rank else protocol.family_size
    q = protocol.level / k
    tc = stats.t.isf(q, n - 1)
    se = float(np.std(values, ddof=1)) / math.sqrt(n)
    up = (protocol.alternative == "less") == (edge is D.confirming_margin)
    bound = float(np.mean(values)) + (1 if up else -1) * tc * se
    tol = 64 * EPS * (1 + np.abs(values).max() + abs(bound) + se * (tc + q / stats.t.pdf(tc, n - 1)))
    return abs(edge(protocol, values, rank) - bound) - tol


PT_CASES = [(n, alt, fam, rank) for n in (3, 8, 12) for alt in ("less", "greater")
            for fam, rank in ((1, None), (4, None), (4, 2), (4, 4))]


@pytest.mark.parametrize("n, alternative, family, rank", PT_CASES)
def test_confirming_margin_of_paired_t_is_the_one_sided_confidence_bound(n, alternative, family, rank):
    rng = np.random.default_rng(40 + n)
    values = rng.normal(0.3, 0.7, n)
    protocol = _proto("paired-t", n=n, alternative=alternative, family_size=family, margin=0.1)
    assert _paired_t_bound_gap(protocol, values, rank) <= 0
    assert _paired_t_bound_gap(protocol, values, rank, D.refuting_margin) <= 0


def test_confirming_margin_check_rejects_plausible_wrong_rules(monkeypatch):
    protocol = _proto("paired-t", n=8, alternative="less", family_size=4, margin=0.1)
    values = np.random.default_rng(48).normal(0.3, 0.7, 8)
    right = D.decide
    # the Holm rank dropped (always Bonferroni), and a two-sided test (p doubled)
    mutants = {"ignores holm_rank": lambda p, v, seeds=None, holm_rank=None: right(p, v, seeds),
               "two-sided": lambda p, v, seeds=None, holm_rank=None: right(
                   dataclasses.replace(p, level=p.level / 2), v, seeds, holm_rank)}
    for name, wrong in mutants.items():
        monkeypatch.setattr(D, "decide", wrong)
        assert _paired_t_bound_gap(protocol, values, 3) > 0, name
    monkeypatch.setattr(D, "decide", right)
    assert _paired_t_bound_gap(protocol, values, 3) <= 0


def _subset_means(values):
    n = len(values)
    return np.array([np.mean([values[i] for i in subset]) for a in range(1, n + 1)
                     for subset in itertools.combinations(range(n), a)])


def _sign_flip_edge_gap(protocol, values, rank):
    """|confirming margin - the (c + 1)-th largest ("less"; smallest for "greater") of the 2^n - 1 subset means|,
    c = floor(a 2^n / k) - 1, minus its tolerance: the sign-flip count's own slack 1e-9 sum|v - m| (a pattern
    counts within it) plus 64 eps (1 + |v|max + |m|) (> 0: mismatch)."""
    n = protocol.n_seeds
    k = protocol.family_size - (rank or 1) + 1 if rank else protocol.family_size
    c = math.floor(protocol.level * 2 ** n / k) - 1
    means = np.sort(_subset_means(values))
    exact = means[::-1][c] if protocol.alternative == "less" else means[c]
    got = D.confirming_margin(protocol, values, rank)
    tol = 1e-9 * np.abs(values - exact).sum() + 64 * EPS * (1 + np.abs(values).max() + abs(exact))
    return abs(got - exact) - tol


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_confirming_margin_of_sign_flip_is_monotone_and_exact(alternative):
    rng = np.random.default_rng(50)
    n = 10
    values = rng.normal(0.2, 0.5, n)
    for family, rank in ((1, None), (4, None), (4, 3)):
        protocol = _proto("sign-flip", n=n, alternative=alternative, family_size=family, margin=0.0)
        edge = D.confirming_margin(protocol, values, rank)

        def decision(m):
            return decide(dataclasses.replace(protocol, margin=m), values, holm_rank=rank).decision

        # the decision switches once on a grid of margins (monotone), at the returned margin
        grid = np.linspace(values.min() - 1, values.max() + 1, 401)
        confirmed = np.array([decision(m) == "confirmed" for m in grid])
        if alternative == "greater":
            confirmed = confirmed[::-1]
            grid = grid[::-1]
        assert confirmed.any() and not confirmed.all()
        first = int(np.argmax(confirmed))
        assert confirmed[first:].all() and not confirmed[:first].any()
        beyond = 1.0 if alternative == "less" else -1.0
        assert beyond * (grid[first] - edge) >= 0 and beyond * (grid[first - 1] - edge) < 0
        # at the returned margin and a step beyond: confirmed; a step short: not
        step = 64 * EPS * (1 + np.abs(values).max() + abs(edge))
        assert decision(edge) == "confirmed" and decision(edge + beyond * step) == "confirmed"
        assert decision(edge - beyond * step) != "confirmed"
        # and it is the subset mean the exact test turns on
        assert _sign_flip_edge_gap(protocol, values, rank) <= 0


def test_sign_flip_edge_check_rejects_a_dropped_holm_rank(monkeypatch):
    protocol = _proto("sign-flip", n=10, alternative="less", family_size=4)
    values = np.random.default_rng(50).normal(0.2, 0.5, 10)
    right = D.decide
    monkeypatch.setattr(D, "decide", lambda p, v, seeds=None, holm_rank=None: right(p, v, seeds))
    assert _sign_flip_edge_gap(protocol, values, 4) > 0


def test_refuting_margin_and_cannot_decide():
    rng = np.random.default_rng(51)
    values = rng.normal(0.2, 0.5, 10)
    protocol = _proto("sign-flip", n=10, alternative="less", family_size=2, margin=0.0)
    edge = D.refuting_margin(protocol, values)
    step = 64 * EPS * (1 + np.abs(values).max() + abs(edge))

    def decision(m):
        return decide(dataclasses.replace(protocol, margin=m), values).decision

    assert decision(edge) == decision(edge - step) == "refuted" and decision(edge + step) != "refuted"
    assert edge < D.confirming_margin(protocol, values)
    for test in ("sign-flip", "paired-t", "sign"):
        protocol = _proto(test, n=8, alternative="greater")
        values = rng.normal(0.0, 1.0, 8)
        c, r = D.confirming_margin(protocol, values), D.refuting_margin(protocol, values)
        assert decide(dataclasses.replace(protocol, margin=c), values).decision == "confirmed"
        assert decide(dataclasses.replace(protocol, margin=r), values).decision == "refuted"
    three = _proto("sign-flip", n=3)
    assert D.confirming_margin(three, [1.0, 2.0, 3.0]) is None and D.refuting_margin(three, [1.0, 2.0, 3.0]) is None
