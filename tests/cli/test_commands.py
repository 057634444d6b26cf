"""The command line as a whole: every command teaches with an example, shared options are declared once."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

import imitlab.cli
from imitlab.cli import COMMANDS, build_parser, main

CLI_DIR = Path(imitlab.cli.__file__).parent
SHARED_OPTIONS = ("--env", "--policy", "--out", "--seed", "--seeds", "--episodes", "--eval-episodes", "--steps")
SHARED_OPTIONS += ("--set", "--overwrite", "--resume", "--scale", "--device")


def subparsers() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


@pytest.mark.parametrize("name", list(subparsers()))
def test_every_command_help_exits_cleanly_and_ends_with_an_example_of_itself(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"example:\n  imitlab {name} " in capsys.readouterr().out


def test_top_level_help_lists_one_command_per_module_and_the_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "examples:\n  imitlab collect" in out
    assert len(subparsers()) == len(COMMANDS)
    for name in ("compare-execution", "return-sweep", "quantization"):  # formerly `python -m` side programs
        assert f"\n    {name}" in out


def test_set_parses_the_same_through_every_command_that_takes_it():
    parsers = {name: p for name, p in subparsers().items() if option(p, "--set")}
    assert {"train", "eval", "dagger", "remedy", "rl"} <= set(parsers)
    flags = ["--set", "hidden_dim=512", "--set", "name=bc", "--set", "betas=[0.9, 0.99]"]
    expected = [("hidden_dim", 512), ("name", "bc"), ("betas", [0.9, 0.99])]
    for name, p in parsers.items():
        assert option(p, "--set").type(flags[1]) == expected[0], name
    assert build_parser().parse_args(["train", "--policy", "bc", "--data", "d", "--out", "o", *flags]).set == expected
    args = build_parser().parse_args(["rl", "--algo", "ppo", "--env", "pendulum", "--steps", "10", *flags])
    assert args.set == expected and args.seed == 0


@pytest.mark.parametrize("flag", ["--seed", "--set", "--seeds", "--device", "--scale", "--overwrite"])
def test_a_shared_option_has_one_type_default_and_metavar_in_every_command(flag):
    actions = [a for p in subparsers().values() if (a := option(p, flag))]
    assert len(actions) >= 2
    kinds = {(type(a), a.type, repr(a.default), a.metavar, a.nargs, tuple(a.choices or ())) for a in actions}
    assert len(kinds) == 1, kinds


def test_no_command_module_declares_a_shared_option_itself():
    for path in CLI_DIR.glob("*.py"):
        if path.name != "options.py":
            source = path.read_text()
            assert not [f for f in SHARED_OPTIONS if f'add_argument("{f}"' in source], path.name


def test_a_user_error_prints_its_message_and_exits_with_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("MissingFileError: ") and "Traceback" not in err


def test_debug_shows_the_traceback_of_a_user_error(tmp_path):
    from imitlab.core.errors import MissingFileError

    with pytest.raises(MissingFileError, match="holds no study results"):
        main(["--debug", "report", str(tmp_path)])


def test_an_error_that_is_not_the_users_is_not_dressed_as_one(tmp_path, monkeypatch):
    """A KeyError from deep inside (torch, pyarrow, a bug) keeps its traceback instead of a one-line exit 2."""
    import imitlab.cli.report

    def broken(args):
        raise KeyError("an internal key")

    monkeypatch.setattr(imitlab.cli.report, "run", broken)
    with pytest.raises(KeyError, match="an internal key"):
        main(["report", str(tmp_path)])
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from imitlab.cli import main; import imitlab.cli.report as r; "
            "r.run = lambda a: {}['x']; main(['report', '.'])",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" in result.stderr and "KeyError: 'x'" in result.stderr


def test_no_command_raises_systemexit_with_an_error_message_of_its_own():
    """User errors are ImitlabError subclasses that main() prints; no module exits with a message itself."""
    src = Path(__file__).resolve().parents[2] / "src" / "imitlab"
    offenders = [
        p.name for p in src.rglob("*.py") if 'SystemExit("' in p.read_text() or 'SystemExit(f"' in p.read_text()
    ]
    assert offenders == []


def test_python_m_imitlab_cli_is_the_imitlab_command():
    result = subprocess.run(
        [sys.executable, "-m", "imitlab.cli", "eval", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: imitlab eval")


# ---------------------------------------------------------------------------------------------------------------
# wrong types and values on the command line are one line each, exit 2 (docs/reliability.md)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    main(["collect", "--env", "two-path", "--episodes", "3", "--out", str(root / "data"), "--seed", "0"])
    main(["train", "--policy", "bc", "--data", str(root / "data"), "--out", str(root / "run"), "--steps", "2"])
    return root


@pytest.mark.parametrize("value", ["abc", "1.5", "{}", "[1]", "true"])
def test_a_set_value_of_the_wrong_type_is_one_line_naming_the_field(tiny_run, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                "--policy",
                "bc",
                "--data",
                str(tiny_run / "data"),
                "--out",
                str(tmp_path / "r"),
                "--steps",
                "1",
                "--set",
                f"hidden_dim={value}",
            ]
        )
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("InvalidInputError: hidden_dim must be of type int")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--n-action-steps", "0"], "n_action_steps must be in [1, horizon=1], got 0"),
        (["--temporal-ensemble", "nan"], "temporal_ensemble coefficient m must be >= 0, got nan"),
        (["--temporal-ensemble", "-1"], "temporal_ensemble coefficient m must be >= 0, got -1"),
    ],
)
def test_execution_values_that_cannot_act_are_refused_instead_of_ignored_or_nan(tiny_run, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--checkpoint", str(tiny_run / "run"), "--episodes", "2", *flags])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and message in err


def test_a_config_declaring_a_huge_layer_is_refused_before_allocating_it():
    from imitlab.core.errors import InvalidInputError
    from imitlab.policies.base import create_policy
    from imitlab.training.checkpoint import placeholder_stats

    with pytest.raises(InvalidInputError, match=r"hidden_dim 10,000,000 is over imitlab's cap of 16,384"):
        create_policy("bc", placeholder_stats(3, 2), obs_dim=3, act_dim=2, hidden_dim=10_000_000)


def test_a_full_disk_is_one_line_naming_the_file_and_what_was_written_stays(tmp_path, monkeypatch, capsys):
    import errno

    import imitlab.data.writer as writer

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".data.tmp-x" / "data.parquet"))

    monkeypatch.setattr(writer, "_write_tree", full_disk)
    with pytest.raises(SystemExit) as exit_info:
        main(["collect", "--env", "pendulum", "--episodes", "1", "--out", str(tmp_path / "data"), "--seed", "0"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert re.fullmatch(
        rf"DiskFullError: no space left on the device while writing {re.escape(str(tmp_path / 'data'))}: it needs more "
        r"than the [\d,]+ bytes it had written and [\d,]+ are free there; what was written before is kept",
        err,
    )
    assert not (tmp_path / "data").exists() and not list(tmp_path.glob(".data.*"))  # no partial dataset left
