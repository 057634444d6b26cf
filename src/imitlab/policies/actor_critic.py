"""A stochastic actor with a value critic, for policy-gradient RL (``imitlab rl``): a Gaussian over continuous
actions (state-independent or state-dependent log-std) or a categorical over discrete actions, plus V(s).

Actions are drawn in the policy's *normalised* action units ``u`` (continuous: ``a = u * scale + shift`` in env
units, the same affine map ``bc`` regresses in, so a ``bc`` network's output is this actor's mean; discrete: the
action index). Log-probabilities are of ``u``; the affine map adds a constant to them, which cancels in every
gradient and ratio.

As a ``Policy`` it acts deterministically (the mean, or the most likely action) in ``predict_chunk``, and its
``compute_loss`` is behaviour cloning of the mean (MSE, as ``bc``) or of the logits (cross-entropy), which is
also the BC regulariser of BC→RL fine-tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, register_policy
from imitlab.policies.mlp import ACTIVATIONS, mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class ActorCriticConfig(PolicyConfig):
    """The RL actor (a Gaussian or categorical policy) and its critic V(s), two MLPs on the latest observation."""

    # --- the action distribution ---
    distribution: str = "gaussian"  # "gaussian" (continuous actions) or "categorical" (discrete, act_dim 1)
    n_actions: int = 0  # categorical: number of discrete actions
    log_std: str = "state_independent"  # gaussian: "state_independent" (a parameter) or "state_dependent" (a head)
    init_log_std: float = 0.0  # gaussian: initial log std in normalised action units
    # --- networks ---
    hidden_dim: int = 64  # actor and critic hidden width
    num_layers: int = 2  # actor and critic hidden layers
    activation: str = "tanh"  # "tanh" (PPO's usual choice) or "relu" (as bc, for BC→RL)
    # gaussian: when given (env units, one per action dim), the Gaussian is centred at the mean clamped into
    # [mean_low, mean_high], and gradients pass straight through the clamp
    mean_low: tuple[float, ...] = ()
    mean_high: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        # config.json gives back lists: restore the tuples, so a reloaded config equals the saved one
        object.__setattr__(self, "mean_low", tuple(self.mean_low))
        object.__setattr__(self, "mean_high", tuple(self.mean_high))
        if self.horizon != 1 or self.n_obs_steps != 1:
            raise InvalidInputError(
                f"actor-critic acts on one observation, one action: got n_obs_steps "
                f"{self.n_obs_steps}, horizon {self.horizon}"
            )
        if self.distribution not in ("gaussian", "categorical"):
            raise InvalidInputError(f"distribution must be 'gaussian' or 'categorical', got {self.distribution!r}")
        if self.distribution == "categorical" and (self.n_actions < 2 or self.act_dim != 1):
            raise InvalidInputError(
                f"categorical needs n_actions >= 2 and act_dim 1, got {self.n_actions}, {self.act_dim}"
            )
        if self.log_std not in ("state_independent", "state_dependent"):
            raise InvalidInputError(f"log_std must be 'state_independent' or 'state_dependent', got {self.log_std!r}")
        if self.activation not in ACTIVATIONS:
            raise InvalidInputError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise InvalidInputError(f"hidden_dim and num_layers must be >= 1, got {self.hidden_dim}, {self.num_layers}")
        if self.mean_low or self.mean_high:
            if not len(self.mean_low) == len(self.mean_high) == self.act_dim or self.distribution != "gaussian":
                raise InvalidInputError(
                    f"mean_low and mean_high clamp a Gaussian's mean: give {self.act_dim} values each, "
                    f"got {self.mean_low}, {self.mean_high} for a {self.distribution}"
                )


def gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(u; mean, diag(exp(log_std))^2) summed over the last dim:
    sum_j -(u_j - mu_j)^2 / (2 sigma_j^2) - log sigma_j - log(2 pi) / 2."""
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def clamp_straight_through(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """x clamped into [low, high] in the forward pass, with the identity's gradient in the backward pass."""
    return x + (torch.maximum(torch.minimum(x, high), low) - x).detach()


def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian: sum_j log sigma_j + (1 + log 2 pi) / 2."""
    return (log_std + 0.5 * (1.0 + math.log(2 * math.pi))).sum(-1)


@register_policy
class ActorCriticPolicy(Policy):
    name = "actor-critic"
    config_class = ActorCriticConfig
    takes_task = False  # an RL policy of one env's state
    config: ActorCriticConfig
    mean_bounds: torch.Tensor  # (2,) buffer: [mean_low, mean_high] in env units, when mean_low is set

    def __init__(self, config: ActorCriticConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        c = config
        act = ACTIVATIONS[c.activation]
        out = c.n_actions if c.distribution == "categorical" else c.act_dim
        self.net = mlp(c.obs_dim, out, c.hidden_dim, c.num_layers, activation=act)  # mean or logits
        self.value_net = mlp(c.obs_dim, 1, c.hidden_dim, c.num_layers, activation=act)  # V(s)
        if c.distribution == "gaussian" and c.log_std == "state_independent":
            self.log_std = nn.Parameter(torch.full((c.act_dim,), float(c.init_log_std)))
        elif c.distribution == "gaussian":
            self.log_std_head = nn.Linear(c.hidden_dim, c.act_dim)  # on the actor's last hidden features
            nn.init.zeros_(self.log_std_head.weight)
            nn.init.constant_(self.log_std_head.bias, float(c.init_log_std))
        if c.mean_low:  # env units; normalised per call, as the action normaliser is loaded after construction
            self.register_buffer("mean_bounds", torch.tensor([c.mean_low, c.mean_high]), persistent=False)

    # -- the distribution -------------------------------------------------------------------------------------
    def _heads(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """obs (B, obs_dim) env units -> (mean (B, act_dim) or logits (B, n_actions), log_std (B, act_dim))."""
        if obs.ndim != 2 or obs.shape[1] != self.config.obs_dim:
            raise InvalidInputError(f"{self.name}: obs must be (B, {self.config.obs_dim}), got {tuple(obs.shape)}")
        x = self.obs_normalizer.normalize(obs)
        if self.config.distribution == "categorical":
            logits: torch.Tensor = self.net(x)
            return logits, None
        mean: torch.Tensor
        if self.config.log_std == "state_independent":
            mean = self.net(x)
            log_std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).expand_as(mean)
        else:
            features = self.net[:-1](x)
            mean, log_std = self.net[-1](features), self.log_std_head(features).clamp(LOG_STD_MIN, LOG_STD_MAX)
        if self.config.mean_low:
            mean = clamp_straight_through(mean, *self.action_normalizer.normalize(self.mean_bounds))
        return mean, log_std

    def sample(
        self, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw actions for obs (B, obs_dim): (env action (B, act_dim), u (B, act_dim), log pi(u|s) (B,))."""
        head, log_std = self._heads(obs)
        if self.config.distribution == "categorical":
            logp_all = torch.log_softmax(head, -1)
            u = torch.multinomial(logp_all.exp(), 1, generator=generator)  # (B, 1) index
            return u.float(), u.float(), logp_all.gather(-1, u).squeeze(-1)
        assert log_std is not None  # a gaussian head always has one
        u = head + torch.exp(log_std) * torch.randn(head.shape, generator=generator)
        return self.action_normalizer.unnormalize(u), u, gaussian_log_prob(u, head, log_std)

    def log_prob_entropy(self, obs: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(u|s) (B,) and the policy's entropy at s (B,) for obs (B, obs_dim) and u (B, act_dim)."""
        head, log_std = self._heads(obs)
        if self.config.distribution == "categorical":
            logp_all = torch.log_softmax(head, -1)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
            return logp_all.gather(-1, u.long()).squeeze(-1), entropy
        assert log_std is not None  # a gaussian head always has one
        return gaussian_log_prob(u, head, log_std), gaussian_entropy(log_std)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) (B,) for obs (B, obs_dim) in env units."""
        value: torch.Tensor = self.value_net(self.obs_normalizer.normalize(obs))
        return value.squeeze(-1)

    # -- the Policy interface ---------------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Behaviour cloning: MSE of the mean to the normalised demo action, or cross-entropy of the logits."""
        self.check_obs(batch[keys.OBS])
        action, _ = self.chunk_targets(batch)
        head, _ = self._heads(batch[keys.OBS][:, -1])
        if self.config.distribution == "categorical":
            loss = nn.functional.cross_entropy(head, action[:, 0, 0].round().long())
            return loss, {"bc_ce": loss.item()}
        loss = ((head - self.action_normalizer.normalize(action[:, 0])) ** 2).mean()
        return loss, {"mse": loss.item()}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        """The deterministic action: the Gaussian's mean, or the most likely discrete action; (B, 1, act_dim)."""
        if not isinstance(obs, torch.Tensor):
            raise InvalidInputError(
                f"{self.name} acts on the state alone; got an observation with cameras ({', '.join(obs)})"
            )
        self.check_obs(obs)
        head, _ = self._heads(obs[:, -1])
        if self.config.distribution == "categorical":
            return head.argmax(-1, keepdim=True).float().unsqueeze(1)
        return self.action_normalizer.unnormalize(head).unsqueeze(1)
