"""What REINFORCE and PPO share: the config base, the actor for an env (fresh, or from a ``bc`` run), batches of
episodes sampled from the actor, and the training loop (tqdm, metrics.jsonl, atomic checkpoints, exact resume,
evaluation through ``imitlab.evaluation.evaluate``).

An iteration collects one episode per sub-env of the env's batched implementation (``rollout``, lock-step,
masked after each episode's end), then hands the batch to the algorithm's ``update``. Every episode starts from a
fresh reset, so a checkpoint between iterations holds all the state there is: resume is exact.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from imitlab.core.io import atomic_write, write_json
from imitlab.core.registry import Registry
from imitlab.core.seeds import EVAL_OFFSET
from imitlab.envs.registry import BatchedEnv, EnvSpec, get_env_spec
from imitlab.envs.rollout import Rollout, rollout
from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.policies.base import Policy, create_policy
from imitlab.rl.estimators import RunningMeanStd
from imitlab.training.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    TRAIN_STATE_FILE,
    CheckpointError,
    placeholder_stats,
    read_run_config,
    save_policy,
)
from imitlab.training.train import METRICS_FILE, _truncate_metrics

EVAL_FILE = "eval.json"


@dataclass(frozen=True)
class PGConfig:
    """Settings every policy-gradient algorithm shares; each algorithm's config adds its own."""

    num_envs: int = 16  # episodes collected per iteration (one per sub-env, in lock-step)
    gamma: float = 0.99  # discount
    lr: float = 3e-4  # Adam learning rate of the actor and, in PPO, of the critic (PPO's actor_lr can differ)
    reward_scale: float = 1.0  # rewards are multiplied by this before any return is computed
    normalize_obs: bool = True  # running mean/std of observations (off when initialised from a bc run)
    hidden_dim: int = 64  # actor and critic width (a bc init keeps the bc network's)
    num_layers: int = 2  # actor and critic hidden layers (a bc init keeps the bc network's)
    activation: str = "tanh"  # "tanh" or "relu" (a bc init uses relu, as bc)
    log_std: str = "state_independent"  # Gaussian log-std: "state_independent" or "state_dependent"
    init_log_std: float = 0.0  # initial log std in normalised action units
    # Gaussian: centre the distribution at the mean clamped into the action bounds, gradients passing straight
    # through (BC→RL: where a bc network's mean lies far outside the bounds, every sampled action is clipped to the
    # same bound, so PPO gets no signal there; the env clips actions anyway, so the deterministic policy is the same)
    clamp_mean: bool = False
    bc_coef: float = 0.0  # BC→RL: weight of the BC loss on the init run's demonstrations (0 = off)
    bc_batch_size: int = 256  # demonstration frames per BC-regulariser term
    eval_every: int = 10_000  # environment steps between evaluations (deterministic actions)
    eval_episodes: int = 20  # episodes per periodic evaluation (the final one uses 100)
    save_every: int = 10  # iterations between checkpoints (a final one is always written)

    def __post_init__(self) -> None:
        for name in (
            "num_envs",
            "hidden_dim",
            "num_layers",
            "bc_batch_size",
            "eval_every",
            "eval_episodes",
            "save_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.lr <= 0 or self.reward_scale <= 0 or self.bc_coef < 0:
            raise ValueError(
                f"lr and reward_scale must be > 0 and bc_coef >= 0, got {self.lr}, {self.reward_scale}, {self.bc_coef}"
            )


# -- the actor --------------------------------------------------------------------------------------------------
def env_spaces(spec: EnvSpec) -> tuple[gym.spaces.Space, gym.spaces.Space]:
    """(observation space, action space) of one of ``spec``'s sub-envs."""
    env = spec.make_vector(1)
    spaces = env.single_observation_space, env.single_action_space
    env.close()
    return spaces


def mean_bounds(space: gym.spaces.Space, config: PGConfig, env: str) -> dict[str, tuple[float, ...]]:
    """The actor's ``mean_low``/``mean_high`` fields: the bounds of action ``space`` when ``config.clamp_mean``."""
    if not config.clamp_mean:
        return {}
    if isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"clamp_mean clamps a Gaussian's mean; {env} has discrete actions")
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"clamp_mean needs bounded (Box) actions; {env} has {space}")
    return {"mean_low": tuple(map(float, space.low)), "mean_high": tuple(map(float, space.high))}


