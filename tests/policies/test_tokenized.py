import head_training
import numpy as np
import pytest
import torch
from head_training import (
    BIMODAL_STATS,
    bimodal_mode_fractions,
    loss_with_padded_values,
    random_batch,
    train_on_bimodal,
)

from imitlab.policies import get_policy_class
from imitlab.policies.tokenized import (
    TokenizedConfig,
    TokenizedPolicy,
    bin_width,
    from_tokens,
    quantization_error,
    to_tokens,
)

SMALL_AR = dict(autoregressive=True, d_model=16, n_heads=2, n_layers=1)
PARALLEL_ARGMAX = dict(autoregressive=False, temperature=0.0)


def small_policy(T_obs=2, H=4, obs_dim=3, act_dim=2, **overrides) -> TokenizedPolicy:
    """A small head, parallel and argmax unless ``overrides`` say otherwise."""
    fields = {"hidden_dim": 32, **PARALLEL_ARGMAX, **overrides}
    return head_training.small_policy(TokenizedPolicy, T_obs, H, obs_dim, act_dim, **fields)


def test_registered_under_the_name_tokenized():
    assert get_policy_class("tokenized") is TokenizedPolicy


def test_defaults_are_256_bins_over_the_min_max_range_decoded_one_token_at_a_time_and_sampled():
    """Autoregressive tokens at temperature 1, batch 128: the settings measured on two-path (docs/heads.md)."""
    c = TokenizedConfig(obs_dim=2, act_dim=2)
    assert (c.n_bins, c.action_norm, c.temperature, c.autoregressive) == (256, "min_max", 1.0, True)
    assert (c.horizon, c.n_action_steps, c.hidden_dim, c.num_layers) == (8, 4, 256, 2)
    assert TokenizedPolicy.train_defaults == {"batch_size": 128}


@pytest.mark.parametrize("autoregressive", [False, True])
@pytest.mark.parametrize("T_obs,H", [(1, 1), (1, 4), (2, 1), (2, 4)])
def test_predict_chunk_and_loss_shapes_for_any_history_and_horizon(autoregressive, T_obs, H):
    policy = small_policy(T_obs, H, **(SMALL_AR if autoregressive else {}))
    batch = random_batch(5, T_obs, 3, H, 2)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and "ce" in metrics
    chunk = policy.predict_chunk(batch["obs"], generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (5, H, 2)


@pytest.mark.parametrize("autoregressive", [False, True])
def test_loss_ignores_padded_steps(autoregressive):
    policy = small_policy(H=6, **(SMALL_AR if autoregressive else {}))
    batch = random_batch(8, 2, 3, 6, 2)
    assert batch["action_is_pad"].any()
    assert loss_with_padded_values(policy, batch, 0.0) == loss_with_padded_values(policy, batch, 50.0)


@pytest.mark.parametrize(
    "field,value",
    [
        ("n_bins", 1),
        ("temperature", -0.5),
        ("action_norm", "mean_std"),
        ("hidden_dim", 0),
        ("d_model", 30),
        ("dropout", 1.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TokenizedConfig(obs_dim=2, act_dim=2, **{field: value})


def test_tokens_cover_minus_one_to_one_in_uniform_bins_with_the_ends_clamped():
    a = torch.tensor([-5.0, -1.0, -0.999, 0.0, 0.999, 1.0, 5.0])
    torch.testing.assert_close(to_tokens(a, 4), torch.tensor([0, 0, 0, 2, 3, 3, 3]))
    torch.testing.assert_close(from_tokens(torch.arange(4), 4), torch.tensor([-0.75, -0.25, 0.25, 0.75]))


def test_bin_width_is_the_dataset_range_over_256():
    policy = small_policy()  # make_stats: actions span [-2, 2]
    np.testing.assert_allclose(bin_width(policy), [4.0 / 256, 4.0 / 256])


def test_bin_centre_round_trip_is_off_by_at_most_half_a_bin_width():
    policy = small_policy()
    actions = np.random.default_rng(0).uniform(-2.0, 2.0, size=(1000, 2)).astype(np.float32)
    norm, n_bins = policy.action_normalizer, policy.config.n_bins
    round_trip = norm.unnormalize(from_tokens(to_tokens(norm.normalize(torch.from_numpy(actions)), n_bins), n_bins))
    worst = np.abs(round_trip.numpy() - actions).max(axis=0)
    assert (worst <= bin_width(policy) / 2 + 1e-6).all(), f"worst error {worst}, bin width {bin_width(policy)}"
    # uniform actions fall uniformly within their bin: the mean error is about a quarter of a bin
    assert quantization_error(policy, actions) == pytest.approx(4.0 / 256 / 4, rel=0.1)


@pytest.mark.parametrize("autoregressive", [False, True])
def test_argmax_decoding_is_deterministic(autoregressive):
    policy = small_policy(**(SMALL_AR if autoregressive else {}))
    obs = torch.randn(16, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(1))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("autoregressive", [False, True])
def test_same_generator_seed_gives_same_samples_at_positive_temperature(autoregressive):
    policy = small_policy(temperature=1.0, **(SMALL_AR if autoregressive else {}))
    obs = torch.randn(16, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(7))
    c = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_samples_are_bin_centres():
    policy = small_policy(temperature=1.0)
    chunk = policy.action_normalizer.normalize(policy.predict_chunk(torch.randn(8, 2, 3), torch.Generator()))
    k = (chunk + 1) * 256 / 2 - 0.5  # integer bin index at a bin centre
    torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-3)


def test_learns_both_modes_of_the_static_bimodal_toy():
    config = TokenizedConfig(
        obs_dim=1,
        act_dim=1,
        n_obs_steps=1,
        horizon=1,
        n_action_steps=1,
        hidden_dim=64,
        temperature=1.0,
        autoregressive=False,
    )
    torch.manual_seed(0)
    policy = TokenizedPolicy(config, BIMODAL_STATS)
    train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
    plus, minus, between = bimodal_mode_fractions(policy, n=200)
    assert plus >= 0.2 and minus >= 0.2, f"mode fractions +1: {plus:.2f}, -1: {minus:.2f}"
    assert between <= 0.1, f"{between:.2f} of samples fell between the modes"


def test_parallel_tokens_mix_modes_within_a_chunk_where_autoregressive_tokens_do_not():
    """Independent per-step tokens pick +1 or -1 separately, so about half the 2-step chunks are half +1, half -1
    (mean 0); the autoregressive head sees its first token before choosing the second and keeps the chunk whole."""
    fractions = {}
    for autoregressive in (False, True):
        config = TokenizedConfig(
            obs_dim=1,
            act_dim=1,
            n_obs_steps=1,
            horizon=2,
            n_action_steps=1,
            hidden_dim=64,
            temperature=1.0,
            **dict(SMALL_AR, autoregressive=autoregressive),
        )
        torch.manual_seed(0)
        policy = TokenizedPolicy(config, BIMODAL_STATS)
        train_on_bimodal(policy, steps=200, batch_size=64, lr=3e-3)
        fractions[autoregressive] = bimodal_mode_fractions(policy, n=200)
    assert fractions[False][2] >= 0.3, f"parallel: +1, -1, between = {fractions[False]}"
    plus, minus, between = fractions[True]
    assert plus >= 0.2 and minus >= 0.2 and between <= 0.1, f"autoregressive: +1, -1, between = {fractions[True]}"
