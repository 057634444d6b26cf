"""Helpers shared by the studies: runs built from the tuned recipes, and rows read back grouped and pooled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.core import keys
from imitlab.evaluation.stats import wilson_interval
from imitlab.experiments.recipes import DEMOS, RECIPES, recipe
from imitlab.experiments.runs import RunSpec, trained_run_dir
from imitlab.policies.base import Policy, get_policy_class
from imitlab.studies.plots import Series
from imitlab.studies.table import format_success
from imitlab.training.checkpoint import load_policy

Rows = list[dict[str, str]]
EVAL_EPISODES = 100  # evaluation episodes per run


def heads_for(env: str) -> list[str]:
    """Every policy with a tuned recipe on ``env``, in recipe order (a newly tuned head joins the studies), except
    return-conditioned ones (dt), which need mixed-quality data and a target return: see imitlab.studies.return_sweep."""
    return [
        policy
        for (e, policy) in RECIPES
        if e == env and keys.HISTORY_RETURN_TO_GO not in get_policy_class(policy).history_inputs
    ]


def recipe_spec(
    env: str,
    policy: str,
    seed: int,
    label: str = "",
    demos: int | None = None,
    policy_extra: dict[str, Any] | None = None,
    train_extra: dict[str, Any] | None = None,
    eval_overrides: dict[str, Any] | None = None,
) -> RunSpec:
    """A run of ``policy`` on ``env`` with its recipe, changed by the ``*_extra`` settings under study."""
    policy_overrides, train_overrides = recipe(env, policy)
    return RunSpec(
        env,
        policy,
        demos or DEMOS[env],
        seed,
        {**policy_overrides, **(policy_extra or {})},
        {**train_overrides, **(train_extra or {})},
        eval_episodes=EVAL_EPISODES,
        label=label or policy,
        eval_overrides=dict(eval_overrides or {}),
    )


def pooled(rows: Rows) -> tuple[float, float, float, int, int]:
    """Success over every episode of ``rows`` (e.g. all seeds of one config): rate, Wilson low/high, k, n."""
    k = sum(int(r["successes"]) for r in rows)
    n = sum(int(r["episodes"]) for r in rows)
    low, high = wilson_interval(k, n)
    return k / n, low, high, k, n


def mean_of(rows: Rows, key: str) -> float:
    return float(np.mean([float(r[key]) for r in rows]))


def group(rows: Rows, *keys: str | Callable[[dict[str, str]], Any]) -> dict[tuple, Rows]:
    """Rows grouped by the given columns (or functions of a row), in first-seen order."""
    groups: dict[tuple, Rows] = {}
    for r in rows:
        groups.setdefault(tuple(k(r) if callable(k) else r[k] for k in keys), []).append(r)
    return groups


def success_series(label: str, points: list[tuple[float, Rows]]) -> Series:
    """Pooled success with its Wilson band at each x."""
    stats = [pooled(rs) for _, rs in points]
    return Series(label, [x for x, _ in points], [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats])


def metric_series(label: str, points: list[tuple[float, Rows]], key: str) -> Series:
    return Series(label, [x for x, _ in points], [mean_of(rs, key) for _, rs in points])


def success_cell(rows: Rows) -> str:
    return format_success(*pooled(rows))


def overrides(row: dict[str, str], column: str) -> dict[str, Any]:
    return json.loads(row[column] or "{}")


def policy_of(root: Path, row: dict[str, str]) -> Policy:
    """The trained policy of a CSV row (runs differing only in evaluation settings share it)."""
    return load_policy(trained_run_dir(root, row["run_id"]))
