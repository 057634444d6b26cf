"""A plug-in env in one file: a point on a line that must reach 0. Registering it here is all it takes for
`imitlab collect`, `train` (with its recipe), `eval` and the studies' GIFs to know it (tests/plugins/test_plugins.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from PIL import Image, ImageDraw

from imitlab.envs.registry import BatchedEnv, EnvSpec, register_env

NAME = "toy-reach"
MAX_STEPS, TOLERANCE = 20, 0.05


class BatchedReach(BatchedEnv):
    """N points x in [-1, 1]; action v in [-1, 1] moves x by 0.2 v; success once |x| < TOLERANCE."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED}

    def __init__(self, num_envs: int):
        self.num_envs = num_envs
        self.single_observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.single_action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.x = np.zeros(num_envs, np.float32)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        seeds = (
            [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed or [None] * self.num_envs)
        )
        self.x = np.array([np.random.default_rng(s).uniform(-1, 1) for s in seeds], np.float32)
        return self.x[:, None].copy(), {"success": np.abs(self.x) < TOLERANCE}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self.x = np.clip(self.x + 0.2 * np.clip(np.asarray(actions).reshape(-1), -1, 1), -1, 1).astype(np.float32)
        done = np.abs(self.x) < TOLERANCE
        return self.x[:, None].copy(), -np.abs(self.x), done, np.zeros_like(done), {"success": done}


class Reach(gym.Env):
    """The same task as one gymnasium env."""

    def __init__(self):
        self.batched = BatchedReach(1)
        self.observation_space, self.action_space = (
            self.batched.single_observation_space,
            self.batched.single_action_space,
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.batched.reset(seed=[seed])
        return obs[0], {"success": bool(info["success"][0])}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.batched.step(np.asarray(action)[None])
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {"success": bool(info["success"][0])}


class ReachExpert:
    """v = -x / 0.2, clipped: lands on 0 in at most 5 steps."""

    def reset(self, seeds: np.ndarray) -> None:
        """Memoryless."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(-obs / 0.2, -1, 1).astype(np.float32)


def draw(trajectory: np.ndarray, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    x = (trajectory[-1, 0] + 1) / 2 * size
    ImageDraw.Draw(image).ellipse([x - 3, size / 2 - 3, x + 3, size / 2 + 3], fill="black")
    return image


register_env(
    EnvSpec(
        name=NAME,
        description="Move the point to 0.",
        make_vector=BatchedReach,
        make_single=Reach,
        make_expert=ReachExpert,
        max_steps=MAX_STEPS,
        fps=10,
        obs_names=("x",),
        action_names=("v",),
        success_rule=f"|x| < {TOLERANCE} within {MAX_STEPS} steps (the episode ends there)",
        recipes={"toy-linear": ({"horizon": 2, "n_action_steps": 1}, {"steps": 300, "lr": 1e-2})},
        draw=draw,
        expert_success=1.0,
    )
)
