"""How far gym-pusht's image observation of a recorded PushT state is from the image the Diffusion Policy
demonstrations recorded in that state (``data/img``): place each sampled frame's recorded state (exactly, and in
gym-pusht's ``reset_to_state`` order), render it with ``PushTEnv.render_pixels`` (the camera of ``pusht-pixels``)
and compare with the recorded frame. A policy trained on the recorded images and evaluated on the renders sees
this difference as a shift. Prints a markdown table for docs/pusht.md.

    python benchmarks/pusht_render.py [--zarr ../shared/data/pusht/pusht_cchi_v7_replay.zarr] [--frames 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from imitlab.data.importers import READERS
from imitlab.envs.pusht import PushTEnv

DEFAULT_ZARR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zarr", type=Path, default=DEFAULT_ZARR)
    parser.add_argument("--frames", type=int, default=1000, help="frames compared, evenly spaced over the data")
    args = parser.parse_args()
    if not args.zarr.is_dir():
        print(f"skipped: PushT demonstrations not found at {args.zarr} (pass --zarr)")
        return
    store = READERS["diffusion-policy-zarr"](args.zarr)
    n_total = int(store.episode_ends[-1])
    frames = np.unique(np.linspace(0, n_total - 1, args.frames).astype(np.int64))
    state = store.load("state")[frames]
    recorded = np.concatenate([store.rows("img", int(i), int(i) + 1) for i in tqdm(frames, desc="read img")])
    env = PushTEnv(observation="agent_pos")
    print(
        f"{len(frames)} frames, evenly spaced over the {n_total} recorded; error = |render - recorded| per pixel "
        "and channel, in 0-255 units\n"
    )
    print(
        "| first state placed | mean abs error | median frame | 99th pct frame | worst frame | pixels differing "
        "| pixels off by > 32 |"
    )
    print("|---|---|---|---|---|---|---|")
    for legacy, label in ((False, "exactly (ours)"), (True, "gym-pusht `reset_to_state` order")):
        error = np.empty((len(frames), *recorded.shape[1:]))
        for j, s in enumerate(tqdm(state, desc=label)):
            env.reset(options={"state": s, "legacy": legacy})
            error[j] = np.abs(env.render_pixels().astype(np.float64) - recorded[j])
        per_frame = error.mean(axis=(1, 2, 3))
        pixel = error.max(axis=-1)  # (F, H, W): worst channel of each pixel
        print(
            f"| {label} | {error.mean():.3f} | {np.median(per_frame):.3f} | {np.percentile(per_frame, 99):.3f} | "
            f"{per_frame.max():.3f} | {(pixel > 0).mean():.2%} | {(pixel > 32).mean():.3%} |"
        )
    env.close()


if __name__ == "__main__":
    main()
