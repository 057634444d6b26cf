"""PushT (Chi et al. 2023, "Diffusion Policy"): push a T-shaped block into a fixed goal pose with a round pusher,
simulated by gym-pusht (pymunk, the package LeRobot uses; optional extra ``imitlab[pusht]``).

Observation, env ``pusht`` (5,): agent x, y, block x, y (pixels in a 512 x 512 workspace), block angle in
[0, 2pi). Env ``pusht-keypoints`` (20,): the paper's state-based observation, 9 keypoints of the block (x0, y0,
..., x8, y8) then agent x, y; continuous in the block's pose, where the angle wraps from 2pi to 0. Env
``pusht-pixels``: gym-pusht's ``pixels_agent_pos``, agent x, y (2,) plus the 96 x 96 RGB image it renders
(camera ``observation.images.top``), the observation of the paper's image-based policies.
Action (2,): target position of the pusher (a PD controller tracks it; 10 physics steps per control step).
Reward: clip(coverage / 0.95, 0, 1), coverage = area of the block inside the goal pose / area of the block.
Success: coverage > 0.95 at any step (the episode then terminates). Score (the paper's metric): the maximum
reward over the episode, averaged over episodes. Episodes last at most 300 steps (10 Hz).

Two things differ from gym-pusht's own reset, on purpose (see docs/pusht.md):

- ``reset(seed=s)`` draws the initial state as the paper's evaluation does, from ``np.random.RandomState(s)``
  (``paper_initial_state``), and places it as the paper's test env did (``legacy=True`` in diffusion_policy's
  configs: block position set before its angle), so that our evaluation seeds 100000+ start exactly where the
  paper's did.
- ``reset(options={"state": s})`` places a state *exactly* (angle first, then position). gym-pusht's
  ``reset_to_state`` sets the position first; the rotation that follows turns the block about its centre of
  gravity and moves it (by up to ~90 px), so replaying a human demonstration from its first recorded state
  would diverge from the recording.

The simulator cannot be batched (pymunk is stepped body by body), so ``BatchedPushT`` steps its sub-envs in a
loop; the policy's forward pass is still one batched call per step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from imitlab.core.errors import ImitlabError, InvalidInputError
from imitlab.envs.pendulum import normalise_seeds
from imitlab.envs.presets import ACT_PAPER_LATENT
from imitlab.envs.registry import BatchedEnv, EnvSpec, Recipe, TeleopControl, register_env

MAX_STEPS = 300  # the paper's evaluation episode length
FPS = 10
SUCCESS_COVERAGE = 0.95
PAPER_TEST_START_SEED = 100_000  # diffusion_policy's test_start_seed; 50 test episodes in its configs
WORKSPACE = 512.0
OBS_NAMES = ("agent_x", "agent_y", "block_x", "block_y", "block_angle")
# The 9 block keypoints of diffusion_policy's PushT keypoint env (the demonstrations' ``data/keypoint``), in the
# block's frame: pixels relative to its position, before rotation by its angle. Recovered from the 25,650 recorded
# frames as the median of R(-angle) (keypoint - position); they reproduce the recorded keypoints to a median
# error of 6e-5 px and 0.45 px at the 99.9th percentile (benchmarks/pusht_replay.py; tests/envs/test_pusht.py).
BLOCK_KEYPOINTS = np.array(
    [
        [9.2698, 90.041],
        [-60.9835, -1.1867],
        [60.9128, -1.3934],
        [-0.2705, 25.5436],
        [-14.0649, 122.8159],
        [39.0027, 32.8574],
        [-39.9664, 32.7297],
        [-16.8243, 62.8632],
        [23.5415, -1.7003],
    ]
)
KEYPOINT_OBS_NAMES = tuple(f"keypoint{i}_{axis}" for i in range(len(BLOCK_KEYPOINTS)) for axis in "xy") + (
    "agent_x",
    "agent_y",
)
OBSERVATIONS = ("state", "keypoints", "agent_pos")
CAMERA = "observation.images.top"  # pusht-pixels: gym-pusht's 96 x 96 observation render
IMAGE_SIZE = 96
GYM_ID = "imitlab/PushT-v0"


class MissingExtraError(ImitlabError):
    """An optional dependency is not installed; the message says which extra to install."""


# --------------------------------------------------------------------------------------------------------------
# The paper's protocol: pure functions, no simulator needed.


def paper_initial_state(seed: int) -> np.ndarray:
    """(5,) float64 initial state of the paper's PushT env for ``seed`` (diffusion_policy ``PushTEnv.reset``):
    agent x, y ~ randint(50, 450); block x, y ~ randint(100, 400); angle ~ randn() * 2pi - pi, all drawn in
    that order from ``np.random.RandomState(seed)``."""
    rs = np.random.RandomState(seed=int(seed))
    return np.array(
        [
            rs.randint(50, 450),
            rs.randint(50, 450),
            rs.randint(100, 400),
            rs.randint(100, 400),
            rs.randn() * 2 * np.pi - np.pi,
        ],
        dtype=np.float64,
    )


def pusht_eval_seeds(seed: int, n: int) -> np.ndarray:
    """Evaluation seeds: the paper's test seeds 100000, 100001, ... for ``seed`` 0; seed s starts at
    100000 * (s + 1). (The demonstrations are human, so no collection seed can collide with these.)"""
    if seed < 0 or not 0 < n <= PAPER_TEST_START_SEED:
        raise InvalidInputError(f"need seed >= 0 and 0 < n <= {PAPER_TEST_START_SEED}, got seed {seed}, n {n}")
    return PAPER_TEST_START_SEED * (seed + 1) + np.arange(n, dtype=np.int64)


def block_keypoints(state: np.ndarray) -> np.ndarray:
    """(..., 5) states -> (..., 9, 2): the block's keypoints in the workspace (``BLOCK_KEYPOINTS`` rotated by the
    block's angle and moved to its position)."""
    state = np.asarray(state, dtype=np.float64)
    cos, sin = np.cos(state[..., 4, None]), np.sin(state[..., 4, None])
    x, y = BLOCK_KEYPOINTS[:, 0], BLOCK_KEYPOINTS[:, 1]
    return np.stack([cos * x - sin * y + state[..., 2, None], sin * x + cos * y + state[..., 3, None]], axis=-1)


