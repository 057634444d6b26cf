"""One writer at a time per directory (a dataset, a run): an OS file lock (``fcntl.flock``) on a hidden lock file
beside the directory (``.<name>.lock``), so the directory holds only what its format says. The kernel drops the
lock when its process ends, ``kill -9`` included, so no lock goes stale; the lock file holds the holder's pid for
the message a second writer gets, and is removed when the writer finishes."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imitlab.core.errors import ImitlabError


class LockedError(ImitlabError):
    """Another process is writing the same directory."""


def lock_path(directory: Path) -> Path:
    directory = Path(directory)
    return directory.parent / f".{directory.name}.lock"


@contextmanager
def one_writer(directory: Path, what: str = "it") -> Iterator[None]:
    """Hold the write lock of ``directory`` for the block; raise ``LockedError`` naming the holder's pid when
    another process holds it. ``what`` names the directory's kind in the message ("a dataset", "a run"). The lock
    file is removed when the block ends (one a killed writer left is taken over by the next)."""
    path = lock_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"{directory} is being written by another imitlab process (pid {holder}): {what} takes one writer "
                "at a time; wait for it to finish, or write elsewhere"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder before us removed this file as it finished: lock the one now there
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks a file about to vanish
        os.close(fd)  # releases the lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
