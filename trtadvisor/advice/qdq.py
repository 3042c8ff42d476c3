"""Q/DQ placement checks, what TensorRT rejects, and the quantized coverage of the predicted engine.

Rejections (errors, before any build): UINT8 or asymmetric Q/DQ, scales that are not constants,
layouts the TensorRT version does not support. Placement checks (warnings/info): partly quantized
weighted ops, Q/DQ between a convolution and its activation, residual inputs, quantized mask Adds,
GEMV-shaped quantized MatMuls, unaligned channel counts, per-channel weight scales on the wrong axis,
quantized attention outside the fused-MHA limits. Rule texts and sources: rules/qdq.toml.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.ir.graph import Graph, Node
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.conditions import Failed, rule_conditions
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction
from trtadvisor.plan.passes.qdq import (
    QDQ_OPS,
    activation_dq,
    has_qdq,
    is_quantized_weighted,
    layer_precision,
    quantized_type,
    weight_chain,
    weight_input_index,
)

_SHOWN = 4  # node names spelled out in one finding's message
_QDQ_HOPS = 8  # Q/DQ nodes looked through between two ops (a Q/DQ pair, or a few chained ones)
_MASK_OPS = frozenset({"Add", "Sub", "Where"})  # ONNX semantics: the ops that apply an additive or select mask


def qdq_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                 notes: AdviceNotes) -> list[Finding]:
    graphs = [g for g in model.graph.walk() if has_qdq(g)]
    if not graphs:
        return []
    table = book.tables["qdq.toml"]["qdq"]
    checks = _Checks(book)
    attention: list[dict[str, Any]] = []
    for graph in graphs:
        _rejections(graph, target, table, checks)
        _placement(graph, target, table, checks, prediction)
        attention.extend(_attention(graph, table, checks))
    coverage = quantization_coverage(model.graph, prediction, table["weighted_ops"])
    coverage["attention"] = attention
    notes.quantization = coverage
    return checks.findings()


class _Checks:
    """Collects the nodes each rule flags, so one finding per rule and failing condition lists them all.

    A check names the condition that fails (its id in rules/qdq.toml [rule.CODE] conditions) and the facts it
    found; the message is the condition's text filled with them, so the words live in the rule data only.
    """

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self._texts = {code: rule_conditions(book, "qdq.toml", code) for code in book.tables["qdq.toml"]["rule"]}
        self._hits: dict[tuple[str, str, str], list[str]] = {}
        self._order: list[tuple[str, str, str]] = []

    def reason(self, code: str, failed: Failed) -> str:
        """The words of ``failed``, a condition of rule ``code`` (an id the rule lacks raises: a bug in the check)."""
        texts = self._texts.get(code)
        if texts is None:
            raise KeyError(f"rules/qdq.toml has no rule {code}")
        return texts.text(failed)

    def flag(self, code: str, failed: Failed, nodes: Iterable[Node], wrap: str = "{reason}") -> None:
        key = (code, failed.condition, wrap.format(reason=self.reason(code, failed)))
        if key not in self._hits:
            self._hits[key] = []
            self._order.append(key)
        bucket = self._hits[key]
        bucket.extend(n.name for n in nodes if n.name not in bucket)

    def findings(self) -> list[Finding]:
        out = []
        for key in self._order:
            code, condition, reason = key
            names = self._hits[key]
            shown = ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
            out.append(replace(finding_for(self.book, code, f"{reason}: {shown}", names), condition=condition))
        return out


# -- rejections ----------------------------------------------------------------------------------


def _rejections(graph: Graph, target: Target, table: dict[str, Any], checks: _Checks) -> None:
    since = table["types_since"]
    for node in graph.nodes:
        if node.op not in QDQ_OPS:
            continue
        scale, zero = node.input(1), node.input(2)
        kind = quantized_type(graph, node)
        if kind == "uint8":
            checks.flag("TRT401", Failed.of("uint8_zero_point"), [node])
        if scale and not graph.is_constant(scale):
            checks.flag("TRT403", Failed.of("scale_not_constant"), [node])
        if zero and not graph.is_constant(zero):
            checks.flag("TRT403", Failed.of("zero_point_not_constant"), [node])
        value = graph.const_value(zero) if zero else None
        if value is not None and kind in ("int8", "uint8") and value.size and bool((value != 0).any()):
            checks.flag("TRT402", Failed.of("nonzero_zero_point"), [node])
        if kind in since and not target.trt_at_least(since[kind]):
            checks.flag("TRT404", Failed.of("type_too_new", type=kind.upper(), since=since[kind], trt=target.trt),
                        [node])
        _layout(graph, node, kind, table, checks)


def _layout(graph: Graph, node: Node, kind: str, table: dict[str, Any], checks: _Checks) -> None:
    shape = graph.shape(node.input(1)) if node.input(1) else None
    blocked = node.has_attr("block_size") and int(node.attr("block_size", 0)) > 0
    if (blocked or (shape is not None and len(shape) >= 2)) and kind not in table["block_types"]:
        checks.flag("TRT404", Failed.of("block_quantized_type", type=kind.upper()), [node])
        return
    per_channel = shape is not None and len(shape) == 1 and shape[0] != 1
    is_weight = weight_chain(graph, node.outputs[0]) is not None if node.op == "DequantizeLinear" else \
        bool(node.inputs) and graph.is_constant(node.inputs[0])
    if per_channel and not is_weight:
        checks.flag("TRT404", Failed.of("per_channel_activation"), [node])


# -- placement -----------------------------------------------------------------------------------


def _placement(graph: Graph, target: Target, table: dict[str, Any], checks: _Checks,
               prediction: Prediction) -> None:
    multiple = int(table["channel_multiple"]["int8"])
    axes = table["weight_axis"]
    weighted = frozenset(table["weighted_ops"])
    for node in graph.nodes:
        if node.op in weighted:
            _weighted(graph, node, checks)
            if node.op in axes and is_quantized_weighted(graph, node):  # a weight with an output-channel axis
                _channels(graph, node, multiple, checks)
                _axis(graph, node, int(axes[node.op]), checks)
            if checks.book.ops.class_of(node.op) == "gemm" and is_quantized_weighted(graph, node):
                _gemv(graph, node, checks)
            _activation_after_qdq(graph, node, checks)
        elif node.op == "Softmax":
            _mask_add(graph, node, checks)
    _residuals(graph, prediction, checks)


def _quantized_inputs(graph: Graph, node: Node) -> tuple[bool, bool]:
    """(activation input through a DQ, weights through Q/DQ) for a weighted op."""
    index = weight_input_index(graph, node)
    weight = index is not None and weight_chain(graph, node.inputs[index]) is not None
    data = [name for i, name in enumerate(node.inputs[:2]) if i != index and name]
    activation = bool(data) and all(activation_dq(graph, name) is not None for name in data)
    return activation, weight


def _weighted(graph: Graph, node: Node, checks: _Checks) -> None:
    activation, weight = _quantized_inputs(graph, node)
    if activation and not weight and weight_input_index(graph, node) is not None:
        checks.flag("TRT405", Failed.of("weights_not_quantized", op=node.op), [node])
    elif weight and not activation:
        checks.flag("TRT405", Failed.of("input_not_quantized", op=node.op), [node])
    elif not activation and not weight and weight_input_index(graph, node) is not None \
            and _quantized_neighbour(graph, node):
        checks.flag("TRT405", Failed.of("float_between_quantized", op=node.op), [node])


def _quantized_neighbour(graph: Graph, node: Node) -> bool:
    """A Q/DQ within two hops upstream or downstream of ``node``."""
    frontier = [node]
    for _ in range(2):
        nxt: list[Node] = []
        for n in frontier:
            for name in n.inputs[:1]:
                producer = graph.producer(name) if name else None
                if producer is not None:
                    nxt.append(producer)
            for out in n.outputs:
                nxt.extend(graph.consumers(out) if out else ())
        if any(n.op in QDQ_OPS for n in nxt):
            return True
        frontier = nxt
    return False


def _channels(graph: Graph, node: Node, multiple: int, checks: _Checks) -> None:
    w = graph.shape(node.inputs[1])
    if w is None or len(w) < 3 or not all(isinstance(d, int) for d in w[:2]):
        return
    groups = int(node.attr("group", 1))
    if node.op == "Conv":
        out_per_group, in_per_group = int(w[0]) // max(groups, 1), int(w[1])
    else:
        in_per_group, out_per_group = int(w[0]) // max(groups, 1), int(w[1])
    if groups > 1 and in_per_group == 1 and out_per_group == 1:
        return  # depthwise: no Tensor Core GEMM to fill
    bad = [c for c in (in_per_group, out_per_group) if c % multiple]
    if bad:
        checks.flag("TRT410", Failed.of("channels_not_multiple", op=node.op, multiple=multiple, channels=bad[0]),
                    [node])


def _axis(graph: Graph, node: Node, expected: int, checks: _Checks) -> None:
    chain = weight_chain(graph, node.inputs[1])
    if chain is None:
        return
    for qdq in chain:
        shape = graph.shape(qdq.input(1)) if qdq.input(1) else None
        if shape is None or len(shape) != 1 or shape[0] == 1:
            continue
        rank = graph.rank(node.inputs[1]) or 4
        axis = int(qdq.attr("axis", 1))
        if axis % rank != expected:
            checks.flag("TRT411", Failed.of("wrong_axis", op=node.op, axis=axis, expected=expected), [qdq, node])


def _gemv(graph: Graph, node: Node, checks: _Checks) -> None:
    index = weight_input_index(graph, node)
    data = node.inputs[1 - index] if index in (0, 1) else None
    shape = graph.shape(data) if data else None
    if shape is None or len(shape) < 2:
        return
    rows = 1
    for d in shape[:-1]:
        if not isinstance(d, int):
            return
        rows *= d
    if rows == 1:
        checks.flag("TRT409", Failed.of("gemv", op=node.op), [node])


def _activation_after_qdq(graph: Graph, node: Node, checks: _Checks) -> None:
    """Conv (+ BatchNormalization) -> Q -> DQ -> activation."""
    if node.op not in checks.book.fusion("conv+qdq+act").ops:
        return
    out = node.outputs[0]
    readers = graph.consumers(out)
    if len(readers) == 1 and readers[0].op == "BatchNormalization":
        out = readers[0].outputs[0]
        readers = graph.consumers(out)
    for q in readers:
        if q.op != "QuantizeLinear":
            continue
        for dq in graph.consumers(q.outputs[0]):
            if dq.op != "DequantizeLinear":
                continue
            acts = [r for r in graph.consumers(dq.outputs[0]) if r.op in checks.book.ops.activations]
            if acts:
                checks.flag("TRT406", Failed.of("qdq_before_activation", op=node.op, activation=acts[0].op),
                            [node, q, dq, acts[0]])


def _producer_past_qdq(graph: Graph, tensor: str) -> Node | None:
    """The op producing ``tensor`` once the Q/DQ pairs in between are looked through: onnxruntime's QDQ format
    quantizes the scores and the masked scores, Softmax(DQ(Q(Add(DQ(Q(MatMul)), mask))))."""
    node = graph.producer(tensor)
    for _ in range(_QDQ_HOPS):
        if node is None or node.op not in QDQ_OPS or not node.inputs:
            return node
        node = graph.producer(node.inputs[0])
    return node


def _mask_add(graph: Graph, softmax: Node, checks: _Checks) -> None:
    producer = _producer_past_qdq(graph, softmax.inputs[0])
    if producer is None or producer.op not in _MASK_OPS:
        return
    if any(graph.producer(i) is not None and graph.producer(i).op == "DequantizeLinear"
           for i in producer.inputs if i):
        checks.flag("TRT408", Failed.of("mask_reads_qdq"), [producer, softmax])


def _residuals(graph: Graph, prediction: Prediction, checks: _Checks) -> None:
    by_name = {n.name: n for n in graph.nodes}
    for layer in prediction.layers:
        if "conv+eltwise" not in layer.fusions or not any(op in QDQ_OPS for op in layer.ops):
            continue
        nodes = [by_name[n] for n in layer.nodes if n in by_name]
        members = set(nodes)
        add = next((n for n in nodes if n.op in ("Add", "Sum")), None)
        if add is None:
            continue
        residual = [i for i in add.inputs if graph.producer(i) not in members]
        residual_dq = any(graph.producer(i) is not None and graph.producer(i).op == "DequantizeLinear"
                          for i in residual)
        tail = nodes[-1]
        outside = [r for o in tail.outputs for r in graph.consumers(o) if r not in members]
        writes_q = any(n.op == "QuantizeLinear" and not graph.is_constant(n.inputs[0]) for n in nodes)
        quantized_readers = bool(outside) and any(r.op == "QuantizeLinear" for r in outside)
        if not residual_dq and quantized_readers:
            checks.flag("TRT407", Failed.of("float_residual"), [add])
        elif residual_dq and not writes_q:
            checks.flag("TRT407", Failed.of("quantized_residual_float_output"), [add])


# -- attention -----------------------------------------------------------------------------------


def _attention(graph: Graph, table: dict[str, Any], checks: _Checks) -> list[dict[str, Any]]:
    found = []
    for softmax in graph.nodes:
        if softmax.op != "Softmax":
            continue
        bmm = _upstream_matmul(graph, softmax)
        if bmm is None:
            continue
        dqs = [activation_dq(graph, i) for i in bmm.inputs[:2]]
        if not all(dqs):
            continue
        kind = quantized_type(graph, dqs[0])
        query = graph.shape(dqs[0].inputs[0])
        key = graph.shape(dqs[1].inputs[0])
        head = query[-1] if query and isinstance(query[-1], int) else None
        seq_q = query[-2] if query and len(query) >= 2 and isinstance(query[-2], int) else None
        seq_kv = key[-1] if key and isinstance(key[-1], int) else None
        failed = _attention_limits(kind, head, seq_q, seq_kv, table)
        found.append({"nodes": [bmm.name, softmax.name], "type": kind, "head_size": head, "seq_q": seq_q,
                      "seq_kv": seq_kv, "fusable": not failed,
                      "reasons": [checks.reason("TRT412", f) for f in failed],
                      "conditions": [f.condition for f in failed]})
        if failed:
            checks.flag("TRT412", failed[0], [bmm, softmax],
                        wrap=f"{kind.upper()} attention outside the fused-MHA limits ({{reason}})")
    return found


def _upstream_matmul(graph: Graph, softmax: Node) -> Node | None:
    """BMM1: the MatMul within four ops above the Softmax, Q/DQ nodes not counted (they sit between every op
    in onnxruntime's QDQ format)."""
    node = _producer_past_qdq(graph, softmax.inputs[0])
    for _ in range(4):
        if node is None:
            return None
        if node.op == "MatMul":
            return node
        source = next((i for i in node.inputs if i and graph.producer(i) is not None and not graph.is_constant(i)),
                      None)
        node = _producer_past_qdq(graph, source) if source else None
    return None


def _attention_limits(kind: str, head: int | None, seq_q: int | None, seq_kv: int | None,
                      table: dict[str, Any]) -> list[Failed]:
    """The fused INT8/FP8 MHA limits a quantized attention block fails (rules/qdq.toml [rule.TRT412] conditions)."""
    failed = []
    seqs = [s for s in (seq_q, seq_kv) if s is not None]
    if kind == "int8":
        if head is not None and head not in table["int8_attention_head_sizes"]:
            failed.append(Failed.of("int8_head_size", head=head, sizes=table["int8_attention_head_sizes"]))
        if any(s > int(table["int8_attention_max_seq"]) for s in seqs):
            failed.append(Failed.of("int8_seq_too_long", seq=max(seqs), max_seq=table["int8_attention_max_seq"]))
    elif kind == "fp8":
        lo, hi, mult = (int(table[k]) for k in ("fp8_attention_head_min", "fp8_attention_head_max",
                                                 "fp8_attention_head_multiple"))
        if head is not None and not (lo <= head <= hi and head % mult == 0):
            failed.append(Failed.of("fp8_head_size", head=head, lo=lo, hi=hi, multiple=mult))
        minimum = int(table["fp8_attention_min_seq"])
        if seq_q != 1 and any(s < minimum for s in seqs):
            failed.append(Failed.of("fp8_seq_too_short", seq=min(seqs), minimum=minimum))
    return failed


# -- coverage ------------------------------------------------------------------------------------


def quantization_coverage(graph: Graph, prediction: Prediction, weighted_ops: list[str]) -> dict[str, Any]:
    """Conv/Gemm/MatMul quantized and fused, standalone Q/DQ layers, and precision per predicted layer."""
    by_name = {n.name: n for g in graph.walk() for n in g.nodes}
    owner_graph = {n.name: g for g in graph.walk() for n in g.nodes}
    eliminated = frozenset(prediction.eliminated)
    weighted: dict[str, dict[str, int]] = {op: {"total": 0, "quantized": 0, "fused": 0}
                                           for op in weighted_ops}  # rules/qdq.toml [qdq] weighted_ops
    layers = []
    standalone_q = standalone_dq = 0
    for layer in prediction.layers:
        nodes = [by_name[n] for n in layer.nodes if n in by_name]
        if not nodes:
            continue
        g = owner_graph[nodes[0].name]
        members = set(nodes)
        precision = layer_precision(g, nodes, eliminated)
        layers.append({"name": layer.name, "kind": layer.kind, "precision": precision})
        if layer.kind == "qdq":
            standalone_q += any(n.op == "QuantizeLinear" for n in nodes)
            standalone_dq += all(n.op == "DequantizeLinear" for n in nodes)
        for node in nodes:
            if node.op not in weighted:
                continue
            stats = weighted[node.op]
            stats["total"] += 1
            activation, weight = _quantized_inputs(g, node)
            if activation and (weight or weight_input_index(g, node) is None):
                stats["quantized"] += 1
                index = weight_input_index(g, node)
                chain = weight_chain(g, node.inputs[index]) if index is not None else []
                if all(n in members for n in chain or ()):
                    stats["fused"] += 1
    return {
        "weighted": weighted,
        "standalone_q_layers": standalone_q,
        "standalone_dq_layers": standalone_dq,
        "quantized_layers": sum(1 for item in layers if "int8" in item["precision"] or "fp8" in item["precision"]),
        "layers": layers,
    }