def make_actor(spec: EnvSpec, config: PGConfig) -> ActorCriticPolicy:
    """A fresh actor-critic for ``spec``'s spaces: categorical for a Discrete action space, else a Gaussian whose
    normalised actions map [-1, 1] onto the action bounds."""
    obs_space, space = env_spaces(spec)
    if not isinstance(obs_space, gym.spaces.Box) or not isinstance(space, (gym.spaces.Box, gym.spaces.Discrete)):
        raise ValueError(
            f"{spec.name}: RL needs Box observations and Box or Discrete actions, got {obs_space}, {space}"
        )
    obs_dim = int(obs_space.shape[0])
    fields = dict(
        hidden_dim=config.hidden_dim,
        num_layers=config.num_layers,
        activation=config.activation,
        log_std=config.log_std,
        init_log_std=config.init_log_std,
        **mean_bounds(space, config, spec.name),
    )
    if isinstance(space, gym.spaces.Discrete):
        stats = placeholder_stats(obs_dim, 1)
        return _actor_critic(
            create_policy(
                "actor-critic",
                stats,
                obs_dim=obs_dim,
                act_dim=1,
                distribution="categorical",
                n_actions=int(space.n),
                **fields,
            )
        )
    low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
    stats = placeholder_stats(obs_dim, len(low))
    stats["action"] = {"mean": (high + low) / 2, "std": (high - low) / 2, "min": low, "max": high}
    return _actor_critic(create_policy("actor-critic", stats, obs_dim=obs_dim, act_dim=len(low), **fields))


def actor_from_bc(run_dir: Path, config: PGConfig, spec: EnvSpec) -> ActorCriticPolicy:
    """A Gaussian actor whose mean is a trained ``bc`` network (or a ``chunked-bc`` network's first action, for
    one-observation runs) for ``spec``'s env, with the bc run's normalisation; the log-std and the critic start
    fresh."""
    run_dir = Path(run_dir)
    saved = read_run_config(run_dir)
    pc = saved["policy_config"]
    if saved["policy"] not in ("bc", "chunked-bc") or pc.get("n_obs_steps", 1) != 1 or pc.get("dropout", 0):
        raise CheckpointError(
            f"{run_dir / CONFIG_FILE}: --init-from needs a bc or chunked-bc run with "
            f"n_obs_steps 1 and no dropout, got {saved['policy']!r} with {pc}"
        )
    action_space = env_spaces(spec)[1]
    if not isinstance(action_space, gym.spaces.Box):
        raise ValueError(
            f"--init-from starts a Gaussian actor from a bc network that regresses actions; {spec.name} "
            f"has discrete actions ({action_space}), so train its actor from scratch"
        )
    weights = load_file(run_dir / MODEL_FILE)
    policy = create_policy(
        "actor-critic",
        placeholder_stats(pc["obs_dim"], pc["act_dim"]),
        obs_dim=pc["obs_dim"],
        act_dim=pc["act_dim"],
        hidden_dim=pc["hidden_dim"],
        num_layers=pc["num_layers"],
        activation=pc.get("activation", "relu"),
        obs_norm=pc["obs_norm"],
        action_norm=pc["action_norm"],
        log_std=config.log_std,
        init_log_std=config.init_log_std,
        **mean_bounds(action_space, config, spec.name),
    )
    last = f"net.{2 * pc['num_layers']}."
    state = {}
    for key, value in weights.items():
        if key.startswith(last):  # chunked-bc: rows [0, act_dim) are the chunk's first action
            value = value[: pc["act_dim"]]
        if key.startswith(("net.", "obs_normalizer.", "action_normalizer.")):
            state[key] = value
    missing, unexpected = policy.load_state_dict(state, strict=False)
    missing = [k for k in missing if k.startswith(("net.", "obs_normalizer.", "action_normalizer."))]
    if missing or unexpected:
        raise CheckpointError(
            f"{run_dir / MODEL_FILE} does not fit the actor: missing {missing}, unexpected {unexpected}"
        )
    return _actor_critic(policy)


def _actor_critic(policy: Policy) -> ActorCriticPolicy:
    assert isinstance(policy, ActorCriticPolicy), f"expected an actor-critic policy, got {policy.name}"
    return policy


# -- batches of episodes ----------------------------------------------------------------------------------------
class SamplingAgent:
    """An Agent that samples the actor's stochastic actions and remembers u and log pi(u|s) of each step."""

    def __init__(self, policy: ActorCriticPolicy, generator: torch.Generator):
        self.policy, self.generator = policy, generator

    def reset(self, seeds: np.ndarray) -> None:
        self.u: list[torch.Tensor] = []
        self.logp: list[torch.Tensor] = []

    def act(self, obs: np.ndarray) -> np.ndarray:
        action, u, logp = self.policy.sample(torch.from_numpy(np.asarray(obs, dtype=np.float32)), self.generator)
        self.u.append(u)
        self.logp.append(logp)
        return action.numpy()


