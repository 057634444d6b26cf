"""Export a trained policy for the torch-free runtime: each network as an ONNX graph with a dynamic batch axis,
beside ``deploy.json`` holding the policy config, the normalisation statistics and the sampler's settings
(DDIM/DDPM timesteps and alpha_bar, Euler steps, token bins, ...).

Graphs take the flattened *normalised* observation history, or for a policy with cameras the condition that its
visual encoder's graph computes from the normalised state history and raw uint8 frames; state normalisation, the
sampling loop and un-normalisation run in ``runtime.py``. Each head declares what is exported (``Policy
.runtime_head``, ``export_graphs``, ``sampler_settings``); the graphs' names and shapes are fixed by the runtime
head's ``manifest.graph_signatures``.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.atomic_dir import backup_path, fsync_tree, publish, recover_interrupted_swap
from imitlab.core.diskspace import bytes_under, reporting_full_disk
from imitlab.core.locks import one_writer
from imitlab.deploy.manifest import (
    BATCH,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    TASK_INPUT,
    DeployError,
    graph_file,
    graph_signatures,
)
from imitlab.deploy.unet_graph import UnetGraph, unets_as_graphs
from imitlab.policies.base import POLICIES, Policy
from imitlab.policies.normalize import Normalizer
from imitlab.training.checkpoint import load_policy, read_run_config

OPSET = 17
EXAMPLE_BATCH = 2  # the traced batch size; the batch axis is exported as dynamic


class _Call(nn.Module):
    """A graph: ``fn(*inputs)`` with ``policy``'s weights registered as a submodule (so export sees them). Build
    it in eval mode: the exporter restores the wrapper's mode afterwards, recursively, policy included."""

    def __init__(self, policy: Policy, fn: Callable[..., Any]):
        super().__init__()
        self.policy, self.fn = policy, fn

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.fn(*inputs)


