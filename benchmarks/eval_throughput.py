"""Env-steps per second of policy evaluation on Pendulum with the same 3x256 MLP policy:

- serial: one gymnasium Pendulum-v1 env, one policy call per step (batch 1), episode after episode;
- gymnasium SyncVectorEnv over N Pendulum-v1 copies, one batched policy call per step;
- imitlab's evaluator: the batched numpy Pendulum (N episodes at once), one batched policy call per step.

Ratios are measured side by side in one run. Usage: python benchmarks/eval_throughput.py [--episodes 100]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

from imitlab.core.seeds import evaluation_seeds
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import rollout
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import placeholder_stats


def serial(policy, env, seeds, max_steps) -> float:
    executor = ChunkExecutor(policy)
    start = time.perf_counter()
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        executor.reset(np.array([seed]))
        for _ in range(max_steps):
            obs, _, terminated, truncated, _ = env.step(executor.act(obs[None])[0])
            if terminated or truncated:
                break
    return len(seeds) * max_steps / (time.perf_counter() - start)


def vectorised(policy, vec_env, seeds, max_steps) -> float:
    start = time.perf_counter()
    rollout(vec_env, ChunkExecutor(policy), seeds, max_steps)
    return len(seeds) * max_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    torch.manual_seed(0)
    spec = get_env_spec("pendulum")
    policy = create_policy("bc", placeholder_stats(3, 1), obs_dim=3, act_dim=1).eval()
    seeds = evaluation_seeds(0, args.episodes)
    with torch.inference_mode():
        rows = [
            (
                "serial gymnasium, batch-1 policy",
                serial(policy, spec.make_single(), seeds[: max(10, args.episodes // 10)], spec.max_steps),
            ),
            (
                f"gymnasium SyncVectorEnv x{args.episodes}",
                vectorised(
                    policy,
                    gym.vector.SyncVectorEnv(
                        [spec.make_single] * args.episodes, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
                    ),
                    seeds,
                    spec.max_steps,
                ),
            ),
            (
                f"imitlab batched env x{args.episodes}",
                vectorised(policy, spec.make_vector(args.episodes), seeds, spec.max_steps),
            ),
        ]
    base = rows[0][1]
    print(f"{'evaluator':<40} {'env-steps/s':>12} {'vs serial':>10}")
    for name, rate in rows:
        print(f"{name:<40} {rate:>12,.0f} {rate / base:>9.1f}x")


if __name__ == "__main__":
    main()
