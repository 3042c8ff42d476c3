"""The confirm stage: read what TensorRT built and hold it against the prediction.

It only reads artifacts (the readers beside this module) and adds the contract fields ``engine``,
``bottlenecks``, ``diagnosis`` and ``comparison`` to an audit; it never changes the prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtadvisor.api import AuditResult
from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.compare import Comparison, compare, compare_by_signature, shares_nodes
from trtadvisor.confirm.cost_check import CostCheck, check_costs
from trtadvisor.confirm.diagnose import (
    DEFAULT_TOP,
    Bottleneck,
    Diagnosis,
    bottlenecks_to_json,
    diagnose,
    diagnosis_of,
    diagnosis_to_json,
    engine_rules,
    find_bottlenecks,
)
from trtadvisor.confirm.evidence import EngineEvidence
from trtadvisor.confirm.mapping import map_engine
from trtadvisor.confirm.model import Engine, engine_to_json
from trtadvisor.report.escape import json_document


def tensor_producers(result: AuditResult) -> dict[str, tuple[int, str, tuple[str, ...]] | None]:
    """Every tensor of the model: its producing node (index, name, inputs), None for inputs and weights."""
    producers: dict[str, tuple[int, str, tuple[str, ...]] | None] = {}
    index = 0
    for g in result.model.graph.walk():
        for name in (*g.inputs, *g.constant_names):
            producers.setdefault(name, None)
        for node in g.nodes:
            for out in node.outputs:
                if out:
                    producers[out] = (index, node.name, node.inputs)
            index += 1
    return producers


def _cost_check(result: AuditResult, engine: Engine) -> tuple[CostCheck | None, dict[str, Any] | None]:
    """The predicted layer times against the engine's measured ones, where both are known."""
    estimate = getattr(result, "cost", None)
    layers = result.prediction.layers
    if estimate is None or len(estimate.layers) != len(layers):
        return None, None
    # Top-level nodes in model order: what check_costs aligns with the engine's nodes of another export.
    nodes = [(n.name, n.op) for n in result.model.graph.nodes]
    check = check_costs(layers, estimate.layers, engine, nodes, set(result.prediction.eliminated))
    if check is None or not check.pairs:
        return None, None
    return check, estimate.basis()


def confirm_into(result: AuditResult, *, layer_info: str | None = None, profile: str | None = None,
                 timing: str | None = None, log: str | None = None, top: int | None = DEFAULT_TOP) -> None:
    """Read the artifacts, compare with ``result``'s prediction, and set ``result.engine`` (filtered by the
    result's configuration, as its findings are).

    ``top``: how many of the hottest layers ``bottlenecks`` ranks (``None``: every timed layer).
    """
    graph = result.model.graph
    topo = [n.name for g in graph.walk() for n in g.nodes]
    node_ops = {n.name: n.op for g in graph.walk() for n in g.nodes}
    engine = load_engine(layer_info=layer_info, profile=profile, timing=timing, log=log, onnx_nodes=topo)
    bottlenecks = find_bottlenecks(engine, op_types=node_ops, top=top)
    diagnosis = diagnose(engine)
    predicted = result.prediction.layers
    named = engine  # the engine whose layers name model nodes (by this model's names, or their own)
    if shares_nodes(predicted, engine):
        comparison = compare(predicted, engine, eliminated=result.prediction.eliminated, node_ops=node_ops,
                             producers=tensor_producers(result))
    else:
        # Built from another export (renamed nodes): compare the layers' op types in order instead.
        by_name = map_engine(engine, None)  # map names on their own: the model's nodes are not in them
        comparison = compare_by_signature(predicted, by_name)
        named = by_name
        diagnosis = [*diagnosis, diagnosis_of(engine_rules(), "engine-from-another-export",
                                              layers=len(engine.layers), nodes=result.prediction.node_count)]
    cost_check, basis = _cost_check(result, named)
    evidence = EngineEvidence(engine, bottlenecks, diagnosis, comparison, cost_check, basis)
    config = result.config
    result.engine = evidence if config is None else evidence.selected(config.enabled, config.severity_of)


def build_and_confirm(result: AuditResult, out_dir: Path, *, trtexec: str | None = None, use_api: bool = False,
                      top: int | None = DEFAULT_TOP) -> None:
    """Build the model where TensorRT exists (trtexec, or the Python API), then confirm as from artifacts."""
    from trtadvisor.advice.trtexec import build_flags
    from trtadvisor.confirm.build import api_profile_records, build_with_tensorrt, run_trtexec
    from trtadvisor.knowledge.rulebook import default_rulebook
    from trtadvisor.knowledge.trtexec_flags import grammar

    model_path = Path(result.model.path)
    if trtexec:
        book = default_rulebook()
        version = result.target.trt_version
        paths = run_trtexec(Path(trtexec), model_path, out_dir, build_flags(result.model, result.target, book),
                            keep=lambda flag: grammar(book).usable(flag, version))
        kwargs = {k: (str(v) if v is not None else None) for k, v in paths.as_kwargs().items()}
        confirm_into(result, **kwargs, top=top)
        return
    if use_api:
        precision = result.target.precision
        weak = not result.target.strong  # strongly typed: the model's types decide, no precision switches
        build = build_with_tensorrt(model_path, fp16=weak and precision in ("fp16", "best"),
                                    int8=weak and precision in ("int8", "best"))
        out_dir.mkdir(parents=True, exist_ok=True)
        layer_info = out_dir / f"{model_path.stem}.layers.json"
        profile = out_dir / f"{model_path.stem}.profile.json"
        layer_info.write_text(build.layer_info_json, encoding="utf-8")
        profile.write_text(json.dumps(api_profile_records(build)), encoding="utf-8")
        confirm_into(result, layer_info=str(layer_info), profile=str(profile), top=top)


@dataclass(frozen=True)
class EngineReport:
    """`trtadvisor engine`: an engine read without a model."""

    engine: Engine
    bottlenecks: list[Bottleneck]
    diagnosis: list[Diagnosis]
    comparison: Comparison | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": "trtadvisor.engine/v1", "engine": engine_to_json(self.engine),
                "bottlenecks": bottlenecks_to_json(self.bottlenecks), "diagnosis": diagnosis_to_json(self.diagnosis)}

    def render_json(self) -> str:
        return json_document(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


def read_engine_report(*, layer_info: str | None = None, profile: str | None = None, timing: str | None = None,
                       log: str | None = None, onnx: str | None = None,
                       top: int | None = DEFAULT_TOP) -> EngineReport:
    topo: list[str] | None = None
    node_ops: dict[str, str] | None = None
    if onnx:
        from trtadvisor.ir.load import load_model

        graph = load_model(onnx).graph
        topo = [n.name for g in graph.walk() for n in g.nodes]
        node_ops = {n.name: n.op for g in graph.walk() for n in g.nodes}
    engine = load_engine(layer_info=layer_info, profile=profile, timing=timing, log=log, onnx_nodes=topo)
    return EngineReport(engine=engine, bottlenecks=find_bottlenecks(engine, op_types=node_ops, top=top),
                        diagnosis=diagnose(engine))
