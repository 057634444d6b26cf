"""The two denoiser networks shared by the diffusion and flow heads, and their config fields.

Both map a noisy action chunk, a (continuous) time value and a global condition to a chunk of the same shape:
``denoiser(x: (B, H, act_dim), time: (B,), cond: (B, cond_dim)) -> (B, H, act_dim)``. Diffusion reads the
output as the noise epsilon (time = the integer step as a float); flow matching reads it as a velocity
(time = t in [0, 1] times a scale).

- ``ConditionalUnet1D``: Chi et al. 2023 "Diffusion Policy", the CNN-based variant: a 1-D temporal U-Net of
  residual conv blocks (Conv1d -> GroupNorm -> Mish) with FiLM conditioning (Perez et al. 2018) on the
  sinusoidal time embedding concatenated with the flattened observation history.
- ``TransformerDenoiser``: the transformer variant, simplified to an encoder over [time token, obs token,
  H action tokens] with full attention; action tokens are read out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, check_transformer
from imitlab.sampling import loops

BACKBONES = ("unet", "transformer")


@dataclass(frozen=True)
class DenoiserConfig(PolicyConfig):
    """Fields of the denoiser network, shared by the diffusion and flow configs."""

    action_norm: str = "min_max"  # actions in [-1, 1], the range samples are clipped to
    clip_sample: bool = True  # clip to [-1, 1] while sampling (diffusion: each predicted x_0; flow: the result)
    backbone: str = "unet"  # "unet" (Chi et al.'s CNN) or "transformer"
    time_embed_dim: int = 64  # width of the sinusoidal time embedding (then an MLP of 4x that width)
    down_dims: tuple[int, ...] = (32, 64, 128)  # U-Net channels per level (Chi et al.: 256, 512, 1024; CPU-sized)
    kernel_size: int = 5  # U-Net temporal conv kernel (odd)
    n_groups: int = 8  # GroupNorm groups; must divide every entry of down_dims
    d_model: int = 128  # transformer width
    n_heads: int = 4  # transformer attention heads; must divide d_model
    n_layers: int = 2  # transformer layers
    dropout: float = 0.1  # transformer dropout (attention and feed-forward)
    # classifier-free guidance (Ho & Salimans 2022): train with the observation replaced by the null condition
    # with probability cond_dropout; sample with out_null + guidance_scale * (out_obs - out_null)
    cond_dropout: float = 0.0  # 0 = no null condition (guidance_scale must stay 1)
    guidance_scale: float = 1.0  # inference: 1 = conditional only, 0 = unconditional, > 1 = guided

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "down_dims", tuple(self.down_dims))  # a list when read back from config.json
        if self.clip_sample and self.action_norm != "min_max":
            raise InvalidInputError(
                "clip_sample clips to [-1, 1], which needs action_norm='min_max' (or clip_sample=False)"
            )
        if self.backbone not in BACKBONES:
            raise InvalidInputError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.time_embed_dim < 2 or self.time_embed_dim % 2:
            raise InvalidInputError(f"time_embed_dim must be even and >= 2, got {self.time_embed_dim}")
        if len(self.down_dims) < 1 or any(d % self.n_groups for d in self.down_dims):
            raise InvalidInputError(
                f"every entry of down_dims={self.down_dims} must be a multiple of n_groups={self.n_groups}"
            )
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InvalidInputError(f"kernel_size must be odd, got {self.kernel_size}")
        check_transformer(self.d_model, self.n_heads, self.n_layers, self.dropout)
        if not 0.0 <= self.cond_dropout < 1.0:
            raise InvalidInputError(f"cond_dropout must be in [0, 1), got {self.cond_dropout}")
        if self.guidance_scale != 1.0 and self.cond_dropout == 0.0:
            raise InvalidInputError(
                f"guidance_scale={self.guidance_scale} needs the null condition of a model trained with "
                "cond_dropout > 0 (e.g. --set cond_dropout=0.1 at training)"
            )


class DenoisingPolicy(Policy):
    """Shared by the diffusion and flow heads: CPU-sized training defaults, the observation condition and
    classifier-free guidance."""

    # Chi et al.: EMA, AdamW weight decay 1e-6, lr 1e-4 at batch 256 for far longer runs; sized here for a CPU
    train_defaults = {"ema_decay": 0.995, "batch_size": 64, "lr": 5e-4, "weight_decay": 1e-6}
    config: DenoiserConfig

    def _condition(self, obs: Observation) -> torch.Tensor:
        """obs (B, T_obs, obs_dim) in env units -> flattened normalised history (B, T_obs * obs_dim), followed,
        for a model trained for guidance, by an "observed" flag of 1: the null condition is all zeros, flag
        included. (Without the flag the null condition would be the normalised mean observation, a real state
        that the network must also answer conditionally.)"""
        cond = self.encode_observation(obs)
        if self.config.cond_dropout > 0:
            cond = torch.cat([cond, torch.ones_like(cond[:, :1])], dim=1)
        return cond

    def _training_condition(self, obs: torch.Tensor) -> torch.Tensor:
        """The condition for a training batch: each sample's replaced by the null condition w.p. cond_dropout."""
        cond = self._condition(obs)
        if self.config.cond_dropout > 0:
            keep = torch.rand(len(cond), device=cond.device) >= self.config.cond_dropout
            cond = cond * keep[:, None]
        return cond

    def _guided_network(
        self, network: Callable[..., torch.Tensor], cond: torch.Tensor
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """network(x, time, cond) at this chunk's condition (B, cond_dim), under classifier-free guidance with
        w = guidance_scale (Ho & Salimans eq. 6 with their w = our w - 1; ``sampling.loops.guided``): for w != 1
        the condition is followed by the null condition, all zeros, and both run in one batched call."""
        w = self.config.guidance_scale
        if w != 1.0:
            cond = torch.cat([cond, torch.zeros_like(cond)])
        return loops.guided(lambda x, time: network(x, time, cond), w)


def build_denoiser(config: DenoiserConfig, obs_cond_dim: int) -> nn.Module:
    """The network ``config.backbone`` names, conditioned on the policy's observation condition (obs_cond_dim,
    ``Policy.cond_dim``), plus the "observed" flag of classifier-free guidance when trained for it."""
    cond_dim = obs_cond_dim + (1 if config.cond_dropout > 0 else 0)
    if config.backbone == "unet":
        return ConditionalUnet1D(
            config.act_dim, cond_dim, config.down_dims, config.kernel_size, config.n_groups, config.time_embed_dim
        )
    return TransformerDenoiser(
        config.act_dim,
        cond_dim,
        config.horizon,
        config.d_model,
        config.n_heads,
        config.n_layers,
        config.dropout,
        config.time_embed_dim,
    )


def hold_last_valid_action(action: torch.Tensor, action_is_pad: torch.Tensor) -> torch.Tensor:
    """Replace each padded step of action (B, H, act_dim) by the latest non-padded step before it.

    The denoisers mix time steps, so whatever sits at padded positions would leak into the prediction at real
    ones; holding the last valid action makes the loss independent of padded values (the sampler pads the
    same way, by repeating the episode's last action). A chunk whose first step is padded keeps that step.
    """
    B, H = action_is_pad.shape
    assert action.shape[:2] == (B, H), f"action {tuple(action.shape)} and action_is_pad {(B, H)} differ"
    steps = torch.arange(H, device=action.device).expand(B, H)
    source = torch.where(action_is_pad, torch.zeros_like(steps), steps).cummax(dim=1).values  # (B, H)
    return action.gather(1, source.unsqueeze(-1).expand_as(action))


class SinusoidalTimeEmbedding(nn.Module):
    """Transformer position encoding (Vaswani et al. 2017) of a continuous scalar: (B,) -> (B, dim)."""

    freqs: torch.Tensor  # (dim // 2,) buffer

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        self.register_buffer(
            "freqs", torch.exp(-math.log(10000.0) * torch.arange(half) / max(half - 1, 1)), persistent=False
        )

    def forward(self, time: torch.Tensor) -> torch.Tensor:
        args = time.float()[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)


def time_mlp(dim: int) -> nn.Sequential:
    """Sinusoidal embedding then a 2-layer MLP (Chi et al.'s diffusion_step_encoder): (B,) -> (B, dim)."""
    return nn.Sequential(SinusoidalTimeEmbedding(dim), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim))


