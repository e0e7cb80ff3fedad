"""Seed-batched flow training (collapse_theory.train.flow.ensemble): a member of a stacked run is the same model
trained alone, and the stacked optimiser, clipping and EMA are the single-model ones, member by member."""

from __future__ import annotations

import pytest
import torch

from collapse_theory.train.flow.blocks import rf_loss
from collapse_theory.train.flow.ensemble import (StackedEMA, StackedModels, StackedTrainer,
                                                 clip_grad_norm_per_member, member_generators, select_members)
from collapse_theory.train.flow.reflow import make_model
from collapse_theory.train.image.unet import build_unet

SMALL_UNET = dict(base_channels=8, channel_mult=(1, 1), num_res_blocks=1, attention_resolutions=(),
                  mid_attention=False)


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _mlp(seed: int):
    return make_model(3, 16, 2, seed=seed)


def _batches(gen, n=8, shape=(3,)):
    return (torch.randn((n,) + shape, generator=gen), torch.randn((n,) + shape, generator=gen),
            torch.rand(n, generator=gen))


def _train_stacked(seeds, steps=6):
    stack = StackedModels([_mlp(s) for s in seeds])
    ema = StackedEMA(stack.params, 0.9)
    trainer = StackedTrainer(stack, ema, lr=1e-2, weight_decay=0.01, warmup_steps=2, grad_clip=0.5)
    gens = member_generators([1000 + s for s in seeds])
    for _ in range(steps):
        draws = [_batches(g) for g in gens]
        trainer.step(*(torch.stack([d[i] for d in draws]) for i in range(3)))
    return stack, ema


def test_member_of_a_batched_run_equals_it_alone(float64):
    """float64: the batched and single matmuls differ by summation order only (~1e-16), so 1e-10 is a wide margin."""
    stack, ema = _train_stacked([3, 5, 7])
    alone, ema_alone = _train_stacked([5])
    for name in stack.params:
        assert torch.allclose(stack.params[name][1], alone.params[name][0], atol=1e-10, rtol=0)
        assert torch.allclose(ema.params[name][1], ema_alone.params[name][0], atol=1e-10, rtol=0)


def test_stacked_training_equals_torch_adamw_clip_and_ema(float64):
    """The stacked AdamW + per-member clipping + EMA equal torch.optim.AdamW + clip_grad_norm_ + lerp on one model
    (clipping active: the gradient norms of these batches exceed 0.5)."""
    stack, ema = _train_stacked([3, 5])
    net = _mlp(5)
    ema_net = {k: v.detach().clone() for k, v in net.named_parameters()}
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda j: min(1.0, (j + 1) / 2))
    gen = torch.Generator().manual_seed(1005)
    clipped = []
    for _ in range(6):
        x0, x1, t = _batches(gen)
        loss = rf_loss(net, x0, x1, t, reduction="mean")
        opt.zero_grad()
        loss.backward()
        clipped.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)) > 0.5)
        opt.step()
        sched.step()
        for k, p in net.named_parameters():
            ema_net[k].lerp_(p.detach(), 0.1)
    assert any(clipped)
    for k, p in net.named_parameters():
        assert torch.allclose(stack.params[k][1], p, atol=1e-10, rtol=0), k
        assert torch.allclose(ema.params[k][1], ema_net[k], atol=1e-10, rtol=0), k


def test_unet_stack_gradients_equal_single_models():
    """tiny UNet (float32 only: its time embedding is float32): the per-member loss and gradients of the stacked
    model equal each single model's; float32 rounding of different summation orders, so rtol 1e-4."""
    nets = []
    for s in (0, 1):
        torch.manual_seed(s)
        net = build_unet("tiny-8", **SMALL_UNET)
        torch.nn.init.normal_(net.out_conv.weight, std=0.05)
        nets.append(net)
    stack = StackedModels(nets)
    trainer = StackedTrainer(stack, StackedEMA(stack.params, 0.9), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    draws = [_batches(gen, shape=(1, 8, 8)) for _ in nets]
    losses = trainer.member_losses(*(torch.stack([d[i] for d in draws]) for i in range(3)))
    losses.sum().backward()
    for s, net in enumerate(nets):
        loss = rf_loss(net, *draws[s], reduction="mean")
        loss.backward()
        assert float(losses[s].detach()) == pytest.approx(float(loss.detach()), rel=1e-5)
        for k, p in net.named_parameters():
            assert torch.allclose(stack.params[k].grad[s], p.grad, rtol=1e-4, atol=1e-6), k


def test_clip_per_member_matches_torch(float64):
    grads = [torch.randn(3, 4, 5) * 3, torch.randn(3, 7)]
    params = [g.clone().requires_grad_(True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    norms = clip_grad_norm_per_member(params, 1.0)
    for s in range(3):
        single = [torch.zeros_like(g[s]).requires_grad_(True) for g in grads]
        for p, g in zip(single, grads):
            p.grad = g[s].clone()
        total = torch.nn.utils.clip_grad_norm_(single, 1.0)
        assert float(total) == pytest.approx(float(norms[s]), rel=1e-12)
        for p, q in zip(single, params):
            assert torch.allclose(p.grad, q.grad[s], atol=1e-14)


def test_mlp_stack_forward_and_member_module(float64):
    stack = StackedModels([make_model(2, 16, 2, seed=s) for s in (0, 1, 2)])
    x, t = torch.randn(3, 10, 2), torch.rand(3, 10)
    v = stack.velocity(x, t)
    for s in range(3):
        ref = make_model(2, 16, 2, seed=s)(x[s], t[s])
        assert torch.allclose(v[s], ref, atol=1e-12)
        assert torch.allclose(stack.member_module(s)(x[s], t[s]), ref, atol=1e-12)
    sub = select_members(stack.params, [2, 0])
    assert torch.allclose(stack.velocity(x[[2, 0]], t[[2, 0]], sub), v[[2, 0]], atol=1e-12)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="nets"):
        StackedModels([])
    with pytest.raises(ValueError, match="ema_decay"):
        StackedEMA({}, 1.5)
