"""Policies that see cameras: every head conditions on [image features, state] through ``encode_observation``,
trains from the sampler's frames and acts from a dict observation; state-only policies and checkpoints written
before cameras existed are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from imitlab.core import keys
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.sampler import ChunkSampler
from imitlab.policies.base import create_policy, sample_chunks
from imitlab.training.checkpoint import load_policy, save_policy
from imitlab.training.train import camera_shapes

CAMERA = "observation.images.top"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "state_only_checkpoints"
PIXEL_VISION = {"backbone": "small", "crop_shape": (12, 12), "num_keypoints": 4, "feature_dim": 8}
# tiny networks per head; every head also gets T_obs = 2 and the camera
HEADS = {
    "bc": {"hidden_dim": 16, "num_layers": 1},
    "chunked-bc": {"hidden_dim": 16, "num_layers": 1, "horizon": 4, "n_action_steps": 2},
    "gmm": {"hidden_dim": 16, "num_layers": 1, "horizon": 4, "n_action_steps": 2, "n_components": 2},
    "diffusion": {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 8, "horizon": 4, "n_action_steps": 2},
    "flow": {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 8, "horizon": 4, "n_action_steps": 2},
    "act": {"d_model": 16, "n_heads": 2, "dim_feedforward": 32, "latent_dim": 4, "horizon": 4, "n_action_steps": 2},
    "tokenized": {"hidden_dim": 16, "num_layers": 1, "horizon": 4, "n_action_steps": 2, "n_bins": 8},
    "dt": {"d_model": 16, "n_heads": 2, "n_layers": 1},
}


def camera_dataset(episodes: int = 3, length: int = 10, size: int = 16) -> EpisodeDataset:
    rng = np.random.default_rng(0)
    return EpisodeDataset.from_episodes(
        [
            Episode(
                observation=rng.normal(size=(length, 3)),
                action=rng.normal(size=(length, 2)),
                reward=np.ones(length),
                success=np.arange(length) == length - 1,
                images={CAMERA: rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8)},
            )
            for _ in range(episodes)
        ],
        fps=10,
        task="toy",
    )


def camera_policy(name: str, dataset: EpisodeDataset, **fields):
    torch.manual_seed(0)
    return create_policy(
        name,
        dataset.stats,
        obs_dim=dataset.obs_dim,
        act_dim=dataset.act_dim,
        n_obs_steps=2,
        **{"image_shapes": camera_shapes(dataset), "vision": PIXEL_VISION, **HEADS[name], **fields},
    )


def training_batch(policy, dataset: EpisodeDataset, batch_size: int = 8) -> dict:
    sampler = ChunkSampler(dataset, policy.config.n_obs_steps, policy.config.horizon)
    batch = sampler.sample(batch_size, torch.Generator().manual_seed(0))
    batch[keys.OBS] = policy.observation(batch)
    return batch


@pytest.mark.parametrize("name", sorted(HEADS))
def test_every_head_trains_a_step_and_predicts_from_a_dict_observation_with_a_camera(name):
    dataset = camera_dataset()
    policy = camera_policy(name, dataset)
    assert policy.cond_dim == 2 * (3 + 8)  # T_obs x [8 image features, 3 state numbers]
    batch = training_batch(policy, dataset)
    before = {k: v.clone() for k, v in policy.image_encoders.state_dict().items()}
    loss, _ = policy.train().compute_loss(batch)
    loss.backward()
    torch.optim.SGD(policy.parameters(), lr=0.1).step()
    changed = [k for k, v in policy.image_encoders.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "the visual encoder got no gradient"
    extra = {}
    if name == "dt":
        extra = {"history_action": batch["history_action"], "history_return_to_go": batch["history_return_to_go"]}
    chunk = policy.eval().predict_chunk(batch[keys.OBS], generator=torch.Generator().manual_seed(0), **extra)
    assert chunk.shape == (8, policy.config.horizon, 2)
    assert torch.isfinite(chunk).all()


def test_a_camera_policy_refuses_a_state_tensor_and_names_the_keys_it_needs():
    dataset = camera_dataset()
    policy = camera_policy("bc", dataset)
    with pytest.raises(ValueError, match=CAMERA):
        policy.encode_observation(torch.zeros(1, 2, 3))


def test_image_crop_is_random_in_training_and_central_in_evaluation_through_the_policy():
    dataset = camera_dataset()
    policy = camera_policy("chunked-bc", dataset)
    obs = training_batch(policy, dataset, batch_size=4)[keys.OBS]
    policy.train()
    torch.manual_seed(1)
    first = policy.encode_observation(obs)
    torch.manual_seed(1)
    again = policy.encode_observation(obs)
    torch.manual_seed(2)
    other = policy.encode_observation(obs)
    assert torch.equal(first, again)  # reproducible from the (trainer-seeded) generator
    assert not torch.equal(first, other)  # and random across draws
    policy.eval()
    assert torch.equal(policy.encode_observation(obs), policy.encode_observation(obs))


def test_images_are_normalised_with_the_dataset_image_stats():
    dataset = camera_dataset()
    policy = camera_policy("bc", dataset)
    mean = np.asarray(dataset.stats[CAMERA]["mean"], np.float32)
    assert np.allclose(policy.image_normalizer.mean[0].numpy(), mean)
    frames = torch.full((1, 3, 16, 16), 255, dtype=torch.uint8)
    expected = (1.0 - torch.from_numpy(mean)) / torch.from_numpy(np.asarray(dataset.stats[CAMERA]["std"], np.float32))
    assert torch.allclose(policy.image_normalizer(frames, 0)[0, :, 0, 0], expected.flatten())


def test_one_encoder_per_camera_when_not_shared():
    dataset = camera_dataset()
    policy = camera_policy("bc", dataset, vision={**PIXEL_VISION, "shared": False})
    assert set(policy.image_encoders) == {"top"}
    shared = camera_policy("bc", dataset)
    assert set(shared.image_encoders) == {"shared"}


def test_a_camera_checkpoint_round_trips_its_config_and_acts_alone(tmp_path):
    dataset = camera_dataset()
    policy = camera_policy("diffusion", dataset)
    save_policy(tmp_path, policy, {"step": 0})
    written = json.loads((tmp_path / "config.json").read_text())["policy_config"]
    assert written["image_shapes"] == {CAMERA: [16, 16]} and written["vision"]["backbone"] == "small"
    loaded = load_policy(tmp_path)
    assert loaded.config == policy.config
    obs = training_batch(policy, dataset, batch_size=2)[keys.OBS]
    assert torch.equal(sample_chunks(loaded, obs), sample_chunks(policy, obs))


def test_a_state_only_config_writes_no_camera_fields():
    policy = create_policy("bc", camera_dataset().stats, obs_dim=3, act_dim=2)
    assert "image_shapes" not in policy.config.to_dict() and "vision" not in policy.config.to_dict()
    assert policy.cond_dim == 3


def test_a_crop_larger_than_the_frames_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="crop_shape"):
        camera_policy("bc", camera_dataset(), vision={**PIXEL_VISION, "crop_shape": (84, 84)})


@pytest.mark.parametrize("name", ["diffusion", "chunked-bc"])
def test_a_state_only_checkpoint_written_before_cameras_loads_and_gives_the_same_chunk(name):
    expected = json.loads((FIXTURES / name / "expected_chunk.json").read_text())
    policy = load_policy(FIXTURES / name)
    assert not policy.cameras
    chunk = sample_chunks(policy, torch.tensor(expected["obs"]), seed=0)
    assert torch.allclose(chunk, torch.tensor(expected["chunk"]), atol=1e-6)


def test_a_state_only_policy_takes_the_dict_form_too():
    policy = create_policy("chunked-bc", camera_dataset().stats, obs_dim=3, act_dim=2, horizon=4, n_action_steps=2)
    obs = torch.randn(2, 1, 3)
    assert torch.equal(policy.encode_observation({keys.OBS: obs}), policy.encode_observation(obs))
