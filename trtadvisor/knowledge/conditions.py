"""A rule's failing conditions as data: a check returns a condition id and the facts it found, and the words
(message and fix) come from the rule data, so message and data cannot drift.

The classic fusions name theirs in ``rules/fusions.toml`` (``Blocked`` in ``plan/context.py``); the attention
verdict in ``rules/attention.toml`` [verdict.conditions.ID], the Q/DQ rules in ``rules/qdq.toml`` and the other
attention findings in ``rules/attention.toml`` ([rule.CODE] conditions.ID) use this module. An id the data lacks
is a bug in the check: it raises at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from trtadvisor.knowledge.findings import Finding, finding_for

if TYPE_CHECKING:  # the rule book is data this module only reads
    from trtadvisor.knowledge.rulebook import RuleBook


@dataclass(frozen=True)
class Failed:
    """One failing condition of a check: its id in the rule's data and the facts its texts are filled with."""

    condition: str
    facts: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, condition: str, **facts: object) -> Failed:
        return cls(condition, tuple(facts.items()))


@dataclass(frozen=True)
class ConditionTexts:
    """The condition texts of one rule: id -> {message, fix, ...} (``str.format`` templates of named facts)."""

    owner: str  # where the texts live, for the error: "rules/qdq.toml [rule.TRT404]"
    texts: Mapping[str, Mapping[str, str]] = field(compare=False)

    def text(self, failed: Failed, key: str = "message") -> str:
        """``failed``'s text ``key`` filled with its facts; an id or a fact the data does not have raises."""
        entry = self.texts.get(failed.condition)
        if entry is None:
            raise KeyError(f"{self.owner} has no condition '{failed.condition}' "
                           f"(it has: {', '.join(self.texts)})")
        return entry[key].format(**dict(failed.facts))


def rule_conditions(book: RuleBook, file: str, code: str) -> ConditionTexts:
    """The conditions of ``rules/FILE`` [rule.CODE] (``conditions.ID = message``)."""
    table = book.tables[file]["rule"][code]
    return ConditionTexts(f"rules/{file} [rule.{code}]", {cid: {"message": text}
                                                           for cid, text in table["conditions"].items()})


def condition_finding(book: RuleBook, file: str, code: str, failed: Failed, nodes: Iterable[str] = (),
                      hint: str | None = None) -> Finding:
    """A finding of rule ``code`` whose message is its failing condition's text in ``rules/FILE``."""
    message = rule_conditions(book, file, code).text(failed)
    return replace(finding_for(book, code, message, nodes, hint), condition=failed.condition)
