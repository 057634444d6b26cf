"""`imitlab import` of the PushT demonstrations with their images (``--image-key img``): time and peak memory of
the import, size of the video, time to build the frame cache, and how far the frames decoded from the video are
from the recorded ones. Prints the lines docs/pusht.md quotes.

    python benchmarks/pusht_import_images.py [--zarr ../shared/data/pusht/pusht_cchi_v7_replay.zarr] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from imitlab.data.importers import READERS, import_dataset
from imitlab.data.reader import load_dataset

DEFAULT_ZARR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def peak_rss_kib() -> int:
    """This process's own peak resident set (VmHWM; ru_maxrss would also count what ran before an exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zarr", type=Path, default=DEFAULT_ZARR)
    parser.add_argument("--out", type=Path, help="where to write the dataset (default: a temporary directory)")
    args = parser.parse_args()
    if not args.zarr.is_dir():
        print(f"skipped: PushT demonstrations not found at {args.zarr} (pass --zarr)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "pusht"
        wall, cpu = time.perf_counter(), time.process_time()
        ds = import_dataset(args.zarr, out, env="pusht", image_keys=["img"], overwrite=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rss_gb = peak_rss_kib() / 2**20
        (camera,) = ds.camera_keys
        video_mb = sum(f.stat().st_size for f in (out / "videos").rglob("*.mp4")) / 2**20
        print(
            f"import: {ds.num_episodes} episodes, {ds.num_frames} frames, camera {camera}; {wall:.0f} s wall-clock, "
            f"{cpu:.0f} s CPU, peak RSS {rss_gb:.2f} GB; video {video_mb:.1f} MB"
        )
        loaded = load_dataset(out)
        start = time.perf_counter()
        frames = loaded.frames(camera)
        print(f"frame cache of {frames.shape} built in {time.perf_counter() - start:.0f} s")
        store = READERS["diffusion-policy-zarr"](args.zarr)
        first = np.arange(loaded.num_frames) == loaded.episode_starts[loaded.episode_index]
        total, off, first_error = 0.0, 0, []
        for s in range(0, loaded.num_frames, 2000):  # the recorded float32 frames are 2.8 GB: compare in blocks
            e = min(s + 2000, loaded.num_frames)
            diff = np.abs(frames[s:e].astype(np.float32) - store.rows("img", s, e))
            total += float(diff.sum())
            off += int((diff.max(axis=-1) > 32).sum())
            first_error.append(diff.mean(axis=(1, 2, 3))[first[s:e]])
        first_error = np.concatenate(first_error)
        print(
            f"decoded vs recorded (0-255): mean abs error {total / frames.size:.3f}; pixels off by > 32: "
            f"{off / (frames.size / 3):.2%}; an episode's first frame: mean {first_error.mean():.2f}, worst "
            f"{first_error.max():.2f}"
        )


if __name__ == "__main__":
    main()
