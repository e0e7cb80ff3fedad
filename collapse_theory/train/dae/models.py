"""Batched denoising autoencoders in torch: B independent models held in one set of tensors.

Every model maps points as rows, inputs of shape (B, N, d) -> outputs (B, N, d); model b only ever sees
slice b, so training all B at once with batched matmuls is the same as training them one by one (the loss is
a sum over models, so each model's gradient depends on its own parameters and data only; see
:mod:`collapse_theory.train.dae.training`). Parameters carry the model index on their first axis.

- :class:`LinearDAE`      f_b(x) = W_b x,  W_b in R^{d x d}                           (the theory's full linear DAE)
- :class:`BottleneckDAE`  f_b(x) = D_b E_b x,  E_b in R^{r x d} (encoder), D_b in R^{d x r} (decoder);
                          ``tied=True`` sets D_b = E_b^T
- :class:`MLPDAE`         f_b(x) = [x +] A_L phi(... phi(A_1 x + c_1) ...) + c_L with phi = SiLU or ReLU,
                          ``depth`` hidden layers of ``width`` units, optional skip connection x + g(x)

Linear models expose :meth:`linear_map` (the end-to-end d x d matrix M_b), which the exact noise-marginalised
loss E_eps ||x - M(x + sigma eps)||^2 = ||x - M x||^2 + sigma2 ||M||_F^2 needs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MODELS = ("linear", "bottleneck", "mlp")
ACTIVATIONS = {"silu": nn.functional.silu, "relu": nn.functional.relu}


def check_model_name(model, name: str = "model") -> str:
    key = str(model).strip().lower()
    if key not in MODELS:
        raise ValueError(f"{name} must be one of {', '.join(MODELS)}, got {model!r}")
    return key


def _positive(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class BatchedDAE(nn.Module):
    """Common interface: ``n_models``, ``dim``, :meth:`reinitialise` and :meth:`linear_map` (None if nonlinear)."""

    n_models: int
    dim: int

    def reinitialise(self, generator: torch.Generator | None = None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def linear_map(self) -> torch.Tensor | None:
        """The end-to-end matrix M_b (B, d, d) of a linear model, None for a nonlinear one."""
        return None

    @property
    def is_linear(self) -> bool:
        return self.linear_map() is not None


class LinearDAE(BatchedDAE):
    """B full linear DAEs f_b(x) = W_b x; rows: y = x W_b^T.

    Initialisation: W_b = init_scale * G / sqrt(d), G with i.i.d. N(0, 1) entries (``init_scale=0`` gives W = 0)."""

    def __init__(self, n_models: int, dim: int, init_scale: float = 0.0, dtype=torch.float64,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.n_models, self.dim = _positive(n_models, "n_models"), _positive(dim, "dim")
        self.init_scale = float(init_scale)
        self.weight = nn.Parameter(torch.zeros(self.n_models, self.dim, self.dim, dtype=dtype))
        self.reinitialise(generator)

    @torch.no_grad()
    def reinitialise(self, generator: torch.Generator | None = None) -> None:
        if self.init_scale == 0:
            self.weight.zero_()
        else:
            self.weight.copy_(torch.randn(self.weight.shape, generator=generator, dtype=self.weight.dtype)
                              * (self.init_scale / math.sqrt(self.dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight.transpose(-1, -2))

    def linear_map(self) -> torch.Tensor:
        return self.weight


class BottleneckDAE(BatchedDAE):
    """B two-layer linear DAEs f_b(x) = D_b E_b x with a rank-r bottleneck (``tied``: D_b = E_b^T).

    Initialisation: small random weights, entries N(0, init_scale^2 / d) (the saddle at 0 must be left by
    training; DAE-BOTTLENECK's claim is that gradient descent from such a start finds the top-r eigenspace)."""

    def __init__(self, n_models: int, dim: int, rank: int, tied: bool = False, init_scale: float = 1e-3,
                 dtype=torch.float64, generator: torch.Generator | None = None):
        super().__init__()
        self.n_models, self.dim = _positive(n_models, "n_models"), _positive(dim, "dim")
        self.rank = _positive(rank, "rank")
        if self.rank > self.dim:
            raise ValueError(f"rank must be <= dim = {self.dim}, got {self.rank}")
        self.tied = bool(tied)
        self.init_scale = float(init_scale)
        self.encoder = nn.Parameter(torch.zeros(self.n_models, self.rank, self.dim, dtype=dtype))
        self.decoder = None if self.tied else nn.Parameter(torch.zeros(self.n_models, self.dim, self.rank,
                                                                       dtype=dtype))
        self.reinitialise(generator)

    @torch.no_grad()
    def reinitialise(self, generator: torch.Generator | None = None) -> None:
        scale = self.init_scale / math.sqrt(self.dim)
        self.encoder.copy_(torch.randn(self.encoder.shape, generator=generator, dtype=self.encoder.dtype) * scale)
        if self.decoder is not None:
            self.decoder.copy_(torch.randn(self.decoder.shape, generator=generator, dtype=self.decoder.dtype) * scale)

    def decoder_matrix(self) -> torch.Tensor:
        return self.encoder.transpose(-1, -2) if self.tied else self.decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = torch.matmul(x, self.encoder.transpose(-1, -2))
        return torch.matmul(code, self.decoder_matrix().transpose(-1, -2))

    def linear_map(self) -> torch.Tensor:
        return torch.matmul(self.decoder_matrix(), self.encoder)


class MLPDAE(BatchedDAE):
    """B nonlinear MLP DAEs: h_0 = x, h_l = phi(h_{l-1} A_l + c_l) (l = 1..depth), g(x) = h_depth A_out + c_out,
    f(x) = x + g(x) with ``skip`` else g(x).

    Initialisation per model as torch's nn.Linear default: entries U(-1/sqrt(fan_in), 1/sqrt(fan_in)); with a
    skip connection the output layer starts at zero so that f starts as the identity."""

    def __init__(self, n_models: int, dim: int, width: int = 64, depth: int = 2, activation: str = "silu",
                 skip: bool = True, dtype=torch.float64, generator: torch.Generator | None = None):
        super().__init__()
        self.n_models, self.dim = _positive(n_models, "n_models"), _positive(dim, "dim")
        self.width, self.depth = _positive(width, "width"), _positive(depth, "depth")
        key = str(activation).strip().lower()
        if key not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.activation = key
        self.skip = bool(skip)
        sizes = [self.dim] + [self.width] * self.depth + [self.dim]
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.zeros(self.n_models, a, b, dtype=dtype)) for a, b in zip(sizes[:-1], sizes[1:])])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(self.n_models, 1, b, dtype=dtype)) for b in sizes[1:]])
        self.reinitialise(generator)

    @torch.no_grad()
    def reinitialise(self, generator: torch.Generator | None = None) -> None:
        last = len(self.weights) - 1
        for i, (w, c) in enumerate(zip(self.weights, self.biases)):
            if i == last and self.skip:
                w.zero_()
                c.zero_()
                continue
            bound = 1.0 / math.sqrt(w.shape[1])
            w.copy_((torch.rand(w.shape, generator=generator, dtype=w.dtype) * 2 - 1) * bound)
            c.copy_((torch.rand(c.shape, generator=generator, dtype=c.dtype) * 2 - 1) * bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = ACTIVATIONS[self.activation]
        h = x
        last = len(self.weights) - 1
        for i, (w, c) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(c.expand(-1, h.shape[1], -1), h, w) if h.dim() == 3 else h @ w + c
            if i < last:
                h = phi(h)
        return x + h if self.skip else h


def make_model(model: str, n_models: int, dim: int, *, rank: int = 1, tied: bool = False, width: int = 64,
               depth: int = 2, activation: str = "silu", skip: bool = True, init_scale: float | None = None,
               dtype=torch.float64, generator: torch.Generator | None = None) -> BatchedDAE:
    """A batch of ``n_models`` DAEs of kind ``model`` (one of :data:`MODELS`)."""
    kind = check_model_name(model)
    if kind == "linear":
        return LinearDAE(n_models, dim, 0.0 if init_scale is None else init_scale, dtype, generator)
    if kind == "bottleneck":
        return BottleneckDAE(n_models, dim, rank, tied, 1e-3 if init_scale is None else init_scale, dtype, generator)
    return MLPDAE(n_models, dim, width, depth, activation, skip, dtype, generator)
