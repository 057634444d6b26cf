"""One writer per dataset and per run directory (docs/reliability.md): a second writer gets one line naming the
holder's pid; a lock dies with its process, kill -9 included; concurrent writers never lose an episode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import random_episodes
from imitlab.cli import main
from imitlab.core.locks import LockedError, lock_path, one_writer
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes, write_dataset

HOLD = """
import sys, time
from imitlab.core.locks import one_writer
with one_writer(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def hold_lock(directory: Path) -> subprocess.Popen:
    """A process that holds ``directory``'s write lock until killed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def dataset(root: Path) -> Path:
    write_dataset(root, random_episodes(3), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    return root


def test_a_second_writer_of_a_dataset_is_refused_naming_the_holders_pid_and_kill_9_frees_the_lock(tmp_path):
    root = dataset(tmp_path / "data")
    holder = hold_lock(root)
    try:
        with pytest.raises(
            LockedError, match=rf"{root} is being written by another imitlab process \(pid {holder.pid}\)"
        ):
            append_episodes(root, random_episodes(1))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    append_episodes(root, random_episodes(1))  # the kernel dropped the dead holder's lock
    assert load_dataset(root).num_episodes == 4
    assert lock_path(root).parent == root.parent and not lock_path(root).exists()  # beside, removed when done


def test_the_lock_is_free_again_after_the_block_and_an_error_in_it(tmp_path):
    with pytest.raises(RuntimeError):
        with one_writer(tmp_path / "run"):
            raise RuntimeError("boom")
    with one_writer(tmp_path / "run"):
        pass


def test_a_second_imitlab_train_into_the_same_run_is_one_line_with_the_pid(small_dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    holder = hold_lock(run)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--policy", "bc", "--data", str(small_dataset_dir), "--out", str(run), "--steps", "1"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("LockedError: ") and f"pid {holder.pid}" in err
    assert not (run / "metrics.jsonl").exists()


def dagger_args(out, *extra: str) -> list[str]:
    """``imitlab dagger`` of bc on pendulum from 2 demonstrations, one round, into ``out``."""
    return [
        "dagger",
        "--env",
        "pendulum",
        "--policy",
        "bc",
        "--init-demos",
        "2",
        "--rounds",
        "1",
        *extra,
        "--out",
        str(out),
    ]


def test_a_second_dagger_in_the_same_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "dagger"
    holder = hold_lock(out)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(dagger_args(out))
    finally:
        holder.kill()
        holder.wait()
    assert exit_info.value.code == 2 and f"pid {holder.pid}" in capsys.readouterr().err


APPEND = """
import sys
sys.path.insert(0, sys.argv[3])
from conftest import random_episodes
from imitlab.core.locks import LockedError
from imitlab.data.writer import append_episodes
try:
    append_episodes(sys.argv[1], random_episodes(2, seed=int(sys.argv[2])))
except LockedError:
    sys.exit(3)
"""


@pytest.mark.slow
def test_two_appenders_racing_20_times_never_lose_or_corrupt_an_episode(tmp_path):
    root = dataset(tmp_path / "data")
    tests_dir = str(Path(__file__).resolve().parents[1])
    expected = 3
    for trial in range(20):
        racers = [
            subprocess.Popen([sys.executable, "-c", APPEND, str(root), str(100 * trial + i), tests_dir])
            for i in range(2)
        ]
        codes = [racer.wait(timeout=120) for racer in racers]
        assert set(codes) <= {0, 3} and 0 in codes, codes  # one may be refused; none fails otherwise
        expected += 2 * codes.count(0)
        assert load_dataset(root).num_episodes == expected, trial
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".data.tmp") or p.name.endswith(".backup")]


def test_kill_9_of_a_writer_mid_append_leaves_a_lock_the_next_writer_takes(tmp_path):
    root = dataset(tmp_path / "data")
    holder = hold_lock(root)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    append_episodes(root, random_episodes(1))
    assert load_dataset(root).num_episodes == 4


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "dagger"])
def test_two_racing_commands_into_one_directory_20_times_leave_one_whole_run(tmp_path, small_dataset_dir, command):
    """Each race: one command writes the run, the other is refused (exit 2, LockedError) or runs after it; the run
    left has one metrics row per step (nothing interleaved), and its config and weights load together."""
    from imitlab.training.checkpoint import load_policy
    from imitlab.training.run_dir import read_metrics

    for trial in range(20):
        out = tmp_path / f"{command}-{trial}"
        if command == "train":
            args = ["train", "--policy", "bc", "--data", str(small_dataset_dir), "--out", str(out), "--steps", "20"]
        else:
            args = dagger_args(out, "--episodes-per-round", "1", "--steps", "20", "--eval-episodes", "2")
        racers = [
            subprocess.Popen(
                [sys.executable, "-m", "imitlab.cli", *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(racer.wait(timeout=300), racer.stderr.read()) for racer in racers]
        assert all(code == 0 or (code == 2 and "LockedError" in err) for code, err in results), results
        assert any(code == 0 for code, _ in results)
        run = out if command == "train" else out / "round-1"
        steps = [record["step"] for record in read_metrics(run)]
        assert steps == sorted(set(steps)) and steps[-1] == 20, (trial, steps)
        load_policy(run)
        if command == "dagger":
            rounds = (out / "rounds.jsonl").read_text().splitlines()
            assert len(rounds) == 2, (trial, rounds)  # rounds 0 and 1, none written twice
