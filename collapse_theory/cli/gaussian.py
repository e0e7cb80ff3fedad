"""``collapse-theory gaussian-reflow``: the Gaussian Reflow recursions from the command line.

    collapse-theory gaussian-reflow --dim 3 --method ra --rounds 10 --real-fraction 0.5 --samples 100 --seed 0 --format csv

Recursions (``--recursion``):

- ``estimated`` (default): Monte-Carlo of estimated Reflow / RA / ORA / ORAS (theory/gaussian_reflow.py, items 3-4) with
  ``--replicates`` replicates and a progress bar; closed-form expectations are reported beside the replicate means
  (``expected_*`` quantities) where they exist.
- ``shrinkage``: the population shrinkage recursion (x1-prediction step from time ``--step-time``), i.e. the DAE
  recursion at sigma2 = ((1 - t_s)/t_s)^2 (regime replace for reflow, mix with the real fraction otherwise).
- ``population``: exact population Reflow rounds (straightness, transport cost, kinetic energy, W2 to the data law).

Real data: N(0, Sigma*) with Sigma* = diag(--spectrum) (default: d values geometrically spaced from 4 to 0.25); noise
N(0, I). Output: a table, a tidy CSV (round, method, real_fraction, replicate, quantity, value; replicate is the
replicate index or 'mean') or JSON; ``--out FILE`` writes atomically with FILE.manifest.json. Bad input raises
ValueError whose message starts with the argument name (the shell prints it on one line and exits with status 2);
so does a result that overflows float64 (a huge ``--spectrum``: NaN/Inf, or a straightness negative beyond the
solver accuracy). The population straightness is >= 0 by definition: negatives at rounding level are reported as 0.
"""

from __future__ import annotations

import sys

import numpy as np

from ..outputs import run_manifest
from ..theory.flow import gaussian as gf
from ..theory.flow import reflow as gr
from ..validation import as_float_array, check_fraction, check_positive_int
from .arguments import check_memory, check_output_file, parse_floats, strict_json, write_output

RECURSIONS = ("estimated", "shrinkage", "population")
DEFAULT_RA_FRACTION = 0.5
"""Real fraction when an RA method is chosen without --real-fraction (the first author's scripts' default lambda)."""
CSV_COLUMNS = ["round", "method", "real_fraction", "replicate", "quantity", "value"]


