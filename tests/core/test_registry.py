from dataclasses import dataclass

import pytest

from imitlab.core.errors import ImitlabError
from imitlab.core.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class Entry:
    name: str


def test_registered_entries_are_found_by_name_in_registration_order():
    reg: Registry[Entry] = Registry("thing")
    b, a = reg.register(Entry("b")), reg.register(Entry("a"))
    assert reg.get("a") is a and reg.get("b") is b
    assert reg.names() == ["b", "a"] and list(reg) == ["b", "a"]
    assert reg.items() == [("b", b), ("a", a)]
    assert "a" in reg and "c" not in reg and len(reg) == 2


def test_register_works_as_a_class_decorator_and_returns_the_class():
    reg: Registry[type] = Registry("class", key=lambda cls: cls.__name__)

    @reg.register
    class Head:
        pass

    assert reg.get("Head") is Head


def test_unknown_name_error_lists_the_known_names_and_is_a_key_error():
    reg: Registry[Entry] = Registry("policy")
    reg.register(Entry("mlp"))
    reg.register(Entry("act"))
    with pytest.raises(UnknownNameError) as err:
        reg.get("dp")
    assert str(err.value) == "unknown policy 'dp'; available: act, mlp"
    assert isinstance(err.value, KeyError) and isinstance(err.value, ImitlabError)


def test_a_name_registered_twice_is_refused():
    reg: Registry[Entry] = Registry("env")
    reg.register(Entry("pendulum"))
    with pytest.raises(ValueError, match="env 'pendulum' is registered twice"):
        reg.register(Entry("pendulum"))


def test_load_runs_once_before_the_first_lookup_and_may_register():
    calls = []
    reg: Registry[Entry] = Registry("study", load=lambda: calls.append(reg.register(Entry("heads"))))
    assert calls == []
    assert reg.names() == ["heads"] and "heads" in reg and reg.get("heads").name == "heads"
    assert len(calls) == 1


def test_the_package_registries_hold_the_built_in_entries():
    from imitlab.envs.registry import ENVS
    from imitlab.policies.base import POLICIES
    from imitlab.rl.algorithm import ALGOS
    from imitlab.studies import STUDIES

    assert {"bc", "diffusion"} <= set(POLICIES)
    assert {"pendulum", "two-path"} <= set(ENVS)
    assert {"ppo", "reinforce"} <= set(ALGOS)
    assert {"heads", "multimodality"} <= set(STUDIES)
