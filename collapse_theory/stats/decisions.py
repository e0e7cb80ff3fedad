"""The pre-registered decision protocol: how a paper claim is decided from per-seed paired values.

A :class:`Protocol` fixes, in code and before any data exist, everything a decision depends on: the claim and
tier, the one-sided hypothesis in words, the per-seed statistic, the seeds, the test, the direction, the family
level, the size of the family it is Holm-corrected over, and an optional margin. Its :meth:`Protocol.hash`
(sha256 of its canonical strict JSON) goes into every run manifest, so a result can be traced to the protocol
that decided it. Running the same protocol on another block of seeds is ``protocol.with_seeds(other)``: the same
object except ``seeds`` (there are no per-block constants anywhere).

Per seed s the experiment yields one number v_s (e.g. Reflow's metric minus RA's at the last round). The test
acts on the shifted values d_s = v_s - margin (margin 0 unless a non-inferiority margin is pre-registered) and
asks whether their mean is > 0 (``alternative="greater"``) or < 0 (``"less"``). Three outcomes:

- ``confirmed``     the one-sided test in the hypothesised direction rejects at the Holm-adjusted level;
- ``refuted``       the one-sided test in the opposite direction rejects at that level (the data show the
                    opposite of the claim, significantly);
- ``inconclusive``  neither: the seeds cannot tell (a result, not a failure).

Each direction is a one-sided test at the family level, so P(false confirm) <= level and P(false refute) <= level
under d's null (mean, or median for the sign test, equal to 0). Holm over the ``family_size`` claims decided at one
tier: with p-values p_(1) <= ... <= p_(m) the adjusted p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)) and a claim is
rejected iff p~ <= level (:func:`holm_adjust`, :func:`decide_family`); :func:`decide` alone uses the Bonferroni
multiplier m (or m - r + 1 for a given Holm rank r), never less conservative than Holm.

Tests (``Protocol.test``):

- ``sign-flip``  exact sign-flip permutation test of the mean of d (Fisher's randomisation test for paired
                 values): under H0 each d_s is symmetric about 0, so the 2^n sign patterns are equally likely;
                 p = #{patterns with sum(+-d) >= sum(d)} / 2^n (the identity counted). Exact for any symmetric
                 null, uses the sizes of the values (more power than the sign test), no normality assumed. The
                 smallest attainable p is 2^-n: 8 seeds give 1/256, 3 seeds 1/8 (which can never reach 0.01).
                 Above :data:`EXACT_SIGN_FLIP_MAX` seeds the 2^n patterns are replaced by
                 :data:`MONTE_CARLO_FLIPS` uniformly drawn ones (fixed generator seed 0) with
                 p = (1 + #{draws >= observed}) / (1 + draws), still a valid p-value.
- ``paired-t``   one-sample t test of mean(d) = 0 with n - 1 degrees of freedom (scipy.stats.ttest_1samp);
                 exact for Gaussian per-seed values, most powerful then; the right choice for many cheap
                 replicates (numeric tier) whose values are averages.
- ``sign``       exact binomial sign test on #{d_s > 0} among the non-zero d_s (scipy.stats.binomtest): assumes
                 only that the per-seed median is 0 under H0; robust to outliers and diverged seeds, least power.

The reported effect is the mean of the (unshifted) values v_s and its 95 % CI the Student-t interval
mean +- t_{n-1}(0.975) s / sqrt(n) for every test (descriptive; the decision comes from the test).

Power: :func:`power` (probability of ``confirmed`` when the per-seed values are i.i.d. N(effect, sd^2): closed form
for ``paired-t`` (noncentral t) and ``sign`` (binomial), Monte-Carlo with common random numbers for ``sign-flip``)
and :func:`detectable_effect` (the smallest true mean confirmed with a target power), so each check can report
the smallest effect its seeds can detect — or that they can detect none (:meth:`Protocol.can_confirm`).

Margins: :func:`confirming_margin` and :func:`refuting_margin` (the margins from which the same data would be
confirmed / up to which refuted, all else fixed), so a decision with a margin shows how it depends on the margin.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

from ..validation import check_choice, check_positive_int

TESTS = ("sign-flip", "paired-t", "sign")
ALTERNATIVES = ("greater", "less")
DECISIONS = ("confirmed", "refuted", "inconclusive")
PROTOCOL_VERSION = 1
CI_LEVEL = 0.95
EXACT_SIGN_FLIP_MAX = 16
"""Up to this many seeds the sign-flip test enumerates all 2^n sign patterns."""
MONTE_CARLO_FLIPS = 65_536
"""Random sign patterns of the sign-flip test above :data:`EXACT_SIGN_FLIP_MAX` seeds."""
_OPPOSITE = {"greater": "less", "less": "greater"}


def _finite_float(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def _seed_tuple(seeds, name: str) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of distinct integers, got {seeds!r}")
    try:
        items = list(seeds)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of distinct integers, got {seeds!r}") from None
    out = []
    for s in items:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ValueError(f"{name} must hold integers, got {s!r}")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    return tuple(out)


@dataclass(frozen=True)
class Protocol:
    """A pre-registered decision of one claim at one tier (see the module docstring for the semantics).

    ``statistic`` names the per-seed value (e.g. "per-seed paired difference reflow - ra of FD16 at the last
    round"); ``margin`` shifts the null (d = v - margin): a non-inferiority claim "RA's 1-step FD is at most
    Reflow's + 2" is ``statistic="ra - reflow FD1"``, ``alternative="less"``, ``margin=2``."""

    claim: str
    tier: str
    hypothesis: str
    statistic: str
    seeds: tuple[int, ...]
    test: str
    alternative: str = "greater"
    level: float = 0.01
    family_size: int = 1
    margin: float = 0.0

    def __post_init__(self):
        for name in ("claim", "tier", "hypothesis", "statistic"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        seeds = _seed_tuple(self.seeds, "seeds")
        if len(seeds) < 2:
            raise ValueError(f"seeds must hold at least 2 seeds, got {list(seeds)}")
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "test", check_choice(self.test, TESTS, "test"))
        object.__setattr__(self, "alternative", check_choice(self.alternative, ALTERNATIVES, "alternative"))
        level = _finite_float(self.level, "level")
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "family_size", check_positive_int(self.family_size, "family_size"))
        object.__setattr__(self, "margin", _finite_float(self.margin, "margin"))

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def canonical(self) -> dict:
        """Every field, JSON-ready (seeds as a list), plus the protocol version."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["seeds"] = list(self.seeds)
        out["protocol_version"] = PROTOCOL_VERSION
        return out

    def hash(self) -> str:
        """sha256 hex digest of the canonical strict JSON (sorted keys, no NaN)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def with_seeds(self, seeds: Sequence[int]) -> "Protocol":
        """The same protocol on another block of seeds (nothing else changes)."""
        return dataclasses.replace(self, seeds=tuple(seeds))

    def threshold(self, holm_rank: int | None = None) -> float:
        """The per-claim level the raw p-value is compared with: level / m (Bonferroni, ``holm_rank=None``) or
        level / (m - r + 1) for the claim of Holm rank r (1 = smallest p of the family)."""
        return self.level / _multiplier(self, holm_rank)

    def min_p(self) -> float:
        """The smallest p-value the test can produce at these seeds: 2^-n (sign-flip, sign), 1/(1+B) for the
        Monte-Carlo sign-flip, 0 for the t test."""
        n = self.n_seeds
        if self.test == "paired-t":
            return 0.0
        if self.test == "sign-flip" and n > EXACT_SIGN_FLIP_MAX:
            return 1.0 / (1 + MONTE_CARLO_FLIPS)
        return 2.0 ** -n

    def can_confirm(self, holm_rank: int | None = None) -> bool:
        """Whether any data could confirm at these seeds (min_p <= threshold)."""
        return self.min_p() <= self.threshold(holm_rank)


