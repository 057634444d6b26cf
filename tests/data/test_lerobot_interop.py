"""What LeRobot does when it loads our datasets, checked without LeRobot (it cannot share this environment):
HF ``datasets`` casts our parquet files to the features LeRobot derives from info.json, and LeRobot-written
metadata (tasks as the pandas index) loads. Video decoding as LeRobot does it is checked in test_cameras.py."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imitlab.data.model import Episode
from imitlab.data.reader import load_dataset
from imitlab.data.writer import write_dataset

datasets = pytest.importorskip("datasets")

CAM = "observation.images.top"
DATA_FILE = "data/chunk-000/file-000.parquet"


def lerobot_hf_features(info: dict) -> datasets.Features:
    """LeRobot 0.4's ``lerobot.datasets.utils.get_hf_features_from_features`` applied to info.json's features,
    after its ``load_info`` turned every shape list into a tuple: video features have no column, image
    features are ``Image()``, shape (1,) is a scalar ``Value``, a 1-D shape a fixed-length ``Sequence``."""
    out = {}
    for key, ft in info["features"].items():
        shape = tuple(ft["shape"])
        if ft["dtype"] == "video":
            continue
        if ft["dtype"] == "image":
            out[key] = datasets.Image()
        elif shape == (1,):
            out[key] = datasets.Value(dtype=ft["dtype"])
        else:
            assert len(shape) == 1, f"LeRobot maps a {len(shape)}-D shape to ArrayND; we write none"
            out[key] = datasets.Sequence(length=shape[0], feature=datasets.Value(dtype=ft["dtype"]))
    return datasets.Features(out)


def make_dataset(root, act_dim: int, camera: bool):
    rng = np.random.default_rng(act_dim)
    episodes = []
    for t in (4, 6):
        images = {CAM: rng.integers(0, 256, size=(t, 16, 16, 3), dtype=np.uint8)} if camera else {}
        episodes.append(
            Episode(
                observation=rng.normal(size=(t, 3)).astype(np.float32),
                action=rng.normal(size=(t, act_dim)).astype(np.float32),
                reward=rng.normal(size=t).astype(np.float32),
                success=np.zeros(t, bool),
                images=images,
            )
        )
    names = [f"u{i}" for i in range(act_dim)]
    return write_dataset(root, episodes, fps=10, task="t", obs_names=["a", "b", "c"], action_names=names)


@pytest.mark.parametrize(
    "act_dim, camera",
    [(1, False), (2, False), (2, True)],
    ids=["pendulum-like action of shape [1]", "two-path-like", "with a video camera"],
)
def test_hf_datasets_casts_our_data_to_the_features_lerobot_derives(tmp_path, act_dim, camera):
    ours = make_dataset(tmp_path / "ds", act_dim, camera)
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    features = lerobot_hf_features(info)
    # LeRobot's load_nested_dataset: Dataset.from_parquet(files, features=...).
    hf = datasets.Dataset.from_parquet(
        [str(tmp_path / "ds" / DATA_FILE)], features=features, cache_dir=str(tmp_path / "hf")
    )
    assert len(hf) == ours.num_frames == 10
    assert hf.features == features
    row = hf[5]
    if act_dim == 1:
        assert row["action"] == pytest.approx(float(ours.action[5, 0]))
    else:
        assert row["action"] == pytest.approx(ours.action[5].tolist())
    assert row["observation.state"] == pytest.approx(ours.observation[5].tolist())
    assert row["index"] == 5 and row["episode_index"] == 1 and row["frame_index"] == 1
    assert row["timestamp"] == pytest.approx(0.1)


def test_shape_1_feature_is_written_as_a_scalar_column(tmp_path):
    """Regression: a list of length 1 made LeRobot fail with "Couldn't cast array of type
    fixed_size_list<element: float>[1] to float" on every pendulum dataset."""
    make_dataset(tmp_path / "ds", act_dim=1, camera=False)
    schema = pq.read_schema(tmp_path / "ds" / DATA_FILE)
    assert schema.field("action").type == pa.float32()
    assert schema.field("next.reward").type == pa.float32()


def test_shape_1_feature_stored_as_a_list_of_length_1_still_loads(tmp_path):
    ours = make_dataset(tmp_path / "ds", act_dim=1, camera=False)
    path = tmp_path / "ds" / DATA_FILE
    table = pq.read_table(path)
    as_list = pa.FixedSizeListArray.from_arrays(table.column("action").combine_chunks(), 1)
    pq.write_table(table.set_column(table.schema.get_field_index("action"), "action", as_list), path)
    np.testing.assert_array_equal(load_dataset(tmp_path / "ds").action, ours.action)


@pytest.mark.parametrize("index_name", [None, "task"], ids=["__index_level_0__ (LeRobot)", "named task (ours)"])
def test_tasks_parquet_with_the_tasks_as_pandas_index_loads(tmp_path, index_name):
    """Regression: LeRobot writes meta/tasks.parquet from a frame indexed by the task strings; an unnamed
    index is stored as the column __index_level_0__ ("has no column 'task'" before)."""
    pd = pytest.importorskip("pandas")
    make_dataset(tmp_path / "ds", act_dim=2, camera=False)
    frame = pd.DataFrame({"task_index": [0]}, index=pd.Index(["pick the cube"], name=index_name))
    frame.to_parquet(tmp_path / "ds/meta/tasks.parquet")
    expected = "__index_level_0__" if index_name is None else "task"
    assert expected in pq.read_schema(tmp_path / "ds/meta/tasks.parquet").names
    assert load_dataset(tmp_path / "ds").tasks == ["pick the cube"]


def test_hf_datasets_reads_the_episodes_metadata_with_video_placement(tmp_path):
    make_dataset(tmp_path / "ds", act_dim=2, camera=True)
    hf = datasets.Dataset.from_parquet(
        [str(p) for p in sorted((tmp_path / "ds/meta/episodes").glob("*/*.parquet"))],
        cache_dir=str(tmp_path / "hf"),
    )
    assert hf["length"] == [4, 6]
    assert hf[f"videos/{CAM}/from_timestamp"] == pytest.approx([0.0, 0.4])
    assert hf[f"videos/{CAM}/to_timestamp"] == pytest.approx([0.4, 1.0])
    assert np.asarray(hf[f"stats/{CAM}/mean"]).shape == (2, 3, 1, 1)
