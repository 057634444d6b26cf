"""The conditional 1-D U-Net rewritten for ONNX Runtime's CPU kernels: same weights, same outputs (within float
rounding), a graph that batches well.

At the two-path recipe's shape (H 8, so lengths 8, 4 and 2 inside the U-Net) a profile of the plain export at
batch 64 spent most of each call outside the convolutions:
- Mish exported as Softplus, Tanh, Mul, and ONNX Runtime's Softplus is a scalar loop (about 30 % of a call);
- every broadcast of a per-channel vector over the length axis (GroupNorm's affine, FiLM's scale and bias) runs
  one inner loop per row of L = 2 to 8 elements (about 30 % together).

The rewrite computes each convolution as a Conv2d of height 1 (ONNX Runtime's 2-D kernels batch far better than
its 1-D ones; keeping every tensor 4-D instead was slower, as ONNX Runtime then reorders layouts around the
normalisations); writes Mish as
x·(1 − u²)/(1 + u²) with u = sigmoid(−x), which equals x·tanh(softplus(x)); and, since every length inside
the U-Net is fixed by H, stores GroupNorm's weight and bias already repeated over the length and has each FiLM
layer's Linear emit its scale and bias repeated over the length, so no broadcast runs along a short axis; the
FiLM layers of all blocks, which all read Mish of the same condition, run as one Linear.

That Linear reads Mish(cat[time embedding, observation embedding]); Mish is elementwise, so it splits exactly
into W_t·Mish(time embedding) + W_c·Mish(observation embedding) + b. The export runs the halves as graphs of
their own (``condition``, ``time_film``) and the rest of the U-Net on their sum (``denoise``): the runtime
computes the observation's half once per chunk and the time's half once per denoising step for the whole
batch, where one graph would recompute both for every row at every step.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from imitlab.policies.denoisers import ConditionalResidualBlock1D, ConditionalUnet1D, Conv1dBlock


class SigmoidMish(nn.Module):
    """Mish (x·tanh(softplus(x))) through one Sigmoid: tanh(log(1 + eˣ)) = (1 − u²)/(1 + u²), u = σ(−x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.sigmoid(-x)  # 1 - s
        u2 = u * u
        return x * (1 - u2) / (1 + u2)


class _ConvAs2d(nn.Module):
    """A Conv1d or ConvTranspose1d computed as its 2-D form of height 1, same weights: (B, C_in, L) -> (B, C_out, L')."""

    def __init__(self, conv: nn.Conv1d | nn.ConvTranspose1d):
        super().__init__()
        kind = nn.ConvTranspose2d if isinstance(conv, nn.ConvTranspose1d) else nn.Conv2d
        padding = cast(tuple[int, ...], conv.padding)
        self.conv = kind(
            conv.in_channels,
            conv.out_channels,
            (1, conv.kernel_size[0]),
            stride=(1, conv.stride[0]),
            padding=(0, padding[0]),
            bias=conv.bias is not None,
        )
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight[:, :, None])
            if conv.bias is not None and self.conv.bias is not None:
                self.conv.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x.unsqueeze(2)).squeeze(2)
        return out


class _GroupNormAtLength(nn.Module):
    """GroupNorm over (B, C, L) with its affine stored as (C, L): the multiply-add broadcasts over the batch only."""

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, norm: nn.GroupNorm, length: int):
        super().__init__()
        self.groups, self.eps = norm.num_groups, norm.eps
        self.register_buffer("weight", norm.weight.detach()[:, None].expand(-1, length).contiguous())
        self.register_buffer("bias", norm.bias.detach()[:, None].expand(-1, length).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.groups, eps=self.eps) * self.weight + self.bias


def _conv_block(block: Conv1dBlock, length: int) -> nn.Sequential:
    conv, norm, _ = block
    return nn.Sequential(
        _ConvAs2d(cast(nn.Conv1d, conv)), _GroupNormAtLength(cast(nn.GroupNorm, norm), length), SigmoidMish()
    )