def _multiplier(protocol: Protocol, holm_rank: int | None) -> int:
    m = protocol.family_size
    if holm_rank is None:
        return m
    r = check_positive_int(holm_rank, "holm_rank")
    if r > m:
        raise ValueError(f"holm_rank must be <= family_size = {m}, got {r}")
    return m - r + 1


# ------------------------------------------------------------------------------------------------------ p-values

def _sign_matrix(n: int) -> np.ndarray:
    """All 2^n sign patterns as rows of +-1 (the identity is row 0)."""
    codes = np.arange(2 ** n, dtype=np.int64)[:, None]
    bits = (codes >> np.arange(n, dtype=np.int64)[None, :]) & 1
    return 1.0 - 2.0 * bits


def _sign_flip_p(d: np.ndarray, alternative: str) -> np.ndarray:
    """One-sided sign-flip p-values of rows of d (shape (B, n))."""
    B, n = d.shape
    if n <= EXACT_SIGN_FLIP_MAX:
        signs = _sign_matrix(n)
        count_total = signs.shape[0]
    else:
        rng = np.random.default_rng(0)
        signs = np.vstack([np.ones((1, n)), rng.choice([-1.0, 1.0], size=(MONTE_CARLO_FLIPS, n))])
        count_total = None
    sgn = 1.0 if alternative == "greater" else -1.0
    out = np.empty(B)
    chunk = max(1, (1 << 22) // signs.shape[0])
    for start in range(0, B, chunk):
        block = sgn * d[start:start + chunk]
        observed = block.sum(axis=1)
        tol = 1e-9 * np.abs(block).sum(axis=1) + 1e-300
        flipped = block @ signs.T  # (b, patterns)
        count = np.sum(flipped >= (observed - tol)[:, None], axis=1)
        if count_total is None:  # identity is row 0 of the draws: p = (1 + #{draws >= obs}) / (1 + draws)
            out[start:start + chunk] = count / signs.shape[0]
        else:
            out[start:start + chunk] = count / count_total
    return out


def _paired_t_p(d: np.ndarray, alternative: str) -> np.ndarray:
    n = d.shape[1]
    mean = d.mean(axis=1)
    sd = d.std(axis=1, ddof=1)
    sgn = 1.0 if alternative == "greater" else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = sgn * mean / (sd / math.sqrt(n))
    p = _st.t.sf(t, n - 1)
    # zero spread: the sample is a point; p = 0 in its direction, 1 against or at 0
    point = sd == 0
    p = np.where(point, np.where(sgn * mean > 0, 0.0, 1.0), p)
    return p


def _sign_p(d: np.ndarray, alternative: str) -> np.ndarray:
    sgn = 1.0 if alternative == "greater" else -1.0
    k = np.sum(sgn * d > 0, axis=1)
    n_eff = np.sum(d != 0, axis=1)
    return np.where(n_eff > 0, _st.binom.sf(k - 1, n_eff, 0.5), 1.0)


def one_sided_p(test: str, values, alternative: str = "greater") -> np.ndarray | float:
    """One-sided p-value(s) of ``test`` for mean (median for ``sign``) of ``values`` > 0 (``greater``) or < 0.

    ``values`` has the seeds on its last axis; leading axes are independent blocks (vectorised for power
    simulations). Returns a float for 1-D input."""
    test = check_choice(test, TESTS, "test")
    alternative = check_choice(alternative, ALTERNATIVES, "alternative")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(f"values must hold at least 2 seeds on the last axis, got shape {arr.shape}")
    if np.any(np.isnan(arr)) or np.any(np.isinf(arr)):
        raise ValueError("values must be finite (no NaN or Inf)")
    d = arr.reshape(-1, arr.shape[-1])
    fn = {"sign-flip": _sign_flip_p, "paired-t": _paired_t_p, "sign": _sign_p}[test]
    p = np.clip(fn(d, alternative), 0.0, 1.0).reshape(arr.shape[:-1])
    return float(p) if arr.ndim == 1 else p


# ------------------------------------------------------------------------------------------------------ decisions

@dataclass(frozen=True)
class Decision:
    """The outcome of a protocol on its seeds: the decision, effect (mean of the per-seed values) with its 95 %
    t interval, the raw one-sided p-value in the hypothesised direction (``p_value``) and in the opposite one
    (``p_opposite``), both after Holm/Bonferroni adjustment (``p_adjusted``, ``p_opposite_adjusted``), the level
    they were compared with, and the smallest p the test can produce at these seeds."""

    claim: str
    tier: str
    decision: str
    n_seeds: int
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    seeds: tuple[int, ...]
    protocol_hash: str
    statistic: str
    test: str
    alternative: str = "greater"
    margin: float = 0.0
    level: float = 0.01
    p_adjusted: float = math.nan
    p_opposite: float = math.nan
    p_opposite_adjusted: float = math.nan
    min_p: float = 0.0
    can_confirm: bool = True
    hypothesis: str = ""
    ci_method: str = "student-t interval of the mean, n - 1 df"

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["seeds"] = list(self.seeds)
        return out


def _values(protocol: Protocol, values, seeds) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values must be numeric, got {values!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"values must be 1-D (one value per seed), got shape {arr.shape}")
    if np.any(np.isnan(arr)):
        raise ValueError(f"values must not contain NaN (seeds {[s for s, v in zip(protocol.seeds, arr) if v != v]})")
    if np.any(np.isinf(arr)):
        raise ValueError("values must be finite (no Inf)")
    if seeds is not None:
        given = _seed_tuple(seeds, "seeds")
        if given != protocol.seeds:
            raise ValueError(f"seeds must equal the protocol's seeds {list(protocol.seeds)} (in order), got "
                             f"{list(given)}; another block of seeds is protocol.with_seeds(...)")
    if arr.size != protocol.n_seeds:
        raise ValueError(f"values must hold one value per protocol seed ({protocol.n_seeds}), got {arr.size}")
    return arr


def _mean_ci(v: np.ndarray) -> tuple[float, float, float]:
    n = v.size
    mean = float(v.mean())
    half = float(_st.t.ppf(0.5 + CI_LEVEL / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def _build(protocol: Protocol, v: np.ndarray, p: float, p_opp: float, p_adj: float, p_opp_adj: float,
           holm_rank: int | None) -> Decision:
    if p_adj <= protocol.level:
        decision = "confirmed"
    elif p_opp_adj <= protocol.level:
        decision = "refuted"
    else:
        decision = "inconclusive"
    mean, lo, hi = _mean_ci(v)
    return Decision(protocol.claim, protocol.tier, decision, protocol.n_seeds, mean, lo, hi, float(p),
                    protocol.seeds, protocol.hash(), protocol.statistic, protocol.test, protocol.alternative,
                    protocol.margin, protocol.level, float(p_adj), float(p_opp), float(p_opp_adj),
                    protocol.min_p(), protocol.can_confirm(holm_rank), protocol.hypothesis)


def _raw_p(protocol: Protocol, v: np.ndarray) -> tuple[float, float]:
    d = v - protocol.margin
    return (one_sided_p(protocol.test, d, protocol.alternative),
            one_sided_p(protocol.test, d, _OPPOSITE[protocol.alternative]))


def decide(protocol: Protocol, values: Sequence[float], seeds: Sequence[int] | None = None,
           holm_rank: int | None = None) -> Decision:
    """Decide ``protocol`` on one value per seed (in the protocol's seed order; ``seeds``, when given, must equal
    ``protocol.seeds``). The raw p-values are multiplied by m = family_size (Bonferroni, ``holm_rank=None``) or
    m - r + 1 (Holm rank r, valid when the r - 1 claims with smaller p were rejected: :func:`decide_family` keeps
    that bookkeeping) and compared with ``protocol.level``."""
    v = _values(protocol, values, seeds)
    p, p_opp = _raw_p(protocol, v)
    k = _multiplier(protocol, holm_rank)
    return _build(protocol, v, p, p_opp, min(1.0, k * p), min(1.0, k * p_opp), holm_rank)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values: p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)) in ascending order of p
    (reject claim i at family level a iff p~_i <= a)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p_values must be a non-empty 1-D sequence, got shape {p.shape}")
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def holm(p_values: Sequence[float], level: float = 0.01) -> list[bool]:
    """Holm's step-down test at family level ``level``: which hypotheses are rejected."""
    level = _finite_float(level, "level")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return [bool(a <= level) for a in holm_adjust(p_values)]


def decide_family(items: Sequence[tuple]) -> list[Decision]:
    """Decide the claims of one tier together with Holm's step-down correction.

    ``items``: one ``(protocol, values)`` or ``(protocol, values, seeds)`` per claim; the protocols must share
    tier and level, be distinct decisions (claim, statistic: one claim may have several), and declare
    ``family_size == len(items)`` (fixed in advance). Each
    direction is Holm-adjusted over the family separately (confirmations among the hypothesised p-values,
    refutations among the opposite ones)."""
    if not items:
        raise ValueError("items must hold at least one (protocol, values) pair")
    protocols, arrays = [], []
    for item in items:
        if not 2 <= len(item) <= 3:
            raise ValueError(f"items must be (protocol, values[, seeds]) tuples, got {item!r}")
        protocol = item[0]
        if not isinstance(protocol, Protocol):
            raise ValueError(f"items must start with a Protocol, got {type(protocol).__name__}")
        protocols.append(protocol)
        arrays.append(_values(protocol, item[1], item[2] if len(item) == 3 else None))
    first = protocols[0]
    for protocol in protocols:
        if protocol.tier != first.tier or protocol.level != first.level:
            raise ValueError("items must share tier and level (one Holm family per tier)")
        if protocol.family_size != len(items):
            raise ValueError(f"family_size must equal the number of claims decided together ({len(items)}), "
                             f"got {protocol.family_size} for {protocol.claim}")
    if len({(p.claim, p.statistic) for p in protocols}) != len(protocols):
        raise ValueError("items must be distinct decisions (claim, statistic)")
    raw = [_raw_p(p, v) for p, v in zip(protocols, arrays)]
    adj = holm_adjust([r[0] for r in raw])
    adj_opp = holm_adjust([r[1] for r in raw])
    ranks = np.empty(len(raw), dtype=int)
    ranks[np.argsort([r[0] for r in raw], kind="stable")] = np.arange(1, len(raw) + 1)
    return [_build(p, v, r[0], r[1], a, b, int(k))
            for p, v, r, a, b, k in zip(protocols, arrays, raw, adj, adj_opp, ranks)]


def controls_behaved(null: Decision, planted: Decision) -> bool:
    """A decision check's controls: the null control comes out ``inconclusive`` and the planted one ``confirmed``."""
    return null.decision == "inconclusive" and planted.decision == "confirmed"


# ------------------------------------------------------------------------------------------------------ margins

def confirming_margin(protocol: Protocol, values: Sequence[float], holm_rank: int | None = None) -> float | None:
    """The margin from which the data confirm, everything but the margin fixed: with D(m) the decision of
    ``decide(dataclasses.replace(protocol, margin=m), values, holm_rank=holm_rank)`` (the same test, level and
    Bonferroni multiplier m_f or Holm multiplier m_f - r + 1), inf{m : D(m) = confirmed} for ``alternative="less"``
    and sup{m : D(m) = confirmed} for ``"greater"``; ``None`` when no data can confirm (:meth:`Protocol.can_confirm`).

    The raw p-value is monotone in m (d_s = v_s - m: the t statistic is linear in m; the sign test gains a seed
    in its direction; a sign pattern flipping the seeds A counts toward the sign-flip p iff m <= mean_A(v) for
    "less", >= for "greater"), so the confirmed margins form a half-line, whose end is found by bisection
    to eps * max(|v|, |m|) (the rounding of v - m); the returned margin itself confirms. For ``paired-t`` it is the
    one-sided confidence bound mean(v) +- t_{n-1}^{-1}(1 - a/k) s / sqrt(n) (a the level, k the multiplier; + for
    "less"); for ``sign-flip`` with n <= :data:`EXACT_SIGN_FLIP_MAX` the (c + 1)-th largest (smallest for
    "greater") of the 2^n - 1 subset means of v, c = floor(a 2^n / k) - 1. Read with the chosen margin: the
    decision is ``confirmed`` iff that margin is at or beyond this one."""
    return _margin_edge(protocol, values, holm_rank, "confirmed", protocol.alternative == "less")


def refuting_margin(protocol: Protocol, values: Sequence[float], holm_rank: int | None = None) -> float | None:
    """The margin up to which the data refute, everything but the margin fixed: sup{m : D(m) = refuted} for
    ``alternative="less"``, inf for ``"greater"`` (D as in :func:`confirming_margin`; pass the Holm rank of the
    opposite direction's family, as :func:`decide_family` ranks refutations separately); ``None`` when no data can
    refute. The decision is ``refuted`` iff the chosen margin is at or short of this one."""
    return _margin_edge(protocol, values, holm_rank, "refuted", protocol.alternative == "greater")


def _margin_edge(protocol: Protocol, values, holm_rank, outcome: str, upward: bool) -> float | None:
    """The end of the half-line of margins at which :func:`decide` gives ``outcome`` ([edge, inf) when
    ``upward``, (-inf, edge] otherwise), by bracketing around mean(v) and bisection."""
    v = _values(protocol, values, None)
    if not protocol.can_confirm(holm_rank):  # the opposite direction has the same smallest p and threshold
        return None

    def hit(m: float) -> bool:
        return decide(dataclasses.replace(protocol, margin=m), v, holm_rank=holm_rank).decision == outcome

    centre, sign = float(v.mean()), 1.0 if upward else -1.0
    step = float(np.abs(v - centre).max() + abs(centre)) or 1.0
    inside, outside = centre + sign * step, centre - sign * step
    for _ in range(64):
        if hit(inside) and not hit(outside):
            break
        step *= 2.0
        inside, outside = centre + sign * step, centre - sign * step
    else:
        return None
    scale = float(np.abs(v).max())
    while abs(inside - outside) > np.finfo(float).eps * max(scale, abs(inside), abs(outside)):
        mid = 0.5 * (inside + outside)
        if mid in (inside, outside):
            break
        if hit(mid):
            inside = mid
        else:
            outside = mid
    return float(inside)


# ------------------------------------------------------------------------------------------------------ power

def power(protocol: Protocol, effect: float, sd: float, n_sim: int = 2000, seed: int = 0,
          holm_rank: int | None = None) -> float:
    """P(decision = confirmed) when the n per-seed values are i.i.d. N(effect, sd^2) (``effect`` in the units of
    the values, margin included: the protocol tests effect - margin).

    Closed forms for ``paired-t`` (noncentral t: P(T'_{n-1, delta sqrt(n)/sd} > t_{n-1}^{-1}(1 - a))) and
    ``sign`` (P(Bin(n, Phi(delta/sd)) >= k_a)) with delta = +-(effect - margin) in the hypothesised direction
    and a the per-claim threshold; a Monte-Carlo estimate over ``n_sim`` seed blocks for ``sign-flip`` (above
    :data:`EXACT_SIGN_FLIP_MAX` seeds the t test's closed form, the permutation test's large-sample equivalent)."""
    effect = _finite_float(effect, "effect")
    sd = _finite_float(sd, "sd")
    if sd <= 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    n_sim = check_positive_int(n_sim, "n_sim")
    sgn = 1.0 if protocol.alternative == "greater" else -1.0
    delta = sgn * (effect - protocol.margin)
    return _power_std(protocol, delta / sd, holm_rank, _normal_draws(protocol.n_seeds, n_sim, seed))


def _normal_draws(n: int, n_sim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_sim, n))