def _split_unets(graphs: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """A head's graphs with each U-Net (already an ``UnetGraph``) as its three parts (unet_graph.py), the head's
    graph name on their sum."""
    split: dict[str, Callable[..., Any]] = {}
    for name, network in graphs.items():
        if isinstance(network, UnetGraph):
            split.update(condition=network.condition, time_film=network.time_film, **{name: network.denoise})
        else:
            split[name] = network
    return split


def _encoder_graphs(p: Policy) -> dict[str, Callable[..., Any]]:
    """The encoder of a policy with cameras or tasks, any head: (normalised state, the task index of a multi-task
    policy, each camera's uint8 frames) -> the condition the head's graphs take; its image normalisation, centre
    crop (eval mode) and task embedding are traced in."""
    if not p.dict_obs:
        return {}

    def encode(state: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        task_index, frames = (inputs[0], inputs[1:]) if p.tasks else (None, inputs)
        # reshaped to a constant width (not flattened), so the graph's output declares it and a mismatch is caught
        return p.condition_steps(state, frames, task_index).reshape(-1, p.cond_dim)

    return {"encoder": encode}


def exportable() -> list[str]:
    """The registered heads that declare a runtime head, sorted."""
    return sorted(name for name, cls in POLICIES.items() if cls.runtime_head is not None)


def _example(shape: list[int | str], name: str) -> torch.Tensor:
    concrete = [EXAMPLE_BATCH if d == BATCH else int(d) for d in shape]
    if name in ("tokens", TASK_INPUT):
        return torch.zeros(concrete, dtype=torch.long)
    if name == "time":
        return torch.full(concrete, 3.0)
    if keys.camera_name(name) is not None:  # a camera's frames
        return torch.randint(0, 256, concrete, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return torch.randn(concrete, generator=torch.Generator().manual_seed(0))


def _normalizer(norm: Normalizer) -> dict[str, list[float]]:
    return {"shift": norm.shift.detach().cpu().tolist(), "scale": norm.scale.detach().cpu().tolist()}


def check_out_dir(out_dir: Path, source: Path | None = None) -> None:
    """Refuse an ``out_dir`` that export would wrongly replace: one that exists and is not an export (a dataset, a
    run, a folder of the user's files, the current directory), or the source run or a directory holding it."""
    out = Path(out_dir).resolve()
    if source is not None and (out == Path(source).resolve() or out in Path(source).resolve().parents):
        raise DeployError(f"--out {out_dir} is the run being exported or holds it: give the export its own directory")
    if out == Path.cwd().resolve() or out in Path.cwd().resolve().parents:
        raise DeployError(f"--out {out_dir} is the current directory or holds it: give the export its own directory")
    if out.exists() and not (out.is_dir() and (out / MANIFEST_FILE).is_file()):
        raise DeployError(
            f"{out_dir} exists and is not an export (no {MANIFEST_FILE}): refusing to replace it; choose another --out"
        )


def export_policy(policy: Policy, out_dir: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``policy``'s graphs and ``deploy.json`` to ``out_dir``: a new directory, or an earlier export, which
    is replaced by a rename-swap (a crash leaves the old or the new export whole; ``runtime.load`` finishes an
    interrupted swap). ``meta`` (e.g. the env) is stored in the manifest. Returns the manifest's path."""
    runtime = policy.runtime_head
    if runtime is None:
        raise DeployError(f"policy {policy.name!r} cannot be exported; exportable heads: {', '.join(exportable())}")
    source = (meta or {}).get("source_run")
    check_out_dir(Path(out_dir), Path(source) if source else None)
    policy = copy.deepcopy(policy).cpu().eval()  # the caller's policy keeps its device and mode
    unets_as_graphs(policy, policy.config.horizon)  # same outputs, a graph that batches well: unet_graph.py
    config = policy.config.to_dict()
    signatures = graph_signatures(runtime, config)
    out_dir = Path(out_dir)
    with one_writer(out_dir, "an export"):
        _write_export(policy, out_dir, runtime, config, signatures, meta)
    return out_dir / MANIFEST_FILE


def _write_export(
    policy: Policy,
    out_dir: Path,
    runtime: str,
    config: dict[str, Any],
    signatures: dict[str, Any],
    meta: dict[str, Any] | None,
) -> None:
    """Build the export in a staging directory beside ``out_dir``, then swap it in (the caller holds the lock)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    backup = backup_path(out_dir)
    for leftover in out_dir.parent.glob(f".{out_dir.name}.*"):  # staging of a killed export (we hold the lock)
        if leftover.is_dir() and leftover != backup:
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        with reporting_full_disk(out_dir, None, lambda: bytes_under(staging)):
            for name, fn in {**_encoder_graphs(policy), **_split_unets(policy.export_graphs())}.items():
                _export_graph(_Call(policy, fn).eval(), signatures[name], staging / graph_file(name))
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "policy": policy.name,
                "runtime": runtime,
                "policy_config": config,
                "normalization": {
                    "observation.state": _normalizer(policy.obs_normalizer),
                    "action": _normalizer(policy.action_normalizer),
                },
                "sampler": policy.sampler_settings(),
                "graphs": {name: {"file": graph_file(name), **sig} for name, sig in signatures.items()},
                "exported_with": {"torch": torch.__version__, "opset": OPSET},
                **(meta or {}),
            }
            (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
            fsync_tree(staging)
            recover_interrupted_swap(out_dir)
            publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _export_graph(module: nn.Module, signature: dict[str, dict[str, list[int | str]]], path: Path) -> None:
    inputs, outputs = signature["inputs"], signature["outputs"]
    examples = tuple(_example(shape, name) for name, shape in inputs.items())
    dynamic = {name: {0: BATCH} for name in [*inputs, *outputs]}
    # traced with grad enabled: under no_grad, nn.Transformer layers take their fused "fast path", which has no
    # ONNX form; the shape asserts inside the networks are constants of the trace, checked at the traced shapes
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # torch 2.13 marks the TorchScript exporter deprecated; the dynamo exporter needs onnxscript on top of onnx
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            module,
            examples,
            str(path),
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and every head's graph traces
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic,
            opset_version=OPSET,
        )


def export_run(run_dir: Path, out_dir: Path, inference: dict[str, Any] | None = None) -> Path:
    """Export the policy of run directory ``run_dir`` to ``out_dir``; ``inference`` replaces config fields
    first (sampler settings such as num_inference_steps or guidance_scale). Returns the manifest's path."""
    run_config = read_run_config(run_dir)
    policy = load_policy(run_dir)
    if inference:
        policy.config = policy.config.replace(**inference)
    return export_policy(policy, out_dir, {"env": run_config.get("env"), "source_run": str(run_dir)})
