"""``audit --statistics``: how many findings each rule raised (ruff's ``--statistics``), instead of the report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from trtadvisor.knowledge.findings import SEVERITY_ORDER, Finding
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook


def rule_counts(findings: Iterable[Finding]) -> list[tuple[str, str, int]]:
    """(code, severity, count), most severe first, then most frequent, then by code."""
    counts = Counter((f.rule, f.severity) for f in findings)
    return sorted(((code, sev, n) for (code, sev), n in counts.items()),
                  key=lambda row: (SEVERITY_ORDER.get(row[1], 9), -row[2], row[0]))


def render_statistics(findings: Iterable[Finding], fmt: str = "text", book: RuleBook | None = None) -> str:
    book = book or default_rulebook()
    rows = rule_counts(findings)

    def name(code: str) -> str:
        doc = book.rules.get(code)
        return doc.name if doc else ""

    if fmt == "json":
        return json.dumps([{"code": c, "name": name(c), "severity": s, "count": n} for c, s, n in rows],
                          indent=2) + "\n"
    if not rows:
        return "No findings.\n"
    width = max(len(str(n)) for _, _, n in rows)
    lines = [f"{n:>{width}}  {code:<7} {sev:<8} {name(code)}" for code, sev, n in rows]
    lines.append(f"Found {sum(n for _, _, n in rows)} finding(s) of {len(rows)} rule(s).")
    return "\n".join(lines) + "\n"
