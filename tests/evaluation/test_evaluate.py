import numpy as np

from imitlab.envs import two_path
from imitlab.evaluation.evaluate import evaluate_expert
from imitlab.policies.base import create_policy
from imitlab.studies.plots import plot_fork_actions, sample_first_actions
from imitlab.studies.table import format_modes
from imitlab.training.checkpoint import placeholder_stats


def test_expert_success_modes_count_both_detours_among_successes():
    result = evaluate_expert("two-path", episodes=40, seed=0)
    assert sum(result.success_modes.values()) == result.successes == 40
    assert set(result.success_modes) == {"-1", "1"}


def test_single_mode_env_reports_no_modes():
    assert evaluate_expert("pendulum", episodes=2, seed=0).success_modes == {}


def test_format_modes_lists_counts_and_is_empty_without_modes():
    assert format_modes({"-1": 48, "1": 47}) == "-1: 48 · 1: 47"
    assert format_modes({}) == "" and format_modes() == ""


def test_format_modes_sums_the_counts_of_several_runs():
    assert format_modes({"-1": 48, "1": 47}, {"1": 50, "-1": 40}, {}) == "-1: 88 · 1: 97"


def test_fork_expert_actions_are_mirror_images_that_both_climb():
    left, right = two_path.fork_expert_actions()
    assert left[0] < 0 < right[0] and left[1] > 0 and right[1] > 0
    np.testing.assert_allclose(left, right * [-1, 1], atol=1e-6)


def test_fork_plot_samples_each_policy_and_writes_png(tmp_path):
    policy = create_policy("gmm", placeholder_stats(2, 2), obs_dim=2, act_dim=2)
    actions = sample_first_actions(policy, two_path.START, samples=50)
    assert actions.shape == (50, 2) and np.isfinite(actions).all()
    out = plot_fork_actions({"gmm": policy}, two_path.START, two_path.fork_expert_actions(), tmp_path / "f.png", 50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
