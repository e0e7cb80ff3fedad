"""Laws 4-6: refitting a Gaussian mean (known sigma2) on real plus synthetic samples.

Law 4, ``fixed-real-ratio`` (claim LAW-FIXED-REAL-RATIO; compare: Bertrand et al., arXiv 2310.00429). n real samples
x_1..x_n ~ N(mu*, sigma2) are drawn once and kept; round 0 fits mu_0 = xbar; round t + 1 draws m = lambda n synthetic
samples from N(mu_t, sigma2) and fits the mean of all n + m: mu_{t+1} = (xbar + lambda ybar_t)/(1 + lambda). With
a = lambda/(1 + lambda):

    E (mu_t - xbar)^2 = lambda sigma2 / (n (1 + 2 lambda)) (1 - a^(2t))      -> the stationary variance
    E (mu_t - mu*)^2  = sigma2/n + E (mu_t - xbar)^2
    population map mu -> (mu* + lambda mu)/(1 + lambda): Jacobian a = lambda/(1 + lambda) < 1 for every lambda >= 0

Law 5, ``fresh-data`` (LAW-FRESH-DATA; compare: Alemohammad et al., arXiv 2307.01850). Round 0 fits n_r real samples:
mu_0 = xbar, v_0 = mean (x - mu*)^2. Round t + 1 draws n_r *fresh* real samples and n_s synthetic samples
y ~ N(mu_t, b v_t) (sampling bias b > 0, e.g. b < 1 for a low temperature), N = n_r + n_s, w = n_s/N, and fits
mu_{t+1} = (sum x + sum y)/N and v_{t+1} = (sum (x - mu*)^2 + sum (y - mu_t)^2)/N (each about its known centre).
Then, exactly, with V_t = E (mu_t - mu*)^2:

    E v_{t+1} = (1 - w) sigma2 + w b E v_t     -> v_inf = (1 - w) sigma2/(1 - w b)   (needs w b < 1)
    V_{t+1}   = w^2 V_t + (n_r sigma2 + n_s b E v_t)/N^2
    b = 1:  V_inf = sigma2 (n_r + n_s) / (n_r (n_r + 2 n_s))

Law 6, ``optimal-weight`` (LAW-OPTIMAL-WEIGHT; compare: He-Xu-Cheng, arXiv 2502.18049). As law 5 with b = 1 but the
fit weights the real mean by w (real weight): mu_{t+1} = w xbar_t + (1 - w) ybar_t, so
V_{t+1} = (1 - w)^2 V_t + sigma2 (w^2/n_r + (1 - w)^2/n_s), V_0 = sigma2/n_r,

    V_inf(w) = sigma2 (w^2/n_r + (1 - w)^2/n_s) / (1 - (1 - w)^2),
    minimised at w* = (sqrt(r (r + 4)) - r)/2,  r = n_r/n_s   (w* = 1/phi = 0.618... when n_r = n_s).

Law 5 is law 6 at the count-proportional weight w = n_r/N, which is not w* (e.g. 1/2 vs 0.618 when n_r = n_s).

Derivations: docs/derivations/laws.md §4 (law 4), docs/derivations/laws.md §5 (law 5),
docs/derivations/laws.md §6 (law 6).
"""

from __future__ import annotations

import numpy as np

from .base import Law, check_int, check_number


# --------------------------------------------------------------------------------------------- law 4

def _validate_ratio(p: dict) -> dict:
    n = check_int(p["n"], "n", 1)
    ratio = check_number(p["ratio"], "ratio", low=0.0)
    m = ratio * n
    if abs(m - round(m)) > 1e-9 * max(1.0, m):
        raise ValueError(f"ratio times n must be an integer (the synthetic sample size), got {m:g}")
    return {"n": n, "ratio": ratio, "sigma2": check_number(p["sigma2"], "sigma2", low=0, low_open=True)}


def fixed_ratio_stationary_variance(n: int, ratio: float, sigma2: float = 1.0) -> float:
    """lambda sigma2 / (n (1 + 2 lambda)): the stationary E (mu_t - xbar)^2 at synthetic-to-real ratio lambda."""
    return ratio * sigma2 / (n * (1 + 2 * ratio))


def fixed_ratio_jacobian(ratio) -> np.ndarray:
    """lambda/(1 + lambda): the derivative of the population map mu -> (mu* + lambda mu)/(1 + lambda)."""
    r = np.asarray(ratio, dtype=float)
    return r / (1 + r)


