"""CartPole: gymnasium's own ``CartPole-v1`` (one Python env per sub-env), behind the batched-env conventions of
this package: one episode per sub-env, no autoreset, ``info["success"]`` at every step, actions (N, 1).

Success: the episode has lasted at least ``SOLVED_STEPS`` = 475 steps (return >= 475, gymnasium's
``reward_threshold`` for CartPole-v1); episodes are truncated at 500 steps.

The sub-envs are gymnasium's, stepped one by one (only those whose episode is still running); CartPole's step is
a few microseconds of Python, small beside the policy's batched forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from imitlab.core.errors import InvalidInputError
from imitlab.envs.pendulum import normalise_seeds
from imitlab.envs.registry import BatchedEnv, EnvSpec, register_env

GYM_ID = "CartPole-v1"
MAX_STEPS = 500  # CartPole-v1's TimeLimit
SOLVED_STEPS = 475  # CartPole-v1's reward_threshold


class BatchedCartPole(BatchedEnv):
    """N ``CartPole-v1`` envs in lock-step. A sub-env whose episode has ended is not stepped again: it keeps its
    last observation, gives reward 0 and repeats its terminated/truncated flags until the next ``reset``.

    Actions (N, 1) or (N,) hold the discrete action (0 push left, 1 push right) as any number type."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED, "render_fps": 50}

    def __init__(self, num_envs: int):
        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.envs = [gym.make(GYM_ID) for _ in range(self.num_envs)]
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.obs = np.zeros((self.num_envs, 4), dtype=np.float32)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.terminated = np.zeros(self.num_envs, dtype=bool)
        self.truncated = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env (sub-env i with seed i, as ``gymnasium.make("CartPole-v1").reset(seed=s_i)``)."""
        for i, s in enumerate(normalise_seeds(seed, self.num_envs)):
            self.obs[i] = self.envs[i].reset(seed=s)[0]
        self.steps[:] = 0
        self.terminated[:] = False
        self.truncated[:] = False
        return self.obs.copy(), {"success": self.success}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """actions (N, 1) -> obs (N, 4), reward (N,), terminated (N,), truncated (N,), info."""
        actions = np.asarray(actions)
        if actions.shape not in ((self.num_envs, 1), (self.num_envs,)):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 1), got {actions.shape}")
        actions = np.rint(actions.reshape(-1)).astype(np.int64)
        reward = np.zeros(self.num_envs)
        for i in np.flatnonzero(~(self.terminated | self.truncated)):
            obs, r, term, trunc, _ = self.envs[i].step(int(actions[i]))
            self.obs[i], reward[i], self.terminated[i], self.truncated[i] = obs, r, term, trunc
            self.steps[i] += 1
        return self.obs.copy(), reward, self.terminated.copy(), self.truncated.copy(), {"success": self.success}

    @property
    def success(self) -> np.ndarray:
        """(N,) bool: the pole has been kept up for at least ``SOLVED_STEPS`` steps."""
        return self.steps >= SOLVED_STEPS

    def close(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


class CartPoleSuccess(gym.Wrapper):
    """``gymnasium.make("CartPole-v1")`` plus ``info["success"]`` (same rule as ``BatchedCartPole``)."""

    def __init__(self):
        super().__init__(gym.make(GYM_ID))
        self._steps = 0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._steps = 0
        return obs, {**info, "success": False}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(int(np.rint(np.asarray(action).reshape(-1)[0])))
        self._steps += 1
        return obs, reward, terminated, truncated, {**info, "success": self._steps >= SOLVED_STEPS}


class CartPoleExpert:
    """A linear state-feedback rule, push right when ``x/10 + x_dot/2 + 10 theta + 2 theta_dot > 0``: it keeps
    the pole up for the whole episode from CartPole's initial states (tests/envs/test_cartpole.py)."""

    GAINS = np.array([0.1, 0.5, 10.0, 2.0])

    def reset(self, seeds: np.ndarray) -> None:
        """Nothing to reset: the expert is memoryless."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs (N, 4) -> action (N, 1) float32 in {0, 1}."""
        return (np.asarray(obs) @ self.GAINS > 0).astype(np.float32)[:, None]


register_env(
    EnvSpec(
        name="cartpole",
        description="Balance the pole on the cart (gymnasium CartPole-v1).",
        make_vector=lambda n: BatchedCartPole(n),
        make_single=lambda: CartPoleSuccess(),
        make_expert=CartPoleExpert,
        max_steps=MAX_STEPS,
        fps=50,
        obs_names=("x", "x_dot", "theta", "theta_dot"),
        action_names=("push_right",),
        success_rule=f"the pole stays up for at least {SOLVED_STEPS} of the {MAX_STEPS} steps (return >= 475)",
        rl_defaults={"reinforce": {"num_envs": 16, "lr": 3e-3}, "ppo": {"num_envs": 8, "lr": 1e-3}},
        expert_success=1.0,
    )
)
