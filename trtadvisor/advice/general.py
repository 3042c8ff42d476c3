"""Model-level advice from the reference text: missing weights, dynamic shapes, batching, CUDA-graph
blockers, parallel branches for auxiliary streams, precisions the GPU lacks.

Each finding's code is documented in rules/advice.toml with its source section.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from operator import attrgetter
from typing import Any

import onnx.defs

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.advice.trtexec import dynamic_inputs, input_shapes
from trtadvisor.errors import shown
from trtadvisor.ir.graph import Graph, Node, schema_opset
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.onnx_opsets import OpsetVerdict, opset_verdict
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction


def general_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                     notes: AdviceNotes) -> list[Finding]:
    findings: list[Finding] = []
    if model.missing_external_data:
        files = ", ".join(model.missing_external_data)
        findings.append(finding_for(book, "TRT001", f"external weight file(s) {files} are absent; "
                                 "the audit used shapes only"))
    findings += [finding_for(book, "TRT009", repair) for repair in model.repairs]
    if model.outside_external_data:
        locations = ", ".join(f"'{shown(f, 80)}'" for f in model.outside_external_data[:5])
        findings.append(finding_for(book, "TRT010", f"external-data location(s) {locations} leave the model's "
                                 "folder; they were not looked up"))
    dynamic = [n for n in dynamic_inputs(model) if n not in model.shape_overrides]
    if dynamic:
        findings.append(finding_for(book, "TRT002", f"input(s) {', '.join(dynamic)} have dynamic dimensions and "
                                 "no --shapes was given; the command uses 1 for them",
                                 hint=f"pass --shapes {dynamic[0]}:... to the audit and to trtexec"))
    findings += _opset_findings(model, target, book)
    findings += _op_support_findings(model, book)
    findings += _no_importer_findings(model, target, book)
    findings += _batch_findings(model, target, book)
    findings += _cuda_graph_findings(model.graph, book)
    findings += _stream_findings(model.graph, target, book)
    minimum = book.trt["precision_support"]["min_sm"].get(target.precision)
    if minimum is not None and target.sm is not None and target.sm < minimum:
        findings.append(finding_for(book, "TRT206", f"{target.precision.upper()} needs SM {minimum} or newer; "
                                 f"the target is SM {target.sm}"))
    return findings


# Ops of rules/ops.toml added to ONNX after opset 13, with the opset that added them:
# below it, the schema registry decides (https://onnx.ai/onnx/operators/).
_RECENT_OPS = {"Trilu": 14, "HardSwish": 14, "CastLike": 15, "GridSample": 16, "LayerNormalization": 17,
               "GroupNormalization": 18, "Mish": 18, "Gelu": 20, "RMSNormalization": 23, "Attention": 23}
_STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training")
_ORT_DOMAIN = "com.microsoft"  # ONNX Runtime's contrib ops: no TensorRT importer (rule TRT008)
_domain_of = attrgetter("domain")


def _opset_findings(model: LoadedModel, target: Target, book: RuleBook) -> list[Finding]:
    """The model's default-domain opset against the parser range of the target (rules/trt.toml [onnx_opsets]).
    One lookup; the nodes are only walked when the opset is outside (or may be)."""
    verdict = opset_verdict(book, target.trt, model.opset)
    if verdict is None:
        return []
    safe = verdict.safe
    converter = book.trt["onnx_opsets"]["converter"].format(opset=safe)
    premise = _opset_premise(verdict, model.opset, target.trt)
    if verdict.side == "below":
        message = f"{premise}; the parser documents older opsets as not guaranteed to work"
        hint = f"convert the model up: {converter}, or export it again at opset {safe} or newer"
        return [_with_confidence(finding_for(book, "TRT005", message, hint=hint), verdict)]
    newer = _newer_definitions(model, safe)
    if newer:
        listed = ", ".join(f"{op} (opset {since}, {len(nodes)} node(s))" for op, (since, nodes) in newer.items())
        detail = f"op definitions newer than opset {safe}: {listed}"
        absent = [op for op in newer if not _defined_at(op, safe)]
        if absent:
            detail += (f"; {', '.join(absent)} did not exist at opset {safe}: the version converter cannot "
                       "lower them; export again instead")
    else:
        detail = f"no node's op changed after opset {safe}, so converting to it keeps every op as it is"
    target_fix = f"; or target TensorRT {verdict.newer_trt} or newer" if verdict.newer_trt else ""
    hint = (f"export at opset {safe} (torch.onnx.export(..., opset_version={safe})) or convert the file: "
            f"{converter}{target_fix}")
    nodes = tuple(n for _, group in newer.values() for n in group)
    return [_with_confidence(finding_for(book, "TRT005", f"{premise}; {detail}", nodes[:20], hint), verdict)]


def _opset_premise(verdict: OpsetVerdict, opset: int, trt: str) -> str:
    """The finding's first clause, as sure as its source: the target's own range, a neighbour's, or neither."""
    side = verdict.side
    if verdict.confidence == "documented":
        return (f"the model's opset {opset} is {side} the range TensorRT {trt}'s ONNX parser documents "
                f"({verdict.range_text})")
    if verdict.confidence == "inferred":
        return (f"the model's opset {opset} is {side} the range of TensorRT {trt}'s ONNX parser: no source read here "
                f"states it ({verdict.range_text}), and TensorRT {verdict.limit_from}'s bound of opset {verdict.limit} "
                "already excludes it")
    return (f"the model's opset {opset} may be {side} the range of TensorRT {trt}'s ONNX parser, which no source "
            f"read here states ({verdict.range_text})")


