"""Writing datasets in the LeRobot v3.0 layout with pyarrow, atomically (see :mod:`imitlab.core.atomic_dir`).

pandas is never imported: the pandas metadata of ``tasks.parquet`` is written by hand so that pandas (and so
LeRobot) read the task strings back as the frame's index.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imitlab.core import keys
from imitlab.core.atomic_dir import fsync_tree, publish, recover_interrupted_swap
from imitlab.core.diskspace import bytes_under, reporting_full_disk
from imitlab.core.errors import InvalidInputError
from imitlab.core.io import write_json
from imitlab.core.locks import one_writer
from imitlab.data.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    INFO_PATH,
    OUR_FEATURES,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    VIDEO_SEGMENT_COLUMNS,
    DatasetError,
    video_file,
)
from imitlab.data.model import (
    Episode,
    EpisodeDataset,
    FrameArrays,
    _check_dims,
    _features,
    check_cameras,
    compute_stats,
)
from imitlab.data.reader import load_dataset
from imitlab.data.video import VideoEncoding, encode_frames, video_info

# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------


def write_dataset(
    root: str | Path,
    episodes: Sequence[Episode],
    *,
    fps: int,
    task: str | Sequence[str],
    obs_names: Sequence[str],
    action_names: Sequence[str],
    robot_type: str = "sim",
    overwrite: bool = False,
    video: VideoEncoding | None = None,
) -> EpisodeDataset:
    """Write ``episodes`` as a new LeRobot v3.0 dataset at ``root``, atomically. ``task``: every episode's task
    string, or one per episode (a multi-task dataset).

    Each camera in ``Episode.images`` becomes a video feature: all episodes encoded one after the other into
    ``videos/<camera>/chunk-000/file-000.mp4`` with ``video`` (default: LeRobot's lossy AV1 settings).
    Refuses (DatasetError) when ``root`` already holds anything, unless ``overwrite=True``; an empty
    directory counts as free. Returns the dataset as it now is on disk (camera frames as decoded from it).
    """
    root = Path(root)
    with one_writer(root, "a dataset"):
        return _write_new(root, episodes, fps, task, obs_names, action_names, robot_type, overwrite, video)


def _write_new(
    root: Path,
    episodes: Sequence[Episode],
    fps: int,
    task: str | Sequence[str],
    obs_names: Sequence[str],
    action_names: Sequence[str],
    robot_type: str,
    overwrite: bool,
    video: VideoEncoding | None,
) -> EpisodeDataset:
    recover_interrupted_swap(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root} exists and is not a directory; a dataset root must be a directory")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise DatasetError(f"{root} already exists; pass overwrite=True to replace it")
        if not (root / INFO_PATH).is_file():
            raise DatasetError(
                f"{root} is not a dataset (no {INFO_PATH}): overwrite replaces only a dataset; choose another --out"
            )
        if root.resolve() == Path.cwd().resolve() or root.resolve() in Path.cwd().resolve().parents:
            raise DatasetError(f"{root} is the current directory or holds it: give the dataset its own directory")
    ds = EpisodeDataset.from_episodes(
        episodes, fps=fps, task=task, obs_names=obs_names, action_names=action_names, robot_type=robot_type
    )
    _write_atomically(ds, root, video or VideoEncoding(), videos_from=None)
    return ds


def write_like(
    base: EpisodeDataset,
    root: str | Path,
    episodes: Sequence[Episode],
    overwrite: bool = False,
    video: VideoEncoding | None = None,
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
        video=video,
    )


def append_episodes(
    root: str | Path, episodes: Sequence[Episode], *, task: str | None = None, video: VideoEncoding | None = None
) -> EpisodeDataset:
    """Add ``episodes`` to the dataset at ``root`` (episode and frame indices continue), atomically.

    The whole new version is written to a hidden sibling directory, then swapped in with two renames
    (old -> ``.<name>.backup``, new -> root); a crash at any point leaves the old or the new dataset
    complete, and :func:`load_dataset` restores the backup if root went missing. ``task`` defaults to the
    dataset's task (a new task string is added to meta/tasks.parquet). Existing video files are hard-linked
    (or copied) into the new version unchanged, never re-encoded or opened for writing; the new episodes'
    frames go to a new video file per camera.
    """
    root = Path(root)
    with one_writer(root, "a dataset"):  # read and write under one lock: no append is lost to another
        return _append(root, list(episodes), task, video)


def _append(root: Path, episodes: list[Episode], task: str | None, video: VideoEncoding | None) -> EpisodeDataset:
    old = load_dataset(root)  # also finishes an interrupted swap
    if not episodes:
        return old
    for i, ep in enumerate(episodes):
        if not isinstance(ep, Episode):
            raise TypeError(f"episodes[{i}] must be an imitlab Episode, got {type(ep).__name__}")
    _check_dims(episodes, old.obs_dim, old.act_dim)
    features = old.info["features"]
    cameras = {key: tuple(features[key]["shape"][:2]) for key in old.camera_keys if features[key]["dtype"] == "video"}
    check_cameras(episodes, cameras)
    extra = sorted(set(features) - OUR_FEATURES - set(cameras))
    if extra:
        raise DatasetError(
            f"{root / INFO_PATH} declares features imitlab does not write ({', '.join(extra)}); "
            "appending would drop them, so it is refused"
        )
    tasks = list(old.tasks)
    if task is None:
        if len(tasks) != 1:
            raise InvalidInputError(f"the dataset at {root} has {len(tasks)} tasks {tasks}: pass task=... to append")
        task = tasks[0]
    if task not in tasks:
        tasks.append(task)
    new_frames = sum(len(ep) for ep in episodes)
    arrays = FrameArrays(
        observation=np.concatenate([old.observation, *(ep.observation for ep in episodes)]),
        action=np.concatenate([old.action, *(ep.action for ep in episodes)]),
        reward=np.concatenate([old.reward, *(ep.reward for ep in episodes)]),
        success=np.concatenate([old.success, *(ep.success for ep in episodes)]),
        task_index=np.concatenate([old.task_index, np.full(new_frames, tasks.index(task), dtype=np.int64)]),
    )
    lengths = np.concatenate([old.episode_lengths, [len(ep) for ep in episodes]]).astype(np.int64)
    info = json.loads(json.dumps(old.info))
    info.update(codebase_version=CODEBASE_VERSION, data_path=DATA_PATH)
    info["video_path"] = VIDEO_PATH if cameras else None  # stored videos are linked to our template's paths
    info["features"] = _features(features[keys.OBS], features[keys.ACTION], {k: features[k] for k in cameras})
    ds = EpisodeDataset._from_arrays(
        arrays,
        lengths,
        tasks=tasks,
        info=info,
        root=None,
        images_in_memory={key: [ep.images[key] for ep in episodes] for key in cameras},
        video_segments=old.video_segments,
        episode_image_stats={key: old.episode_stats(key) for key in cameras},
    )
    _write_atomically(ds, root, video or VideoEncoding(), videos_from=old)
    return ds


def _write_atomically(ds: EpisodeDataset, root: Path, video: VideoEncoding, videos_from: EpisodeDataset | None) -> None:
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f".{root.name}.tmp-*"):  # left by a crash mid-write (one writer at a time)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root.parent / f".{root.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with reporting_full_disk(root, None, lambda: bytes_under(tmp)):
            segments = _write_videos(ds, tmp, video, videos_from)
            _write_tree(ds, tmp, segments)
            fsync_tree(tmp)
            publish(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    ds.root = root
    # From now on the cameras' frames are the decoded videos, exactly as load_dataset will see them.
    ds.video_segments, ds.images_in_memory, ds._frames = segments, {}, {}


def _write_videos(
    ds: EpisodeDataset, dest: Path, video: VideoEncoding, videos_from: EpisodeDataset | None
) -> dict[str, dict[str, np.ndarray]]:
    """Every video camera's files under ``dest``: files already stored (by ``videos_from``) linked unchanged,
    the frames in memory encoded into one new file. Fills each feature's ``info`` block; returns the
    per-episode placement (chunk_index, file_index, from_timestamp, to_timestamp) of every camera."""
    out = {}
    for key in ds.camera_keys:
        feature = ds.info["features"][key]
        stored = {c: list(np.asarray(v).tolist()) for c, v in ds.video_segments.get(key, {}).items()}
        stored = {c: stored.get(c, []) for c in VIDEO_SEGMENT_COLUMNS}
        files = sorted(set(zip(stored["chunk_index"], stored["file_index"])))
        if files:
            if videos_from is None or videos_from.root is None:
                raise InvalidInputError(
                    f"camera '{key}' has episodes stored in video files but no dataset to take them from"
                )
            for chunk, file in files:
                src = video_file(videos_from.root, videos_from.info, key, chunk, file)
                _link_or_copy(src, dest / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file))
        first_new = len(stored["chunk_index"])
        if first_new < ds.num_episodes:
            chunk, file = files[-1] if files else (0, -1)
            chunk, file = (chunk + 1, 0) if file + 1 >= CHUNKS_SIZE else (chunk, file + 1)
            path = dest / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
            held = ds.images_in_memory[key]  # (T, H, W, 3) per episode from first_new on
            if len(held) != ds.num_episodes - first_new:
                raise InvalidInputError(
                    f"camera '{key}': {len(held)} episodes of frames in memory for "
                    f"{ds.num_episodes - first_new} episodes not stored yet"
                )
            encode_frames(path, held, ds.fps, video, key)
            t0 = 0
            for frames in held:
                stored["chunk_index"].append(chunk)
                stored["file_index"].append(file)
                stored["from_timestamp"].append(t0 / ds.fps)
                stored["to_timestamp"].append((t0 + len(frames)) / ds.fps)
                t0 += len(frames)
            if "info" not in feature:
                feature["info"] = video_info(path)
        out[key] = {
            c: np.asarray(v, dtype=np.float64 if c.endswith("timestamp") else np.int64) for c, v in stored.items()
        }
    return out


def _link_or_copy(src: Path, dst: Path) -> None:
    """A stored video in the new tree without writing to it: a hard link (same bytes, no copy), else a copy."""
    if not src.is_file():
        raise DatasetError(f"{src} is missing")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {key: {k: np.asarray(v).tolist() for k, v in s.items()} for key, s in stats.items()}


def _arrow_column(values: np.ndarray, feature: dict[str, Any]) -> pa.Array:
    if values.ndim == 2 and values.shape[1] == 1:
        # LeRobot maps a feature of shape [1] to a scalar column (HF Value), not a list of length 1.
        return pa.array(values[:, 0])
    if values.ndim == 2:
        # A vector feature: HF datasets' Sequence(length=D) is arrow's fixed_size_list<float32>[D],
        # which is what LeRobot itself writes.
        width = values.shape[1]
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)
    return pa.array(values)


def _write_tree(ds: EpisodeDataset, dest: Path, segments: dict[str, dict[str, np.ndarray]]) -> None:
    """Write every parquet and JSON file of the layout for ``ds`` under ``dest`` (the videos are already
    there, placed as ``segments`` says); meta/info.json last."""
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
    for key, placement in segments.items():
        for col in VIDEO_SEGMENT_COLUMNS:
            ep_cols[f"videos/{key}/{col}"] = pa.array(placement[col])
        for stat, values in _stack_stats(ds.episode_stats(key)).items():
            ep_cols[f"stats/{key}/{stat}"] = pa.array(values.tolist())  # (3, 1, 1) per episode, nested lists
    ep_cols["meta/episodes/chunk_index"] = pa.array(np.zeros(e, dtype=np.int64))
    ep_cols["meta/episodes/file_index"] = pa.array(np.zeros(e, dtype=np.int64))
    ep_file = dest / EPISODES_PATH.format(chunk_index=0, file_index=0)
    ep_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(ep_cols), ep_file, compression="snappy")

    _write_tasks(ds.tasks, dest / TASKS_PATH)
    write_json(dest / STATS_PATH, _stats_to_json(ds.stats), indent=4)
    write_json(dest / INFO_PATH, ds.info, indent=4)


def _stack_stats(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {stat: np.stack([s[stat] for s in per_episode]) for stat in per_episode[0]}


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
