"""Run an exported policy with numpy and onnxruntime only: no torch, nothing from imitlab that imports it
(an import-linter contract in pyproject keeps it so).

    policy = load("runs/dp-onnx")                                   # deploy.json + the graphs it names
    chunk = policy.predict_chunk(obs_history, np.random.default_rng(0))   # (B, T_obs, obs_dim) -> (B, H, act_dim)
    # a policy with cameras takes a dict: the state history and each camera's frames (B, T_obs, 3, H, W) uint8
    chunk = policy.predict_chunk({"observation.state": obs_history, "observation.images.top": frames}, rng)

The graphs compute the networks, the visual encoder's included (image normalisation and crop inside it); this
module runs what surrounds them: normalising the state history, the head's sampling loop (``samplers.py``: the
loops of ``imitlab.sampling.loops``, which the eager heads run too), and un-normalising the chunk. Every random draw goes through a ``Draws`` object: ``NumpyDraws`` over a seeded
``np.random.Generator`` by default, or any object with the same two methods (a test passes torch's draws, in
eager's order, to check parity with the eager policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from imitlab.core import keys
from imitlab.core.atomic_dir import recover_interrupted_swap
from imitlab.core.errors import InvalidInputError
from imitlab.deploy.manifest import (
    BATCH,
    MANIFEST_FILE,
    RUNTIME_HEADS,
    TASK_INPUT,
    DeployError,
    cameras,
    graph_signatures,
    tasks,
)
from imitlab.deploy.validate import check_manifest, graph_path
from imitlab.sampling.loops import Draws

Observation = np.ndarray | Mapping[str, np.ndarray]  # (B, T_obs, obs_dim), or the dict form with cameras


class NumpyDraws:
    """Draws from a numpy generator: normal noise, and categorical draws by inverting the CDF at a uniform."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.rng.standard_normal(shape, dtype=np.float32)

    def categorical(self, probs: np.ndarray) -> np.ndarray:
        cdf = np.cumsum(probs, axis=1, dtype=np.float64)  # (N, K)
        u = self.rng.random((len(cdf), 1)) * cdf[:, -1:]
        return np.minimum((cdf <= u).sum(axis=1), cdf.shape[1] - 1).astype(np.int64)


class DeployedPolicy:
    """An exported policy: ``predict_chunk(obs_history, rng)`` -> action chunk in environment units. ``cameras``:
    camera key -> frame (H, W) of a policy that sees cameras, empty for a state-only one."""

    def __init__(self, directory: Path, manifest: dict[str, Any], sessions: dict[str, ort.InferenceSession]):
        self.directory = directory
        self.name: str = manifest["policy"]
        self.runtime = RUNTIME_HEADS.get(manifest["runtime"])  # the head's sampling loop (deploy/samplers.py)
        self.config: dict[str, Any] = manifest["policy_config"]
        self.sampler: dict[str, Any] = manifest["sampler"]
        self.env: str | None = manifest.get("env")
        self.sessions = sessions
        norm = manifest["normalization"]
        self._obs = _affine(norm["observation.state"])
        self._action = _affine(norm["action"])
        self.horizon, self.act_dim = self.config["horizon"], self.config["act_dim"]
        self.n_obs_steps, self.obs_dim = self.config["n_obs_steps"], self.config["obs_dim"]
        self.cameras = cameras(self.config)
        self.tasks = tasks(self.config)  # the task strings of a multi-task policy; () for one task

    def run(self, graph: str, **inputs: np.ndarray) -> list[np.ndarray]:
        """The outputs of graph ``graph`` (in its signature's order) for named inputs."""
        return self.sessions[graph].run(None, inputs)

    def predict_chunk(self, obs: Observation, rng: np.random.Generator | Draws) -> np.ndarray:
        """Observation history in environment units -> chunk (B, H, act_dim) float32 in environment units. ``obs``:
        (B, T_obs, obs_dim), or a dict of ``observation.state`` (B, T_obs, obs_dim) and, for a policy with cameras,
        each camera's frames (B, T_obs, 3, H, W) uint8 under its key, newest last; a multi-task policy also takes
        ``task`` (one task string, or one per batch row) or ``task_index`` (B,) into ``tasks``. ``rng``: a numpy
        generator, or a ``Draws`` that supplies every random number."""
        state, inputs = self._split(obs)
        draws = NumpyDraws(rng) if isinstance(rng, np.random.Generator) else rng
        shift, scale = self._obs
        state = (state - shift) / scale  # (B, T_obs, obs_dim)
        if inputs:  # the encoder's graph: (B, T_obs * (features of each camera + task embedding + obs_dim))
            cond = self.run("encoder", state=state, **inputs)[0]
        else:
            cond = state.reshape(len(state), -1)  # (B, T_obs * obs_dim)
        chunk = self.runtime.sample(self, cond, draws)  # normalised (B, H, act_dim)
        shift, scale = self._action
        return (chunk * scale + shift).astype(np.float32)

    def _split(self, obs: Observation) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """obs -> the state history (B, T_obs, obs_dim) float32 and the encoder's other inputs (the task index,
        each camera's frames), shapes checked."""
        if isinstance(obs, Mapping):
            missing = [key for key in (keys.OBS, *self.cameras) if key not in obs]
            if missing:
                raise InvalidInputError(f"{self.name}: obs has no {', '.join(missing)} (found: {', '.join(obs)})")
            state = np.asarray(obs[keys.OBS], dtype=np.float32)
        elif self.cameras or self.tasks:
            takes = ", ".join([*self.cameras, *(["task"] if self.tasks else [])])
            raise InvalidInputError(
                f"{self.name} takes {takes} besides the state: obs must be a dict with '{keys.OBS}' and those "
                f"keys, got an array of shape {np.shape(obs)}"
            )
        else:
            state = np.asarray(obs, dtype=np.float32)
        if state.ndim != 3 or state.shape[1:] != (self.n_obs_steps, self.obs_dim):
            raise InvalidInputError(
                f"{self.name}: obs must be (B, {self.n_obs_steps}, {self.obs_dim}), got {tuple(state.shape)}"
            )
        frames = {TASK_INPUT: self._task_index(obs, len(state))} if self.tasks else {}
        for key, (h, w) in self.cameras.items():
            assert isinstance(obs, Mapping)  # a policy with cameras was given the dict form (checked above)
            frame = np.ascontiguousarray(obs[key])
            if frame.shape != (len(state), self.n_obs_steps, 3, h, w) or frame.dtype != np.uint8:
                raise InvalidInputError(
                    f"{self.name}: {key} must be (B={len(state)}, {self.n_obs_steps}, 3, {h}, {w}) uint8, "
                    f"got {frame.shape} {frame.dtype}"
                )
            frames[key] = frame
        return state, frames

    def _task_index(self, obs: Observation, batch: int) -> np.ndarray:
        """The (B,) int64 task index of a multi-task policy's obs: from ``task`` (a string, or one per row) or
        ``task_index``; an InvalidInputError listing the known tasks when a task is unknown or missing."""
        assert isinstance(obs, Mapping)  # a multi-task policy was given the dict form (checked above)
        known = ", ".join(repr(t) for t in self.tasks)
        if "task" in obs:
            names = [obs["task"]] * batch if isinstance(obs["task"], str) else list(obs["task"])
            unknown = sorted({str(n) for n in names} - set(self.tasks))
            if unknown or len(names) != batch:
                said = f"unknown task {unknown[0]!r}" if unknown else f"{len(names)} tasks for a batch of {batch}"
                raise InvalidInputError(f"{self.name}: {said}; its tasks: {known}")
            return np.array([self.tasks.index(n) for n in names], dtype=np.int64)
        if TASK_INPUT not in obs:
            raise InvalidInputError(
                f"{self.name} was trained on {len(self.tasks)} tasks: give obs['task'], one of {known}"
            )
        index = np.asarray(obs[TASK_INPUT])
        if (
            index.shape != (batch,)
            or index.dtype.kind not in "iu"
            or (index.size and not 0 <= index.min() <= index.max() < len(self.tasks))
        ):
            raise InvalidInputError(
                f"{self.name}: {TASK_INPUT} must be (B={batch},) integers in [0, {len(self.tasks)}), got "
                f"{index.shape} {index.dtype}"
            )
        return index.astype(np.int64)


