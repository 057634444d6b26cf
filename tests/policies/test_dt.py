import pytest
import torch
from head_training import make_stats

from imitlab.core import keys
from imitlab.policies import get_policy_class
from imitlab.policies.dt import DecisionTransformerPolicy, DTConfig

SMALL = dict(d_model=32, n_heads=2, n_layers=1, dropout=0.0, return_scale=10.0)


def small_policy(K=4, obs_dim=3, act_dim=2, **overrides) -> DecisionTransformerPolicy:
    config = DTConfig(obs_dim=obs_dim, act_dim=act_dim, n_obs_steps=K, **{**SMALL, **overrides})
    torch.manual_seed(0)
    return DecisionTransformerPolicy(config, make_stats(obs_dim, act_dim)).eval()


def history_batch(B=6, K=4, obs_dim=3, act_dim=2, seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    action = torch.rand(B, K, act_dim, generator=g) * 2 - 1
    return {
        keys.OBS: torch.randn(B, K, obs_dim, generator=g),
        keys.ACTION: action[:, -1:].clone(),
        keys.ACTION_IS_PAD: torch.zeros(B, 1, dtype=torch.bool),
        keys.HISTORY_ACTION: action,
        keys.HISTORY_RETURN_TO_GO: torch.randn(B, K, generator=g) * 10,
        keys.HISTORY_IS_PAD: torch.arange(K)[None].expand(B, K) < torch.arange(B)[:, None] % K,
    }


def test_registered_under_the_name_dt_with_return_and_action_history():
    assert get_policy_class("dt") is DecisionTransformerPolicy
    assert set(DecisionTransformerPolicy.history_inputs) == {"history_action", "history_return_to_go"}


def test_an_action_prediction_never_sees_its_own_or_later_steps():
    policy, batch = small_policy(), history_batch()
    base = policy(batch[keys.OBS], batch[keys.HISTORY_ACTION], batch[keys.HISTORY_RETURN_TO_GO])
    changed_action = batch[keys.HISTORY_ACTION].clone()
    changed_action[:, 2:] += 5.0  # the action at step 2 and after
    changed_obs = batch[keys.OBS].clone()
    changed_obs[:, 3] += 5.0  # the state at step 3
    out = policy(changed_obs, changed_action, batch[keys.HISTORY_RETURN_TO_GO])
    torch.testing.assert_close(out[:, :3], base[:, :3])  # steps 0..2 predicted without a_2, s_3, a_3
    assert not torch.allclose(out[:, 3], base[:, 3])


def test_predict_chunk_gives_one_action_in_env_units_and_needs_the_histories():
    policy, batch = small_policy(), history_batch()
    chunk = policy.predict_chunk(
        batch[keys.OBS],
        history_action=batch[keys.HISTORY_ACTION],
        history_return_to_go=batch[keys.HISTORY_RETURN_TO_GO],
    )
    assert chunk.shape == (6, 1, 2) and chunk.abs().max() <= 2.0  # the action range of make_stats
    with pytest.raises(ValueError, match="return-conditioned"):
        policy.predict_chunk(batch[keys.OBS])


def test_loss_counts_only_history_steps_inside_the_episode():
    policy, batch = small_policy(), history_batch()
    only_last = dict(batch, history_is_pad=torch.tensor([[True, True, True, False]]).expand(6, 4))
    loss, _ = policy.compute_loss(only_last)
    predicted = policy(batch[keys.OBS], batch[keys.HISTORY_ACTION], batch[keys.HISTORY_RETURN_TO_GO])[:, -1]
    expected = ((predicted - policy.action_normalizer.normalize(batch[keys.HISTORY_ACTION][:, -1])) ** 2).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "field,value",
    [
        ("horizon", 2),
        ("action_norm", "mean_std"),
        ("return_scale", 0.0),
        ("d_model", 30),
        ("n_layers", 0),
        ("dropout", 1.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        DTConfig(obs_dim=2, act_dim=1, **{field: value})


def test_learns_to_act_on_the_prompted_return():
    """Same observations, two kinds of demonstrations: return-to-go +5 came with action +1, -5 with -1.
    After training, the prompt alone decides the action."""
    policy = small_policy(K=2, obs_dim=1, act_dim=1)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    policy.train()
    for _ in range(150):
        sign = torch.randint(0, 2, (64, 1), generator=g).float() * 2 - 1
        batch = {
            keys.OBS: torch.zeros(64, 2, 1),
            keys.ACTION: sign[:, None].clone(),
            keys.ACTION_IS_PAD: torch.zeros(64, 1, dtype=torch.bool),
            keys.HISTORY_ACTION: sign[:, None].expand(64, 2, 1).clone(),
            keys.HISTORY_RETURN_TO_GO: 5 * sign.expand(64, 2).clone(),
            keys.HISTORY_IS_PAD: torch.zeros(64, 2, dtype=torch.bool),
        }
        loss, _ = policy.compute_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.eval()
    prompt = torch.tensor([[5.0, 5.0], [-5.0, -5.0]])
    chunk = policy.predict_chunk(torch.zeros(2, 2, 1), history_action=torch.zeros(2, 2, 1), history_return_to_go=prompt)
    assert chunk[0, 0, 0] > 0.8 and chunk[1, 0, 0] < -0.8, chunk
