"""Caps on what imitlab allocates from sizes a file declares (a video's frame size, an imported store's rows, a
config's widths), checked before anything is allocated, so a small crafted file cannot ask for gigabytes. Each cap
is generous for robot-learning data; ``IMITLAB_NO_SIZE_LIMITS=1`` (``imitlab --no-size-limits``) lifts them all,
and each one's environment variable sets it."""

from __future__ import annotations

import os

NO_LIMITS_ENV = "IMITLAB_NO_SIZE_LIMITS"


def cap(name: str, default: int) -> int | None:
    """The cap called ``name`` (the environment variable ``IMITLAB_<NAME>`` if set, else ``default``); None when
    the caps are lifted."""
    if os.environ.get(NO_LIMITS_ENV) == "1":
        return None
    return int(os.environ.get(f"IMITLAB_{name}", default))


def over(name: str, default: int, value: int) -> str | None:
    """A message when ``value`` exceeds cap ``name``, saying how to raise it; None within the cap."""
    limit = cap(name, default)
    if limit is None or value <= limit:
        return None
    return (
        f"{value:,} is over imitlab's cap of {limit:,} (set IMITLAB_{name} to raise it, or pass "
        "imitlab --no-size-limits)"
    )


MAX_FRAME_PIXELS = ("MAX_FRAME_PIXELS", 2048 * 2048)  # a camera frame's height x width (4.2 MP: 1080p fits)
MAX_VIDEO_FRAMES = ("MAX_VIDEO_FRAMES", 10_000_000)  # frames decoded from one video file (92 hours at 30 fps)
MAX_IMPORT_ROWS = ("MAX_IMPORT_ROWS", 100_000_000)  # frames of an imported store
MAX_WIDTH = ("MAX_WIDTH", 16_384)  # a policy's layer width (hidden_dim, d_model, channels, ...)
