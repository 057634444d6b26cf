"""Command-line interface: ``imitlab collect | train | recipes | eval | export | dagger | import | study | report |
remedy | compounding | rl | demo | compare-execution | return-sweep | quantization``. Run ``imitlab COMMAND --help``.

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``; the options they share are declared
once in ``imitlab.cli.options``. A new command is one module and one entry in ``COMMANDS``."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from imitlab.cli import (
    collect,
    compare_execution,
    compounding,
    dagger,
    demo,
    evaluate,
    export,
    import_,
    quantization,
    recipes,
    remedy,
    report,
    return_sweep,
    rl,
    study,
    teleop,
    train,
    view,
)
from imitlab.cli.options import env_names, policy_names
from imitlab.core.diskspace import free_bytes
from imitlab.core.errors import ImitlabError

# In the order `imitlab --help` lists them.
COMMANDS = (
    collect,
    train,
    recipes,
    evaluate,
    export,
    dagger,
    import_,
    study,
    report,
    remedy,
    compounding,
    rl,
    demo,
    compare_execution,
    return_sweep,
    quantization,
    teleop,
    view,
)

EXAMPLES = """examples:
  imitlab collect --env two-path --episodes 100 --out runs/data/two-path --seed 0
  imitlab train --policy chunked-bc --data runs/data/two-path --out runs/cbc --steps 3000 --chunk-size 8
  imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json
  imitlab export --checkpoint runs/cbc --out runs/cbc-onnx
  imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --out runs/dagger
  imitlab study chunk-size --out runs/studies --scale small
  imitlab report runs/studies --out report.html
  imitlab rl --algo ppo --env pendulum --steps 40000 --seed 0 --out runs/rl/ppo-pendulum
  imitlab demo --out runs/demo
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``imitlab`` parser: one subcommand per module in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="imitlab",
        description="Learn robot control policies from demonstrations and measure, with confidence intervals, "
        f"which action generator works. Envs: {env_names()}. Policies: {policy_names()}.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of a user error too (e.g. imitlab --debug train ...); errors that are not the "
        "user's always show theirs",
    )
    parser.add_argument(
        "--cache-dir",
        type=str,
        metavar="DIR",
        help="where decoded camera frames are cached (default: $IMITLAB_CACHE_DIR, else ~/.cache/imitlab); never "
        "inside a dataset",
    )
    parser.add_argument(
        "--no-size-limits",
        action="store_true",
        help="lift the caps on sizes a file declares (frame pixels, imported rows, layer widths; imitlab.core.limits)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one command. A user error (``ImitlabError``) prints its message in one line and exits with status 2;
    anything else is a bug and shows its traceback (exit status 1); ``--debug`` shows the traceback of both."""
    args = build_parser().parse_args(argv)
    if args.no_size_limits:  # read by imitlab.core.limits, in this process and in its workers
        os.environ["IMITLAB_NO_SIZE_LIMITS"] = "1"
    if args.cache_dir:  # read by imitlab.data.frame_cache, in this process and in its workers
        os.environ["IMITLAB_CACHE_DIR"] = args.cache_dir
    try:
        args.func(args)
    except ImitlabError as err:
        if args.debug:
            raise
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    except OSError as err:  # a full disk is the user's to fix, not a bug: one line naming the file
        if err.errno != errno.ENOSPC or args.debug:
            raise
        where = (
            f" while writing {err.filename} ({free_bytes(Path(err.filename)):,} bytes free there)"
            if err.filename
            else ""
        )
        print(f"DiskFullError: no space left on the device{where}; what was written before is kept", file=sys.stderr)
        raise SystemExit(2) from err