# ---------------------------------------------------------------------------------------------------- U-Net


class Conv1dBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish, length preserving: (B, C_in, L) -> (B, C_out, L)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int):
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, out_channels),
            nn.Mish(),
        )


class ConditionalResidualBlock1D(nn.Module):
    """Two conv blocks; FiLM between them: h = scale(cond) * h + bias(cond); plus a (1x1) residual."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, kernel_size: int, n_groups: int):
        super().__init__()
        self.block1 = Conv1dBlock(in_channels, out_channels, kernel_size, n_groups)
        self.block2 = Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.residual = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, L), cond: (B, cond_dim) -> (B, C_out, L)."""
        h = self.block1(x)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)  # FiLM: (B, C_out, 1) each
        h = self.block2(scale * h + bias)
        out: torch.Tensor = h + self.residual(x)
        return out


class ConditionalUnet1D(nn.Module):
    """Chi et al.'s conditional 1-D temporal U-Net. Channels ``down_dims`` per level, a stride-2 conv down and a
    transposed conv up between levels. H is padded internally to a multiple of 2^(levels-1) and cut back."""

    def __init__(
        self,
        act_dim: int,
        cond_dim: int,
        down_dims: tuple[int, ...] = (32, 64, 128),
        kernel_size: int = 5,
        n_groups: int = 8,
        time_embed_dim: int = 64,
    ):
        super().__init__()
        self.act_dim = act_dim
        self.cond_dim = cond_dim
        self.time_encoder = time_mlp(time_embed_dim)
        # The FiLM layers start with Mish, which folds negative inputs together (Mish(-0.5) ≈ Mish(-3)); raw
        # normalised observations would lose their sign (on Pendulum, the sign of the angular velocity is the
        # expert's whole decision). An MLP embeds the obs history first, as the time step is embedded.
        self.cond_encoder = nn.Sequential(
            nn.Linear(cond_dim, 4 * time_embed_dim), nn.Mish(), nn.Linear(4 * time_embed_dim, time_embed_dim)
        )
        film_dim = 2 * time_embed_dim  # global condition: [time embedding, obs history embedding]

        def block(c_in: int, c_out: int) -> ConditionalResidualBlock1D:
            return ConditionalResidualBlock1D(c_in, c_out, film_dim, kernel_size, n_groups)

        dims = [act_dim, *down_dims]
        levels = list(zip(dims[:-1], dims[1:]))
        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(levels):
            last = i == len(levels) - 1
            resample = nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, stride=2, padding=1)
            self.down.append(nn.ModuleList([block(c_in, c_out), block(c_out, c_out), resample]))
        self.mid = nn.ModuleList([block(down_dims[-1], down_dims[-1]), block(down_dims[-1], down_dims[-1])])
        self.up = nn.ModuleList()
        for c_in, c_out in reversed(levels[1:]):  # c_out: this level's width; c_in: the level above's
            upsample = nn.ConvTranspose1d(c_in, c_in, 4, stride=2, padding=1)
            self.up.append(nn.ModuleList([block(2 * c_out, c_in), block(c_in, c_in), upsample]))
        self.final = nn.Sequential(
            Conv1dBlock(down_dims[0], down_dims[0], kernel_size, n_groups), nn.Conv1d(down_dims[0], act_dim, 1)
        )
        self.multiple = 2 ** (len(down_dims) - 1)  # H must be a multiple of this inside the U-Net

    def forward(self, x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, H, act_dim), time: (B,), cond: (B, cond_dim) -> (B, H, act_dim)."""
        B, H, A = x.shape
        assert A == self.act_dim, f"x must be (B, H, {self.act_dim}), got {tuple(x.shape)}"
        assert time.shape == (B,), f"time must be (B={B},), got {tuple(time.shape)}"
        assert cond.shape == (B, self.cond_dim), f"cond must be (B={B}, {self.cond_dim}), got {tuple(cond.shape)}"
        film = torch.cat([self.time_encoder(time), self.cond_encoder(cond)], dim=-1)
        h = x.transpose(1, 2)  # (B, act_dim, H): channels first for Conv1d
        pad = -H % self.multiple
        if pad:
            h = nn.functional.pad(h, (0, pad), mode="replicate")
        skips = []
        for level in self.down:  # each level: ModuleList [block1, block2, downsample]
            block1, block2, downsample = cast(nn.ModuleList, level)
            h = block2(block1(h, film), film)
            skips.append(h)
            h = downsample(h)
        for block in self.mid:
            h = block(h, film)
        for level in self.up:  # each level: ModuleList [block1, block2, upsample]
            block1, block2, upsample = cast(nn.ModuleList, level)
            h = torch.cat([h, skips.pop()], dim=1)
            h = upsample(block2(block1(h, film), film))
        out: torch.Tensor = self.final(h)
        return out[..., :H].transpose(1, 2)


# ---------------------------------------------------------------------------------------------- Transformer


class TransformerDenoiser(nn.Module):
    """Pre-norm transformer encoder over [time token, obs token, H action tokens] with learned positions."""

    def __init__(
        self,
        act_dim: int,
        cond_dim: int,
        horizon: int,
        d_model: int = 128,
        n_heads: int = 4,
        n_layers: int = 4,
        dropout: float = 0.1,
        time_embed_dim: int = 64,
    ):
        super().__init__()
        self.act_dim, self.cond_dim, self.horizon = act_dim, cond_dim, horizon
        self.time_encoder = nn.Sequential(time_mlp(time_embed_dim), nn.Linear(time_embed_dim, d_model))
        self.cond_proj = nn.Linear(cond_dim, d_model)
        self.action_proj = nn.Linear(act_dim, d_model)
        self.pos = nn.Parameter(torch.zeros(1, horizon + 2, d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 4 * d_model, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, act_dim))

    def forward(self, x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, H, act_dim), time: (B,), cond: (B, cond_dim) -> (B, H, act_dim)."""
        B = x.shape[0]
        assert x.shape[1:] == (self.horizon, self.act_dim), (
            f"x must be (B, {self.horizon}, {self.act_dim}), got {tuple(x.shape)}"
        )
        assert time.shape == (B,), f"time must be (B={B},), got {tuple(time.shape)}"
        assert cond.shape == (B, self.cond_dim), f"cond must be (B={B}, {self.cond_dim}), got {tuple(cond.shape)}"
        tokens = torch.cat(
            [self.time_encoder(time)[:, None], self.cond_proj(cond)[:, None], self.action_proj(x)], dim=1
        )  # (B, H + 2, d_model)
        h = self.encoder(tokens + self.pos)
        out: torch.Tensor = self.head(h[:, 2:])
        return out
