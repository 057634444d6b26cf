"""kill -9, then the same command again: for training, PPO, DAgger, a dataset append and a study grid (process
pool and Ray), the rerun finishes with nothing lost and the result of an uninterrupted run.

Each command runs in a child process with a process group of its own; as soon as it has written its first
checkpoint (or row, or round marker) the whole group gets SIGKILL, as a job killed by the OOM killer or a
scheduler would. The uninterrupted reference runs in this process; a grid's runs under the same executor (a
worker is single-threaded, and thread count can change float summation order)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

import imitlab
from conftest import random_episodes
from imitlab.data.reader import load_dataset
from imitlab.data.writer import write_dataset
from imitlab.experiments.records import read_rows
from imitlab.training.run_dir import read_metrics

TESTS = Path(__file__).parent
PATHS = os.pathsep.join([str(Path(imitlab.__file__).parents[1]), str(TESTS)])
TIMINGS = ("train_seconds", "step_latency_ms", "chunk_latency_ms", "seconds", "eval_seconds")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PATHS}


def run_to_the_end(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True, timeout=600)


def kill_when(code: str, ready: Callable[[], bool], log: Path, timeout: float = 300) -> None:
    """Start ``code`` in a new process group; SIGKILL the group as soon as ``ready()``. Fails if it ends first."""
    with open(log, "w") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", code], env=child_env(), stdout=out, stderr=out, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert child.poll() is None, f"it ended (exit {child.returncode}) before the kill:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not ready after {timeout} s:\n{log.read_text()}"
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


def same_tensors(a: Path, b: Path) -> None:
    first, second = load_file(a), load_file(b)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].equal(second[key]), key


def without(keys, rows):
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


def kill_rerun_and_compare(tmp_path: Path, code: Callable[[Path], str], ready: Callable[[Path], bool]):
    """The uninterrupted run in ``tmp_path/full`` (this process), the killed and rerun one in ``tmp_path/cut``."""
    exec(code(tmp_path / "full"), {})
    kill_when(code(tmp_path / "cut"), lambda: ready(tmp_path / "cut"), tmp_path / "killed.log")
    run_to_the_end(code(tmp_path / "cut"))
    return tmp_path / "full", tmp_path / "cut"


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    write_dataset(root, random_episodes(), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    return root


def test_training_killed_mid_run_reruns_to_the_same_weights_and_metrics(tmp_path, data):
    train = {"steps": 200, "batch_size": 16, "save_every": 20, "log_every": 10, "ema_decay": 0.9}

    def code(out):
        return textwrap.dedent(f"""
            from imitlab.training.train import train_policy
            train_policy("chunked-bc", {str(data)!r}, {str(out)!r}, {{"horizon": 4}}, {train!r}, resume=True,
                         progress=False)
        """)

    full, cut = kill_rerun_and_compare(tmp_path, code, lambda out: (out / "train_state.pt").is_file())
    same_tensors(full / "model.safetensors", cut / "model.safetensors")
    assert without(TIMINGS, read_metrics(cut)) == without(TIMINGS, read_metrics(full))
    assert not list(cut.glob(".*.tmp"))  # a temp file the kill left mid-write is gone


def test_ppo_killed_mid_run_reruns_to_the_same_weights_and_evaluation(tmp_path):
    settings = {"num_envs": 2, "update_epochs": 2, "minibatch_size": 128, "eval_every": 800, "eval_episodes": 2}

    def code(out):
        return textwrap.dedent(f"""
            from imitlab.rl import train_rl
            train_rl("ppo", "pendulum", 2400, {str(out)!r}, overrides={{**{settings!r}, "save_every": 1}},
                     resume=True, progress=False, final_eval_episodes=2)
        """)

    full, cut = kill_rerun_and_compare(tmp_path, code, lambda out: (out / "train_state.pt").is_file())
    same_tensors(full / "model.safetensors", cut / "model.safetensors")
    evals = without(TIMINGS, [json.loads((run / "eval.json").read_text()) for run in (full, cut)])
    assert evals[1] == evals[0]
    assert without(TIMINGS, read_metrics(cut)) == without(TIMINGS, read_metrics(full))


def test_dagger_killed_during_aggregation_reruns_to_the_same_rounds_and_dataset(tmp_path):
    def code(out):
        return textwrap.dedent(f"""
            from imitlab.remedies.dagger import run_dagger
            run_dagger("pendulum", "bc", {str(out)!r}, init_demos=2, rounds=2, episodes_per_round=2,
                       eval_episodes=4, progress=False,
                       train_overrides={{"steps": 30, "batch_size": 32, "log_every": 10, "save_every": 10}})
        """)

    full, cut = kill_rerun_and_compare(tmp_path, code, lambda out: (out / "round-1" / "aggregated.json").is_file())
    assert (cut / "rounds.jsonl").read_text() == (full / "rounds.jsonl").read_text()
    np.testing.assert_array_equal(load_dataset(cut / "data").action, load_dataset(full / "data").action)


def test_dataset_appends_killed_midway_leave_a_whole_dataset_and_the_rerun_completes_it(tmp_path, data):
    def code(root):
        return textwrap.dedent(f"""
            import shutil
            from pathlib import Path
            from conftest import random_episodes
            from imitlab.data.reader import load_dataset
            from imitlab.data.writer import append_episodes
            root = Path({str(root)!r})
            if not root.exists():
                shutil.copytree({str(data)!r}, root)
            new = random_episodes(6, seed=1)
            for episode in new[load_dataset(root).num_episodes - 6:]:  # resumable: appends what is missing
                append_episodes(root, [episode])
        """)

    def appended(root):
        try:
            return load_dataset(root).num_episodes > 6
        except Exception:  # a swap in progress, or not copied yet
            return False

    full, cut = kill_rerun_and_compare(tmp_path, code, appended)
    expected, got = load_dataset(full), load_dataset(cut)
    assert got.num_episodes == expected.num_episodes == 12
    np.testing.assert_array_equal(got.observation, expected.observation)
    assert not list(tmp_path.glob(".cut.*"))  # no temp or backup directory left beside it


GRID_CODE = """
from imitlab.experiments.grid import run_grid
from imitlab.experiments.runs import RunSpec
specs = [RunSpec("two-path", policy, seed=seed, demos=5, eval_episodes=5, train_overrides={{"steps": 30}})
         for policy in ("bc", "gmm") for seed in (0, 1)]
run_grid(specs, {root!r}, {root!r} + "/results.jsonl", progress=False, executor={executor!r})
"""


def check_grid(tmp_path, executor):
    run_to_the_end(GRID_CODE.format(root=str(tmp_path / "full"), executor=executor))  # same threads per run
    code = GRID_CODE.format(root=str(tmp_path / "cut"), executor=executor)
    kill_when(code, lambda: len(read_rows(tmp_path / "cut" / "results.jsonl")) >= 1, tmp_path / "killed.log")
    run_to_the_end(code)
    timings = ("train_seconds", "step_latency_ms", "chunk_latency_ms")
    full = without(timings, read_rows(tmp_path / "full" / "results.jsonl"))
    cut = without(timings, read_rows(tmp_path / "cut" / "results.jsonl"))
    assert sorted(cut, key=lambda r: r["run_id"]) == sorted(full, key=lambda r: r["run_id"])
    assert len(cut) == 4


def test_a_study_grid_in_worker_processes_killed_midway_reruns_to_the_same_rows(tmp_path):
    check_grid(tmp_path, "processes")


@pytest.mark.slow
def test_a_study_grid_on_ray_killed_midway_reruns_to_the_same_rows(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'imitlab[ray]'")
    check_grid(tmp_path, "ray")
