"""Settings that work for each (env, policy) pair on a 2-core CPU, used by the demo and the studies.

Each recipe is (policy config overrides, train config overrides); anything not named takes the policy's and
TrainConfig's defaults. Changing a number here changes the figures the README quotes: rerun `make demo`.
"""

from __future__ import annotations

from typing import Any

Recipe = tuple[dict[str, Any], dict[str, Any]]

DEMOS = {"pendulum": 50, "two-path": 100}  # demonstrations per env in the demo

# Diffusion and flow: Chi et al.'s U-Net at CPU width, with H = 8 / 4 executed (H = 16 / 8 trains ~25% slower
# for no gain on these short-horizon tasks); both reach their figures in 2500 steps.
_DENOISER = ({"horizon": 8, "n_action_steps": 4}, {"steps": 2500})

RECIPES: dict[tuple[str, str], Recipe] = {
    ("pendulum", "bc"): ({}, {"steps": 3000}),
    ("pendulum", "chunked-bc"): ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
    ("pendulum", "gmm"): ({}, {"steps": 10000}),
    ("pendulum", "diffusion"): _DENOISER,
    ("pendulum", "flow"): _DENOISER,
    ("two-path", "bc"): ({}, {"steps": 3000}),
    ("two-path", "chunked-bc"): ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
    # the mixture needs longer than the regressors to separate its components (3000 steps: 74-84 %)
    ("two-path", "gmm"): ({}, {"steps": 10000}),
    ("two-path", "diffusion"): _DENOISER,
    ("two-path", "flow"): _DENOISER,
    # ACT at CPU width; two-path needs a latent that carries the detour (kl_weight 0.1; at the paper's 10 the KL
    # collapses below 0.001 and every rollout takes one detour) and z drawn from the prior at inference (z = 0
    # decodes one detour for every start): docs/heads.md, "act" on two-path
    ("two-path", "act"): (
        {
            "n_obs_steps": 2,
            "horizon": 8,
            "n_action_steps": 4,
            "d_model": 64,
            "dim_feedforward": 256,
            "kl_weight": 0.1,
            "inference_z": "prior",
        },
        {"steps": 2000},
    ),
    # tokens decoded one at a time and sampled (temperature 1): parallel argmax keeps one detour (71 %), parallel
    # sampling mixes detours within a chunk (25 %): docs/heads.md, "tokenized" on two-path
    ("two-path", "tokenized"): ({"autoregressive": True, "temperature": 1.0}, {"steps": 3000, "batch_size": 128}),
    # ACT on Pendulum needs the L2 reconstruction: with the paper's L1 every run stayed at 0-17 % (docs/heads.md)
    ("pendulum", "act"): (
        {"horizon": 8, "n_action_steps": 4, "d_model": 64, "dim_feedforward": 256, "dropout": 0.0, "loss": "l2"},
        {"steps": 3000, "lr": 1e-3},
    ),
    # Decision Transformer on mixed-quality data (MIXED_EPSILONS below), context K = 10 steps
    ("pendulum", "dt"): ({"n_obs_steps": 10}, {"steps": 3000}),
}
# the mixed-quality Pendulum data the dt recipe was measured on: `imitlab collect --epsilon 0 0.25 0.5 0.75 1`
# (episode i takes a uniformly random action with probability MIXED_EPSILONS[i % 5] at each step)
MIXED_EPSILONS = (0.0, 0.25, 0.5, 0.75, 1.0)


