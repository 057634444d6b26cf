import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from imitlab.envs.registry import get_env_spec
from imitlab.policies.actor_critic import gaussian_entropy, gaussian_log_prob
from imitlab.policies.base import create_policy
from imitlab.rl.actor import actor_from_bc, make_actor
from imitlab.rl.config import PGConfig
from imitlab.rl.ppo import clipped_surrogate
from imitlab.rl.reinforce import pg_weights
from imitlab.rl.sampling import collect
from imitlab.training.checkpoint import load_policy, placeholder_stats
from imitlab.training.run_dir import read_metrics
from imitlab.training.train import train_policy


def gaussian_actor(**fields):
    return create_policy("actor-critic", placeholder_stats(3, 2), obs_dim=3, act_dim=2, **fields)


def test_gaussian_log_prob_and_entropy_match_scipy():
    u, mean, log_std = torch.tensor([[0.3, -1.2]]), torch.tensor([[0.1, 0.4]]), torch.tensor([[-0.5, 0.7]])
    expected = norm.logpdf([0.3, -1.2], loc=[0.1, 0.4], scale=np.exp([-0.5, 0.7])).sum()
    assert gaussian_log_prob(u, mean, log_std).item() == pytest.approx(expected, rel=1e-5)
    assert gaussian_entropy(log_std).item() == pytest.approx(norm.entropy(scale=np.exp([-0.5, 0.7])).sum(), rel=1e-5)


def test_sampled_gaussian_actions_carry_their_log_prob_and_map_to_env_units():
    stats = placeholder_stats(3, 1)
    stats["action"] = {
        "mean": np.zeros(1, np.float32),
        "std": np.full(1, 2.0, np.float32),
        "min": -np.ones(1, np.float32),
        "max": np.ones(1, np.float32),
    }
    policy = create_policy("actor-critic", stats, obs_dim=3, act_dim=1, init_log_std=-1.0)
    obs = torch.randn(6, 3)
    action, u, logp = policy.sample(obs, torch.Generator().manual_seed(0))
    torch.testing.assert_close(action, 2.0 * u)  # normalised units -> torque
    torch.testing.assert_close(policy.log_prob_entropy(obs, u)[0], logp)


def test_categorical_log_prob_and_entropy_match_torch_distributions():
    policy = create_policy(
        "actor-critic", placeholder_stats(4, 1), obs_dim=4, act_dim=1, distribution="categorical", n_actions=3
    )
    obs = torch.randn(5, 4)
    _, u, logp = policy.sample(obs, torch.Generator().manual_seed(0))
    dist = torch.distributions.Categorical(logits=policy.net(obs))
    torch.testing.assert_close(logp, dist.log_prob(u[:, 0].long()))
    torch.testing.assert_close(policy.log_prob_entropy(obs, u)[1], dist.entropy())
    assert set(u.unique().tolist()) <= {0.0, 1.0, 2.0}


def test_state_dependent_log_std_varies_with_the_observation_and_independent_does_not():
    dependent = gaussian_actor(log_std="state_dependent")
    torch.nn.init.normal_(dependent.log_std_head.weight)
    obs = torch.randn(4, 3)
    assert dependent._heads(obs)[1].std(0).min() > 0
    independent = gaussian_actor(init_log_std=-0.5)
    torch.testing.assert_close(independent._heads(obs)[1], torch.full((4, 2), -0.5))


def test_sampling_is_reproducible_with_a_seeded_generator():
    policy = gaussian_actor()
    obs = torch.randn(8, 3)
    first = policy.sample(obs, torch.Generator().manual_seed(3))[1]
    torch.testing.assert_close(policy.sample(obs, torch.Generator().manual_seed(3))[1], first)


def test_clipped_objective_has_no_gradient_once_the_ratio_leaves_the_trust_region_in_the_good_direction():
    old = torch.zeros(4)
    # ratios 1.5, 0.5, 1.5, 0.5 with advantages +1, +1, -1, -1 and eps 0.2
    logp = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5])).requires_grad_()
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss, clipfrac, kl = clipped_surrogate(logp, old, adv, 0.2)
    loss.backward()
    grad = logp.grad
    assert grad[0] == 0 and grad[3] == 0  # already improved past 1 ± eps: clipped, no push further
    assert grad[1] < 0 and grad[2] > 0  # got worse: the unclipped term still pulls back
    # min(r A, clip(r) A) = [1.2, 0.5, -1.5, -0.8]; the loss is minus its mean
    assert loss.item() == pytest.approx(-(1.2 + 0.5 - 1.5 - 0.8) / 4)
    assert clipfrac == 1.0 and kl > 0


