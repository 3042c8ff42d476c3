"""trtexec's option grammar per TensorRT version, from rules/trt.toml [trtexec.flags]/[trtexec.values].

Every command the advisor prints is built from flags this module says the version has, and the
tests parse every printed command back through :func:`check_command` for every known version.
From 11.0 an unknown option makes trtexec fail, so a flag the version lacks is an error, and a
deprecated no-op is never printed either.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Version, parse_version


@dataclass(frozen=True)
class FlagSpec:
    name: str
    value: str                          # grammar name; "" when the flag takes no value
    since: Version | None
    removed_in: Version | None
    deprecated_in: Version | None
    value_from: tuple[tuple[Version, str], ...]  # (version, grammar) switches, oldest first

    def grammar_at(self, version: Version) -> str:
        grammar = self.value
        for start, name in self.value_from:
            if version >= start:
                grammar = name
        return grammar

    def state_at(self, version: Version) -> str:
        """'missing' (not yet added), 'removed', 'deprecated' or 'ok'."""
        if self.since is not None and version < self.since:
            return "missing"
        if self.removed_in is not None and version >= self.removed_in:
            return "removed"
        if self.deprecated_in is not None and version >= self.deprecated_in:
            return "deprecated"
        return "ok"


@dataclass(frozen=True)
class FlagGrammar:
    flags: dict[str, FlagSpec]
    values: dict[str, re.Pattern[str]]

    def usable(self, flag: str, version: Version) -> bool:
        """Whether ``flag`` (``--name`` or ``--name=value``) may be printed for ``version``."""
        spec = self.flags.get(flag.split("=", 1)[0])
        return spec is not None and spec.state_at(version) == "ok"


def _opt(text: object) -> Version | None:
    return parse_version(str(text)) if text is not None else None


_GRAMMARS: dict[int, tuple[RuleBook, FlagGrammar]] = {}  # by id(book): a RuleBook holds dicts, so it is not hashable


def _build(book: RuleBook) -> FlagGrammar:
    values = {k: re.compile(v) for k, v in book.trt["trtexec"]["values"].items()}
    flags: dict[str, FlagSpec] = {}
    for name, spec in book.trt["trtexec"]["flags"].items():
        switches = tuple(sorted((parse_version(str(v)), str(g)) for v, g in (spec.get("value_from") or {}).items()))
        flags[name] = FlagSpec(name=name, value=str(spec.get("value", "")), since=_opt(spec.get("since")),
                               removed_in=_opt(spec.get("removed_in")),
                               deprecated_in=_opt(spec.get("deprecated_in")), value_from=switches)
    return FlagGrammar(flags=flags, values=values)


def grammar(book: RuleBook) -> FlagGrammar:
    held = _GRAMMARS.get(id(book))
    if held is None or held[0] is not book:
        held = _GRAMMARS[id(book)] = (book, _build(book))
    return held[1]


def check_flag(token: str, version: Version, book: RuleBook) -> str | None:
    """What is wrong with one ``--flag[=value]`` token for ``version``; None when it parses."""
    g = grammar(book)
    name, has_value, value = token.partition("=")
    spec = g.flags.get(name)
    shown = ".".join(map(str, version))
    if spec is None:
        return f"{name} is not a trtexec option the rules know"
    state = spec.state_at(version)
    if state == "missing":
        return f"{name} does not exist before TensorRT {'.'.join(map(str, spec.since or ()))} (target {shown})"
    if state == "removed":
        return f"{name} was removed in TensorRT {'.'.join(map(str, spec.removed_in or ()))} (target {shown})"
    if state == "deprecated":
        return (f"{name} is a deprecated no-op since TensorRT {'.'.join(map(str, spec.deprecated_in or ()))} "
                f"(target {shown})")
    wanted = spec.grammar_at(version)
    if not wanted:
        return f"{name} takes no value (got '{value}')" if has_value else None
    if not has_value or not value:
        return f"{name} needs a value"
    if not g.values[wanted].fullmatch(value):
        return f"{name}={value} does not parse for TensorRT {shown} (expects {wanted})"
    return None


def check_command(command: str, version: Version, book: RuleBook) -> list[str]:
    """Every problem trtexec ``version`` would have with ``command`` (a shell line starting with trtexec)."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return [f"the command is not valid shell ({exc})"]
    if not words or words[0].rsplit("/", 1)[-1] != "trtexec":
        return ["the command does not start with trtexec"]
    problems = []
    for word in words[1:]:
        if not word.startswith("--"):
            problems.append(f"'{word}' is not an option")
            continue
        problem = check_flag(word, version, book)
        if problem:
            problems.append(problem)
    return problems


def removed_flags_in(text: str, version: Version, book: RuleBook) -> list[str]:
    """trtexec flags named in free text (a finding's hint) that ``version`` no longer has."""
    g = grammar(book)
    found = []
    for name in re.findall(r"--[A-Za-z][A-Za-z0-9]*", text):
        spec = g.flags.get(name)
        if spec is not None and spec.state_at(version) in ("removed", "deprecated", "missing"):
            found.append(name)
    return found
