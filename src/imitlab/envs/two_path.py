"""Two-path: a 2-D point robot must reach a goal behind a round obstacle; it can pass on the left or on the right,
and both detours are equally good. The observation (x, y) does not say which detour a demonstration took, so a
deterministic regressor trained on demonstrations of both averages them and drives into the obstacle.

Geometry (units are arbitrary, one step is one control period)::

    start    (0, -0.65) + U(-START_JITTER, START_JITTER)^2, drawn from the reset seed (0.15 below the obstacle)
    goal     (0, 1); reached when the distance is below GOAL_RADIUS
    obstacle a disc of radius OBSTACLE_RADIUS at the origin
    walls    |x| <= BOUND and |y| <= BOUND
    action   velocity (dx, dy) per step; its norm is clipped to MAX_SPEED

An episode ends (terminated) on reaching the goal (``info["success"] = True``) or on touching the obstacle or a
wall (``info["success"] = False``); it is truncated after MAX_STEPS steps (not a success).

Reward: progress towards the goal, ``dist_before - dist_after``, plus +1 on reaching the goal and -1 on a crash,
so the return of a successful episode is about ``1 + (initial distance - GOAL_RADIUS)`` ≈ 2.6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from PIL import Image, ImageDraw

from imitlab.core.errors import InvalidInputError
from imitlab.envs.pendulum import normalise_seeds
from imitlab.envs.presets import DENOISER
from imitlab.envs.registry import BatchedEnv, EnvSpec, Recipe, register_env

START = np.array([0.0, -0.65])  # 0.15 below the obstacle: the detours must split at once
# Half-width of the uniform start noise, in x and in y. Small on purpose: with a wider spread (0.01) a regressor
# memorises which detour each of the ~100 training starts took and so "chooses" by its own overfitting noise
# (MSE-BC then succeeded 97% of the time); at 0.002 the starts are one point to an MLP, as the task intends.
START_JITTER = 0.002
GOAL = np.array([0.0, 1.0])
GOAL_RADIUS = 0.1
OBSTACLE_RADIUS = 0.5  # a disc at the origin
BOUND = 1.5
MAX_SPEED = 0.1  # per step
MAX_STEPS = 60
FPS = 10

GYM_ID = "imitlab/TwoPath-v0"
STATE_NAMES = ("x", "y", "step", "done", "success")  # get_state() columns


# --------------------------------------------------------------------------------------------------------------
# Dynamics: pure functions shared by the batched and the single env.


def two_path_initial_position(rng: np.random.Generator) -> np.ndarray:
    """(2,) start position drawn from a seeded generator."""
    return START + rng.uniform(-START_JITTER, START_JITTER)


def clip_speed(action: np.ndarray) -> np.ndarray:
    """Scale each (N, 2) velocity down to norm <= MAX_SPEED (direction kept)."""
    norm = np.linalg.norm(action, axis=-1, keepdims=True)
    return action * np.minimum(1.0, MAX_SPEED / np.maximum(norm, 1e-12))


def two_path_step(pos: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Move N robots: pos (N, 2), action (N, 2) -> (new_pos, reward (N,), crashed (N,), reached (N,))."""
    new_pos = pos + clip_speed(action)
    crashed = (np.linalg.norm(new_pos, axis=-1) < OBSTACLE_RADIUS) | (np.abs(new_pos) > BOUND).any(axis=-1)
    dist_after = np.linalg.norm(new_pos - GOAL, axis=-1)
    reached = (dist_after < GOAL_RADIUS) & ~crashed
    reward = np.linalg.norm(pos - GOAL, axis=-1) - dist_after + reached * 1.0 - crashed * 1.0
    return new_pos, reward, crashed, reached


