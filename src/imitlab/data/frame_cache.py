"""The decoded frame cache: a camera's frames decoded once into a uint8 numpy array file (N, H, W, 3), read as a
memmap indexed by global frame index, so that no video is decoded in the training loop.

The cache lives outside the dataset, so a dataset directory holds exactly what LeRobot wrote: under
``$IMITLAB_CACHE_DIR`` (``imitlab --cache-dir DIR``) or the user cache directory (``$XDG_CACHE_HOME/imitlab``,
``~/.cache/imitlab``), in ``frames/<camera>-<digest>.npy``. The digest covers the content (blake2b) of every
source file (video files, or the data parquet for dtype image), the episode lengths, the episodes' placement in
the video files and the frame shape: a changed file or metadata pointing elsewhere makes a new cache, and the
dataset's stale ones are removed. Beside each cache, ``<camera>-<digest>.json`` records the shape, the blake2b of
the cache file itself, the dataset it was built for and where each episode's frames came from; the cache is
checked against it on every open, and a cache that differs (damaged, truncated, replaced) is rebuilt, never
trained on. A build writes a pre-allocated temporary file (a full disk is an error naming the bytes needed, not
a crash) and renames it when complete; a rebuild copies the episodes an earlier cache holds (e.g. after
``append_episodes``) and decodes only the rest.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from imitlab.core.diskspace import DiskFullError, free_bytes
from imitlab.data.layout import DatasetError, video_file
from imitlab.data.video import decode_frames

CACHE_DIR_ENV = "IMITLAB_CACHE_DIR"
HASH_CHUNK = 1 << 24  # bytes read at a time when hashing a cache file


def cache_root() -> Path:
    """``$IMITLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/imitlab``, else ``~/.cache/imitlab``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imitlab"


def cache_dir() -> Path:
    """Where frame caches live: ``frames/`` under ``cache_root()``; a link out of the cache root is refused."""
    root = cache_root()
    folder = root / "frames"
    if folder.exists() and not folder.resolve().is_relative_to(root.resolve()):
        raise DatasetError(f"the frame cache {folder} is a link out of {root} (to {folder.resolve()}); remove it")
    return folder


def cached_frames(
    root: Path,
    info: dict,
    key: str,
    episode_lengths: np.ndarray,
    segments: dict[str, np.ndarray] | None,
) -> np.ndarray:
    """(N, H, W, 3) uint8 read-only memmap of camera ``key``, built on first use and checked on every open (see
    the module docstring).

    ``segments``: the video camera's per-episode chunk_index, file_index, from_timestamp, to_timestamp (E,);
    None for a camera of dtype image (frames decoded from the data parquet).
    """
    feature = info["features"][key]
    height, width = (int(x) for x in feature["shape"][:2])
    fps = float(info["fps"])
    lengths = np.asarray(episode_lengths, dtype=np.int64)
    n = int(lengths.sum())
    if segments is not None:
        plan = _video_plan(root, info, key, lengths, segments, fps)
        sources = sorted({path for path, _, _ in plan})
    else:
        sources = sorted(root.glob("data/*/*.parquet"))
    file_digests = {path: _file_digest(path) for path in sources}
    digest = hashlib.blake2b(digest_size=10)
    digest.update(json.dumps([key, height, width, lengths.tolist(), _segments_json(segments)]).encode())
    for path in sources:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(file_digests[path])
    folder = cache_dir()
    stem = key.replace("/", "_")
    final = folder / f"{stem}-{digest.hexdigest()}.npy"
    shape = (n, height, width, 3)
    if final.is_file():
        problem = _check(final, shape)
        if problem is None:
            cached: np.ndarray = np.load(final, mmap_mode="r")
            return cached
        print(f"frame cache {final} {problem}: rebuilding it from the dataset's videos", file=sys.stderr)
        final.unlink(missing_ok=True)
    # Where each episode's frames come from: (source file digest, first frame in the file, length).
    origins = []
    if segments is not None:
        origins = [[file_digests[p].hex(), first, t] for (p, first, _), t in zip(plan, lengths.tolist())]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(
            f"cannot create the frame cache {folder} ({err}); set {CACHE_DIR_ENV} (or --cache-dir) to a writable "
            "directory"
        ) from None
    for leftover in folder.glob(".*.tmp.npy"):  # a build that was killed; none runs now (one writer per cache)
        leftover.unlink(missing_ok=True)
    tmp = folder / f".{stem}-{uuid.uuid4().hex[:8]}.tmp.npy"
    try:
        out = _preallocated(tmp, shape)
        if segments is not None:
            reused = _reuse_previous(folder, stem, out, origins, plan)
            _fill_from_videos(
                out, [p for p, done in zip(plan, reused) if not done], lengths[~reused], fps, key, (height, width)
            )
        else:
            _fill_from_parquet(out, sources, key, (height, width))
        out.flush()
        del out
        record = {
            "shape": list(shape),
            "blake2b": _content_digest(tmp),
            "dataset": str(root.resolve()),
            "origins": origins,
        }
        final.with_suffix(".json").write_text(json.dumps(record))
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _remove_stale(folder, stem, final, root)
    built: np.ndarray = np.load(final, mmap_mode="r")
    return built


