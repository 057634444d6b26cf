"""The LeRobot v3.0 layout's facts: file paths, the columns every dataset declares (feature names: core.keys), and the
error raised when a dataset on disk breaks them."""

from __future__ import annotations

from typing import Any

from imitlab.core import keys
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
