"""Reformat layers TensorRT adds at the network's inputs and outputs in reduced-precision builds.

Network inputs and outputs stay FP32 unless the model says otherwise, so an FP16/INT8 build converts
them at the boundary: one data-type-changing reformat per input read by a layer and per output.
Source: rules/fusions.toml [platform] io_reformat_precisions and io_reformat_source.
"""

from __future__ import annotations

from onnx import TensorProto

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.advice.trtexec import has_qdq
from trtadvisor.analysis.dtypes import tensor_dtypes, type_name
from trtadvisor.ir.graph import Graph
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction


def reformat_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                      notes: AdviceNotes) -> list[Finding]:
    """Fills ``notes.reformats``: the boundary reformats this target will have (no findings)."""
    platform = book.platform
    if target.strong:
        casts = _cast_layers(model.graph, prediction)
        if casts:
            notes.reformats = casts
        return []
    if target.precision not in platform["io_reformat_precisions"] or has_qdq(model.graph):
        return []  # FP32/TF32 builds keep FP32 at the boundary; Q/DQ models follow the model
    graph = model.graph
    layer_of = _boundary_layers(graph, prediction)
    inner = platform["io_layer_precision"][target.precision]
    reformats: list[dict[str, str]] = []
    for name in graph.inputs:
        if graph.dtype(name) != TensorProto.FLOAT:
            continue
        for reader in graph.consumers(name):
            layer = layer_of.get(reader.name)
            if layer is not None:
                reformats.append({"name": f"Reformatting CopyNode for Input Tensor 0 to {layer}", "at": "input",
                                  "tensor": name, "layer": layer, "from": "fp32", "to": inner})
                break
    for name in graph.outputs:
        producer = graph.producer(name)
        layer = layer_of.get(producer.name) if producer is not None else None
        if layer is None or graph.dtype(name) != TensorProto.FLOAT:
            continue
        reformats.append({"name": f"Reformatting CopyNode for Output Tensor 0 to {layer}", "at": "output",
                          "tensor": name, "layer": layer, "from": inner, "to": "fp32"})
    if reformats:
        notes.reformats = reformats
    return []


def _cast_layers(graph: Graph, prediction: Prediction) -> list[dict[str, str]]:
    """Strongly typed: network I/O keeps the model's declared types (no boundary reformat is added);
    the data-type changes are the model's own Cast nodes: a conversion layer of its own (precision
    ``from->to``), or converted inside the layer that absorbed it (a Myelin region), at the inputs, the
    outputs or inside."""
    with_casts = [layer for layer in prediction.layers if "Cast" in layer.ops or "CastLike" in layer.ops]
    if not with_casts:
        return []
    by_name = {n.name: n for g in graph.walk() for n in g.nodes}
    types = tensor_dtypes(graph)
    found: list[dict[str, str]] = []
    for layer in with_casts:
        for name in layer.nodes:
            node = by_name.get(name)
            if node is None or node.op not in ("Cast", "CastLike") or not node.inputs or not node.outputs:
                continue
            src, dst = type_name(types.get(node.inputs[0], 0)), type_name(types.get(node.outputs[0], 0))
            if src is None or dst is None or src == dst:
                continue
            tensor = node.outputs[0]
            at = ("input" if graph.is_graph_input(node.inputs[0])
                  else "output" if graph.is_graph_output(tensor) else "inside")
            found.append({"name": node.name, "at": at, "tensor": tensor, "layer": layer.name, "from": src, "to": dst})
    return found


def _boundary_layers(graph: Graph, prediction: Prediction) -> dict[str, str]:
    """The layer of each node that reads a network input or writes a network output (the last layer
    listing a node wins); the other nodes are not indexed: a large graph has tens of thousands."""
    wanted = {reader.name for name in graph.inputs for reader in graph.consumers(name)}
    wanted.update(producer.name for producer in map(graph.producer, graph.outputs) if producer is not None)
    layer_of: dict[str, str] = {}
    for layer in prediction.layers:
        if not wanted.isdisjoint(layer.nodes):  # allocates nothing for the many layers without one
            for node in wanted.intersection(layer.nodes):
                layer_of[node] = layer.name
    return layer_of
