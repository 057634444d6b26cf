"""Wall-clock of one small study grid (2 heads x N seeds on Pendulum) run by the local executor and by Ray.

- local: ``run_grid(..., executor="local")``, one run after another in this process;
- ray: an embedded local Ray with ``--cpus`` CPUs, one task per run (the same ``run_one``); Ray's start-up is timed
  separately from the grid. Each executor gets its own empty output root, so both collect, train and evaluate.

On a 2-core machine Ray can at best run two tasks at once, and its start-up (raylet, GCS, worker processes that
each import torch) costs seconds, so on a small grid the overhead can eat the gain; if the cores are shared with
other users the figure is noisier still. On a cluster, runs are independent: a grid of R runs on C free slots takes
about ceil(R / C) x the longest run plus a few seconds of scheduling, while the local executor takes the sum of
all runs. Usage: python benchmarks/study_scaling.py [--seeds 2] [--steps 300] [--cpus 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from imitlab.experiments.grid import run_grid
from imitlab.experiments.runs import RunSpec

HEADS = [("bc", {"hidden_dim": 64}), ("chunked-bc", {"horizon": 4, "n_action_steps": 2, "hidden_dim": 64})]


def grid(seeds: int, steps: int, demos: int, episodes: int) -> list[RunSpec]:
    return [
        RunSpec(
            "pendulum",
            policy,
            demos=demos,
            seed=seed,
            policy_overrides=fields,
            train_overrides={"steps": steps},
            eval_episodes=episodes,
        )
        for policy, fields in HEADS
        for seed in range(seeds)
    ]


def timed_grid(specs: list[RunSpec], root: Path, executor: str) -> float:
    start = time.perf_counter()
    run_grid(specs, root, root / "results.csv", progress=False, executor=executor)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per head (runs = 2 x seeds)")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per run")
    parser.add_argument("--demos", type=int, default=10, help="expert demonstrations per run")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per run")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray")
    args = parser.parse_args()
    import ray

    specs = grid(args.seeds, args.steps, args.demos, args.episodes)
    with tempfile.TemporaryDirectory() as tmp:
        local = timed_grid(specs, Path(tmp) / "local", "local")
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
        startup = time.perf_counter() - start
        try:
            on_ray = timed_grid(specs, Path(tmp) / "ray", "ray")
        finally:
            ray.shutdown()
    print(
        f"grid: {len(specs)} runs (2 heads x {args.seeds} seeds), {args.steps} steps, {args.demos} demos, "
        f"{args.episodes} eval episodes each"
    )
    print("| executor | wall-clock (s) |\n|---|---|")
    print(f"| local (one after another) | {local:.1f} |")
    print(f"| ray, {args.cpus} CPUs: start-up | {startup:.1f} |")
    print(f"| ray, {args.cpus} CPUs: grid | {on_ray:.1f} |")
    print(f"| ray, {args.cpus} CPUs: start-up + grid | {startup + on_ray:.1f} |")
    print(f"local / (ray start-up + grid) = {local / (startup + on_ray):.2f}x")


if __name__ == "__main__":
    main()
