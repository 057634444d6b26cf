"""A grid of runs: every ``RunSpec`` not yet in the grid's results file runs, here, in worker processes or on Ray,
and its record is appended when it finishes, so an interrupted grid resumes where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from imitlab.core.errors import InvalidInputError
from imitlab.experiments.process_executor import run_in_processes
from imitlab.experiments.ray_executor import RayConfig, run_on_ray
from imitlab.experiments.records import append_row, read_rows
from imitlab.experiments.runs import RUN_SCHEMA, RunSpec, run_one

# local: one run after another in this process; processes: one single-threaded process per core on this machine
# (imitlab.experiments.process_executor); ray: Ray tasks on a laptop or a cluster (imitlab.experiments.ray_executor)
EXECUTORS = ("local", "processes", "ray")


def run_grid(
    specs: list[RunSpec], root: Path, results: Path, progress: bool = True, executor: str = "local", ray: Any = None
) -> list[dict[str, Any]]:
    """Run every spec not already in ``results`` (a JSON-lines file, ``runs.RESULTS_FILE``), appending one record
    (``runs.RUN_SCHEMA``) per finished run. Returns every record of the grid, in grid order. ``executor="ray"`` runs them as Ray tasks (``ray``: a ``ray_executor.RayConfig``, default local Ray)."""
    if executor not in EXECUTORS:
        raise InvalidInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    results = Path(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = {row["run_id"] for row in read_rows(results, RUN_SCHEMA)}
    todo = [spec for spec in specs if spec.run_id not in done]
    if executor == "ray" and todo:
        run_on_ray(todo, root, results, ray or RayConfig(), progress)
    elif executor == "processes" and todo:
        run_in_processes(todo, root, results, progress=progress)
    elif executor == "local":
        for spec in tqdm(todo, desc="runs", disable=not progress, unit="run"):
            append_row(results, run_one(spec, root), RUN_SCHEMA)
    order = {spec.run_id: i for i, spec in enumerate(specs)}
    return sorted(
        (row for row in read_rows(results, RUN_SCHEMA) if row["run_id"] in order), key=lambda row: order[row["run_id"]]
    )
