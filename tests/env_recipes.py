"""Tests that train on tiny recipes: swap the registered envs' recipes and study demonstrations for the duration
of a monkeypatch (the recipes live on each ``EnvSpec``)."""

from __future__ import annotations

import dataclasses

import pytest

from imitlab.envs.registry import ENVS


def use_recipes(mp: pytest.MonkeyPatch, table: dict, demos: dict[str, int] | None = None) -> None:
    """Every env's CPU recipes become those ``table`` ((env, head) -> recipe) names for it (none if it names none);
    envs in ``demos`` get that many study demonstrations."""
    entries = ENVS._loaded()
    for name, spec in list(entries.items()):
        fields: dict = {"recipes": {head: r for (env, head), r in table.items() if env == name}}
        if demos and name in demos:
            fields["study_demos"] = demos[name]
        mp.setitem(entries, name, dataclasses.replace(spec, **fields))
