"""`imitlab import --format imitation-npz`: trajectories saved by imitation's ``types.save``."""

from __future__ import annotations

import numpy as np
import pytest

from imitlab.data.importers import import_dataset
from imitlab.data.layout import DatasetError
from imitlab.data.reader import load_dataset

LENGTHS = (3, 5, 2)  # actions per trajectory


def save_like_imitation(path, lengths=LENGTHS, rews=True):
    """What imitation's ``types.save`` writes: obs with one final observation per trajectory, acts, indices of the
    splits in acts, terminal, object infos. Observation row k of trajectory i holds [i, k]."""
    obs = np.concatenate([np.array([[i, k] for k in range(n + 1)], dtype=np.float32) for i, n in enumerate(lengths)])
    acts = np.concatenate(
        [np.full((n, 1), 10.0 * i, dtype=np.float32) + np.arange(n)[:, None] for i, n in enumerate(lengths)]
    )
    arrays = {
        "obs": obs,
        "acts": acts,
        "indices": np.cumsum(lengths[:-1]),
        "terminal": np.ones(len(lengths), bool),
        "infos": np.array([{} for _ in range(sum(lengths))], dtype=object),
    }
    if rews:
        arrays["rews"] = np.ones(sum(lengths), dtype=np.float32)
    np.savez_compressed(path, **arrays)
    return path


def test_trajectories_split_at_indices_without_their_final_observations(tmp_path):
    source = save_like_imitation(tmp_path / "rollouts.npz")
    dataset = import_dataset(source, tmp_path / "out", format="imitation-npz", obs_keys=["obs"], action_key="acts")
    assert dataset.num_episodes == 3 and dataset.num_frames == sum(LENGTHS)
    for i, n in enumerate(LENGTHS):
        episode = dataset.episode(i)
        np.testing.assert_array_equal(episode.observation, [[i, k] for k in range(n)])  # final obs [i, n] dropped
        np.testing.assert_array_equal(episode.action[:, 0], 10.0 * i + np.arange(n))


def test_an_archive_that_is_not_imitations_names_what_is_missing_or_inconsistent(tmp_path):
    np.savez(tmp_path / "other.npz", observations=np.zeros((3, 2)))
    with pytest.raises(DatasetError, match="lacks acts, indices, obs"):
        import_dataset(
            tmp_path / "other.npz", tmp_path / "a", format="imitation-npz", obs_keys=["obs"], action_key="acts"
        )
    np.savez(tmp_path / "short.npz", obs=np.zeros((5, 2)), acts=np.zeros((4, 1)), indices=np.array([2]))
    with pytest.raises(DatasetError, match="obs has 5 rows, but 4 actions in 2 trajectories need 6"):
        import_dataset(
            tmp_path / "short.npz", tmp_path / "b", format="imitation-npz", obs_keys=["obs"], action_key="acts"
        )
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DatasetError, match="is not an npz archive"):
        import_dataset(
            tmp_path / "text.npz", tmp_path / "c", format="imitation-npz", obs_keys=["obs"], action_key="acts"
        )


def test_cli_defaults_to_imitations_keys(tmp_path, capsys):
    from imitlab.cli import main

    source = save_like_imitation(tmp_path / "rollouts.npz", rews=False)
    main(["import", str(source), "--out", str(tmp_path / "out"), "--format", "imitation-npz"])
    assert "imported 3 episodes, 10 frames (obs_dim 2, act_dim 1)" in capsys.readouterr().out
    assert load_dataset(tmp_path / "out").num_frames == 10
