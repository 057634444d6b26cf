"""deploy.json is checked before anything is built from it: every key's type, finite and positive normalisation
scales, the sampler settings its runtime head declares (``RuntimeHead.sampler_schema``: a type, or the set of
allowed values), sizes within ``MAX_SIZE`` and lists within ``MAX_LIST``, and graph files that are plain names
inside the export directory. Each violation is one ``DeployError`` naming the file and the key. No torch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imitlab.deploy.manifest import FORMAT, FORMAT_VERSION, RUNTIME_HEADS, DeployError

MAX_SIZE = 1 << 16  # any integer size of the config (dims, horizon, channels, bins)
MAX_LIST = 64  # any list of the config or the sampler, except the schedule's (MAX_SCHEDULE)
MAX_SCHEDULE = 10_000  # timesteps and alpha_bars of a diffusion schedule
MAX_TASKS = 10_000  # task strings of a multi-task policy (LeRobot datasets may hold thousands of instructions)
MAX_TASK_CHARS = 1_000  # characters of one task string
SIZES = ("obs_dim", "act_dim", "n_obs_steps", "horizon")  # config fields every runtime reads


def check_manifest(path: Path, manifest: Any) -> dict[str, Any]:
    """``manifest`` (the parsed deploy.json at ``path``) if it is one this runtime can load safely; else a
    DeployError naming the key at fault."""
    if not isinstance(manifest, dict):
        raise DeployError(f"{path}: must hold a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise DeployError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        what = "upgrade imitlab to load it" if newer else "re-export the run with `imitlab export`"
        raise DeployError(f"{path}: format_version is {version!r}, this runtime reads {FORMAT_VERSION}; {what}")
    for key, kind in (("policy", str), ("runtime", str), ("policy_config", dict), ("normalization", dict)):
        _expect(path, key, manifest.get(key), kind)
    for key in ("sampler", "graphs"):
        _expect(path, key, manifest.get(key), dict)
    if manifest["runtime"] not in RUNTIME_HEADS:
        raise DeployError(
            f"{path}: runtime is {manifest['runtime']!r}, which this runtime cannot sample; runtime heads: "
            f"{', '.join(sorted(RUNTIME_HEADS))}"
        )
    config = manifest["policy_config"]
    for key in SIZES:
        least = 0 if key == "obs_dim" and config.get("image_shapes") else 1  # camera-only: a state of width 0
        _size(path, f"policy_config.{key}", config.get(key), least)
    _check_tasks(path, config.get("tasks", []))
    _bounded(path, "policy_config", {key: value for key, value in config.items() if key != "tasks"})
    _check_normalization(path, manifest["normalization"], config)
    schema = RUNTIME_HEADS.get(manifest["runtime"]).sampler_schema
    sampler = manifest["sampler"]
    _bounded(path, "sampler", sampler, MAX_SCHEDULE)
    for key, allowed in schema.items():
        where = f"sampler.{key}"
        if key not in sampler:
            raise DeployError(f"{path}: {where} is missing")
        value = sampler[key]
        if isinstance(allowed, (set, frozenset)):
            if value not in allowed:
                raise DeployError(
                    f"{path}: {where} is {value!r}; known: {', '.join(map(repr, sorted(allowed, key=str)))}"
                )
        else:
            _expect(path, where, value, allowed)
    _check_schedule(path, sampler)
    for name, graph in manifest["graphs"].items():
        _expect(path, f"graphs.{name}", graph, dict)
    return manifest


def graph_path(path: Path, manifest: dict[str, Any], name: str) -> Path:
    """The file of graph ``name``: a plain file name inside the export directory (no separator, no '..', not a
    link out of it)."""
    directory = path.parent
    file = manifest["graphs"].get(name, {}).get("file", f"{name}.onnx")
    if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
        raise DeployError(f"{path}: graphs.{name}.file must be a file name inside {directory}, got {file!r}")
    resolved = (directory / file).resolve()
    if resolved.parent != directory.resolve():
        raise DeployError(f"{path}: graphs.{name}.file {file!r} leads out of {directory} (to {resolved})")
    return directory / file


def _expect(path: Path, key: str, value: Any, kind: Any) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise DeployError(f"{path}: {key} must be {names}, got {value!r:.80}")
    if isinstance(value, float) and not math.isfinite(value):
        raise DeployError(f"{path}: {key} must be finite, got {value!r}")


def _size(path: Path, key: str, value: Any, least: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= MAX_SIZE:
        raise DeployError(f"{path}: {key} must be an integer in [{least}, {MAX_SIZE}], got {value!r:.80}")


def _bounded(path: Path, key: str, value: Any, max_list: int = MAX_LIST) -> None:
    """Every number of ``value`` finite and every integer a size within MAX_SIZE (negative ones allowed, e.g. a
    -1 "none"), every list within ``max_list`` entries, checked before anything is built from it."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            _bounded(path, f"{key}.{name}", item, max_list)
    elif isinstance(value, list):
        if len(value) > max_list:
            raise DeployError(f"{path}: {key} holds {len(value)} entries; at most {max_list} are allowed")
        for i, item in enumerate(value):
            _bounded(path, f"{key}[{i}]", item, max_list)
    elif isinstance(value, float) and not math.isfinite(value):
        raise DeployError(f"{path}: {key} must be finite, got {value!r}")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
        raise DeployError(f"{path}: {key} is {value}; sizes above {MAX_SIZE} are refused")


