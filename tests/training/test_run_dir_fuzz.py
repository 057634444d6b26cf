"""Damaged run directories (hypothesis): loading a policy or resuming training either works or raises an
ImitlabError naming the file, never another exception, and a failed resume leaves the directory as it was."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import random_episodes
from fuzzing import FUZZ, FUZZ_LONG, damage_file, fresh_copy, snapshot
from imitlab.core.errors import ImitlabError
from imitlab.data.writer import write_dataset
from imitlab.training.checkpoint import load_policy
from imitlab.training.train import train_policy

RUN_FILES = ["config.json", "model.safetensors", "train_state.pt", "metrics.jsonl"]
TINY = {"steps": 4, "batch_size": 8, "save_every": 2, "log_every": 1, "warmup_steps": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-step chunked-bc run with EMA (every kind of resume state) and its dataset."""
    base = tmp_path_factory.mktemp("fuzz-run")
    data = base / "data"
    write_dataset(data, random_episodes(3), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    train_policy("chunked-bc", data, base / "run", {"horizon": 4}, {**TINY, "ema_decay": 0.9}, progress=False)
    return data, base / "run"


def check_damaged_run(trained, name, data):
    dataset, source = trained
    with tempfile.TemporaryDirectory() as tmp:
        run = fresh_copy(source, Path(tmp) / "run")
        damage_file(data, run / name)
        before = snapshot(run)
        try:
            load_policy(run)
        except ImitlabError as err:
            assert str(run) in str(err)
        try:
            train_policy("chunked-bc", dataset, run, resume=True, progress=False)
        except ImitlabError as err:
            assert str(run) in str(err)
            assert snapshot(run) == before  # nothing written, no temp file left


@pytest.mark.parametrize("name", RUN_FILES)
@FUZZ
@given(data=st.data())
def test_a_damaged_run_file_loads_or_raises_an_imitlab_error_and_the_run_is_left_unchanged(trained, name, data):
    check_damaged_run(trained, name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN_FILES)
@FUZZ_LONG
@given(data=st.data())
def test_a_damaged_run_file_loads_or_raises_an_imitlab_error_long(trained, name, data):
    check_damaged_run(trained, name, data)
