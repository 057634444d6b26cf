"""Demonstration datasets on disk, in the LeRobot v3.0 layout (state-only), written and read with pyarrow.

Layout written by :func:`write_dataset` (see docs/data.md for the full description)::

    <root>/meta/info.json                            codebase_version "v3.0", counts, fps, paths, features
    <root>/meta/stats.json                           {feature: {min, max, mean, std, count, q01..q99}}
    <root>/meta/tasks.parquet                        pandas frame indexed by "task", column task_index
    <root>/meta/episodes/chunk-000/file-000.parquet  one row per episode (+ per-episode stats)
    <root>/data/chunk-000/file-000.parquet           one row per frame, one row group per episode

Every write builds the whole new version in a hidden sibling directory and renames it into place, so a crash
leaves either the old or the new dataset complete (:func:`load_dataset` finishes an interrupted swap).
pandas is never imported: the pandas metadata of ``tasks.parquet`` is written by hand so that pandas (and so
LeRobot) read the task strings back as the frame's index.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imitlab.core.errors import ImitlabError

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # max files per chunk directory (LeRobot's DEFAULT_CHUNK_SIZE)
DATA_FILES_SIZE_IN_MB = 100  # LeRobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILES_SIZE_IN_MB = 500  # LeRobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB (no videos are written)
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"

OBS_KEY = "observation.state"
ACTION_KEY = "action"
# The five columns LeRobot declares in every dataset (lerobot.datasets.utils.DEFAULT_FEATURES).
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
# Optional per-frame columns we write; a LeRobot dataset that does not declare them reads as reward 0 /
# success False. One that declares them must carry them.
REWARD_KEY, DONE_KEY, SUCCESS_KEY = "next.reward", "next.done", "next.success"
OUR_FEATURES = {OBS_KEY, ACTION_KEY, REWARD_KEY, DONE_KEY, SUCCESS_KEY, *DEFAULT_FEATURES}
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


class DatasetError(ImitlabError):
    """A dataset on disk is missing, incomplete or inconsistent; the message names the file and field."""


# ----------------------------------------------------------------------------------------------------------
# Episodes in memory
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Episode:
    """One demonstration. observation: (T, obs_dim) float32, action: (T, act_dim) float32,
    reward: (T,) float32 (reward received after acting at t), success: (T,) bool (task solved after step t)."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    success: np.ndarray

    def __post_init__(self):
        self.observation = _as_finite_float32(self.observation, "observation", ndim=2)
        self.action = _as_finite_float32(self.action, "action", ndim=2)
        self.reward = _as_finite_float32(self.reward, "reward", ndim=1)
        success = np.asarray(self.success)
        if success.ndim != 1:
            raise ValueError(f"Episode.success must be 1-D (T,), got shape {success.shape}")
        if success.dtype != np.bool_:
            if success.dtype.kind not in "iuf" or not np.isin(success, (0, 1)).all():
                raise ValueError(f"Episode.success must be bool (or 0/1), got dtype {success.dtype}")
            success = success.astype(bool)
        self.success = success
        lengths = {
            "observation": len(self.observation),
            "action": len(self.action),
            "reward": len(self.reward),
            "success": len(self.success),
        }
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Episode fields must share the same length T, got {lengths}")
        if lengths["observation"] < 1:
            raise ValueError("Episode is empty (T = 0): an episode needs at least one frame")

    def __len__(self) -> int:
        return len(self.observation)


