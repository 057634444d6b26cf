import pytest

from imitlab.core.appendlog import append_record, complete_text
from imitlab.experiments.runs import append_row, read_rows


def test_a_record_a_kill_cut_short_is_not_read_and_is_cut_off_by_the_next_append(tmp_path):
    path = tmp_path / "log.jsonl"
    append_record(path, '{"step": 1}\n')
    with open(path, "a") as f:
        f.write('{"step": 2, "lo')  # the kill
    assert complete_text(path) == '{"step": 1}\n'
    append_record(path, '{"step": 2}\n')
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n'


def test_a_file_holding_only_a_torn_record_reads_as_empty(tmp_path):
    (tmp_path / "log.jsonl").write_text('{"st')
    assert complete_text(tmp_path / "log.jsonl") == ""
    assert complete_text(tmp_path / "missing.jsonl") == ""


def test_a_record_without_its_terminator_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must end with"):
        append_record(tmp_path / "log.jsonl", '{"step": 1}')


def test_a_study_row_a_kill_cut_short_is_not_a_finished_run_and_the_next_row_follows_the_header(tmp_path):
    csv_path = tmp_path / "results.csv"
    append_row(csv_path, {"run_id": "a", "successes": 3}, ["run_id", "successes"])
    with open(csv_path, "a", newline="") as f:
        f.write("b,")  # the kill
    assert read_rows(csv_path) == [{"run_id": "a", "successes": "3"}]
    append_row(csv_path, {"run_id": "b", "successes": 1}, ["run_id", "successes"])
    assert read_rows(csv_path) == [{"run_id": "a", "successes": "3"}, {"run_id": "b", "successes": "1"}]
    torn_header = tmp_path / "new.csv"
    torn_header.write_text("run_id,succ")
    append_row(torn_header, {"run_id": "c", "successes": 0}, ["run_id", "successes"])
    assert read_rows(torn_header) == [{"run_id": "c", "successes": "0"}]
