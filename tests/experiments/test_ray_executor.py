"""Study grids as Ray tasks (a 2-CPU local Ray): the same rows as the local executor, failures retried once and
reported, Ctrl-C cancels what is outstanding. Small runs on two-path: 20 demonstrations, 200 optimizer steps, 20
evaluation episodes (enough for the sampling GMM head to succeed now and then, so success counts are compared)."""

from __future__ import annotations

import sys

import pytest

from imitlab.core.errors import ImitlabError
from imitlab.experiments.grid import run_grid
from imitlab.experiments.ray_executor import GridError, RayConfig, errors_path, import_ray
from imitlab.experiments.records import read_rows
from imitlab.experiments.runs import RunSpec, group_by_training

TINY = {"demos": 20, "eval_episodes": 20, "train_overrides": {"steps": 200, "lr": 3e-3}}
CONFIGS = [("gmm", {"hidden_dim": 64}), ("chunked-bc", {"horizon": 4, "n_action_steps": 2, "hidden_dim": 64})]
GRID = [
    RunSpec("two-path", policy, seed=seed, policy_overrides=fields, **TINY)
    for policy, fields in CONFIGS
    for seed in (0, 1)
]
TIMINGS = ("train_seconds", "step_latency_ms", "chunk_latency_ms")  # wall-clock, different on every run


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'imitlab[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def test_specs_sharing_a_training_form_one_task():
    a, b = GRID[0], GRID[1]
    a_exec = RunSpec(
        a.env, a.policy, seed=a.seed, policy_overrides=a.policy_overrides, eval_overrides={"n_action_steps": 1}, **TINY
    )
    assert group_by_training([a, b, a_exec]) == [[a, a_exec], [b]]


def test_missing_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImitlabError, match=r"pip install 'imitlab\[ray\]'"):
        import_ray()


def test_study_command_takes_the_executor_flags():
    from imitlab.cli import build_parser

    args = build_parser().parse_args(
        [
            "study",
            "chunk-size",
            "--executor",
            "ray",
            "--ray-address",
            "auto",
            "--cpus-per-run",
            "2",
            "--gpus-per-run",
            "0.5",
        ]
    )
    assert (args.executor, args.ray_address, args.cpus_per_run, args.gpus_per_run) == ("ray", "auto", 2.0, 0.5)
    assert build_parser().parse_args(["study", "chunk-size"]).executor == "local"


def test_ray_config_rejects_no_cpus():
    with pytest.raises(ValueError, match="cpus_per_run must be > 0"):
        RayConfig(cpus_per_run=0)


@pytest.mark.slow
def test_ray_grid_writes_the_same_rows_as_the_local_executor(local_ray, tmp_path):
    local = run_grid(GRID, tmp_path / "local", tmp_path / "local" / "results.jsonl", progress=False)
    on_ray = run_grid(GRID, tmp_path / "ray", tmp_path / "ray" / "results.jsonl", progress=False, executor="ray")

    assert [row["run_id"] for row in on_ray] == [spec.run_id for spec in GRID]  # grid order, whatever finished first
    for mine, theirs in zip(local, on_ray):
        assert {k: v for k, v in theirs.items() if k not in TIMINGS} == {
            k: v for k, v in mine.items() if k not in TIMINGS
        }
    assert len({row["mean_return"] for row in on_ray}) == len(GRID)  # the rows differ between configs and seeds
    assert sum(int(row["successes"]) for row in on_ray) > 0  # so equal success counts are not all zeros
    assert (
        run_grid(GRID, tmp_path / "ray", tmp_path / "ray" / "results.jsonl", progress=False, executor="ray") == on_ray
    )  # resume: nothing left to run
    assert len(read_rows(tmp_path / "ray" / "results.jsonl")) == len(GRID)


def test_a_failing_run_is_retried_once_then_reported_beside_the_finished_ones(local_ray, tmp_path):
    broken = RunSpec("two-path", "bc", seed=0, policy_overrides={"no_such_field": 1}, **TINY)
    csv_path = tmp_path / "results.jsonl"
    with pytest.raises(GridError, match="1 of 2 runs failed after 2 attempts"):
        run_grid([GRID[0], broken], tmp_path, csv_path, progress=False, executor="ray")

    assert [row["run_id"] for row in read_rows(csv_path)] == [GRID[0].run_id]  # results hold finished runs only
    [error] = read_rows(errors_path(csv_path))
    assert error["run_id"] == broken.run_id and error["attempts"] == 2 and "no_such_field" in error["error"]


def test_ctrl_c_cancels_every_outstanding_task(local_ray, tmp_path, monkeypatch):
    cancelled = []
    monkeypatch.setattr(local_ray, "wait", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
    cancel = local_ray.cancel
    monkeypatch.setattr(local_ray, "cancel", lambda ref, force=False: (cancelled.append(ref), cancel(ref, force=force)))
    with pytest.raises(KeyboardInterrupt):
        run_grid(GRID, tmp_path, tmp_path / "results.jsonl", progress=False, executor="ray")
    assert len(cancelled) == len(GRID)  # four trainings, four tasks, all cancelled
    assert read_rows(tmp_path / "results.jsonl") == []
