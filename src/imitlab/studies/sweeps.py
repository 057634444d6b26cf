"""Sweeps: one setting varied over a grid (chunk size, demonstrations, inference steps, guidance scale,
observation history, execution mode), the rest from the tuned recipes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imitlab.evaluation.execution import execution_modes
from imitlab.experiments.recipes import has_recipe, recipe, study_envs
from imitlab.experiments.runs import RunSpec
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies.plots import Panel, plot_panels, plot_success_bars
from imitlab.studies.rows import (
    Rows,
    group,
    heads_for,
    mean_of,
    metric_series,
    recipe_spec,
    seed_count,
    seed_success,
    success_cell,
    success_series,
    sweep,
)
from imitlab.studies.table import band_note, format_modes, markdown_table, seeds_note

# --------------------------------------------------------------------------------------------------------------
# chunk-size

CHUNK_SIZES = (1, 2, 4, 8, 16, 32)


def _chunk_size_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    policies = ["chunked-bc"] + (["diffusion"] if scale == "full" else [])
    return [
        recipe_spec("pendulum", p, s, f"{p} H={h}", policy_extra={"horizon": h, "n_action_steps": max(1, h // 2)})
        for p in policies
        for h in CHUNK_SIZES
        for s in seeds
    ]


def _chunk_size_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    success, jerk, lines = [], [], []
    best: dict[str, float] = {}
    for (policy,), points in sweep(rows, lambda r: r["policy_overrides"]["horizon"], "policy").items():
        success.append(success_series(policy, points))
        jerk.append(metric_series(policy, points, "action_jerk"))
        # sweet spot: the highest success; among ties (within one episode), the smoothest
        top = max(seed_success(rs).rate for _, rs in points)
        h_best = min((mean_of(rs, "action_jerk"), h) for h, rs in points if seed_success(rs).rate >= top - 0.01)[1]
        best[f"{policy} sweet spot H={h_best}"] = h_best
        lines += [
            [policy, h, success_cell(rs), f"{mean_of(rs, 'action_jerk'):.2e}", "◀" if h == h_best else ""]
            for h, rs in points
        ]
    figure = plot_panels(
        [
            Panel(
                "success vs chunk size",
                "H (actions per chunk, H/2 executed)",
                "success",
                success,
                logx=True,
                marks=best,
            ),
            Panel("smoothness vs chunk size", "H", "mean squared jerk (lower is smoother)", jerk, logx=True),
        ],
        out / "chunk-size.png",
        "pendulum: chunk size",
    )
    table = markdown_table(["policy", "H", "success [95% CI]", "mean squared jerk", "sweet spot"], lines)
    return (
        [
            Table(
                "pendulum, success and smoothness per chunk size H (H/2 actions executed per chunk), "
                + seeds_note(seed_count(rows)),
                table,
            )
        ],
        [
            Figure(
                figure.name,
                f"Success ({band_note(seed_count(rows))}) and jerk of the executed actions against H; the dashed "
                "line marks the most successful, then smoothest, chunk size.",
            )
        ],
    )


register_study(
    Study(
        "chunk-size",
        "Chunk size",
        "How many actions should a policy predict at once? Success and smoothness vs H.",
        _chunk_size_grid,
        _chunk_size_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# demos

DEMO_COUNTS = (10, 25, 50, 100)


def _demos_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    if scale == "small":
        cells = [("pendulum", p) for p in ("bc", "chunked-bc")]
    else:
        cells = [(env, p) for env in study_envs() for p in heads_for(env)]
    return [recipe_spec(env, p, s, demos=n) for env, p in cells for n in DEMO_COUNTS for s in seeds]


def _demos_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    panels, lines = [], []
    for (env,), ers in group(rows, "env").items():
        series = []
        for (policy,), points in sweep(ers, lambda r: r["demos"], "policy").items():
            series.append(success_series(policy, points))
            lines += [[env, policy, n, success_cell(rs)] for n, rs in points]
        panels.append(Panel(env, "demonstrations", "success", series, logx=True))
    figure = plot_panels(panels, out / "demos.png", "learning curves: success vs number of demonstrations")
    return (
        [
            Table(
                f"success per number of expert demonstrations, {seeds_note(seed_count(rows))}",
                markdown_table(["env", "policy", "demos", "success [95% CI]"], lines),
            )
        ],
        [Figure(figure.name, f"Learning curves ({band_note(seed_count(rows))}): how much data each head needs.")],
    )


register_study(
    Study(
        "demos",
        "Number of demonstrations",
        "How does success grow with the number of expert demonstrations?",
        _demos_grid,
        _demos_analysis,
    )
)


def _success_quality_latency(
    curves: list[tuple[str, list[tuple[float, Rows]]]], xlabel: str, out: Path, title: str, logx: bool = False
) -> Path:
    """Three panels over one inference setting (same trained weights along x), one line per (label, points):
    success with its 95% band over training seeds, chunk MSE to the expert on held-out demonstrations, and time per chunk."""
    return plot_panels(
        [
            Panel("success", xlabel, "success", [success_series(c, p) for c, p in curves], logx=logx),
            Panel(
                "action quality",
                xlabel,
                "chunk MSE to expert (held-out)",
                [metric_series(c, p, "chunk_mse") for c, p in curves],
                logx=logx,
            ),
            Panel(
                "latency",
                xlabel,
                "ms per chunk (batch of envs)",
                [metric_series(c, p, "chunk_latency_ms") for c, p in curves],
                logx=logx,
            ),
        ],
        out,
        title,
    )


# --------------------------------------------------------------------------------------------------------------
# denoise-steps

DENOISE_STEPS = (1, 5, 10, 20, 50, 100)


def _denoise_steps_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    envs = ["two-path"] + (["pendulum"] if scale == "full" else [])
    return [
        recipe_spec(env, p, s, f"{p} k={k}", eval_overrides={"num_inference_steps": k})
        for env in envs
        for p in ("diffusion", "flow")
        for k in DENOISE_STEPS
        for s in seeds
    ]


def _denoise_steps_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    figures, lines = [], []
    for (env,), ers in group(rows, "env").items():
        curves = []
        for (policy,), points in sweep(ers, lambda r: r["eval_overrides"]["num_inference_steps"], "policy").items():
            curves.append((policy, points))
            lines += [
                [
                    env,
                    policy,
                    k,
                    success_cell(rs),
                    f"{mean_of(rs, 'chunk_mse'):.4f}",
                    f"{mean_of(rs, 'chunk_latency_ms'):.1f}",
                    format_modes(*(r["success_modes"] for r in rs)),
                ]
                for k, rs in points
            ]
        figure = _success_quality_latency(
            curves,
            "inference steps",
            out / f"denoise-steps-{env}.png",
            f"{env}: denoising / integration steps at inference",
            logx=True,
        )
        figures.append(
            Figure(
                figure.name,
                f"{env}: one trained model per head, sampled with k steps: success, "
                "error to the expert's chunk on held-out demonstrations, and time per chunk.",
            )
        )
    table = markdown_table(["env", "policy", "steps", "success [95% CI]", "chunk MSE", "ms/chunk", "modes"], lines)
    caption = "inference steps vs success, action quality and latency (same trained weights), "
    return [Table(caption + seeds_note(seed_count(rows)), table)], figures


register_study(
    Study(
        "denoise-steps",
        "Denoising steps",
        "How many DDIM / Euler steps does sampling need, and what do they cost?",
        _denoise_steps_grid,
        _denoise_steps_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# guidance

GUIDANCE_SCALES = (0.0, 1.0, 1.5, 2.0, 3.0, 5.0)
COND_DROPOUT = 0.1  # Ho & Salimans 2022 found 0.1-0.2 best


def _guidance_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    envs = ["two-path"] + (["pendulum"] if scale == "full" else [])
    guided = [
        recipe_spec(
            env, p, s, f"{p} w={w}", policy_extra={"cond_dropout": COND_DROPOUT}, eval_overrides={"guidance_scale": w}
        )
        for env in envs
        for p in ("diffusion", "flow")
        for w in GUIDANCE_SCALES
        for s in seeds
    ]
    reference = [
        recipe_spec(env, p, s, f"{p} no dropout") for env in envs for p in ("diffusion", "flow") for s in seeds
    ]
    return guided + reference


def _guidance_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    figures, lines = [], []
    for (env,), ers in group(rows, "env").items():
        curves = []
        w_of = lambda r: r["eval_overrides"].get("guidance_scale", 1.0)  # noqa: E731
        dropout = lambda r: r["policy_overrides"].get("cond_dropout", 0.0)  # noqa: E731
        for (policy, p), points in sweep(ers, w_of, "policy", dropout).items():
            if p > 0:
                curves.append((policy, points))
            lines += [
                [
                    env,
                    policy,
                    p,
                    w,
                    success_cell(rs),
                    f"{mean_of(rs, 'chunk_mse'):.4f}",
                    f"{mean_of(rs, 'chunk_latency_ms'):.1f}",
                    format_modes(*(r["success_modes"] for r in rs)),
                ]
                for w, rs in points
            ]
        figure = _success_quality_latency(
            curves,
            "guidance scale w (0 = no observation)",
            out / f"guidance-{env}.png",
            f"{env}: classifier-free guidance on the observation",
        )
        figures.append(
            Figure(
                figure.name,
                f"{env}: one model per head trained with the observation dropped "
                f"{COND_DROPOUT:.0%} of the time, sampled with out_null + w (out_obs - out_null).",
            )
        )
    table = markdown_table(
        ["env", "policy", "cond dropout", "w", "success [95% CI]", "chunk MSE", "ms/chunk", "modes"], lines
    )
    return [
        Table(
            "guidance scale vs success, action quality and latency (same trained weights per head; "
            f"cond dropout 0 = the recipe, sampled without guidance), {seeds_note(seed_count(rows))}",
            table,
        )
    ], figures


register_study(
    Study(
        "guidance",
        "Classifier-free guidance",
        "Does guiding a diffusion or flow head toward its observation (w > 1) help, and what does w = 0 forget?",
        _guidance_grid,
        _guidance_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# obs-history

OBS_HISTORY = (1, 2, 4)


def _obs_history_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    policies = ["chunked-bc"] + (["diffusion"] if scale == "full" else [])
    return [
        recipe_spec("pendulum", p, s, f"{p} T_obs={t}", policy_extra={"n_obs_steps": t})
        for p in policies
        for t in OBS_HISTORY
        for s in seeds
    ]


def _obs_history_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    series, lines = [], []
    for (policy,), points in sweep(rows, lambda r: r["policy_overrides"]["n_obs_steps"], "policy").items():
        series.append(success_series(policy, points))
        lines += [[policy, t, success_cell(rs), f"{mean_of(rs, 'chunk_mse'):.4f}"] for t, rs in points]
    figure = plot_panels(
        [Panel("success vs observation history", "T_obs", "success", series)],
        out / "obs-history.png",
        "pendulum: observation history",
    )
    return (
        [
            Table(
                f"pendulum, observation history T_obs, {seeds_note(seed_count(rows))}",
                markdown_table(["policy", "T_obs", "success [95% CI]", "chunk MSE"], lines),
            )
        ],
        [
            Figure(
                figure.name,
                f"Success ({band_note(seed_count(rows))}) against the number of past observations the policy sees "
                "(the pendulum state is fully observed, so history should add little).",
            )
        ],
    )


register_study(
    Study(
        "obs-history",
        "Observation history",
        "Does conditioning on past observations help?",
        _obs_history_grid,
        _obs_history_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# execution

TEMPORAL_ENSEMBLE_M = 0.01  # ACT's default weight decay over chunk age


def _execution_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    policies = ["chunked-bc"] + (
        [p for p in ("diffusion", "act") if has_recipe("pendulum", p)] if scale == "full" else []
    )
    specs = []
    for p in policies:
        horizon = recipe("pendulum", p)[0].get("horizon", 1)
        specs += [
            recipe_spec("pendulum", p, s, f"{p} {mode}", eval_overrides=settings)
            for mode, settings in execution_modes([1, max(1, horizon // 2), horizon], [TEMPORAL_ENSEMBLE_M])
            for s in seeds
        ]
    return specs


def _execution_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    lines: list[Any] = []
    bars: dict[str, dict[str, Any]] = {}
    for (policy,), prs in group(rows, "policy").items():
        bars[policy] = {}
        for (label,), rs in group(prs, "label").items():
            mode = label.removeprefix(f"{policy} ")
            success = seed_success(rs)
            bars[policy][mode] = (success.rate, success.low, success.high)
            lines.append(
                [
                    policy,
                    mode,
                    success_cell(rs),
                    f"{mean_of(rs, 'action_jerk'):.2e}",
                    f"{mean_of(rs, 'step_latency_ms'):.2f}",
                ]
            )
    figure = plot_success_bars(
        bars, out / "execution.png", "pendulum: execution of the same trained chunks", xlabel="execution"
    )
    table = markdown_table(["policy", "execution", "success [95% CI]", "mean squared jerk", "ms/step"], lines)
    return (
        [
            Table(
                "receding horizon (executed/predicted) vs temporal ensembling, same trained weights, "
                + seeds_note(seed_count(rows)),
                table,
            )
        ],
        [
            Figure(
                figure.name,
                f"Success per execution mode ({band_note(seed_count(rows))} as whiskers); the table adds smoothness and "
                "the cost per step (ensembling predicts a chunk at every step).",
            )
        ],
    )


register_study(
    Study(
        "execution",
        "Chunk execution",
        "Receding horizon with 1, H/2 or H executed actions, or temporal ensembling?",
        _execution_grid,
        _execution_analysis,
    )
)
