"""Seed-batched flow training: S independent velocity fields (one per seed, or per seed x method) trained as one.

The S members share one architecture; their parameters are stacked along a new leading axis
(``torch.func.stack_module_state``: ``params[name]`` has shape (S, *shape)) and the forward pass is
``torch.vmap(functional_call)`` over that axis, so member s sees only its own weights and its own inputs:

    v(x, t)[s] = v_{theta_s}(x[s], t[s]),   x of shape (S, n, *sample_shape), t of shape (S, n).

Training is exactly S independent trainings done together:

- loss: L = sum_s L_s with L_s = the rectified-flow loss of member s on its own minibatch
  (:func:`collapse_theory.train.flow.blocks.rf_loss`); since theta_s enters only L_s, dL/dtheta_s = dL_s/dtheta_s;
- AdamW: ``torch.optim.AdamW`` on the stacked tensors. Its update is elementwise
  (m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps)) and every
  member takes the same number of steps, so on stacked tensors it is S independent AdamWs;
- gradient clipping per member: g_s <- g_s min(1, c / (||g_s|| + 1e-6)), ||g_s|| the norm over all of member s's
  parameters (what ``torch.nn.utils.clip_grad_norm_`` does for one model): :func:`clip_grad_norm_per_member`;
- EMA per member: p_ema <- d p_ema + (1 - d) p, elementwise on the stacks (:class:`StackedEMA`);
- randomness per member: every draw of member s (minibatch indices, noise, times) comes from member s's own
  ``torch.Generator``, so a member of a batched run equals the same member trained alone (to float rounding:
  the batched convolutions sum in another order; a test checks it).

:func:`stacked_field` wraps a stack as a field for :mod:`collapse_theory.train.flow.ode` (Euler passes of all members
at once on the flattened (S n, D) state).
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from .blocks import rf_loss


class StackedModels:
    """S models of one architecture as stacked tensors (see the module docstring).

    ``nets``: the members' initial modules (same architecture; their weights are copied). ``params`` are leaf
    tensors with ``requires_grad``; ``buffers`` are stacked too (read-only in training)."""

    def __init__(self, nets: Sequence[nn.Module]):
        nets = list(nets)
        if not nets:
            raise ValueError("nets must hold at least one module")
        names = [tuple(n for n, _ in net.named_parameters()) for net in nets]
        if any(nm != names[0] for nm in names):
            raise ValueError("nets must share one architecture (the same parameter names)")
        params, buffers = stack_module_state(nets)
        self.params: dict[str, torch.Tensor] = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.buffers: dict[str, torch.Tensor] = {k: v.detach().clone() for k, v in buffers.items()}
        self.template = copy.deepcopy(nets[0]).to("meta")
        self.template.eval()
        self._vmapped = torch.vmap(self._one, in_dims=(0, 0, 0, 0))

    @property
    def size(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def _one(self, params, buffers, x, t):
        return functional_call(self.template, (params, buffers), (x, t))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, params: dict | None = None,
                 buffers: dict | None = None) -> torch.Tensor:
        """v[s] = v_{theta_s}(x[s], t[s]) for x (S, n, ...) and t (S, n); ``params`` default to :attr:`params`."""
        params = self.params if params is None else params
        if buffers is None:
            buffers = self.buffers
            n = next(iter(params.values())).shape[0]
            if buffers and n != self.size:   # a subset of members (select_members): their buffers
                buffers = self.shared_buffers(n)
        return self._vmapped(params, buffers, x, t)

    def shared_buffers(self, n: int) -> dict[str, torch.Tensor]:
        """Member 0's buffers repeated n times; ValueError unless every member holds the same buffers."""
        for k, v in self.buffers.items():
            if not bool((v == v[:1]).all()):
                raise ValueError(f"params of a subset of members need their buffers (buffer {k} differs between "
                                 f"members); pass buffers")
        return {k: v[:1].expand((n,) + tuple(v.shape[1:])) for k, v in self.buffers.items()}

    def detached(self, params: dict | None = None) -> dict[str, torch.Tensor]:
        """A detached copy of ``params`` (default: the live parameters)."""
        params = self.params if params is None else params
        return {k: v.detach().clone() for k, v in params.items()}

    def assign(self, params: dict[str, torch.Tensor]) -> None:
        """Copy ``params`` (stacked, same shapes) into the live parameters in place (a warm start)."""
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(params[k])

    def member_module(self, s: int, params: dict | None = None) -> nn.Module:
        """An ordinary module holding member ``s``'s weights (from ``params``, default the live ones; ``params`` of a
        subset of members (:func:`select_members`) take the shared buffers, :meth:`shared_buffers`)."""
        params = self.params if params is None else params
        module = _materialise(self.template)
        state = {k: v[s].detach().clone() for k, v in params.items()}
        n = next(iter(params.values())).shape[0]
        buffers = self.buffers if n == self.size else self.shared_buffers(n)
        state.update({k: v[s].detach().clone() for k, v in buffers.items()})
        module.load_state_dict(state)
        return module


def _materialise(template: nn.Module) -> nn.Module:
    module = copy.deepcopy(template).to_empty(device="cpu")
    return module.eval()


