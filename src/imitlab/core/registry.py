"""One registry mechanism for everything chosen by name: policies, envs, RL algorithms, studies.

Adding an entry is one ``register`` call (or decorator) in the entry's own module; the CLI, trainer, evaluator
and studies find it by name without edits. A registry may be given ``load``, which imports the modules that
register the built-in entries; it runs once, before the first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import Generic, TypeVar

from imitlab.core.errors import ImitlabError

T = TypeVar("T")


class UnknownNameError(ImitlabError, KeyError):
    """A name that no entry of a registry has; the message lists the names that exist.

    A ``KeyError`` too, so code that looked entries up in the former dicts keeps working."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class Registry(Generic[T]):
    """Entries of one kind by name, in registration order.

    ``kind`` names the entries in messages ("policy", "env"); ``key`` gives an entry's name (default: its
    ``name`` attribute); ``load`` registers the built-in entries (it usually imports their modules)."""

    def __init__(
        self, kind: str, key: Callable[[T], str] = attrgetter("name"), load: Callable[[], object] | None = None
    ) -> None:
        self.kind = kind
        self._key = key
        self._load = load
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        """Add ``entry`` under its name and return it unchanged, so this works as a class decorator."""
        name = self._key(entry)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name``; raises ``UnknownNameError`` listing the known names if there is none."""
        entries = self._loaded()
        if name not in entries:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; available: {', '.join(sorted(entries))}")
        return entries[name]

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._loaded())

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, in registration order."""
        return list(self._loaded().items())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._loaded())

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            load, self._load = self._load, None  # cleared first: the modules it imports register entries
            load()
        return self._entries
