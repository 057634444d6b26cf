"""Plain-text tables of run results (markdown, so they paste into README and reports)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per run: env, policy, success with its Wilson 95% interval, return, train time, latency."""
    header = ["env", "policy", "demos", "seed", "success [95% CI]", "return (mean ± std)", "train s", "ms/step"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        success = (f"{float(r['success_rate']):.0%} [{float(r['ci_low']):.0%}, {float(r['ci_high']):.0%}]"
                   f" ({r['successes']}/{r['episodes']})")
        cells = [r["env"], r["label"], r["demos"], r["seed"], success,
                 f"{float(r['mean_return']):.1f} ± {float(r['std_return']):.1f}",
                 f"{float(r['train_seconds']):.0f}", f"{float(r['step_latency_ms']):.2f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
