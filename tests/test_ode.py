"""ODE solvers for learned fields (collapse_theory.train.flow.ode) against fields with known solutions.

Tolerances: float64 throughout; exact-solution comparisons use the solver's own error law (Euler O(h), Heun
O(h^2)) and the measured order from halving h must lie within 0.1 of the theoretical order; dopri5 is
compared at rtol = atol = 1e-10 to 1e-7.
"""

import math

import numpy as np
import pytest
import torch

from collapse_theory.train.flow.ode import integrate, integrate_path, integrate_stochastic



@pytest.fixture(autouse=True)
def _float64_default():
    """These tests run in float64; the default is restored after each (other modules build float32 networks)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)

A = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=torch.float64)   # rotation + decay


def linear_field(x, t):
    return x @ A.T


def exact_linear(x0, t0, t1):
    return x0 @ torch.linalg.matrix_exp(A * (t1 - t0)).T


def time_field(x, t):
    """dx/dt = (1 - 2 t^2) x (a time-dependent scalar rate): x(t1) = x(t0) exp(R(t1) - R(t0)), R(t) = t - 2t^3/3.
    (Not periodic in t: a periodic rate would make Heun's trapezoid rule super-convergent over a period.)"""
    return (1 - 2 * t ** 2) * x


def exact_time(x0, t0, t1):
    return x0 * math.exp((t1 - 2 * t1 ** 3 / 3) - (t0 - 2 * t0 ** 3 / 3))


X0 = torch.tensor([[1.0, 0.0], [0.3, -2.0], [-1.5, 0.7]], dtype=torch.float64)


def _err(method, steps, field=linear_field, exact=exact_linear, t0=0.0, t1=1.0):
    out = integrate(field, X0, t0, t1, method=method, steps=steps)
    return float((out - exact(X0, t0, t1)).abs().max())


@pytest.mark.parametrize("field,exact", [(linear_field, exact_linear), (time_field, exact_time)])
@pytest.mark.parametrize("method,order", [("euler", 1), ("heun", 2)])
@pytest.mark.parametrize("t0,t1", [(0.0, 1.0), (1.0, 0.0)])
def test_measured_order(field, exact, method, order, t0, t1):
    errs = [_err(method, n, field, exact, t0, t1) for n in (64, 128, 256)]
    orders = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert all(abs(p - order) < 0.1 for p in orders), (method, errs, orders)


def test_dopri5_matches_exponential_both_directions():
    for t0, t1 in [(0.0, 1.0), (1.0, 0.0), (0.2, 0.9)]:
        out, nfe = integrate(linear_field, X0, t0, t1, method="dopri5", rtol=1e-10, atol=1e-10, return_nfe=True)
        assert float((out - exact_linear(X0, t0, t1)).abs().max()) < 1e-8
        assert nfe > 6
    out = integrate(time_field, X0, 0.0, 1.0, method="dopri5", rtol=1e-10, atol=1e-10)
    assert float((out - exact_time(X0, 0.0, 1.0)).abs().max()) < 1e-8


def test_constant_field_euler_exact_one_step():
    """A constant velocity is integrated exactly by one Euler step (the straight-path case of rectified flow)."""
    c = torch.tensor([2.0, -1.0])
    out, nfe = integrate(lambda x, t: c.expand_as(x), X0, 0.0, 1.0, method="euler", steps=1, return_nfe=True)
    assert nfe == 1
    assert torch.allclose(out, X0 + c)
    back = integrate(lambda x, t: c.expand_as(x), out, 1.0, 0.0, method="euler", steps=1)
    assert torch.allclose(back, X0)


def test_forward_then_reverse_returns_start():
    fwd = integrate(time_field, X0, 0.0, 1.0, method="dopri5", rtol=1e-10, atol=1e-10)
    back = integrate(time_field, fwd, 1.0, 0.0, method="dopri5", rtol=1e-10, atol=1e-10)
    assert float((back - X0).abs().max()) < 1e-8
    fwd = integrate(linear_field, X0, 0.0, 1.0, method="heun", steps=400)
    back = integrate(linear_field, fwd, 1.0, 0.0, method="heun", steps=400)
    assert float((back - X0).abs().max()) < 1e-5


def test_nfe_counts_and_time_grid():
    seen = []

    def field(x, t):
        seen.append(float(t))
        return torch.zeros_like(x)

    _, nfe = integrate(field, X0, 0.0, 1.0, method="euler", steps=4, return_nfe=True)
    assert nfe == 4 and seen == [0.0, 0.25, 0.5, 0.75]
    seen.clear()
    _, nfe = integrate(field, X0, 1.0, 0.0, method="heun", steps=2, return_nfe=True)
    assert nfe == 4 and seen == [1.0, 0.5, 0.5, 0.0]      # reverse: starts at t = 1 (data), ends at 0 (noise)


def test_per_sample_time_shape():
    shapes = []

    def field(x, t):
        shapes.append(tuple(t.shape))
        return t.reshape(-1, 1) * torch.ones_like(x) if t.ndim else t * torch.ones_like(x)

    out = integrate(field, X0, 0.0, 1.0, method="euler", steps=3, per_sample_time=True)
    assert shapes == [(3,)] * 3
    shapes.clear()
    out2 = integrate(field, X0, 0.0, 1.0, method="euler", steps=3)
    assert shapes == [()] * 3
    assert torch.allclose(out, out2)


def test_no_grad_by_default_and_grad_option():
    w = torch.tensor(0.7, requires_grad=True)
    field = lambda x, t: w * x  # noqa: E731
    out = integrate(field, X0, 0.0, 1.0, steps=8)
    assert not out.requires_grad
    out = integrate(field, X0, 0.0, 1.0, steps=8, grad=True)
    out.sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad)


