"""The measurement commands behind docs/heads.md: quantisation table, execution modes compared."""

import numpy as np

from imitlab.data.reader import load_dataset
from imitlab.evaluation.execution import execution_modes
from imitlab.studies.quantization import quantization_table


def test_quantization_table_reports_bin_width_and_a_round_trip_error_within_half_a_bin(small_dataset_dir):
    rows = quantization_table(small_dataset_dir, n_bins=16)
    actions = load_dataset(small_dataset_dir).action
    assert [r[0] for r in rows] == ["u", "v"]
    for row, column in zip(rows, actions.T):
        width = float(row[2])
        assert np.isclose(width, (column.max() - column.min()) / 16, rtol=1e-3)
        assert 0 < float(row[3]) <= float(row[4]) <= width / 2 * (1 + 1e-3)


def test_execution_modes_cover_receding_horizon_replanning_and_each_ensemble_coefficient():
    modes = execution_modes([4, 1], [0.01, 0.1])
    assert [kwargs for _, kwargs in modes] == [
        {"n_action_steps": 4},
        {"n_action_steps": 1},
        {"temporal_ensemble": 0.01},
        {"temporal_ensemble": 0.1},
    ]
    assert len(execution_modes([1, 1], [0.01])) == 2  # re-planning every step is the policy's own mode
