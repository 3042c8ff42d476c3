"""Myelin regions: the subgraphs TensorRT hands to its Myelin compiler as ``{ForeignNode[a...b]}``.

From TensorRT 10, MatMul/Gemm and the ops around them go to Myelin; from 8.6, attention blocks do.
Neither is stated in the reference text; both are read off real engines, cited in
rules/fusions.toml [platform]. A region grows from its seeds through the ops Myelin takes and stops
at everything else (convolutions, pooling, plugins), so a CNN's classifier head is a small region
while a transformer becomes one or a few large ones.
"""

from __future__ import annotations

from itertools import compress

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
        owner = ctx.owner  # a node has a layer until it is removed
        seeds = [n for n in ctx.graph.nodes_of("MatMul", "Gemm", "Attention") if n in owner]
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


class _Taken:
    """What Myelin takes, by node index: ``takes``, and ``previous``, for a node of a layer of several nodes
    it takes, the index of the layer's member before it (-1 elsewhere): a layer's members join one component
    whatever their edges."""

    __slots__ = ("previous", "takes")

    def __init__(self, takes: list[bool], previous: list[int]) -> None:
        self.takes = takes
        self.previous = previous


def _absorbable_by_index(ctx: PlanContext, ops: frozenset[str]) -> _Taken:
    """_absorbable for every node, by node index: decided once per layer, so growing a region of
    tens of thousands of nodes reads a list instead of asking per neighbour."""
    count = len(ctx.graph.nodes)
    takes = [False] * count
    previous = [-1] * count
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
                before = -1
                for member in members:  # in graph order: each joins the one before it, as an edge would
                    takes[member.index] = True
                    previous[member.index] = before
                    before = member.index
    return _Taken(takes, previous)


_FEW_REGIONS = 8  # up to this many regions, each is gathered by one C-level scan of the roots


def _connected_regions(ctx: PlanContext, taken: _Taken, seeds: list[Node]) -> dict[Node, list[Node]]:
    """The region of each seed: its connected component among the nodes Myelin takes, as its nodes in
    graph order, cut where a path leaves the component through a layer Myelin does not take and comes
    back into it (_convex_levels)."""
    takes = taken.takes
    parent, entries = _components(ctx, taken)
    seeded = {parent[seed.index] for seed in seeds if takes[seed.index]}
    if any(parent[i] in seeded for i in entries):  # a path can come back only where one enters
        level = _convex_levels(ctx, takes, parent, seeded)
        if level is not None:
            parent = _components(ctx, taken, level)[0]
            seeded = {parent[seed.index] for seed in seeds if takes[seed.index]}
    nodes = ctx.graph.nodes
    regions: dict[int, list[Node]] = {}
    if len(seeded) <= _FEW_REGIONS:  # a transformer's one region or a few: a scan in C per region
        for found in seeded:  # parent[i] == found only for the nodes it takes in found's component
            regions[found] = list(compress(nodes, map(found.__eq__, parent)))
    else:
        for node in compress(nodes, takes):
            found = parent[node.index]
            region = regions.get(found)
            if region is None:
                regions[found] = [node]
            else:
                region.append(node)
    return {seed: regions[parent[seed.index]] for seed in seeds if takes[seed.index]}


