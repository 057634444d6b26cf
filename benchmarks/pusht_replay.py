"""Open-loop replay of the PushT human demonstrations in our env: how far the block strays from its recorded
trajectory when the first recorded state is placed exactly (our reset) vs in gym-pusht's order (position,
then angle). Prints a markdown table for docs/pusht.md, then how well the state determines the recorded block
keypoints (``block_keypoints``, the observation of ``pusht-keypoints``) and how much of the data lies near the
angle's wrap from 2pi to 0.

    python benchmarks/pusht_replay.py [--zarr ../shared/data/pusht/pusht_cchi_v7_replay.zarr] [--episodes N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from imitlab.data.importers import READERS, read_episodes
from imitlab.envs.pusht import block_keypoints, replay_episode

DEFAULT_ZARR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zarr", type=Path, default=DEFAULT_ZARR)
    parser.add_argument("--episodes", type=int, help="replay only the first N episodes (default: all)")
    args = parser.parse_args()
    if not args.zarr.is_dir():
        print(f"skipped: PushT demonstrations not found at {args.zarr} (pass --zarr)")
        return
    store = READERS["diffusion-policy-zarr"](args.zarr)
    n = len(store.episode_ends) if args.episodes is None else args.episodes
    episodes = read_episodes(store, ["state"], "action", range(n))
    rows = {}
    for legacy in (False, True):
        pos, ang = [], []
        for ep in tqdm(episodes, desc="legacy reset" if legacy else "exact reset"):
            seen = replay_episode(ep.observation, ep.action, legacy=legacy).astype(np.float64)
            rec = ep.observation.astype(np.float64)
            pos.append(np.linalg.norm(seen[:, 2:4] - rec[:, 2:4], axis=1).max())
            d = np.abs(seen[:, 4] - rec[:, 4]) % (2 * np.pi)
            ang.append(np.degrees(np.minimum(d, 2 * np.pi - d)).max())
        rows[legacy] = np.array(pos), np.array(ang)
    print(
        f"{n} episodes, {sum(len(ep) for ep in episodes)} frames; per episode: max over its steps of the "
        "block's deviation from the recording\n"
    )
    print("| first state placed | median px | 95th pct px | max px | episodes > 1 px | max angle deg |")
    print("|---|---|---|---|---|---|")
    for legacy, label in (
        (False, "exactly (ours: angle, then position)"),
        (True, "gym-pusht `reset_to_state` order (position, then angle)"),
    ):
        pos, ang = rows[legacy]
        print(
            f"| {label} | {np.median(pos):.3g} | {np.percentile(pos, 95):.3g} | {pos.max():.3g} | "
            f"{int((pos > 1).sum())}/{n} | {ang.max():.3g} |"
        )

    state, recorded = store.load("state"), store.load("keypoint")
    error = np.linalg.norm(block_keypoints(state) - recorded, axis=-1).max(axis=1)  # worst keypoint per frame
    angle = np.mod(state[:, 4], 2 * np.pi)
    near_wrap = np.minimum(angle, 2 * np.pi - angle) < np.radians(30)
    print(
        f"\nkeypoints from the state vs recorded, worst of 9 per frame ({len(state)} frames): median "
        f"{np.median(error):.3g} px, 99.9th pct {np.quantile(error, 0.999):.3g} px, max {error.max():.3g} px, "
        f"{int((error > 0.5).sum())} frames > 0.5 px; block angle within 30 deg of the wrap at 0 = 2pi: "
        f"{near_wrap.mean():.0%} of frames"
    )


if __name__ == "__main__":
    main()
