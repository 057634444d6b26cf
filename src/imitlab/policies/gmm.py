"""Gaussian-mixture head (mixture density network, Bishop 1994; as used in robomimic's BC-GMM, Mandlekar et
al. 2021): a K-component mixture with diagonal covariance over the whole normalised action chunk.

An MLP on the flattened normalised obs history outputs, per component k, a logit w_k, a mean mu_k and a
log-std log sigma_k, each of the last two over D = H * act_dim numbers. With valid (non-padded) dims V:
    log p(a | o) = logsumexp_k [ log softmax(w)_k + sum_{d in V} log N(a_d; mu_kd, sigma_kd^2) ]    (MDN eq.)
    L = - log p(a | o) / |V|                      (NLL per valid action number, averaged over the batch)
Sampling draws a component k ~ softmax(w) and returns its mean mu_k (default) or a draw from N(mu_k, sigma_k).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, register_policy
from imitlab.policies.draws import TorchDraws
from imitlab.policies.mlp import mlp
from imitlab.sampling import loops


@dataclass(frozen=True)
class GMMConfig(PolicyConfig):
    """Gaussian mixture head (robomimic's BC-GMM) over a whole chunk."""

    # --- chunking ---
    horizon: int = 8  # H: actions per chunk (the mixture is over the whole chunk)
    n_action_steps: int = 4  # actions executed before re-planning
    action_norm: str = "min_max"  # actions in [-1, 1]
    # --- network: an MLP from the observation history to K x (logit, means, log-stds) ---
    n_components: int = 5  # K, mixture components (robomimic's default)
    hidden_dim: int = 256  # MLP width
    num_layers: int = 2  # MLP hidden layers
    min_log_std: float = -5.0  # lower end of the range log sigma is squashed into (normalised units)
    max_log_std: float = 1.0  # upper end of that range
    # --- sampling ---
    sample_from_component: bool = False  # False: return the chosen component's mean; True: a draw from it

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_components < 1:
            raise InvalidInputError(f"n_components must be >= 1, got {self.n_components}")
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise InvalidInputError(f"hidden_dim and num_layers must be >= 1, got {self.hidden_dim}, {self.num_layers}")
        if not self.min_log_std < self.max_log_std:
            raise InvalidInputError(f"need min_log_std < max_log_std, got {self.min_log_std}, {self.max_log_std}")


@register_policy
class GMMPolicy(Policy):
    name = "gmm"
    config_class = GMMConfig
    # the mixture needs longer than the regressors to separate its components: 70-84 % on two-path at the trainer's
    # 3000 steps, 99 % at 10000 (docs/heads.md, "Defaults")
    train_defaults = {"steps": 10000}
    runtime_head = "gmm"

    def __init__(self, config: GMMConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.config: GMMConfig = config
        c = config
        self.dim = c.horizon * c.act_dim  # D
        # outputs per component: 1 logit + D means + D log-stds
        self.net = mlp(self.cond_dim, c.n_components * (1 + 2 * self.dim), c.hidden_dim, c.num_layers)
        # spread the components' initial means over the normalised action range [-1, 1]: with all means near 0,
        # the symmetric optimum "one broad component covering every mode" traps training (mode averaging)
        K = c.n_components
        out_layer = self.net[-1]
        assert isinstance(out_layer, nn.Linear)
        with torch.no_grad():
            out_layer.bias[K : K + K * self.dim].uniform_(-1.0, 1.0)

    def mixture(self, obs: Observation) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs (B, T_obs, obs_dim) in env units -> log weights (B, K), means (B, K, D), log-stds (B, K, D),
        over the normalised, flattened chunk (D = H * act_dim)."""
        return self.mixture_of_condition(self.encode_observation(obs))

    def mixture_of_condition(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``mixture`` from the condition vector cond (B, cond_dim) (the exported graph)."""
        c, K, D = self.config, self.config.n_components, self.dim
        out = self.net(cond)
        logits, means, raw_log_std = out.split([K, K * D, K * D], dim=-1)
        # soft clamp keeps a gradient at the edges: log sigma = lo + (hi - lo) * (tanh(raw) + 1) / 2
        log_std = c.min_log_std + (c.max_log_std - c.min_log_std) * 0.5 * (torch.tanh(raw_log_std) + 1)
        B = out.shape[0]
        return logits.log_softmax(-1), means.view(B, K, D), log_std.view(B, K, D)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        action, is_pad = self.chunk_targets(batch)
        B = action.shape[0]
        log_w, mu, log_std = self.mixture(batch[keys.OBS])
        a = self.action_normalizer.normalize(action).reshape(B, 1, self.dim)  # (B, 1, D)
        valid = (~is_pad)[:, :, None].expand(B, c.horizon, c.act_dim).reshape(B, 1, self.dim).to(a.dtype)
        # log N(a_d; mu, sigma^2) = -((a - mu)/sigma)^2 / 2 - log sigma - log(2 pi) / 2, per dim: (B, K, D)
        log_normal = -0.5 * ((a - mu) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        log_normal = torch.where(valid.bool(), log_normal, torch.zeros_like(log_normal))  # padded dims: log 1
        log_lik = torch.logsumexp(log_w + log_normal.sum(-1), dim=-1)  # (B,): MDN mixture log-likelihood
        n_valid = valid.sum(dim=(1, 2)).clamp_min(1.0)  # (B,)
        loss = -(log_lik / n_valid).mean()
        entropy = -(log_w.exp() * log_w).sum(-1).mean()
        return loss, {"nll": float(loss.detach()), "mixture_entropy": float(entropy.detach())}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.config
        log_w, mu, log_std = self.mixture(obs)
        draws = TorchDraws(generator, mu.device, mu.dtype)
        chosen = loops.draw_from_mixture(log_w, mu, log_std, draws, c.sample_from_component)  # (B, D)
        return self.action_normalizer.unnormalize(chosen.view(len(chosen), c.horizon, c.act_dim))

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        return {"mixture": self.mixture_of_condition}

    def sampler_settings(self) -> dict[str, Any]:
        return {"sample_from_component": self.config.sample_from_component}
