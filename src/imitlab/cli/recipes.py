"""``imitlab recipes``: the tuned settings `imitlab train` applies, per policy and env."""

from __future__ import annotations

import argparse

from imitlab.cli.options import Subparsers, add_command, add_env, add_policy, env_names, policy_names


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "recipes",
        "print the tuned settings `imitlab train` applies per policy and env (policy fields; train: training fields)",
        "imitlab recipes --policy act",
    )
    add_policy(p, f"only this policy ({policy_names()})", required=False)
    add_env(p, f"only this environment ({env_names()})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.experiments.recipes import format_recipes

    print(format_recipes(args.policy, args.env))
