"""Writing datasets in the LeRobot v3.0 layout with pyarrow, atomically (see :mod:`imitlab.data.atomic`).

pandas is never imported: the pandas metadata of ``tasks.parquet`` is written by hand so that pandas (and so
LeRobot) read the task strings back as the frame's index.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imitlab.core import keys
from imitlab.core.io import write_json
from imitlab.data.atomic import fsync_tree, publish, recover_interrupted_swap
from imitlab.data.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    INFO_PATH,
    OUR_FEATURES,
    STATS_PATH,
    TASKS_PATH,
    DatasetError,
)
from imitlab.data.model import (
    Episode,
    EpisodeDataset,
    _check_dims,
    _features,
    compute_stats,
)
from imitlab.data.reader import load_dataset

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
    recover_interrupted_swap(root)
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
        obs_names=features[keys.OBS]["names"],
        action_names=features[keys.ACTION]["names"],
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
    info["features"] = _features(old.info["features"][keys.OBS], old.info["features"][keys.ACTION])
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
        fsync_tree(tmp)
        publish(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    ds.root = root


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
    write_json(dest / STATS_PATH, _stats_to_json(ds.stats), indent=4)
    write_json(dest / INFO_PATH, ds.info, indent=4)


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