def keypoint_observation(state: np.ndarray) -> np.ndarray:
    """(..., 5) states -> (..., 20) float32: the 9 block keypoints flattened, then agent x, y (the layout of
    diffusion_policy's low-dimensional PushT observation, and of ``imitlab import --obs-key keypoint --obs-key
    'state[:2]'``)."""
    state = np.asarray(state, dtype=np.float64)
    keypoints = block_keypoints(state).reshape(*state.shape[:-1], -1)
    return np.concatenate([keypoints, state[..., :2]], axis=-1).astype(np.float32)


def coverage_reward(coverage: np.ndarray | float) -> np.ndarray:
    """The paper's reward clip(coverage / 0.95, 0, 1)."""
    return np.clip(np.asarray(coverage, dtype=np.float64) / SUCCESS_COVERAGE, 0.0, 1.0)


def episode_score(reward: np.ndarray) -> float:
    """The paper's per-episode score: the maximum reward over the episode's steps (T,)."""
    reward = np.asarray(reward, dtype=np.float64)
    return float(reward.max()) if reward.size else 0.0


# --------------------------------------------------------------------------------------------------------------
# The simulator (gym-pusht), imported on first use.


def _gym_pusht_env_class():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame prints a banner on import otherwise
    try:
        from gym_pusht.envs.pusht import PushTEnv as GymPushT
    except ModuleNotFoundError as err:
        raise MissingExtraError(
            f"the pusht env needs gym-pusht ({err.name} is missing): pip install 'imitlab[pusht]'"
        ) from None
    return GymPushT


def place_state(sim: Any, state: np.ndarray, legacy: bool) -> None:
    """Put a freshly set-up gym-pusht simulator in ``state`` (5,), then run one physics step as gym-pusht does.
    ``legacy``: block position before angle (gym-pusht's and the paper's test env's order, which moves the
    block); otherwise angle first, so the block ends exactly at the given pose."""
    state = np.asarray(state, dtype=np.float64)
    if state.shape != (5,):
        raise InvalidInputError(f"a PushT state is (agent x, y, block x, y, angle), shape (5,); got {state.shape}")
    sim.agent.position = state[:2].tolist()
    if legacy:
        sim.block.position = state[2:4].tolist()
        sim.block.angle = float(state[4])
    else:
        sim.block.angle = float(state[4])
        sim.block.position = state[2:4].tolist()
    sim.space.step(sim.dt)


