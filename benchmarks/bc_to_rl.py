"""BC→RL on Pendulum: PPO whose actor starts from a trained ``bc`` run against PPO from scratch, same steps and
seeds. Prints, per seed, the evaluation return before any RL update and the environment steps after which the
periodic evaluation first reached the target.

The bc run learns from 10 demonstrations whose recorded action is, with probability 0.6 per step, uniformly random
instead of the expert's (a weakened expert: far above random, below the target):

    imitlab collect --env pendulum --episodes 10 --epsilon 0.6 --out runs/rl/data/pendulum-eps0.6-10 --seed 0
    imitlab train --policy bc --data runs/rl/data/pendulum-eps0.6-10 --out runs/rl/bc-eps0.6-pendulum-10 \
        --steps 3000 --seed 0
    python benchmarks/bc_to_rl.py

Runs go to RUNS/ppo-pendulum-STEPS-sSEED and RUNS/ppo-TAG-pendulum-STEPS-sSEED; finished ones are reused
(``--resume``), so a second tag or more seeds cost only the new runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import run_episodes
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.evaluation.stats import mcnemar_exact_p
from imitlab.rl import train_rl
from imitlab.rl.loop import steps_to_target
from imitlab.training.checkpoint import load_policy
from imitlab.training.run_dir import read_metrics


def describe_failures(bc: Path, episodes: int = 20, seed: int = 1000) -> None:
    """Where the bc policy fails: the initial angles of its failed episodes and the largest torque its network asks
    for in each (the env clips to [-2, 2]), from ``episodes`` deterministic rollouts."""
    run = run_episodes(get_env_spec("pendulum"), ChunkExecutor(load_policy(bc)), np.arange(seed, seed + episodes))
    failed = ~run.episode_success
    start = np.abs(np.arctan2(run.obs[failed, 0, 1], run.obs[failed, 0, 0]))
    peak = np.abs(np.where(run.alive[..., None], run.action, 0.0)).max(axis=(1, 2))[failed]
    print(
        f"bc alone, {episodes} episodes: {episodes - failed.sum()} succeed; the {failed.sum()} failures start at "
        f"|angle| {start.min():.1f}..{start.max():.1f} rad (0 = upright), and their network asks for torques up to "
        f"{np.median(peak):.1f} (median over failures) and {peak.max():.1f} (the env clips to 2)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bc", type=Path, default=Path("runs/rl/bc-eps0.6-pendulum-10"), help="the bc run the actor starts from"
    )
    parser.add_argument("--steps", type=int, default=24_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--target", type=float, default=-250.0, help="mean evaluation return to reach")
    parser.add_argument("--runs", type=Path, default=Path("runs/rl"))
    parser.add_argument("--tag", default="bc", help="bc-initialised runs go to RUNS/ppo-TAG-pendulum-STEPS-sSEED")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="PPO settings for the bc-initialised runs only, over PPO.init_defaults, e.g. init_log_std=-1",
    )
    args = parser.parse_args()
    if not (args.bc / "config.json").is_file():
        print(f"bc_to_rl: skipped, no bc run at {args.bc}; create it with the commands in this script's docstring")
        return
    from imitlab.cli.options import parse_assignment

    bc_overrides = dict(parse_assignment(s) for s in args.set)
    describe_failures(args.bc)
    rows = []
    for seed in args.seeds:
        row = {"seed": seed}
        for label, init, overrides in (("scratch", None, {}), ("bc", args.bc, bc_overrides)):
            name = "ppo-pendulum" if init is None else f"ppo-{args.tag}-pendulum"
            out = args.runs / f"{name}-{args.steps}-s{seed}"
            _, result = train_rl(
                "ppo",
                "pendulum",
                args.steps,
                out,
                seed=seed,
                overrides=overrides,
                init_from=init,
                resume=True,
                progress=False,
            )
            evals = [r for r in read_metrics(out) if "eval_return" in r]
            row[label] = (evals[0]["eval_return"], steps_to_target(out, args.target), result.mean_return)
        rows.append(row)
        print(row, flush=True)

    def fmt(steps):
        return "not reached" if steps is None else str(steps)

    print(
        f"\nPendulum PPO, target mean evaluation return >= {args.target} (20 evaluation episodes, "
        f"deterministic actions, evaluated before every batch of 1600 steps); final = 100 episodes"
    )
    print(
        "| seed | start: scratch | start: BC init | steps to target: scratch | steps to target: BC init "
        "| final: scratch | final: BC init |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        s, b = row["scratch"], row["bc"]
        print(f"| {row['seed']} | {s[0]:.0f} | {b[0]:.0f} | {fmt(s[1])} | {fmt(b[1])} | {s[2]:.0f} | {b[2]:.0f} |")
    for label in ("scratch", "bc"):
        reached = [r[label][1] for r in rows if r[label][1] is not None]
        if reached:
            print(f"{label}: reached in {len(reached)}/{len(rows)} seeds, median {np.median(reached):.0f} steps")
    never = float("inf")
    steps = {
        label: np.array([never if r[label][1] is None else r[label][1] for r in rows]) for label in ("scratch", "bc")
    }
    sooner = steps["bc"] < steps["scratch"]
    later = steps["bc"] > steps["scratch"]
    print(
        f"BC init reached the target sooner on {sooner.sum()}/{len(rows)} seeds, later on {later.sum()} "
        f"(two-sided sign test over seeds, ties dropped: p = {mcnemar_exact_p(sooner, later):.2g})"
    )
    finals = {label: np.mean([r[label][2] for r in rows]) for label in ("scratch", "bc")}
    print(f"final return, mean over seeds: scratch {finals['scratch']:.0f}, BC init {finals['bc']:.0f}")


if __name__ == "__main__":
    main()
