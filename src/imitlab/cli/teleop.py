"""``imitlab teleop`` and ``imitlab view``: record, correct and inspect demonstrations in the browser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imitlab.cli.options import Subparsers, add_command, add_out, add_seed


def add_web_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port); default 8765")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on: localhost only by default; another (e.g. 0.0.0.0) exposes the app and makes "
        "every request carry the token printed at start",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "teleop",
        "drive an env from the browser and keep the episodes you like as demonstrations (mouse for two-path-pixels "
        "and pusht-pixels, keyboard for Meta-World's -pixels arm); with --policy, a trained policy drives and you "
        "take over by holding the mouse button or Shift (HG-DAgger): your steps are kept as expert labels",
        "imitlab teleop --env two-path-pixels --out runs/data/mine",
    )
    p.add_argument("--env", required=True, help="an env with a camera and a teleop control (e.g. two-path-pixels)")
    add_out(p, "dataset to append the kept episodes to (created by the first one)", required=True)
    p.add_argument(
        "--policy",
        type=Path,
        help="a run directory whose policy drives until you take over; --out is then a DAgger-style directory: "
        "data/ (the policy's demonstrations plus your labels), round-K/ runs and rounds.jsonl",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="DART: Gaussian noise of this std (action units) added to the action you command before it is "
        "executed; the clean action is recorded",
    )
    p.add_argument("--eval-episodes", type=int, default=50, help="evaluation episodes of each retrained round")
    add_seed(p, "initial states: episode i of the dataset resets with collection seed i of this seed")
    p.add_argument(
        "--fps",
        type=float,
        help="control steps per second on the page (default: the env's fps, at most 30); the data keep the env's fps, so a "
        "faster pace only runs the simulation faster than real time",
    )
    add_web_options(p)
    p.set_defaults(func=run)

    v = add_command(
        sub,
        "view",
        "look at a dataset in the browser: its episodes, each one's camera video with its state and action "
        "plots under one time cursor, task string and success (LeRobot-written datasets too)",
        "imitlab view runs/data/mine",
    )
    v.add_argument("dataset", type=Path, help="dataset directory (LeRobot v3.0 layout)")
    add_web_options(v)
    v.set_defaults(func=view)


def run(args: argparse.Namespace) -> None:
    from imitlab.core.locks import one_writer
    from imitlab.teleop.server import Access, require_web, serve, teleop_app
    from imitlab.teleop.session import RecordingSession

    require_web()
    out = Path(args.out)
    access = Access(args.host)
    with one_writer(out.with_name(out.name + ".teleop"), "a teleop session of this dataset"):
        if args.policy is None:
            session = RecordingSession(args.env, out, seed=args.seed, noise=args.noise)
            serve(teleop_app(session, access, args.fps), access, args.port, not args.no_browser)
            return
        session, retrain = takeover_session(args, out)
        serve(teleop_app(session, access, args.fps, retrain), access, args.port, not args.no_browser)


def takeover_session(args: argparse.Namespace, out: Path) -> tuple[Any, Callable[[], Any]]:
    """A session where the latest round's policy drives, and the retrain callback that starts the next round (a
    ``takeover.Retraining``, which hands the wheel to the new policy once it is trained and evaluated)."""
    from imitlab.data.reader import load_dataset
    from imitlab.evaluation.execution import ChunkExecutor
    from imitlab.teleop import takeover
    from imitlab.teleop.session import RecordingSession
    from imitlab.training.checkpoint import load_policy, read_run_config

    data = takeover.prepare(out, args.policy)
    base_frames = load_dataset(read_run_config(args.policy, "data")["data"]).num_frames
    agent = ChunkExecutor(load_policy(takeover.latest_run(out, args.policy)))
    session = RecordingSession(args.env, data, seed=args.seed, agent=agent, noise=args.noise)

    def hand_over(run: Path) -> None:
        session.next_agent = ChunkExecutor(load_policy(run))

    def retrain() -> takeover.Retraining:
        return takeover.Retraining(out, args.policy, base_frames, args.eval_episodes, args.seed, hand_over)

    return session, retrain


def view(args: argparse.Namespace) -> None:
    from imitlab.data.reader import load_dataset
    from imitlab.teleop.server import Access, require_web, serve
    from imitlab.teleop.viewer import viewer_app

    require_web()
    dataset = load_dataset(args.dataset)
    access = Access(args.host)
    serve(viewer_app(dataset, access), access, args.port, not args.no_browser)
