"""Multi-process training under `torchrun`: the process group, the device, and who writes files.

One process per device (GPU) or per share of the CPU; gloo on CPU, NCCL on GPU. Without
torchrun (WORLD_SIZE unset) everything here is a no-op for a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0 logs, writes previews and checkpoints."""
        return self.rank == 0

    def mean(self, values: list[float]) -> list[float]:
        """The mean over processes of each value (identity for one process)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return (tensor / self.world).tolist()

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def is_main_process() -> bool:
    """Whether this process is rank 0 (or the only one): the one that writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def setup() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank=int(os.environ.get("RANK", "0")), world=world, device=device)


def teardown(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
