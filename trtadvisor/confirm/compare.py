"""Prediction vs. engine: which predicted fusions TensorRT confirmed, missed, or did beyond the prediction.

The prediction is the audit's typed one (``PredictedLayer`` tuples of plan/context.py, whose
``alternatives`` are the JSON contract's dicts). An engine layer is compared through its mapped ONNX nodes;
reformat, NoOp, DLA helper, sync and internal layers (no ONNX node of their own) are left out. A layer
matches when it holds the same nodes *and* is of the same kind, Myelin or classic: TensorRT 10.x lists
a Myelin region as its kernels (``node_linear_myl4_0``, ``__myl_MulSum_myl4_1``, ... sharing ``_myl4_``),
which count as one region here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trtadvisor.confirm.mapping import is_other_profile, layer_role, merge_myelin_kernels
from trtadvisor.confirm.model import Engine, EngineLayer
from trtadvisor.plan.context import PredictedLayer

_IGNORED_ROLES = frozenset({"reformat", "noop", "dla_helper", "sync", "internal"})
CONFIDENCE_LEVELS = ("observed", "documented", "inferred")

# tensor -> (producing node, that node's inputs): lets a Myelin region be mapped by its boundary tensors.
Producers = Mapping[str, tuple[str, Sequence[str]]]


def kind_class(kind: str | None) -> str:
    """``myelin`` for a Myelin region, ``classic`` for every other layer (predicted kind or LayerType)."""
    return "myelin" if kind in ("myelin", "Myelin") else "classic"


def engine_kind(layer: EngineLayer) -> str:
    return "myelin" if layer.type == "Myelin" or layer_role(layer) == "myelin" else "classic"


@dataclass(frozen=True)
class Comparison:
    agreement: float
    confirmed: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    unpredicted: list[dict[str, Any]] = field(default_factory=list)
    method: str = "names"  # "names": by ONNX node names; "signatures": by op types per layer, in order
    grouping_agreement: float = 0.0  # the same nodes, whatever the kind
    kind_mismatches: list[dict[str, Any]] = field(default_factory=list)
    # confidence level -> {"matched", "total"}: of the predicted layers marked so, how many the engine matched
    calibration: dict[str, dict[str, int]] = field(default_factory=dict)
    # engine layers predicted exactly, or listed among the alternatives of the predicted layers holding them
    explained: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": round(self.agreement, 4),
            "grouping_agreement": round(self.grouping_agreement, 4),
            "confirmed": self.confirmed,
            "missed": self.missed,
            "unpredicted": self.unpredicted,
            "kind_mismatches": self.kind_mismatches,
            "calibration": self.calibration,
            "explained": self.explained,
            "method": self.method,
        }


def comparable_layers(engine: Engine, producers: Producers | None = None) -> list[EngineLayer]:
    """Engine layers that implement ONNX nodes (reformats, NoOps and internal layers aside), each Myelin
    region's kernels merged into one layer."""
    merged = merge_myelin_kernels(engine.layers, producers)
    return [layer for layer in merged if layer.onnx_nodes and layer_role(layer) not in _IGNORED_ROLES
            and not is_other_profile(layer.name)]


def _calibration(rows: Iterable[tuple[str | None, bool]]) -> dict[str, dict[str, int]]:
    table = {level: {"matched": 0, "total": 0} for level in CONFIDENCE_LEVELS}
    for confidence, matched in rows:
        if confidence in table:
            table[confidence]["total"] += 1
            table[confidence]["matched"] += int(matched)
    return table


def _explained(predicted: Sequence[PredictedLayer], engine_layers: Sequence[EngineLayer],
               gone: set[str]) -> dict[str, Any]:
    """Each engine layer: predicted exactly (nodes and kind), or one of the alternatives of the predicted
    layers that hold its nodes, or neither (listed)."""
    exact: set[tuple[frozenset[str], str]] = set()
    holders: dict[str, list[PredictedLayer]] = {}
    for item in predicted:
        nodes = frozenset(n for n in item.nodes if n not in gone)
        exact.add((nodes, kind_class(item.kind)))
        for node in nodes:
            holders.setdefault(node, []).append(item)
    counts = {"exact": 0, "alternative": 0, "neither": 0}
    unexplained: list[str] = []
    for layer in engine_layers:
        key = (frozenset(layer.onnx_nodes), engine_kind(layer))
        if key in exact:
            counts["exact"] += 1
            continue
        listed = any((frozenset(alt.get("nodes", ())) - gone, kind_class(alt.get("kind"))) == key
                     for node in layer.onnx_nodes for item in holders.get(node, ())
                     for alt in item.alternatives)
        if listed:
            counts["alternative"] += 1
        else:
            counts["neither"] += 1
            unexplained.append(layer.name)
    return {**counts, "total": len(engine_layers), "unexplained": unexplained}