def _power_std(protocol: Protocol, delta_sd: float, holm_rank, z: np.ndarray) -> float:
    n = protocol.n_seeds
    thr = protocol.threshold(holm_rank)
    if protocol.test == "paired-t":
        crit = _st.t.isf(thr, n - 1)
        return float(_st.nct.sf(crit, n - 1, delta_sd * math.sqrt(n)))
    if protocol.test == "sign":
        k_crit = _sign_critical(n, thr)
        if k_crit is None:
            return 0.0
        return float(_st.binom.sf(k_crit - 1, n, _st.norm.cdf(delta_sd)))
    if not protocol.can_confirm(holm_rank):
        return 0.0
    if n > EXACT_SIGN_FLIP_MAX:  # the permutation test's large-sample equivalent: the t test's closed form
        crit = _st.t.isf(thr, n - 1)
        return float(_st.nct.sf(crit, n - 1, delta_sd * math.sqrt(n)))
    p = one_sided_p("sign-flip", z + delta_sd, "greater")
    return float(np.mean(p <= thr))


def _sign_critical(n: int, thr: float) -> int | None:
    """Smallest k with P(Bin(n, 1/2) >= k) <= thr (None when even k = n is not significant)."""
    for k in range(n + 1):
        if _st.binom.sf(k - 1, n, 0.5) <= thr:
            return k
    return None


