"""Meta-World (Yu et al. 2019, Farama's ``metaworld`` 3.1.1): 50 tabletop manipulation tasks on a simulated Sawyer
arm, each with its scripted policy as the expert. One module registers the whole family:

- ``metaworld/<task>`` (e.g. ``metaworld/pick-place``): the full 39-D state (hand xyz, gripper opening, two objects'
  positions and quaternions, the same 18 numbers one step earlier, the goal), as Meta-World's MT1 gives it;
- ``metaworld/<task>-pixels``: the ``corner2`` camera (RGB, ``IMAGE_SIZE``²) plus LeRobot's 4-D agent state (hand
  xyz and gripper); its expert still acts on the simulator's full state (``attach_env``), the policy sees only
  the camera and the agent state.

Object and goal positions are drawn per reset seed from the task's own random reset space (what MT1 samples its
tasks from), so collection and evaluation seeds give disjoint initial states. Actions are (dx, dy, dz, gripper) in
[-1, 1]^4. An episode ends at success (``info["success"]``) or after ``MAX_STEPS`` steps. Rendering turns off
shadows, reflections and the skybox, which cost ~20x in software GL (``MUJOCO_GL=egl``).

``metaworld`` is an optional extra (``pip install -e '.[metaworld]'``); the envs register without it and say how
to install it when built.
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
from imitlab.envs.registry import (
    BatchedEnv,
    EnvSet,
    EnvSpec,
    Recipe,
    TeleopControl,
    register_env,
    register_env_set,
)

# MuJoCo picks its OpenGL backend when it is first imported (by metaworld, or by anything else in the process):
# headless EGL unless the user chose another
os.environ.setdefault("MUJOCO_GL", "egl")

PREFIX = "metaworld/"
MAX_STEPS = 500  # Meta-World's truncation
FPS = 80  # 1 / the env's dt (0.0125 s: frame_skip 5 x 0.0025 s)
IMAGE_SIZE = 84  # the corner2 camera's side in pixels (LeRobot's Meta-World env renders 480)
CAMERA_NAME = "corner2"
# every head's state normalisation adds 1 cm (in the state's units) to each dimension's scale: a resting
# object's height and orientation move by ~1e-4 over a task's demos, and divided by that they become inputs as
# large as the hand's position, which a policy then fits to (bc on reach from 50 demonstrations: 72 % over 5
# training seeds without the floor, docs/environments.md)
STATE_RECIPE: Recipe = ({"obs_scale_floor": 0.01}, {})
CAMERA = f"observation.images.{CAMERA_NAME}"
STATE_NAMES = (
    *("hand_x", "hand_y", "hand_z", "gripper"),
    *(f"obj1_{k}" for k in ("x", "y", "z", "qw", "qx", "qy", "qz")),
    *(f"obj2_{k}" for k in ("x", "y", "z", "qw", "qx", "qy", "qz")),
    *(f"prev_{n}" for n in ("hand_x", "hand_y", "hand_z", "gripper")),
    *(f"prev_obj1_{k}" for k in ("x", "y", "z", "qw", "qx", "qy", "qz")),
    *(f"prev_obj2_{k}" for k in ("x", "y", "z", "qw", "qx", "qy", "qz")),
    *("goal_x", "goal_y", "goal_z"),
)
# the MuJoCo state get_state saves (mujoco.mjtState.mjSTATE_INTEGRATION: time, qpos, qvel, act, warm start, ctrl,
# applied forces, equality flags, mocap pose, user data), spelt as its value so that MuJoCo loads lazily
PHYSICS_STATE = 0x1FFF
AGENT_STATE = slice(0, 4)  # LeRobot's agent state: hand xyz and gripper opening
ACTION_NAMES = ("dx", "dy", "dz", "gripper")

# LeRobot's difficulty groups for the 50 tasks (easy 28, medium 11, hard 6, very hard 5)
DIFFICULTY: dict[str, tuple[str, ...]] = {
    "easy": (
        "button-press",
        "button-press-topdown",
        "button-press-topdown-wall",
        "button-press-wall",
        "coffee-button",
        "dial-turn",
        "door-close",
        "door-lock",
        "door-open",
        "door-unlock",
        "drawer-close",
        "drawer-open",
        "faucet-close",
        "faucet-open",
        "handle-press",
        "handle-press-side",
        "handle-pull",
        "handle-pull-side",
        "lever-pull",
        "plate-slide",
        "plate-slide-back",
        "plate-slide-back-side",
        "plate-slide-side",
        "reach",
        "reach-wall",
        "window-close",
        "window-open",
        "peg-unplug-side",
    ),
    "medium": (
        "basketball",
        "bin-picking",
        "box-close",
        "coffee-pull",
        "coffee-push",
        "hammer",
        "peg-insert-side",
        "push-wall",
        "soccer",
        "sweep",
        "sweep-into",
    ),
    "hard": ("assembly", "hand-insert", "pick-out-of-hole", "pick-place", "push", "push-back"),
    "very_hard": ("shelf-place", "disassemble", "stick-pull", "stick-push", "pick-place-wall"),
}
TASKS = tuple(sorted(task for tasks in DIFFICULTY.values() for task in tasks))
GROUP_OF = {task: group for group, tasks in DIFFICULTY.items() for task in tasks}
# Meta-World's MT10 benchmark (metaworld.env_dict.MT10_V3, in its order); MT50 is every task
MT10 = (
    "reach",
    "push",
    "pick-place",
    "door-open",
    "drawer-open",
    "drawer-close",
    "button-press-topdown",
    "peg-insert-side",
    "window-open",
    "window-close",
)


class MissingMetaWorldError(ImitlabError):
    """The ``metaworld`` extra is not installed."""


def _metaworld() -> Any:
    try:
        import metaworld.env_dict
        import metaworld.policies
    except ImportError as err:
        raise MissingMetaWorldError(
            f"the Meta-World envs need the metaworld extra: pip install -e '.[metaworld]' ({err})"
        ) from err
    return metaworld


def make_task_env(task: str) -> Any:
    """One Meta-World v3 env of ``task`` as MT1 configures it (goal in the observation), whose object and goal
    positions are drawn from the task's reset space by the seed of each ``reset_to``."""
    env = _metaworld().env_dict.ALL_V3_ENVIRONMENTS[f"{task}-v3"]()
    env._partially_observable = False  # MT1's override: the goal is part of the observation ...
    env.__dict__.pop("sawyer_observation_space", None)  # ... and of the (cached) bounds step clips it to
    env._freeze_rand_vec = False  # positions drawn at each reset ...
    env.seeded_rand_vec = True  # ... from the env's own seeded generator
    env.max_path_length = MAX_STEPS
    env._set_task_called = True  # no task object: the positions come from each reset's seed instead
    return env


