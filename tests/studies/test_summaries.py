"""What the commands print: DAgger rounds, remedies over training seeds, the noise levels of a collection."""

from types import SimpleNamespace

import numpy as np

from imitlab.data.noisy_expert import Noise
from imitlab.evaluation.stats import mcnemar_exact_p
from imitlab.remedies.compare import summarise
from imitlab.remedies.dagger import RoundResult
from imitlab.studies.summaries import (
    dagger_rounds_table,
    dagger_versus_bc,
    noise_level_lines,
    remedies_caption,
    remedies_table,
)
from remedy_rows import remedy_rows


def round_result(i: int, episode_success: list[bool]) -> RoundResult:
    successes = sum(episode_success)
    return RoundResult(
        round=i,
        beta=0.5**i,
        episodes=10 + i,
        expert_labels=2000 * (i + 1),
        successes=successes,
        evaluated=len(episode_success),
        success_rate=successes / len(episode_success),
        ci_low=0.1,
        ci_high=0.9,
        mean_return=-150.0 - i,
        episode_success=episode_success,
    )


def test_dagger_table_has_a_row_per_round_with_the_paired_p_value_against_round_0():
    first, last = [False] * 10, [True] * 8 + [False] * 2
    lines = dagger_rounds_table([round_result(0, first), round_result(1, last)]).splitlines()
    assert lines[0] == "| round | beta | episodes | expert labels | success [95% CI] | return | p vs round 0 |"
    assert lines[2] == "| 0 | 1.000 | 10 | 2000 | 0% [10%, 90%] | -150.0 | 1 |"
    assert lines[3] == f"| 1 | 0.500 | 11 | 4000 | 80% [10%, 90%] | -151.0 | {mcnemar_exact_p(last, first):.3g} |"


def test_dagger_versus_bc_names_the_label_count_both_rates_and_the_number_of_paired_seeds():
    last = round_result(3, [True] * 6)
    base = SimpleNamespace(
        episode_success=[True, False] * 3, success_rate=0.5, ci_low=0.2, ci_high=0.8, mean_return=-300
    )
    line = dagger_versus_bc("bc", last, base)
    assert line.startswith("bc on plain expert demonstrations with >= 8000 labels: success 50% [20%, 80%]")
    assert "DAgger round 3: 100%" in line and line.endswith("(same 6 evaluation seeds)")


def test_remedy_table_over_seeds_shows_each_seed_and_the_seeds_favouring_each_method():
    summary = summarise(remedy_rows({0: 100, 1: 44, 2: 36, 3: 66}))
    table = remedies_table(summary)
    assert "| bc | 2000 | 0 |" in table and "| 100% 44% 36% 66% |" in table
    assert "| 3 · 0 · 1 |" in table  # dagger better on three seeds, tied on the one where bc succeeds 100/100
    assert remedies_caption(summary, "pendulum").startswith("pendulum, 4 training seeds")


def test_remedy_table_of_one_seed_says_it_describes_one_trained_policy():
    summary = summarise(remedy_rows({0: 59}))
    assert "1 training seed (Wilson: this policy only)" in remedies_caption(summary, "pendulum")
    assert "| +41% |" in remedies_table(summary)


def test_noise_lines_split_the_episodes_by_the_level_cycled_over_them():
    ends = np.array([2, 4, 6, 8])
    dataset = SimpleNamespace(
        reward=np.array([1, 1, -5, -5, 3, 3, -1, -1], dtype=np.float32),
        success=np.array([0, 1, 0, 0, 0, 1, 0, 1], dtype=bool),
        episode_starts=ends - 2,
        episode_ends=ends,
    )
    lines = noise_level_lines(dataset, [Noise(0.0, 0.0), Noise(0.5, 0.25)])
    assert lines == [
        "  noise std 0, epsilon 0: 2 episodes, return 4.0 (min 2.0, max 6.0), success 2/2",
        "  noise std 0.5, epsilon 0.25: 2 episodes, return -6.0 (min -10.0, max -2.0), success 1/2",
    ]
