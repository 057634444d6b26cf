"""Run by benchmarks/inference_latency.py inside a side venv where LeRobot is installed (never imitlab's own:
LeRobot pins its own torch). Times LeRobot's DiffusionPolicy sampling one chunk (``generate_actions``: DDIM over
its U-Net) at the shape given as JSON in argv[1], and prints {"version", "ms": {batch: median ms}} as JSON.

LeRobot's DiffusionPolicy needs an image or an environment state among its inputs, so the observation is split
into a 1-d robot state and an (obs_dim - 1)-d environment state: the U-Net's condition has the same width,
n_obs_steps * obs_dim, as imitlab's. Its time embedding is set to imitlab's width (64). Only torch and lerobot
are imported here.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib.metadata import version

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

WARMUP = 3


def main() -> None:
    shape = json.loads(sys.argv[1])
    torch.set_num_threads(shape["threads"])
    clock = time.process_time if shape["clock"] == "cpu" else time.perf_counter  # as inference_latency.py's
    env_dim = shape["obs_dim"] - 1
    config = DiffusionConfig(
        n_obs_steps=shape["n_obs_steps"],
        horizon=shape["horizon"],
        n_action_steps=shape["n_action_steps"],
        drop_n_last_frames=0,
        input_features={
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(1,)),
            "observation.environment_state": PolicyFeature(type=FeatureType.ENV, shape=(env_dim,)),
        },
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(shape["act_dim"],))},
        down_dims=tuple(shape["down_dims"]),
        kernel_size=shape["kernel_size"],
        n_groups=shape["n_groups"],
        diffusion_step_embed_dim=64,
        noise_scheduler_type="DDIM",
        num_train_timesteps=shape["num_train_steps"],
        num_inference_steps=shape["num_inference_steps"],
        device="cpu",
    )
    policy = DiffusionPolicy(config).eval()
    ms = {}
    for batch_size in shape["batches"]:
        batch = {
            "observation.state": torch.randn(batch_size, shape["n_obs_steps"], 1),
            "observation.environment_state": torch.randn(batch_size, shape["n_obs_steps"], env_dim),
        }
        times = []
        with torch.inference_mode():
            for i in range(WARMUP + shape["repeats"]):
                start = clock()
                policy.diffusion.generate_actions(batch)
                if i >= WARMUP:
                    times.append(clock() - start)
        ms[str(batch_size)] = 1000 * statistics.median(times)
    print(json.dumps({"version": version("lerobot"), "ms": ms}))


if __name__ == "__main__":
    main()