def fixed_real_ratio_closed_form(rounds: int, n: int = 10, ratio: float = 1.0, sigma2: float = 1.0) -> dict:
    """E_sq_dev_from_real_mean = E (mu_t - xbar)^2 and E_sq_error = E (mu_t - mu*)^2 per round 0..rounds."""
    p = _validate_ratio({"n": n, "ratio": ratio, "sigma2": sigma2})
    a = fixed_ratio_jacobian(p["ratio"])
    t = np.arange(rounds + 1, dtype=float)
    dev = fixed_ratio_stationary_variance(p["n"], p["ratio"], p["sigma2"]) * (1 - a ** (2 * t))
    return {"E_sq_error": p["sigma2"] / p["n"] + dev, "E_sq_dev_from_real_mean": dev}


def simulate_fixed_real_ratio(rounds: int, replicates: int, seed: int, n: int = 10, ratio: float = 1.0,
                              sigma2: float = 1.0, mean: float = 0.3) -> dict:
    """The literal loop, R replicates at once: n real samples drawn once; each round m = lambda n synthetic samples
    from N(mu_t, sigma2); mu_{t+1} = mean of the n + m samples. {quantity: (R, rounds + 1)}."""
    p = _validate_ratio({"n": n, "ratio": ratio, "sigma2": sigma2})
    n, s = p["n"], np.sqrt(p["sigma2"])
    m = int(round(p["ratio"] * n))
    rng = np.random.default_rng(seed)
    real = mean + s * rng.standard_normal((replicates, n))
    xbar = real.mean(axis=1)
    mu = xbar.copy()
    out = {"E_sq_error": np.empty((replicates, rounds + 1)), "E_sq_dev_from_real_mean": np.empty((replicates, rounds + 1))}
    for t in range(rounds + 1):
        if t > 0 and m > 0:
            synth = mu[:, None] + s * rng.standard_normal((replicates, m))
            mu = (real.sum(axis=1) + synth.sum(axis=1)) / (n + m)
        out["E_sq_error"][:, t] = (mu - mean) ** 2
        out["E_sq_dev_from_real_mean"][:, t] = (mu - xbar) ** 2
    return out


# --------------------------------------------------------------------------------------------- law 5

def _validate_fresh(p: dict) -> dict:
    n_real = check_int(p["n_real"], "n_real", 1)
    n_synth = check_int(p["n_synth"], "n_synth", 0)
    bias = check_number(p["bias"], "bias", low=0, low_open=True)
    w = n_synth / (n_real + n_synth)
    if w * bias >= 1:
        raise ValueError(f"bias must be < (n_real + n_synth)/n_synth = {1 / w:g} (w b < 1: a fixed point exists), "
                         f"got {bias:g}")
    return {"n_real": n_real, "n_synth": n_synth, "sigma2": check_number(p["sigma2"], "sigma2", low=0, low_open=True),
            "bias": bias}


def fresh_data_fixed_points(n_real: int, n_synth: int, sigma2: float = 1.0, bias: float = 1.0) -> dict:
    """{"E_var": (1 - w) sigma2/(1 - w b), "E_sq_error": (n_r sigma2 + n_s b v_inf)/(N^2 (1 - w^2))}; at b = 1 the
    latter is sigma2 (n_r + n_s)/(n_r (n_r + 2 n_s))."""
    p = _validate_fresh({"n_real": n_real, "n_synth": n_synth, "sigma2": sigma2, "bias": bias})
    N = p["n_real"] + p["n_synth"]
    w = p["n_synth"] / N
    v_inf = (1 - w) * p["sigma2"] / (1 - w * p["bias"])
    return {"E_var": v_inf,
            "E_sq_error": (p["n_real"] * p["sigma2"] + p["n_synth"] * p["bias"] * v_inf) / (N * N * (1 - w * w))}