def select_members(params: dict[str, torch.Tensor], members: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
    """The stacked tensors of the listed members only (a copy, in the listed order)."""
    index = torch.as_tensor(list(members) if not isinstance(members, torch.Tensor) else members, dtype=torch.long)
    return {k: v.detach()[index].clone() for k, v in params.items()}


def clip_grad_norm_per_member(tensors: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale each member's gradient to norm <= ``max_norm``: g_s <- g_s min(1, max_norm / (||g_s|| + 1e-6)).

    ``tensors`` are stacked parameters (leading axis = member) whose ``.grad`` is set; ||g_s|| is the Euclidean
    norm over all of member s's gradient entries (as ``torch.nn.utils.clip_grad_norm_`` for one model).
    Returns the per-member norms before clipping, shape (S,)."""
    grads = [p.grad for p in tensors if p.grad is not None]
    if not grads:
        raise ValueError("tensors must carry gradients (call backward first)")
    squares = torch.stack([g.reshape(g.shape[0], -1).pow(2).sum(dim=1) for g in grads]).sum(dim=0)
    norms = squares.sqrt()
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.reshape((-1,) + (1,) * (g.ndim - 1)))
    return norms


class StackedEMA:
    """Per-member EMA of stacked parameters: p_ema <- decay p_ema + (1 - decay) p (one fused lerp)."""

    def __init__(self, params: dict[str, torch.Tensor], decay: float):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not (0 < decay < 1):
            raise ValueError(f"ema_decay must lie in (0, 1), got {decay!r}")
        self.decay = float(decay)
        self.params = {k: v.detach().clone() for k, v in params.items()}

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor]) -> None:
        keys = list(self.params)
        torch._foreach_lerp_([self.params[k] for k in keys], [params[k].detach() for k in keys], 1.0 - self.decay)

    def reset(self, params: dict[str, torch.Tensor]) -> None:
        """Start the average again at ``params`` (a warm start)."""
        self.params = {k: v.detach().clone() for k, v in params.items()}


class StackedTrainer:
    """AdamW (warm-up, weight decay), per-member gradient clipping and per-member EMA for a :class:`StackedModels`.

    One instance per round (the optimiser state starts fresh, as in the single-model pipelines). Learning rate
    at step j (0-based): lr min(1, (j + 1) / warmup_steps) (constant lr when ``warmup_steps`` = 0)."""

    def __init__(self, stack: StackedModels, ema: StackedEMA, *, lr: float, weight_decay: float = 0.0,
                 warmup_steps: int = 0, grad_clip: float | None = 1.0, reduction: str = "mean"):
        self.stack, self.ema, self.grad_clip, self.reduction = stack, ema, grad_clip, reduction
        self.tensors = list(stack.params.values())
        self.opt = torch.optim.AdamW(self.tensors, lr=lr, weight_decay=weight_decay, foreach=True)
        warm = max(int(warmup_steps), 0)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt,
                                                       lambda j: min(1.0, (j + 1) / warm) if warm else 1.0)

    def member_losses(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """L_s for every member: x0, x1 of shape (S, B, ...), t of shape (S, B); returns shape (S,)."""
        stack, reduction = self.stack, self.reduction

        def one(params, buffers, a, b, tt):
            field = lambda x, s: functional_call(stack.template, (params, buffers), (x, s))  # noqa: E731
            return rf_loss(field, a, b, tt, reduction=reduction)

        return torch.vmap(one)(stack.params, stack.buffers, x0, x1, t)

    def step(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One optimiser step of every member on its own minibatch; returns the detached losses (S,)."""
        losses = self.member_losses(x0, x1, t)
        self.opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        if self.grad_clip is not None:
            clip_grad_norm_per_member(self.tensors, self.grad_clip)
        self.opt.step()
        self.sched.step()
        self.ema.update(self.stack.params)
        return losses.detach()


def stacked_field(stack: StackedModels, params: dict[str, torch.Tensor], members: int,
                  sample_shape: tuple[int, ...]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A field for :func:`collapse_theory.train.flow.ode.integrate`: the state is the (members n, D) flattening of
    x (members, n, *sample_shape), the time a 0-dim tensor (one time for everyone)."""
    shape = tuple(sample_shape)

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0] // members
        xs = x.reshape((members, n) + shape)
        ts = t.reshape(()).expand(members, n) if t.ndim == 0 else t.reshape(members, n)
        return stack.velocity(xs, ts, params).reshape(x.shape)

    return field


def member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per member, seeded with the given (already derived) seeds."""
    return [torch.Generator().manual_seed(int(s) & ((1 << 63) - 1)) for s in seeds]


def chunks(n: int, size: int) -> list[slice]:
    """Slices of ``range(n)`` of at most ``size`` elements."""
    size = max(1, int(size))
    return [slice(i, min(n, i + size)) for i in range(0, n, size)] if n else []


def stack_mlps(factory: Callable[[int], nn.Module], seeds: Sequence[int]) -> StackedModels:
    """A stack of ``factory(seed)`` modules, e.g. ``lambda s: make_model(2, 64, 2, seed=s)`` (the toy MLP)."""
    return StackedModels([factory(int(s)) for s in seeds])


def parameter_count(stack: StackedModels) -> int:
    """Scalar parameters of one member."""
    return sum(math.prod(v.shape[1:]) for v in stack.params.values())
