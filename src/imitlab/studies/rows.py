"""Helpers shared by the studies: runs built from the tuned recipes, and rows read back grouped and summarised over training seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.core import keys
from imitlab.envs.registry import get_env_spec
from imitlab.evaluation.stats import SeedSuccess, success_over_seeds
from imitlab.experiments.recipes import demos_for, resolve_recipe
from imitlab.experiments.runs import RunSpec, trained_run_dir
from imitlab.policies.base import Policy, get_policy_class
from imitlab.studies.plots import Series
from imitlab.studies.table import format_seed_success
from imitlab.training.checkpoint import load_policy

Row = dict[str, Any]  # a run's record (experiments.runs.RUN_SCHEMA): typed fields
Rows = list[Row]
EVAL_EPISODES = 100  # evaluation episodes per run


def heads_for(env: str) -> list[str]:
    """Every policy with a tuned recipe on ``env``, in recipe order (a newly tuned head joins the studies), except
    return-conditioned ones (dt), which need mixed-quality data and a target return: see imitlab.studies.return_sweep."""
    return [
        policy
        for policy in get_env_spec(env).recipes
        if keys.HISTORY_RETURN_TO_GO not in get_policy_class(policy).history_inputs
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
    """A run of ``policy`` on ``env`` with its recipe, changed by the ``*_extra`` settings under study (the same
    ``resolve_recipe`` as `imitlab train`)."""
    settings = resolve_recipe(env, policy, policy_extra, train_extra)
    return RunSpec(
        env,
        policy,
        demos or demos_for(env),
        seed,
        settings.policy_overrides,
        settings.train_overrides,
        eval_episodes=EVAL_EPISODES,
        label=label or policy,
        eval_overrides=dict(eval_overrides or {}),
    )


def seed_success(rows: Rows) -> SeedSuccess:
    """Success of one config over its runs ``rows`` (one per training seed): the mean of the per-seed rates with
    a seed-aware 95% interval (Wilson when there is one seed), see ``evaluation.stats.success_over_seeds``."""
    return success_over_seeds([r["successes"] for r in rows], [r["episodes"] for r in rows])


def seed_count(rows: Rows) -> int:
    """How many training seeds ``rows`` hold."""
    return len({r["seed"] for r in rows})


def mean_of(rows: Rows, key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def group(rows: Rows, *keys: str | Callable[[Row], Any]) -> dict[tuple, Rows]:
    """Rows grouped by the given columns (or functions of a row), in first-seen order."""
    groups: dict[tuple, Rows] = {}
    for r in rows:
        groups.setdefault(tuple(k(r) if callable(k) else r[k] for k in keys), []).append(r)
    return groups


def success_series(label: str, points: list[tuple[float, Rows]]) -> Series:
    """Success over training seeds with its 95% band at each x."""
    stats = [seed_success(rs) for _, rs in points]
    return Series(
        label, [x for x, _ in points], [s.rate for s in stats], [s.low for s in stats], [s.high for s in stats]
    )


def metric_series(label: str, points: list[tuple[float, Rows]], key: str) -> Series:
    return Series(label, [x for x, _ in points], [mean_of(rs, key) for _, rs in points])


def success_cell(rows: Rows) -> str:
    return format_seed_success(seed_success(rows))


def sweep(
    rows: Rows, value: Callable[[Row], Any], *by: str | Callable[[Row], Any]
) -> dict[tuple, list[tuple[Any, Rows]]]:
    """What every sweep analysis reads: the rows grouped by ``by`` (columns or functions of a row; first-seen
    order), and in each
    group the points of the swept ``value`` (a function of a row), in increasing order, each with its rows (one
    per training seed)."""
    return {
        key: sorted(((x, rs) for (x,), rs in group(grs, value).items()), key=lambda point: point[0])
        for key, grs in group(rows, *by).items()
    }


def policy_of(root: Path, row: Row) -> Policy:
    """The trained policy of a run's record (runs differing only in evaluation settings share it)."""
    return load_policy(trained_run_dir(root, row["run_id"]))
