"""Exported policies act like the eager ones: every head, every sampler, the same noise -> the same chunk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from imitlab.deploy.export import export_policy
from imitlab.deploy.runtime import load
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import placeholder_stats

OBS_DIM, ACT_DIM, T_OBS = 3, 2, 2

# (head, config fields): every head, and each sampling path of the iterative ones
CASES = [
    ("bc", {}),
    ("chunked-bc", {"horizon": 6}),
    ("gmm", {}),
    ("gmm", {"sample_from_component": True}),
    ("diffusion", {"horizon": 6}),
    ("diffusion", {"sampler": "ddpm", "horizon": 5}),
    ("diffusion", {"ddim_eta": 1.0, "backbone": "transformer", "horizon": 4}),
    ("diffusion", {"cond_dropout": 0.1, "guidance_scale": 2.0, "horizon": 8}),
    ("flow", {"horizon": 6}),
    ("flow", {"integrator": "midpoint", "backbone": "transformer", "horizon": 4}),
    ("flow", {"cond_dropout": 0.1, "guidance_scale": 1.5, "horizon": 8}),
    ("tokenized", {}),
    ("tokenized", {"temperature": 1.0}),
    ("tokenized", {"autoregressive": True, "temperature": 1.0, "horizon": 3}),
    ("act", {}),
    ("act", {"inference_z": "prior"}),
]


class TorchDraws:
    """The runtime's draws taken from a torch generator with torch's own samplers, in the order the eager heads
    draw: the runtime then sees exactly the eager policy's noise."""

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def normal(self, shape):
        return torch.randn(shape, generator=self.generator).numpy()

    def categorical(self, probs):
        return torch.multinomial(torch.from_numpy(np.ascontiguousarray(probs)), 1, generator=self.generator)[
            :, 0
        ].numpy()


def stats() -> dict:
    """Non-trivial normalisation, so un-normalising is part of what is compared."""
    s = placeholder_stats(OBS_DIM, ACT_DIM)
    s["observation.state"]["mean"] = np.array([0.3, -1.0, 2.0], np.float32)
    s["observation.state"]["std"] = np.array([0.5, 2.0, 1.0], np.float32)
    s["action"]["min"] = np.array([-2.0, 0.1], np.float32)
    s["action"]["max"] = np.array([2.0, 0.4], np.float32)
    s["action"]["std"] = np.array([1.5, 0.2], np.float32)
    return s


# small networks of every kind, so the whole parametrisation exports in seconds
SMALL = {
    "bc": {"hidden_dim": 32, "num_layers": 2},
    "chunked-bc": {"hidden_dim": 32, "num_layers": 2},
    "gmm": {"hidden_dim": 32, "n_components": 3},
    "diffusion": {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 16, "d_model": 32, "n_layers": 1},
    "flow": {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 16, "d_model": 32, "n_layers": 1},
    "tokenized": {"hidden_dim": 32, "n_bins": 16, "d_model": 32, "n_layers": 1},
    "act": {"d_model": 32, "dim_feedforward": 64, "latent_dim": 8, "n_encoder_layers": 1, "n_decoder_layers": 1},
}


def make_policy(name: str, fields: dict, dataset_stats: dict | None = None):
    torch.manual_seed(0)
    fields = {"n_action_steps": 1, **SMALL[name], **fields}
    return create_policy(
        name, dataset_stats or stats(), obs_dim=OBS_DIM, act_dim=ACT_DIM, n_obs_steps=T_OBS, **fields
    ).eval()


@pytest.mark.parametrize(
    "name, fields", CASES, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in f.items())}" for n, f in CASES]
)
def test_exported_chunks_match_eager_within_1e4_for_the_same_noise_at_any_batch(tmp_path, name, fields):
    policy = make_policy(name, fields)
    deployed = load(export_policy(policy, tmp_path / "export").parent)
    for batch in (1, 5):
        obs = torch.randn(batch, T_OBS, OBS_DIM, generator=torch.Generator().manual_seed(batch))
        eager = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7)).numpy()
        exported = deployed.predict_chunk(obs.numpy(), TorchDraws(7))
        assert exported.shape == eager.shape == (batch, policy.config.horizon, ACT_DIM)
        assert np.abs(exported - eager).max() <= 1e-4


