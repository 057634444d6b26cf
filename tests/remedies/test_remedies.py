"""Mechanics of the compounding-error remedies (DART, noise augmentation, CCIL-style labels) and of the
compounding-error measurement. Learning claims live in tests/test_learning.py (slow)."""

import csv

import numpy as np
import pytest
import torch

from imitlab.data.collect import collect
from imitlab.data.reader import load_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.evaluation.compounding import CompoundingCurve, compounding_curve, trajectory_deviation
from imitlab.evaluation.stats import mean_interval
from imitlab.remedies.augment import AugmentConfig, expert_augmentation, project_to_env
from imitlab.remedies.ccil import CCILConfig, corrective_labels, fit_dynamics, label_episodes, synthesize
from imitlab.remedies.compare import RemedyConfig, compare_remedies, summarise
from imitlab.remedies.dart import DartConfig, collect_dart, learner_error_std
from imitlab.studies.compounding_error import write_curves
from imitlab.training.train import train_policy
from remedy_rows import remedy_rows

TINY = {"steps": 30, "batch_size": 32, "log_every": 10, "save_every": 30}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return load_dataset(collect("pendulum", 2, tmp_path_factory.mktemp("demos") / "data").root)


def test_dart_executes_noisy_actions_but_records_the_clean_expert_label(tmp_path):
    stds = collect_dart("pendulum", 2, tmp_path, DartConfig(noise_std=0.5), seed=0)
    data = load_dataset(tmp_path / "data")
    expert = get_env_spec("pendulum").make_expert()
    assert stds == [0.5]
    # every label is the expert's action at the recorded state ...
    np.testing.assert_allclose(data.action, expert.act(data.observation), atol=1e-5)
    # ... but the states are not the clean expert's: the executed (noisy) action drove them
    clean = collect("pendulum", 2, tmp_path / "clean")
    assert np.abs(data.observation - clean.observation).max() > 0.1


def test_dart_estimated_noise_starts_clean_then_matches_the_learners_error(tmp_path):
    stds = collect_dart("pendulum", 4, tmp_path, DartConfig(rounds=2), train_overrides=TINY, seed=0)
    assert stds[0] == 0.0 and stds[1] > 0
    assert load_dataset(tmp_path / "data").num_episodes == 4
    assert collect_dart("pendulum", 4, tmp_path, DartConfig(rounds=2)) == stds  # finished: read back


def test_learner_error_std_is_the_rms_action_error(demos, tmp_path):
    policy = train_policy("bc", demos.root, tmp_path / "run", None, TINY, progress=False)
    with torch.inference_mode():
        predicted = policy.predict_chunk(torch.as_tensor(demos.observation)[:, None])[:, 0].numpy()
    rms = np.sqrt(((predicted - demos.action) ** 2).mean())
    assert learner_error_std(policy, demos, scale=4.0) == pytest.approx(2 * rms, rel=1e-4)


def test_augmented_labels_are_the_experts_actions_at_perturbed_states(demos):
    episodes = expert_augmentation("pendulum", demos, AugmentConfig(copies=2, scale=0.3), seed=1)
    assert len(episodes) == 2 * demos.num_frames and all(len(e) == 1 for e in episodes)
    obs = np.concatenate([e.observation for e in episodes])
    actions = np.concatenate([e.action for e in episodes])
    np.testing.assert_allclose(actions, get_env_spec("pendulum").make_expert().act(obs), atol=1e-6)
    np.testing.assert_allclose(np.hypot(obs[:, 0], obs[:, 1]), 1.0, atol=1e-5)  # projected onto the circle
    assert np.abs(obs - np.repeat(demos.observation, 2, axis=0)).mean() > 0.01


def test_augmentation_gives_chunked_policies_the_experts_chunk(demos):
    episodes = expert_augmentation("pendulum", demos, AugmentConfig(scale=0.2), horizon=8)
    assert all(len(e) == 8 for e in episodes)


def test_projection_keeps_pendulum_observations_on_the_unit_circle():
    obs = np.array([[2.0, 0.0, 1.0], [0.0, -0.5, -3.0]], dtype=np.float32)
    np.testing.assert_allclose(project_to_env("pendulum", obs), [[1, 0, 1], [0, -1, -3]], atol=1e-6)


class LinearEnsemble(torch.nn.Module):
    """Exact dynamics o' = o + a (obs_dim = act_dim = 1) for K = 2 members, which disagree by ``spread``
    wherever o > 0."""

    def __init__(self, spread: float):
        super().__init__()
        self.spread = spread

    def forward(self, obs, action):
        bias = self.spread * (obs > 0).float()
        return torch.stack([obs + action + bias, obs + action - bias])


def test_ccil_solves_the_returning_action_and_drops_labels_with_large_model_error():
    obs = np.array([[-0.5], [-0.2], [0.3], [0.6]], dtype=np.float32)
    target = np.zeros((4, 1), dtype=np.float32)
    config = CCILConfig(solve_steps=300, solve_lr=0.05, max_error=0.05)
    action, error = corrective_labels(
        LinearEnsemble(spread=0.5), obs, target, np.zeros((4, 1)), [-1.0], [1.0], np.ones(1), config
    )
    np.testing.assert_allclose(action, -obs, atol=0.02)  # the action that returns to the target
    kept = error <= config.max_error
    assert kept.tolist() == [True, True, False, False]  # the members disagree (model error) where o > 0


