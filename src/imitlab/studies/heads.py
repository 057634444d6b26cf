"""The headline comparisons: every head on every env over several training seeds (``heads``), and how each head
copes with two equally valid actions (``multimodality``: the static toy and the closed-loop two-path task). At full
scale both also run the camera variants of their envs (``EnvSpec.variant_of``: two-path from its 64 x 64
camera), on their recipes, which are not tuned yet."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imitlab.core.seeds import evaluation_seeds
from imitlab.envs import two_path
from imitlab.envs.registry import CameraEnv, get_env_spec, require_state
from imitlab.envs.rollout import run_episodes
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.evaluation.stats import bootstrap_iqm_interval, interquartile_mean, paired_over_seeds, success_over_seeds
from imitlab.experiments.process_executor import call_in_processes
from imitlab.experiments.recipes import camera_variants, expected_train_seconds, recipe, study_envs
from imitlab.experiments.records import append_row, read_rows
from imitlab.experiments.runs import RunSpec, digest
from imitlab.studies import Figure, Study, Table, register_study
from imitlab.studies.animation import save_episode_gif
from imitlab.studies.plots import plot_fork_actions, plot_success_bars
from imitlab.studies.rows import (
    Rows,
    group,
    heads_for,
    mean_of,
    policy_of,
    recipe_spec,
    seed_count,
    seed_success,
    success_cell,
)
from imitlab.studies.table import (
    band_note,
    format_difference,
    format_modes,
    format_p_values,
    format_seed_success,
    format_seed_votes,
    markdown_table,
    seeds_note,
)
from imitlab.studies.toy import mode_split, write_toy_dataset
from imitlab.training.checkpoint import load_policy
from imitlab.training.train import train_policy

BASELINE = "bc"
ANIMATED_EPISODES = 10  # evaluation episodes rolled out again to pick the best and worst one per head


def outcomes(row: dict[str, str]) -> np.ndarray:
    """(episodes,) bool per-episode success of one run, in evaluation-seed order."""
    return np.array(row["outcomes"], dtype=bool)


# --------------------------------------------------------------------------------------------------------------
# heads


# small scale (the demo's, sized to fit its 15 minutes): every head on two-path, where the heads differ, and only the
# regressors on pendulum, where every head succeeds (the U-Net heads' four trainings would take ~7 of those minutes);
# full scale: every head on every env, the camera variants included (hours of CPU per head: recipes.py)
SMALL_SCALE_HEADS = {"pendulum": ("bc", "chunked-bc")}


def _heads_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    envs = study_envs() if scale == "small" else [*study_envs(), *camera_variants()]
    return [
        recipe_spec(env, p, s)
        for env in envs
        for p in heads_for(env)
        for s in seeds
        if scale == "full" or p in SMALL_SCALE_HEADS.get(env, (p,))
    ]


def _paired_lines(env: str, ers: Rows) -> list[list]:
    """Each head against BASELINE, training seed by training seed, on the same evaluation seeds."""
    by_head = group(ers, "policy")
    base = {r["seed"]: outcomes(r) for r in by_head.get((BASELINE,), [])}
    lines = []
    for (policy,), rs in by_head.items():
        paired = [r for r in rs if r["seed"] in base]
        if policy == BASELINE or not paired:
            continue
        head = [outcomes(r) for r in paired]
        bc = [base[r["seed"]] for r in paired]
        comparison = paired_over_seeds(head, bc)
        lines.append(
            [
                env,
                policy,
                f"{np.mean([o.mean() for o in head]):.0%}",
                f"{np.mean([o.mean() for o in bc]):.0%}",
                format_difference(comparison),
                format_seed_votes(comparison),
                format_p_values(comparison),
            ]
        )
    return lines


def _animate(root: Path, rows: Rows, out: Path) -> list[Figure]:
    """GIFs of the best and the worst (by success, then return) of the first evaluation episodes, per head and
    env."""
    figures = []
    for (env, policy), rs in group(rows, "env", "policy").items():
        row = rs[0]
        spec = get_env_spec(env)
        executor = ChunkExecutor(policy_of(root, row))
        # an env with cameras is animated from its first camera's frames, a state env from the one it renders anyway
        camera = next(iter(spec.cameras), spec.animation_camera)
        with torch.inference_mode():
            seeds = evaluation_seeds(row["seed"], ANIMATED_EPISODES)
            result = run_episodes(spec, executor, seeds, record_images=camera is not None)
        order = np.lexsort((result.returns, result.episode_success))  # by success, then return
        for which, i in (("best", order[-1]), ("worst", order[0])):
            episode = result.episode(int(i))
            verdict = "success" if result.episode_success[i] else "failure"
            frames = episode["images"][camera] if camera is not None else None
            name = f"{env.replace('/', '-')}-{policy}-{which}.gif"  # an env family's names hold a slash
            gif = save_episode_gif(env, episode["observation"], out / name, spec.fps, frames)
            if gif is not None:
                figures.append(
                    Figure(
                        gif.name,
                        f"{env}, {policy}: {which} of {ANIMATED_EPISODES} evaluation "
                        f"episodes (return {result.returns[i]:.1f}, {verdict})",
                    )
                )
    return figures


def heads_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    per_env: list[list[Any]] = []
    bars: dict[str, dict[str, Any]] = {}
    for (env,), ers in group(rows, "env").items():
        bars[env] = {}
        for (policy,), rs in group(ers, "policy").items():
            success = seed_success(rs)
            bars[env][policy] = (success.rate, success.low, success.high)
            per_env.append(
                [
                    env,
                    policy,
                    len(rs),
                    success_cell(rs),
                    f"{mean_of(rs, 'mean_return'):.1f}",
                    f"{mean_of(rs, 'train_seconds'):.0f}",
                    f"{mean_of(rs, 'step_latency_ms'):.2f}",
                ]
            )
    aggregate = []
    for (policy,), rs in group(rows, "policy").items():
        runs = [outcomes(r) for r in rs]
        low, high = bootstrap_iqm_interval(runs)
        aggregate.append(
            [policy, len(runs), f"{interquartile_mean([o.mean() for o in runs]):.0%}", f"[{low:.0%}, {high:.0%}]"]
        )
    paired = [line for (env,), ers in group(rows, "env").items() for line in _paired_lines(env, ers)]
    n = seed_count(rows)
    figure = plot_success_bars(bars, out / "heads.png", f"success per head and env, {band_note(n)}")
    tables = [
        Table(
            f"success per env and head, {seeds_note(n)}",
            markdown_table(["env", "head", "seeds", "success [95% CI]", "mean return", "train s", "ms/step"], per_env),
        ),
        Table(
            "aggregate over envs and seeds: interquartile mean of per-run success, with a bootstrap 95% interval "
            "(runs and episodes resampled)",
            markdown_table(["head", "runs", "IQM success", "95% CI"], aggregate),
        ),
        Table(
            f"paired against {BASELINE} on the same evaluation seeds, {n} training seed{'s' if n > 1 else ''}: "
            + (
                "the difference in success (one trained policy each; the exact McNemar p on its discordant episodes)"
                if n == 1
                else "mean per-seed difference with its 95% interval (bootstrap of seeds, then of episode pairs), "
                "how many seeds favour each, and the exact McNemar p of each seed's pair of policies"
            ),
            markdown_table(
                [
                    "env",
                    "head",
                    "head",
                    BASELINE,
                    "difference",
                    f"seeds: head · {BASELINE} · tie",
                    "McNemar p per seed",
                ],
                paired,
            ),
        ),
    ]
    figures = [Figure(figure.name, f"Success per head and env over training seeds: {band_note(n)} as whiskers.")]
    return tables, figures + _animate(root, rows, out)


register_study(
    Study(
        "heads",
        "Every head on every env",
        "Which way of representing and generating actions works, with what confidence?",
        _heads_grid,
        heads_analysis,
    )
)


# --------------------------------------------------------------------------------------------------------------
# multimodality

TOY_STEPS = {"small": 1000, "full": 3000}
# one record per head and seed: the shares of its samples near +1, near -1 and between (experiments.records)
TOY_SCHEMA: dict[str, type] = {
    "policy": str,
    "seed": int,
    "settings": str,
    "plus": float,
    "minus": float,
    "between": float,
    "samples": int,
}
TOY_SAMPLES = 200


def _toy_training(root: Path, policy: str, seed: int, steps: int) -> tuple[str, Path, partial]:
    """The settings of ``policy``'s static-toy run (its two-path recipe, ``steps`` optimizer steps), its run
    directory, and the call that trains it there."""
    data = Path(root) / "data" / "bimodal-toy"
    if not data.exists():
        write_toy_dataset(data)
    policy_overrides, train_overrides = recipe("two-path", policy)
    train_overrides = {**train_overrides, "steps": steps}
    settings = json.dumps([policy_overrides, train_overrides], sort_keys=True)
    run_dir = Path(root) / "runs" / "bimodal-toy" / policy / f"seed{seed}" / digest(settings)
    return (
        settings,
        run_dir,
        partial(
            train_policy,
            policy,
            data,
            run_dir,
            policy_overrides,
            {**train_overrides, "seed": seed},
            resume=True,
            progress=False,
        ),
    )


def toy_trainings(root: Path, scale: str, seeds: Sequence[int]) -> list[tuple[float, partial]]:
    """(expected seconds, training call) of every static-toy run the multimodality study needs."""
    return [
        (
            expected_train_seconds(policy, {"steps": TOY_STEPS[scale]}),
            _toy_training(root, policy, seed, TOY_STEPS[scale])[2],
        )
        for policy in heads_for("two-path")
        for seed in seeds
    ]


def _toy_rows(root: Path, out: Path, policies: list[str], seeds: Sequence[int], steps: int) -> Rows:
    """Train each head on the static toy (side by side, one process per core) and split its samples; resumable:
    (head, seed, settings) already in toy.jsonl are skipped."""
    toy_path = out / "toy.jsonl"
    done = {(r["policy"], r["seed"], r["settings"]) for r in read_rows(toy_path, TOY_SCHEMA)}
    wanted = {}
    for policy in policies:
        for seed in seeds:
            settings, run_dir, train = _toy_training(root, policy, seed, steps)
            wanted[(policy, seed, settings)] = run_dir, train
    todo = {key: run for key, run in wanted.items() if key not in done}
    longest_first = sorted(todo, key=lambda key: -expected_train_seconds(key[0], {"steps": steps}))
    call_in_processes([todo[key][1] for key in longest_first], progress=False)
    for (policy, seed, settings), (run_dir, _) in todo.items():
        split = mode_split(load_policy(run_dir), TOY_SAMPLES, seed=seed)
        append_row(
            toy_path,
            {
                "policy": policy,
                "seed": seed,
                "settings": settings,
                "plus": split["+1"],
                "minus": split["-1"],
                "between": split["between"],
                "samples": TOY_SAMPLES,
            },
            TOY_SCHEMA,
        )
    return [r for r in read_rows(toy_path, TOY_SCHEMA) if (r["policy"], r["seed"], r["settings"]) in wanted]


def multimodality_envs(scale: str) -> list[str]:
    """two-path, and at full scale its camera variants."""
    pixels = [env for env, state_env in camera_variants().items() if state_env == "two-path"]
    return ["two-path", *(pixels if scale == "full" else [])]


def _multimodality_grid(scale: str, seeds: Sequence[int]) -> list[RunSpec]:
    return [recipe_spec(env, p, s) for env in multimodality_envs(scale) for p in heads_for(env) for s in seeds]


def fork_observation(env: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """What a policy of ``env`` (two-path or a camera variant) observes with the robot at the centre of the start
    area, where the detours split: the observation (obs_dim,) and the camera frames {key: (H, W, 3) uint8}."""
    vector_env = get_env_spec(env).make_vector(1)
    vector_env.reset(seed=[0])
    state = np.zeros((1, len(two_path.STATE_NAMES)))  # step 0, not done, no success
    state[0, :2] = two_path.START
    obs = require_state(vector_env, env).set_state(state)
    frames = vector_env.render_cameras() if isinstance(vector_env, CameraEnv) else {}
    vector_env.close()
    return obs[0], {key: images[0] for key, images in frames.items()}


def _multimodality_analysis(
    rows: Rows, root: Path, out: Path, scale: str, seeds: Sequence[int]
) -> tuple[list[Table], list[Figure]]:
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    toy = _toy_rows(root, out, policies, seeds, TOY_STEPS[scale])
    toy_lines = []
    for (policy,), rs in group(toy, "policy").items():
        valid = [round((r["plus"] + r["minus"]) * r["samples"]) for r in rs]
        share = {key: np.mean([r[key] for r in rs]) for key in ("plus", "minus", "between")}
        toy_lines.append(
            [
                policy,
                f"{share['plus']:.0%}",
                f"{share['minus']:.0%}",
                f"{share['between']:.0%}",
                format_seed_success(success_over_seeds(valid, [r["samples"] for r in rs])),
            ]
        )
    closed_loop = [
        [env, policy, success_cell(rs), format_modes(*(r["success_modes"] for r in rs))]
        for (env, policy), rs in group(rows, "env", "policy").items()
    ]
    n_toy, n = seed_count(toy), seed_count(rows)
    forks = []
    for (env,), ers in group(rows, "env").items():
        obs, images = fork_observation(env)
        fork = plot_fork_actions(
            {r["policy"]: policy_of(root, r) for r in ers if r["seed"] == seeds[0]},
            obs,
            two_path.fork_expert_actions(),
            out / ("fork-actions.png" if env == "two-path" else f"fork-actions-{env}.png"),
            title=f"{env}: first action at the start",
            images=images,
        )
        forks.append(
            Figure(
                fork.name,
                "First actions sampled at the start of two-path, over the expert's two: a regressor "
                "puts every sample between the modes (into the obstacle); a multimodal head splits them."
                if env == "two-path"
                else f"The same at the start of {env}, the policies seeing the robot only in the camera frame.",
            )
        )
    return (
        [
            Table(
                f"static toy (observation 0, actions +1 or -1; {TOY_SAMPLES} sampled chunks per head and seed): where "
                f"the samples fall; 'valid' = near a mode; {seeds_note(n_toy)}",
                markdown_table(["head", "near +1", "near -1", "between (invalid)", "valid [95% CI]"], toy_lines),
            ),
            Table(
                f"closed loop, {', '.join(dict.fromkeys(r['env'] for r in rows))}: success and the detour taken by "
                f"successful episodes (modes: summed over the training seeds); {seeds_note(n)}",
                markdown_table(["env", "head", "success [95% CI]", "modes of successes"], closed_loop),
            ),
        ],
        forks,
    )


register_study(
    Study(
        "multimodality",
        "Multimodal actions",
        "When two actions are equally right, which heads pick one and which average them?",
        _multimodality_grid,
        _multimodality_analysis,
    )
)
