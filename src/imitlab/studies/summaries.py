"""What the commands print about their results: DAgger rounds, remedies compared over training seeds, noise levels of a collection.
Markdown tables (they paste into docs) and one-line summaries, with the statistics they show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imitlab.evaluation.stats import mcnemar_exact_p
from imitlab.remedies.compare import MethodSummary
from imitlab.studies.table import (
    format_difference,
    format_p_values,
    format_seed_success,
    format_seed_votes,
    markdown_table,
    seeds_note,
)

if TYPE_CHECKING:
    from imitlab.data.model import EpisodeDataset
    from imitlab.data.noisy_expert import Noise
    from imitlab.evaluation.evaluate import EvalResult
    from imitlab.remedies.dagger import RoundResult


def noise_level_lines(dataset: EpisodeDataset, levels: Sequence[Noise]) -> list[str]:
    """One line per noise level cycled over the episodes (episode i used ``levels[i % len(levels)]``): episodes,
    mean / min / max return and successes."""
    returns = [float(dataset.reward[s:e].sum()) for s, e in zip(dataset.episode_starts, dataset.episode_ends)]
    success = [bool(dataset.success[e - 1]) for e in dataset.episode_ends]
    lines = []
    for i, level in enumerate(levels):
        r, ok = returns[i :: len(levels)], success[i :: len(levels)]
        lines.append(
            f"  noise std {level.std:g}, epsilon {level.epsilon:g}: {len(r)} episodes, return "
            f"{sum(r) / len(r):.1f} (min {min(r):.1f}, max {max(r):.1f}), success {sum(ok)}/{len(ok)}"
        )
    return lines


def dagger_rounds_table(rounds: Sequence[RoundResult]) -> str:
    """One row per DAgger round, with the exact McNemar p-value against round 0 (same evaluation seeds)."""
    header = ["round", "beta", "episodes", "expert labels", "success [95% CI]", "return", "p vs round 0"]
    lines = [
        [
            r.round,
            f"{r.beta:.3f}",
            r.episodes,
            r.expert_labels,
            f"{r.success_rate:.0%} [{r.ci_low:.0%}, {r.ci_high:.0%}]",
            f"{r.mean_return:.1f}",
            f"{mcnemar_exact_p(r.episode_success, rounds[0].episode_success):.3g}",
        ]
        for r in rounds
    ]
    return markdown_table(header, lines)


def dagger_versus_bc(policy: str, last: RoundResult, base: EvalResult) -> str:
    """The last DAgger round against ``policy`` trained on plain demonstrations with as many expert labels."""
    p = mcnemar_exact_p(last.episode_success, base.episode_success)
    return (
        f"{policy} on plain expert demonstrations with >= {last.expert_labels} labels: success "
        f"{base.success_rate:.0%} [{base.ci_low:.0%}, {base.ci_high:.0%}], return {base.mean_return:.1f}; "
        f"DAgger round {last.round}: {last.success_rate:.0%}; paired McNemar p = {p:.3g} "
        f"(same {len(base.episode_success)} evaluation seeds)"
    )


def remedies_caption(summary: list[MethodSummary], setting: str) -> str:
    """What the remedy table of ``summary`` shows, for ``setting`` (e.g. 'pendulum, MLP bc from 10 demonstrations')."""
    n = max(m.success.seeds for m in summary)
    versus = (
        "difference to bc on the same evaluation seeds (one trained policy each)"
        if n == 1
        else "vs bc: mean per-seed difference on the same evaluation seeds with its 95% interval (bootstrap of "
        "seeds, then of episode pairs) and the seeds favouring the method · bc · neither"
    )
    controls = any(m.label.startswith("bc at ") for m in summary)
    return f"{setting}, {seeds_note(n)}; {versus}; exact McNemar p per training seed" + (
        "; a 'bc at M's labels' row is bc on the fewest whole demonstrations holding as many expert labels as M"
        if controls
        else ""
    )


def remedies_table(summary: list[MethodSummary]) -> str:
    """One markdown line per method: labels spent, success over seeds with its spread, and the paired comparison
    with bc."""
    lines = [
        [
            m.label,
            m.expert_labels,
            m.synthetic_labels,
            format_seed_success(m.success),
            " ".join(f"{r:.0%}" for r in m.success.per_seed),
            format_difference(m.vs_bc) if m.vs_bc else "-",
            format_seed_votes(m.vs_bc) if m.vs_bc else "-",
            format_p_values(m.vs_bc) if m.vs_bc else "-",
        ]
        for m in summary
    ]
    header = ["method", "expert labels", "synthetic labels", "success [95% CI]", "per seed", "vs bc", "seeds"]
    return markdown_table([*header, "McNemar p per seed"], lines)
