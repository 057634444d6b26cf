"""DAgger (Ross, Gordon & Bagnell 2011): roll out a mixture of expert and learner, label every visited state
with the expert, aggregate, retrain. Works for every registered policy:

- single-step policies (horizon 1): each visited trajectory becomes one episode whose actions are the expert's
  labels at the states the mixture visited;
- chunked policies (horizon H > 1): a chunk label is the expert's own H-step continuation, so from each state
  where the learner re-plans (every ``n_action_steps``) a copy of the env is rolled forward by the expert and
  stored as a short episode of at most H steps.

Envs with cameras (``EnvSpec.cameras``): the mixture shows each step's frames to the learner and the expert when
they look at them (``observe_images``), and every aggregated episode, single-step or continuation, records the
frames of the states it visits (``Episode.images``), so the dataset keeps its camera features.

Round 0 trains on ``init_demos`` expert demonstrations; round i >= 1 first collects with
beta_i = schedule(i), appends to the dataset on disk (atomically), then retrains. Each round's policy is
evaluated on the same evaluation seeds. Rerunning with the same ``out`` resumes after the last finished round.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from imitlab.core.appendlog import append_record, complete_text
from imitlab.core.errors import InvalidInputError
from imitlab.core.io import read_json_object, write_json
from imitlab.core.locks import one_writer
from imitlab.core.seeds import collection_seeds
from imitlab.data.collect import collect
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.reader import load_dataset
from imitlab.data.writer import append_episodes
from imitlab.envs.agents import Agent, observe_images, wants_images
from imitlab.envs.registry import CameraEnv, EnvSpec, get_env_spec, require_state
from imitlab.envs.rollout import Rollout, run_episodes
from imitlab.evaluation.evaluate import EvalResult, evaluate
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.policies.base import Policy
from imitlab.training.checkpoint import load_policy
from imitlab.training.train import train_policy

BETA_SCHEDULES = ("constant", "linear", "exponential")


def beta(schedule: str, round_index: int, rounds: int, base: float = 0.5) -> float:
    """Probability of executing the expert's action in round ``round_index`` >= 1 of ``rounds``:
    constant ``base``; linear ``1 - i / rounds`` (expert-only data is round 0); exponential ``base ** i``."""
    if schedule == "constant":
        return base
    if schedule == "linear":
        return 1.0 - round_index / rounds
    if schedule == "exponential":
        return base**round_index
    raise InvalidInputError(f"beta schedule must be one of {BETA_SCHEDULES}, got {schedule!r}")


class MixtureAgent:
    """Executes the expert's action with probability beta (per env and step), else the learner's; records the
    expert's action at every visited observation in ``labels``. When the learner or the expert looks at camera
    images, the mixture does too and hands each step's frames to whichever of them looks."""

    def __init__(self, learner: Agent, expert: Agent, beta: float, seed: int):
        self.learner, self.expert, self.beta = learner, expert, beta
        self.rng = np.random.default_rng(seed)
        self.labels: list[np.ndarray] = []
        if wants_images(learner) or wants_images(expert):  # only then the rollout renders for this agent
            self.observe_images = self._observe_images

    def _observe_images(self, images: dict[str, np.ndarray]) -> None:
        """This step's frames, camera key -> (N, H, W, 3) uint8, for the learner and the expert."""
        observe_images(self.learner, images)
        observe_images(self.expert, images)

    def reset(self, seeds: np.ndarray) -> None:
        self.learner.reset(seeds)
        self.expert.reset(seeds)
        self.labels = []

    def act(self, obs: np.ndarray) -> np.ndarray:
        expert_action = np.asarray(self.expert.act(obs), dtype=np.float32)
        learner_action = self.learner.act(obs)  # called every step so its history and chunk queue stay in step
        self.labels.append(expert_action)
        use_expert = self.rng.random(len(obs)) < self.beta
        return np.where(use_expert[:, None], expert_action, learner_action)