class _ResidualBlockAtLength(nn.Module):
    """ConditionalResidualBlock1D at length L. Its FiLM Linear is moved into UnetGraph's FiLM Linear for all
    blocks, with the output rows repeated L times; ``film_rows`` is this block's slice of the FiLM input."""

    def __init__(self, block: ConditionalResidualBlock1D, length: int, film_rows: slice):
        super().__init__()
        self.block1 = _conv_block(block.block1, length)
        self.block2 = _conv_block(block.block2, length)
        self.residual = _ConvAs2d(block.residual) if isinstance(block.residual, nn.Conv1d) else nn.Identity()
        self.channels = cast(nn.Conv1d, block.block1[0]).out_channels
        self.length, self.film_rows = length, film_rows

    def forward(self, x: torch.Tensor, films: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, L), films: (B, all blocks' FiLM rows) -> (B, C_out, L)."""
        film = films[:, self.film_rows].view(-1, 2, self.channels, self.length)
        h = self.block2(film[:, 0] * self.block1(x) + film[:, 1])
        out: torch.Tensor = h + self.residual(x)
        return out


def _mish_as_sigmoid(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        setattr(module, name, SigmoidMish() if isinstance(child, nn.Mish) else _mish_as_sigmoid(child))
    return module


class UnetGraph(nn.Module):
    """``unet``'s forward for a fixed horizon, rewritten as the module docstring says: (B, H, act_dim), (B,),
    (B, cond_dim) -> (B, H, act_dim). Its three parts, which the export runs as separate graphs:
    ``condition`` (B, cond_dim) -> (B, film_rows), ``time_film`` (N,) -> (N, film_rows) and
    ``denoise`` (B, H, act_dim), (B, film_rows) -> (B, H, act_dim), the FiLM input being their sum."""

    def __init__(self, unet: ConditionalUnet1D, horizon: int):
        super().__init__()
        self.horizon, self.multiple = horizon, unet.multiple
        self.time_encoder = _mish_as_sigmoid(unet.time_encoder)
        self.cond_encoder = _mish_as_sigmoid(unet.cond_encoder)
        weights: list[torch.Tensor] = []
        biases: list[torch.Tensor] = []

        def residual_block(block: nn.Module, length: int) -> _ResidualBlockAtLength:
            film = cast(nn.Linear, cast(ConditionalResidualBlock1D, block).film[1])
            start = sum(len(w) for w in weights)
            weights.append(film.weight.detach().repeat_interleave(length, 0))
            biases.append(film.bias.detach().repeat_interleave(length, 0))
            return _ResidualBlockAtLength(
                cast(ConditionalResidualBlock1D, block), length, slice(start, start + len(weights[-1]))
            )

        length = horizon + (-horizon % unet.multiple)
        self.down = nn.ModuleList()
        for level in unet.down:
            block1, block2, downsample = cast(nn.ModuleList, level)
            resample = _ConvAs2d(downsample) if isinstance(downsample, nn.Conv1d) else nn.Identity()
            self.down.append(nn.ModuleList([residual_block(b, length) for b in (block1, block2)] + [resample]))
            if isinstance(downsample, nn.Conv1d):
                length = (length + 1) // 2
        self.mid = nn.ModuleList([residual_block(b, length) for b in unet.mid])
        self.up = nn.ModuleList()
        for level in unet.up:
            block1, block2, upsample = cast(nn.ModuleList, level)
            blocks: list[nn.Module] = [residual_block(b, length) for b in (block1, block2)]
            self.up.append(nn.ModuleList([*blocks, _ConvAs2d(cast(nn.ConvTranspose1d, upsample))]))
            length *= 2
        final_block, final_conv = unet.final
        self.final = nn.Sequential(
            _conv_block(cast(Conv1dBlock, final_block), length), _ConvAs2d(cast(nn.Conv1d, final_conv))
        )
        self.film_act = SigmoidMish()  # every block's FiLM starts with Mish of the same [time, condition]
        # every block's FiLM Linear as one, split by input columns: [time embedding | observation embedding]
        weight, time_dim = torch.cat(weights), cast(nn.Linear, unet.time_encoder[-1]).out_features
        self.film_time = nn.Linear(time_dim, len(weight), bias=False)
        self.film_cond = nn.Linear(weight.shape[1] - time_dim, len(weight))
        with torch.no_grad():
            self.film_time.weight.copy_(weight[:, :time_dim])
            self.film_cond.weight.copy_(weight[:, time_dim:])
            self.film_cond.bias.copy_(torch.cat(biases))

    @property
    def film_rows(self) -> int:
        """Width of the FiLM input: every block's scale and bias, each repeated over its length."""
        return self.film_cond.out_features

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The observation's part of every block's FiLM, bias included: (B, cond_dim) -> (B, film_rows)."""
        out: torch.Tensor = self.film_cond(self.film_act(self.cond_encoder(cond)))
        return out

    def time_film(self, time: torch.Tensor) -> torch.Tensor:
        """The time step's part of every block's FiLM: (N,) -> (N, film_rows)."""
        out: torch.Tensor = self.film_time(self.film_act(self.time_encoder(time)))
        return out

    def forward(self, x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.denoise(x, self.condition(cond) + self.time_film(time))

    def denoise(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """x: (B, H, act_dim), film = condition(cond) + time_film(time): (B, film_rows) -> (B, H, act_dim)."""
        h = x.transpose(1, 2)  # (B, act_dim, H)
        pad = -self.horizon % self.multiple
        if pad:
            h = F.pad(h, (0, pad), mode="replicate")
        skips = []
        for level in self.down:
            block1, block2, downsample = cast(nn.ModuleList, level)
            h = block2(block1(h, film), film)
            skips.append(h)
            h = downsample(h)
        for block in self.mid:
            h = block(h, film)
        for level in self.up:
            block1, block2, upsample = cast(nn.ModuleList, level)
            h = torch.cat([h, skips.pop()], dim=1)
            h = upsample(block2(block1(h, film), film))
        out: torch.Tensor = self.final(h)[..., : self.horizon].transpose(1, 2)
        return out


def unets_as_graphs(module: nn.Module, horizon: int) -> None:
    """Replace, in place, every ConditionalUnet1D inside ``module`` by its UnetGraph for ``horizon``."""
    for name, child in module.named_children():
        if isinstance(child, ConditionalUnet1D):
            setattr(module, name, UnetGraph(child, horizon))
        else:
            unets_as_graphs(child, horizon)
