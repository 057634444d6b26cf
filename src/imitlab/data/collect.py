"""Record scripted-expert demonstrations (optionally noisy, see ``noisy_expert``; with the env's cameras) into a
LeRobot-layout dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imitlab.core.seeds import collection_seeds
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.noisy_expert import Noise, noisy_expert_episodes
from imitlab.data.writer import write_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import run_episodes


def collect(
    env: str,
    episodes: int,
    out: Path,
    seed: int = 0,
    overwrite: bool = False,
    noise: Noise | Sequence[Noise] = Noise(),
    label: str = "executed",
) -> EpisodeDataset:
    """Run the env's expert for ``episodes`` episodes (collection seeds of ``seed``) and write them to ``out``,
    with every camera of the env (``EnvSpec.cameras``) recorded as ``Episode.images``. With ``noise`` (one level, or a list cycled over the episodes) the executed action is perturbed; ``label`` says
    whether the executed or the expert's clean action is recorded (see ``noisy_expert``)."""
    spec = get_env_spec(env)
    seeds = collection_seeds(seed, episodes)
    levels = [noise] if isinstance(noise, Noise) else list(noise)
    if all(level.is_zero for level in levels) and label == "executed":
        result = run_episodes(spec, spec.make_expert(), seeds, record_images=bool(spec.cameras))
        recorded = [Episode(**result.episode(i)) for i in range(episodes)]
    else:
        recorded = noisy_expert_episodes(spec, seeds, noise, label, seed)
    return write_dataset(
        Path(out),
        recorded,
        fps=spec.fps,
        task=spec.description,
        obs_names=spec.obs_names,
        action_names=spec.action_names,
        robot_type=spec.name,
        overwrite=overwrite,
    )
