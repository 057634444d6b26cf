"""``imitlab eval``: evaluate a checkpoint (or the env's expert) on evaluation seeds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imitlab.cli.export import add_backend_options, backend_policy
from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_device,
    add_env,
    add_episodes,
    add_seed,
    add_set,
    checkpoint_env,
)
from imitlab.core.errors import UsageError


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "eval",
        "evaluate a checkpoint (or the expert) with vectorised rollouts on evaluation seeds",
        "imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json",
    )
    p.add_argument("--checkpoint", type=Path, help="run directory written by `imitlab train`")
    p.add_argument("--expert", action="store_true", help="evaluate the env's scripted expert instead")
    add_env(p, "environment (default: the one the checkpoint was trained on)")
    add_episodes(p, "evaluation episodes", default=100)
    add_seed(p, "evaluation seed (disjoint from collection seeds)")
    p.add_argument("--n-action-steps", type=int, help="override actions executed per chunk")
    p.add_argument(
        "--temporal-ensemble",
        type=float,
        metavar="M",
        help="re-plan every step and average overlapping chunks with weights exp(-M*i)",
    )
    p.add_argument(
        "--target-return",
        type=float,
        metavar="R",
        help="prompt a return-conditioned policy (dt) with this target return",
    )
    add_set(p, "replace a policy config field at inference, e.g. --set temperature=1.0 (repeatable)")
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    add_device(p, "run the policy")
    add_backend_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.evaluation.evaluate import evaluate, evaluate_expert
    from imitlab.training.checkpoint import load_policy
    from imitlab.training.distributed import resolve_device

    if args.expert:
        if not args.env:
            raise UsageError("--expert needs --env")
        result = evaluate_expert(args.env, args.episodes, args.seed)
        label = f"expert on {args.env}"
    else:
        if not args.checkpoint:
            raise UsageError("give --checkpoint RUN (or --expert --env ENV)")
        env = checkpoint_env(args.checkpoint, args.env)
        policy = load_policy(args.checkpoint).to(resolve_device(args.device))
        if args.set:  # inference-time settings, e.g. temperature or inference_z
            policy.config = policy.config.replace(**dict(args.set))
        policy = backend_policy(policy, args)
        result = evaluate(
            policy,
            env,
            episodes=args.episodes,
            seed=args.seed,
            n_action_steps=args.n_action_steps,
            temporal_ensemble=args.temporal_ensemble,
            target_return=args.target_return,
        )
        label = f"{policy.name} on {env}"
    print(
        f"{label}: success {result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] "
        f"({result.successes}/{result.episodes}), return {result.mean_return:.1f} ± {result.std_return:.1f}, "
        f"{result.step_latency_ms:.2f} ms/step"
    )
    if result.success_modes:
        print(f"successes per strategy: {result.success_modes}")
    if result.mean_score is not None:
        from imitlab.envs.registry import get_env_spec

        print(f"mean score {result.mean_score:.3f}: {get_env_spec(result.env).score_rule}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