def observation_space(observation: str) -> spaces.Box:
    """The observation space of ``observation`` ("state", "keypoints" or "agent_pos")."""
    if observation == "state":
        return spaces.Box(
            low=np.zeros(5, np.float32), high=np.array([WORKSPACE] * 4 + [2 * np.pi], np.float32), dtype=np.float32
        )
    if observation == "keypoints":  # keypoints of a block near the border may lie outside the workspace
        return spaces.Box(low=-np.inf, high=np.inf, shape=(len(KEYPOINT_OBS_NAMES),), dtype=np.float32)
    if observation == "agent_pos":
        return spaces.Box(low=0.0, high=WORKSPACE, shape=(2,), dtype=np.float32)
    raise InvalidInputError(f"unknown PushT observation {observation!r}; choose from {', '.join(OBSERVATIONS)}")


class PushTEnv(gym.Env):
    """One PushT env with the paper's seeding (see the module docstring). ``observation``: "state" (5,),
    "keypoints" (20,) or "agent_pos" (2,), the vector part of gym-pusht's ``pixels_agent_pos`` whose image is
    ``render_pixels``. ``info`` holds ``success`` (coverage has exceeded 0.95 at some step of the episode) and
    ``coverage``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, render_mode: str | None = None, observation: str = "state"):
        self.observation_space = observation_space(observation)
        self.observation = observation
        self.sim = _gym_pusht_env_class()(obs_type="state", render_mode="rgb_array")
        self.render_mode = render_mode
        self.action_space = spaces.Box(low=0.0, high=WORKSPACE, shape=(2,), dtype=np.float32)
        self.steps = 0
        self.success = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """``seed``: the paper's initial state for that seed, placed as the paper's test env did.
        ``options={"state": (5,)}``: that exact state (e.g. a demonstration's first frame); add
        ``"legacy": True`` to place it in gym-pusht's order instead (to measure what that order does)."""
        super().reset(seed=seed)
        self.sim.reset(seed=seed)  # builds a fresh space (and seeds gym-pusht's own rng, which we do not use)
        self.sim._setup()  # gym-pusht's reset placed its own random state: start again from an empty scene
        if options and options.get("state") is not None:
            place_state(self.sim, options["state"], legacy=bool(options.get("legacy", False)))
        else:
            if seed is None:
                seed = int(self.np_random.integers(2**31))
            place_state(self.sim, paper_initial_state(seed), legacy=True)
        self.steps = 0
        self.success = False
        return self._obs(), {"success": False, "coverage": self.sim._get_coverage()}

    def state(self) -> np.ndarray:
        """(5,) agent x, y, block x, y, angle."""
        return self.sim.get_obs().astype(np.float32)

    def _obs(self) -> np.ndarray:
        state = self.state()
        if self.observation == "keypoints":
            return keypoint_observation(state)
        return state[:2].copy() if self.observation == "agent_pos" else state

    def render_pixels(self) -> np.ndarray:
        """(96, 96, 3) uint8: gym-pusht's image observation of the current state (its ``pixels`` /
        ``pixels_agent_pos`` obs_type: the 512 x 512 scene drawn with pygame, resized by OpenCV, no action marker)."""
        return self.sim._render(visualize=False)

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(2)
        _, reward, _, _, info = self.sim.step(action)
        self.steps += 1
        self.success |= bool(info["is_success"])
        terminated = self.success
        truncated = not terminated and self.steps >= MAX_STEPS
        return (
            self._obs(),
            float(reward),
            terminated,
            truncated,
            {"success": self.success, "coverage": float(info["coverage"])},
        )

    def render(self):
        return self.sim.render()

    def close(self):
        self.sim.close()


class BatchedPushT(BatchedEnv):
    """N PushT envs stepped in a loop. No autoreset: a sub-env whose episode has ended stays frozen (same obs,
    reward 0, terminated again, same success flag) until the next ``reset``. ``reset(seed=[s_0, ...])`` gives
    sub-env i the paper's initial state of ``s_i``; ``reset(options={"states": (N, 5)})`` exact states.
    ``observation``: "state", "keypoints" or "agent_pos", as ``PushTEnv``; ``render_cameras`` gives each
    sub-env's image observation (``pusht-pixels``)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED, "render_fps": FPS}

    def __init__(self, num_envs: int, observation: str = "state"):
        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.envs = [PushTEnv(observation=observation) for _ in range(self.num_envs)]
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.obs = np.zeros((self.num_envs, *observation_space(observation).shape), np.float32)
        self.done = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        states = None if not options or options.get("states") is None else np.asarray(options["states"])
        if states is not None and states.shape != (self.num_envs, 5):
            raise InvalidInputError(f"options['states'] must have shape ({self.num_envs}, 5), got {states.shape}")
        for i, (env, s) in enumerate(zip(self.envs, normalise_seeds(seed, self.num_envs))):
            self.obs[i], _ = env.reset(seed=s, options=None if states is None else {"state": states[i]})
        self.done[:] = False
        return self.obs.copy(), {"success": np.zeros(self.num_envs, dtype=bool)}

    def step(self, actions: np.ndarray):
        """actions (N, 2) target positions -> obs (N, obs_dim), reward (N,), terminated, truncated, info."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 2):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 2), got {actions.shape}")
        reward = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        coverage = np.full(self.num_envs, np.nan)
        for i, env in enumerate(self.envs):
            if self.done[i]:
                terminated[i] = env.success
                truncated[i] = not env.success
                continue
            self.obs[i], reward[i], terminated[i], truncated[i], info = env.step(actions[i])
            coverage[i] = info["coverage"]
        self.done |= terminated | truncated
        success = np.array([env.success for env in self.envs])
        return self.obs.copy(), reward, terminated, truncated, {"success": success, "coverage": coverage}

    def render_cameras(self) -> dict[str, np.ndarray]:
        """{``CAMERA``: (N, 96, 96, 3) uint8}, each sub-env's ``render_pixels`` (drawn one by one, ~1 ms each)."""
        return {CAMERA: np.stack([env.render_pixels() for env in self.envs])}

    def close(self, **kwargs):
        for env in self.envs:
            env.close()