def _set_spaces(env: BatchedEnv, observation: str) -> None:
    """The observation ("state": 39-D, "pixels": the 4-D agent state) and action spaces of ``env``'s sub-envs."""
    dim = len(STATE_NAMES) if observation == "state" else AGENT_STATE.stop
    env.single_observation_space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
    env.single_action_space = spaces.Box(-1.0, 1.0, (len(ACTION_NAMES),), np.float32)
    env.observation_space = gym.vector.utils.batch_space(env.single_observation_space, env.num_envs)
    env.action_space = gym.vector.utils.batch_space(env.single_action_space, env.num_envs)


class BatchedMetaWorld(BatchedEnv):
    """N envs of one task in lock-step (``observation``: "state" for the 39-D state, "pixels" for the 4-D agent
    state beside the camera). A sub-env whose episode ended is not stepped again: it keeps its last observation and
    success, gives reward 0 and repeats its done flags until the next ``reset``."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED, "render_fps": FPS}

    def __init__(self, num_envs: int, task: str, observation: str = "state", image_size: int = IMAGE_SIZE):
        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs, self.task, self.observation = int(num_envs), task, observation
        self.envs = [make_task_env(task) for _ in range(self.num_envs)]
        _set_spaces(self, observation)
        self.state = np.zeros((self.num_envs, len(STATE_NAMES)), np.float64)  # the full observation of each
        self.steps = np.zeros(self.num_envs, np.int64)
        self.success = np.zeros(self.num_envs, bool)
        self.truncated = np.zeros(self.num_envs, bool)
        self.image_size = image_size
        self._renderers: list[Any] = []

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset sub-env i with seed i: its object and goal positions are drawn from that seed."""
        for i, s in enumerate(normalise_seeds(seed, self.num_envs)):
            if s is not None:
                self.envs[i].seed(int(s))
            self.state[i] = self.envs[i].reset()[0]
        self.steps[:] = 0
        self.success[:] = False
        self.truncated[:] = False
        return self._observe(), {"success": self.success.copy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """actions (N, 4) in [-1, 1] -> obs, reward (N,), terminated (N,) = success, truncated (N,), info."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, len(ACTION_NAMES)):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 4), got {actions.shape}")
        reward = np.zeros(self.num_envs)
        for i in np.flatnonzero(~(self.success | self.truncated)):
            obs, r, _, truncated, info = self.envs[i].step(np.clip(actions[i], -1.0, 1.0))
            self.state[i], reward[i] = obs, r
            self.steps[i] += 1
            self.success[i] = bool(info["success"])
            self.truncated[i] = bool(truncated) or self.steps[i] >= MAX_STEPS
        info = {"success": self.success.copy()}
        return self._observe(), reward, self.success.copy(), self.truncated & ~self.success, info

    def get_state(self) -> np.ndarray:
        """(N, state_dim): each sub-env's MuJoCo integration state (positions, velocities, mocap, controls), its
        step counts and done flags, the previous frame its observation repeats and its observation: what
        ``set_state`` needs to continue the episode exactly, in an env reset with the episode's seed (which fixes
        the goal)."""
        import mujoco

        rows = []
        for i, env in enumerate(self.envs):
            physics = np.empty(mujoco.mj_stateSize(env.model, PHYSICS_STATE))
            mujoco.mj_getState(env.model, env.data, physics, PHYSICS_STATE)
            counters = [env.curr_path_length, self.steps[i], self.success[i], self.truncated[i]]
            rows.append(np.concatenate([physics, counters, env._prev_obs, self.state[i]]))
        return np.stack(rows)

    def set_state(self, states: np.ndarray) -> np.ndarray:
        """Load ``states`` (N, state_dim) from ``get_state``; returns the observations there."""
        import mujoco

        states = np.asarray(states, dtype=np.float64)
        for i, (env, row) in enumerate(zip(self.envs, states, strict=True)):
            n = mujoco.mj_stateSize(env.model, PHYSICS_STATE)
            if len(row) != n + 4 + 18 + len(STATE_NAMES):
                raise InvalidInputError(f"a Meta-World {self.task} state has {n + 61} numbers, got {len(row)}")
            mujoco.mj_setState(env.model, env.data, row[:n], PHYSICS_STATE)
            mujoco.mj_forward(env.model, env.data)
            env.curr_path_length, self.steps[i] = int(row[n]), int(row[n + 1])
            self.success[i], self.truncated[i] = bool(row[n + 2]), bool(row[n + 3])
            env._prev_obs = row[n + 4 : n + 22].copy()
            self.state[i] = row[n + 22 :]
        return self._observe()

    def _observe(self) -> np.ndarray:
        if self.observation == "state":
            return self.state.astype(np.float32)
        return self.state[:, AGENT_STATE].astype(np.float32)

    def render_cameras(self) -> dict[str, np.ndarray]:
        """{camera key: (N, H, W, 3) uint8}: each sub-env's corner2 view of its current state."""
        if not self._renderers:
            self._renderers = [FastRenderer(env, self.image_size) for env in self.envs]
        return {CAMERA: np.stack([renderer.render() for renderer in self._renderers])}

    def close(self, **kwargs: Any) -> None:
        for renderer in self._renderers:
            renderer.close()
        for env in self.envs:
            env.close()