@dataclass
class Batch:
    """N episodes sampled from the actor. Arrays are (N, T) as in ``Rollout``; ``u`` and ``logp`` are torch."""

    rollout: Rollout
    u: torch.Tensor  # (N, T, act_dim) normalised action (or index) drawn at each step
    logp: torch.Tensor  # (N, T) log pi(u_t | s_t) under the policy that acted

    @property
    def obs(self) -> torch.Tensor:
        return torch.from_numpy(self.rollout.obs)

    @property
    def alive(self) -> np.ndarray:
        return self.rollout.alive

    @property
    def steps(self) -> int:
        return int(self.rollout.alive.sum())


@torch.no_grad()
def collect(
    policy: ActorCriticPolicy,
    env: BatchedEnv,
    seeds: np.ndarray,
    max_steps: int,
    generator: torch.Generator,
) -> Batch:
    """One episode per sub-env with actions sampled from ``policy`` (one batched forward pass per step)."""
    agent = SamplingAgent(policy, generator)
    result = rollout(env, agent, seeds, max_steps)
    return Batch(result, torch.stack(agent.u, 1), torch.stack(agent.logp, 1))


# -- algorithms and the loop ------------------------------------------------------------------------------------
class Algorithm:
    """An algorithm: ``update(batch, progress)`` improves ``policy`` from one batch of episodes."""

    name: ClassVar[str]
    config_class: ClassVar[type[PGConfig]]
    env_defaults: ClassVar[dict[str, dict[str, Any]]] = {}  # per-env settings that work (explicit ones win)
    # settings for an actor that starts from a bc run (--init-from), over env_defaults (explicit ones win); the
    # bc network computes on inputs normalised with its own statistics, so the running normalisation stays off
    init_defaults: ClassVar[dict[str, Any]] = {"normalize_obs": False}

    def __init__(self, policy: ActorCriticPolicy, config: PGConfig, bc_data: Path | None = None):
        self.policy, self.config = policy, config
        self.bc_sampler = None
        if bc_data is not None and config.bc_coef > 0:
            from imitlab.data.reader import load_dataset
            from imitlab.data.sampler import ChunkSampler

            self.bc_sampler = ChunkSampler(load_dataset(bc_data), 1, 1)

    def bc_loss(self, generator: torch.Generator) -> torch.Tensor:
        """BC regulariser: the actor's BC loss on demonstration frames (0 when off)."""
        if self.bc_sampler is None:
            return torch.zeros(())
        return (
            self.config.bc_coef
            * self.policy.compute_loss(self.bc_sampler.sample(self.config.bc_batch_size, generator))[0]
        )

    def update(self, batch: Batch, progress: float, generator: torch.Generator) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _register_builtin_algos() -> None:
    import imitlab.rl  # noqa: F401  (its modules register the built-in algorithms)


ALGOS: Registry[type[Algorithm]] = Registry("algorithm", load=_register_builtin_algos)
register_algo = ALGOS.register
get_algo = ALGOS.get


