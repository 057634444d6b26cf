"""Type checks for config dataclasses, whose values may come from JSON a user edited or a damaged file."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

from imitlab.core.errors import InvalidInputError

# annotation (as written, under ``from __future__ import annotations``) -> accepted type (numpy scalars included);
# bool is never a number
SIMPLE_TYPES: dict[str, type] = {"int": numbers.Integral, "float": numbers.Real, "bool": bool, "str": str}


def check_field_types(config: Any) -> None:
    """Raise ValueError naming the first field of dataclass ``config`` annotated ``int``, ``float``, ``bool`` or
    ``str`` whose value has another type; fields of other annotations are left to the config's own checks."""
    for field in dataclasses.fields(config):
        accepted = SIMPLE_TYPES.get(str(field.type))
        value = getattr(config, field.name)
        if accepted is None:
            continue
        if not isinstance(value, accepted) or (isinstance(value, bool) and accepted is not bool):
            raise InvalidInputError(f"{field.name} must be of type {field.type}, got {value!r}")