class WorkerMetaWorld(BatchedEnv):
    """``BatchedMetaWorld`` with its sub-envs split over worker processes (one per core), so that stepping and
    rendering use every core; the same interface, observations and ``state``. Built by ``make_batched`` for
    ``WORKER_MIN_ENVS`` sub-envs or more."""

    metadata = BatchedMetaWorld.metadata

    def __init__(self, num_envs: int, task: str, observation: str = "state", workers: int = 2):
        import multiprocessing

        self.num_envs, self.task, self.observation = int(num_envs), task, observation
        sizes = [len(part) for part in np.array_split(np.arange(self.num_envs), workers)]
        context = multiprocessing.get_context("spawn")  # no fork of a process holding torch's threads
        self.pipes, self.processes = [], []
        for size in sizes:
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, size, task, observation), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        self.bounds = np.cumsum([0, *sizes])
        _set_spaces(self, observation)
        self.state = np.zeros((self.num_envs, len(STATE_NAMES)), np.float64)

    def _call(self, method: str, parts: list[Any]) -> list[Any]:
        for pipe, part in zip(self.pipes, parts):
            pipe.send((method, part))
        return [pipe.recv() for pipe in self.pipes]

    def _split(self, values: Any) -> list[Any]:
        return [values[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        results = self._call("reset", self._split(normalise_seeds(seed, self.num_envs)))
        obs, states, success = (np.concatenate(parts) for parts in zip(*results))
        self.state = states
        return obs, {"success": success}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, len(ACTION_NAMES)):
            raise InvalidInputError(f"actions must have shape ({self.num_envs}, 4), got {actions.shape}")
        results = self._call("step", self._split(actions))
        obs, reward, terminated, truncated, states, success = (np.concatenate(parts) for parts in zip(*results))
        self.state = states
        return obs, reward, terminated, truncated, {"success": success}

    def render_cameras(self) -> dict[str, np.ndarray]:
        return {CAMERA: np.concatenate(self._call("render", [None] * len(self.pipes)))}

    def get_state(self) -> np.ndarray:
        return np.concatenate(self._call("get_state", [None] * len(self.pipes)))

    def set_state(self, states: np.ndarray) -> np.ndarray:
        obs, observed = (np.concatenate(parts) for parts in zip(*self._call("set_state", self._split(states))))
        self.state = observed
        return obs

    def close(self, **kwargs: Any) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _serve(pipe: Any, size: int, task: str, observation: str) -> None:
    """A worker of ``WorkerMetaWorld``: ``size`` sub-envs of one task, stepped on request."""
    env = BatchedMetaWorld(size, task, observation)
    while True:
        method, argument = pipe.recv()
        if method == "reset":
            obs, info = env.reset(seed=argument)
            pipe.send((obs, env.state.copy(), info["success"]))
        elif method == "step":
            obs, reward, terminated, truncated, info = env.step(argument)
            pipe.send((obs, reward, terminated, truncated, env.state.copy(), info["success"]))
        elif method == "get_state":
            pipe.send(env.get_state())
        elif method == "set_state":
            pipe.send((env.set_state(argument), env.state.copy()))
        elif method == "render":
            pipe.send(env.render_cameras()[CAMERA])
        else:
            env.close()
            pipe.close()
            return


WORKER_MIN_ENVS = 16  # from this many sub-envs on, they are split over one worker process per core


def make_batched(num_envs: int, task: str, observation: str = "state") -> BatchedEnv:
    """N sub-envs of ``task``: in this process, or over worker processes (one per core) when there are at least
    ``WORKER_MIN_ENVS`` of them and more than one core."""
    workers = min(os.cpu_count() or 1, num_envs // (WORKER_MIN_ENVS // 2))
    if num_envs >= WORKER_MIN_ENVS and workers > 1:
        return WorkerMetaWorld(num_envs, task, observation, workers)
    return BatchedMetaWorld(num_envs, task, observation)


class FastRenderer:
    """The corner2 camera of one env through ``mujoco.Renderer``, with shadows, reflections and the skybox off
    (in software GL they cost ~20x a frame); the image is flipped to the right way up as Meta-World's own
    ``render`` does for this camera."""

    def __init__(self, env: Any, size: int):
        import mujoco

        self.env = env
        env.model.vis.quality.shadowsize = 0
        self.renderer = mujoco.Renderer(env.model, size, size)
        self.option = mujoco.MjvOption()
        for flag in (
            mujoco.mjtRndFlag.mjRND_SHADOW,
            mujoco.mjtRndFlag.mjRND_REFLECTION,
            mujoco.mjtRndFlag.mjRND_SKYBOX,
        ):
            self.renderer.scene.flags[flag] = False
        self.camera = env.model.camera(CAMERA_NAME).id

    def render(self) -> np.ndarray:
        self.renderer.update_scene(self.env.data, camera=self.camera, scene_option=self.option)  # keeps the flags
        return np.ascontiguousarray(self.renderer.render()[::-1, ::-1])

    def close(self) -> None:
        self.renderer.close()


class MetaWorldSingle(gym.Env):
    """One env of a task as a plain gymnasium env (serial baselines, rendering)."""

    def __init__(self, task: str, observation: str = "state"):
        self.batched = BatchedMetaWorld(1, task, observation)
        self.observation_space = self.batched.single_observation_space
        self.action_space = self.batched.single_action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        obs, info = self.batched.reset(seed=[seed])
        return obs[0], {"success": bool(info["success"][0])}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.batched.step(np.asarray(action)[None])
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {"success": bool(info["success"][0])}


class MetaWorldExpert:
    """The task's scripted policy (``metaworld.policies``), batched: it acts on the full 39-D state. On the
    camera variant the policy's observation is the agent state only, so the expert reads the state from the env
    it is attached to (``attach_env``), as a privileged teacher."""

    def __init__(self, task: str):
        self.policy = _metaworld().policies.ENV_POLICY_MAP[f"{task}-v3"]()
        self.env: BatchedMetaWorld | WorkerMetaWorld | None = None

    def attach_env(self, env: Any) -> None:
        self.env = env if isinstance(env, (BatchedMetaWorld, WorkerMetaWorld)) else None

    def reset(self, seeds: np.ndarray) -> None:
        """The scripted policies are memoryless."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs (N, 39) (or the agent state of the attached camera env) -> actions (N, 4) float32 in [-1, 1]."""
        state = self.env.state if self.env is not None and self.env.observation != "state" else np.asarray(obs)
        if state.shape[-1] != len(STATE_NAMES):
            raise InvalidInputError(
                f"the Meta-World expert acts on the {len(STATE_NAMES)}-D state, got {state.shape}; on a camera "
                "variant it must be attached to its env (attach_env)"
            )
        actions = np.stack([self.policy.get_action(s.astype(np.float64)) for s in state])
        return np.clip(actions, -1.0, 1.0).astype(np.float32)


# the keyboard drives the hand: arrows move it in the table's plane, w / s up and down, space closes the gripper
TELEOP_KEYS = ("ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "w", "s", " ")


def keys_to_action(command: np.ndarray, env: object) -> np.ndarray:
    """Held keys (one 0/1 entry per ``TELEOP_KEYS``) -> (dx, dy, dz, gripper) in [-1, 1]: full speed along each
    held direction; the gripper closes (+1) while space is held, else opens (-1)."""
    right, left, up, down, rise, sink, grip = (float(c) for c in command)
    return np.array([[right - left, up - down, rise - sink, 1.0 if grip else -1.0]], np.float32)


TELEOP = TeleopControl(
    "keys",
    keys_to_action,
    "arrows move the hand over the table, w / s raise and lower it, hold space to grip",
    keys=TELEOP_KEYS,
)


def _register(task: str) -> None:
    group = GROUP_OF[task].replace("_", " ")
    success = f"Meta-World's info['success'] within {MAX_STEPS} steps; the episode ends at the first success"
    common = dict(
        make_expert=partial(MetaWorldExpert, task),
        max_steps=MAX_STEPS,
        fps=FPS,
        action_names=ACTION_NAMES,
        success_rule=success,
        family="metaworld",
        group=group,
    )
    register_env(
        EnvSpec(
            name=f"{PREFIX}{task}",
            description=f"Meta-World {task} ({group}), from the 39-D state.",
            make_vector=partial(make_batched, task=task),
            make_single=partial(MetaWorldSingle, task),
            obs_names=STATE_NAMES,
            animation_camera=CAMERA,
            recipe_for_every_head=STATE_RECIPE,
            **common,  # type: ignore[arg-type]
        )
    )
    register_env(
        EnvSpec(
            name=f"{PREFIX}{task}-pixels",
            description=f"Meta-World {task} ({group}), from the corner2 camera and the hand's position and gripper.",
            make_vector=partial(make_batched, task=task, observation="pixels"),
            make_single=partial(MetaWorldSingle, task, "pixels"),
            obs_names=STATE_NAMES[AGENT_STATE],
            cameras={CAMERA: (IMAGE_SIZE, IMAGE_SIZE)},
            teleop=TELEOP,
            **common,  # type: ignore[arg-type]
        )
    )


for _task in TASKS:
    _register(_task)
for _name, _tasks in (("MT10", MT10), ("MT50", TASKS)):
    for _suffix, _seen in (("", "the 39-D state"), ("-pixels", "the corner2 camera")):
        register_env_set(
            EnvSet(
                name=f"{PREFIX}{_name}{_suffix}",
                envs=tuple(f"{PREFIX}{task}{_suffix}" for task in _tasks),
                description=f"Meta-World's {_name}: {len(_tasks)} tasks, one policy, from {_seen}",
            )
        )
