"""``imitlab train``: train a policy on a dataset into a run directory (atomic checkpoints, --resume)."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_device,
    add_out,
    add_policy,
    add_resume,
    add_seed,
    add_set,
    add_steps,
    policy_names,
)

# flag -> policy config field it sets
POLICY_FLAGS = (("chunk_size", "horizon"), ("obs_history", "n_obs_steps"), ("n_action_steps", "n_action_steps"))
TRAIN_FLAGS = ("steps", "batch_size", "lr", "ema_decay")  # flags named as the TrainConfig field they set


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "train",
        "train a policy on a dataset; checkpoints are atomic and --resume continues a killed run",
        "imitlab train --policy chunked-bc --data runs/data/pendulum --out runs/cbc --steps 3000 --chunk-size 8",
    )
    add_policy(p, f"policy ({policy_names()})")
    p.add_argument("--data", type=Path, required=True, help="dataset directory (from `imitlab collect`)")
    add_out(p, "run directory for checkpoints and metrics.jsonl", required=True)
    add_steps(p, "optimizer steps (default: the recipe's, else the policy's, else 3000)")
    add_seed(p, "training seed")
    p.add_argument("--chunk-size", type=int, help="H, actions per predicted chunk")
    p.add_argument("--obs-history", type=int, help="T_obs, observations the policy conditions on")
    p.add_argument("--n-action-steps", type=int, help="actions executed per chunk before re-planning")
    p.add_argument("--batch-size", type=int, help="chunks per optimizer step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--ema-decay", type=float, help="EMA decay of the acting weights (0 = off)")
    add_set(p, "any policy config field, e.g. --set hidden_dim=512 (repeatable)")
    add_resume(p, "continue from the run's train_state.pt")
    p.add_argument(
        "--no-recipe",
        action="store_true",
        help="train with the policy's defaults instead of the tuned recipe for the dataset's env",
    )
    add_device(p, "train on")
    assert p.epilog is not None  # add_command puts the example there
    p.epilog += (
        "\n\nsettings: the tuned recipe for the dataset's env and this policy when there is one\n"
        "(`imitlab recipes --policy NAME` prints them per env), else the policy's defaults;\n"
        "flags and --set override both, --no-recipe turns the recipe off"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.experiments.recipes import resolve_for_dataset
    from imitlab.training.train import check_run_out, train_policy

    policy_overrides = dict(args.set)
    for flag, field in POLICY_FLAGS:
        if getattr(args, flag) is not None:
            policy_overrides[field] = getattr(args, flag)
    train_overrides = {"seed": args.seed}
    for field in TRAIN_FLAGS:
        if getattr(args, field) is not None:
            train_overrides[field] = getattr(args, field)
    check_run_out(args.out, args.data)  # the directories the user named: never one that is not a run
    settings = resolve_for_dataset(args.data, args.policy, policy_overrides, train_overrides, not args.no_recipe)
    print(settings.summary(), flush=True)
    train_policy(
        args.policy,
        data=args.data,
        out_dir=args.out,
        policy_overrides=settings.policy_overrides,
        train_overrides=settings.train_overrides,
        resume=args.resume,
        device=args.device,
        recipe=settings.record(),
    )
    print(f"checkpoint written to {args.out}")
