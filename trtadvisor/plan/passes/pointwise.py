"""Pointwise fusion into PWN(...) layers, then Convolution + generic activation.

A pointwise layer joins its neighbour when it is an Activation, ElementWise or Unary layer whose
constant operands hold a single value, the value between them is read only inside the fused layer,
and the fused layer stays under the size cap. Names follow TensorRT's progressive fusion,
``PWN(PWN(HardSigmoid_1), Mul_2)``. Sources: rules/fusions.toml [fusion.pointwise], [fusion."conv+act"].
"""

from __future__ import annotations

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Blocked, Group, PlanContext
from trtadvisor.plan.passes.conv import gelu_blocker, skip_around_activation

_SCALE_LAYER = ["scale+scale"]  # the fusions of a Scale layer of several per-channel ops (compared, never modified)


def _wrapped(group: Group) -> str:
    return group.name if group.pointwise else f"PWN({group.name})"


def _constant_size(ctx: PlanContext, name: str) -> int | None:
    """Values a build-time constant holds: a weight's, or a tensor the build folds (an Identity or
    Reshape of a weight, as exporters write deduplicated or reshaped parameters); None when unknown."""
    graph = ctx.graph
    if name in graph.constant_names:
        return graph.constant_size(name)
    shape = graph.shape(name)
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    size = 1
    for d in shape:
        size *= d
    return size


def _blocking_constant(ctx: PlanContext, node: Node) -> str | None:
    constants, folded = ctx.graph.constant_names, ctx.folded
    for name in node.inputs:
        if not name or (name not in constants and name not in folded):
            continue
        size = _constant_size(ctx, name)
        if size is None or size > 1:
            return name
    return None


def fuse_eltwise_relu(ctx: PlanContext) -> None:
    """An ElementWise op with a constant of many values (a bias, a per-channel scale) followed by the ReLU that
    alone reads it becomes one pointwise layer: the builder's EltReluFusion, which runs before pointwise fusion
    and takes any constant (rules/fusions.toml [fusion."eltwise+relu"]). Ops whose constants hold one value
    fuse with the ReLU by pointwise fusion anyway, and one that reads a convolution's output is left to the
    convolution's epilogue fusions."""
    graph = ctx.graph
    ops = frozenset(ctx.book.fusion("eltwise+relu").ops)
    conv_ops = ctx.book.op_set("fusions.toml", "platform", "conv_like_ops")
    group_of = ctx.owner.get
    for relu in graph.nodes_of("Relu"):
        group = group_of(relu)
        if group is None or len(group.nodes) != 1 or not relu.inputs:
            continue  # most ReLUs are a convolution's epilogue by now
        elt = ctx.live_producer(relu.inputs[0])
        if elt is None or elt.op not in ops or len(elt.inputs) != 2 or ctx.group(elt) is None or \
                len(ctx.owner[elt].nodes) != 1 or _blocking_constant(ctx, elt) is None:
            continue
        data = ctx.data_inputs(elt)
        producers = [ctx.live_producer(name) for name in data]
        if not data or any(p is not None and p.op in conv_ops for p in producers):
            continue
        if ctx.sole_reader(elt.outputs[0]) is not relu:
            why = ctx.why_not_sole(elt.outputs[0], relu)
            if why:
                ctx.near_miss([elt, relu], Blocked("eltwise+relu", "sole_reader", why))
            continue
        merged = ctx.merge(ctx.owner[elt], ctx.owner[relu], "eltwise+relu", name=f"PWN({elt.name} + {relu.name})")
        merged.pointwise = True
        merged.kind = "pointwise"


