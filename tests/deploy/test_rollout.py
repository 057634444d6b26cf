"""``imitlab eval --backend onnx`` rolls out the exported policy through the same chunk executor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from imitlab.cli import main
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import placeholder_stats, save_policy

ENV_DIMS = {"two-path": (2, 2), "pendulum": (3, 1), "two-path-pixels": (2, 2)}


def make_run(root, env: str, name: str, **fields):
    """An (untrained) small policy saved as a run of ``env``: the rollout check needs only its weights fixed."""
    obs_dim, act_dim = ENV_DIMS[env]
    torch.manual_seed(0)
    policy = create_policy(name, placeholder_stats(obs_dim, act_dim), obs_dim=obs_dim, act_dim=act_dim, **fields)
    save_policy(root / f"{env}-{name}", policy, {"env": env})
    return root / f"{env}-{name}"


def evaluate_cli(run, out, *flags) -> dict:
    main(["eval", "--checkpoint", str(run), "--episodes", "6", "--json", str(out), *flags])
    return json.loads(out.read_text())


@pytest.mark.parametrize("env", ["two-path", "pendulum"])
def test_onnx_backend_rolls_out_the_same_episodes_as_torch_for_a_deterministic_head(tmp_path, env):
    run = make_run(tmp_path, env, "chunked-bc", horizon=4, n_action_steps=2, n_obs_steps=2, hidden_dim=32)
    eager = evaluate_cli(run, tmp_path / "torch.json")
    exported = evaluate_cli(run, tmp_path / "onnx.json", "--backend", "onnx")
    assert exported["seeds"] == eager["seeds"]
    assert exported["episode_success"] == eager["episode_success"]
    np.testing.assert_allclose(exported["episode_return"], eager["episode_return"], rtol=1e-4, atol=1e-4)


def test_onnx_backend_rolls_out_a_camera_policy_on_two_path_pixels_as_torch_does(tmp_path):
    vision = {"backbone": "small", "crop_shape": (56, 56), "num_keypoints": 4, "feature_dim": 8}
    cameras = {"image_shapes": {"observation.images.top": (64, 64)}, "vision": vision}
    run = make_run(tmp_path, "two-path-pixels", "chunked-bc", horizon=4, n_action_steps=2, n_obs_steps=2, **cameras)
    eager = evaluate_cli(run, tmp_path / "torch.json")
    exported = evaluate_cli(run, tmp_path / "onnx.json", "--backend", "onnx")
    assert exported["seeds"] == eager["seeds"]
    assert exported["episode_success"] == eager["episode_success"]
    np.testing.assert_allclose(exported["episode_return"], eager["episode_return"], rtol=1e-4, atol=1e-4)


def test_onnx_backend_rollouts_of_a_sampling_head_are_reproducible_from_the_eval_seed(tmp_path):
    small = {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 16, "num_inference_steps": 3}
    run = make_run(tmp_path, "two-path", "diffusion", horizon=4, n_action_steps=2, **small)
    first = evaluate_cli(run, tmp_path / "a.json", "--backend", "onnx")
    again = evaluate_cli(run, tmp_path / "b.json", "--backend", "onnx")
    assert first["episode_return"] == again["episode_return"]


def test_compile_is_refused_with_the_onnx_backend(tmp_path, capsys):
    run = make_run(tmp_path, "two-path", "bc", hidden_dim=16)
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli(run, tmp_path / "a.json", "--backend", "onnx", "--compile")
    assert exit_info.value.code == 2
    assert "UsageError: --compile applies to the torch backend only" in capsys.readouterr().err


def test_the_control_loop_of_docs_deploy_md_drives_a_gymnasium_env_with_the_runtime_alone(tmp_path):
    from imitlab.deploy.export import export_run
    from imitlab.deploy.runtime import load
    from imitlab.envs.registry import get_env_spec

    run = make_run(tmp_path, "two-path", "chunked-bc", horizon=4, n_action_steps=2, n_obs_steps=2, hidden_dim=16)
    export_run(run, tmp_path / "export")
    env = get_env_spec("two-path").make_single()
    obs, _ = env.reset(seed=0)
    # the loop as docs/deploy.md shows it, with the env standing in for the robot
    policy = load(tmp_path / "export", threads=2)
    rng, queue, history = np.random.default_rng(0), [], None
    for _ in range(10):
        frame = np.asarray(obs, np.float32)[None, None]  # (1, 1, obs_dim)
        history = (
            np.repeat(frame, policy.n_obs_steps, axis=1)
            if history is None
            else np.concatenate([history[:, 1:], frame], axis=1)
        )  # (1, T_obs, obs_dim), newest last
        if not queue:
            queue = list(policy.predict_chunk(history, rng)[0, : policy.config["n_action_steps"]])
        obs, *_ = env.step(queue.pop(0))
    assert history.shape == (1, 2, 2) and len(queue) == 0