def expert_continuations(spec: EnvSpec, states: np.ndarray, seeds: np.ndarray, horizon: int) -> list[Episode]:
    """From each env state (M, state_dim), let the expert act for up to ``horizon`` steps on a copy of the env:
    one episode per state, holding the expert's chunk label for the state it starts from. An env with cameras
    renders them before each step: the expert sees the frames if it looks, and the episodes record them."""
    env = spec.make_vector(len(states))
    env.reset(seed=[int(s) for s in seeds])
    obs = require_state(env, spec.name).set_state(states)
    cameras = env if spec.cameras and isinstance(env, CameraEnv) else None
    expert = spec.make_expert()
    expert.reset(seeds)
    log: dict[str, list[np.ndarray]] = {"observation": [], "action": [], "reward": [], "success": [], "alive": []}
    frames: list[dict[str, np.ndarray]] = []  # per step: camera key -> (M, H, W, 3) uint8
    alive = np.ones(len(states), dtype=bool)
    for _ in range(horizon):
        if cameras is not None:
            frames.append(cameras.render_cameras())
            observe_images(expert, frames[-1])
        action = np.asarray(expert.act(obs), dtype=np.float32)
        next_obs, reward, terminated, truncated, info = env.step(action)
        for key, value in (
            ("observation", obs),
            ("action", action),
            ("reward", reward),
            ("success", info["success"]),
            ("alive", alive.copy()),
        ):
            log[key].append(np.asarray(value))
        alive &= ~(np.asarray(terminated) | np.asarray(truncated))
        obs = next_obs
    env.close()
    arrays = {key: np.stack(values, axis=1) for key, values in log.items()}  # (M, horizon, ...)
    images = {key: np.stack([step[key] for step in frames], axis=1) for key in frames[0]} if frames else {}
    lengths = arrays["alive"].sum(axis=1)  # (M,)
    return [
        Episode(
            observation=arrays["observation"][i, :n],
            action=arrays["action"][i, :n],
            reward=arrays["reward"][i, :n],
            success=arrays["success"][i, :n],
            images={key: video[i, :n] for key, video in images.items()},
        )
        for i, n in enumerate(lengths.tolist())
    ]


def collect_round(spec: EnvSpec, policy: Policy, beta_value: float, seeds: np.ndarray, seed: int) -> list[Episode]:
    """Roll out the beta-mixture on ``seeds`` and return the expert-labelled episodes to aggregate (with the env's
    camera frames, ``EnvSpec.cameras``, as the dataset holds them)."""
    config = policy.config
    agent = MixtureAgent(ChunkExecutor(policy), spec.make_expert(), beta_value, seed)
    single_step = config.horizon == 1  # else the labels are expert continuations, which record their own frames
    with torch.inference_mode():
        result: Rollout = run_episodes(
            spec, agent, seeds, record_state=not single_step, record_images=single_step and bool(spec.cameras)
        )
    labels = np.stack(agent.labels, axis=1)
    if single_step:
        return [
            Episode(**{**ep, "action": labels[i, : len(ep["action"])]})
            for i, ep in ((i, result.episode(i)) for i in range(len(seeds)))
        ]
    replan = np.zeros(result.alive.shape, dtype=bool)
    replan[:, :: config.n_action_steps] = True
    episode_index, step = np.nonzero(replan & result.alive)
    assert result.state is not None  # recorded: record_state is on for chunked policies
    return expert_continuations(spec, result.state[episode_index, step], seeds[episode_index], config.horizon)


@dataclass
class RoundResult:
    round: int
    beta: float  # the mixture that collected this round's data (1.0: the initial expert demonstrations)
    episodes: int  # episodes in the aggregated dataset it was trained on
    expert_labels: int  # frames in that dataset: every one is an expert label
    successes: int
    evaluated: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    episode_success: list[bool]


