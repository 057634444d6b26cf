"""A noisy expert: executes the scripted expert's action perturbed by Gaussian noise and, with probability
``epsilon``, replaces it by a uniformly random action; either the executed or the clean expert action can be
recorded as the label.

- ``label="executed"``: the dataset holds what was done, so returns vary (mixed-quality data for return-
  conditioned policies such as Decision Transformer; ``imitlab collect --expert-noise/--epsilon``).
- ``label="expert"``: the dataset holds the expert's clean action at the perturbed states (DART, Laskey et al.
  2017: noise injected into the supervisor to widen the state distribution, labels stay optimal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.data.model import Episode
from imitlab.envs.agents import Agent, attach_env, wants_images
from imitlab.envs.registry import EnvSpec
from imitlab.envs.rollout import rollout

LABELS = ("executed", "expert")


@dataclass(frozen=True)
class Noise:
    """How the executed action departs from the expert's: ``std`` is the Gaussian noise standard deviation in
    environment action units (per dimension); ``epsilon`` the probability, per env and step, of a uniformly
    random action instead. The executed action is clipped to the action space."""

    std: float = 0.0
    epsilon: float = 0.0

    def __post_init__(self) -> None:
        if not self.std >= 0:
            raise InvalidInputError(f"expert noise std must be >= 0, got {self.std}")
        if not 0 <= self.epsilon <= 1:
            raise InvalidInputError(f"epsilon must be in [0, 1], got {self.epsilon}")

    @property
    def is_zero(self) -> bool:
        return self.std == 0 and self.epsilon == 0


def per_env(noise: Noise | Sequence[Noise], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise std and epsilon per environment, (n,) each: one ``Noise`` for all, or a list cycled over the
    environments (env i gets ``noise[i % len(noise)]``: mixed-quality data in one batch)."""
    levels = [noise] if isinstance(noise, Noise) else list(noise)
    if not levels:
        raise InvalidInputError("give at least one noise level")
    chosen = [levels[i % len(levels)] for i in range(n)]
    return np.array([c.std for c in chosen]), np.array([c.epsilon for c in chosen])


class NoisyExpert:
    """Agent that executes a perturbed expert action; ``clean_actions`` holds the expert's own action at every
    step of the last episode batch, (N, act_dim) per step, aligned with the rollout's steps. ``noise`` is one
    ``Noise`` for every env or a list cycled over the envs (see ``per_env``).

    The noise stream is seeded by ``seed`` and the episode seeds given to ``reset``, so a rollout is
    reproducible."""

    def __init__(self, expert: Agent, noise: Noise | Sequence[Noise], low: np.ndarray, high: np.ndarray, seed: int = 0):
        self.expert, self.noise, self.seed = expert, noise, seed
        self.low, self.high = np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32)
        self.rng = np.random.default_rng(seed)
        self.clean_actions: list[np.ndarray] = []
        if wants_images(expert):  # an expert that reads the cameras sees them through this wrapper
            self.observe_images = expert.observe_images

    def attach_env(self, env: object) -> None:
        attach_env(self.expert, env)  # a privileged expert reads the env's state through its wrapper too

    def reset(self, seeds: np.ndarray) -> None:
        self.expert.reset(seeds)
        self.std, self.epsilon = per_env(self.noise, len(seeds))  # (N,) each
        self.rng = np.random.default_rng([self.seed, *np.asarray(seeds, dtype=np.int64).tolist()])
        self.clean_actions = []

    def act(self, obs: np.ndarray) -> np.ndarray:
        clean = np.asarray(self.expert.act(obs), dtype=np.float32)
        self.clean_actions.append(clean)
        action = clean + self.std[:, None] * self.rng.standard_normal(clean.shape)
        random_action = self.rng.uniform(self.low, self.high, size=clean.shape)
        take_random = self.rng.random(len(clean)) < self.epsilon
        action = np.where(take_random[:, None], random_action, action)
        return np.clip(action, self.low, self.high).astype(np.float32)


def noisy_expert_episodes(
    spec: EnvSpec, seeds: np.ndarray, noise: Noise | Sequence[Noise], label: str = "executed", seed: int = 0
) -> list[Episode]:
    """Roll out the env's expert under ``noise`` (one level, or a list cycled over the episodes) from the reset
    ``seeds`` (one episode each) and return the episodes with the executed action (``label="executed"``) or the
    expert's clean action (``"expert"``), with the env's cameras recorded (``EnvSpec.cameras``)."""
    if label not in LABELS:
        raise InvalidInputError(f"label must be one of {LABELS}, got {label!r}")
    vec_env = spec.make_vector(len(seeds))
    space = vec_env.single_action_space
    if not isinstance(space, gym.spaces.Box):
        vec_env.close()
        raise InvalidInputError(
            f"{spec.name}: noisy-expert collection needs a continuous (Box) action space, got {space}"
        )
    agent = NoisyExpert(spec.make_expert(), noise, space.low, space.high, seed)
    result = rollout(vec_env, agent, seeds, spec.max_steps, record_images=bool(spec.cameras))
    vec_env.close()
    clean = np.stack(agent.clean_actions, axis=1)  # (N, T, act_dim)
    episodes = []
    for i in range(len(seeds)):
        episode = result.episode(i)
        if label == "expert":
            episode["action"] = clean[i, : len(episode["action"])]
        episodes.append(Episode(**episode))
    return episodes
