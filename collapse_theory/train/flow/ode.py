"""ODE solvers for learned velocity fields (torch), in the toolkit's one time convention.

Noise x0 lives at t = 0 and data x1 at t = 1 (:mod:`collapse_theory.theory.conventions`). Sampling integrates
dx/dt = v(x, t) *forward* from t0 = 0 to t1 = 1; inverting data (RA Reflow's reverse flow) integrates the same
ODE *backward* from t0 = 1 to t1 = 0. :func:`integrate` does both: the direction is the sign of t1 - t0.

Fixed-step methods on the uniform grid t_n = t0 + n h, h = (t1 - t0)/N (h < 0 in reverse), n = 0..N-1:

- ``euler``  x_{n+1} = x_n + h v(x_n, t_n)                                        (1 evaluation per step, error O(h))
- ``heun``   k1 = v(x_n, t_n),  k2 = v(x_n + h k1, t_{n+1}),  x_{n+1} = x_n + (h/2)(k1 + k2)
                                                                                 (2 evaluations per step, error O(h^2))

Adaptive: ``dopri5`` (Dormand-Prince 5(4), embedded error control with ``rtol``/``atol``) through
``torchdiffeq.odeint``; it runs in reverse as well when t1 < t0.

:func:`integrate_stochastic` is the stochastic reverse pass we use for ORAS Reflow (our reading of the
authors' scripts; see its docstring). :func:`integrate_path` returns the states at a sorted list of times
(used for the straightness estimate).

The field is called as ``field(x, t)`` with ``x`` of shape (n, d) and ``t`` a 0-dim tensor (default) or,
with ``per_sample_time=True``, a tensor of shape (n,) holding the same time for every sample. Everything
is batched over the rows of x and runs under ``torch.no_grad()`` unless ``grad=True``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch

from ...validation import check_choice

METHODS = ("euler", "heun", "dopri5")
FIXED_STEP_METHODS = ("euler", "heun")

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Counted:
    """Wraps a field, counts its evaluations (NFE) and shapes the time argument."""

    def __init__(self, field: Field, per_sample_time: bool):
        self.field = field
        self.per_sample_time = per_sample_time
        self.nfe = 0

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        self.nfe += 1
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(())
        if self.per_sample_time:
            t = t.expand(x.shape[0])
        out = self.field(x, t)
        if out.shape != x.shape:
            raise ValueError(f"field must return a tensor of the shape of x {tuple(x.shape)}, got {tuple(out.shape)}")
        return out


def check_method(method, name: str = "method") -> str:
    """One of :data:`METHODS`."""
    return check_choice(method, METHODS, name)


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return steps


def _check_times(t0, t1) -> tuple[float, float]:
    try:
        t0, t1 = float(t0), float(t1)
    except (TypeError, ValueError):
        raise ValueError(f"t0 must be a number, got {t0!r}") from None
    for name, value in (("t0", t0), ("t1", t1)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    return t0, t1


def _check_x(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n_samples, d), got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite (no NaN or Inf)")
    return x


def _fixed_step(f: _Counted, x: torch.Tensor, t0: float, t1: float, method: str, steps: int) -> torch.Tensor:
    h = (t1 - t0) / steps
    for n in range(steps):
        t = t0 + n * h
        # the last grid point is t1 exactly (no drift from summing h)
        t_next = t1 if n == steps - 1 else t0 + (n + 1) * h
        k1 = f(x, t)
        if method == "euler":
            x = x + h * k1
        else:
            k2 = f(x + h * k1, t_next)
            x = x + 0.5 * h * (k1 + k2)
    return x


def integrate(field: Field, x, t0: float = 0.0, t1: float = 1.0, method: str = "euler", steps: int = 100,
              rtol: float = 1e-5, atol: float = 1e-5, *, grad: bool = False, per_sample_time: bool = False,
              return_nfe: bool = False):
    """Integrate dx/dt = field(x, t) from t0 to t1 (forward if t1 > t0, reverse if t1 < t0).

    ``method``: ``euler`` or ``heun`` with ``steps`` uniform steps (see the module docstring for the updates),
    or ``dopri5`` (adaptive, ``rtol``/``atol``; ``steps`` is ignored) via ``torchdiffeq.odeint``.
    Returns x(t1) (shape of x), or ``(x(t1), nfe)`` with ``return_nfe=True`` (the number of field evaluations).
    t0 == t1 returns x unchanged with nfe = 0. No autograd graph is built unless ``grad=True``.
    """
    method = check_method(method)
    x = _check_x(x)
    t0, t1 = _check_times(t0, t1)
    if method in FIXED_STEP_METHODS:
        steps = _check_steps(steps)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    f = _Counted(field, per_sample_time)
    ctx = contextlib.nullcontext() if grad else torch.no_grad()
    with ctx:
        if t0 == t1:
            out = x.clone()
        elif method in FIXED_STEP_METHODS:
            out = _fixed_step(f, x, t0, t1, method, steps)
        else:
            from torchdiffeq import odeint

            times = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
            out = odeint(lambda t, y: f(y, t), x, times, method="dopri5", rtol=rtol, atol=atol)[-1]
    return (out, f.nfe) if return_nfe else out


def integrate_path(field: Field, x, times, method: str = "heun", substeps: int = 4, *, grad: bool = False,
                   per_sample_time: bool = False) -> torch.Tensor:
    """States at each of ``times`` (a monotone sequence starting at the initial time of x).

    Integrates segment by segment (``substeps`` fixed steps of ``method`` per segment, or dopri5).
    Returns a tensor of shape (len(times), n, d); entry 0 is x itself."""
    x = _check_x(x)
    times = [float(t) for t in times]
    if len(times) < 1:
        raise ValueError("times must hold at least one time")
    diffs = [b - a for a, b in zip(times, times[1:])]
    if diffs and not (all(d >= 0 for d in diffs) or all(d <= 0 for d in diffs)):
        raise ValueError("times must be monotone (all increasing or all decreasing)")
    states = [x]
    for a, b in zip(times, times[1:]):
        states.append(integrate(field, states[-1], a, b, method=method, steps=substeps, grad=grad,
                                per_sample_time=per_sample_time))
    return torch.stack(states)


def integrate_stochastic(field: Field, x, t0: float = 1.0, t1: float = 0.0, steps: int = 100, *,
                         noise_scale: float = 1e-3, jitter: float = 0.1, generator: torch.Generator | None = None,
                         grad: bool = False, per_sample_time: bool = False) -> torch.Tensor:
    """Stochastic Euler pass (ORAS Reflow's reverse flow, our reading of the authors' scripts).

    The paper's available text does not define ORAS; the first author's scripts carry this pass, which we
    read as the "S". Step sizes are jittered: h_n = h (1 + u_n), u_n ~ U[-jitter, jitter], rescaled so that
    sum h_n = t1 - t0 exactly; then

        x_{n+1} = x_n + h_n v(x_n, t_n) + noise_scale * sqrt(|h_n|) * xi_n,   xi_n ~ N(0, I),

    with t_{n+1} = t_n + h_n (the last time is t1 exactly). Works in either direction (default 1 -> 0).
    ``noise_scale = 0`` and ``jitter = 0`` give the plain Euler pass of :func:`integrate`.
    """
    x = _check_x(x)
    t0, t1 = _check_times(t0, t1)
    steps = _check_steps(steps)
    if not (noise_scale >= 0 and math.isfinite(noise_scale)):
        raise ValueError(f"noise_scale must be a finite number >= 0, got {noise_scale!r}")
    if not (0 <= jitter < 1):
        raise ValueError(f"jitter must lie in [0, 1), got {jitter!r}")
    f = _Counted(field, per_sample_time)
    if jitter > 0:
        # drawn on the generator's device (a CUDA generator cannot fill a CPU tensor), then moved to the CPU
        where = generator.device if generator is not None else torch.device("cpu")
        u = (torch.rand(steps, generator=generator, dtype=torch.float64, device=where).cpu() * 2 - 1) * jitter
        weights = 1.0 + u
    else:
        weights = torch.ones(steps, dtype=torch.float64)
    h_all = (t1 - t0) * weights / weights.sum()
    ctx = contextlib.nullcontext() if grad else torch.no_grad()
    with ctx:
        t = t0
        for n in range(steps):
            h = float(h_all[n])
            x = x + h * f(x, t)
            if noise_scale > 0:
                xi = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                x = x + noise_scale * math.sqrt(abs(h)) * xi
            t = t1 if n == steps - 1 else t + h
    return x
