"""Return conditioning, measured: evaluate a return-conditioned checkpoint (``dt``) once per prompted target
return on the same evaluation seeds, next to baselines evaluated plainly, and print one markdown table.

    imitlab return-sweep --checkpoint runs/dt --targets -800 -400 -200 0 --baseline runs/bc
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.policies.base import Policy
from imitlab.studies.table import markdown_table
from imitlab.training.checkpoint import load_policy


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


def return_sweep_table(
    checkpoint: Path, *, env: str, targets: Sequence[float], baselines: Sequence[Path], episodes: int, seed: int
) -> str:
    """A markdown table: ``checkpoint`` prompted with each target return, then each baseline run unprompted,
    all on the same evaluation seeds."""
    policy = load_policy(checkpoint)
    results = return_sweep(policy, env, targets, episodes=episodes, seed=seed)
    rows = [_row(f"{policy.name}, target {target:g}", result) for target, result in zip(targets, results)]
    for run in baselines:
        baseline = load_policy(run)
        rows.append(_row(f"{baseline.name} ({run})", evaluate(baseline, env, episodes, seed)))
    return markdown_table(["policy / prompt", "mean return ± std", "success [95% CI]"], rows)