def register(subparsers) -> None:
    """Add the ``gaussian-reflow`` sub-command."""
    p = subparsers.add_parser("gaussian-reflow", help="Gaussian Reflow / RA / ORA / ORAS recursions",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--dim", default="3", help="dimension d >= 1")
    p.add_argument("--method", default="reflow", help="reflow | ra | ora | oras")
    p.add_argument("--recursion", default="estimated", help="estimated | shrinkage | population")
    p.add_argument("--rounds", default="10", help="rounds after round 0")
    p.add_argument("--real-fraction", default=None,
                   help=f"real fraction alpha in (0, 1] for ra/ora/oras (default {DEFAULT_RA_FRACTION}); 0 for reflow")
    p.add_argument("--samples", default="100", help="pairs per round n >= d + 1 (estimated)")
    p.add_argument("--replicates", default="200", help="Monte-Carlo replicates R >= 2 (estimated)")
    p.add_argument("--seed", default="0", help="random seed (integer >= 0)")
    p.add_argument("--step-time", default="0.5", help="t_s in (0, 1] of the x1-prediction step (shrinkage)")
    p.add_argument("--spectrum", default=None, help="eigenvalues of Sigma*, comma-separated (length d)")
    p.add_argument("--format", default="table", help="table | csv | json")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the output to FILE (atomically) instead of stdout, with FILE.manifest.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


# ----------------------------------------------------------------------------------------------- parsing

def _number(text, name: str) -> float:
    arr = as_float_array(text if not isinstance(text, str) else _parse_float(text, name), name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single number, got {text!r}")
    return float(arr)


def _parse_float(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


def _integer(text, name: str, minimum: int) -> int:
    if isinstance(text, str):
        text = text.strip()
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {text!r}") from None
    else:
        value = text
    return check_positive_int(value, name, minimum=minimum)


def _choice(text, name: str, options) -> str:
    key = str(text).strip().lower()
    if key not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {text!r}")
    return key


def real_law(dim: int, spectrum=None) -> gf.GaussianEndpoints:
    """Noise N(0, I) and real data N(0, diag(spectrum))
    (:func:`~collapse_theory.theory.flow.gaussian.diagonal_real_law`); ``spectrum`` may be the flag's text."""
    if isinstance(spectrum, str):
        spectrum = parse_floats(spectrum, "--spectrum")
    return gf.diagonal_real_law(dim, spectrum)


def estimated_bytes(recursion: str, dim: int, rounds: int, samples: int, replicates: int) -> float:
    """Memory a request needs, generously: about 10 d x d float64 matrices for the laws (60 for the population
    recursion's ODE stages); for ``estimated`` also ~8 arrays of R x n x d and R x d x d float64 samples and
    covariances, and the tidy rows, (rounds + 1)(R + 1) x 8 at 250 bytes each (a tuple, the frame, the text)."""
    d, K1 = float(dim), float(rounds) + 1.0
    matrices = (60.0 if recursion == "population" else 10.0) * 8 * d * d
    if recursion == "estimated":
        R, n = float(replicates), float(samples)
        return matrices + 8 * 8 * R * (n * d + d * d) + K1 * (R + 1) * 8 * 250
    return matrices + K1 * (d + 5) * 250


def parse_config(args) -> dict:
    """Validate the parsed arguments; returns a plain config dict (ValueError naming the argument on bad input)."""
    dim = _integer(args.dim, "dim", 1)
    method = gr.check_method(args.method)
    recursion = _choice(args.recursion, "recursion", RECURSIONS)
    rounds = _integer(args.rounds, "rounds", 0)
    if args.real_fraction is None:
        alpha = 0.0 if method == "reflow" else DEFAULT_RA_FRACTION
    else:
        alpha = float(check_fraction(_number(args.real_fraction, "real_fraction")))
    if method == "reflow" and alpha != 0:
        raise ValueError(f"real_fraction must be 0 for method 'reflow' (no real pairs), got {alpha:g}")
    if method != "reflow" and alpha == 0:
        raise ValueError(f"real_fraction must be > 0 for method {method!r}")
    samples = _integer(args.samples, "samples", 2)
    if recursion == "estimated" and samples < dim + 1:
        raise ValueError(f"samples must be >= dim + 1 = {dim + 1} (a non-singular sample covariance), got {samples}")
    if recursion == "estimated" and method != "reflow" and round(alpha * samples) < 1:
        raise ValueError(f"real_fraction must give at least one real pair per round (real_fraction * samples >= 0.5), "
                         f"got {alpha:g} * {samples}")
    replicates = _integer(args.replicates, "replicates", 2)
    seed = _integer(args.seed, "seed", 0)
    step_time = _number(args.step_time, "step_time")
    if not 0 < step_time <= 1:
        raise ValueError(f"step_time must lie in (0, 1], got {step_time:g}")
    fmt = _choice(args.format, "format", ("table", "csv", "json"))
    check_memory(estimated_bytes(recursion, dim, rounds, samples, replicates),
                 "--dim, --rounds, --samples and --replicates" if recursion == "estimated" else "--dim and --rounds")
    ends = real_law(dim, args.spectrum)
    return {"dim": dim, "method": method, "recursion": recursion, "rounds": rounds, "real_fraction": alpha,
            "samples": samples, "replicates": replicates, "seed": seed, "step_time": step_time, "format": fmt,
            "spectrum": [float(v) for v in np.diag(ends.cov1)], "ends": ends}


# ----------------------------------------------------------------------------------------------- running

def _rows_estimated(traj, config) -> list[tuple]:
    rows = []
    method, alpha = config["method"], config["real_fraction"]
    quantities = ["log_det", "trace", "mean_error_sq", "w2_to_real"] + (["pair_mismatch"] if traj.real_count else [])
    for k in traj.rounds:
        for q in quantities:
            values = getattr(traj, q)[k]
            if np.all(np.isnan(values)):
                continue
            for r, v in enumerate(values):
                rows.append((int(k), method, alpha, str(r), q, float(v)))
            rows.append((int(k), method, alpha, "mean", q, float(np.mean(values))))
        for name, values in _expected_per_round(traj).items():
            rows.append((int(k), method, alpha, "mean", f"expected_{name}", float(values[k])))
    return rows


def _expected_per_round(traj) -> dict[str, np.ndarray]:
    """Closed-form expectations per round (replicate-averaged where conditional on the real sample)."""
    out = {}
    for key in ("log_det", "trace", "mean_error_sq"):
        if key in traj.expected:
            out[key] = np.asarray(traj.expected[key])
    if "trace" not in out:
        out["trace"] = np.asarray(traj.expected["conditional_trace"]).mean(axis=-1)
        out["mean_error_sq"] = np.asarray(traj.expected["conditional_mean_error_sq"]).mean(axis=-1)
    return out


def _rows_shrinkage(traj, config) -> list[tuple]:
    rows = []
    method, alpha = config["method"], config["real_fraction"]
    for k, r in enumerate(traj.rounds):
        eig = np.ravel(traj.eigenvalues[k])
        with np.errstate(divide="ignore"):
            log_det = float(np.sum(np.log(eig)))
        values = {"log_det": log_det, "trace": float(traj.total_variance[k]), "op_norm": float(traj.op_norm[k]),
                  "w2_to_real": float(traj.w2_to_real[k])}
        values.update({f"eigenvalue_{i + 1}": float(v) for i, v in enumerate(eig)})
        for q, v in values.items():
            rows.append((int(r), method, alpha, "mean", q, v))
    return rows


def _rows_population(pr, config) -> list[tuple]:
    rows = []
    method, alpha = config["method"], config["real_fraction"]
    for k in range(len(pr.maps)):
        for q in ("straightness", "transport_cost", "kinetic_energy", "w2_to_data", "map_change"):
            v = float(getattr(pr, q)[k])
            if not np.isnan(v):
                rows.append((k, method, alpha, "mean", q, v))
    return rows


STRAIGHTNESS_RTOL = 100 * (1e-10 + 1e-11)
"""Relative accuracy of the population straightness K - E||Z1 - Z0||^2: the map's ODE is solved with rtol 1e-10 and K
by quadrature with epsrel 1e-11 (theory/flow/reflow.py); 100x that bounds the error of the difference relative to
max(K, E||Z1 - Z0||^2). A value in [-tol, 0) is 0 within that accuracy and reported as 0; below is an error."""


def nonnegative_straightness(pr) -> np.ndarray:
    """The population straightness, >= 0: rounding-level negatives (within :data:`STRAIGHTNESS_RTOL`) become 0;
    a larger negative value or a non-finite one (an overflow) is a ValueError naming the spectrum."""
    S = np.asarray(pr.straightness, dtype=float)
    scale = np.maximum(np.abs(pr.kinetic_energy), np.abs(pr.transport_cost))
    if not np.all(np.isfinite(S)) or np.any(S < -STRAIGHTNESS_RTOL * scale):
        raise ValueError("spectrum gives a straightness that is negative beyond the solver accuracy or not finite "
                         "(float64 overflow or ill-conditioning); use a smaller --spectrum")
    return np.where(S < 0, 0.0, S)


def _check_finite(rows) -> None:
    """NaN or +Inf in a result (the closed forms overflowed float64) is a ValueError naming the spectrum; -Inf is
    legitimate only as the log det of a collapsed covariance."""
    for k, _method, _alpha, _rep, quantity, value in rows:
        if np.isnan(value) or value == np.inf or (value == -np.inf and quantity != "log_det"):
            raise ValueError(f"spectrum gives a non-finite {quantity} at round {k} (float64 overflow); use a smaller "
                             f"--spectrum")


def compute(config: dict, progress: bool = False):
    """Run the configured recursion; returns (rows, payload) with the tidy rows and a JSON-ready dict.
    ValueError naming the spectrum when the results overflow float64 (module docstring)."""
    ends = config["ends"]
    if config["recursion"] == "estimated":
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=config["rounds"], desc=f"gaussian-reflow {config['method']}", unit="round", leave=False,
                       file=sys.stderr)
        try:
            traj = gr.estimated_reflow(ends, config["samples"], config["rounds"], config["replicates"], config["seed"],
                                       config["method"], config["real_fraction"],
                                       progress=(lambda _k: bar.update(1)) if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        for q in ("log_det", "trace", "mean_error_sq", "w2_to_real"):
            _check_finite([(k, "", 0, "", q, v) for k, v in enumerate(np.ravel(getattr(traj, q)))])
        rows = _rows_estimated(traj, config)
        summary = {q: np.nanmean(getattr(traj, q), axis=1).tolist() for q in
                   ("log_det", "trace", "mean_error_sq", "w2_to_real")}
        if traj.real_count:
            summary["pair_mismatch"] = [None] + np.nanmean(traj.pair_mismatch[1:], axis=1).tolist()
        payload = {"rounds": traj.rounds.tolist(), "real_count": traj.real_count, "mean": summary,
                   "expected": {k: v.tolist() for k, v in _expected_per_round(traj).items()}}
    elif config["recursion"] == "shrinkage":
        traj = gr.shrinkage_reflow(np.array(config["spectrum"]), config["step_time"], config["rounds"],
                                   config["method"], config["real_fraction"])
        rows = _rows_shrinkage(traj, config)
        payload = traj.as_dict() | {"sigma2": gr.shrinkage_sigma2(config["step_time"])}
    else:
        pr = gr.population_reflow(ends, config["rounds"])
        pr.straightness = nonnegative_straightness(pr)
        for q in ("transport_cost", "kinetic_energy", "w2_to_data"):
            _check_finite([(k, "", 0, "", q, v) for k, v in enumerate(getattr(pr, q))])
        rows = _rows_population(pr, config)
        payload = {"rounds": list(range(len(pr.maps))),
                   **{q: [None if np.isnan(v) else float(v) for v in getattr(pr, q)]
                      for q in ("straightness", "transport_cost", "kinetic_energy", "w2_to_data", "map_change")}}
    _check_finite(rows)
    return rows, payload


def _public_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "ends"}


def _table(rows, config) -> str:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=CSV_COLUMNS)
    means = frame[frame["replicate"] == "mean"].pivot_table(index="round", columns="quantity", values="value",
                                                            aggfunc="first", sort=False)
    head = (f"recursion={config['recursion']} method={config['method']} real_fraction={config['real_fraction']:g} "
            f"d={config['dim']} rounds={config['rounds']}")
    if config["recursion"] == "estimated":
        head += f" samples={config['samples']} replicates={config['replicates']} seed={config['seed']}"
        head += "\n(replicate means; expected_* = closed-form expectations)"
    elif config["recursion"] == "shrinkage":
        head += f" step_time={config['step_time']:g} sigma2={gr.shrinkage_sigma2(config['step_time']):.4g}"
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.5g}".format):
        return head + "\n" + means.to_string() + "\n"


def run(args) -> int:
    """Run the ``gaussian-reflow`` sub-command from parsed arguments; returns the exit status (0)."""
    config = parse_config(args)
    out = getattr(args, "out", None)
    if out is not None:
        check_output_file(out)
    progress = config["recursion"] == "estimated" and not getattr(args, "no_progress", False)
    rows, payload = compute(config, progress=progress)
    fmt = config["format"]
    if fmt == "json":
        text = strict_json({"config": _public_config(config), **payload}, default=float) + "\n"
    elif fmt == "csv":
        import pandas as pd

        text = pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(index=False, lineterminator="\n")
    else:
        text = _table(rows, config)
    if out:
        write_output(out, text, run_manifest("gaussian-reflow", _public_config(config), seed=config["seed"]))
    else:
        sys.stdout.write(text)
    return 0
