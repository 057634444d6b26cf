"""Training-batch throughput on a dataset with a camera: the cost of building imitlab's decoded frame cache
(time and peak RSS of a fresh process), then batches/s of imitlab's ChunkSampler and of LeRobot's
LeRobotDataset + DataLoader on the same dataset (batch 64, T_obs 2, horizon 16, the camera and the state).

The PushT image dataset (206 episodes, 25,650 frames of 96x96) is built from the Diffusion Policy zarr the first
time if ``--data`` does not exist yet (the same episodes ``imitlab import`` with the image key writes):

    python benchmarks/data_loading.py --data runs/pusht-images [--zarr ../shared/data/pusht/pusht_cchi_v7_replay.zarr]

LeRobot cannot share the project's environment (its own torch; torchvision); it is timed with the Python of a
side virtual environment when one is given or found at ``--lerobot-python`` (default .lerobot-venv, made by `make lerobot-env`):

    make lerobot-env
    apt-get install ffmpeg   # the shared libraries LeRobot's default decoder, torchcodec, loads
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BATCH, T_OBS, HORIZON = 64, 2, 16


def build_pusht_images(zarr_path: Path, out: Path) -> None:
    """The DP PushT replay buffer as an imitlab dataset with camera observation.images.top (data/img)."""
    from imitlab.data.importers import read_diffusion_policy_zarr, read_episodes
    from imitlab.data.model import Episode
    from imitlab.data.writer import write_dataset

    store = read_diffusion_policy_zarr(zarr_path)
    images = np.asarray(store.load("img"), dtype=np.uint8)  # (N, 96, 96, 3)
    ends = store.episode_ends
    starts = np.concatenate([[0], ends[:-1]])
    episodes = [
        Episode(ep.observation, ep.action, ep.reward, ep.success, images={"observation.images.top": images[s:e]})
        for ep, s, e in zip(read_episodes(store, ["state"], "action"), starts, ends)
    ]
    names = ["agent_x", "agent_y", "block_x", "block_y", "block_angle"]
    write_dataset(out, episodes, fps=10, task="push the T", obs_names=names, action_names=["x", "y"])


PEAK_RSS = """
def peak_rss_mb(pid="self"):  # VmHWM: the process's own peak (ru_maxrss would include the parent's, kept across exec)
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

CACHE_BUILD = """
import json, sys, time
from imitlab.data.reader import load_dataset
t0 = time.perf_counter()
ds = load_dataset(sys.argv[1])
for key in ds.camera_keys:
    ds.frames(key)
print(json.dumps(dict(seconds=time.perf_counter() - t0, frames=ds.num_frames, peak_rss_mb=peak_rss_mb())))
"""

OUR_SAMPLER = """
import json, sys, time
import torch
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
root, seconds, t_obs, horizon, batch = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:6])
torch.set_num_threads(1)
sampler = ChunkSampler(load_dataset(root), n_obs_steps=t_obs, horizon=horizon)
generator = torch.Generator().manual_seed(0)
sampler.sample(batch, generator)
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    sampler.sample(batch, generator)
    n += 1
print(json.dumps(dict(batches_per_s=n / (time.perf_counter() - t0), batches=n, peak_rss_mb=peak_rss_mb())))
"""


def run_child(python: Path | str, code: str, args: list, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh process; the JSON it prints last, or {"error": its last stderr line}."""
    out = subprocess.run([str(python), "-c", PEAK_RSS + code, *map(str, args)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return dict(error=lines[-1] if lines else f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


LEROBOT_CODE = """
import json, sys, time
import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, seconds, workers, t_obs, horizon, batch = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), *map(int, sys.argv[4:7])
backend = sys.argv[7]
probe = LeRobotDataset("local/bench", root=root)
fps, cams = probe.fps, probe.meta.camera_keys
obs = [(k - (t_obs - 1)) / fps for k in range(t_obs)]
delta = {"observation.state": obs, "action": [k / fps for k in range(horizon)], **{c: obs for c in cams}}
ds = LeRobotDataset("local/bench", root=root, delta_timestamps=delta, video_backend=backend)
loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                     generator=torch.Generator().manual_seed(0))
it = iter(loader); next(it)
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    try:
        next(it)
    except StopIteration:
        it = iter(loader); continue
    n += 1
