import json

import numpy as np
import pytest

from imitlab.core.seeds import collection_seeds
from imitlab.data.reader import load_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import rollout
from imitlab.remedies.dagger import (
    BETA_SCHEDULES,
    MixtureAgent,
    beta,
    equal_label_demos,
    expert_continuations,
    run_dagger,
)

TINY = {"steps": 30, "batch_size": 32, "log_every": 10, "save_every": 30}


def test_beta_schedules():
    assert [beta("constant", i, 4) for i in (1, 3)] == [0.5, 0.5]
    assert [beta("linear", i, 4) for i in (1, 2, 4)] == [0.75, 0.5, 0.0]
    assert [beta("exponential", i, 4) for i in (1, 2)] == [0.5, 0.25]
    with pytest.raises(ValueError, match="beta schedule must be one of"):
        beta("cosine", 1, 4)
    assert BETA_SCHEDULES == ("constant", "linear", "exponential")


class ConstantAgent:
    def reset(self, seeds):
        pass

    def act(self, obs):
        return np.full((len(obs), 1), 2.0, dtype=np.float32)


def test_mixture_with_beta_one_is_the_expert_and_records_its_labels():
    spec = get_env_spec("pendulum")
    seeds = collection_seeds(3, 4)
    expert_run = rollout(spec.make_vector(4), spec.make_expert(), seeds, 30)
    agent = MixtureAgent(ConstantAgent(), spec.make_expert(), beta=1.0, seed=0)
    mixed = rollout(spec.make_vector(4), agent, seeds, 30)
    np.testing.assert_array_equal(mixed.action, expert_run.action)
    np.testing.assert_array_equal(np.stack(agent.labels, 1), expert_run.action)


def test_mixture_with_beta_zero_executes_the_learner_but_labels_with_the_expert():
    spec = get_env_spec("pendulum")
    agent = MixtureAgent(ConstantAgent(), spec.make_expert(), beta=0.0, seed=0)
    run = rollout(spec.make_vector(3), agent, collection_seeds(0, 3), 20)
    assert (run.action == 2.0).all()
    labels = np.stack(agent.labels, 1)
    assert not np.allclose(labels, 2.0) and np.abs(labels).max() <= 2.0


def test_expert_continuation_from_a_visited_state_is_the_experts_own_chunk():
    spec = get_env_spec("pendulum")
    seeds = collection_seeds(0, 2)
    run = rollout(spec.make_vector(2), spec.make_expert(), seeds, 40, record_state=True)
    episodes = expert_continuations(spec, run.state[:, 10], seeds, horizon=8)
    for i, episode in enumerate(episodes):
        np.testing.assert_allclose(episode.action, run.action[i, 10:18], atol=1e-5)
        np.testing.assert_allclose(episode.observation, run.obs[i, 10:18], atol=1e-5)


def test_dagger_aggregates_each_round_once_and_resumes(tmp_path):
    kwargs = dict(init_demos=2, rounds=2, episodes_per_round=2, eval_episodes=4, train_overrides=TINY, progress=False)
    results = run_dagger("pendulum", "bc", tmp_path, **kwargs)
    assert [r.round for r in results] == [0, 1, 2]
    assert [r.episodes for r in results] == [2, 4, 6]
    assert [r.beta for r in results] == [1.0, 0.5, 0.25]
    assert results[-1].expert_labels == load_dataset(tmp_path / "data").num_frames == 6 * 200
    again = run_dagger("pendulum", "bc", tmp_path, **kwargs)  # everything finished: nothing is redone
    assert [r.episodes for r in again] == [2, 4, 6]
    assert len((tmp_path / "rounds.jsonl").read_text().splitlines()) == 3


def test_dagger_resumes_after_a_crash_between_marker_and_append(tmp_path):
    kwargs = dict(init_demos=2, rounds=1, episodes_per_round=2, eval_episodes=4, train_overrides=TINY, progress=False)
    run_dagger("pendulum", "bc", tmp_path, **{**kwargs, "rounds": 0})
    # a marker promising an append that never landed (the process died in between)
    (tmp_path / "round-1").mkdir()
    (tmp_path / "round-1" / "aggregated.json").write_text(
        json.dumps({"beta": 0.5, "episodes_before": 2, "episodes_added": 2})
    )
    results = run_dagger("pendulum", "bc", tmp_path, **kwargs)
    assert [r.episodes for r in results] == [2, 4]


def test_dagger_with_a_chunked_policy_adds_expert_chunks(tmp_path):
    results = run_dagger(
        "pendulum",
        "chunked-bc",
        tmp_path,
        init_demos=2,
        rounds=1,
        episodes_per_round=1,
        eval_episodes=2,
        train_overrides=TINY,
        progress=False,
        policy_overrides={"horizon": 8, "n_action_steps": 4},
    )
    data = load_dataset(tmp_path / "data")
    # one 200-step rollout re-plans 50 times: 50 expert continuations of 8 steps, the last one cut to 4 by
    # the episode's step limit (the copied env state carries the step count)
    assert results[-1].episodes == 2 + 50
    assert data.num_frames == 2 * 200 + 49 * 8 + 4


def test_warm_start_loads_the_previous_rounds_weights(tmp_path):
    results = run_dagger(
        "pendulum",
        "bc",
        tmp_path,
        init_demos=2,
        rounds=1,
        episodes_per_round=1,
        eval_episodes=2,
        train_overrides=TINY,
        warm_start=True,
        progress=False,
    )
    assert len(results) == 2


def test_dagger_runs_unchanged_with_diffusion(tmp_path):
    small = {"horizon": 8, "n_action_steps": 4, "down_dims": [16, 32], "num_inference_steps": 2}
    results = run_dagger(
        "pendulum",
        "diffusion",
        tmp_path,
        init_demos=1,
        rounds=1,
        episodes_per_round=1,
        eval_episodes=2,
        train_overrides=TINY,
        policy_overrides=small,
        progress=False,
    )
    assert [r.episodes for r in results] == [1, 1 + 50]


def test_the_equal_label_control_counts_the_frames_of_episodes_that_end_at_success(tmp_path):
    """two-path's expert ends its episodes at the goal, about a third of the way to max_steps: the control
    collects as many more whole episodes as the labels need, no more."""
    labels = 5 * get_env_spec("two-path").max_steps
    lengths = load_dataset(equal_label_demos("two-path", labels, tmp_path)).episode_lengths
    assert lengths.max() < get_env_spec("two-path").max_steps
    assert lengths.sum() >= labels > lengths[:-1].sum()
    fewer = load_dataset(tmp_path / "baseline-data-5")  # the first try, at full-length episodes
    assert np.array_equal(fewer.episode_lengths, lengths[:5])  # the same seeds, the same first episodes
