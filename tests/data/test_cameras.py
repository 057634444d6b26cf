"""Cameras in the data path: video features in the LeRobot v3 layout, the decoded frame cache, image history in
the sampler, image statistics, and every way a camera on disk can be broken."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from imitlab.core import atomic_dir as dsmod
from imitlab.core.diskspace import DiskFullError
from imitlab.data import frame_cache
from imitlab.data.layout import DatasetError
from imitlab.data.model import Episode, compute_image_stats, sample_indices
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
from imitlab.data.video import VideoEncoding, decode_frames, encode_frames
from imitlab.data.writer import append_episodes, write_dataset

CAM = "observation.images.top"
H, W = 32, 48
VIDEO_0 = f"videos/{CAM}/chunk-000/file-000.mp4"
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"
MAX_CODEC_ERROR = 8.0  # mean |decoded - recorded| in 0..255 for these smooth test frames at LeRobot's crf 30


def smooth_frames(t: int, seed: int) -> np.ndarray:
    """(t, H, W, 3) uint8 frames a lossy codec keeps closely: gradients that shift from frame to frame."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    y, x = np.mgrid[0:H, 0:W]
    frames = np.empty((t, H, W, 3), np.uint8)
    for i in range(t):
        for c in range(3):
            frames[i, :, :, c] = 127.5 + 100 * np.sin(x / 9.0 + y / 13.0 + phase[c] + 0.4 * i)
    return frames


def camera_episodes(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [
        Episode(
            observation=rng.normal(size=(t, 2)).astype(np.float32),
            action=rng.normal(size=(t, 1)).astype(np.float32),
            reward=np.zeros(t, np.float32),
            success=np.zeros(t, bool),
            images={CAM: smooth_frames(t, seed * 100 + i)},
        )
        for i, t in enumerate(lengths)
    ]


def write(root, episodes, **kw):
    return write_dataset(root, episodes, fps=10, task="push", obs_names=["x", "y"], action_names=["u"], **kw)


@pytest.fixture
def episodes():
    return camera_episodes([6, 3, 9])


@pytest.fixture
def root(tmp_path, episodes):
    path = tmp_path / "cams"
    write(path, episodes)
    return path


def recorded(episodes):
    return np.concatenate([ep.images[CAM] for ep in episodes])


def _raises(fn, *patterns):
    with pytest.raises(DatasetError) as err:
        fn()
    for pattern in patterns:
        assert re.search(pattern, str(err.value)), str(err.value)


# --- Episode validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "images, message",
    [
        ({CAM: np.zeros((4, 8, 8, 3), np.float32)}, "must be uint8"),
        ({CAM: np.zeros((4, 8, 8), np.uint8)}, r"shape \(T, H, W, 3\)"),
        ({CAM: np.zeros((3, 8, 8, 3), np.uint8)}, "has 3 frames but the episode has T = 4"),
        ({"top": np.zeros((4, 8, 8, 3), np.uint8)}, "observation.images.<camera>"),
    ],
)
def test_episode_rejects_malformed_images_naming_the_camera(images, message):
    with pytest.raises(ValueError, match=message):
        Episode(np.zeros((4, 2)), np.zeros((4, 1)), np.zeros(4), np.zeros(4, bool), images=images)


def test_write_rejects_episodes_with_different_cameras(tmp_path):
    a, b = camera_episodes([3, 3])
    b.images = {CAM: np.zeros((3, H + 2, W, 3), np.uint8)}
    with pytest.raises(ValueError, match="same cameras at the same size"):
        write(tmp_path / "x", [a, b])
    assert not (tmp_path / "x").exists()


# --- layout as LeRobot writes it ----------------------------------------------------------------------------


def test_video_feature_is_declared_as_lerobot_declares_it(root):
    info = json.loads((root / "meta/info.json").read_text())
    feature = info["features"][CAM]
    assert feature["dtype"] == "video"
    assert feature["shape"] == [H, W, 3]
    assert feature["names"] == ["height", "width", "channels"]
    assert feature["info"] == {
        "video.height": H,
        "video.width": W,
        "video.codec": "av1",
        "video.pix_fmt": "yuv420p",
        "video.is_depth_map": False,
        "video.fps": 10,
        "video.channels": 3,
        "has_audio": False,
    }
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert CAM not in pq.read_schema(root / "data/chunk-000/file-000.parquet").names  # videos live in mp4 only


