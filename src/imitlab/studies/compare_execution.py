"""Receding horizon versus temporal ensembling, for any chunked checkpoints, on the same evaluation seeds: one
markdown table with a row per (checkpoint, execution mode).

    imitlab compare-execution --checkpoints runs/cbc runs/act --ensemble 0.01 0.1 --episodes 100

Modes: receding horizon with the policy's own ``n_action_steps``; receding horizon re-planning every step
(``n_action_steps=1``, the newest chunk's first action); temporal ensembling with each coefficient m (a chunk
every step, overlapping predictions averaged with weights exp(-m*i), i = 0 the oldest; ACT uses m = 0.01).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imitlab.core.errors import InvalidInputError
from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.evaluation.execution import execution_modes
from imitlab.policies.base import Policy
from imitlab.studies.table import format_success, markdown_table
from imitlab.training.checkpoint import load_policy, read_run_config


def compare_execution(
    run: Path, env: str | None = None, ensemble: Sequence[float] = (0.01,), episodes: int = 100, seed: int = 0
) -> tuple[Policy, list[tuple[str, EvalResult]]]:
    """Evaluate checkpoint ``run`` under every execution mode: the policy and (mode label, result) per mode."""
    env = env or read_run_config(run).get("env")
    if not env:
        raise InvalidInputError(f"{run} does not record its env; pass env")
    policy = load_policy(run)
    return policy, [
        (label, evaluate(policy, env, episodes, seed, **kwargs))
        for label, kwargs in execution_modes([policy.config.n_action_steps, 1], ensemble)
    ]


def execution_table(
    runs: Sequence[Path], *, env: str | None, ensemble: Sequence[float], episodes: int, seed: int
) -> str:
    """A markdown table with one row per (checkpoint, execution mode): policy, H, mode, success, return."""
    rows = []
    for run in runs:
        policy, results = compare_execution(run, env=env, ensemble=ensemble, episodes=episodes, seed=seed)
        for label, r in results:
            rows.append(
                [
                    policy.name,
                    policy.config.horizon,
                    label,
                    format_success(r.success_rate, r.ci_low, r.ci_high, r.successes, r.episodes),
                    f"{r.mean_return:.1f} ± {r.std_return:.1f}",
                ]
            )
    return markdown_table(["policy", "H", "execution", "success [95% CI]", "return"], rows)