def _with_confidence(finding: Finding, verdict: OpsetVerdict) -> Finding:
    """The verdict's confidence on the finding; a premise no source settles is information, not a warning."""
    severity = "info" if verdict.confidence == "unknown" else finding.severity
    return replace(finding, confidence=verdict.confidence, severity=severity)


def _defined_at(op: str, opset: int) -> bool:
    try:
        onnx.defs.get_schema(op, schema_opset(opset), "")
    except onnx.defs.SchemaError:
        return False
    return True


def _newer_definitions(model: LoadedModel, limit: int) -> dict[str, tuple[int, list[str]]]:
    """Default-domain ops whose definition at the model's opset arrived after ``limit`` (their schema's
    since_version), with their nodes: the nodes that differ from the same graph at opset ``limit``."""
    since: dict[str, int] = {}
    found: dict[str, tuple[int, list[str]]] = {}
    for g in model.graph.walk():
        for node in g.nodes:
            if node.domain not in ("", "ai.onnx"):
                continue
            version = since.get(node.op)
            if version is None:
                try:
                    version = onnx.defs.get_schema(node.op, schema_opset(model.opset), "").since_version
                except onnx.defs.SchemaError:
                    version = 0  # not an ONNX op at this opset: TRT003 names it
                since[node.op] = version
            if version > limit:
                found.setdefault(node.op, (version, []))[1].append(node.name)
    return dict(sorted(found.items(), key=lambda item: (-item[1][0], item[0])))


