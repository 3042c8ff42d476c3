"""The Python API the CLI is a thin shell over: load, predict, advise, and (optionally) confirm."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtadvisor.advice.notes import AdviceNotes, JudgedSite
from trtadvisor.analysis.cache import analysis_scope, forget
from trtadvisor.analysis.static_shapes import complete_static_shapes
from trtadvisor.analysis.strong_typing import settle_typing
from trtadvisor.config import EMPTY, Config, apply_config, find_config, load_config
from trtadvisor.ir.graph import Shape
from trtadvisor.ir.load import LoadedModel, load_model
from trtadvisor.knowledge.findings import Finding, sort_findings
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.knowledge.target import Target, make_target
from trtadvisor.plan.context import Prediction
from trtadvisor.plan.cost import CostEstimate, cost_missed_fusions, estimate_costs, reformat_costs
from trtadvisor.plan.pipeline import plan_graph
from trtadvisor.plan.schedule import Schedule

if TYPE_CHECKING:  # an audit never loads the engine-evidence stage: it is imported where engines are read
    from trtadvisor.confirm.evidence import EngineEvidence


@dataclass(frozen=True)
class BaselineUse:
    """How a baseline filtered the findings (JSON contract field ``baseline``)."""

    path: str
    accepted: int
    new: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "accepted": self.accepted, "new": self.new}


@dataclass
class AuditResult:
    """Everything one audit found; the report formatters render it and nothing else.

    Each optional field is one stage's addition to the JSON contract v1, typed: the advice's attention
    verdicts, Q/DQ coverage and boundary reformats, the confirm stage's engine evidence, and the baseline's
    accounting. :meth:`contract_fields` gives them as the report's JSON fields, in contract order.
    """

    model: LoadedModel
    target: Target
    prediction: Prediction
    findings: list[Finding]
    trtexec: str
    profile_command: str | None = None
    cost: CostEstimate | None = None  # predicted time per layer on the target GPU
    schedule: Schedule | None = None  # audit --schedule: critical path, what auxiliary streams could overlap
    attention: tuple[JudgedSite, ...] | None = None
    quantization: dict[str, Any] | None = None
    reformats: list[dict[str, Any]] | None = None
    patterns: list[dict[str, Any]] | None = None  # every recognised pattern instance {pattern, nodes, layer}
    engine: EngineEvidence | None = None
    baseline: BaselineUse | None = None
    config: Config | None = None  # the configuration the findings were filtered by (None: none)

    def contract_fields(self) -> dict[str, Any]:
        """The optional JSON contract fields this result has, in the order the report writes them."""
        fields: dict[str, Any] = {}
        if self.attention is not None:
            fields["attention"] = [site.to_json() for site in self.attention]
        if self.quantization is not None:
            fields["quantization"] = self.quantization
        if self.reformats is not None:
            fields["reformats"] = self.reformats
        if self.patterns is not None:
            fields["patterns"] = self.patterns
        if self.engine is not None:
            fields.update(self.engine.to_json())
        if self.baseline is not None:
            fields["baseline"] = self.baseline.to_json()
        if self.schedule is not None:
            fields["schedule"] = self.schedule.to_json()
        return fields


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


FIND = "find"  # audit(config=FIND): the project's configuration file, found upward from the model


def audit(path: str | os.PathLike[str], *, trt: str | None = None, sm: str | None = None,
          gpu: str | None = None, precision: str | None = None, shapes: dict[str, Shape] | None = None,
          shape_mode: str | None = None, opt_level: int | None = None, profile_flags: tuple[str, ...] = (),
          book: RuleBook | None = None, strongly_typed: bool = False,
          config: Config | str | os.PathLike[str] | None = None) -> AuditResult:
    """Predict the engine TensorRT builds for the model at ``path`` and advise on it.

    ``config``: a :class:`Config`, the path of a configuration file, :data:`FIND` (the file found upward from
    the model, as the command line does), or None (no configuration). Its target options fill in the ones
    not given here, and its select/ignore/severity/per-node rules filter the findings, as on the command line.
    """
    from trtadvisor.advice import advise
    from trtadvisor.advice.trtexec import profiling_command, trtexec_command

    book = book or default_rulebook()
    config = resolve_config(config, path, book)
    if config is not None:
        gpu_given = sm is not None or gpu is not None  # --sm and --gpu both name the GPU: either replaces both
        trt, precision = trt or config.trt, precision or config.precision
        sm, gpu = (sm, gpu) if gpu_given else (config.sm, config.gpu)
        if shapes is None and config.shapes:
            from trtadvisor.ir.load import parse_shape_overrides

            shapes = parse_shape_overrides(config.shapes)
    target = make_target(book, trt, sm, gpu, precision, shape_mode, opt_level, strongly_typed, profile_flags)
    with _no_cyclic_gc(), analysis_scope(book):
        model = load_model(path, shapes, wait_for_shapes=False)
        # The audit owns the shape inference the load left running: it ends before audit() returns
        # (waited for, so the result holds every shape) or, when the audit fails, is stopped at once.
        try:
            target, types = settle_typing(target, model.graph, book)  # strong typing: the model decides
            prediction = plan_graph(model.graph, target, book, types)
            # Static inputs: shapes ONNX's inference could not carry through computed reshape targets,
            # for the advice and the cost model. Where it found some, the plan runs again with them: a
            # Shape of a tensor now static folds at build time, and so does what only it feeds.
            if complete_static_shapes(model.proto, model.graph, book.ops.shape_inputs):
                forget(model.graph)  # the analyses the plan shared were made with the old shapes
                prediction = plan_graph(model.graph, target, book, types)
            findings = list(prediction.findings)
            notes = AdviceNotes()
            findings.extend(advise(model, target, book, prediction, notes))
            cost = estimate_costs(model.graph, prediction, target, book)
            if notes.reformats and not target.strong:  # boundary reformats are layers the plan does not list
                for entry, priced in zip(notes.reformats, reformat_costs(notes.reformats, model.graph, target, book),
                                         strict=True):
                    entry["cost"] = None if priced is None else priced.to_json()
            findings = cost_missed_fusions(findings, model.graph, prediction, cost, target, book)
            command = trtexec_command(model, target, book)
            profile = profiling_command(model, target, book)
            for graph in model.graph.walk():
                graph.settle_types()
                graph.release_indices()
        except BaseException:
            for graph in model.graph.walk():
                graph.cancel_types()
            raise
    result = AuditResult(model=model, target=target, prediction=prediction, findings=sort_findings(findings),
                         trtexec=command, profile_command=profile, attention=notes.attention,
                         quantization=notes.quantization, reformats=notes.reformats, patterns=notes.patterns,
                         config=config,
                         cost=cost)
    if config is not None:
        apply_config_to(result)
    return result


def resolve_config(config: Config | str | os.PathLike[str] | None, model: str | os.PathLike[str],
                   book: RuleBook) -> Config | None:
    """The configuration ``audit(config=...)`` means: given, read from a path, found upward, or none."""
    if config is None or isinstance(config, Config):
        return config
    if config == FIND:
        found = find_config(Path(model))
        return load_config(found, book) if found else EMPTY
    path = Path(config)
    if not path.is_file():
        from trtadvisor.config import ConfigError

        raise ConfigError(f"--config {config}: no such file", "check the path to the configuration file")
    return load_config(path, book)


def apply_config_to(result: AuditResult) -> None:
    """Filter the findings (and the engine's diagnoses, when confirmed) by ``result.config``: select, ignore,
    severity overrides and per-node ignores (globs over node names or module scopes)."""
    config = result.config
    if config is None:
        return
    from trtadvisor.ci.source_locations import Locator

    locator = Locator(result.model.path, result.model.graph, Path.cwd())
    result.findings = apply_config(result.findings, config, locator.scope_of)
    if result.engine is not None:
        result.engine = result.engine.selected(config.enabled, config.severity_of)


def apply_baseline(results: list[AuditResult], *, read: str | os.PathLike[str] | None = None,
                   write: str | os.PathLike[str] | None = None) -> None:
    """Drop the findings the baseline at ``read`` accepts from every result, or write one at ``write`` that
    accepts them all; each result records the accounting in ``baseline``. The confirm results with a rule
    code (an engine's diagnoses, TRT612, TRT613) are accepted and dropped like findings."""
    from trtadvisor.ci.baseline import read_baseline, write_baseline

    if not (read or write):
        return
    indices = [r.model.graph.nodes_by_name_deep() for r in results]
    engine = [_engine_findings(r) for r in results]
    if write:
        everything = [(f, nodes) for r, nodes, coded in zip(results, indices, engine, strict=True)
                      for f in [*r.findings, *coded.values()]]
        write_baseline(str(write), everything, ", ".join(r.model.path for r in results))
        for r, coded in zip(results, engine, strict=True):
            r.baseline = BaselineUse(str(write), len(r.findings) + len(coded), 0)
            r.findings = []
            if r.engine is not None:
                r.engine = r.engine.without(coded)
        return
    baseline = read_baseline(str(read))
    left = baseline.remaining()
    for r, nodes, coded in zip(results, indices, engine, strict=True):
        r.findings, accepted = baseline.split(r.findings, nodes, left)
        fresh, known = baseline.split(list(coded.values()), nodes, left)
        if r.engine is not None:
            kept = {id(f) for f in fresh}
            r.engine = r.engine.without(c for c, f in coded.items() if id(f) not in kept)
        r.baseline = BaselineUse(str(read), len(accepted) + len(known), len(r.findings) + len(fresh))


def _engine_findings(result: AuditResult) -> dict[Any, Finding]:
    """The coded confirm results of ``result`` as findings, for the baseline to fingerprint and count."""
    if result.engine is None:
        return {}
    return {c: Finding(c.code, result.engine.severity_of(c.code), c.message, c.nodes, "")
            for c in result.engine.coded()}


def severities(result: AuditResult) -> list[str]:
    """The severity of every finding and coded confirm result: what ``--fail-on`` is held against."""
    engine = result.engine
    coded = [engine.severity_of(c.code) for c in engine.coded()] if engine is not None else []
    return [f.severity for f in result.findings] + coded
