"""Append-only logs (``metrics.jsonl``, a study's ``results.jsonl``, DAgger's ``rounds.jsonl``) that survive a
``kill -9`` in the middle of an append: each record goes out in one write, ending with its terminator; a last
record a kill cut short (no terminator) is ignored by readers and cut off before the next append, so the work it
recorded is simply redone and logged again."""

from __future__ import annotations

import os
from pathlib import Path


def complete_text(path: Path, terminator: str = "\n") -> str:
    """The text of ``path`` up to and including its last ``terminator`` ("" when there is no file). Raises
    UnicodeDecodeError when that text is not UTF-8."""
    return _complete_bytes(Path(path), terminator.encode()).decode("utf-8")


def append_record(path: Path, record: str, terminator: str = "\n") -> None:
    """Append ``record`` (which ends with ``terminator``) in one write, first cutting off a torn last record."""
    path = Path(path)
    if not record.endswith(terminator):
        raise ValueError(f"a record must end with {terminator!r}, got {record[-20:]!r}")
    end = terminator.encode()
    with open(path, "ab+") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(max(0, size - len(end)))
            if f.read() != end:
                f.truncate(len(_complete_bytes(path, end)))
        f.write(record.encode("utf-8"))


def _complete_bytes(path: Path, terminator: bytes) -> bytes:
    if not path.is_file():
        return b""
    raw = path.read_bytes()
    end = raw.rfind(terminator)
    return raw[: end + len(terminator)] if end >= 0 else b""
