"""The decoded frame cache: a camera's frames decoded once into a uint8 numpy memmap (N, H, W, 3), indexed by
global frame index, so that no video is decoded in the training loop.

The cache lives in ``<root>/.cache/frames/`` (or ``$IMITLAB_CACHE_DIR/<hash of root>/`` when that variable is
set, e.g. for a read-only dataset) as ``<camera>-<digest>.npy``. The digest covers the content (blake2b) of
every source file (video files, or the data parquet for dtype image), the episode lengths, the episodes'
placement in the video files and the frame shape: a file that changes, or metadata that points elsewhere, makes
a new cache, and stale ones are removed. The file is built under a temporary name and renamed when complete,
so an interrupted build is never read. Beside it, ``<camera>-<digest>.json`` lists where each episode's frames
came from (file digest, first frame in the file, length): a rebuild copies the episodes a previous cache already
holds (e.g. after ``append_episodes``, which carries the cache into the new version) and decodes only the rest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from imitlab.data.layout import DatasetError, video_file
from imitlab.data.video import decode_frames

CACHE_DIR_ENV = "IMITLAB_CACHE_DIR"


def cache_dir(root: Path) -> Path:
    base = os.environ.get(CACHE_DIR_ENV)
    if base:
        return Path(base) / hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return root / ".cache" / "frames"


def cached_frames(
    root: Path,
    info: dict,
    key: str,
    episode_lengths: np.ndarray,
    segments: dict[str, np.ndarray] | None,
) -> np.ndarray:
    """(N, H, W, 3) uint8 read-only memmap of camera ``key``, built on first use (see the module docstring).

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
    folder = cache_dir(root)
    stem = key.replace("/", "_")
    final = folder / f"{stem}-{digest.hexdigest()}.npy"
    if final.is_file():
        cached: np.ndarray = np.load(final, mmap_mode="r")
        return cached
    # Where each episode's frames come from: (source file digest, first frame in the file, length).
    origins = []
    if segments is not None:
        origins = [[file_digests[p].hex(), first, t] for (p, first, _), t in zip(plan, lengths.tolist())]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(
            f"cannot create the frame cache {folder} ({err}); set {CACHE_DIR_ENV} to a writable directory"
        ) from None
    tmp = folder / f".{stem}-{uuid.uuid4().hex[:8]}.tmp.npy"
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, height, width, 3))
        if segments is not None:
            reused = _reuse_previous(folder, stem, out, origins, plan)
            _fill_from_videos(
                out, [p for p, done in zip(plan, reused) if not done], lengths[~reused], fps, key, (height, width)
            )
        else:
            _fill_from_parquet(out, sources, key, (height, width))
        out.flush()
        del out
        final.with_suffix(".json").write_text(json.dumps({"origins": origins}))
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    for stale in [*folder.glob(f"{stem}-*.npy"), *folder.glob(f"{stem}-*.json")]:
        if stale.stem != final.stem:
            stale.unlink(missing_ok=True)
    built: np.ndarray = np.load(final, mmap_mode="r")
    return built


def carry_cache(root: Path, new_tree: Path) -> None:
    """Hard-link the frame cache of the dataset at ``root`` into ``new_tree``, its next version about to be
    swapped in, so that the next build copies the episodes it holds instead of decoding them (cache files are
    never written after they are renamed into place). Nothing to do for a cache outside ``root``."""
    folder = cache_dir(root)
    try:
        rel = folder.relative_to(root)
    except ValueError:
        return
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            dst = new_tree / rel / path.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dst)
            except OSError:  # no hard links here: the cache is rebuilt from the videos instead
                return


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
