"""DAgger with a camera policy on two-path-pixels: the mixture shows each step's frames to the learner and the
expert, the expert's labels are aggregated with the frames of the states they label, and the dataset on disk keeps
its camera."""

from __future__ import annotations

import numpy as np
import pytest

from imitlab.core.seeds import collection_seeds
from imitlab.data.reader import load_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import rollout
from imitlab.envs.two_path_pixels import CAMERA, IMAGE_SIZE
from imitlab.remedies.dagger import collect_round, expert_continuations, run_dagger
from imitlab.training.checkpoint import load_policy

ENV = "two-path-pixels"
TINY_CAMERA_BC = {
    "hidden_dim": 16,
    "vision": {"backbone": "small", "crop_shape": None, "num_keypoints": 4, "feature_dim": 8},
}
TINY = {"steps": 3, "batch_size": 8, "log_every": 3, "save_every": 3}


@pytest.fixture(scope="module")
def pixel_dagger(tmp_path_factory):
    """One DAgger round of a tiny camera bc on two-path-pixels: (out, results)."""
    out = tmp_path_factory.mktemp("pixel-dagger")
    results = run_dagger(
        ENV,
        "bc",
        out,
        init_demos=1,
        rounds=1,
        episodes_per_round=1,
        eval_episodes=2,
        policy_overrides=TINY_CAMERA_BC,
        train_overrides=TINY,
        progress=False,
    )
    return out, results


def expert_labels(episode_frames: np.ndarray, goal: np.ndarray, seed: int) -> np.ndarray:
    """(T, 2) the pixel expert's actions, episode ``seed``, at the states shown by ``episode_frames`` (T, H, W, 3)."""
    expert = get_env_spec(ENV).make_expert()
    expert.reset(np.array([seed]))
    actions = []
    for frame, obs in zip(episode_frames, goal):
        expert.observe_images({CAMERA: frame[None]})
        actions.append(expert.act(obs[None])[0])
    return np.stack(actions)


def test_a_dagger_round_on_pixels_appends_episodes_with_their_frames_to_the_dataset(pixel_dagger):
    out, results = pixel_dagger
    assert [r.episodes for r in results] == [1, 2]
    data = load_dataset(out / "data")
    assert data.camera_keys == [CAMERA] and data.info["features"][CAMERA]["dtype"] == "video"
    appended = data.episode(1)
    assert appended.images[CAMERA].shape == (len(appended), IMAGE_SIZE, IMAGE_SIZE, 3)
    assert results[-1].expert_labels == data.num_frames


def test_the_appended_episode_is_the_rounds_expert_labelled_rollout_frames_included(pixel_dagger):
    out, _ = pixel_dagger
    # round 1 again, in memory: its seeds and mixture seed as run_dagger draws them (deterministic)
    seeds = collection_seeds(0, 1_000 + 1)[1_000:]
    (episode,) = collect_round(get_env_spec(ENV), load_policy(out / "round-0"), 0.5, seeds, seed=1)
    stored = load_dataset(out / "data").episode(1)
    np.testing.assert_array_equal(stored.action, episode.action)
    np.testing.assert_array_equal(stored.observation, episode.observation)
    # the frames went through the dataset's lossy video: close to the rendered ones, not equal
    error = np.abs(stored.images[CAMERA].astype(np.int16) - episode.images[CAMERA].astype(np.int16))
    assert error.mean() < 3


def test_the_labels_are_the_pixel_experts_actions_at_the_frames_the_learner_visited(pixel_dagger):
    out, _ = pixel_dagger
    seeds = collection_seeds(0, 2)
    # beta 0: the learner acts every step (from the frames it is shown), the expert only labels
    episodes = collect_round(get_env_spec(ENV), load_policy(out / "round-0"), 0.0, seeds, seed=0)
    for seed, episode in zip(seeds, episodes):
        frames = episode.images[CAMERA]
        assert frames.shape == (len(episode), IMAGE_SIZE, IMAGE_SIZE, 3)
        np.testing.assert_array_equal(episode.action, expert_labels(frames, episode.observation, int(seed)))


def test_expert_continuations_on_pixels_record_the_frames_of_the_states_they_start_from():
    spec = get_env_spec(ENV)
    seeds = collection_seeds(0, 2)
    run = rollout(spec.make_vector(2), spec.make_expert(), seeds, 30, record_state=True, record_images=True)
    episodes = expert_continuations(spec, run.state[:, 10], seeds, horizon=8)
    for i, episode in enumerate(episodes):
        np.testing.assert_array_equal(episode.images[CAMERA], run.images[CAMERA][i, 10:18])
        np.testing.assert_allclose(episode.action, run.action[i, 10:18], atol=1e-5)
