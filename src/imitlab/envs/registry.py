"""Environment registry: each entry knows how to build a batched env, a single gymnasium env, its expert,
its episode length and how success is judged.

Envs with cameras (``EnvSpec.cameras``) observe a state vector (``obs_names``, possibly empty) plus one RGB image
per camera; ``rollout`` hands the images to agents that ask for them (``observe_images``) and records them.

Success is reported by every env as ``info["success"]`` (N,) bool at each step, meaning "the episode counts as
a success if it ends now"; the evaluator reads it at each episode's last step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.core.registry import Registry, UnknownNameError
from imitlab.envs.agents import Agent

if TYPE_CHECKING:
    from PIL.Image import Image

# Tuned settings of one head on one env: (policy config fields, train config fields); anything not named takes the
# policy's and TrainConfig's defaults (docs/heads.md, "Defaults and recipes")
Recipe = tuple[Mapping[str, Any], Mapping[str, Any]]
# An env's rollout animation: the observations so far (t + 1, obs_dim) and a side in pixels -> one RGB frame
Drawer = Callable[[np.ndarray, int], "Image"]


class BatchedEnv(gym.vector.VectorEnv):
    """Base of this package's vector envs: ``reset`` takes one seed per sub-env (or an int, sub-env i getting
    ``seed + i``), as gymnasium's SyncVectorEnv does; observations are (N, obs_dim) arrays."""

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError


@runtime_checkable
class StatefulEnv(Protocol):
    """A vector env whose full state can be read and loaded (what ``EnvSpec.state_from_obs`` produces)."""

    def get_state(self) -> np.ndarray:
        """(N, state_dim) state of every sub-env."""
        ...

    def set_state(self, state: np.ndarray) -> np.ndarray:
        """Load ``state`` (N, state_dim); returns the observations (N, obs_dim) there."""
        ...


@runtime_checkable
class CameraEnv(Protocol):
    """A vector env with cameras (the envs of an ``EnvSpec`` with ``cameras``)."""

    def render_cameras(self) -> dict[str, np.ndarray]:
        """{camera key: (N, H, W, 3) uint8} of the current state of every sub-env."""
        ...


@dataclass(frozen=True)
class TeleopControl:
    """How a person drives an env from the browser (``imitlab teleop``). ``device`` "pointer": the command is the
    pointer's place on the camera frame, (u, v) in [0, 1] (u to the right, v down); "keys": the command holds one
    entry per name of ``keys`` (1.0 while its key is held, else 0.0). ``to_action(command, env)`` gives the action
    (1, act_dim) for the env (a batched env of one sub-env, whose state it may read)."""

    device: str  # "pointer" or "keys"
    to_action: Callable[[np.ndarray, Any], np.ndarray]
    hint: str  # one line shown on the page: what the input does
    keys: tuple[str, ...] = ()  # "keys": the KeyboardEvent.key names, in the command's order


def require_state(env: BatchedEnv, spec_name: str) -> StatefulEnv:
    """``env`` as a StatefulEnv, or a ValueError naming the env when it cannot save and load its state."""
    if not isinstance(env, StatefulEnv):
        raise InvalidInputError(f"env {spec_name!r} cannot save or load its state (no get_state/set_state)")
    return env


