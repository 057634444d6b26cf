"""Demonstrations in memory: an :class:`Episode` and the flat-array :class:`EpisodeDataset` with its statistics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.data.frame_cache import cached_frames
from imitlab.data.layout import (
    CAMERA_DTYPES,
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_FILES_SIZE_IN_MB,
    DATA_PATH,
    DEFAULT_FEATURES,
    IMAGES_PREFIX,
    QUANTILES,
    VIDEO_FILES_SIZE_IN_MB,
    VIDEO_PATH,
)

# ----------------------------------------------------------------------------------------------------------
# Episodes in memory
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Episode:
    """One demonstration. observation: (T, obs_dim) float32, action: (T, act_dim) float32,
    reward: (T,) float32 (reward received after acting at t), success: (T,) bool (task solved after step t),
    images: camera key ("observation.images.<camera>") -> (T, H, W, 3) uint8 frames seen at t."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    success: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.observation = _as_finite_float32(self.observation, "observation", ndim=2)
        self.action = _as_finite_float32(self.action, "action", ndim=2)
        self.reward = _as_finite_float32(self.reward, "reward", ndim=1)
        success = np.asarray(self.success)
        if success.ndim != 1:
            raise InvalidInputError(f"Episode.success must be 1-D (T,), got shape {success.shape}")
        if success.dtype != np.bool_:
            if success.dtype.kind not in "iuf" or not np.isin(success, (0, 1)).all():
                raise InvalidInputError(f"Episode.success must be bool (or 0/1), got dtype {success.dtype}")
            success = success.astype(bool)
        self.success = success
        lengths = {
            "observation": len(self.observation),
            "action": len(self.action),
            "reward": len(self.reward),
            "success": len(self.success),
        }
        if len(set(lengths.values())) != 1:
            raise InvalidInputError(f"Episode fields must share the same length T, got {lengths}")
        if lengths["observation"] < 1:
            raise InvalidInputError("Episode is empty (T = 0): an episode needs at least one frame")
        self.images = {key: _as_frames(frames, key, lengths["observation"]) for key, frames in self.images.items()}

    def __len__(self) -> int:
        return len(self.observation)


