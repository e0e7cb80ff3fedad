"""The run folder of an image Reflow run: its layout, manifest, progress state, checkpoints and pair shards.

Layout of ``out``::

    manifest.json                 config, seed, versions, git revision; one entry per --resume in "resumed"
    state.json                    {"completed": [stage, ...], "metric_rows": {round: rows}}
    checkpoints/round_k.pt        model and EMA weights and losses after round k trained
    checkpoints/round_k_partial.pt  every ``checkpoint_every`` steps within round k (optimiser, scheduler, step)
    pairs/round_k/synth_i.pt, real.pt   the pairs of round k
    metrics.csv, samples/round_k.png|npz
    .lock                         held (fcntl.flock) by the one process writing the folder

Rules, each with a test:

- A new folder is created atomically (built as a hidden sibling, then renamed), and only after everything a run
  needs has been validated, so a failed start leaves nothing behind.
- One writer at a time (:func:`collapse_theory.outputs.lock_folder`); a killed writer's lock dies with it.
- A file that cannot be read (truncated, zero bytes, not JSON) raises :class:`CorruptRunFileError` (a ValueError)
  naming the file and what to do; every stage file can be deleted to have that stage recomputed on ``--resume``,
  with results equal to an uninterrupted run (the randomness of every stage is derived from its name).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from ...outputs import atomic_write_text, atomic_write_via, run_manifest, strict_json

NOT_COMPARED = ("progress", "device", "compile", "compile_mode", "threads", "cache_dir")
"""Config fields a resumed run may change, deliberately: they choose the machine and its speed, not the numbers on
the CPU (``device``, ``threads``, ``compile``, ``compile_mode``), the progress bars, or where the feature
classifier is cached (``cache_dir``: the classifier is keyed by the data's hash and trained with a fixed seed, so
any cache holds the same one). Each change is recorded in the manifest's ``resumed`` entry."""

ROUND0_FREE = NOT_COMPARED + ("method", "real_fraction", "rounds", "steps", "n_pairs", "regen_every", "oras_noise",
                              "oras_jitter", "round0_from", "checkpoint_every")
"""Fields that may differ between a run and the run whose round 0 it shares (``round0_from``)."""


class CorruptRunFileError(ValueError):
    """A file of the run folder cannot be read; the message names it and says what to do."""


