"""A run directory's bookkeeping, shared by `imitlab train` and `imitlab rl`: the metrics log (``metrics.jsonl``:
append, truncate on resume, read) and the resume state (``train_state.pt``: written atomically, read with
``torch.load(weights_only=True)``, so a crafted file cannot run code). Damage is one CheckpointError naming the
file; nothing is written before a read has succeeded."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from imitlab.core.appendlog import append_record, complete_text
from imitlab.core.io import atomic_write
from imitlab.training.checkpoint import TRAIN_STATE_FILE, CheckpointError, first_line

METRICS_FILE = "metrics.jsonl"


def remove_stale_temps(run_dir: Path) -> None:
    """Delete the temp files a killed process left behind mid-``atomic_write`` (``.NAME.*.tmp``); call it before
    this process writes anything to ``run_dir`` (one writer per run directory)."""
    for path in Path(run_dir).glob(".*.tmp"):
        path.unlink(missing_ok=True)


# -- metrics.jsonl ----------------------------------------------------------------------------------------------
def start_metrics(run_dir: Path) -> None:
    """A fresh run starts with no metrics log."""
    (Path(run_dir) / METRICS_FILE).unlink(missing_ok=True)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one record (a JSON object with an integer ``step``) as one line."""
    append_record(Path(run_dir) / METRICS_FILE, json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of a run's metrics.jsonl, in order ([] when there is none). A last line a kill cut short is
    not a record: the step it logged comes after the last checkpoint, and is logged again on resume."""
    path = Path(run_dir) / METRICS_FILE
    try:
        text = complete_text(path)
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} cannot be read as text: {err}") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{path} line {number} is not valid JSON: {err}") from None
        if not isinstance(record, dict) or type(record.get("step")) is not int:
            raise CheckpointError(f"{path} line {number} must be a JSON object with an integer 'step': {line[:80]}")
        records.append(record)
    return records


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop the records logged after ``step`` (the checkpoint a run resumes from): they will be logged again."""
    kept = [record for record in read_metrics(run_dir) if record["step"] <= step]
    text = "".join(json.dumps(r) + "\n" for r in kept)
    atomic_write(Path(run_dir) / METRICS_FILE, lambda tmp: Path(tmp).write_text(text), size=len(text.encode()))


# -- train_state.pt ---------------------------------------------------------------------------------------------
def save_train_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write the resume state atomically. It must hold only what ``weights_only`` loading accepts: tensors,
    numbers, strings, None and lists/tuples/dicts of them (random-generator states as tensors or JSON text)."""
    atomic_write(Path(run_dir) / TRAIN_STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_train_state(
    run_dir: Path, keys: Iterable[str], map_location: torch.device | str | None = None
) -> dict[str, Any]:
    """The resume state of ``run_dir``, holding at least ``keys``. Read without unpickling arbitrary objects: a
    crafted or damaged file is a CheckpointError and nothing in it runs."""
    path = Path(run_dir) / TRAIN_STATE_FILE
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} was refused: it holds objects other than tensors and plain data (loading them could run "
            "code), or it is damaged; nothing in it was run. Delete it to start the run afresh"
        ) from None
    except Exception as err:  # torch raises many types on damaged input (zip, pickle, storage errors)
        raise CheckpointError(
            f"{path} could not be loaded as a resume state ({type(err).__name__}: {first_line(err)}); "
            "it is damaged or was not written by imitlab: delete it to start the run afresh"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} must hold a dict of resume state, found {type(state).__name__}")
    missing = [key for key in keys if key not in state]
    if missing:
        raise CheckpointError(f"{path} has no {', '.join(map(repr, missing))} (found: {', '.join(map(str, state))})")
    return state
