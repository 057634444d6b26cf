import pytest

from imitlab.core.appendlog import append_record, complete_text
from imitlab.core.errors import InvalidInputError
from imitlab.experiments.records import append_row, read_rows


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


def test_a_record_a_kill_cut_short_is_not_a_finished_run_and_the_next_record_follows_it(tmp_path):
    path = tmp_path / "results.jsonl"
    schema = {"run_id": str, "successes": int}
    append_row(path, {"run_id": "a", "successes": 3}, schema)
    with open(path, "a") as f:
        f.write('{"record_version": 1, "run_id": "b", "succ')  # the kill
    assert read_rows(path, schema) == [{"run_id": "a", "successes": 3}]
    append_row(path, {"run_id": "b", "successes": 1}, schema)
    assert read_rows(path, schema) == [{"run_id": "a", "successes": 3}, {"run_id": "b", "successes": 1}]


def test_records_keep_their_types_and_a_wrong_type_names_the_file_line_and_field(tmp_path):
    path = tmp_path / "results.jsonl"
    schema = {"run_id": str, "success_rate": float, "outcomes": list, "policy_overrides": dict}
    row = {"run_id": "a", "success_rate": 1, "outcomes": [True, False], "policy_overrides": {"horizon": 8}}
    append_row(path, row, schema)
    assert read_rows(path, schema) == [row]
    with open(path, "a") as f:
        f.write('{"record_version": 1, "run_id": "b", "success_rate": "0.5", "outcomes": [], "policy_overrides": {}}\n')
    with pytest.raises(InvalidInputError, match=r"results.jsonl, line 2: success_rate must be float, got '0.5'"):
        read_rows(path, schema)


def test_a_record_of_another_version_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"record_version": 99, "run_id": "a"}\n')
    with pytest.raises(InvalidInputError, match="line 1 is not a record of version 1.*move the file away"):
        read_rows(path)


def test_a_results_csv_of_the_former_format_is_read_typed_and_converted(tmp_path):
    """A runs directory written before records were JSON lines: its results.csv is read by the schema."""
    from imitlab.experiments.runs import RUN_SCHEMA

    legacy = tmp_path / "results.csv"
    header = ",".join(RUN_SCHEMA)
    values = {key: "1" for key in RUN_SCHEMA}
    values.update(
        run_id="two-path/bc/demos100/seed0/abc",
        env="two-path",
        policy="bc",
        label="bc",
        success_rate="0.5",
        success_modes='"{""-1"": 1}"',
        outcomes="10",
        policy_overrides='"{""horizon"": 8}"',
        train_overrides="{}",
        eval_overrides="",
    )
    legacy.write_text(header + "\r\n" + ",".join(values[key] for key in RUN_SCHEMA) + "\r\n")
    [row] = read_rows(tmp_path / "results.jsonl", RUN_SCHEMA)
    assert (row["seed"], row["success_rate"], row["outcomes"]) == (1, 0.5, [True, False])
    assert (row["success_modes"], row["policy_overrides"], row["eval_overrides"]) == ({"-1": 1}, {"horizon": 8}, {})
    assert read_rows(tmp_path / "results.jsonl", RUN_SCHEMA) == [row]  # converted once, then read as records
    assert legacy.is_file()
