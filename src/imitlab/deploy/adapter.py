"""A deployed (ONNX) policy behind the surface the chunk executor and ``evaluate`` drive, so success is measured
on exactly what is deployed, by the same executor as the eager policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from imitlab.deploy.runtime import DeployedPolicy, load
from imitlab.policies.base import Observation, PolicyConfig, get_policy_class


class ExecutorPolicy:
    """What ``ChunkExecutor`` reads of a policy (name, typed config, history_inputs, device, eval, predict_chunk)
    over a ``DeployedPolicy``. Each chunk draws one seed from the executor's torch generator and samples with a
    numpy generator seeded by it, so a rollout is reproducible from the executor's seeds."""

    history_inputs: tuple[str, ...] = ()

    def __init__(self, deployed: DeployedPolicy):
        self.deployed = deployed
        self.name = deployed.name
        self.cameras = tuple(deployed.cameras)  # the executor keeps these cameras' frame histories
        self.tasks = deployed.tasks  # the executor passes a multi-task policy the index of its task
        self.dict_obs = bool(self.cameras or self.tasks)
        self.config: PolicyConfig = get_policy_class(deployed.name).config_class(**deployed.config)
        self.device = torch.device("cpu")

    def eval(self) -> ExecutorPolicy:
        return self

    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        """obs (B, T_obs, obs_dim), or the dict form with cameras -> chunk (B, H, act_dim), torch tensors in
        environment units."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        arrays = obs.cpu().numpy() if isinstance(obs, torch.Tensor) else {k: v.cpu().numpy() for k, v in obs.items()}
        chunk = self.deployed.predict_chunk(arrays, np.random.default_rng(seed))
        return torch.from_numpy(chunk)


def load_for_executor(directory: Path, threads: int = 0) -> ExecutorPolicy:
    """The export in ``directory``, ready for ``ChunkExecutor`` / ``evaluate``."""
    return ExecutorPolicy(load(directory, threads))
