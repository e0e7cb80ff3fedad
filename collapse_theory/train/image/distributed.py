"""Process-group helpers for ``torchrun`` (DDP): one code path for 1 process and N processes.

``torchrun --nproc_per_node N -m collapse_theory reflow ...`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``;
:func:`init` then starts the default process group (``nccl`` when the run's device is CUDA, ``gloo`` otherwise,
so the CPU test runs two processes with gloo). Without those variables everything here is a no-op for a single
process (rank 0 of 1).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """The process's place in the run: ``rank`` of ``world`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init(device: str) -> Dist:
    """Start the process group if launched by torchrun (``WORLD_SIZE`` > 1); return this process's :class:`Dist`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=30))
    return Dist(rank=rank, world=world, local_rank=local_rank)


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def all_gather_rows(d: Dist, local: torch.Tensor, total: int) -> torch.Tensor:
    """Concatenate the contiguous row blocks that :func:`row_block` gave each rank, in rank order.

    Every rank gets the full (total, ...) tensor. Blocks may differ in size by one row (padding is used
    internally because ``all_gather`` needs equal shapes)."""
    if not d.active:
        return local
    sizes = [len(range(*row_block(total, r, d.world))) for r in range(d.world)]
    width = max(sizes)
    padded = torch.zeros((width,) + tuple(local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[: local.shape[0]] = local
    gathered = [torch.empty_like(padded) for _ in range(d.world)]
    dist.all_gather(gathered, padded)
    return torch.cat([g[:n] for g, n in zip(gathered, sizes)])


def row_block(total: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [start, stop) of ``total`` handled by ``rank``: contiguous blocks, sizes differing by at most one."""
    base, extra = divmod(total, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def broadcast_flag(d: Dist, flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (used to stop all ranks together)."""
    if not d.active:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    dist.broadcast(t, 0)
    return bool(t.item())


def assert_replicas_equal(d: Dist, module: torch.nn.Module) -> None:
    """Check that every rank holds the same weights (DDP keeps them equal); RuntimeError if not.

    Compares (sum p, sum p^2) over all parameters, gathered from every rank, for exact equality."""
    if not d.active:
        return
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).double() for p in module.parameters()])
        check = torch.stack([flat.sum(), (flat * flat).sum()])
    gathered = [torch.empty_like(check) for _ in range(d.world)]
    dist.all_gather(gathered, check)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"DDP replicas differ after training: checksums {[g.tolist() for g in gathered]}")
