"""Decision Transformer (Chen et al. 2021, "Decision Transformer: Reinforcement Learning via Sequence
Modeling"): a causal transformer over the last K steps of (return-to-go, state, action) tokens that predicts the
action from each state token; acting on a prompted target return is acting like the demonstrations that
received it.

    tokens   (R_1, s_1, a_1, ..., R_K, s_K, a_K): R_t = sum_{t' >= t} r_t' / return_scale, each through its
             own linear embedding, plus a learned position per token                      (DT Sec. 3, Alg. 1)
    a_hat_t  = tanh(Linear(h(s_t)))   (causal attention: s_t sees R_<=t, s_<=t, a_<t, never a_t)
    L        = mean over history steps inside the episode of ||a_hat_t - a_t||^2   (normalised actions, Alg. 1)
At evaluation R_1 is the prompted target return and R_{t+1} = R_t - r_t (the reward received); the chunk
executor keeps that return and the executed actions as history (``history_inputs``) and the rollout reports
each reward to it.

Differences from the paper, for a CPU-sized low-dimensional setting: no absolute timestep embedding (a learned
position per token in the window instead), pre-norm ``nn.TransformerEncoder`` layers instead of GPT-2, and
before the episode's first step the window holds the first observation, its return-to-go and zero actions (as
the chunk sampler pads the history), masked out of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, check_transformer, register_policy


@dataclass(frozen=True)
class DTConfig(PolicyConfig):
    """Decision Transformer (Chen et al. 2021): acts on a context of (return-to-go, state, action) tokens."""

    n_obs_steps: int = 20  # K: context length in steps (paper: 20 for MuJoCo)
    action_norm: str = "min_max"  # the tanh output lives in [-1, 1]
    return_scale: float = 1000.0  # returns-to-go are divided by this (paper: 1000 for MuJoCo)
    d_model: int = 64  # transformer width (paper: 128)
    n_heads: int = 4  # attention heads (must divide d_model; paper: 1)
    n_layers: int = 2  # transformer layers (paper: 3)
    dropout: float = 0.1  # dropout in every layer (paper: 0.1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon != 1 or self.n_action_steps != 1:
            raise InvalidInputError(
                f"dt predicts one action per step: horizon and n_action_steps must be 1, got "
                f"{self.horizon}, {self.n_action_steps}"
            )
        if self.action_norm != "min_max":
            raise InvalidInputError(f"action_norm must be 'min_max' for dt (tanh output), got {self.action_norm!r}")
        if not self.return_scale > 0:
            raise InvalidInputError(f"return_scale must be > 0, got {self.return_scale}")
        check_transformer(self.d_model, self.n_heads, self.n_layers, self.dropout)


@register_policy
class DecisionTransformerPolicy(Policy):
    name = "dt"
    config_class = DTConfig
    history_inputs = (keys.HISTORY_ACTION, keys.HISTORY_RETURN_TO_GO)
    train_defaults = {"lr": 1e-3, "batch_size": 64, "weight_decay": 1e-4}  # paper: lr 1e-4, batch 64

    def __init__(self, config: DTConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.config: DTConfig = config
        c, d = config, config.d_model
        self.embed_return = nn.Linear(1, d)
        self.embed_state = nn.Linear(self.step_dim, d)  # [image features, state] per step
        self.embed_action = nn.Linear(c.act_dim, d)
        self.pos = nn.Parameter(torch.zeros(1, 3 * c.n_obs_steps, d))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d, c.n_heads, 4 * d, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, c.n_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.action_head = nn.Sequential(nn.Linear(d, c.act_dim), nn.Tanh())
        mask = nn.Transformer.generate_square_subsequent_mask(3 * c.n_obs_steps)
        self.register_buffer("causal_mask", mask, persistent=False)

    def _check_history(self, obs: Observation, action: torch.Tensor, return_to_go: torch.Tensor) -> None:
        B, K = (obs if isinstance(obs, torch.Tensor) else obs[keys.OBS]).shape[:2]
        if tuple(action.shape) != (B, K, self.config.act_dim) or tuple(return_to_go.shape) != (B, K):
            raise InvalidInputError(
                f"dt: history_action must be (B, {K}, {self.config.act_dim}) and history_return_to_go "
                f"(B, {K}), got {tuple(action.shape)} and {tuple(return_to_go.shape)}"
            )

    def forward(self, obs: Observation, action: torch.Tensor, return_to_go: torch.Tensor) -> torch.Tensor:
        """obs (B, K, obs_dim), action (B, K, act_dim) in env units (the action at step K is never seen by its
        own prediction), return_to_go (B, K) -> normalised predicted actions (B, K, act_dim)."""
        s = self.embed_state(self.encode_steps(obs))  # (B, K, d_model); checks obs
        self._check_history(obs, action, return_to_go)
        B, K = s.shape[:2]
        r = self.embed_return((return_to_go / self.config.return_scale).unsqueeze(-1))
        a = self.embed_action(self.action_normalizer.normalize(action))
        tokens = torch.stack([r, s, a], dim=2).reshape(B, 3 * K, -1) + self.pos  # (R_1, s_1, a_1, R_2, ...)
        h = self.blocks(tokens, mask=self.causal_mask, is_causal=True)
        predicted: torch.Tensor = self.action_head(h[:, 1::3])  # read out at the state tokens
        return predicted

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        self.chunk_targets(batch)  # shape check of the (unused) chunk
        action, is_pad = batch[keys.HISTORY_ACTION], batch[keys.HISTORY_IS_PAD]
        predicted = self(batch[keys.OBS], action, batch[keys.HISTORY_RETURN_TO_GO])
        error = ((predicted - self.action_normalizer.normalize(action)) ** 2).mean(-1)  # (B, K)
        valid = (~is_pad).float()
        loss = (error * valid).sum() / valid.sum().clamp_min(1.0)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def predict_chunk(
        self,
        obs: Observation,
        generator: torch.Generator | None = None,
        history_action: torch.Tensor | None = None,
        history_return_to_go: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The action for the last step of the window, (B, 1, act_dim) in env units. ``history_action``
        (B, K, act_dim) holds the actions executed at the earlier steps (its last row is ignored) and
        ``history_return_to_go`` (B, K) the return still wanted at each step."""
        if history_action is None or history_return_to_go is None:
            raise InvalidInputError(
                "dt is return-conditioned: predict_chunk needs history_action and history_return_to_go "
                "(evaluate with a target return, e.g. `imitlab eval --target-return R`)"
            )
        predicted = self(obs, history_action, history_return_to_go)[:, -1:]
        return self.action_normalizer.unnormalize(predicted)
