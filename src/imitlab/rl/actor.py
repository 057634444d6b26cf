"""The actor-critic for an env: fresh (categorical for discrete actions, Gaussian for a Box), or a Gaussian whose
mean starts as a trained ``bc`` network (BC→RL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.envs.registry import EnvSpec
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.policies.base import create_policy
from imitlab.rl.config import PGConfig
from imitlab.training.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    CheckpointError,
    load_weights,
    placeholder_stats,
    read_run_config,
    read_weights,
    restoring,
)

BC_PREFIXES = ("net.", "obs_normalizer.", "action_normalizer.")  # what a bc network gives the actor


def env_spaces(spec: EnvSpec) -> tuple[gym.spaces.Space, gym.spaces.Space]:
    """(observation space, action space) of one of ``spec``'s sub-envs."""
    env = spec.make_vector(1)
    spaces = env.single_observation_space, env.single_action_space
    env.close()
    return spaces


def mean_bounds(space: gym.spaces.Space, config: PGConfig, env: str) -> dict[str, tuple[float, ...]]:
    """The actor's ``mean_low``/``mean_high`` fields: the bounds of action ``space`` when ``config.clamp_mean``."""
    if not config.clamp_mean:
        return {}
    if isinstance(space, gym.spaces.Discrete):
        raise InvalidInputError(f"clamp_mean clamps a Gaussian's mean; {env} has discrete actions")
    assert isinstance(space, gym.spaces.Box), f"{env}: action spaces are Discrete or Box, got {space}"
    return {"mean_low": tuple(map(float, space.low)), "mean_high": tuple(map(float, space.high))}


def make_actor(spec: EnvSpec, config: PGConfig) -> ActorCriticPolicy:
    """A fresh actor-critic for ``spec``'s spaces: categorical for a Discrete action space, else a Gaussian whose
    normalised actions map [-1, 1] onto the action bounds."""
    obs_space, space = env_spaces(spec)
    assert obs_space.shape is not None, f"{spec.name}: observation space {obs_space} has no shape"
    obs_dim = int(obs_space.shape[0])
    fields = dict(
        hidden_dim=config.hidden_dim,
        num_layers=config.num_layers,
        activation=config.activation,
        log_std=config.log_std,
        init_log_std=config.init_log_std,
        **mean_bounds(space, config, spec.name),
    )
    if isinstance(space, gym.spaces.Discrete):
        stats = placeholder_stats(obs_dim, 1)
        return _create_actor(
            stats,
            obs_dim=obs_dim,
            act_dim=1,
            distribution="categorical",
            n_actions=int(space.n),
            **fields,
        )
    assert isinstance(space, gym.spaces.Box), f"{spec.name}: action spaces are Discrete or Box, got {space}"
    low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
    stats = placeholder_stats(obs_dim, len(low))
    stats["action"] = {"mean": (high + low) / 2, "std": (high - low) / 2, "min": low, "max": high}
    return _create_actor(stats, obs_dim=obs_dim, act_dim=len(low), **fields)


def actor_from_bc(run_dir: Path, config: PGConfig, spec: EnvSpec) -> ActorCriticPolicy:
    """A Gaussian actor whose mean is a trained ``bc`` network (or a ``chunked-bc`` network's first action, for
    one-observation runs) for ``spec``'s env, with the bc run's normalisation; the log-std and the critic start
    fresh."""
    run_dir = Path(run_dir)
    saved = read_run_config(run_dir)
    pc = saved["policy_config"]
    if saved["policy"] not in ("bc", "chunked-bc") or pc.get("n_obs_steps", 1) != 1 or pc.get("dropout", 0):
        raise CheckpointError(
            f"{run_dir / CONFIG_FILE}: --init-from needs a bc or chunked-bc run with "
            f"n_obs_steps 1 and no dropout, got {saved['policy']!r} with {pc}"
        )
    action_space = env_spaces(spec)[1]
    if not isinstance(action_space, gym.spaces.Box):
        raise InvalidInputError(
            f"--init-from starts a Gaussian actor from a bc network that regresses actions; {spec.name} "
            f"has discrete actions ({action_space}), so train its actor from scratch"
        )
    weights = read_weights(run_dir / MODEL_FILE)
    with restoring(run_dir / CONFIG_FILE):
        policy = _bc_shaped_actor(pc, config, action_space, spec.name)
    last = f"net.{2 * pc['num_layers']}."
    state = {}
    with restoring(run_dir / MODEL_FILE):
        for key, value in weights.items():
            if key.startswith(last):  # chunked-bc: rows [0, act_dim) are the chunk's first action
                value = value[: pc["act_dim"]]
            if key.startswith(BC_PREFIXES):
                state[key] = value
    load_weights(policy, state, run_dir / MODEL_FILE, needed=lambda key: key.startswith(BC_PREFIXES))
    return policy


def _bc_shaped_actor(pc: dict, config: PGConfig, action_space: gym.spaces.Box, env: str) -> ActorCriticPolicy:
    """A Gaussian actor with the network shape and normalisation settings of bc policy config ``pc``."""
    return _create_actor(
        placeholder_stats(pc["obs_dim"], pc["act_dim"]),
        obs_dim=pc["obs_dim"],
        act_dim=pc["act_dim"],
        hidden_dim=pc["hidden_dim"],
        num_layers=pc["num_layers"],
        activation=pc.get("activation", "relu"),
        obs_norm=pc["obs_norm"],
        action_norm=pc["action_norm"],
        log_std=config.log_std,
        init_log_std=config.init_log_std,
        **mean_bounds(action_space, config, env),
    )


def _create_actor(stats: dict[str, dict[str, Any]], **fields: Any) -> ActorCriticPolicy:
    """``create_policy("actor-critic", ...)``, typed as the class registered under that name."""
    return cast(ActorCriticPolicy, create_policy("actor-critic", stats, **fields))
