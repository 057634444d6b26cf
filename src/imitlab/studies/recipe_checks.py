"""The measurements behind the recipes: where a recipe departs from a head's defaults or from its paper, the run
that justified it, beside the recipe itself, so each choice rests on a number a command reproduces (the figures
once quoted in the recipes' comments)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imitlab.experiments.runs import RunSpec
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies.plots import plot_success_bars
from imitlab.studies.rows import Rows, group, recipe_spec, seed_count, seed_success, success_cell
from imitlab.studies.table import band_note, format_modes, markdown_table, seeds_note

# (env, head, setting, policy fields, train fields): each alternative the recipe was chosen against; every head
# also runs its recipe unchanged ("recipe")
ALTERNATIVES: tuple[tuple[str, str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("two-path", "gmm", "3000 steps (the regressors' budget)", {}, {"steps": 3000}),
    ("two-path", "act", "the paper's latent: kl_weight 10, z = 0", {"kl_weight": 10.0, "inference_z": "zero"}, {}),
    ("two-path", "tokenized", "parallel tokens, argmax", {"autoregressive": False, "temperature": 0.0}, {}),
    ("two-path", "tokenized", "parallel tokens, temperature 1", {"autoregressive": False, "temperature": 1.0}, {}),
    ("pendulum", "act", "the paper's L1 reconstruction", {"loss": "l1"}, {}),
)
RECIPE = "recipe"


def _grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    cells = dict.fromkeys((env, head) for env, head, *_ in ALTERNATIVES)
    specs = [recipe_spec(env, head, s, f"{head} {RECIPE}") for env, head in cells for s in seeds]
    specs += [
        recipe_spec(env, head, s, f"{head} {setting}", policy_extra=policy, train_extra=train)
        for env, head, setting, policy, train in ALTERNATIVES
        for s in seeds
    ]
    return specs


def _analysis(rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]) -> tuple[list[Table], list[Figure]]:
    lines: list[list[Any]] = []
    bars: dict[str, dict[str, tuple[float, float, float]]] = {}
    for (env, policy, label), rs in group(rows, "env", "policy", "label").items():
        setting = label.removeprefix(f"{policy} ")
        success = seed_success(rs)
        bars.setdefault(f"{env} {policy}", {})[setting] = (success.rate, success.low, success.high)
        lines.append([env, policy, setting, success_cell(rs), format_modes(*(r["success_modes"] for r in rs))])
    figure = plot_success_bars(
        bars, out / "recipe-checks.png", "each recipe against what it replaced", xlabel="setting"
    )
    table = markdown_table(["env", "head", "setting", "success [95% CI]", "modes"], lines)
    caption = "each recipe against the settings it was chosen over (the rest of the recipe unchanged), "
    note = f"Success per setting ({band_note(seed_count(rows))})."
    return [Table(caption + seeds_note(seed_count(rows)), table)], [Figure(figure.name, note)]


register_study(
    Study(
        "recipe-checks",
        "Why the recipes",
        "Each recipe choice that departs from a head's defaults or its paper, against the setting it replaced.",
        _grid,
        _analysis,
    )
)
