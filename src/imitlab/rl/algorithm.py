"""The algorithm interface (``update`` from one batch of episodes, optional BC regulariser) and the registry of
algorithms."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from imitlab.core.registry import Registry
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.rl.config import PGConfig
from imitlab.rl.sampling import Batch


class Algorithm:
    """An algorithm: ``update(batch, progress)`` improves ``policy`` from one batch of episodes."""

    name: ClassVar[str]
    config_class: ClassVar[type[PGConfig]]
    # the settings that work on an env are the env's (``EnvSpec.rl_defaults[name]``); these are for an actor that
    # starts from a bc run (--init-from), over the env's (explicit ones win); the
    # bc network computes on inputs normalised with its own statistics, so the running normalisation stays off
    init_defaults: ClassVar[dict[str, Any]] = {"normalize_obs": False}

    def __init__(self, policy: ActorCriticPolicy, config: PGConfig, bc_data: Path | None = None):
        self.policy, self.config = policy, config
        self.bc_sampler = None
        if bc_data is not None and config.bc_coef > 0:
            from imitlab.data.reader import load_dataset
            from imitlab.data.sampler import ChunkSampler

            self.bc_sampler = ChunkSampler(load_dataset(bc_data), 1, 1)

    def bc_loss(self, generator: torch.Generator) -> torch.Tensor:
        """BC regulariser: the actor's BC loss on demonstration frames (0 when off)."""
        if self.bc_sampler is None:
            return torch.zeros(())
        return (
            self.config.bc_coef
            * self.policy.compute_loss(self.bc_sampler.sample(self.config.bc_batch_size, generator))[0]
        )

    def update(self, batch: Batch, progress: float, generator: torch.Generator) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _register_builtin_algos() -> None:
    import imitlab.rl  # noqa: F401  (its modules register the built-in algorithms)


ALGOS: Registry[type[Algorithm]] = Registry("algorithm", load=_register_builtin_algos)
register_algo = ALGOS.register
get_algo = ALGOS.get