def fuse_pointwise(ctx: PlanContext) -> None:
    graph = ctx.graph
    cap = ctx.book.fusion("pointwise").max_ops
    owner, eliminated, forwards = ctx.owner, ctx.eliminated, ctx.forwards
    constants, producers = graph.constant_names, graph.producers
    group_of, is_output = owner.get, graph.is_graph_output
    pointwise_ops = ctx.book.ops.pointwise_ops  # the ops OpFacts.is_pointwise accepts
    blocking: dict[Node, str | None] = {}  # _blocking_constant of the nodes seen: a producer is seen first
    for node in graph.nodes_of(*pointwise_ops):  # no other op is ever eligible or noted
        group = group_of(node)
        if group is None or (len(group.nodes) > 1 and not group.pointwise):
            if group is not None and group.fusions == _SCALE_LAYER:
                _note_blocked_constant(ctx, node)  # a per-channel Scale layer: pointwise fusion takes none
            continue  # eliminated, or inside a convolution, reduction, Scale or Myelin layer
        blocked = blocking[node] = _blocking_constant(ctx, node)
        if blocked is not None:
            _note_blocked_constant(ctx, node)
            continue
        for name in node.inputs:
            # ctx.data_inputs(node) and ctx.live_producer of each, with one producer lookup per input
            if name in forwards:
                name = ctx.source(name)
            if not name or name in constants:
                continue
            producer = producers.get(name)
            if producer is None or producer in eliminated:
                continue
            theirs = group_of(producer)
            # Eligible: a pointwise layer of its own (not fused into a convolution, a reduction or a Myelin
            # region) whose constants hold one value each.
            if theirs is None or producer.op not in pointwise_ops or (len(theirs.nodes) > 1 and not theirs.pointwise):
                continue
            blocked = blocking[producer] if producer in blocking else _blocking_constant(ctx, producer)
            if blocked is not None:
                continue
            mine = owner[node]
            if mine is theirs:
                continue
            if is_output(name):
                continue
            if any(group_of(r) is not mine for r in ctx.live_readers(name)):
                continue  # the value is needed outside: it would become a second output
            if len(mine.nodes) + len(theirs.nodes) > cap:
                ctx.near_miss([producer, node], Blocked(
                    "pointwise", "size_cap",
                    f"the fused layer would hold {len(mine.nodes) + len(theirs.nodes)} ops, over the cap of {cap}"))
                continue
            name_ = f"PWN({_wrapped(theirs)}, {_wrapped(mine) if len(mine.nodes) > 1 else mine.name})"
            merged = ctx.merge(mine, theirs, "pointwise", name=name_)
            merged.pointwise = True
            merged.kind = "pointwise"


def _note_blocked_constant(ctx: PlanContext, node: Node) -> None:
    """A pointwise op between pointwise neighbours that a multi-value constant keeps apart; a Scale layer
    of several per-channel ops (scale+scale) is noted once, at its first op."""
    if ctx.group(node) is None or not ctx.book.ops.is_pointwise(node.op):
        return
    group = ctx.owner[node]
    if len(group.nodes) > 1 and (group.fusions != _SCALE_LAYER or group.head is not node):
        return
    const = _blocking_constant(ctx, node)
    if const is None:
        return
    neighbours = [p for p in (ctx.live_producer(i) for i in ctx.data_inputs(node)) if p is not None]
    neighbours += ctx.live_readers(group.tail.outputs[0])
    if any(ctx.book.ops.is_pointwise(n.op) and ctx.group(n) is not None and len(ctx.owner[n].nodes) == 1
           for n in neighbours):
        size = _constant_size(ctx, const)
        ctx.near_miss([node], Blocked("pointwise", "single_value_constants",
                                      f"constant operand '{const}' holds {size if size else 'many'} values"))


# A convolution layer that took one of these already ends in its activation.
_TOOK_ACTIVATION = frozenset({"conv+relu", "conv+clip", "conv+gelu", "conv+act"})


def fuse_conv_generic_activation(ctx: PlanContext) -> None:
    """A convolution followed by a pointwise layer with one input and one output."""
    own = ctx.book.op_set("fusions.toml", "platform", "conv_epilogue_ops")
    chained = ctx.book.op_set("fusions.toml", "platform", "conv_act_chain_ops")
    # Read once per pass, not per convolution (a version comparison parses both strings).
    multi_input_seen = ctx.target.trt_at_least(str(ctx.book.platform["conv_multi_input_pointwise_seen_since"]))
    for group in _convolution_layers(ctx):
        node = group.tail
        if not _TOOK_ACTIVATION.isdisjoint(group.fusions):
            if node.op in chained:
                _note_act_chain_alternative(ctx, group)
            continue
        out = node.outputs[0]
        readers = ctx.live_readers(out)
        if not readers or ctx.graph.is_graph_output(out):
            continue
        act = ctx.owner.get(readers[0])
        if act is None or readers[0] in ctx.eliminated or act.kind != "pointwise":
            continue
        if any(ctx.owner.get(r) is not act for r in readers):
            # ReLU, Clip and GELU readers already had their own near miss from the epilogue pass. A layer
            # that ends in its residual sum (Conv + Add) writes a stream the next block reads anyway: its
            # second reader is the architecture, not a near miss.
            why = ctx.why_not_sole(out, readers[0])
            ends_in_conv = ctx.book.ops.kind_of(node.op) in ("convolution", "deconvolution")
            if why and ends_in_conv and _single_input(ctx, act, out) and not any(r.op in own for r in readers) \
                    and not skip_around_activation(ctx, out, readers[0]):
                ctx.near_miss([node, readers[0]], Blocked("conv+act", "sole_reader", why))
            continue
        if not _single_output(ctx, act):
            continue
        if not _single_input(ctx, act, out):
            _note_multi_input_alternative(ctx, group, act, out, multi_input_seen)
            continue
        if "gelu" in act.fusions and gelu_blocker(ctx) is not None:
            continue  # Conv + GELU has its own conditions (precision, SM), reported by the epilogue pass
        ctx.merge(group, act, "conv+act", name=f"{group.name} + {_wrapped(act)}")
        if len(act.nodes) > 1:
            group.add_fusion("pointwise")


