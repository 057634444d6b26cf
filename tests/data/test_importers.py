"""`imitlab import`: diffusion_policy zarr replay buffers -> LeRobot-layout datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imitlab.data.importers import (
    READERS,
    camera_names,
    diffusion_policy_train_episodes,
    import_dataset,
    parse_key,
    read_episodes,
)
from imitlab.data.layout import DatasetError
from imitlab.data.reader import load_dataset

zarr = pytest.importorskip("zarr", reason="the zarr importer needs the optional extra: pip install 'imitlab[zarr]'")

PUSHT = Path(__file__).resolve().parents[3] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"
needs_pusht = pytest.mark.skipif(not PUSHT.is_dir(), reason=f"PushT demonstrations not found at {PUSHT}")


def write_store(path, arrays: dict, ends, meta=True):
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    data = root.create_group("data")
    for key, value in arrays.items():
        data.create_array(key, data=np.asarray(value))
    if meta:
        root.create_group("meta").create_array("episode_ends", data=np.asarray(ends, dtype=np.int64))
    return path


def smooth_frames(n: int, h: int = 16, w: int = 16) -> np.ndarray:
    """(n, h, w, 3) float32 integer-valued frames (a moving gradient: easy on a video codec)."""
    t, y, x = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    rgb = np.stack([(x * 8 + t * 4) % 256, (y * 8) % 256, np.full_like(x, 128)], axis=-1)
    return rgb.astype(np.float32)


@pytest.fixture
def image_store(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    arrays = {
        "state": rng.normal(size=(n, 3)).astype(np.float32),
        "action": rng.normal(size=(n, 2)).astype(np.float32),
        "img": smooth_frames(n),
    }
    return write_store(tmp_path / "img.zarr", arrays, ends=[4, 9, 12])


def test_image_key_becomes_a_camera_with_the_stores_frames(image_store, tmp_path):
    store = READERS["diffusion-policy-zarr"](image_store)
    episodes = read_episodes(store, ["state"], "action", image_keys={"img": "observation.images.img"})
    frames = np.concatenate([ep.images["observation.images.img"] for ep in episodes])
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, smooth_frames(12))
    ds = import_dataset(image_store, tmp_path / "out", image_keys=["img"])
    loaded = load_dataset(tmp_path / "out")
    assert ds.camera_keys == loaded.camera_keys == ["observation.images.img"]
    assert loaded.info["features"]["observation.images.img"]["shape"] == [16, 16, 3]
    decoded = loaded.frames("observation.images.img").astype(np.float64)
    assert decoded.shape == (12, 16, 16, 3) and np.abs(decoded - smooth_frames(12)).mean() < 8  # lossy video


def test_camera_name_is_given_or_the_envs_only_camera_or_the_key():
    assert camera_names(["img=top"], {}) == {"img": "observation.images.top"}
    assert camera_names(["img"], {}) == {"img": "observation.images.img"}
    assert camera_names(["img"], {"observation.images.top": (96, 96)}) == {"img": "observation.images.top"}
    assert camera_names(["a", "b"], {"observation.images.top": (96, 96)}) == {
        "a": "observation.images.a",
        "b": "observation.images.b",
    }
    with pytest.raises(ValueError, match="the same store key or camera twice"):
        camera_names(["a=top", "b=top"], {})


@pytest.mark.parametrize(
    "frames, message",
    [
        (smooth_frames(12) / 255, r"data/img: episode 0 holds values other than the integers 0-255"),
        (smooth_frames(12)[..., 0], r"data/img must hold RGB frames \(N, H, W, 3\), found shape \(N, 16, 16\)"),
    ],
)
def test_images_that_are_not_rgb_0_to_255_are_refused_naming_the_array(tmp_path, frames, message):
    path = write_store(
        tmp_path / "bad.zarr", {"state": np.zeros((12, 1)), "action": np.zeros((12, 1)), "img": frames}, [12]
    )
    with pytest.raises(DatasetError, match=message):
        import_dataset(path, tmp_path / "out", image_keys=["img"])
    assert not (tmp_path / "out").exists()


def test_frames_of_another_size_than_the_envs_camera_are_refused_before_reading(image_store, tmp_path):
    with pytest.raises(DatasetError, match=r"env 'two-path-pixels' renders observation.images.top at \(64, 64\)"):
        import_dataset(image_store, tmp_path / "out", env="two-path-pixels", obs_keys=["state[:2]"], image_keys=["img"])


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    return write_store(
        tmp_path / "s.zarr",
        {
            "state": rng.normal(size=(n, 3)).astype(np.float32),
            "keypoint": rng.normal(size=(n, 2, 2)).astype(np.float32),
            "action": rng.normal(size=(n, 2)).astype(np.float32),
        },
        ends=[4, 9, 12],
    )


def test_import_splits_episodes_at_episode_ends_and_keeps_values(store, tmp_path):
    ds = import_dataset(store, tmp_path / "out", obs_keys=["state"], action_key="action", fps=10)
    src = zarr.open_group(str(store), mode="r")
    assert ds.episode_lengths.tolist() == [4, 5, 3]
    loaded = load_dataset(tmp_path / "out")
    np.testing.assert_array_equal(loaded.observation, src["data/state"][:])
    np.testing.assert_array_equal(loaded.action, src["data/action"][:])
    assert loaded.fps == 10 and not loaded.success.any() and not loaded.reward.any()


def test_several_obs_keys_are_flattened_and_concatenated_in_order(store, tmp_path):
    ds = import_dataset(store, tmp_path / "out", obs_keys=["keypoint", "state"], action_key="action")
    src = zarr.open_group(str(store), mode="r")
    want = np.concatenate([src["data/keypoint"][:].reshape(12, 4), src["data/state"][:]], axis=1)
    np.testing.assert_array_equal(ds.observation, want)


def test_a_key_can_keep_a_range_of_its_columns(store, tmp_path):
    ds = import_dataset(store, tmp_path / "out", obs_keys=["keypoint", "state[:2]"], action_key="action")
    src = zarr.open_group(str(store), mode="r")
    want = np.concatenate([src["data/keypoint"][:].reshape(12, 4), src["data/state"][:, :2]], axis=1)
    np.testing.assert_array_equal(ds.observation, want)
    assert parse_key("state[1:]") == ("state", slice(1, None)) and parse_key("state") == ("state", slice(None))
    with pytest.raises(DatasetError, match=r"'state\[5:\]' selects no column .* \(3 columns\)"):
        import_dataset(store, tmp_path / "out2", obs_keys=["state[5:]"])
    with pytest.raises(ValueError, match=r"give KEY or KEY\[START:STOP\]"):
        parse_key("state[1]")


def test_episode_selection_imports_only_those_episodes(store, tmp_path):
    ds = import_dataset(store, tmp_path / "out", episodes=[2, 0])
    assert ds.episode_lengths.tolist() == [3, 4]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(meta=False), "needs groups 'data' and 'meta'"),
        (dict(ends=[4, 4, 12]), "episode 1 is empty or out of order"),
        (dict(ends=[4, 9, 11]), "ends at frame 11, but the data arrays hold 12 frames"),
    ],
)
def test_a_store_that_is_not_a_replay_buffer_is_refused_with_the_reason(tmp_path, change, message):
    arrays = {"state": np.zeros((12, 3), np.float32), "action": np.zeros((12, 2), np.float32)}
    src = write_store(tmp_path / "bad.zarr", arrays, ends=change.get("ends", [4, 9, 12]), meta=change.get("meta", True))
    with pytest.raises(DatasetError, match=message):
        import_dataset(src, tmp_path / "out")


def test_missing_key_non_finite_action_and_non_zarr_directory_name_the_problem(store, tmp_path):
    with pytest.raises(DatasetError, match=r"no data/obs for the observation \(found: action, keypoint, state\)"):
        import_dataset(store, tmp_path / "out", obs_keys=["obs"])
    action = np.zeros((12, 2), np.float32)
    action[6, 1] = np.nan
    bad = write_store(tmp_path / "nan.zarr", {"state": np.zeros((12, 3), np.float32), "action": action}, [4, 9, 12])
    with pytest.raises(DatasetError, match="episode 1 has a non-finite action at step 2, dimension 1"):
        import_dataset(bad, tmp_path / "out")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match="is not a zarr store"):
        import_dataset(tmp_path / "plain", tmp_path / "out")


def test_train_split_holds_out_two_percent_then_draws_at_most_max_train():
    train = diffusion_policy_train_episodes(206, 90)
    assert len(train) == 90 and len(set(train.tolist())) == 90 and train.max() < 206
    val = np.random.default_rng(42).choice(206, size=4, replace=False)  # round(206 * 0.02) = 4 held out
    assert not set(val.tolist()) & set(train.tolist())
    np.testing.assert_array_equal(train, diffusion_policy_train_episodes(206, 90))  # deterministic
    assert len(diffusion_policy_train_episodes(206, None)) == 202


@needs_pusht
def test_pusht_import_round_trips_206_episodes_and_the_readme_statistics(tmp_path):
    import_dataset(PUSHT, tmp_path / "pusht", obs_keys=["state"], action_key="action", env="pusht", fps=10)
    ds = load_dataset(tmp_path / "pusht")
    assert ds.info["robot_type"] == "pusht" and ds.info["features"]["observation.state"]["names"][4] == "block_angle"
    assert (ds.num_episodes, ds.num_frames, ds.fps) == (206, 25650, 10)
    assert (ds.episode_lengths.min(), ds.episode_lengths.max()) == (49, 246)
    state, action = ds.stats["observation.state"], ds.stats["action"]
    np.testing.assert_allclose(state["min"][:2], [13.456424, 32.938293], rtol=1e-6)
    np.testing.assert_allclose(state["max"][:2], [496.14618, 510.9579], rtol=1e-6)
    np.testing.assert_array_equal(action["min"], [12, 25])
    np.testing.assert_array_equal(action["max"], [511, 511])
    src = zarr.open_group(str(PUSHT), mode="r")
    np.testing.assert_array_equal(ds.observation, src["data/state"][:])
    np.testing.assert_array_equal(ds.episode_ends, src["meta/episode_ends"][:])


@needs_pusht
def test_pusht_images_import_as_the_pixels_envs_camera(tmp_path):
    ds = import_dataset(
        PUSHT, tmp_path / "p", env="pusht-pixels", obs_keys=["state[:2]"], image_keys=["img"], episodes=[0, 1]
    )
    loaded = load_dataset(tmp_path / "p")
    assert loaded.camera_keys == ["observation.images.top"] and loaded.num_frames == ds.num_frames
    assert loaded.info["features"]["observation.images.top"]["shape"] == [96, 96, 3]
    recorded = zarr.open_group(str(PUSHT), mode="r")["data/img"][: ds.num_frames]
    decoded = loaded.frames("observation.images.top").astype(np.float64)
    assert np.abs(decoded - recorded).mean() < 2.0  # lossy video of the recorded frames (0-255)


@needs_pusht
@pytest.mark.slow
def test_pusht_import_with_images_gives_206_episodes_and_25650_frames_with_a_camera(tmp_path):
    from imitlab.cli import main

    main(["import", str(PUSHT), "--out", str(tmp_path / "p"), "--env", "pusht", "--image-key", "img"])
    ds = load_dataset(tmp_path / "p")
    assert (ds.num_episodes, ds.num_frames, ds.camera_keys) == (206, 25650, ["observation.images.img"])
    assert ds.frames("observation.images.img").shape == (25650, 96, 96, 3)


def test_cli_import_writes_the_dataset_and_reports_a_bad_store_without_traceback(store, tmp_path, capsys):
    from imitlab.cli import main

    main(["import", str(store), "--out", str(tmp_path / "out"), "--obs-key", "state", "--fps", "5"])
    assert "imported 3 episodes, 12 frames (obs_dim 3, act_dim 2)" in capsys.readouterr().out
    assert load_dataset(tmp_path / "out").fps == 5
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(tmp_path / "out"), "--out", str(tmp_path / "again")])
    assert exit_info.value.code == 2 and "is not a zarr store" in capsys.readouterr().err


def test_cli_image_key_names_the_camera_it_wrote(image_store, tmp_path, capsys):
    from imitlab.cli import main

    main(["import", str(image_store), "--out", str(tmp_path / "out"), "--image-key", "img=top"])
    assert "camera observation.images.top) to" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(image_store), "--out", str(tmp_path / "again"), "--image-key", "img="])
    assert exit_info.value.code == 2 and "give KEY or KEY=CAMERA" in capsys.readouterr().err


def test_a_store_declaring_1e11_rows_is_refused_before_anything_is_allocated(tmp_path):
    """A few-KB store whose arrays declare 10^11 rows (zarr allocates nothing until read)."""
    from imitlab.data.importers import import_dataset

    path = tmp_path / "bomb.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_group("data").create_array("state", shape=(10**11, 5), chunks=(1000, 5), dtype="float32")
    root["data"].create_array("action", shape=(10**11, 2), chunks=(1000, 2), dtype="float32")
    root.create_group("meta").create_array("episode_ends", data=np.array([10**11], dtype=np.int64))
    with pytest.raises(DatasetError, match=r"declares 100,000,000,000 rows: .* over imitlab's cap of 100,000,000"):
        import_dataset(path, tmp_path / "out", env="pendulum")
