"""The plug-in proof: an env and a head, each defined and registered in one file under tests/plugins/, go through
`imitlab collect -> train -> eval -> export -> eval --backend onnx` by the command line with no other file edited."""

from __future__ import annotations

import json

import pytest
import toy_env
import toy_head

from imitlab.cli import main


def test_a_toy_env_and_a_toy_head_go_from_collection_to_the_exported_policy_through_the_cli(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    data, run, export = tmp_path / "data", tmp_path / "run", tmp_path / "export"
    main(["collect", "--env", toy_env.NAME, "--episodes", "20", "--out", str(data), "--seed", "0"])
    main(["train", "--policy", toy_head.NAME, "--data", str(data), "--out", str(run)])
    assert f"recipe {toy_env.NAME}/{toy_head.NAME}" in capsys.readouterr().out  # the env's recipe applied
    main(["eval", "--checkpoint", str(run), "--episodes", "20", "--seed", "0", "--json", str(tmp_path / "eager.json")])
    main(["export", "--checkpoint", str(run), "--out", str(export)])
    main(
        [
            "eval",
            "--checkpoint",
            str(run),
            "--backend",
            "onnx",
            "--episodes",
            "20",
            "--seed",
            "0",
            "--json",
            str(tmp_path / "onnx.json"),
        ]
    )
    eager, onnx = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("eager", "onnx"))
    assert json.loads((export / "deploy.json").read_text())["runtime"] == toy_head.NAME
    assert eager["success_rate"] >= 0.9, eager  # the linear head learns the expert's linear law
    assert onnx["success_rate"] == eager["success_rate"]  # deterministic: the same episodes
