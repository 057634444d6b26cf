"""Remedies for compounding error, run on equal terms: each method builds its training data from the same
``demos`` expert demonstrations (collection seeds of ``seed``), then the same ``train_policy`` and ``evaluate``
(same evaluation seeds) are used for all, so outcomes pair episode by episode with plain BC's.

| method    | extra data                                                   | expert labels          |
|-----------|--------------------------------------------------------------|------------------------|
| `bc`      | none                                                         | demo frames            |
| `dart`    | the demos themselves, collected with noise (``dart.py``)     | demo frames (same)     |
| `augment` | perturbed demo states labelled by the expert (``augment.py``)| demo frames + 1/state  |
| `ccil`    | perturbed states labelled by a learned model (``ccil.py``)   | demo frames (same)     |
| `dagger`  | on-policy rollouts labelled by the expert (``dagger.py``)    | demo frames + rollouts |

``run_remedy`` runs one (method, seed) and returns a ``RemedyResult``; ``compare_remedies`` runs a grid and adds
the paired McNemar p-value against ``bc`` of the same seed; ``summarise`` turns its rows into one line per method
over the training seeds (seed-aware interval, per-seed differences against ``bc``). Results are cached per run
(``result.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.core.io import read_json_object, write_json
from imitlab.data.collect import collect
from imitlab.data.reader import load_dataset
from imitlab.data.writer import write_like
from imitlab.envs.registry import get_env_spec
from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.evaluation.stats import PairedSeeds, SeedSuccess, mcnemar_exact_p, paired_over_seeds, success_over_seeds
from imitlab.policies.base import get_policy_class
from imitlab.remedies.augment import AugmentConfig, expert_augmentation, project_to_env
from imitlab.remedies.ccil import CCILConfig, fit_dynamics, label_episodes, synthesize
from imitlab.remedies.dagger import equal_label_baseline, run_dagger
from imitlab.remedies.dart import DartConfig, collect_dart
from imitlab.training.train import train_policy


@dataclass(frozen=True)
class RemedyConfig:
    dart: DartConfig = DartConfig()
    augment: AugmentConfig = AugmentConfig()
    ccil: CCILConfig = CCILConfig()
    dagger_rounds: int = 5  # DAgger rounds after round 0
    dagger_episodes_per_round: int = 2  # mixture rollouts labelled per round


@dataclass
class RemedyResult:
    method: str
    label: str  # method with its settings, e.g. "dart(noise 0.5)"
    env: str
    policy: str
    demos: int
    seed: int
    expert_labels: int  # frames labelled by the expert in the training data
    synthetic_labels: int  # frames labelled by something else (CCIL's model)
    successes: int
    episodes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    details: dict[str, Any] = field(default_factory=dict)  # e.g. DART's noise per batch, CCIL's kept fraction
    episode_success: list[bool] = field(default_factory=list, repr=False)


def method_label(method: str, config: RemedyConfig) -> str:
    """The method with the settings that define it, for tables and run directories."""
    if method == "dart":
        d = config.dart
        return (
            f"dart(noise {d.noise_std:g})"
            if d.noise_std is not None
            else (f"dart(estimated x{d.scale:g}, {d.rounds} rounds)")
        )
    if method == "augment":
        return f"augment(scale {config.augment.scale:g}, x{config.augment.copies})"
    if method == "ccil":
        c = config.ccil
        return f"ccil(scale {c.scale:g}, x{c.copies}, error<={c.max_error:g})"
    if method == "dagger":
        return f"dagger({config.dagger_rounds}x{config.dagger_episodes_per_round})"
    return method


@dataclass
class _Data:
    path: Path
    expert_labels: int
    synthetic_labels: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def _base_demos(env: str, demos: int, seed: int, out: Path) -> Path:
    path = out / "data" / f"{env}-demos{demos}-seed{seed}"
    if not (path / "meta" / "info.json").is_file():
        collect(env, demos, path, seed=seed, overwrite=True)
    return path


def _bc_data(ctx: dict) -> _Data:
    base = _base_demos(ctx["env"], ctx["demos"], ctx["seed"], ctx["out"])
    return _Data(base, load_dataset(base).num_frames)


def _dart_data(ctx: dict) -> _Data:
    run = ctx["run_dir"]
    stds = collect_dart(
        ctx["env"],
        ctx["demos"],
        run / "dart",
        ctx["config"].dart,
        ctx["policy"],
        ctx["seed"],
        ctx["policy_overrides"],
        ctx["train_overrides"],
    )
    data = run / "dart" / "data"
    return _Data(data, load_dataset(data).num_frames, details={"noise_std": stds})


def _augment_data(ctx: dict) -> _Data:
    base = load_dataset(_base_demos(ctx["env"], ctx["demos"], ctx["seed"], ctx["out"]))
    extra = expert_augmentation(ctx["env"], base, ctx["config"].augment, _horizon(ctx), seed=ctx["seed"])
    data = _write_once(ctx["run_dir"] / "data", base, extra)
    return _Data(data, load_dataset(data).num_frames, details={"augmented_states": len(extra)})


def _ccil_data(ctx: dict) -> _Data:
    base = load_dataset(_base_demos(ctx["env"], ctx["demos"], ctx["seed"], ctx["out"]))
    config = ctx["config"].ccil
    model = fit_dynamics(base, config, seed=ctx["seed"])
    project = (lambda obs: project_to_env(ctx["env"], obs)) if get_env_spec(ctx["env"]).state_from_obs else None
    labels = synthesize(base, model, config, seed=ctx["seed"], project=project)
    extra = label_episodes(base, labels, _horizon(ctx))
    data = _write_once(ctx["run_dir"] / "data", base, extra)
    return _Data(
        data,
        base.num_frames,
        synthetic_labels=len(extra),
        details={
            "proposed": len(labels.kept),
            "kept": int(labels.kept.sum()),
            "median_error": float(np.median(labels.error)),
        },
    )


METHODS: dict[str, Callable[[dict], _Data | None]] = {
    "bc": _bc_data,
    "dart": _dart_data,
    "augment": _augment_data,
    "ccil": _ccil_data,
    "dagger": lambda ctx: None,  # runs its own loop, see run_remedy
}


def _horizon(ctx: dict) -> int:
    overrides = ctx["policy_overrides"] or {}
    return int(overrides.get("horizon", get_policy_class(ctx["policy"]).config_class.horizon))


def _write_once(path: Path, base, extra) -> Path:
    """``base``'s episodes plus ``extra`` as a new dataset at ``path`` (replacing an unfinished one)."""
    write_like(base, path, [base.episode(i) for i in range(base.num_episodes)] + list(extra), overwrite=True)
    return path


