"""Eager inference through ``torch.compile``: each network of a policy (every child module but the normalisers)
is replaced by its compiled version; the sampling loop stays in Python. Whether it pays is measured by
benchmarks/inference_latency.py, not assumed: the first call at each batch size compiles (seconds to minutes)."""

from __future__ import annotations

import copy

import torch

from imitlab.policies.base import Policy


def compile_policy(policy: Policy, mode: str | None = None) -> Policy:
    """A copy of ``policy`` whose networks are ``torch.compile``d (``mode``: torch.compile's, e.g.
    "reduce-overhead"); the weights are shared with nothing, the caller's policy is unchanged."""
    compiled = copy.deepcopy(policy)
    for name, child in list(compiled.named_children()):
        if not name.endswith("_normalizer"):
            setattr(compiled, name, torch.compile(child, mode=mode, dynamic=False))
    return compiled
