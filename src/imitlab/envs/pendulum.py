"""Pendulum swing-up: gymnasium's ``Pendulum-v1`` as one batched numpy step, its success rule and a scripted
swing-up expert.

Dynamics (identical to gymnasium's ``Pendulum-v1``, checked step for step in the tests)::

    u        = clip(action, -2, 2)
    thdot'   = clip(thdot + (3 g / (2 l) sin(th) + 3 / (m l^2) u) dt, -8, 8)      g=10, m=l=1, dt=0.05
    th'      = th + thdot' dt
    reward   = -(angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2)                 (state before the step)

``theta = 0`` is upright. Episodes last 200 steps (truncated at step 200, never terminated).

Success (``info["success"]``, every step): the pole has been upright, ``|angle_normalize(theta)| < 0.3``, after
each of the last 50 steps. Read at step 200 this is the task's success criterion: "upright for the last 2.5 s".
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
from imitlab.envs.presets import ACT_PAPER_LATENT, DENOISER
from imitlab.envs.registry import BatchedEnv, EnvSpec, Recipe, register_env

# Pendulum-v1 constants (gymnasium/envs/classic_control/pendulum.py).
G = 10.0
MASS = 1.0
LENGTH = 1.0
DT = 0.05
MAX_SPEED = 8.0
MAX_TORQUE = 2.0
MAX_STEPS = 200  # Pendulum-v1's TimeLimit
INIT_HIGH = np.array([np.pi, 1.0])  # reset draws (theta, thetadot) ~ U(-INIT_HIGH, INIT_HIGH)

# Success rule.
UPRIGHT_ANGLE = 0.3  # rad: |angle_normalize(theta)| below this counts as upright
UPRIGHT_STEPS = 50  # consecutive upright steps needed (2.5 s at 20 Hz)

# get_state() columns.
STATE_NAMES = ("theta", "theta_dot", "step", "upright_streak")


def angle_normalize(x: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi) (same formula as gymnasium's)."""
    return ((x + np.pi) % (2 * np.pi)) - np.pi


