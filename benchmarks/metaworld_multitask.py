"""One policy for Meta-World's MT10 against ten single-task policies trained on the same demonstrations.

Collects N expert demonstrations of each MT10 task (collection seed 0) into one multi-task dataset, and the same
episodes task by task (the same collection seeds give the same episodes: checked); per training seed it trains one
multi-task policy (conditioned on the task) for the summed steps of the ten single-task ones (equal gradient
steps), evaluates every task on the same evaluation seeds, and prints success per task and overall with the
seed-level 95% interval, and multi-task minus single-task paired per seed. Finished runs under --runs are reused.

    python benchmarks/metaworld_multitask.py --head bc --seeds 0 1 2 3 4 --demos 20 --episodes 20
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np


def imitlab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "imitlab.cli", *args], check=True, stdout=subprocess.DEVNULL)


def child_cpu_minutes() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) / 60


def evaluated(run: Path, seed: int, episodes: int, *extra: str) -> dict:
    """The run's eval.json, evaluating it first if missing."""
    out = run / "eval.json"
    if not out.is_file():
        imitlab("eval", "--checkpoint", str(run), "--episodes", str(episodes), "--seed", str(seed), "--json", str(out))
    return json.loads(out.read_text())


def train(head: str, data: Path, run: Path, seed: int, *extra: str) -> None:
    imitlab("train", "--policy", head, "--data", str(data), "--out", str(run), "--seed", str(seed), *extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="metaworld/MT10", help="the env set (one task per env)")
    parser.add_argument("--head", default="bc")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--demos", type=int, default=20, help="demonstrations per task")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per task and seed")
    parser.add_argument("--runs", type=Path, default=Path("runs/mt10"))
    parser.add_argument(
        "--no-recipe", action="store_true", help="train with the heads' defaults, without Meta-World's recipe"
    )
    args = parser.parse_args()
    recipe = ["--no-recipe"] if args.no_recipe else []
    if importlib.util.find_spec("metaworld") is None:
        print("metaworld_multitask: skipped, the metaworld extra is not installed (pip install -e '.[metaworld]')")
        return
    from imitlab.data.reader import load_dataset
    from imitlab.envs.registry import expand_envs
    from imitlab.evaluation.stats import paired_over_seeds, success_over_seeds
    from imitlab.training.checkpoint import read_run_config

    envs = expand_envs(args.set)
    root = args.runs / args.head
    pooled = args.runs / "data" / f"all-{args.demos}"
    cpu = {"collect": 0.0, "multi-task": 0.0, "single-task": 0.0}
    start = child_cpu_minutes()
    if not pooled.exists():
        imitlab("collect", "--env", args.set, "--episodes", str(args.demos), "--out", str(pooled), "--seed", "0")
    singles_data = {}
    for env in envs:
        data = args.runs / "data" / f"{env.split('/')[-1]}-{args.demos}"
        if not data.exists():
            imitlab("collect", "--env", env, "--episodes", str(args.demos), "--out", str(data), "--seed", "0")
        singles_data[env] = data
    cpu["collect"] = child_cpu_minutes() - start
    all_demos = load_dataset(pooled)
    for i, env in enumerate(envs):  # the single-task data are the pooled dataset's episodes of that task
        own = load_dataset(singles_data[env])
        rows = all_demos.task_index == i
        assert np.array_equal(own.action, all_demos.action[rows]), f"{env}: the demonstrations differ"

    single: dict[str, list[dict]] = {env: [] for env in envs}
    multi: list[dict] = []
    for seed in args.seeds:
        start = child_cpu_minutes()
        single_runs = {}
        for env in envs:
            run = root / env.split("/")[-1] / f"s{seed}"
            if not (run / "eval.json").is_file():
                train(args.head, singles_data[env], run, seed, *recipe)
            single_runs[env] = run
            single[env].append(evaluated(run, seed, args.episodes))
        cpu["single-task"] += child_cpu_minutes() - start
        start = child_cpu_minutes()
        steps = sum(read_run_config(run)["train_config"]["steps"] for run in single_runs.values())
        run = root / "multi" / f"s{seed}"
        if not (run / "eval.json").is_file():
            train(args.head, pooled, run, seed, "--steps", str(steps), *recipe)
        multi.append({r["env"]: r for r in evaluated(run, seed, args.episodes)["tasks"]})
        cpu["multi-task"] += child_cpu_minutes() - start

    print(
        f"{args.set} from the state, {args.head}: {args.demos} demonstrations per task, {len(args.seeds)} training "
        f"seeds, {args.episodes} evaluation episodes per task and seed; multi-task trained for the ten single-task "
        "runs' summed steps"
    )
    print("| task | single-task | multi-task | multi - single, paired over seeds |\n|---|---|---|---|")

    def interval(outcomes_per_seed: list[np.ndarray]) -> str:
        s = success_over_seeds([int(o.sum()) for o in outcomes_per_seed], [len(o) for o in outcomes_per_seed])
        return f"{s.rate:.0%} [{s.low:.0%}, {s.high:.0%}]"

    def outcomes(evals: list[dict]) -> list[np.ndarray]:
        return [np.array(e["episode_success"], bool) for e in evals]

    for env in envs:
        ones, many = single[env], [per_seed[env] for per_seed in multi]
        paired = paired_over_seeds(outcomes(many), outcomes(ones))
        print(
            f"| {env.split('/')[-1]} | {interval(outcomes(ones))} | {interval(outcomes(many))} | "
            f"{paired.difference:+.0%} [{paired.low:+.0%}, {paired.high:+.0%}] |"
        )
    joined_single = [np.concatenate([outcomes(single[env])[s] for env in envs]) for s in range(len(args.seeds))]
    joined_multi = [np.concatenate([outcomes([multi[s][env]])[0] for env in envs]) for s in range(len(args.seeds))]
    paired = paired_over_seeds(joined_multi, joined_single)

    print(
        f"| **all {len(envs)}** | {interval(joined_single)} | {interval(joined_multi)} | "
        f"{paired.difference:+.0%} [{paired.low:+.0%}, {paired.high:+.0%}] |"
    )
    print(f"\nseeds favouring multi-task / single-task / tied: {paired.a_better} / {paired.b_better} / {paired.ties}")
    print(
        "CPU minutes (this invocation; 0 for reused runs): "
        + ", ".join(f"{what} {minutes:.1f}" for what, minutes in cpu.items())
    )


if __name__ == "__main__":
    main()
