"""Rollout animations: draw an episode's observations frame by frame (PIL, no display) and save a looping GIF.

Each env registers a drawer that maps the trajectory so far, (t + 1, obs_dim), to one RGB image; an env with
cameras can be animated from its recorded frames instead; envs with neither are simply not animated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from imitlab.envs import two_path

SIZE = 160  # pixels per side
MAX_FRAMES = 50  # longer episodes are subsampled evenly (first and last frame kept)

Drawer = Callable[[np.ndarray], Image.Image]
DRAWERS: dict[str, Drawer] = {}


def drawer(env: str) -> Callable[[Drawer], Drawer]:
    def register(draw: Drawer) -> Drawer:
        DRAWERS[env] = draw
        return draw

    return register


@drawer("pendulum")
def draw_pendulum(trajectory: np.ndarray) -> Image.Image:
    """Pole from the pivot at angle theta (0 = up); obs is (cos theta, sin theta, theta_dot)."""
    image = Image.new("RGB", (SIZE, SIZE), "white")
    d = ImageDraw.Draw(image)
    c = SIZE / 2
    cos, sin = trajectory[-1, 0], trajectory[-1, 1]
    tip = (c - 0.4 * SIZE * sin, c - 0.4 * SIZE * cos)  # theta grows anticlockwise, as gymnasium draws it
    d.ellipse([c - 0.4 * SIZE, c - 0.4 * SIZE, c + 0.4 * SIZE, c + 0.4 * SIZE], outline=(220, 220, 220))
    d.line([(c, c), tip], fill=(200, 60, 60), width=7)
    d.ellipse([c - 4, c - 4, c + 4, c + 4], fill="black")
    d.text((4, 4), f"t={len(trajectory) - 1}", fill="black")
    return image


@drawer("two-path")
def draw_two_path(trajectory: np.ndarray) -> Image.Image:
    """Obstacle (grey), goal (green), the path so far (blue) and the robot (dark dot)."""
    image = Image.new("RGB", (SIZE, SIZE), "white")
    d = ImageDraw.Draw(image)
    scale = SIZE / (2 * two_path.BOUND)

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x + two_path.BOUND) * scale, (two_path.BOUND - y) * scale)

    def disc(centre: np.ndarray, radius: float, **style) -> None:
        (x0, y0), (x1, y1) = px(centre[0] - radius, centre[1] + radius), px(centre[0] + radius, centre[1] - radius)
        d.ellipse([x0, y0, x1, y1], **style)

    disc(np.zeros(2), two_path.OBSTACLE_RADIUS, fill=(170, 170, 170))
    disc(two_path.GOAL, two_path.GOAL_RADIUS, fill=(80, 180, 80))
    if len(trajectory) > 1:
        d.line([px(x, y) for x, y in trajectory[:, :2]], fill=(60, 90, 200), width=2)
    disc(trajectory[-1, :2], 0.04, fill=(20, 20, 60))
    d.text((4, 4), f"t={len(trajectory) - 1}", fill="black")
    return image


def save_episode_gif(
    env: str, observations: np.ndarray, out: Path, fps: int, camera_frames: np.ndarray | None = None
) -> Path | None:
    """Animate one episode as ``out`` (GIF): its ``camera_frames`` (T, H, W, 3) uint8 when given (what a camera
    policy saw, enlarged to SIZE pixels), else its observations (T, obs_dim) through ``env``'s drawer; None when
    there are no frames and ``env`` has no drawer."""
    if camera_frames is None and env not in DRAWERS:
        return None
    observations = np.asarray(observations)
    frames_at = np.unique(np.linspace(0, len(observations) - 1, min(MAX_FRAMES, len(observations))).astype(int))
    if camera_frames is not None:
        frames = [Image.fromarray(camera_frames[t]).resize((SIZE, SIZE), Image.Resampling.NEAREST) for t in frames_at]
    else:
        frames = [DRAWERS[env](observations[: t + 1]) for t in frames_at]
    duration_ms = int(1000 * len(observations) / fps / len(frames))  # play in real time
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, optimize=True)
    return out
