"""How summary.json's types (analysis/summary_file.py) are its schema: `Part`, a JSON object as a frozen dataclass
whose fields are its keys in the order written and whose annotations say what each holds.

`Part.from_json(data, where)` checks an object against the annotations, all the way down (a key missing or unknown,
or a value of the wrong kind, is a one-line SummaryFileError naming the key as `tests.pairs.a vs b.runs[0]` and the
file); `to_json()` gives the object written. A `float` is NaN where the file has null (a number that is missing);
`X | None` is X or nothing; `list[X]`, `Mapping[str, X]` and a Part nest. `schema_table` is the docs' table of a
Part and every Part it holds.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self

from hieros.json_values import finite, is_number


class SummaryFileError(Exception):
    """A summary.json is missing, corrupt or of another schema; the message is one line naming the file."""


class Part:
    """A JSON object of summary.json as a frozen dataclass: each field a key, its annotation the value's kind."""

    OMITTED: ClassVar[frozenset[str]] = frozenset()  # written only when not None; None when the file has no such key

    @classmethod
    def from_json(cls, data: Any, where: str | Path, path: str = "") -> Self:
        """This part of a summary.json's object (at `path`, as 'tests.pairs.a vs b.'), checked; `where` names the
        file in an error."""
        if not isinstance(data, dict):
            raise SummaryFileError(f"{where}: {path.rstrip('.') or 'the summary'} is {_shown(data)}, not an object")
        known = _fields(cls)
        unknown = [key for key in data if key not in known]
        if unknown:
            raise SummaryFileError(f"{where}: unknown key {path}{unknown[0]} (known: {', '.join(known)})")
        values = {}
        for key, kind in known.items():
            if key not in data and key not in cls.OMITTED:
                raise SummaryFileError(f"{where}: key {path}{key} missing")
            values[key] = _read(kind, data[key], where, path + key) if key in data else None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this part, as written to summary.json (NaN and infinity as null)."""
        return {
            key: _written(getattr(self, key))
            for key in _fields(type(self))
            if not (key in self.OMITTED and getattr(self, key) is None)
        }


@cache
def _fields(cls: type) -> dict[str, Any]:
    """{field: its resolved annotation} of a Part, in the order of its fields."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(kind: Any) -> str:
    """A kind as an error and the docs name it: number, int, str, bool, [X], {name: X}, X or null, a type's name."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        return " or ".join("null" if arg is type(None) else _kind(arg) for arg in args)
    if origin is list:
        return f"[{_kind(args[0])}]"
    if origin is Mapping:
        return f"{{name: {_kind(args[1])}}}"
    return {float: "number", int: "int", str: "str", bool: "bool"}.get(kind) or f"`{kind.__name__}`"


def _read(kind: Any, value: Any, where: str | Path, path: str) -> Any:
    """`value` checked against `kind` (a field's annotation); null as NaN where the kind is float."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        return None if value is None else _read(args[0], value, where, path)
    if origin is list and isinstance(value, list):
        return [_read(args[0], item, where, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is Mapping and isinstance(value, dict):
        return {key: _read(args[1], item, where, f"{path}.{key}") for key, item in value.items()}
    if isinstance(kind, type) and issubclass(kind, Part) and isinstance(value, dict):
        return kind.from_json(value, where, path + ".")
    if kind is float and (value is None or is_number(value)):
        return math.nan if value is None else value
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise SummaryFileError(f"{where}: {path} is {_shown(value)}, not {_kind(kind)}")


def _written(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_json()
    if isinstance(value, Mapping):
        return {key: _written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_written(item) for item in value]
    return finite(value)


def schema_table(root: type[Part], first: str = "") -> str:
    """The docs' table of `root` and every Part it holds: each type, what it holds (its docstring), its fields and
    their kinds; `first`: what `root`'s object holds before its fields (summary.json's schema)."""
    lines = ["| type | holds | fields |", "|---|---|---|"]
    for part in _parts(root):
        doc = " ".join((part.__doc__ or "").split())
        fields = [first] if part is root and first else []
        fields += [
            f"`{key}` {_kind(kind).removesuffix(' or null')} (omitted when none)"
            if key in part.OMITTED
            else f"`{key}` {_kind(kind)}"
            for key, kind in _fields(part).items()
        ]
        lines.append(f"| `{part.__name__}` | {doc} | {', '.join(fields)} |")
    return "\n".join(lines)


def _parts(part: type[Part], found: list[type[Part]] | None = None) -> list[type[Part]]:
    """`part` and every Part its fields hold, each once, in the order they first appear."""
    found = [] if found is None else found
    if part not in found:
        found.append(part)
        for kind in _fields(part).values():
            for inner in _inner(kind):
                _parts(inner, found)
    return found


def _inner(kind: Any) -> list[type[Part]]:
    """The Parts a field's kind holds (in a list, a map or beside null)."""
    if isinstance(kind, type):
        return [kind] if issubclass(kind, Part) else []
    return [part for arg in typing.get_args(kind) for part in _inner(arg)]
