"""``imitlab eval``: evaluate a checkpoint (or the env's expert) on evaluation seeds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

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
    add_env(p, "environment (default: the one the checkpoint was trained on; each task's env for a multi-task one)")
    p.add_argument(
        "--task",
        help="the task a multi-task checkpoint acts on (one of its task strings); default: each of its tasks on "
        "its own env, with success per task and overall",
    )
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
    from imitlab.evaluation.execution import task_index
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
        policy = load_policy(args.checkpoint).to(resolve_device(args.device))
        if args.set:  # inference-time settings, e.g. temperature or inference_z
            policy.config = policy.config.replace(**dict(args.set))
        policy = backend_policy(policy, args)
        settings = {
            "episodes": args.episodes,
            "seed": args.seed,
            "n_action_steps": args.n_action_steps,
            "temporal_ensemble": args.temporal_ensemble,
            "target_return": args.target_return,
        }
        if policy.tasks and not (args.env and args.task is None):
            evaluate_tasks(policy, args, settings)
            return
        if args.task is not None:
            task_index(policy, args.task)  # a single-task policy takes no task
        env = checkpoint_env(args.checkpoint, args.env)
        result = evaluate(policy, env, **settings, task=args.task)
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


def evaluate_tasks(policy: Any, args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """A multi-task checkpoint: ``--task`` (or every task) on its env, with success per task and overall."""
    from imitlab.envs.registry import env_of_task
    from imitlab.evaluation.evaluate import evaluate
    from imitlab.evaluation.execution import task_index
    from imitlab.evaluation.stats import wilson_interval

    tasks = [args.task] if args.task is not None else list(policy.tasks)
    for task in tasks:
        task_index(policy, task)  # an unknown task is refused, listing the known ones, before any rollout
    results = []
    for task in tasks:
        env = args.env or env_of_task(task)
        result = evaluate(policy, env, **settings, task=task)
        results.append({"task": task, **result.to_dict()})
        print(
            f"{policy.name} on {env}: success {result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] "
            f"({result.successes}/{result.episodes})"
        )
    successes, episodes = sum(r["successes"] for r in results), sum(r["episodes"] for r in results)
    low, high = wilson_interval(successes, episodes)
    overall = {
        "tasks": len(results),
        "successes": successes,
        "episodes": episodes,
        "success_rate": successes / episodes,
        "ci_low": low,
        "ci_high": high,
    }
    print(
        f"{policy.name} over {len(results)} tasks: success {overall['success_rate']:.1%} [{low:.1%}, {high:.1%}] "
        f"({successes}/{episodes}; the interval is one trained policy's, pooling the tasks' episodes)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"overall": overall, "tasks": results}, indent=2) + "\n")
