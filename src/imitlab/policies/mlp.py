"""Behaviour cloning with an MLP: ``bc`` predicts one action, ``chunked-bc`` a chunk of H actions.

Both regress the normalised action(s) with a masked mean-squared error, so with two equally likely actions
for one observation they predict the average: the multimodality failure the generative heads fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, masked_mean, register_policy

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class MLPConfig(PolicyConfig):
    hidden_dim: int = 256  # width of each hidden layer
    num_layers: int = 3  # hidden layers
    dropout: float = 0.0  # dropout after each hidden activation
    activation: str = "relu"  # hidden activation, "relu" or "tanh" (the PPO actor's, for a bc run to start BC→RL)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise InvalidInputError(f"hidden_dim and num_layers must be >= 1, got {self.hidden_dim}, {self.num_layers}")
        if self.activation not in ACTIVATIONS:
            raise InvalidInputError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class ChunkedMLPConfig(MLPConfig):
    horizon: int = 8  # H: actions per predicted chunk
    n_action_steps: int = 4  # actions executed before re-planning


def mlp(
    in_dim: int,
    out_dim: int,
    hidden_dim: int,
    num_layers: int,
    dropout: float = 0.0,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """in_dim -> num_layers x (Linear, activation, Dropout) -> Linear out_dim. The parameter names (``0.weight``,
    ``2.weight``, ...) do not depend on the activation, so weights move between ReLU and tanh networks."""
    layers: list[nn.Module] = []
    for i in range(num_layers):
        layers += [nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim), activation()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden_dim if num_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


@register_policy
class ChunkedBCPolicy(Policy):
    """MLP from the flattened normalised observation history to H normalised actions, masked MSE."""

    name = "chunked-bc"
    config_class: ClassVar[type[PolicyConfig]] = ChunkedMLPConfig
    config: MLPConfig
    runtime_head = "mlp"

    def __init__(self, config: MLPConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        c = config
        self.net = mlp(
            self.cond_dim,
            c.horizon * c.act_dim,
            c.hidden_dim,
            c.num_layers,
            c.dropout,
            ACTIVATIONS[c.activation],
        )

    def _forward(self, obs: Observation) -> torch.Tensor:
        """obs (B, T_obs, obs_dim) in env units -> normalised actions (B, H, act_dim)."""
        flat = self.encode_observation(obs)
        out: torch.Tensor = self.net(flat)
        return out.view(len(flat), self.config.horizon, self.config.act_dim)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        target = self.action_normalizer.normalize(batch[keys.ACTION])
        loss = masked_mean((self._forward(batch[keys.OBS]) - target) ** 2, batch[keys.ACTION_IS_PAD])
        return loss, {"mse": loss.item()}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.action_normalizer.unnormalize(self._forward(obs))

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        return {"net": self.net}


@register_policy
class BCPolicy(ChunkedBCPolicy):
    """Single-step behaviour cloning: chunked BC with H = 1."""

    name = "bc"
    config_class = MLPConfig

    def __init__(self, config: MLPConfig, stats: dict[str, dict[str, Any]]):
        if config.horizon != 1:
            raise InvalidInputError(f"bc predicts one action (horizon 1), got horizon {config.horizon}; use chunked-bc")
        super().__init__(config, stats)
