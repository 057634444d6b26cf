"""Export a trained policy for the torch-free runtime: each network as an ONNX graph with a dynamic batch axis,
beside ``deploy.json`` holding the policy config, the normalisation statistics and the sampler's settings
(DDIM/DDPM timesteps and alpha_bar, Euler steps, token bins, ...).

Graphs take the flattened *normalised* observation history, or for a policy with cameras the condition that its
visual encoder's graph computes from the normalised state history and raw uint8 frames; state normalisation, the
sampling loop and un-normalisation run in ``runtime.py``. Each head's graphs and their shapes are fixed by
``manifest.graph_signatures``; the functions here build, per head, the modules with those inputs and outputs
(one registry entry per head) and the sampler settings the runtime's loop reads.
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

from imitlab.deploy.manifest import (
    BATCH,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    DeployError,
    graph_file,
    graph_signatures,
)
from imitlab.deploy.unet_graph import UnetGraph, unets_as_graphs
from imitlab.policies.act import ACTPolicy
from imitlab.policies.base import IMAGES_PREFIX, Policy
from imitlab.policies.diffusion import DiffusionPolicy
from imitlab.policies.flow import FlowPolicy
from imitlab.policies.gmm import GMMPolicy
from imitlab.policies.mlp import ChunkedBCPolicy
from imitlab.policies.normalize import Normalizer
from imitlab.policies.schedules import make_sampler
from imitlab.policies.tokenized import TokenizedPolicy
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


def _mlp_graphs(p: ChunkedBCPolicy) -> dict[str, Callable[..., Any]]:
    return {"net": p.net}


def _gmm_graphs(p: GMMPolicy) -> dict[str, Callable[..., Any]]:
    return {"mixture": p.mixture_of_condition}


def _gmm_sampler(p: GMMPolicy) -> dict[str, Any]:
    return {"sample_from_component": p.config.sample_from_component}


def _tokenized_graphs(p: TokenizedPolicy) -> dict[str, Callable[..., Any]]:
    c = p.config
    if c.autoregressive:
        return {"decoder": lambda cond, tokens: p.decoder(cond, tokens[:, : p.length - 1])}
    return {"logits": lambda cond: p.net(cond).view(-1, p.length, c.n_bins)}


def _tokenized_sampler(p: TokenizedPolicy) -> dict[str, Any]:
    return {"temperature": p.config.temperature, "autoregressive": p.config.autoregressive}


def _act_graphs(p: ACTPolicy) -> dict[str, Callable[..., Any]]:
    return {"decoder": p.decode}


def _act_sampler(p: ACTPolicy) -> dict[str, Any]:
    return {"inference_z": p.config.inference_z}


def _denoiser_graphs(network: nn.Module, name: str) -> dict[str, Callable[..., Any]]:
    """A denoiser as graph ``name``; the U-Net's as its three parts (unet_graph.py), ``name`` on their sum."""
    if isinstance(network, UnetGraph):
        return {"condition": network.condition, "time_film": network.time_film, name: network.denoise}
    return {name: network}


def _diffusion_graphs(p: DiffusionPolicy) -> dict[str, Callable[..., Any]]:
    return _denoiser_graphs(p.denoiser, "denoiser")


def _diffusion_sampler(p: DiffusionPolicy) -> dict[str, Any]:
    c = p.config
    sampler = make_sampler(c.sampler, p.schedule, 1.0 if c.clip_sample else None, c.ddim_eta)
    sampler.set_timesteps(c.num_inference_steps)
    return {
        "kind": c.sampler,  # "ddim" (Song et al. eq. 12) or "ddpm" (Ho et al. eq. 7)
        "timesteps": sampler.timesteps.tolist(),  # descending, "trailing" spacing
        "alpha_bars": p.schedule.alpha_bars.tolist(),  # (N,) float64, t = 0..N-1
        "clip_sample": sampler.clip_sample,
        "eta": c.ddim_eta,
        "guidance_scale": c.guidance_scale,
    }