def pendulum_obs(theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
    """(N, 3) float32 observation (cos theta, sin theta, theta_dot), as Pendulum-v1 returns it."""
    return np.stack([np.cos(theta), np.sin(theta), theta_dot], axis=-1).astype(np.float32)


def pendulum_step(theta: np.ndarray, theta_dot: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Pendulum-v1 step for N pendulums: (theta (N,), theta_dot (N,), u (N,)) -> (theta', theta_dot', reward).

    ``u`` is kept in float32 like gymnasium's (its action space is float32), so that numpy's promotion rules give
    bit-identical results.
    """
    u = np.clip(u, -MAX_TORQUE, MAX_TORQUE)
    costs = angle_normalize(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * (u**2)
    new_theta_dot = theta_dot + (3 * G / (2 * LENGTH) * np.sin(theta) + 3.0 / (MASS * LENGTH**2) * u) * DT
    new_theta_dot = np.clip(new_theta_dot, -MAX_SPEED, MAX_SPEED)
    new_theta = theta + new_theta_dot * DT
    return new_theta, new_theta_dot, -costs


def update_streak(streak: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Upright-streak counter after a step that ended at ``theta``: +1 if upright, else reset to 0."""
    upright = np.abs(angle_normalize(theta)) < UPRIGHT_ANGLE
    return np.where(upright, streak + 1, 0)


def normalise_seeds(seed: int | Sequence[int | None] | None, n: int) -> list[int | None]:
    """gymnasium's vector convention: an int seeds sub-env i with ``seed + i``; a sequence gives one seed each."""
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(n)]
    seeds = [None if s is None else int(s) for s in seed]
    if len(seeds) != n:
        raise InvalidInputError(f"reset got {len(seeds)} seeds for {n} sub-envs")
    return seeds


class BatchedPendulum(BatchedEnv):
    """N independent ``Pendulum-v1`` copies stepped as one numpy operation. No autoreset: after an episode has
    ended (truncated at step 200) a sub-env keeps stepping and the caller ignores it.

    ``reset(seed=[s_0, ..., s_{N-1}])`` gives sub-env i exactly the state ``gymnasium.make("Pendulum-v1")``
    gives for ``reset(seed=s_i)``; an int seed means ``seed + i`` as in gymnasium's vector envs.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED, "render_fps": 20}

    def __init__(self, num_envs: int):
        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        high = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
        self.single_observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.single_action_space = spaces.Box(low=-MAX_TORQUE, high=MAX_TORQUE, shape=(1,), dtype=np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._rngs = [gym.utils.seeding.np_random()[0] for _ in range(self.num_envs)]  # unseeded until reset(seed)
        self.theta = np.zeros(self.num_envs)
        self.theta_dot = np.zeros(self.num_envs)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.streak = np.zeros(self.num_envs, dtype=np.int64)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env; returns obs (N, 3) float32 and info with ``success`` (N,) all False."""
        for i, s in enumerate(normalise_seeds(seed, self.num_envs)):
            if s is not None:
                self._rngs[i], _ = gym.utils.seeding.np_random(s)
        init = np.stack([rng.uniform(low=-INIT_HIGH, high=INIT_HIGH) for rng in self._rngs])  # (N, 2)
        self.theta, self.theta_dot = init[:, 0].copy(), init[:, 1].copy()
        self.steps[:] = 0
        self.streak[:] = 0
        return pendulum_obs(self.theta, self.theta_dot), {"success": self.success}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """actions (N, 1) torque -> obs (N, 3), reward (N,), terminated (N,), truncated (N,), info."""
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape not in ((self.num_envs, 1), (self.num_envs,)):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 1), got {actions.shape}")
        self.theta, self.theta_dot, reward = pendulum_step(self.theta, self.theta_dot, actions.reshape(-1))
        self.steps += 1
        self.streak = update_streak(self.streak, self.theta)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = self.steps >= MAX_STEPS
        return pendulum_obs(self.theta, self.theta_dot), reward, terminated, truncated, {"success": self.success}

    @property
    def success(self) -> np.ndarray:
        """(N,) bool: upright after each of the last ``UPRIGHT_STEPS`` steps."""
        return self.streak >= UPRIGHT_STEPS

    def get_state(self) -> np.ndarray:
        """(N, 4) float64 copy of (theta, theta_dot, step, upright_streak); see ``STATE_NAMES``."""
        return np.stack([self.theta, self.theta_dot, self.steps, self.streak], axis=1).astype(np.float64)

    def set_state(self, state: np.ndarray) -> np.ndarray:
        """Load an (N, 4) state from ``get_state`` (of this env or another of the same size); returns the obs."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.num_envs, len(STATE_NAMES)):
            raise InvalidInputError(f"state must have shape ({self.num_envs}, {len(STATE_NAMES)}), got {state.shape}")
        self.theta, self.theta_dot = state[:, 0].copy(), state[:, 1].copy()
        self.steps = state[:, 2].astype(np.int64)
        self.streak = state[:, 3].astype(np.int64)
        return pendulum_obs(self.theta, self.theta_dot)


class PendulumSuccess(gym.Wrapper):
    """``gymnasium.make("Pendulum-v1")`` plus ``info["success"]`` (bool, same rule as ``BatchedPendulum``)."""

    def __init__(self, env: gym.Env | None = None):
        super().__init__(env if env is not None else gym.make("Pendulum-v1"))
        self._streak = 0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._streak = 0
        return obs, {**info, "success": False}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        theta = np.arctan2(obs[1], obs[0])  # the obs is exact enough for a 0.3 rad threshold
        self._streak = int(update_streak(np.array(self._streak), np.array(theta)))
        return obs, reward, terminated, truncated, {**info, "success": self._streak >= UPRIGHT_STEPS}


# --------------------------------------------------------------------------------------------------------------
# Controllers

# Linearised (semi-implicit Euler) model about upright: x = (theta, theta_dot), u torque.
#   theta_dot' = theta_dot + (15 theta + 3 u) dt ; theta' = theta + theta_dot' dt
_A = np.array([[1 + 15 * DT * DT, DT], [15 * DT, 1.0]])
_B = np.array([[3 * DT * DT], [3 * DT]])


def _dlqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: float, iters: int = 500) -> np.ndarray:
    """Discrete LQR gain K (u = -K x) by Riccati iteration."""
    p = q.copy()
    for _ in range(iters):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = q + a.T @ p @ (a - b @ k)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


LQR_GAIN = _dlqr_gain(_A, _B, q=np.diag([1.0, 0.1]), r=0.01).ravel()  # u = -LQR_GAIN @ (theta, theta_dot)


def obs_angle(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(theta in [-pi, pi], theta_dot) from observations (N, 3)."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != 3:
        raise InvalidInputError(f"pendulum obs must have shape (N, 3), got {obs.shape}")
    return np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]


def pendulum_state_from_obs(obs: np.ndarray) -> np.ndarray:
    """(N, 4) ``get_state`` rows (theta, theta_dot, step 0, streak 0) whose observation is ``obs`` (N, 3)."""
    theta, theta_dot = obs_angle(obs)
    return np.stack([theta, theta_dot, np.zeros_like(theta), np.zeros_like(theta)], axis=1)


def pd_law(obs: np.ndarray) -> np.ndarray:
    """The course notes' PD law ``clip(-5 theta - 0.5 theta_dot, -2, 2)``: (N, 3) obs -> (N, 1) torque.

    It balances near upright but cannot swing the pole up from hanging down: 2 N·m is less than the gravity torque
    it fights (see docs/environments.md for the measured figures).
    """
    theta, theta_dot = obs_angle(obs)
    return np.clip(-5.0 * theta - 0.5 * theta_dot, -MAX_TORQUE, MAX_TORQUE)[:, None].astype(np.float32)


class SwingUpExpert:
    """Energy-pumping swing-up with an LQR stabiliser near upright. Batched and memoryless: the action depends on
    the current observation only, so it can be queried at any state (DAgger, DART).

    Energy per unit inertia ``E = theta_dot^2 / 2 + 15 cos(theta)`` (upright at rest: ``E* = 15``);
    ``dE/dt = 3 u theta_dot``, so ``u = k theta_dot (E* - E)`` pumps energy towards the upright orbit (Åström &
    Furuta, "Swinging up a pendulum by energy control", 2000). Within ``capture_angle`` of upright, and with speed
    low enough to be caught, the linear LQR law takes over.
    """

    def __init__(self, k_energy: float = 1.0, capture_angle: float = 0.6, capture_speed: float = 4.0):
        self.k_energy = k_energy
        self.capture_angle = capture_angle
        self.capture_speed = capture_speed

    def reset(self, seeds: np.ndarray) -> None:
        """Nothing to reset: the expert is memoryless."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs (N, 3) -> torque (N, 1) float32 in [-2, 2]."""
        theta, theta_dot = obs_angle(obs)
        energy = 0.5 * theta_dot**2 + 1.5 * G / LENGTH * np.cos(theta)
        target = 1.5 * G / LENGTH
        pump = self.k_energy * theta_dot * (target - energy)
        # From rest (theta_dot = 0) the pumping law gives u = 0, e.g. at the exact bottom: kick to start swinging.
        at_rest = np.abs(theta_dot) < 1e-3
        pump = np.where(at_rest, MAX_TORQUE, pump)
        stabilise = -(LQR_GAIN[0] * theta + LQR_GAIN[1] * theta_dot)
        near = (np.abs(theta) < self.capture_angle) & (np.abs(theta_dot) < self.capture_speed)
        u = np.where(near, stabilise, pump)
        return np.clip(u, -MAX_TORQUE, MAX_TORQUE)[:, None].astype(np.float32)


