"""Acting from pixels: the chunk executor keeps each camera's history beside the state's, and a camera policy
goes from collection to evaluation through the CLI."""

from __future__ import annotations

import json

import numpy as np
import torch

from imitlab.cli import main
from imitlab.core import keys
from imitlab.envs.agents import wants_images
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.policies.base import Policy, PolicyConfig, create_policy

CAMERA = "observation.images.top"
PIXEL_VISION = {"backbone": "small", "crop_shape": None, "num_keypoints": 4, "feature_dim": 8}


class RecordingPolicy(Policy):
    """Returns zero chunks and keeps every observation it was given."""

    name = "recording"

    def __init__(self, config: PolicyConfig, stats):
        super().__init__(config, stats)
        self.seen: list = []

    def predict_chunk(self, obs, generator=None):
        self.seen.append(obs)
        return torch.zeros(len(obs[keys.OBS]), self.config.horizon, self.config.act_dim)


def stats(dim: int) -> dict:
    return {"mean": np.zeros(dim), "std": np.ones(dim), "min": -np.ones(dim), "max": np.ones(dim)}


def test_the_executor_keeps_an_image_history_that_repeats_the_first_frame_before_the_start():
    config = PolicyConfig(obs_dim=2, act_dim=1, n_obs_steps=2, image_shapes={CAMERA: (4, 4)}, vision=PIXEL_VISION)
    policy = RecordingPolicy(config, {"observation.state": stats(2), "action": stats(1)})
    executor = ChunkExecutor(policy)
    assert wants_images(executor)
    executor.reset(np.array([0, 1]))
    frames = [np.full((2, 4, 4, 3), step, dtype=np.uint8) for step in range(2)]
    for step, images in enumerate(frames):
        executor.observe_images({CAMERA: images})
        executor.act(np.full((2, 2), step, dtype=np.float32))
    first, second = (obs[CAMERA] for obs in policy.seen)
    assert first.shape == (2, 2, 3, 4, 4) and first.dtype == torch.uint8
    assert (first == 0).all()  # history before the start: the first frame twice
    assert (second[:, 0] == 0).all() and (second[:, 1] == 1).all()  # oldest first, newest last
    assert (policy.seen[1][keys.OBS][:, 1] == 1).all()


def test_a_state_only_policy_executor_does_not_ask_for_images():
    policy = create_policy("bc", {"observation.state": stats(2), "action": stats(1)}, obs_dim=2, act_dim=1)
    assert not wants_images(ChunkExecutor(policy))


def test_two_path_pixels_collect_train_and_evaluate_a_camera_policy_through_the_cli(tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    main(["collect", "--env", "two-path-pixels", "--episodes", "3", "--out", str(data)])
    vision = json.dumps({**PIXEL_VISION, "crop_shape": [56, 56]})
    main(
        ["train", "--policy", "bc", "--data", str(data), "--out", str(run), "--steps", "5", "--set", f"vision={vision}"]
    )
    config = json.loads((run / "config.json").read_text())["policy_config"]
    assert config["image_shapes"] == {CAMERA: [64, 64]}
    main(["eval", "--checkpoint", str(run), "--episodes", "2", "--json", str(tmp_path / "eval.json")])
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["episodes"] == 2
    assert "success" in capsys.readouterr().out
