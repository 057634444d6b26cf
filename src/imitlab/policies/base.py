"""The policy interface every action generator implements, its config base, and the registry.

A policy is a ``torch.nn.Module`` that owns its normalisation statistics (as buffers), so that a checkpoint
alone can act. A training batch holds, by the names in ``core.keys``: ``observation.state`` (B, T_obs, obs_dim),
``action`` (B, H, act_dim), ``action_is_pad`` (B, H); ``predict_chunk`` takes the observation history ``obs``
(B, T_obs, obs_dim).

A policy with cameras (``PolicyConfig.image_shapes``) takes ``obs`` as a dict instead: ``observation.state``
(B, T_obs, obs_dim) and ``observation.images.<camera>`` (B, T_obs, 3, H, W) uint8. ``encode_observation`` turns
either form into the condition vector (B, cond_dim) every head reads: per step [image features of each camera
(a ``VisualEncoder``), normalised state], flattened over T_obs; without cameras it is the flattened normalised
state history, as before cameras existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.core.fields import check_field_types
from imitlab.core.limits import MAX_WIDTH, over
from imitlab.core.registry import Registry
from imitlab.policies.encoders import VisionConfig, VisualEncoder
from imitlab.policies.normalize import Normalizer

IMAGES_PREFIX = keys.IMAGES_PREFIX  # a camera's key is IMAGES_PREFIX + its name (LeRobot's naming)
CAMERA_FIELDS = ("image_shapes", "vision")  # PolicyConfig fields a state-only config.json leaves out
TASK_FIELDS = ("tasks", "task_embed_dim")  # PolicyConfig fields a single-task config.json leaves out

Observation = torch.Tensor | dict[str, torch.Tensor]  # (B, T_obs, obs_dim), or the dict form with cameras


# config fields that size a layer (checked against core.limits.MAX_WIDTH): every head's width fields
WIDTH_FIELDS = (
    "hidden_dim",
    "d_model",
    "dim_feedforward",
    "down_dims",
    "time_embed_dim",
    "latent_dim",
    "n_bins",
    "feature_dim",
    "task_embed_dim",
)


@dataclass(frozen=True)
class PolicyConfig:
    """Fields every policy shares. Subclasses add their own hyper-parameters, each with a working default."""

    obs_dim: int = 0  # filled from the dataset
    act_dim: int = 0  # filled from the dataset
    n_obs_steps: int = 1  # T_obs: observations the policy conditions on (the latest last)
    horizon: int = 1  # H: actions predicted per chunk
    n_action_steps: int = 1  # actions executed from each chunk before re-planning (receding horizon)
    obs_norm: str = "mean_std"  # "mean_std" or "min_max" (to [-1, 1])
    action_norm: str = "mean_std"  # "mean_std" or "min_max" (to [-1, 1]); generative heads use min_max
    # added to each state dimension's scale (its std, or half its range), in the state's own units, so a dimension
    # that barely moves in the demos (a resting object's physics jitter) is not magnified into a large input;
    # robomimic adds 1e-3 to every std. 0: the data's own scale
    obs_scale_floor: float = 0.0
    # camera key ("observation.images.<camera>") -> (H, W), filled from the dataset; empty = state only
    image_shapes: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    vision: VisionConfig = VisionConfig()  # how camera frames become features (unused without cameras)
    # the task strings of a multi-task policy (the dataset's task table, in its order), filled from the dataset
    # when it has several; empty = one task, no conditioning
    tasks: tuple[str, ...] = ()
    task_embed_dim: int = 16  # width of the learned task embedding (unused with one task)

    def __post_init__(self) -> None:
        check_field_types(self)  # a --set value or an edited config.json of the wrong type, named
        for field in WIDTH_FIELDS:  # a config.json's sizes are checked before any weight is allocated
            widths = getattr(self, field, ())
            for width in widths if isinstance(widths, (tuple, list)) else (widths,):
                too_big = over(*MAX_WIDTH, width) if isinstance(width, int) else None
                if too_big:
                    raise InvalidInputError(f"{field} {too_big}")
        # config.json gives back lists and a plain dict: restore the tuples and the VisionConfig
        shapes = {str(key): tuple(int(n) for n in shape) for key, shape in dict(self.image_shapes).items()}
        object.__setattr__(self, "image_shapes", shapes)
        object.__setattr__(self, "tasks", tuple(self.tasks))
        if len(self.tasks) == 1 or len(set(self.tasks)) != len(self.tasks) or not all(self.tasks):
            raise InvalidInputError(
                f"tasks must be two or more distinct non-empty task strings (or none for one task), got {self.tasks}"
            )
        if self.tasks and self.task_embed_dim < 1:
            raise InvalidInputError(f"task_embed_dim must be >= 1, got {self.task_embed_dim}")
        if isinstance(self.vision, dict):
            fields = dict(self.vision)
            if fields.get("crop_shape") is not None:
                fields["crop_shape"] = tuple(fields["crop_shape"])
            object.__setattr__(self, "vision", VisionConfig(**fields))
        for key, shape in shapes.items():
            if keys.camera_name(key) is None or len(shape) != 2 or min(shape) < 1:
                raise InvalidInputError(
                    f"image_shapes must map '{IMAGES_PREFIX}<camera>' (no further dots) or '{keys.SINGLE_CAMERA}' "
                    f"to (H, W), got {key!r}: {shape}"
                )
            crop = self.vision.crop_shape
            if crop is not None and (crop[0] > shape[0] or crop[1] > shape[1]):
                raise InvalidInputError(
                    f"vision crop_shape {crop} is larger than camera {key!r}'s frames {shape}: set a smaller "
                    "crop, e.g. --set vision='{\"crop_shape\": [56, 56]}', or null to keep the whole frame"
                )
        if self.vision.shared and self.vision.crop_shape is None and len(set(shapes.values())) > 1:
            raise InvalidInputError(
                f"a shared visual encoder without a crop needs cameras of one size, got {shapes}: set "
                "vision crop_shape or shared false"
            )
        if self.n_obs_steps < 1:
            raise InvalidInputError(f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        if self.horizon < 1:
            raise InvalidInputError(f"horizon must be >= 1, got {self.horizon}")
        if not 1 <= self.n_action_steps <= self.horizon:
            raise InvalidInputError(
                f"n_action_steps must be in [1, horizon={self.horizon}], got {self.n_action_steps}; "
                "lower it or raise --chunk-size"
            )
        for field, value in (("obs_norm", self.obs_norm), ("action_norm", self.action_norm)):
            if value not in ("mean_std", "min_max"):
                raise InvalidInputError(f"{field} must be 'mean_std' or 'min_max', got {value!r}")
        if not self.obs_scale_floor >= 0:
            raise InvalidInputError(f"obs_scale_floor must be >= 0, got {self.obs_scale_floor}")

    def replace(self, **changes: Any) -> PolicyConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values; a state-only config leaves out the camera fields and a single-task one
        the task fields (as written before cameras and tasks existed)."""
        fields = dataclasses.asdict(self)
        left_out = (CAMERA_FIELDS if not self.image_shapes else ()) + (TASK_FIELDS if not self.tasks else ())
        for name in left_out:
            del fields[name]
        return fields