def _flow_graphs(p: FlowPolicy) -> dict[str, Callable[..., Any]]:
    return _denoiser_graphs(p.velocity, "velocity")


def _flow_sampler(p: FlowPolicy) -> dict[str, Any]:
    c = p.config
    return {
        "num_inference_steps": c.num_inference_steps,
        "integrator": c.integrator,
        "time_scale": c.time_scale,
        "clip_sample": c.clip_sample,
        "guidance_scale": c.guidance_scale,
    }


def _no_settings(p: Policy) -> dict[str, Any]:
    return {}


def _encoder_graphs(p: Policy) -> dict[str, Callable[..., Any]]:
    """The visual encoder of a policy with cameras, any head: (normalised state, each camera's uint8 frames) ->
    the condition the head's graphs take; its image normalisation and centre crop (eval mode) are traced in."""
    if not p.cameras:
        return {}
    # reshaped to a constant width (not flattened), so the graph's output declares it and a mismatch is caught
    return {"encoder": lambda state, *frames: p.condition_steps(state, frames).reshape(-1, p.cond_dim)}


# head -> (its graphs as callables on the signature's inputs, the settings its sampling loop reads). Each entry
# takes the head's own Policy subclass (the one registered under that name), hence the Any parameter.
EXPORTERS: dict[str, tuple[Callable[[Any], dict[str, Callable[..., Any]]], Callable[[Any], dict[str, Any]]]] = {
    "bc": (_mlp_graphs, _no_settings),
    "chunked-bc": (_mlp_graphs, _no_settings),
    "gmm": (_gmm_graphs, _gmm_sampler),
    "diffusion": (_diffusion_graphs, _diffusion_sampler),
    "flow": (_flow_graphs, _flow_sampler),
    "tokenized": (_tokenized_graphs, _tokenized_sampler),
    "act": (_act_graphs, _act_sampler),
}


def _example(shape: list[int | str], name: str) -> torch.Tensor:
    concrete = [EXAMPLE_BATCH if d == BATCH else int(d) for d in shape]
    if name == "tokens":
        return torch.zeros(concrete, dtype=torch.long)
    if name == "time":
        return torch.full(concrete, 3.0)
    if name.startswith(IMAGES_PREFIX):  # a camera's frames
        return torch.randint(0, 256, concrete, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return torch.randn(concrete, generator=torch.Generator().manual_seed(0))


def _normalizer(norm: Normalizer) -> dict[str, list[float]]:
    return {"shift": norm.shift.detach().cpu().tolist(), "scale": norm.scale.detach().cpu().tolist()}


def export_policy(policy: Policy, out_dir: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``policy``'s graphs and ``deploy.json`` to ``out_dir`` (replaced atomically if it exists).
    ``meta`` (e.g. the env) is stored in the manifest. Returns the manifest's path."""
    if policy.name not in EXPORTERS:
        raise DeployError(
            f"policy {policy.name!r} cannot be exported; exportable heads: {', '.join(sorted(EXPORTERS))}"
        )
    policy = copy.deepcopy(policy).cpu().eval()  # the caller's policy keeps its device and mode
    unets_as_graphs(policy, policy.config.horizon)  # same outputs, a graph that batches well: unet_graph.py
    config = policy.config.to_dict()
    graphs, sampler = EXPORTERS[policy.name]
    signatures = graph_signatures(policy.name, config)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        for name, fn in {**_encoder_graphs(policy), **graphs(policy)}.items():
            _export_graph(_Call(policy, fn).eval(), signatures[name], staging / graph_file(name))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "policy": policy.name,
            "policy_config": config,
            "normalization": {
                "observation.state": _normalizer(policy.obs_normalizer),
                "action": _normalizer(policy.action_normalizer),
            },
            "sampler": sampler(policy),
            "graphs": {name: {"file": graph_file(name), **sig} for name, sig in signatures.items()},
            "exported_with": {"torch": torch.__version__, "opset": OPSET},
            **(meta or {}),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / MANIFEST_FILE


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