class BatchedTwoPath(BatchedEnv):
    """N two-path robots stepped as one numpy operation. No autoreset: a sub-env whose episode has ended stays
    frozen (same obs, reward 0, terminated again, same success flag) until the next ``reset``.

    ``reset(seed=[s_0, ...])`` seeds sub-env i with ``s_i`` (an int seed means ``seed + i``); the start of sub-env i
    equals ``TwoPathEnv().reset(seed=s_i)``.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED, "render_fps": FPS}

    def __init__(self, num_envs: int):
        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.single_observation_space = spaces.Box(low=-BOUND, high=BOUND, shape=(2,), dtype=np.float32)
        self.single_action_space = spaces.Box(low=-MAX_SPEED, high=MAX_SPEED, shape=(2,), dtype=np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._rngs = [gym.utils.seeding.np_random()[0] for _ in range(self.num_envs)]  # unseeded until reset(seed)
        self.pos = np.tile(START, (self.num_envs, 1))
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.done = np.zeros(self.num_envs, dtype=bool)
        self.success = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env; returns obs (N, 2) float32 and info with ``success`` (N,) all False."""
        for i, s in enumerate(normalise_seeds(seed, self.num_envs)):
            if s is not None:
                self._rngs[i], _ = gym.utils.seeding.np_random(s)
        self.pos = np.stack([two_path_initial_position(rng) for rng in self._rngs])
        self.steps[:] = 0
        self.done[:] = False
        self.success[:] = False
        return self._observe(), {"success": self.success.copy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """actions (N, 2) velocity -> obs (N, 2), reward (N,), terminated (N,), truncated (N,), info."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 2):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 2), got {actions.shape}")
        new_pos, reward, crashed, reached = two_path_step(self.pos, actions)
        live = ~self.done
        self.pos = np.where(live[:, None], new_pos, self.pos)
        reward = np.where(live, reward, 0.0)
        self.success |= live & reached
        self.done |= live & (crashed | reached)
        self.steps += live
        terminated = self.done.copy()
        truncated = ~self.done & (self.steps >= MAX_STEPS)
        return self._observe(), reward, terminated, truncated, {"success": self.success.copy()}

    def get_state(self) -> np.ndarray:
        """(N, 5) float64 copy of (x, y, step, done, success); see ``STATE_NAMES``."""
        return np.column_stack([self.pos, self.steps, self.done, self.success]).astype(np.float64)

    def set_state(self, state: np.ndarray) -> np.ndarray:
        """Load an (N, 5) state from ``get_state``; returns the obs (N, obs_dim)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.num_envs, len(STATE_NAMES)):
            raise InvalidInputError(f"state must have shape ({self.num_envs}, {len(STATE_NAMES)}), got {state.shape}")
        self.pos = state[:, :2].copy()
        self.steps = state[:, 2].astype(np.int64)
        self.done = state[:, 3] != 0
        self.success = state[:, 4] != 0
        return self._observe()

    def _observe(self) -> np.ndarray:
        """The observation (N, obs_dim) float32 of the current state: the position (x, y)."""
        return self.pos.astype(np.float32)


class TwoPathEnv(gym.Env):
    """The same task as one gymnasium env (``gymnasium.make("imitlab/TwoPath-v0")``): a ``BatchedTwoPath`` of one."""

    metadata = {"render_modes": [], "render_fps": FPS}

    def __init__(self):
        self._env = BatchedTwoPath(1)
        self.observation_space = self._env.single_observation_space
        self.action_space = self._env.single_action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self._env.reset(seed=None if seed is None else [seed])
        return obs[0], {"success": bool(info["success"][0])}

    def step(self, action):
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(action, dtype=np.float64)[None])
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {"success": bool(info["success"][0])}

    def get_state(self) -> np.ndarray:
        return self._env.get_state()[0]

    def set_state(self, state: np.ndarray) -> np.ndarray:
        return self._env.set_state(np.asarray(state)[None])[0]


if GYM_ID not in gym.registry:
    gym.register(id=GYM_ID, entry_point="imitlab.envs.two_path:TwoPathEnv")


# --------------------------------------------------------------------------------------------------------------
# Expert


