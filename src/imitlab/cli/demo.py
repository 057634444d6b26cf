"""``imitlab demo``: the main job, small studies of the heads, multimodality, chunk size and demos, then a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_out, add_scale, add_seeds


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "demo",
        "the main job: the heads compared, multimodality, chunk size and number of demos as small "
        "studies, then an HTML report",
        "imitlab demo --out runs/demo",
    )
    add_out(p, "output directory (rerun to resume)", default=Path("runs/demo"))
    add_scale(
        p,
        "small: heads (every head on two-path, the regressors on pendulum), multimodality, "
        "chunk-size and demos in about 12 minutes on 2 cores; full: every study, every value",
    )
    add_seeds(p, "training seeds (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies.demo import run_demo

    run_demo(args.out, scale=args.scale, seeds=args.seeds)
