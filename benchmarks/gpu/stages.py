"""Timing of the image pipeline's stages (through its RunHooks), memoised classifier and real-vs-real floor, and
the calibration of train and Euler rates (benchmarks/gpu_reflow.py, phase 2).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
import warnings
from pathlib import Path

from .common import free_memory, log, synchronizer
from .planning import Rates
from .throughput import timed_rate


class PipelineHooks:
    """Timing (and round-boundary deadline checks) of the pipeline's stages through the
    :class:`~collapse_theory.train.image.hooks.RunHooks` that :meth:`run_hooks` gives each ``run()`` call. Within a
    ``with`` block it also memoises, in this process, the feature classifier (trained once, not once per run() call)
    and ``metrics.real_vs_real_reference`` (the real-vs-real floor, identical for the three runs); neither changes a
    number."""

    def __init__(self, device, notes: list[str], featurenet_epochs: int | None = None):
        self.device = device
        self.notes = notes
        self.featurenet_epochs = featurenet_epochs   # dry run: fewer classifier epochs (CPU time)
        self.events: list[dict] = []
        self.run_label = ""
        self.round_check = None          # callable(method, k) -> None (may raise PhaseTimeout)
        self.feature_nets: dict = {}
        self.metric_memo: dict = {}      # real-vs-real metrics: identical inputs for every round and run
        self.stats: dict = {}
        self._saved: list = []

    def run_hooks(self, cfg):
        """RunHooks for one run of ``cfg``: an event {run, stage, round, seconds[, steps]} per pairs / invert /
        train / eval stage (timed with a device synchronise), and ``round_check`` before each round's pairs."""
        from collapse_theory.train.image.hooks import RunHooks

        started: dict = {}
        sync = synchronizer(self.device)

        def before(stage, k):
            if stage == "pairs" and self.round_check is not None:
                self.round_check(cfg.method, k)
            sync()
            started[(stage, k)] = time.perf_counter()

        def after(stage, k):
            sync()
            event = {"run": self.run_label, "stage": stage, "round": k,
                     "seconds": time.perf_counter() - started.pop((stage, k))}
            if stage == "train":
                event["steps"] = cfg.round0_steps if k == 0 else cfg.steps
            self.events.append(event)

        return RunHooks(before_stage=before, after_stage=after)

    def _wrap(self, owner, name, make):
        """Replace ``owner.name`` by ``make(original)`` until the block ends."""
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def __enter__(self):
        from collapse_theory.train.image import metrics

        hooks = self

        def featurenet(original):
            def wrapper(dataset_name, data_hash, *a, **kw):
                if hooks.featurenet_epochs is not None and kw.get("epochs") is None:
                    kw["epochs"] = hooks.featurenet_epochs
                key = (str(dataset_name), data_hash, str(kw.get("device")), kw.get("seed"), kw.get("epochs"))
                if key not in hooks.feature_nets:
                    t0 = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        hooks.feature_nets[key] = original(dataset_name, data_hash, *a, **kw)
                    for w in caught:
                        if "feature-net checkpoint" in str(w.message):
                            hooks.notes.append("metrics.py: a cached feature classifier could not be loaded and "
                                               "was retrained: " + str(w.message).split("\n")[0][:300])
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    hooks.events.append({"run": hooks.run_label, "stage": "featurenet", "round": None,
                                         "seconds": time.perf_counter() - t0})
                return hooks.feature_nets[key]
            return wrapper

        def memoised(original):
            def wrapper(*a, **kw):   # a pure function of its inputs: the real-vs-real reference repeats per run
                try:
                    key = (tuple(fingerprint(x) if hasattr(x, "shape") else repr(x) for x in a),
                           tuple(sorted((k, repr(v)) for k, v in kw.items())))
                except Exception:  # noqa: BLE001 (unhashable input: no memo)
                    return original(*a, **kw)
                if key in hooks.metric_memo:
                    hooks.stats["metric_memo_hits"] = hooks.stats.get("metric_memo_hits", 0) + 1
                    return hooks.metric_memo[key]
                out = original(*a, **kw)
                hooks.metric_memo[key] = out
                return out
            return wrapper

        self._wrap(metrics, "real_vs_real_reference", memoised)
        self._wrap(metrics, "load_or_train_feature_net", featurenet)
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
        return False

    def seconds(self, run: str, stage: str, round_k=None) -> float:
        return sum(e["seconds"] for e in self.events if e["run"] == run and e["stage"] == stage
                   and (round_k is None or e["round"] == round_k))


