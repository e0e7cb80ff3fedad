"""Writing results safely: atomic file writes and run manifests (config, seed, versions, git revision)."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO, Callable, Literal

_PACKAGES = ("collapse_theory", "numpy", "scipy", "sympy", "pandas", "matplotlib", "torch")


def atomic_write_via(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Atomically create ``path`` with ``write(handle)``: a temporary file in the same folder (binary mode),
    flushed and fsynced, then ``os.replace``. A reader never sees a half-written file, and an interrupted write
    leaves the old file intact. ``write`` may be e.g. ``lambda h: torch.save(obj, h)``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give results the usual permissions
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically (:func:`atomic_write_via`)."""
    return atomic_write_via(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write_via`)."""
    return atomic_write_via(path, lambda handle: handle.write(data))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_revision(start: str | os.PathLike | None = None) -> str | None:
    """The git commit of the source tree (with '-dirty' if it has uncommitted changes), or None."""
    where = Path(start) if start else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty else "")


def run_manifest(command: str, config: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    """What a run needs to be reproduced: command, config, seed, package versions, platform, git revision."""
    return {
        "command": command,
        "config": config,
        "seed": seed,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {name: _version(name) for name in _PACKAGES} | {"python": platform.python_version()},
        "platform": f"{platform.system()} {platform.machine()}",
        "argv": sys.argv,
        "git_revision": git_revision(),
    }


def write_with_manifest(path: str | os.PathLike, text: str, manifest: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``text`` to ``path`` and the manifest to ``path`` + '.manifest.json', both atomically.

    When ``path`` already holds exactly ``text`` and its manifest exists, neither file is rewritten: the old
    manifest still describes how these bytes were made, and a committed result stays unchanged (no new time
    stamp, argv or '-dirty' revision) when a run reproduces it.

    Both files are strict JSON where JSON is written: the manifest through :func:`strict_json` (a NaN or an
    infinity in it is a :class:`NonFiniteJSONError` naming the entry, raised before either file is written), and
    ``text`` itself, when ``path`` ends in ``.json``, must parse with a strict parser (no ``NaN``/``Infinity``
    tokens) or nothing is written."""
    side_path = Path(str(path) + ".manifest.json")
    side_text = strict_json(manifest, what=f"the manifest of {path}", indent=2, default=str) + "\n"
    if Path(path).suffix == ".json":
        check_strict_json_text(text, what=str(path))
    if side_path.is_file() and Path(path).is_file() and Path(path).read_bytes() == text.encode("utf-8"):
        return Path(path), side_path
    target = atomic_write_text(path, text)
    side = atomic_write_text(str(target) + ".manifest.json", side_text)
    return target, side


# --------------------------------------------------------------------------------------------- strict JSON

class NonFiniteJSONError(ValueError):
    """A value to be written as JSON holds a NaN or an infinity, which strict JSON (RFC 8259) cannot carry."""


def nonfinite_entries(obj: Any, default: Callable[[Any], Any] | None = None) -> list[tuple[str, float]]:
    """Every non-finite float in ``obj`` as ``(where, value)``, ``where`` a path like ``config.lr`` or
    ``rows[3].fd``; objects that JSON cannot encode are passed through ``default`` first, as ``json.dumps``
    would."""
    found: list[tuple[str, float]] = []
    _replace_nonfinite(obj, "", default, lambda where, value: found.append((where, value)))
    return found


def _replace_nonfinite(obj, where, default, on_bad):
    if isinstance(obj, float):                            # float and np.float64 (a float subclass)
        if math.isfinite(obj):
            return obj
        return on_bad(where or "(top level)", float(obj))
    if obj is None or isinstance(obj, (str, int)):        # bool is an int
        return obj
    if isinstance(obj, dict):
        return {k: _replace_nonfinite(v, f"{where}.{k}" if where else str(k), default, on_bad)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_replace_nonfinite(v, f"{where}[{i}]", default, on_bad) for i, v in enumerate(obj)]
    if default is None:
        return obj                                        # json.dumps raises its TypeError for it
    converted = default(obj)
    if converted is obj:
        return obj
    return _replace_nonfinite(converted, where, default, on_bad)


def strict_json(obj: Any, *, what: str = "the JSON output", nonfinite: Literal["error", "null"] = "error",
                **kwargs) -> str:
    """``json.dumps(obj, allow_nan=False, **kwargs)``: JSON that every strict parser reads (no ``NaN``,
    ``Infinity`` or ``-Infinity`` tokens).

    ``nonfinite="error"`` (the default): a NaN or an infinity anywhere in ``obj`` is a
    :class:`NonFiniteJSONError` (a ValueError) naming ``what``, where it sits and its value, e.g.
    ``the manifest of out.csv: config.lr is inf; strict JSON cannot carry NaN or Infinity``.
    ``nonfinite="null"``: every non-finite float is written as ``null``; use it only where a caller documents
    that a missing/diverged number legitimately occurs there and that ``null`` means it. ``kwargs`` go to
    ``json.dumps`` (``indent``, ``default``, ``sort_keys``, ...); ``default`` conversions are applied before the
    check, so a ``default`` that turns an object into a NaN float is caught too."""
    if nonfinite not in ("error", "null"):
        raise ValueError(f"nonfinite must be 'error' or 'null', got {nonfinite!r}")
    default = kwargs.get("default")

    def bad(where: str, value: float):
        if nonfinite == "null":
            return None
        raise NonFiniteJSONError(f"{what}: {where} is {value}; strict JSON cannot carry NaN or Infinity")

    clean = _replace_nonfinite(obj, "", default, bad)
    return json.dumps(clean, allow_nan=False, **kwargs)


def check_strict_json_text(text: str, what: str = "the JSON text") -> None:
    """Raise :class:`NonFiniteJSONError` naming ``what`` when ``text`` holds a ``NaN``/``Infinity`` token
    (``json.loads`` reads them, RFC 8259 and most other parsers do not), and ValueError when it is not JSON."""
    def refuse(token: str):
        raise NonFiniteJSONError(f"{what}: the JSON holds the token {token}; strict JSON cannot carry NaN or "
                                 f"Infinity")
    try:
        json.loads(text, parse_constant=refuse)
    except NonFiniteJSONError:
        raise
    except ValueError as exc:
        raise ValueError(f"{what}: not valid JSON ({exc})") from None



class FolderLockedError(ValueError):
    """Another process holds the folder's lock (:func:`lock_folder`)."""


class FolderLock:
    """An exclusive ``fcntl.flock`` on ``folder/.lock``, held until :meth:`release` (or the ``with`` block ends).

    The kernel drops the lock when the holding process dies, however it dies, so a lock left by a killed run never
    blocks the next one; the ``.lock`` file itself stays (it is empty and harmless). Where ``fcntl`` does not exist
    (Windows) the lock is a no-op."""

    def __init__(self, folder: str | os.PathLike, argument: str = "out"):
        self.path = Path(folder) / ".lock"
        self.argument = argument
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderLockedError(f"{self.argument} {str(self.path.parent)!r} is being written by another process "
                                    f"(it holds {self.path}); wait until it ends or choose another folder") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)            # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def lock_folder(folder: str | os.PathLike, argument: str = "out") -> FolderLock:
    """Take the exclusive lock of a run folder that exists (:class:`FolderLock`), or raise
    :class:`FolderLockedError` (a ValueError naming ``argument``) when another live process holds it."""
    return FolderLock(folder, argument).acquire()
