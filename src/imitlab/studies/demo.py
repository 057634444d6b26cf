"""The main job: reduced versions of four studies (the heads compared, multimodality, chunk size, number of
demonstrations), then one HTML report; ``--scale full`` runs every study in full. Every run is cached under the
output directory, so an interrupted demo resumes where it stopped."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from imitlab.experiments.process_executor import call_in_processes
from imitlab.experiments.recipes import expected_train_seconds
from imitlab.experiments.runs import prepare_datasets, trained_policy
from imitlab.studies import catalogue, get_study, run_study
from imitlab.studies.heads import toy_trainings
from imitlab.studies.report import write_report

DEMO_STUDIES = ("heads", "multimodality", "chunk-size", "demos")


def train_side_by_side(names: Sequence[str], out: Path, scale: str, seeds: Sequence[int]) -> None:
    """Train every policy the studies ``names`` need before any of them evaluates: one single-threaded process
    per core, longest trainings first, so the cores stay busy until the last one ends (a study alone would wait
    for its slowest run while the other core idles). The studies then find their policies trained."""
    out = Path(out).resolve()
    specs = {spec.train_id: spec for name in names for spec in get_study(name).grid(scale, tuple(seeds))}
    prepare_datasets(list(specs.values()), out)
    jobs = [
        (
            expected_train_seconds(spec.policy, spec.train_overrides, spec.policy_overrides),
            partial(trained_policy, spec, out),
        )
        for spec in specs.values()
    ]
    if "multimodality" in names:
        jobs += toy_trainings(out, scale, seeds)
    call_in_processes([call for _, call in sorted(jobs, key=lambda job: -job[0])])


def run_demo(out: Path, scale: str = "small", seeds: Sequence[int] | None = None) -> Path:
    """Small scale: the four demo studies; full scale: every study; one training seed (0) unless ``seeds`` are
    given (its tables say "1 training seed"). Prints the headline table and returns the report path."""
    out = Path(out)
    seeds = (0,) if seeds is None else tuple(seeds)
    names = DEMO_STUDIES if scale == "small" else ("heads", *(n for n in catalogue() if n != "heads"))
    train_side_by_side(names, out, scale, seeds)
    sections = [run_study(name, out, scale, seeds, executor="processes") for name in names]
    headline = sections[0].tables[0]
    print(f"\n{headline.caption}\n{headline.markdown}\n")
    for section in sections[1:]:
        print(f"{section.title}: {out / section.name / 'summary.md'}")
    report = write_report(out, out / "report.html", title="imitlab demo")
    print(f"\nreport: {report}")
    return report
