"""Feature normalisation held as module buffers, so a checkpoint carries its own statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from imitlab.core.errors import InvalidInputError

EPS = 1e-6


class Normalizer(nn.Module):
    """``mean_std``: (x - mean) / std. ``min_max``: affine map of [min, max] to [-1, 1].

    Dimensions that are constant in the data (std or range ~ 0) are left centred but unscaled; every other
    dimension's scale gets ``floor`` added (in the feature's units).
    """

    shift: torch.Tensor  # (dim,) buffer
    scale: torch.Tensor  # (dim,) buffer

    def __init__(self, feature_stats: dict[str, Any], mode: str, floor: float = 0.0):
        super().__init__()
        shift: np.ndarray
        scale: np.ndarray
        if mode == "mean_std":
            shift = np.asarray(feature_stats["mean"], dtype=np.float32)
            scale = np.asarray(feature_stats["std"], dtype=np.float32)
        elif mode == "min_max":
            low = np.asarray(feature_stats["min"], dtype=np.float32)
            high = np.asarray(feature_stats["max"], dtype=np.float32)
            shift, scale = (high + low) / 2, (high - low) / 2
        else:
            raise InvalidInputError(f"normalisation mode must be 'mean_std' or 'min_max', got {mode!r}")
        scale = np.where(scale < EPS, 1.0, scale + floor).astype(np.float32)
        self.mode = mode
        self.register_buffer("shift", torch.from_numpy(shift))
        self.register_buffer("scale", torch.from_numpy(scale))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift
