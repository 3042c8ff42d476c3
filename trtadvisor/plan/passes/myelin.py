"""Myelin regions: the subgraphs TensorRT hands to its Myelin compiler as ``{ForeignNode[a...b]}``.

From TensorRT 10, MatMul/Gemm and the ops around them go to Myelin; from 8.6, attention blocks do.
Neither is stated in the reference text; both are read off real engines, cited in
rules/fusions.toml [platform]. A region grows from its seeds through the ops Myelin takes and stops
at everything else (convolutions, pooling, plugins), so a CNN's classifier head is a small region
while a transformer becomes one or a few large ones.
"""

from __future__ import annotations

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Group, PlanContext


def _attention_seeds(ctx: PlanContext) -> list[Node]:
    """Softmax nodes that sit between two activation-by-activation MatMuls (an attention core)."""
    seeds: list[Node] = []
    graph = ctx.graph
    for node in graph.nodes_of("Softmax"):
        if ctx.group(node) is None:
            continue
        if _reaches(ctx, node, forward=False) and _reaches(ctx, node, forward=True):
            seeds.append(node)
    return seeds


def _is_activation_matmul(ctx: PlanContext, node: Node) -> bool:
    return node.op == "MatMul" and len(ctx.data_inputs(node)) == 2


def _reaches(ctx: PlanContext, start: Node, forward: bool, depth: int = 8) -> bool:
    frontier = [start]
    seen: set[Node] = set()
    for _ in range(depth):
        nxt: list[Node] = []
        for node in frontier:
            if forward:
                neighbours = [r for o in node.outputs if o for r in ctx.live_readers(o)]
            else:
                neighbours = [p for p in (ctx.live_producer(i) for i in ctx.data_inputs(node)) if p is not None]
            for n in neighbours:
                if n in seen:
                    continue
                seen.add(n)
                if _is_activation_matmul(ctx, n):
                    return True
                nxt.append(n)
        frontier = nxt
    return False


def form_myelin_regions(ctx: PlanContext) -> None:
    platform = ctx.book.platform
    if ctx.target.trt_at_least(platform["myelin_gemm_since"]):
        seeds = [n for n in ctx.graph.nodes_of("MatMul", "Gemm", "Attention") if ctx.group(n) is not None]
    elif ctx.target.trt_at_least(platform["myelin_attention_since"]):
        seeds = _attention_seeds(ctx)
    else:
        return
    myelin_ops = frozenset(platform["myelin_ops"])
    regions = _connected_regions(ctx, _absorbable_by_index(ctx, myelin_ops), seeds)
    made: set[int] = set()
    for seed in seeds:
        # A region grows from its seeds through every layer Myelin takes: the seed's connected
        # component among those layers. A seed whose component is made already joined it.
        region = regions.get(seed)
        if region is None or id(region) in made or not _absorbable(ctx, seed, myelin_ops | {seed.op}):
            continue
        made.add(id(region))
        _make_region(ctx, region)


def _absorbable(ctx: PlanContext, node: Node, ops: frozenset[str]) -> bool:
    """A node Myelin takes: its op is one Myelin compiles, and its layer is not a convolution or
    pooling layer that the classic fusions already claimed (those stay CaskConvolution/CaskPooling,
    as the TensorRT 10.16 engine shows for node_conv2d + node_relu and node_max_pool2d)."""
    group = ctx.group(node)
    kept = ctx.book.op_set("fusions.toml", "platform", "myelin_not_absorbed_kinds")
    if group is None or node.op not in ops or node.subgraphs or group.kind in kept:
        return False
    return all(member.op in ops for member in group.nodes)


