"""Paths read from a dataset's metadata stay inside the dataset directory."""

import json

import pytest

from conftest import random_episodes
from imitlab.data import reader
from imitlab.data.layout import INFO_PATH, VIDEO_PATH, DatasetError, inside_root, metadata_path, video_file
from imitlab.data.reader import load_dataset
from imitlab.data.writer import write_dataset


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "data"
    write_dataset(path, random_episodes(2), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    return path


def set_data_path(root, template):
    info = json.loads((root / INFO_PATH).read_text())
    (root / INFO_PATH).write_text(json.dumps({**info, "data_path": template}))


def test_a_data_path_template_climbing_out_of_the_dataset_is_refused_before_any_file_is_opened(root, monkeypatch):
    set_data_path(root, "../../../../etc/passwd{chunk_index}{file_index}")
    opened = []
    schema_names = reader._schema_names
    monkeypatch.setattr(reader, "_schema_names", lambda path: opened.append(path) or schema_names(path))
    with pytest.raises(DatasetError, match=r"key 'data_path' points outside the dataset directory"):
        load_dataset(root)
    assert opened and all(path.is_relative_to(root) for path in opened)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/etc/passwd{chunk_index}{file_index}", "points outside the dataset directory"),
        ("data/../../elsewhere-{chunk_index}-{file_index}.parquet", "points outside the dataset directory"),
        ("data/{chunk_index.__class__}.parquet", r"may use only \{chunk_index\}, \{file_index\}"),
        ("data/{0}.parquet", r"may use only"),
        ("data/{chunk_index", "cannot be formatted"),
        (["data"], "must be a path template string"),
    ],
)
def test_a_data_path_template_that_is_not_a_path_inside_the_dataset_is_named(root, template, message):
    set_data_path(root, template)
    with pytest.raises(DatasetError, match=message):
        load_dataset(root)


def test_a_template_that_stays_inside_the_dataset_resolves_under_its_root(tmp_path):
    path = metadata_path(tmp_path, "data/x/../chunk-{chunk_index:03d}.parquet", "data_path", chunk_index=2)
    assert path == tmp_path / "data" / "chunk-002.parquet"


@pytest.mark.parametrize("relative", ["..", "../data2/file.parquet", "/tmp/file.parquet", "", "."])
def test_inside_root_refuses_paths_that_are_not_below_the_root(tmp_path, relative):
    with pytest.raises(DatasetError, match="episodes metadata points outside"):
        inside_root(tmp_path / "data", relative, "episodes metadata")


@pytest.mark.parametrize(
    ("template", "camera"),
    [
        ("../videos/{video_key}/{chunk_index}-{file_index}.mp4", "observation.images.top"),
        (VIDEO_PATH, "observation.images.top/../../../../elsewhere"),  # a camera key from info.json's features
    ],
)
def test_a_video_path_outside_the_dataset_is_refused(tmp_path, template, camera):
    with pytest.raises(DatasetError, match="key 'video_path' points outside the dataset directory"):
        video_file(tmp_path / "data", {"video_path": template}, camera, 0, 0)
