"""``imitlab quantization``: what the tokenized head's bins mean in environment units for a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "quantization",
        "what the tokenized head's bins mean in environment units: bin width per action dimension for a dataset "
        "(its [min, max] range / n_bins) and the round-trip (tokenise, decode the bin centre) error on its actions",
        "imitlab quantization --data runs/demo/data/pendulum-50 --n-bins 256",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset directory")
    p.add_argument("--n-bins", type=int, default=256, metavar="N", help="tokens per action dimension")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies.quantization import quantization_report

    print(quantization_report(args.data, args.n_bins))