def test_episodes_share_one_video_file_placed_by_timestamps(root):
    table = pq.read_table(root / EPISODES_FILE).to_pydict()
    assert table[f"videos/{CAM}/chunk_index"] == [0, 0, 0]
    assert table[f"videos/{CAM}/file_index"] == [0, 0, 0]
    assert table[f"videos/{CAM}/from_timestamp"] == pytest.approx([0.0, 0.6, 0.9])
    assert table[f"videos/{CAM}/to_timestamp"] == pytest.approx([0.6, 0.9, 1.8])
    assert sorted(p.relative_to(root).as_posix() for p in (root / "videos").rglob("*.mp4")) == [VIDEO_0]


def test_state_only_dataset_has_no_video_path(tmp_path):
    ep = camera_episodes([4])[0]
    ep.images = {}
    write(tmp_path / "s", [ep])
    info = json.loads((tmp_path / "s/meta/info.json").read_text())
    assert info["video_path"] is None and not (tmp_path / "s/videos").exists()


def test_libx264_is_an_encoding_option(tmp_path, episodes):
    write(tmp_path / "h264", episodes, video=VideoEncoding(codec="libx264"))
    info = json.loads((tmp_path / "h264/meta/info.json").read_text())
    assert info["features"][CAM]["info"]["video.codec"] == "h264"
    frames = load_dataset(tmp_path / "h264").frames(CAM)
    assert np.abs(frames.astype(float) - recorded(episodes)).mean() < MAX_CODEC_ERROR


# --- frames and the frame cache -----------------------------------------------------------------------------


def test_loaded_frames_are_the_recorded_ones_within_codec_error(root, episodes):
    ds = load_dataset(root)
    assert ds.camera_keys == [CAM]
    frames = ds.frames(CAM)
    assert isinstance(frames, np.memmap) and not frames.flags.writeable
    assert frames.shape == (18, H, W, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(float) - recorded(episodes)).mean() < MAX_CODEC_ERROR


def test_write_returns_frames_as_decoded_from_disk(tmp_path, episodes):
    written = write(tmp_path / "w", episodes)
    np.testing.assert_array_equal(written.frames(CAM), load_dataset(tmp_path / "w").frames(CAM))


def test_episode_returns_its_frames(root):
    ds = load_dataset(root)
    np.testing.assert_array_equal(ds.episode(1).images[CAM], ds.frames(CAM)[6:9])


def test_frame_cache_is_built_once_then_reused(root, monkeypatch):
    load_dataset(root).frames(CAM)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(frame_cache, "decode_frames", no_decoding)
    assert load_dataset(root).frames(CAM).shape[0] == 18


def test_frame_cache_is_rebuilt_when_a_video_changes(root, episodes):
    old = np.array(load_dataset(root).frames(CAM))
    inverted = [255 - ep.images[CAM] for ep in episodes]
    encode_frames(root / VIDEO_0, inverted, 10, VideoEncoding(), CAM)
    new = load_dataset(root).frames(CAM)
    assert np.abs(new.astype(float) - np.concatenate(inverted)).mean() < MAX_CODEC_ERROR
    assert np.abs(new.astype(float) - old).mean() > 50
    assert len(caches_of(root)) == 1  # the stale cache is removed


def caches_of(root) -> list:
    """The frame caches built for the dataset at ``root`` (the cache directory is shared by datasets)."""
    return [
        m.with_suffix(".npy")
        for m in frame_cache.cache_dir().glob("*.json")
        if json.loads(m.read_text())["dataset"] == str(root.resolve())
    ]


