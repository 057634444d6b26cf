"""Study tables over training seeds, from hand-made CSV rows (no training)."""

from __future__ import annotations

from imitlab.cli import build_parser
from imitlab.evaluation.stats import wilson_interval
from imitlab.studies import DEFAULT_SEEDS
from imitlab.studies.rows import seed_count, seed_success, success_cell
from imitlab.studies.table import seeds_note


def rows_of(successes: list[int], episodes: int = 100) -> list[dict[str, str]]:
    return [{"seed": str(s), "successes": str(k), "episodes": str(episodes)} for s, k in enumerate(successes)]


def test_one_seed_cell_is_that_policys_wilson_interval_and_says_so():
    rows = rows_of([59])
    low, high = wilson_interval(59, 100)
    assert success_cell(rows) == f"59% [{low:.0%}, {high:.0%}] (59/100)"
    assert seeds_note(seed_count(rows)) == "1 training seed (Wilson: this policy only)"


def test_several_seeds_cell_shows_the_mean_the_seed_interval_and_the_spread():
    rows = rows_of([100, 44, 36, 66])
    s = seed_success(rows)
    assert success_cell(rows) == f"62% [{s.low:.0%}, {s.high:.0%}] (246/400; seeds 36%-100%)"
    assert s.high - s.low > 0.5  # the seeds disagree: far wider than the pooled Wilson [57%, 66%]
    assert seeds_note(seed_count(rows)).startswith("4 training seeds")


def test_seeds_that_agree_say_so_in_the_cell():
    assert success_cell(rows_of([100, 100, 100])).endswith("(300/300; every seed 100%)")


def test_full_scale_studies_default_to_at_least_three_training_seeds():
    assert len(DEFAULT_SEEDS["full"]) >= 3
    assert DEFAULT_SEEDS["small"] == (0,)


def test_study_command_line_leaves_the_seeds_to_the_scale_unless_given():
    parser = build_parser()
    assert parser.parse_args(["study", "heads", "--scale", "full"]).seeds is None
    assert parser.parse_args(["study", "heads", "--seeds", "3", "4"]).seeds == [3, 4]
