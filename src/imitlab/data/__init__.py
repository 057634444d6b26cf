"""Demonstration datasets in the LeRobot v3.0 layout: the in-memory model, its writer and validating reader, the
crash-safe directory swap they share, cameras as MP4 video (PyAV) with a decoded frame cache, importers of other
formats, and the chunk sampler.

Layout written by :func:`write_dataset` (see docs/data.md for the full description)::

    <root>/meta/info.json                            codebase_version "v3.0", counts, fps, paths, features
    <root>/meta/stats.json                           {feature: {min, max, mean, std, count, q01..q99}}
    <root>/meta/tasks.parquet                        pandas frame indexed by "task", column task_index
    <root>/meta/episodes/chunk-000/file-000.parquet  one row per episode (+ per-episode stats)
    <root>/data/chunk-000/file-000.parquet           one row per frame, one row group per episode
    <root>/videos/<camera>/chunk-000/file-000.mp4    each camera's frames, episodes one after the other
"""

from imitlab.data.layout import ACTION_KEY, OBS_KEY, DatasetError
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.reader import load_dataset
from imitlab.data.video import VideoEncoding
from imitlab.data.writer import append_episodes, write_dataset, write_like

__all__ = [
    "ACTION_KEY",
    "OBS_KEY",
    "DatasetError",
    "Episode",
    "EpisodeDataset",
    "VideoEncoding",
    "append_episodes",
    "load_dataset",
    "write_dataset",
    "write_like",
]
