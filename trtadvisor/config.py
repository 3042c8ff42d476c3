"""Per-project configuration: ``[tool.trtadvisor]`` in ``pyproject.toml``, or a ``trtadvisor.toml``.

The file is found upward from the model (a ``trtadvisor.toml`` wins over a ``pyproject.toml`` in the
same folder; a ``pyproject.toml`` without ``[tool.trtadvisor]`` is passed over). Options are a declared
schema, as in yamllint: an unknown key or rule code is an error naming the key, never silently ignored.

    [tool.trtadvisor]
    trt = "10.8"              # target defaults; command-line flags win
    gpu = "L4"                # or sm = 89
    precision = "fp16"
    shapes = "x:8x3x224x224"
    fail-on = "warning"
    select = ["TRT1"]         # codes or prefixes; default: every rule
    extend-select = ["TRT204"]
    ignore = ["TRT109"]
    [tool.trtadvisor.severity]
    TRT204 = "warning"
    [tool.trtadvisor.per-node-ignores]
    "/backbone/*" = ["TRT101"]  # globs over node names or module scopes (block.conv)

Selection follows ruff: the most specific matching entry wins, and ``ignore`` wins a tie.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trtadvisor.errors import UserError, shown
from trtadvisor.knowledge.findings import SEVERITY_ORDER, Finding, sort_findings
from trtadvisor.knowledge.rulebook import SEVERITIES, RuleBook
from trtadvisor.knowledge.target import PRECISIONS
from trtadvisor.safe_io import CONFIG_MAX_BYTES, is_regular, read_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "trtadvisor.toml"
PYPROJECT = "pyproject.toml"
SECTION = "tool.trtadvisor"

_STRING_KEYS = ("trt", "gpu", "precision", "shapes", "fail-on")
_LIST_KEYS = ("select", "ignore", "extend-select")
_TABLE_KEYS = ("severity", "per-node-ignores")
KNOWN_KEYS = (*_STRING_KEYS, "sm", *_LIST_KEYS, *_TABLE_KEYS)
_CODE_PATTERN = re.compile(r"^TRT\d{0,3}$")
_ALL = "TRT"  # the implicit `select` when none is given: every code starts with it


class ConfigError(UserError):
    """The configuration file has an unknown key, an unknown rule code or a value of the wrong type."""


@dataclass(frozen=True)
class Config:
    """What the configuration file says; :data:`EMPTY` when there is none."""

    path: Path | None = None
    trt: str | None = None
    sm: str | None = None
    gpu: str | None = None
    precision: str | None = None
    shapes: str | None = None
    fail_on: str | None = None
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    per_node_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def enabled(self, code: str) -> bool:
        """Whether findings of ``code`` are reported: the longest matching select/ignore entry decides."""
        selected = max((len(p) for p in (*(self.select or (_ALL,)), *self.extend_select) if code.startswith(p)),
                       default=-1)
        ignored = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return selected > ignored

    def severity_of(self, code: str, default: str) -> str:
        return self.severity.get(code, default)

    def ignored_at(self, code: str, names: Iterable[str]) -> bool:
        """True when a per-node ignore for ``code`` matches one of ``names`` (node names or scopes)."""
        candidates = [n for n in names if n]
        for pattern, codes in self.per_node_ignores:
            if any(code.startswith(c) for c in codes) and any(fnmatch.fnmatchcase(n, pattern) for n in candidates):
                return True
        return False


EMPTY = Config()


def find_config(start: Path) -> Path | None:
    """The nearest ``trtadvisor.toml``, or ``pyproject.toml`` with ``[tool.trtadvisor]``, from ``start`` up."""
    try:
        here = start.resolve()
        folder = here if here.is_dir() else here.parent
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long: no configuration
        return None
    for directory in (folder, *folder.parents):
        own = directory / CONFIG_FILE
        if is_regular(own):
            return own
        pyproject = directory / PYPROJECT
        if is_regular(pyproject) and _has_section(pyproject):
            return pyproject
    return None


def _has_section(pyproject: Path) -> bool:
    try:
        data = _read_toml(pyproject)
    except ConfigError:
        return False  # someone else's broken pyproject.toml is not ours to report
    tool = data.get("tool")
    return isinstance(tool, dict) and "trtadvisor" in tool


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path`` (a regular file of bounded size); every failure is a ConfigError.

    tomllib recurses once per nesting level: a value nested thousands deep (under any table, even
    ``[tool.black]``) is a RecursionError, and a 5,000-digit integer a ValueError, both reported here.
    """
    hint = "check the path given to --config"
    data = read_regular(path, what="a TOML configuration file", hint=hint, limit=CONFIG_MAX_BYTES,
                        error=ConfigError)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{shown(path)}: not UTF-8 text", "save the configuration file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(path)}: not valid TOML ({shown(exc, 200)})", "fix the TOML syntax") from None
    except RecursionError:
        raise ConfigError(f"{shown(path)}: a value is nested too deeply to read", "flatten the TOML") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise ConfigError(f"{shown(path)}: a value cannot be read ({shown(exc, 120)})", "fix the TOML value") from None


