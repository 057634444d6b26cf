"""``imitlab compounding``: each policy's distance from the expert's state trajectory, per step (PNG + CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_episodes,
    add_out,
    add_seed,
    env_names,
    parse_assignment,
)

MARKED_STEPS = (0, 50, 100, 199)  # steps whose mean distance is printed


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "compounding",
        "measure compounding error: distance between each policy's and the expert's state "
        "trajectory from the same initial states, per step, mean with a 95%% band; writes PNG + CSV",
        "imitlab compounding --env pendulum --run bc-10=runs/remedies/bc/seed0/run "
        "--run dagger=runs/remedies/dagger(5x2)/seed0/round-5 --out runs/compounding",
    )
    add_env(p, f"environment ({env_names()})", required=True)
    p.add_argument(
        "--run",
        type=parse_assignment,
        action="append",
        required=True,
        metavar="LABEL=RUN_DIR",
        help="a trained run directory and its label in the figure (repeatable)",
    )
    add_out(p, "path without suffix; writes OUT.png and OUT.csv", required=True)
    p.add_argument(
        "--initial-states",
        choices=["demos", "eval"],
        default="demos",
        help="the demonstrations' initial states (collection seeds) or fresh evaluation seeds",
    )
    add_episodes(p, "episodes: the first N demonstrations' (or evaluation) initial states", default=10)
    add_seed(p, "collection / evaluation seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.core.seeds import collection_seeds, evaluation_seeds
    from imitlab.evaluation.compounding import compounding_curve
    from imitlab.studies.compounding_error import write_curves
    from imitlab.training.checkpoint import load_policy

    seeds = (collection_seeds if args.initial_states == "demos" else evaluation_seeds)(args.seed, args.episodes)
    curves = []
    for label, run_dir in args.run:
        curve = compounding_curve(load_policy(Path(run_dir)), args.env, seeds, label)
        curves.append(curve)
        marks = {t: curve.mean[t] for t in MARKED_STEPS if t < len(curve.mean)}
        print(f"{label}: mean distance " + ", ".join(f"step {t}: {v:.2f}" for t, v in marks.items()))
    write_curves(
        curves,
        args.out.with_suffix(".csv"),
        args.out.with_suffix(".png"),
        title=f"{args.env}: {args.episodes} episodes from the "
        f"{'demonstrations' if args.initial_states == 'demos' else 'evaluation seeds'}' initial states",
    )
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.png')}")