def _note_multi_input_alternative(ctx: PlanContext, group: Group, act: Group, out: str, seen: bool) -> None:
    """A convolution whose only reader is a PWN layer that also reads another tensor (an activation, then a
    residual Add): documented as two layers, but TensorRT 8.x (YOLOv8) and 10.0 (RT-DETRv2) engines fused such a
    layer into the convolution (rules/fusions.toml [platform] conv_multi_input_pointwise_*): an alternative.
    ``seen``: whether the target is at least conv_multi_input_pointwise_seen_since."""
    if not act.pointwise or not seen:
        return
    platform = ctx.book.platform
    if any(_blocking_constant(ctx, node) is not None for node in act.nodes):
        return  # a constant of many values keeps it apart, whatever the version
    shape = ctx.graph.shape(out)
    if shape is None or shape != ctx.graph.shape(act.tail.outputs[0]):
        return  # an epilogue writes the convolution's own shape (a squeeze-excite gate broadcast over x is not)
    fused = {"kind": "convolution", "nodes": [n.name for n in (*group.nodes, *act.nodes)],
             "when": str(platform["conv_multi_input_pointwise_when"]),
             "evidence": [str(platform["conv_multi_input_pointwise_source"])]}
    ctx.alternatives[id(group)] = (*ctx.alternatives.get(id(group), ()), fused)


def _note_act_chain_alternative(ctx: PlanContext, group: Group) -> None:
    """A convolution that took its activation (Conv + Clip) and whose output only a pointwise layer of one input
    reads (the Div of relu6(x + 3) / 6): TensorRT may have made the activation a PWN node and fused that layer
    into it before the convolution took the chain. Not seen in an engine for such a chain, so the plan keeps the
    documented two layers and lists the one layer as an inferred alternative ([platform] conv_act_chain_*)."""
    out = group.tail.outputs[0]
    readers = ctx.live_readers(out)
    if not readers or ctx.graph.is_graph_output(out):
        return
    act = ctx.owner.get(readers[0])
    if act is None or act is group or act.kind != "pointwise" or any(ctx.owner.get(r) is not act for r in readers):
        return
    if not _single_output(ctx, act) or not _single_input(ctx, act, out):
        return
    shape = ctx.graph.shape(out)
    if shape is None or shape != ctx.graph.shape(act.tail.outputs[0]):
        return
    platform = ctx.book.platform
    fused = {"kind": "convolution", "nodes": [n.name for n in (*group.nodes, *act.nodes)],
             "when": str(platform["conv_act_chain_when"]), "confidence": "inferred",
             "evidence": [str(platform["conv_act_chain_source"])]}
    ctx.alternatives[id(group)] = (*ctx.alternatives.get(id(group), ()), fused)


def _convolution_layers(ctx: PlanContext) -> list[Group]:
    """Convolution layers in the order of their last node (each holds a Conv or ConvTranspose)."""
    layers: dict[Group, None] = {}
    for conv in ctx.graph.nodes_of("Conv", "ConvTranspose"):
        group = ctx.owner.get(conv)
        if group is not None and group.kind in ("convolution", "deconvolution"):
            layers[group] = None
    return sorted(layers, key=_tail_index)


def _tail_index(group: Group) -> int:
    return group.nodes[-1].index


def _single_input(ctx: PlanContext, group: Group, source: str) -> bool:
    """The group reads only ``source`` besides single-value constants: a constant of many values (a
    coordinate grid, a per-position bias) is a second input of the layer, as it keeps an op out of
    pointwise fusion (REF 'Pointwise Fusion': only constants with a single value)."""
    members = set(group.nodes)
    producers = ctx.graph.producers
    for node in group.nodes:
        if _blocking_constant(ctx, node) is not None:
            return False
        for name in ctx.data_inputs(node):
            if name != source and producers.get(name) not in members:
                return False
    return True


def _single_output(ctx: PlanContext, group: Group) -> bool:
    members = set(group.nodes)
    graph, eliminated = ctx.graph, ctx.eliminated
    readers_of, is_output = graph.readers, graph.is_graph_output
    escaping = 0
    for node in group.nodes:
        for out in node.outputs:
            if not is_output(out):
                readers = readers_of.get(out, ())
                if eliminated.keys().isdisjoint(readers):  # the common case: these are the live readers
                    if members.issuperset(readers):
                        continue
                elif not any(r not in members for r in ctx.live_readers(out)):
                    continue
            escaping += 1
            if escaping > 1:
                return False
    return True
