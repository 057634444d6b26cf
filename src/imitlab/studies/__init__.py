"""Studies: each course experiment as one command. A study is a grid of ``RunSpec`` (configs x training seeds)
run by ``experiments.grid.run_grid`` (so it resumes from its results file), plus an analysis that turns the rows into tables and
figures. Output, under ``OUT/NAME/``: ``results.csv`` (one row per run), PNG/GIF figures, ``summary.md`` and
``section.json`` (what ``imitlab report`` renders). Every study under one OUT shares ``OUT/data`` and
``OUT/runs``, so a policy two studies need is trained once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imitlab.core.errors import InvalidInputError
from imitlab.core.io import read_json_object, write_json
from imitlab.core.registry import Registry
from imitlab.experiments.grid import run_grid
from imitlab.experiments.runs import RESULTS_FILE, RunSpec

SCALES = ("small", "full")  # small: minutes on 2 cores (the demo and the slow tests); full: the real study
# training seeds when none are given: one at small scale (a quick look, its tables say "1 training seed"); at full
# scale enough seeds for an interval over trained policies (docs/studies.md, Statistics)
DEFAULT_SEEDS = {"small": (0,), "full": (0, 1, 2)}
SECTION_FILE = "section.json"


@dataclass
class Figure:
    file: str  # path relative to the study directory (PNG or GIF)
    caption: str  # what this shows, in one line


@dataclass
class Table:
    caption: str
    markdown: str


@dataclass
class Section:
    """What one study contributes to the report."""

    name: str
    title: str
    question: str
    command: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    question: str  # the question it answers, in one line
    grid: Callable[[str, Sequence[int]], list[RunSpec]]  # (scale, seeds) -> runs
    # (rows, out root, study dir, scale, seeds) -> tables and figures; may run extra measurements (on the trained
    # policies, or whole pipelines with their own cache, like the remedies)
    analyse: Callable[[list[dict[str, Any]], Path, Path, str, Sequence[int]], tuple[list[Table], list[Figure]]]


def _register_builtin_studies() -> None:
    import imitlab.studies.compounding_error  # noqa: F401  (compounding error and its remedies)
    import imitlab.studies.heads  # noqa: F401  (the heads and multimodality studies)
    import imitlab.studies.metaworld  # noqa: F401  (the heads on Meta-World)
    import imitlab.studies.recipe_checks  # noqa: F401  (the measurements behind the recipes)
    import imitlab.studies.sweeps  # noqa: F401  (the sweeps)


STUDIES: Registry[Study] = Registry("study", load=_register_builtin_studies)
register_study = STUDIES.register
get_study = STUDIES.get


# The built-in studies in reading order (the report and `imitlab study --help` list them so): the heads first,
# then the sweeps, then compounding error and its remedies. Studies registered elsewhere follow, as registered.
BUILT_IN_ORDER = (
    "heads",
    "multimodality",
    "metaworld",
    "chunk-size",
    "demos",
    "denoise-steps",
    "guidance",
    "obs-history",
    "execution",
    "compounding-error",
    "dagger",
    "recipe-checks",
)


def catalogue() -> dict[str, Study]:
    """Every registered study by name, the built-in ones included, in reading order (not import order)."""
    rank = {name: i for i, name in enumerate(BUILT_IN_ORDER)}
    return dict(sorted(STUDIES.items(), key=lambda item: rank.get(item[0], len(rank))))


def study_grid(name: str, scale: str, seeds: Sequence[int], envs: Sequence[str] | None = None) -> list[RunSpec]:
    """The runs (one record each) of study ``name`` at ``scale`` with ``seeds``; with ``envs``, only those on these envs."""
    grid = get_study(name).grid(scale, tuple(seeds))
    if not envs:
        return grid
    grid_envs = {spec.env for spec in grid}
    unknown = sorted(set(envs) - grid_envs)
    if unknown:
        raise InvalidInputError(
            f"study {name} at {scale} scale has no runs on {', '.join(unknown)}; its envs: {', '.join(sorted(grid_envs))}"
        )
    return [spec for spec in grid if spec.env in envs]


def studies_on(envs: Sequence[str], scale: str) -> list[str]:
    """The catalogue's studies (in reading order) whose grid at ``scale`` has runs on every env of ``envs``: what
    ``imitlab study all --env ...`` runs, so that no study fails on a missing env after the others ran."""
    return [
        name
        for name, study in catalogue().items()
        if set(envs) <= {spec.env for spec in study.grid(scale, DEFAULT_SEEDS[scale])}
    ]


def study_command(name: str, out: Path, scale: str, seeds: Sequence[int], envs: Sequence[str] | None = None) -> str:
    command = f"imitlab study {name} --out {out} --scale {scale} --seeds {' '.join(map(str, seeds))}"
    return command + (f" --env {' '.join(envs)}" if envs else "")


def run_study(
    name: str,
    out: Path,
    scale: str = "small",
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    executor: str = "local",
    ray: Any = None,
    envs: Sequence[str] | None = None,
) -> Section:
    """Run (or resume) study ``name`` under ``out`` and write its results, figures, summary.md and section.json.
    ``seeds``: training seeds (default: ``DEFAULT_SEEDS[scale]``); ``envs``: only the grid's runs on these envs
    (default: all); ``executor``/``ray``: how the grid's runs are executed (see ``experiments.grid.run_grid``)."""
    if scale not in SCALES:
        raise InvalidInputError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    seeds = DEFAULT_SEEDS[scale] if seeds is None else seeds
    study = get_study(name)
    out = Path(out)
    study_dir = out / name
    rows = run_grid(
        study_grid(name, scale, seeds, envs),
        out,
        study_dir / RESULTS_FILE,
        progress=progress,
        executor=executor,
        ray=ray,
    )
    tables, figures = study.analyse(rows, out, study_dir, scale, tuple(seeds))
    section = Section(
        study.name, study.title, study.question, study_command(name, out, scale, seeds, envs), tables, figures
    )
    write_json(study_dir / SECTION_FILE, asdict(section))
    summary = [f"# {section.title}", "", section.question, "", f"`{section.command}`", ""]
    for table in tables:
        summary += [f"**{table.caption}**", "", table.markdown, ""]
    summary += [f"![{f.caption}]({f.file})" for f in figures]
    (study_dir / "summary.md").write_text("\n".join(summary) + "\n")
    return section


def read_section(study_dir: Path) -> Section:
    data = read_json_object(Path(study_dir) / SECTION_FILE, "a study's report section, written by `imitlab study`")
    return Section(
        **{**data, "tables": [Table(**t) for t in data["tables"]], "figures": [Figure(**f) for f in data["figures"]]}
    )
