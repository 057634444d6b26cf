"""Result tables of the docs filled from finished runs (imitlab.studies.readme), on hand-made sections."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from imitlab.core.io import write_json
from imitlab.studies import SECTION_FILE, Section, Table
from imitlab.studies.readme import MarkerError, main, refresh
from imitlab.studies.table import markdown_table

SUCCESS = markdown_table(["env", "head", "success"], [["pendulum", "bc", "100%"], ["two-path", "bc", "0%"]])


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """runs/demo/heads/section.json with two tables; the working directory is tmp_path."""
    section = Section(
        "heads",
        "Every head",
        "?",
        "imitlab study heads --out runs/demo --scale small --seeds 0",
        [Table("success, 1 training seed", SUCCESS), Table("paired", markdown_table(["a"], [[1]]))],
    )
    write_json(tmp_path / "runs" / "demo" / "heads" / SECTION_FILE, asdict(section))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def doc_with(marker: str, tmp_path, body: str = "old numbers\n") -> str:
    path = tmp_path / "README.md"
    path.write_text(f"# title\n\n<!-- results {marker} -->\n{body}<!-- /results -->\n\nafter\n")
    return path


def test_marked_table_is_replaced_by_the_runs_table_its_caption_and_command(runs):
    text, filled, kept = refresh(doc_with("runs/demo heads 0", runs))
    assert filled == 1 and kept == []
    assert "old numbers" not in text
    assert "**success, 1 training seed**" in text and SUCCESS in text
    assert "From `imitlab study heads --out runs/demo --scale small --seeds 0`." in text
    assert text.startswith("# title\n\n<!-- results runs/demo heads 0 -->\n") and text.endswith(
        "<!-- /results -->\n\nafter\n"
    )


def test_filling_twice_changes_nothing_the_second_time(runs):
    doc = doc_with("runs/demo heads 0", runs)
    assert main([str(doc)]) == 0
    once = doc.read_text()
    assert main([str(doc)]) == 0
    assert doc.read_text() == once


def test_column_filter_keeps_only_the_matching_rows(runs):
    text, _, _ = refresh(doc_with("runs/demo heads 0 env=two-path", runs))
    assert "| two-path | bc | 0% |" in text and "| pendulum |" not in text
    assert "(rows with env = two-path)" in text


def test_tables_whose_runs_are_missing_are_kept_and_reported(runs):
    text, filled, kept = refresh(doc_with("runs/elsewhere heads 0", runs))
    assert filled == 0 and "old numbers" in text
    assert "runs/elsewhere/heads/section.json" in kept[0]


@pytest.mark.parametrize(
    "marker,message",
    [
        ("runs/demo heads", "must read"),
        ("runs/demo heads 5", "has 2 tables"),
        ("runs/demo heads 0 mode=x", "no column mode"),
    ],
)
def test_unreadable_markers_say_what_is_wrong(runs, marker, message):
    with pytest.raises(MarkerError, match=message):
        refresh(doc_with(marker, runs))
