"""PushT on gym-pusht: the paper's seeding and placement, exact resets, open-loop replay, success and score."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from imitlab.envs import pusht
from imitlab.envs.pusht import SUCCESS_COVERAGE, episode_score, paper_initial_state, pusht_eval_seeds

PUSHT = Path(__file__).resolve().parents[3] / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def test_paper_initial_state_draws_randint_randint_randint_randint_randn_from_randomstate():
    rs = np.random.RandomState(100000)
    want = [
        rs.randint(50, 450),
        rs.randint(50, 450),
        rs.randint(100, 400),
        rs.randint(100, 400),
        rs.randn() * 2 * np.pi - np.pi,
    ]
    np.testing.assert_array_equal(paper_initial_state(100000), want)


def test_eval_seeds_are_the_papers_test_seeds_for_seed_zero():
    np.testing.assert_array_equal(pusht_eval_seeds(0, 50), np.arange(100000, 100050))
    assert pusht_eval_seeds(1, 3).tolist() == [200000, 200001, 200002]


def test_score_is_the_maximum_clipped_coverage_reward():
    assert episode_score(pusht.coverage_reward([0.1, 0.5, 0.3])) == pytest.approx(0.5 / SUCCESS_COVERAGE)
    assert episode_score(pusht.coverage_reward([0.2, 0.97])) == 1.0


needs_sim = pytest.mark.skipif(
    importlib.util.find_spec("gym_pusht") is None,
    reason="the pusht env needs the optional extra: pip install 'imitlab[pusht]'",
)


def rotate(v, angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@needs_sim
def test_seeded_reset_places_the_papers_state_in_the_legacy_order():
    env = pusht.PushTEnv()
    obs, _ = env.reset(seed=100000)
    drawn = paper_initial_state(100000)
    np.testing.assert_allclose(obs[:2], drawn[:2], atol=1e-3)
    assert obs[4] == pytest.approx(drawn[4] % (2 * np.pi), abs=1e-5)
    # legacy: position set at angle 0, then the block turns about its centre of gravity c
    cog = np.array(env.sim.block.center_of_gravity)
    np.testing.assert_allclose(obs[2:4], drawn[2:4] + cog - rotate(cog, drawn[4]), atol=1e-3)


@needs_sim
def test_exact_reset_puts_the_block_at_the_given_pose_where_gym_pushts_order_moves_it():
    state = np.array([100.0, 100.0, 300.0, 250.0, 1.0])
    env = pusht.PushTEnv()
    exact, _ = env.reset(options={"state": state})
    np.testing.assert_allclose(exact, state, atol=1e-3)
    legacy, _ = env.reset(options={"state": state, "legacy": True})
    assert np.linalg.norm(legacy[2:4] - state[2:4]) > 20  # the pitfall: the block is ~tens of pixels off


@needs_sim
@pytest.mark.skipif(not PUSHT.is_dir(), reason=f"PushT demonstrations not found at {PUSHT}")
def test_open_loop_replay_from_the_first_recorded_state_reproduces_the_human_block_trajectories():
    pytest.importorskip("zarr", reason="reading the demonstrations needs the optional extra 'zarr'")
    from imitlab.data.importers import READERS, read_episodes

    episodes = read_episodes(READERS["diffusion-policy-zarr"](PUSHT), ["state"], "action", range(4))
    exact = [np.abs(pusht.replay_episode(ep.observation, ep.action) - ep.observation)[:, 2:4].max() for ep in episodes]
    legacy = [
        np.abs(pusht.replay_episode(ep.observation, ep.action, legacy=True) - ep.observation)[:, 2:4].max()
        for ep in episodes
    ]
    assert max(exact) < 1e-2, exact  # pixels
    assert max(legacy) > 10, legacy


@pytest.mark.skipif(not PUSHT.is_dir(), reason=f"PushT demonstrations not found at {PUSHT}")
def test_block_keypoints_from_the_state_reproduce_the_recorded_keypoints():
    zarr = pytest.importorskip("zarr", reason="reading the demonstrations needs the optional extra 'zarr'")
    root = zarr.open_group(str(PUSHT), mode="r")
    state, recorded = root["data/state"][:], root["data/keypoint"][:]
    error = np.linalg.norm(pusht.block_keypoints(state) - recorded, axis=-1).max(axis=1)  # px, worst keypoint
    assert np.median(error) < 1e-2 and np.quantile(error, 0.999) < 1.0, np.quantile(error, [0.5, 0.999])
    obs = pusht.keypoint_observation(state[:3])
    np.testing.assert_allclose(obs[:, :18], recorded[:3].reshape(3, 18), atol=0.1)
    np.testing.assert_array_equal(obs[:, 18:], state[:3, :2])


def test_keypoint_observation_is_continuous_where_the_angle_wraps():
    just_below, just_above = [100.0, 100.0, 250.0, 250.0, 2 * np.pi - 1e-6], [100.0, 100.0, 250.0, 250.0, 1e-6]
    np.testing.assert_allclose(
        pusht.keypoint_observation(just_below), pusht.keypoint_observation(just_above), atol=1e-3
    )


@needs_sim
def test_keypoint_env_observes_the_keypoints_of_its_state():
    from imitlab.envs.registry import get_env_spec

    env = get_env_spec("pusht-keypoints").make_vector(2)
    obs, _ = env.reset(seed=[100000, 100001])
    assert obs.shape == (2, 20) and env.single_observation_space.shape == (20,)
    states = np.stack([e.state() for e in env.envs])
    np.testing.assert_allclose(obs, pusht.keypoint_observation(states), atol=1e-3)
    obs, *_ = env.step(np.array([[300.0, 300.0], [200.0, 200.0]]))
    np.testing.assert_allclose(obs, pusht.keypoint_observation(np.stack([e.state() for e in env.envs])), atol=1e-3)


@needs_sim
def test_pixels_env_observes_the_agent_position_and_gym_pushts_image():
    from imitlab.envs.registry import get_env_spec

    spec = get_env_spec("pusht-pixels")
    assert spec.cameras == {pusht.CAMERA: (96, 96)} and spec.obs_names == ("agent_x", "agent_y")
    env = spec.make_vector(2)
    obs, _ = env.reset(seed=[100000, 100001])
    env.step(np.array([[300.0, 300.0], [200.0, 200.0]]))
    obs, *_ = env.step(np.array([[300.0, 300.0], [200.0, 200.0]]))
    frames = env.render_cameras()[pusht.CAMERA]
    assert obs.shape == (2, 2) and frames.shape == (2, 96, 96, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, env.render_cameras()[pusht.CAMERA])  # rendering changes nothing
    for i, sub in enumerate(env.envs):
        sub.sim.obs_type = "pixels_agent_pos"  # gym-pusht's own image observation of the same simulator
        gym_obs = sub.sim.get_obs()
        np.testing.assert_array_equal(frames[i], gym_obs["pixels"])
        np.testing.assert_allclose(obs[i], gym_obs["agent_pos"], atol=1e-3)


@needs_sim
@pytest.mark.skipif(not PUSHT.is_dir(), reason=f"PushT demonstrations not found at {PUSHT}")
def test_render_of_a_recorded_state_matches_the_recorded_image():
    zarr = pytest.importorskip("zarr", reason="reading the demonstrations needs the optional extra 'zarr'")
    root = zarr.open_group(str(PUSHT), mode="r")
    state, recorded = root["data/state"][:40], root["data/img"][:40]
    env = pusht.PushTEnv(observation="agent_pos")
    error = {}
    for legacy in (False, True):
        rendered = []
        for s in state:
            env.reset(options={"state": s, "legacy": legacy})
            rendered.append(env.render_pixels())
        error[legacy] = np.abs(np.stack(rendered).astype(np.float64) - recorded).mean()
    # 0.075 of 255 over 1000 frames (benchmarks/pusht_render.py); gym-pusht's placement order moves the block
    assert error[False] < 0.5 and error[True] > 1.0, error


@needs_sim
def test_batched_env_succeeds_at_the_goal_pose_then_freezes():
    env = pusht.BatchedPushT(2)
    goal = [256.0, 256.0, np.pi / 4]
    obs, info = env.reset(options={"states": np.array([[50.0, 50.0, *goal], [50.0, 50.0, 300.0, 300.0, 0.0]])})
    assert not info["success"].any()
    obs, reward, terminated, truncated, info = env.step(np.array([[50.0, 50.0], [50.0, 50.0]]))
    assert info["success"].tolist() == [True, False] and terminated.tolist() == [True, False]
    assert reward[0] == 1.0 and 0 <= reward[1] < 1
    obs2, reward2, terminated2, _, info2 = env.step(np.array([[256.0, 256.0], [50.0, 50.0]]))
    np.testing.assert_array_equal(obs2[0], obs[0])  # frozen after the episode ended
    assert reward2[0] == 0 and terminated2[0] and info2["success"][0]


@needs_sim
def test_evaluate_reports_score_and_success_with_wilson_interval_on_the_papers_seeds():
    from imitlab.evaluation.evaluate import evaluate
    from imitlab.policies.base import create_policy
    from imitlab.training.checkpoint import placeholder_stats

    policy = create_policy("chunked-bc", placeholder_stats(5, 2), obs_dim=5, act_dim=2, horizon=8, n_action_steps=8)
    result = evaluate(policy, "pusht", episodes=2, seed=0)
    assert result.seeds == [100000, 100001]
    assert len(result.episode_score) == 2 and 0.0 <= result.mean_score <= 1.0
    assert result.mean_score == pytest.approx(np.mean(result.episode_score))
    assert 0.0 <= result.ci_low <= result.success_rate <= result.ci_high <= 1.0
