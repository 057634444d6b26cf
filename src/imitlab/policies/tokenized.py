"""Tokenized-action head (RT-2, Brohan et al. 2023; OpenVLA, Kim et al. 2024): every action number becomes one
of ``n_bins`` discrete tokens, and the policy is a classifier over those tokens.

Each action dimension is cut into n_bins uniform bins over the dataset's range [min, max]. With min_max
normalisation the range is [-1, 1] and, with bin width w = 2 / n_bins (normalised units):
    k(a) = clamp(floor((a + 1) / w), 0, n_bins - 1)          (tokenise, RT-2 Sec. 3.2 "action as tokens")
    a(k) = -1 + (k + 1/2) w                                   (detokenise: the bin centre)
so the round trip is off by at most w / 2, i.e. (max - min) / (2 n_bins) in environment units.
The head outputs logits over the n_bins tokens of each of the D = H * act_dim action numbers and is trained with
    L = mean over non-padded steps of  - log softmax(logits)[k(a)]          (token cross-entropy)
Two ways to produce the logits:
  * parallel: an MLP on the flattened normalised obs history outputs all D token distributions at
    once; the tokens are independent given the observation (RT-1-style per-dimension tokens).
  * autoregressive (default): a small causal transformer predicts the tokens one at a time, in the order
    (step 0, dim 0), (step 0, dim 1), ..., (step H-1, dim act_dim-1), each conditioned on an observation token
    and on the tokens before it: p(k | o) = prod_i p(k_i | o, k_<i) (RT-2 / OpenVLA decoding). Training is
    teacher-forced; inference feeds each chosen token back in.
Decoding is argmax (temperature 0) or a draw from softmax(logits / temperature).

Defaults: autoregressive tokens sampled at temperature 1, not parallel tokens at argmax, which kept one detour
on two-path (docs/heads.md, "Defaults").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, check_transformer, masked_mean, register_policy
from imitlab.policies.denoisers import hold_last_valid_action
from imitlab.policies.draws import TorchDraws
from imitlab.policies.mlp import mlp
from imitlab.sampling import loops


@dataclass(frozen=True)
class TokenizedConfig(PolicyConfig):
    """Actions as discrete tokens (RT-2 style binning), predicted independently or autoregressively."""

    # --- chunking and tokens ---
    horizon: int = 8  # H: actions per chunk
    n_action_steps: int = 4  # actions executed before re-planning
    action_norm: str = "min_max"  # required: bins are uniform over the normalised range [-1, 1]
    n_bins: int = 256  # tokens per action dimension (RT-2 / OpenVLA use 256)
    # --- network ---
    hidden_dim: int = 256  # MLP width (parallel: the whole head; autoregressive: the obs encoder)
    num_layers: int = 2  # MLP hidden layers
    autoregressive: bool = True  # True: causal transformer, token by token; False: independent tokens from one MLP
    # --- sampling ---
    temperature: float = 1.0  # 0: argmax token; > 0: sample from softmax(logits / temperature)
    # --- the autoregressive transformer (autoregressive=True only) ---
    d_model: int = 64  # autoregressive transformer width
    n_heads: int = 4  # autoregressive attention heads (must divide d_model)
    n_layers: int = 2  # autoregressive transformer layers
    dropout: float = 0.0  # autoregressive transformer dropout

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.action_norm != "min_max":
            raise InvalidInputError(
                f"action_norm must be 'min_max' for tokenized (bins are uniform over [-1, 1]), got {self.action_norm!r}"
            )
        if self.n_bins < 2:
            raise InvalidInputError(f"n_bins must be >= 2, got {self.n_bins}")
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise InvalidInputError(f"hidden_dim and num_layers must be >= 1, got {self.hidden_dim}, {self.num_layers}")
        if self.temperature < 0:
            raise InvalidInputError(f"temperature must be >= 0 (0 = argmax), got {self.temperature}")
        check_transformer(self.d_model, self.n_heads, self.n_layers, self.dropout)


def to_tokens(action: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Normalised actions in [-1, 1] (any shape) -> bin indices (same shape, int64) in [0, n_bins). Values
    outside [-1, 1] fall into the end bins."""
    k = torch.floor((action + 1.0) * (n_bins / 2.0)).long()
    return k.clamp(0, n_bins - 1)


