"""Typed records on disk: a grid's results (one record per finished run), a study's side tables, failed runs.

Records are JSON lines, each stamped with ``RECORD_VERSION`` and checked against its schema (field -> type) when
read, so a study reads ints, floats, lists and dicts as they were written, never strings to re-parse. Each record
is appended in one write (``core.appendlog``): a ``kill -9`` mid-append leaves a torn last line that readers
ignore and the next append cuts off. A results file of the former CSV format (``results.csv`` beside the asked
``results.jsonl``) is converted by its schema on first read, and kept.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imitlab.core.appendlog import append_record, complete_text
from imitlab.core.errors import InvalidInputError
from imitlab.core.io import atomic_write

RECORD_VERSION = 1
VERSION_KEY = "record_version"
Schema = Mapping[str, type]  # field -> int, float, str, bool, list or dict
CSV_END = "\r\n"  # the former CSV format's row terminator


def append_row(path: Path, row: Mapping[str, Any], schema: Schema | None = None) -> None:
    """Append ``row`` as one JSON line (checked against ``schema`` when given); a finished line is never
    rewritten."""
    path = Path(path)
    if schema is not None:
        _check(row, schema, f"a record for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    append_record(path, json.dumps({VERSION_KEY: RECORD_VERSION, **row}) + "\n")


def read_rows(path: Path, schema: Schema | None = None) -> list[dict[str, Any]]:
    """The finished records of ``path`` (a last line a kill cut short is not one: its run is redone), each
    checked against ``schema`` when given. With no ``path`` but a former ``.csv`` of the same name, that file's
    rows converted by ``schema``."""
    path = Path(path)
    legacy = path.with_suffix(".csv")
    if not path.is_file() and schema is not None and legacy.is_file():
        return _migrate(legacy, path, schema)
    rows = []
    for number, line in enumerate(complete_text(path).splitlines(), start=1):
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{where} is not a JSON record: {err}") from err
        if not isinstance(record, dict) or record.pop(VERSION_KEY, None) != RECORD_VERSION:
            raise InvalidInputError(
                f"{where} is not a record of version {RECORD_VERSION} (written by another imitlab version); "
                "move the file away to run its grid again"
            )
        if schema is not None:
            _check(record, schema, where)
        rows.append(record)
    return rows


def _check(row: Mapping[str, Any], schema: Schema, where: str) -> None:
    """Every schema field present with its type (an int where a float is asked is a float)."""
    missing = [key for key in schema if key not in row]
    if missing:
        raise InvalidInputError(f"{where} has no field {', '.join(missing)}")
    for key, kind in schema.items():
        value = row[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise InvalidInputError(f"{where}: {key} must be {kind.__name__}, got {value!r}")


def _migrate(legacy: Path, path: Path, schema: Schema) -> list[dict[str, Any]]:
    """The former CSV file's finished rows, typed by ``schema``, written to ``path`` (atomically) and returned."""
    text = complete_text(legacy, CSV_END)
    rows = [{key: _typed(row.get(key, ""), kind) for key, kind in schema.items()} for row in _csv_rows(text)]
    text = "".join(json.dumps({VERSION_KEY: RECORD_VERSION, **row}) + "\n" for row in rows)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text), size=len(text.encode()))
    return rows


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _typed(cell: str, kind: type) -> Any:
    """A former CSV cell as ``kind``: dicts were JSON text, lists (per-episode outcomes) strings of 0s and 1s."""
    if kind is dict:
        return json.loads(cell or "{}")
    if kind is list:
        return [c == "1" for c in cell]
    if kind is bool:
        return cell == "True"
    return kind(cell)