def test_clipped_objective_equals_the_policy_gradient_loss_at_ratio_one():
    logp = torch.randn(10, requires_grad=True)
    adv = torch.randn(10)
    loss, _, kl = clipped_surrogate(logp, logp.detach(), adv, 0.2)
    loss.backward()
    torch.testing.assert_close(logp.grad, -adv / 10)
    assert kl == pytest.approx(0.0, abs=1e-7)


def test_plain_and_reward_to_go_weights_agree_at_the_first_step_and_baseline_subtracts_v():
    spec = get_env_spec("pendulum")
    policy = make_actor(spec, PGConfig())
    env = spec.make_vector(3)
    batch = collect(policy, env, np.arange(3), 20, torch.Generator().manual_seed(0))
    plain, rtg, base = (pg_weights(policy, batch, e, 0.9) for e in ("plain", "reward_to_go", "baseline"))
    np.testing.assert_allclose(plain[:, 0], rtg[:, 0], rtol=1e-5)
    np.testing.assert_allclose(plain[:, 5], plain[:, 0])  # the whole return at every step
    with torch.no_grad():
        value = policy.value(batch.obs.flatten(0, 1)).view(3, -1).numpy()
    np.testing.assert_allclose(base, rtg - value, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_bc_initialised_actor_acts_exactly_like_the_bc_run(small_dataset_dir, tmp_path, activation):
    bc = train_policy(
        "bc",
        small_dataset_dir,
        tmp_path / "bc",
        {"hidden_dim": 32, "num_layers": 2, "activation": activation},
        {"steps": 20, "batch_size": 16, "warmup_steps": 2},
        progress=False,
    )
    actor = actor_from_bc(tmp_path / "bc", PGConfig(normalize_obs=False), get_env_spec("pendulum"))
    assert actor.config.activation == activation
    obs = torch.randn(7, 1, 3) * 3
    torch.testing.assert_close(actor.predict_chunk(obs), bc.predict_chunk(obs))


def test_a_bc_initialised_ppo_run_uses_the_fine_tuning_defaults_and_refuses_discrete_actions(tmp_path):
    from imitlab.data.collect import collect as collect_demos
    from imitlab.rl import train_rl
    from imitlab.rl.ppo import PPO

    collect_demos("pendulum", 1, tmp_path / "data")
    train_policy(
        "bc",
        tmp_path / "data",
        tmp_path / "bc",
        {"hidden_dim": 16, "num_layers": 1},
        {"steps": 2, "batch_size": 8, "warmup_steps": 1},
        progress=False,
    )
    tiny = {"num_envs": 1, "update_epochs": 1, "eval_episodes": 1}
    for name, overrides in (("defaults", tiny), ("explicit", {**tiny, "actor_lr": 0.0, "critic_warmup": 1})):
        train_rl(
            "ppo",
            "pendulum",
            1,
            tmp_path / name,
            overrides=overrides,
            init_from=tmp_path / "bc",
            progress=False,
            final_eval_episodes=1,
        )
    saved = {
        name: json.loads((tmp_path / name / "config.json").read_text())["rl_config"]
        for name in ("defaults", "explicit")
    }
    assert {k: saved["defaults"][k] for k in PPO.init_defaults} == PPO.init_defaults
    assert (saved["explicit"]["actor_lr"], saved["explicit"]["critic_warmup"]) == (0.0, 1)
    assert saved["explicit"]["clamp_mean"] is True and saved["explicit"]["normalize_obs"] is False
    with pytest.raises(ValueError, match="cartpole has discrete actions"):
        actor_from_bc(tmp_path / "bc", PGConfig(normalize_obs=False), get_env_spec("cartpole"))


def test_clamped_mean_acts_inside_the_bounds_and_passes_gradients_through():
    stats = placeholder_stats(3, 1)
    stats["action"] = {"mean": np.zeros(1), "std": np.full(1, 0.5), "min": -np.ones(1), "max": np.ones(1)}
    policy = create_policy("actor-critic", stats, obs_dim=3, act_dim=1, mean_low=(-2.0,), mean_high=(2.0,))
    with torch.no_grad():
        policy.net[-1].bias.fill_(10.0)  # a mean of 5 env units, far beyond the bound 2
    assert policy.predict_chunk(torch.zeros(4, 1, 3)).flatten().tolist() == [2.0] * 4
    u = torch.full((4, 1), 3.0)  # 1.5 env units: below the clamped mean, so log pi grows as the mean falls
    logp, _ = policy.log_prob_entropy(torch.zeros(4, 3), u)
    logp.sum().backward()
    assert policy.net[-1].bias.grad.item() < 0  # the clamp did not cut the gradient
    assert make_actor(get_env_spec("pendulum"), PGConfig(clamp_mean=True)).config.mean_high == (2.0,)
    with pytest.raises(ValueError, match="discrete actions"):
        make_actor(get_env_spec("cartpole"), PGConfig(clamp_mean=True))


def test_ppo_gives_the_actor_and_its_log_std_their_own_learning_rates():
    from imitlab.rl.ppo import PPO, PPOConfig

    policy = make_actor(get_env_spec("pendulum"), PGConfig())
    learner = PPO(policy, PPOConfig(lr=1e-3, actor_lr=1e-4))
    actor, critic = learner.optimizer.param_groups
    assert (actor["lr"], critic["lr"]) == (1e-4, 1e-3)
    assert {id(p) for p in critic["params"]} == {id(p) for p in policy.value_net.parameters()}
    assert len(actor["params"]) + len(critic["params"]) == len(list(policy.parameters()))
    actor, critic, log_std = PPO(policy, PPOConfig(lr=1e-3, actor_lr=1e-4, log_std_lr=1e-2)).optimizer.param_groups
    assert (actor["lr"], critic["lr"], log_std["lr"]) == (1e-4, 1e-3, 1e-2)
    assert [id(p) for p in log_std["params"]] == [id(policy.log_std)]
    assert not {id(p) for p in actor["params"]} & {id(policy.log_std)}


def test_rl_run_resumes_to_the_same_weights_as_an_uninterrupted_run(tmp_path, monkeypatch):
    from imitlab.rl import loop, train_rl

    settings = {
        "num_envs": 2,
        "update_epochs": 2,
        "minibatch_size": 128,
        "eval_every": 800,
        "eval_episodes": 2,
        "save_every": 1,
    }
    full, _ = train_rl(
        "ppo", "pendulum", 1600, tmp_path / "full", overrides=settings, progress=False, final_eval_episodes=2
    )
    original = loop.collect
    calls = {"n": 0}

    def crash_on_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "collect", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        train_rl("ppo", "pendulum", 1600, tmp_path / "cut", overrides=settings, progress=False)
    monkeypatch.setattr(loop, "collect", original)
    resumed, _ = train_rl("ppo", "pendulum", 1600, tmp_path / "cut", resume=True, progress=False, final_eval_episodes=2)
    for key, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert [r["step"] for r in read_metrics(tmp_path / "cut")] == [r["step"] for r in read_metrics(tmp_path / "full")]
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["algo"] == "ppo"
    loaded = load_policy(tmp_path / "cut")  # the checkpoint alone acts like the trained actor
    obs = torch.randn(3, 1, 3)
    torch.testing.assert_close(loaded.predict_chunk(obs), resumed.predict_chunk(obs))
    assert math.isfinite(read_metrics(tmp_path / "cut")[-1]["eval_return"])


def test_an_rl_run_stopped_while_writing_its_final_checkpoint_reruns_to_the_same_weights(tmp_path, monkeypatch):
    from imitlab.rl import loop, train_rl

    settings = {"num_envs": 2, "eval_every": 10_000, "eval_episodes": 1, "save_every": 1}
    args = ("reinforce", "pendulum", 800)
    full, _ = train_rl(*args, tmp_path / "full", overrides=settings, progress=False, final_eval_episodes=1)
    save = loop.save_policy

    def stop_in_the_final_checkpoint(run_dir, policy, meta):
        if meta["env_steps"] >= 800:
            raise KeyboardInterrupt
        save(run_dir, policy, meta)

    monkeypatch.setattr(loop, "save_policy", stop_in_the_final_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train_rl(*args, tmp_path / "cut", overrides=settings, progress=False)
    monkeypatch.setattr(loop, "save_policy", save)
    resumed, _ = train_rl(*args, tmp_path / "cut", resume=True, progress=False, final_eval_episodes=1)
    for key, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0, msg=key)
    loaded = load_policy(tmp_path / "cut")
    for key, value in full.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)
