"""Benchmark: the vectorised DAE recursion over a 512 sigma2 x 512 alpha x 5 eigenvalue grid for 1000 rounds,
against a plain per-point Python loop run on a random subset of the same grid, in one process.

    python benchmarks/theory_grid.py [--subset 64] [--repeats 3]

Prints the machine, the timings and the speed-up ratio (loop seconds per grid point x grid points, divided by
the vectorised seconds for the whole grid), and checks that both give the same final eigenvalues.
Targets (issue 'Foundation'): whole grid < 2 s on 2 cores, >= 100x the loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from collapse_theory.theory import dae_recursion

SPECTRUM = np.array([4.0, 2.0, 1.0, 0.5, 0.1])
ROUNDS = 1000


def python_loop_point(spectrum, sigma2: float, alpha: float, rounds: int) -> list[float]:
    """The same fixed-fraction recursion, one configuration, plain Python floats:
    mu = alpha lambda* + (1 - alpha) lambda;  lambda <- mu^2 / (mu + sigma2)."""
    out = []
    for lam_star in spectrum:
        lam = float(lam_star)
        for _ in range(rounds):
            mu = alpha * lam_star + (1 - alpha) * lam
            lam = mu * (mu / (mu + sigma2))
        out.append(lam)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subset", type=int, default=64, help="grid points run by the Python loop")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of the vectorised grid (best is kept)")
    args = parser.parse_args()

    sigma2 = np.geomspace(1e-4, 1e2, 512)[:, None]
    alpha = np.linspace(0.0, 1.0, 512)[None, :]
    timings = {}
    for workers in (1, None):
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            traj = dae_recursion(SPECTRUM, sigma2, alpha, ROUNDS, "mix", keep="final", workers=workers)
            best = min(best, time.perf_counter() - start)
        timings[workers or os.cpu_count()] = best
    final = traj.eigenvalues[0]

    rng = np.random.default_rng(0)
    idx_s = rng.integers(0, 512, args.subset)
    idx_a = rng.integers(0, 512, args.subset)
    start = time.perf_counter()
    loop_results = [python_loop_point(SPECTRUM, float(sigma2[i, 0]), float(alpha[0, j]), ROUNDS)
                    for i, j in zip(idx_s, idx_a)]
    loop_seconds = time.perf_counter() - start
    max_diff = max(float(np.max(np.abs(np.array(r) - final[i, j]) / np.maximum(SPECTRUM, 1e-300)))
                   for r, i, j in zip(loop_results, idx_s, idx_a))

    points = 512 * 512
    loop_per_point = loop_seconds / args.subset
    best_workers = min(timings, key=timings.get)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} "
          f"python={platform.python_version()} numpy={np.__version__}")
    print(f"grid: 512 sigma2 x 512 alpha x {len(SPECTRUM)} eigenvalues x {ROUNDS} rounds "
          f"= {points * len(SPECTRUM) * ROUNDS:.3g} eigenvalue updates")
    for workers, seconds in sorted(timings.items()):
        print(f"vectorised, {workers} thread(s): {seconds:.3f} s (best of {args.repeats})")
    print(f"python loop: {loop_seconds:.3f} s for {args.subset} points -> {loop_per_point * 1e3:.2f} ms per point, "
          f"{loop_per_point * points:.0f} s extrapolated to the grid")
    print(f"speed-up vs loop: {loop_per_point * points / timings[best_workers]:.0f}x "
          f"(1 thread: {loop_per_point * points / timings[1]:.0f}x)")
    print(f"max relative difference loop vs vectorised: {max_diff:.2e}")


if __name__ == "__main__":
    main()