def _absorbable_by_index(ctx: PlanContext, ops: frozenset[str]) -> list[bool]:
    """_absorbable for every node, by node index: decided once per layer, so growing a region of
    tens of thousands of nodes reads a list instead of asking per neighbour."""
    takes = [False] * len(ctx.graph.nodes)
    kept = ctx.book.op_set("fusions.toml", "platform", "myelin_not_absorbed_kinds")
    decided: set[Group] = set()  # layers of several nodes, judged once
    for group in ctx.owner.values():
        members = group.nodes
        if len(members) == 1:
            node = members[0]
            takes[node.index] = node.op in ops and group.kind not in kept and not node.subgraphs
        elif group not in decided:
            decided.add(group)
            if group.kind not in kept and all(m.op in ops and not m.subgraphs for m in members):
                for member in members:
                    takes[member.index] = True
    return takes


def _connected_regions(ctx: PlanContext, takes: list[bool], seeds: list[Node]) -> dict[Node, list[Node]]:
    """The connected component of each seed among the nodes Myelin takes, as its nodes in graph order.

    A union-find over each node's producer edges visits every edge once (a search from each seed
    would visit it from both ends); a layer's members join one component whatever their edges.
    """
    producers, nodes = ctx.graph.producers, ctx.graph.nodes
    parent = list(range(len(nodes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    owner = ctx.owner
    for node in nodes:
        i = node.index
        if not takes[i]:
            continue
        r = root(i)  # the node's tree: its producers' trees are hung under it, so r stays the root
        for name in node.inputs:
            producer = producers.get(name)
            if producer is not None and takes[producer.index]:
                p = producer.index
                if parent[p] != p:
                    p = root(p)
                if p != r:
                    parent[p] = r
        members = owner[node].nodes
        if len(members) > 1 and members[0] is node:
            for member in members[1:]:
                m = root(member.index)
                if m != r:
                    parent[m] = r
    regions: dict[int, list[Node]] = {}
    for node in nodes:
        i = node.index
        if takes[i]:
            found = parent[i] = root(i)  # flat from here: the seeds look up their root
            region = regions.get(found)
            if region is None:
                regions[found] = [node]
            else:
                region.append(node)
    return {seed: regions[parent[seed.index]] for seed in seeds if takes[seed.index]}


def _make_region(ctx: PlanContext, nodes: list[Node]) -> Group:
    base = ctx.absorb(ctx.owner[nodes[0]], nodes)
    base.kind = "myelin"
    base.pointwise = False
    base.name = f"{{ForeignNode[{nodes[0].name}...{nodes[-1].name}]}}" if len(nodes) > 1 else \
        f"{{ForeignNode[{nodes[0].name}]}}"
    return base


def fold_flatten_into_gemm(ctx: PlanContext) -> None:
    """TensorRT 8.x runs Gemm (and a MatMul by a 2-D weight) as a 1x1 convolution and absorbs the
    Flatten/Reshape/Squeeze before it: the RTX 3090 engines of tf2onnx's Keras ResNet-50
    (trex/examples/tensorflow/resnet/RTX-3090/*/resnet.onnx.engine.graph.json) have no layer for the
    Squeeze between the average pooling and 'resnet50/predictions/MatMul' (a CublasConvolution / CaskConvolution)."""
    before = ctx.book.platform["gemm_as_conv_before"]
    if ctx.target.trt_at_least(before):
        return
    graph = ctx.graph
    folded = ctx.book.op_set("fusions.toml", "platform", "gemm_folded_shuffles")
    for node in graph.nodes_of("Gemm", "MatMul"):
        if ctx.group(node) is None or len(node.inputs) < 2:
            continue
        if node.op == "MatMul" and not (graph.is_constant(node.inputs[1]) and graph.rank(node.inputs[1]) == 2):
            continue
        producer = ctx.live_producer(node.inputs[0])
        if producer is None or producer.op not in folded:
            continue
        if ctx.sole_reader(producer.outputs[0]) is not node:
            continue
        group = ctx.group(producer)
        if group is None or len(group.nodes) != 1:
            continue
        ctx.eliminate(producer, f"folded into the Gemm, which TensorRT before {before} runs as a 1x1 convolution")