def load_config(path: Path, book: RuleBook) -> Config:
    """Read and validate the configuration at ``path``; every problem is a :class:`ConfigError`."""
    data = _read_toml(path)
    if path.name == PYPROJECT:
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{shown(path)}: 'tool' is not a table", "write [tool.trtadvisor] as a table")
        table = tool.get("trtadvisor", {})
        prefix = SECTION
    else:
        table, prefix = data, ""
    if not isinstance(table, dict):
        raise ConfigError(f"{shown(path)}: '{prefix or 'the file'}' is not a table",
                          "write [tool.trtadvisor] as a table")
    return _parse(path, prefix, table, book)


def _key(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _parse(path: Path, prefix: str, table: dict[str, Any], book: RuleBook) -> Config:
    for key in table:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{shown(path)}: unknown key '{_key(prefix, key)}'",
                              f"{hint}known keys: {', '.join(KNOWN_KEYS)}")
    values: dict[str, Any] = {}
    for key in _STRING_KEYS:
        if key in table:
            values[key.replace("-", "_")] = _string(path, _key(prefix, key), table[key])
    if "sm" in table:
        sm = table["sm"]
        if isinstance(sm, bool) or not isinstance(sm, (int, str)) or (isinstance(sm, int) and not 0 < sm < 1000):
            raise ConfigError(f"{shown(path)}: '{_key(prefix, 'sm')}' must be a number such as 89",
                              "write sm = 89 (for SM 8.9)")
        values["sm"] = str(sm)
    if values.get("precision") is not None and values["precision"] not in PRECISIONS:
        raise ConfigError(f"{shown(path)}: '{_key(prefix, 'precision')}' is '{values['precision']}'",
                          f"use one of {', '.join(PRECISIONS)}")
    if values.get("fail_on") is not None and values["fail_on"] not in SEVERITY_ORDER:
        raise ConfigError(f"{shown(path)}: '{_key(prefix, 'fail-on')}' is '{values['fail_on']}'",
                          "use error, warning or info")
    codes = set(book.rules)
    for key in _LIST_KEYS:
        if key in table:
            values[key.replace("-", "_")] = _codes(path, _key(prefix, key), table[key], codes)
    if "severity" in table:
        values["severity"] = _severity(path, _key(prefix, "severity"), table["severity"], codes)
    if "per-node-ignores" in table:
        values["per_node_ignores"] = _per_node(path, _key(prefix, "per-node-ignores"), table["per-node-ignores"],
                                               codes)
    return Config(path=path, **values)


def _string(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{shown(path)}: '{where}' must be a string, not {type(value).__name__}",
                          f"write {where.rsplit('.', 1)[-1]} = \"...\"")
    return value


def _code(path: Path, where: str, value: Any, codes: set[str]) -> str:
    if not isinstance(value, str) or not _CODE_PATTERN.match(value.upper()):
        raise ConfigError(f"{shown(path)}: '{where}' holds '{value}', which is not a rule code or prefix",
                          "write codes such as TRT101, or prefixes such as TRT1; 'trtadvisor rules' lists them")
    code = value.upper()
    if not any(c.startswith(code) for c in codes):
        raise ConfigError(f"{shown(path)}: '{where}' names unknown rule code '{value}'",
                          "run 'trtadvisor rules' for the list of codes")
    return code


def _codes(path: Path, where: str, value: Any, codes: set[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{shown(path)}: '{where}' must be a list of rule codes", f"write {where.rsplit('.', 1)[-1]} "
                          "= [\"TRT101\"]")
    return tuple(_code(path, where, v, codes) for v in value)


def _severity(path: Path, where: str, value: Any, codes: set[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{shown(path)}: '{where}' must be a table of CODE = \"severity\"",
                          f"write [{where}] and then TRT204 = \"warning\"")
    out: dict[str, str] = {}
    for code, severity in value.items():
        if not isinstance(severity, str):
            raise ConfigError(f"{shown(path)}: '{where}.{code}' must be a string",
                              f"use one of {', '.join(SEVERITIES)}")
        if code.upper() not in codes:
            raise ConfigError(f"{shown(path)}: '{where}.{code}' names unknown rule code '{code}'",
                              "severity overrides take full codes; 'trtadvisor rules' lists them")
        if severity not in SEVERITIES:
            raise ConfigError(f"{shown(path)}: '{where}.{code}' is '{severity}'", f"use one of {', '.join(SEVERITIES)}")
        out[code.upper()] = str(severity)
    return out


def _per_node(path: Path, where: str, value: Any, codes: set[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{shown(path)}: '{where}' must be a table of \"glob\" = [codes]",
                          f"write [{where}] and then \"/backbone/*\" = [\"TRT101\"]")
    return tuple((str(glob), _codes(path, f"{where}.\"{glob}\"", v, codes)) for glob, v in value.items())


def apply_config(findings: Iterable[Finding], config: Config, scope_of: Callable[[str], str]) -> list[Finding]:
    """Drop unselected and per-node-ignored findings and apply severity overrides.

    ``scope_of`` maps a node name to its module scope, so globs may name either.
    """
    kept: list[Finding] = []
    for f in findings:
        if not config.enabled(f.rule):
            continue
        if config.per_node_ignores and config.ignored_at(f.rule, (*f.nodes, *(scope_of(n) for n in f.nodes))):
            continue
        severity = config.severity_of(f.rule, f.severity)
        kept.append(f if severity == f.severity else replace(f, severity=severity))
    return sort_findings(kept)