def draw_pendulum(trajectory: np.ndarray, size: int) -> Image.Image:
    """Pole from the pivot at angle theta (0 = up); obs is (cos theta, sin theta, theta_dot)."""
    image = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(image)
    c = size / 2
    cos, sin = trajectory[-1, 0], trajectory[-1, 1]
    tip = (c - 0.4 * size * sin, c - 0.4 * size * cos)  # theta grows anticlockwise, as gymnasium draws it
    d.ellipse([c - 0.4 * size, c - 0.4 * size, c + 0.4 * size, c + 0.4 * size], outline=(220, 220, 220))
    d.line([(c, c), tip], fill=(200, 60, 60), width=7)
    d.ellipse([c - 4, c - 4, c + 4, c + 4], fill="black")
    d.text((4, 4), f"t={len(trajectory) - 1}", fill="black")
    return image


RECIPES: dict[str, Recipe] = {
    "bc": ({}, {"steps": 3000}),
    "chunked-bc": ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
    "gmm": ({}, {"steps": 10000}),
    "diffusion": DENOISER,
    "flow": DENOISER,
    # ACT on Pendulum needs the L2 reconstruction: with the paper's L1 every run failed (docs/heads.md, "act")
    "act": (
        {
            "horizon": 8,
            "n_action_steps": 4,
            "d_model": 64,
            "dim_feedforward": 256,
            "dropout": 0.0,
            "loss": "l2",
            **ACT_PAPER_LATENT,
        },
        {"steps": 3000, "lr": 1e-3},
    ),
    # Decision Transformer on mixed-quality data (MIXED_EPSILONS), context K = 10 steps
    "dt": ({"n_obs_steps": 10}, {"steps": 3000}),
}
# the mixed-quality data the dt recipe was measured on: `imitlab collect --epsilon 0 0.25 0.5 0.75 1` (episode i
# takes a uniformly random action with probability MIXED_EPSILONS[i % 5] at each step)
MIXED_EPSILONS = (0.0, 0.25, 0.5, 0.75, 1.0)

register_env(
    EnvSpec(
        name="pendulum",
        description="Swing the pendulum up and balance it upright.",
        make_vector=lambda n: BatchedPendulum(n),
        make_single=lambda: PendulumSuccess(),
        make_expert=SwingUpExpert,
        state_from_obs=pendulum_state_from_obs,
        max_steps=MAX_STEPS,
        fps=20,
        obs_names=("cos_theta", "sin_theta", "theta_dot"),
        action_names=("torque",),
        success_rule=(
            f"upright (|theta| < {UPRIGHT_ANGLE} rad) after each of the last {UPRIGHT_STEPS} of the {MAX_STEPS} steps"
        ),
        recipes=RECIPES,
        study_demos=50,
        rl_defaults={
            # 16 episodes x 200 steps per batch; gamma 0.95 and rewards / 10: the costs are dense and local
            "reinforce": {"num_envs": 16, "gamma": 0.95, "reward_scale": 0.1},
            # 8 episodes x 200 steps per batch, the same discount and scale
            "ppo": {"num_envs": 8, "gamma": 0.95, "lr": 1e-3, "reward_scale": 0.1, "eval_every": 1_600},
        },
        draw=draw_pendulum,
        expert_success=1.0,
    )
)
