"""``imitlab teleop``: record and correct demonstrations in the browser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_eval_episodes,
    add_out,
    add_seed,
    add_web_options,
)


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "teleop",
        "drive an env from the browser and keep the episodes you like as demonstrations (mouse for two-path-pixels "
        "and pusht-pixels, keyboard for Meta-World's -pixels arm); with --checkpoint, a trained policy drives and you "
        "take over by holding the mouse button or Shift (HG-DAgger): your steps are kept as expert labels",
        "imitlab teleop --env two-path-pixels --out runs/data/mine",
    )
    add_env(p, "an env with a camera and a teleop control (e.g. two-path-pixels)", required=True)
    add_out(p, "dataset to append the kept episodes to (created by the first one)", required=True)
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="a run directory (as for imitlab eval) whose policy drives until you take over; --out is then a "
        "DAgger-style directory: data/ (the policy's demonstrations plus your labels), round-K/ runs, rounds.jsonl",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="DART: Gaussian noise of this std (action units) added to the action you command before it is "
        "executed; the clean action is recorded",
    )
    add_eval_episodes(p, "evaluation episodes of each retrained round")
    add_seed(p, "initial states: episode i of the dataset resets with collection seed i of this seed")
    p.add_argument(
        "--fps",
        type=float,
        help="control steps per second on the page (default: the env's fps, at most 30); the data keep the env's fps, so a "
        "faster pace only runs the simulation faster than real time",
    )
    add_web_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.core.locks import one_writer
    from imitlab.teleop.server import Access, EnvThread, require_web, serve, teleop_app
    from imitlab.teleop.session import RecordingSession

    require_web()
    out = Path(args.out)
    access = Access(args.host)
    with one_writer(out.with_name(out.name + ".teleop"), "a teleop session of this dataset"):
        thread = EnvThread()  # the env (and its renderer) lives on one thread
        if args.checkpoint is None:
            session = thread.call(partial(RecordingSession, args.env, out, seed=args.seed, noise=args.noise))
            app = teleop_app(session, access, args.fps, env_thread=thread)
        else:
            session, retrain = takeover_session(args, out, thread)
            app = teleop_app(session, access, args.fps, retrain, thread)
        serve(app, access, args.port, not args.no_browser)


def takeover_session(args: argparse.Namespace, out: Path, thread: Any) -> tuple[Any, Callable[[], Any]]:
    """A session where the latest round's policy drives, and the retrain callback that starts the next round (a
    ``takeover.Retraining``, which hands the wheel to the new policy once it is trained and evaluated)."""
    from imitlab.data.reader import load_dataset
    from imitlab.evaluation.execution import ChunkExecutor
    from imitlab.teleop import takeover
    from imitlab.teleop.session import RecordingSession
    from imitlab.training.checkpoint import load_policy, read_run_config

    data = takeover.prepare(out, args.checkpoint)
    base_frames = load_dataset(read_run_config(args.checkpoint, "data")["data"]).num_frames
    agent = ChunkExecutor(load_policy(takeover.latest_run(out, args.checkpoint)))
    session = thread.call(partial(RecordingSession, args.env, data, seed=args.seed, agent=agent, noise=args.noise))

    def hand_over(run: Path) -> None:
        session.next_agent = ChunkExecutor(load_policy(run))

    def retrain() -> takeover.Retraining:
        return takeover.Retraining(out, args.checkpoint, base_frames, args.eval_episodes, args.seed, hand_over)

    return session, retrain