class TwoPathExpert:
    """Bimodal scripted expert: each episode passes the obstacle on the left (-1) or the right (+1), chosen with
    probability 1/2 from the episode's seed. Memoryless apart from that mode, so it can be queried at any state:

    - side: ``sign(x)`` once the robot is clearly on one side (``|x| > side_threshold``), else the episode's mode;
    - if the straight line to the goal clears the obstacle inflated by ``margin``, head for the goal; otherwise
      follow the tangent to the inflated disc on that side (the shortest way round a disc); inside the inflated
      disc, step half outwards, half round it on that side.
    """

    def __init__(self, margin: float = 0.08, side_threshold: float = 0.05, max_speed: float = MAX_SPEED):
        self.radius = OBSTACLE_RADIUS + margin
        self.side_threshold = side_threshold
        self.max_speed = max_speed
        self.modes: np.ndarray | None = None  # (N,) in {-1, +1}

    def reset(self, seeds: np.ndarray) -> None:
        # A stream separate from the env's (which draws the start from default_rng(seed)): mode and start jitter
        # must be independent, or the observation would reveal the mode.
        self.modes = np.array(
            [1 if np.random.default_rng([int(s), 0x2_9A7]).random() < 0.5 else -1 for s in np.asarray(seeds)],
            dtype=np.int64,
        )

    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs (N, 2) -> velocity (N, 2) float32 with norm <= max_speed."""
        p = np.asarray(obs, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise InvalidInputError(f"two-path obs must have shape (N, 2), got {p.shape}")
        if self.modes is None or len(self.modes) != len(p):
            got = "no reset" if self.modes is None else f"reset with {len(self.modes)} seeds"
            raise InvalidInputError(f"TwoPathExpert.act got {len(p)} observations after {got}; call reset(seeds) first")
        side = np.where(np.abs(p[:, 0]) > self.side_threshold, np.sign(p[:, 0]), self.modes).astype(np.float64)
        direction = _detour_direction(p, side, self.radius)
        speed = np.minimum(self.max_speed, np.linalg.norm(GOAL - p, axis=1))
        return (direction * speed[:, None]).astype(np.float32)


def fork_expert_actions() -> np.ndarray:
    """(2, 2): the expert's first action at the centre of the start area, left detour then right detour."""
    expert = TwoPathExpert()
    expert.modes = np.array([-1, 1])
    return expert.act(np.tile(START, (2, 1)))