def test_ccil_keeps_only_labels_under_the_bound_and_never_more_with_a_tighter_one(demos):
    config = CCILConfig(model_steps=200, ensemble=2, solve_steps=20, max_error=0.2)
    model = fit_dynamics(demos, config, seed=0)
    loose = synthesize(demos, model, config, seed=0)
    tight = synthesize(demos, model, CCILConfig(**{**config.__dict__, "max_error": 0.02}), seed=0)
    assert (loose.error[loose.kept] <= 0.2).all() and (loose.error[~loose.kept] > 0.2).all()
    assert tight.kept.sum() <= loose.kept.sum()
    episodes = label_episodes(demos, loose, horizon=4)
    assert len(episodes) == loose.kept.sum()
    first = int(np.flatnonzero(loose.kept)[0])
    t = loose.source[first]
    np.testing.assert_array_equal(episodes[0].action[1:], demos.action[t + 1 : t + 4])  # then the demo's chunk


def test_compounding_curve_averages_running_episodes_and_writes_csv_and_png(tmp_path):
    curve = CompoundingCurve.from_deviation("x", np.array([[0.0, 1.0, np.nan], [2.0, 3.0, np.nan]]))
    np.testing.assert_allclose(curve.mean, [1.0, 2.0])
    assert curve.episodes.tolist() == [2, 2] and (curve.low < curve.mean).all()
    write_curves([curve], tmp_path / "c.csv", tmp_path / "c.png")
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert [r["step"] for r in rows] == ["0", "1"] and (tmp_path / "c.png").stat().st_size > 1000


def test_compounding_deviation_starts_at_zero_and_has_one_column_per_step(demos, tmp_path):
    policy = train_policy("bc", demos.root, tmp_path / "run", None, TINY, progress=False)
    deviation = trajectory_deviation(policy, "pendulum", np.arange(3))
    assert deviation.shape == (3, 200)
    np.testing.assert_allclose(deviation[:, 0], 0.0, atol=1e-6)  # same initial state
    curve = compounding_curve(policy, "pendulum", np.arange(3), "bc")
    assert len(curve.mean) == 200 and curve.mean[-1] > curve.mean[0]


def test_mean_interval_matches_the_normal_approximation():
    mean, low, high = mean_interval(np.array([[1.0], [3.0]]))
    assert mean[0] == 2.0 and high[0] - mean[0] == pytest.approx(1.959963984540054 * np.sqrt(2) / np.sqrt(2))


def test_compare_remedies_pairs_every_method_with_bc_of_the_same_seed(tmp_path):
    config = RemedyConfig(dart=DartConfig(noise_std=0.3), ccil=CCILConfig(model_steps=20, ensemble=2, solve_steps=5))
    rows = compare_remedies(
        ["dart", "augment", "ccil"], "pendulum", "bc", 2, tmp_path, [0], config, eval_episodes=4, train_overrides=TINY
    )
    by_method = {r["method"]: r for r in rows}
    assert list(by_method) == ["bc", "dart", "augment", "ccil"]
    assert by_method["bc"]["p_vs_bc"] == 1.0
    assert by_method["dart"]["expert_labels"] == by_method["bc"]["expert_labels"] == 400
    assert by_method["augment"]["expert_labels"] == 800
    assert by_method["ccil"]["expert_labels"] == 400
    assert by_method["ccil"]["synthetic_labels"] == by_method["ccil"]["details"]["kept"]


def test_summary_pairs_each_remedy_with_bc_of_the_same_training_seed():
    rows = remedy_rows({1: 100, 2: 44, 5: 36, 6: 66})
    bc, dagger = summarise(rows)
    assert bc.vs_bc is None and bc.success.per_seed == (1.0, 0.44, 0.36, 0.66)
    assert dagger.success.rate == 1.0
    assert dagger.vs_bc.per_seed == (0.0, 0.56, 0.64, 0.34)
    assert (dagger.vs_bc.a_better, dagger.vs_bc.b_better, dagger.vs_bc.ties) == (3, 0, 1)
    assert dagger.vs_bc.low <= dagger.vs_bc.difference <= dagger.vs_bc.high


def test_equal_label_controls_are_named_after_their_remedy_so_seeds_with_different_demo_counts_share_a_row(tmp_path):
    """two-path's episodes end at the goal and DAgger's rollouts differ in length per seed: each seed's control
    holds at least its own DAgger run's labels, and the seeds' controls summarise as one row."""
    config = RemedyConfig(dagger_rounds=1, dagger_episodes_per_round=2)
    rows = compare_remedies(
        ["dagger"], "two-path", "bc", 2, tmp_path, [0, 1], config, 4, train_overrides=TINY, equal_label_controls=True
    )
    label = "bc at dagger(1x2)'s labels"
    assert [r["label"] for r in rows] == ["bc", "dagger(1x2)", label] * 2
    for bc, dagger, control in zip(rows[::3], rows[1::3], rows[2::3]):
        assert control["expert_labels"] >= dagger["expert_labels"] > bc["expert_labels"]
        assert control["details"]["demos"] > 2
    assert [m.label for m in summarise(rows)] == ["bc", "dagger(1x2)", label]
