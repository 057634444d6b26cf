"""``two-path-pixels``: the two-path task seen through a 64 x 64 top-down camera. The observation vector holds only
the goal's position, (0, 1) in every episode (datasets and policies need a state vector; this one says nothing
about the robot); where the robot is must be read from the image ``observation.images.top`` (the visuomotor
setting).

The render is a pure numpy function of the positions (N, 2), vectorised over the batch: a white square showing the
whole arena (|x|, |y| <= BOUND, the image border is the wall; +y up), the obstacle as a light-red disc, the goal as
a gold disc and the robot as a blue disc of radius ``AGENT_DRAW_RADIUS``, each edge anti-aliased by the pixel's
distance to it. The robot is the only thing drawn with less than full red, so ``255 - red`` is proportional to
how much of a pixel it covers; ``locate_agent`` reads its position back as the centroid of that weight (also from
frames decoded from a dataset's lossy video).

The expert (``TwoPathPixelsExpert``) is ``TwoPathExpert`` acting on the position it locates in the image, so it
needs nothing the policy does not see.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from imitlab.core.errors import InvalidInputError
from imitlab.envs.presets import SMALL_FRAME_VISION, with_vision
from imitlab.envs.registry import EnvSpec, TeleopControl, register_env
from imitlab.envs.two_path import (
    BOUND,
    FPS,
    GOAL,
    GOAL_RADIUS,
    MAX_STEPS,
    OBSTACLE_RADIUS,
    SUCCESS_RULE,
    BatchedTwoPath,
    TwoPathEnv,
    TwoPathExpert,
    clip_speed,
    detour_side,
)
from imitlab.envs.two_path import RECIPES as TWO_PATH_RECIPES

CAMERA = "observation.images.top"
IMAGE_SIZE = 64  # pixels, height = width
PIXEL = 2 * BOUND / IMAGE_SIZE  # world units per pixel (~0.047)
AGENT_DRAW_RADIUS = 0.08  # the robot is a point; it is drawn as a disc of this radius (~1.7 px)
BACKGROUND = np.array([255, 255, 255], np.float64)
OBSTACLE_COLOUR = np.array([255, 110, 110], np.float64)  # full red: only the robot lowers the red channel
GOAL_COLOUR = np.array([255, 200, 40], np.float64)
AGENT_COLOUR = np.array([30, 90, 220], np.float64)
# locate_agent ignores the first LOCATE_FLOOR levels of 255 - red (the robot covers less than ~30% of such a
# pixel): a lossy video codec leaves a few levels of noise all over the background, which would pull the centroid
LOCATE_FLOOR = 64.0

# World coordinates of the pixel centres: column j -> x, row i -> y (row 0 at the top, y = +BOUND).
_CENTRES = -BOUND + (np.arange(IMAGE_SIZE) + 0.5) * PIXEL
_X, _Y = _CENTRES[None, :], _CENTRES[::-1, None]


def _disc_coverage(centre: np.ndarray, radius: float) -> np.ndarray:
    """(N, 2) disc centres -> (N, H, W) in [0, 1]: the fraction of each pixel inside the disc (linear ramp one
    pixel wide across the edge)."""
    centre = np.asarray(centre, np.float64)
    dist = np.hypot(_X[None] - centre[:, 0, None, None], _Y[None] - centre[:, 1, None, None])
    return np.clip((radius - dist) / PIXEL + 0.5, 0.0, 1.0)


def _background() -> np.ndarray:
    """(H, W, 3) float64: the arena with the obstacle and the goal (the same in every frame)."""
    image = np.broadcast_to(BACKGROUND, (IMAGE_SIZE, IMAGE_SIZE, 3)).copy()
    for centre, radius, colour in ((np.zeros(2), OBSTACLE_RADIUS, OBSTACLE_COLOUR), (GOAL, GOAL_RADIUS, GOAL_COLOUR)):
        alpha = _disc_coverage(centre[None], radius)[0, ..., None]
        image = image * (1 - alpha) + colour * alpha
    return image


_BACKGROUND_IMAGE = _background()
_BACKGROUND_UINT8 = np.rint(_BACKGROUND_IMAGE).astype(np.uint8)
_PATCH = int(np.ceil(2 * AGENT_DRAW_RADIUS / PIXEL)) + 3  # pixels a robot's disc (with its edge ramp) can touch
_PATCH_OFFSETS = np.arange(_PATCH) - _PATCH // 2


def render_top(pos: np.ndarray) -> np.ndarray:
    """Top-down images of robots at ``pos`` (N, 2): (N, IMAGE_SIZE, IMAGE_SIZE, 3) uint8, row 0 at y = +BOUND.
    The background is copied and only the few pixels round each robot (a ``_PATCH``-wide square) are blended."""
    pos = np.asarray(pos, np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise InvalidInputError(f"positions must have shape (N, 2), got {pos.shape}")
    n = len(pos)
    images = np.broadcast_to(_BACKGROUND_UINT8, (n, IMAGE_SIZE, IMAGE_SIZE, 3)).copy()
    # Pixel rows/columns (N, _PATCH) round each robot, clipped to the image (a clipped index repeats a pixel,
    # which then gets the same value twice).
    col = np.floor((pos[:, 0] + BOUND) / PIXEL).astype(np.int64)[:, None] + _PATCH_OFFSETS
    row = np.floor((BOUND - pos[:, 1]) / PIXEL).astype(np.int64)[:, None] + _PATCH_OFFSETS
    col, row = np.clip(col, 0, IMAGE_SIZE - 1), np.clip(row, 0, IMAGE_SIZE - 1)
    dist = np.hypot(
        _CENTRES[col][:, None, :] - pos[:, 0, None, None], _CENTRES[::-1][row][:, :, None] - pos[:, 1, None, None]
    )
    alpha = np.clip((AGENT_DRAW_RADIUS - dist) / PIXEL + 0.5, 0.0, 1.0)[..., None]  # (N, P, P, 1)
    rows, cols = row[:, :, None], col[:, None, :]
    under = _BACKGROUND_IMAGE[rows, cols]  # (N, P, P, 3)
    images[np.arange(n)[:, None, None], rows, cols] = np.rint(under * (1 - alpha) + AGENT_COLOUR * alpha)
    return images


def locate_agent(images: np.ndarray) -> np.ndarray:
    """Robot positions (N, 2) read from top-down images (N, H, W, 3) uint8 (rendered, or decoded from a dataset's
    video): the centroid of ``255 - red`` (the robot's coverage of each pixel) above ``LOCATE_FLOOR``. A robot out
    of view gives NaN."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise InvalidInputError(f"images must have shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3), got {images.shape}")
    weight = np.maximum(255.0 - LOCATE_FLOOR - images[..., 0].astype(np.float64), 0.0)  # (N, H, W)
    total = weight.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (weight * _X[None]).sum(axis=(1, 2)) / total
        y = (weight * _Y[None]).sum(axis=(1, 2)) / total
    return np.stack([x, y], axis=1)


