"""The agent protocol shared by experts, executed policies and mixtures: anything that maps a batch of
observations to a batch of actions, one environment step at a time."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Agent(Protocol):
    def reset(self, seeds: np.ndarray) -> None:
        """Start one episode per environment; ``seeds`` (N,) makes any per-episode randomness reproducible."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions (N, act_dim) for observations (N, obs_dim)."""


def observe_reward(agent: Agent, reward: np.ndarray) -> None:
    """Tell an agent the rewards (N,) its last actions received, if it listens (an optional
    ``observe_reward`` method; return-conditioned policies decrement their target return with it)."""
    listener = getattr(agent, "observe_reward", None)
    if listener is not None:
        listener(np.asarray(reward, dtype=np.float32))
