"""Damaged datasets (hypothesis): loading either works or raises a DatasetError, never another exception, and
an append to a damaged dataset that fails leaves the directory as it was, with no temp directory beside it."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import random_episodes
from fuzzing import FUZZ, FUZZ_LONG, damage_file, fresh_copy, snapshot
from imitlab.data.layout import DATA_PATH, EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH, DatasetError
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes, write_dataset

FIRST = {"chunk_index": 0, "file_index": 0}
DATASET_FILES = [INFO_PATH, STATS_PATH, TASKS_PATH, EPISODES_PATH.format(**FIRST), DATA_PATH.format(**FIRST)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-data") / "data"
    write_dataset(root, random_episodes(3), fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"])
    return root


def check_damaged_dataset(written, name, data):
    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_copy(written, Path(tmp) / "data")
        damage_file(data, root / name)
        try:
            load_dataset(root)
        except DatasetError as err:
            assert str(root) in str(err)
        before = snapshot(root)
        try:
            append_episodes(root, random_episodes(1, seed=1))
        except DatasetError:
            assert snapshot(root) == before  # the damaged dataset as it was, no temp directory left


@pytest.mark.parametrize("name", DATASET_FILES)
@FUZZ
@given(data=st.data())
def test_a_damaged_dataset_file_loads_or_raises_a_dataset_error_and_a_failed_append_changes_nothing(
    written, name, data
):
    check_damaged_dataset(written, name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", DATASET_FILES)
@FUZZ_LONG
@given(data=st.data())
def test_a_damaged_dataset_file_loads_or_raises_a_dataset_error_long(written, name, data):
    check_damaged_dataset(written, name, data)
