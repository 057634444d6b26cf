"""``imitlab rl``: policy-gradient RL (REINFORCE or PPO), from scratch or from a bc run."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_out,
    add_resume,
    add_seed,
    add_set,
    add_steps,
    env_names,
)


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "rl",
        "policy-gradient RL (REINFORCE or PPO) on an env, from scratch or from a bc run; "
        "metrics.jsonl, atomic checkpoints, --resume, final evaluation on 100 episodes",
        "imitlab rl --algo ppo --env pendulum --steps 40000 --seed 0 --init-from runs/bc",
    )
    p.add_argument("--algo", choices=["reinforce", "ppo"], required=True, help="algorithm")
    add_env(p, f"environment ({env_names()})", required=True)
    add_steps(p, "environment steps to train for", required=True)
    add_seed(p, "seed for weights, sampling, episodes and evaluation")
    add_out(p, "run directory (default runs/rl/ALGO-ENV-sSEED)")
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="RUN",
        help="a bc (or one-observation chunked-bc) run: the PPO actor starts from its network, with "
        "the algorithm's fine-tuning defaults (init_defaults, docs/rl.md) under --set",
    )
    add_set(p, "any algorithm config field, e.g. --set estimator=reward_to_go --set bc_coef=0.1")
    add_resume(p, "continue the run in --out from its train_state.pt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.rl import train_rl

    out = args.out or Path("runs/rl") / f"{args.algo}-{args.env}-s{args.seed}"
    _, result = train_rl(
        args.algo,
        env=args.env,
        steps=args.steps,
        out_dir=out,
        seed=args.seed,
        overrides=dict(args.set),
        init_from=args.init_from,
        resume=args.resume,
    )
    print(
        f"{args.algo} on {args.env}: return {result.mean_return:.1f} ± {result.std_return:.1f}, success "
        f"{result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] over {result.episodes} "
        f"evaluation episodes; run in {out}"
    )
