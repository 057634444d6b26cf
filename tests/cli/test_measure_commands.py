"""The measurement commands behind docs/heads.md: `imitlab quantization`, `compare-execution`, `return-sweep`."""

import numpy as np
import pytest

from imitlab.cli import main
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


def test_quantization_command_names_the_dataset_and_prints_one_row_per_action_dimension(small_dataset_dir, capsys):
    main(["quantization", "--data", str(small_dataset_dir), "--n-bins", "16"])
    lines = capsys.readouterr().out.splitlines()
    frames = load_dataset(small_dataset_dir).num_frames
    assert lines[0] == f"{small_dataset_dir}: {frames} actions, 16 bins per dimension"
    assert lines[1].startswith("| action | data range | bin width |")
    assert [line.split(" | ")[0] for line in lines[3:]] == ["| u", "| v"]


@pytest.fixture(scope="module")
def two_path_runs(tmp_path_factory):
    """A chunked-bc run (H = 4, 2 actions executed) and a dt run, each trained for 1 step on 3 two-path demos."""
    root = tmp_path_factory.mktemp("runs")
    main(["collect", "--env", "two-path", "--episodes", "3", "--out", str(root / "data")])
    for policy, flags in (("chunked-bc", ["--chunk-size", "4", "--n-action-steps", "2"]), ("dt", [])):
        main(
            ["train", "--policy", policy, "--data", str(root / "data"), "--out", str(root / policy), "--steps", "1"]
            + flags
        )
    return root


def test_compare_execution_command_prints_a_row_per_checkpoint_and_execution_mode(two_path_runs, capsys):
    capsys.readouterr()
    main(
        [
            "compare-execution",
            "--checkpoints",
            str(two_path_runs / "chunked-bc"),
            "--ensemble",
            "0.1",
            "--episodes",
            "2",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| policy | H | execution | success [95% CI] | return |"
    assert len(lines) == 2 + 3  # receding with 2 executed, receding re-planning every step, ensemble m = 0.1
    assert all(line.startswith("| chunked-bc | 4 | ") and line.count("(") == 1 for line in lines[2:])


def test_return_sweep_command_prints_a_row_per_target_then_per_baseline(two_path_runs, capsys):
    capsys.readouterr()
    dt, baseline = two_path_runs / "dt", two_path_runs / "chunked-bc"
    main(
        [
            "return-sweep",
            "--checkpoint",
            str(dt),
            "--targets",
            "-500",
            "0",
            "--baseline",
            str(baseline),
            "--episodes",
            "2",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| policy / prompt | mean return ± std | success [95% CI] |"
    labels = [line.split(" | ")[0] for line in lines[2:]]
    assert labels == ["| dt, target -500", "| dt, target 0", f"| chunked-bc ({baseline})"]
