"""One training loop for every policy: AdamW, linear warm-up + cosine decay, gradient clipping, optional EMA,
tqdm progress, metrics appended to ``metrics.jsonl``, atomic checkpoints, and exact resume."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.core.fields import check_field_types
from imitlab.core.locks import one_writer
from imitlab.core.settings import resolve_layers
from imitlab.data.model import EpisodeDataset
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
from imitlab.policies.base import Policy, create_policy, get_policy_class
from imitlab.training.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    TRAIN_STATE_FILE,
    CheckpointError,
    load_network_weights,
    read_run_config,
    restoring,
    save_policy,
)
from imitlab.training.distributed import data_parallel, init_world, resolve_device, sample_shard
from imitlab.training.run_dir import (
    METRICS_FILE,
    append_metrics,
    load_train_state,
    remove_stale_temps,
    save_train_state,
    start_metrics,
    truncate_metrics,
)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000  # optimizer steps
    batch_size: int = 256  # chunks per step
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    warmup_steps: int = 100  # linear warm-up, then cosine decay to 0
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    ema_decay: float = 0.0  # EMA of weights used to act (0 = off; diffusion uses ~0.995)
    save_every: int = 1000  # checkpoint interval in steps (a final checkpoint is always written)
    log_every: int = 50  # metrics.jsonl interval in steps
    seed: int = 0  # seeds initialisation, batch sampling and any noise in the loss

    def __post_init__(self) -> None:
        check_field_types(self)
        for name in ("steps", "batch_size", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InvalidInputError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not self.lr > 0:
            raise InvalidInputError(f"lr must be > 0, got {self.lr}")
        for name in ("weight_decay", "warmup_steps", "grad_clip"):
            if not getattr(self, name) >= 0:
                raise InvalidInputError(f"{name} must be >= 0, got {getattr(self, name)}")


def camera_shapes(dataset: EpisodeDataset) -> dict[str, tuple[int, int]]:
    """Camera key -> (H, W) of each camera of ``dataset`` (its info.json feature shape [H, W, 3]): the policy's
    ``image_shapes``; empty for a state-only dataset."""
    return {key: tuple(dataset.info["features"][key]["shape"][:2]) for key in dataset.camera_keys}


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train(
    policy: Policy,
    dataset: EpisodeDataset,
    config: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    device: str = "auto",
) -> Policy:
    """Train ``policy`` on ``dataset``; write checkpoints and metrics to ``out_dir``. Returns the acting policy
    (the EMA copy when EMA is on), on the training device. With ``resume`` it continues from
    ``out_dir/train_state.pt``. ``device``: "auto" (this rank's GPU when CUDA is available), "cpu" or "cuda";
    batches are drawn on the CPU and moved there, checkpoints are written from CPU copies.

    Under ``torchrun`` (WORLD_SIZE > 1) it trains data-parallel: ``config.batch_size`` is the effective batch,
    split across ranks, gradients are averaged, and only rank 0 writes (see ``imitlab.training.distributed``).
    One process writes a run directory at a time (rank 0 holds its lock): a second one gets a ``LockedError``."""
    out_dir = Path(out_dir)
    if policy.tasks and tuple(policy.tasks) != tuple(dataset.tasks):
        raise InvalidInputError(
            f"{policy.name} conditions on the tasks {list(policy.tasks)}, but the dataset's task table is "
            f"{dataset.tasks}: build the policy with the dataset's tasks"
        )
    if len(dataset.tasks) > 1 and not policy.tasks:
        print(
            f"note: the dataset has {len(dataset.tasks)} tasks and {policy.name} does not condition on them: it "
            "learns one policy of the pooled data (build it with tasks=dataset.tasks to condition)",
            file=sys.stderr,
        )
    writes = os.environ.get("RANK", "0") == "0"  # torchrun's rank; only rank 0 writes
    with one_writer(out_dir, "a run") if writes else nullcontext():
        return _train(policy, dataset, config, out_dir, resume, meta, progress, device)


def _train(
    policy: Policy,
    dataset: EpisodeDataset,
    config: TrainConfig,
    out_dir: Path,
    resume: bool,
    meta: dict[str, Any] | None,
    progress: bool,
    device: str,
) -> Policy:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = resolve_device(device)
    world = init_world(target)
    policy.to(target)
    meta = {**(meta or {}), "train_config": dataclasses.asdict(config)}
    if world.size > 1:
        meta["data_parallel"] = {
            "world_size": world.size,
            "effective_batch_size": config.batch_size,
            "per_rank_batch_size": config.batch_size // world.size,
        }
        if world.is_main:
            print(
                f"data-parallel training on {world.size} processes: effective batch {config.batch_size} "
                f"= {world.size} x {config.batch_size // world.size} per rank",
                flush=True,
            )
    sampler = ChunkSampler(dataset, policy.config.n_obs_steps, policy.config.horizon)
    # fused: one kernel for the whole update (~15% of a small U-Net step on CPU)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config.warmup_steps, config.steps))
    ema = None
    if config.ema_decay > 0:
        ema = AveragedModel(policy, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    generator = torch.Generator().manual_seed(config.seed)
    step = 0
    if world.is_main:
        remove_stale_temps(out_dir)
    if resume and (out_dir / TRAIN_STATE_FILE).is_file():
        step = _load_train_state(out_dir, policy, optimizer, scheduler, ema, generator, world.rank, target)
        if world.is_main:
            truncate_metrics(out_dir, step)
    else:
        torch.manual_seed(config.seed + world.rank)  # loss noise (CPU and GPU): rank 0 draws what one process would
        if world.is_main:
            start_metrics(out_dir)
    acting: Policy = cast(Policy, ema.module) if ema is not None else policy  # AveragedModel holds a copy
    compute_loss = data_parallel(policy, world, target)  # after resume: DDP broadcasts rank 0's weights

    policy.train()
    bar = tqdm(
        total=config.steps,
        initial=step,
        desc=f"train {policy.name}",
        disable=not (progress and world.is_main),
        unit="step",
    )
    started = time.perf_counter()
    while step < config.steps:
        shard = sample_shard(sampler, config.batch_size, generator, world)
        batch: dict[str, Any] = {key: value.to(target) for key, value in shard.items()}
        batch[keys.OBS] = policy.observation(batch)  # the dict of state and frames for a policy with cameras
        loss, metrics = compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            policy.parameters(), config.grad_clip if config.grad_clip > 0 else float("inf")
        )
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(policy)
        step += 1
        bar.update(1)
        if step % config.log_every == 0 or step == config.steps:  # world.mean: every rank takes part
            record = {
                "step": step,
                "loss": world.mean(loss),
                "grad_norm": float(grad_norm),
                "lr": scheduler.get_last_lr()[0],
                "seconds": time.perf_counter() - started,
                **metrics,
            }
            if world.is_main:
                append_metrics(out_dir, record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
        if step % config.save_every == 0 or step == config.steps:
            rank_rngs = world.gather(_loss_rng_state(target))  # each rank's loss noise, for an exact DDP resume
            if world.is_main:  # weights and config first: wherever a kill lands, the state is never ahead of them
                save_policy(out_dir, acting, {**meta, "step": step})
                _save_train_state(out_dir, step, policy, optimizer, scheduler, ema, generator, target, rank_rngs)
    bar.close()
    world.barrier()  # every rank returns once the final checkpoint is on disk
    return acting.eval()


def _loss_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The generators the loss draws its noise from: the CPU one, and this rank's GPU one when training there."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_loss_rng_state(state: dict[str, torch.Tensor] | torch.Tensor, device: torch.device) -> None:
    if isinstance(state, torch.Tensor):  # written before GPU training existed: the CPU generator only
        state = {"cpu": state}
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


TRAIN_STATE_KEYS = ("step", "model", "optimizer", "scheduler", "ema", "sampler_rng", "torch_rng")


def _save_train_state(
    run_dir: Path,
    step: int,
    policy: Policy,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema: AveragedModel | None,
    generator: torch.Generator,
    device: torch.device,
    rank_rngs: list[Any] | None = None,
) -> None:
    state = {
        "step": step,
        "model": policy.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "ema": ema.state_dict() if ema is not None else None,
        "sampler_rng": generator.get_state(),
        "torch_rng": _loss_rng_state(device),
    }
    if rank_rngs is not None:
        state["torch_rng_ranks"] = rank_rngs
    save_train_state(run_dir, state)


def _load_train_state(
    run_dir: Path,
    policy: Policy,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema: AveragedModel | None,
    generator: torch.Generator,
    rank: int,
    device: torch.device,
) -> int:
    state = load_train_state(run_dir, TRAIN_STATE_KEYS, map_location=device)
    path = run_dir / TRAIN_STATE_FILE
    if ema is not None and state["ema"] is None:
        raise CheckpointError(f"{path} was written without EMA; resume with the same --ema as the original run")
    with restoring(path):
        policy.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        generator.set_state(state["sampler_rng"].cpu())
        rank_rngs = state.get("torch_rng_ranks") or []
        _set_loss_rng_state(rank_rngs[rank] if rank < len(rank_rngs) else state["torch_rng"], device)
        step = int(state["step"])
        if step < 0:
            raise InvalidInputError(f"step is {step}")
        return step


def check_run_out(out_dir: Path, data: Path) -> None:
    """Refuse an ``out_dir`` that training would wrongly write into: a non-empty directory that is not a run (a
    dataset, a folder of the user's files), the dataset itself or a directory holding it, or the current
    directory."""
    out = out_dir.resolve()
    if out == data.resolve() or out in data.resolve().parents:
        raise InvalidInputError(f"--out {out_dir} is the dataset or holds it: give the run its own directory")
    if out == Path.cwd().resolve() or out in Path.cwd().resolve().parents:
        raise InvalidInputError(f"--out {out_dir} is the current directory or holds it: give the run its own directory")
    ours = (CONFIG_FILE, METRICS_FILE, TRAIN_STATE_FILE, MODEL_FILE)  # what a run, even a killed one, holds
    foreign = out.is_dir() and [p for p in out.iterdir() if not p.name.endswith(".tmp")]  # temp files of a kill
    if out.exists() and (not out.is_dir() or (foreign and not any((out / f).exists() for f in ours))):
        raise InvalidInputError(
            f"{out_dir} exists and is not a run directory (none of {', '.join(ours)}): refusing to write into it; "
            "choose another --out"
        )


def train_policy(
    name: str,
    data: Path,
    out_dir: Path,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool = True,
    init_from: Path | None = None,
    device: str = "auto",
    recipe: dict[str, Any] | None = None,
) -> Policy:
    """Create policy ``name`` for the dataset at ``data`` and train it into ``out_dir``; ``init_from`` (a run
    directory of the same policy) warm-starts the network weights, keeping this dataset's normalisation.
    ``recipe``: what a tuned recipe set (``experiments.recipes.Resolved.record``), kept in config.json as "recipe";
    its fields must already be in the overrides.

    Config precedence (``core.settings.resolve_layers``): explicit overrides > the policy's ``train_defaults`` >
    TrainConfig defaults. With
    ``resume`` and an existing run, the run's saved configs (and recipe record) are used so that it continues the
    same experiment.
    """
    out_dir = Path(out_dir)
    dataset = load_dataset(Path(data))
    saved_config = out_dir / CONFIG_FILE
    resuming = resume and saved_config.is_file()
    if resuming:
        saved = read_run_config(out_dir, "train_config")
        name, policy_fields, train_fields = saved["policy"], saved["policy_config"], saved["train_config"]
        recipe = saved.get("recipe")
    else:
        policy_fields = {
            "obs_dim": dataset.obs_dim,
            "act_dim": dataset.act_dim,
            "image_shapes": camera_shapes(dataset),
            "tasks": tuple(dataset.tasks) if len(dataset.tasks) > 1 else (),  # condition on the task if several
            **(policy_overrides or {}),
        }
        train_fields = resolve_layers(
            (f"{name} defaults", get_policy_class(name).train_defaults), ("explicit", train_overrides)
        ).values
    with restoring(saved_config) if resuming else nullcontext():  # a saved config that cannot build names its file
        config = TrainConfig(**train_fields)
        torch.manual_seed(config.seed)  # initial weights depend on the training seed only
        policy = create_policy(name, dataset.stats, **policy_fields)
    if init_from is not None and not resume:
        load_network_weights(policy, Path(init_from))
    meta = {"env": dataset.info.get("robot_type"), "data": str(Path(data).resolve())}
    if recipe is not None:
        meta["recipe"] = recipe
    return train(policy, dataset, config, out_dir, resume=resume, meta=meta, progress=progress, device=device)