def _op_support_findings(model: LoadedModel, book: RuleBook) -> list[Finding]:
    """Ops the ONNX standard does not define at this opset, and custom-domain ops (plugins)."""
    unknown: dict[str, list[str]] = {}
    custom: dict[str, list[str]] = {}
    checked: dict[tuple[str, str], bool] = {}
    for g in model.graph.walk():
        if _all_standard_default_domain(g, model.opset, book.ops.layer_class):
            continue  # the common case, decided per distinct op rather than per node
        for node in g.nodes:
            key = (node.domain, node.op)
            known = checked.get(key)
            if known is None:
                known = checked[key] = node.domain not in _STANDARD_DOMAINS or _is_standard(
                    node.op, node.domain, model.opset, book.ops.layer_class)
            if node.domain not in _STANDARD_DOMAINS:
                custom.setdefault(f"{node.domain}.{node.op}", []).append(node.name)
            elif not known:
                unknown.setdefault(node.op, []).append(node.name)
    findings = [finding_for(book, "TRT003", f"op '{op}' is not an ONNX op at opset {model.opset} "
                         f"({len(nodes)} node(s))", tuple(nodes[:20])) for op, nodes in sorted(unknown.items())]
    contrib = {op: nodes for op, nodes in custom.items() if op.startswith(_ORT_DOMAIN + ".")}
    if contrib:
        prefix = _ORT_DOMAIN + "."
        names = ", ".join(f"{op.removeprefix(prefix)} ({len(found)})" for op, found in sorted(contrib.items()))
        nodes = tuple(n for _, found in sorted(contrib.items()) for n in found)
        findings.append(finding_for(book, "TRT008", f"ONNX Runtime contrib ops TensorRT cannot parse: {names}; "
                                 "the graph was rewritten by an ONNX Runtime optimizer", nodes[:20]))
    findings += [finding_for(book, "TRT004", f"custom op '{op}' needs a TensorRT plugin ({len(nodes)} node(s))",
                          tuple(nodes[:20])) for op, nodes in sorted(custom.items()) if op not in contrib]
    return findings


def _no_importer_findings(model: LoadedModel, target: Target, book: RuleBook) -> list[Finding]:
    """Standard ops TensorRT's ONNX parser cannot import on this version (rules/ops.toml [no_importer])."""
    table = book.tables["ops.toml"]["no_importer"]
    since: dict[str, str] = table["since"]
    missing = {op for op in book.op_set("ops.toml", "no_importer", "ops")
               if op not in since or not target.trt_at_least(since[op])}
    found: dict[str, list[str]] = {}
    for g in model.graph.walk():
        for node in g.nodes_of(*missing):
            if node.domain in ("", "ai.onnx"):
                found.setdefault(node.op, []).append(node.name)
    if not found:
        return []
    names = ", ".join(f"{op} ({len(nodes)})" for op, nodes in sorted(found.items()))
    nodes = tuple(n for _, group in sorted(found.items()) for n in group)
    return [finding_for(book, "TRT011", f"TensorRT {target.trt}'s ONNX parser has no importer for {names}: "
                        "the parse stops at the first of them and no engine is built", nodes[:20],
                        hint=_no_importer_remedy(sorted(found), table["remedy"]))]


def _no_importer_remedy(ops: list[str], remedies: dict[str, dict[str, Any]]) -> str:
    """What to do about each op found, once per remedy (a quantizer's ops share one), in the ops' order."""
    fixes: list[str] = []
    for op in ops:
        fix = next((r["fix"] for r in remedies.values() if op in r["ops"]), None)
        if fix is not None and fix not in fixes:
            fixes.append(fix)
    return " ".join(fixes)


def _all_standard_default_domain(graph: Graph, opset: int, known_ops: Collection[str]) -> bool:
    """Whether every node is a default-domain op the standard defines at ``opset`` (nothing to report)."""
    if set(map(_domain_of, graph.nodes)) != {""}:
        return False
    return all(_is_standard(op, "", opset, known_ops) for op in graph.op_types())  # each op type once, indexed


def _is_standard(op: str, domain: str, opset: int, known_ops: Collection[str]) -> bool:
    if domain in ("", "ai.onnx") and op in known_ops and (op not in _RECENT_OPS or opset >= _RECENT_OPS[op]):
        # Ops the rules know need no schema lookup: the first lookup builds ONNX's whole schema
        # registry (several MB), which most models never need.
        return True
    try:
        onnx.defs.get_schema(op, schema_opset(max(opset, 1)), domain)
    except onnx.defs.SchemaError:
        return False
    return True


def _batch_size(model: LoadedModel) -> int | None:
    for name, shape in input_shapes(model).items():
        dims = model.shape_overrides.get(name, shape)
        if dims and isinstance(dims[0], int):
            return int(dims[0])
    return None


