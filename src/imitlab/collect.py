"""Record scripted-expert demonstrations into a LeRobot-layout dataset."""

from __future__ import annotations

from pathlib import Path


from imitlab.data.dataset import Episode, EpisodeDataset, write_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.rollout import rollout
from imitlab.seeds import collection_seeds


def collect(env: str, episodes: int, out: Path, seed: int = 0, overwrite: bool = False) -> EpisodeDataset:
    """Run the env's expert for ``episodes`` episodes (collection seeds of ``seed``) and write them to ``out``."""
    spec = get_env_spec(env)
    vec_env = spec.make_vector(episodes)
    result = rollout(vec_env, spec.make_expert(), collection_seeds(seed, episodes), spec.max_steps)
    vec_env.close()
    recorded = [Episode(**result.episode(i)) for i in range(episodes)]
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
