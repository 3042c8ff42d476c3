"""Findings that are not fusions: model hygiene, batching, CUDA-graph blockers, streams."""

from __future__ import annotations

from trtadvisor.findings import Finding
from trtadvisor.loader import LoadedModel
from trtadvisor.plan import Prediction
from trtadvisor.rulebook import RuleBook
from trtadvisor.target import Target


def advise(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
           extras: dict[str, object]) -> list[Finding]:
    """Run every advice family; each may also add contract fields to ``extras``."""
    from trtadvisor.advice.general import general_findings

    return general_findings(model, target, book, prediction)