def pointer_target(command: np.ndarray, env: BatchedPushT) -> np.ndarray:
    """The agent's target is the point under the pointer, as in the Diffusion Policy paper's demonstration tool
    (the frame shows the whole 512 x 512 workspace)."""
    return (np.clip(command, 0.0, 1.0) * WORKSPACE)[None].astype(np.float32)


PUSHT_TELEOP = TeleopControl("pointer", pointer_target, "the agent follows the pointer; push the T onto the goal")


if GYM_ID not in gym.registry:
    gym.register(id=GYM_ID, entry_point="imitlab.envs.pusht:PushTEnv", max_episode_steps=MAX_STEPS)


def replay_episode(observation: np.ndarray, action: np.ndarray, legacy: bool = False) -> np.ndarray:
    """Replay a recorded episode open loop: place its first state (exactly, or with gym-pusht's ``legacy``
    order), apply its T actions, and return the T observations (T, 5) seen before each action, which for a
    faithful simulator equal the recorded ``observation`` (T, 5)."""
    env = PushTEnv()
    env.reset(options={"state": observation[0], "legacy": legacy})
    seen = [env.state()]
    for a in action[:-1]:
        seen.append(env.step(a)[0])
    env.close()
    return np.stack(seen)


def _no_expert():
    raise ImitlabError(
        "pusht has no scripted expert: its demonstrations are the 206 human ones of Chi et al. 2023; "
        "import them with `imitlab import` (with their images: --env pusht-pixels --obs-key 'state[:2]' "
        "--image-key img; see docs/pusht.md)"
    )


