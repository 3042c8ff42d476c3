"""A small declarative schema for the rule data: what every table of ``rules/*.toml`` may hold.

A spec is one of:

- ``str``, ``int``, ``float``, ``bool``: a value of that type (an ``int`` is accepted where a ``float`` is
  declared; a ``bool`` is never an ``int``);
- ``OneOf("a", "b")``: one of the listed strings;
- ``ListOf(spec)``: an array whose items all match ``spec`` (an array of tables is ``ListOf(Table(...))``);
- ``MapOf(spec, key=r"regex")``: a table with free keys (rule codes, GPU names), every value matching ``spec``;
- ``Table(name=spec, ...)``: a table with exactly these keys; wrap a spec in ``Opt(spec, default)`` to make
  its key optional, and the default is filled in so readers never guess one.

``validate(spec, value, file)`` returns the value with defaults filled in, or raises ``RuleDataError`` with one
line naming the file and the dotted key path, plus a did-you-mean for an unknown key close to a known one.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from trtadvisor.errors import RuleDataError

Spec = Any  # a type (str, int, float, bool) or one of the classes below


@dataclass(frozen=True)
class OneOf:
    choices: tuple[str, ...]

    def __init__(self, *choices: str) -> None:
        object.__setattr__(self, "choices", choices)


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class MapOf:
    value: Spec
    key: str = r".+"  # every key must match this regex in full


@dataclass(frozen=True)
class Opt:
    spec: Spec
    default: Any


class Table:
    """A table with a fixed set of keys; ``Table({"odd-key": str}, plain=int)`` takes keys that are not names."""

    def __init__(self, fields: dict[str, Spec] | None = None, /, **named: Spec) -> None:
        self.fields: dict[str, Spec] = {**(fields or {}), **named}

    def extend(self, **more: Spec) -> Table:
        return Table({**self.fields, **more})


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def describe(spec: Spec) -> str:
    """What a spec expects, in words (used in error hints and by `trtadvisor rules --schema`-style docs)."""
    if spec in _TYPE_NAMES:
        return _TYPE_NAMES[spec]
    if isinstance(spec, OneOf):
        return "one of " + ", ".join(repr(c) for c in spec.choices)
    if isinstance(spec, ListOf):
        return f"an array of {describe(spec.item)}"
    if isinstance(spec, MapOf):
        return f"a table of {describe(spec.value)}"
    if isinstance(spec, Opt):
        return describe(spec.spec)
    return "a table"


def validate(spec: Spec, value: Any, file: str, path: str = "") -> Any:
    """``value`` checked against ``spec``; defaults of absent optional keys filled in."""
    where = path or "(top level)"
    if isinstance(spec, Opt):
        spec = spec.spec
    if isinstance(spec, Table):
        if not isinstance(value, dict):
            _fail(file, f"'{where}' is not a table", f"'{where}' must be {describe(spec)}")
        unknown = [k for k in value if k not in spec.fields]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, [k for k in spec.fields if k not in value], n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(spec.fields)
            _fail(file, f"unknown key '{_join(path, key)}'", hint)
        out: dict[str, Any] = {}
        for key, sub in spec.fields.items():
            if key in value:
                out[key] = validate(sub, value[key], file, _join(path, key))
            elif isinstance(sub, Opt):
                out[key] = sub.default
            else:
                _fail(file, f"missing key '{_join(path, key)}'", f"add it: {describe(sub)}")
        return out
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            _fail(file, f"'{where}' is not a table", f"'{where}' must be {describe(spec)}")
        for key in value:
            if not re.fullmatch(spec.key, key):
                _fail(file, f"key '{_join(path, key)}' does not match {spec.key}", "rename it")
        return {k: validate(spec.value, v, file, _join(path, k)) for k, v in value.items()}
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            _fail(file, f"'{where}' is not an array", f"'{where}' must be {describe(spec)}")
        return [validate(spec.item, v, file, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(spec, OneOf):
        if value not in spec.choices:
            _fail(file, f"'{where}' is {value!r}", f"use {describe(spec)}")
        return value
    if spec is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec in _TYPE_NAMES:
        if not isinstance(value, spec) or (spec is int and isinstance(value, bool)):
            _fail(file, f"'{where}' is {type(value).__name__} {value!r}", f"'{where}' must be {describe(spec)}")
        return value
    raise TypeError(f"not a schema spec: {spec!r}")  # a bug in the declarations, not in the data


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(file: str, message: str, hint: str) -> None:
    raise RuleDataError(f"rules/{file}: {message}", hint)
