"""The options several commands share, each declared once here: every command calls these small functions (in
the order its help lists them) and passes only the help text that is its own."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TypeAlias

from imitlab.core.errors import UsageError

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # what `add_subparsers` returns


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` with value parsed as JSON when it is valid JSON (numbers, true, lists), else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def env_names() -> str:
    """The registered environments, comma-separated, for help texts; a large family as one entry
    (``metaworld/<task>[-pixels] (50 tasks)``)."""
    import imitlab.envs  # noqa: F401  (registers the envs)
    from imitlab.envs.registry import ENVS

    families: dict[str, list[str]] = {}
    for name, spec in ENVS.items():
        families.setdefault(spec.family or name, []).append(name)
    entries = []
    for family, names in families.items():
        if len(names) <= 3:
            entries += names
        else:
            tasks = {name.removesuffix("-pixels") for name in names}
            entries.append(f"{family}/<task>[-pixels] ({len(tasks)} tasks)")
    return ", ".join(sorted(entries))


def policy_names() -> str:
    """The registered policies, comma-separated, for help texts."""
    import imitlab.policies  # noqa: F401  (registers the policies)
    from imitlab.policies.base import POLICIES

    return ", ".join(sorted(POLICIES))


def add_command(sub: Subparsers, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and ends with an example."""
    return sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_env(parser: argparse.ArgumentParser, help_text: str, required: bool = False) -> None:
    parser.add_argument("--env", required=required, help=help_text)


def add_policy(parser: argparse.ArgumentParser, help_text: str, required: bool = True) -> None:
    parser.add_argument("--policy", required=required, help=help_text)


def add_out(
    parser: argparse.ArgumentParser, help_text: str, required: bool = False, default: Path | None = None
) -> None:
    parser.add_argument("--out", type=Path, required=required, default=default, help=help_text)


def add_seed(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help=help_text)


def add_seeds(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--seeds S [S ...]``; None when not given, so that each command applies its own default (a full-scale
    study trains more seeds than the demo): ``help_text`` says which."""
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help=help_text)


def add_episodes(
    parser: argparse.ArgumentParser, help_text: str, default: int | None = None, required: bool = False
) -> None:
    parser.add_argument("--episodes", type=int, default=default, required=required, help=help_text)


def add_eval_episodes(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--eval-episodes", type=int, default=100, help=help_text)


def add_steps(parser: argparse.ArgumentParser, help_text: str, required: bool = False) -> None:
    parser.add_argument("--steps", type=int, required=required, help=help_text)


def add_set(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--set KEY=VALUE`` (repeatable): ``args.set`` is a list of (key, parsed value)."""
    parser.add_argument(
        "--set", type=parse_assignment, action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")


def add_resume(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--resume", action="store_true", help=help_text)


def add_scale(parser: argparse.ArgumentParser, help_text: str) -> None:
    from imitlab.studies import SCALES

    parser.add_argument("--scale", choices=SCALES, default="small", help=help_text)


def add_device(parser: argparse.ArgumentParser, verb: str) -> None:
    from imitlab.training.distributed import DEVICES

    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help=f"where to {verb}: auto = this process's GPU when CUDA is available (LOCAL_RANK under "
        "torchrun), else the CPU",
    )


def recipe_overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recipe for (--env, --policy), changed by --set KEY=VALUE and --steps: (policy, train) overrides."""
    from imitlab.experiments.recipes import resolve_recipe

    settings = resolve_recipe(args.env, args.policy, dict(args.set), {"steps": args.steps} if args.steps else {})
    return settings.policy_overrides, settings.train_overrides


def checkpoint_env(checkpoint: Path, env: str | None) -> str:
    """``env`` if given, else the env recorded in the run's config; a UsageError when neither is known."""
    from imitlab.training.checkpoint import read_run_config

    env = env or read_run_config(checkpoint).get("env")
    if not env:
        raise UsageError(f"{checkpoint} does not record its env; pass --env")
    return env


def add_web_options(p: argparse.ArgumentParser) -> None:
    """``--port``, ``--host`` and ``--no-browser`` of the commands that serve a page (teleop, view)."""
    p.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port); default 8765")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on: localhost only by default; another (e.g. 0.0.0.0) exposes the app and makes "
        "every request carry the token printed at start",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