def _batch_findings(model: LoadedModel, target: Target, book: RuleBook) -> list[Finding]:
    batch = _batch_size(model)
    if batch is None:
        return []
    findings: list[Finding] = []
    batching = book.trt["batching"]  # rules/trt.toml [batching]
    if batch > batching["max_batch"]:
        findings.append(finding_for(book, "TRT202", f"batch size {batch} is above {batching['max_batch']}"))
    graph = model.graph
    heavy = graph.nodes_of(*book.op_group("heavy"))
    matrix = book.op_group("matrix")
    matmuls = [n for n in heavy if n.op in matrix]
    matmul_heavy = heavy and len(matmuls) * 2 >= len(heavy)
    multiple = batching["matrix_multiple"]
    if matmul_heavy and target.precision in batching["matrix_multiple_precisions"] and batch % multiple and batch > 1:
        findings.append(finding_for(book, "TRT201", f"batch size {batch} is not a multiple of {multiple} in a "
                                 f"MatMul-heavy model ({len(matmuls)} of {len(heavy)} heavy ops are MatMul/Gemm)"))
    return findings


def _cuda_graph_findings(graph: Graph, book: RuleBook) -> list[Finding]:
    blockers = [n for g in graph.walk() for n in g.nodes_of(*book.trt["cuda_graph"]["blockers"])]
    if not blockers:
        return []
    ops = sorted({n.op for n in blockers})
    names = tuple(n.name for n in blockers[:20])
    return [finding_for(book, "TRT203", f"{len(blockers)} node(s) ({', '.join(ops)}) keep CUDA graphs from capturing "
                     "the engine (loops, conditionals or data-dependent shapes)", names)]


def _stream_findings(graph: Graph, target: Target, book: RuleBook) -> list[Finding]:
    if not target.trt_at_least(book.trt["aux_streams"]["since"]):
        return []
    forks = _parallel_heavy_forks(graph, book.op_group("heavy"))
    if not forks:
        return []
    return [finding_for(book, "TRT204", f"{len(forks)} point(s) where independent branches with convolutions or "
                     f"matrix multiplies could run on auxiliary streams", tuple(forks[:20]),
                     hint=f"try {book.trt['aux_streams']['flag']}=2 and compare latency")]


def _parallel_heavy_forks(graph: Graph, heavy: frozenset[str], depth: int = 6) -> list[str]:
    """Tensors read by two or more branches that each reach a heavy op within ``depth`` hops."""
    forks: list[str] = []
    producers = graph.producers
    reaches_heavy = _heavy_branch_test(graph, heavy, depth)
    for name, readers in graph.readers.items():
        if len(readers) < 2:
            continue
        producer = producers.get(name)  # a produced tensor is constant only when a Constant makes it
        if producer is None or producer.op == "Constant":
            continue
        if _two_pass(readers, reaches_heavy):
            forks.append(producer.name)
    return forks


def _two_pass(readers: list[Node], test: Callable[[Node], bool]) -> bool:
    """Whether ``test`` holds for two or more readers; stops as soon as the answer is known."""
    needed, left = 2, len(readers)
    for r in readers:
        if left < needed:
            return False
        left -= 1
        if test(r):
            needed -= 1
            if not needed:
                return True
    return False


def _heavy_branch_test(graph: Graph, heavy: frozenset[str], depth: int) -> Callable[[Node], bool]:
    """A test of whether the branch starting at a node reaches a heavy op within ``depth`` hops before
    it joins anything (a join has two data inputs); the graph's lookups are bound once, not per call."""
    readers_of = graph.readers
    is_constant = graph.constant_names.__contains__

    def reaches_heavy(start: Node) -> bool:
        node: Node | None = start
        for _ in range(depth):
            if node is None:
                return False
            if node.op in heavy:
                return True
            data_inputs = 0
            for i in node.inputs:
                if i and not is_constant(i):
                    data_inputs += 1
                    if data_inputs > 1:
                        return False
            readers = readers_of.get(node.outputs[0], ()) if node.outputs else ()
            node = readers[0] if len(readers) == 1 else None
        return False

    return reaches_heavy
