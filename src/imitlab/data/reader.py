"""Reading and validating datasets in the LeRobot v3.0 layout: every inconsistency is one DatasetError that
names the file and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imitlab.core import keys
from imitlab.core.atomic_dir import recover_interrupted_swap
from imitlab.core.io import read_json_object
from imitlab.core.limits import MAX_FRAME_PIXELS, MAX_VIDEO_FRAMES, over
from imitlab.data.layout import (
    CAMERA_DTYPES,
    DEFAULT_FEATURES,
    EPISODES_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_SEGMENT_COLUMNS,
    DatasetError,
    metadata_path,
    video_file,
)
from imitlab.data.model import (
    EpisodeDataset,
)
from imitlab.data.video import probe

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
    segments, episode_image_stats = _load_camera_meta(root, info)
    _check_videos(root, info, segments, lengths)
    return EpisodeDataset(
        observation=data["observation"],
        action=data["action"],
        reward=data["reward"],
        success=data["success"],
        task_index=data["task_index"],
        episode_lengths=lengths,
        tasks=tasks,
        info=info,
        stats=stats,
        root=root,
        video_segments=segments,
        episode_image_stats=episode_image_stats,
    )


def read_info(root: str | Path) -> dict:
    """The validated meta/info.json of the dataset at ``root``, without reading its frames (e.g. its
    ``robot_type``: the env that `imitlab collect` or `imitlab import --env` recorded it on)."""
    root = Path(root)
    recover_interrupted_swap(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a dataset directory (it does not exist)")
    return _load_info(root)


def state_dim(info: dict) -> int:
    """The width of the dataset's ``observation.state``: 0 for a camera-only dataset, which declares none."""
    feature = info["features"].get(keys.OBS)
    return int(feature["shape"][0]) if feature else 0


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(f"{path} is missing")


def _load_info(root: Path) -> dict:
    path = root / INFO_PATH
    info = read_json_object(path, "the dataset's info (layout version, fps, features)", DatasetError)
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
    camera_only = keys.OBS not in features and any(
        isinstance(f, dict) and f.get("dtype") in CAMERA_DTYPES for f in features.values()
    )
    for key in (keys.ACTION, *DEFAULT_FEATURES, *(() if camera_only else (keys.OBS,))):
        if key not in features:
            raise DatasetError(f"{path} declares no feature '{key}' (found: {', '.join(features)})")
    for key in (keys.ACTION, *(() if camera_only else (keys.OBS,))):
        shape = features[key].get("shape") if isinstance(features[key], dict) else None
        if not isinstance(shape, list) or len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1:
            raise DatasetError(f"{path} feature '{key}' must have a 1-D shape [dim], found {shape!r}")
    for key, feature in features.items():
        if isinstance(feature, dict) and feature.get("dtype") in CAMERA_DTYPES:
            shape = feature.get("shape")
            if not (
                isinstance(shape, list)
                and len(shape) == 3
                and all(isinstance(x, int) and x > 0 for x in shape)
                and shape[2] == 3
            ):
                raise DatasetError(f"{path} camera '{key}' must have shape [height, width, 3], found {shape!r}")
            too_big = over(*MAX_FRAME_PIXELS, shape[0] * shape[1])
            if too_big:
                raise DatasetError(f"{path} camera '{key}' declares {shape[0]}x{shape[1]} frames: {too_big}")
    return info


def _load_tasks(path: Path) -> list[str]:
    """Task strings by task_index. pandas writes the task strings as the frame's index: a column "task" (index
    named "task", as we write it) or "__index_level_0__" (an unnamed index, as LeRobot writes it)."""
    _require_file(path)
    table = _read_parquet(path)
    names = table.column_names
    task_col = next((c for c in ("task", "__index_level_0__") if c in names), None)
    if task_col is None or "task_index" not in names:
        missing = "task_index" if task_col is not None else "task"
        raise DatasetError(
            f"{path} has no column '{missing}' (found: {', '.join(names)}); the task strings are expected as "
            "a column 'task' or the pandas index '__index_level_0__'"
        )
    tasks = table.column(task_col).to_pylist()
    index = table.column("task_index").to_pylist()
    order = np.argsort(index)
    if sorted(index) != list(range(len(index))):
        raise DatasetError(f"{path} column 'task_index' must be 0..{len(index) - 1}, found {index}")
    return [tasks[i] for i in order]


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        table = pq.read_table(path, columns=columns)
        table.validate(full=True)  # e.g. invalid UTF-8 in a string column
        table.column_names  # noqa: B018  (names are decoded on access: a damaged one raises here)
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} could not be read as parquet: {err}") from None


