"""Reduction fusions: GELU (erf and tanh forms), L1Norm, sum of squares, L2Norm, LogSum, LogSumExp,
and ReduceMean over H, W becoming average pooling.

Sources: rules/fusions.toml [fusion.gelu], [fusion.l1norm], [fusion.sumsq], [fusion.l2norm],
[fusion.logsum], [fusion.logsumexp], [fusion."reduce-to-pool"].
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from trtadvisor.analysis.evaluate import (
    EVALUABLE_OPS,
    EVALUATED_ATTRIBUTES,
    GELU_ERF_ON_SAMPLES,
    GELU_TANH_ON_SAMPLES,
    SAMPLES,
    close,
    evaluate,
)
from trtadvisor.ir.graph import Graph, Node
from trtadvisor.plan.context import Blocked, PlanContext

_SEARCH_DEPTH = 6
# Removed no-ops (Identity, Dropout, a Cast to the same type) still pass their value on: a GELU is
# matched through them, as TensorRT sees through them, and they stay eliminated (not fused).
_PASS_THROUGH = frozenset({"Identity", "Dropout", "Cast"})


def _passes_through(ctx: PlanContext, node: Node) -> bool:
    return node.op in _PASS_THROUGH and node in ctx.eliminated and bool(node.inputs) and \
        node.inputs[0] not in ctx.graph.constant_names and node.inputs[0] not in ctx.folded


def _backward_tensors(ctx: PlanContext, start: Node) -> Iterator[str]:
    """Tensors reachable backwards from ``start`` through evaluable nodes, nearest first.

    The walk skips what ctx.data_inputs skips (empty names, constants, values of eliminated nodes),
    with the graph's lookups bound once: it runs for every Erf and Tanh of the model. It yields as it
    goes, so the walk stops at the first tensor the caller takes (a GELU's input is a few steps back).
    """
    producers, owner, eliminated = ctx.graph.producers, ctx.owner, ctx.eliminated
    constants = ctx.graph.constant_names
    seen: set[str] = set()
    frontier = [start]
    for _ in range(_SEARCH_DEPTH):
        nxt: list[Node] = []
        for node in frontier:
            for name in node.inputs:
                if not name or name in seen or name in constants:
                    continue
                producer = producers.get(name)
                if producer is None:
                    seen.add(name)  # a graph input
                    yield name
                    continue
                if producer in eliminated and not _passes_through(ctx, producer):
                    continue
                seen.add(name)
                yield name
                if producer.op in EVALUABLE_OPS and (producer in owner or _passes_through(ctx, producer)):
                    nxt.append(producer)
        if not nxt:
            return  # nothing left to walk back through
        frontier = nxt


def _forward_region(ctx: PlanContext, source: str, max_nodes: int) -> list[Node]:
    """Evaluable nodes computed from ``source`` alone (plus constants), in topological order; the search stops
    at twice a GELU's largest size (``max_nodes``). Runs for every Erf and Tanh: lookups are bound once."""
    graph = ctx.graph
    readers_of, owner, eliminated = graph.readers, ctx.owner, ctx.eliminated
    constants = graph.constant_names
    push, pop = heapq.heappush, heapq.heappop
    available = {source}
    region: list[Node] = []
    limit = 2 * max_nodes
    # Nodes waiting to be visited, lowest index first (a topological order); few at a time. A removed
    # node is visible only when it passes its value on.
    pending = [(n.index, n) for n in readers_of.get(source, ())
               if n not in eliminated or _passes_through(ctx, n)]
    heapq.heapify(pending)
    queued = {n for _, n in pending}
    while pending and len(region) < limit:
        node = pop(pending)[1]
        queued.discard(node)  # a node skipped now may be reached again once its other inputs exist
        if node.op not in EVALUABLE_OPS or (node not in owner and not _passes_through(ctx, node)):
            continue
        for name in node.inputs:
            if name and name not in available and name not in constants:
                break  # an input from outside the region: not computed from ``source`` alone (yet)
        else:
            region.append(node)
            available.update(node.outputs)
            for reader in readers_of.get(node.outputs[0], ()):
                if reader not in queued and (reader not in eliminated or _passes_through(ctx, reader)):
                    queued.add(reader)
                    push(pending, (reader.index, reader))
    return region


def _ancestors_within(end: Node, region: list[Node]) -> list[int]:
    """Positions in ``region`` of ``end`` and the region nodes it is computed from, in region order."""
    members = {n.outputs[0]: n for n in region}
    keep: set[Node] = set()
    stack = [end]
    while stack:
        node = stack.pop()
        if node in keep:
            continue
        keep.add(node)
        for name in node.inputs:
            if name in members:
                stack.append(members[name])
    return [k for k, n in enumerate(region) if n in keep]


def fuse_gelu(ctx: PlanContext) -> None:
    graph = ctx.graph
    spec = ctx.book.fusion("gelu")
    tolerance, max_nodes = spec.tolerance, spec.max_ops  # read once per run, not per candidate
    verdicts: dict[tuple[object, ...], list[_End]] = {}  # regions alike (see _region_key) -> their GELUs
    for core in graph.nodes_of("Gelu", "Erf", "Tanh"):
        if core.op == "Gelu" and ctx.group(core) is not None:
            ctx.fuse_nodes([core], "gelu")
            continue
        if core.op not in ("Erf", "Tanh") or ctx.group(core) is None or "gelu" in ctx.owner[core].fusions:
            continue
        match = _match_gelu(ctx, core, tolerance, max_nodes, verdicts)
        if match is None:
            continue
        nodes, escaped = match
        nodes = [n for n in nodes if n not in ctx.eliminated]  # see-through no-ops stay removed
        if escaped:
            ctx.near_miss(nodes, Blocked("gelu", "sole_reader", escaped))
            continue
        ctx.fuse_nodes(nodes, "gelu", kind="pointwise")


class _End:
    """A GELU found in a region: its last node's position there, and the positions of its nodes once known."""

    __slots__ = ("members", "position")

    def __init__(self, position: int) -> None:
        self.position = position
        self.members: list[int] | None = None


def _match_gelu(ctx: PlanContext, core: Node, tolerance: float, max_nodes: int,
                verdicts: dict[tuple[object, ...], list[_End]]) -> tuple[list[Node], str | None] | None:
    graph = ctx.graph
    readers_of = graph.readers
    for source in _backward_tensors(ctx, core):
        # GELU reads its input twice (inside erf/tanh and in the final product): a tensor with a
        # single reader cannot be x, which saves evaluating most candidates.
        if len(readers_of.get(source, ())) < 2:
            continue
        region = _forward_region(ctx, source, max_nodes)
        if core not in region:
            continue
        key = _region_key(graph, region, source, tolerance)
        ends = verdicts.get(key)
        if ends is None:
            ends = verdicts[key] = [_End(position) for position in _gelu_ends(graph, region, source, tolerance)]
        for found in ends:
            end = region[found.position]
            if end.index < core.index:
                continue
            kept = found.members
            if kept is None:
                kept = _ancestors_within(end, region)
                if key[-1]:  # see _region_key: the same positions hold in every region alike
                    found.members = kept
            nodes = [region[k] for k in kept]
            if core not in nodes or len(nodes) > max_nodes:
                continue
            return nodes, _escaping_value(ctx, nodes, end)
    return None


def _gelu_ends(graph: Graph, region: list[Node], source: str, tolerance: float) -> list[int]:
    """Positions in ``region``, last first, of the nodes whose output is GELU of ``source``.

    What a region computes is fixed by its ops, how they connect, their single-value constants
    and the attributes evaluate() reads: regions alike in all of these (a model repeats its GELU
    in every block) share one evaluation (see _region_key).
    """
    values = evaluate(graph, region, source, SAMPLES)
    ends = []
    for position in range(len(region) - 1, -1, -1):
        result = values.get(region[position].outputs[0])
        if result is not None and (close(result, GELU_ERF_ON_SAMPLES, tolerance)
                                   or close(result, GELU_TANH_ON_SAMPLES, tolerance)):
            ends.append(position)
    return ends


def _region_key(graph: Graph, region: list[Node], source: str, tolerance: float) -> tuple[object, ...]:
    """The region as evaluate() sees it: per node its op, where each input comes from (the source,
    an earlier node of the region, or a constant's single value) and the attributes it reads.

    The last item says whether the key also fixes which region nodes each one is computed from
    (_ancestors_within), so regions alike can share those too: true unless a node's first output is
    unnamed or is ``source`` itself, the only ways an input's name could match a node the key does not
    place before it (the loader rejects a tensor written twice)."""
    position: dict[str, int] = {source: -1}
    where, scalar = position.get, graph.scalar
    parts: list[object] = [tolerance]
    clean = True
    for k, node in enumerate(region):
        refs: list[object] = []
        for name in node.inputs:
            p = where(name)
            refs.append(p if p is not None else (name and ("value", scalar(name))))
        attributes = EVALUATED_ATTRIBUTES.get(node.op)
        parts.append((node.op, tuple(refs), tuple(node.attr(a) for a in attributes) if attributes else ()))
        out = node.outputs[0]
        if not out or out == source:
            clean = False
        position[out] = k
    parts.append(clean)
    return tuple(parts)


def _escaping_value(ctx: PlanContext, nodes: list[Node], end: Node) -> str | None:
    inside = set(nodes)
    graph, eliminated = ctx.graph, ctx.eliminated
    readers_of, is_output = graph.readers, graph.is_graph_output
    for node in nodes:
        if node is end:
            continue
        out = node.outputs[0]
        if is_output(out):
            return f"intermediate '{out}' of the GELU is a graph output"
        readers = readers_of.get(out, ())
        if inside.issuperset(readers) and eliminated.keys().isdisjoint(readers):
            continue  # the common case: every reader is a live node of the GELU (see live_readers)
        outside = [r.name for r in ctx.live_readers(out) if r not in inside]
        if outside:
            return f"intermediate '{out}' of the GELU is also read by {outside[0]}"
    return None


def _single_reader(ctx: PlanContext, node: Node, ops: tuple[str, ...]) -> Node | None:
    reader = ctx.sole_reader(node.outputs[0])
    if reader is None or reader.op not in ops or ctx.group(reader) is None:
        return None
    if len(ctx.owner[reader].nodes) > 1 and ctx.owner[reader].kind != "myelin":
        return None
    return reader


def _shared_reader(ctx: PlanContext, node: Node, ops: tuple[str, ...], fusion: str) -> None:
    """Report ``fusion`` blocked when a reader of ``ops`` would take ``node``'s output but others read it too."""
    out = node.outputs[0]
    readers = [r for r in ctx.live_readers(out) if r.op in ops and ctx.group(r) is not None]
    if readers:
        why = ctx.why_not_sole(out, readers[0])
        if why is not None:
            ctx.near_miss([node, readers[0]], Blocked(fusion, "sole_reader", why))


def _is_square(graph: Graph, node: Node) -> bool:
    if node.op == "Mul" and len(node.inputs) == 2:
        return node.inputs[0] == node.inputs[1]
    if node.op == "Pow" and len(node.inputs) == 2:
        return graph.scalar(node.inputs[1]) == 2.0
    return False


def fuse_reductions(ctx: PlanContext) -> None:
    graph = ctx.graph
    for node in graph.nodes_of("Exp", "Abs", "Mul", "Pow", "ReduceSum"):
        if node.op == "Mul" and not _is_square(graph, node):
            continue  # most products are no square (x * x): told by two names, before the owner lookup
        if ctx.group(node) is None:
            continue
        if node.op == "Exp":
            total = _single_reader(ctx, node, ("ReduceSum",))
            log = _single_reader(ctx, total, ("Log",)) if total is not None else None
            if total is not None and log is not None:
                ctx.fuse_nodes([node, total, log], "logsumexp", kind="reduction")
            elif total is None and _log_of_sum(ctx, node):
                _shared_reader(ctx, node, ("ReduceSum",), "logsumexp")  # softmax's Exp, with no Log, is none
        elif node.op == "Abs":
            total = _single_reader(ctx, node, ("ReduceSum",))
            if total is not None:
                ctx.fuse_nodes([node, total], "l1norm", kind="reduction")
            else:
                _shared_reader(ctx, node, ("ReduceSum",), "l1norm")
        elif _is_square(graph, node):
            total = _single_reader(ctx, node, ("ReduceSum",))
            if total is None:
                _shared_reader(ctx, node, ("ReduceSum",), "sumsq")
                continue
            group = ctx.fuse_nodes([node, total], "sumsq", kind="reduction")
            root = _single_reader(ctx, total, ("Sqrt",))
            if group is not None and root is not None:
                ctx.fuse_nodes([node, total, root], "l2norm", kind="reduction")
            elif group is not None:
                _shared_reader(ctx, total, ("Sqrt",), "l2norm")
        elif node.op == "ReduceSum":
            group = ctx.group(node)
            if group is not None and len(group.nodes) == 1:
                log = _single_reader(ctx, node, ("Log",))
                if log is not None:
                    ctx.fuse_nodes([node, log], "logsum", kind="reduction")
                else:
                    _shared_reader(ctx, node, ("Log",), "logsum")


def _log_of_sum(ctx: PlanContext, exp: Node) -> bool:
    """Whether a ReduceSum reading ``exp`` feeds only a Log: a LogSumExp but for other readers of the Exp."""
    return any(r.op == "ReduceSum" and _single_reader(ctx, r, ("Log",)) is not None
               for r in ctx.live_readers(exp.outputs[0]))


def _reduce_axes(graph: Graph, node: Node) -> list[int] | None:
    axes = node.attr("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        value = graph.const_value(node.inputs[1])
        axes = None if value is None else [int(a) for a in value.reshape(-1)]
    return None if axes is None else list(axes)


def reduce_to_pooling(ctx: PlanContext) -> None:
    graph = ctx.graph
    for node in graph.nodes_of("ReduceMean"):
        if ctx.group(node) is None or len(ctx.owner[node].nodes) != 1:
            continue
        shape = graph.shape(node.inputs[0])
        axes = _reduce_axes(graph, node)
        if shape is None or len(shape) != 4 or axes is None:
            continue
        if sorted(a % 4 for a in axes) != [2, 3]:
            continue
        if not node.attr("keepdims", 1):
            ctx.near_miss([node], Blocked("reduce-to-pool", "keepdims", "keepdims is 0"))
            continue
        ctx.fuse_nodes([node], "reduce-to-pool", kind="pooling")
