"""Figures that show how a head represents actions (written as PNG with matplotlib's non-GUI backend)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from imitlab.core import keys  # noqa: E402
from imitlab.policies.base import Observation, Policy, sample_chunks  # noqa: E402


def sample_first_actions(
    policy: Policy,
    obs: np.ndarray,
    samples: int = 200,
    seed: int = 0,
    images: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """(samples, act_dim): the first action of ``samples`` chunks predicted at one observation (obs_dim,) and, for a
    policy with cameras, its camera frames ``images`` {key: (H, W, 3) uint8}, with the history filled by repeating
    them, as at an episode's start."""
    n_obs_steps = policy.config.n_obs_steps
    history = torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1).repeat(samples, n_obs_steps, 1)
    observation: Observation = history
    if policy.cameras:
        images = images or {}
        missing = [key for key in policy.cameras if key not in images]
        if missing:
            raise ValueError(f"{policy.name} sees cameras {', '.join(missing)}: give their frames as images")
        frames = {key: torch.as_tensor(np.asarray(images[key])).permute(2, 0, 1) for key in policy.cameras}
        observation = {
            keys.OBS: history,
            **{key: frame[None, None].repeat(samples, n_obs_steps, 1, 1, 1) for key, frame in frames.items()},
        }
    return sample_chunks(policy, observation, seed)[:, 0].numpy()


def plot_fork_actions(
    policies: Mapping[str, Policy],
    obs: np.ndarray,
    expert_actions: np.ndarray,
    out: Path,
    samples: int = 200,
    title: str = "first action at the fork",
    images: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """One scatter panel per policy of ``samples`` first actions at ``obs`` (and the camera frames ``images`` there,
    {key: (H, W, 3) uint8}, for policies with cameras), over the expert's actions there.

    A regressor puts every sample on one point between the modes (the average); a multimodal head splits them.
    """
    fig, axes = plt.subplots(1, len(policies), figsize=(3.2 * len(policies), 3.4), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    expert_actions = np.asarray(expert_actions)
    for ax, (label, policy) in zip(axes, policies.items()):
        actions = sample_first_actions(policy, obs, samples, images=images)
        ax.scatter(expert_actions[:, 0], expert_actions[:, 1], s=60, marker="x", c="black", label="expert modes")
        ax.scatter(actions[:, 0], actions[:, 1], s=8, alpha=0.5, label=f"{label} samples")
        ax.axvline(0, lw=0.5, c="grey")
        ax.set(title=label, xlabel="action 0", ylabel="action 1")
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"{title}: {samples} samples per head")
    fig.tight_layout()
    return _save(fig, out)


@dataclass
class Series:
    """One line of a panel: y (with an optional [low, high] band, e.g. a Wilson interval) against x."""

    label: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None
    marker: str = "o"  # "" for a plain line (long curves)


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    logx: bool = False
    marks: dict[str, float] = field(default_factory=dict)  # vertical line per label, e.g. {"sweet spot": 8}


def plot_panels(panels: list[Panel], out: Path, title: str = "") -> Path:
    """Panels side by side, one line per series with its interval as a shaded band; an empty panel fails."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if not any(s.x for s in panel.series):
            raise ValueError(f"panel {panel.title!r} has no data")
        for s in panel.series:
            (line,) = ax.plot(s.x, s.y, marker=s.marker or None, label=s.label)
            if s.low is not None and s.high is not None:
                ax.fill_between(s.x, s.low, s.high, color=line.get_color(), alpha=0.2, lw=0)
        for label, x in panel.marks.items():
            ax.axvline(x, ls="--", c="grey", lw=1)
            ax.annotate(
                label,
                (x, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
                color="grey",
            )
        if panel.logx:
            ax.set_xscale("log", base=2)
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def plot_success_bars(
    groups: Mapping[str, Mapping[str, tuple[float, float, float]]],
    out: Path,
    title: str = "success rate with 95% interval",
    xlabel: str = "head",
) -> Path:
    """One panel per group (e.g. env) of bars (rate, low, high) per label (e.g. head), with interval whiskers."""
    fig, axes = plt.subplots(
        1, len(groups), figsize=(0.9 * max(len(g) for g in groups.values()) * len(groups) + 2, 3.6), squeeze=False
    )
    for ax, (group, bars) in zip(axes[0], groups.items()):
        labels = list(bars)
        rate = np.array([bars[k][0] for k in labels])
        # clipped at 0: a Wilson bound can sit a rounding error inside the rate (e.g. low = 3e-18 at rate 0)
        err = np.clip([[rate[i] - bars[k][1], bars[k][2] - rate[i]] for i, k in enumerate(labels)], 0, None).T
        ax.bar(labels, rate, yerr=err, capsize=3, color="tab:blue", alpha=0.8)
        ax.set(title=group, xlabel=xlabel, ylabel="success", ylim=(0, 1.05))
        ax.tick_params(axis="x", rotation=45)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def _save(fig: plt.Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