@dataclass(frozen=True)
class EnvSpec:
    name: str  # registry key, e.g. "pendulum"
    description: str  # one line, stored as the dataset's task string
    make_vector: Callable[[int], BatchedEnv]  # batched env with N sub-envs, no autoreset
    make_single: Callable[[], gym.Env]  # the same task as one gymnasium env (serial baselines, rendering)
    make_expert: Callable[[], Agent]  # scripted expert; batched; may be queried at any state
    max_steps: int  # episode length limit
    fps: int  # control frequency, stored in the dataset
    obs_names: tuple[str, ...]
    action_names: tuple[str, ...]
    success_rule: str  # how success is judged, in words (shown in reports and --help)
    # multimodal envs: which strategy an episode shows, e.g. -1 left / +1 right, from the episode as
    # ``Rollout.episode`` gives it ("observation" (T, obs_dim), and "images" for an env with cameras)
    mode_of: Callable[[dict[str, Any]], int] | None = None
    # envs with a published protocol: evaluation reset seeds (seed, n) -> (n,), instead of seeds.evaluation_seeds
    eval_seeds: Callable[[int, int], np.ndarray] | None = None
    # envs with a graded metric: an episode's score from its rewards (T,), reported as a mean beside success
    episode_score: Callable[[np.ndarray], float] | None = None
    score_rule: str = ""  # how the score is computed, in words
    # envs whose observation determines the task state: env state (N, state_dim) for observations (N, obs_dim),
    # loadable with ``set_state``; lets a remedy perturb recorded states and query the expert there
    state_from_obs: Callable[[np.ndarray], np.ndarray] | None = None
    # envs that observe through cameras: camera key (e.g. "observation.images.top") -> (height, width); the
    # batched env then has ``render_cameras() -> {key: (N, H, W, 3) uint8}`` (the current state, as seen before
    # the next action), and ``imitlab collect`` records every camera beside the observation vector
    cameras: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # a state env whose batched env renders a camera all the same: the report animates its rollouts from it
    animation_camera: str | None = None
    # envs a person can drive from the browser (``imitlab teleop``): the input and its mapping to actions
    teleop: TeleopControl | None = None

    # What the rest of imitlab needs to know of the env, declared here rather than in tables keyed by its name:
    # head -> the settings that work for it on a 2-core CPU (what `imitlab train` and the studies apply), and at
    # the paper's scale (a GPU; `benchmarks/pusht_table.py --scale full`)
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    full_scale_recipes: Mapping[str, Recipe] = field(default_factory=dict)
    # settings every head gets on this env on a 2-core CPU, under its own recipe (e.g. a state normalisation
    # suited to the observation)
    recipe_for_every_head: Recipe = ({}, {})
    # demonstrations the built-in studies and the demo train this env's recipes on; None: not one of their envs
    study_demos: int | None = None
    # a camera variant of a study env: that env's name (the studies train it on that env's demonstrations at
    # full scale, beside the state env)
    variant_of: str | None = None
    # RL algorithm name -> its settings that work on this env (under --set; `imitlab rl`)
    rl_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # draws the rollout GIFs of the report for envs without cameras; None: such rollouts are not animated
    draw: Drawer | None = None
    # the scripted expert's success rate on evaluation seeds (docs/environments.md); None: no scripted expert
    expert_success: float | None = None
    # the family of envs one module registers (e.g. "metaworld"), and a group within it (a difficulty group)
    family: str = ""
    group: str = ""


def _register_builtin_envs() -> None:
    import imitlab.envs  # noqa: F401  (its modules register the built-in envs)


# Every env by ``spec.name``; an env module registers its spec with ``register_env(EnvSpec(...))``.
ENVS: Registry[EnvSpec] = Registry("env", load=_register_builtin_envs)
register_env = ENVS.register
get_env_spec = ENVS.get


@dataclass(frozen=True)
class EnvSet:
    """A named list of envs collected into one multi-task dataset (e.g. Meta-World's MT10), registered by the
    module of their family."""

    name: str
    envs: tuple[str, ...]
    description: str = ""


# Every env set by name (``imitlab collect --env SET`` writes one dataset of all its envs, one task each).
ENV_SETS: Registry[EnvSet] = Registry("env set", load=_register_builtin_envs)
register_env_set = ENV_SETS.register


def expand_envs(text: str) -> list[str]:
    """The envs that ``text`` names: an env set's name, or env names separated by commas; an UnknownNameError
    listing the known names for one that is neither."""
    if text in ENV_SETS:
        return list(ENV_SETS.get(text).envs)
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in ENVS:
            known = ", ".join(sorted([*ENVS.names(), *ENV_SETS.names()]))
            raise UnknownNameError(f"unknown env or env set {name!r}; available: {known}")
    return names


def env_of_task(task: str) -> str:
    """The env whose task string (its ``description``, as ``imitlab collect`` records it) is ``task``; an
    UnknownNameError when no env or more than one has it."""
    found = [name for name, spec in ENVS.items() if spec.description == task]
    if len(found) != 1:
        said = "no env records" if not found else f"{len(found)} envs ({', '.join(found)}) record"
        raise UnknownNameError(f"{said} the task {task!r}: pass --env ENV --task TASK to evaluate it")
    return found[0]
