"""``imitlab view``: a dataset's episodes in the browser."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_web_options


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "view",
        "look at a dataset in the browser: its episodes, each one's camera video with its state and action "
        "plots under one time cursor, task string and success (LeRobot-written datasets too)",
        "imitlab view runs/data/mine",
    )
    p.add_argument("dataset", type=Path, help="dataset directory (LeRobot v3.0 layout)")
    add_web_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.data.reader import load_dataset
    from imitlab.teleop.server import Access, require_web, serve
    from imitlab.teleop.viewer import viewer_app

    require_web()
    dataset = load_dataset(args.dataset)
    access = Access(args.host)
    serve(viewer_app(dataset, access), access, args.port, not args.no_browser)