def test_frame_cache_goes_to_the_cache_dir_variable_when_set(root, tmp_path, monkeypatch):
    monkeypatch.setenv(frame_cache.CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    load_dataset(root).frames(CAM)
    assert len(list((tmp_path / "elsewhere").rglob("*.npy"))) == 1
    assert not (root / ".cache").exists()


def test_frames_decode_as_lerobot_finds_them_by_timestamp(root):
    """LeRobot decodes frame ``i`` of episode e at time from_timestamp + i / fps with a 1e-4 s tolerance
    (lerobot.datasets.video_utils.decode_video_frames_torchvision, PyAV backend)."""
    import av

    ds = load_dataset(root)
    seg = ds.video_segments[CAM]
    frames_by_time = {}
    with av.open(str(root / VIDEO_0)) as container:
        for frame in container.decode(video=0):
            frames_by_time[frame.time] = frame.to_ndarray(format="rgb24")
    times = np.array(sorted(frames_by_time))
    for e in range(ds.num_episodes):
        for i in range(int(ds.episode_lengths[e])):
            query = seg["from_timestamp"][e] + i / ds.fps
            nearest = times[np.argmin(np.abs(times - query))]
            assert abs(nearest - query) < 1e-4
            np.testing.assert_array_equal(frames_by_time[nearest], ds.frames(CAM)[ds.episode_starts[e] + i])


# --- sampler ------------------------------------------------------------------------------------------------


def test_sampler_image_history_follows_the_state_boundary_rules(root):
    ds = load_dataset(root)
    sampler = ChunkSampler(ds, n_obs_steps=3, horizon=4)
    idx = np.array([0, 1, 6, 7, 17])
    batch = sampler.get(idx)
    images = batch[CAM]
    assert images.shape == (5, 3, 3, H, W) and images.dtype == torch.uint8
    frames = ds.frames(CAM)
    want_rows = [[0, 0, 0], [0, 0, 1], [6, 6, 6], [6, 6, 7], [15, 16, 17]]  # before an episode: its frame 0
    for b, rows in enumerate(want_rows):
        np.testing.assert_array_equal(images[b].numpy(), frames[rows].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(sampler.obs_index[idx], want_rows)


# --- statistics ---------------------------------------------------------------------------------------------


def test_image_stats_are_per_channel_in_unit_range_as_lerobot_stores_them(root):
    ds = load_dataset(root)
    stats = json.loads((root / "meta/stats.json").read_text())[CAM]
    for key in ("min", "max", "mean", "std", "q01", "q50", "q99"):
        assert np.asarray(stats[key]).shape == (3, 1, 1)
        assert 0.0 <= np.min(stats[key]) and np.max(stats[key]) <= 1.0
    assert stats["count"] == [18]  # every frame is sampled in episodes shorter than 100 frames
    ep_cols = pq.read_table(root / EPISODES_FILE).to_pydict()
    assert np.asarray(ep_cols[f"stats/{CAM}/mean"]).shape == (3, 3, 1, 1)
    np.testing.assert_allclose(ds.stats[CAM]["mean"], np.asarray(stats["mean"]))


def test_image_stats_of_one_episode_match_numpy_over_the_sample():
    frames = np.random.default_rng(0).integers(0, 256, size=(250, 4, 5, 3), dtype=np.uint8)
    idx = sample_indices(250)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 249  # LeRobot: max(100, 250 ** 0.75 = 62)
    s = compute_image_stats(frames)
    pixels = frames[idx].reshape(-1, 3) / 255.0
    np.testing.assert_allclose(s["mean"].ravel(), pixels.mean(0))
    np.testing.assert_allclose(s["std"].ravel(), pixels.std(0))
    np.testing.assert_allclose(s["max"].ravel(), pixels.max(0))


def test_image_stats_of_large_frames_use_a_strided_subsample_as_lerobot():
    frames = np.random.default_rng(1).integers(0, 256, size=(3, 320, 480, 3), dtype=np.uint8)
    s = compute_image_stats(frames)
    np.testing.assert_allclose(s["mean"].ravel(), (frames[:, ::3, ::3].reshape(-1, 3) / 255.0).mean(0))


def test_dataset_image_stats_pool_the_episodes(episodes, tmp_path):
    ds = write(tmp_path / "p", episodes)
    pixels = recorded(episodes).reshape(-1, 3) / 255.0  # every frame is in the sample here
    np.testing.assert_allclose(ds.stats[CAM]["mean"].ravel(), pixels.mean(0))
    np.testing.assert_allclose(ds.stats[CAM]["std"].ravel(), pixels.std(0))


# --- appending ----------------------------------------------------------------------------------------------


def test_append_adds_a_video_file_and_never_rewrites_the_old_one(root, episodes):
    old_bytes = (root / VIDEO_0).read_bytes()
    old_frames = np.array(load_dataset(root).frames(CAM))
    more = camera_episodes([5, 2], seed=7)
    ds = append_episodes(root, more)
    assert (root / VIDEO_0).read_bytes() == old_bytes
    assert (root / f"videos/{CAM}/chunk-000/file-001.mp4").is_file()
    loaded = load_dataset(root)
    assert loaded.num_episodes == 5 and loaded.frames(CAM).shape[0] == 25
    np.testing.assert_array_equal(loaded.frames(CAM)[:18], old_frames)
    assert np.abs(loaded.frames(CAM)[18:].astype(float) - recorded(more)).mean() < MAX_CODEC_ERROR
    np.testing.assert_array_equal(ds.frames(CAM), loaded.frames(CAM))
    seg = loaded.video_segments[CAM]
    assert seg["file_index"].tolist() == [0, 0, 0, 1, 1]
    assert seg["from_timestamp"].tolist() == pytest.approx([0.0, 0.6, 0.9, 0.0, 0.5])


def test_append_decodes_only_the_new_episodes_when_the_old_cache_exists(root, monkeypatch):
    old_frames = np.array(load_dataset(root).frames(CAM))
    decoded = []
    real = frame_cache.decode_frames

    def counting(path, fps):
        decoded.append(path.name)
        return real(path, fps)

    monkeypatch.setattr(frame_cache, "decode_frames", counting)
    append_episodes(root, camera_episodes([4], seed=8))
    frames = load_dataset(root).frames(CAM)
    assert decoded == ["file-001.mp4"]
    np.testing.assert_array_equal(frames[:18], old_frames)
    assert len(caches_of(root)) == 1


def test_append_keeps_old_episode_image_stats_and_pools_them_with_the_new(root, episodes):
    """Image stats come from the recorded frames (as LeRobot computes them before encoding); appending reads
    the old episodes' stats from meta/episodes instead of decoding their videos."""
    old = load_dataset(root).episode_image_stats[CAM]
    more = camera_episodes([5], seed=3)
    append_episodes(root, more)
    loaded = load_dataset(root)
    per_episode = loaded.episode_image_stats[CAM]
    for a, b in zip(per_episode[:3], old):
        np.testing.assert_array_equal(a["mean"], b["mean"])
    np.testing.assert_allclose(per_episode[3]["mean"], compute_image_stats(more[0].images[CAM])["mean"])
    pixels = np.concatenate([recorded(episodes), recorded(more)]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(loaded.stats[CAM]["mean"].ravel(), pixels.mean(0))
    np.testing.assert_allclose(loaded.stats[CAM]["std"].ravel(), pixels.std(0))
    np.testing.assert_allclose(loaded.stats[CAM]["min"].ravel(), pixels.min(0))
    assert loaded.stats[CAM]["count"].tolist() == [23]


def test_crash_during_append_keeps_the_old_video_bytes(root, monkeypatch):
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts}
    real_rename, calls = dsmod._rename, []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old -> backup done, new -> root fails
            raise OSError("rename failed (simulated)")
        real_rename(src, dst)

    monkeypatch.setattr(dsmod, "_rename", rename)
    with pytest.raises(OSError, match="simulated"):
        append_episodes(root, camera_episodes([4], seed=5))
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts}
    assert after == before
    assert load_dataset(root).num_episodes == 3


def test_append_to_a_dataset_with_another_video_path_template_moves_its_videos_to_ours(root):
    info = json.loads((root / "meta/info.json").read_text())
    info["video_path"] = "clips/{video_key}/{chunk_index}-{file_index}.mp4"
    (root / "meta/info.json").write_text(json.dumps(info))
    (root / f"clips/{CAM}").mkdir(parents=True)
    (root / VIDEO_0).rename(root / f"clips/{CAM}/0-0.mp4")
    old_bytes = (root / f"clips/{CAM}/0-0.mp4").read_bytes()
    append_episodes(root, camera_episodes([2], seed=9))
    assert (root / VIDEO_0).read_bytes() == old_bytes
    assert load_dataset(root).frames(CAM).shape[0] == 20


def test_append_rejects_other_cameras_and_keeps_the_dataset(root):
    before = (root / "meta/info.json").read_text()
    ep = camera_episodes([3])[0]
    ep.images = {"observation.images.wrist": ep.images[CAM]}
    with pytest.raises(ValueError, match="same cameras"):
        append_episodes(root, [ep])
    assert (root / "meta/info.json").read_text() == before


# --- bad input ----------------------------------------------------------------------------------------------


def test_missing_video_is_named(root):
    (root / VIDEO_0).unlink()
    _raises(lambda: load_dataset(root), re.escape(str(root / VIDEO_0)), "missing")


def test_truncated_video_is_named(root):
    data = (root / VIDEO_0).read_bytes()
    (root / VIDEO_0).write_bytes(data[: len(data) // 2])

    def load_frames():
        load_dataset(root).frames(CAM)

    _raises(load_frames, re.escape(str(root / VIDEO_0)))


def test_video_with_fewer_frames_than_the_parquet_is_named(root, episodes):
    encode_frames(root / VIDEO_0, [recorded(episodes)[:10]], 10, VideoEncoding(), CAM)
    _raises(lambda: load_dataset(root), re.escape(str(root / VIDEO_0)), "10 frames", "episode 2")


def test_episode_span_disagreeing_with_its_length_is_named(root):
    table = pq.read_table(root / EPISODES_FILE)
    col = f"videos/{CAM}/to_timestamp"
    table = table.set_column(table.schema.get_field_index(col), col, pa.array([0.6, 0.9, 3.0]))
    pq.write_table(table, root / EPISODES_FILE)
    _raises(lambda: load_dataset(root), "to_timestamp", "episode 2", "length 9")


def test_camera_shape_disagreeing_with_info_is_named(root):
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][CAM]["shape"] = [H, W + 2, 3]
    (root / "meta/info.json").write_text(json.dumps(info))
    _raises(lambda: load_dataset(root), re.escape(str(root / VIDEO_0)), f"{H}x{W}", CAM)


def test_append_to_a_dataset_with_a_broken_video_is_refused_and_changes_nothing(root):
    encode_frames(root / VIDEO_0, [smooth_frames(5, 0)], 10, VideoEncoding(), CAM)  # fewer frames than the parquet
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    _raises(lambda: append_episodes(root, camera_episodes([3], seed=4)), re.escape(str(root / VIDEO_0)))
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in root.parent.iterdir()) == ["cams"]


def test_cli_names_a_truncated_video_and_exits_2(root, tmp_path, capsys):
    from imitlab.cli import main

    data = (root / VIDEO_0).read_bytes()
    (root / VIDEO_0).write_bytes(data[: len(data) // 3])
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--policy", "bc", "--data", str(root), "--out", str(tmp_path / "run"), "--steps", "2"])
    assert exit_.value.code == 2
    assert str(root / VIDEO_0) in capsys.readouterr().err


def test_missing_video_placement_column_is_named(root):
    table = pq.read_table(root / EPISODES_FILE)
    pq.write_table(table.drop_columns([f"videos/{CAM}/file_index"]), root / EPISODES_FILE)
    _raises(lambda: load_dataset(root), f"videos/{CAM}/file_index")


def test_unavailable_codec_is_named(tmp_path, episodes):
    with pytest.raises(DatasetError, match="not-a-codec"):
        write(tmp_path / "c", episodes, video=VideoEncoding(codec="not-a-codec"))
    assert not (tmp_path / "c").exists()


# --- dtype image (encoded images in the parquet) ------------------------------------------------------------


def test_image_dtype_camera_is_read_from_the_parquet(tmp_path):
    """A camera stored as LeRobot's dtype "image": PNG bytes in a {bytes, path} struct column."""
    from PIL import Image

    root = tmp_path / "img"
    ep = camera_episodes([4, 3])
    write(root, [Episode(e.observation, e.action, e.reward, e.success) for e in ep])
    frames = recorded(ep)
    cells = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG")
        cells.append({"bytes": buf.getvalue(), "path": None})
    data_file = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data_file)
    pq.write_table(table.append_column(CAM, pa.array(cells)), data_file)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][CAM] = {"dtype": "image", "shape": [H, W, 3], "names": ["height", "width", "channels"]}
    (root / "meta/info.json").write_text(json.dumps(info))
    ds = load_dataset(root)
    assert ds.camera_keys == [CAM]
    np.testing.assert_array_equal(ds.frames(CAM), frames)  # PNG is lossless


def test_image_dtype_camera_without_its_column_is_named(tmp_path):
    root = tmp_path / "img"
    write(root, [Episode(e.observation, e.action, e.reward, e.success) for e in camera_episodes([3])])
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][CAM] = {"dtype": "image", "shape": [H, W, 3], "names": ["height", "width", "channels"]}
    (root / "meta/info.json").write_text(json.dumps(info))
    _raises(lambda: load_dataset(root), "data/chunk-000/file-000.parquet has no column 'observation.images.top'")


