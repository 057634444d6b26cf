"""Runs: collect (cached) -> train -> evaluate, one typed record per run (``RUN_SCHEMA``).

The demo and every study are lists of ``RunSpec``; ``experiments.grid.run_grid`` runs them, skipping runs already
in its results file, so an interrupted grid resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imitlab.data.collect import collect
from imitlab.data.reader import load_dataset
from imitlab.evaluation.evaluate import evaluate
from imitlab.evaluation.metrics import chunk_mse
from imitlab.policies.base import Policy
from imitlab.training.run_dir import read_metrics
from imitlab.training.train import train_policy

EXECUTION_FIELDS = ("n_action_steps", "temporal_ensemble")  # eval settings the executor takes


@dataclass(frozen=True)
class RunSpec:
    env: str
    policy: str
    demos: int = 100  # expert demonstrations to train on
    seed: int = 0  # training and evaluation seed (the demonstrations use collection seed 0)
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    train_overrides: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 100
    label: str = ""  # what varies in this run, for tables (defaults to the policy name)
    # evaluation-only settings: n_action_steps / temporal_ensemble for the executor, any other key replaces a
    # policy config field at inference (e.g. num_inference_steps); runs differing only here share one training
    eval_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def train_id(self) -> str:
        """Where the trained policy lives: the same for every spec with the same training settings."""
        settings = json.dumps([self.policy, self.policy_overrides, self.train_overrides], sort_keys=True)
        return f"{self.env}/{self.policy}/demos{self.demos}/seed{self.seed}/{digest(settings)}"

    @property
    def run_id(self) -> str:
        if not self.eval_overrides:
            return self.train_id
        return f"{self.train_id}{EVAL_MARK}{digest(json.dumps(self.eval_overrides, sort_keys=True))}"


EVAL_MARK = "/eval-"  # run_id = train_id + EVAL_MARK + digest of the evaluation settings, when there are any


def trained_run_dir(root: Path, run_id: str) -> Path:
    """Where the policy of run ``run_id`` (a record's) was trained: shared by runs differing only in evaluation."""
    return Path(root) / "runs" / run_id.split(EVAL_MARK)[0]


def digest(text: str) -> str:
    """A short stable name for a settings string (8 hex digits of its SHA-1)."""
    return hashlib.sha1(text.encode()).hexdigest()[:8]


# one record per finished run (experiments.records): field -> type
RUN_SCHEMA: dict[str, type] = {
    "run_id": str,
    "env": str,
    "policy": str,
    "label": str,
    "demos": int,
    "seed": int,
    "successes": int,
    "episodes": int,
    "success_rate": float,
    "ci_low": float,
    "ci_high": float,
    "mean_return": float,
    "std_return": float,
    "mean_length": float,
    "train_seconds": float,
    "step_latency_ms": float,
    "chunk_latency_ms": float,
    "action_jerk": float,
    "chunk_mse": float,
    "success_modes": dict,  # strategy -> successes, for envs with modes
    "outcomes": list,  # per-episode success (bool), in evaluation-seed order
    "policy_overrides": dict,
    "train_overrides": dict,
    "eval_overrides": dict,
}
RESULTS_FILE = "results.jsonl"  # a grid's records
HELD_OUT_DEMOS = 20  # demonstrations of collection seed 1 (never trained on) for chunk_mse


def dataset_dir(root: Path, env: str, demos: int, seed: int = 0) -> Path:
    """Collect the expert demonstrations once per (env, demos, collection seed) and reuse them across runs."""
    path = Path(root) / "data" / (f"{env}-{demos}" if seed == 0 else f"{env}-{demos}-seed{seed}")
    if not path.exists():
        collect(env, demos, path, seed=seed)
    return path


def trained_policy(spec: RunSpec, root: Path, progress: bool = False) -> tuple[Policy, float]:
    """Train ``spec``'s policy, or load it when a finished run is on disk (an interrupted one resumes).
    Returns the policy and its training wall-clock in seconds (from its metrics when it was trained before)."""
    run_dir = trained_run_dir(root, spec.train_id)
    started = time.perf_counter()
    policy = train_policy(
        spec.policy,
        dataset_dir(root, spec.env, spec.demos),
        run_dir,
        spec.policy_overrides,
        {**spec.train_overrides, "seed": spec.seed},
        resume=True,
        progress=progress,
    )
    logged = read_metrics(run_dir)
    return policy, max(time.perf_counter() - started, logged[-1]["seconds"] if logged else 0.0)


def run_one(spec: RunSpec, root: Path, progress: bool = False) -> dict[str, Any]:
    """Train (or reuse) and evaluate one spec; returns its record (``RUN_SCHEMA``)."""
    policy, train_seconds = trained_policy(spec, root, progress)
    execution = {k: v for k, v in spec.eval_overrides.items() if k in EXECUTION_FIELDS}
    inference = {k: v for k, v in spec.eval_overrides.items() if k not in EXECUTION_FIELDS}
    if inference:
        policy.config = policy.config.replace(**inference)
    result = evaluate(policy, spec.env, spec.eval_episodes, seed=spec.seed, **execution)
    held_out = load_dataset(dataset_dir(root, spec.env, HELD_OUT_DEMOS, seed=1))
    return {
        "run_id": spec.run_id,
        "env": spec.env,
        "policy": spec.policy,
        "label": spec.label or spec.policy,
        "demos": spec.demos,
        "seed": spec.seed,
        "successes": result.successes,
        "episodes": result.episodes,
        "success_rate": result.success_rate,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "mean_return": result.mean_return,
        "std_return": result.std_return,
        "mean_length": result.mean_length,
        "train_seconds": train_seconds,
        "step_latency_ms": result.step_latency_ms,
        "chunk_latency_ms": result.chunk_latency_ms,
        "action_jerk": result.action_jerk,
        "chunk_mse": chunk_mse(policy, held_out, seed=spec.seed),
        "success_modes": {str(mode): count for mode, count in sorted(result.success_modes.items())},
        "outcomes": [bool(s) for s in result.episode_success],
        "policy_overrides": dict(spec.policy_overrides),
        "train_overrides": dict(spec.train_overrides),
        "eval_overrides": dict(spec.eval_overrides),
    }


def group_by_training(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """Specs sharing a ``train_id`` in one group (trained once, then evaluated in turn), in grid order."""
    groups: dict[str, list[RunSpec]] = defaultdict(list)
    for spec in specs:
        groups[spec.train_id].append(spec)
    return list(groups.values())


def run_group(specs: list[RunSpec], root: Path) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """One job of a parallel executor (a Ray task, a worker process): ``run_one`` for each spec, giving
    (run_id, row, None) or (run_id, None, traceback)."""
    results: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for spec in specs:
        try:
            results.append((spec.run_id, run_one(spec, root), None))
        except Exception:  # noqa: BLE001  (reported per run, never dropped)
            results.append((spec.run_id, None, traceback.format_exc()))
    return results


def prepare_datasets(specs: list[RunSpec], root: Path) -> None:
    """Collect every dataset the specs need (and the held-out demos) before parallel runs race to write them."""
    for env, demos in sorted({(spec.env, spec.demos) for spec in specs}):
        dataset_dir(root, env, demos)
        dataset_dir(root, env, HELD_OUT_DEMOS, seed=1)
