"""The Python API the CLI is a thin shell over: load, predict, advise, and (optionally) confirm."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from trtadvisor.analysis.cache import analysis_scope
from trtadvisor.ir.graph import Shape
from trtadvisor.ir.load import LoadedModel, load_model
from trtadvisor.knowledge.findings import Finding, sort_findings
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.knowledge.target import Target, make_target
from trtadvisor.plan.context import Prediction
from trtadvisor.plan.cost import CostEstimate, cost_missed_fusions, estimate_costs
from trtadvisor.plan.pipeline import plan_graph


@dataclass
class AuditResult:
    """Everything one audit found; the report formatters render it and nothing else."""

    model: LoadedModel
    target: Target
    prediction: Prediction
    findings: list[Finding]
    trtexec: str
    extras: dict[str, object] = field(default_factory=dict)  # contract additions (attention, engine, ...)
    cost: CostEstimate | None = None  # predicted time per layer on the target GPU


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The audit builds ~1M small objects and frees them all at once: the cyclic GC only costs time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def audit(path: str | os.PathLike[str], *, trt: str | None = None, sm: str | None = None,
          gpu: str | None = None, precision: str | None = None, shapes: dict[str, Shape] | None = None,
          shape_mode: str | None = None, opt_level: int | None = None,
          book: RuleBook | None = None) -> AuditResult:
    """Predict the engine TensorRT builds for the model at ``path`` and advise on it."""
    from trtadvisor.advice import advise
    from trtadvisor.advice.trtexec import profiling_command, trtexec_command

    book = book or default_rulebook()
    target = make_target(book, trt, sm, gpu, precision, shape_mode, opt_level)
    with _no_cyclic_gc(), analysis_scope():
        model = load_model(path, shapes, wait_for_shapes=False)
        # The audit owns the shape inference the load left running: it ends before audit() returns
        # (waited for, so the result holds every shape) or, when the audit fails, is stopped at once.
        try:
            prediction = plan_graph(model.graph, target, book)
            findings = list(prediction.findings)
            extras: dict[str, object] = {}
            findings.extend(advise(model, target, book, prediction, extras))
            cost = estimate_costs(model.graph, prediction, target, book)
            findings = cost_missed_fusions(findings, model.graph, prediction, cost, target, book)
            command = trtexec_command(model, target, book)
            extras["profile_command"] = profiling_command(model, target, book)
            for graph in model.graph.walk():
                graph.settle_types()
        except BaseException:
            for graph in model.graph.walk():
                graph.cancel_types()
            raise
    return AuditResult(model=model, target=target, prediction=prediction, findings=sort_findings(findings),
                       trtexec=command, extras=extras, cost=cost)
