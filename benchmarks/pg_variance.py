"""Variance of the REINFORCE gradient estimate for one fixed policy: plain vs reward-to-go vs learned baseline.

    python benchmarks/pg_variance.py --env cartpole --batches 50 --episodes-per-batch 8
    python benchmarks/pg_variance.py --env pendulum --checkpoint runs/rl/ppo-pendulum-s0

Without ``--checkpoint`` the policy is a freshly initialised actor (seeded); with one, the run's actor. Prints
tr Cov[g] (summed over the actor's parameters) across independent batches, relative to the plain estimator.
"""

from __future__ import annotations

import argparse

import torch

from imitlab.envs.registry import get_env_spec
from imitlab.rl.actor import make_actor
from imitlab.rl.config import PGConfig
from imitlab.rl.variance import gradient_variance
from imitlab.training.checkpoint import load_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--checkpoint", help="an `imitlab rl` run whose actor is held fixed")
    parser.add_argument("--batches", type=int, default=50, help="independent batches")
    parser.add_argument("--episodes-per-batch", type=int, default=8)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    policy = load_policy(args.checkpoint) if args.checkpoint else make_actor(get_env_spec(args.env), PGConfig())
    rows = gradient_variance(policy, args.env, args.batches, args.episodes_per_batch, args.gamma, seed=args.seed)
    print(
        f"{args.env}, policy {args.checkpoint or f'fresh (seed {args.seed})'}, {args.batches} batches of "
        f"{args.episodes_per_batch} episodes, gamma {args.gamma}"
    )
    print("| estimator | tr Cov[g] | relative to plain |\n|---|---|---|")
    for row in rows:
        print(f"| {row.estimator} | {row.total_variance:.4g} | {row.relative:.3f} |")


if __name__ == "__main__":
    main()
