"""Argument helpers shared by every command module: the one list parser, matrices, output paths, memory.

Every helper raises :class:`ValueError` whose message starts with the flag it names (``"--sigma2 must ..."``);
the shell (:mod:`collapse_theory.cli.shell`) prints it on one line and exits with status 2. This module imports
nothing from the shell, so command modules can use it without an import cycle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np


def also_named(action, *names: str):
    """Record that library ValueError messages call the argument of ``action`` also ``names`` (e.g. the library
    says ``ema_decay`` for ``--ema``); the shell's flag map, derived from argparse, maps those names to its flag.
    Returns ``action``."""
    action.library_names = tuple(getattr(action, "library_names", ())) + tuple(names)
    return action


def parse_list(text, flag: str, convert: Callable[[str], Any] = float, what: str = "numbers") -> list:
    """The one parser of comma-separated flags: ``"a,b,c"`` -> ``[convert(a), convert(b), convert(c)]``.

    Items are stripped of spaces; an empty item (``"1,,2"``, ``"1,"``, ``",,,"``) or an empty list is an error
    naming ``flag``, and so is an item ``convert`` rejects (ValueError/TypeError)."""
    raw = str(text)
    items = [item.strip() for item in raw.split(",")]
    if not raw.strip():
        raise ValueError(f"{flag} must hold at least one of the {what}, got {raw!r}")
    if any(item == "" for item in items):
        raise ValueError(f"{flag} must be a comma-separated list of {what} without empty items, got {raw!r}")
    try:
        return [convert(item) for item in items]
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a comma-separated list of {what}, got {raw!r}") from None


def parse_floats(text, flag: str) -> list[float]:
    """A comma-separated list of numbers (:func:`parse_list` with ``float``)."""
    return parse_list(text, flag, float, "numbers")


def parse_ints(text, flag: str) -> list[int]:
    """A comma-separated list of integers (:func:`parse_list` with ``int``)."""
    return parse_list(text, flag, int, "integers")


def parse_names(text, flag: str) -> list[str]:
    """A comma-separated list of names (:func:`parse_list`, items kept as stripped strings)."""
    return parse_list(text, flag, str, "names")


def parse_matrix(text: str, flag: str) -> np.ndarray:
    """Rows separated by ';', entries by ',' (each row read with :func:`parse_floats`); or a path to a .npy or a
    whitespace- (.txt) or comma-separated (.csv) text file."""
    path = Path(text)
    if path.suffix in (".npy", ".txt", ".csv") or path.exists():
        if not path.exists():
            raise ValueError(f"{flag}: file {text!r} does not exist")
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
            return np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=2)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{flag}: cannot read {text!r}: {exc}") from None
    rows = [parse_floats(row, flag) for row in text.split(";") if row.strip()]
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError(f"{flag} must be rows of equal length separated by ';', got {text!r}")
    return np.array(rows)


# ----------------------------------------------------------------------------------------------- outputs

def _first_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_creatable(path: Path, flag: str) -> None:
    """The folders up to ``path`` exist or can be made: the nearest existing ancestor is a writable folder."""
    ancestor = _first_existing(path.parent if str(path.parent) else Path("."))
    if not ancestor.is_dir():
        raise ValueError(f"{flag} {str(path)!r} cannot be created: {str(ancestor)!r} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {str(path)!r} cannot be created: no permission to write in {str(ancestor)!r}")


def check_output_file(text, flag: str = "--out") -> Path:
    """An output file path, checked before any work: not empty, not a folder or a device, and its folder exists
    or can be created and is writable. Returns it as a Path."""
    if text is None or not str(text).strip():
        raise ValueError(f"{flag} must name a file, got {text!r}")
    path = Path(text)
    if path.exists() and path.is_dir():
        raise ValueError(f"{flag} {text!r} is a folder; give a file path")
    if path.exists() and not path.is_file():
        raise ValueError(f"{flag} {text!r} is not a regular file (a device or a pipe); give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{flag} {text!r} is not writable")
    _check_creatable(path, flag)
    return path


def check_output_dir(text, flag: str = "--out") -> Path:
    """An output folder, checked before any work: not empty, a folder if it exists (writable), else creatable."""
    if text is None or not str(text).strip():
        raise ValueError(f"{flag} must name a folder, got {text!r}")
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{flag} {text!r} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{flag} {text!r} is not writable")
        return path
    _check_creatable(path, flag)
    return path


def write_output(path, text: str, manifest: dict, flag: str = "--out") -> tuple[Path, Path]:
    """:func:`collapse_theory.outputs.write_with_manifest`, with an OSError turned into one ValueError naming
    ``flag`` and the path."""
    from ..outputs import write_with_manifest

    try:
        return write_with_manifest(path, text, manifest)
    except OSError as exc:
        raise ValueError(f"{flag} {str(path)!r} cannot be written: {exc.strerror or exc}") from None


def strict_json(payload, flag: str = "--format", **kwargs) -> str:
    """``json.dumps(payload, allow_nan=False)``: a NaN or an infinity (e.g. an overflow of the computation) is a
    ValueError naming ``flag`` instead of invalid JSON (``NaN``/``Infinity`` tokens)."""
    try:
        return json.dumps(payload, allow_nan=False, **kwargs)
    except ValueError:
        raise ValueError(f"{flag} json: the result holds NaN or Inf (an overflow: use smaller inputs); "
                         f"strict JSON cannot carry it") from None


# ----------------------------------------------------------------------------------------------- memory

def machine_memory_bytes() -> int:
    """Memory this process may use: MemAvailable of /proc/meminfo, else physical memory (os.sysconf)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 40


def check_memory(nbytes: float, flags: str, available: int | None = None) -> None:
    """Refuse a request whose estimated memory ``nbytes`` exceeds what the machine has (one ValueError naming
    the ``flags`` that set the size), before anything is allocated."""
    available = machine_memory_bytes() if available is None else available
    if not np.isfinite(nbytes) or nbytes > available:
        raise ValueError(f"{flags} ask for about {_gib(nbytes)} of memory, more than the {_gib(available)} this "
                         f"machine has available; choose smaller sizes")


def _gib(nbytes: float) -> str:
    return "inf GiB" if not np.isfinite(nbytes) else f"{nbytes / 2 ** 30:.3g} GiB"


def check_threads(value, flag: str = "--threads") -> int:
    """A thread count >= 1 (ValueError naming ``flag`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{flag} must be an integer >= 1, got {value!r}")
    return value


def pin_torch_threads(tiers, threads: int) -> None:
    """torch.set_num_threads(threads) when a torch tier (trained, image) is selected: every torch check then runs
    on the same number of threads whatever else the machine does (checks that set their own count keep it).
    The symbolic and numeric tiers never import torch, so nothing happens for them."""
    if any(tier in ("trained", "image") for tier in tiers):
        import torch

        torch.set_num_threads(threads)