def detectable_effect(protocol: Protocol, sd: float, target_power: float = 0.8, n_sim: int = 2000, seed: int = 0,
                      holm_rank: int | None = None) -> float | None:
    """The smallest true mean of the per-seed values (the margin included: margin + a shift in the hypothesised
    direction) that is confirmed with probability >= ``target_power`` when values are i.i.d. N(mean, sd^2); ``None`` when the test
    can never confirm at these seeds (min_p above the threshold). Power is monotone in the mean (for sign-flip
    with the same ``n_sim`` draws too), so it is found by bisection to 1e-4 sd."""
    sd = _finite_float(sd, "sd")
    if sd <= 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    target_power = _finite_float(target_power, "target_power")
    if not 0.0 < target_power < 1.0:
        raise ValueError(f"target_power must lie in (0, 1), got {target_power!r}")
    n_sim = check_positive_int(n_sim, "n_sim")
    if not protocol.can_confirm(holm_rank):
        return None
    z = _normal_draws(protocol.n_seeds, n_sim, seed)
    lo, hi = 0.0, 1.0
    while _power_std(protocol, hi, holm_rank, z) < target_power:
        lo, hi = hi, 2 * hi
        if hi > 1e6:
            return None
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        if _power_std(protocol, mid, holm_rank, z) >= target_power:
            hi = mid
        else:
            lo = mid
    sgn = 1.0 if protocol.alternative == "greater" else -1.0
    return protocol.margin + sgn * hi * sd


def power_report(protocol: Protocol, sd: float | None = None, target_power: float = 0.8,
                 holm_rank: int | None = None) -> dict[str, Any]:
    """What the protocol can detect at its seeds, for evidence dicts: min_p, threshold, can_confirm and (with a
    per-seed ``sd``) the detectable effect at ``target_power`` (None when it can never confirm)."""
    out: dict[str, Any] = {"n_seeds": protocol.n_seeds, "test": protocol.test, "min_p": protocol.min_p(),
                           "threshold": protocol.threshold(holm_rank),
                           "can_confirm": protocol.can_confirm(holm_rank), "target_power": target_power}
    if sd is not None:
        out["sd"] = float(sd)
        out["detectable_effect"] = (detectable_effect(protocol, sd, target_power, holm_rank=holm_rank)
                                    if sd > 0 else None)
    return out