TOP, WRIST = "observation.images.top", "observation.images.wrist"
PIXEL_VISION = {"backbone": "small", "crop_shape": (12, 12), "num_keypoints": 4, "feature_dim": 8}
# (head, config fields, vision fields): the heads that condition on cameras, one with an encoder per camera
CAMERA_CASES = [
    ("bc", {}, {}),
    ("diffusion", {"horizon": 6}, {}),
    ("flow", {"horizon": 6}, {"shared": False}),
    ("act", {"horizon": 4}, {"crop_shape": None}),
]


def camera_policy(name: str, fields: dict, vision: dict):
    """A small policy of head ``name`` that sees two 16x16 cameras, with image statistics of its own per camera."""
    s = stats()
    s[TOP] = {"mean": np.full((3, 1, 1), 0.4), "std": np.full((3, 1, 1), 0.2)}
    s[WRIST] = {"mean": np.array([0.5, 0.3, 0.6]).reshape(3, 1, 1), "std": np.full((3, 1, 1), 0.3)}
    cameras = {"image_shapes": {TOP: (16, 16), WRIST: (16, 16)}, "vision": {**PIXEL_VISION, **vision}}
    return make_policy(name, {**fields, **cameras}, s)


def camera_observation(batch: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(batch)
    frames = {
        key: torch.randint(0, 256, (batch, T_OBS, 3, 16, 16), generator=generator, dtype=torch.uint8)
        for key in (TOP, WRIST)
    }
    return {"observation.state": torch.randn(batch, T_OBS, OBS_DIM, generator=generator), **frames}


@pytest.mark.parametrize(
    "name, fields, vision",
    CAMERA_CASES,
    ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in {**f, **v}.items())}" for n, f, v in CAMERA_CASES],
)
def test_exported_camera_policy_chunks_match_eager_within_1e4_from_raw_frames_at_any_batch(
    tmp_path, name, fields, vision
):
    policy = camera_policy(name, fields, vision)
    deployed = load(export_policy(policy, tmp_path / "export").parent)
    assert (tmp_path / "export" / "encoder.onnx").is_file()
    for batch in (1, 5):
        obs = camera_observation(batch)
        eager = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7)).numpy()
        exported = deployed.predict_chunk({key: value.numpy() for key, value in obs.items()}, TorchDraws(7))
        assert exported.shape == eager.shape == (batch, policy.config.horizon, ACT_DIM)
        assert np.abs(exported - eager).max() <= 1e-4


def test_runtime_samples_are_reproducible_from_the_numpy_seed_and_differ_across_seeds(tmp_path):
    deployed = load(export_policy(make_policy("flow", {"horizon": 4}), tmp_path / "export").parent)
    obs = np.zeros((3, T_OBS, OBS_DIM), np.float32)
    first, again = (deployed.predict_chunk(obs, np.random.default_rng(0)) for _ in range(2))
    other = deployed.predict_chunk(obs, np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_numpy_categorical_draws_follow_the_probabilities():
    from imitlab.deploy.runtime import NumpyDraws

    probs = np.tile([0.2, 0.0, 0.5, 0.3], (20000, 1))
    counts = np.bincount(NumpyDraws(np.random.default_rng(0)).categorical(probs), minlength=4) / len(probs)
    np.testing.assert_allclose(counts, [0.2, 0.0, 0.5, 0.3], atol=0.01)


def test_export_leaves_the_callers_policy_in_eval_mode_on_its_device(tmp_path):
    policy = make_policy("act", {})
    export_policy(policy, tmp_path / "export")
    assert not any(m.training for m in policy.modules())


def test_the_runtime_imports_neither_torch_nor_the_policies():
    code = "import sys, imitlab.deploy.runtime; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('imitlab.policies')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
