"""``metaworld``: the heads on Meta-World's arm, from the 39-D state, one task per LeRobot difficulty group, with
the success per group in the form LeRobot reports it and rollouts animated from the corner2 camera.

One task per group whose scripted expert succeeds on all of its 100 evaluation episodes (docs/environments.md):
reach (easy), bin-picking (medium: the flagged peg-insert-side, soccer and sweep-into are left out), pick-place
(hard) and stick-push (very hard). Small scale runs bc and diffusion on reach; full scale every chunking and
generative head on the four. The heads train with their defaults under Meta-World's recipe for every head (a floor
on the state's normalisation scale, ``envs.metaworld.STATE_RECIPE``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.envs.registry import get_env_spec
from imitlab.experiments.runs import RunSpec
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies.heads import heads_analysis
from imitlab.studies.rows import group, recipe_spec, seed_count
from imitlab.studies.table import markdown_table, seeds_note

DEMOS = 50  # expert demonstrations per task
TASKS = {"small": ("reach",), "full": ("reach", "bin-picking", "pick-place", "stick-push")}
GROUPS = ("easy", "medium", "hard", "very hard")  # LeRobot's, as EnvSpec.group spells them
HEADS = {"small": ("bc", "diffusion"), "full": ("bc", "chunked-bc", "gmm", "diffusion", "flow", "act")}


def _grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    return [
        recipe_spec(f"metaworld/{task}", head, seed, demos=DEMOS)
        for task in TASKS[scale]
        for head in HEADS[scale]
        for seed in seeds
    ]


def _groups_table(rows: list[dict[str, Any]]) -> Table:
    """Success per head and difficulty group: the mean over the group's tasks and the training seeds, as LeRobot
    reports Meta-World."""
    lines = []
    for (policy,), rs in group(rows, "policy").items():
        by_group: dict[str, list[float]] = {}
        for row in rs:
            by_group.setdefault(get_env_spec(row["env"]).group, []).append(float(row["success_rate"]))
        cells = [f"{np.mean(by_group[g]):.0%}" if g in by_group else "not run" for g in GROUPS]
        lines.append([policy, *cells, f"{np.mean([float(r['success_rate']) for r in rs]):.0%}"])
    n = seed_count(rows)
    return Table(
        f"success per difficulty group (mean over the group's tasks and {seeds_note(n)})",
        markdown_table(["head", *GROUPS, "all"], lines),
    )


def _analysis(
    rows: list[dict[str, Any]], root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    tables, figures = heads_analysis(rows, root, out, scale, seeds)
    return [*tables, _groups_table(rows)], figures


register_study(
    Study(
        "metaworld",
        "The heads on Meta-World",
        "Which head works on a robot arm, task by task and per difficulty group?",
        _grid,
        _analysis,
    )
)