def _schema_names(path: Path) -> list[str]:
    try:
        names: list[str] = pq.read_schema(path).names
        return names
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
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


def _video_cameras(info: dict) -> list[str]:
    return [k for k, f in info["features"].items() if isinstance(f, dict) and f.get("dtype") == "video"]


def _load_camera_meta(root: Path, info: dict) -> tuple[dict, dict]:
    """Per video camera: its episodes' placement in the video files ((E,) arrays of VIDEO_SEGMENT_COLUMNS);
    per camera with per-episode statistics stored: the list of per-episode stat dicts."""
    cameras = [k for k, f in info["features"].items() if isinstance(f, dict) and f.get("dtype") in CAMERA_DTYPES]
    if not cameras:
        return {}, {}
    paths = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    names = set().union(*(_schema_names(p) for p in paths))
    where = str(paths[0]) if len(paths) == 1 else f"{root / 'meta' / 'episodes'}/*/*.parquet"
    wanted = ["episode_index"]
    for key in _video_cameras(info):
        for col in VIDEO_SEGMENT_COLUMNS:
            if f"videos/{key}/{col}" not in names:
                raise DatasetError(
                    f"{where} has no column 'videos/{key}/{col}' for video camera '{key}' declared in "
                    f"{root / INFO_PATH}"
                )
            wanted.append(f"videos/{key}/{col}")
    stat_cols = {key: [c for c in names if c.startswith(f"stats/{key}/")] for key in cameras}
    table = pa.concat_tables([_read_parquet(p, columns=wanted + sum(stat_cols.values(), [])) for p in paths])
    order = np.argsort(table.column("episode_index").to_numpy(), kind="stable")
    table = table.take(pa.array(order))
    segments: dict[str, dict[str, np.ndarray]] = {}
    for key in _video_cameras(info):
        segments[key] = {}
        for col in VIDEO_SEGMENT_COLUMNS:
            column = table.column(f"videos/{key}/{col}")
            if column.null_count:
                raise DatasetError(f"{where} column 'videos/{key}/{col}' has {column.null_count} null values")
            segments[key][col] = column.to_numpy()
    episode_stats = {}
    for key, cols in stat_cols.items():
        try:
            stats = {c.rsplit("/", 1)[1]: np.asarray(table.column(c).to_pylist(), dtype=np.float64) for c in cols}
        except (TypeError, ValueError):  # ragged or missing values: recomputed from the frames when needed
            continue
        if {"min", "max", "mean", "std", "count"} <= set(stats):
            stats["count"] = stats["count"].reshape(-1, 1).astype(np.int64)
            episode_stats[key] = [{stat: v[e] for stat, v in stats.items()} for e in range(table.num_rows)]
    return segments, episode_stats


def _check_videos(root: Path, info: dict, segments: dict, lengths: np.ndarray) -> None:
    """Every video file exists, opens, has the declared frame size and holds the frames its episodes need."""
    fps = float(info["fps"])
    episodes_where = root / "meta" / "episodes"
    for key, seg in segments.items():
        shape = info["features"][key]["shape"]
        need: dict[tuple[int, int], tuple[int, int]] = {}  # file -> (frames needed, episode needing most)
        for e in range(len(lengths)):
            first = int(round(float(seg["from_timestamp"][e]) * fps))
            covered = int(round((float(seg["to_timestamp"][e]) - float(seg["from_timestamp"][e])) * fps))
            if first < 0 or abs(covered - int(lengths[e])) > 1:
                raise DatasetError(
                    f"{episodes_where} columns 'videos/{key}/from_timestamp'/'to_timestamp' of episode {e} span "
                    f"{covered} frames from frame {first}, but the episode has length {int(lengths[e])} in the data"
                )
            pair = (int(seg["chunk_index"][e]), int(seg["file_index"][e]))
            if first + int(lengths[e]) > need.get(pair, (0, 0))[0]:
                need[pair] = (first + int(lengths[e]), e)
        for (chunk, file), (frames, e) in sorted(need.items()):
            path = video_file(root, info, key, chunk, file)
            too_many = over(*MAX_VIDEO_FRAMES, frames)
            if too_many:
                raise DatasetError(
                    f"{episodes_where} places {frames:,} frames of camera '{key}' in {path} (episode {e} ends "
                    f"there): {too_many}"
                )
            found = probe(path)
            if [found.height, found.width] != shape[:2]:
                raise DatasetError(
                    f"{path} has {found.height}x{found.width} frames, but {root / INFO_PATH} feature '{key}' "
                    f"declares shape {shape}"
                )
            if found.frames and found.frames < frames:
                raise DatasetError(
                    f"{path} has {found.frames} frames, but episode {e} needs frames up to {frames - 1} "
                    f"(videos/{key}/from_timestamp in {episodes_where} and its length in the data)"
                )


