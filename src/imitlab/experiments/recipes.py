"""Settings that work for each (env, policy) pair on a 2-core CPU: what `imitlab train` applies to a dataset of a
built-in env (``resolve_recipe``), and what the demo and the studies train (``studies.rows.recipe_spec``).

Each recipe is (policy config overrides, train config overrides); anything not named takes the policy's and
TrainConfig's defaults. A recipe names every field whose measured value differs from the policy's default, so a
change of default never changes what a recipe trains. Changing a number here changes the figures the README
quotes: rerun `make demo`. `imitlab recipes` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imitlab.core.errors import ImitlabError
from imitlab.data.reader import read_info
from imitlab.policies.base import get_policy_class
from imitlab.training.train import TrainConfig

Recipe = tuple[dict[str, Any], dict[str, Any]]

DEMOS = {"pendulum": 50, "two-path": 100}  # demonstrations per env in the demo

# Diffusion and flow: Chi et al.'s U-Net at CPU width, with H = 8 / 4 executed (H = 16 / 8 trains ~25% slower
# for no gain on these short-horizon tasks); both reach their figures in 2500 steps.
_DENOISER = ({"horizon": 8, "n_action_steps": 4}, {"steps": 2500})
# ACT as the paper runs it: beta 10 on the KL and z = 0 at inference (the policy's defaults are the two-path
# recipe's latent instead, docs/heads.md "Defaults"); the Pendulum and PushT recipes were measured with these
_ACT_PAPER_LATENT = {"kl_weight": 10.0, "inference_z": "zero"}

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
        {
            "horizon": 8,
            "n_action_steps": 4,
            "d_model": 64,
            "dim_feedforward": 256,
            "dropout": 0.0,
            "loss": "l2",
            **_ACT_PAPER_LATENT,
        },
        {"steps": 3000, "lr": 1e-3},
    ),
    # Decision Transformer on mixed-quality data (MIXED_EPSILONS below), context K = 10 steps
    ("pendulum", "dt"): ({"n_obs_steps": 10}, {"steps": 3000}),
}
# Camera variants of the demo's envs: camera env -> the state env whose task it shows, whose recipes it starts from
# and whose demonstration count it trains on (``demos_for``)
PIXEL_VARIANTS = {"two-path-pixels": "two-path"}
# The tiny CNN on the whole 64 x 64 frame: a random crop would shift the frame by up to 8 px (~0.4 units of the
# 3-unit arena), and where the robot is in the frame is all the policy knows of its position
PIXEL_VISION = {"vision": {"backbone": "tiny", "crop_shape": None}}
# Each head's two-path recipe unchanged, with PIXEL_VISION in front. Measured from pixels (docs/heads.md): diffusion,
# flow and bc; the other heads train and evaluate (tests), their success from pixels has not been measured. The
# encoder costs ~3 ms of single-threaded CPU per frame in a batch (CAMERA_FRAME_MILLISECONDS).
RECIPES.update(
    {
        (pixels, head): ({**policy_fields, **PIXEL_VISION}, dict(train_fields))
        for pixels, state_env in PIXEL_VARIANTS.items()
        for (env, head), (policy_fields, train_fields) in list(RECIPES.items())
        if env == state_env
    }
)
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
        ("pusht", "act"): ({**_PUSHT_CHUNK, **_ACT_PAPER_LATENT}, {"steps": 12000, "batch_size": 64}),
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
    ("pusht", "act"): ({**_PUSHT_CHUNK, **_ACT_PAPER_LATENT, "d_model": 512, "dim_feedforward": 3200}, _PAPER_TRAIN),
}
# pusht-keypoints is the same task observed as the paper observes it (9 block keypoints + agent x, y): same recipes
for _table in (RECIPES, FULL_SCALE):
    _table.update({("pusht-keypoints", head): r for (env, head), r in list(_table.items()) if env == "pusht"})
# PushT from images (pusht-pixels: agent x, y + the 96 x 96 frame), diffusion as the paper's image policy: random
# 84 x 84 crops. CPU: the tiny trunk (~300 ms of CPU per batch-64 step on 1 thread, EMA included; "small" takes
# ~700, ResNet-18 ~2400), so 15k steps train in <= 90 minutes. Full scale: LeRobot's diffusion_pusht (ResNet-18
# with GroupNorm, spatial softmax with 32 keypoints, U-Net (512, 1024, 2048), time embedding 128, DDPM 100, batch
# 64, 200k steps).
_PUSHT_CROP = {"crop_shape": (84, 84)}
RECIPES[("pusht-pixels", "diffusion")] = (
    {**_PUSHT_UNET, "vision": {"backbone": "tiny", **_PUSHT_CROP}},
    {"steps": 15000, "batch_size": 64, "warmup_steps": 500, "ema_decay": 0.999},
)
FULL_SCALE[("pusht-pixels", "diffusion")] = (
    {
        **_PUSHT_CHUNK,
        "down_dims": (512, 1024, 2048),
        "time_embed_dim": 128,
        "sampler": "ddpm",
        "num_inference_steps": 100,
        "vision": {"backbone": "resnet18", **_PUSHT_CROP},
    },
    {**_PAPER_TRAIN, "steps": 200000, "batch_size": 64},
)


# single-threaded CPU milliseconds per training step of each head at its recipe's size (the demo's metrics.jsonl on
# a 2-core machine; the MLP heads take ~6); used only to start the longest trainings first
STEP_MILLISECONDS = {"diffusion": 86, "flow": 85, "tokenized": 56, "act": 50}
# a camera run adds, per 64 x 64 frame its batch holds (batch_size x n_obs_steps), the small CNN's forward and
# backward pass: ~3 ms (metrics.jsonl of a few single-threaded two-path-pixels steps on their recipes, 2 cores under
# load: bc, 256 frames, ~0.75 s per step; diffusion, 64 x 2 frames, ~0.35 s)
CAMERA_FRAME_MILLISECONDS = 3


def expected_train_seconds(
    policy: str, train_overrides: dict[str, Any], policy_overrides: dict[str, Any] | None = None
) -> float:
    """A rough single-threaded training time, for ordering runs longest first; a run with a visual encoder
    (``vision`` in ``policy_overrides``) also pays for each frame of its batches."""
    milliseconds = STEP_MILLISECONDS.get(policy, 6)
    policy_overrides = policy_overrides or {}
    if "vision" in policy_overrides:
        policy_class = get_policy_class(policy)
        batch_size = train_overrides.get(
            "batch_size", policy_class.train_defaults.get("batch_size", TrainConfig.batch_size)
        )
        n_obs_steps = policy_overrides.get("n_obs_steps", policy_class.config_class.n_obs_steps)
        milliseconds += CAMERA_FRAME_MILLISECONDS * batch_size * n_obs_steps
    return milliseconds * train_overrides.get("steps", 3000) / 1000


def demos_for(env: str) -> int:
    """Demonstrations a study trains ``env``'s recipes on: ``DEMOS``, or its state env's for a camera variant."""
    return DEMOS[PIXEL_VARIANTS.get(env, env)]


def recipe(env: str, policy: str) -> Recipe:
    """The tuned settings for ``policy`` on ``env`` (empty overrides where none are recorded)."""
    policy_overrides, train_overrides = RECIPES.get((env, policy), ({}, {}))
    return dict(policy_overrides), dict(train_overrides)


class RecipeError(ImitlabError):
    """A request for recipes that names none (unknown policy or env)."""


@dataclass(frozen=True)
class Resolved:
    """The settings of one training run: the recipe for (env, policy), if any, under the caller's explicit
    overrides. ``policy_overrides`` / ``train_overrides`` are what to train with."""

    env: str | None
    policy: str
    policy_overrides: dict[str, Any]
    train_overrides: dict[str, Any]
    recipe: str | None = None  # "ENV/POLICY" when a recipe applied
    # the recipe's (policy, train) fields that took effect
    from_recipe: Recipe = field(default_factory=lambda: ({}, {}))
    overridden: tuple[str, ...] = ()  # recipe fields the explicit overrides replaced
    disabled: bool = False  # a recipe was turned off (--no-recipe)

    def record(self) -> dict[str, Any]:
        """What config.json keeps under "recipe": its name (None without one) and the fields it set."""
        policy_fields, train_fields = self.from_recipe
        return {
            "name": self.recipe,
            "policy_config": policy_fields,
            "train_config": train_fields,
            "overridden": list(self.overridden),
        }

    def summary(self) -> str:
        """One line for the user: which fields the recipe set and how to turn it off."""
        if self.recipe is None:
            where = f"{self.policy} on {self.env!r} data" if self.env else f"{self.policy} on data without an env"
            why = "recipe turned off (--no-recipe)" if self.disabled else f"no tuned recipe for {where}"
            return f"{why}: the policy's defaults and your flags (`imitlab recipes` lists the tuned ones)"
        fields = " ".join(f"{k}={v}" for k, v in {**self.from_recipe[0], **self.from_recipe[1]}.items())
        kept = f"; your flags kept for {', '.join(self.overridden)}" if self.overridden else ""
        return (
            f"recipe {self.recipe}: {fields or '(no fields left)'}{kept}; --no-recipe trains with the policy's defaults"
        )


def resolve_recipe(
    env: str | None,
    policy: str,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Resolved:
    """``policy``'s recipe on ``env`` (when there is one and ``enabled``) with the explicit overrides on top: the one
    place where `imitlab train`, the studies and the demo turn a recipe into training settings."""
    policy_overrides, train_overrides = dict(policy_overrides or {}), dict(train_overrides or {})
    if not enabled or (env, policy) not in RECIPES:
        return Resolved(
            env, policy, policy_overrides, train_overrides, disabled=not enabled and (env, policy) in RECIPES
        )
    assert env is not None  # every RECIPES key names an env, so env=None returned above
    recipe_policy, recipe_train = recipe(env, policy)
    overridden = (
        *(k for k in recipe_policy if k in policy_overrides),
        *(k for k in recipe_train if k in train_overrides),
    )
    return Resolved(
        env,
        policy,
        {**recipe_policy, **policy_overrides},
        {**recipe_train, **train_overrides},
        recipe=f"{env}/{policy}",
        from_recipe=(
            {k: v for k, v in recipe_policy.items() if k not in policy_overrides},
            {k: v for k, v in recipe_train.items() if k not in train_overrides},
        ),
        overridden=overridden,
    )


def resolve_for_dataset(
    data: str | Path,
    policy: str,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Resolved:
    """``resolve_recipe`` for the env the dataset at ``data`` was recorded on (its info.json ``robot_type``)."""
    return resolve_recipe(read_info(data).get("robot_type"), policy, policy_overrides, train_overrides, enabled)


def format_recipes(policy: str | None = None, env: str | None = None) -> str:
    """The recipes as text, grouped by policy, one line per env: policy fields, then training fields."""
    chosen = [(e, p) for e, p in RECIPES if (policy is None or p == policy) and (env is None or e == env)]
    if not chosen:
        asked = " on ".join(f"{kind} {name!r}" for kind, name in (("policy", policy), ("env", env)) if name)
        raise RecipeError(
            f"no recipe for {asked}; policies with recipes: {', '.join(sorted({p for _, p in RECIPES}))}; "
            f"envs with recipes: {', '.join(sorted({e for e, _ in RECIPES}))}"
        )
    width = max(len(e) for e, _ in chosen)
    lines = []
    for name in sorted({p for _, p in chosen}):
        lines.append(name)
        for e, _ in sorted(k for k in chosen if k[1] == name):
            policy_fields, train_fields = recipe(e, name)
            text = " ".join(f"{k}={v}" for k, v in policy_fields.items()) or "(the policy's defaults)"
            lines.append(f"  {e:<{width}}  {text}; train: {' '.join(f'{k}={v}' for k, v in train_fields.items())}")
    return "\n".join(lines)