def check_transformer(d_model: int, n_heads: int, n_layers: int, dropout: float) -> None:
    """The config checks every transformer-based head shares: heads divide the width, at least one layer,
    dropout a probability."""
    if d_model < 1 or n_layers < 1 or n_heads < 1 or d_model % n_heads:
        raise InvalidInputError(
            f"d_model must be a multiple of n_heads and n_layers >= 1, got d_model {d_model}, "
            f"n_heads {n_heads}, n_layers {n_layers}"
        )
    if not 0.0 <= dropout < 1.0:
        raise InvalidInputError(f"dropout must be in [0, 1), got {dropout}")


class Policy(nn.Module):
    """Base class: subclasses set ``name`` and ``config_class`` and implement the two methods below."""

    name: ClassVar[str]
    config_class: ClassVar[type[PolicyConfig]] = PolicyConfig
    train_defaults: ClassVar[dict[str, Any]] = {}  # TrainConfig fields this policy wants by default (e.g. EMA)
    # single-threaded CPU milliseconds per training step at its recipes' size (the demo's metrics.jsonl on a 2-core
    # machine); used only to start a grid's longest trainings first
    step_milliseconds: ClassVar[float] = 6.0
    # the torch-free runtime's head that samples this policy from its exported graphs (``imitlab.deploy.manifest
    # .RUNTIME_HEADS``); None: the head cannot be exported
    runtime_head: ClassVar[str | None] = None
    # history beyond the observations that predict_chunk takes as keyword arguments (sequence policies such as
    # dt): keys.HISTORY_ACTION (B, T_obs, act_dim) executed actions, keys.HISTORY_RETURN_TO_GO (B, T_obs); the
    # chunk sampler and the chunk executor both provide them
    history_inputs: ClassVar[tuple[str, ...]] = ()
    takes_task: ClassVar[bool] = True  # whether it conditions on a multi-task dataset's task (else refuses one)

    def __init__(self, config: PolicyConfig, stats: dict[str, dict[str, Any]]):
        super().__init__()
        least_obs = 0 if config.image_shapes else 1  # a camera-only policy has a state of width 0
        if config.obs_dim < least_obs or config.act_dim < 1:
            raise InvalidInputError(
                f"config needs obs_dim >= {least_obs} and act_dim >= 1, got {config.obs_dim}, {config.act_dim}"
            )
        self.config = config
        self.obs_normalizer = Normalizer(stats[keys.OBS], config.obs_norm, config.obs_scale_floor)
        self.action_normalizer = Normalizer(stats[keys.ACTION], config.action_norm)
        self.cameras = tuple(config.image_shapes)  # camera keys, in the order their features are concatenated
        self.step_dim = config.obs_dim  # condition features per observation step
        if self.cameras:
            self.image_normalizer = ImageNormalizer([stats.get(key) for key in self.cameras])
            vision = config.vision
            # one encoder under "shared", or one per camera under the camera's name
            encoded = self.cameras[:1] if vision.shared else self.cameras
            self.image_encoders = nn.ModuleDict(
                {self._encoder_name(key): VisualEncoder(vision, config.image_shapes[key]) for key in encoded}
            )
            self.step_dim += len(self.cameras) * vision.feature_dim
        self.tasks = config.tasks  # the task strings of a multi-task policy; () for one task
        if self.tasks and not self.takes_task:
            raise InvalidInputError(
                f"{self.name} acts on one task's state alone, and this dataset has {len(self.tasks)} tasks: train "
                "it on one task, or pick a head that conditions on the task"
            )
        if self.tasks:  # a learned embedding per task, part of every step's condition
            self.task_embedding = nn.Embedding(len(self.tasks), config.task_embed_dim)
            self.step_dim += config.task_embed_dim
        # what obs holds besides the state (each camera's frames, the task index); any: obs comes as a dict
        self.extra_inputs = (*self.cameras, *((keys.TASK_INDEX,) if self.tasks else ()))
        self.dict_obs = bool(self.extra_inputs)
        self.cond_dim = config.n_obs_steps * self.step_dim  # the flattened condition encode_observation returns

    @property
    def device(self) -> torch.device:
        """Where the weights live (every policy's normaliser buffers included); callers move observations here and
        chunks back."""
        return self.obs_normalizer.shift.device

    @classmethod
    def from_config(cls, config: PolicyConfig, dataset_stats: dict[str, dict[str, Any]]) -> Policy:
        return cls(config, dataset_stats)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a batch in environment units: keys.OBS (B, T_obs, obs_dim), keys.ACTION
        (B, H, act_dim), keys.ACTION_IS_PAD (B, H). Padded steps must not contribute. Returns (loss, metrics)."""
        raise NotImplementedError

    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        """Action chunk (B, H, act_dim) in environment units for observation history obs (B, T_obs, obs_dim);
        stochastic policies draw from ``generator`` so a seeded generator makes sampling reproducible."""
        raise NotImplementedError

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        """The networks the runtime head (``runtime_head``) runs: graph name -> a callable on the inputs of that
        graph's signature (``deploy.manifest``), in eval mode; the visual encoder is exported separately."""
        raise NotImplementedError(f"{self.name} declares no runtime head: it cannot be exported")

    def sampler_settings(self) -> dict[str, Any]:
        """What the runtime head's sampling loop reads besides the graphs (deploy.json "sampler")."""
        return {}

    def chunk_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's action chunk (B, H, act_dim) and padding mask (B, H), checked against this config."""
        c = self.config
        action, is_pad = batch[keys.ACTION], batch[keys.ACTION_IS_PAD]
        B = action.shape[0]
        if tuple(action.shape) != (B, c.horizon, c.act_dim):
            raise InvalidInputError(
                f"{self.name}: action must be (B, {c.horizon}, {c.act_dim}), got {tuple(action.shape)}"
            )
        if tuple(is_pad.shape) != (B, c.horizon):
            raise InvalidInputError(f"{self.name}: action_is_pad must be (B, {c.horizon}), got {tuple(is_pad.shape)}")
        return action, is_pad

    def encode_steps(self, obs: Observation) -> torch.Tensor:
        """Observation history -> per-step condition features (B, T_obs, step_dim): [image features of each camera,
        task embedding, normalised state]. ``obs`` is a tensor (B, T_obs, obs_dim) for a single-task state-only
        policy, else a dict with ``observation.state``, each camera's frames (B, T_obs, 3, H, W) uint8 and, for a
        multi-task policy, ``task_index`` (B,) int64 (into ``tasks``). Frames are randomly cropped in training mode
        (from torch's global generator, which the trainer seeds) and centre-cropped in eval mode."""
        if isinstance(obs, torch.Tensor):
            if self.dict_obs:
                raise InvalidInputError(
                    f"{self.name} takes {', '.join(self.extra_inputs)} besides the state: obs must be a dict with "
                    f"'{keys.OBS}' and those keys, got a tensor of shape {tuple(obs.shape)}"
                )
            self.check_obs(obs)
            return self.obs_normalizer.normalize(obs)
        missing = [key for key in (keys.OBS, *self.extra_inputs) if key not in obs]
        if missing:
            raise InvalidInputError(f"{self.name}: obs has no {', '.join(missing)} (found: {', '.join(obs)})")
        state = obs[keys.OBS]
        self.check_obs(state)
        B, T = state.shape[:2]
        for key in self.cameras:
            frames = obs[key]
            if tuple(frames.shape) != (B, T, 3, *self.config.image_shapes[key]) or frames.dtype != torch.uint8:
                raise InvalidInputError(
                    f"{self.name}: {key} must be (B={B}, {T}, 3, {', '.join(map(str, self.config.image_shapes[key]))}) "
                    f"uint8, got {tuple(frames.shape)} {frames.dtype}"
                )
        task_index = self.check_task_index(obs[keys.TASK_INDEX], B) if self.tasks else None
        cameras = [obs[key] for key in self.cameras]
        return self.condition_steps(self.obs_normalizer.normalize(state), cameras, task_index)

    def check_task_index(self, task_index: torch.Tensor, batch: int) -> torch.Tensor:
        """``task_index`` (B,) integers in [0, len(tasks)), else an InvalidInputError naming what it got."""
        if tuple(task_index.shape) != (batch,) or task_index.is_floating_point() or task_index.dtype == torch.bool:
            raise InvalidInputError(
                f"{self.name}: {keys.TASK_INDEX} must be (B={batch},) integers, got {tuple(task_index.shape)} "
                f"{task_index.dtype}"
            )
        if len(task_index) and (int(task_index.min()) < 0 or int(task_index.max()) >= len(self.tasks)):
            raise InvalidInputError(
                f"{self.name}: {keys.TASK_INDEX} must index its {len(self.tasks)} tasks, got values from "
                f"{int(task_index.min())} to {int(task_index.max())}"
            )
        return task_index.long()

    def condition_steps(
        self, state: torch.Tensor, frames: Sequence[torch.Tensor], task_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised state history (B, T_obs, obs_dim), each camera's frames (B, T_obs, 3, H, W) uint8 in
        ``cameras``' order and, for a multi-task policy, ``task_index`` (B,), already checked -> per-step
        condition features (B, T_obs, step_dim). The exporter traces it as the encoder's graph, so the deployed
        condition is this one."""
        B, T = state.shape[:2]
        features = [
            self.image_encoders[self._encoder_name(key)](self.image_normalizer(f.flatten(0, 1), i)).view(B, T, -1)
            for i, (key, f) in enumerate(zip(self.cameras, frames, strict=True))
        ]
        if task_index is not None:
            features.append(self.task_embedding(task_index).unsqueeze(1).expand(B, T, -1))
        return torch.cat([*features, state], dim=-1)

    def _encoder_name(self, key: str) -> str:
        return "shared" if self.config.vision.shared else str(keys.camera_name(key))

    def encode_observation(self, obs: Observation) -> torch.Tensor:
        """Observation history -> the condition vector (B, cond_dim), ``encode_steps`` flattened over T_obs. For a
        state-only policy and a tensor obs it is exactly the flattened normalised state (B, T_obs * obs_dim)."""
        return self.encode_steps(obs).flatten(1)

    def observation(self, batch: dict[str, torch.Tensor]) -> Observation:
        """A sampler batch's observation in the form this policy takes: ``batch["observation.state"]`` for a
        single-task state-only policy, else the dict of ``observation.state``, each camera's frames and the
        ``task_index`` of a multi-task policy (under their keys in the batch)."""
        if not self.dict_obs:
            return batch[keys.OBS]
        missing = [key for key in self.extra_inputs if key not in batch]
        if missing:
            raise InvalidInputError(
                f"{self.name} takes inputs the batch lacks: {', '.join(missing)} (found: {', '.join(batch)})"
            )
        return {keys.OBS: batch[keys.OBS], **{key: batch[key] for key in self.extra_inputs}}

    def check_obs(self, obs: torch.Tensor) -> None:
        expected = (self.config.n_obs_steps, self.config.obs_dim)
        if obs.ndim != 3 or tuple(obs.shape[1:]) != expected:
            raise InvalidInputError(
                f"{self.name}: obs must be (B, {expected[0]}, {expected[1]}), got {tuple(obs.shape)}"
            )


class ImageNormalizer(nn.Module):
    """uint8 frames -> [0, 1] -> (x - mean) / std per channel, per camera; the mean and std (buffers of shape
    (n_cameras, 3, 1, 1)) are the dataset's image statistics when it has them (LeRobot's ``meta/stats.json``
    form, (3, 1, 1) in [0, 1]), else 0.5 and 0.5 (frames to [-1, 1])."""

    def __init__(self, camera_stats: list[dict[str, Any] | None]):
        super().__init__()

        def stat(stats: dict[str, Any] | None, name: str) -> np.ndarray:
            value = np.full(3, 0.5) if stats is None or name not in stats else np.asarray(stats[name])
            return value.astype(np.float32).reshape(3, 1, 1)

        mean = np.stack([stat(s, "mean") for s in camera_stats])
        std = np.maximum(np.stack([stat(s, "std") for s in camera_stats]), 1e-6)
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("std", torch.from_numpy(std))

    mean: torch.Tensor  # (n_cameras, 3, 1, 1) buffer
    std: torch.Tensor  # (n_cameras, 3, 1, 1) buffer

    def forward(self, frames: torch.Tensor, camera: int) -> torch.Tensor:
        """frames (B, 3, H, W) uint8 of camera number ``camera`` -> normalised float (B, 3, H, W)."""
        return (frames.float() / 255.0 - self.mean[camera]) / self.std[camera]


def _register_builtin_policies() -> None:
    import imitlab.policies  # noqa: F401  (its modules register the built-in policies)


# Every policy by ``cls.name``, for the CLI, trainer, evaluator and studies; a policy module registers its class
# with the ``@register_policy`` decorator.
POLICIES: Registry[type[Policy]] = Registry("policy", load=_register_builtin_policies)
register_policy = POLICIES.register
get_policy_class = POLICIES.get


def create_policy(name: str, stats: dict[str, dict[str, Any]], **config_fields: Any) -> Policy:
    """Build policy ``name`` from config fields (obs_dim and act_dim included) and dataset statistics."""
    cls = get_policy_class(name)
    known = {f.name for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(config_fields) - known)
    if unknown:
        raise InvalidInputError(
            f"policy {name!r} has no config field {', '.join(unknown)}; its fields: {', '.join(sorted(known))}"
        )
    return cls.from_config(cls.config_class(**config_fields), stats)


def to_device(obs: Observation, device: torch.device | str) -> Observation:
    """An observation (tensor or dict of tensors) moved to ``device``."""
    if isinstance(obs, torch.Tensor):
        return obs.to(device)
    return {key: value.to(device) for key, value in obs.items()}


@torch.inference_mode()
def sample_chunks(policy: Policy, obs: Observation, seed: int = 0) -> torch.Tensor:
    """Chunks (B, H, act_dim) on the CPU for observation histories ``obs`` (B, T_obs, obs_dim, or the dict form
    with cameras), in eval mode, drawn from a generator seeded with ``seed``, wherever the policy's weights live."""
    chunk = policy.eval().predict_chunk(to_device(obs, policy.device), generator=torch.Generator().manual_seed(seed))
    return chunk.cpu()


def masked_mean(values: torch.Tensor, action_is_pad: torch.Tensor) -> torch.Tensor:
    """Mean of per-step values (B, H, ...) over the steps that are not padding (action_is_pad: (B, H))."""
    weights = (~action_is_pad).to(values.dtype)
    while weights.ndim < values.ndim:
        weights = weights.unsqueeze(-1)
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)
