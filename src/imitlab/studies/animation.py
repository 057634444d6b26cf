"""Rollout animations: draw an episode's observations frame by frame (PIL, no display) and save a looping GIF.

Each env may declare a drawer (``EnvSpec.draw``) that maps the trajectory so far, (t + 1, obs_dim), to one RGB
image; an env with cameras can be animated from its recorded frames instead; envs with neither are simply not
animated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imitlab.envs.registry import get_env_spec

SIZE = 160  # pixels per side
MAX_FRAMES = 50  # longer episodes are subsampled evenly (first and last frame kept)


def save_episode_gif(
    env: str, observations: np.ndarray, out: Path, fps: int, camera_frames: np.ndarray | None = None
) -> Path | None:
    """Animate one episode as ``out`` (GIF): its ``camera_frames`` (T, H, W, 3) uint8 when given (what a camera
    policy saw, enlarged to SIZE pixels), else its observations (T, obs_dim) through ``env``'s drawer; None when
    there are no frames and ``env`` has no drawer."""
    draw = get_env_spec(env).draw
    if camera_frames is None and draw is None:
        return None
    observations = np.asarray(observations)
    frames_at = np.unique(np.linspace(0, len(observations) - 1, min(MAX_FRAMES, len(observations))).astype(int))
    if camera_frames is not None:
        frames = [Image.fromarray(camera_frames[t]).resize((SIZE, SIZE), Image.Resampling.NEAREST) for t in frames_at]
    else:
        assert draw is not None  # returned above otherwise
        frames = [draw(observations[: t + 1], SIZE) for t in frames_at]
    duration_ms = int(1000 * len(observations) / fps / len(frames))  # play in real time
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, optimize=True)
    return out
