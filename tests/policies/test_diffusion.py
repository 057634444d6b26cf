import math

import head_training
import pytest
import torch
from head_training import (
    BIMODAL_STATS,
    bimodal_mode_fractions,
    depth_batch,
    loss_with_padded_values,
    make_stats,
    random_batch,
    train_on_bimodal,
)
from torch import nn

from imitlab.core import keys
from imitlab.policies import get_policy_class
from imitlab.policies.denoisers import ConditionalUnet1D, hold_last_valid_action
from imitlab.policies.diffusion import DiffusionConfig, DiffusionPolicy

SMALL = dict(down_dims=(16, 32, 64), time_embed_dim=16, d_model=32, n_heads=2, n_layers=1)


def small_policy(T_obs=2, H=4, obs_dim=3, act_dim=2, **overrides) -> DiffusionPolicy:
    return head_training.small_policy(DiffusionPolicy, T_obs, H, obs_dim, act_dim, **{**SMALL, **overrides})


def test_registered_under_the_name_diffusion():
    assert get_policy_class("diffusion") is DiffusionPolicy


def test_defaults_follow_chi_et_al():
    c = DiffusionConfig(obs_dim=2, act_dim=2)
    assert (c.n_obs_steps, c.horizon, c.n_action_steps, c.action_norm) == (2, 16, 8, "min_max")
    assert (c.num_train_steps, c.beta_schedule, c.sampler) == (100, "squared_cosine", "ddim")


@pytest.mark.parametrize("backbone", ["unet", "transformer"])
@pytest.mark.parametrize("T_obs,H", [(1, 1), (1, 2), (2, 3), (3, 4), (2, 16)])
def test_predict_chunk_and_loss_shapes_for_any_history_and_horizon(backbone, T_obs, H):
    policy = small_policy(T_obs, H, backbone=backbone, num_inference_steps=3)
    batch = random_batch(5, T_obs, 3, H, 2)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and "loss" in metrics
    chunk = policy.predict_chunk(batch[keys.OBS], generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (5, H, 2)


@pytest.mark.parametrize("H", [1, 2, 3, 5, 8])
def test_unet_pads_the_temporal_axis_internally_and_cuts_back(H):
    net = ConditionalUnet1D(act_dim=2, cond_dim=4, down_dims=(8, 16, 32), kernel_size=3, n_groups=4)
    out = net(torch.randn(3, H, 2), torch.rand(3) * 100, torch.randn(3, 4))
    assert out.shape == (3, H, 2)


@pytest.mark.parametrize("backbone", ["unet", "transformer"])
def test_loss_ignores_padded_steps(backbone):
    policy = small_policy(H=6, backbone=backbone)
    batch = random_batch(8, 2, 3, 6, 2)
    assert batch[keys.ACTION_IS_PAD].any()
    assert loss_with_padded_values(policy, batch, 0.0) == loss_with_padded_values(policy, batch, 50.0)


def test_hold_last_valid_action_repeats_the_last_real_step_into_padding():
    action = torch.arange(5.0).view(1, 5, 1).repeat(2, 1, 1)
    is_pad = torch.tensor([[False, False, True, True, True], [False, False, False, False, False]])
    held = hold_last_valid_action(action, is_pad)
    assert held[0, :, 0].tolist() == [0, 1, 1, 1, 1]
    assert held[1, :, 0].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("sampler,eta", [("ddim", 0.0), ("ddim", 1.0), ("ddpm", 0.0)])
def test_same_generator_seed_gives_same_samples(sampler, eta):
    policy = small_policy(sampler=sampler, ddim_eta=eta, num_inference_steps=4)
    obs = torch.randn(6, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    c = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_samples_stay_inside_the_demonstrated_action_range():
    policy = small_policy(num_inference_steps=5)
    chunk = policy.predict_chunk(torch.randn(16, 2, 3) * 10, generator=torch.Generator().manual_seed(0))
    assert float(chunk.min()) >= -2.0 - 1e-5 and float(chunk.max()) <= 2.0 + 1e-5  # make_stats: [-2, 2]


class _PointMassEpsilon(nn.Module):
    """The exact epsilon when every demonstration is the same normalised chunk c."""

    def __init__(self, schedule, c: float):
        super().__init__()
        self.schedule, self.c = schedule, c

    def forward(self, x, time, cond):
        ab = self.schedule.alpha_bars[time.long()].to(x.dtype)[:, None, None]
        return (x - ab.sqrt() * self.c) / (1 - ab).sqrt()


@pytest.mark.parametrize("sampler,steps", [("ddim", 10), ("ddim", 100), ("ddpm", 100), ("ddpm", 7)])
def test_predict_chunk_with_the_exact_denoiser_returns_the_demonstrated_chunk(sampler, steps):
    policy = small_policy(sampler=sampler, num_inference_steps=steps)
    policy.denoiser = _PointMassEpsilon(policy.schedule, c=0.5)
    chunk = policy.predict_chunk(torch.randn(4, 2, 3), generator=torch.Generator().manual_seed(0))
    expected = policy.action_normalizer.unnormalize(torch.full((4, 4, 2), 0.5))  # 0.5 in [-2, 2] -> 1.0
    torch.testing.assert_close(chunk, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(num_inference_steps=101), "num_inference_steps"),
        (dict(sampler="euler"), "sampler"),
        (dict(backbone="mlp"), "backbone"),
        (dict(down_dims=(12, 24)), "n_groups"),
        (dict(action_norm="mean_std"), "min_max"),
        (dict(beta_schedule="cosine"), "beta_schedule"),
    ],
)
def test_config_rejects_bad_values_with_a_message_naming_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        DiffusionConfig(obs_dim=2, act_dim=2, **changes)


