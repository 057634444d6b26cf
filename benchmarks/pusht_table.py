"""PushT: train (or load) each head on the paper's 90 human training demonstrations, evaluate it on the paper's
test seeds (100000+), and print our rows beside the published table of Chi et al. 2023 (state-based PushT).

    python benchmarks/pusht_table.py                                       # only estimate CPU time per head
    python benchmarks/pusht_table.py --train --scale cpu --episodes 50    # the CPU recipes (~1 h per head)
    python benchmarks/pusht_table.py --train --obs keypoints              # on the paper's keypoint observation
    python benchmarks/pusht_table.py --train --obs pixels --heads diffusion   # from images (<= 90 CPU minutes)
    python benchmarks/pusht_table.py --train --heads diffusion --steps 600 --episodes 5 --out runs/pusht-smoke

A run directory whose final checkpoint is complete is loaded, not retrained; an interrupted one resumes.
Results (one JSON per head) go to OUT/<scale>/<head>[-keypoints|-pixels]-seedN/pusht_eval*.json; the table to
OUT/pusht_table.md. Choose evaluation settings on the validation seeds (--eval-seed 1), then report the test
seeds (--eval-seed 0).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from imitlab.core import keys
from imitlab.data.importers import import_dataset, train_split_episodes
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
from imitlab.evaluation.evaluate import evaluate
from imitlab.evaluation.stats import mean_interval
from imitlab.experiments.recipes import SCALES, recipe_table
from imitlab.policies.base import create_policy, get_policy_class
from imitlab.training.checkpoint import load_policy, read_run_config
from imitlab.training.distributed import DEVICES, resolve_device
from imitlab.training.train import TrainConfig, camera_shapes, train_policy

DEFAULT_ZARR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"
HEADS = ("diffusion", "chunked-bc", "gmm", "flow", "act")
# Chi et al. 2023, Table 1, PushT state-based (keypoint observations): max / mean of the last 10 checkpoints
PAPER_ROWS = [
    ("DP-CNN", 0.95, 0.91),
    ("DP-T", 0.95, 0.79),
    ("IBC", 0.90, 0.84),
    ("BET", 0.79, 0.70),
    ("LSTM-GMM", 0.67, 0.61),
]
MAX_TRAIN_EPISODES = 90


# observation -> (env, the zarr keys forming its vector, the zarr keys of its camera frames): the 5-D state, the
# paper's 9 block keypoints + agent x, y, or the paper's image observation (agent x, y + the 96 x 96 frame)
OBSERVATIONS = {
    "state": ("pusht", ["state"], []),
    "keypoints": ("pusht-keypoints", ["keypoint", "state[:2]"], []),
    "pixels": ("pusht-pixels", ["state[:2]"], ["img"]),
}


def training_data(zarr: Path, out: Path, observation: str) -> Path:
    """The paper's training split (90 of the 206 episodes, diffusion_policy's selection), imported once."""
    env, obs_keys, image_keys = OBSERVATIONS[observation]
    path = out / "data" / f"{env}-train{MAX_TRAIN_EPISODES}"
    if not (path / "meta" / "info.json").is_file():
        import_dataset(
            zarr,
            path,
            obs_keys=obs_keys,
            action_key="action",
            env=env,
            image_keys=image_keys,
            overwrite=True,
            episodes=train_split_episodes("diffusion-policy-zarr", zarr, MAX_TRAIN_EPISODES),
        )
    return path


def settings(env: str, head: str, scale: str, steps: int | None) -> tuple[dict, dict]:
    policy_overrides, train_overrides = recipe_table(scale)[(env, head)]
    policy_overrides, train_overrides = dict(policy_overrides), dict(train_overrides)
    if steps is not None:
        train_overrides["steps"] = steps
    return policy_overrides, train_overrides


def train_or_load(head: str, data: Path, run_dir: Path, policy_overrides: dict, train_overrides: dict, device: str):
    """(policy on ``device``, train wall-clock seconds summed over every session that trained this run)."""
    clock = run_dir / "train_seconds.json"
    spent = json.loads(clock.read_text())["seconds"] if clock.is_file() else 0.0
    config = TrainConfig(**{**get_policy_class(head).train_defaults, **train_overrides})
    if (run_dir / "config.json").is_file() and read_run_config(run_dir).get("step") == config.steps:
        return load_policy(run_dir).to(resolve_device(device)), spent
    started = time.perf_counter()
    policy = train_policy(head, data, run_dir, policy_overrides, train_overrides, resume=True, device=device)
    spent += time.perf_counter() - started
    clock.write_text(json.dumps({"seconds": spent}) + "\n")
    return policy, spent


def estimate(data: Path, env: str, scale: str, heads: list[str], steps: int | None) -> None:
    """Single-threaded CPU time of a few training steps per head, times the recipe's steps."""
    dataset = load_dataset(data)
    print("| head | CPU ms/step (1 thread) | recipe steps | estimated CPU minutes |\n|---|---|---|---|")
    for head in heads:
        policy_overrides, train_overrides = settings(env, head, scale, steps)
        config = TrainConfig(**{**get_policy_class(head).train_defaults, **train_overrides})
        policy = create_policy(
            head,
            dataset.stats,
            obs_dim=dataset.obs_dim,
            act_dim=dataset.act_dim,
            image_shapes=camera_shapes(dataset),
            **policy_overrides,
        )
        optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr)
        sampler = ChunkSampler(dataset, policy.config.n_obs_steps, policy.config.horizon)
        generator = torch.Generator().manual_seed(0)
        for i in range(8):
            if i == 3:  # after warm-up
                started = time.process_time()
            batch = sampler.sample(config.batch_size, generator)
            batch[keys.OBS] = policy.observation(batch)  # state and frames, for a policy with a camera
            loss, _ = policy.compute_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        per_step = (time.process_time() - started) / 5
        print(f"| {head} | {1000 * per_step:.0f} | {config.steps} | {per_step * config.steps / 60:.0f} |")


