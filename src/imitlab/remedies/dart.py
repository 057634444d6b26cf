"""DART (Laskey et al. 2017, "DART: Noise Injection for Robust Imitation Learning"): demonstrations in which
Gaussian noise is added to the action the expert *executes* while the expert's *clean* action is recorded as
the label, so the data shows how the expert recovers from small errors. Off-policy: the learner is never
executed, and DART spends exactly as many expert labels as plain BC with the same number of demonstrations.

The noise level is either given (``noise_std``) or set by the paper's iterative rule: the demonstration budget
is collected in ``rounds`` batches; before batch k >= 1 a policy is trained on the data so far minus a held-out
part, and the noise covariance is set to the covariance of that policy's error on the held-out states,

    Sigma_{k} = scale * E[(pi_theta(x) - pi*(x)) (pi_theta(x) - pi*(x))^T]          (DART, Sec. 5)

(the noise that makes the supervisor's state distribution match the learner's; we inject it isotropically,
``std = sqrt(scale * trace(Sigma) / act_dim)``; ``scale`` > 1 over-approximates the learner's error). Batch 0 is
collected without noise.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.core.io import read_json_object, write_json
from imitlab.core.seeds import collection_seeds
from imitlab.data.model import EpisodeDataset
from imitlab.data.noisy_expert import Noise, noisy_expert_episodes
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
from imitlab.data.writer import append_episodes, write_dataset, write_like
from imitlab.envs.registry import get_env_spec
from imitlab.policies.base import Policy, sample_chunks
from imitlab.training.train import train_policy


@dataclass(frozen=True)
class DartConfig:
    noise_std: float | None = None  # executed-action noise std in env action units; None: the iterative rule
    rounds: int = 2  # batches the demonstration budget is split into (iterative rule only)
    scale: float = 1.0  # multiplies the estimated error covariance (the paper's alpha-style knob)
    holdout: float = 0.2  # fraction of the episodes so far held out to measure the learner's error

    def __post_init__(self) -> None:
        if self.noise_std is not None and not self.noise_std >= 0:
            raise InvalidInputError(f"dart noise_std must be >= 0 (or None to estimate it), got {self.noise_std}")
        if self.rounds < 1:
            raise InvalidInputError(f"dart rounds must be >= 1, got {self.rounds}")
        if not self.scale > 0:
            raise InvalidInputError(f"dart scale must be > 0, got {self.scale}")
        if not 0 < self.holdout < 1:
            raise InvalidInputError(f"dart holdout must be in (0, 1), got {self.holdout}")


def learner_error_std(policy: Policy, dataset: EpisodeDataset, scale: float = 1.0) -> float:
    """Isotropic noise std matching ``policy``'s error on ``dataset``: sqrt(scale * mean squared error per action
    dimension) between the policy's first predicted action and the recorded (expert) action at every frame."""
    sampler = ChunkSampler(dataset, policy.config.n_obs_steps, 1)
    batch = sampler.get(np.arange(len(sampler)))
    predicted = sample_chunks(policy, policy.observation(batch))[:, 0]
    error = predicted.double() - batch[keys.ACTION][:, 0].double()  # (N, act_dim)
    return float(math.sqrt(scale * (error**2).mean().item()))


def collect_dart(
    env: str,
    demos: int,
    out: Path,
    config: DartConfig = DartConfig(),
    policy: str = "bc",
    seed: int = 0,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> list[float]:
    """Write ``demos`` DART demonstrations (collection seeds of ``seed``, as plain ``collect`` would use) to
    ``out/data`` and return the noise std of each batch. With ``config.noise_std`` set, one batch at that noise;
    otherwise ``config.rounds`` batches, the noise of batch k >= 1 estimated with ``policy`` (trained into
    ``out/estimate-k``). Finished collections (``out/dart.json``) are reused; an unfinished one is redone."""
    out = Path(out)
    record = out / "dart.json"
    if record.is_file():
        return read_json_object(record, "a finished DART collection")["noise_std"]
    spec = get_env_spec(env)
    data = out / "data"
    shutil.rmtree(data, ignore_errors=True)
    rounds = 1 if config.noise_std is not None else min(config.rounds, demos)
    batches = np.array_split(collection_seeds(seed, demos), rounds)
    stds: list[float] = []
    for k, seeds in enumerate(batches):
        if config.noise_std is not None:
            std = config.noise_std
        elif k == 0:
            std = 0.0
        else:
            std = _estimate_noise(policy, data, out / f"estimate-{k}", config, seed, policy_overrides, train_overrides)
        stds.append(std)
        episodes = noisy_expert_episodes(spec, seeds, Noise(std=std), label="expert", seed=seed * 1_000 + k)
        if k == 0:
            write_dataset(
                data,
                episodes,
                fps=spec.fps,
                task=spec.description,
                obs_names=spec.obs_names,
                action_names=spec.action_names,
                robot_type=spec.name,
            )
        else:
            append_episodes(data, episodes)
    write_json(record, {"noise_std": stds, "config": asdict(config), "demos": demos, "seed": seed})
    return stds


def _estimate_noise(policy, data, run_dir, config, seed, policy_overrides, train_overrides) -> float:
    """Train on the data so far minus its last ``holdout`` episodes; the learner's error on those gives the noise."""
    dataset = load_dataset(data)
    held = max(1, math.ceil(config.holdout * dataset.num_episodes))
    if held >= dataset.num_episodes:
        raise InvalidInputError(
            f"dart needs at least 2 episodes before estimating the noise, got {dataset.num_episodes} "
            f"in {data}: use more demos or fewer rounds"
        )
    keep = dataset.num_episodes - held
    train_dir, held_dir = Path(run_dir) / "train-data", Path(run_dir) / "held-out"
    for target, indices in ((train_dir, range(keep)), (held_dir, range(keep, dataset.num_episodes))):
        write_like(dataset, target, [dataset.episode(i) for i in indices], overwrite=True)
    trained = train_policy(
        policy,
        train_dir,
        Path(run_dir) / "run",
        policy_overrides,
        {**(train_overrides or {}), "seed": seed},
        progress=False,
    )
    return learner_error_std(trained, load_dataset(held_dir), config.scale)
