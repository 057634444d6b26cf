"""Record scripted-expert demonstrations (optionally noisy, see ``noisy_expert``; with the env's cameras) into a
LeRobot-layout dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from imitlab.core.errors import InvalidInputError
from imitlab.core.seeds import collection_seeds
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.noisy_expert import Noise, noisy_expert_episodes
from imitlab.data.writer import write_dataset
from imitlab.envs.registry import EnvSpec, expand_envs, get_env_spec
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
    with every camera of the env (``EnvSpec.cameras``) recorded as ``Episode.images``. With ``noise`` (one level,
    or a list cycled over the episodes) the executed action is perturbed; ``label`` says whether the executed or
    the expert's clean action is recorded (see ``noisy_expert``).

    ``env`` may name several envs (an env set such as ``metaworld/MT10``, or names separated by commas): then
    each gets ``episodes`` episodes and the dataset is multi-task, each episode's task the string of its env (its
    description), which a policy trained on it conditions on."""
    names = expand_envs(env)
    specs = [get_env_spec(name) for name in names]
    _check_alike(specs)
    recorded: list[Episode] = []
    tasks: list[str] = []
    for spec in tqdm(specs, desc="collect", unit="env", disable=len(specs) == 1):
        recorded += _record(spec, episodes, seed, noise, label)
        tasks += [spec.description] * episodes
    first = specs[0]
    return write_dataset(
        Path(out),
        recorded,
        fps=first.fps,
        task=tasks,
        obs_names=first.obs_names,
        action_names=first.action_names,
        robot_type=first.name if len(specs) == 1 else env,
        overwrite=overwrite,
    )


def _record(spec: EnvSpec, episodes: int, seed: int, noise: Noise | Sequence[Noise], label: str) -> list[Episode]:
    seeds = collection_seeds(seed, episodes)
    levels = [noise] if isinstance(noise, Noise) else list(noise)
    if all(level.is_zero for level in levels) and label == "executed":
        result = run_episodes(spec, spec.make_expert(), seeds, record_images=bool(spec.cameras))
        return [Episode(**result.episode(i)) for i in range(episodes)]
    return noisy_expert_episodes(spec, seeds, noise, label, seed)


def _check_alike(specs: list[EnvSpec]) -> None:
    """Envs pooled into one dataset share its features: state and action names, cameras and fps."""

    def features(spec: EnvSpec) -> dict[str, object]:
        return {
            "state": tuple(spec.obs_names),
            "actions": tuple(spec.action_names),
            "cameras": dict(spec.cameras),
            "fps": spec.fps,
        }

    first = features(specs[0])
    for spec in specs[1:]:
        differ = [what for what, value in features(spec).items() if value != first[what]]
        if differ:
            raise InvalidInputError(
                f"{spec.name} and {specs[0].name} differ in {', '.join(differ)}: the envs of one dataset must share "
                "their state, actions, cameras and fps"
            )
