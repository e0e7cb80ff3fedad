"""Pure time-budget planning of benchmarks/gpu_reflow.py: measured rates and sizes -> steps per round.
"""

from __future__ import annotations

import dataclasses

from .common import ROUND0_RATIO


@dataclasses.dataclass
class Rates:
    """Measured (or assumed) speeds of the Fashion UNet."""

    train_its: float          # training steps per second at the chosen batch
    fwd_ips: float            # images x NFE per second, bf16 generation field (gen_batch chunks)
    fwd_ips_fp32: float       # the same for the fp32 field (straightness, dopri5)
    metrics_s: float = 1.0    # features + FD/KID/PR per sampler
    run_overhead_s: float = 3.0   # data loading, evaluator set-up, manifests per run() call


@dataclasses.dataclass
class Sizes:
    n_pairs: int
    n_train: int
    gen_steps: int
    n_eval: int
    n_recon: int
    straightness_n: int
    straightness_times: int
    eval_nfes: tuple
    dopri5_nfe_guess: int = 80


def eval_seconds(s: Sizes, r: Rates, adaptive: bool) -> float:
    """Predicted seconds of one round's evaluation (``Evaluator.evaluate_round``)."""
    nfe = sum(s.eval_nfes)
    work = (s.n_eval + 2 * s.n_recon) * nfe / r.fwd_ips
    work += s.straightness_n * (s.straightness_times + 1) * 2 * 4 / r.fwd_ips_fp32   # heun, 4 substeps/segment
    n_samplers = len(s.eval_nfes)
    if adaptive:
        work += (s.n_eval + 2 * s.n_recon) * s.dopri5_nfe_guess / r.fwd_ips_fp32
        n_samplers += 1
    return work + n_samplers * r.metrics_s + 1.0


def round_seconds(method: str, steps: int, s: Sizes, r: Rates, adaptive: bool, eval_s: float | None = None) -> float:
    """Predicted seconds of one Reflow-family round: pairs (+ inversion for ra) + training + evaluation."""
    gen = s.n_pairs * s.gen_steps / r.fwd_ips
    inv = s.n_train * s.gen_steps / r.fwd_ips if method != "reflow" else 0.0
    ev = eval_seconds(s, r, adaptive) if eval_s is None else eval_s
    return gen + inv + steps / r.train_its + ev


@dataclasses.dataclass
class Limits:
    round0_min: int
    round0_max: int
    steps_min: int
    steps_max: int
    rounds: int = 3


def plan_reflow_steps(avail_s: float, s: Sizes, r: Rates, adaptive: bool, lim: Limits, rounds: int,
                      eval_s: float | None = None) -> tuple[int, int]:
    """(steps per Reflow round, rounds) such that reflow and ra (``rounds`` each, two run() calls) fit in
    ``avail_s``; rounds drop until steps >= ``lim.steps_min``; (0, 0) when not even one round fits."""
    for k in range(rounds, 0, -1):
        fixed = 2 * r.run_overhead_s + sum(round_seconds(m, 0, s, r, adaptive, eval_s) * k for m in ("reflow", "ra"))
        steps = int((avail_s - fixed) * r.train_its / (2 * k))
        if steps >= lim.steps_min:
            return min(steps, lim.steps_max), k
    return 0, 0


def plan_fashion(avail_s: float, s: Sizes, r: Rates, lim: Limits, adaptive_mode: str = "auto") -> dict:
    """The whole Fashion plan before round 0: round-0 steps, Reflow steps, rounds and the adaptive switch.

    Work is planned for ``avail_s`` (already net of the margin): round 0 (one run() call, ROUND0_RATIO x the
    Reflow steps) + reflow and ra (``lim.rounds`` rounds each, one run() call each). ``adaptive_mode`` auto turns
    dopri5 on only when the plan with it still reaches ``lim.steps_max`` (the budget is not binding)."""
    def solve(adaptive: bool) -> dict:
        ev = eval_seconds(s, r, adaptive)
        for k in range(lim.rounds, 0, -1):
            fixed = 3 * r.run_overhead_s + ev + k * (round_seconds("reflow", 0, s, r, adaptive)
                                                     + round_seconds("ra", 0, s, r, adaptive))
            steps = (avail_s - fixed) * r.train_its / (ROUND0_RATIO + 2 * k)
            if steps >= lim.steps_min:
                steps = int(min(steps, lim.steps_max))
                round0 = int(min(max(ROUND0_RATIO * steps, lim.round0_min), lim.round0_max))
                return dict(round0_steps=round0, steps=steps, rounds=k, adaptive=adaptive, eval_s=ev)
        # not even one round: round 0 alone with whatever fits
        steps0 = int((avail_s - r.run_overhead_s - ev) * r.train_its)
        return dict(round0_steps=max(min(steps0, lim.round0_max), 0), steps=0, rounds=0, adaptive=adaptive,
                    eval_s=ev)

    if adaptive_mode == "on":
        plan = solve(True)
    elif adaptive_mode == "off":
        plan = solve(False)
    else:
        with_it = solve(True)
        plan = with_it if (with_it["steps"] >= lim.steps_max and with_it["rounds"] == lim.rounds) else solve(False)
    steps = plan["steps"] or plan["round0_steps"] // 3 or 1
    plan["ema_decay"] = round(min(max(1.0 - 5.0 / steps, 0.9), 0.999), 4)   # EMA window ~ steps / 5
    plan["warmup_steps"] = int(max(1, min(200, steps // 5)))
    plan["predicted_s"] = (3 * r.run_overhead_s + plan["eval_s"] + plan["round0_steps"] / r.train_its
                           + plan["rounds"] * (round_seconds("reflow", plan["steps"], s, r, plan["adaptive"])
                                               + round_seconds("ra", plan["steps"], s, r, plan["adaptive"])))
    return plan
