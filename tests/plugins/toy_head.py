"""A plug-in head in one file: a linear map from the observation history to an action chunk, with a runtime head
of its own, so it trains, saves, exports and runs in the torch-free runtime without another file being edited
(tests/plugins/test_plugins.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from imitlab.core import keys
from imitlab.deploy.manifest import BATCH, RuntimeHead, condition_dim, register_runtime_head
from imitlab.policies.base import Observation, Policy, PolicyConfig, masked_mean, register_policy

NAME = "toy-linear"


@dataclass(frozen=True)
class LinearConfig(PolicyConfig):
    horizon: int = 2


@register_policy
class LinearPolicy(Policy):
    name = NAME
    config_class = LinearConfig
    runtime_head = NAME

    def __init__(self, config: LinearConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.linear = nn.Linear(self.cond_dim, config.horizon * config.act_dim)

    def _chunk(self, obs: Observation) -> torch.Tensor:
        cond = self.encode_observation(obs)
        return self.linear(cond).view(len(cond), self.config.horizon, self.config.act_dim)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        target = self.action_normalizer.normalize(batch[keys.ACTION])
        loss = masked_mean((self._chunk(batch[keys.OBS]) - target) ** 2, batch[keys.ACTION_IS_PAD])
        return loss, {"mse": loss.item()}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.action_normalizer.unnormalize(self._chunk(obs))

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        return {"linear": self.linear}


def _graphs(c: dict[str, Any]) -> dict:
    return {
        "linear": {
            "inputs": {"cond": [BATCH, condition_dim(c)]},
            "outputs": {"out": [BATCH, c["horizon"] * c["act_dim"]]},
        }
    }


def _sample(p: Any, cond: np.ndarray, draws: Any) -> np.ndarray:
    return p.run("linear", cond=cond)[0].reshape(len(cond), p.horizon, p.act_dim)


register_runtime_head(RuntimeHead(NAME, _graphs, _sample))
