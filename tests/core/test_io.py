import pytest

from imitlab.core.errors import ImitlabError
from imitlab.core.io import JsonFileError, atomic_write, read_json_object, write_json


class OwnError(ImitlabError):
    pass


def test_write_json_then_read_json_object_round_trips_unicode(tmp_path):
    path = tmp_path / "deep" / "record.json"
    write_json(path, {"task": "pousser le T", "note": "é", "values": [1, 2.5]})
    assert read_json_object(path, "a record") == {"task": "pousser le T", "note": "é", "values": [1, 2.5]}
    assert "é" in path.read_text(encoding="utf-8")


def test_atomic_write_leaves_the_old_file_and_no_temp_file_when_writing_fails(tmp_path):
    path = tmp_path / "state.txt"
    path.write_text("old")

    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.txt"]


def test_a_missing_file_is_named_with_what_it_should_be(tmp_path):
    with pytest.raises(JsonFileError, match=r"nothing\.json is missing: expected a study section"):
        read_json_object(tmp_path / "nothing.json", "a study section")


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "must hold a JSON object, found list")],
)
def test_a_file_without_a_json_object_raises_the_callers_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "info.json"
    path.write_text(text)
    with pytest.raises(OwnError, match=message) as err:
        read_json_object(path, "the dataset's info", OwnError)
    assert str(path) in str(err.value)


def test_invalid_utf8_is_reported_as_invalid_json(tmp_path):
    path = tmp_path / "stats.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(JsonFileError, match="stats.json is not valid JSON"):
        read_json_object(path, "statistics")