def _set_obs_normalizer(policy: ActorCriticPolicy, rms: RunningMeanStd) -> None:
    policy.obs_normalizer.shift.copy_(torch.as_tensor(rms.mean, dtype=torch.float32))
    policy.obs_normalizer.scale.copy_(torch.as_tensor(np.sqrt(rms.var + 1e-8), dtype=torch.float32))


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
    state_path = out_dir / TRAIN_STATE_FILE
    resuming = resume and state_path.is_file()
    if resuming:
        saved = read_run_config(out_dir)
        algo, env, seed, steps = saved["algo"], saved["env"], saved["seed"], saved["total_steps"]
        fields = saved["rl_config"]
        init_from = Path(saved["init_from"]) if saved.get("init_from") else None
    cls = get_algo(algo)
    spec = get_env_spec(env)
    if not resuming:
        fields = {
            **cls.env_defaults.get(env, {}),
            **(cls.init_defaults if init_from is not None else {}),
            **(overrides or {}),
        }
    config = cls.config_class(**fields)
    if init_from is not None and config.normalize_obs:
        raise ValueError("--init-from keeps the bc run's observation normalisation: set normalize_obs=false")

    torch.manual_seed(seed)  # initial weights depend on the seed only
    bc_data = None
    if init_from is not None:
        init_config = read_run_config(init_from)
        if init_config.get("env") not in (None, env):
            raise ValueError(f"{init_from} was trained on {init_config.get('env')!r}, not {env!r}")
        policy = actor_from_bc(init_from, config, spec)
        bc_data = Path(init_config["data"]) if init_config.get("data") else None
    else:
        policy = make_actor(spec, config)
    learner = cls(policy, config, bc_data)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)  # training episode seeds, in [0, EVAL_OFFSET): never an evaluation seed
    rms = RunningMeanStd(policy.config.obs_dim)
    iteration, env_steps, next_eval = 0, 0, 0
    meta = {
        "env": env,
        "algo": algo,
        "seed": seed,
        "total_steps": steps,
        "rl_config": dataclasses.asdict(config),
        "init_from": str(Path(init_from).resolve()) if init_from else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if resuming:
        state = torch.load(state_path, weights_only=False)
        policy.load_state_dict(state["policy"])
        learner.load_state_dict(state["learner"])
        generator.set_state(state["generator"])
        rng.bit_generator.state = state["rng"]
        rms.load_state_dict(state["rms"])
        torch.set_rng_state(state["torch_rng"])
        iteration, env_steps, next_eval = state["iteration"], state["env_steps"], state["next_eval"]
        _truncate_metrics(out_dir / METRICS_FILE, env_steps)
    else:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)

    vec_env = spec.make_vector(config.num_envs)
    bar = tqdm(total=steps, initial=env_steps, desc=f"{algo} {env}", disable=not progress, unit="step")
    started, eval_seconds = time.perf_counter(), 0.0
    while env_steps < steps:
        record: dict[str, Any] = {}
        if env_steps >= next_eval:  # evaluate the policy as it is before this iteration's update
            eval_started = time.perf_counter()
            result = evaluate(policy, env, config.eval_episodes, seed)
            eval_seconds += time.perf_counter() - eval_started
            record.update(eval_return=result.mean_return, eval_success=result.success_rate)
            next_eval += config.eval_every
        policy.eval()
        seeds = rng.integers(0, EVAL_OFFSET, size=config.num_envs)
        batch = collect(policy, vec_env, seeds, spec.max_steps, generator)
        metrics = learner.update(batch, env_steps / steps, generator)
        if config.normalize_obs:  # new statistics act from the next batch on (this one's log-probs stay valid)
            rms.update(batch.rollout.obs[batch.alive])
            _set_obs_normalizer(policy, rms)
        iteration += 1
        env_steps += batch.steps
        bar.update(batch.steps)
        record = {
            "step": env_steps,
            "iteration": iteration,
            "eval_at": env_steps - batch.steps,
            **record,
            "train_return": float(batch.rollout.returns.mean()),
            "train_length": float(batch.rollout.lengths.mean()),
            "seconds": time.perf_counter() - started,
            "eval_seconds": eval_seconds,
            **metrics,
        }
        with open(out_dir / METRICS_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        bar.set_postfix(ret=f"{record['train_return']:.1f}")
        if iteration % config.save_every == 0 or env_steps >= steps:
            state = {
                "iteration": iteration,
                "env_steps": env_steps,
                "next_eval": next_eval,
                "policy": policy.state_dict(),
                "learner": learner.state_dict(),
                "generator": generator.get_state(),
                "rng": rng.bit_generator.state,
                "rms": rms.state_dict(),
                "torch_rng": torch.get_rng_state(),
            }
            atomic_write(state_path, partial(torch.save, state))
            save_policy(out_dir, policy, {**meta, "env_steps": env_steps})
    bar.close()
    vec_env.close()
    result = evaluate(policy.eval(), env, final_eval_episodes, seed)
    write_json(out_dir / EVAL_FILE, {"env_steps": env_steps, **result.to_dict()})
    records = read_metrics(out_dir)
    if not (records and records[-1].get("final")):  # a finished run that is resumed logs its final eval once
        with open(out_dir / METRICS_FILE, "a") as f:
            f.write(
                json.dumps(
                    {
                        "step": env_steps,
                        "iteration": iteration,
                        "eval_at": env_steps,
                        "final": True,
                        "eval_return": result.mean_return,
                        "eval_success": result.success_rate,
                    }
                )
                + "\n"
            )
    return policy, result


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of a run's metrics.jsonl."""
    path = Path(run_dir) / METRICS_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def steps_to_target(run_dir: Path, target: float) -> int | None:
    """Environment steps after which the periodic evaluation first reached mean return >= ``target``."""
    for record in read_metrics(run_dir):
        if record.get("eval_return", -np.inf) >= target:
            return int(record["eval_at"])
    return None