def _reason_for_split(parts: Sequence[EngineLayer], node_ops: Mapping[str, str]) -> str:
    types = {layer.type for layer in parts if layer.type}
    precisions = {layer.precision for layer in parts if layer.precision}
    if len(precisions) > 1:
        return f"the pieces run in different precisions ({', '.join(sorted(precisions))})"
    if "Myelin" in types or any(layer_role(layer) == "myelin" for layer in parts):
        return "part of the group went into a Myelin region, the rest into standalone layers"
    if any(layer_role(layer) == "qdq" for layer in parts):
        return "a Quantize/Dequantize node stayed on its own and broke the fusion"
    ops = sorted({node_ops.get(node, "?") for layer in parts for node in layer.onnx_nodes})
    return f"TensorRT did not fuse these ops ({', '.join(ops)}): check the rule's conditions for this version"


def compare(
    predicted: Sequence[PredictedLayer],
    engine: Engine,
    eliminated: Iterable[str] = (),
    node_ops: Mapping[str, str] | None = None,
    multi_node_only: bool = True,
    producers: Producers | None = None,
) -> Comparison:
    """Confirmed, missed and unpredicted groupings, and the share of predicted layers the engine matches.

    ``confirmed`` lists predicted layers whose node set equals an engine layer's (only multi-node layers
    unless ``multi_node_only`` is False); ``agreement`` is the share of the predicted layers the engine
    speaks of that it built with the same nodes and of the same kind (``grouping_agreement``: same nodes).
    ``producers`` (the model's tensors) maps a Myelin region by the tensors at its boundary.
    """
    node_ops = dict(node_ops or {})
    gone = set(eliminated)
    engine_layers = comparable_layers(engine, producers)
    engine_sets = {frozenset(layer.onnx_nodes): layer for layer in engine_layers}
    layer_of_node: dict[str, list[EngineLayer]] = {}
    for layer in engine_layers:
        for node in layer.onnx_nodes:
            layer_of_node.setdefault(node, []).append(layer)
    predicted_of_node: dict[str, str] = {}
    for item in predicted:
        for node in item.nodes:
            predicted_of_node[node] = item.name

    confirmed: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    mismatches: list[dict[str, Any]] = []
    rows: list[tuple[str | None, bool]] = []
    matched = 0
    grouped = 0
    considered = 0
    for item in predicted:
        nodes = [node for node in item.nodes if node not in gone]
        if not nodes or not any(node in layer_of_node for node in nodes):
            continue  # the engine says nothing about these nodes (e.g. folded, or not in this artifact)
        considered += 1
        engine_layer = engine_sets.get(frozenset(nodes))
        same_kind = engine_layer is not None and engine_kind(engine_layer) == kind_class(item.kind)
        rows.append((item.confidence, same_kind))
        if engine_layer is not None:
            grouped += 1
            if not same_kind:
                mismatches.append({"predicted": item.name, "predicted_kind": kind_class(item.kind),
                                   "engine_layer": engine_layer.name, "engine_kind": engine_kind(engine_layer),
                                   "nodes": nodes})
                continue
            matched += 1
            if len(nodes) > 1 or not multi_node_only:
                confirmed.append(
                    {
                        "predicted": item.name,
                        "engine_layer": engine_layer.name,
                        "nodes": nodes,
                        "fusions": list(item.fusions),
                    }
                )
            continue
        if len(nodes) > 1:
            parts: list[EngineLayer] = []
            for node in nodes:
                for layer in layer_of_node.get(node, ()):
                    if layer not in parts:
                        parts.append(layer)
            if len(parts) > 1:
                missed.append(
                    {
                        "predicted": item.name,
                        "nodes": nodes,
                        "fusions": list(item.fusions),
                        "engine_layers": [layer.name for layer in parts],
                        "reason": _reason_for_split(parts, node_ops),
                    }
                )

    unpredicted: list[dict[str, Any]] = []
    for layer in engine_layers:
        groups = {predicted_of_node[node] for node in layer.onnx_nodes if node in predicted_of_node}
        if len(groups) > 1:
            unpredicted.append(
                {
                    "engine_layer": layer.name,
                    "nodes": list(layer.onnx_nodes),
                    "predicted_layers": sorted(groups),
                    "ops": [node_ops.get(node, "?") for node in layer.onnx_nodes],
                    "lead": "TensorRT fused nodes the prediction kept apart: a lead for a new or wider rule",
                }
            )
    agreement = matched / considered if considered else 0.0
    return Comparison(agreement, confirmed, missed, unpredicted, grouping_agreement=grouped / considered
                      if considered else 0.0, kind_mismatches=mismatches, calibration=_calibration(rows),
                      explained=_explained(predicted, engine_layers, gone))


