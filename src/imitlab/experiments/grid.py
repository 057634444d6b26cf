"""A grid of runs: every ``RunSpec`` not yet in the grid's CSV runs, here, in worker processes or on Ray, and its
row is appended when it finishes, so an interrupted grid resumes where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from imitlab.core.errors import InvalidInputError
from imitlab.experiments.process_executor import run_in_processes
from imitlab.experiments.ray_executor import RayConfig, run_on_ray
from imitlab.experiments.runs import COLUMNS, RunSpec, append_row, read_rows, run_one

# local: one run after another in this process; processes: one single-threaded process per core on this machine
# (imitlab.experiments.process_executor); ray: Ray tasks on a laptop or a cluster (imitlab.experiments.ray_executor)
EXECUTORS = ("local", "processes", "ray")


def run_grid(
    specs: list[RunSpec], root: Path, csv_path: Path, progress: bool = True, executor: str = "local", ray: Any = None
) -> list[dict[str, str]]:
    """Run every spec not already in ``csv_path``, appending one row per finished run. Returns all rows, in grid
    order. ``executor="ray"`` runs them as Ray tasks (``ray``: a ``ray_executor.RayConfig``, default local Ray)."""
    if executor not in EXECUTORS:
        raise InvalidInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    done = {row["run_id"] for row in read_rows(csv_path)}
    todo = [spec for spec in specs if spec.run_id not in done]
    if executor == "ray" and todo:
        run_on_ray(todo, root, csv_path, ray or RayConfig(), progress)
    elif executor == "processes" and todo:
        run_in_processes(todo, root, csv_path, progress=progress)
    elif executor == "local":
        for spec in tqdm(todo, desc="runs", disable=not progress, unit="run"):
            append_row(csv_path, run_one(spec, root), COLUMNS)
    order = {spec.run_id: i for i, spec in enumerate(specs)}
    return sorted((row for row in read_rows(csv_path) if row["run_id"] in order), key=lambda row: order[row["run_id"]])
