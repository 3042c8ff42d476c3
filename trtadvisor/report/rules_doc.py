"""`trtadvisor rules` and `trtadvisor explain CODE`: the rules as documentation (text or JSON)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict

from trtadvisor.errors import UserError
from trtadvisor.knowledge.rulebook import RuleBook, RuleDoc, default_rulebook

CODE_W, SEVERITY_W, NAME_W = 8, 8, 34
MIN_SUMMARY = 40  # below this, the summary goes on its own indented lines


def render_rules(book: RuleBook | None = None, width: int = 120) -> str:
    """One rule per row; the summary wraps under its column so that no line is wider than ``width``."""
    book = book or default_rulebook()
    name_w = max([NAME_W, *(len(doc.name) for doc in book.rules.values())])
    lead = CODE_W + SEVERITY_W + name_w + 3
    rows = [f"{'CODE':<{CODE_W}} {'SEVERITY':<{SEVERITY_W}} {'NAME':<{name_w}} SUMMARY"[:width]]
    for doc in book.rules.values():
        head = f"{doc.code:<{CODE_W}} {doc.severity:<{SEVERITY_W}} {doc.name:<{name_w}} "
        room = width - lead
        if room >= MIN_SUMMARY:
            lines = textwrap.wrap(doc.summary, room) or [""]
            rows.append(head + lines[0])
            rows += [" " * lead + line for line in lines[1:]]
        else:  # a narrow terminal: the summary below, indented
            rows.append(head.rstrip()[:width] if len(head.rstrip()) > width else head.rstrip())
            rows += ["    " + line for line in textwrap.wrap(doc.summary, max(20, width - 4))]
    return "\n".join(rows) + "\n"


def rules_json(book: RuleBook | None = None) -> str:
    book = book or default_rulebook()
    return json.dumps({"schema": "trtadvisor.rules/v1", "rules": [asdict(doc) for doc in book.rules.values()]},
                      indent=2, ensure_ascii=False) + "\n"


def _rule(code: str, book: RuleBook) -> RuleDoc:
    doc = book.rules.get(code.upper())
    if doc is None:
        # edit distance is quadratic in the length: a code longer than any rule's is near none of them
        close = closest(code.upper(), list(book.rules)) if len(code) <= 32 else None
        hint = f"did you mean {close}? Run 'trtadvisor rules' for the list" if close else \
            "run 'trtadvisor rules' for the list of codes"
        raise UserError(f"no rule '{code[:40]}'", hint)
    return doc


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(word: str, candidates: list[str], limit: int = 2) -> str | None:
    """The candidate fewest edits away (at most ``limit``), the first listed on a tie; None when none is close."""
    best = min(candidates, key=lambda c: edit_distance(word, c), default=None)
    return best if best is not None and edit_distance(word, best) <= limit else None


def render_explain(code: str, book: RuleBook | None = None, fmt: str = "text") -> str:
    book = book or default_rulebook()
    doc = _rule(code, book)
    if fmt == "json":
        return json.dumps(asdict(doc), indent=2, ensure_ascii=False) + "\n"
    return (
        f"{doc.code} {doc.name} ({doc.severity})\n\n"
        f"What it checks:\n  {doc.summary}\n\n"
        f"Why it matters:\n  {doc.rationale}\n\n"
        f"Bad:\n  {doc.bad}\n\n"
        f"Good:\n  {doc.good}\n\n"
        f"Fix:\n  {doc.fix}\n\n"
        f"Source:\n  {doc.source}\n"
    )