def _preallocated(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A writable memmap of ``shape`` uint8 at ``path`` whose blocks are allocated first: a full disk is a
    DiskFullError naming the bytes needed here, never a SIGBUS when a page is first written."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    size = out.offset + out.nbytes
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        del out
        path.unlink(missing_ok=True)
        if err.errno != errno.ENOSPC:
            raise
        raise DiskFullError(
            f"no space left on the device for the frame cache {path}: it needs {size:,} bytes and "
            f"{free_bytes(path.parent):,} are free there"
        ) from None
    finally:
        os.close(fd)
    return out


def _check(path: Path, shape: tuple[int, ...]) -> str | None:
    """Why the cache at ``path`` cannot be used for ``shape`` (its record missing or different, its content not
    what was built), or None."""
    try:
        record = json.loads(path.with_suffix(".json").read_text())
        found = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as err:
        return f"cannot be read ({err})"
    if not isinstance(record, dict) or record.get("shape") != list(shape) or found.shape != shape:
        return f"holds shape {found.shape}, expected {shape}"
    if record.get("blake2b") != _content_digest(path):
        return "is not the file that was built (its content hash differs)"
    return None


def _content_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_stale(folder: Path, stem: str, final: Path, root: Path) -> None:
    """The dataset's earlier caches of this camera (built for the same directory, from other content)."""
    for manifest in folder.glob(f"{stem}-*.json"):
        if manifest.stem == final.stem:
            continue
        try:
            built_for = json.loads(manifest.read_text()).get("dataset")
        except (OSError, ValueError, AttributeError):
            continue
        if built_for == str(root.resolve()):
            manifest.with_suffix(".npy").unlink(missing_ok=True)
            manifest.unlink(missing_ok=True)


def _reuse_previous(folder: Path, stem: str, out: np.ndarray, origins: list, plan: list) -> np.ndarray:
    """Copy into ``out`` every episode that a previous cache of this camera holds (same file digest, first
    frame and length); returns (E,) bool, True where copied."""
    reused = np.zeros(len(origins), dtype=bool)
    for manifest in folder.glob(f"{stem}-*.json"):
        old_path = manifest.with_suffix(".npy")
        try:
            old_origins = json.loads(manifest.read_text())["origins"]
            old = np.load(old_path, mmap_mode="r")
        except (OSError, ValueError, KeyError):
            continue
        if old.shape[1:] != out.shape[1:]:
            continue
        starts = np.cumsum([o[2] for o in old_origins]) - [o[2] for o in old_origins]
        where = {tuple(o): int(g) for o, g in zip(old_origins, starts)}
        for e, (origin, (_, _, g0)) in enumerate(zip(origins, plan)):
            g_old = where.get(tuple(origin))
            if not reused[e] and g_old is not None:
                out[g0 : g0 + origin[2]] = old[g_old : g_old + origin[2]]
                reused[e] = True
    return reused


def _segments_json(segments: dict[str, np.ndarray] | None) -> dict | None:
    return None if segments is None else {k: np.asarray(v).tolist() for k, v in sorted(segments.items())}


def _file_digest(path: Path) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(path.stat().st_size).encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def _video_plan(
    root: Path, info: dict, key: str, lengths: np.ndarray, segments: dict[str, np.ndarray], fps: float
) -> list[tuple[Path, int, int]]:
    """Per episode: (video file, first frame in the file, first global frame)."""
    plan = []
    starts = np.cumsum(lengths) - lengths
    for e in range(len(lengths)):
        path = video_file(root, info, key, segments["chunk_index"][e], segments["file_index"][e])
        first = int(round(float(segments["from_timestamp"][e]) * fps))
        plan.append((path, first, int(starts[e])))
    return plan


def _fill_from_videos(
    out: np.ndarray,
    plan: list[tuple[Path, int, int]],
    lengths: np.ndarray,
    fps: float,
    key: str,
    shape: tuple[int, int],
) -> None:
    """Decode each video file of ``plan`` (the episodes to decode, with their ``lengths``) once, writing every
    frame an episode uses to its global index."""
    by_file: dict[Path, list[tuple[int, int, int]]] = {}
    for (path, first, g0), length in zip(plan, np.asarray(lengths).tolist()):
        by_file.setdefault(path, []).append((first, g0, length))
    for path, parts in by_file.items():
        needed = max(first + length for first, _, length in parts)
        target = np.full(needed, -1, dtype=np.int64)  # frame in file -> global index (-1: unused)
        for first, g0, length in parts:
            target[first : first + length] = np.arange(g0, g0 + length)
        written = 0
        for index, rgb in decode_frames(path, fps):
            if index >= needed:
                break
            if index < 0 or target[index] < 0:
                continue
            if rgb.shape[:2] != shape:
                raise DatasetError(
                    f"{path} has {rgb.shape[0]}x{rgb.shape[1]} frames, but meta/info.json feature '{key}' "
                    f"declares shape {[*shape, 3]}"
                )
            out[target[index]] = rgb
            target[index] = -1
            written += 1
        want = int(sum(length for _, _, length in parts))
        if written != want:
            raise DatasetError(
                f"{path} holds fewer frames than the episodes metadata of camera '{key}' places in it: decoded "
                f"{written} of the {want} frames needed (up to frame {needed - 1}); truncated video?"
            )


def _fill_from_parquet(out: np.ndarray, paths: list[Path], key: str, shape: tuple[int, int]) -> None:
    """dtype image: each row holds an encoded image ({bytes, path} struct, as HF datasets' Image stores it)."""
    from PIL import Image

    for path in paths:
        table = pq.read_table(path, columns=[key, "index"])
        index = table.column("index").to_numpy()
        for row, cell in zip(index.tolist(), table.column(key).to_pylist()):
            data = cell.get("bytes") if isinstance(cell, dict) else None
            if not data:
                raise DatasetError(f"{path} column '{key}' row with index {row} holds no image bytes")
            try:
                rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            except OSError as err:
                raise DatasetError(f"{path} column '{key}' index {row} is not a readable image: {err}") from None
            if rgb.shape[:2] != shape:
                raise DatasetError(
                    f"{path} column '{key}' index {row} is {rgb.shape[0]}x{rgb.shape[1]}, but meta/info.json "
                    f"declares shape {[*shape, 3]}"
                )
            out[row] = rgb
