"""What TensorRT removes before it builds layers: no-op nodes, constants and shape arithmetic.

Source: rules/fusions.toml [fusion.eliminate].
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from trtadvisor.ir.graph import Graph, Node, is_static, node_index
from trtadvisor.plan.context import WAIT, PlanContext

_NOOPS = {"Identity": "Identity is removed", "Dropout": "Dropout is an identity at inference"}


def eliminate(ctx: PlanContext) -> None:
    graph = ctx.graph
    _fold_constants(ctx, graph)
    _eliminate_shape_arithmetic(ctx, graph)


def _noop_reason(graph: Graph, node: Node) -> str | None:
    if node.op in _NOOPS:
        # A Dropout whose mask output is used is not a no-op; exporters never write that at inference.
        return _NOOPS[node.op]
    if node.op == "Cast" and node.inputs and graph.dtype(node.inputs[0]) == node.attr("to", -1):
        return "Cast to the type the tensor already has"
    return None


def _fold_constants(ctx: PlanContext, graph: Graph) -> None:
    """Eliminate no-ops and nodes whose every input is known at build time (one pass: a hot path)."""
    constants = graph.constant_names  # weights and Constant outputs
    folded = ctx.folded  # outputs of nodes folded so far: known at build time too
    never = ctx.book.op_set("fusions.toml", "platform", "never_folded_ops")
    for node in graph.nodes:
        op = node.op
        if op == "Constant":
            ctx.eliminate(node, "constant weights, folded into the layers that read them")
            continue
        if op in never or node.subgraphs:
            continue
        if op == "Shape" or op == "Size":
            if node.inputs and _has_static_shape(ctx, node.inputs[0]):
                ctx.eliminate(node, "shape of a static tensor, folded at build time")
                folded.update(node.outputs)
            continue
        # CastLike reads its second input for the type only.
        inputs = node.inputs[:1] if op == "CastLike" else node.inputs
        foldable = False
        for name in inputs:
            if not name:
                continue
            if name in constants or name in folded:
                foldable = True
                continue
            foldable = False
            break
        if foldable:
            ctx.eliminate(node, "all inputs are constants: folded at build time")
            folded.update(node.outputs)
            continue
        if op in _NOOPS or op == "Cast":
            reason = _noop_reason(graph, node)
            if reason is not None:
                ctx.forward(node, node.inputs[0] if node.inputs else "", reason)


def _has_static_shape(ctx: PlanContext, name: str) -> bool:
    """Whether ``name``'s shape is fully known, so a Shape of it folds. This is the first pass: it
    should not hold the plan up waiting for shape inference. A graph input's shape is declared; and
    when every input's is static, nearly every tensor's is too, so the plan goes on as if this one's
    is and checks once inference answers (see PlanContext.from_shapes)."""
    return ctx.from_shapes((name,), is_static, guess=True if ctx.graph.inputs_static() else WAIT)


def _eliminate_shape_arithmetic(ctx: PlanContext, graph: Graph) -> None:
    """Nodes whose outputs only feed shape inputs (Reshape targets, Slice bounds, axes) run on the host.

    A node qualifies when every reader takes its output as a shape input, is itself shape arithmetic,
    or was eliminated. Only producers of such inputs can qualify, so the walk starts there and goes
    backwards in descending node order (every reader is decided before its producers), touching the
    shape subgraph rather than the whole graph.
    """
    eliminated = ctx.eliminated
    # A removed no-op (Identity, Dropout, same-type Cast) still hands its input on: its readers decide.
    passthrough = {n for n in eliminated if n.op in _NOOPS or n.op == "Cast"}
    producers = graph.producers
    pending: list[tuple[int, Node]] = []
    queued: set[Node] = set()

    def push_producers(node: Node, positions: Iterable[int]) -> None:
        inputs = node.inputs
        for i in positions:
            if i < len(inputs):
                producer = producers.get(inputs[i])
                if producer is not None and producer not in queued:
                    queued.add(producer)
                    heapq.heappush(pending, (-producer.index, producer))

    for op, positions in ctx.book.ops.shape_inputs.items():
        for reader in graph.nodes_of(op):
            push_producers(reader, positions)
    for node in eliminated:
        if node not in passthrough:
            push_producers(node, range(len(node.inputs)))

    shape_only: set[Node] = set()
    while pending:
        _, node = heapq.heappop(pending)
        if _is_shape_only(ctx, graph, node, shape_only, passthrough):
            shape_only.add(node)
            push_producers(node, range(len(node.inputs)))
    for node in sorted(shape_only - passthrough, key=node_index):
        ctx.eliminate(node, "shape arithmetic, computed on the host when the engine runs")


def _is_shape_only(ctx: PlanContext, graph: Graph, node: Node, shape_only: set[Node], passthrough: set[Node]) -> bool:
    eliminated = ctx.eliminated
    never = ctx.book.op_set("fusions.toml", "platform", "never_folded_ops")
    if (node in eliminated and node not in passthrough) or node.op in never or node.subgraphs:
        return False
    if not node.outputs or any(graph.is_graph_output(o) for o in node.outputs if o):
        return False
    has_reader = False
    for out in node.outputs:
        if not out:
            continue
        for reader in graph.consumers(out):
            has_reader = True
            if reader in shape_only or (reader in eliminated and reader not in passthrough):
                continue
            positions = ctx.book.ops.shape_inputs.get(reader.op, ())
            if not any(i < len(reader.inputs) and reader.inputs[i] == out for i in positions):
                return False
    return has_reader


