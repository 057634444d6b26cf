import numpy as np
import pytest

from imitlab.core.errors import ImitlabError
from imitlab.envs import get_env_spec
from imitlab.envs.rollout import rollout, run_episodes
from imitlab.envs.two_path import GOAL, BatchedTwoPath, TwoPathEnv, TwoPathExpert, detour_side
from imitlab.envs.two_path_pixels import (
    AGENT_COLOUR,
    CAMERA,
    GOAL_COLOUR,
    IMAGE_SIZE,
    OBSTACLE_COLOUR,
    PIXEL,
    BatchedTwoPathPixels,
    TwoPathPixelsEnv,
    locate_agent,
    render_top,
)
from imitlab.evaluation.evaluate import evaluate_expert

SEEDS = 1_000_000_000 + np.arange(50)


def pixel_at(x: float, y: float) -> tuple[int, int]:
    """(row, column) of the pixel holding world point (x, y)."""
    return int((1.5 - y) / PIXEL), int((x + 1.5) / PIXEL)


def test_render_shows_the_robot_where_the_state_says():
    pos = np.random.default_rng(0).uniform(-1.4, 1.4, size=(500, 2))
    images = render_top(pos)
    error_px = np.linalg.norm(locate_agent(images) - pos, axis=1) / PIXEL
    assert error_px.max() < 0.2, f"robot located up to {error_px.max():.3f} px from its state"
    for (x, y), image in zip(pos[:20], images[:20]):
        np.testing.assert_array_equal(image[pixel_at(x, y)], np.rint(AGENT_COLOUR))


def test_render_draws_the_obstacle_and_the_goal_where_the_task_puts_them():
    image = render_top(np.array([[1.2, -1.2]]))[0]
    np.testing.assert_array_equal(image[pixel_at(0.0, 0.2)], OBSTACLE_COLOUR)
    np.testing.assert_array_equal(image[pixel_at(*GOAL)], GOAL_COLOUR)
    np.testing.assert_array_equal(image[pixel_at(-1.2, 1.2)], [255, 255, 255])


def test_render_is_deterministic_uint8_and_independent_of_the_batch():
    pos = np.random.default_rng(1).uniform(-1.5, 1.5, size=(8, 2))
    images = render_top(pos)
    assert images.shape == (8, IMAGE_SIZE, IMAGE_SIZE, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, render_top(pos))
    np.testing.assert_array_equal(images[3], render_top(pos[3:4])[0])


def test_pixels_variant_observes_the_robot_only_through_the_camera():
    spec = get_env_spec("two-path-pixels")
    assert spec.obs_names == ("goal_x", "goal_y") and spec.cameras == {CAMERA: (IMAGE_SIZE, IMAGE_SIZE)}
    env = spec.make_vector(3)
    obs, _ = env.reset(seed=[1, 2, 3])
    moved, *_ = env.step(np.full((3, 2), 0.05))
    np.testing.assert_array_equal(obs, np.tile(GOAL, (3, 1)))
    np.testing.assert_array_equal(moved, obs)  # the observation vector does not follow the robot
    plain = BatchedTwoPath(3)
    plain.reset(seed=[1, 2, 3])
    plain.step(np.full((3, 2), 0.05))
    np.testing.assert_array_equal(env.render_cameras()[CAMERA], render_top(plain.pos))
    single = TwoPathPixelsEnv()
    obs, _ = single.reset(seed=2)
    np.testing.assert_array_equal(obs, GOAL)
    start, _ = TwoPathEnv().reset(seed=2)
    np.testing.assert_array_equal(single.render(), render_top(start[None])[0])


def test_pixel_expert_reads_the_image_and_succeeds_on_its_chosen_side():
    spec = get_env_spec("two-path-pixels")
    expert = spec.make_expert()
    result = run_episodes(spec, expert, SEEDS, record_state=True)
    assert result.episode_success.all()
    sides = [detour_side(result.state[i, : result.lengths[i], :2]) for i in range(len(SEEDS))]
    np.testing.assert_array_equal(sides, expert.modes)


def test_detours_are_told_apart_from_the_frames_as_from_the_state():
    state, pixels = evaluate_expert("two-path", 40, seed=3), evaluate_expert("two-path-pixels", 40, seed=3)
    assert pixels.successes == 40 and set(pixels.success_modes) == {"-1", "1"}
    assert pixels.success_modes == state.success_modes


def test_rollout_records_each_steps_camera_images_when_asked():
    spec = get_env_spec("two-path-pixels")
    result = run_episodes(spec, spec.make_expert(), SEEDS[:4], record_state=True, record_images=True)
    frames = result.images[CAMERA]
    assert frames.shape == (4, result.alive.shape[1], IMAGE_SIZE, IMAGE_SIZE, 3) and frames.dtype == np.uint8
    for i in range(4):
        np.testing.assert_array_equal(frames[i], render_top(result.state[i, :, :2]))
        episode = result.episode(i)
        assert episode["images"][CAMERA].shape == (result.lengths[i], IMAGE_SIZE, IMAGE_SIZE, 3)


class CountingRenders(BatchedTwoPathPixels):
    renders = 0

    def render_cameras(self):
        self.renders += 1
        return super().render_cameras()


class StandStill:
    """An agent that does not look at images."""

    def reset(self, seeds):
        pass

    def act(self, obs):
        return np.zeros_like(obs)


def test_rollout_renders_nothing_unless_asked_or_looked_at():
    env = CountingRenders(4)
    result = rollout(env, StandStill(), SEEDS[:4], 60)
    assert env.renders == 0 and result.images is None and "images" not in result.episode(0)
    rollout(env, get_env_spec("two-path-pixels").make_expert(), SEEDS[:4], 60)
    assert env.renders > 0


def test_recording_images_from_an_env_without_cameras_is_refused():
    with pytest.raises(ImitlabError, match="BatchedTwoPath has no cameras"):
        rollout(BatchedTwoPath(2), TwoPathExpert(), SEEDS[:2], 60, record_images=True)
