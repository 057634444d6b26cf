from dataclasses import dataclass

import numpy as np
import torch

from imitlab.execution import ChunkExecutor
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


def make(horizon=4, n_action_steps=2, n_obs_steps=2):
    stats = {k: {"mean": np.zeros(1), "std": np.ones(1), "min": -np.ones(1), "max": np.ones(1)}
             for k in ("observation.state", "action")}
    config = CountingConfig(obs_dim=1, act_dim=1, horizon=horizon, n_action_steps=n_action_steps,
                            n_obs_steps=n_obs_steps)
    return CountingPolicy(config, stats)


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