def from_tokens(tokens: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Bin indices (any shape) -> the bin centres -1 + (k + 1/2) * 2 / n_bins, in normalised units."""
    return loops.token_centres(tokens, n_bins)  # type: ignore[no-any-return]


class CausalTokenDecoder(nn.Module):
    """Pre-norm transformer over [obs token, embed(k_0), ..., embed(k_{L-2})] with a causal mask; position i
    outputs the logits of token k_i, so it sees the observation and k_<i only (GPT-style decoder)."""

    causal_mask: torch.Tensor  # (L, L) buffer: -inf above the diagonal

    def __init__(self, cond_dim: int, length: int, c: TokenizedConfig):
        super().__init__()
        self.length = length  # L = H * act_dim tokens
        self.obs_encoder = mlp(cond_dim, c.d_model, c.hidden_dim, c.num_layers)
        self.token_embed = nn.Embedding(c.n_bins, c.d_model)
        self.pos = nn.Parameter(torch.zeros(1, length, c.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_heads, 4 * c.d_model, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(c.d_model), nn.Linear(c.d_model, c.n_bins))
        self.register_buffer("causal_mask", nn.Transformer.generate_square_subsequent_mask(length), persistent=False)

    def forward(self, cond: torch.Tensor, prev_tokens: torch.Tensor) -> torch.Tensor:
        """cond (B, cond_dim), prev_tokens (B, n) with n < L: the first n tokens -> logits (B, n + 1, n_bins)
        for tokens 0..n."""
        n = prev_tokens.shape[1]
        assert n < self.length, f"at most {self.length - 1} previous tokens, got {n}"
        x = torch.cat([self.obs_encoder(cond)[:, None], self.token_embed(prev_tokens)], dim=1)  # (B, n + 1, d)
        h = self.blocks(x + self.pos[:, : n + 1], mask=self.causal_mask[: n + 1, : n + 1], is_causal=True)
        logits: torch.Tensor = self.head(h)
        return logits


@register_policy
class TokenizedPolicy(Policy):
    name = "tokenized"
    config_class = TokenizedConfig
    step_milliseconds = 56.0
    runtime_head = "tokenized"
    train_defaults = {"batch_size": 128}  # the batch the autoregressive head was measured at on two-path

    def __init__(self, config: TokenizedConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.config: TokenizedConfig = config
        c = config
        cond_dim = self.cond_dim
        self.length = c.horizon * c.act_dim  # L: tokens per chunk
        if c.autoregressive:
            self.decoder = CausalTokenDecoder(cond_dim, self.length, c)
        else:
            self.net = mlp(cond_dim, self.length * c.n_bins, c.hidden_dim, c.num_layers)

    def _condition(self, obs: Observation) -> torch.Tensor:
        """obs (B, T_obs, obs_dim) in env units -> flattened normalised history (B, T_obs * obs_dim)."""
        return self.encode_observation(obs)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        action, is_pad = self.chunk_targets(batch)
        B = action.shape[0]
        cond = self._condition(batch[keys.OBS])
        # teacher forcing feeds the target tokens back in: padded steps hold the last valid action so their
        # values cannot reach a real step's prediction (parallel mode ignores them anyway)
        action = hold_last_valid_action(action, is_pad)
        tokens = to_tokens(self.action_normalizer.normalize(action), c.n_bins)  # (B, H, act_dim)
        if c.autoregressive:
            flat = tokens.reshape(B, self.length)  # step-major, dim-minor
            logits = self.decoder(cond, flat[:, :-1])  # (B, L, n_bins)
        else:
            logits = self.net(cond)
        logits = logits.reshape(B, c.horizon, c.act_dim, c.n_bins)
        ce = F.cross_entropy(logits.permute(0, 3, 1, 2), tokens, reduction="none")  # (B, H, act_dim)
        loss = masked_mean(ce, is_pad)
        accuracy = masked_mean((logits.argmax(-1) == tokens).float(), is_pad)
        return loss, {"ce": float(loss.detach()), "token_accuracy": float(accuracy)}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.config
        cond = self._condition(obs)
        B = cond.shape[0]
        draws = TorchDraws(generator, cond.device)

        def pick(logits: torch.Tensor) -> torch.Tensor:
            return loops.pick_tokens(logits, c.temperature, draws)  # type: ignore[no-any-return]

        if c.autoregressive:  # one token at a time, each fed back in
            tokens = loops.decode_tokens(lambda t, i: self.decoder(cond, t[:, :i])[:, i], B, self.length, cond, pick)
        else:
            tokens = pick(self.net(cond).view(B, self.length, c.n_bins))  # (B, L)
        chunk = from_tokens(tokens.view(B, c.horizon, c.act_dim), c.n_bins)
        return self.action_normalizer.unnormalize(chunk)

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        c = self.config
        if c.autoregressive:
            return {"decoder": lambda cond, tokens: self.decoder(cond, tokens[:, : self.length - 1])}
        return {"logits": lambda cond: self.net(cond).view(-1, self.length, c.n_bins)}

    def sampler_settings(self) -> dict[str, Any]:
        return {"temperature": self.config.temperature, "autoregressive": self.config.autoregressive}


def bin_width(policy: TokenizedPolicy) -> np.ndarray:
    """Width of one bin per action dimension, (act_dim,), in environment units: (max - min) / n_bins (read from
    the policy's normaliser, so it holds for a policy loaded from a checkpoint)."""
    scale = policy.action_normalizer.scale.detach().cpu().numpy().astype(np.float64)  # (max - min) / 2
    return 2.0 * scale / policy.config.n_bins


def round_trip(policy: TokenizedPolicy, actions: np.ndarray) -> np.ndarray:
    """``actions`` (..., act_dim) in environment units, tokenised then decoded to their bin centres."""
    a = torch.as_tensor(np.asarray(actions, dtype=np.float32))
    if a.shape[-1] != policy.config.act_dim:
        raise InvalidInputError(f"actions must end in act_dim={policy.config.act_dim}, got shape {tuple(a.shape)}")
    norm, n_bins = policy.action_normalizer, policy.config.n_bins
    with torch.no_grad():
        a = a.to(norm.scale.device)
        return norm.unnormalize(from_tokens(to_tokens(norm.normalize(a), n_bins), n_bins)).cpu().numpy()


def quantization_error(policy: TokenizedPolicy, actions: np.ndarray) -> float:
    """Mean absolute error, in environment units, of tokenising then detokenising ``actions`` (..., act_dim).
    At most half a bin width for actions inside the dataset's [min, max]."""
    return float(np.abs(round_trip(policy, actions) - np.asarray(actions, dtype=np.float32)).mean())