def test_decode_frames_yields_each_frame_index_once(tmp_path):
    frames = smooth_frames(7, 0)
    encode_frames(tmp_path / "v.mp4", [frames[:3], frames[3:]], 10, VideoEncoding(), CAM)
    assert [i for i, _ in decode_frames(tmp_path / "v.mp4", 10)] == list(range(7))


# ---------------------------------------------------------------------------------------------------------------
# the cache lives outside the dataset and is checked on every open (docs/reliability.md)


def test_loading_frames_leaves_the_dataset_directory_as_lerobot_wrote_it(root):
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    load_dataset(root).frames(CAM)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before and not (root / ".cache").exists()


@pytest.mark.parametrize("damage", ["other pixels", "truncated", "garbage"])
def test_a_replaced_or_damaged_cache_is_rebuilt_and_said_never_trained_on(root, capsys, damage):
    cached = load_dataset(root).frames(CAM)
    frames, cache = np.array(cached), Path(cached.filename)
    if damage == "other pixels":
        np.save(cache, 255 - frames)  # a valid cache file of the right shape, with poisoned frames
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:1000])
    else:
        cache.write_bytes(b"not a numpy file")
    again = load_dataset(root).frames(CAM)
    np.testing.assert_array_equal(again, frames)
    err = capsys.readouterr().err
    assert f"frame cache {cache}" in err and "rebuilding it" in err


