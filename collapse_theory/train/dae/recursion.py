"""Recursive training of torch DAEs on their own outputs, beside the closed-form recursion, from ONE config.

A :class:`RecursionConfig` fixes the data, the model, the optimiser, the regime, the rule, the grids of sigma2 and
alpha and the number of replicates. :func:`run_trained_recursion` trains B = len(sigma2) x len(alpha) x replicates
independent DAEs at once, round after round, and :meth:`TrainedTrajectory.closed_form` computes the population
recursion (:func:`collapse_theory.theory.dae.recursion.dae_recursion`) for the same configuration.

Finite-sample semantics are those of :mod:`collapse_theory.theory.dae.finite_sample` (its helpers are called here):

- round 0's data X_0 is a real sample of n points (S_hat_0 = S_hat*); round k trains on T_k:
    replace     T_k = X_k
    mix         T_k = the first a = round(alpha n) points of X_0 + a uniformly random subset of n - a points of X_k
    fresh       T_k = a NEW real sample of a points + a random subset of n - a points of X_k
    accumulate  T_k = X_0 u ... u X_k (equal weight per round);  T_0 = X_0 in every regime
  (the closed form uses the effective real fraction a / n);
- the DAE f_k is TRAINED on T_k (torch, :func:`collapse_theory.train.dae.training.train_dae`), then generates
  round k + 1's data from n inputs (all of T_k, or n points of the pool drawn without replacement for accumulate):
    renoise  x' = f_k(x + sigma eps)        clean  x' = f_k(x).

Data (``data``): ``gaussian``, ``mixture``, ``student-t`` with second moment S* = Q diag(spectrum) Q^T (Q a fixed
rotation when ``rotate``; the samplers of montecarlo.py), or a real data set ``digits``, ``fashion-mnist``, ``mnist``:
the uniform distribution over its PCA scores in ``dim`` dimensions (collapse_theory.data), with S* = diag of their
second moment, sampled with replacement (so E S_hat_0 = S* exactly).

Warm start (``warm_start=True``, the default): round k's training starts from round k - 1's weights (the models
are fine-tuned, as a practitioner would). ``warm_start=False`` re-initialises every round. For the full linear DAE
trained by ``cg`` or ``lstsq`` the result does not depend on the start (the optimum is unique and reached to the
certified tolerance); for the bottleneck and the MLP it can.

Recorded per model and round (arrays (S, A, R, K + 1[, d]), S = len(sigma2), A = len(alpha), R = replicates):
eigenvalues (of S_hat_k, descending), moments (diag U^T S_hat_k U along S*'s eigenvectors U), training_moments,
op_norm ||M_k||_op and composed_op_norm ||M_k ... M_0||_op of the trained end-to-end maps M_k (NaN for the MLP),
total_variance tr S_hat_k, effective_rank of S_hat_k, train_loss and, for the full linear DAE, the certified
relative error of the fit (see training.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ...data.loaders import REAL_DATASETS, check_dataset_name, load_real_dataset
from ...theory.dae import finite_sample as mc
from ...theory.dae.recursion import DAETrajectory, dae_recursion
from ...theory.spectral import effective_rank
from ...validation import (
    check_eigenvalues,
    check_fraction,
    check_positive_int,
    check_regime,
    check_rule,
    check_sigma2,
)
from .models import ACTIVATIONS, check_model_name, make_model
from .training import check_method, generate, train_dae

DATA_SOURCES = mc.DISTRIBUTIONS + REAL_DATASETS
AUTO_OPTIMIZER = {"linear": "cg", "bottleneck": "lbfgs", "mlp": "adam"}
AUTO_DTYPE = {"linear": "float64", "bottleneck": "float64", "mlp": "float32"}
DTYPES = {"float64": torch.float64, "float32": torch.float32}
DEFAULT_STEPS = {"cg": 64, "lstsq": 1, "lbfgs": 500, "gd": 2000, "adam": 400, "sgd": 400}
ROTATION_SEED = 20261126
"""Seed of the fixed rotation Q of the synthetic S* (independent of the run's seed)."""


def fixed_rotation(dim: int) -> np.ndarray:
    """A fixed d x d rotation: Q of the QR decomposition of a N(0, 1) matrix drawn with :data:`ROTATION_SEED`
    (signs fixed so that diag(R) > 0)."""
    G = np.random.default_rng(ROTATION_SEED).standard_normal((dim, dim))
    Q, Rm = np.linalg.qr(G)
    return Q * np.sign(np.diag(Rm))


def default_spectrum(dim: int) -> tuple[float, ...]:
    """lambda*_i = 1 - 0.75 (i - 1)/(d - 1): evenly spaced from 1 down to 0.25 (just 1 for d = 1)."""
    return tuple(np.linspace(1.0, 0.25, dim).tolist()) if dim > 1 else (1.0,)


def _check_data_source(data) -> str:
    """One of :data:`DATA_SOURCES` (or an alias of montecarlo's distributions or of the real data sets)."""
    key = str(data).strip().lower()
    try:
        return mc.check_distribution(key, "data")
    except ValueError:
        pass
    try:
        return check_dataset_name(key, "data")
    except ValueError:
        raise ValueError(f"data must be one of {', '.join(DATA_SOURCES)}, got {data!r}") from None


def _tuple_of(values, check, name: str) -> tuple[float, ...]:
    """A number or a 1-D list of numbers, each checked by ``check`` (which names ``name`` in its errors)."""
    arr = np.atleast_1d(check(values, name))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a number or a 1-D list of numbers, got shape {arr.shape}")
    return tuple(float(v) for v in arr)


@dataclass(frozen=True)
class RecursionConfig:
    """Everything a recursive-training run depends on (the module docstring gives the semantics).

    ``sigma2`` and ``real_fraction`` may be tuples: the run trains the grid sigma2 x alpha x replicates at once.
    ``optimizer='auto'`` picks ``cg`` (linear), ``lbfgs`` (bottleneck), ``adam`` (mlp); ``steps=None`` the
    default of :data:`DEFAULT_STEPS`; ``dtype='auto'`` float64 for the linear models (certified fits) and float32
    for the MLP (speed). ``spectrum`` (synthetic data) defaults to :func:`default_spectrum`. ``tolerance`` is the
    certified relative error at which CG stops (the gradient tolerance of L-BFGS). ``data_path`` and ``max_images``
    (images of an archive kept after the seeded shuffle, for the PCA; None = all) apply to fashion-mnist / mnist."""

    model: str = "linear"
    regime: str = "replace"
    rule: str = "renoise"
    sigma2: float | tuple[float, ...] = 0.05
    real_fraction: float | tuple[float, ...] = 0.0
    rounds: int = 20
    replicates: int = 8
    n_samples: int = 1024
    data: str = "gaussian"
    dim: int = 4
    spectrum: tuple[float, ...] | None = None
    rotate: bool = True
    rank: int = 2
    tied: bool = False
    width: int = 64
    depth: int = 2
    activation: str = "silu"
    skip: bool = True
    optimizer: str = "auto"
    steps: int | None = None
    lr: float | None = None
    batch_size: int = 256
    tolerance: float = 1e-10
    dtype: str = "auto"
    warm_start: bool = True
    seed: int = 0
    data_path: str | None = None
    max_images: int | None = 10000

    def validated(self) -> "RecursionConfig":
        """A copy with names normalised and every value checked (ValueError naming the argument)."""
        model = check_model_name(self.model)
        regime = check_regime(self.regime)
        rule = check_rule(self.rule)
        sigma2 = _tuple_of(self.sigma2, check_sigma2, "sigma2")
        alpha = _tuple_of(self.real_fraction, check_fraction, "real_fraction")
        if regime in ("replace", "accumulate") and any(a != 0 for a in alpha):
            raise ValueError(f"real_fraction must be 0 (or omitted) for regime {regime!r}; "
                             "use regime 'mix' or 'fresh' for a fixed real fraction")
        rounds = check_positive_int(self.rounds, "rounds", minimum=0)
        replicates = check_positive_int(self.replicates, "replicates", minimum=2)
        n = check_positive_int(self.n_samples, "n_samples", minimum=2)
        data = _check_data_source(self.data)
        dim = check_positive_int(self.dim, "dim")
        spectrum = self.spectrum
        if data in mc.DISTRIBUTIONS:
            spectrum = default_spectrum(dim) if spectrum is None else spectrum
            lam = check_eigenvalues(np.asarray(spectrum, dtype=float), "spectrum")
            if lam.ndim != 1 or lam.size != dim:
                raise ValueError(f"spectrum must hold dim = {dim} eigenvalues, got {lam.size}")
            spectrum = tuple(float(v) for v in np.sort(lam)[::-1])
        elif spectrum is not None:
            raise ValueError(f"spectrum applies to synthetic data ({', '.join(mc.DISTRIBUTIONS)}) only, "
                             f"not to data {data!r} (its spectrum is that of the PCA scores)")
        rank = check_positive_int(self.rank, "rank")
        if model == "bottleneck" and rank > dim:
            raise ValueError(f"rank must be <= dim = {dim}, got {rank}")
        width = check_positive_int(self.width, "width")
        depth = check_positive_int(self.depth, "depth")
        activation = str(self.activation).strip().lower()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        optimizer = str(self.optimizer).strip().lower()
        optimizer = AUTO_OPTIMIZER[model] if optimizer == "auto" else check_method(optimizer)
        if optimizer in ("cg", "lstsq") and model != "linear":
            raise ValueError(f"optimizer {optimizer!r} needs model 'linear', got model {model!r}")
        steps = DEFAULT_STEPS[optimizer] if self.steps is None else check_positive_int(self.steps, "steps")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be finite and > 0, got {self.lr!r}")
        batch = check_positive_int(self.batch_size, "batch_size")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance must be finite and > 0, got {self.tolerance!r}")
        seed = check_positive_int(self.seed, "seed", minimum=0)
        dtype = str(self.dtype).strip().lower()
        dtype = AUTO_DTYPE[model] if dtype == "auto" else dtype
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of auto, {', '.join(DTYPES)}, got {self.dtype!r}")
        max_images = None if self.max_images is None else check_positive_int(self.max_images, "max_images")
        return dataclasses.replace(
            self, model=model, regime=regime, rule=rule, sigma2=sigma2, real_fraction=alpha, rounds=rounds,
            replicates=replicates, n_samples=n, data=data, dim=dim, spectrum=spectrum, rank=rank, width=width,
            depth=depth, activation=activation, optimizer=optimizer, steps=steps, batch_size=batch, seed=seed,
            dtype=dtype,
            max_images=max_images, rotate=bool(self.rotate), tied=bool(self.tied), skip=bool(self.skip),
            warm_start=bool(self.warm_start))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------- data sources

@dataclass(frozen=True)
class DataSource:
    """Where round 0's (and ``fresh``'s) real points come from, with the population S* = U diag(eigenvalues) U^T."""

    name: str
    eigenvalues: np.ndarray      # lambda*, descending
    basis: np.ndarray            # U, columns ordered like eigenvalues
    second_moment: np.ndarray    # S*
    points: np.ndarray | None    # real data: the PCA scores (N, d); None for synthetic data

    def sample(self, n_models: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        """(n_models, n_points, d) i.i.d. points with second moment S*: montecarlo's samplers for synthetic data,
        rows drawn uniformly with replacement for real data."""
        if self.points is None:
            return mc.sample_data(self.second_moment, n_points, self.name, replicates=n_models, seed=rng)
        idx = rng.integers(0, self.points.shape[0], size=(n_models, n_points))
        return self.points[idx]


@lru_cache(maxsize=16)
def _real_source(name: str, dim: int, data_path: str | None, max_images: int | None) -> DataSource:
    ds = load_real_dataset(name, dim, data_path=data_path, max_images=max_images)
    S = np.diag(ds.eigenvalues)
    return DataSource(name, ds.eigenvalues.copy(), np.eye(dim), S, ds.points)


def data_source(config: RecursionConfig) -> DataSource:
    """The :class:`DataSource` of a (validated) configuration."""
    cfg = config
    if cfg.data in REAL_DATASETS:
        return _real_source(cfg.data, cfg.dim, cfg.data_path, cfg.max_images)
    lam = np.asarray(cfg.spectrum, dtype=float)
    Q = fixed_rotation(cfg.dim) if cfg.rotate else np.eye(cfg.dim)
    S = (Q * lam) @ Q.T
    S = 0.5 * (S + S.T)
    return DataSource(cfg.data, lam, Q, S, None)


# --------------------------------------------------------------------------------------------- trajectories

@dataclass
class TrainedTrajectory:
    """Outputs of :func:`run_trained_recursion` (module docstring); axes (S, A, R, K + 1[, d])."""

    config: RecursionConfig
    sigma2: np.ndarray
    real_fraction: np.ndarray
    effective_real_fraction: np.ndarray
    population_eigenvalues: np.ndarray
    basis: np.ndarray
    rounds: np.ndarray
    eigenvalues: np.ndarray
    moment_matrices: np.ndarray
    training_moment_matrices: np.ndarray
    op_norm: np.ndarray
    composed_op_norm: np.ndarray
    total_variance: np.ndarray
    effective_rank: np.ndarray
    train_loss: np.ndarray
    certified_relative_error: np.ndarray | None
    seconds: float

    @property
    def moments(self) -> np.ndarray:
        """diag(U^T S_hat_k U): round k's data moments along S*'s eigenvectors, (S, A, R, K + 1, d)."""
        return np.diagonal(self.moment_matrices, axis1=-2, axis2=-1)

    @property
    def training_moments(self) -> np.ndarray:
        """diag(U^T S_hat~_k U): the training sets' moments along S*'s eigenvectors."""
        return np.diagonal(self.training_moment_matrices, axis1=-2, axis2=-1)

    def closed_form(self, impl=None) -> DAETrajectory | None:
        """The population recursion of the same configuration on the grid (S, A): arrays (K + 1, S, A[, d]).

        Full linear DAE: :func:`dae_recursion` (``impl`` replaces it, same signature). Bottleneck (rank r): the
        directions decouple, so the top r eigenvalues follow the same recursion and the others are removed by the
        map (:func:`bottleneck_closed_form`). MLP: None (no closed form)."""
        cfg = self.config
        if cfg.model == "mlp":
            return None
        recursion = dae_recursion if impl is None else impl
        s2 = self.sigma2[:, None]
        alpha = self.effective_real_fraction[None, :]
        if cfg.model == "bottleneck":
            return bottleneck_closed_form(self.population_eigenvalues, s2, alpha, cfg.rank, cfg.rounds,
                                          cfg.regime, cfg.rule, recursion)
        return recursion(self.population_eigenvalues, s2, alpha, rounds=cfg.rounds, regime=cfg.regime, rule=cfg.rule)

    def frame(self, impl=None):
        """Tidy table: one row per (sigma2, alpha, replicate, round, quantity, component) with the trained value and
        the closed-form value beside it (NaN where there is none: the MLP, the certified error, the loss)."""
        import pandas as pd

        closed = self.closed_form(impl)
        S, A, R, K1, d = self.eigenvalues.shape
        blocks = []

        def add(name: str, trained: np.ndarray, reference: np.ndarray | None) -> None:
            # trained: (S, A, R, K1[, d]); reference: (K1, S, A[, d]) or None
            vector = trained.ndim == 5
            comps = trained.shape[-1] if vector else 1
            values = trained.reshape(S, A, R, K1, comps)
            if reference is None:
                ref = np.full((S, A, 1, K1, comps), np.nan)
            else:
                ref = np.moveaxis(np.asarray(reference, dtype=float).reshape(K1, S, A, comps), 0, 2)[:, :, None]
            ref = np.broadcast_to(ref, values.shape)
            grid = np.meshgrid(np.arange(S), np.arange(A), np.arange(R), np.arange(K1), np.arange(comps),
                               indexing="ij")
            blocks.append(pd.DataFrame({
                "sigma2": self.sigma2[grid[0].ravel()],
                "real_fraction": self.effective_real_fraction[grid[1].ravel()],
                "replicate": grid[2].ravel(),
                "round": grid[3].ravel(),
                "quantity": name,
                "component": (grid[4].ravel() + 1) if vector else 0,
                "trained": values.ravel(),
                "closed_form": ref.ravel(),
            }))

        pick = (lambda attr: getattr(closed, attr)) if closed is not None else (lambda attr: None)
        add("op_norm", self.op_norm, pick("op_norm"))
        add("composed_op_norm", self.composed_op_norm, pick("composed_op_norm"))
        add("total_variance", self.total_variance, pick("total_variance"))
        add("effective_rank", self.effective_rank, pick("effective_rank"))
        add("eigenvalue", self.eigenvalues, pick("eigenvalues"))
        add("moment", self.moments, pick("eigenvalues"))
        add("training_moment", self.training_moments, pick("training_eigenvalues"))
        add("train_loss", self.train_loss, None)
        if self.certified_relative_error is not None:
            add("certified_relative_error", self.certified_relative_error, None)
        frame = pd.concat(blocks, ignore_index=True)
        return frame.sort_values(["sigma2", "real_fraction", "replicate", "round", "quantity", "component"],
                                 kind="stable", ignore_index=True)


def bottleneck_closed_form(eigenvalues, sigma2, alpha, rank: int, rounds: int, regime: str, rule: str,
                           recursion=dae_recursion) -> DAETrajectory:
    """Population recursion of the rank-r bottleneck DAE (DAE-BOTTLENECK: W = sum_{i<=r} g_i u_i u_i^T).

    The map keeps S*'s eigenbasis and acts per direction: the top r directions (lambda* descending) follow the full
    recursion (``recursion`` on lambda*_1..r), the others are mapped to 0 from round 1 on, while their training
    moments are mu_i = alpha lambda*_i (mix/fresh), lambda*_i/(k+1) (accumulate), 0 (replace). This presumes the top
    r training moments stay above the others, true in every regime because mu_i >= (weight of real data) lambda*_i.
    Summaries (op norms, tr S_k, effective rank) are recomputed from the padded spectra."""
    lam = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    r = int(rank)
    top = recursion(lam[:r], sigma2, alpha, rounds=rounds, regime=regime, rule=rule)
    K1 = top.eigenvalues.shape[0]
    batch = top.eigenvalues.shape[1:-1]
    rest = lam[r:]
    eig_rest = np.zeros((K1,) + batch + (rest.size,))
    eig_rest[0] = rest
    k = np.arange(K1).reshape((-1,) + (1,) * (len(batch) + 1))
    if regime in ("mix", "fresh"):
        a = np.broadcast_to(np.asarray(alpha, dtype=float), batch)[..., None]
        mu_rest = np.where(k == 0, rest, a * rest)
    elif regime == "accumulate":
        mu_rest = rest / (k + 1.0) + np.zeros((K1,) + batch + (rest.size,))
    else:
        mu_rest = np.where(k == 0, rest, 0.0) + np.zeros((K1,) + batch + (rest.size,))
    eig = np.concatenate([top.eigenvalues, eig_rest], axis=-1)
    mu = np.concatenate([top.training_eigenvalues, np.broadcast_to(mu_rest, eig_rest.shape)], axis=-1)
    return dataclasses.replace(top, eigenvalues=eig, training_eigenvalues=mu, total_variance=eig.sum(axis=-1),
                               effective_rank=effective_rank(eig), w2_to_real=np.full(top.op_norm.shape, np.nan),
                               fixed_point=None)


def _in_basis(S: np.ndarray, U: np.ndarray) -> np.ndarray:
    """U^T S U per model: (B, d, d) moments in S*'s eigenbasis (diagonal: montecarlo's ``_along``)."""
    return np.matmul(np.matmul(U.T, S), U)


def _model_axes(cfg: RecursionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per model (flattened S x A x R): sigma2, the alpha index and the number a of real points."""
    S, A, R = len(cfg.sigma2), len(cfg.real_fraction), cfg.replicates
    s2 = np.repeat(np.asarray(cfg.sigma2, dtype=float), A * R)
    alpha_index = np.tile(np.repeat(np.arange(A), R), S)
    a = np.array([int(round(v * cfg.n_samples)) if cfg.regime in ("mix", "fresh") else 0
                  for v in cfg.real_fraction])
    return s2, alpha_index, a


def run_trained_recursion(config: RecursionConfig, progress: bool = False) -> TrainedTrajectory:
    """Train the configuration's B = S x A x R DAEs recursively for rounds 0..K (module docstring).

    One numpy Generator (data, subsets) and one torch Generator (initialisation, training noise and minibatches,
    generation noise), both seeded with ``config.seed``: a seed gives identical results on the same machine."""
    cfg = config.validated()
    start = time.perf_counter()
    source = data_source(cfg)
    S, A, R, K, n, d = len(cfg.sigma2), len(cfg.real_fraction), cfg.replicates, cfg.rounds, cfg.n_samples, cfg.dim
    B = S * A * R
    s2_models, alpha_index, a_per_alpha = _model_axes(cfg)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = make_model(cfg.model, B, d, rank=cfg.rank, tied=cfg.tied, width=cfg.width, depth=cfg.depth,
                       activation=cfg.activation, skip=cfg.skip, dtype=DTYPES[cfg.dtype], generator=gen)
    U = source.basis

    eig_out = np.empty((B, K + 1, d))
    mom_out = np.empty((B, K + 1, d, d))
    tmom_out = np.empty((B, K + 1, d, d))
    op_out = np.full((B, K + 1), np.nan)
    comp_out = np.full((B, K + 1), np.nan)
    loss_out = np.empty((B, K + 1))
    cert_out = np.full((B, K + 1), np.nan) if cfg.model == "linear" else None
    composed = np.broadcast_to(np.eye(d), (B, d, d)).copy()

    real = source.sample(B, n, rng)
    data = real
    pool = None
    if cfg.regime == "accumulate":
        pool = np.empty((B, (K + 1) * n, d))
        pool[:, :n] = real
    iterator = range(K + 1)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="train-dae", unit="round", leave=False)
    for k in iterator:
        S_k = mc.empirical_second_moment(data)
        eig_out[:, k] = np.clip(np.linalg.eigvalsh(S_k)[:, ::-1], 0.0, None)
        mom_out[:, k] = _in_basis(S_k, U)
        if k == 0 or cfg.regime == "replace":
            train = real if k == 0 else data
        elif cfg.regime in ("mix", "fresh"):
            train = np.empty((B, n, d))
            for j, a in enumerate(a_per_alpha):
                rows = alpha_index == j
                if cfg.regime == "mix" or a == 0:
                    real_part = real[rows, :a]
                else:
                    real_part = source.sample(int(rows.sum()), a, rng)
                train[rows] = np.concatenate([real_part, mc.random_subset(data[rows], n - a, rng)], axis=1)
        else:
            pool[:, k * n:(k + 1) * n] = data
            train = pool[:, :(k + 1) * n]
        tmom_out[:, k] = _in_basis(mc.empirical_second_moment(train), U)
        if k > 0 and not cfg.warm_start:
            model.reinitialise(gen)
        x = torch.from_numpy(np.ascontiguousarray(train)).to(DTYPES[cfg.dtype])
        report = train_dae(model, x, s2_models, cfg.optimizer, steps=cfg.steps, lr=cfg.lr,
                           batch_size=cfg.batch_size, generator=gen, tolerance=cfg.tolerance)
        loss_out[:, k] = report.final_loss
        if cert_out is not None:
            cert_out[:, k] = report.certified_relative_error
        M = model.linear_map()
        if M is not None:
            M = M.detach().numpy()
            op_out[:, k] = np.linalg.norm(M, 2, axis=(-2, -1))
            composed = np.matmul(M, composed)
            comp_out[:, k] = np.linalg.norm(composed, 2, axis=(-2, -1))
        if k < K:
            inputs = mc.random_subset(train, n, rng) if cfg.regime == "accumulate" else train
            data = generate(model, torch.from_numpy(np.ascontiguousarray(inputs)).to(DTYPES[cfg.dtype]), s2_models,
                            cfg.rule, gen).numpy().astype(np.float64)

    def shaped(arr):
        return None if arr is None else arr.reshape((S, A, R) + arr.shape[1:])

    eff_alpha = a_per_alpha / n if cfg.regime in ("mix", "fresh") else np.zeros(A)
    return TrainedTrajectory(
        config=cfg, sigma2=np.asarray(cfg.sigma2, dtype=float), real_fraction=np.asarray(cfg.real_fraction),
        effective_real_fraction=np.asarray(eff_alpha, dtype=float), population_eigenvalues=source.eigenvalues.copy(),
        basis=U.copy(), rounds=np.arange(K + 1), eigenvalues=shaped(eig_out), moment_matrices=shaped(mom_out),
        training_moment_matrices=shaped(tmom_out), op_norm=shaped(op_out), composed_op_norm=shaped(comp_out),
        total_variance=shaped(np.trace(mom_out, axis1=-2, axis2=-1)), effective_rank=shaped(effective_rank(eig_out)),
        train_loss=shaped(loss_out), certified_relative_error=shaped(cert_out),
        seconds=time.perf_counter() - start)


__all__ = ["AUTO_OPTIMIZER", "DATA_SOURCES", "DEFAULT_STEPS", "DataSource", "RecursionConfig",
           "TrainedTrajectory", "bottleneck_closed_form", "data_source", "default_spectrum", "fixed_rotation",
           "run_trained_recursion"]
