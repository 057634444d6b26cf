"""Cost of the envs' cameras (``render_cameras`` of a batched env, per frame) and how well ``two-path-pixels``
shows where the robot is: the error of ``locate_agent`` on random positions, its image-reading expert against
the state expert on the same seeds, and what a dataset's lossy video (as ``imitlab collect`` writes it, and with
other encodings) does to the frames.
Prints markdown tables for docs/environments.md.

    python benchmarks/camera_envs.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

from imitlab.core.seeds import collection_seeds
from imitlab.data.model import Episode
from imitlab.data.reader import load_dataset
from imitlab.data.video import VideoEncoding
from imitlab.data.writer import write_dataset
from imitlab.envs import get_env_spec
from imitlab.envs.rollout import rollout, run_episodes
from imitlab.envs.two_path import BatchedTwoPath, TwoPathExpert, detour_side
from imitlab.envs.two_path_pixels import CAMERA, PIXEL, locate_agent, render_top

SEEDS = 1_000_000_000 + np.arange(200)  # the seeds docs/environments.md measures the experts on


def render_ms(env_name: str, batch: int, repeats: int) -> float:
    """Milliseconds per frame of ``render_cameras`` on a batched env of ``batch`` sub-envs after a reset."""
    env = get_env_spec(env_name).make_vector(batch)
    env.reset(seed=list(range(100_000, 100_000 + batch)))
    env.render_cameras()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        env.render_cameras()
    env.close()
    return (time.perf_counter() - start) / (repeats * batch) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    envs = ["two-path-pixels"] + (["pusht-pixels"] if importlib.util.find_spec("gym_pusht") else [])
    print("| env | camera | batch | ms per frame |\n|---|---|---|---|")
    for name in envs:
        (camera, (h, w)), *_ = get_env_spec(name).cameras.items()
        for batch in (1, 100):
            print(f"| {name} | {camera} {h}x{w} | {batch} | {render_ms(name, batch, args.repeats):.3f} |")

    pos = np.random.default_rng(0).uniform(-1.4, 1.4, size=(2000, 2))
    error = np.linalg.norm(locate_agent(render_top(pos)) - pos, axis=1) / PIXEL
    print(
        f"\nlocate_agent on 2000 uniform positions in [-1.4, 1.4]^2: error median {np.median(error):.3f} px, "
        f"max {error.max():.3f} px (1 px = {PIXEL:.4f})"
    )

    spec = get_env_spec("two-path-pixels")
    pixel_expert = spec.make_expert()
    pixels = run_episodes(spec, pixel_expert, SEEDS, record_state=True)
    state = rollout(BatchedTwoPath(len(SEEDS)), TwoPathExpert(), SEEDS, spec.max_steps)
    sides = np.array([detour_side(pixels.state[i, : pixels.lengths[i], :2]) for i in range(len(SEEDS))])
    print(
        f"\n| expert ({len(SEEDS)} seeds) | success | detour = its mode | right detours | mean length |\n"
        "|---|---|---|---|---|\n"
        f"| TwoPathPixelsExpert (reads the image) | {pixels.episode_success.sum()}/{len(SEEDS)} | "
        f"{(sides == pixel_expert.modes).sum()}/{len(SEEDS)} | {(sides > 0).mean():.0%} | "
        f"{pixels.lengths.mean():.1f} |\n"
        f"| TwoPathExpert (reads the state) | {state.episode_success.sum()}/{len(SEEDS)} | | | "
        f"{state.lengths.mean():.1f} |"
    )

    print(
        "\nthe 20 episodes of `imitlab collect --env two-path-pixels --episodes 20 --seed 0`, written with each video "
        "encoding and decoded, against the renders; |decoded - rendered| in 0-255 units, locate_agent error in "
        "pixels\n\n"
        "| video encoding | frames | mean abs error | pixels off by > 32 | locate: episode's first frame, max "
        "| locate: other frames, median | max |\n|---|---|---|---|---|---|---|"
    )
    replay = run_episodes(spec, spec.make_expert(), collection_seeds(0, 20), record_state=True, record_images=True)
    rendered, position = replay.images[CAMERA][replay.alive].astype(np.float64), replay.state[replay.alive][:, :2]
    episodes = [Episode(**replay.episode(i)) for i in range(20)]
    for encoding in (VideoEncoding(), VideoEncoding(crf=20), VideoEncoding(codec="libx264")):
        with tempfile.TemporaryDirectory() as tmp:
            write_dataset(
                Path(tmp) / "d",
                episodes,
                fps=spec.fps,
                task="t",
                obs_names=spec.obs_names,
                action_names=spec.action_names,
                video=encoding,
            )
            ds = load_dataset(Path(tmp) / "d")
            decoded = ds.frames(CAMERA)
            first = np.arange(ds.num_frames) == ds.episode_starts[ds.episode_index]
            codec = ds.info["features"][CAMERA]["info"]["video.codec"]
        diff = np.abs(decoded.astype(np.float64) - rendered)
        error = np.linalg.norm(locate_agent(decoded) - position, axis=1) / PIXEL
        print(
            f"| {codec} crf {encoding.crf}{' (default)' if encoding == VideoEncoding() else ''} | {len(decoded)} | "
            f"{diff.mean():.2f} | {(diff.max(axis=-1) > 32).mean():.2%} | {error[first].max():.2f} | "
            f"{np.median(error[~first]):.3f} | {error[~first].max():.2f} |"
        )


if __name__ == "__main__":
    main()
