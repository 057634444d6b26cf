"""Per-chunk inference latency of every action head (one ``predict_chunk`` call), at batch 1 (one robot) and
batch 64 (a vectorised evaluation), with the demo's recipe for two-path (obs 2, action 2); and Diffusion
Policy's DDIM sampling at 1, 5, 10, 20, 50 and 100 denoising steps.

Latency does not depend on the weights, so untrained networks of the trained shapes are timed. Median of
``--repeats`` calls after warm-up, on this machine's CPU threads. Usage:
    python benchmarks/inference_latency.py [--repeats 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from imitlab.experiments.recipes import recipe
from imitlab.policies.base import Policy, create_policy
from imitlab.training.checkpoint import placeholder_stats

HEADS = ("bc", "chunked-bc", "gmm", "diffusion", "flow")
DENOISE_STEPS = (1, 5, 10, 20, 50, 100)
BATCHES = (1, 64)


def chunk_latency_ms(policy: Policy, batch: int, repeats: int) -> float:
    """Median milliseconds of one predict_chunk call on a (batch, T_obs, obs_dim) observation history."""
    obs = torch.randn(batch, policy.config.n_obs_steps, policy.config.obs_dim)
    generator = torch.Generator().manual_seed(0)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 3):
            start = time.perf_counter()
            policy.predict_chunk(obs, generator=generator)
            if i >= 3:  # warm-up calls are not counted
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def two_path_head(name: str, **overrides) -> Policy:
    policy_overrides, _ = recipe("two-path", name)
    torch.manual_seed(0)
    return create_policy(name, placeholder_stats(2, 2), obs_dim=2, act_dim=2, **{**policy_overrides, **overrides})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"per-chunk latency, ms (median of {args.repeats}; {args.threads} CPU threads)\n")
    print("| head | H | " + " | ".join(f"batch {b}" for b in BATCHES) + " | ms per executed step, batch 1 |")
    print("|---|---|" + "---|" * (len(BATCHES) + 1))
    for name in HEADS:
        policy = two_path_head(name)
        ms = [chunk_latency_ms(policy, b, args.repeats) for b in BATCHES]
        per_step = ms[0] / policy.config.n_action_steps
        cells = " | ".join(f"{m:.2f}" for m in ms)
        print(f"| {name} | {policy.config.horizon} | {cells} | {per_step:.2f} |")

    print("\nDiffusion Policy, DDIM steps (U-Net) — ms per chunk")
    print("| DDIM steps | " + " | ".join(f"batch {b}" for b in BATCHES) + " |")
    print("|---|" + "---|" * len(BATCHES))
    for steps in DENOISE_STEPS:
        policy = two_path_head("diffusion", num_inference_steps=steps)
        cells = " | ".join(f"{chunk_latency_ms(policy, b, args.repeats):.2f}" for b in BATCHES)
        print(f"| {steps} | {cells} |")


if __name__ == "__main__":
    main()
