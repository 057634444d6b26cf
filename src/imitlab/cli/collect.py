"""``imitlab collect``: record scripted-expert demonstrations, optionally with noise, into a dataset."""

from __future__ import annotations

import argparse

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_episodes,
    add_out,
    add_overwrite,
    add_seed,
    env_names,
)
from imitlab.core.errors import UsageError


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "collect",
        "record scripted-expert demonstrations (and the env's cameras, for the -pixels envs) into a LeRobot-layout "
        "dataset",
        "imitlab collect --env pendulum --episodes 50 --out runs/data/pendulum --seed 0",
    )
    add_env(
        p,
        f"environment ({env_names()}); several, comma-separated, or an env set (metaworld/MT10, metaworld/MT50) "
        "write one multi-task dataset, each episode tagged with its env's task",
        required=True,
    )
    add_episodes(p, "number of demonstrations (per env, when several)", required=True)
    add_out(p, "dataset directory to create", required=True)
    add_seed(p, "collection seed (episode i resets with seed*100000+i)")
    add_overwrite(p)
    p.add_argument(
        "--expert-noise",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="SIGMA",
        help="Gaussian noise std (action units) added to the executed expert action; several values "
        "are cycled over the episodes (mixed-quality data)",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="P",
        help="probability per step of a uniformly random action instead of the expert's; several "
        "values are cycled over the episodes, paired with --expert-noise",
    )
    p.add_argument(
        "--label",
        choices=["executed", "expert"],
        default="executed",
        help="record the executed (noisy) action, so returns vary, or the expert's clean action (DART)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.data.collect import collect
    from imitlab.data.noisy_expert import Noise
    from imitlab.studies.summaries import noise_level_lines

    stds, epsilons = args.expert_noise, args.epsilon
    if len(stds) != len(epsilons) and 1 not in (len(stds), len(epsilons)):
        raise UsageError(f"give one --expert-noise or as many as --epsilon values, got {len(stds)} and {len(epsilons)}")
    n = max(len(stds), len(epsilons))
    levels = [Noise(stds[i % len(stds)], epsilons[i % len(epsilons)]) for i in range(n)]
    dataset = collect(
        args.env,
        episodes=args.episodes,
        out=args.out,
        seed=args.seed,
        overwrite=args.overwrite,
        noise=levels,
        label=args.label,
    )
    print(f"wrote {dataset.num_episodes} episodes, {dataset.num_frames} frames to {args.out}")
    if any(not level.is_zero for level in levels):
        print("\n".join(noise_level_lines(dataset, levels)))
