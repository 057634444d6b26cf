"""A person's demonstrations of one env, step by step: the env (one sub-env) acts on the latest command from the
page (``EnvSpec.teleop`` maps it to an action), or on a trained policy's action while the person does not hold
control; each step's observation, camera frames and action are recorded, and a finished episode is kept (appended
to the dataset, atomically) or discarded. The web server (``imitlab.teleop.server``) drives it; it knows nothing of
the web."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.core.seeds import collection_seeds
from imitlab.data.model import Episode
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes, write_dataset
from imitlab.envs.registry import ENVS, CameraEnv, EnvSpec, TeleopControl, get_env_spec


def drivable_envs() -> list[str]:
    """The envs a person can drive from the browser: those with a camera and a teleop control."""
    return [name for name, spec in ENVS.items() if spec.teleop is not None and spec.cameras]


def teleop_spec(env: str) -> tuple[EnvSpec, TeleopControl]:
    """The env's spec and control; an InvalidInputError naming the drivable envs for one a person cannot drive."""
    spec = get_env_spec(env)
    if spec.teleop is None or not spec.cameras:
        raise InvalidInputError(
            f"env {env!r} cannot be driven from the browser (it needs a camera and a teleop control); drivable "
            f"envs: {', '.join(drivable_envs())}"
        )
    return spec, spec.teleop


@dataclass
class Kept:
    """What the page shows of the dataset: the episodes kept, each one's length and success."""

    lengths: list[int] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)


class RecordingSession:
    """One env driven by a person (and optionally a policy) into the dataset at ``out``. Episode ``i`` of this
    session resets with collection seed ``i`` of ``seed`` (offset past the dataset's episodes), so a session that
    is restarted on the same dataset sees new initial states."""

    def __init__(self, env: str, out: Path, seed: int = 0, agent: Any = None, noise: float = 0.0):
        self.spec, self.control = teleop_spec(env)
        self.out = Path(out)
        self.seed = seed
        self.agent = agent  # acts while the person does not hold control (HG-DAgger); None: the person drives
        self.next_agent: Any = None  # a retrained policy, which drives from the next episode on
        if not noise >= 0:
            raise InvalidInputError(f"noise must be >= 0, got {noise}")
        self.noise = noise  # DART: std of the Gaussian noise on the person's executed action
        self.rng = np.random.default_rng(seed)
        batched = self.spec.make_vector(1)
        if not isinstance(batched, CameraEnv):
            raise InvalidInputError(f"env {env!r} has cameras but its batched env does not render them")
        self.env: Any = batched  # a BatchedEnv that renders its cameras
        self.camera = next(iter(self.spec.cameras))
        self.kept = Kept()
        if (self.out / "meta" / "info.json").is_file():
            dataset = load_dataset(self.out)
            self._check_dataset(dataset)
            self.episode_number = dataset.num_episodes
        else:
            self.episode_number = 0
        self.command = np.zeros(len(self.control.keys) if self.control.device == "keys" else 2, np.float32)
        self.person_holds = agent is None
        self.reset()

    def _check_dataset(self, dataset: Any) -> None:
        features = dataset.info["features"]
        if dataset.info.get("robot_type") != self.spec.name or self.camera not in features:
            raise InvalidInputError(
                f"{self.out} holds demonstrations of {dataset.info.get('robot_type')!r}, not of {self.spec.name!r}: "
                "give teleop another --out"
            )

    # -- one episode ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start the next episode (the current one, unfinished, is dropped)."""
        seed = int(collection_seeds(self.seed, self.episode_number + 1)[-1])
        if self.next_agent is not None:
            self.agent, self.next_agent = self.next_agent, None
        self.obs, _ = self.env.reset(seed=[seed])
        if self.agent is not None:
            self.agent.reset(np.array([seed]))
        self.steps: list[dict[str, Any]] = []
        self.started = self.agent is not None  # a person's episode starts with their first command
        self.done = False
        self.success = False
        self.frame = self.env.render_cameras()[self.camera][0]

    def set_command(self, command: Any) -> None:
        """The page's latest input: (u, v) for a pointer, one 0/1 per key for keys; checked, then kept until the
        next one."""
        value = np.asarray(command, dtype=np.float32).reshape(-1)
        if value.shape != self.command.shape or not np.isfinite(value).all():
            raise InvalidInputError(f"command must be {self.command.shape[0]} finite numbers, got {command!r}")
        self.command = value
        self.started = True

    def step(self) -> None:
        """One control step: the person's action while they hold control (or without a policy), else the policy's;
        the step is recorded with the frame seen before it."""
        if self.done or not self.started:
            return
        frames = {self.camera: self.frame[None]}
        person = self.person_holds or self.agent is None
        if person:
            action = np.asarray(self.control.to_action(self.command, self.env), np.float32)
            executed = action + self.noise * self.rng.standard_normal(action.shape).astype(np.float32)
        else:
            if hasattr(self.agent, "observe_images"):
                self.agent.observe_images(frames)
            action = executed = np.asarray(self.agent.act(self.obs), np.float32)
        next_obs, reward, terminated, truncated, info = self.env.step(executed)  # the clean action is recorded
        success = bool(np.asarray(info.get("success", [False]))[0])
        self.steps.append(
            {
                "obs": self.obs[0],
                "action": action[0],
                "reward": float(reward[0]),
                "success": success,
                "frame": self.frame,
                "person": person,
            }
        )
        self.obs = next_obs
        self.success = self.success or success
        self.done = bool(terminated[0] or truncated[0]) or len(self.steps) >= self.spec.max_steps
        self.frame = self.env.render_cameras()[self.camera][0]

    # -- keeping ---------------------------------------------------------------------------------------------
    def episode(self, labels_only: bool = False) -> Episode:
        """The episode so far; ``labels_only``: just the steps the person drove (HG-DAgger's labels)."""
        steps = [s for s in self.steps if s["person"]] if labels_only else self.steps
        if not steps:
            raise InvalidInputError("the episode has no steps to keep yet")
        return Episode(
            np.stack([s["obs"] for s in steps]),
            np.stack([s["action"] for s in steps]),
            np.array([s["reward"] for s in steps], np.float32),
            np.array([s["success"] for s in steps], bool),
            images={self.camera: np.stack([s["frame"] for s in steps])},
        )

    def keep(self, labels_only: bool = False) -> None:
        """Append the episode to the dataset (creating it with the first), atomically, then start the next."""
        episode = self.episode(labels_only)
        if (self.out / "meta" / "info.json").is_file():
            append_episodes(self.out, [episode])
        else:
            write_dataset(
                self.out,
                [episode],
                fps=self.spec.fps,
                task=self.spec.description,
                obs_names=self.spec.obs_names,
                action_names=self.spec.action_names,
                robot_type=self.spec.name,
            )
        self.kept.lengths.append(len(episode))
        self.kept.successes.append(self.success)
        self.episode_number += 1
        self.reset()

    def discard(self) -> None:
        """Drop the episode and start the next (its initial state is not seen again)."""
        self.episode_number += 1
        self.reset()

    def status(self) -> dict[str, Any]:
        """What the page shows: the episode's step, success and whether it ended; the episodes kept."""
        return {
            "step": len(self.steps),
            "max_steps": self.spec.max_steps,
            "success": self.success,
            "done": self.done,
            "started": self.started,
            "person": self.person_holds or self.agent is None,
            "kept": len(self.kept.lengths),
            "kept_successes": int(sum(self.kept.successes)),
            "kept_frames": int(sum(self.kept.lengths)),
            "kept_lengths": self.kept.lengths,
            "kept_success": self.kept.successes,
        }