def run_dagger(
    env: str,
    policy: str,
    out: Path,
    init_demos: int = 10,
    rounds: int = 5,
    episodes_per_round: int = 10,
    beta_schedule: str = "exponential",
    warm_start: bool = False,
    seed: int = 0,
    eval_episodes: int = 100,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> list[RoundResult]:
    """DAgger on ``env`` with ``policy``; writes ``out/data`` (the aggregated dataset), ``out/round-i`` (each
    round's run) and ``out/rounds.jsonl`` (one RoundResult per line). Resumes after the last finished round. One
    process runs DAgger in ``out`` at a time (a second one gets a ``LockedError``)."""
    with one_writer(Path(out), "a DAgger run"):
        spec = get_env_spec(env)
        beta(beta_schedule, 1, rounds)  # fail early on a bad schedule
        out = Path(out)
        data = out / "data"
        log_path = out / "rounds.jsonl"
        results = [RoundResult(**json.loads(line)) for line in complete_text(log_path).splitlines()]
        if not data.exists():
            collect(env, init_demos, data, seed=seed)
        train_overrides = {**(train_overrides or {}), "seed": seed}
        for i in tqdm(range(len(results), rounds + 1), desc=f"dagger {policy}", disable=not progress, unit="round"):
            beta_value = 1.0 if i == 0 else beta(beta_schedule, i, rounds)
            if i > 0:
                _aggregate(spec, data, out, i, beta_value, episodes_per_round, seed)
            run_dir = out / f"round-{i}"
            init_from = out / f"round-{i - 1}" if warm_start and i > 0 else None
            trained = train_policy(
                policy, data, run_dir, policy_overrides, train_overrides, progress=False, init_from=init_from
            )
            result = evaluate(trained, env, eval_episodes, seed=seed)
            dataset = load_dataset(data)
            results.append(
                RoundResult(
                    round=i,
                    beta=beta_value,
                    episodes=dataset.num_episodes,
                    expert_labels=dataset.num_frames,
                    successes=result.successes,
                    evaluated=result.episodes,
                    success_rate=result.success_rate,
                    ci_low=result.ci_low,
                    ci_high=result.ci_high,
                    mean_return=result.mean_return,
                    episode_success=result.episode_success,
                )
            )
            append_record(log_path, json.dumps(asdict(results[-1])) + "\n")  # a round a kill cut short is redone
        return results


def equal_label_demos(env: str, expert_labels: int, out: Path, seed: int = 0) -> Path:
    """The fewest whole expert demonstrations (collection seeds of ``seed``) that hold at least ``expert_labels``
    frames, collected into ``out/baseline-data-{episodes}``. Episodes that end at success are shorter than the
    env's ``max_steps``, so the count is found by collecting more until enough: a longer collection of the same
    seed begins with the shorter one's episodes."""
    episodes = math.ceil(expert_labels / get_env_spec(env).max_steps)
    while True:
        data = Path(out) / f"baseline-data-{episodes}"
        if not data.exists():
            collect(env, episodes, data, seed=seed)
        held = np.cumsum(load_dataset(data).episode_lengths)
        if held[-1] >= expert_labels:
            fewest = int(np.searchsorted(held, expert_labels)) + 1
            if fewest == episodes:
                return data
            episodes = fewest  # the prefix of this collection that already holds enough
        else:
            episodes = max(episodes + 1, math.ceil(episodes * expert_labels / held[-1]))


def equal_label_baseline(
    env: str,
    policy: str,
    out: Path,
    expert_labels: int,
    seed: int = 0,
    eval_episodes: int = 100,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> tuple[EvalResult, EpisodeDataset]:
    """The control for DAgger: ``policy`` trained on plain expert demonstrations holding at least
    ``expert_labels`` labelled frames (``equal_label_demos``), evaluated on the same seeds as the rounds; the
    result and the demonstrations it trained on."""
    data = equal_label_demos(env, expert_labels, out, seed)
    demonstrations = load_dataset(data)
    trained = train_policy(
        policy,
        data,
        Path(out) / f"baseline-{demonstrations.num_episodes}",
        policy_overrides,
        {**(train_overrides or {}), "seed": seed},
        progress=False,
    )
    return evaluate(trained, env, eval_episodes, seed=seed), demonstrations


def _aggregate(spec: EnvSpec, data: Path, out: Path, i: int, beta_value: float, episodes: int, seed: int) -> None:
    """Collect round i with the previous round's policy and append it to the dataset exactly once. A marker
    written before the append records the expected episode count, so a run interrupted around the append
    resumes correctly: the collection is deterministic and is simply repeated if the append did not land."""
    marker = out / f"round-{i}" / "aggregated.json"
    if marker.is_file():
        expected = read_json_object(marker, "the marker of an aggregation round")
        if load_dataset(data).num_episodes == expected["episodes_before"] + expected["episodes_added"]:
            return
    previous = load_policy(out / f"round-{i - 1}")
    # round i's rollout seeds: a block of collection seeds of its own, past the initial demonstrations'
    first = 1_000 + episodes * (i - 1)
    seeds = collection_seeds(seed, first + episodes)[first:]
    labelled = collect_round(spec, previous, beta_value, seeds, seed=seed * 1_000 + i)
    before = load_dataset(data).num_episodes
    write_json(marker, {"beta": beta_value, "episodes_before": before, "episodes_added": len(labelled)})
    append_episodes(data, labelled)
