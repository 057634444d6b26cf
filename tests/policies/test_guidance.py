"""Classifier-free guidance of the diffusion and flow heads (DenoisingPolicy): the observed flag, the null
condition's training dropout and the guided combination."""

import pytest
import torch
from head_training import BIMODAL_STATS, depth_batch, make_stats, train_on_bimodal

from imitlab.policies import get_policy_class

HEADS = ["diffusion", "flow"]
SMALL = dict(down_dims=(16, 32, 64), time_embed_dim=16)


def policy_with(name, **fields):
    cls = get_policy_class(name)
    config = cls.config_class(obs_dim=3, act_dim=2, n_obs_steps=2, horizon=4, n_action_steps=2, **SMALL, **fields)
    torch.manual_seed(0)
    return cls(config, make_stats(3, 2)).eval()


@pytest.mark.parametrize("name", HEADS)
def test_guidance_needs_a_model_trained_with_condition_dropout(name):
    config_class = get_policy_class(name).config_class
    with pytest.raises(ValueError, match="cond_dropout > 0"):
        config_class(obs_dim=3, act_dim=2, guidance_scale=2.0)
    with pytest.raises(ValueError, match="cond_dropout must be in"):
        config_class(obs_dim=3, act_dim=2, cond_dropout=1.0)
    config_class(obs_dim=3, act_dim=2, cond_dropout=0.1, guidance_scale=0.0)  # unconditional sampling is allowed


@pytest.mark.parametrize("name", HEADS)
def test_a_model_trained_for_guidance_sees_an_observed_flag_after_the_observation(name):
    obs = torch.randn(4, 2, 3)
    plain, guided = policy_with(name), policy_with(name, cond_dropout=0.1)
    assert plain._condition(obs).shape == (4, 6)  # models without guidance keep their inputs and weights
    torch.testing.assert_close(guided._condition(obs), torch.cat([plain._condition(obs), torch.ones(4, 1)], dim=1))
    assert guided.predict_chunk(obs, generator=torch.Generator().manual_seed(0)).shape == (4, 4, 2)


@pytest.mark.parametrize("name", HEADS)
def test_training_replaces_the_condition_by_the_null_one_at_the_dropout_rate(name):
    policy = policy_with(name, cond_dropout=0.3)
    obs = torch.randn(4000, 2, 3)
    torch.manual_seed(1)
    cond = policy._training_condition(obs)
    dropped = cond[:, -1] == 0  # the observed flag
    assert 0.27 < dropped.float().mean() < 0.33
    assert (cond[dropped] == 0).all()  # the null condition: everything zero
    torch.testing.assert_close(cond[~dropped], policy._condition(obs)[~dropped])


@pytest.mark.parametrize("name", HEADS)
@pytest.mark.parametrize("w", [0.0, 1.0, 2.5])
def test_guided_output_is_the_null_output_plus_w_times_the_difference(name, w):
    policy = policy_with(name, cond_dropout=0.1, guidance_scale=w)
    calls = []

    def network(x, time, cond):  # an output that is the mean of the condition plus 1: 4 with it, 1 without
        calls.append(len(x))
        return x * 0 + cond.mean(dim=1)[:, None, None] + 1.0

    cond = torch.full((5, 7), 3.0)
    out = policy._guided_network(network, cond)(torch.zeros(5, 4, 2), torch.zeros(5))
    torch.testing.assert_close(out, torch.full((5, 4, 2), 1.0 + w * (4.0 - 1.0)))
    assert calls == ([5] if w == 1.0 else [10])  # one batched call for both branches


@pytest.mark.parametrize("name", HEADS)
def test_unguided_samples_follow_the_marginal_and_guided_ones_the_observation(name):
    """The depth task: the chunk is -0.5 for obs < -1.5 (3/8 of the data), else +0.5. With the observation the
    head answers -0.5 at obs -2.5; with the null condition (w = 0) it samples both modes of the marginal."""
    cls = get_policy_class(name)
    config = cls.config_class(
        obs_dim=1, act_dim=1, n_obs_steps=1, horizon=4, n_action_steps=1, cond_dropout=0.3, **SMALL
    )
    torch.manual_seed(0)
    policy = cls(config, BIMODAL_STATS)
    train_on_bimodal(policy, steps=400, batch_size=64, lr=3e-3, task=depth_batch)
    obs = torch.full((200, 1, 1), -2.5)

    def upper_fraction(w):
        policy.config = config.replace(guidance_scale=w)
        chunk = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(0))
        return float((chunk.mean(dim=(1, 2)) > 0).float().mean())

    assert upper_fraction(1.0) < 0.05
    assert upper_fraction(3.0) < 0.05
    assert 0.3 < upper_fraction(0.0) < 0.95