def _components(ctx: PlanContext, taken: _Taken, level: list[int] | None = None) -> tuple[list[int], list[int]]:
    """Each node's component root among the nodes Myelin takes (flat: parent[i] is the root; which member is
    the root is arbitrary), and the nodes it takes that read a tensor written by a node it does not take (where
    a component is entered).

    A union-find over each node's producer edges visits every edge once (a search from each seed
    would visit it from both ends); a layer's members join one component whatever their edges. With
    ``level``, an edge joins its two ends only when they are on the same level.
    """
    get_producer, nodes = ctx.graph.producers.get, ctx.graph.nodes
    takes = taken.takes
    parent = list(range(len(nodes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    eliminated = ctx.eliminated
    entries: list[int] = []
    # Nodes in graph order, each hanging its producers' trees under its own: in a topological order a node is
    # still its own root when its turn comes (only its readers, later, hang it), so that costs no search.
    previous = taken.previous
    for node in compress(nodes, takes):
        i = node.index
        r = i if parent[i] == i else root(i)
        for name in node.inputs:
            producer = get_producer(name)
            if producer is None:
                continue
            if producer in eliminated:
                producer = _behind_removed(ctx, producer)
                if producer is None:
                    continue
            p = producer.index
            if not takes[p]:
                entries.append(i)
                continue
            if level is not None and level[p] != level[i]:
                continue
            while parent[p] != p:  # root(p), inline: the hottest line of the pass
                parent[p] = parent[parent[p]]
                p = parent[p]
            if p != r:
                parent[p] = r
        p = previous[i]
        if p >= 0 and parent[p] != r:  # the layer's member before this node (joined whatever the levels),
            p = root(p)  # unless an edge from it just did
            if p != r:
                parent[p] = r
    # Every pointer goes forward in graph order (a node hangs earlier nodes' roots under its own), so
    # flattening from the last node back finds each parent's root already in place (root() still walks
    # any other pointer: a graph out of topological order is flattened all the same).
    for i in reversed(list(compress(range(len(nodes)), takes))):
        p = parent[i]
        up = parent[p]
        if up != p:  # p is no root: its parent is, unless a pointer went backward
            parent[i] = up if parent[up] == up else root(up)
    return parent, entries


def _behind_removed(ctx: PlanContext, node: Node) -> Node | None:
    """The producer of the tensor a chain of removed pass-through nodes hands on: a removed no-op Cast
    between a residual Add and the next RMSNorm (transformers' float32 upcast in an FP32 export) leaves
    the two connected, so the Add's region and the norm's are one. None where the chain starts at a
    removed node that is no pass-through: one folded from constants (no data input) or shape arithmetic
    (it starts at a Shape: what it hands on is known before anything runs), so that edge joins nothing."""
    producers, eliminated, graph = ctx.graph.producers, ctx.eliminated, ctx.graph
    shape_ops = ctx.book.op_set("fusions.toml", "platform", "host_shape_ops")
    for _ in range(8):
        if node not in eliminated:
            return node
        if node.op in shape_ops:
            return None
        data = [i for i in node.inputs if i and not graph.is_constant(i)]
        if len(data) != 1:
            return None
        found = producers.get(data[0])
        if found is None:
            return None
        node = found
    return None


_Levels = dict[int, int]  # component root -> the highest level of one of its nodes


def _merged(acc: _Levels | None, more: _Levels | None) -> _Levels | None:
    """The two maps' keys with the higher level of each (never modifies either: maps are shared)."""
    if not more or acc is more:
        return acc
    if not acc:
        return more
    out = dict(acc)
    for key, value in more.items():
        if out.get(key, -1) < value:
            out[key] = value
    return out


def _convex_levels(ctx: PlanContext, takes: list[bool], comp: list[int], seeded: set[int]) -> list[int] | None:
    """Each region node's level: how often a path from its own component into it left the component
    through a layer Myelin does not take (a convolution, a Pad, a ScatterND) and came back; None when
    no path comes back. Only the components of ``seeded`` roots (those that become regions) count.

    A Myelin region is one engine layer and an engine's layers run as a DAG: a region cannot feed a
    convolution and also read that convolution's output (MViT's pooling convolutions between the
    attention's matrix multiplies, Swin's Pad between its LayerNorm and its window attention). Cut by
    level, every piece is convex: a path that leaves a piece and comes back into its component arrives
    one level up, in another piece. Nodes the build removed are no layer and pass a path through.
    Nodes are visited in graph order (ONNX's topological order).
    """
    nodes, producers, eliminated = ctx.graph.nodes, ctx.graph.producers, ctx.eliminated
    # A path through an op whose output is a shape carries no data: it cannot bring a region its own output.
    shape_ops = ctx.book.op_set("fusions.toml", "platform", "host_shape_ops")
    # A value computed from shapes and constants alone depends on no layer's data (its shapes are known before the
    # layers run): a path through it brings a region nothing, even where a node of it was taken into the region.
    shape_only = _shape_only(ctx, shape_ops)
    level = [0] * len(nodes)
    # A region node: its component's root; -1 for every other node.
    region = [comp[i] if takes[i] and comp[i] in seeded else -1 for i in range(len(nodes))]
    # left[i]: per component, the highest level a path into node i left it from.
    left: list[_Levels | None] = [None] * len(nodes)
    # through[i], for a removed node: per component, the level of the region nodes it passes on.
    through: list[_Levels | None] = [None] * len(nodes)
    cut = False
    for node in nodes:
        i = node.index
        if shape_only[i]:
            continue
        mine = region[i]
        here = 0
        direct: _Levels | None = None  # from region nodes with no layer between (other components')
        exits: _Levels | None = None
        for name in node.inputs:
            producer = producers.get(name)
            if producer is None:
                continue
            j = producer.index
            if shape_only[j]:
                continue
            came = left[j]
            if came is not None:
                exits = _merged(exits, came)
            theirs = region[j]
            if theirs >= 0:
                if theirs == mine:
                    if level[j] > here:
                        here = level[j]
                else:
                    direct = _merged(direct, {theirs: level[j]})
            elif (passed := through[j]) is not None:
                if mine in passed:
                    here = max(here, passed[mine])
                    passed = {k: v for k, v in passed.items() if k != mine} or None
                direct = _merged(direct, passed)
        if mine >= 0:
            if direct is not None:
                exits = _merged(exits, direct)
            if exits is not None and mine in exits:
                here = max(here, exits[mine] + 1)
                cut = True
            level[i] = here
            left[i] = exits
        elif node in eliminated:
            through[i] = direct
            left[i] = exits
        elif direct is not None:
            left[i] = _merged(exits, direct)
        else:
            left[i] = exits
    return level if cut else None


def _shape_only(ctx: PlanContext, shape_ops: frozenset[str]) -> list[bool]:
    """By node index: whether the node's output is computed from shapes and constants alone (a Shape, and every
    node whose inputs are all constants or such outputs: transformers' position ids, a Range to the sequence
    length read from a Shape, and the causal comparisons of them). Nodes are visited in graph order."""
    nodes, get_producer, constants = ctx.graph.nodes, ctx.graph.producers.get, ctx.graph.constant_names
    shape_only = [False] * len(nodes)
    for node in nodes:
        if node.op in shape_ops:
            shape_only[node.index] = True
            continue
        if node.subgraphs:
            continue
        derived = False
        for name in node.inputs:
            if not name or name in constants:  # graph.is_constant, without a call per input
                continue
            producer = get_producer(name)
            if producer is None or not shape_only[producer.index]:
                break
            derived = True
        else:
            shape_only[node.index] = derived
    return shape_only


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
