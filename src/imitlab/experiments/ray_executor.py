"""Run a grid of ``RunSpec`` as Ray tasks: an embedded local Ray when no address is given (a laptop), or an existing
cluster. Each task calls ``experiment.run_one`` (the same collect -> train -> evaluate as the local executor);
specs that share a training (``train_id``, they differ only in evaluation settings) form one task, so one policy is
never trained twice at once. Records are appended to the results file as tasks finish; a failed run is retried once and
then written, with its error, to ``<results>.errors.jsonl`` (the results file holds finished runs only, so every
analysis sees successes alone); Ctrl-C cancels the outstanding tasks. On a cluster the output root must be on
storage every node sees, and imitlab (with ``imitlab[ray]``) must be installed on every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from imitlab.core.errors import ImitlabError, InvalidInputError
from imitlab.experiments.records import append_row
from imitlab.experiments.runs import RUN_SCHEMA, RunSpec, group_by_training, prepare_datasets, run_group

ATTEMPTS = 2  # a failed run is retried once


class GridError(ImitlabError):
    """Some runs of a grid failed on every attempt; the message names the errors file."""


@dataclass(frozen=True)
class RayConfig:
    address: str | None = None  # an existing cluster ("auto", "ray://head:10001"); None starts a local Ray
    cpus_per_run: float = 1.0  # CPUs Ray reserves for each task (one training + its evaluations)
    gpus_per_run: float = 0.0  # GPUs Ray reserves for each task (fractions share a GPU)

    def __post_init__(self) -> None:
        if self.cpus_per_run <= 0:
            raise InvalidInputError(f"cpus_per_run must be > 0, got {self.cpus_per_run}")
        if self.gpus_per_run < 0:
            raise InvalidInputError(f"gpus_per_run must be >= 0, got {self.gpus_per_run}")


def errors_path(results: Path) -> Path:
    """Where failed runs are reported: ``results.jsonl`` -> ``results.errors.jsonl``."""
    results = Path(results)
    return results.with_name(f"{results.stem}.errors.jsonl")


def import_ray():
    try:
        import ray
    except ImportError as err:
        raise ImitlabError("--executor ray needs Ray, an optional extra: pip install 'imitlab[ray]'") from err
    return ray


def run_on_ray(
    specs: list[RunSpec], root: Path, results: Path, config: RayConfig = RayConfig(), progress: bool = True
) -> None:
    """Run ``specs`` (none of them in ``results`` yet) as Ray tasks, appending rows as they finish. Raises
    ``GridError`` after the grid when runs failed twice (they are in the errors file; a rerun retries them)."""
    ray = import_ray()
    root = Path(root).resolve()
    prepare_datasets(specs, root)  # collect once, before tasks race for it
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=config.address, include_dashboard=False, logging_level="WARNING")
    task = ray.remote(max_retries=0)(run_group).options(num_cpus=config.cpus_per_run, num_gpus=config.gpus_per_run)
    by_id = {spec.run_id: spec for spec in specs}
    pending: dict[Any, tuple[list[RunSpec], int]] = {}
    failed = 0

    def submit(group: list[RunSpec], attempt: int) -> None:
        pending[task.remote(group, root)] = (group, attempt)

    bar = tqdm(total=len(specs), desc="runs (ray)", disable=not progress, unit="run")
    try:
        for group in group_by_training(specs):
            submit(group, 1)
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            group, attempt = pending.pop(ref)
            try:
                returned = ray.get(ref)
            except ray.exceptions.RayError as err:  # the worker died (out of memory, node lost)
                returned = [(spec.run_id, None, f"{type(err).__name__}: {err}") for spec in group]
            retry = []
            for run_id, row, error in returned:
                if row is not None:
                    append_row(results, row, RUN_SCHEMA)
                    bar.update(1)
                elif attempt < ATTEMPTS:
                    retry.append(by_id[run_id])
                else:
                    _report_failure(results, by_id[run_id], attempt, error)
                    failed += 1
                    bar.update(1)
            if retry:
                submit(retry, attempt + 1)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
        if started_here:
            ray.shutdown()
    if failed:
        raise GridError(
            f"{failed} of {len(specs)} runs failed after {ATTEMPTS} attempts; their errors are in "
            f"{errors_path(results)}; finished runs are in {results}, and running the same command "
            "again retries only the failed ones"
        )


def _report_failure(results: Path, spec: RunSpec, attempts: int, error: str) -> None:
    lines = [line for line in error.strip().splitlines() if line.strip()]
    append_row(
        errors_path(results),
        {
            "run_id": spec.run_id,
            "env": spec.env,
            "policy": spec.policy,
            "label": spec.label or spec.policy,
            "demos": spec.demos,
            "seed": spec.seed,
            "attempts": attempts,
            "error": lines[-1] if lines else "",
            "traceback": "\n".join(lines[-15:]),
        },
    )
