"""A torch generator's random draws for the shared sampling loops (``imitlab.sampling.loops``): drawn on the
generator's own device (a CPU generator also serves a CUDA policy, with the same numbers), then moved."""

from __future__ import annotations

import torch


def randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """N(0, I) noise drawn from ``generator`` on the generator's own device (a CPU generator also serves a CUDA
    policy, with the same numbers), then moved to ``device``."""
    source = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=source, dtype=dtype).to(device)


class TorchDraws:
    """``normal(shape)`` and ``categorical(probs)`` from ``generator`` (None: torch's global generator), as
    arrays on ``device`` of ``dtype``."""

    def __init__(self, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32):
        self.generator, self.device, self.dtype = generator, device, dtype

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        return randn(shape, self.generator, self.device, self.dtype)

    def categorical(self, probs: torch.Tensor) -> torch.Tensor:
        source = self.generator.device if self.generator is not None else probs.device
        return torch.multinomial(probs.to(source), 1, generator=self.generator).to(probs.device)[:, 0]
