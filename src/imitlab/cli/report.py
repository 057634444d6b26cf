"""``imitlab report``: render every study under a directory as one self-contained HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_out


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "report",
        "render every study under a directory as one self-contained HTML file",
        "imitlab report runs/studies --out report.html",
    )
    p.add_argument("runs_dir", type=Path, help="the --out directory of `imitlab study` or `imitlab demo`")
    add_out(p, "HTML file to write (default: RUNS_DIR/report.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies.report import write_report

    print(f"report: {write_report(args.runs_dir, args.out or args.runs_dir / 'report.html')}")
