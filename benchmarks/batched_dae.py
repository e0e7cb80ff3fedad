"""Benchmark: 64 linear DAEs (d = 64) trained as one batch vs one by one, and time-to-accuracy, in one process.

    python benchmarks/batched_dae.py [--steps 200] [--batch-sizes 32,64,128,256] [--json FILE]

Workload: 64 independent data sets of n = 1024 points in d = 64 (Gaussian, S* = Q diag(geomspace(1, 0.01, 64)) Q^T
with a fixed rotation Q), sigma2 = 0.1, one full linear DAE W_b (64 x 64) per data set.

1. Speed-up of batching. Adam on minibatches with fresh noise (training.py, float32), the same number of steps:
   batched = one LinearDAE holding all 64 models (batched matmuls); one by one = 64 LinearDAE of one model each,
   trained in a Python loop. Ratio = loop seconds / batched seconds, per minibatch size. The same for full-batch
   conjugate gradients on the exact noise-marginalised loss (float64).
2. Time-to-accuracy (batched; full-batch CG, L-BFGS and gradient descent on the exact noise expectation in float64,
   Adam on minibatches of 256 with fresh noise and a cosine learning rate in float32): the steps and seconds each
   optimiser needs until every one of the 64 models is within relative Frobenius error 1e-4 of its closed form
   W*(S_hat_b, sigma2) (numpy), found by doubling the step budget from scratch (so the steps are exact to a factor
   2; the seconds are those of the first budget that reaches the target). Adam with fresh noise has a noise floor:
   it is reported with its best error when it does not reach 1e-4 within the largest budget.

Prints the machine, the timings and the ratios; ``--json`` also writes them (atomically) with a manifest, as strict
JSON: an error that is not a finite number (an optimiser that diverged gives NaN or Inf) is written as ``null``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from collapse_theory.outputs import run_manifest, strict_json, write_with_manifest
from collapse_theory.theory import optimal_dae
from collapse_theory.train.dae.models import make_model
from collapse_theory.train.dae.recursion import fixed_rotation
from collapse_theory.train.dae.training import train_dae

N_MODELS, DIM, N_SAMPLES, SIGMA2, SEED = 64, 64, 1024, 0.1, 0
TARGET = 1e-4


def make_data() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    Q = fixed_rotation(DIM)
    lam = np.geomspace(1.0, 0.01, DIM)
    return (rng.standard_normal((N_MODELS, N_SAMPLES, DIM)) * np.sqrt(lam)) @ Q.T


def closed_forms(X: np.ndarray) -> np.ndarray:
    return np.stack([optimal_dae(X[b].T @ X[b] / X.shape[1], SIGMA2) for b in range(X.shape[0])])


def max_relative_error(W: np.ndarray, W_star: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(W - W_star, axis=(-2, -1)) / np.linalg.norm(W_star, axis=(-2, -1))))


def time_batched_vs_loop(X: np.ndarray, method: str, steps: int, batch_size: int, dtype) -> dict:
    Xt = torch.as_tensor(X, dtype=dtype)
    gen = torch.Generator().manual_seed(SEED)
    warm = make_model("linear", N_MODELS, DIM, dtype=dtype)
    train_dae(warm, Xt, SIGMA2, method, steps=3, batch_size=batch_size, generator=gen)  # warm-up (imports, kernels)

    model = make_model("linear", N_MODELS, DIM, dtype=dtype)
    start = time.perf_counter()
    train_dae(model, Xt, SIGMA2, method, steps=steps, batch_size=batch_size, generator=gen, tolerance=1e-300)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    for b in range(N_MODELS):
        single = make_model("linear", 1, DIM, dtype=dtype)
        train_dae(single, Xt[b:b + 1], SIGMA2, method, steps=steps, batch_size=batch_size, generator=gen,
                  tolerance=1e-300)
    loop = time.perf_counter() - start
    return {"method": method, "batch_size": batch_size, "steps": steps, "dtype": str(dtype).replace("torch.", ""),
            "batched_s": batched, "one_by_one_s": loop, "ratio": loop / batched}


def time_to_accuracy(X: np.ndarray, W_star: np.ndarray, method: str, max_steps: int, dtype=torch.float64,
                     **kwargs) -> dict:
    Xt = torch.as_tensor(X, dtype=dtype)
    budget, best = 1, np.inf
    while budget <= max_steps:
        gen = torch.Generator().manual_seed(SEED)
        model = make_model("linear", N_MODELS, DIM, dtype=dtype)
        start = time.perf_counter()
        report = train_dae(model, Xt, SIGMA2, method, steps=budget, generator=gen, **kwargs)
        seconds = time.perf_counter() - start
        error = max_relative_error(model.weight.detach().numpy().astype(np.float64), W_star)
        best = min(best, error)
        if error <= TARGET:
            return {"method": method, "dtype": str(dtype).replace("torch.", ""), "reached": True, "steps": int(report.steps), "budget": budget,
                    "seconds": seconds, "max_rel_err": error}
        budget *= 2
    return {"method": method, "dtype": str(dtype).replace("torch.", ""), "reached": False, "steps": None, "budget": budget // 2, "seconds": None,
            "max_rel_err": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="Adam steps for the batched-vs-loop timing")
    parser.add_argument("--batch-sizes", default="32,64,128,256", help="minibatch sizes to time")
    parser.add_argument("--adam-max-steps", type=int, default=4096, help="largest Adam budget for time-to-accuracy")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()

    X = make_data()
    W_star = closed_forms(X)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), Python {platform.python_version()}")
    print(f"workload: {N_MODELS} linear DAEs, d = {DIM}, n = {N_SAMPLES}, sigma2 = {SIGMA2}")

    speed = []
    for batch in [int(v) for v in args.batch_sizes.split(",")]:
        speed.append(time_batched_vs_loop(X, "adam", args.steps, batch, torch.float32))
    speed.append(time_batched_vs_loop(X, "cg", DIM, 1, torch.float64))
    print("\nbatched vs one by one (same steps)")
    print(f"{'optimiser':10} {'dtype':8} {'batch':>6} {'steps':>6} {'batched s':>10} {'one-by-one s':>13} {'ratio':>7}")
    for row in speed:
        batch = row["batch_size"] if row["method"] == "adam" else "full"
        print(f"{row['method']:10} {row['dtype']:8} {batch!s:>6} {row['steps']:6d} {row['batched_s']:10.3f} "
              f"{row['one_by_one_s']:13.3f} {row['ratio']:6.1f}x")

    accuracy = [
        time_to_accuracy(X, W_star, "cg", 4 * DIM, tolerance=1e-300),
        time_to_accuracy(X, W_star, "lbfgs", 4096, tolerance=1e-300),
        time_to_accuracy(X, W_star, "gd", 1 << 14, lr=1.0 / (2 * (1.0 + SIGMA2) * 1.5)),
        time_to_accuracy(X, W_star, "adam", args.adam_max_steps, dtype=torch.float32, lr=1e-2, batch_size=256,
                         lr_schedule="cosine"),
    ]
    print(f"\ntime to relative error <= {TARGET:g} of W*(S_hat, sigma2), all {N_MODELS} models (batched)")
    print(f"{'optimiser':10} {'dtype':8} {'reached':8} {'steps':>7} {'seconds':>9} {'max rel err':>12}")
    for row in accuracy:
        steps = "-" if row["steps"] is None else str(row["steps"])
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.3f}"
        print(f"{row['method']:10} {row['dtype']:8} {str(row['reached']):8} {steps:>7} {seconds:>9} "
              f"{row['max_rel_err']:12.3g}")

    if args.json:
        payload = {"speed": speed, "time_to_accuracy": accuracy}
        write_with_manifest(args.json, benchmark_json(payload),
                            run_manifest("benchmarks/batched_dae.py", vars(args), seed=SEED))


def benchmark_json(payload: dict) -> str:
    """The ``--json`` text: strict JSON, a non-finite number (a diverged optimiser's error) as ``null``."""
    return strict_json(payload, what="--json", nonfinite="null", indent=2) + "\n"


if __name__ == "__main__":
    main()