def fresh_data_closed_form(rounds: int, n_real: int = 10, n_synth: int = 10, sigma2: float = 1.0,
                           bias: float = 1.0) -> dict:
    """E_sq_error = E (mu_t - mu*)^2 and E_var = E v_t per round 0..rounds: E v_t = v_inf + (w b)^t (sigma2 - v_inf)
    and the exact linear recursion V_{t+1} = w^2 V_t + (n_r sigma2 + n_s b E v_t)/N^2, V_0 = sigma2/n_r."""
    p = _validate_fresh({"n_real": n_real, "n_synth": n_synth, "sigma2": sigma2, "bias": bias})
    nr, ns, s2, b = p["n_real"], p["n_synth"], p["sigma2"], p["bias"]
    N, w = nr + ns, ns / (nr + ns)
    v_inf = fresh_data_fixed_points(nr, ns, s2, b)["E_var"]
    e_var = v_inf + (w * b) ** np.arange(rounds + 1, dtype=float) * (s2 - v_inf)
    V = np.empty(rounds + 1)
    V[0] = s2 / nr
    for t in range(rounds):
        V[t + 1] = w * w * V[t] + (nr * s2 + ns * b * e_var[t]) / (N * N)
    return {"E_sq_error": V, "E_var": e_var}


def simulate_fresh_data(rounds: int, replicates: int, seed: int, n_real: int = 10, n_synth: int = 10,
                        sigma2: float = 1.0, bias: float = 1.0, mean: float = -0.4) -> dict:
    """The literal loop (module docstring), R replicates at once. {quantity: (R, rounds + 1)}."""
    p = _validate_fresh({"n_real": n_real, "n_synth": n_synth, "sigma2": sigma2, "bias": bias})
    nr, ns, s, b = p["n_real"], p["n_synth"], np.sqrt(p["sigma2"]), p["bias"]
    rng = np.random.default_rng(seed)
    x = mean + s * rng.standard_normal((replicates, nr))
    mu, v = x.mean(axis=1), np.mean((x - mean) ** 2, axis=1)
    out = {"E_sq_error": np.empty((replicates, rounds + 1)), "E_var": np.empty((replicates, rounds + 1))}
    for t in range(rounds + 1):
        if t > 0:
            x = mean + s * rng.standard_normal((replicates, nr))
            y = mu[:, None] + np.sqrt(b * v)[:, None] * rng.standard_normal((replicates, ns))
            v = (np.sum((x - mean) ** 2, axis=1) + np.sum((y - mu[:, None]) ** 2, axis=1)) / (nr + ns)
            mu = (x.sum(axis=1) + y.sum(axis=1)) / (nr + ns)
        out["E_sq_error"][:, t] = (mu - mean) ** 2
        out["E_var"][:, t] = v
    return out


# --------------------------------------------------------------------------------------------- law 6

def optimal_real_weight(n_real, n_synth) -> np.ndarray:
    """w* = (sqrt(r (r + 4)) - r)/2 with r = n_real/n_synth: the real weight minimising V_inf(w)."""
    r = np.asarray(n_real, dtype=float) / np.asarray(n_synth, dtype=float)
    return (np.sqrt(r * (r + 4)) - r) / 2


def weighted_stationary_variance(weight, n_real, n_synth, sigma2: float = 1.0) -> np.ndarray:
    """V_inf(w) = sigma2 (w^2/n_r + (1 - w)^2/n_s)/(1 - (1 - w)^2) for real weight w in (0, 1]."""
    w = np.asarray(weight, dtype=float)
    return sigma2 * (w ** 2 / n_real + (1 - w) ** 2 / n_synth) / (1 - (1 - w) ** 2)


def _validate_weight(p: dict) -> dict:
    n_real = check_int(p["n_real"], "n_real", 1)
    n_synth = check_int(p["n_synth"], "n_synth", 1)
    weight = p["weight"]
    if weight is None or (isinstance(weight, str) and weight.strip().lower() in ("optimal", "none", "")):
        weight = float(optimal_real_weight(n_real, n_synth))
    else:
        weight = check_number(weight, "weight", low=0.0, high=1.0, low_open=True)
    return {"n_real": n_real, "n_synth": n_synth, "sigma2": check_number(p["sigma2"], "sigma2", low=0, low_open=True),
            "weight": weight}


