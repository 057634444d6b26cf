"""The main job: reduced versions of four studies (every head on every env, multimodality, chunk size, number of
demonstrations), then one HTML report; ``--scale full`` runs every study in full. Every run is cached under the
output directory, so an interrupted demo resumes where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from imitlab.report import write_report
from imitlab.studies import catalogue, run_study

DEMO_STUDIES = ("heads", "multimodality", "chunk-size", "demos")


def run_demo(out: Path, scale: str = "small", seeds: Sequence[int] = (0,)) -> Path:
    """Small scale: the four demo studies; full scale: every study. Prints the headline table and returns the
    report path."""
    out = Path(out)
    names = DEMO_STUDIES if scale == "small" else ("heads", *(n for n in catalogue() if n != "heads"))
    # one single-threaded process per core: the demo's small heads run side by side
    sections = [run_study(name, out, scale, seeds, executor="processes") for name in names]
    headline = sections[0].tables[0]
    print(f"\n{headline.caption}\n{headline.markdown}\n")
    for section in sections[1:]:
        print(f"{section.title}: {out / section.name / 'summary.md'}")
    report = write_report(out, out / "report.html", title="imitlab demo")
    print(f"\nreport: {report}")
    return report