def _as_frames(frames: Any, key: Any, length: int) -> np.ndarray:
    if not isinstance(key, str) or keys.camera_name(key) is None:
        raise InvalidInputError(
            f"Episode.images key {key!r} must be '{IMAGES_PREFIX}<camera>' or '{keys.SINGLE_CAMERA}' (LeRobot's "
            "camera naming)"
        )
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        raise InvalidInputError(f"Episode.images['{key}'] must be uint8 RGB frames, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise InvalidInputError(f"Episode.images['{key}'] must have shape (T, H, W, 3), got {arr.shape}")
    if len(arr) != length:
        raise InvalidInputError(f"Episode.images['{key}'] has {len(arr)} frames but the episode has T = {length}")
    return arr


def _as_finite_float32(x: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != ndim:
        want = "(T, dim)" if ndim == 2 else "(T,)"
        raise InvalidInputError(f"Episode.{name} must be {ndim}-D {want}, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(f"Episode.{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise InvalidInputError(f"Episode.{name} has a non-finite value (NaN/inf) at {bad}")
    return arr


# ----------------------------------------------------------------------------------------------------------
# Statistics (pure)
# ----------------------------------------------------------------------------------------------------------


def compute_stats(array: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over the first axis of ``array`` (N, D) (or (N,), treated as (N, 1)), LeRobot's keys.

    Returns ``{min, max, mean, std, q01, q10, q50, q90, q99}`` as float64 arrays of shape (D,) and
    ``count`` = int64 array ``[N]``. ``std`` is the population standard deviation (ddof=0), as in LeRobot.
    """
    x = np.asarray(array)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise InvalidInputError(f"compute_stats expects (N, D) or (N,), got shape {np.shape(array)}")
    if len(x) == 0:
        raise InvalidInputError("compute_stats needs at least one row, got N = 0")
    x = x.astype(np.float64)
    stats = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x)], dtype=np.int64),
    }
    qs = np.quantile(x, list(QUANTILES.values()), axis=0)  # (5, D)
    for key, q in zip(QUANTILES, qs):
        stats[key] = q
    return stats


def sample_indices(n: int) -> np.ndarray:
    """Frame indices LeRobot samples for image statistics (``compute_stats.sample_indices``): evenly spaced,
    ``clip(n ** 0.75, 100, 10000)`` of them (all frames when n < 100)."""
    k = max(min(100, n), min(int(n**0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(np.int64)


def compute_image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel statistics of ``frames`` (n, H, W, 3) uint8 over a LeRobot-style sample of the n frames
    (:func:`sample_indices`; frames of 300 pixels or more strided down to about 150), in [0, 1]: ``min, max, mean, std, q01..q99`` of shape (3, 1, 1) (as LeRobot stores them), ``count`` = [k]."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InvalidInputError(
            f"compute_image_stats expects (n >= 1, H, W, 3) uint8, got {frames.shape} {frames.dtype}"
        )
    sample = frames[sample_indices(len(frames))]  # (k, H, W, 3)
    height, width = frames.shape[1:3]
    if max(height, width) >= 300:  # LeRobot's auto_downsample_height_width: about 150 pixels on the long side
        step = int(max(height, width) / 150)
        sample = sample[:, ::step, ::step]
    pixels = sample.reshape(-1, 3)
    stats = compute_stats(pixels)  # (3,) each, in 0..255
    return {
        key: value if key == "count" else (value / 255.0).reshape(3, 1, 1)
        for key, value in {**stats, "count": np.array([len(sample)], dtype=np.int64)}.items()
    }


def aggregate_stats(per_episode: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Dataset statistics from per-episode ones, as LeRobot's ``aggregate_feature_stats``: min of mins, max of
    maxes, count-weighted mean, pooled std (parallel variance), summed count; quantiles as the count-weighted
    mean of the episodes' quantiles (LeRobot's approximation)."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    weights = counts / counts.sum()

    def weighted(values: list[np.ndarray]) -> np.ndarray:
        return np.tensordot(weights, np.stack(values), axes=1)

    mean = weighted([s["mean"] for s in per_episode])
    var = weighted([s["std"] ** 2 + (s["mean"] - mean) ** 2 for s in per_episode])
    out = {
        "min": np.min(np.stack([s["min"] for s in per_episode]), axis=0),
        "max": np.max(np.stack([s["max"] for s in per_episode]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(counts.sum())], dtype=np.int64),
    }
    for key in QUANTILES:
        if all(key in s for s in per_episode):
            out[key] = weighted([s[key] for s in per_episode])
    return out


# ----------------------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------------------


class FrameArrays(TypedDict):
    """The per-frame columns of an EpisodeDataset, each (N, ...) over all N frames."""

    observation: np.ndarray  # (N, obs_dim)
    action: np.ndarray  # (N, act_dim)
    reward: np.ndarray  # (N,)
    success: np.ndarray  # (N,)
    task_index: np.ndarray  # (N,) int64


class EpisodeDataset:
    """All frames of a dataset held in memory as flat arrays, with episode boundaries.

    observation: (N, obs_dim) float32, action: (N, act_dim) float32, reward: (N,) float32,
    success: (N,) bool, episode_index: (N,) int64, task_index: (N,) int64,
    episode_starts / episode_ends: (E,) int64, global frame range [start, end) of each episode.
    ``info`` is the content of meta/info.json; ``stats`` maps feature -> {stat: np.ndarray}.
    ``root`` is the directory it lives in (None for a dataset built in memory).

    Cameras (``camera_keys``, features of dtype video or image) are not held as arrays: :meth:`frames` gives
    (N, H, W, 3) uint8 frames, from the decoded frame cache for a dataset on disk. ``video_segments`` maps a
    video camera to its per-episode placement in the video files (chunk_index, file_index, from_timestamp,
    to_timestamp; (E,) arrays) and ``images_in_memory`` maps a camera to the (T, H, W, 3) frames of each of the
    last episodes, not yet written.
    """

    def __init__(
        self,
        *,
        observation: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        success: np.ndarray,
        episode_lengths: np.ndarray,
        task_index: np.ndarray,
        tasks: Sequence[str],
        info: dict[str, Any],
        stats: dict[str, dict[str, np.ndarray]],
        root: str | Path | None = None,
        images_in_memory: dict[str, list[np.ndarray]] | None = None,
        video_segments: dict[str, dict[str, np.ndarray]] | None = None,
        episode_image_stats: dict[str, list[dict[str, np.ndarray]]] | None = None,
    ):
        lengths = np.asarray(episode_lengths, dtype=np.int64)
        self.root = Path(root) if root is not None else None
        self.info = info
        self.stats = stats
        self.tasks = list(tasks)
        self.observation = observation
        self.action = action
        self.reward = reward
        self.success = success
        self.task_index = task_index
        self.episode_ends = np.cumsum(lengths)
        self.episode_starts = self.episode_ends - lengths
        self.episode_index = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        self._return_to_go: np.ndarray | None = None
        self.images_in_memory = dict(images_in_memory or {})
        self.video_segments = dict(video_segments or {})
        self.episode_image_stats = dict(episode_image_stats or {})
        self._frames: dict[str, np.ndarray] = {}

    # --- construction in memory ---
    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[Episode],
        *,
        fps: int,
        task: str | Sequence[str],
        obs_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        robot_type: str = "sim",
    ) -> EpisodeDataset:
        """Build a dataset in memory (root None), with the info and stats that writing it would store. ``task``:
        every episode's task string, or one per episode (a multi-task dataset; its task table lists them in order
        of first appearance)."""
        episodes = list(episodes)
        if not episodes:
            raise InvalidInputError("a dataset needs at least one episode, got none")
        for i, ep in enumerate(episodes):
            if not isinstance(ep, Episode):
                raise TypeError(f"episodes[{i}] must be an imitlab Episode, got {type(ep).__name__}")
        episode_tasks = [task] * len(episodes) if isinstance(task, str) else list(task)
        if len(episode_tasks) != len(episodes):
            raise InvalidInputError(f"task: {len(episode_tasks)} task strings for {len(episodes)} episodes")
        for t in episode_tasks:
            if not isinstance(t, str) or not t:
                raise InvalidInputError(f"task must be a non-empty string, got {t!r}")
        tasks = list(dict.fromkeys(episode_tasks))
        obs_dim, act_dim = _check_dims(episodes, None, None)
        cameras = check_cameras(episodes, None)
        obs_names = _names(obs_names, obs_dim, "obs_names", "observation")
        action_names = _names(action_names, act_dim, "action_names", "action")
        info = _make_info(
            fps=fps, robot_type=robot_type, obs_names=obs_names, action_names=action_names, cameras=cameras
        )
        lengths = np.array([len(ep) for ep in episodes], dtype=np.int64)
        arrays = FrameArrays(
            observation=np.concatenate([ep.observation for ep in episodes]),
            action=np.concatenate([ep.action for ep in episodes]),
            reward=np.concatenate([ep.reward for ep in episodes]),
            success=np.concatenate([ep.success for ep in episodes]),
            task_index=np.repeat([tasks.index(t) for t in episode_tasks], lengths).astype(np.int64),
        )
        images = {key: [ep.images[key] for ep in episodes] for key in cameras}
        return cls._from_arrays(arrays, lengths, tasks=tasks, info=info, root=None, images_in_memory=images)

    @classmethod
    def _from_arrays(
        cls,
        arrays: FrameArrays,
        lengths: np.ndarray,
        *,
        tasks: Sequence[str],
        info: dict[str, Any],
        root: Path | None,
        **cameras: Any,
    ) -> EpisodeDataset:
        """The dataset with its counts in ``info`` and its stats computed; ``cameras`` are the constructor's
        images_in_memory / video_segments / episode_image_stats."""
        info = json.loads(json.dumps(info))  # deep copy
        n = int(lengths.sum())
        info["total_episodes"] = len(lengths)
        info["total_frames"] = n
        info["total_tasks"] = len(tasks)
        info["splits"] = {"train": f"0:{len(lengths)}"}
        ds = cls(**arrays, episode_lengths=lengths, tasks=tasks, info=info, stats={}, root=root, **cameras)
        ds.stats = {key: compute_stats(col) for key, col in ds._frame_columns().items()}
        for key in ds.camera_keys:
            ds.stats[key] = aggregate_stats(ds.episode_stats(key))
        return ds

    # --- shape and metadata ---
    @property
    def num_episodes(self) -> int:
        return len(self.episode_starts)

    @property
    def num_frames(self) -> int:
        return len(self.observation)

    @property
    def obs_dim(self) -> int:
        return int(self.observation.shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.action.shape[1])

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def task(self) -> str:
        """The task of a single-task dataset (see ``tasks`` for all of them)."""
        if len(self.tasks) != 1:
            raise InvalidInputError(f"this dataset has {len(self.tasks)} tasks {self.tasks}; use .tasks instead")
        return self.tasks[0]

    @property
    def episode_lengths(self) -> np.ndarray:
        return self.episode_ends - self.episode_starts

    @property
    def camera_keys(self) -> list[str]:
        """The camera features (dtype video or image), in info.json order."""
        return [k for k, f in self.info["features"].items() if isinstance(f, dict) and f.get("dtype") in CAMERA_DTYPES]

    def frames(self, key: str) -> np.ndarray:
        """(N, H, W, 3) uint8 frames of camera ``key``, indexed by global frame index.

        For a dataset on disk: the decoded frame cache, a read-only memmap built on first use (see
        :mod:`imitlab.data.frame_cache`). For one built in memory: the recorded frames.
        """
        if key not in self.camera_keys:
            raise KeyError(f"this dataset has no camera '{key}' (cameras: {', '.join(self.camera_keys) or 'none'})")
        if key not in self._frames:
            held = self.images_in_memory.get(key)
            if held is not None and len(held) == self.num_episodes:
                self._frames[key] = np.concatenate(held)
            elif held is not None or self.root is None:
                raise InvalidInputError(
                    f"camera '{key}' is partly written and partly in memory: write the dataset first"
                )
            else:
                self._frames[key] = cached_frames(
                    self.root,
                    self.info,
                    key,
                    self.episode_lengths,
                    self.video_segments.get(key),
                )
        return self._frames[key]

    def episode_stats(self, key: str) -> list[dict[str, np.ndarray]]:
        """Per-episode image statistics of camera ``key`` (see :func:`compute_image_stats`), computed for the
        episodes that do not have them yet (from the frames in memory, else the frame cache)."""
        known = list(self.episode_image_stats.get(key, []))
        if len(known) < self.num_episodes:
            held = self.images_in_memory.get(key)
            first_held = self.num_episodes - len(held) if held is not None else 0  # held: the last episodes
            for e in range(len(known), self.num_episodes):
                if held is None:
                    known.append(compute_image_stats(self.frames(key)[self.episode_starts[e] : self.episode_ends[e]]))
                elif e >= first_held:
                    known.append(compute_image_stats(held[e - first_held]))
                else:
                    raise InvalidInputError(f"camera '{key}': episode {e} has no statistics and no frames in memory")
            self.episode_image_stats[key] = known
        return known

    @property
    def return_to_go(self) -> np.ndarray:
        """(N,) float32: undiscounted sum of rewards from each frame to the end of its episode."""
        if self._return_to_go is None:
            csum = np.cumsum(self.reward, dtype=np.float64)
            ep_total_upto_end = csum[self.episode_ends - 1][self.episode_index]
            self._return_to_go = (ep_total_upto_end - csum + self.reward).astype(np.float32)
        return self._return_to_go

    def episode(self, i: int) -> Episode:
        if not -self.num_episodes <= i < self.num_episodes:
            raise IndexError(f"episode {i} out of range for a dataset of {self.num_episodes} episodes")
        s, e = self.episode_starts[i], self.episode_ends[i]
        return Episode(
            observation=self.observation[s:e].copy(),
            action=self.action[s:e].copy(),
            reward=self.reward[s:e].copy(),
            success=self.success[s:e].copy(),
            images={key: np.array(self.frames(key)[s:e]) for key in self.camera_keys},
        )

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return (
            f"EpisodeDataset(root={str(self.root) if self.root else None!r}, episodes={self.num_episodes}, "
            f"frames={self.num_frames}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, fps={self.fps}, "
            f"cameras={self.camera_keys})"
        )

    def _frame_columns(self) -> dict[str, np.ndarray]:
        """Every per-frame column of the data parquet, in LeRobot feature order."""
        n = self.num_frames
        frame_index = np.arange(n, dtype=np.int64) - self.episode_starts[self.episode_index]
        done = np.zeros(n, dtype=bool)
        done[self.episode_ends - 1] = True
        return {
            keys.OBS: self.observation,
            keys.ACTION: self.action,
            keys.REWARD: self.reward,
            keys.DONE: done,
            keys.SUCCESS: self.success,
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": self.episode_index,
            "index": np.arange(n, dtype=np.int64),
            "task_index": self.task_index,
        }


def _check_dims(episodes: Sequence[Episode], obs_dim: int | None, act_dim: int | None) -> tuple[int, int]:
    obs_dim = episodes[0].observation.shape[1] if obs_dim is None else obs_dim
    act_dim = episodes[0].action.shape[1] if act_dim is None else act_dim
    for i, ep in enumerate(episodes):
        if ep.observation.shape[1] != obs_dim or ep.action.shape[1] != act_dim:
            raise InvalidInputError(
                f"episodes[{i}] has obs_dim {ep.observation.shape[1]} and act_dim {ep.action.shape[1]}; "
                f"the dataset has obs_dim {obs_dim} and act_dim {act_dim}"
            )
    return obs_dim, act_dim


def check_cameras(
    episodes: Sequence[Episode], cameras: dict[str, tuple[int, int]] | None
) -> dict[str, tuple[int, int]]:
    """Camera key -> (H, W), the same for every episode (``cameras`` given: the dataset's)."""
    if cameras is None:
        cameras = {key: tuple(frames.shape[1:3]) for key, frames in episodes[0].images.items()}
    for i, ep in enumerate(episodes):
        found = {key: tuple(frames.shape[1:3]) for key, frames in ep.images.items()}
        if found != cameras:
            raise InvalidInputError(
                f"episodes[{i}] has cameras {found} (key: (H, W)); the dataset has {cameras}: every episode "
                "needs the same cameras at the same size"
            )
    return cameras


def _names(names: Sequence[str] | None, dim: int, arg: str, prefix: str) -> list[str]:
    if names is None:
        return [f"{prefix}_{i}" for i in range(dim)]
    names = [str(n) for n in names]
    if len(names) != dim:
        raise InvalidInputError(f"{arg} has {len(names)} names but the episodes have dimension {dim}: {names}")
    return names


def camera_feature(height: int, width: int) -> dict[str, Any]:
    """A video camera as LeRobot declares it (the ``info`` block is added from the encoded file)."""
    return {"dtype": "video", "shape": [int(height), int(width), 3], "names": ["height", "width", "channels"]}


def _features(
    obs_feature: dict, action_feature: dict, cameras: dict[str, dict] | None = None
) -> dict[str, dict[str, Any]]:
    """Every feature we write, in LeRobot's order: ours first (state, cameras, action, ...), then the five
    default columns."""
    features = {
        keys.OBS: {**obs_feature, "dtype": "float32"},
        **(cameras or {}),
        keys.ACTION: {**action_feature, "dtype": "float32"},
        keys.REWARD: {"dtype": "float32", "shape": [1], "names": None},
        keys.DONE: {"dtype": "bool", "shape": [1], "names": None},
        keys.SUCCESS: {"dtype": "bool", "shape": [1], "names": None},
        **DEFAULT_FEATURES,
    }
    copied: dict[str, dict[str, Any]] = json.loads(json.dumps(features))  # deep copy
    return copied


def _make_info(
    *,
    fps: int,
    robot_type: str,
    obs_names: list[str],
    action_names: list[str],
    cameras: dict[str, tuple[int, int]],
) -> dict:
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or fps <= 0:
        raise InvalidInputError(f"fps must be a positive int (LeRobot stores an int), got {fps!r}")
    features = _features(
        {"dtype": "float32", "shape": [len(obs_names)], "names": list(obs_names)},
        {"dtype": "float32", "shape": [len(action_names)], "names": list(action_names)},
        {key: camera_feature(h, w) for key, (h, w) in cameras.items()},
    )
    # Key order follows LeRobot's create_empty_dataset_info.
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": 0,
        "total_frames": 0,
        "total_tasks": 0,
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
        "fps": int(fps),
        "splits": {},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if cameras else None,
        "features": features,
    }
