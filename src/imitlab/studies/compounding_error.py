"""Compounding error and its remedies as studies: how far BC drifts from the expert step by step, and BC vs
DAgger vs DART vs noise augmentation vs CCIL at equal expert labels (``imitlab.remedies.compare`` runs them)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.core.seeds import evaluation_seeds
from imitlab.evaluation.compounding import CSV_COLUMNS, CompoundingCurve, compounding_curve
from imitlab.evaluation.stats import SeedSuccess
from imitlab.experiments.recipes import recipe
from imitlab.experiments.runs import RunSpec
from imitlab.remedies.compare import RemedyConfig, compare_remedies, summarise
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies import rows as study_rows
from imitlab.studies.plots import Panel, Series, plot_panels, plot_success_bars
from imitlab.studies.rows import Rows, group, policy_of, recipe_spec, seed_count, success_cell
from imitlab.studies.summaries import format_seed_success, remedies_caption, remedies_table
from imitlab.studies.table import band_note, markdown_table, seeds_note

ENV = "pendulum"
LATE_STEPS = 50  # the success window of pendulum: the last 50 steps


def write_curves(curves: list[CompoundingCurve], csv_path: Path, png_path: Path, title: str = "") -> None:
    """One CSV row per (curve, step) and one figure with each curve and its band."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for curve in curves:
            writer.writerows(curve.rows())
    series = [
        Series(c.label, list(range(len(c.mean))), c.mean.tolist(), c.low.tolist(), c.high.tolist(), marker="")
        for c in curves
    ]
    plot_panels(
        [Panel("distance to the expert's trajectory", "step", "normalised distance (mean, 95% CI)", series)],
        png_path,
        title=title,
    )


# --------------------------------------------------------------------------------------------------------------
# compounding-error


COMPOUNDING_CELLS = (("bc", 10), ("bc", 100), ("chunked-bc", 100))  # (policy, demonstrations)


def _compounding_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    return [recipe_spec(ENV, p, s, f"{p}, {n} demos", demos=n) for p, n in COMPOUNDING_CELLS for s in seeds]


def _compounding_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    curves, lines = [], []
    for (label,), rs in group(rows, "label").items():
        row = rs[0]  # the first training seed: one curve per config
        policy = policy_of(root, row)
        curve = compounding_curve(policy, ENV, evaluation_seeds(row["seed"], row["episodes"]), label)
        curves.append(curve)
        lines.append(
            [
                label,
                success_cell(rs),
                f"{curve.mean.mean():.3f}",
                f"{curve.mean[-LATE_STEPS:].mean():.3f}",
                f"{curve.mean.max():.3f} (step {int(curve.mean.argmax())})",
            ]
        )
    write_curves(
        curves,
        out / "compounding-error.csv",
        out / "compounding-error.png",
        title=f"{ENV}: distance from the expert's trajectory from the same initial state",
    )
    table = markdown_table(["policy", "success [95% CI]", "mean distance", f"last {LATE_STEPS} steps", "peak"], lines)
    return (
        [
            Table(
                f"{ENV}: state distance to the expert's trajectory (normalised per dimension), from the same "
                f"evaluation initial states (first training seed); success: {seeds_note(seed_count(rows))}",
                table,
            )
        ],
        [
            Figure(
                "compounding-error.png",
                "Mean distance between the policy's and the expert's state at each "
                "step, with a 95% band over episodes: where errors compound, the curve grows with time.",
            )
        ],
    )


register_study(
    Study(
        "compounding-error",
        "Compounding error",
        "How fast does a cloned policy drift from the expert, and do more demonstrations or chunking slow it?",
        _compounding_grid,
        _compounding_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# dagger (all remedies)

REGIME_DEMOS = (3, 5, 10, 20, 40)  # the numbers of demonstrations plain bc is swept over before the comparison
METHODS = ["dart", "augment", "ccil", "dagger"]
REMEDY_CONFIG = RemedyConfig()  # each method's defaults (see imitlab.remedies.compare)


def bc_over_demos(
    env: str,
    sweep: Sequence[int],
    root: Path,
    seeds: Sequence[int],
    eval_episodes: int,
    policy_overrides: dict[str, Any],
    train_overrides: dict[str, Any],
) -> dict[int, SeedSuccess]:
    """Plain bc's success over the training seeds at each number of demonstrations in ``sweep`` (runs under
    ``root/regime/demos-N``, reused when finished): what ``regime_demos`` chooses the remedies' setting from."""
    return {
        n: summarise(
            compare_remedies(
                [],
                env,
                "bc",
                n,
                root / "regime" / f"demos-{n}",
                seeds,
                eval_episodes=eval_episodes,
                policy_overrides=policy_overrides,
                train_overrides=train_overrides,
            )
        )[0].success
        for n in sweep
    }


def regime_demos(bc_by_demos: dict[int, SeedSuccess]) -> int:
    """The setting of the remedy comparison: the largest number of demonstrations at which plain bc's median
    success over the training seeds is at most half (the expert's is 100 %), so compounding error shows on most
    seeds; the smallest swept number if there is none."""
    failing = [n for n, success in bc_by_demos.items() if np.median(success.per_seed) <= 0.5]
    return max(failing) if failing else min(bc_by_demos)


def _regime_table(bc_by_demos: dict[int, SeedSuccess], chosen: int) -> Table:
    lines = [
        [
            n,
            f"{np.median(s.per_seed):.0%}",
            format_seed_success(s),
            " ".join(f"{r:.0%}" for r in s.per_seed),
            "◀" if n == chosen else "",
        ]
        for n, s in bc_by_demos.items()
    ]
    seeds = max(s.seeds for s in bc_by_demos.values())
    return Table(
        f"{ENV}, plain bc vs number of demonstrations, {seeds_note(seeds)}: the remedies are compared at the largest "
        "number where bc's median success is at most 50 % (◀)",
        markdown_table(["demos", "median over seeds", "success [95% CI]", "per seed", "compared at"], lines),
    )


def _remedies_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    policy_overrides, train_overrides = recipe(ENV, "bc")
    bc_by_demos = bc_over_demos(
        ENV, REGIME_DEMOS, Path(root), seeds, study_rows.EVAL_EPISODES, policy_overrides, train_overrides
    )
    demos = regime_demos(bc_by_demos)
    runs = compare_remedies(
        METHODS,
        env=ENV,
        policy="bc",
        demos=demos,
        out=Path(root) / "remedies" / f"demos-{demos}",
        seeds=list(seeds),
        config=REMEDY_CONFIG,
        eval_episodes=study_rows.EVAL_EPISODES,
        policy_overrides=policy_overrides,
        train_overrides=train_overrides,
        equal_label_controls=True,
    )
    summary = summarise(runs)
    bars = {m.label: (m.success.rate, m.success.low, m.success.high) for m in summary}
    figure = plot_success_bars(
        {f"{ENV}, bc, {demos} demos": bars},
        out / "remedies.png",
        "remedies for compounding error",
        xlabel="method",
    )
    return (
        [
            _regime_table(bc_by_demos, demos),
            Table(remedies_caption(summary, f"{ENV}, MLP bc from {demos} demonstrations"), remedies_table(summary)),
        ],
        [
            Figure(
                figure.name,
                f"Success per remedy ({band_note(len(seeds))} as whiskers); the equal-label BC controls show "
                "whether a gain comes from the method or from more expert labels.",
            )
        ],
    )


register_study(
    Study(
        "dagger",
        "Fixing compounding error",
        "BC vs DAgger vs DART vs noise augmentation vs CCIL, at equal expert labels.",
        lambda scale, seeds: [],
        _remedies_analysis,
    )
)
