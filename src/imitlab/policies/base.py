"""The policy interface every action generator implements, its config base, and the registry.

A policy is a ``torch.nn.Module`` that owns its normalisation statistics (as buffers), so that a checkpoint
alone can act. A training batch holds, by the names in ``core.keys``: ``observation.state`` (B, T_obs, obs_dim),
``action`` (B, H, act_dim), ``action_is_pad`` (B, H); ``predict_chunk`` takes the observation history ``obs``
(B, T_obs, obs_dim).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.registry import Registry
from imitlab.policies.normalize import Normalizer


@dataclass(frozen=True)
class PolicyConfig:
    """Fields every policy shares. Subclasses add their own hyper-parameters, each with a working default."""

    obs_dim: int = 0  # filled from the dataset
    act_dim: int = 0  # filled from the dataset
    n_obs_steps: int = 1  # T_obs: observations the policy conditions on (the latest last)
    horizon: int = 1  # H: actions predicted per chunk
    n_action_steps: int = 1  # actions executed from each chunk before re-planning (receding horizon)
    obs_norm: str = "mean_std"  # "mean_std" or "min_max" (to [-1, 1])
    action_norm: str = "mean_std"  # "mean_std" or "min_max" (to [-1, 1]); generative heads use min_max

    def __post_init__(self) -> None:
        if self.n_obs_steps < 1:
            raise ValueError(f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if not 1 <= self.n_action_steps <= self.horizon:
            raise ValueError(
                f"n_action_steps must be in [1, horizon={self.horizon}], got {self.n_action_steps}; "
                "lower it or raise --chunk-size"
            )
        for field, value in (("obs_norm", self.obs_norm), ("action_norm", self.action_norm)):
            if value not in ("mean_std", "min_max"):
                raise ValueError(f"{field} must be 'mean_std' or 'min_max', got {value!r}")

    def replace(self, **changes: Any) -> PolicyConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_transformer(d_model: int, n_heads: int, n_layers: int, dropout: float) -> None:
    """The config checks every transformer-based head shares: heads divide the width, at least one layer,
    dropout a probability."""
    if d_model < 1 or n_layers < 1 or n_heads < 1 or d_model % n_heads:
        raise ValueError(
            f"d_model must be a multiple of n_heads and n_layers >= 1, got d_model {d_model}, "
            f"n_heads {n_heads}, n_layers {n_layers}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


class Policy(nn.Module):
    """Base class: subclasses set ``name`` and ``config_class`` and implement the two methods below."""

    name: ClassVar[str]
    config_class: ClassVar[type[PolicyConfig]] = PolicyConfig
    train_defaults: ClassVar[dict[str, Any]] = {}  # TrainConfig fields this policy wants by default (e.g. EMA)
    # history beyond the observations that predict_chunk takes as keyword arguments (sequence policies such as
    # dt): keys.HISTORY_ACTION (B, T_obs, act_dim) executed actions, keys.HISTORY_RETURN_TO_GO (B, T_obs); the
    # chunk sampler and the chunk executor both provide them
    history_inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: PolicyConfig, stats: dict[str, dict[str, Any]]):
        super().__init__()
        if config.obs_dim < 1 or config.act_dim < 1:
            raise ValueError(f"config needs obs_dim and act_dim >= 1, got {config.obs_dim}, {config.act_dim}")
        self.config = config
        self.obs_normalizer = Normalizer(stats[keys.OBS], config.obs_norm)
        self.action_normalizer = Normalizer(stats[keys.ACTION], config.action_norm)

    @property
    def device(self) -> torch.device:
        """Where the weights live (every policy's normaliser buffers included); callers move observations here and
        chunks back."""
        return self.obs_normalizer.shift.device

    @classmethod
    def from_config(cls, config: PolicyConfig, dataset_stats: dict[str, dict[str, Any]]) -> Policy:
        return cls(config, dataset_stats)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a batch in environment units: keys.OBS (B, T_obs, obs_dim), keys.ACTION
        (B, H, act_dim), keys.ACTION_IS_PAD (B, H). Padded steps must not contribute. Returns (loss, metrics)."""
        raise NotImplementedError

    def predict_chunk(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Action chunk (B, H, act_dim) in environment units for observation history obs (B, T_obs, obs_dim);
        stochastic policies draw from ``generator`` so a seeded generator makes sampling reproducible."""
        raise NotImplementedError

    def chunk_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's action chunk (B, H, act_dim) and padding mask (B, H), checked against this config."""
        c = self.config
        action, is_pad = batch[keys.ACTION], batch[keys.ACTION_IS_PAD]
        B = action.shape[0]
        if tuple(action.shape) != (B, c.horizon, c.act_dim):
            raise ValueError(f"{self.name}: action must be (B, {c.horizon}, {c.act_dim}), got {tuple(action.shape)}")
        if tuple(is_pad.shape) != (B, c.horizon):
            raise ValueError(f"{self.name}: action_is_pad must be (B, {c.horizon}), got {tuple(is_pad.shape)}")
        return action, is_pad

    def check_obs(self, obs: torch.Tensor) -> None:
        expected = (self.config.n_obs_steps, self.config.obs_dim)
        if obs.ndim != 3 or tuple(obs.shape[1:]) != expected:
            raise ValueError(f"{self.name}: obs must be (B, {expected[0]}, {expected[1]}), got {tuple(obs.shape)}")


def _register_builtin_policies() -> None:
    import imitlab.policies  # noqa: F401  (its modules register the built-in policies)


# Every policy by ``cls.name``, for the CLI, trainer, evaluator and studies; a policy module registers its class
# with the ``@register_policy`` decorator.
POLICIES: Registry[type[Policy]] = Registry("policy", load=_register_builtin_policies)
register_policy = POLICIES.register
get_policy_class = POLICIES.get


def create_policy(name: str, stats: dict[str, dict[str, Any]], **config_fields: Any) -> Policy:
    """Build policy ``name`` from config fields (obs_dim and act_dim included) and dataset statistics."""
    cls = get_policy_class(name)
    known = {f.name for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(config_fields) - known)
    if unknown:
        raise ValueError(
            f"policy {name!r} has no config field {', '.join(unknown)}; its fields: {', '.join(sorted(known))}"
        )
    return cls.from_config(cls.config_class(**config_fields), stats)


@torch.inference_mode()
def sample_chunks(policy: Policy, obs: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Chunks (B, H, act_dim) on the CPU for observation histories ``obs`` (B, T_obs, obs_dim), in eval mode,
    drawn from a generator seeded with ``seed``, wherever the policy's weights live."""
    chunk = policy.eval().predict_chunk(obs.to(policy.device), generator=torch.Generator().manual_seed(seed))
    return chunk.cpu()


def masked_mean(values: torch.Tensor, action_is_pad: torch.Tensor) -> torch.Tensor:
    """Mean of per-step values (B, H, ...) over the steps that are not padding (action_is_pad: (B, H))."""
    weights = (~action_is_pad).to(values.dtype)
    while weights.ndim < values.ndim:
        weights = weights.unsqueeze(-1)
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)
