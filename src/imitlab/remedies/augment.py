"""Noise-augmented BC ("BC + data augmentation"): perturb the recorded demonstration states and label the
perturbed states with the expert, so the training data shows the expert's action a little off the
demonstrated path. Needs an env whose expert can be queried at any state and whose observation determines
the state (``EnvSpec.state_from_obs``).

Each recorded observation o gets ``copies`` perturbations o + scale * std_obs * N(0, I) (``std_obs``: the
dataset's per-dimension observation std). The perturbed point is turned into an env state and loaded into a
copy of the env, so the stored observation is one the env can produce (e.g. (cos, sin) stays on the unit
circle for the pendulum). The label is the expert's continuation from that state, one step for single-action
policies and H steps for chunked ones (``dagger.expert_continuations``), each stored as a short episode.
Every augmented frame costs one expert label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.envs.registry import get_env_spec, require_state
from imitlab.remedies.dagger import expert_continuations


@dataclass(frozen=True)
class AugmentConfig:
    copies: int = 1  # perturbed states per recorded frame
    scale: float = 0.1  # perturbation std, in units of the dataset's per-dimension observation std

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise InvalidInputError(f"augment copies must be >= 1, got {self.copies}")
        if not self.scale > 0:
            raise InvalidInputError(f"augment scale must be > 0, got {self.scale}")


def perturb(observation: np.ndarray, scale: float, obs_std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """observation (M, obs_dim) + scale * obs_std * N(0, I), float32."""
    observation = np.asarray(observation, dtype=np.float64)
    noise = scale * np.asarray(obs_std, dtype=np.float64) * rng.standard_normal(observation.shape)
    return (observation + noise).astype(np.float32)


def env_states(env: str, observation: np.ndarray) -> np.ndarray:
    """Env states (M, state_dim) whose observations are (the projection onto the env's observations of)
    ``observation`` (M, obs_dim)."""
    spec = get_env_spec(env)
    if spec.state_from_obs is None:
        raise InvalidInputError(
            f"env {env!r} has no state_from_obs: a perturbed observation cannot be turned into a "
            "state to label (noise augmentation needs an env whose observation is its state)"
        )
    return spec.state_from_obs(np.asarray(observation))


def project_to_env(env: str, observation: np.ndarray) -> np.ndarray:
    """The observation (M, obs_dim) the env shows in the state ``env_states(env, observation)``, e.g.
    (cos, sin) pushed back onto the unit circle for the pendulum."""
    vec_env = get_env_spec(env).make_vector(len(observation))
    vec_env.reset(seed=0)
    projected = require_state(vec_env, env).set_state(env_states(env, observation))
    vec_env.close()
    return np.asarray(projected, dtype=np.float32)


def expert_augmentation(
    env: str, dataset: EpisodeDataset, config: AugmentConfig = AugmentConfig(), horizon: int = 1, seed: int = 0
) -> list[Episode]:
    """Expert-labelled episodes (one per perturbed state, at most ``horizon`` steps) around every frame of
    ``dataset``; ``len(dataset) * config.copies`` of them."""
    rng = np.random.default_rng(seed)
    observation = np.repeat(dataset.observation, config.copies, axis=0)
    states = env_states(env, perturb(observation, config.scale, dataset.stats[keys.OBS]["std"], rng))
    return expert_continuations(get_env_spec(env), states, np.arange(len(states)), horizon)
