"""Evaluate a policy with vectorised rollouts on seeds disjoint from the demonstrations': success rate with its
Wilson 95% interval, return mean and std, episode length and policy latency."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from imitlab.core.seeds import evaluation_seeds
from imitlab.envs.registry import EnvSpec, get_env_spec
from imitlab.envs.rollout import Rollout, run_episodes
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.evaluation.metrics import mean_squared_jerk
from imitlab.evaluation.stats import wilson_interval
from imitlab.policies.base import Policy


@dataclass
class EvalResult:
    env: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    std_return: float
    mean_length: float
    step_latency_ms: float  # mean wall-clock per executed step for the whole batch of envs
    chunk_latency_ms: float  # mean wall-clock per predict_chunk call for the whole batch of envs
    action_jerk: float  # mean squared jerk of the executed actions (metrics.mean_squared_jerk): lower is smoother
    seeds: list[int] = field(repr=False)
    episode_success: list[bool] = field(repr=False)
    episode_return: list[float] = field(repr=False)
    # multimodal envs: successful episodes per strategy (the env's ``mode_of``), e.g. {"-1": 48, "1": 47}
    success_modes: dict[str, int] = field(default_factory=dict)
    # envs with a graded metric (EnvSpec.episode_score, e.g. PushT's max coverage reward): its mean and values
    mean_score: float | None = None
    episode_score: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return asdict(self)


def success_modes(env: str, result: Rollout) -> dict[str, int]:
    """Count the successful episodes per strategy, for envs whose spec says how to tell them apart."""
    mode_of = get_env_spec(env).mode_of
    if mode_of is None:
        return {}
    modes = [mode_of(result.episode(int(i))) for i in np.flatnonzero(result.episode_success)]
    return {str(m): modes.count(m) for m in sorted(set(modes))}


def modes_need_images(spec: EnvSpec) -> bool:
    """Whether telling an episode's strategy apart takes its camera frames (a multimodal env seen by cameras)."""
    return spec.mode_of is not None and bool(spec.cameras)


def episode_scores(env: str, result: Rollout) -> dict:
    """``mean_score`` and ``episode_score`` for envs whose spec scores an episode from its rewards, else {}."""
    score = get_env_spec(env).episode_score
    if score is None:
        return {}
    values = [score(result.episode(i)["reward"]) for i in range(len(result.seeds))]
    return {"mean_score": float(np.mean(values)), "episode_score": [float(v) for v in values]}


def eval_seeds(env: str, seed: int, episodes: int) -> np.ndarray:
    """The env's evaluation reset seeds: its published protocol's where it has one, else ours."""
    return (get_env_spec(env).eval_seeds or evaluation_seeds)(seed, episodes)


def summarize(env: str, result: Rollout, chunk_seconds: float = 0.0, chunk_calls: int = 0) -> EvalResult:
    success = result.episode_success
    returns = result.returns
    low, high = wilson_interval(int(success.sum()), len(success))
    return EvalResult(
        env=env,
        episodes=len(success),
        successes=int(success.sum()),
        success_rate=float(success.mean()),
        ci_low=low,
        ci_high=high,
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        mean_length=float(result.lengths.mean()),
        step_latency_ms=1000 * result.act_seconds / max(1, result.act_calls),
        chunk_latency_ms=1000 * chunk_seconds / max(1, chunk_calls),
        action_jerk=mean_squared_jerk(result.action, result.alive),
        seeds=[int(s) for s in result.seeds],
        episode_success=[bool(s) for s in success],
        episode_return=[float(r) for r in returns],
        success_modes=success_modes(env, result),
        **episode_scores(env, result),
    )


def evaluate(
    policy: Policy,
    env: str,
    episodes: int = 100,
    seed: int = 0,
    n_action_steps: int | None = None,
    temporal_ensemble: float | None = None,
    target_return: float | None = None,
    task: str | None = None,
) -> EvalResult:
    """Roll out ``policy`` for ``episodes`` episodes at once (one batched policy call per step);
    ``target_return`` prompts a return-conditioned policy (dt); ``task`` tells a multi-task policy which of its
    tasks ``env`` is (default: the env's task string, its description, as ``imitlab collect`` records it)."""
    spec = get_env_spec(env)
    if policy.tasks and task is None:
        task = spec.description
    executor = ChunkExecutor(
        policy,
        n_action_steps=n_action_steps,
        temporal_ensemble=temporal_ensemble,
        target_return=target_return,
        task=task,
    )
    with torch.inference_mode():
        result = run_episodes(spec, executor, eval_seeds(env, seed, episodes), record_images=modes_need_images(spec))
    return summarize(env, result, executor.chunk_seconds, executor.chunk_calls)


def evaluate_expert(env: str, episodes: int = 100, seed: int = 0) -> EvalResult:
    """The scripted expert on the evaluation seeds: the ceiling every policy is measured against."""
    spec = get_env_spec(env)
    result = run_episodes(
        spec, spec.make_expert(), eval_seeds(env, seed, episodes), record_images=modes_need_images(spec)
    )
    return summarize(env, result)
