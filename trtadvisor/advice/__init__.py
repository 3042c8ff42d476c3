"""Findings that are not fusions: model hygiene, batching, CUDA-graph blockers, streams, I/O layout, attention, Q/DQ."""

from __future__ import annotations

from collections.abc import Callable

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction

__all__ = ["AdviceNotes", "Advisor", "advise", "advisors"]

Advisor = Callable[[LoadedModel, Target, RuleBook, Prediction, AdviceNotes], list[Finding]]


def advisors() -> list[Advisor]:
    from trtadvisor.advice.attention import attention_findings
    from trtadvisor.advice.general import general_findings
    from trtadvisor.advice.layout import layout_findings
    from trtadvisor.advice.qdq import qdq_findings
    from trtadvisor.advice.reformats import reformat_findings
    from trtadvisor.advice.reparam import reparam_findings
    from trtadvisor.advice.typing_mode import typing_findings

    return [general_findings, layout_findings, reparam_findings, attention_findings, qdq_findings, reformat_findings,
            typing_findings]


def advise(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
           notes: AdviceNotes) -> list[Finding]:
    """Run every advice family; each may also fill its part of ``notes``."""
    findings: list[Finding] = []
    for advisor in advisors():
        findings.extend(advisor(model, target, book, prediction, notes))
    return findings