def shares_nodes(predicted: Sequence[PredictedLayer], engine: Engine) -> bool:
    """Whether any engine layer names a node of the prediction (the engine was built from this model)."""
    nodes = {node for item in predicted for node in item.nodes}
    return any(node in nodes for layer in comparable_layers(engine) for node in layer.onnx_nodes)


_NAME_OP_ALIASES = {
    "conv": "Conv", "conv2d": "Conv", "relu": "Relu", "add": "Add", "mul": "Mul", "gemm": "Gemm",
    "linear": "Gemm", "matmul": "MatMul", "maxpool": "MaxPool", "max_pool2d": "MaxPool", "softmax": "Softmax",
    "globalaveragepool": "GlobalAveragePool", "clip": "Clip", "sigmoid": "Sigmoid", "argmax": "ArgMax",
}


def op_from_name(node: str) -> str:
    """An ONNX op type read off a node name, for engines built from another export of the model.

    Exporters name nodes '<Op>_<n>' (old TorchScript), '/scope/<Op>' (TorchScript), 'node_<op>_<n>' (dynamo)
    or '<Op>-<n>' (the cookbook's TensorRT 8.x LeNet); anything else keeps its own name, which simply will
    not match.
    """
    last = node.rsplit("/", 1)[-1]
    last = last.removeprefix("node_")
    base = last.rstrip("0123456789").rstrip("_-") or last  # 'Conv_9', 'node_conv2d_1', 'Conv-1'

    return _NAME_OP_ALIASES.get(base.lower(), base)


def compare_by_signature(predicted: Sequence[PredictedLayer], engine: Engine) -> Comparison:
    """Align predicted layers with engine layers by their op types and kind, in order (names aside).

    For an engine built from another export of the same architecture: node names differ, the layers
    TensorRT builds do not. ``agreement`` is the share of predicted layers matched in order, op types
    and kind (Myelin or classic) alike; ``grouping_agreement`` asks the op types only.
    """
    items = [item for item in predicted if item.ops]
    ours = [(tuple(item.ops), kind_class(item.kind)) for item in items]
    layers = comparable_layers(engine)
    theirs = [(tuple(op_from_name(n) for n in layer.onnx_nodes), engine_kind(layer)) for layer in layers]
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    confirmed: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    unpredicted: list[dict[str, Any]] = []
    hit = [False] * len(ours)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                hit[i] = True
                if len(ours[i][0]) > 1:
                    confirmed.append({"predicted_ops": list(ours[i][0]), "engine_layer": layers[j].name})
            continue
        missed.extend({"predicted_ops": list(ours[i][0]), "nodes": list(items[i].nodes),
                       "reason": "no engine layer with these ops at this place"} for i in range(a0, a1))
        unpredicted.extend({"engine_layer": layers[j].name, "ops": list(theirs[j][0]),
                            "lead": "an engine layer the prediction does not have at this place"}
                           for j in range(b0, b1))
    grouping = difflib.SequenceMatcher(a=[o for o, _ in ours], b=[o for o, _ in theirs], autojunk=False)
    grouped = sum(block.size for block in grouping.get_matching_blocks())
    agreement = sum(hit) / len(ours) if ours else 0.0
    rows: list[tuple[str | None, bool]] = [(item.confidence, ok) for item, ok in zip(items, hit, strict=True)]
    return Comparison(agreement, confirmed, missed, unpredicted, method="signatures",
                      grouping_agreement=grouped / len(ours) if ours else 0.0, calibration=_calibration(rows))


def comparison_to_json(comparison: Comparison) -> dict[str, Any]:
    return comparison.to_json()


def layer_signature(
    layers: Sequence[EngineLayer | PredictedLayer], node_ops: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], ...]:
    """The op types of each layer, reformats and internal layers aside: two engines (or an engine and a
    prediction) built from one model group their ops alike when their signatures are equal.

    An engine layer's ops are its ONNX nodes' op types from ``node_ops`` (the node name where it has none);
    a predicted layer's are its own ``ops``, else looked up the same way from its nodes."""
    node_ops = dict(node_ops or {})
    signature: list[tuple[str, ...]] = []
    for layer in layers:
        if isinstance(layer, EngineLayer):
            if layer_role(layer) in _IGNORED_ROLES or not layer.onnx_nodes:
                continue
            signature.append(tuple(node_ops.get(node, node) for node in layer.onnx_nodes))
        else:
            ops = layer.ops or tuple(node_ops.get(node, node) for node in layer.nodes)
            if ops:
                signature.append(ops)
    return tuple(signature)
