"""Seed spaces: demonstrations and evaluations never share an environment seed.

Collection episode i of run seed s uses ``s * 100_000 + i``; evaluation uses ``1_000_000_000 + s * 100_000 + i``.
"""

from __future__ import annotations

import numpy as np

from imitlab.core.errors import InvalidInputError

EPISODES_PER_SEED = 100_000
EVAL_OFFSET = 1_000_000_000


def _seeds(offset: int, seed: int, n: int) -> np.ndarray:
    if not 0 <= seed < EVAL_OFFSET // EPISODES_PER_SEED:
        raise InvalidInputError(f"seed must be in [0, {EVAL_OFFSET // EPISODES_PER_SEED}), got {seed}")
    if not 0 < n <= EPISODES_PER_SEED:
        raise InvalidInputError(f"number of episodes must be in [1, {EPISODES_PER_SEED}], got {n}")
    return offset + seed * EPISODES_PER_SEED + np.arange(n, dtype=np.int64)


def collection_seeds(seed: int, n: int) -> np.ndarray:
    """Environment reset seeds for n demonstration episodes."""
    return _seeds(0, seed, n)


def evaluation_seeds(seed: int, n: int) -> np.ndarray:
    """Environment reset seeds for n evaluation episodes (disjoint from every collection seed)."""
    return _seeds(EVAL_OFFSET, seed, n)