def run_remedy(
    method: str,
    env: str,
    policy: str,
    demos: int,
    out: Path,
    seed: int = 0,
    config: RemedyConfig = RemedyConfig(),
    eval_episodes: int = 100,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> RemedyResult:
    """Build ``method``'s training data from ``demos`` demonstrations, train ``policy`` on it and evaluate on
    the evaluation seeds of ``seed``. Writes ``out/<label>/seed<seed>/`` (data, run, result.json); a finished
    run is read back, not redone."""
    if method not in METHODS:
        raise InvalidInputError(f"unknown remedy {method!r}; available: {', '.join(METHODS)}")
    out = Path(out)
    label = method_label(method, config)
    run_dir = out / label.replace(" ", "_") / f"seed{seed}"
    record = run_dir / "result.json"
    if record.is_file():
        return RemedyResult(**read_json_object(record, "a finished remedy run's result"))
    train_overrides = {**(train_overrides or {}), "seed": seed}
    if method == "dagger":
        rounds = run_dagger(
            env,
            policy,
            run_dir,
            demos,
            config.dagger_rounds,
            config.dagger_episodes_per_round,
            seed=seed,
            eval_episodes=eval_episodes,
            policy_overrides=policy_overrides,
            train_overrides=train_overrides,
            progress=False,
        )
        last = rounds[-1]
        data = _Data(
            run_dir / "data", last.expert_labels, details={"success_per_round": [r.success_rate for r in rounds]}
        )
        result: SimpleNamespace | EvalResult = SimpleNamespace(
            successes=last.successes,
            episodes=last.evaluated,
            success_rate=last.success_rate,
            ci_low=last.ci_low,
            ci_high=last.ci_high,
            mean_return=last.mean_return,
            episode_success=last.episode_success,
        )
    else:
        ctx = dict(
            env=env,
            policy=policy,
            demos=demos,
            seed=seed,
            out=out,
            run_dir=run_dir,
            config=config,
            policy_overrides=policy_overrides,
            train_overrides=train_overrides,
        )
        built = METHODS[method](ctx)
        assert built is not None  # only dagger builds no dataset up front
        data = built
        trained = train_policy(policy, data.path, run_dir / "run", policy_overrides, train_overrides, progress=False)
        result = evaluate(trained, env, eval_episodes, seed=seed)
    remedy = _result(method, label, env, policy, demos, seed, data, result)
    write_json(record, asdict(remedy))
    return remedy


def _result(method, label, env, policy, demos, seed, data: _Data, result) -> RemedyResult:
    """``result``: an EvalResult (or anything with its success fields)."""
    return RemedyResult(
        method=method,
        label=label,
        env=env,
        policy=policy,
        demos=demos,
        seed=seed,
        expert_labels=data.expert_labels,
        synthetic_labels=data.synthetic_labels,
        successes=result.successes,
        episodes=result.episodes,
        success_rate=result.success_rate,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        mean_return=result.mean_return,
        details=data.details,
        episode_success=list(result.episode_success),
    )


SPENDS_LABELS = ("augment", "dagger")  # the methods that query the expert beyond the demonstrations


def equal_label_control(
    env: str,
    policy: str,
    demos: int,
    out: Path,
    expert_labels: int,
    seed: int = 0,
    eval_episodes: int = 100,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    matching: str = "",
) -> RemedyResult:
    """Plain BC on the fewest whole expert demonstrations that hold ``expert_labels`` labels (the control for a
    remedy that spends extra expert labels: augment, DAgger), labelled after that remedy (``matching``, its
    label), so the rows of its training seeds, whose demonstrations differ in number, share one label."""
    label = f"bc at {matching}'s labels"
    run_dir = Path(out) / f"bc-labels{expert_labels}" / f"seed{seed}"
    record = run_dir / "result.json"
    if record.is_file():
        return RemedyResult(**{**read_json_object(record, "a finished remedy run's result"), "label": label})
    result, demonstrations = equal_label_baseline(
        env, policy, run_dir, expert_labels, seed, eval_episodes, policy_overrides, train_overrides
    )
    data = _Data(run_dir, demonstrations.num_frames, details={"demos": demonstrations.num_episodes})
    remedy = _result("bc", label, env, policy, demos, seed, data, result)
    write_json(record, asdict(remedy))
    return remedy


def compare_remedies(
    methods: list[str],
    env: str,
    policy: str,
    demos: int,
    out: Path,
    seeds: Sequence[int] = (0,),
    config: RemedyConfig = RemedyConfig(),
    eval_episodes: int = 100,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    equal_label_controls: bool = False,
) -> list[dict[str, Any]]:
    """Run every (method, seed) (plain ``bc`` is always included) and return one row per run with the exact
    McNemar p-value against ``bc`` of the same seed (same evaluation episodes). With ``equal_label_controls``,
    also BC on more plain demonstrations for every method that spends more expert labels than BC by design
    (``SPENDS_LABELS``; a DART demonstration may hold a few more frames than BC's, and gets no control)."""
    methods = ["bc"] + [m for m in methods if m != "bc"]
    rows = []
    for seed in seeds:
        results = [
            run_remedy(m, env, policy, demos, out, seed, config, eval_episodes, policy_overrides, train_overrides)
            for m in methods
        ]
        if equal_label_controls:
            results += [
                equal_label_control(
                    env,
                    policy,
                    demos,
                    out,
                    r.expert_labels,
                    seed,
                    eval_episodes,
                    policy_overrides,
                    train_overrides,
                    matching=r.label,
                )
                for r in results
                if r.method in SPENDS_LABELS and r.expert_labels > results[0].expert_labels
            ]
        for r in results:
            row = asdict(r)
            row["p_vs_bc"] = mcnemar_exact_p(r.episode_success, results[0].episode_success)
            rows.append(row)
    return rows


@dataclass
class MethodSummary:
    """One method (with its settings) over the training seeds of a ``compare_remedies`` grid."""

    label: str
    expert_labels: int
    synthetic_labels: int
    success: SeedSuccess  # mean over seeds, seed-aware interval (Wilson with one seed)
    vs_bc: PairedSeeds | None  # per-seed paired differences against bc of the same seeds; None for bc itself


def summarise(rows: list[dict[str, Any]]) -> list[MethodSummary]:
    """One summary per label of ``compare_remedies`` rows, in first-seen order (bc first)."""
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    bc = {r["seed"]: r for r in rows if r["method"] == "bc" and r["label"] == "bc"}
    table = []
    for label, group in by_label.items():
        success = success_over_seeds([r["successes"] for r in group], [r["episodes"] for r in group])
        paired = [r for r in group if r["seed"] in bc]
        vs_bc = (
            paired_over_seeds(
                [r["episode_success"] for r in paired], [bc[r["seed"]]["episode_success"] for r in paired]
            )
            if label != "bc" and paired
            else None
        )
        table.append(MethodSummary(label, group[0]["expert_labels"], group[0]["synthetic_labels"], success, vs_bc))
    return table
