"""Settings that work for each (env, policy) pair on a 2-core CPU: what `imitlab train` applies to a dataset of a
built-in env (``resolve_recipe``), and what the demo and the studies train (``studies.rows.recipe_spec``).

Each env declares its recipes on its ``EnvSpec`` (``recipes``, ``full_scale_recipes``: head -> (policy config
overrides, train config overrides)); this module reads them through the env registry, so a new env or head needs no
edit here. Settings resolve in layers (``core.settings.resolve_layers``): the policy's defaults < the env's recipe <
the caller's flags and ``--set``. `imitlab recipes` prints the recipes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imitlab.core.errors import ImitlabError
from imitlab.core.registry import UnknownNameError
from imitlab.core.settings import Layered, resolve_layers
from imitlab.data.reader import read_info
from imitlab.envs.registry import ENV_SETS, ENVS, Recipe, expand_envs, get_env_spec
from imitlab.policies.base import get_policy_class
from imitlab.policies.encoders import VisionConfig
from imitlab.training.train import TrainConfig

SCALES = ("cpu", "full")  # which of an env's recipe tables: EnvSpec.recipes, EnvSpec.full_scale_recipes

# a camera run adds, per 64 x 64 frame its batch holds (batch_size x n_obs_steps), the small CNN's forward and
# backward pass: ~3 ms (metrics.jsonl of a few single-threaded two-path-pixels steps on their recipes, 2 cores under
# load: bc, 256 frames, ~0.75 s per step; diffusion, 64 x 2 frames, ~0.35 s)
CAMERA_FRAME_MILLISECONDS = 3


def recipe_table(scale: str = "cpu") -> dict[tuple[str, str], Recipe]:
    """Every (env, head) -> recipe the registered envs declare at ``scale`` ("cpu" or "full"), in registration
    order."""
    if scale not in SCALES:
        raise RecipeError(f"unknown recipe scale {scale!r}; scales: {', '.join(SCALES)}")
    return {
        (env, head): r
        for env, spec in ENVS.items()
        for head, r in (spec.recipes if scale == "cpu" else spec.full_scale_recipes).items()
    }


def study_envs() -> list[str]:
    """The envs the built-in studies and the demo train on (those declaring ``study_demos``), in registration order."""
    return [name for name, spec in ENVS.items() if spec.study_demos is not None]


def camera_variants() -> dict[str, str]:
    """Camera env -> the study env whose task it shows (``EnvSpec.variant_of``); the full-scale studies run them."""
    return {name: spec.variant_of for name, spec in ENVS.items() if spec.variant_of in study_envs()}


def expected_train_seconds(
    policy: str, train_overrides: Mapping[str, Any], policy_overrides: Mapping[str, Any] | None = None
) -> float:
    """A rough single-threaded training time, for ordering runs longest first (the policy's
    ``step_milliseconds``); a run with a visual encoder (``vision`` in ``policy_overrides``) also pays for each
    frame of its batches."""
    policy_class = get_policy_class(policy)
    milliseconds = policy_class.step_milliseconds
    policy_overrides = policy_overrides or {}
    if "vision" in policy_overrides:
        batch_size = train_overrides.get(
            "batch_size", policy_class.train_defaults.get("batch_size", TrainConfig.batch_size)
        )
        n_obs_steps = policy_overrides.get("n_obs_steps", policy_class.config_class.n_obs_steps)
        milliseconds += CAMERA_FRAME_MILLISECONDS * batch_size * n_obs_steps
    return milliseconds * train_overrides.get("steps", 3000) / 1000


def demos_for(env: str) -> int:
    """Demonstrations a study trains ``env``'s recipes on: its ``study_demos``, or its state env's for a camera
    variant."""
    spec = get_env_spec(env)
    demos = spec.study_demos if spec.variant_of is None else get_env_spec(spec.variant_of).study_demos
    if demos is None:
        raise RecipeError(f"env {env!r} is not one of the studies' envs ({', '.join(study_envs())}): give --demos")
    return demos


def recipe(env: str, policy: str, scale: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """The tuned settings for ``policy`` on ``env`` (empty overrides where none are recorded); copies. The env's
    settings for every head lie under its head's recipe. ``env`` may also name several envs, as a multi-task
    dataset records them (an env set, or names joined by commas): they get their envs' recipe when all of them
    declare the same one."""
    found = [_own_recipe(name, policy, scale) for name in _named_envs(env)]
    if not found or any(each != found[0] for each in found):
        return {}, {}
    return found[0]


def _own_recipe(env: str, policy: str, scale: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = get_env_spec(env)
    table = spec.recipes if scale == "cpu" else spec.full_scale_recipes
    every_policy, every_train = spec.recipe_for_every_head if scale == "cpu" else ({}, {})
    policy_overrides, train_overrides = table.get(policy, ({}, {}))
    return {**every_policy, **policy_overrides}, {**every_train, **train_overrides}


def _named_envs(env: str) -> list[str]:
    """The registered envs ``env`` names: itself, an env set's envs or a comma-separated list's; none for data of
    no built-in env."""
    if env in ENVS:
        return [env]
    try:
        return expand_envs(env) if env in ENV_SETS or "," in env else []
    except UnknownNameError:
        return []


class RecipeError(ImitlabError):
    """A request for recipes that names none (unknown policy or env)."""


FLAGS = "flags"  # the layer of the caller's explicit settings (command-line flags and --set)


@dataclass(frozen=True)
class Resolved:
    """The settings of one training run: the recipe for (env, policy), if any, under the caller's explicit
    overrides. ``policy_overrides`` / ``train_overrides`` are what to train with (the policy's own defaults apply
    under them); ``layers`` tells which layer set each field, the policy's ``train_defaults`` included."""

    env: str | None
    policy: str
    policy_overrides: dict[str, Any]
    train_overrides: dict[str, Any]
    recipe: str | None = None  # "ENV/POLICY" when a recipe applied
    # the recipe's (policy, train) fields that took effect
    from_recipe: tuple[dict[str, Any], dict[str, Any]] = field(default_factory=lambda: ({}, {}))
    overridden: tuple[str, ...] = ()  # recipe fields the explicit overrides replaced
    disabled: bool = False  # a recipe was turned off (--no-recipe)
    layers: Layered = field(default_factory=Layered)  # every field -> the layer that set it

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
        """Lines for the user: which layer set each field, and how to turn the recipe off."""
        if self.recipe is None:
            where = f"{self.policy} on {self.env!r} data" if self.env else f"{self.policy} on data without an env"
            why = "recipe turned off (--no-recipe)" if self.disabled else f"no tuned recipe for {where}"
            head = f"{why}: the policy's defaults and your flags (`imitlab recipes` lists the tuned ones)"
        else:
            kept = f"; your flags kept for {', '.join(self.overridden)}" if self.overridden else ""
            head = f"recipe {self.recipe}{kept}; --no-recipe trains with the policy's defaults"
        described = self.layers.describe()
        return f"{head}\n  settings by layer: {described}" if described else head


