"""Run by benchmarks/visuomotor_speed.py inside a side venv where LeRobot is installed (never imitlab's own:
LeRobot pins its own torch). Times LeRobot's image DiffusionPolicy at the shape given as JSON in argv[1]: one
training step (``policy.forward`` loss, backward, gradient clipping, the optimizer LeRobot's trainer builds from
the policy's preset, zero_grad) and one chunk (``generate_actions``: the encoder, then DDIM over the U-Net).
Prints {"version", "torch", "params": {"encoder", "unet"}, "train_ms", "chunk_ms": {batch: ms}} as JSON.

Frames are given as LeRobot's policy receives them from its preprocessor: float, already normalised (its
normalisation runs in the processor pipeline, outside the timed policy). Only torch and lerobot are imported.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

WARMUP = 3
CAMERA = "observation.image"  # LeRobot's PushT camera key


def median_ms(call: Callable[[], object], shape: dict) -> float:
    """Median milliseconds of ``call()`` over shape["repeats"] calls after WARMUP, as visuomotor_speed.py's."""
    clock = time.process_time if shape["clock"] == "cpu" else time.perf_counter
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(shape["repeats"]):
        start = clock()
        call()
        times.append(clock() - start)
    return 1000 * statistics.median(times)


def build(shape: dict) -> DiffusionPolicy:
    config = DiffusionConfig(
        n_obs_steps=shape["n_obs_steps"],
        horizon=shape["horizon"],
        n_action_steps=shape["n_action_steps"],
        input_features={
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(shape["state_dim"],)),
            CAMERA: PolicyFeature(type=FeatureType.VISUAL, shape=(3, *shape["image_shape"])),
        },
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(shape["act_dim"],))},
        vision_backbone="resnet18",
        pretrained_backbone_weights=None,
        use_group_norm=True,
        spatial_softmax_num_keypoints=shape["num_keypoints"],
        crop_shape=tuple(shape["crop_shape"]),
        crop_is_random=True,
        down_dims=tuple(shape["down_dims"]),
        kernel_size=shape["kernel_size"],
        n_groups=shape["n_groups"],
        diffusion_step_embed_dim=shape["time_embed_dim"],
        noise_scheduler_type="DDIM",
        num_train_timesteps=shape["num_train_steps"],
        num_inference_steps=shape["num_inference_steps"],
        device="cpu",
    )
    return DiffusionPolicy(config)


def batch_of(shape: dict, batch_size: int, with_actions: bool) -> dict[str, torch.Tensor]:
    T = shape["n_obs_steps"]
    batch = {
        "observation.state": torch.randn(batch_size, T, shape["state_dim"]),
        CAMERA: torch.randn(batch_size, T, 3, *shape["image_shape"]),
    }
    if with_actions:
        batch["action"] = torch.rand(batch_size, shape["horizon"], shape["act_dim"]) * 2 - 1
        batch["action_is_pad"] = torch.zeros(batch_size, shape["horizon"], dtype=torch.bool)
    return batch


def train_ms(policy: DiffusionPolicy, shape: dict) -> float:
    """One step as lerobot_train's update_policy does it (forward, backward, clip, step, zero_grad)."""
    preset = policy.config.get_optimizer_preset()
    optimizer = preset.build(policy.get_optim_params())
    batch = batch_of(shape, shape["train_batch"], with_actions=True)
    policy.train()

    def step() -> None:
        loss, _ = policy.forward(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), preset.grad_clip_norm)
        optimizer.step()
        optimizer.zero_grad()

    return median_ms(step, shape)


def chunk_ms(policy: DiffusionPolicy, shape: dict, batch_size: int) -> float:
    """One chunk from ``generate_actions``, with the camera stacked as DiffusionPolicy.select_action stacks it."""
    batch = batch_of(shape, batch_size, with_actions=False)
    batch["observation.images"] = torch.stack([batch[CAMERA]], dim=-4)  # (B, T_obs, n_cameras, 3, H, W)
    policy.eval()
    with torch.inference_mode():
        return median_ms(lambda: policy.diffusion.generate_actions(batch), shape)


def main() -> None:
    shape = json.loads(sys.argv[1])
    torch.set_num_threads(shape["threads"])
    torch.manual_seed(0)
    policy = build(shape)
    model = policy.diffusion
    result = {
        "version": version("lerobot"),
        "torch": torch.__version__,
        "params": {
            "encoder": sum(p.numel() for p in model.rgb_encoder.parameters()),
            "unet": sum(p.numel() for p in model.unet.parameters()),
        },
        "train_ms": train_ms(policy, shape),
        "chunk_ms": {str(b): chunk_ms(policy, shape, b) for b in shape["chunk_batches"]},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
