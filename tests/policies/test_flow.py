import math

import head_training
import pytest
import torch
from head_training import (
    BIMODAL_STATS,
    bimodal_mode_fractions,
    loss_with_padded_values,
    random_batch,
    train_on_bimodal,
)
from torch import nn

from imitlab.core import keys
from imitlab.policies import get_policy_class
from imitlab.policies.flow import FlowConfig, FlowPolicy

SMALL = dict(down_dims=(16, 32, 64), time_embed_dim=16, d_model=32, n_heads=2, n_layers=1)


def small_policy(T_obs=2, H=4, obs_dim=3, act_dim=2, **overrides) -> FlowPolicy:
    return head_training.small_policy(FlowPolicy, T_obs, H, obs_dim, act_dim, **{**SMALL, **overrides})


def test_registered_under_the_name_flow():
    assert get_policy_class("flow") is FlowPolicy


@pytest.mark.parametrize("backbone", ["unet", "transformer"])
@pytest.mark.parametrize("T_obs,H", [(1, 1), (1, 2), (2, 3), (3, 4), (2, 16)])
def test_predict_chunk_and_loss_shapes_for_any_history_and_horizon(backbone, T_obs, H):
    policy = small_policy(T_obs, H, backbone=backbone, num_inference_steps=3)
    batch = random_batch(5, T_obs, 3, H, 2)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and "loss" in metrics
    chunk = policy.predict_chunk(batch[keys.OBS], generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (5, H, 2)


@pytest.mark.parametrize("backbone", ["unet", "transformer"])
@pytest.mark.parametrize("time_sampling", ["uniform", "beta"])
def test_loss_ignores_padded_steps(backbone, time_sampling):
    policy = small_policy(H=6, backbone=backbone, time_sampling=time_sampling)
    batch = random_batch(8, 2, 3, 6, 2)
    assert batch[keys.ACTION_IS_PAD].any()
    assert loss_with_padded_values(policy, batch, 0.0) == loss_with_padded_values(policy, batch, 50.0)


def test_beta_time_sampling_puts_more_weight_near_noise():
    policy = small_policy(time_sampling="beta")
    torch.manual_seed(0)
    t = policy._sample_time(100_000, torch.device("cpu"))
    assert float(t.min()) >= 0.0 and float(t.max()) <= 0.999
    assert float((t < 0.5).float().mean()) == pytest.approx(1 - 0.5**1.5, abs=0.01)  # P(u > 1/2), u~Beta(1.5,1)


@pytest.mark.parametrize("integrator", ["euler", "midpoint"])
def test_same_generator_seed_gives_same_samples(integrator):
    policy = small_policy(integrator=integrator, num_inference_steps=4)
    obs = torch.randn(6, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    c = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


class _PointMassVelocity(nn.Module):
    """The exact velocity when every demonstration is the normalised chunk c: v(x, t) = (c - x) / (1 - t)."""

    def __init__(self, c: float, time_scale: float):
        super().__init__()
        self.c, self.time_scale, self.calls = c, time_scale, 0

    def forward(self, x, time, cond):
        self.calls += 1
        t = (time / self.time_scale)[:, None, None]
        return (self.c - x) / (1 - t)


@pytest.mark.parametrize("integrator,steps,calls", [("euler", 1, 1), ("euler", 10, 10), ("midpoint", 5, 10)])
def test_integrating_the_exact_velocity_lands_on_the_demonstrated_chunk(integrator, steps, calls):
    policy = small_policy(integrator=integrator, num_inference_steps=steps)
    policy.velocity = _PointMassVelocity(c=0.5, time_scale=policy.config.time_scale)
    chunk = policy.predict_chunk(torch.randn(4, 2, 3), generator=torch.Generator().manual_seed(0))
    expected = policy.action_normalizer.unnormalize(torch.full((4, 4, 2), 0.5))
    torch.testing.assert_close(chunk, expected, atol=1e-5, rtol=0)
    assert policy.velocity.calls == calls


def test_midpoint_is_exact_for_a_linear_in_time_velocity_where_euler_is_not():
    """dx/dt = t integrates to x(1) = x(0) + 1/2; midpoint (2nd order) gets it exactly with one step."""

    class LinearInTime(nn.Module):
        def forward(self, x, time, cond):
            return (time / 1000.0)[:, None, None].expand_as(x)

    outs = {}
    for integrator in ("euler", "midpoint"):
        policy = small_policy(integrator=integrator, num_inference_steps=1, clip_sample=False)
        policy.velocity = LinearInTime()
        x0 = torch.randn((3, 4, 2), generator=torch.Generator().manual_seed(0))
        chunk = policy.predict_chunk(torch.zeros(3, 2, 3), generator=torch.Generator().manual_seed(0))
        outs[integrator] = policy.action_normalizer.normalize(chunk) - x0
    torch.testing.assert_close(outs["midpoint"], torch.full((3, 4, 2), 0.5))
    torch.testing.assert_close(outs["euler"], torch.zeros(3, 4, 2))


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(integrator="rk4"), "integrator"),
        (dict(time_sampling="logit"), "time_sampling"),
        (dict(num_inference_steps=0), "num_inference_steps"),
        (dict(action_norm="mean_std"), "min_max"),
    ],
)
def test_config_rejects_bad_values_with_a_message_naming_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(obs_dim=2, act_dim=2, **changes)


@pytest.mark.parametrize(
    "backbone,net",
    [
        ("unet", dict(down_dims=(16,), kernel_size=3, n_groups=4, time_embed_dim=16)),
        ("transformer", dict(d_model=32, n_heads=2, n_layers=1, dropout=0.0, time_embed_dim=16)),
    ],
)
def test_learns_both_modes_of_the_static_bimodal_toy(backbone, net):
    config = FlowConfig(obs_dim=1, act_dim=1, n_obs_steps=1, horizon=2, n_action_steps=1, backbone=backbone, **net)
    torch.manual_seed(0)
    policy = FlowPolicy(config, BIMODAL_STATS)
    losses, _ = train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
    assert math.isfinite(losses[-1])
    plus, minus, between = bimodal_mode_fractions(policy, n=200)
    assert plus >= 0.2 and minus >= 0.2, f"mode fractions +1: {plus:.2f}, -1: {minus:.2f}"
    assert between <= 0.1, f"{between:.2f} of samples fell between the modes"