def has_recipe(env: str | None, policy: str) -> bool:
    """Whether ``env`` (a registered env, or the envs of a multi-task dataset) has a recipe for ``policy``."""
    return env is not None and any(recipe(env, policy))


def resolve_recipe(
    env: str | None,
    policy: str,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Resolved:
    """``policy``'s recipe on ``env`` (when there is one and ``enabled``) with the explicit overrides on top: the one
    place where `imitlab train`, the studies and the demo turn a recipe into training settings. The layers, lowest
    first: the policy's ``train_defaults``, the recipe, the explicit overrides."""
    policy_overrides, train_overrides = dict(policy_overrides or {}), dict(train_overrides or {})
    applies = enabled and has_recipe(env, policy)
    recipe_policy, recipe_train = recipe(env, policy) if applies and env is not None else ({}, {})
    name = f"recipe {env}/{policy}"
    layers = resolve_layers(
        (f"{policy} defaults", get_policy_class(policy).train_defaults),
        (name, {**recipe_policy, **recipe_train}),
        (FLAGS, {**policy_overrides, **train_overrides}),
    )
    if not applies:
        return Resolved(
            env,
            policy,
            policy_overrides,
            train_overrides,
            disabled=not enabled and has_recipe(env, policy),
            layers=layers,
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
        overridden=(
            *(k for k in recipe_policy if k in policy_overrides),
            *(k for k in recipe_train if k in train_overrides),
        ),
        layers=layers,
    )


def resolve_for_dataset(
    data: str | Path,
    policy: str,
    policy_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Resolved:
    """``resolve_recipe`` for the env the dataset at ``data`` was recorded on (its info.json ``robot_type``), with
    the visual encoder's crop fitted to the dataset's frames when neither the recipe nor the caller set one and the
    default crop would not fit (``fit_crop``)."""
    info = read_info(data)
    settings = resolve_recipe(info.get("robot_type"), policy, policy_overrides, train_overrides, enabled)
    fitted = fit_crop(info, settings.policy_overrides)
    if fitted is None:
        return settings
    layer = {"vision": fitted}
    earlier = dict.fromkeys(settings.layers.sources.values())
    layers = resolve_layers(
        *((name, settings.layers.from_layer(name)) for name in earlier), ("fitted to the data's frames", layer)
    )
    return dataclasses.replace(settings, policy_overrides={**settings.policy_overrides, **layer}, layers=layers)


CROP_FRACTION = 84 / 96  # the share of the frame a random crop keeps (Chi et al.: 84 of 96 pixels)


def fit_crop(info: dict[str, Any], policy_overrides: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``vision`` settings with a crop that fits the smallest camera frame of a dataset (``info``), when the
    default crop is larger than it and no crop was chosen; None when nothing needs fitting."""
    vision = dict(policy_overrides.get("vision") or {})
    frames = [
        tuple(feature["shape"][:2])
        for key, feature in info.get("features", {}).items()
        if isinstance(feature, dict) and feature.get("dtype") in ("video", "image")
    ]
    default = VisionConfig().crop_shape
    if not frames or "crop_shape" in vision or default is None:
        return None
    height, width = min(h for h, _ in frames), min(w for _, w in frames)
    if height >= default[0] and width >= default[1]:
        return None
    return {**vision, "crop_shape": (max(8, int(height * CROP_FRACTION)), max(8, int(width * CROP_FRACTION)))}


def format_recipes(policy: str | None = None, env: str | None = None) -> str:
    """The recipes as text, grouped by policy, one line per env: policy fields, then training fields; then the
    settings envs give every head, one line per env family."""
    table = recipe_table()
    chosen = [(e, p) for e, p in table if (policy is None or p == policy) and (env is None or e == env)]
    every_head = _every_head_lines(env)
    if not chosen and not every_head:
        asked = " on ".join(f"{kind} {name!r}" for kind, name in (("policy", policy), ("env", env)) if name)
        raise RecipeError(
            f"no recipe for {asked}; policies with recipes: {', '.join(sorted({p for _, p in table}))}; "
            f"envs with recipes: {', '.join(sorted({e for e, _ in table}))}"
        )
    width = max((len(e) for e, _ in chosen), default=0)
    lines = []
    for name in sorted({p for _, p in chosen}):
        lines.append(name)
        for e, _ in sorted(k for k in chosen if k[1] == name):
            lines.append(f"  {e:<{width}}  {_fields_text(*recipe(e, name))}")
    return "\n".join([*lines, *(["every head", *every_head] if every_head else [])])


def _every_head_lines(env: str | None) -> list[str]:
    """One line per env family (or env) whose envs give every head the same settings, for ``env`` or all."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, spec in ENVS.items():
        if any(spec.recipe_for_every_head) and env in (None, name):
            groups.setdefault((spec.family or name, _fields_text(*spec.recipe_for_every_head)), []).append(name)
    return [
        f"  {family} ({len(names)} envs)  {text}" if len(names) > 1 else f"  {names[0]}  {text}"
        for (family, text), names in groups.items()
    ]


def _fields_text(policy_fields: Mapping[str, Any], train_fields: Mapping[str, Any]) -> str:
    text = " ".join(f"{k}={v}" for k, v in policy_fields.items()) or "(the policy's defaults)"
    return f"{text}; train: {' '.join(f'{k}={v}' for k, v in train_fields.items())}" if train_fields else text