def test_wrong_convention_solver_is_rejected():
    """A solver that runs the clock the other way (t -> 1 - t, i.e. data at t = 0) must fail the same
    exact-solution comparison: the tests can tell the toolkit's convention from the wrong one."""
    def wrong_integrate(field, x, t0, t1, steps):
        return integrate(field, x, 1 - t0, 1 - t1, method="heun", steps=steps)

    good = float((integrate(time_field, X0, 0.0, 0.25, method="heun", steps=256) - exact_time(X0, 0.0, 0.25)).abs().max())
    bad = float((wrong_integrate(time_field, X0, 0.0, 0.25, 256) - exact_time(X0, 0.0, 0.25)).abs().max())
    assert good < 1e-5 and bad > 1e-2


def test_integrate_path_and_stochastic():
    path = integrate_path(linear_field, X0, [0.0, 0.3, 0.6, 1.0], method="heun", substeps=200)
    assert path.shape == (4, 3, 2)
    assert float((path[-1] - exact_linear(X0, 0.0, 1.0)).abs().max()) < 1e-4
    plain = integrate(linear_field, X0, 1.0, 0.0, method="euler", steps=50)
    same = integrate_stochastic(linear_field, X0, 1.0, 0.0, steps=50, noise_scale=0.0, jitter=0.0)
    assert torch.allclose(plain, same)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = integrate_stochastic(linear_field, X0, 1.0, 0.0, steps=50, generator=g1)
    b = integrate_stochastic(linear_field, X0, 1.0, 0.0, steps=50, generator=g2)
    assert torch.equal(a, b)                                           # seeded
    assert 0 < float((a - plain).abs().max()) < 0.05                   # small noise and jitter
    # jittered step sizes still land on t1: the noise-free jittered pass is a consistent (first-order) scheme
    fine = integrate_stochastic(linear_field, X0, 1.0, 0.0, steps=2000, noise_scale=0.0, jitter=0.1,
                                generator=torch.Generator().manual_seed(0))
    assert float((fine - exact_linear(X0, 1.0, 0.0)).abs().max()) < 5e-3


@pytest.mark.parametrize("kwargs,first", [
    (dict(method="rk4"), "method"), (dict(steps=0), "steps"), (dict(steps=2.5), "steps"),
    (dict(t1=float("nan")), "t1"), (dict(rtol=-1.0, method="dopri5"), "rtol"),
])
def test_bad_input(kwargs, first):
    with pytest.raises(ValueError) as info:
        integrate(linear_field, X0, **kwargs)
    assert str(info.value).startswith(first)


def test_bad_x_and_field_shape():
    with pytest.raises(ValueError, match="^x must"):
        integrate(linear_field, torch.ones(3))
    with pytest.raises(ValueError, match="^field must"):
        integrate(lambda x, t: x[:, :1], X0, steps=2)
    np.testing.assert_allclose(integrate(linear_field, X0, 0.4, 0.4).numpy(), X0.numpy())