def _as_finite_float32(x: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != ndim:
        want = "(T, dim)" if ndim == 2 else "(T,)"
        raise ValueError(f"Episode.{name} must be {ndim}-D {want}, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"Episode.{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(f"Episode.{name} has a non-finite value (NaN/inf) at {bad}")
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
        raise ValueError(f"compute_stats expects (N, D) or (N,), got shape {np.shape(array)}")
    if len(x) == 0:
        raise ValueError("compute_stats needs at least one row, got N = 0")
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


# ----------------------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------------------


class EpisodeDataset:
    """All frames of a dataset held in memory as flat arrays, with episode boundaries.

    observation: (N, obs_dim) float32, action: (N, act_dim) float32, reward: (N,) float32,
    success: (N,) bool, episode_index: (N,) int64, task_index: (N,) int64,
    episode_starts / episode_ends: (E,) int64, global frame range [start, end) of each episode.
    ``info`` is the content of meta/info.json; ``stats`` maps feature -> {stat: np.ndarray}.
    ``root`` is the directory it lives in (None for a dataset built in memory).
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

    # --- construction in memory ---
    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[Episode],
        *,
        fps: int,
        task: str,
        obs_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        robot_type: str = "sim",
    ) -> EpisodeDataset:
        """Build a dataset in memory (root None), with the info and stats that writing it would store."""
        episodes = list(episodes)
        if not episodes:
            raise ValueError("a dataset needs at least one episode, got none")
        for i, ep in enumerate(episodes):
            if not isinstance(ep, Episode):
                raise TypeError(f"episodes[{i}] must be an imitlab Episode, got {type(ep).__name__}")
        if not isinstance(task, str) or not task:
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        obs_dim, act_dim = _check_dims(episodes, None, None)
        obs_names = _names(obs_names, obs_dim, "obs_names", "observation")
        action_names = _names(action_names, act_dim, "action_names", "action")
        info = _make_info(fps=fps, robot_type=robot_type, obs_names=obs_names, action_names=action_names)
        return cls._build(episodes, task_index=[0] * len(episodes), tasks=[task], info=info, root=None)

    @classmethod
    def _build(cls, episodes, *, task_index, tasks, info, root) -> EpisodeDataset:
        lengths = np.array([len(ep) for ep in episodes], dtype=np.int64)
        arrays = dict(
            observation=np.concatenate([ep.observation for ep in episodes]),
            action=np.concatenate([ep.action for ep in episodes]),
            reward=np.concatenate([ep.reward for ep in episodes]),
            success=np.concatenate([ep.success for ep in episodes]),
            task_index=np.repeat(np.asarray(task_index, dtype=np.int64), lengths),
        )
        return cls._from_arrays(arrays, lengths, tasks=tasks, info=info, root=root)

    @classmethod
    def _from_arrays(cls, arrays, lengths, *, tasks, info, root) -> EpisodeDataset:
        info = json.loads(json.dumps(info))  # deep copy
        n = int(lengths.sum())
        info["total_episodes"] = len(lengths)
        info["total_frames"] = n
        info["total_tasks"] = len(tasks)
        info["splits"] = {"train": f"0:{len(lengths)}"}
        ds = cls(**arrays, episode_lengths=lengths, tasks=tasks, info=info, stats={}, root=root)
        ds.stats = {key: compute_stats(col) for key, col in ds._frame_columns().items()}
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
        return self.observation.shape[1]

    @property
    def act_dim(self) -> int:
        return self.action.shape[1]

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def task(self) -> str:
        """The task of a single-task dataset (see ``tasks`` for all of them)."""
        if len(self.tasks) != 1:
            raise ValueError(f"this dataset has {len(self.tasks)} tasks {self.tasks}; use .tasks instead")
        return self.tasks[0]

    @property
    def episode_lengths(self) -> np.ndarray:
        return self.episode_ends - self.episode_starts

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
        )

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return (
            f"EpisodeDataset(root={str(self.root) if self.root else None!r}, episodes={self.num_episodes}, "
            f"frames={self.num_frames}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, fps={self.fps})"
        )

    def _frame_columns(self) -> dict[str, np.ndarray]:
        """Every per-frame column of the data parquet, in LeRobot feature order."""
        n = self.num_frames
        frame_index = np.arange(n, dtype=np.int64) - self.episode_starts[self.episode_index]
        done = np.zeros(n, dtype=bool)
        done[self.episode_ends - 1] = True
        return {
            OBS_KEY: self.observation,
            ACTION_KEY: self.action,
            REWARD_KEY: self.reward,
            DONE_KEY: done,
            SUCCESS_KEY: self.success,
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
            raise ValueError(
                f"episodes[{i}] has obs_dim {ep.observation.shape[1]} and act_dim {ep.action.shape[1]}; "
                f"the dataset has obs_dim {obs_dim} and act_dim {act_dim}"
            )
    return obs_dim, act_dim


def _names(names: Sequence[str] | None, dim: int, arg: str, prefix: str) -> list[str]:
    if names is None:
        return [f"{prefix}_{i}" for i in range(dim)]
    names = [str(n) for n in names]
    if len(names) != dim:
        raise ValueError(f"{arg} has {len(names)} names but the episodes have dimension {dim}: {names}")
    return names


def _features(obs_feature: dict, action_feature: dict) -> dict[str, dict[str, Any]]:
    """Every feature we write, in LeRobot's order: ours first, then the five default columns."""
    features = {
        OBS_KEY: {**obs_feature, "dtype": "float32"},
        ACTION_KEY: {**action_feature, "dtype": "float32"},
        REWARD_KEY: {"dtype": "float32", "shape": [1], "names": None},
        DONE_KEY: {"dtype": "bool", "shape": [1], "names": None},
        SUCCESS_KEY: {"dtype": "bool", "shape": [1], "names": None},
        **DEFAULT_FEATURES,
    }
    return json.loads(json.dumps(features))  # deep copy


def _make_info(*, fps: int, robot_type: str, obs_names: list[str], action_names: list[str]) -> dict:
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or fps <= 0:
        raise ValueError(f"fps must be a positive int (LeRobot stores an int), got {fps!r}")
    features = _features(
        {"dtype": "float32", "shape": [len(obs_names)], "names": list(obs_names)},
        {"dtype": "float32", "shape": [len(action_names)], "names": list(action_names)},
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
        "video_path": None,
        "features": features,
    }


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------


def write_dataset(
    root: str | Path,
    episodes: Sequence[Episode],
    *,
    fps: int,
    task: str,
    obs_names: Sequence[str],
    action_names: Sequence[str],
    robot_type: str = "sim",
    overwrite: bool = False,
) -> EpisodeDataset:
    """Write ``episodes`` as a new LeRobot v3.0 dataset at ``root``, atomically.

    Refuses (DatasetError) when ``root`` already holds anything, unless ``overwrite=True``; an empty
    directory counts as free. Returns the dataset as it now is on disk.
    """
    root = Path(root)
    _recover_interrupted_swap(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root} exists and is not a directory; a dataset root must be a directory")
    if root.exists() and not overwrite:
        if any(root.iterdir()):
            raise DatasetError(f"{root} already exists; pass overwrite=True to replace it")
    ds = EpisodeDataset.from_episodes(
        episodes, fps=fps, task=task, obs_names=obs_names, action_names=action_names, robot_type=robot_type
    )
    _write_atomically(ds, root)
    return ds


def write_like(
    base: EpisodeDataset, root: str | Path, episodes: Sequence[Episode], overwrite: bool = False
) -> EpisodeDataset:
    """Write ``episodes`` as a new dataset at ``root`` with ``base``'s fps, task, feature names and robot type
    (e.g. a subset of ``base``, or ``base``'s episodes plus generated ones)."""
    features = base.info["features"]
    return write_dataset(
        root,
        episodes,
        fps=base.fps,
        task=base.task,
        obs_names=features[OBS_KEY]["names"],
        action_names=features[ACTION_KEY]["names"],
        robot_type=base.info.get("robot_type", "sim"),
        overwrite=overwrite,
    )


def append_episodes(root: str | Path, episodes: Sequence[Episode], *, task: str | None = None) -> EpisodeDataset:
    """Add ``episodes`` to the dataset at ``root`` (episode and frame indices continue), atomically.

    The whole new version is written to a hidden sibling directory, then swapped in with two renames
    (old -> ``.<name>.backup``, new -> root); a crash at any point leaves the old or the new dataset
    complete, and :func:`load_dataset` restores the backup if root went missing. ``task`` defaults to the
    dataset's task (a new task string is added to meta/tasks.parquet).
    """
    root = Path(root)
    old = load_dataset(root)  # also finishes an interrupted swap
    episodes = list(episodes)
    if not episodes:
        return old
    for i, ep in enumerate(episodes):
        if not isinstance(ep, Episode):
            raise TypeError(f"episodes[{i}] must be an imitlab Episode, got {type(ep).__name__}")
    _check_dims(episodes, old.obs_dim, old.act_dim)
    extra = sorted(set(old.info["features"]) - OUR_FEATURES)
    if extra:
        raise DatasetError(
            f"{root / INFO_PATH} declares features imitlab does not write ({', '.join(extra)}); "
            "appending would drop them, so it is refused"
        )
    tasks = list(old.tasks)
    if task is None:
        if len(tasks) != 1:
            raise ValueError(f"the dataset at {root} has {len(tasks)} tasks {tasks}: pass task=... to append")
        task = tasks[0]
    if task not in tasks:
        tasks.append(task)
    new_frames = sum(len(ep) for ep in episodes)
    arrays = dict(
        observation=np.concatenate([old.observation, *(ep.observation for ep in episodes)]),
        action=np.concatenate([old.action, *(ep.action for ep in episodes)]),
        reward=np.concatenate([old.reward, *(ep.reward for ep in episodes)]),
        success=np.concatenate([old.success, *(ep.success for ep in episodes)]),
        task_index=np.concatenate([old.task_index, np.full(new_frames, tasks.index(task), dtype=np.int64)]),
    )
    lengths = np.concatenate([old.episode_lengths, [len(ep) for ep in episodes]]).astype(np.int64)
    info = json.loads(json.dumps(old.info))
    info.update(codebase_version=CODEBASE_VERSION, data_path=DATA_PATH, video_path=None)
    info["features"] = _features(old.info["features"][OBS_KEY], old.info["features"][ACTION_KEY])
    ds = EpisodeDataset._from_arrays(arrays, lengths, tasks=tasks, info=info, root=None)
    _write_atomically(ds, root)
    return ds


def _write_atomically(ds: EpisodeDataset, root: Path) -> None:
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f".{root.name}.tmp-*"):  # left by a crash mid-write (one writer at a time)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root.parent / f".{root.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        _write_tree(ds, tmp)
        _fsync_tree(tmp)
        _publish(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    ds.root = root


def _backup_path(root: Path) -> Path:
    return root.parent / f".{root.name}.backup"


def _rename(src: Path, dst: Path) -> None:
    """One atomic rename (a seam for tests that simulate a crash)."""
    os.rename(src, dst)


def _publish(tmp: Path, root: Path) -> None:
    """Swap the complete directory ``tmp`` in as ``root``: root -> backup, tmp -> root, drop backup."""
    backup = _backup_path(root)
    if backup.exists():  # root exists here (recovered before): the backup is a stale leftover
        shutil.rmtree(backup)
    had_old = root.exists()
    if had_old:
        _rename(root, backup)
    try:
        _rename(tmp, root)
    except Exception:
        if had_old and not root.exists():
            _rename(backup, root)  # roll back to the old version
        raise
    _fsync_dir(root.parent)
    if had_old:
        shutil.rmtree(backup, ignore_errors=True)


def _recover_interrupted_swap(root: Path) -> None:
    """If a swap stopped between its two renames (root gone, backup present), put the old version back."""
    backup = _backup_path(root)
    if not root.exists() and backup.is_dir():
        _rename(backup, root)
        _fsync_dir(root.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _write_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=4, ensure_ascii=False)


def _stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {key: {k: np.asarray(v).tolist() for k, v in s.items()} for key, s in stats.items()}


def _arrow_column(values: np.ndarray, feature: dict[str, Any]) -> pa.Array:
    if values.ndim == 2:
        # A vector feature: HF datasets' Sequence(length=D) is arrow's fixed_size_list<float32>[D],
        # which is what LeRobot itself writes.
        width = values.shape[1]
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)
    return pa.array(values)


def _write_tree(ds: EpisodeDataset, dest: Path) -> None:
    """Write every file of the layout for ``ds`` under ``dest``; meta/info.json last."""
    features = ds.info["features"]
    columns = ds._frame_columns()
    table = pa.table({key: _arrow_column(columns[key], features[key]) for key in columns})

    # data: one file, one row group per episode.
    data_file = dest / DATA_PATH.format(chunk_index=0, file_index=0)
    data_file.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(data_file, table.schema, compression="snappy") as writer:
        for start, end in zip(ds.episode_starts.tolist(), ds.episode_ends.tolist()):
            writer.write_table(table.slice(start, end - start), row_group_size=end - start)

    # meta/episodes: one row per episode, columns as LeRobot's save_episode writes them.
    e = ds.num_episodes
    ep_task_index = ds.task_index[ds.episode_starts]
    ep_cols: dict[str, Any] = {
        "episode_index": pa.array(np.arange(e, dtype=np.int64)),
        "tasks": pa.array([[ds.tasks[t]] for t in ep_task_index.tolist()], type=pa.list_(pa.string())),
        "length": pa.array(ds.episode_lengths.astype(np.int64)),
        "data/chunk_index": pa.array(np.zeros(e, dtype=np.int64)),
        "data/file_index": pa.array(np.zeros(e, dtype=np.int64)),
        "dataset_from_index": pa.array(ds.episode_starts.astype(np.int64)),
        "dataset_to_index": pa.array(ds.episode_ends.astype(np.int64)),
    }
    per_episode = {
        key: [compute_stats(col[s:t]) for s, t in zip(ds.episode_starts, ds.episode_ends)]
        for key, col in columns.items()
    }
    for key, ep_stats in per_episode.items():
        for stat in ep_stats[0]:
            value_type = pa.int64() if stat == "count" else pa.float64()
            ep_cols[f"stats/{key}/{stat}"] = pa.array([s[stat].tolist() for s in ep_stats], type=pa.list_(value_type))
    ep_cols["meta/episodes/chunk_index"] = pa.array(np.zeros(e, dtype=np.int64))
    ep_cols["meta/episodes/file_index"] = pa.array(np.zeros(e, dtype=np.int64))
    ep_file = dest / EPISODES_PATH.format(chunk_index=0, file_index=0)
    ep_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(ep_cols), ep_file, compression="snappy")

    _write_tasks(ds.tasks, dest / TASKS_PATH)
    _write_json(_stats_to_json(ds.stats), dest / STATS_PATH)
    _write_json(ds.info, dest / INFO_PATH)


def _write_tasks(tasks: Sequence[str], path: Path) -> None:
    """meta/tasks.parquet as pandas' ``DataFrame({"task_index": ...}, index=Index(tasks, name="task"))
    .to_parquet()`` writes it: columns task_index, task, and the b"pandas" schema metadata that makes the
    task column the frame's index on read. Written with pyarrow alone (pandas is not a dependency)."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    table = pa.table(
        {"task_index": pa.array(np.arange(len(tasks), dtype=np.int64)), "task": pa.array(list(tasks), pa.string())}
    )
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")


# ----------------------------------------------------------------------------------------------------------
# Reading and validation
# ----------------------------------------------------------------------------------------------------------


def load_dataset(root: str | Path) -> EpisodeDataset:
    """Load and validate the dataset at ``root``; every problem raises DatasetError naming file and field."""
    root = Path(root)
    info = read_info(root)
    tasks = _load_tasks(root / TASKS_PATH)
    episodes = _load_episodes_meta(root, info)
    lengths = episodes["length"]
    data = _load_data(root, info, episodes, num_tasks=len(tasks))
    stats = _load_stats(root / STATS_PATH, info)
    arrays = {k: data[k] for k in ("observation", "action", "reward", "success", "task_index")}
    return EpisodeDataset(**arrays, episode_lengths=lengths, tasks=tasks, info=info, stats=stats, root=root)


def read_info(root: str | Path) -> dict:
    """The validated meta/info.json of the dataset at ``root``, without reading its frames (e.g. its
    ``robot_type``: the env that `imitlab collect` or `imitlab import --env` recorded it on)."""
    root = Path(root)
    _recover_interrupted_swap(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a dataset directory (it does not exist)")
    return _load_info(root)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(f"{path} is missing")


def _load_info(root: Path) -> dict:
    path = root / INFO_PATH
    _require_file(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(info, dict):
        raise DatasetError(f"{path} must hold a JSON object, found {type(info).__name__}")
    for key in ("codebase_version", "fps", "features", "data_path", "total_episodes", "total_frames"):
        if key not in info:
            raise DatasetError(f"{path} has no key '{key}' (found: {', '.join(info)})")
    version = str(info["codebase_version"])
    if not version.startswith("v3."):
        raise DatasetError(
            f"{path} has codebase_version '{version}'; only the LeRobot v3.x layout is supported "
            "(convert older datasets with LeRobot's convert_dataset_v21_to_v30)"
        )
    if not isinstance(info["fps"], (int, float)) or info["fps"] <= 0:
        raise DatasetError(f"{path} key 'fps' must be a positive number, found {info['fps']!r}")
    features = info["features"]
    if not isinstance(features, dict):
        raise DatasetError(f"{path} key 'features' must be an object, found {type(features).__name__}")
    for key in (OBS_KEY, ACTION_KEY, *DEFAULT_FEATURES):
        if key not in features:
            raise DatasetError(f"{path} declares no feature '{key}' (found: {', '.join(features)})")
    for key in (OBS_KEY, ACTION_KEY):
        shape = features[key].get("shape") if isinstance(features[key], dict) else None
        if not isinstance(shape, list) or len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1:
            raise DatasetError(f"{path} feature '{key}' must have a 1-D shape [dim], found {shape!r}")
    return info


def _load_tasks(path: Path) -> list[str]:
    _require_file(path)
    table = _read_parquet(path)
    for col in ("task", "task_index"):
        if col not in table.column_names:
            raise DatasetError(f"{path} has no column '{col}' (found: {', '.join(table.column_names)})")
    tasks = table.column("task").to_pylist()
    index = table.column("task_index").to_pylist()
    order = np.argsort(index)
    if sorted(index) != list(range(len(index))):
        raise DatasetError(f"{path} column 'task_index' must be 0..{len(index) - 1}, found {index}")
    return [tasks[i] for i in order]


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as err:
        raise DatasetError(f"{path} could not be read as parquet: {err}") from None


def _schema_names(path: Path) -> list[str]:
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as err:
        raise DatasetError(f"{path} could not be read as parquet: {err}") from None


def _load_episodes_meta(root: Path, info: dict) -> dict[str, np.ndarray]:
    ep_dir = root / "meta" / "episodes"
    paths = sorted(ep_dir.glob("*/*.parquet"))
    if not paths:
        raise DatasetError(f"{root / EPISODES_PATH.format(chunk_index=0, file_index=0)} is missing")
    wanted = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    wanted += ["dataset_from_index", "dataset_to_index"]
    parts = []
    for path in paths:
        names = _schema_names(path)
        for col in wanted:
            if col not in names:
                raise DatasetError(f"{path} has no column '{col}' (found: {', '.join(names[:12])}, ...)")
        parts.append(_read_parquet(path, columns=wanted))
    table = pa.concat_tables(parts)
    cols = {}
    for name in wanted:
        col = table.column(name)
        if col.null_count:
            raise DatasetError(f"{paths[0].parent.parent} column '{name}' has {col.null_count} null values")
        cols[name] = np.asarray(col.to_numpy(), dtype=np.int64)
    order = np.argsort(cols["episode_index"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    where = f"{ep_dir}/*/*.parquet" if len(paths) > 1 else str(paths[0])
    e = len(order)
    if e == 0:
        raise DatasetError(f"{where} lists no episodes")
    if not np.array_equal(cols["episode_index"], np.arange(e)):
        raise DatasetError(f"{where} column 'episode_index' must be 0..{e - 1}, found {cols['episode_index'][:20]}")
    empty = np.flatnonzero(cols["length"] < 1)
    if len(empty):
        raise DatasetError(
            f"{where} column 'length': episode {int(empty[0])} is empty (length {int(cols['length'][empty[0]])})"
        )
    ends = np.cumsum(cols["length"])
    for name, want in (("dataset_from_index", ends - cols["length"]), ("dataset_to_index", ends)):
        bad = np.flatnonzero(cols[name] != want)
        if len(bad):
            i = int(bad[0])
            raise DatasetError(
                f"{where} column '{name}' of episode {i} is {int(cols[name][i])}, expected {int(want[i])} "
                "(episodes must be contiguous and match their lengths)"
            )
    info_path = root / INFO_PATH
    if int(info["total_episodes"]) != e:
        raise DatasetError(
            f"{info_path} key 'total_episodes' is {info['total_episodes']}, but {where} lists {e} episodes"
        )
    if int(info["total_frames"]) != int(ends[-1]):
        raise DatasetError(
            f"{info_path} key 'total_frames' is {info['total_frames']}, "
            f"but the episodes in {where} add up to {int(ends[-1])} frames"
        )
    return cols


def _load_data(root: Path, info: dict, episodes: dict[str, np.ndarray], num_tasks: int) -> dict[str, np.ndarray]:
    features = info["features"]
    pairs = sorted(set(zip(episodes["data/chunk_index"].tolist(), episodes["data/file_index"].tolist())))
    needed = [OBS_KEY, ACTION_KEY, "frame_index", "episode_index", "index", "task_index"]
    needed += [k for k in (REWARD_KEY, SUCCESS_KEY) if k in features]
    parts = []  # (path, table) in global frame order
    for chunk, file in pairs:
        try:
            rel = info["data_path"].format(chunk_index=chunk, file_index=file)
        except (KeyError, IndexError, ValueError) as err:
            raise DatasetError(f"{root / INFO_PATH} key 'data_path' cannot be formatted: {err}") from None
        path = root / rel
        _require_file(path)
        names = _schema_names(path)
        for col in needed:
            if col not in names:
                raise DatasetError(f"{path} has no column '{col}' (found: {', '.join(names)})")
        parts.append((path, _read_parquet(path, columns=needed)))

    int_keys = ("frame_index", "episode_index", "index", "task_index")
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("observation", "action", "reward", "success", *int_keys)}
    obs_dim, act_dim = features[OBS_KEY]["shape"][0], features[ACTION_KEY]["shape"][0]
    row0 = 0
    for path, table in parts:
        n = table.num_rows
        out["observation"].append(_read_float_column(table, OBS_KEY, obs_dim, path, row0))
        out["action"].append(_read_float_column(table, ACTION_KEY, act_dim, path, row0))
        if REWARD_KEY in features:
            out["reward"].append(_read_float_column(table, REWARD_KEY, 1, path, row0)[:, 0])
        else:
            out["reward"].append(np.zeros(n, np.float32))
        if SUCCESS_KEY in features:
            out["success"].append(_read_scalar_column(table, SUCCESS_KEY, path).astype(bool))
        else:
            out["success"].append(np.zeros(n, bool))
        for key in int_keys:
            out[key].append(_read_scalar_column(table, key, path).astype(np.int64))
        row0 += n
    data = {k: np.concatenate(v) for k, v in out.items()}

    where = str(parts[0][0]) if len(parts) == 1 else f"{root / 'data'}/*/*.parquet"
    lengths = episodes["length"]
    n = int(lengths.sum())
    if len(data["index"]) != n:
        raise DatasetError(f"{where} has {len(data['index'])} rows, but the episodes metadata lists {n} frames")
    # Files may be listed out of order: put rows in global 'index' order before checking it.
    order = np.argsort(data["index"], kind="stable")
    if not np.array_equal(order, np.arange(n)):
        data = {k: v[order] for k, v in data.items()}
    checks = {
        "index": np.arange(n, dtype=np.int64),
        "episode_index": np.repeat(np.arange(len(lengths), dtype=np.int64), lengths),
        "frame_index": np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths),
    }
    for key, want in checks.items():
        bad = np.flatnonzero(data[key] != want)
        if len(bad):
            i = int(bad[0])
            raise DatasetError(
                f"{where} column '{key}' is inconsistent at row {i}: found {int(data[key][i])}, expected "
                f"{int(want[i])} (from meta/episodes lengths and a contiguous global index)"
            )
    bad = np.flatnonzero((data["task_index"] < 0) | (data["task_index"] >= num_tasks))
    if len(bad):
        i = int(bad[0])
        raise DatasetError(
            f"{where} column 'task_index' at row {i} is {int(data['task_index'][i])}, "
            f"but {root / TASKS_PATH} has {num_tasks} tasks"
        )
    return data


def _column(table: pa.Table, name: str, path: Path) -> pa.Array:
    col = table.column(name)
    if col.null_count:
        raise DatasetError(f"{path} column '{name}' has {col.null_count} null values")
    return col.combine_chunks()


def _read_scalar_column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    arr = _column(table, name, path)
    if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = _flatten_list(arr, 1, name, path)
    if not (pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type) or pa.types.is_floating(arr.type)):
        raise DatasetError(f"{path} column '{name}' must be numeric, found type {arr.type}")
    return arr.to_numpy(zero_copy_only=False)


def _flatten_list(arr: pa.Array, width: int, name: str, path: Path) -> pa.Array:
    if pa.types.is_fixed_size_list(arr.type):
        if arr.type.list_size != width:
            raise DatasetError(
                f"{path} column '{name}' holds lists of length {arr.type.list_size}, but "
                f"meta/info.json declares shape [{width}]"
            )
    else:
        lengths = arr.value_lengths().to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(lengths != width)
        if len(bad):
            raise DatasetError(
                f"{path} column '{name}' row {int(bad[0])} holds a list of length {int(lengths[bad[0]])}, but "
                f"meta/info.json declares shape [{width}]"
            )
    values = arr.flatten()
    if values.null_count:
        raise DatasetError(f"{path} column '{name}' has {values.null_count} null list elements")
    return values


def _read_float_column(table: pa.Table, name: str, width: int, path: Path, row0: int) -> np.ndarray:
    """(rows, width) float32 from a list column (or a scalar column when width is 1); finite values only."""
    arr = _column(table, name, path)
    is_list = pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type)
    if is_list:
        arr = _flatten_list(arr, width, name, path)
    elif width != 1:
        raise DatasetError(f"{path} column '{name}' has type {arr.type}, expected a list of {width} floats")
    if not (pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type)):
        raise DatasetError(f"{path} column '{name}' must hold numbers, found type {arr.type}")
    x = arr.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    finite = np.isfinite(x)
    if not finite.all():
        row, dim = np.argwhere(~finite)[0].tolist()
        raise DatasetError(
            f"{path} column '{name}' has a non-finite value ({x[row, dim]}) at row {row} (global index "
            f"{row0 + row}), dimension {dim}"
        )
    return x


def _load_stats(path: Path, info: dict) -> dict[str, dict[str, np.ndarray]]:
    _require_file(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{path} must hold a JSON object, found {type(raw).__name__}")
    stats: dict[str, dict[str, np.ndarray]] = {}
    for key, entry in raw.items():
        if isinstance(entry, dict):
            stats[key] = {k: np.atleast_1d(np.asarray(v)) for k, v in entry.items()}
    for key in (OBS_KEY, ACTION_KEY):
        dim = info["features"][key]["shape"][0]
        if key not in stats:
            raise DatasetError(f"{path} has no entry for '{key}' (found: {', '.join(raw)})")
        for stat in ("mean", "std", "min", "max"):
            value = stats[key].get(stat)
            if value is None:
                raise DatasetError(f"{path} entry '{key}' has no '{stat}' (found: {', '.join(stats[key])})")
            if value.shape != (dim,) or value.dtype.kind not in "iuf" or not np.isfinite(value).all():
                raise DatasetError(
                    f"{path} entry '{key}/{stat}' must be {dim} finite numbers, found {value.tolist()!r}"
                )
            stats[key][stat] = value.astype(np.float64)
    return stats
