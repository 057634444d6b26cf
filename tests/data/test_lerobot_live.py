"""The round trip against a real LeRobot install (slow: run by `make test-slow`). LeRobot cannot share this
environment (it pins its own torch and imports torchvision), so it runs in a side environment's Python:
``$IMITLAB_LEROBOT_PYTHON``, else .lerobot-venv/bin/python, made with

    make lerobot-env

Skipped, saying so, where neither exists."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_lerobot_interop import CAM, make_dataset

from imitlab.data.reader import load_dataset
from imitlab.training.train import train_policy

LEROBOT_PYTHON = Path(
    os.environ.get("IMITLAB_LEROBOT_PYTHON", Path(__file__).resolve().parents[2] / ".lerobot-venv/bin/python")
)
MAKE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lerobot_written" / "make_fixture.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LEROBOT_PYTHON.exists(), reason=f"no LeRobot side environment at {LEROBOT_PYTHON}"),
]

READ_WITH_LEROBOT = """
import json, sys
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, cam = sys.argv[1], sys.argv[2]
ds = LeRobotDataset("imitlab/live", root=root, video_backend="pyav")
out = {"num_frames": ds.num_frames, "num_episodes": ds.num_episodes, "features": sorted(ds.features),
       "cameras": ds.meta.camera_keys, "action": [np.asarray(ds[i]["action"]).tolist() for i in range(ds.num_frames)]}
if cam in ds.meta.camera_keys:
    out["frames"] = [(np.asarray(ds[i][cam]) * 255).round().astype(int).tolist() for i in range(ds.num_frames)]
    fps = ds.fps
    padded = LeRobotDataset("imitlab/live", root=root, video_backend="pyav",
                            delta_timestamps={cam: [-1 / fps, 0.0], "action": [0.0, 1 / fps, 2 / fps]})
    out["pad_last_of_episode_0"] = [padded[3]["action_is_pad"].tolist(), padded[3][cam + "_is_pad"].tolist()]
    out["pad_first_of_episode_1"] = [padded[4]["action_is_pad"].tolist(), padded[4][cam + "_is_pad"].tolist()]
print(json.dumps(out))
"""


def lerobot(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([str(LEROBOT_PYTHON), *map(str, args)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.parametrize("act_dim, camera", [(1, False), (2, True)], ids=["pendulum-like", "with a video camera"])
def test_lerobot_loads_what_we_write_frames_and_padding_included(tmp_path, act_dim, camera):
    ours = make_dataset(tmp_path / "ds", act_dim, camera)
    result = json.loads(lerobot("-c", READ_WITH_LEROBOT, tmp_path / "ds", CAM).stdout.strip().splitlines()[-1])
    assert result["num_frames"] == ours.num_frames and result["num_episodes"] == ours.num_episodes
    assert result["features"] == sorted(json.loads((tmp_path / "ds/meta/info.json").read_text())["features"])
    np.testing.assert_allclose(np.asarray(result["action"]).reshape(ours.action.shape), ours.action, rtol=1e-6)
    if camera:
        assert result["cameras"] == [CAM]
        theirs = np.asarray(result["frames"]).transpose(0, 2, 3, 1)  # LeRobot gives (3, H, W) in [0, 1]
        assert np.abs(theirs - ours.frames(CAM)).max() <= 1  # the same frames, up to float rounding
        # Episode 0 has 4 frames: its last frame's action chunk runs past the end; episode 1's first frame has
        # no history before it.
        assert result["pad_last_of_episode_0"] == [[False, True, True], [False, False]]
        assert result["pad_first_of_episode_1"] == [[False, False, False], [True, False]]


def test_imitlab_trains_on_what_lerobot_writes(tmp_path):
    lerobot(MAKE_FIXTURE, tmp_path)
    for name in ("state_only", "with_camera"):
        ds = load_dataset(tmp_path / name)
        assert ds.num_episodes == 2
        train = {"steps": 6, "batch_size": 4, "save_every": 3, "log_every": 3, "warmup_steps": 1}
        train_policy("chunked-bc", tmp_path / name, tmp_path / f"run-{name}", {"horizon": 4}, train, progress=False)
        assert (tmp_path / f"run-{name}" / "model.safetensors").is_file()


READ_TASKS_WITH_LEROBOT = """
import json, sys
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, cam = sys.argv[1], sys.argv[2]
ds = LeRobotDataset("imitlab/live", root=root, video_backend="pyav")
picks = [0, ds.num_frames // 2, ds.num_frames - 1]
print(json.dumps({"num_frames": ds.num_frames, "cameras": ds.meta.camera_keys,
                  "tasks": [ds[i]["task"] for i in range(ds.num_frames)],
                  "frames": {i: (np.asarray(ds[i][cam]) * 255).round().astype(int).tolist() for i in picks}}))
"""


def test_lerobot_loads_a_multi_task_meta_world_camera_dataset_we_collect(tmp_path):
    """Two Meta-World camera tasks collected into one dataset: LeRobot finds each frame's task string and decodes
    the corner2 frames we decode."""
    from imitlab.data.collect import collect
    from imitlab.envs.metaworld import CAMERA  # first: it picks MuJoCo's headless backend before MuJoCo loads

    pytest.importorskip("metaworld")

    ours = collect("metaworld/reach-pixels,metaworld/drawer-close-pixels", 1, tmp_path / "mw")
    result = json.loads(lerobot("-c", READ_TASKS_WITH_LEROBOT, tmp_path / "mw", CAMERA).stdout.strip().splitlines()[-1])
    assert result["num_frames"] == ours.num_frames and result["cameras"] == [CAMERA]
    assert result["tasks"] == [ours.tasks[t] for t in ours.task_index]
    frames = ours.frames(CAMERA)
    for index, theirs in result["frames"].items():
        assert np.abs(np.asarray(theirs).transpose(1, 2, 0) - frames[int(index)]).max() <= 1
