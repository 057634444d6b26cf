"""File helpers every layer uses: atomic writes (temp file + rename) and the JSON-object reader whose errors name
the file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imitlab.core.diskspace import bytes_under, reporting_full_disk
from imitlab.core.errors import ImitlabError


class JsonFileError(ImitlabError):
    """A JSON file that is missing, is not valid JSON, or does not hold an object; the message names the file."""


def atomic_write(path: Path, write: Callable[[str], object], size: int | None = None) -> None:
    """Call write(tmp_path) on a temp file beside ``path``, then rename it over ``path``: a crash leaves either the
    old file or the new one, never half of it. A full disk is a ``DiskFullError`` naming ``path`` and ``size``
    (the bytes the write needs, where the caller knows them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with reporting_full_disk(path, size, lambda: bytes_under(Path(tmp))):
            write(tmp)
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any], indent: int = 2) -> None:
    """Write ``data`` to ``path`` as UTF-8 JSON, atomically."""
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), size=len(text.encode()))


def read_json_object(path: Path, what: str, error: type[ImitlabError] = JsonFileError) -> dict[str, Any]:
    """The JSON object stored in ``path``, which should be ``what`` (e.g. "the dataset's info"; said when the file
    is missing). Raises ``error`` (a caller's own ``ImitlabError`` subclass, ``JsonFileError`` by default) naming
    the file when it is missing, is not valid UTF-8 JSON, or holds something other than an object."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} is missing: expected {what}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise error(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data
