"""The LeRobot v3.0 layout's facts: file paths, the columns every dataset declares (feature names: core.keys), and the
error raised when a dataset on disk breaks them."""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any

from imitlab.core import keys
from imitlab.core.errors import ImitlabError

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # max files per chunk directory (LeRobot's DEFAULT_CHUNK_SIZE)
DATA_FILES_SIZE_IN_MB = 100  # LeRobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILES_SIZE_IN_MB = 500  # LeRobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"  # LeRobot's DEFAULT_VIDEO_PATH
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"

# A camera is a feature named observation.images.<camera>, stored as video (mp4 files) or image (encoded
# image bytes in the data parquet); its frames are (H, W, 3) uint8.
IMAGES_PREFIX = keys.IMAGES_PREFIX
CAMERA_DTYPES = ("video", "image")
# The per-episode columns that place an episode in its camera's video file (prefixed "videos/<key>/").
VIDEO_SEGMENT_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
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
OUR_FEATURES = {keys.OBS, keys.ACTION, keys.REWARD, keys.DONE, keys.SUCCESS, *DEFAULT_FEATURES}
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


class DatasetError(ImitlabError):
    """A dataset on disk is missing, incomplete or inconsistent; the message names the file and field."""


def video_file(root: Path, info: dict[str, Any], key: str, chunk_index: int, file_index: int) -> Path:
    """The video file of camera ``key`` at (chunk, file), from info.json's ``video_path`` template. Every video
    path the reader and the frame cache open goes through here."""
    fields = {"video_key": key, "chunk_index": int(chunk_index), "file_index": int(file_index)}
    return metadata_path(root, info.get("video_path"), "video_path", **fields)


def metadata_path(root: Path, template: object, key: str, **fields: object) -> Path:
    """The file that ``meta/info.json`` template ``key`` (e.g. ``data_path``, ``video_path``) names for ``fields``.
    Only the named fields may appear in the template (no attribute or item access), and the result must lie
    inside the dataset directory; otherwise a DatasetError that says so."""
    where = f"{root / INFO_PATH} key '{key}'"
    if not isinstance(template, str):
        raise DatasetError(f"{where} must be a path template string, found {template!r}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise DatasetError(f"{where} cannot be formatted: {err}") from None
    if not names <= set(fields):
        raise DatasetError(f"{where} may use only {{{'}, {'.join(fields)}}}, found {template!r}")
    try:
        relative = template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        raise DatasetError(f"{where} cannot be formatted: {err}") from None
    return inside_root(root, relative, where)


def inside_root(root: Path, relative: str, what: str) -> Path:
    """``root / relative`` when it stays inside the dataset directory ``root`` (lexically: ``..`` and absolute
    paths are refused; links the dataset itself contains are followed, as in the Hugging Face cache); else a
    DatasetError naming ``what``, the metadata the path came from."""
    base = Path(os.path.normpath(root))
    path = Path(os.path.normpath(base / relative))
    if os.path.isabs(relative) or path == base or not path.is_relative_to(base):
        raise DatasetError(f"{what} points outside the dataset directory {root}: {relative!r}")
    return path
