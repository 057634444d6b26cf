"""Fill the result tables of markdown documents (README.md, docs/*.md) from finished study runs, so that no number
in them is copied by hand. A table is marked in the document by

    <!-- results RUNS_DIR STUDY INDEX [COLUMN=VALUE ...] -->
    (anything: replaced)
    <!-- /results -->

and becomes table INDEX (0-based) of ``RUNS_DIR/STUDY/section.json`` (what ``imitlab study`` or ``imitlab demo``
wrote there): its caption, the markdown table, and the command that produced it. ``COLUMN=VALUE`` keeps only the
rows whose cell under COLUMN is VALUE (an excerpt, e.g. ``env=two-path``). RUNS_DIR is relative to the directory
the command runs in. A marked table whose runs are missing is kept as it is and reported.

    python -m imitlab.studies.readme README.md docs/dagger.md docs/studies.md docs/heads.md   # or: make readme-tables
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from imitlab.core.errors import ImitlabError
from imitlab.studies import SECTION_FILE, read_section

BLOCK = re.compile(r"(<!-- results (?P<args>[^>]*?) -->\n)(?P<body>.*?)(<!-- /results -->)", re.DOTALL)


class MarkerError(ImitlabError):
    """A results marker that cannot be read."""


@dataclass(frozen=True)
class Marker:
    runs_dir: Path
    study: str
    index: int
    where: dict[str, str]

    @classmethod
    def parse(cls, text: str, where_in_doc: str) -> Marker:
        words = shlex.split(text)
        if len(words) < 3 or not words[2].isdigit() or any("=" not in w for w in words[3:]):
            raise MarkerError(
                f"{where_in_doc}: results marker '{text}' must read 'RUNS_DIR STUDY INDEX [COLUMN=VALUE ...]', "
                "e.g. '<!-- results runs/demo heads 0 -->'"
            )
        where = dict(w.split("=", 1) for w in words[3:])
        return cls(Path(words[0]), words[1], int(words[2]), where)


def excerpt(markdown: str, where: dict[str, str]) -> str:
    """The rows of a markdown table (``table.markdown_table``) whose cells match ``where`` (column -> value)."""
    lines = markdown.strip().splitlines()
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    missing = [c for c in where if c not in header]
    if missing:
        raise MarkerError(f"the table has no column {', '.join(missing)} (columns: {', '.join(header)})")
    keep = [
        line
        for line in lines[2:]
        if all([c.strip() for c in line.strip().strip("|").split("|")][header.index(k)] == v for k, v in where.items())
    ]
    return "\n".join(lines[:2] + keep)


def render(marker: Marker) -> str | None:
    """The block a marker stands for, or None when its study has not been run under its RUNS_DIR."""
    study_dir = marker.runs_dir / marker.study
    if not (study_dir / SECTION_FILE).is_file():
        return None
    section = read_section(study_dir)
    if marker.index >= len(section.tables):
        raise MarkerError(
            f"{study_dir / SECTION_FILE} has {len(section.tables)} tables; table {marker.index} does not exist"
        )
    table = section.tables[marker.index]
    body = excerpt(table.markdown, marker.where) if marker.where else table.markdown
    rows_note = f" (rows with {', '.join(f'{k} = {v}' for k, v in marker.where.items())})" if marker.where else ""
    return f"**{table.caption}**{rows_note}\n\n{body}\n\nFrom `{section.command}`.\n"


def refresh(doc: Path) -> tuple[str, int, list[str]]:
    """``doc``'s text with every marked table filled from its runs; how many were filled; the markers kept
    (their runs are missing)."""
    text = Path(doc).read_text()
    filled, kept = 0, []

    def replace(match: re.Match) -> str:
        nonlocal filled
        line = text.count("\n", 0, match.start()) + 1
        marker = Marker.parse(match["args"], f"{doc}:{line}")
        block = render(marker)
        if block is None:
            kept.append(f"{doc}:{line}: no {marker.runs_dir / marker.study / SECTION_FILE}; table kept as it was")
            return match.group(0)
        filled += 1
        return match.group(1) + block + match.group(4)

    return BLOCK.sub(replace, text), filled, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imitlab.studies.readme", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("docs", type=Path, nargs="+", help="markdown files with <!-- results ... --> markers")
    args = parser.parse_args(argv)
    try:
        for doc in args.docs:
            text, filled, kept = refresh(doc)
            doc.write_text(text)
            print(f"{doc}: {filled} table(s) filled from runs")
            for note in kept:
                print(f"  {note}")
    except (ImitlabError, FileNotFoundError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
