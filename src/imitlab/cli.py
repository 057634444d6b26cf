"""Command-line interface: ``imitlab collect | train | eval | demo``. Run ``imitlab COMMAND --help``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imitlab.errors import ImitlabError

EXAMPLES = """examples:
  imitlab collect --env two-path --episodes 100 --out runs/data/two-path --seed 0
  imitlab train --policy chunked-bc --data runs/data/two-path --out runs/cbc --steps 3000 --chunk-size 8
  imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json
  imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --out runs/dagger
  imitlab demo --out runs/demo
"""


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` with value parsed as JSON when it is valid JSON (numbers, true, lists), else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def cmd_collect(args: argparse.Namespace) -> None:
    from imitlab.collect import collect

    dataset = collect(args.env, args.episodes, args.out, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {dataset.num_episodes} episodes, {dataset.num_frames} frames to {args.out}")


def cmd_train(args: argparse.Namespace) -> None:
    from imitlab.train import train_policy

    policy_overrides = dict(args.set)
    for flag, field in (("chunk_size", "horizon"), ("obs_history", "n_obs_steps"),
                        ("n_action_steps", "n_action_steps")):
        if getattr(args, flag) is not None:
            policy_overrides[field] = getattr(args, flag)
    train_overrides = {"seed": args.seed}
    for field in ("steps", "batch_size", "lr", "ema_decay"):
        if getattr(args, field) is not None:
            train_overrides[field] = getattr(args, field)
    train_policy(args.policy, args.data, args.out, policy_overrides, train_overrides, resume=args.resume)
    print(f"checkpoint written to {args.out}")


def cmd_eval(args: argparse.Namespace) -> None:
    from imitlab.checkpoint import load_policy, read_run_config
    from imitlab.evaluate import evaluate, evaluate_expert

    if args.expert:
        if not args.env:
            raise SystemExit("error: --expert needs --env")
        result = evaluate_expert(args.env, args.episodes, args.seed)
        label = f"expert on {args.env}"
    else:
        if not args.checkpoint:
            raise SystemExit("error: give --checkpoint RUN (or --expert --env ENV)")
        env = args.env or read_run_config(args.checkpoint).get("env")
        if not env:
            raise SystemExit(f"error: {args.checkpoint} does not record its env; pass --env")
        policy = load_policy(args.checkpoint)
        result = evaluate(policy, env, args.episodes, args.seed, args.n_action_steps, args.temporal_ensemble)
        label = f"{policy.name} on {env}"
    print(
        f"{label}: success {result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] "
        f"({result.successes}/{result.episodes}), return {result.mean_return:.1f} ± {result.std_return:.1f}, "
        f"{result.step_latency_ms:.2f} ms/step"
    )
    if result.success_modes:
        print(f"successes per strategy: {result.success_modes}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def cmd_dagger(args: argparse.Namespace) -> None:
    from imitlab.dagger import equal_label_baseline, run_dagger
    from imitlab.recipes import recipe
    from imitlab.stats import mcnemar_exact_p

    policy_overrides, train_overrides = recipe(args.env, args.policy)
    policy_overrides.update(dict(args.set))
    if args.steps:
        train_overrides["steps"] = args.steps
    rounds = run_dagger(
        args.env, args.policy, args.out, args.init_demos, args.rounds, args.episodes_per_round, args.beta_schedule,
        args.warm_start, args.seed, args.eval_episodes, policy_overrides, train_overrides,
    )
    print("| round | beta | episodes | expert labels | success [95% CI] | return | p vs round 0 |")
    print("|---|---|---|---|---|---|---|")
    for r in rounds:
        p = mcnemar_exact_p(r.episode_success, rounds[0].episode_success)
        print(f"| {r.round} | {r.beta:.3f} | {r.episodes} | {r.expert_labels} | {r.success_rate:.0%} "
              f"[{r.ci_low:.0%}, {r.ci_high:.0%}] | {r.mean_return:.1f} | {p:.3g} |")
    if args.compare_bc:
        last = rounds[-1]
        base = equal_label_baseline(args.env, args.policy, args.out, last.expert_labels, args.seed,
                                    args.eval_episodes, policy_overrides, train_overrides)
        p = mcnemar_exact_p(last.episode_success, base.episode_success)
        print(f"\n{args.policy} on plain expert demonstrations with >= {last.expert_labels} labels: success "
              f"{base.success_rate:.0%} [{base.ci_low:.0%}, {base.ci_high:.0%}], return {base.mean_return:.1f}; "
              f"DAgger round {last.round}: {last.success_rate:.0%}; paired McNemar p = {p:.3g} "
              f"(same {len(base.episode_success)} evaluation seeds)")
    print(f"\nper-round results: {args.out / 'rounds.jsonl'}; aggregated dataset: {args.out / 'data'}")


def cmd_demo(args: argparse.Namespace) -> None:
    from imitlab.demo import run_demo

    run_demo(args.out, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    from imitlab.envs.registry import ENVS
    from imitlab.policies.base import POLICIES
    import imitlab.envs  # noqa: F401
    import imitlab.policies  # noqa: F401

    envs, policies = ", ".join(sorted(ENVS)), ", ".join(sorted(POLICIES))
    parser = argparse.ArgumentParser(
        prog="imitlab",
        description="Learn robot control policies from demonstrations and measure, with confidence intervals, "
        f"which action generator works. Envs: {envs}. Policies: {policies}.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        return p

    p = command("collect", "record scripted-expert demonstrations into a LeRobot-layout dataset",
                "imitlab collect --env pendulum --episodes 50 --out runs/data/pendulum --seed 0")
    p.add_argument("--env", required=True, help=f"environment ({envs})")
    p.add_argument("--episodes", type=int, required=True, help="number of demonstrations")
    p.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    p.add_argument("--seed", type=int, default=0, help="collection seed (episode i resets with seed*100000+i)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.set_defaults(func=cmd_collect)

    p = command("train", "train a policy on a dataset; checkpoints are atomic and --resume continues a killed run",
                "imitlab train --policy chunked-bc --data runs/data/pendulum --out runs/cbc --steps 3000 --chunk-size 8")
    p.add_argument("--policy", required=True, help=f"policy ({policies})")
    p.add_argument("--data", type=Path, required=True, help="dataset directory (from `imitlab collect`)")
    p.add_argument("--out", type=Path, required=True, help="run directory for checkpoints and metrics.jsonl")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the policy's, else 3000)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--chunk-size", type=int, help="H, actions per predicted chunk")
    p.add_argument("--obs-history", type=int, help="T_obs, observations the policy conditions on")
    p.add_argument("--n-action-steps", type=int, help="actions executed per chunk before re-planning")
    p.add_argument("--batch-size", type=int, help="chunks per optimizer step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--ema-decay", type=float, help="EMA decay of the acting weights (0 = off)")
    p.add_argument("--set", type=parse_assignment, action="append", default=[], metavar="KEY=VALUE",
                   help="any policy config field, e.g. --set hidden_dim=512 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from the run's train_state.pt")
    p.set_defaults(func=cmd_train)

    p = command("eval", "evaluate a checkpoint (or the expert) with vectorised rollouts on evaluation seeds",
                "imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json")
    p.add_argument("--checkpoint", type=Path, help="run directory written by `imitlab train`")
    p.add_argument("--expert", action="store_true", help="evaluate the env's scripted expert instead")
    p.add_argument("--env", help="environment (default: the one the checkpoint was trained on)")
    p.add_argument("--episodes", type=int, default=100, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (disjoint from collection seeds)")
    p.add_argument("--n-action-steps", type=int, help="override actions executed per chunk")
    p.add_argument("--temporal-ensemble", type=float, metavar="M",
                   help="re-plan every step and average overlapping chunks with weights exp(-M*i)")
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    p.set_defaults(func=cmd_eval)

    p = command("dagger", "DAgger: roll out a beta-mixture of expert and policy, label visited states with the "
                "expert, aggregate and retrain; per-round success with intervals (rerun to resume)",
                "imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --episodes-per-round 10 "
                "--out runs/dagger")
    p.add_argument("--env", required=True, help=f"environment whose expert labels states ({envs})")
    p.add_argument("--policy", required=True, help=f"policy to train each round ({policies})")
    p.add_argument("--out", type=Path, required=True, help="output directory (data/, round-i/, rounds.jsonl)")
    p.add_argument("--init-demos", type=int, default=10, help="expert demonstrations of round 0")
    p.add_argument("--rounds", type=int, default=5, help="DAgger rounds after round 0")
    p.add_argument("--episodes-per-round", type=int, default=10, help="mixture rollouts labelled per round")
    p.add_argument("--beta-schedule", choices=["constant", "linear", "exponential"], default="exponential",
                   help="expert share of the mixture in round i: 0.5, 1 - i/R, or 0.5^i (default)")
    p.add_argument("--warm-start", action="store_true",
                   help="start each round from the previous round's weights instead of from scratch")
    p.add_argument("--steps", type=int, help="optimizer steps per round (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, help="seed for collection, training, mixing and evaluation")
    p.add_argument("--eval-episodes", type=int, default=100, help="evaluation episodes per round")
    p.add_argument("--set", type=parse_assignment, action="append", default=[], metavar="KEY=VALUE",
                   help="any policy config field (repeatable)")
    p.add_argument("--compare-bc", action="store_true",
                   help="also train the policy on plain expert demos with as many labels as the last round, "
                   "and test the difference (paired McNemar on the same evaluation seeds)")
    p.set_defaults(func=cmd_dagger)

    p = command("demo", "the main job: collect, train every head on every env, evaluate, print a table",
                "imitlab demo --out runs/demo")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory")
    p.add_argument("--seed", type=int, default=0, help="seed for collection, training and evaluation")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ImitlabError, ValueError, KeyError, FileNotFoundError, FileExistsError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    main()
