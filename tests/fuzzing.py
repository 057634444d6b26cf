"""Damage for the fuzz tests of run directories and datasets, drawn with hypothesis: cut a file at a random
offset, flip bytes, drop a key (or column, or tensor), change a value's type (or a column's or tensor's dtype).

Profiles: ``fuzz`` (bounded, a few seconds per test, run by `make test`) and ``fuzz-long`` (the same tests with
many more examples, under `@pytest.mark.slow`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

settings.register_profile(
    "fuzz",
    max_examples=8,
    deadline=None,  # one example loads a run or a dataset: its time varies with the machine's load
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same examples on every run of `make test`
)
settings.register_profile("fuzz-long", settings.get_profile("fuzz"), max_examples=150, derandomize=False)
FUZZ = settings.get_profile("fuzz")
FUZZ_LONG = settings.get_profile("fuzz-long")

OTHER_VALUES = st.sampled_from([None, True, -1, 1.5, "x", [], {}, [1, 2]])


def damage_bytes(data: st.DataObject, blob: bytes) -> bytes:
    """``blob`` cut at a random offset, or with 1-8 bytes flipped."""
    if not blob or data.draw(st.booleans(), label="truncate"):
        return blob[: data.draw(st.integers(0, max(0, len(blob) - 1)), label="cut at")]
    out = bytearray(blob)
    for offset in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=8), label="flip at"):
        out[offset] ^= data.draw(st.integers(1, 255), label="xor")
    return bytes(out)


def damage_value(data: st.DataObject, value: Any) -> Any:
    """A copy of a JSON-like ``value`` with one nested entry dropped or replaced by a value of another type."""
    paths = list(_paths(value))
    if not paths:
        return data.draw(OTHER_VALUES, label="replaced by")
    path = data.draw(st.sampled_from(paths), label="entry")
    value = json.loads(json.dumps(value))
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans(), label="drop"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(OTHER_VALUES.filter(lambda v: type(v) is not type(parent[path[-1]])))
    return value


def _paths(value: Any, prefix: tuple = ()):
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def damage_file(data: st.DataObject, path: Path) -> str:
    """Damage ``path`` in a way that fits its kind; returns what was done (for the failure report)."""
    kind = path.suffix
    how = data.draw(st.sampled_from(["bytes", "structure"]), label=f"damage to {path.name}")
    if how == "bytes":
        path.write_bytes(damage_bytes(data, path.read_bytes()))
    elif kind == ".json":
        path.write_text(json.dumps(damage_value(data, json.loads(path.read_text()))))
    elif kind == ".jsonl":
        records = [json.loads(line) for line in path.read_text().splitlines()]
        records = damage_value(data, records)
        path.write_text("".join(json.dumps(r) + "\n" for r in records) if isinstance(records, list) else "{}")
    elif kind == ".parquet":
        table = pq.read_table(path)
        name = data.draw(st.sampled_from(table.column_names), label="column")
        if data.draw(st.booleans(), label="drop"):
            table = table.drop_columns([name])
        else:
            column = pa.array([json.dumps(v) for v in table.column(name).to_pylist()], pa.string())
            table = table.set_column(table.column_names.index(name), name, column)
        pq.write_table(table, path)
    elif kind == ".safetensors":
        tensors = load_file(path)
        name = data.draw(st.sampled_from(sorted(tensors)), label="tensor")
        change = data.draw(st.sampled_from(["drop", "dtype", "shape"]), label="change")
        if change == "drop":
            del tensors[name]
        elif change == "dtype":
            tensors[name] = tensors[name].to(data.draw(st.sampled_from([torch.float64, torch.int32, torch.bool])))
        else:
            tensors[name] = torch.zeros(tensors[name].numel() + 1)
        save_file(tensors, path)
    elif kind == ".pt":
        state = torch.load(path, weights_only=True)  # written by the test's own run
        torch.save(_damage_state(data, state), path)
    else:
        raise ValueError(f"no structural damage for {path}")
    return how


def _damage_state(data: st.DataObject, state: dict) -> dict:
    """Drop a nested entry of a resume state, or change a tensor's dtype, or a value's type."""
    path = data.draw(st.sampled_from(list(_paths(state))), label="entry")
    parent = state
    for key in path[:-1]:
        parent = parent[key]
    value = parent[path[-1]]
    change = data.draw(st.sampled_from(["drop", "retype"]), label="change")
    if change == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(value, torch.Tensor):
        parent[path[-1]] = value.to(data.draw(st.sampled_from([torch.float64, torch.int32, torch.uint8])))
    else:
        parent[path[-1]] = data.draw(OTHER_VALUES.filter(lambda v: type(v) is not type(value)))
    return state


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (and temp files beside it) with its bytes."""
    files = {}
    for base in (root, *root.parent.glob(f".{root.name}*")):
        for path in sorted(base.rglob("*")) if base.is_dir() else [base]:
            if path.is_file():
                files[str(path.relative_to(root.parent))] = path.read_bytes()
    return files


def fresh_copy(source: Path, dest: Path) -> Path:
    """A copy of the directory ``source`` at ``dest`` (replacing what was there)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    return dest
