"""The policy-gradient training loop shared by every algorithm: tqdm, metrics.jsonl, atomic checkpoints, exact
resume, evaluation through ``imitlab.evaluation.evaluate``.

An iteration collects one episode per sub-env (``imitlab.rl.sampling.collect``), then hands the batch to the
algorithm's ``update``. Every episode starts from a fresh reset, so a checkpoint between iterations holds all the
state there is: resume is exact.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from imitlab.core.errors import InvalidInputError
from imitlab.core.seeds import EVAL_OFFSET
from imitlab.core.settings import resolve_layers
from imitlab.envs.registry import get_env_spec
from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.rl.actor import actor_from_bc, make_actor
from imitlab.rl.algorithm import Algorithm, get_algo
from imitlab.rl.config import PGConfig
from imitlab.rl.estimators import RunningMeanStd
from imitlab.rl.sampling import collect
from imitlab.training.checkpoint import (
    CONFIG_FILE,
    TRAIN_STATE_FILE,
    read_run_config,
    restoring,
    save_policy,
    write_json,
)
from imitlab.training.run_dir import (
    append_metrics,
    load_train_state,
    read_metrics,
    remove_stale_temps,
    save_train_state,
    start_metrics,
    truncate_metrics,
)

EVAL_FILE = "eval.json"
STATE_KEYS = ("iteration", "env_steps", "next_eval", "policy", "learner", "generator", "rng", "rms", "torch_rng")


@dataclasses.dataclass
class Progress:
    """Everything a checkpoint restores besides the networks and the optimizer."""

    generator: torch.Generator  # action sampling and the algorithm's minibatches
    rng: np.random.Generator  # training episode seeds
    rms: RunningMeanStd  # running observation statistics
    iteration: int = 0
    env_steps: int = 0
    next_eval: int = 0  # environment steps at which the next periodic evaluation runs


def train_rl(
    algo: str,
    env: str,
    steps: int,
    out_dir: Path,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    init_from: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    final_eval_episodes: int = 100,
) -> tuple[ActorCriticPolicy, EvalResult]:
    """Train with ``algo`` on ``env`` for at least ``steps`` environment steps into ``out_dir``; evaluate the
    deterministic policy every ``eval_every`` steps (logged) and at the end on ``final_eval_episodes`` episodes
    (``eval.json``). With ``resume`` and an existing run, the run's saved settings are used and it continues."""
    out_dir = Path(out_dir)
    resuming = resume and (out_dir / TRAIN_STATE_FILE).is_file()
    if resuming:
        saved = read_run_config(out_dir, "algo", "env", "seed", "total_steps", "rl_config")
        algo, env, fields = saved["algo"], saved["env"], saved["rl_config"]
        init_from = Path(saved["init_from"]) if saved.get("init_from") else None
    with restoring(out_dir / CONFIG_FILE) if resuming else nullcontext():  # saved settings that fail name the file
        if resuming:
            seed, steps = int(saved["seed"]), int(saved["total_steps"])
        cls = get_algo(algo)
        if not resuming:
            settings = resolve_layers(
                (f"{env} settings for {algo}", get_env_spec(env).rl_defaults.get(cls.name)),
                (f"{algo} --init-from settings", cls.init_defaults if init_from is not None else None),
                ("flags", overrides),
            )
            fields = settings.values
            if progress and settings.sources:
                print(f"settings by layer: {settings.describe()}", flush=True)
        config = cls.config_class(**fields)
        if init_from is not None and config.normalize_obs:
            raise InvalidInputError("--init-from keeps the bc run's observation normalisation: set normalize_obs=false")
        torch.manual_seed(seed)  # initial weights depend on the seed only
        policy, learner = _make_learner(cls, config, env, init_from)
    # training episode seeds are drawn in [0, EVAL_OFFSET): never an evaluation seed
    state = Progress(
        torch.Generator().manual_seed(seed), np.random.default_rng(seed), RunningMeanStd(policy.config.obs_dim)
    )
    meta = {
        "env": env,
        "algo": algo,
        "seed": seed,
        "total_steps": steps,
        "rl_config": dataclasses.asdict(config),
        "init_from": str(Path(init_from).resolve()) if init_from else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)
    if resuming:
        _restore(out_dir, policy, learner, state)
        truncate_metrics(out_dir, state.env_steps)
    else:
        start_metrics(out_dir)

    spec = get_env_spec(env)
    vec_env = spec.make_vector(config.num_envs)
    bar = tqdm(total=steps, initial=state.env_steps, desc=f"{algo} {env}", disable=not progress, unit="step")
    started, eval_seconds = time.perf_counter(), 0.0
    while state.env_steps < steps:
        record: dict[str, Any] = {}
        if state.env_steps >= state.next_eval:  # evaluate the policy as it is before this iteration's update
            eval_started = time.perf_counter()
            result = evaluate(policy, env, config.eval_episodes, seed)
            eval_seconds += time.perf_counter() - eval_started
            record.update(eval_return=result.mean_return, eval_success=result.success_rate)
            state.next_eval += config.eval_every
        policy.eval()
        seeds = state.rng.integers(0, EVAL_OFFSET, size=config.num_envs)
        batch = collect(policy, vec_env, seeds, spec.max_steps, state.generator)
        metrics = learner.update(batch, state.env_steps / steps, state.generator)
        if config.normalize_obs:  # new statistics act from the next batch on (this one's log-probs stay valid)
            state.rms.update(batch.rollout.obs[batch.alive])
            _set_obs_normalizer(policy, state.rms)
        state.iteration += 1
        state.env_steps += batch.steps
        bar.update(batch.steps)
        record = {
            "step": state.env_steps,
            "iteration": state.iteration,
            "eval_at": state.env_steps - batch.steps,
            **record,
            "train_return": float(batch.rollout.returns.mean()),
            "train_length": float(batch.rollout.lengths.mean()),
            "seconds": time.perf_counter() - started,
            "eval_seconds": eval_seconds,
            **metrics,
        }
        append_metrics(out_dir, record)
        bar.set_postfix(ret=f"{record['train_return']:.1f}")
        if state.iteration % config.save_every == 0 or state.env_steps >= steps:
            # weights and config first: wherever a kill lands, the state is never ahead of them
            save_policy(out_dir, policy, {**meta, "env_steps": state.env_steps})
            _save(out_dir, policy, learner, state)
    bar.close()
    vec_env.close()
    result = evaluate(policy.eval(), env, final_eval_episodes, seed)
    write_json(out_dir / EVAL_FILE, {"env_steps": state.env_steps, **result.to_dict()})
    records = read_metrics(out_dir)
    if not (records and records[-1].get("final")):  # a finished run that is resumed logs its final eval once
        final = {"step": state.env_steps, "iteration": state.iteration, "eval_at": state.env_steps, "final": True}
        append_metrics(out_dir, {**final, "eval_return": result.mean_return, "eval_success": result.success_rate})
    return policy, result


