"""Image-tier decisions of C-RF and C-RA: seed-batched Reflow vs RA Reflow on 8 x 8 digits (CPU), decided by the
pre-registered protocols below (:mod:`collapse_theory.stats.decisions`).

**The run** (:func:`image_run`, cached): :func:`collapse_theory.train.image.ensemble_reflow.run_ensemble_reflow`
with :func:`full_config` (8 seeds; per seed one 1-RF shared by all its methods; 5 rounds of Reflow and of RA with
real fraction 0.5; ORA and ORAS once each at seed 0, reported as observations, not decided, regenerating their real
pairs once a round (every 75 of the 150 steps: the round's first pass and one regeneration); the smoke scale of the image pipeline:
tiny-8 UNet, 400 1-RF steps, 150 steps per round, batch 64, 1000 synthetic pairs per round from Euler 10; every
seed's 1-RF evaluated again after each round on fresh noise for the null controls). Quality: FD_N(s, m, k) = the Frechet distance in digitsnet classifier features (a proxy, not FID) between
N = 297 samples of Euler with N steps and the 297 real test images, beside the real-vs-real floor at the same N.
``$COLLAPSE_THEORY_IMAGE_SIZE=ci`` (or :func:`use_config`) runs the same code path at :func:`ci_config`'s size
(2 seeds, 2 rounds, a few steps) for the test suite; ``$COLLAPSE_THEORY_IMAGE_OUT=<folder>`` writes the tidy
per-seed frame with a manifest (config, the protocols and their hashes) to that folder;
``$COLLAPSE_THEORY_IMAGE_THREADS`` sets torch's CPU threads (unset: 2, or 1 on a one-core machine: the budget of
15 minutes is for 2 cores; on a heavily loaded machine 1 thread can be faster).

**Pre-registered protocols** (:data:`PROTOCOLS`; fixed here before the run; paired t test, one-sided, level 0.01,
Holm's step-down correction over the m = 3 decisions of this tier, :func:`tier_decisions`):

- ``C-RF``: v_s = the OLS slope of FD_16(s, reflow, k) over k = 1..K (FD per round); hypothesis mean v > 0
  (Reflow's 16-step quality degrades over the rounds).
- ``C-RA`` (stops the degradation): v_s = FD_16(s, reflow, K) - FD_16(s, ra, K); hypothesis mean v > 0.
- ``C-RA`` (keeps few-step quality): v_s = log FD_1(s, 1-RF) - log FD_1(s, ra, K), margin log 4; hypothesis
  mean v > log 4 (RA's 1-step FD is less than a quarter of the 1-RF's: "far below").

Why the t test: each v_s is a difference of FDs computed from 297 samples, close to Gaussian across seeds; the t
test is the most powerful test then and can reach p <= 0.01/3 (Holm's first step) with 8 seeds, which the exact
sign-flip test cannot (its smallest p is 2^-8 = 0.0039 > 0.0033). C-RA is confirmed at this tier when both of its decisions are.

**What each check verifies** (``passed``): (1) the per-seed statistic, computed by the public function users call
(``impl``; mutants are plausible wrong versions: wrong NFE, wrong method, rounds off by one, 1-RF round included,
reversed difference, no log), equals an independent recomputation from the raw rows to 1e-9 relative; (2) the
decision machinery behaves on two controls built from the same run's null statistic (:func:`null_values`: the
statistic's analogue on the seed's 1-RF re-evaluated on fresh noise each round, true mean 0, computed the same way
from data, not re-centred): the null control (null + margin) comes out ``inconclusive`` and the planted control
(null + the true mean the protocol confirms with power 0.999 at the null's sd: margin + detectable shift,
:func:`collapse_theory.stats.decisions.detectable_effect`) ``confirmed``. The null carries the evaluation's
sampling spread, not the training's: the test suite also runs a null through training (RA with real fraction 0
against Reflow), at a small size. The claim's decision is the protocol applied to the measured values, reported as
it came out.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import numpy as np

from ...stats.decisions import Protocol, decide, decide_family, detectable_effect
from ..registry import Outcome, check

TIER = "image"
SIZE_ENV = "COLLAPSE_THEORY_IMAGE_SIZE"
OUT_ENV = "COLLAPSE_THEORY_IMAGE_OUT"
THREADS_ENV = "COLLAPSE_THEORY_IMAGE_THREADS"
IMAGE_SEEDS = tuple(range(8))
LEVEL = 0.01
FAMILY_SIZE = 3
FEWSTEP_MARGIN = math.log(4.0)
REL_TOL = 1e-9
"""Statistic vs independent recomputation: both are a few float64 operations on the same numbers."""

PROTOCOLS: dict[str, Protocol] = {
    "reflow-slope": Protocol(
        claim="C-RF", tier=TIER,
        hypothesis="Reflow's 16-step FD-digitsnet rises over rounds 1..K (mean per-seed OLS slope > 0)",
        statistic="per-seed OLS slope of FD16(reflow, round k) over k = 1..K", seeds=IMAGE_SEEDS,
        test="paired-t", alternative="greater", level=LEVEL, family_size=FAMILY_SIZE),
    "reflow-minus-ra": Protocol(
        claim="C-RA", tier=TIER,
        hypothesis="at the last round RA Reflow's 16-step FD is below Reflow's (mean per-seed difference > 0)",
        statistic="per-seed FD16(reflow, K) - FD16(ra, K)", seeds=IMAGE_SEEDS,
        test="paired-t", alternative="greater", level=LEVEL, family_size=FAMILY_SIZE),
    "ra-fewstep": Protocol(
        claim="C-RA", tier=TIER,
        hypothesis="RA Reflow's 1-step FD at round K is far below the 1-RF's (less than a quarter: mean per-seed "
                   "log ratio > log 4)",
        statistic="per-seed log FD1(1-RF, round 0) - log FD1(ra, K)", seeds=IMAGE_SEEDS,
        test="paired-t", alternative="greater", level=LEVEL, family_size=FAMILY_SIZE, margin=FEWSTEP_MARGIN),
}


# ----------------------------------------------------------------------------------------------- the run

def torch_threads() -> int:
    """``$COLLAPSE_THEORY_IMAGE_THREADS``: torch CPU threads of the image run; unset: min(2, CPU count) (the tier's
    budget is 15 minutes on 2 cores; on a heavily loaded machine 2 threads can be many times slower than 1). Float
    rounding, not the algorithm, depends on it."""
    text = os.environ.get(THREADS_ENV)
    if text is None:
        return max(1, min(2, os.cpu_count() or 1))
    text = text.strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {text!r}")
    return int(text)


def full_config():
    """The pre-registered size of the image tier (see the module docstring)."""
    from ...train.image.ensemble_reflow import EnsembleReflowConfig

    return EnsembleReflowConfig(seeds=IMAGE_SEEDS, methods=("reflow", "ra"), once=(("ora", 0), ("oras", 0)), rounds=5,
                                regen_every=75, threads=torch_threads())


def ci_config():
    """The same code path at a CI size: 2 seeds, 2 rounds, short rounds, 128 real training images."""
    from ...train.image.ensemble_reflow import EnsembleReflowConfig

    return EnsembleReflowConfig(seeds=(0, 1), methods=("reflow", "ra"), once=(("ora", 0), ("oras", 0)), rounds=2,
                                round0_steps=30, steps=12, warmup_steps=5, n_pairs=96, gen_steps=4, n_eval=96,
                                n_train=128, regen_every=6, threads=torch_threads())


_OVERRIDE: list = []


def use_config(config=None) -> None:
    """Make the image checks run ``config`` (None: back to the environment's choice); clears the cached run."""
    _OVERRIDE[:] = [] if config is None else [config]
    image_run.cache_clear()


def current_config():
    if _OVERRIDE:
        return _OVERRIDE[0]
    size = os.environ.get(SIZE_ENV, "full").strip().lower()
    if size not in ("full", "ci"):
        raise ValueError(f"{SIZE_ENV} must be 'full' or 'ci', got {size!r}")
    return full_config() if size == "full" else ci_config()


def protocols_for(seeds) -> dict[str, Protocol]:
    """The pre-registered protocols on another block of seeds (only ``seeds`` changes)."""
    seeds = tuple(int(s) for s in seeds)
    return {k: (p if p.seeds == seeds else p.with_seeds(seeds)) for k, p in PROTOCOLS.items()}


@functools.lru_cache(maxsize=1)
def image_run():
    """The run of :func:`current_config` (cached for the three checks); written when ``$COLLAPSE_THEORY_IMAGE_OUT``
    is set."""
    from ...train.image.ensemble_reflow import run_ensemble_reflow

    result = run_ensemble_reflow(current_config())
    out = os.environ.get(OUT_ENV)
    if out:
        write_results(result, Path(out))
    return result


def results_manifest(result) -> dict:
    """Config, protocols with their hashes, timing: what the tidy results file needs beside it."""
    from ...outputs import run_manifest

    cfg = result.config
    manifest = run_manifest("collapse-theory verify --tier image", cfg.to_dict(), None)
    protocols = protocols_for(cfg.seeds)
    manifest["protocols"] = {k: p.canonical() | {"hash": p.hash()} for k, p in protocols.items()}
    manifest["seconds"] = round(result.seconds, 1)
    manifest["phase_seconds"] = {k: round(v, 1) for k, v in result.phase_seconds.items()}
    manifest["members"] = [m.label for m in result.members]
    return manifest


def write_results(result, folder: Path) -> tuple[Path, Path]:
    """``<folder>/image-reflow-decisions.csv`` (tidy, one row per member x round x NFE) and its manifest."""
    from ...outputs import write_with_manifest

    text = result.frame.to_csv(index=False, float_format="%.10g")
    return write_with_manifest(Path(folder) / "image-reflow-decisions.csv", text,
                               json.loads(json.dumps(results_manifest(result), default=str)))


# ----------------------------------------------------------------------------------------------- statistics

def _fd(frame, method: str, nfe: int, real_fraction: float | None = None):
    """FD rows of one method (one per seed and round) as a (seed x round) table; ``once`` members are excluded by
    requiring every seed of the frame's decided methods."""
    sel = frame[(frame["method"] == method) & (frame["nfe"] == nfe)]
    if real_fraction is not None:
        sel = sel[np.isclose(sel["real_fraction"], real_fraction)]
    return sel.pivot_table(index="seed", columns="round", values="value", aggfunc="first")


def reflow_slopes(frame, seeds, nfe: int = 16, method: str = "reflow") -> np.ndarray:
    """Per seed, the OLS slope b of FD_nfe(method, k) on k over rounds k = 1..K:
    b = sum_k (k - kbar)(y_k - ybar) / sum_k (k - kbar)^2."""
    table = _fd(frame, method, nfe).loc[list(seeds)]
    rounds = np.array([k for k in table.columns if k >= 1], dtype=float)
    y = table[[int(k) for k in rounds]].to_numpy(dtype=float)
    kc = rounds - rounds.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ kc / float(kc @ kc)


def last_round_difference(frame, seeds, nfe: int = 16, first: str = "reflow", second: str = "ra") -> np.ndarray:
    """Per seed FD_nfe(first, K) - FD_nfe(second, K), K the last round."""
    a, b = _fd(frame, first, nfe), _fd(frame, second, nfe)
    k = int(max(a.columns))
    return a.loc[list(seeds), k].to_numpy(float) - b.loc[list(seeds), k].to_numpy(float)


def fewstep_log_ratio(frame, seeds, nfe: int = 1, method: str = "ra") -> np.ndarray:
    """Per seed log FD_nfe(1-RF, round 0) - log FD_nfe(method, K): how many e-folds below the 1-RF the method's
    few-step FD ends."""
    table = _fd(frame, method, nfe).loc[list(seeds)]
    k = int(max(table.columns))
    return np.log(table[0].to_numpy(float)) - np.log(table[k].to_numpy(float))


STATISTICS = {"reflow-slope": reflow_slopes, "reflow-minus-ra": last_round_difference,
              "ra-fewstep": fewstep_log_ratio}


def _value(frame, method: str, seed: int, k: int, nfe: int) -> float:
    rows = frame[(frame["method"] == method) & (frame["seed"] == seed) & (frame["round"] == k)
                 & (frame["nfe"] == nfe)]["value"].to_numpy(float)
    if rows.size < 1:
        raise ValueError(f"the run has no FD row for {method}, seed {seed}, round {k}, NFE {nfe}")
    return float(rows[0])


def reference_values(key: str, frame, seeds) -> np.ndarray:
    """The same statistics recomputed independently from single rows (np.polyfit for the slope)."""
    last = int(frame["round"].max())
    out = []
    for s in seeds:
        if key == "reflow-slope":
            ks = np.arange(1, last + 1, dtype=float)
            out.append(np.polyfit(ks, [_value(frame, "reflow", s, int(k), 16) for k in ks], 1)[0])
        elif key == "reflow-minus-ra":
            out.append(_value(frame, "reflow", s, last, 16) - _value(frame, "ra", s, last, 16))
        else:
            out.append(math.log(_value(frame, "ra", s, 0, 1) / _value(frame, "ra", s, last, 1)))
    return np.array(out)


# ----------------------------------------------------------------------------------------------- controls

PLANTED_POWER = 0.999
"""The planted control's shift: the protocol's detectable effect at this power for the null's spread, so a working
decision confirms it except with probability 0.001 (fixed before any run)."""


def null_values(key: str, frame, seeds) -> np.ndarray:
    """The null statistic of protocol ``key``, per seed, from the 1-RF's re-evaluations on fresh noise
    (rows of method :data:`~collapse_theory.train.image.ensemble_reflow.NULL_METHOD`, rounds k = 1..K): the same
    model every round, so each has true mean 0 (exchangeable noise sets) and the evaluation's sampling spread.

    - ``reflow-slope``: the OLS slope of FD_16(1-RF, fresh noise k) over k = 1..K;
    - ``reflow-minus-ra``: FD_16(1-RF, fresh noise K) - FD_16(1-RF, fresh noise K - 1);
    - ``ra-fewstep``: log FD_1(1-RF, fresh noise K - 1) - log FD_1(1-RF, fresh noise K)."""
    from ...train.image.ensemble_reflow import NULL_METHOD

    missing = sorted(set(int(x) for x in seeds) - set(frame.loc[frame["method"] == NULL_METHOD, "seed"].astype(int)))
    if missing:
        raise ValueError(f"the results have no null rows (method {NULL_METHOD!r}) for seeds {missing}: they come from "
                         f"a run without the null evaluations; run the image tier again")
    if key == "reflow-slope":
        return reflow_slopes(frame, seeds, nfe=16, method=NULL_METHOD)
    nfe = 16 if key == "reflow-minus-ra" else 1
    table = _fd(frame, NULL_METHOD, nfe).loc[list(seeds)]
    k = int(max(table.columns))
    if k - 1 not in table.columns:
        raise ValueError("the null controls need the 1-RF's fresh-noise evaluations at two rounds (rounds >= 2)")
    last, before = table[k].to_numpy(float), table[k - 1].to_numpy(float)
    return last - before if key == "reflow-minus-ra" else np.log(before) - np.log(last)


def controls(protocol: Protocol, null_stat, decide_fn=decide) -> dict:
    """The null and planted-effect controls of a decision, from the run's own null statistic (:func:`null_values`).

    null: null_stat + margin (true mean exactly at the boundary of the hypothesis, the evaluation's spread; nothing
    is re-centred on what was measured) must come out ``inconclusive``; planted: null_stat + the true mean the
    protocol confirms with power :data:`PLANTED_POWER` at sd = sd(null_stat) (:func:`detectable_effect`: the margin
    plus the detectable shift) must come out ``confirmed``. Each is decided alone
    (the protocol's own family correction)."""
    v = np.asarray(null_stat, dtype=float)
    sd = float(v.std(ddof=1))
    if not sd > 0:
        raise ValueError("the null statistic must vary across seeds to build the controls (sd = 0)")
    null = v + protocol.margin
    detect = detectable_effect(protocol, sd, PLANTED_POWER)
    if detect is None:
        return {"null": decide_fn(protocol, null).decision, "planted": None, "detectable_effect": None, "sd": sd}
    return {"null": decide_fn(protocol, null).decision, "planted": decide_fn(protocol, v + detect).decision,
            "null_mean": float(v.mean()), "detectable_effect": float(detect), "sd": sd}


def _decision_check(key: str, impl) -> Outcome:
    result = image_run()
    outcome = decide_frame(key, result.frame, result.config.seeds, impl)
    outcome.evidence["run_seconds"] = round(result.seconds, 1)
    return outcome


def tier_decisions(frame, seeds) -> dict:
    """The three pre-registered decisions of this tier on a results frame, Holm-corrected together at level 0.01
    (:func:`collapse_theory.stats.decisions.decide_family` over the reference statistics)."""
    protocols = protocols_for(seeds)
    keys = list(protocols)
    decided = decide_family([(protocols[k], reference_values(k, frame, seeds), seeds) for k in keys])
    return dict(zip(keys, decided))


def decide_frame(key: str, frame, seeds, impl=None) -> Outcome:
    """The decision of protocol ``key`` (a :data:`PROTOCOLS` key) on a results frame (the tidy frame of a run, e.g.
    read back from ``image-reflow-decisions.csv``) with its seeds: the check's Outcome without training.

    The decision is Holm's over the tier's three protocols (:func:`tier_decisions`), made on the statistic computed
    by ``impl`` (the public function, or a mutant) when it agrees with the independent reference, else on the
    reference (a wrong statistic fails the check; it never changes the reported decision)."""
    seeds = tuple(int(s) for s in seeds)
    protocol = protocols_for(seeds)[key]
    statistic = STATISTICS[key] if impl is None else impl
    values = np.asarray(statistic(frame, seeds), dtype=float)
    reference = reference_values(key, frame, seeds)
    agree = bool(values.shape == reference.shape and np.all(np.isfinite(values))
                 and np.allclose(values, reference, rtol=REL_TOL, atol=REL_TOL * float(np.abs(reference).max())))
    decision = tier_decisions(frame, seeds)[key]
    ctl = controls(protocol, null_values(key, frame, seeds))
    behaved = ctl["null"] == "inconclusive" and ctl["planted"] == "confirmed"
    floor = float(frame["real_vs_real"].iloc[0])
    evidence = {"statistic": protocol.statistic, "values": [round(float(x), 6) for x in reference],
                "statistic_matches_reference": agree, "controls": ctl, "real_vs_real_floor": round(floor, 4),
                "protocol_hash": protocol.hash()}
    return Outcome(passed=agree and behaved, evidence=evidence, decision=decision)


# wrong statistics a user could plausibly compute (each differs from the reference on any real run)
SLOPE_MUTANTS = {
    "slope at 1 Euler step": lambda f, s: reflow_slopes(f, s, nfe=1),
    "slope of RA instead of Reflow": lambda f, s: reflow_slopes(f, s, method="ra"),
    "slope including the 1-RF round 0": lambda f, s: _slope_from_zero(f, s),
}
DIFF_MUTANTS = {
    "RA minus Reflow": lambda f, s: last_round_difference(f, s, first="ra", second="reflow"),
    "at 1 Euler step": lambda f, s: last_round_difference(f, s, nfe=1),
    "one round early": lambda f, s: _difference_round(f, s, -1),
}
FEWSTEP_MUTANTS = {
    "ratio without log": lambda f, s: np.exp(fewstep_log_ratio(f, s)),
    "at 16 Euler steps": lambda f, s: fewstep_log_ratio(f, s, nfe=16),
    "Reflow instead of RA": lambda f, s: fewstep_log_ratio(f, s, method="reflow"),
}


def _slope_from_zero(frame, seeds) -> np.ndarray:
    table = _fd(frame, "reflow", 16).loc[list(seeds)]
    ks = np.array(table.columns, dtype=float)
    kc = ks - ks.mean()
    y = table.to_numpy(float)
    return (y - y.mean(axis=1, keepdims=True)) @ kc / float(kc @ kc)


def _difference_round(frame, seeds, shift: int) -> np.ndarray:
    a, b = _fd(frame, "reflow", 16), _fd(frame, "ra", 16)
    k = int(max(a.columns)) + shift
    return a.loc[list(seeds), k].to_numpy(float) - b.loc[list(seeds), k].to_numpy(float)


@check("C-RF", TIER, "reflow-fd16-slope", mutants=SLOPE_MUTANTS)
def reflow_fd16_slope(impl=None) -> Outcome:
    """C-RF on images: the pre-registered paired t test of Reflow's per-seed FD16 slope over rounds 1..K > 0."""
    return _decision_check("reflow-slope", impl)


@check("C-RA", TIER, "reflow-minus-ra-fd16", mutants=DIFF_MUTANTS)
def reflow_minus_ra_fd16(impl=None) -> Outcome:
    """C-RA on images: the pre-registered paired t test of FD16(Reflow, K) - FD16(RA, K) > 0."""
    return _decision_check("reflow-minus-ra", impl)


@check("C-RA", TIER, "ra-fewstep-vs-1rf", mutants=FEWSTEP_MUTANTS)
def ra_fewstep_vs_1rf(impl=None) -> Outcome:
    """C-RA on images: the pre-registered paired t test of log FD1(1-RF) - log FD1(RA, K) > log 4."""
    return _decision_check("ra-fewstep", impl)
