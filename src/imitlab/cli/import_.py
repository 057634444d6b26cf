"""``imitlab import``: convert another library's demonstrations into a LeRobot-layout dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_env, add_out, add_overwrite


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "import",
        "convert another library's demonstrations (diffusion_policy zarr, imitation npz) into a LeRobot-layout dataset",
        "imitlab import ../shared/data/pusht/pusht_cchi_v7_replay.zarr --out runs/data/pusht --env pusht "
        "--obs-key state --action-key action --fps 10",
    )
    p.add_argument("source", type=Path, help="the store to read (e.g. a diffusion_policy replay buffer .zarr)")
    add_out(p, "dataset directory to create", required=True)
    p.add_argument(
        "--format",
        default="diffusion-policy-zarr",
        choices=["diffusion-policy-zarr", "imitation-npz"],
        help="source format: a diffusion_policy replay buffer (.zarr; keys e.g. state, action) or an "
        "imitation trajectory archive (.npz; keys obs, acts)",
    )
    p.add_argument(
        "--obs-key",
        action="append",
        metavar="KEY",
        help="array(s) forming the observation, flattened and concatenated in order; KEY[START:STOP] "
        "keeps those columns, e.g. --obs-key keypoint --obs-key 'state[:2]' for PushT's keypoint "
        "observation (default: state for zarr, obs for npz)",
    )
    p.add_argument("--action-key", help="array holding the action (default: action for zarr, acts for npz)")
    p.add_argument(
        "--image-key",
        action="append",
        metavar="KEY[=CAMERA]",
        help="array of RGB frames (N, H, W, 3) to record as camera observation.images.CAMERA (a video); CAMERA "
        "defaults to the --env's camera when it has one, else KEY. PushT: --env pusht-pixels "
        "--obs-key 'state[:2]' --image-key img",
    )
    p.add_argument("--fps", type=int, help="control frequency to record (default: the env's, else 10)")
    add_env(
        p,
        "registered env the data belongs to (sets names, task, fps; lets `imitlab eval` "
        "find the env of a policy trained on it)",
    )
    p.add_argument("--task", help="task string (default: the env's description)")
    p.add_argument(
        "--max-train-episodes",
        type=int,
        metavar="N",
        help="keep only diffusion_policy's training split: hold out 2%% for validation and draw N "
        "of the rest with seed 42, as its configs do (PushT: 90)",
    )
    add_overwrite(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.data.importers import DEFAULT_KEYS, import_dataset, train_split_episodes

    obs_keys, action_key = DEFAULT_KEYS[args.format]
    episodes = train_split_episodes(args.format, args.source, args.max_train_episodes)
    dataset = import_dataset(
        args.source,
        args.out,
        format=args.format,
        obs_keys=args.obs_key or obs_keys,
        action_key=args.action_key or action_key,
        env=args.env,
        fps=args.fps,
        task=args.task,
        episodes=episodes,
        image_keys=args.image_key or (),
        overwrite=args.overwrite,
    )
    cameras = "".join(f", camera {key}" for key in dataset.camera_keys)
    print(
        f"imported {dataset.num_episodes} episodes, {dataset.num_frames} frames "
        f"(obs_dim {dataset.obs_dim}, act_dim {dataset.act_dim}{cameras}) to {args.out}"
    )