def optimal_weight_closed_form(rounds: int, n_real: int = 10, n_synth: int = 10, sigma2: float = 1.0,
                               weight=None) -> dict:
    """E_sq_error = V_t = V_inf + (1 - w)^(2t) (sigma2/n_r - V_inf) per round (weight None: w*)."""
    p = _validate_weight({"n_real": n_real, "n_synth": n_synth, "sigma2": sigma2, "weight": weight})
    w = p["weight"]
    v_inf = weighted_stationary_variance(w, p["n_real"], p["n_synth"], p["sigma2"])
    t = np.arange(rounds + 1, dtype=float)
    return {"E_sq_error": v_inf + (1 - w) ** (2 * t) * (p["sigma2"] / p["n_real"] - v_inf)}


def simulate_optimal_weight(rounds: int, replicates: int, seed: int, n_real: int = 10, n_synth: int = 10,
                            sigma2: float = 1.0, weight=None, mean: float = 0.7) -> dict:
    """The literal loop: fresh n_r real and n_s synthetic samples from N(mu_t, sigma2) each round;
    mu_{t+1} = w mean(real) + (1 - w) mean(synthetic). {"E_sq_error": (R, rounds + 1)}."""
    p = _validate_weight({"n_real": n_real, "n_synth": n_synth, "sigma2": sigma2, "weight": weight})
    nr, ns, s, w = p["n_real"], p["n_synth"], np.sqrt(p["sigma2"]), p["weight"]
    rng = np.random.default_rng(seed)
    mu = (mean + s * rng.standard_normal((replicates, nr))).mean(axis=1)
    out = np.empty((replicates, rounds + 1))
    for t in range(rounds + 1):
        if t > 0:
            x = mean + s * rng.standard_normal((replicates, nr))
            y = mu[:, None] + s * rng.standard_normal((replicates, ns))
            mu = w * x.mean(axis=1) + (1 - w) * y.mean(axis=1)
        out[:, t] = (mu - mean) ** 2
    return {"E_sq_error": out}


FIXED_REAL_RATIO = Law(
    name="fixed-real-ratio", claim="LAW-FIXED-REAL-RATIO",
    title="refit a Gaussian mean on n fixed real samples plus lambda n synthetic ones from the last fit",
    params={"n": 10, "ratio": 1.0, "sigma2": 1.0}, quantities=("E_sq_error", "E_sq_dev_from_real_mean"),
    validate=_validate_ratio, closed_form=fixed_real_ratio_closed_form, monte_carlo=simulate_fixed_real_ratio,
    state_size=lambda p: 2 * p["n"] * (1 + p["ratio"]) + 4,
    param_help={"n": "real samples n >= 1 (drawn once)", "ratio": "synthetic-to-real ratio lambda >= 0 (lambda n an "
                "integer)", "sigma2": "known variance > 0"},
    round_meaning="round t: the t-th refit (round 0 fits the real samples alone)")

FRESH_DATA = Law(
    name="fresh-data", claim="LAW-FRESH-DATA",
    title="refit mean and variance on n_real fresh real plus n_synth synthetic samples (sampling bias b)",
    params={"n_real": 10, "n_synth": 10, "sigma2": 1.0, "bias": 1.0}, quantities=("E_sq_error", "E_var"),
    validate=_validate_fresh, closed_form=fresh_data_closed_form, monte_carlo=simulate_fresh_data,
    state_size=lambda p: 3 * (p["n_real"] + p["n_synth"]) + 4,
    param_help={"n_real": "fresh real samples per round >= 1", "n_synth": "synthetic samples per round >= 0",
                "sigma2": "real variance > 0", "bias": "synthetic variance factor b > 0 (w b < 1)"},
    round_meaning="round t: the t-th refit (round 0 fits n_real real samples alone)")

OPTIMAL_WEIGHT = Law(
    name="optimal-weight", claim="LAW-OPTIMAL-WEIGHT",
    title="refit the mean as w x real mean + (1 - w) x synthetic mean; w* = (sqrt(r(r + 4)) - r)/2",
    params={"n_real": 10, "n_synth": 10, "sigma2": 1.0, "weight": None}, quantities=("E_sq_error",),
    validate=_validate_weight, closed_form=optimal_weight_closed_form, monte_carlo=simulate_optimal_weight,
    state_size=lambda p: 3 * (p["n_real"] + p["n_synth"]) + 4,
    param_help={"n_real": "fresh real samples per round >= 1", "n_synth": "synthetic samples per round >= 1",
                "sigma2": "real variance > 0", "weight": "real weight w in (0, 1] (default: the optimal w*)"},
    round_meaning="round t: the t-th refit (round 0 fits n_real real samples alone)")