rate = n / (time.perf_counter() - t0)
workers_mb = sum(peak_rss_mb(w.pid) for w in getattr(it, "_workers", []))  # DataLoader's worker processes
print(json.dumps(dict(batches_per_s=rate, batches=n, peak_rss_mb=peak_rss_mb(), workers_peak_rss_mb=workers_mb)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("runs/pusht-images"))
    parser.add_argument("--zarr", type=Path, default=Path("../shared/data/pusht/pusht_cchi_v7_replay.zarr"))
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each sampler is timed")
    parser.add_argument("--workers", type=int, default=2, help="LeRobot DataLoader workers")
    parser.add_argument(
        "--lerobot-backends",
        nargs="+",
        default=["torchcodec", "pyav"],
        help="LeRobot video decoders to time (torchcodec, its default, needs FFmpeg's shared libraries)",
    )
    parser.add_argument(
        "--lerobot-python", type=Path, default=Path(__file__).resolve().parents[1] / ".lerobot-venv/bin/python"
    )
    args = parser.parse_args()
    if not args.data.exists():
        print(f"building {args.data} from {args.zarr} ...", flush=True)
        build_pusht_images(args.zarr, args.data)
    info = json.loads((args.data / "meta/info.json").read_text())
    cameras = [k for k, f in info["features"].items() if f["dtype"] in ("video", "image")]
    print(
        f"dataset {args.data}: {info['total_episodes']} episodes, {info['total_frames']} frames, cameras {cameras}; "
        f"batch {BATCH}, T_obs {T_OBS}, horizon {HORIZON}; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as cache:  # an empty frame cache: the build is timed from scratch
        env = {**os.environ, "IMITLAB_CACHE_DIR": cache}
        build = run_child(sys.executable, CACHE_BUILD, [args.data], env)
        ours = run_child(sys.executable, OUR_SAMPLER, [args.data, args.seconds, T_OBS, HORIZON, BATCH], env)
    for what, result in (("frame cache build", build), ("imitlab sampler", ours)):
        if "error" in result:
            sys.exit(f"{what} failed: {result['error']}")
    print(
        f"\nframe cache build (fresh process): {build['seconds']:.1f} s for {build['frames']} frames, "
        f"peak RSS {build['peak_rss_mb']:.0f} MB"
    )
    rows = [("imitlab ChunkSampler (frame cache)", f"{ours['batches_per_s']:.1f}", f"{ours['peak_rss_mb']:.0f}")]
    has_lerobot = (
        args.lerobot_python.exists()
        and subprocess.run([str(args.lerobot_python), "-c", "import lerobot"], capture_output=True).returncode == 0
    )
    if has_lerobot:
        for backend in args.lerobot_backends:
            lerobot_args = [args.data, args.seconds, args.workers, T_OBS, HORIZON, BATCH, backend]
            env = {**os.environ, "HF_HUB_OFFLINE": "1"}
            theirs = run_child(args.lerobot_python, LEROBOT_CODE, lerobot_args, env)
            label = f"LeRobotDataset + DataLoader ({args.workers} workers, {backend})"
            if "error" in theirs:
                rows.append((label, f"failed: {theirs['error']}", ""))
            else:
                rss = f"{theirs['peak_rss_mb']:.0f} + {theirs['workers_peak_rss_mb']:.0f} in its workers"
                rows.append((label, f"{theirs['batches_per_s']:.2f}", rss))
                rows.append(("  imitlab / LeRobot", f"{ours['batches_per_s'] / theirs['batches_per_s']:.0f}x", ""))
    else:
        rows.append(("LeRobotDataset + DataLoader", f"not run: no lerobot at {args.lerobot_python} (see --help)", ""))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'loader':<{width}}  {'batches/s':>10}  peak RSS MB")
    for name, rate, rss in rows:
        print(f"{name:<{width}}  {rate:>10}  {rss}")


if __name__ == "__main__":
    main()
