"""Action Chunking with Transformers (ACT; Zhao et al. 2023, "Learning Fine-Grained Bimanual Manipulation with
Low-Cost Hardware"): a conditional VAE whose decoder is a transformer that outputs the whole action chunk.

    encoder (training only): [CLS, obs token, H action tokens] -> transformer -> CLS output -> (mu, log sigma^2)
    z = mu + sigma * eps, eps ~ N(0, I)                                   (reparameterisation, latent_dim numbers)
    decoder: encoder tokens [proj(z), proj(obs)] -> transformer encoder -> memory;
             H learned queries attend to the memory -> transformer decoder -> Linear -> chunk (B, H, act_dim)
    L = | a - a_hat |_1 (mean over non-padded steps, normalised units)                 (ACT Alg. 1, L_reconst)
        + kl_weight * KL( N(mu, sigma^2) || N(0, I) )                                    (ACT Alg. 1, beta L_reg)
    KL  = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2), summed over the latent, averaged over the batch
The paper decodes z = 0 (the prior mean), so predict_chunk is deterministic (ACT Alg. 2; ``inference_z="zero"``);
the default, ``inference_z="prior"``, draws z ~ N(0, I) from the generator, so the decoder can produce more than
one chunk per observation. Temporal ensembling of overlapping chunks is the chunk executor's job, not the policy's.

Defaults that differ from the paper's (kl_weight 10, z = 0), because those failed on two-path (docs/heads.md,
"Defaults"): kl_weight 0.1, so that the latent carries the mode, and z drawn from the prior.

Differences from the paper, for a CPU-sized low-dimensional setting: no images (the observation history is one
linear token), learned positions throughout, pre-norm layers, and the queries are fed as the decoder input
instead of DETR-style zeros plus a query position added in every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy, PolicyConfig, masked_mean, register_policy
from imitlab.policies.draws import TorchDraws
from imitlab.sampling import loops


@dataclass(frozen=True)
class ACTConfig(PolicyConfig):
    """Action Chunking with Transformers (Zhao et al. 2023): a CVAE whose decoder is a transformer."""

    # --- chunking ---
    horizon: int = 16  # H: actions per chunk (the paper uses 100 at 50 Hz)
    n_action_steps: int = 8  # actions executed before re-planning (1 with temporal ensembling)
    action_norm: str = "mean_std"  # ACT standardises actions
    # --- network ---
    latent_dim: int = 32  # z (paper: 32)
    d_model: int = 128  # transformer width (paper: 512), sized for CPU
    n_heads: int = 4  # attention heads (must divide d_model)
    dim_feedforward: int = 512  # feed-forward width inside each layer (paper: 3200)
    n_vae_encoder_layers: int = 2  # CVAE encoder layers (training only)
    n_encoder_layers: int = 2  # decoder side: transformer encoder over [z, obs]
    n_decoder_layers: int = 2  # decoder side: transformer decoder over the H queries
    dropout: float = 0.1  # dropout in every transformer layer
    # --- loss and sampling ---
    kl_weight: float = 0.1  # beta on the KL term (paper: 10, where the latent collapsed on two-path)
    loss: str = "l1"  # reconstruction: "l1" (paper) or "l2"
    inference_z: str = "prior"  # "prior": z ~ N(0, I) from the generator; "zero": z = 0, the prior mean (paper)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_dim < 1:
            raise InvalidInputError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.d_model < 1 or self.n_heads < 1 or self.d_model % self.n_heads:
            raise InvalidInputError(
                f"d_model must be a positive multiple of n_heads, got d_model {self.d_model}, n_heads {self.n_heads}"
            )
        if self.dim_feedforward < 1:
            raise InvalidInputError(f"dim_feedforward must be >= 1, got {self.dim_feedforward}")
        for field in ("n_vae_encoder_layers", "n_encoder_layers", "n_decoder_layers"):
            if getattr(self, field) < 1:
                raise InvalidInputError(f"{field} must be >= 1, got {getattr(self, field)}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.kl_weight < 0:
            raise InvalidInputError(f"kl_weight must be >= 0, got {self.kl_weight}")
        if self.loss not in ("l1", "l2"):
            raise InvalidInputError(f"loss must be 'l1' or 'l2', got {self.loss!r}")
        if self.inference_z not in ("zero", "prior"):
            raise InvalidInputError(f"inference_z must be 'zero' (paper) or 'prior', got {self.inference_z!r}")


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) for mu, logvar (B, latent_dim): summed over the latent
    dimensions, averaged over the batch (Kingma & Welling 2014, appendix B)."""
    assert mu.shape == logvar.shape and mu.ndim == 2, (
        f"mu, logvar must be (B, latent_dim), got {tuple(mu.shape)}, {tuple(logvar.shape)}"
    )
    return (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(-1).mean()


def _encoder(c: ACTConfig, n_layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        c.d_model, c.n_heads, c.dim_feedforward, c.dropout, activation="relu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(c.d_model), enable_nested_tensor=False)


@register_policy
class ACTPolicy(Policy):
    name = "act"
    config_class = ACTConfig
    step_milliseconds = 50.0
    runtime_head = "act"
    # CPU-sized (paper: AdamW lr 1e-5, weight decay 1e-4, batch 8, for far larger models and image inputs)
    train_defaults = {"lr": 3e-4, "batch_size": 64, "weight_decay": 1e-4}

    def __init__(self, config: ACTConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.config: ACTConfig = config
        c = config
        cond_dim, d = self.cond_dim, c.d_model

        # CVAE encoder q(z | a, o): [CLS, obs, a_1..a_H] -> (mu, log sigma^2) from the CLS output
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.vae_obs_proj = nn.Linear(cond_dim, d)
        self.vae_action_proj = nn.Linear(c.act_dim, d)
        self.vae_pos = nn.Parameter(torch.zeros(1, c.horizon + 2, d))
        self.vae_encoder = _encoder(c, c.n_vae_encoder_layers)
        self.latent_out = nn.Linear(d, 2 * c.latent_dim)

        # CVAE decoder p(a | z, o): encoder over [z, obs], decoder over H learned queries
        self.latent_proj = nn.Linear(c.latent_dim, d)
        self.obs_proj = nn.Linear(cond_dim, d)
        self.memory_pos = nn.Parameter(torch.zeros(1, 2, d))
        self.encoder = _encoder(c, c.n_encoder_layers)
        self.queries = nn.Parameter(torch.zeros(1, c.horizon, d))
        layer = nn.TransformerDecoderLayer(
            d, c.n_heads, c.dim_feedforward, c.dropout, activation="relu", batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, c.n_decoder_layers, norm=nn.LayerNorm(d))
        self.action_head = nn.Linear(d, c.act_dim)
        for p in (self.cls_token, self.vae_pos, self.memory_pos, self.queries):
            nn.init.normal_(p, std=0.02)

    def _condition(self, obs: Observation) -> torch.Tensor:
        """obs (B, T_obs, obs_dim) in env units -> flattened normalised history (B, T_obs * obs_dim)."""
        return self.encode_observation(obs)

    def encode(
        self, cond: torch.Tensor, action: torch.Tensor, action_is_pad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | a, o): cond (B, cond_dim), normalised action (B, H, act_dim), action_is_pad (B, H) ->
        mu, logvar (B, latent_dim). Padded action tokens are masked out of attention."""
        B = cond.shape[0]
        tokens = torch.cat(
            [self.cls_token.expand(B, -1, -1), self.vae_obs_proj(cond)[:, None], self.vae_action_proj(action)], dim=1
        )  # (B, H + 2, d_model)
        key_padding = torch.cat([torch.zeros(B, 2, dtype=torch.bool, device=cond.device), action_is_pad], dim=1)
        h = self.vae_encoder(tokens + self.vae_pos, src_key_padding_mask=key_padding)
        mu, logvar = self.latent_out(h[:, 0]).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, cond: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """p(a | z, o): cond (B, cond_dim), z (B, latent_dim) -> normalised chunk (B, H, act_dim)."""
        B = cond.shape[0]
        memory = torch.stack([self.latent_proj(z), self.obs_proj(cond)], dim=1) + self.memory_pos  # (B, 2, d)
        memory = self.encoder(memory)
        h = self.decoder(self.queries.expand(B, -1, -1), memory)  # (B, H, d_model), full attention over queries
        chunk: torch.Tensor = self.action_head(h)
        return chunk

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        action, is_pad = self.chunk_targets(batch)
        cond = self._condition(batch[keys.OBS])
        target = self.action_normalizer.normalize(action)
        mu, logvar = self.encode(cond, target, is_pad)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # reparameterisation
        error = self.decode(cond, z) - target
        reconstruction = masked_mean(error.abs() if c.loss == "l1" else error**2, is_pad)
        kl = kl_to_standard_normal(mu, logvar)
        loss = reconstruction + c.kl_weight * kl
        return loss, {c.loss: float(reconstruction.detach()), "kl": float(kl.detach())}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        cond = self._condition(obs)
        # z = 0, the prior mean (ACT Alg. 2), or a draw from the prior p(z) = N(0, I): the CVAE as a generative
        # model (Sohn et al. 2015)
        draws = TorchDraws(generator, cond.device)
        z = loops.cvae_latent(draws, (cond.shape[0], self.config.latent_dim), self.config.inference_z, cond)
        return self.action_normalizer.unnormalize(self.decode(cond, z))

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        return {"decoder": self.decode}

    def sampler_settings(self) -> dict[str, Any]:
        return {"inference_z": self.config.inference_z}
