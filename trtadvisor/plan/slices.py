"""Ops the ONNX parser builds as one slice layer per output (rules/ops.toml [group.per_output_slice]: Split).

The fusion passes treat a node as one layer; a standalone Split is one ISliceLayer for each output some layer
reads, the same layers its equivalent Slice nodes give (one exporter writes Split, another a Slice per output).
Inside a Myelin region the node stays part of the region's one layer.
"""

from __future__ import annotations

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import PlanContext, PredictedLayer


def used_outputs(ctx: PlanContext, node: Node) -> list[int]:
    """The indices of ``node``'s outputs a layer reads or the network returns: an unread slice is a dead
    layer the builder removes."""
    graph = ctx.graph
    return [i for i, tensor in enumerate(node.outputs)
            if tensor and (ctx.live_readers(tensor) or graph.is_graph_output(tensor))]


def slice_layers(layer: PredictedLayer, node: Node, used: list[int], node_names: set[str]) -> list[PredictedLayer]:
    """One layer per used output, each mapped to the node. The engine names the first slice after the node and
    suffixes the others with a build-wide counter; the plan suffixes the output index instead, spelled
    ``_output_<i>`` where ``_<i>`` is another node's name (both suffixes map back to the node, confirm/mapping.py)."""
    if len(used) < 2:
        return [layer]
    named = []
    for position, index in enumerate(used):
        name = node.name if position == 0 else f"{node.name}_{index}"
        if position and name in node_names:
            name = f"{node.name}_output_{index}"
        named.append(layer._replace(name=name))
    return named