# PushT on the 90 human training demonstrations (docs/pusht.md), all heads in the paper's set-up: T_obs 2, H 16,
# 8 actions executed. CPU: sized so training fits in <= 60 min on 2 cores (single-threaded CPU time per step x
# steps <= ~50 min: `python benchmarks/pusht_table.py`); the scores they reach are in docs/pusht.md.
_CHUNK = {"n_obs_steps": 2, "horizon": 16, "n_action_steps": 8}
_UNET = {**_CHUNK, "down_dims": (32, 64, 128)}
_UNET_TRAIN = {"steps": 20000, "batch_size": 64, "warmup_steps": 500, "ema_decay": 0.999}
RECIPES: dict[str, Recipe] = {
    "diffusion": (_UNET, _UNET_TRAIN),
    "flow": (_UNET, _UNET_TRAIN),
    "chunked-bc": ({**_CHUNK, "hidden_dim": 512}, {"steps": 30000, "batch_size": 256}),
    "gmm": ({**_CHUNK, "hidden_dim": 512}, {"steps": 30000, "batch_size": 256}),
    "act": ({**_CHUNK, **ACT_PAPER_LATENT}, {"steps": 12000, "batch_size": 64}),
}
# The paper's scale (Chi et al. 2023, pusht lowdim config): U-Net (256, 512, 1024), time embedding 256, AdamW lr
# 1e-4, weight decay 1e-6, batch 256, EMA, DDPM with 100 steps in training and at inference; 5000 epochs of the
# 90-episode split (~45 batches each) = ~225k steps. Needs a GPU (`pusht_table.py --scale full --device cuda`).
_PAPER_TRAIN = {
    "steps": 225000,
    "batch_size": 256,
    "lr": 1e-4,
    "weight_decay": 1e-6,
    "warmup_steps": 500,
    "ema_decay": 0.9999,
}
_PAPER_UNET = {**_CHUNK, "down_dims": (256, 512, 1024), "time_embed_dim": 256}
FULL_SCALE: dict[str, Recipe] = {
    "diffusion": ({**_PAPER_UNET, "sampler": "ddpm", "num_inference_steps": 100}, _PAPER_TRAIN),
    "flow": (_PAPER_UNET, _PAPER_TRAIN),
    "chunked-bc": ({**_CHUNK, "hidden_dim": 1024, "num_layers": 4}, _PAPER_TRAIN),
    "gmm": ({**_CHUNK, "hidden_dim": 1024, "num_layers": 4}, _PAPER_TRAIN),
    "act": ({**_CHUNK, **ACT_PAPER_LATENT, "d_model": 512, "dim_feedforward": 3200}, _PAPER_TRAIN),
}
# From images (agent x, y + the 96 x 96 frame), diffusion as the paper's image policy: random 84 x 84 crops. CPU:
# the tiny trunk (~300 ms of CPU per batch-64 step on 1 thread, EMA included; "small" takes ~700, ResNet-18
# ~2400), so 15k steps train in <= 90 minutes. Full scale: LeRobot's diffusion_pusht (ResNet-18 with GroupNorm,
# spatial softmax with 32 keypoints, U-Net (512, 1024, 2048), time embedding 128, DDPM 100, batch 64, 200k steps).
_CROP = {"crop_shape": (84, 84)}
PIXEL_RECIPES: dict[str, Recipe] = {
    "diffusion": ({**_UNET, "vision": {"backbone": "tiny", **_CROP}}, {**_UNET_TRAIN, "steps": 15000}),
}
PIXEL_FULL_SCALE: dict[str, Recipe] = {
    "diffusion": (
        {
            **_CHUNK,
            "down_dims": (512, 1024, 2048),
            "time_embed_dim": 128,
            "sampler": "ddpm",
            "num_inference_steps": 100,
            "vision": {"backbone": "resnet18", **_CROP},
        },
        {**_PAPER_TRAIN, "steps": 200000, "batch_size": 64},
    ),
}

# pusht-keypoints is the same task observed as the paper observes it (9 block keypoints + agent x, y): same recipes
for name, observation, obs_names, cameras, description, recipes, full_scale in (
    ("pusht", "state", OBS_NAMES, {}, "Push the T-shaped block into the goal pose.", RECIPES, FULL_SCALE),
    (
        "pusht-keypoints",
        "keypoints",
        KEYPOINT_OBS_NAMES,
        {},
        "Push the T-shaped block into the goal pose (observation: 9 block keypoints and the agent position).",
        RECIPES,
        FULL_SCALE,
    ),
    (
        "pusht-pixels",
        "agent_pos",
        OBS_NAMES[:2],
        {CAMERA: (IMAGE_SIZE, IMAGE_SIZE)},
        "Push the T-shaped block into the goal pose (observation: a 96x96 top-down image and the agent position).",
        PIXEL_RECIPES,
        PIXEL_FULL_SCALE,
    ),
):
    register_env(
        EnvSpec(
            name=name,
            description=description,
            make_vector=partial(BatchedPushT, observation=observation),
            make_single=partial(PushTEnv, observation=observation),
            make_expert=_no_expert,
            max_steps=MAX_STEPS,
            fps=FPS,
            obs_names=obs_names,
            action_names=("target_x", "target_y"),
            success_rule=f"coverage of the goal pose > {SUCCESS_COVERAGE} at any step within {MAX_STEPS} steps",
            eval_seeds=pusht_eval_seeds,
            episode_score=episode_score,
            score_rule="mean over episodes of the maximum of clip(coverage / 0.95, 0, 1) (Chi et al. 2023)",
            cameras=cameras,
            recipes=recipes,
            full_scale_recipes=full_scale,
            # a person drives it where the page can show what the camera sees
            teleop=PUSHT_TELEOP if cameras else None,
        )
    )
