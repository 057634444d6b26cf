"""Data-parallel training under ``torchrun``: the process group, each rank's shard of a step's draws, and the few
collectives the training loop needs. A plain process is a world of one: nothing is initialised and every helper
is the identity, so the single-process path of ``train.py`` is unchanged.

``TrainConfig.batch_size`` stays the effective batch per optimizer step: every rank draws the same global batch
indices from the same seeded generator (so the sampler's state, and resume, are those of one process) and keeps
its own slice ``indices[rank::world]``; DistributedDataParallel averages the gradients, so W processes take the
step one process would take with the same batch (up to float summation order and per-rank loss noise).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from imitlab.core.errors import InvalidInputError
from imitlab.data.sampler import ChunkSampler
from imitlab.policies.base import Policy

# one training step's loss: batch -> (loss, metrics), as Policy.compute_loss
LossFn = Callable[[dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]

# gloo on the CPU, nccl when the ranks train on GPUs; IMITLAB_DIST_BACKEND overrides
BACKEND_VARIABLE = "IMITLAB_DIST_BACKEND"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, metrics and progress."""
        return self.rank == 0

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over ranks (a collective: every rank must call it at the same step)."""
        if self.size == 1:
            return float(value.detach())
        value = value.detach().clone()
        dist.all_reduce(value)
        return float(value) / self.size

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` as a list in rank order (None in a world of one); a collective."""
        if self.size == 1:
            return None
        objects: list[Any] = [None] * self.size
        dist.all_gather_object(objects, obj)
        return objects

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def resolve_device(spec: str = "auto") -> torch.device:
    """The device this process trains on: "auto" is the GPU of this rank (LOCAL_RANK under ``torchrun``) when CUDA
    is available and the CPU otherwise; "cuda" without a GPU is an error that says so."""
    if spec not in DEVICES:
        raise InvalidInputError(f"device must be one of {', '.join(DEVICES)}, got {spec!r}")
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InvalidInputError(
            "device 'cuda' asked for, but torch sees no CUDA GPU (torch.cuda.is_available() is "
            "False; the CPU build of torch has none); use --device cpu or auto"
        )
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def init_world(device: torch.device = torch.device("cpu")) -> World:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE, RANK, MASTER_ADDR,
    MASTER_PORT), over nccl for GPU ranks and gloo for CPU ones; without WORLD_SIZE > 1 this is a world of one and
    nothing is initialised."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        default = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=os.environ.get(BACKEND_VARIABLE, default))
    return World(dist.get_rank(), dist.get_world_size())


def sample_shard(
    sampler: ChunkSampler, batch_size: int, generator: torch.Generator, world: World
) -> dict[str, torch.Tensor]:
    """This rank's disjoint part of one step's ``batch_size`` draws (all of them in a world of one). The draws are
    exactly ``ChunkSampler.sample``'s, so W ranks together see the batch one process would."""
    if world.size == 1:
        return sampler.sample(batch_size, generator)
    if batch_size % world.size:
        raise InvalidInputError(
            f"batch_size {batch_size} (the effective batch per step) must be divisible by the "
            f"{world.size} processes of the DDP world; choose a multiple of {world.size}"
        )
    indices = torch.randint(len(sampler), (batch_size,), generator=generator)
    return sampler.get(indices[world.rank :: world.size])


class LossModule(torch.nn.Module):
    """``policy.compute_loss`` as a forward pass, so DistributedDataParallel can hook its backward."""

    def __init__(self, policy: Policy):
        super().__init__()
        self.policy = policy

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.policy.compute_loss(batch)


def data_parallel(policy: Policy, world: World, device: torch.device = torch.device("cpu")) -> LossFn:
    """The loss function of one step: ``policy.compute_loss`` alone, or wrapped in DDP (gradients averaged)."""
    if world.size == 1:
        return policy.compute_loss
    # static_graph: the same parameters take part in every step, and a head may leave some out of its loss (the
    # actor-critic's value net and log_std under the BC loss); DDP learns which on the first step
    device_ids = [device] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(LossModule(policy), device_ids=device_ids, static_graph=True)