def atomic_torch_save(obj, path: Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` (readers never see half a file)."""
    return atomic_write_via(path, lambda handle: torch.save(obj, handle))


def load_checkpoint(path: Path, remedy: str | None = None, argument: str = "out") -> dict:
    """A checkpoint or shard written by this package (tensors, numbers, lists, dicts: ``weights_only=True``).

    An unreadable file (truncated, zero bytes, not a torch file) raises :class:`CorruptRunFileError` naming it
    (message starting with ``argument``, the flag of its folder), followed by ``remedy`` (what deleting it
    recomputes)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(obj, dict):
            raise ValueError(f"holds a {type(obj).__name__}, not a dict")
        return obj
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise CorruptRunFileError(f"{argument} holds an unreadable file {path} (truncated or corrupt: {reason}); "
                                  f"{remedy or 'delete it'}") from None


def read_json(path: Path, remedy: str) -> dict:
    """A JSON object from ``path``; :class:`CorruptRunFileError` naming the file and ``remedy`` otherwise."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRunFileError(f"out holds an unreadable file {path} (not valid JSON: "
                                  f"{exc.msg if hasattr(exc, 'msg') else exc}); {remedy}") from None
    if not isinstance(value, dict):
        raise CorruptRunFileError(f"out holds an unreadable file {path} (not a JSON object); {remedy}")
    return value


class RunFolder:
    """Paths and progress state of one run folder (no torch state; see the module docstring)."""

    def __init__(self, out):
        self.out = Path(out)
        self.manifest_path = self.out / "manifest.json"
        self.state_path = self.out / "state.json"
        self.metrics_path = self.out / "metrics.csv"

    # ---------------- paths
    def ckpt_path(self, k: int) -> Path:
        return self.out / "checkpoints" / f"round_{k}.pt"

    def partial_path(self, k: int) -> Path:
        return self.out / "checkpoints" / f"round_{k}_partial.pt"

    def pair_dir(self, k: int) -> Path:
        return self.out / "pairs" / f"round_{k}"

    # ---------------- state
    def state(self) -> dict:
        if not self.state_path.is_file():
            return {"completed": []}
        state = read_json(self.state_path, "delete it and resume with --resume to recompute the run from the start "
                                           "(its stages are recomputed to the same results)")
        if not isinstance(state.get("completed"), list):
            raise CorruptRunFileError(f"out holds an unreadable file {self.state_path} (no list of completed "
                                      f"stages); delete it and "
                                      f"resume with --resume to recompute the run from the start")
        return state

    def completed(self) -> list[str]:
        return list(self.state()["completed"])

    def write_state(self, state: dict) -> None:
        """Write ``state.json`` (strict JSON: it holds stage names and row counts, so a NaN or an infinity in it is
        a bug and an error naming the entry, never a ``NaN`` token)."""
        atomic_write_text(self.state_path, strict_json(state, what=str(self.state_path), indent=1) + "\n")

    def mark(self, stage: str, metric_rows: int | None = None) -> None:
        """Record ``stage`` as done (and, for a round's evaluation, how many metrics.csv rows it wrote)."""
        state = self.state()
        if stage not in state["completed"]:
            state["completed"].append(stage)
        if metric_rows is not None:
            state.setdefault("metric_rows", {})[stage.split("/")[0].removeprefix("round")] = int(metric_rows)
        self.write_state(state)

    def unmark(self, stages) -> None:
        state = self.state()
        state["completed"] = [s for s in state["completed"] if s not in set(stages)]
        self.write_state(state)

    def manifest(self) -> dict:
        manifest = read_json(self.manifest_path, "the folder's run cannot be identified: restore the file or choose "
                                                 "another --out")
        if not isinstance(manifest.get("config"), dict):
            raise CorruptRunFileError(f"out holds an unreadable file {self.manifest_path} (no config); the "
                                      f"folder's run cannot be "
                                      f"identified: restore the file or choose another --out")
        return manifest


# ------------------------------------------------------------------------------------------------ starting a run

def check_output_folder(out: Path, resume: bool) -> None:
    """Before any work: ``out`` must be a folder (or not exist yet) whose parent can be created and written."""
    if str(out) == "":
        raise ValueError("out must name a folder, got ''")
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, but {str(out)!r} is a file")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"out cannot be created: {str(parent)!r} is not a folder")
    if not os.access(parent if not out.exists() else out, os.W_OK):
        raise ValueError(f"out cannot be written: no write permission in {str(parent if not out.exists() else out)!r}")
    if out.is_dir() and not resume and not (out / "manifest.json").is_file() and any(out.iterdir()):
        raise ValueError(f"out must be a new or empty folder, {str(out)!r} holds other files")
    if out.is_dir() and not resume and (out / "manifest.json").is_file():
        raise ValueError(f"out already holds a run ({out / 'manifest.json'}); pass --resume to continue it or choose "
                         f"another --out")


def config_difference(saved: dict, config: dict, free) -> str | None:
    """The first field (not in ``free``) whose value differs between two configs, or None."""
    diff = [k for k in config if k not in free and saved.get(k) != config[k]]
    return diff[0] if diff else None


def check_resume(folder: RunFolder, config: dict) -> dict:
    """The manifest of the run in ``folder``, updated for a resume with ``config``; ValueError if they differ."""
    manifest = folder.manifest()
    saved = manifest["config"]
    key = config_difference(saved, config, NOT_COMPARED + ("rounds",))
    if key is not None:
        raise ValueError(f"out holds a run with a different config ({key}: {saved.get(key)!r} there, {config[key]!r} "
                         f"now); resume with the same flags or use another --out")
    if config["rounds"] < saved.get("rounds", 0):
        raise ValueError(f"rounds must be at least the run's {saved['rounds']} to resume it (more rounds extend it), "
                         f"got {config['rounds']}")
    restart = run_manifest("collapse-theory reflow --resume", config, config.get("seed"))
    entry = {k: restart[k] for k in ("created_utc", "argv", "versions", "git_revision")}
    changed = {k: [saved.get(k), config[k]] for k in NOT_COMPARED + ("rounds",) if saved.get(k) != config[k]}
    if changed:
        entry["changed"] = changed
    manifest.setdefault("resumed", []).append(entry)
    manifest["config"] = config
    return manifest


def check_round0_source(source: Path, config: dict) -> tuple[dict, Path]:
    """The config and round-0 checkpoint of the run ``source`` whose 1-RF a new run shares (validated)."""
    src = RunFolder(source)
    if not src.manifest_path.is_file() or not src.ckpt_path(0).is_file():
        raise ValueError(f"round0_from must name a run folder with a trained round 0, but {str(source)!r} has no "
                         f"manifest.json or checkpoints/round_0.pt")
    try:
        saved = src.manifest()["config"]
    except CorruptRunFileError as exc:
        raise ValueError("round0_from" + str(exc)[len("out"):]) from None
    key = config_difference(saved, config, ROUND0_FREE)
    if key is not None:
        raise ValueError(f"round0_from must name a run with the same round-0 settings, but {key} differs "
                         f"({saved.get(key)!r} there, {config[key]!r} here)")
    return saved, src.ckpt_path(0)


def create_run_folder(out: Path, build) -> None:
    """Create the run folder atomically: ``build(tmp)`` fills a hidden sibling folder, which is then renamed to
    ``out`` (an existing empty ``out`` is replaced). On any failure nothing is left behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.creating-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        build(tmp)
        try:
            os.rename(tmp, out)
        except OSError:
            raise ValueError(f"out already holds a run or other files ({str(out)!r}, created meanwhile by another "
                             f"process); pass --resume to continue it or choose another --out") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
