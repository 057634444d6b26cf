"""The one place where layered settings are resolved: a run's fields come from layers, each over the ones
before it (a policy's or algorithm's defaults < the env's recipe < the user's flags and ``--set``), and every
field remembers which layer set it, so a command can print where each setting came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Layered:
    """Fields resolved from named layers: ``values`` to train with, ``sources`` field -> the layer that set it."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def from_layer(self, layer: str) -> dict[str, Any]:
        """The fields whose value ``layer`` set (and no later layer replaced)."""
        return {k: v for k, v in self.values.items() if self.sources[k] == layer}

    def describe(self) -> str:
        """One line: each layer with the fields it set, in resolution order; empty without fields."""
        layers = dict.fromkeys(self.sources.values())
        parts = []
        for layer in layers:
            fields = " ".join(f"{k}={v}" for k, v in self.from_layer(layer).items())
            parts.append(f"{layer}: {fields}")
        return "; ".join(parts)


def resolve_layers(*layers: tuple[str, Mapping[str, Any] | None]) -> Layered:
    """Merge ``(layer name, fields)`` pairs, later layers winning field by field."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, fields in layers:
        for key, value in (fields or {}).items():
            values[key] = value
            sources[key] = name
    return Layered(values, sources)
