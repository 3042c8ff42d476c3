"""`trtadvisor rules` and `trtadvisor explain CODE`: the rules as documentation."""

from __future__ import annotations

from trtadvisor.errors import UserError
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook


def render_rules(book: RuleBook | None = None) -> str:
    book = book or default_rulebook()
    rows = [f"{'CODE':<8} {'SEVERITY':<8} {'NAME':<34} SUMMARY"]
    for doc in book.rules.values():
        rows.append(f"{doc.code:<8} {doc.severity:<8} {doc.name:<34} {doc.summary}")
    return "\n".join(rows) + "\n"


def render_explain(code: str, book: RuleBook | None = None) -> str:
    book = book or default_rulebook()
    doc = book.rules.get(code.upper())
    if doc is None:
        raise UserError(f"no rule '{code}'", "run 'trtadvisor rules' for the list of codes")
    return (
        f"{doc.code} {doc.name} ({doc.severity})\n\n"
        f"What it checks:\n  {doc.summary}\n\n"
        f"Why it matters:\n  {doc.rationale}\n\n"
        f"Bad:\n  {doc.bad}\n\n"
        f"Good:\n  {doc.good}\n\n"
        f"Fix:\n  {doc.fix}\n\n"
        f"Source:\n  {doc.source}\n"
    )
