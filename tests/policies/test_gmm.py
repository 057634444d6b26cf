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
from torch import distributions as D

from imitlab.policies import get_policy_class
from imitlab.policies.gmm import GMMConfig, GMMPolicy


def small_policy(T_obs=2, H=4, obs_dim=3, act_dim=2, **overrides) -> GMMPolicy:
    return head_training.small_policy(GMMPolicy, T_obs, H, obs_dim, act_dim, **{"hidden_dim": 32, **overrides})


def test_registered_under_the_name_gmm():
    assert get_policy_class("gmm") is GMMPolicy


def test_trains_for_10000_steps_by_default_as_it_needed_on_two_path():
    assert GMMPolicy.train_defaults == {"steps": 10000}


@pytest.mark.parametrize("T_obs,H", [(1, 1), (1, 2), (2, 3), (3, 8)])
def test_predict_chunk_and_loss_shapes_for_any_history_and_horizon(T_obs, H):
    policy = small_policy(T_obs, H)
    batch = random_batch(5, T_obs, 3, H, 2)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and "nll" in metrics
    chunk = policy.predict_chunk(batch["obs"], generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (5, H, 2)


def test_mixture_weights_sum_to_one_and_log_stds_stay_in_range():
    policy = small_policy(min_log_std=-4.0, max_log_std=0.5)
    with torch.no_grad():
        log_w, mu, log_std = policy.mixture(torch.randn(7, 2, 3) * 100)
    assert mu.shape == log_std.shape == (7, 5, 4 * 2) and log_w.shape == (7, 5)
    torch.testing.assert_close(log_w.exp().sum(-1), torch.ones(7))
    assert float(log_std.min()) >= -4.0 and float(log_std.max()) <= 0.5


def test_loss_is_the_mixture_nll_per_action_number_of_torch_distributions():
    policy = small_policy()
    batch = random_batch(6, 2, 3, 4, 2)
    batch["action_is_pad"][:] = False
    log_w, mu, log_std = policy.mixture(batch["obs"])
    mixture = D.MixtureSameFamily(D.Categorical(logits=log_w), D.Independent(D.Normal(mu, log_std.exp()), 1))
    target = policy.action_normalizer.normalize(batch["action"]).flatten(1)
    expected = -(mixture.log_prob(target) / (4 * 2)).mean()
    torch.testing.assert_close(policy.compute_loss(batch)[0], expected)


def test_loss_ignores_padded_steps():
    policy = small_policy(H=6)
    batch = random_batch(8, 2, 3, 6, 2)
    assert batch["action_is_pad"].any()
    assert loss_with_padded_values(policy, batch, 0.0) == loss_with_padded_values(policy, batch, 50.0)


@pytest.mark.parametrize("sample_from_component", [False, True])
def test_same_generator_seed_gives_same_samples(sample_from_component):
    policy = small_policy(sample_from_component=sample_from_component)
    obs = torch.randn(64, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    c = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_mean_mode_returns_one_of_the_component_means():
    policy = small_policy()
    obs = torch.randn(10, 2, 3)
    with torch.no_grad():
        _, mu, _ = policy.mixture(obs)
    chunk = policy.action_normalizer.normalize(policy.predict_chunk(obs, torch.Generator().manual_seed(0)))
    distance = (mu - chunk.flatten(1)[:, None, :]).abs().amax(-1).amin(-1)  # (B,): to the nearest mean
    assert float(distance.max()) < 1e-5


def test_learns_both_modes_of_the_static_bimodal_toy():
    config = GMMConfig(obs_dim=1, act_dim=1, n_obs_steps=1, horizon=2, n_action_steps=1, hidden_dim=64)
    torch.manual_seed(0)
    policy = GMMPolicy(config, BIMODAL_STATS)
    losses, _ = train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
    assert math.isfinite(losses[-1])
    plus, minus, between = bimodal_mode_fractions(policy, n=200)
    assert plus >= 0.2 and minus >= 0.2, f"mode fractions +1: {plus:.2f}, -1: {minus:.2f}"
    assert between <= 0.1, f"{between:.2f} of samples fell between the modes"


def test_an_mse_regressor_on_the_same_toy_predicts_the_average_between_the_modes():
    """The contrast the generative heads exist for: chunked BC (masked MSE) averages +1 and -1 to ~0."""
    bc_class = get_policy_class("chunked-bc")
    config = bc_class.config_class(obs_dim=1, act_dim=1, n_obs_steps=1, horizon=2, n_action_steps=1, hidden_dim=64)
    torch.manual_seed(0)
    policy = bc_class(config, BIMODAL_STATS)
    train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
    plus, minus, between = bimodal_mode_fractions(policy, n=200)
    assert between == 1.0, f"MSE regression should never reach a mode, got +1: {plus:.2f}, -1: {minus:.2f}"
