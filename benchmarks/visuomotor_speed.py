"""Image Diffusion Policy at the PushT shape, imitlab against LeRobot's DiffusionPolicy configured to match, in one
run: training samples/s (one optimizer step at batch 64: forward, backward, gradient clipping, the optimizer
step) and per-chunk latency at batch 1 and 64 (the visual encoder, then DDIM over the U-Net).

The shape: one camera of 96×96 frames, T_obs 2 frames, a 2-D state, H 16 actions of 2-D. Both sides build Chi et
al.'s encoder (ResNet-18 from scratch with GroupNorm, 32 spatial-softmax keypoints, linear + ReLU to 64
features, random crop 84×84 in training and centre crop in evaluation) and the same conditional 1-D U-Net
(``--down-dims``, default imitlab's PushT recipe widths (32, 64, 128); LeRobot's own default is 512 1024 2048
with ``--time-embed-dim 128``), kernel 5, 8 groups, 100 training noise steps, ``--ddim-steps`` at inference. The
table prints each side's encoder and U-Net parameter counts so the sizes can be checked.

Each side trains the way its own trainer does: imitlab fused AdamW (training/train.py), LeRobot the optimizer its
diffusion preset builds (Adam, weight decay 1e-6), both with gradient clipping; neither the learning-rate
schedule nor imitlab's optional EMA is timed. imitlab takes uint8 frames and normalises them inside the policy
(timed); LeRobot's policy takes frames its preprocessor has already normalised (not timed). Speed does not
depend on the weights, so untrained networks are timed. Median of ``--repeats`` calls after 3 uncounted ones.
Usage:
    python benchmarks/visuomotor_speed.py [--repeats 5] [--threads 1] [--clock cpu|wall]
        [--down-dims 32 64 128] [--time-embed-dim 64] [--ddim-steps 10] [--lerobot-python PATH]

LeRobot pins its own torch, so it never goes in the project's environment: `make lerobot-env` builds the side
venv .lerobot-venv (about 8 GB), used by default; --lerobot-python (or $IMITLAB_LEROBOT_PYTHON) names another.
The LeRobot side runs benchmarks/side/lerobot_visuomotor_speed.py there, after the imitlab side, never at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from imitlab.core import keys
from imitlab.policies.base import IMAGES_PREFIX, Policy, create_policy
from imitlab.policies.encoders import VisionConfig
from imitlab.training.checkpoint import placeholder_stats
from imitlab.training.train import TrainConfig

WARMUP = 3
TRAIN_BATCH = 64
CHUNK_BATCHES = (1, 64)
CAMERA = IMAGES_PREFIX + "top"
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
DEFAULT_LEROBOT_PYTHON = Path(__file__).resolve().parents[1] / ".lerobot-venv/bin/python"  # `make lerobot-env`
LEROBOT_SCRIPT = Path(__file__).parent / "side" / "lerobot_visuomotor_speed.py"  # run with the side venv's python


def median_ms(call: Callable[[], object], args: argparse.Namespace) -> float:
    """Median milliseconds of ``call()`` over ``args.repeats`` calls after WARMUP uncounted ones, on the clock
    ``args.clock`` names."""
    clock = CLOCKS[args.clock]
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(args.repeats):
        start = clock()
        call()
        times.append(clock() - start)
    return 1000 * statistics.median(times)


def shape_of(args: argparse.Namespace) -> dict:
    """The PushT image shape and network sizes both sides build (the side script's argv[1])."""
    return {
        "n_obs_steps": 2,
        "horizon": 16,
        "n_action_steps": 8,
        "state_dim": 2,
        "act_dim": 2,
        "image_shape": [96, 96],
        "num_keypoints": 32,
        "crop_shape": [84, 84],
        "down_dims": list(args.down_dims),
        "kernel_size": 5,
        "n_groups": 8,
        "time_embed_dim": args.time_embed_dim,
        "num_train_steps": 100,
        "num_inference_steps": args.ddim_steps,
        "threads": args.threads,
        "clock": args.clock,
        "repeats": args.repeats,
        "train_batch": TRAIN_BATCH,
        "chunk_batches": list(CHUNK_BATCHES),
    }


def imitlab_policy(shape: dict) -> Policy:
    torch.manual_seed(0)
    vision = VisionConfig(
        backbone="resnet18",
        crop_shape=tuple(shape["crop_shape"]),
        num_keypoints=shape["num_keypoints"],
        feature_dim=2 * shape["num_keypoints"],  # LeRobot's encoder: 2 * keypoints features
    )
    return create_policy(
        "diffusion",
        placeholder_stats(shape["state_dim"], shape["act_dim"]),
        obs_dim=shape["state_dim"],
        act_dim=shape["act_dim"],
        n_obs_steps=shape["n_obs_steps"],
        horizon=shape["horizon"],
        n_action_steps=shape["n_action_steps"],
        image_shapes={CAMERA: tuple(shape["image_shape"])},
        vision=vision,
        down_dims=tuple(shape["down_dims"]),
        kernel_size=shape["kernel_size"],
        n_groups=shape["n_groups"],
        time_embed_dim=shape["time_embed_dim"],
        num_train_steps=shape["num_train_steps"],
        sampler="ddim",
        num_inference_steps=shape["num_inference_steps"],
    )


def observation(shape: dict, batch_size: int) -> dict[str, torch.Tensor]:
    """{"observation.state": (B, T_obs, 2), "observation.images.top": (B, T_obs, 3, 96, 96) uint8}."""
    T = shape["n_obs_steps"]
    return {
        keys.OBS: torch.randn(batch_size, T, shape["state_dim"]),
        CAMERA: torch.randint(0, 256, (batch_size, T, 3, *shape["image_shape"]), dtype=torch.uint8),
    }


def imitlab_train_ms(policy: Policy, shape: dict, args: argparse.Namespace) -> float:
    """One step as training/train.py does it (zero_grad, loss, backward, clip, fused AdamW step)."""
    config = TrainConfig()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    batch = {
        keys.OBS: observation(shape, TRAIN_BATCH),
        keys.ACTION: torch.rand(TRAIN_BATCH, shape["horizon"], shape["act_dim"]) * 2 - 1,
        keys.ACTION_IS_PAD: torch.zeros(TRAIN_BATCH, shape["horizon"], dtype=torch.bool),
    }
    policy.train()

    def step() -> None:
        loss, _ = policy.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
        optimizer.step()

    return median_ms(step, args)


def imitlab_chunk_ms(policy: Policy, shape: dict, batch_size: int, args: argparse.Namespace) -> float:
    obs = observation(shape, batch_size)
    generator = torch.Generator().manual_seed(0)
    policy.eval()
    with torch.inference_mode():
        return median_ms(lambda: policy.predict_chunk(obs, generator=generator), args)


def imitlab_side(shape: dict, args: argparse.Namespace) -> dict:
    """The same fields as the side script's JSON, for imitlab."""
    policy = imitlab_policy(shape)
    encoder_params = sum(p.numel() for p in policy.image_encoders.parameters())
    return {
        "version": "this tree",
        "torch": torch.__version__,
        "params": {"encoder": encoder_params, "unet": sum(p.numel() for p in policy.denoiser.parameters())},
        "train_ms": imitlab_train_ms(policy, shape, args),
        "chunk_ms": {str(b): imitlab_chunk_ms(policy, shape, b, args) for b in CHUNK_BATCHES},
    }


def lerobot_side(shape: dict, args: argparse.Namespace) -> dict | None:
    """The side script's result, or None (with the reason printed) when the side environment is missing or fails."""
    if not Path(args.lerobot_python).is_file():
        print(
            f"LeRobot not run: no side environment with LeRobot at {args.lerobot_python}. Build it with "
            "`make lerobot-env` (LeRobot pins its own torch, ~8 GB), or pass --lerobot-python PATH (or set "
            "IMITLAB_LEROBOT_PYTHON)."
        )
        return None
    out = subprocess.run(
        [args.lerobot_python, str(LEROBOT_SCRIPT), json.dumps(shape)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        print(f"LeRobot failed ({args.lerobot_python}):\n{out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(name: str, result: dict) -> str:
    params = result["params"]
    cells = [
        f"{params['encoder']:,}",
        f"{params['unet']:,}",
        f"{result['train_ms']:.0f}",
        f"{1000 * TRAIN_BATCH / result['train_ms']:.1f}",
        *(f"{result['chunk_ms'][str(b)]:.1f}" for b in CHUNK_BATCHES),
    ]
    return f"| {name} ({result['version']}, torch {result['torch']}) | " + " | ".join(cells) + " |"


def ratio_row(ours: dict, theirs: dict) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×"

    cells = [
        ratio(ours["params"]["encoder"], theirs["params"]["encoder"]),
        ratio(ours["params"]["unet"], theirs["params"]["unet"]),
        ratio(ours["train_ms"], theirs["train_ms"]),
        ratio(theirs["train_ms"], ours["train_ms"]),  # samples/s: the inverse of ms per step
        *(ratio(ours["chunk_ms"][str(b)], theirs["chunk_ms"][str(b)]) for b in CHUNK_BATCHES),
    ]
    return "| imitlab / LeRobot | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads, on both sides")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="cpu: each process's CPU time, which other jobs on a shared machine do not inflate (equal to the wall "
        "time of a single-threaded call on an idle core; use it with --threads 1); wall: elapsed time",
    )
    parser.add_argument("--down-dims", type=int, nargs="+", default=[32, 64, 128], help="U-Net widths, both sides")
    parser.add_argument("--time-embed-dim", type=int, default=64, help="U-Net time-step embedding, both sides")
    parser.add_argument("--ddim-steps", type=int, default=10, help="DDIM denoising steps per chunk, both sides")
    parser.add_argument(
        "--lerobot-python",
        default=os.environ.get("IMITLAB_LEROBOT_PYTHON", str(DEFAULT_LEROBOT_PYTHON)),
        metavar="PATH",
        help="python of a side venv with LeRobot (default: $IMITLAB_LEROBOT_PYTHON, else .lerobot-venv/bin/python)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = shape_of(args)
    print(
        f"image Diffusion Policy at the PushT shape (1 camera 96×96, crop 84, T_obs 2, H 16, state 2, action 2; "
        f"ResNet-18-GN + spatial softmax 32; U-Net {tuple(args.down_dims)}, time embedding {args.time_embed_dim}, "
        f"kernel 5, 8 groups; DDIM {args.ddim_steps} steps): {args.clock} ms, median of {args.repeats}, "
        f"{args.threads} PyTorch thread(s), python {sys.version.split()[0]}\n",
        flush=True,
    )
    ours = imitlab_side(shape, args)
    theirs = lerobot_side(shape, args)
    batches = " | ".join(f"ms per chunk, batch {b}" for b in CHUNK_BATCHES)
    print(f"| | encoder params | U-Net params | ms per training step (batch {TRAIN_BATCH}) | samples/s | {batches} |")
    print("|---|---|---|---|---|" + "---|" * len(CHUNK_BATCHES))
    print(row("imitlab", ours))
    if theirs is not None:
        print(row("LeRobot", theirs))
        print(ratio_row(ours, theirs))


if __name__ == "__main__":
    main()
