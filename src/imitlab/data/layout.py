"""The LeRobot v3.0 layout's facts: file paths, the columns every dataset declares (feature names: core.keys), and the
error raised when a dataset on disk breaks them."""

from __future__ import annotations

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
IMAGES_PREFIX = "observation.images."
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
    template = info.get("video_path")
    if not isinstance(template, str):
        raise DatasetError(
            f"{root / INFO_PATH} key 'video_path' must be a path template for camera '{key}', found {template!r}"
        )
    try:
        rel = template.format(video_key=key, chunk_index=int(chunk_index), file_index=int(file_index))
    except (KeyError, IndexError, ValueError) as err:
        raise DatasetError(f"{root / INFO_PATH} key 'video_path' cannot be formatted: {err}") from None
    return root / rel
