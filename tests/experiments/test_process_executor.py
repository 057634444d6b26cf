"""Grids in single-threaded worker processes: the same rows as the local executor, and a failure stops the grid
without losing the rows already finished."""

from __future__ import annotations

import pytest
from test_ray_executor import GRID, TIMINGS, TINY

from imitlab.core.errors import ImitlabError
from imitlab.experiments.grid import run_grid
from imitlab.experiments.records import read_rows
from imitlab.experiments.runs import RunSpec


def without_timings(rows):
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def test_worker_processes_write_the_same_rows_as_the_local_executor(tmp_path):
    local = run_grid(GRID, tmp_path / "local", tmp_path / "local" / "results.jsonl", progress=False)
    pooled = run_grid(
        GRID, tmp_path / "pool", tmp_path / "pool" / "results.jsonl", progress=False, executor="processes"
    )
    assert [row["run_id"] for row in pooled] == [spec.run_id for spec in GRID]
    assert without_timings(pooled) == without_timings(local)
    assert sum(int(row["successes"]) for row in pooled) > 0  # equal success counts are not all zeros


def test_a_failing_run_stops_the_grid_and_keeps_the_finished_rows(tmp_path):
    broken = RunSpec("two-path", "bc", seed=0, policy_overrides={"no_such_field": 1}, **TINY)
    csv_path = tmp_path / "results.jsonl"
    with pytest.raises(ImitlabError, match="no_such_field"):
        run_grid([GRID[0], broken], tmp_path, csv_path, progress=False, executor="processes")
    assert [row["run_id"] for row in read_rows(csv_path)] == [GRID[0].run_id]