def score_cell(scores, signed: bool = False) -> str:
    """Mean of per-episode scores with its normal-approximation 95% interval."""
    mean, low, high = (float(v[0]) for v in mean_interval(np.asarray(scores, dtype=float)[:, None]))
    sign = "+" if signed else ""
    return f"{mean:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zarr", type=Path, default=DEFAULT_ZARR, help="the diffusion_policy PushT replay buffer")
    parser.add_argument("--out", type=Path, default=Path("runs/pusht"))
    parser.add_argument("--heads", default=",".join(HEADS), help=f"comma-separated, from {', '.join(HEADS)}")
    parser.add_argument(
        "--obs",
        choices=sorted(OBSERVATIONS),
        default="state",
        help="state: agent x, y, block x, y, angle (5-D); keypoints: the paper's 9 block keypoints "
        "+ agent x, y (20-D), continuous where the angle wraps; pixels: agent x, y + the 96x96 image "
        "(the paper's image observation; diffusion only)",
    )
    parser.add_argument(
        "--scale", choices=SCALES, default="cpu", help="the envs' recipes (EnvSpec.recipes) or full_scale_recipes"
    )
    parser.add_argument("--steps", type=int, help="override the recipe's training steps (smoke runs)")
    parser.add_argument("--episodes", type=int, default=50, help="test seeds 100000.. (the paper: 50)")
    parser.add_argument(
        "--eval-seed",
        type=int,
        default=0,
        help="0: the paper's test seeds 100000..; 1: validation seeds 200000.. (choose settings there)",
    )
    parser.add_argument(
        "--n-action-steps", type=int, help="actions executed per chunk at evaluation (default: the recipe's 8)"
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed; evaluation uses the paper's seeds")
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="train and act on the GPU when CUDA is available (auto), or force one",
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help="train (or load) and evaluate; without it only the training time is estimated",
    )
    args = parser.parse_args()
    heads = [h for h in args.heads.split(",") if h]
    if not args.zarr.is_dir():
        print(f"skipped: PushT demonstrations not found at {args.zarr} (pass --zarr)")
        return
    env = OBSERVATIONS[args.obs][0]
    table = recipe_table(args.scale)
    missing = [head for head in heads if (env, head) not in table]
    if missing:
        parser.error(
            f"no {args.scale} recipe for {', '.join(missing)} on {env}; heads with one: "
            f"{', '.join(h for e, h in table if e == env)}"
        )
    data = training_data(args.zarr, args.out, args.obs)
    if not args.train:
        estimate(data, env, args.scale, heads, args.steps)
        print("\nestimate only: pass --train to train (or load) and evaluate each head")
        return

    rows = []
    for head in heads:
        policy_overrides, train_overrides = settings(env, head, args.scale, args.steps)
        train_overrides["seed"] = args.seed
        suffix = (f"-{args.obs}" if args.obs != "state" else "") + (
            f"-steps{args.steps}" if args.steps is not None else ""
        )
        run_dir = args.out / args.scale / f"{head}{suffix}-seed{args.seed}"
        policy, train_seconds = train_or_load(head, data, run_dir, policy_overrides, train_overrides, args.device)
        started = time.perf_counter()
        result = evaluate(policy, env, args.episodes, seed=args.eval_seed, n_action_steps=args.n_action_steps)
        eval_seconds = time.perf_counter() - started
        record = {
            **result.to_dict(),
            "head": head,
            "scale": args.scale,
            "train_seconds": train_seconds,
            "eval_seconds": eval_seconds,
            "steps": read_run_config(run_dir)["step"],
            "data": str(data),
            "device": str(policy.device),
            "obs": args.obs,
            "eval_seed": args.eval_seed,
            "n_action_steps": args.n_action_steps,
        }
        name = (
            "pusht_eval"
            + (f"-evalseed{args.eval_seed}" if args.eval_seed else "")
            + (f"-act{args.n_action_steps}" if args.n_action_steps else "")
        )
        (run_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        rows.append(record)

    lines = [
        f"PushT, {args.obs} observations, 90 human training demos, {args.episodes} "
        f"{'test' if args.eval_seed == 0 else 'validation'} seeds from {100000 * (args.eval_seed + 1)}, "
        f"{args.n_action_steps or 8} actions executed per chunk "
        f"(scale: {args.scale}; training wall-clock on this machine; score: mean [normal 95% interval] over "
        "the seeds)",
        "",
        "| method | source | score (paper: max / mean of last 10 ckpts) | success [95% Wilson] | train steps | "
        "train wall-clock |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['head']} | ours, final EMA/last checkpoint | {score_cell(r['episode_score'])} | "
            f"{r['success_rate']:.0%} [{r['ci_low']:.0%}, {r['ci_high']:.0%}] ({r['successes']}/{r['episodes']}) "
            f"| {r['steps']} | {r['train_seconds'] / 60:.1f} min |"
        )
    for name, best, mean in PAPER_ROWS:
        lines.append(f"| {name} | Chi et al. 2023 (keypoint obs, GPU) | {best:.2f} / {mean:.2f} | n/a | | |")
    scores = {r["head"]: np.asarray(r["episode_score"]) for r in rows}
    if "chunked-bc" in scores:  # the regressor on the same seeds: the multimodality gap, paired
        lines += [
            "",
            "paired on the same seeds, against chunked-bc (MSE): mean score difference [normal 95% interval]",
            "",
        ]
        lines += [
            f"- {head} − chunked-bc: {score_cell(score - scores['chunked-bc'], signed=True)}"
            for head, score in scores.items()
            if head != "chunked-bc"
        ]
    table = "\n".join(lines)
    print(table)
    (args.out / "pusht_table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