@pytest.mark.parametrize(
    "backbone,net",
    [
        ("unet", dict(down_dims=(16,), kernel_size=3, n_groups=4, time_embed_dim=16)),
        ("transformer", dict(d_model=32, n_heads=2, n_layers=1, dropout=0.0, time_embed_dim=16)),
    ],
)
def test_learns_both_modes_of_the_static_bimodal_toy(backbone, net):
    config = DiffusionConfig(obs_dim=1, act_dim=1, n_obs_steps=1, horizon=2, n_action_steps=1, backbone=backbone, **net)
    torch.manual_seed(0)
    policy = DiffusionPolicy(config, BIMODAL_STATS)
    losses, _ = train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
    assert math.isfinite(losses[-1])
    plus, minus, between = bimodal_mode_fractions(policy, n=200)
    assert plus >= 0.2 and minus >= 0.2, f"mode fractions +1: {plus:.2f}, -1: {minus:.2f}"
    assert between <= 0.1, f"{between:.2f} of samples fell between the modes"


def test_unet_conditioning_keeps_the_magnitude_of_negative_observations():
    config = DiffusionConfig(obs_dim=1, act_dim=1, n_obs_steps=1, horizon=4, n_action_steps=1, **SMALL)
    torch.manual_seed(0)
    policy = DiffusionPolicy(config, BIMODAL_STATS)
    train_on_bimodal(policy, steps=300, batch_size=64, lr=3e-3, task=depth_batch)
    obs = torch.tensor([-3.0, -2.5, -0.5, 0.0]).view(4, 1, 1).repeat_interleave(50, 0)
    mean = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(0)).view(4, -1).mean(1)
    assert (mean[:2] < -0.3).all() and (mean[2:] > 0.3).all(), f"mean sampled action per obs: {mean.tolist()}"


SMALL_NETS = {  # small networks for the heads that do not use the denoisers (SMALL)
    "gmm": dict(hidden_dim=16),
    "act": dict(d_model=16, n_heads=2, dim_feedforward=32, latent_dim=4),
    "tokenized": dict(hidden_dim=16, autoregressive=True, d_model=16, n_heads=2, n_layers=1, temperature=1.0),
}


@pytest.mark.parametrize("name", ["diffusion", "flow", "gmm", "act", "tokenized"])
def test_a_policy_rebuilt_from_json_config_and_safetensors_weights_samples_the_same(name, tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    cls = get_policy_class(name)
    net = SMALL_NETS.get(name, SMALL)
    config = cls.config_class(obs_dim=3, act_dim=2, n_obs_steps=2, horizon=4, n_action_steps=2, **net)
    policy = cls(config, make_stats(3, 2)).eval()
    save_file(policy.state_dict(), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))

    loaded_config = cls.config_class(**json.loads((tmp_path / "config.json").read_text()))
    assert loaded_config == config  # lists from JSON become tuples again
    zero_stats = make_stats(3, 2, low=0.0, high=1.0)  # overwritten by the buffers in the checkpoint
    loaded = cls(loaded_config, zero_stats)
    loaded.load_state_dict(load_file(tmp_path / "model.safetensors"))
    loaded.eval()
    obs = torch.randn(3, 2, 3)
    torch.testing.assert_close(
        loaded.predict_chunk(obs, torch.Generator().manual_seed(0)),
        policy.predict_chunk(obs, torch.Generator().manual_seed(0)),
    )