def fingerprint(t) -> tuple:
    """Exact identity of a feature tensor's contents (shape, dtype, sha1 of the bytes)."""
    import hashlib

    import torch

    x = t.detach().to("cpu") if isinstance(t, torch.Tensor) else t
    arr = x.contiguous().numpy() if isinstance(x, torch.Tensor) else x
    return (tuple(arr.shape), str(arr.dtype), hashlib.sha1(arr.tobytes()).hexdigest())


def clean_run_dir(path: Path) -> None:
    """Remove an earlier run folder of this script (it holds a pipeline manifest); refuse anything else."""
    if not path.exists():
        return
    if path.is_dir() and (not any(path.iterdir()) or (path / "manifest.json").is_file()
                          or (path / "state.json").is_file()):
        shutil.rmtree(path)
        log(f"removed the previous run folder {path}")
        return
    raise ValueError(f"out: {str(path)!r} exists and is not a run folder of this script; choose another --out")


def calibrate(cfg, data, device, dry: bool) -> Rates:
    """Measure the train step rate and the Euler forward rate of the run's UNet, as the pipeline runs them."""
    import torch

    from collapse_theory.train.flow.blocks import EMA, rf_loss
    from collapse_theory.train.image.field import FlatField
    from collapse_theory.train.image.unet import build_unet
    from collapse_theory.train.flow.ode import integrate

    sync = synchronizer(device)
    c, h, _ = data.image_shape
    torch.manual_seed(0)
    net = build_unet(cfg.unet, in_channels=c, image_size=h, **cfg.unet_overrides).to(device)
    if cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    use_bf16 = cfg.bf16 and device.type == "cuda"

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    ema = EMA(net, cfg.ema_decay)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, fused=device.type == "cuda")
    real = torch.from_numpy(data.train[: min(len(data.train), 8192)]).to(device)
    B = cfg.batch_size

    def step():
        idx = torch.randint(real.shape[0], (B,), device=device)
        x1 = real[idx]
        x0 = torch.randn_like(x1)
        t = torch.rand(B, device=device)
        if cfg.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
            x1 = x1.contiguous(memory_format=torch.channels_last)
        with autocast():
            loss = rf_loss(net, x0, x1, t, reduction="mean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        ema.update(net)

    tr = timed_rate(step, sync, warm=0 if dry else 5, target_s=0.1 if dry else 2.0, n_min=1 if dry else 10,
                    n_max=2 if dry else 100)
    net.eval()
    shape = data.image_shape
    rates = {}
    for label, ac in (("bf16", autocast if use_bf16 else None), ("fp32", None)):
        field = FlatField(net, shape, ac, cfg.channels_last)
        n_gen = min(cfg.gen_batch, 128) if dry else cfg.gen_batch
        x = torch.randn(n_gen, math.prod(shape), device=device)

        def gen_step():
            integrate(field, x, 0.0, 1.0, method="euler", steps=1)
        g = timed_rate(gen_step, sync, warm=0 if dry else 2, target_s=0.1 if dry else 1.0, n_min=1 if dry else 3,
                       n_max=2 if dry else 30)
        rates[label] = n_gen / g["s_per_step"]
    del net, ema, opt, real
    free_memory()
    return Rates(train_its=1.0 / tr["s_per_step"], fwd_ips=rates["bf16"], fwd_ips_fp32=rates["fp32"])
