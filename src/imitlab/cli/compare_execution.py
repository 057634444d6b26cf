"""``imitlab compare-execution``: receding horizon versus temporal ensembling for chunked checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_env, add_episodes, add_seed


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "compare-execution",
        "receding horizon versus temporal ensembling, for any chunked checkpoints, on the same evaluation "
        "seeds: one markdown table with a row per (checkpoint, execution mode)",
        "imitlab compare-execution --checkpoints runs/cbc runs/act --ensemble 0.01 0.1 --episodes 100",
    )
    p.add_argument("--checkpoints", type=Path, nargs="+", required=True, metavar="RUN", help="run directories")
    p.add_argument(
        "--ensemble",
        type=float,
        nargs="+",
        default=[0.01],
        metavar="M",
        help="temporal ensembling coefficients m (weights exp(-m*i)); ACT uses 0.01",
    )
    add_env(p, "environment (default: each checkpoint's own)")
    add_episodes(p, "evaluation episodes per row", default=100)
    add_seed(p, "evaluation seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies.compare_execution import execution_table

    print(
        execution_table(args.checkpoints, env=args.env, ensemble=args.ensemble, episodes=args.episodes, seed=args.seed)
    )
