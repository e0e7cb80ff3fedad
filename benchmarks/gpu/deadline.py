"""The global budget and hard per-phase deadlines (SIGALRM) of benchmarks/gpu_reflow.py.
"""

from __future__ import annotations

import signal
import time

from . import common


class PhaseTimeout(BaseException):
    """Raised (from SIGALRM or a soft check) when a :class:`Deadline` ends; a BaseException so that no
    ``except Exception`` in the pipeline swallows it."""

    def __init__(self, deadline: "Deadline", reason: str):
        super().__init__(reason)
        self.deadline, self.reason = deadline, reason


class Deadline:
    """``with Deadline(seconds, label) as d:`` runs the block until it ends or ``seconds`` pass; then the block
    is interrupted by :class:`PhaseTimeout` (SIGALRM, checked between Python bytecodes) and execution continues
    after the ``with`` with ``d.fired`` set. Deadlines nest: the earliest one is armed; an outer deadline's
    timeout passes through inner ones. ``d.check(need_s, what)`` raises the same timeout at once when fewer than
    ``need_s`` seconds are left (a soft check between pieces of work)."""

    _stack: list["Deadline"] = []
    _installed = False

    def __init__(self, seconds: float, label: str):
        self.label = label
        self.seconds = max(float(seconds), 0.0)
        self.at = time.monotonic() + self.seconds
        self.fired = False
        self.reason = ""

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, need_s: float, what: str) -> None:
        if need_s > self.left():
            raise PhaseTimeout(self, f"{what}: needs ~{need_s:.0f} s, {max(self.left(), 0):.0f} s left in "
                                     f"'{self.label}'")

    @classmethod
    def _handler(cls, signum, frame):
        now = time.monotonic()
        expired = [d for d in cls._stack if d.at <= now + 1e-3]
        if expired:
            outer = expired[0]  # the outermost expired deadline: inner ones let it pass
            raise PhaseTimeout(outer, f"hard deadline of '{outer.label}' ({outer.seconds:.0f} s) reached")
        cls._arm()

    @classmethod
    def _arm(cls) -> None:
        if not hasattr(signal, "setitimer"):
            return
        if not cls._stack:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        if not cls._installed:
            signal.signal(signal.SIGALRM, cls._handler)
            cls._installed = True
        soonest = min(d.at for d in cls._stack)
        signal.setitimer(signal.ITIMER_REAL, max(soonest - time.monotonic(), 1e-3))

    def __enter__(self) -> "Deadline":
        Deadline._stack.append(self)
        Deadline._arm()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        Deadline._stack.remove(self)
        Deadline._arm()
        if exc_type is not None and issubclass(exc_type, PhaseTimeout) and exc.deadline is self:
            self.fired, self.reason = True, exc.reason
            return True
        return False


class Budget:
    """The global time budget, counted from the script's start."""

    def __init__(self, total_s: float):
        self.total = float(total_s)
        self.end = common.T_START + self.total

    def left(self) -> float:
        return self.end - time.monotonic()