def _segment_clears_disc(p: np.ndarray, q: np.ndarray, radius: float) -> np.ndarray:
    """(N,) bool: the segment p -> q (N, 2) stays outside the disc of ``radius`` at the origin."""
    d = q - p
    s = np.clip(-(p * d).sum(1) / np.maximum((d * d).sum(1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p + s[:, None] * d, axis=1) >= radius


def _detour_direction(p: np.ndarray, side: np.ndarray, radius: float) -> np.ndarray:
    """Unit directions (N, 2): to the goal if the way is clear, else round the disc on ``side`` (N,) in {-1,+1}."""
    goal = np.broadcast_to(GOAL, p.shape)
    to_goal = goal - p
    to_goal = to_goal / np.maximum(np.linalg.norm(to_goal, axis=1, keepdims=True), 1e-12)
    dist = np.maximum(np.linalg.norm(p, axis=1), 1e-12)
    inward = -p / dist[:, None]
    # Tangent directions: rotate the direction to the centre by -+asin(R / d). Passing on the right (+1) means
    # going round the disc counter-clockwise (coming from below), i.e. the tangent with p x u > 0.
    alpha = np.arcsin(np.clip(radius / dist, 0.0, 1.0)) * -side
    c, s = np.cos(alpha), np.sin(alpha)
    tangent = np.stack([c * inward[:, 0] - s * inward[:, 1], s * inward[:, 0] + c * inward[:, 1]], axis=1)
    # Inside the inflated disc: half outward, half round the disc (counter-clockwise for the right side).
    around = np.stack([inward[:, 1], -inward[:, 0]], axis=1) * side[:, None]
    escape = (around - inward) / np.sqrt(2)
    detour = np.where((dist < radius)[:, None], escape, tangent)
    return np.where(_segment_clears_disc(p, goal, radius)[:, None], to_goal, detour)


def detour_side(obs_trajectory: np.ndarray) -> int:
    """Which side of the obstacle a trajectory (T, >=2) of (x, y) passed: -1 left, +1 right, 0 undecided.

    The sign of the mean x over the steps beside the obstacle (|y| <= OBSTACLE_RADIUS); a trajectory that never
    gets there is judged at its step closest to y = 0.
    """
    xy = np.asarray(obs_trajectory, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] < 2 or len(xy) == 0:
        raise InvalidInputError(f"obs_trajectory must have shape (T, >=2) with T >= 1, got {xy.shape}")
    beside = np.abs(xy[:, 1]) <= OBSTACLE_RADIUS
    x = xy[beside, 0] if beside.any() else xy[[np.argmin(np.abs(xy[:, 1]))], 0]
    return int(np.sign(x.mean()))


SUCCESS_RULE = (
    f"reach within {GOAL_RADIUS} of the goal within {MAX_STEPS} steps without touching the obstacle or the walls"
)


def draw_two_path(trajectory: np.ndarray, size: int) -> Image.Image:
    """Obstacle (grey), goal (green), the path so far (blue) and the robot (dark dot)."""
    image = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(image)
    scale = size / (2 * BOUND)

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x + BOUND) * scale, (BOUND - y) * scale)

    def disc(centre: np.ndarray, radius: float, **style: Any) -> None:
        (x0, y0), (x1, y1) = px(centre[0] - radius, centre[1] + radius), px(centre[0] + radius, centre[1] - radius)
        d.ellipse([x0, y0, x1, y1], **style)

    disc(np.zeros(2), OBSTACLE_RADIUS, fill=(170, 170, 170))
    disc(GOAL, GOAL_RADIUS, fill=(80, 180, 80))
    if len(trajectory) > 1:
        d.line([px(x, y) for x, y in trajectory[:, :2]], fill=(60, 90, 200), width=2)
    disc(trajectory[-1, :2], 0.04, fill=(20, 20, 60))
    d.text((4, 4), f"t={len(trajectory) - 1}", fill="black")
    return image


RECIPES: dict[str, Recipe] = {
    "bc": ({}, {"steps": 3000}),
    "chunked-bc": ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
    # the mixture needs longer than the regressors to separate its components (docs/heads.md, "gmm")
    "gmm": ({}, {"steps": 10000}),
    "diffusion": DENOISER,
    "flow": DENOISER,
    # ACT at CPU width; two-path needs a latent that carries the detour (kl_weight 0.1: at the paper's 10 the KL
    # collapses and every rollout takes one detour) and z drawn from the prior at inference (z = 0 decodes one
    # detour for every start): docs/heads.md, "act" on two-path
    "act": (
        {
            "n_obs_steps": 2,
            "horizon": 8,
            "n_action_steps": 4,
            "d_model": 64,
            "dim_feedforward": 256,
            "kl_weight": 0.1,
            "inference_z": "prior",
        },
        {"steps": 2000},
    ),
    # tokens decoded one at a time and sampled (temperature 1): parallel argmax keeps one detour, parallel sampling
    # mixes detours within a chunk (measured in docs/heads.md, "tokenized" on two-path)
    "tokenized": ({"autoregressive": True, "temperature": 1.0}, {"steps": 3000, "batch_size": 128}),
}

register_env(
    EnvSpec(
        name="two-path",
        description="Reach the goal past the obstacle, by either detour.",
        make_vector=lambda n: BatchedTwoPath(n),
        make_single=lambda: TwoPathEnv(),
        make_expert=TwoPathExpert,
        max_steps=MAX_STEPS,
        fps=FPS,
        obs_names=("x", "y"),
        action_names=("vx", "vy"),
        success_rule=SUCCESS_RULE,
        mode_of=lambda episode: detour_side(episode["observation"]),
        state_from_obs=lambda obs: np.column_stack([obs, np.zeros((len(obs), 3))]).astype(np.float64),
        recipes=RECIPES,
        study_demos=100,
        draw=draw_two_path,
        expert_success=1.0,
    )
)
