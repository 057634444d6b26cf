"""``imitlab dagger``: DAgger rounds with per-round success, optionally against BC at equal expert labels."""

from __future__ import annotations

import argparse

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_eval_episodes,
    add_out,
    add_policy,
    add_seed,
    add_set,
    add_steps,
    env_names,
    policy_names,
    recipe_overrides,
)


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "dagger",
        "DAgger: roll out a beta-mixture of expert and policy, label visited states with the "
        "expert, aggregate and retrain; per-round success with intervals (rerun to resume)",
        "imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --episodes-per-round 10 "
        "--out runs/dagger",
    )
    add_env(p, f"environment whose expert labels states ({env_names()})", required=True)
    add_policy(p, f"policy to train each round ({policy_names()})")
    add_out(p, "output directory (data/, round-i/, rounds.jsonl)", required=True)
    p.add_argument("--init-demos", type=int, default=10, help="expert demonstrations of round 0")
    p.add_argument("--rounds", type=int, default=5, help="DAgger rounds after round 0")
    p.add_argument("--episodes-per-round", type=int, default=10, help="mixture rollouts labelled per round")
    p.add_argument(
        "--beta-schedule",
        choices=["constant", "linear", "exponential"],
        default="exponential",
        help="expert share of the mixture in round i: 0.5, 1 - i/R, or 0.5^i (default)",
    )
    p.add_argument(
        "--warm-start",
        action="store_true",
        help="start each round from the previous round's weights instead of from scratch",
    )
    add_steps(p, "optimizer steps per round (default: the recipe's)")
    add_seed(p, "seed for collection, training, mixing and evaluation")
    add_eval_episodes(p, "evaluation episodes per round")
    add_set(p, "any policy config field (repeatable)")
    p.add_argument(
        "--compare-bc",
        action="store_true",
        help="also train the policy on plain expert demos with as many labels as the last round, "
        "and test the difference (paired McNemar on the same evaluation seeds)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.remedies.dagger import equal_label_baseline, run_dagger
    from imitlab.studies.summaries import dagger_rounds_table, dagger_versus_bc

    policy_overrides, train_overrides = recipe_overrides(args)
    rounds = run_dagger(
        args.env,
        args.policy,
        args.out,
        init_demos=args.init_demos,
        rounds=args.rounds,
        episodes_per_round=args.episodes_per_round,
        beta_schedule=args.beta_schedule,
        warm_start=args.warm_start,
        seed=args.seed,
        eval_episodes=args.eval_episodes,
        policy_overrides=policy_overrides,
        train_overrides=train_overrides,
    )
    print(dagger_rounds_table(rounds))
    if args.compare_bc:
        base, _ = equal_label_baseline(
            args.env,
            args.policy,
            args.out,
            expert_labels=rounds[-1].expert_labels,
            seed=args.seed,
            eval_episodes=args.eval_episodes,
            policy_overrides=policy_overrides,
            train_overrides=train_overrides,
        )
        print("\n" + dagger_versus_bc(args.policy, rounds[-1], base))
    print(f"\nper-round results: {args.out / 'rounds.jsonl'}; aggregated dataset: {args.out / 'data'}")
