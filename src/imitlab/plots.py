"""Figures that show how a head represents actions (written as PNG with matplotlib's non-GUI backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from imitlab.policies.base import Policy  # noqa: E402


def sample_first_actions(policy: Policy, obs: np.ndarray, samples: int = 200, seed: int = 0) -> np.ndarray:
    """(samples, act_dim): the first action of ``samples`` chunks predicted at one observation (obs_dim,),
    with the history filled by repeating it, as at an episode's start."""
    history = torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1)
    history = history.repeat(samples, policy.config.n_obs_steps, 1)
    with torch.inference_mode():
        chunk = policy.eval().predict_chunk(history, generator=torch.Generator().manual_seed(seed))
    return chunk[:, 0].numpy()


def plot_fork_actions(
    policies: Mapping[str, Policy],
    obs: np.ndarray,
    expert_actions: np.ndarray,
    out: Path,
    samples: int = 200,
    title: str = "first action at the fork",
) -> Path:
    """One scatter panel per policy of ``samples`` first actions at ``obs``, over the expert's actions there.

    A regressor puts every sample on one point between the modes (the average); a multimodal head splits them.
    """
    fig, axes = plt.subplots(1, len(policies), figsize=(3.2 * len(policies), 3.4), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    expert_actions = np.asarray(expert_actions)
    for ax, (label, policy) in zip(axes, policies.items()):
        actions = sample_first_actions(policy, obs, samples)
        ax.scatter(expert_actions[:, 0], expert_actions[:, 1], s=60, marker="x", c="black", label="expert modes")
        ax.scatter(actions[:, 0], actions[:, 1], s=8, alpha=0.5, label=f"{label} samples")
        ax.axvline(0, lw=0.5, c="grey")
        ax.set_title(label)
        ax.set_xlabel("action 0")
    axes[0].set_ylabel("action 1")
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"{title}: {samples} samples per head")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
