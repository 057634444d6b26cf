"""Datasets that LeRobot 0.4.4 itself wrote (tests/fixtures/lerobot_written, made by make_fixture.py there):
imitlab loads them, reads their camera, appends to them and trains on them."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from imitlab.data.model import Episode
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes
from imitlab.training.train import train_policy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lerobot_written"
CAM = "observation.images.top"
MAX_CODEC_ERROR = 8.0  # mean |decoded - recorded| in 0..255 at LeRobot's default crf 30


def _maker():
    spec = importlib.util.spec_from_file_location("make_fixture", FIXTURES / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


maker = _maker()


def recorded(key: str) -> np.ndarray:
    return np.stack([maker.fixture_frame(e, t)[key] for e, n in enumerate(maker.LENGTHS) for t in range(n)])


@pytest.fixture(params=["state_only", "with_camera"])
def copy(request, tmp_path):
    """A copy of the fixture (the frame cache is written beside a dataset, never into the repository)."""
    return Path(shutil.copytree(FIXTURES / request.param, tmp_path / request.param))


def test_lerobot_written_dataset_loads_with_its_values_and_tasks(copy):
    ds = load_dataset(copy)
    assert ds.episode_lengths.tolist() == list(maker.LENGTHS)
    assert ds.tasks == ["reach the goal"]  # tasks.parquet holds them as the pandas index __index_level_0__
    np.testing.assert_array_equal(ds.observation, recorded("observation.state"))
    np.testing.assert_array_equal(ds.action, recorded("action"))  # shape [1]: a scalar column in LeRobot's file
    assert ds.camera_keys == ([CAM] if copy.name == "with_camera" else [])


def test_lerobot_written_camera_decodes_to_the_recorded_frames(tmp_path):
    ds = load_dataset(shutil.copytree(FIXTURES / "with_camera", tmp_path / "with_camera"))
    frames = ds.frames(CAM)
    assert frames.shape == (sum(maker.LENGTHS), maker.H, maker.W, 3)
    assert np.abs(frames.astype(float) - recorded(CAM)).mean() < MAX_CODEC_ERROR
    assert len(ds.episode_image_stats[CAM]) == 2 and ds.stats[CAM]["mean"].shape == (3, 1, 1)


def test_appending_to_a_lerobot_written_dataset_keeps_its_files(copy):
    ds = load_dataset(copy)
    before = {p: p.read_bytes() for p in (copy / "videos").rglob("*.mp4")}
    rng = np.random.default_rng(0)
    images = {CAM: rng.integers(0, 256, size=(4, maker.H, maker.W, 3), dtype=np.uint8)} if ds.camera_keys else {}
    extra = Episode(rng.normal(size=(4, 2)), rng.normal(size=(4, 1)), np.zeros(4), np.zeros(4, bool), images=images)
    append_episodes(copy, [extra])
    after = load_dataset(copy)
    assert after.episode_lengths.tolist() == [*maker.LENGTHS, 4]
    assert all(path.read_bytes() == data for path, data in before.items())
    np.testing.assert_array_equal(after.observation[: ds.num_frames], ds.observation)


def test_imitlab_trains_on_a_lerobot_written_dataset(copy, tmp_path):
    train = {"steps": 6, "batch_size": 4, "save_every": 3, "log_every": 3, "warmup_steps": 1}
    # LeRobot's frames here are 32x48: the small encoder on the whole frame (the default crop is PushT's 84x84)
    fields = {"horizon": 4, "vision": {"backbone": "small", "crop_shape": None}}
    policy = train_policy("chunked-bc", copy, tmp_path / "run", fields, train, progress=False, device="cpu")
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert policy.config.obs_dim == 2 and policy.config.act_dim == 1
    assert policy.cameras == tuple(load_dataset(copy).camera_keys)  # a camera in the data is one the policy sees


@pytest.mark.parametrize(("name", "camera"), [("single_camera", "observation.image"), ("camera_only", CAM)])
def test_lerobots_single_camera_key_and_camera_only_data_train_through_the_cli_and_export(name, camera, tmp_path):
    """observation.image (LeRobot's PushT key) and a dataset without observation.state train as they come: the
    crop is fitted to the 32x48 frames, a camera-only policy conditions on its camera alone, and each exports."""
    import json

    import torch

    from imitlab.cli import main
    from imitlab.core import keys
    from imitlab.training.checkpoint import load_policy

    data = Path(shutil.copytree(FIXTURES / name, tmp_path / name))
    main(["train", "--policy", "chunked-bc", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "3"])
    policy = load_policy(tmp_path / "run").eval()
    config = json.loads((tmp_path / "run" / "config.json").read_text())["policy_config"]
    assert policy.cameras == (camera,) and config["vision"]["crop_shape"][0] <= maker.H
    assert policy.config.obs_dim == (0 if name == "camera_only" else 2)
    state = torch.zeros(2, 1, policy.config.obs_dim)
    frames = torch.as_tensor(recorded(CAM)[:2]).permute(0, 3, 1, 2).unsqueeze(1)  # (2, 1, 3, H, W) uint8
    eager = policy.predict_chunk({keys.OBS: state, camera: frames})
    assert eager.shape == (2, policy.config.horizon, 1) and torch.isfinite(eager).all()
    pytest.importorskip("onnxruntime")
    from imitlab.deploy.export import export_policy
    from imitlab.deploy.runtime import load

    deployed = load(export_policy(policy, tmp_path / "export").parent)
    exported = deployed.predict_chunk({keys.OBS: state.numpy(), camera: frames.numpy()}, np.random.default_rng(0))
    assert np.abs(exported - eager.numpy()).max() <= 1e-4


def test_a_lerobot_dataset_of_three_tasks_trains_one_policy_conditioned_on_each(tmp_path, capsys):
    import json

    from imitlab.cli import main

    data = Path(shutil.copytree(FIXTURES / "three_tasks", tmp_path / "three_tasks"))
    assert load_dataset(data).tasks == list(maker.TASKS)
    main(["train", "--policy", "bc", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "3"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["policy_config"]["tasks"] == list(maker.TASKS)