def _affine(stats: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(stats["shift"], dtype=np.float32), np.asarray(stats["scale"], dtype=np.float32)


# ------------------------------------------------------------------------------------------------- loading


def read_manifest(directory: Path) -> dict[str, Any]:
    """The checked deploy.json of ``directory`` (``validate.check_manifest``)."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise DeployError(f"{path} not found: is {directory} a directory written by `imitlab export`?")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DeployError(f"{path} is not valid JSON: {err}") from err
    return check_manifest(path, manifest)


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
        raise DeployError(f"{path} is not a loadable ONNX graph: {err}") from err


def _check_graph(path: Path, session: ort.InferenceSession, signature: dict[str, dict[str, list]]) -> None:
    """The graph's input and output names and shapes must be those the config implies. The exporter leaves some
    output axes symbolic (the U-Net's crop to H); such an axis matches any expected size."""
    for kind, nodes in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        found = {n.name: [d if isinstance(d, int) or d == BATCH else "?" for d in n.shape] for n in nodes}
        expected = signature[kind]
        same = found.keys() == expected.keys() and all(
            len(found[k]) == len(expected[k]) and all(f in ("?", e) for f, e in zip(found[k], expected[k]))
            for k in expected
        )
        if not same:
            raise DeployError(
                f"{path} does not match its config in {MANIFEST_FILE}: {kind} {found}, the config implies {expected}; "
                "re-export the run"
            )


def load(directory: str | Path, threads: int = 0) -> DeployedPolicy:
    """The policy exported to ``directory``; ``threads`` = onnxruntime intra-op threads (0: its default)."""
    directory = Path(directory)
    recover_interrupted_swap(directory)  # an export killed between the two renames of its replacement
    manifest = read_manifest(directory)
    manifest_path = directory / MANIFEST_FILE
    try:
        signatures = graph_signatures(manifest["runtime"], manifest["policy_config"])
    except KeyError as err:
        raise DeployError(f"{manifest_path}: policy_config has no field {err}") from err
    sessions = {}
    for name, signature in signatures.items():
        path = graph_path(manifest_path, manifest, name)
        if not path.is_file():
            raise DeployError(f"{path} not found: {manifest_path} names graph {name!r}; re-export the run")
        sessions[name] = _session(path, threads)
        _check_graph(path, sessions[name], signature)
    return DeployedPolicy(directory, manifest, sessions)
