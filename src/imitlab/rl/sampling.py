"""Batches of episodes sampled from the actor: one episode per sub-env of the env's batched implementation
(lock-step, masked after each episode's end), with the drawn actions and their log-probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imitlab.envs.registry import BatchedEnv
from imitlab.envs.rollout import Rollout, rollout
from imitlab.policies.actor_critic import ActorCriticPolicy


class SamplingAgent:
    """An Agent that samples the actor's stochastic actions and remembers u and log pi(u|s) of each step."""

    def __init__(self, policy: ActorCriticPolicy, generator: torch.Generator):
        self.policy, self.generator = policy, generator

    def reset(self, seeds: np.ndarray) -> None:
        self.u: list[torch.Tensor] = []
        self.logp: list[torch.Tensor] = []

    def act(self, obs: np.ndarray) -> np.ndarray:
        action, u, logp = self.policy.sample(torch.from_numpy(np.asarray(obs, dtype=np.float32)), self.generator)
        self.u.append(u)
        self.logp.append(logp)
        return action.numpy()


@dataclass
class Batch:
    """N episodes sampled from the actor. Arrays are (N, T) as in ``Rollout``; ``u`` and ``logp`` are torch."""

    rollout: Rollout
    u: torch.Tensor  # (N, T, act_dim) normalised action (or index) drawn at each step
    logp: torch.Tensor  # (N, T) log pi(u_t | s_t) under the policy that acted

    @property
    def obs(self) -> torch.Tensor:
        return torch.from_numpy(self.rollout.obs)

    @property
    def alive(self) -> np.ndarray:
        return self.rollout.alive

    @property
    def steps(self) -> int:
        return int(self.rollout.alive.sum())


@torch.no_grad()
def collect(
    policy: ActorCriticPolicy,
    env: BatchedEnv,
    seeds: np.ndarray,
    max_steps: int,
    generator: torch.Generator,
) -> Batch:
    """One episode per sub-env with actions sampled from ``policy`` (one batched forward pass per step)."""
    agent = SamplingAgent(policy, generator)
    result = rollout(env, agent, seeds, max_steps)
    return Batch(result, torch.stack(agent.u, 1), torch.stack(agent.logp, 1))