def detour_side_seen(episode: dict[str, Any]) -> int:
    """``detour_side`` of an episode's robot positions as its camera frames (``episode["images"][CAMERA]``,
    (T, 64, 64, 3)) show them; steps with the robot out of view are left out."""
    positions = locate_agent(episode["images"][CAMERA])
    return detour_side(positions[~np.isnan(positions).any(axis=1)])


class BatchedTwoPathPixels(BatchedTwoPath):
    """``BatchedTwoPath`` whose observation (N, 2) is the goal's position; the robot is seen only through
    ``render_cameras``."""

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.single_observation_space = spaces.Box(low=-BOUND, high=BOUND, shape=(2,), dtype=np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)

    def _observe(self) -> np.ndarray:
        return np.tile(GOAL.astype(np.float32), (self.num_envs, 1))

    def render_cameras(self) -> dict[str, np.ndarray]:
        """{``CAMERA``: (N, 64, 64, 3) uint8} of the current positions."""
        return {CAMERA: render_top(self.pos)}


class TwoPathPixelsEnv(TwoPathEnv):
    """One ``two-path-pixels`` env: observation = the goal (2,); ``render()`` returns the camera image (64, 64, 3)
    uint8."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, render_mode: str | None = "rgb_array"):
        self._env: BatchedTwoPathPixels = BatchedTwoPathPixels(1)
        self.observation_space = self._env.single_observation_space
        self.action_space = self._env.single_action_space
        self.render_mode = render_mode

    def render(self) -> np.ndarray:
        return self._env.render_cameras()[CAMERA][0]


class TwoPathPixelsExpert(TwoPathExpert):
    """``TwoPathExpert`` acting on the robot's position located in the camera image (``locate_agent``); the
    rollout shows it each step's images (``observe_images``) before ``act``."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.position: np.ndarray | None = None  # (N, 2) located in the last images

    def observe_images(self, images: dict[str, np.ndarray]) -> None:
        self.position = locate_agent(images[CAMERA])

    def act(self, obs: np.ndarray) -> np.ndarray:
        """obs (N, 2) (the goal) -> velocity (N, 2); the robot's position comes from the images of this step."""
        if self.position is None or len(self.position) != len(obs):
            raise InvalidInputError("TwoPathPixelsExpert.act needs this step's images first (observe_images)")
        # A robot that left the image has crashed into a wall: its episode is over, any action will do.
        return super().act(np.nan_to_num(self.position))


def pointer_velocity(command: np.ndarray, env: BatchedTwoPathPixels) -> np.ndarray:
    """The robot heads for the pointer: the velocity toward the arena point under it, clipped to MAX_SPEED."""
    target = np.array([-BOUND + 2 * BOUND * command[0], BOUND - 2 * BOUND * command[1]])
    return clip_speed((target - env.pos[0])[None])


register_env(
    EnvSpec(
        name="two-path-pixels",
        description="Reach the goal past the obstacle, by either detour, seen through a top-down camera.",
        make_vector=lambda n: BatchedTwoPathPixels(n),
        make_single=lambda: TwoPathPixelsEnv(),
        make_expert=TwoPathPixelsExpert,
        max_steps=MAX_STEPS,
        fps=FPS,
        obs_names=("goal_x", "goal_y"),
        action_names=("vx", "vy"),
        success_rule=SUCCESS_RULE,
        cameras={CAMERA: (IMAGE_SIZE, IMAGE_SIZE)},
        mode_of=detour_side_seen,
        # each head's two-path recipe with the tiny CNN in front. Measured from pixels (docs/heads.md): diffusion,
        # flow and bc; the other heads train and evaluate (tests), their success from pixels is not measured
        recipes=with_vision(TWO_PATH_RECIPES, SMALL_FRAME_VISION),
        variant_of="two-path",
        expert_success=1.0,
        teleop=TeleopControl("pointer", pointer_velocity, "the robot heads for the pointer; reach the gold goal"),
    )
)
