"""``imitlab return-sweep``: a return-conditioned checkpoint prompted with each target return, beside baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_env, add_episodes, add_seed, checkpoint_env


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "return-sweep",
        "return conditioning, measured: evaluate a return-conditioned checkpoint (dt) once per prompted target "
        "return on the same evaluation seeds, next to baselines evaluated plainly; one markdown table",
        "imitlab return-sweep --checkpoint runs/dt --targets -800 -400 -200 0 --baseline runs/bc",
    )
    p.add_argument("--checkpoint", type=Path, required=True, metavar="RUN", help="return-conditioned run (e.g. dt)")
    p.add_argument("--targets", type=float, nargs="+", required=True, metavar="R", help="target returns to prompt")
    p.add_argument(
        "--baseline", type=Path, nargs="*", default=[], metavar="RUN", help="runs evaluated without a prompt"
    )
    add_env(p, "environment (default: the one the checkpoint was trained on)")
    add_episodes(p, "evaluation episodes per row", default=100)
    add_seed(p, "evaluation seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies.return_sweep import return_sweep_table

    print(
        return_sweep_table(
            args.checkpoint,
            env=checkpoint_env(args.checkpoint, args.env),
            targets=args.targets,
            baselines=args.baseline,
            episodes=args.episodes,
            seed=args.seed,
        )
    )
