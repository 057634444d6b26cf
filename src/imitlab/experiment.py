"""Runs and grids of runs: collect (cached) -> train -> evaluate, one tidy CSV row per run.

The demo and every study are lists of ``RunSpec``; ``run_grid`` skips runs already in the CSV, so an
interrupted grid resumes where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from imitlab.collect import collect
from imitlab.evaluate import evaluate
from imitlab.train import train_policy


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

    @property
    def run_id(self) -> str:
        settings = json.dumps([self.policy, self.policy_overrides, self.train_overrides], sort_keys=True)
        digest = hashlib.sha1(settings.encode()).hexdigest()[:8]
        return f"{self.env}/{self.label or self.policy}/demos{self.demos}/seed{self.seed}/{digest}"


COLUMNS = [
    "run_id", "env", "policy", "label", "demos", "seed", "successes", "episodes", "success_rate", "ci_low",
    "ci_high", "mean_return", "std_return", "mean_length", "train_seconds", "step_latency_ms",
    "chunk_latency_ms", "success_modes", "policy_overrides", "train_overrides",
]


def dataset_dir(root: Path, env: str, demos: int) -> Path:
    """Collect the expert demonstrations once per (env, demos) and reuse them across runs."""
    path = Path(root) / "data" / f"{env}-{demos}"
    if not path.exists():
        collect(env, demos, path, seed=0)
    return path


def run_one(spec: RunSpec, root: Path, progress: bool = False) -> dict[str, Any]:
    data = dataset_dir(root, spec.env, spec.demos)
    started = time.perf_counter()
    policy = train_policy(
        spec.policy, data, Path(root) / "runs" / spec.run_id, spec.policy_overrides,
        {**spec.train_overrides, "seed": spec.seed}, progress=progress,
    )
    train_seconds = time.perf_counter() - started
    result = evaluate(policy, spec.env, spec.eval_episodes, seed=spec.seed)
    return {
        "run_id": spec.run_id, "env": spec.env, "policy": spec.policy, "label": spec.label or spec.policy,
        "demos": spec.demos, "seed": spec.seed, "successes": result.successes, "episodes": result.episodes,
        "success_rate": result.success_rate, "ci_low": result.ci_low, "ci_high": result.ci_high,
        "mean_return": result.mean_return, "std_return": result.std_return, "mean_length": result.mean_length,
        "train_seconds": train_seconds, "step_latency_ms": result.step_latency_ms,
        "chunk_latency_ms": result.chunk_latency_ms,
        "success_modes": json.dumps(result.success_modes, sort_keys=True),
        "policy_overrides": json.dumps(spec.policy_overrides, sort_keys=True),
        "train_overrides": json.dumps(spec.train_overrides, sort_keys=True),
    }


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    if not Path(csv_path).is_file():
        return []
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


def run_grid(specs: list[RunSpec], root: Path, csv_path: Path, progress: bool = True) -> list[dict[str, str]]:
    """Run every spec not already in ``csv_path``, appending one row per finished run. Returns all rows."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    done = {row["run_id"] for row in read_rows(csv_path)}
    todo = [spec for spec in specs if spec.run_id not in done]
    for spec in tqdm(todo, desc="runs", disable=not progress, unit="run"):
        row = run_one(spec, root)
        new_file = not csv_path.is_file()
        with open(csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            if new_file:
                writer.writeheader()
            writer.writerow(row)
    wanted = {spec.run_id for spec in specs}
    return [row for row in read_rows(csv_path) if row["run_id"] in wanted]