def _check_tasks(path: Path, tasks: Any) -> None:
    """A multi-task policy's task table: a list of distinct non-empty strings within MAX_TASKS and MAX_TASK_CHARS."""
    if not isinstance(tasks, list) or len(tasks) > MAX_TASKS:
        raise DeployError(f"{path}: policy_config.tasks must be a list of at most {MAX_TASKS} task strings")
    for i, task in enumerate(tasks):
        if not isinstance(task, str) or not 0 < len(task) <= MAX_TASK_CHARS:
            raise DeployError(
                f"{path}: policy_config.tasks[{i}] must be a task string of 1 to {MAX_TASK_CHARS} characters, "
                f"got {task!r:.80}"
            )
    if len(set(tasks)) != len(tasks):
        raise DeployError(f"{path}: policy_config.tasks lists a task twice")


def _check_schedule(path: Path, sampler: dict[str, Any]) -> None:
    """A diffusion schedule's alpha_bars in (0, 1] and timesteps that index it; a temperature >= 0."""
    alpha_bars = sampler.get("alpha_bars", [])
    for i, a in enumerate(alpha_bars):
        if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0 < a <= 1:
            raise DeployError(f"{path}: sampler.alpha_bars[{i}] must be in (0, 1], got {a!r}")
    for i, t in enumerate(sampler.get("timesteps", [])):
        if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < len(alpha_bars):
            raise DeployError(
                f"{path}: sampler.timesteps[{i}] must index alpha_bars (0..{len(alpha_bars) - 1}), got {t!r}"
            )
    if sampler.get("temperature", 0) < 0:
        raise DeployError(f"{path}: sampler.temperature must be >= 0, got {sampler['temperature']!r}")


def _check_normalization(path: Path, normalization: dict[str, Any], config: dict[str, Any]) -> None:
    for feature, dim in (("observation.state", config["obs_dim"]), ("action", config["act_dim"])):
        stats = normalization.get(feature)
        _expect(path, f"normalization.{feature}", stats, dict)
        assert isinstance(stats, dict)  # checked above
        for key in ("shift", "scale"):
            where = f"normalization.{feature}.{key}"
            values = stats.get(key)
            if not isinstance(values, list) or len(values) != dim:
                raise DeployError(
                    f"{path}: {where} must hold {dim} numbers (the config's dimension), got {values!r:.80}"
                )
            for i, v in enumerate(values):
                _expect(path, f"{where}[{i}]", v, float)
                if key == "scale" and v <= 0:
                    raise DeployError(f"{path}: {where}[{i}] must be > 0 (a scale divides), got {v!r}")
