"""Training batched DAEs (see :mod:`collapse_theory.train.dae.models`) on the DAE loss.

The DAE loss of model b on its training set X_b (rows x_j, j = 1..N) with noise variance sigma2_b is

    L_b(f) = (1/N) sum_j E_eps || x_j - f(x_j + sigma_b eps) ||^2,   eps ~ N(0, I_d),

and the batch is trained on the sum L = sum_b L_b. Because model b's parameters enter only L_b, the gradient of
L with respect to model b's parameters is the gradient of L_b: for the element-wise optimisers (Adam, SGD, plain
gradient descent) and the per-model conjugate gradients the B models are trained exactly as if one by one; only
L-BFGS (one line search for the whole batch) couples their iterates, never their optimum.

Methods (:data:`METHODS`):

- ``adam``, ``sgd``  minibatches: each step draws ``batch_size`` training points per model uniformly with
                     replacement and FRESH noise eps, and steps on the Monte-Carlo estimate of L (optional cosine
                     decay of the learning rate to 0)
- ``gd``             full-batch gradient descent with a fixed step ``lr``
- ``lbfgs``          full-batch L-BFGS (torch.optim.LBFGS, strong-Wolfe line search)
- ``cg``             full-batch conjugate gradients, per model, with exact line search (linear DAE only)
- ``lstsq``          the exact least-squares solution (linear DAE only): W_b = S_hat_b (S_hat_b + sigma2_b I)^{-1}

The full-batch methods use the exact noise expectation where it has a closed form: for a linear model with
end-to-end matrix M,  E_eps ||x - M(x + sigma eps)||^2 = ||x - M x||^2 + sigma2 ||M||_F^2,  so

    L_b(M) = (1/N) sum_j ||x_j - M x_j||^2 + sigma2_b ||M||_F^2
           = tr S_hat - 2 tr(M S_hat) + tr(M (S_hat + sigma2 I) M^T)

(S_hat = X^T X / N), a strictly convex quadratic in M for the full linear DAE, minimised by W*(S_hat, sigma2)
(DAE-OPT). The full-batch methods evaluate it in the second form, from the Gram matrix computed once per call
(:func:`dae_loss_from_moment`; the first form is :func:`dae_loss_marginal`, equal to rounding). For the MLP the
full-batch loss uses ``noise_draws`` fixed noisy copies of every point instead. Minibatch rows are gathered with
``index_select`` and Adam uses torch's fused kernel (same update rule, one pass per step).

Convergence of the full linear DAE is certified, not hoped for: the Hessian of L_b is 2 I (x) (S_hat + sigma2 I),
whose smallest eigenvalue is 2 m_b with m_b = lambda_min(S_hat_b) + sigma2_b, and grad L_b(W) = 2 (W - W*) (S_hat +
sigma2 I), so  ||W - W*(S_hat)||_F <= ||grad L_b(W)||_F / (2 m_b)  (:func:`certified_error_bound`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ...validation import check_choice
from .models import BatchedDAE, LinearDAE

METHODS = ("adam", "sgd", "gd", "lbfgs", "cg", "lstsq")
MINIBATCH_METHODS = ("adam", "sgd")
LINEAR_ONLY_METHODS = ("cg", "lstsq")
DEFAULT_LR = {"adam": 1e-2, "sgd": 1e-2, "gd": 0.1, "lbfgs": 1.0, "cg": 1.0, "lstsq": 1.0}


def check_method(method, name: str = "optimizer") -> str:
    """One of :data:`METHODS`."""
    return check_choice(method, METHODS, name)


@dataclass
class TrainReport:
    """What a call of :func:`train_dae` did: steps taken, wall time, final per-model loss (the full-batch loss for
    full-batch methods, the last minibatch estimate otherwise) and, for the full linear DAE, the certified
    relative error bound ||W - W*(S_hat)||_F / ||W||_F per model."""

    method: str
    steps: int
    seconds: float
    final_loss: np.ndarray
    certified_relative_error: np.ndarray | None = None
    history: list[float] = field(default_factory=list)


def sigma2_tensor(sigma2, n_models: int, dtype=torch.float64) -> torch.Tensor:
    """sigma2 as a (B, 1, 1) tensor: a scalar for every model, or one value per model (each > 0, finite)."""
    s2 = torch.as_tensor(np.asarray(sigma2, dtype=np.float64), dtype=dtype).reshape(-1)
    if s2.numel() == 1:
        s2 = s2.expand(n_models)
    if s2.numel() != n_models:
        raise ValueError(f"sigma2 must be a scalar or hold one value per model ({n_models}), got {s2.numel()}")
    if not bool(torch.all(torch.isfinite(s2) & (s2 > 0))):
        raise ValueError(f"sigma2 must be finite and > 0, got {s2.tolist()[:5]}")
    return s2.reshape(n_models, 1, 1).clone()


def _as_batch(data, n_models: int, dtype) -> torch.Tensor:
    x = torch.as_tensor(data, dtype=dtype)
    if x.dim() == 2:
        x = x.expand(n_models, -1, -1)
    if x.dim() != 3 or x.shape[0] != n_models or x.shape[1] < 1:
        raise ValueError(f"data must have shape (N, d) or (B, N, d) with B = {n_models}, got {tuple(x.shape)}")
    # one reduction instead of a boolean copy: the sum is finite when every entry is (the full test runs only when
    # the sum is not, which also covers sums that overflow)
    if not bool(torch.isfinite(x.sum())) and not bool(torch.all(torch.isfinite(x))):
        raise ValueError("data must be finite (no NaN or Inf)")
    return x


def second_moments(x: torch.Tensor) -> torch.Tensor:
    """S_hat_b = X_b^T X_b / N, (B, N, d) -> (B, d, d), exactly symmetric."""
    S = torch.matmul(x.transpose(-1, -2), x) / x.shape[-2]
    return 0.5 * (S + S.transpose(-1, -2))


def noisy(x: torch.Tensor, sigma2: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """x + sigma eps with fresh eps ~ N(0, I) (sigma2 of shape (B, 1, 1))."""
    return x + torch.sqrt(sigma2) * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def dae_loss_monte_carlo(model: BatchedDAE, x: torch.Tensor, sigma2: torch.Tensor,
                         generator: torch.Generator | None) -> torch.Tensor:
    """Per-model estimate (1/N) sum_j ||x_j - f(x_j + sigma eps_j)||^2 with one fresh eps per point: (B,)."""
    return ((x - model(noisy(x, sigma2, generator))) ** 2).sum(-1).mean(-1)


def dae_loss_marginal(model: BatchedDAE, x: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Exact noise expectation for a linear model M: (1/N) sum_j ||x_j - M x_j||^2 + sigma2 ||M||_F^2, (B,)."""
    M = model.linear_map()
    if M is None:
        raise ValueError("model must be linear for the exact noise-marginalised loss")
    residual = x - torch.matmul(x, M.transpose(-1, -2))
    return (residual ** 2).sum(-1).mean(-1) + sigma2.reshape(-1) * (M ** 2).sum((-2, -1))


