"""Attention verdicts per target (issue: attention, normalization and activation patterns). Stub."""

from __future__ import annotations

from trtadvisor.findings import Finding
from trtadvisor.loader import LoadedModel
from trtadvisor.plan import Prediction
from trtadvisor.rulebook import RuleBook
from trtadvisor.target import Target


def attention_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                       extras: dict[str, object]) -> list[Finding]:
    return []
