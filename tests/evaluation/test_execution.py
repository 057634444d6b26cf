from dataclasses import dataclass

import numpy as np
import pytest
import torch

from imitlab.evaluation.execution import ChunkExecutor
from imitlab.policies.base import Policy, PolicyConfig


@dataclass(frozen=True)
class CountingConfig(PolicyConfig):
    pass


class CountingPolicy(Policy):
    """Chunk k (the k-th call) holds actions 100*k + [0, 1, ..., H-1]; records the histories it saw."""

    name = "counting"

    def __init__(self, config, stats):
        super().__init__(config, stats)
        self.calls = 0
        self.seen = []

    def predict_chunk(self, obs, generator=None):
        self.seen.append(obs.clone())
        chunk = 100 * self.calls + torch.arange(self.config.horizon, dtype=torch.float32)
        self.calls += 1
        return chunk.view(1, -1, 1).repeat(len(obs), 1, 1)


STATS = {
    k: {"mean": np.zeros(1), "std": np.ones(1), "min": -np.ones(1), "max": np.ones(1)}
    for k in ("observation.state", "action")
}


def make(horizon=4, n_action_steps=2, n_obs_steps=2, cls=CountingPolicy):
    config = CountingConfig(
        obs_dim=1, act_dim=1, horizon=horizon, n_action_steps=n_action_steps, n_obs_steps=n_obs_steps
    )
    return cls(config, STATS)


def run(executor, steps, n_envs=3):
    executor.reset(np.arange(n_envs))
    return [executor.act(np.full((n_envs, 1), float(t)))[0, 0] for t in range(steps)]


def test_receding_horizon_executes_n_action_steps_then_replans():
    policy = make(horizon=4, n_action_steps=2)
    actions = run(ChunkExecutor(policy), 6)
    assert actions == [0, 1, 100, 101, 200, 201]
    assert policy.calls == 3


def test_observation_history_repeats_first_observation_at_episode_start():
    policy = make(horizon=1, n_action_steps=1, n_obs_steps=3)
    run(ChunkExecutor(policy), 2)
    assert policy.seen[0][0, :, 0].tolist() == [0.0, 0.0, 0.0]
    assert policy.seen[1][0, :, 0].tolist() == [0.0, 0.0, 1.0]


def test_temporal_ensemble_averages_overlapping_predictions_with_exponential_weights():
    policy = make(horizon=3, n_action_steps=1)
    m = 0.5
    actions = run(ChunkExecutor(policy, temporal_ensemble=m), 3)
    # Step 2 sees: chunk 0 at position 2 (=2), chunk 1 at position 1 (=101), chunk 2 at position 0 (=200).
    w = np.exp(-m * np.arange(3))
    assert actions[0] == 0
    assert actions[2] == pytest_approx(np.dot(w, [2, 101, 200]) / w.sum())
    assert policy.calls == 3


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-5)


class ReturnConditionedPolicy(CountingPolicy):
    """Records the return-to-go and action histories a return-conditioned policy is given; acts 0.5 * t."""

    name = "return-conditioned"
    history_inputs = ("history_action", "history_return_to_go")

    def predict_chunk(self, obs, generator=None, history_action=None, history_return_to_go=None):
        self.seen.append((history_action.clone(), history_return_to_go.clone()))
        self.calls += 1
        return torch.full((len(obs), 1, 1), 0.5 * (self.calls - 1))


def test_target_return_is_decremented_by_the_rewards_received_and_actions_are_remembered():
    policy = make(horizon=1, n_action_steps=1, n_obs_steps=3, cls=ReturnConditionedPolicy)
    executor = ChunkExecutor(policy, target_return=10.0)
    executor.reset(np.arange(2))
    for _ in range(3):
        executor.act(np.zeros((2, 1)))
        executor.observe_reward(np.array([1.0, 2.0]))
    actions, rtg = policy.seen[-1]
    np.testing.assert_allclose(rtg.numpy(), [[10, 9, 8], [10, 8, 6]])  # target, then minus each reward
    np.testing.assert_allclose(actions[:, :2, 0].numpy(), [[0.0, 0.5], [0.0, 0.5]])  # executed so far
    first_actions, first_rtg = policy.seen[0]
    np.testing.assert_allclose(first_rtg.numpy(), 10.0)  # before the start: the target, repeated
    np.testing.assert_allclose(first_actions[:, :2].numpy(), 0.0)  # before the start: zero actions


def test_a_return_conditioned_policy_without_target_return_is_refused():
    policy = make(horizon=1, n_action_steps=1, cls=ReturnConditionedPolicy)
    with pytest.raises(ValueError, match="target return"):
        ChunkExecutor(policy)
