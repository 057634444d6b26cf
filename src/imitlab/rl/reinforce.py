"""REINFORCE (Williams 1992): the Monte-Carlo policy gradient on batches of whole episodes.

    grad J(theta) ~= 1/N sum_i sum_t grad log pi_theta(a_it | s_it) * Psi_it

with one of three weights Psi (``estimator``), the lecture's path to lower variance at no bias:

- ``plain``:        Psi_t = R(tau) = sum_k gamma^k r_k          (the whole episode's return, at every step)
- ``reward_to_go``: Psi_t = G_t = sum_{k>=t} gamma^(k-t) r_k    (causality: a_t cannot change earlier rewards)
- ``baseline``:     Psi_t = G_t - V(s_t)                        (V fitted to G by Monte-Carlo regression)

"PG = select good data + increase likelihood of selected data": the loss below is the log-likelihood of the
sampled actions, weighted by how good they turned out to be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imitlab.core.errors import InvalidInputError
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.rl.algorithm import Algorithm, register_algo
from imitlab.rl.config import PGConfig
from imitlab.rl.estimators import discounted_return, normalize, reward_to_go
from imitlab.rl.sampling import Batch

ESTIMATORS = ("plain", "reward_to_go", "baseline")


@dataclass(frozen=True)
class ReinforceConfig(PGConfig):
    estimator: str = "baseline"  # "plain", "reward_to_go" or "baseline" (reward-to-go minus a learned V(s))
    normalize_advantages: bool = True  # standardise Psi over the batch (rescales the step; off for variance study)
    lr: float = 3e-3  # actor Adam learning rate
    value_lr: float = 3e-3  # critic Adam learning rate (baseline only)
    value_epochs: int = 5  # passes of Monte-Carlo regression V(s_t) -> G_t over each batch
    value_minibatch: int = 256  # steps per critic minibatch
    max_grad_norm: float = 1.0  # clip the actor's gradient norm (0 = off)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.estimator not in ESTIMATORS:
            raise InvalidInputError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.value_epochs < 1 or self.value_minibatch < 1:
            raise InvalidInputError(
                f"value_epochs and value_minibatch must be >= 1, got {self.value_epochs}, {self.value_minibatch}"
            )


def pg_weights(
    policy: ActorCriticPolicy, batch: Batch, estimator: str, gamma: float, reward_scale: float = 1.0
) -> np.ndarray:
    """Psi (N, T) of ``estimator`` for each sampled step (0 where not alive)."""
    reward, alive = batch.rollout.reward * reward_scale, batch.alive
    if estimator == "plain":
        return np.where(alive, discounted_return(reward, alive, gamma)[:, None], 0.0)
    rtg = reward_to_go(reward, alive, gamma)
    if estimator == "reward_to_go":
        return rtg
    if estimator == "baseline":
        with torch.no_grad():
            value = policy.value(batch.obs.flatten(0, 1)).view(alive.shape).numpy()
        return np.where(alive, rtg - value, 0.0)
    raise InvalidInputError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")


def surrogate_loss(policy: ActorCriticPolicy, batch: Batch, weights: np.ndarray) -> torch.Tensor:
    """-1/N sum_i sum_t log pi(u_it | s_it) Psi_it: its gradient is minus the REINFORCE estimate."""
    alive = torch.from_numpy(batch.alive)
    logp, _ = policy.log_prob_entropy(batch.obs[alive], batch.u[alive])
    psi = torch.as_tensor(weights[batch.alive], dtype=torch.float32)
    return -(logp * psi).sum() / len(batch.alive)


def fit_value(
    policy: ActorCriticPolicy,
    optimizer: torch.optim.Optimizer,
    obs: torch.Tensor,
    target: torch.Tensor,
    epochs: int,
    minibatch: int,
    generator: torch.Generator,
) -> float:
    """Monte-Carlo regression: minimise (V(s_t) - G_t)^2 over ``epochs`` shuffled passes; returns the last loss."""
    loss = torch.zeros(())
    for _ in range(epochs):
        for idx in torch.randperm(len(obs), generator=generator).split(minibatch):
            loss = ((policy.value(obs[idx]) - target[idx]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return loss.item()


@register_algo
class Reinforce(Algorithm):
    name = "reinforce"
    config_class = ReinforceConfig
    config: ReinforceConfig

    def __init__(self, policy, config: ReinforceConfig, bc_data=None):
        super().__init__(policy, config, bc_data)
        critic = list(policy.value_net.parameters())
        actor = [p for p in policy.parameters() if all(p is not q for q in critic)]
        self.optimizer = torch.optim.Adam(actor, lr=config.lr)
        self.value_optimizer = torch.optim.Adam(critic, lr=config.value_lr)

    def update(self, batch: Batch, progress: float, generator: torch.Generator) -> dict[str, float]:
        c = self.config
        self.policy.train()
        psi = pg_weights(self.policy, batch, c.estimator, c.gamma, c.reward_scale)  # V from before this batch
        if c.normalize_advantages:
            psi = normalize(psi, batch.alive)
        loss = surrogate_loss(self.policy, batch, psi) + self.bc_loss(generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.optimizer.param_groups[0]["params"], c.max_grad_norm if c.max_grad_norm > 0 else float("inf")
        )
        self.optimizer.step()
        metrics = {"pg_loss": loss.item(), "grad_norm": float(grad_norm)}
        if c.estimator == "baseline":
            alive = torch.from_numpy(batch.alive)
            target = torch.as_tensor(
                reward_to_go(batch.rollout.reward * c.reward_scale, batch.alive, c.gamma)[batch.alive],
                dtype=torch.float32,
            )
            metrics["value_loss"] = fit_value(
                self.policy,
                self.value_optimizer,
                batch.obs[alive],
                target,
                c.value_epochs,
                c.value_minibatch,
                generator,
            )
        return metrics

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict(), "value_optimizer": self.value_optimizer.state_dict()}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])
        self.value_optimizer.load_state_dict(state["value_optimizer"])
