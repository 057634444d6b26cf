"""Learning claims of the compounding-error remedies (slow): pendulum, MLP `bc`, 10 demonstrations, the
recipe's training, training seed 0, 100 evaluation episodes paired with plain BC's (docs/remedies.md)."""

from __future__ import annotations

import pytest

from imitlab.experiments.recipes import recipe
from imitlab.remedies.compare import RemedyConfig, compare_remedies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    policy_overrides, train_overrides = recipe("pendulum", "bc")
    rows = compare_remedies(
        ["dart", "augment", "ccil"],
        "pendulum",
        "bc",
        10,
        tmp_path_factory.mktemp("remedies"),
        [0],
        RemedyConfig(),
        100,
        policy_overrides,
        train_overrides,
    )
    return {r["method"]: r for r in rows}


@pytest.mark.parametrize("method", ["dart", "augment", "ccil"])
def test_remedies_beat_bc_at_10_demos(rows, method):
    # measured: bc 59%, dart 100%, augment 100%, ccil 100%; margin: a 20-point gain and p < 0.05 are required
    assert rows[method]["success_rate"] >= rows["bc"]["success_rate"] + 0.2, rows[method]
    assert rows[method]["p_vs_bc"] < 0.05, rows[method]


def test_dart_and_ccil_spend_no_more_expert_labels_than_bc(rows):
    assert rows["dart"]["expert_labels"] == rows["ccil"]["expert_labels"] == rows["bc"]["expert_labels"]
    assert rows["ccil"]["synthetic_labels"] > 0