def dae_loss_from_moment(model: BatchedDAE, moment: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """The same loss through the Gram matrix S_hat = X^T X / N (an exact identity for linear models):
    tr S_hat - 2 tr(M S_hat) + tr(M (S_hat + sigma2 I) M^T), (B,). One pass over the data (for S_hat) replaces one
    per evaluation, which makes full-batch training cost O(d^3) per step whatever N is."""
    M = model.linear_map()
    if M is None:
        raise ValueError("model must be linear for the exact noise-marginalised loss")
    MS = torch.matmul(M, moment)
    return (torch.diagonal(moment, dim1=-2, dim2=-1).sum(-1) - 2 * torch.diagonal(MS, dim1=-2, dim2=-1).sum(-1)
            + (MS * M).sum((-2, -1)) + sigma2.reshape(-1) * (M ** 2).sum((-2, -1)))


def certified_error_bound(model: LinearDAE, data, sigma2) -> torch.Tensor:
    """Per model, the certified bound ||W - W*(S_hat)||_F <= ||grad L_b(W)||_F / (2 (lambda_min(S_hat) + sigma2))
    (module docstring), divided by ||W||_F: an upper bound on the relative Frobenius error, (B,).

    The gradient of the marginalised loss is evaluated in its closed form grad L_b(W) = 2 W (S_hat + sigma2 I)
    - 2 S_hat (the derivative of tr S - 2 tr(W S) + tr(W (S + sigma2 I) W^T)), which costs O(d^3) per model
    instead of a pass over the data; a test checks it against autograd."""
    if not isinstance(model, LinearDAE):
        raise ValueError("model must be a LinearDAE for the certified error bound")
    x = _as_batch(data, model.n_models, model.weight.dtype)
    s2 = sigma2_tensor(sigma2, model.n_models, x.dtype)
    W = model.weight.detach()
    S = second_moments(x)
    grad = 2 * torch.matmul(W, S) + 2 * s2 * W - 2 * S
    curvature = torch.linalg.eigvalsh(S)[:, 0].clamp_min(0) + s2.reshape(-1)
    bound = torch.linalg.matrix_norm(grad) / (2 * curvature)
    return bound / torch.linalg.matrix_norm(W).clamp_min(torch.finfo(x.dtype).tiny)


def _full_batch_closure_loss(model: BatchedDAE, x: torch.Tensor, s2: torch.Tensor, noise_draws: int,
                             generator: torch.Generator | None):
    """The full-batch loss (B,) as a function of the parameters: marginalised for linear models, otherwise the
    mean over ``noise_draws`` fixed noisy copies of every point (drawn once here)."""
    if model.is_linear:
        moment = second_moments(x)
        return lambda: dae_loss_from_moment(model, moment, s2)
    copies = x.repeat_interleave(noise_draws, dim=1)
    corrupted = noisy(copies, s2, generator)
    return lambda: ((copies - model(corrupted)) ** 2).sum(-1).mean(-1)


def _solve_least_squares(model: LinearDAE, x: torch.Tensor, s2: torch.Tensor) -> None:
    S = second_moments(x)
    eye = torch.eye(model.dim, dtype=x.dtype)
    # W (S + sigma2 I) = S  <=>  (S + sigma2 I) W^T = S  (both symmetric)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.solve(S + s2 * eye, S).transpose(-1, -2))


def _conjugate_gradients(model: LinearDAE, loss_fn, moment: torch.Tensor, s2: torch.Tensor, max_steps: int,
                         tolerance: float) -> int:
    """Per-model Fletcher-Reeves CG with exact line search on the quadratic L_b: step t_b = -<g, p>_b / <p, H p>_b,
    H p by double back-propagation. On a quadratic this is linear CG, exact in at most d steps in exact arithmetic
    (the Hessian I (x) 2 (S_hat + sigma2 I) has at most d distinct eigenvalues). A model stops once its certified
    relative error ||g||_F / (2 m_b ||W||_F) <= tolerance."""
    W = model.weight
    curvature = torch.linalg.eigvalsh(moment)[:, 0].clamp_min(0) + s2.reshape(-1)
    tiny = torch.finfo(moment.dtype).tiny
    direction = previous = None
    steps = 0
    for steps in range(1, max_steps + 1):
        loss = loss_fn().sum()
        (grad,) = torch.autograd.grad(loss, W, create_graph=True)
        residual = -grad.detach()
        norm2 = (residual ** 2).sum((-2, -1))
        weight_norm = torch.linalg.matrix_norm(W.detach())
        done = torch.sqrt(norm2) / (2 * curvature) <= tolerance * weight_norm.clamp_min(tiny)
        done &= weight_norm > 0
        if bool(torch.all(done)):
            break
        if direction is None:
            direction = residual
        else:
            beta = norm2 / previous.clamp_min(tiny)
            direction = residual + beta.reshape(-1, 1, 1) * direction
        (hessian_dir,) = torch.autograd.grad(grad, W, grad_outputs=direction)
        curv = (direction * hessian_dir).sum((-2, -1))
        step = torch.where(done | (curv <= 0), torch.zeros_like(curv),
                           (residual * direction).sum((-2, -1)) / curv.clamp_min(tiny))
        with torch.no_grad():
            W.add_(step.reshape(-1, 1, 1) * direction)
        previous = norm2
    return steps


def _adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel where torch has it (one kernel per step instead of ~10 element-wise passes;
    the update rule is the same), else the multi-tensor implementation."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch / unsupported device
        return torch.optim.Adam(params, lr=lr, foreach=True)


def train_dae(model: BatchedDAE, data, sigma2, method: str = "adam", steps: int = 1000, lr: float | None = None,
              batch_size: int = 256, generator: torch.Generator | None = None, noise_draws: int = 8,
              tolerance: float = 1e-12, lr_schedule: str = "constant", progress: bool = False) -> TrainReport:
    """Train the B models of ``model`` in place on ``data`` ((N, d) shared, or (B, N, d) one set per model).

    sigma2       noise variance, a scalar or one value per model (> 0)
    method       one of :data:`METHODS` (module docstring)
    steps        optimiser steps (adam, sgd, gd), maximal L-BFGS iterations (lbfgs) or CG steps (cg)
    lr           learning rate (default :data:`DEFAULT_LR`)
    batch_size   points per model per step (adam, sgd)
    tolerance    cg: certified relative error to stop at; lbfgs: the gradient tolerance (max |grad|)
    lr_schedule  ``constant`` or ``cosine`` (adam, sgd: lr_t = lr (1 + cos(pi t / steps)) / 2)
    The models train in ``model``'s dtype; ``generator`` drives the minibatches and the noise. Weights that end
    non-finite (NaN/Inf: a diverged run) raise FloatingPointError."""
    method = check_method(method)
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    steps = int(steps)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be finite and > 0, got {lr!r}")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be constant or cosine, got {lr_schedule!r}")
    if method in LINEAR_ONLY_METHODS and not isinstance(model, LinearDAE):
        raise ValueError(f"optimizer {method!r} needs the full linear model (model 'linear')")
    dtype = next(model.parameters()).dtype
    x = _as_batch(data, model.n_models, dtype)
    s2 = sigma2_tensor(sigma2, model.n_models, dtype)
    rate = DEFAULT_LR[method] if lr is None else float(lr)
    params = list(model.parameters())
    history: list[float] = []
    start = time.perf_counter()
    taken = steps

    if method == "lstsq":
        _solve_least_squares(model, x, s2)
        taken = 1
    elif method == "cg":
        moment = second_moments(x)
        taken = _conjugate_gradients(model, lambda: dae_loss_from_moment(model, moment, s2), moment, s2, steps,
                                     tolerance)
    elif method in MINIBATCH_METHODS:
        optimiser = _adam(params, rate) if method == "adam" else torch.optim.SGD(params, lr=rate, foreach=True)
        batch = min(batch_size, x.shape[1])
        # minibatch rows gathered from the flattened (B N, d) data with index_select (much faster than x[rows, idx])
        flat = x.reshape(-1, x.shape[-1])
        offsets = (torch.arange(model.n_models) * x.shape[1]).reshape(-1, 1)
        iterator = range(steps)
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=f"train ({method})", unit="step", leave=False)
        for t in iterator:
            if lr_schedule == "cosine":
                for group in optimiser.param_groups:
                    group["lr"] = rate * 0.5 * (1 + math.cos(math.pi * t / steps))
            idx = torch.randint(0, x.shape[1], (model.n_models, batch), generator=generator)
            points = flat.index_select(0, (idx + offsets).reshape(-1)).reshape(model.n_models, batch, -1)
            loss = dae_loss_monte_carlo(model, points, s2, generator).sum()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            history.append(float(loss.detach()))
    else:
        loss_fn = _full_batch_closure_loss(model, x, s2, noise_draws, generator)
        if method == "gd":
            optimiser = torch.optim.SGD(params, lr=rate)
            for _ in range(steps):
                loss = loss_fn().sum()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                history.append(float(loss.detach()))
        else:
            optimiser = torch.optim.LBFGS(params, lr=rate, max_iter=steps, max_eval=2 * steps, history_size=50,
                                          tolerance_grad=tolerance, tolerance_change=0.0,
                                          line_search_fn="strong_wolfe")

            def closure():
                optimiser.zero_grad(set_to_none=True)
                value = loss_fn().sum()
                value.backward()
                return value

            optimiser.step(closure)
            taken = int(optimiser.state[optimiser._params[0]].get("n_iter", steps))

    if not all(bool(torch.isfinite(p).all()) for p in params):  # diverged: FloatingPointError (CLI exit status 3)
        raise FloatingPointError(f"training diverged: the DAE weights are not finite (NaN/Inf) after {taken} "
                                 f"{method} steps with lr {rate:g}; lower --lr")
    with torch.no_grad():
        if method in MINIBATCH_METHODS:
            final = dae_loss_monte_carlo(model, x, s2, generator)
        else:
            final = _full_batch_closure_loss(model, x, s2, noise_draws, generator)()
    certificate = None
    if isinstance(model, LinearDAE):
        certificate = certified_error_bound(model, x, s2).numpy().copy()
    return TrainReport(method=method, steps=taken, seconds=time.perf_counter() - start,
                       final_loss=final.detach().numpy().copy(), certified_relative_error=certificate,
                       history=history)


@torch.no_grad()
def generate(model: BatchedDAE, inputs, sigma2, rule: str = "renoise",
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Next round's data from ``inputs`` (B, N, d): renoise x' = f(x + sigma eps) (fresh eps), clean x' = f(x)."""
    key = str(rule).strip().lower()
    if key not in ("renoise", "clean"):
        raise ValueError(f"rule must be one of renoise, clean, got {rule!r}")
    dtype = next(model.parameters()).dtype
    x = _as_batch(inputs, model.n_models, dtype)
    if key == "clean":
        return model(x)
    return model(noisy(x, sigma2_tensor(sigma2, model.n_models, dtype), generator))
