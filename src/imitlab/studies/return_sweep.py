"""Return conditioning, measured: evaluate a return-conditioned checkpoint (``dt``) once per prompted target
return on the same evaluation seeds, next to baselines evaluated plainly, and print one markdown table.

    python -m imitlab.studies.return_sweep --checkpoint runs/dt --targets -800 -400 -200 0 --baseline runs/bc
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.policies.base import Policy
from imitlab.studies.table import markdown_table
from imitlab.training.checkpoint import load_policy, read_run_config


def return_sweep(
    policy: Policy, env: str, targets: Sequence[float], episodes: int = 100, seed: int = 0
) -> list[EvalResult]:
    """One evaluation per target return (same evaluation seeds for all), in the order given."""
    return [evaluate(policy, env, episodes, seed, target_return=float(target)) for target in targets]


def _row(label: str, result: EvalResult) -> list[str]:
    return [
        label,
        f"{result.mean_return:.1f} ± {result.std_return:.1f}",
        f"{result.success_rate:.0%} [{result.ci_low:.0%}, {result.ci_high:.0%}]",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m imitlab.studies.return_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="return-conditioned run (e.g. dt)")
    parser.add_argument("--targets", type=float, nargs="+", required=True, help="target returns to prompt")
    parser.add_argument("--baseline", type=Path, nargs="*", default=[], help="runs evaluated without a prompt")
    parser.add_argument("--env", help="environment (default: the one the checkpoint was trained on)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per row")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed")
    args = parser.parse_args(argv)
    env = args.env or read_run_config(args.checkpoint).get("env")
    if not env:
        parser.error(f"{args.checkpoint} does not record its env; pass --env")
    policy = load_policy(args.checkpoint)
    rows = [
        _row(f"{policy.name}, target {target:g}", result)
        for target, result in zip(args.targets, return_sweep(policy, env, args.targets, args.episodes, args.seed))
    ]
    for run in args.baseline:
        baseline = load_policy(run)
        rows.append(_row(f"{baseline.name} ({run})", evaluate(baseline, env, args.episodes, args.seed)))
    print(markdown_table(["policy / prompt", "mean return ± std", "success [95% CI]"], rows))


if __name__ == "__main__":
    main()