def _make_learner(
    cls: type[Algorithm], config: PGConfig, env: str, init_from: Path | None
) -> tuple[ActorCriticPolicy, Algorithm]:
    """The actor (fresh, or from the bc run ``init_from`` with its demonstrations for the BC regulariser) and the
    algorithm that trains it."""
    spec = get_env_spec(env)
    if init_from is None:
        policy = make_actor(spec, config)
        return policy, cls(policy, config, None)
    init_config = read_run_config(init_from)
    if init_config.get("env") not in (None, env):
        raise InvalidInputError(f"{init_from} was trained on {init_config.get('env')!r}, not {env!r}")
    policy = actor_from_bc(init_from, config, spec)
    bc_data = Path(init_config["data"]) if init_config.get("data") else None
    return policy, cls(policy, config, bc_data)


def _save(run_dir: Path, policy: ActorCriticPolicy, learner: Algorithm, state: Progress) -> None:
    save_train_state(
        run_dir,
        {
            "iteration": state.iteration,
            "env_steps": state.env_steps,
            "next_eval": state.next_eval,
            "policy": policy.state_dict(),
            "learner": learner.state_dict(),
            "generator": state.generator.get_state(),
            "rng": json.dumps(state.rng.bit_generator.state),  # numpy's state as JSON: no pickled objects
            "rms": {
                "mean": torch.from_numpy(state.rms.mean.copy()),
                "var": torch.from_numpy(state.rms.var.copy()),
                "count": state.rms.count,
            },
            "torch_rng": torch.get_rng_state(),
        },
    )


def _restore(run_dir: Path, policy: ActorCriticPolicy, learner: Algorithm, state: Progress) -> None:
    saved = load_train_state(run_dir, STATE_KEYS)
    with restoring(run_dir / TRAIN_STATE_FILE):
        policy.load_state_dict(saved["policy"])
        learner.load_state_dict(saved["learner"])
        state.generator.set_state(saved["generator"])
        state.rng.bit_generator.state = json.loads(saved["rng"])
        state.rms.load_state_dict(saved["rms"])
        torch.set_rng_state(saved["torch_rng"])
        state.iteration, state.env_steps = int(saved["iteration"]), int(saved["env_steps"])
        state.next_eval = int(saved["next_eval"])
        if min(state.iteration, state.env_steps, state.next_eval) < 0:
            raise InvalidInputError(f"negative counters: {state}")


def _set_obs_normalizer(policy: ActorCriticPolicy, rms: RunningMeanStd) -> None:
    policy.obs_normalizer.shift.copy_(torch.as_tensor(rms.mean, dtype=torch.float32))
    policy.obs_normalizer.scale.copy_(torch.as_tensor(np.sqrt(rms.var + 1e-8), dtype=torch.float32))


def steps_to_target(run_dir: Path, target: float) -> int | None:
    """Environment steps after which the periodic evaluation first reached mean return >= ``target``."""
    for record in read_metrics(run_dir):
        if record.get("eval_return", -np.inf) >= target:
            return int(record["eval_at"])
    return None