# PushT on the 90 human training demonstrations (docs/pusht.md), all heads in the paper's set-up: T_obs 2, H 16,
# 8 actions executed. CPU: sized so training fits in <= 60 min on 2 cores (single-threaded CPU time per step x
# steps <= ~50 min: `python benchmarks/pusht_table.py`). Measured on the paper's 50 test seeds (docs/pusht.md), on
# pusht-keypoints, training seeds 0 / 1: diffusion 0.864 / 0.792, flow 0.778 / 0.825, act 0.781 / 0.741,
# gmm 0.684 / 0.697, chunked-bc 0.598 / 0.620; on the 5-D state (seed 0): diffusion 0.707, flow 0.697,
# gmm 0.687, act 0.752, chunked-bc 0.494.
_PUSHT_CHUNK = {"n_obs_steps": 2, "horizon": 16, "n_action_steps": 8}
_PUSHT_UNET = {**_PUSHT_CHUNK, "down_dims": (32, 64, 128)}
RECIPES.update(
    {
        ("pusht", "diffusion"): (
            _PUSHT_UNET,
            {"steps": 20000, "batch_size": 64, "warmup_steps": 500, "ema_decay": 0.999},
        ),
        ("pusht", "flow"): (_PUSHT_UNET, {"steps": 20000, "batch_size": 64, "warmup_steps": 500, "ema_decay": 0.999}),
        ("pusht", "chunked-bc"): ({**_PUSHT_CHUNK, "hidden_dim": 512}, {"steps": 30000, "batch_size": 256}),
        ("pusht", "gmm"): ({**_PUSHT_CHUNK, "hidden_dim": 512}, {"steps": 30000, "batch_size": 256}),
        ("pusht", "act"): (_PUSHT_CHUNK, {"steps": 12000, "batch_size": 64}),
    }
)
# The paper's scale (Chi et al. 2023, pusht lowdim config): U-Net (256, 512, 1024), time embedding 256, AdamW lr
# 1e-4, weight decay 1e-6, batch 256, EMA, DDPM with 100 steps in training and at inference; 5000 epochs of the
# 90-episode split (~45 batches each) = ~225k steps. Needs a GPU (`pusht_table.py --scale full --device cuda`).
_PAPER_TRAIN = {
    "steps": 225000,
    "batch_size": 256,
    "lr": 1e-4,
    "weight_decay": 1e-6,
    "warmup_steps": 500,
    "ema_decay": 0.9999,
}
_PAPER_UNET = {**_PUSHT_CHUNK, "down_dims": (256, 512, 1024), "time_embed_dim": 256}
FULL_SCALE: dict[tuple[str, str], Recipe] = {
    ("pusht", "diffusion"): ({**_PAPER_UNET, "sampler": "ddpm", "num_inference_steps": 100}, _PAPER_TRAIN),
    ("pusht", "flow"): (_PAPER_UNET, _PAPER_TRAIN),
    ("pusht", "chunked-bc"): ({**_PUSHT_CHUNK, "hidden_dim": 1024, "num_layers": 4}, _PAPER_TRAIN),
    ("pusht", "gmm"): ({**_PUSHT_CHUNK, "hidden_dim": 1024, "num_layers": 4}, _PAPER_TRAIN),
    ("pusht", "act"): ({**_PUSHT_CHUNK, "d_model": 512, "dim_feedforward": 3200}, _PAPER_TRAIN),
}
# pusht-keypoints is the same task observed as the paper observes it (9 block keypoints + agent x, y): same recipes
for _table in (RECIPES, FULL_SCALE):
    _table.update({("pusht-keypoints", head): r for (env, head), r in list(_table.items()) if env == "pusht"})


# single-threaded CPU milliseconds per training step of each head at its recipe's size (the demo's metrics.jsonl on
# a 2-core machine; the MLP heads take ~6); used only to start the longest trainings first
STEP_MILLISECONDS = {"diffusion": 86, "flow": 85, "tokenized": 56, "act": 50}


def expected_train_seconds(policy: str, train_overrides: dict[str, Any]) -> float:
    """A rough single-threaded training time, for ordering runs longest first."""
    return STEP_MILLISECONDS.get(policy, 6) * train_overrides.get("steps", 3000) / 1000


def recipe(env: str, policy: str) -> Recipe:
    """The tuned settings for ``policy`` on ``env`` (empty overrides where none are recorded)."""
    policy_overrides, train_overrides = RECIPES.get((env, policy), ({}, {}))
    return dict(policy_overrides), dict(train_overrides)
