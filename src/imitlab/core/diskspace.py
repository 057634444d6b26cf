"""A full disk reported as one line that names the path being written, the bytes it needs and the bytes free,
instead of an ``OSError`` traceback from deep inside a writer. Writers wrap their write in
:func:`reporting_full_disk`; what they wrote before is kept, because they write beside it and rename last."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from imitlab.core.errors import ImitlabError


class DiskFullError(ImitlabError):
    """No space left on the device while writing a path; the message names it, the bytes needed and free."""


def bytes_under(path: Path) -> int:
    """The size of the file ``path``, or of every file under the directory ``path`` (0 if it is gone)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def free_bytes(path: Path) -> int:
    """Bytes free on the device holding ``path`` (or its nearest existing ancestor)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


@contextmanager
def reporting_full_disk(target: Path, needed: int | None, written: Callable[[], int]) -> Iterator[None]:
    """Turn an ENOSPC raised inside the block into a :class:`DiskFullError` about writing ``target``. ``needed`` is
    the size of the whole write when the writer knows it (JSON text, a checkpoint's tensors); otherwise the message
    gives ``written()``, the bytes staged before the disk filled, as the least it needs."""
    try:
        yield
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        so_far = written()
        need = f"about {needed:,} bytes" if needed is not None else f"more than the {so_far:,} bytes it had written"
        raise DiskFullError(
            f"no space left on the device while writing {target}: it needs {need} and {free_bytes(target):,} are "
            "free there; what was written before is kept"
        ) from err
