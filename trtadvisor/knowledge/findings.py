"""What the audit tells the user: findings with a rule code, a severity, the nodes involved and a hint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rule book is data this module only reads; no import cycle at run time
    from trtadvisor.knowledge.rulebook import RuleBook

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    nodes: tuple[str, ...]
    hint: str
    cost_ms: float | None = None  # a missed fusion's predicted extra memory pass on the target
    # The id of the failing condition in the rule's data (knowledge/conditions.py); for a fusion near miss also
    # the fusion (rules/fusions.toml [fusion.FUSION] conditions.ID), for a Q/DQ finding its rule's conditions.
    fusion: str | None = None
    condition: str | None = None
    # How sure the finding's premise is, where a rule's facts can be missing for the target (TRT005's opset
    # range): "documented" (a source states it), "inferred" (bounded by documented neighbours) or "unknown".
    confidence: str | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"rule": self.rule, "severity": self.severity, "message": self.message,
                                   "nodes": list(self.nodes), "hint": self.hint}
        if self.cost_ms is not None:
            data["cost_ms"] = self.cost_ms
        if self.fusion is not None:
            data["fusion"] = self.fusion
        if self.condition is not None:
            data["condition"] = self.condition
        if self.confidence is not None:
            data["confidence"] = self.confidence
        return data


def finding_for(book: RuleBook, code: str, message: str, nodes: Iterable[str] = (), hint: str | None = None) -> Finding:
    """A finding of rule ``code``: severity from the rule's documentation, its fix as the hint unless given."""
    doc = book.rule(code)
    return Finding(rule=code, severity=doc.severity, message=message, nodes=tuple(nodes), hint=hint or doc.fix)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by rule and node, so the same input always prints the same report."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule, f.nodes, f.message))
