"""The scripted experts of Meta-World's 50 tasks on imitlab's evaluation seeds: success per task with its Wilson
95% interval and LeRobot's difficulty group, mean episode length (episodes end at success) and wall time. Tasks
below 90 % are flagged: they are left out of learning headlines (docs/environments.md).

    python benchmarks/metaworld_experts.py --episodes 100 --workers 2   # needs the metaworld extra

Each task runs in one single-threaded worker process (both cores with --workers 2); the table is printed when
every task has finished, in the difficulty groups' order.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("MUJOCO_GL", "egl")

FLAG_BELOW = 0.9


def expert_row(task: str, episodes: int, seed: int) -> tuple[str, int, int, float, float, float, float]:
    """(task, successes, episodes, Wilson low, high, mean length, seconds) of the task's expert."""
    import torch

    from imitlab.evaluation.evaluate import evaluate_expert

    torch.set_num_threads(1)
    started = time.perf_counter()
    result = evaluate_expert(f"metaworld/{task}", episodes, seed)
    seconds = time.perf_counter() - started
    return task, result.successes, result.episodes, result.ci_low, result.ci_high, result.mean_length, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per task")
    parser.add_argument(
        "--seed", type=int, default=0, help="evaluation seed (episode i resets with 10^9 + seed * 10^5 + i)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes, one task each at a time")
    parser.add_argument("--tasks", nargs="*", help="a subset of the tasks (default: all 50)")
    args = parser.parse_args()
    if importlib.util.find_spec("metaworld") is None:
        print("metaworld_experts: skipped, the metaworld extra is not installed (pip install -e '.[metaworld]')")
        return
    from imitlab.envs.metaworld import DIFFICULTY, GROUP_OF

    tasks = args.tasks or [task for group in DIFFICULTY.values() for task in group]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = {
            row[0]: row for row in pool.map(expert_row, tasks, [args.episodes] * len(tasks), [args.seed] * len(tasks))
        }
    print(f"| group | task | expert success [95% Wilson] | mean length | s ({args.episodes} episodes) | |")
    print("|---|---|---|---|---|---|")
    for task in tasks:
        _, successes, n, low, high, length, seconds = rows[task]
        flag = f"below {FLAG_BELOW:.0%}" if successes / n < FLAG_BELOW else ""
        print(
            f"| {GROUP_OF[task].replace('_', ' ')} | {task} | {successes / n:.0%} [{low:.0%}, {high:.0%}] ({successes}/{n}) "
            f"| {length:.0f} | {seconds:.0f} | {flag} |"
        )
    total = sum(rows[t][1] for t in tasks)
    flagged = [t for t in tasks if rows[t][1] / rows[t][2] < FLAG_BELOW]
    print(
        f"\n{total}/{sum(rows[t][2] for t in tasks)} expert episodes succeed; below {FLAG_BELOW:.0%}: {', '.join(flagged) or 'none'}"
    )


if __name__ == "__main__":
    main()
