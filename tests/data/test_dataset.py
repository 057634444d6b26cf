"""Datasets on disk: LeRobot v3.0 layout facts, round trip, atomic append, and actionable errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import random_episodes
from imitlab.core import atomic_dir as dsmod
from imitlab.data import writer
from imitlab.data.layout import DatasetError
from imitlab.data.model import Episode, EpisodeDataset, compute_stats
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes, write_dataset

DATA_FILE = "data/chunk-000/file-000.parquet"
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"
OBS_NAMES = ["theta", "omega", "x"]
ACT_NAMES = ["torque", "force"]
FEATURE_STATS = ["min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"]


def make_episodes(lengths, seed=0, obs_dim=3, act_dim=2):
    rng = np.random.default_rng(seed)
    return [
        Episode(
            observation=rng.normal(size=(t, obs_dim)).astype(np.float32),
            action=rng.normal(size=(t, act_dim)).astype(np.float32),
            reward=rng.normal(size=t).astype(np.float32),
            success=rng.random(t) > 0.5,
        )
        for t in lengths
    ]


def write(root, episodes, **kw):
    args = dict(fps=20, task="swing the pendulum up", obs_names=OBS_NAMES, action_names=ACT_NAMES)
    args.update(kw)
    return write_dataset(root, episodes, **args)


@pytest.fixture
def episodes():
    return make_episodes([5, 1, 7])


@pytest.fixture
def root(tmp_path, episodes):
    path = tmp_path / "demos"
    write(path, episodes)
    return path


def assert_episodes_equal(a: Episode, b: Episode):
    np.testing.assert_array_equal(a.observation, b.observation)
    np.testing.assert_array_equal(a.action, b.action)
    np.testing.assert_array_equal(a.reward, b.reward)
    np.testing.assert_array_equal(a.success, b.success)


def rewrite_parquet(path, change):
    """Rewrite a parquet file with ``change(table) -> table`` applied (to corrupt it on purpose)."""
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def replace_column(table, name, array):
    return table.set_column(table.schema.get_field_index(name), name, array)


# --- round trip and layout -------------------------------------------------------------------------------


def test_round_trip_load_equals_written_episodes(root, episodes):
    ds = load_dataset(root)
    assert ds.num_episodes == 3 and ds.num_frames == 13
    assert (ds.obs_dim, ds.act_dim, ds.fps, ds.task) == (3, 2, 20, "swing the pendulum up")
    for i, ep in enumerate(episodes):
        assert_episodes_equal(ds.episode(i), ep)
    np.testing.assert_array_equal(ds.episode_starts, [0, 5, 6])
    np.testing.assert_array_equal(ds.episode_ends, [5, 6, 13])
    np.testing.assert_array_equal(ds.episode_index, [0] * 5 + [1] + [2] * 7)
    assert ds.observation.dtype == np.float32 and ds.action.dtype == np.float32
    assert ds.reward.dtype == np.float32 and ds.success.dtype == np.bool_
    assert ds.episode_index.dtype == np.int64


def test_write_returns_the_dataset_as_loaded(tmp_path, episodes):
    written = write(tmp_path / "d", episodes)
    loaded = load_dataset(tmp_path / "d")
    assert written.root == loaded.root
    np.testing.assert_array_equal(written.observation, loaded.observation)
    assert written.info == loaded.info


def test_info_json_declares_the_v30_layout_and_every_feature(root):
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["robot_type"] == "sim"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 13, 1)
    assert (info["chunks_size"], info["data_files_size_in_mb"]) == (1000, 100)
    assert "video_files_size_in_mb" in info
    assert info["fps"] == 20 and isinstance(info["fps"], int)
    assert info["splits"] == {"train": "0:3"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] is None
    f = info["features"]
    assert f["observation.state"] == {"dtype": "float32", "shape": [3], "names": OBS_NAMES}
    assert f["action"] == {"dtype": "float32", "shape": [2], "names": ACT_NAMES}
    assert f["next.reward"] == {"dtype": "float32", "shape": [1], "names": None}
    assert f["next.done"]["dtype"] == "bool" and f["next.success"]["dtype"] == "bool"
    for key, dtype in [("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                       ("index", "int64"), ("task_index", "int64")]:  # fmt: skip
        assert f[key] == {"dtype": dtype, "shape": [1], "names": None}


def test_stats_json_holds_every_stat_computed_over_all_frames(root):
    stats = json.loads((root / "meta/stats.json").read_text())
    ds = load_dataset(root)
    for key in ["observation.state", "action", "next.reward"]:
        assert sorted(stats[key]) == sorted(FEATURE_STATS)
        assert stats[key]["count"] == [13]
    np.testing.assert_allclose(stats["observation.state"]["mean"], ds.observation.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats["action"]["std"], ds.action.std(0), rtol=1e-6)
    np.testing.assert_allclose(stats["next.reward"]["q50"], [np.median(ds.reward)], rtol=1e-6)
    assert len(stats["next.reward"]["min"]) == 1  # scalar features keep a (1,) shape, as in LeRobot
    for key in ["observation.state", "action"]:
        for stat in ["mean", "std", "min", "max"]:
            assert ds.stats[key][stat].shape == (ds.obs_dim if key == "observation.state" else ds.act_dim,)


def test_tasks_parquet_is_a_pandas_frame_indexed_by_task(root):
    table = pq.read_table(root / "meta/tasks.parquet")
    assert table.column("task").to_pylist() == ["swing the pendulum up"]
    assert table.column("task_index").to_pylist() == [0]
    assert table.schema.field("task_index").type == pa.int64()
    meta = json.loads(table.schema.metadata[b"pandas"])
    assert meta["index_columns"] == ["task"]
    assert [c["name"] for c in meta["columns"]] == ["task_index", "task"]


def test_tasks_parquet_reads_back_in_pandas_with_task_as_index(root):
    pd = pytest.importorskip("pandas")
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task"
    assert list(tasks.columns) == ["task_index"]
    assert int(tasks.loc["swing the pendulum up"].task_index) == 0


def test_episodes_parquet_lists_ranges_files_and_per_episode_stats(root, episodes):
    table = pq.read_table(root / EPISODES_FILE)
    cols = table.to_pydict()
    assert cols["episode_index"] == [0, 1, 2]
    assert cols["tasks"] == [["swing the pendulum up"]] * 3
    assert cols["length"] == [5, 1, 7]
    assert cols["dataset_from_index"] == [0, 5, 6] and cols["dataset_to_index"] == [5, 6, 13]
    for key in ["data/chunk_index", "data/file_index", "meta/episodes/chunk_index", "meta/episodes/file_index"]:
        assert cols[key] == [0, 0, 0]
    for feature in ["observation.state", "action", "next.reward"]:
        for stat in FEATURE_STATS:
            assert f"stats/{feature}/{stat}" in cols
    assert cols["stats/action/count"] == [[5], [1], [7]]
    np.testing.assert_allclose(cols["stats/observation.state/mean"][2], episodes[2].observation.mean(0), rtol=1e-6)


def test_data_parquet_has_lerobot_columns_and_one_row_group_per_episode(root, episodes):
    pf = pq.ParquetFile(root / DATA_FILE)
    assert pf.num_row_groups == 3
    assert [pf.metadata.row_group(i).num_rows for i in range(3)] == [5, 1, 7]
    schema = pf.schema_arrow
    assert schema.names == ["observation.state", "action", "next.reward", "next.done", "next.success",
                            "timestamp", "frame_index", "episode_index", "index", "task_index"]  # fmt: skip
    assert schema.field("observation.state").type.value_type == pa.float32()
    assert schema.field("action").type.value_type == pa.float32()
    assert schema.field("next.reward").type == pa.float32()
    assert schema.field("next.done").type == pa.bool_() and schema.field("next.success").type == pa.bool_()
    assert schema.field("timestamp").type == pa.float32()
    for key in ["frame_index", "episode_index", "index", "task_index"]:
        assert schema.field(key).type == pa.int64()
    cols = pf.read().to_pydict()
    assert cols["index"] == list(range(13))
    assert cols["frame_index"] == [0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 4, 5, 6]
    assert cols["next.done"] == [False] * 4 + [True] + [True] + [False] * 6 + [True]
    np.testing.assert_allclose(cols["timestamp"], np.array(cols["frame_index"]) / 20, rtol=1e-6)
    assert cols["observation.state"][6] == pytest.approx(episodes[2].observation[0].tolist())


def test_return_to_go_sums_rewards_to_the_episode_end(root):
    ds = load_dataset(root)
    for i in range(ds.num_episodes):
        r = ds.episode(i).reward.astype(np.float64)
        want = np.cumsum(r[::-1])[::-1]
        got = ds.return_to_go[ds.episode_starts[i] : ds.episode_ends[i]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ds.return_to_go.dtype == np.float32


def test_compute_stats_matches_numpy_and_lerobot_keys():
    x = np.random.default_rng(1).normal(size=(101, 4))
    s = compute_stats(x)
    assert sorted(s) == sorted(FEATURE_STATS)
    np.testing.assert_allclose(s["mean"], x.mean(0))
    np.testing.assert_allclose(s["std"], x.std(0))
    np.testing.assert_allclose(s["q10"], np.quantile(x, 0.1, axis=0))
    np.testing.assert_array_equal(s["count"], [101])
    assert compute_stats(np.arange(5.0))["max"].tolist() == [4.0]


# --- Episode validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(observation=np.zeros((3, 2)), action=np.zeros((2, 1)), reward=np.zeros(3), success=np.zeros(3, bool)),
         "same length"),
        (dict(observation=np.zeros(3), action=np.zeros((3, 1)), reward=np.zeros(3), success=np.zeros(3, bool)),
         "observation must be 2-D"),
        (dict(observation=np.zeros((0, 2)), action=np.zeros((0, 1)), reward=np.zeros(0), success=np.zeros(0, bool)),
         "empty"),
        (dict(observation=np.zeros((3, 2)), action=np.full((3, 1), np.nan), reward=np.zeros(3),
              success=np.zeros(3, bool)), "action has a non-finite"),
    ],
)  # fmt: skip
def test_episode_rejects_malformed_fields_with_a_clear_message(fields, message):
    with pytest.raises(ValueError, match=message):
        Episode(**fields)


def test_write_rejects_names_that_do_not_match_dimensions(tmp_path, episodes):
    with pytest.raises(ValueError, match="obs_names has 2 names"):
        write(tmp_path / "d", episodes, obs_names=["a", "b"])


# --- overwrite and append ------------------------------------------------------------------------------------


def test_write_refuses_to_overwrite_an_existing_dataset(root, episodes):
    with pytest.raises(DatasetError, match="already exists; pass overwrite=True"):
        write(root, make_episodes([2], seed=5))
    assert_episodes_equal(load_dataset(root).episode(0), episodes[0])


def test_write_with_overwrite_replaces_the_dataset(root):
    new = make_episodes([4], seed=9)
    write(root, new, overwrite=True)
    ds = load_dataset(root)
    assert ds.num_episodes == 1
    assert_episodes_equal(ds.episode(0), new[0])
    assert sorted(p.name for p in root.parent.iterdir()) == ["demos"]  # no temp or backup left


def test_append_continues_indices_and_keeps_old_data(root, episodes):
    new = make_episodes([3, 2], seed=7)
    appended = append_episodes(root, new)
    ds = load_dataset(root)
    assert ds.num_episodes == 5 and ds.num_frames == 18 == appended.num_frames
    for i, ep in enumerate(episodes + new):
        assert_episodes_equal(ds.episode(i), ep)
    data = pq.read_table(root / DATA_FILE).to_pydict()
    assert data["index"] == list(range(18))
    assert data["episode_index"][13:] == [3, 3, 3, 4, 4]
    assert pq.ParquetFile(root / DATA_FILE).num_row_groups == 5
    info = json.loads((root / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"], info["splits"]) == (5, 18, {"train": "0:5"})
    assert info["features"]["observation.state"]["names"] == OBS_NAMES
    assert json.loads((root / "meta/stats.json").read_text())["action"]["count"] == [18]
    assert pq.read_table(root / EPISODES_FILE).column("dataset_from_index").to_pylist() == [0, 5, 6, 13, 16]
    assert sorted(p.name for p in root.parent.iterdir()) == ["demos"]


def test_append_with_a_new_task_adds_it_to_tasks_parquet(root):
    append_episodes(root, make_episodes([2], seed=3), task="hold it up")
    ds = load_dataset(root)
    assert ds.tasks == ["swing the pendulum up", "hold it up"]
    np.testing.assert_array_equal(ds.task_index, [0] * 13 + [1] * 2)
    assert pq.read_table(root / EPISODES_FILE).column("tasks").to_pylist()[-1] == ["hold it up"]


def test_append_rejects_episodes_of_another_dimension(root):
    with pytest.raises(ValueError, match="obs_dim 4"):
        append_episodes(root, make_episodes([2], obs_dim=4))


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_crash_while_writing_the_new_version_leaves_the_old_dataset_unchanged(root, monkeypatch):
    before = _snapshot(root)

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(writer, "_write_tasks", crash)  # data + episodes files already written by then
    with pytest.raises(OSError, match="simulated"):
        append_episodes(root, make_episodes([4], seed=2))
    assert _snapshot(root) == before
    assert sorted(p.name for p in root.parent.iterdir()) == ["demos"]  # the partial temp dir is removed
    assert load_dataset(root).num_episodes == 3


def test_failed_swap_rolls_back_to_the_old_dataset(root, monkeypatch):
    before = _snapshot(root)
    real_rename, calls = dsmod._rename, []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old -> backup succeeded; new -> root fails
            raise OSError("rename failed (simulated)")
        real_rename(src, dst)

    monkeypatch.setattr(dsmod, "_rename", rename)
    with pytest.raises(OSError, match="simulated"):
        append_episodes(root, make_episodes([4], seed=2))
    assert _snapshot(root) == before


def test_crash_between_the_two_renames_is_recovered_by_load(root, episodes, monkeypatch):
    before = _snapshot(root)
    real_rename, calls = dsmod._rename, []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the process dies after old -> backup: no rollback code runs
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(dsmod, "_rename", rename)
    with pytest.raises(KeyboardInterrupt):
        append_episodes(root, make_episodes([4], seed=2))
    monkeypatch.setattr(dsmod, "_rename", real_rename)
    assert not root.exists()  # exactly the state a crash leaves
    ds = load_dataset(root)  # restores the complete old version
    assert _snapshot(root) == before
    assert ds.num_episodes == 3
    append_episodes(root, make_episodes([4], seed=2))
    assert load_dataset(root).num_episodes == 4


def test_stale_backup_after_a_completed_swap_is_ignored_and_cleaned(root, episodes):
    backup = root.parent / ".demos.backup"
    backup.mkdir()
    (backup / "junk").write_text("left by a crash after the swap")
    assert load_dataset(root).num_episodes == 3  # root is complete: the backup is not used
    append_episodes(root, make_episodes([1], seed=4))
    assert not backup.exists()


# --- errors on bad data on disk ----------------------------------------------------------------------------


def _raises(root, *patterns):
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    for pattern in patterns:
        assert re.search(pattern, str(err.value)), str(err.value)
    return str(err.value)


def test_missing_directory_is_a_dataset_error(tmp_path):
    _raises(tmp_path / "nowhere", "nowhere", "does not exist")


@pytest.mark.parametrize("rel", ["meta/info.json", "meta/stats.json", "meta/tasks.parquet", DATA_FILE, EPISODES_FILE])
def test_missing_file_is_named(root, rel):
    (root / rel).unlink()
    _raises(root, re.escape(str(root / rel)), "missing")


def test_missing_column_is_named_with_the_columns_found(root):
    rewrite_parquet(root / DATA_FILE, lambda t: t.drop_columns(["action"]))
    msg = _raises(root, re.escape(str(root / DATA_FILE)), "no column 'action'")
    assert "observation.state" in msg and "timestamp" in msg


def test_missing_episodes_column_is_named(root):
    rewrite_parquet(root / EPISODES_FILE, lambda t: t.drop_columns(["dataset_to_index"]))
    _raises(root, re.escape(str(root / EPISODES_FILE)), "no column 'dataset_to_index'")


def test_missing_feature_in_info_is_named(root):
    info = json.loads((root / "meta/info.json").read_text())
    del info["features"]["action"]
    (root / "meta/info.json").write_text(json.dumps(info))
    _raises(root, "meta/info.json", "no feature 'action'")


def test_list_length_different_from_declared_shape_is_named(root):
    def widen(t):
        obs = np.asarray(t.column("observation.state").to_pylist(), dtype=np.float32)
        wide = np.concatenate([obs, obs[:, :1]], axis=1)
        return replace_column(t, "observation.state", pa.FixedSizeListArray.from_arrays(pa.array(wide.ravel()), 4))

    rewrite_parquet(root / DATA_FILE, widen)
    _raises(root, re.escape(str(root / DATA_FILE)), "'observation.state'", "length 4", r"shape \[3\]")


def test_ragged_variable_length_list_is_named_with_its_row(root):
    def ragged(t):
        rows = t.column("action").to_pylist()
        rows[4] = rows[4][:1]
        return replace_column(t, "action", pa.array(rows, type=pa.list_(pa.float32())))

    rewrite_parquet(root / DATA_FILE, ragged)
    _raises(root, "'action' row 4", "length 1", r"shape \[2\]")


def test_variable_length_lists_of_the_right_length_are_accepted(root, episodes):
    rewrite_parquet(
        root / DATA_FILE,
        lambda t: replace_column(t, "action", pa.array(t.column("action").to_pylist(), type=pa.list_(pa.float32()))),
    )
    assert_episodes_equal(load_dataset(root).episode(2), episodes[2])


def test_nan_value_is_named_with_column_and_row(root):
    def poison(t):
        obs = np.asarray(t.column("observation.state").to_pylist(), dtype=np.float32)
        obs[7, 1] = np.nan
        return replace_column(t, "observation.state", pa.FixedSizeListArray.from_arrays(pa.array(obs.ravel()), 3))

    rewrite_parquet(root / DATA_FILE, poison)
    _raises(root, re.escape(str(root / DATA_FILE)), "'observation.state'", "non-finite", "row 7")


def test_inf_reward_is_named(root):
    def poison(t):
        r = np.asarray(t.column("next.reward").to_pylist(), dtype=np.float32)
        r[0] = np.inf
        return replace_column(t, "next.reward", pa.array(r))

    rewrite_parquet(root / DATA_FILE, poison)
    _raises(root, "'next.reward'", "non-finite", "row 0")


def test_empty_episode_is_named(root):
    def empty(t):
        return replace_column(t, "length", pa.array([5, 0, 7], pa.int64()))

    rewrite_parquet(root / EPISODES_FILE, empty)
    _raises(root, re.escape(str(root / EPISODES_FILE)), "'length'", "episode 1 is empty")


def test_inconsistent_global_index_is_named(root):
    rewrite_parquet(root / DATA_FILE, lambda t: replace_column(t, "index", pa.array(np.arange(13) * 2)))
    _raises(root, re.escape(str(root / DATA_FILE)), "'index'", "row 1", "found 2, expected 1")


def test_inconsistent_episode_index_is_named(root):
    ep = np.array([0] * 5 + [1] + [2] * 7)
    ep[5] = 2
    rewrite_parquet(root / DATA_FILE, lambda t: replace_column(t, "episode_index", pa.array(ep)))
    _raises(root, "'episode_index'", "row 5")


def test_row_count_disagreeing_with_episodes_is_named(root):
    rewrite_parquet(root / DATA_FILE, lambda t: t.slice(0, 12))
    _raises(root, re.escape(str(root / DATA_FILE)), "12 rows", "13 frames")


def test_info_total_frames_disagreeing_with_episodes_is_named(root):
    info = json.loads((root / "meta/info.json").read_text())
    info["total_frames"] = 99
    (root / "meta/info.json").write_text(json.dumps(info))
    _raises(root, "meta/info.json", "'total_frames' is 99")


def test_old_codebase_version_is_refused_with_a_hint(root):
    info = json.loads((root / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (root / "meta/info.json").write_text(json.dumps(info))
    _raises(root, "'v2.1'", "v3")


def test_stats_without_std_is_named(root):
    stats = json.loads((root / "meta/stats.json").read_text())
    del stats["action"]["std"]
    (root / "meta/stats.json").write_text(json.dumps(stats))
    _raises(root, "meta/stats.json", "'action' has no 'std'")


def test_corrupt_parquet_is_named(root):
    (root / DATA_FILE).write_bytes(b"not a parquet file")
    _raises(root, re.escape(str(root / DATA_FILE)), "parquet")


def test_in_memory_dataset_matches_the_written_one(root, episodes):
    mem = EpisodeDataset.from_episodes(
        episodes, fps=20, task="swing the pendulum up", obs_names=OBS_NAMES, action_names=ACT_NAMES
    )
    disk = load_dataset(root)
    assert mem.root is None
    np.testing.assert_array_equal(mem.action, disk.action)
    np.testing.assert_allclose(mem.stats["action"]["mean"], disk.stats["action"]["mean"])
    assert mem.info == disk.info


def test_temp_directory_left_by_a_crash_is_removed_by_the_next_write(root):
    stale = root.parent / ".demos.tmp-deadbeef"
    (stale / "data").mkdir(parents=True)
    append_episodes(root, make_episodes([2], seed=6))
    assert not stale.exists()
    assert load_dataset(root).num_episodes == 4


def test_overwrite_replaces_a_dataset_but_refuses_a_directory_that_is_not_one(tmp_path):
    from imitlab.core.errors import ImitlabError

    mine = tmp_path / "my-files"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ImitlabError, match="is not a dataset .*overwrite replaces only a dataset"):
        write_dataset(
            mine,
            random_episodes(),
            fps=10,
            task="t",
            obs_names=["a", "b", "c"],
            action_names=["u", "v"],
            overwrite=True,
        )
    assert (mine / "notes.txt").read_text() == "keep me"
    root = tmp_path / "data"
    write_dataset(root, random_episodes(), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    write_dataset(
        root, random_episodes(2), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"], overwrite=True
    )
    assert load_dataset(root).num_episodes == 2


@pytest.mark.parametrize("stat, value", [("std", -1000.0), ("min", 1e9)])
def test_stats_with_a_negative_std_or_a_min_above_the_max_are_refused(tmp_path, stat, value):
    root = tmp_path / "data"
    write_dataset(root, random_episodes(), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    stats_path = root / "meta" / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["action"][stat][0] = value
    stats_path.write_text(json.dumps(stats))
    with pytest.raises(DatasetError, match="has a negative std or a min above its max"):
        load_dataset(root)


def test_a_camera_declaring_4096_square_frames_is_refused_before_decoding(tmp_path, monkeypatch):
    """A small video of huge frames would build a multi-GB cache: the declared size is checked against a cap."""
    root = tmp_path / "data"
    write_dataset(root, random_episodes(), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"]["observation.images.top"] = {"dtype": "video", "shape": [4096, 4096, 3], "names": None}
    info_path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"declares 4096x4096 frames: 16,777,216 is over imitlab's cap of 4,194,304"):
        load_dataset(root)
