import head_training
import pytest
import torch
from head_training import loss_with_padded_values, make_stats, random_batch, train_on_bimodal

from imitlab.policies import get_policy_class
from imitlab.policies.act import ACTConfig, ACTPolicy, kl_to_standard_normal

SMALL = dict(
    d_model=32,
    n_heads=2,
    dim_feedforward=64,
    latent_dim=8,
    n_vae_encoder_layers=1,
    n_encoder_layers=1,
    n_decoder_layers=1,
)


def small_policy(T_obs=2, H=4, obs_dim=3, act_dim=2, **overrides) -> ACTPolicy:
    return head_training.small_policy(ACTPolicy, T_obs, H, obs_dim, act_dim, **{**SMALL, **overrides})


def tanh_batch(B: int, T_obs: int, H: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A deterministic mapping: obs ~ N(0, I) (B, T_obs, 2); every step of the chunk is tanh(sum of the latest
    obs) (B, H, 1)."""
    obs = torch.randn(B, T_obs, 2, generator=generator)
    action = torch.tanh(obs[:, -1].sum(-1))[:, None, None].expand(B, H, 1).clone()
    return {"obs": obs, "action": action, "action_is_pad": torch.zeros(B, H, dtype=torch.bool)}


def test_registered_under_the_name_act():
    assert get_policy_class("act") is ACTPolicy


def test_defaults_follow_zhao_et_al_sized_for_cpu_with_the_latent_two_path_needed():
    """The paper's settings except the latent: kl_weight 0.1 and z from the prior (at its 10 and z = 0 every
    two-path rollout took one detour: docs/heads.md)."""
    c = ACTConfig(obs_dim=2, act_dim=2)
    assert (c.horizon, c.n_action_steps, c.action_norm, c.latent_dim, c.loss) == (16, 8, "mean_std", 32, "l1")
    assert (c.kl_weight, c.inference_z) == (0.1, "prior")
    assert (c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.dropout) == (128, 4, 2, 2, 0.1)
    assert ACTPolicy.train_defaults == {"lr": 3e-4, "batch_size": 64, "weight_decay": 1e-4}


@pytest.mark.parametrize("T_obs,H", [(1, 1), (1, 4), (2, 1), (2, 4)])
def test_predict_chunk_and_loss_shapes_for_any_history_and_horizon(T_obs, H):
    policy = small_policy(T_obs, H)
    batch = random_batch(5, T_obs, 3, H, 2)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and set(metrics) == {"l1", "kl"}
    chunk = policy.predict_chunk(batch["obs"], generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (5, H, 2)


@pytest.mark.parametrize("loss", ["l1", "l2"])
def test_loss_ignores_padded_steps(loss):
    policy = small_policy(H=6, loss=loss)
    batch = random_batch(8, 2, 3, 6, 2)
    assert batch["action_is_pad"].any()
    assert loss_with_padded_values(policy, batch, 0.0) == loss_with_padded_values(policy, batch, 50.0)


@pytest.mark.parametrize(
    "field,value",
    [
        ("latent_dim", 0),
        ("d_model", 30),
        ("n_encoder_layers", 0),
        ("n_decoder_layers", 0),
        ("n_vae_encoder_layers", 0),
        ("dropout", 1.0),
        ("kl_weight", -1.0),
        ("loss", "huber"),
        ("inference_z", "mean"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ACTConfig(obs_dim=2, act_dim=2, **{field: value})


def test_inference_with_z_zero_is_deterministic():
    policy = small_policy(inference_z="zero")
    obs = torch.randn(16, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(1))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with torch.no_grad():
        z0 = policy.decode(policy.obs_normalizer.normalize(obs).flatten(1), torch.zeros(16, 8))
    torch.testing.assert_close(a, policy.action_normalizer.unnormalize(z0))


def test_kl_is_zero_at_the_prior_and_matches_torch_distributions_elsewhere():
    zero = torch.zeros(4, 8)
    assert float(kl_to_standard_normal(zero, zero)) == 0.0
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4, 8), torch.ones(4, 8))
    expected = torch.distributions.kl_divergence(q, p).sum(-1).mean()  # summed over z, averaged over the batch
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), expected)


def test_loss_is_reconstruction_plus_kl_weight_times_kl():
    policy = small_policy(kl_weight=3.0)
    batch = random_batch(8, 2, 3, 4, 2)
    loss, metrics = policy.compute_loss(batch)
    assert float(loss.detach()) == pytest.approx(metrics["l1"] + 3.0 * metrics["kl"], rel=1e-5)


def test_learns_a_deterministic_mapping_with_z_zero_at_inference():
    stats = make_stats(2, 1)
    config = ACTConfig(
        obs_dim=2, act_dim=1, n_obs_steps=1, horizon=4, n_action_steps=1, kl_weight=10.0, inference_z="zero", **SMALL
    )
    torch.manual_seed(0)
    policy = ACTPolicy(config, stats).eval()
    test = tanh_batch(256, 1, 4, torch.Generator().manual_seed(99))
    before = float((policy.predict_chunk(test["obs"]) - test["action"]).abs().mean())
    train_on_bimodal(policy, steps=200, batch_size=32, lr=1e-3, task=tanh_batch)
    after = float((policy.predict_chunk(test["obs"]) - test["action"]).abs().mean())
    assert after < 0.1 and after < before / 4, f"mean |error| of the z = 0 chunk: {before:.3f} -> {after:.3f}"


def test_prior_inference_draws_z_from_the_generator():
    policy = small_policy(inference_z="prior")
    obs = torch.randn(16, 2, 3)
    a = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(1))
    b = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(1))
    c = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