def test_a_cache_folder_that_links_out_of_the_cache_root_is_refused(root, tmp_path, monkeypatch):
    base = tmp_path / "cache-root"
    base.mkdir()
    (tmp_path / "outside").mkdir()
    (base / "frames").symlink_to(tmp_path / "outside")
    monkeypatch.setenv(frame_cache.CACHE_DIR_ENV, str(base))
    with pytest.raises(DatasetError, match="is a link out of"):
        load_dataset(root).frames(CAM)
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_full_disk_while_building_the_cache_is_one_error_naming_the_bytes(root, tmp_path, monkeypatch):
    monkeypatch.setenv(frame_cache.CACHE_DIR_ENV, str(tmp_path / "fresh-cache"))

    def full(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(frame_cache.os, "posix_fallocate", full)
    with pytest.raises(DiskFullError, match=r"for the frame cache .* it needs [\d,]+ bytes and [\d,]+ are free"):
        load_dataset(root).frames(CAM)
    assert not [p for p in frame_cache.cache_dir().glob(".*.tmp.npy")]


def test_a_video_placing_more_frames_than_the_cap_is_refused_before_decoding(root, monkeypatch):
    """The frames decoded from one file are what the episodes metadata places there (18 here), checked against a
    cap before any frame is decoded; the environment variable raises the cap."""
    monkeypatch.setattr(frame_cache, "decode_frames", lambda *a: pytest.fail("decoded a video over the frame cap"))
    monkeypatch.setenv("IMITLAB_MAX_VIDEO_FRAMES", "17")
    with pytest.raises(DatasetError, match=r"places 18 frames of camera .* over imitlab's cap of 17 \(set IMITLAB_MAX"):
        load_dataset(root)
    monkeypatch.setenv("IMITLAB_MAX_VIDEO_FRAMES", "18")
    assert load_dataset(root).num_frames == 18
