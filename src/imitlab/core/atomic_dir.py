"""Crash-safe replacement of a directory: a new version is built beside the old one and renamed into place,
so a crash leaves either the old or the new tree complete; an interrupted swap is finished on the next read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def backup_path(root: Path) -> Path:
    return root.parent / f".{root.name}.backup"


def _rename(src: Path, dst: Path) -> None:
    """One atomic rename (a seam for tests that simulate a crash)."""
    os.rename(src, dst)


def publish(tmp: Path, root: Path) -> None:
    """Swap the complete directory ``tmp`` in as ``root``: root -> backup, tmp -> root, drop backup."""
    backup = backup_path(root)
    if backup.exists():  # root exists here (recovered before): the backup is a stale leftover
        shutil.rmtree(backup)
    had_old = root.exists()
    if had_old:
        _rename(root, backup)
    try:
        _rename(tmp, root)
    except Exception:
        if had_old and not root.exists():
            _rename(backup, root)  # roll back to the old version
        raise
    fsync_dir(root.parent)
    if had_old:
        shutil.rmtree(backup, ignore_errors=True)


def recover_interrupted_swap(root: Path) -> None:
    """If a swap stopped between its two renames (root gone, backup present), put the old version back."""
    backup = backup_path(root)
    if not root.exists() and backup.is_dir():
        _rename(backup, root)
        fsync_dir(root.parent)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))
