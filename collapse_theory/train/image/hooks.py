"""Callbacks a caller may pass to :func:`collapse_theory.train.image.pipeline.run` (tests, benchmarks).

Each is optional, runs in the process that trains (every rank under DDP) and may raise to stop the run; none can
change a number of the run. Stages are ``"pairs"`` (generating and inverting the pairs of round k), ``"invert"``
(one inversion of the real images, inside ``"pairs"`` or, for ora/oras, inside ``"train"``), ``"train"`` and
``"eval"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class RunHooks:
    """``before_stage(stage, k)`` / ``after_stage(stage, k)`` around each stage of round k;
    ``after_step(k, done)`` after training step ``done`` (1-based) of round k and its checkpoint, if any;
    ``after_shard(k, i)`` once synthetic pair shard i of round k is on disk."""

    before_stage: Callable[[str, int], None] | None = None
    after_stage: Callable[[str, int], None] | None = None
    after_step: Callable[[int, int], None] | None = None
    after_shard: Callable[[int, int], None] | None = None

    def stage(self, name: str, k: int):
        """A context manager calling ``before_stage`` and (on success) ``after_stage``."""
        return _Stage(self, name, k)


class _Stage:
    def __init__(self, hooks: RunHooks, name: str, k: int):
        self.hooks, self.name, self.k = hooks, name, k

    def __enter__(self):
        if self.hooks.before_stage is not None:
            self.hooks.before_stage(self.name, self.k)
        return self

    def __exit__(self, exc_type, *exc) -> bool:
        if exc_type is None and self.hooks.after_stage is not None:
            self.hooks.after_stage(self.name, self.k)
        return False
