"""The agent protocol shared by experts, executed policies and mixtures: anything that maps a batch of
observations to a batch of actions, one environment step at a time. Agents of envs with cameras also get the images
of each step before acting (``observe_images``)."""

from __future__ import annotations

from typing import Protocol, TypeGuard

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


def attach_env(agent: Agent, env: object) -> None:
    """Give the vector env an agent acts in to an agent that reads the simulator's own state (an optional
    ``attach_env`` method: a privileged expert of a camera variant, whose observation holds less than the expert
    needs)."""
    listener = getattr(agent, "attach_env", None)
    if listener is not None:
        listener(env)


def observe_images(agent: Agent, images: dict[str, np.ndarray]) -> None:
    """Show an agent the camera images {key: (N, H, W, 3) uint8} of the state its next ``act`` observes, if it
    looks (an optional ``observe_images`` method; agents of envs with cameras)."""
    listener = getattr(agent, "observe_images", None)
    if listener is not None:
        listener(images)


class ImageAgent(Agent, Protocol):
    def observe_images(self, images: dict[str, np.ndarray]) -> None:
        """Take the camera images {key: (N, H, W, 3) uint8} of the state the next ``act`` observes."""


def wants_images(agent: Agent) -> TypeGuard[ImageAgent]:
    """Whether ``agent`` looks at camera images (has ``observe_images``)."""
    return getattr(agent, "observe_images", None) is not None
