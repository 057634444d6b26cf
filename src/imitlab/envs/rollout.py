"""Run an agent in a batched environment: one episode per sub-environment, all in lock-step.

Used for collecting demonstrations, evaluating policies and (later) DAgger, so that every caller sees episodes
the same way: step t of episode i is valid while ``alive[i, t]``; an episode ends at its first termination or
truncation, and what a sub-environment does after that is ignored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from imitlab.core.errors import ImitlabError, InvalidInputError
from imitlab.envs.agents import Agent, attach_env, observe_images, observe_reward, wants_images
from imitlab.envs.registry import BatchedEnv, CameraEnv, EnvSpec, require_state


@dataclass
class Rollout:
    obs: np.ndarray  # (N, T, obs_dim) observation before each action
    action: np.ndarray  # (N, T, act_dim) action executed
    reward: np.ndarray  # (N, T) reward received for that action
    success: np.ndarray  # (N, T) bool: the env's success flag after that action
    alive: np.ndarray  # (N, T) bool: step t belongs to episode i
    seeds: np.ndarray  # (N,) reset seed of each episode
    act_seconds: float  # wall-clock spent inside agent.act
    act_calls: int  # number of agent.act calls (one per lock-step)
    final_obs: np.ndarray  # (N, obs_dim) observation after each episode's last action
    terminated: np.ndarray  # (N,) bool: the episode ended by termination (not a time limit)
    state: np.ndarray | None = None  # (N, T, state_dim) env.get_state() before each action, if recorded
    images: dict[str, np.ndarray] | None = None  # camera key -> (N, T, H, W, 3) uint8 before each action, if recorded

    @property
    def lengths(self) -> np.ndarray:
        return self.alive.sum(axis=1)

    @property
    def episode_success(self) -> np.ndarray:
        """(N,) bool: each episode's success flag at its last step."""
        last = np.maximum(self.lengths - 1, 0)
        return self.success[np.arange(len(last)), last] & (self.lengths > 0)

    @property
    def returns(self) -> np.ndarray:
        return (self.reward * self.alive).sum(axis=1)

    def episode(self, i: int) -> dict:
        """Episode i cut to its length: observation, action, reward, success arrays, and ``images`` (camera key ->
        (T, H, W, 3) uint8) when they were recorded; the keyword arguments of ``data.Episode``."""
        n = int(self.lengths[i])
        episode: dict[str, Any] = {
            "observation": self.obs[i, :n],
            "action": self.action[i, :n],
            "reward": self.reward[i, :n],
            "success": self.success[i, :n],
        }
        if self.images is not None:
            episode["images"] = {key: frames[i, :n] for key, frames in self.images.items()}
        return episode


def run_episodes(
    spec: EnvSpec, agent: Agent, seeds: np.ndarray, record_state: bool = False, record_images: bool = False
) -> Rollout:
    """``rollout`` in a fresh batched env of ``spec`` with one sub-env per seed, closed afterwards."""
    vec_env = spec.make_vector(len(seeds))
    try:
        return rollout(vec_env, agent, seeds, spec.max_steps, record_state, record_images)
    finally:
        vec_env.close()


def rollout(
    env: BatchedEnv,
    agent: Agent,
    seeds: np.ndarray,
    max_steps: int,
    record_state: bool = False,
    record_images: bool = False,
) -> Rollout:
    """Reset sub-env i with seeds[i], run ``agent`` until every episode has ended or ``max_steps``.
    ``record_state`` also keeps the env's full state before each action (for envs with ``get_state``).
    The env's cameras (``render_cameras``) are rendered before each action only when ``record_images`` asks to
    keep them or the agent looks at them (``observe_images``); otherwise nothing is rendered."""
    seeds = np.asarray(seeds, dtype=np.int64)
    n = len(seeds)
    if env.num_envs != n:
        raise InvalidInputError(f"env has {env.num_envs} sub-envs but {n} seeds were given")
    cameras: CameraEnv | None = None  # set when rendering
    if record_images or wants_images(agent):
        if not isinstance(env, CameraEnv):
            raise ImitlabError(
                f"{type(env).__name__} has no cameras (no render_cameras method), but "
                + ("images were asked to be recorded" if record_images else f"{type(agent).__name__} observes images")
            )
        cameras = env
    obs, _ = env.reset(seed=[int(s) for s in seeds])
    attach_env(agent, env)
    agent.reset(seeds)
    obs_log, act_log, rew_log, succ_log, alive_log, state_log = [], [], [], [], [], []
    image_log: list[dict[str, np.ndarray]] = []
    alive = np.ones(n, dtype=bool)
    final_obs = np.array(obs, dtype=np.float32, copy=True)
    ended_terminal = np.zeros(n, dtype=bool)
    act_seconds = 0.0
    for _ in range(max_steps):
        if record_state:
            state_log.append(require_state(env, type(env).__name__).get_state())
        if cameras is not None:
            images = cameras.render_cameras()
            observe_images(agent, images)
            if record_images:
                image_log.append(images)
        start = time.perf_counter()
        action = np.asarray(agent.act(obs), dtype=np.float32)
        act_seconds += time.perf_counter() - start
        next_obs, reward, terminated, truncated, info = env.step(action)
        observe_reward(agent, reward)
        obs_log.append(obs)
        act_log.append(action)
        rew_log.append(np.asarray(reward, dtype=np.float32))
        succ_log.append(np.asarray(info["success"], dtype=bool))
        alive_log.append(alive.copy())
        terminated = np.asarray(terminated, dtype=bool)
        final_obs[alive] = np.asarray(next_obs)[alive]  # frozen once the episode has ended
        ended_terminal |= alive & terminated
        alive &= ~(terminated | np.asarray(truncated))
        obs = next_obs
        if not alive.any():
            break
    return Rollout(
        obs=np.stack(obs_log, axis=1).astype(np.float32),
        action=np.stack(act_log, axis=1),
        reward=np.stack(rew_log, axis=1),
        success=np.stack(succ_log, axis=1),
        alive=np.stack(alive_log, axis=1),
        seeds=seeds,
        act_seconds=act_seconds,
        act_calls=len(obs_log),
        state=np.stack(state_log, axis=1) if record_state else None,
        final_obs=final_obs,
        terminated=ended_terminal,
        images={key: np.stack([step[key] for step in image_log], axis=1) for key in image_log[0]}
        if record_images
        else None,
    )