def _load_data(root: Path, info: dict, episodes: dict[str, np.ndarray], num_tasks: int) -> dict[str, np.ndarray]:
    features = info["features"]
    pairs = sorted(set(zip(episodes["data/chunk_index"].tolist(), episodes["data/file_index"].tolist())))
    needed = [keys.ACTION, "frame_index", "episode_index", "index", "task_index"]
    needed += [k for k in (keys.OBS, keys.REWARD, keys.SUCCESS) if k in features]
    image_cameras = [k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "image"]
    parts = []  # (path, table) in global frame order
    for chunk, file in pairs:
        path = metadata_path(root, info["data_path"], "data_path", chunk_index=chunk, file_index=file)
        _require_file(path)
        names = _schema_names(path)
        for col in needed + image_cameras:
            if col not in names:
                raise DatasetError(f"{path} has no column '{col}' (found: {', '.join(names)})")
        parts.append((path, _read_parquet(path, columns=needed)))

    int_keys = ("frame_index", "episode_index", "index", "task_index")
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("observation", "action", "reward", "success", *int_keys)}
    obs_dim, act_dim = state_dim(info), features[keys.ACTION]["shape"][0]
    row0 = 0
    for path, table in parts:
        n = table.num_rows
        if keys.OBS in features:
            out["observation"].append(_read_float_column(table, keys.OBS, obs_dim, path, row0))
        else:  # a camera-only dataset: a state of width 0, so every head conditions on the cameras alone
            out["observation"].append(np.zeros((n, 0), np.float32))
        out["action"].append(_read_float_column(table, keys.ACTION, act_dim, path, row0))
        if keys.REWARD in features:
            out["reward"].append(_read_float_column(table, keys.REWARD, 1, path, row0)[:, 0])
        else:
            out["reward"].append(np.zeros(n, np.float32))
        if keys.SUCCESS in features:
            out["success"].append(_read_scalar_column(table, keys.SUCCESS, path).astype(bool))
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
    values: np.ndarray = arr.to_numpy(zero_copy_only=False)
    return values


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
    x: np.ndarray = arr.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    finite = np.isfinite(x)
    if not finite.all():
        row, dim = np.argwhere(~finite)[0].tolist()
        raise DatasetError(
            f"{path} column '{name}' has a non-finite value ({x[row, dim]}) at row {row} (global index "
            f"{row0 + row}), dimension {dim}"
        )
    return x


def _load_stats(path: Path, info: dict) -> dict[str, dict[str, np.ndarray]]:
    raw = read_json_object(path, "the dataset's feature statistics", DatasetError)
    stats: dict[str, dict[str, np.ndarray]] = {}
    for key, entry in raw.items():
        if isinstance(entry, dict):
            stats[key] = {stat: _stat_array(path, key, stat, value) for stat, value in entry.items()}
    if keys.OBS not in info["features"]:  # a camera-only dataset: statistics of its width-0 state
        stats[keys.OBS] = {stat: np.zeros(0) for stat in ("mean", "std", "min", "max")}
    for key in (keys.OBS, keys.ACTION):
        dim = state_dim(info) if key == keys.OBS else info["features"][key]["shape"][0]
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
        if (stats[key]["std"] < 0).any() or (stats[key]["min"] > stats[key]["max"]).any():
            raise DatasetError(
                f"{path} entry '{key}' has a negative std or a min above its max: std {stats[key]['std'].tolist()}, "
                f"min {stats[key]['min'].tolist()}, max {stats[key]['max'].tolist()}"
            )
    return stats


def _stat_array(path: Path, key: str, stat: str, value: object) -> np.ndarray:
    try:
        return np.atleast_1d(np.asarray(value))
    except (ValueError, TypeError) as err:  # ragged or nested lists
        raise DatasetError(f"{path} entry '{key}/{stat}' is not an array: {err}") from None
