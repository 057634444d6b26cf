"""Compounding error and its remedies as studies: how far BC drifts from the expert step by step, and BC vs
DAgger vs DART vs noise augmentation vs CCIL at equal expert labels (``imitlab.remedies.compare`` runs them)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from imitlab.core.seeds import evaluation_seeds
from imitlab.evaluation.compounding import CSV_COLUMNS, CompoundingCurve, compounding_curve
from imitlab.experiments.recipes import recipe
from imitlab.experiments.runs import RunSpec
from imitlab.remedies.compare import RemedyConfig, compare_remedies, summarise
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies import rows as study_rows
from imitlab.studies.plots import Panel, Series, plot_panels, plot_success_bars
from imitlab.studies.rows import Rows, group, policy_of, recipe_spec, seed_count, success_cell
from imitlab.studies.summaries import remedies_caption, remedies_table
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
        curve = compounding_curve(policy, ENV, evaluation_seeds(int(row["seed"]), int(row["episodes"])), label)
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

REMEDY_DEMOS = 10
METHODS = ["dart", "augment", "ccil", "dagger"]
REMEDY_CONFIG = RemedyConfig()  # each method's defaults (see imitlab.remedies.compare)


def _remedies_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    policy_overrides, train_overrides = recipe(ENV, "bc")
    runs = compare_remedies(
        METHODS,
        env=ENV,
        policy="bc",
        demos=REMEDY_DEMOS,
        out=Path(root) / "remedies",
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
        {f"{ENV}, bc, {REMEDY_DEMOS} demos": bars},
        out / "remedies.png",
        "remedies for compounding error",
        xlabel="method",
    )
    return (
        [
            Table(
                remedies_caption(summary, f"{ENV}, MLP bc from {REMEDY_DEMOS} demonstrations"), remedies_table(summary)
            )
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
