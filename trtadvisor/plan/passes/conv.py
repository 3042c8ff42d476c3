"""Convolution epilogue fusions: Pad + Conv, Conv + ElementWise, Conv + activation, and late fusions.

Sources: rules/fusions.toml [fusion."pad+conv"], [fusion."conv+eltwise"], [fusion."conv+relu"],
[fusion."conv+clip"], [fusion."conv+gelu"], [fusion."act+act"], [fusion."scale+act"],
[fusion."conv+pool"], [fusion."depsep-conv"].
"""

from __future__ import annotations

from trtadvisor.analysis.shapes import broadcast_blocker
from trtadvisor.ir.graph import Graph, Node
from trtadvisor.plan.context import Blocked, Group, PlanContext
from trtadvisor.plan.passes.scale import conv_like_ops


def fuse_pad_into_conv(ctx: PlanContext) -> None:
    graph = ctx.graph
    for node in graph.nodes_of("Pad"):
        if ctx.group(node) is None:
            continue
        reader = ctx.sole_reader(node.outputs[0])
        if reader is None or reader.op not in ctx.book.fusion("pad+conv").ops or ctx.group(reader) is None:
            continue
        if ctx.source(reader.inputs[0]) != node.outputs[0]:
            continue
        blocked = _pad_blocker(graph, node)
        if blocked is not None:
            ctx.near_miss([node, reader], blocked)
            continue
        conv_group = ctx.owner[reader]
        merged = ctx.merge(conv_group, ctx.owner[node], "pad+conv", name=f"{node.name} + {conv_group.name}")
        merged.kind = "deconvolution" if reader.op == "ConvTranspose" else "convolution"


def _pad_blocker(graph: Graph, pad: Node) -> Blocked | None:
    mode = pad.attr("mode", "constant")
    if mode != "constant":
        return Blocked("pad+conv", "constant_zero", f"pad mode is '{mode}'")
    if pad.has_attr("pads"):
        pads = pad.attr("pads")
    else:
        pads_input = pad.input(1)
        value = graph.const_value(pads_input) if pads_input else None
        if value is None:
            return Blocked("pad+conv", "constant_pads", f"the pads input '{pads_input}' is not a constant")
        pads = [int(v) for v in value.reshape(-1)]
    negative = [p for p in pads if p < 0]
    if negative:
        return Blocked("pad+conv", "non_negative", f"pads {list(pads)} include negative values")
    value_input = pad.input(2)
    fill = graph.scalar(value_input) if value_input else float(pad.attr("value", 0.0))
    if fill is None or fill != 0.0:
        shown = fill if fill is not None else "not a constant"
        return Blocked("pad+conv", "constant_zero", f"the pad value is {shown}")
    half = len(pads) // 2
    if half >= 2 and (pads[0] or pads[1] or pads[half] or pads[half + 1]):
        return Blocked("pad+conv", "spatial_only", f"pads {list(pads)} pad the batch or channel dimension")
    axes = pad.input(3)
    if axes:
        return Blocked("pad+conv", "spatial_only", f"the Pad has an explicit axes input '{axes}'")
    return None


def _broadcast_blocker(ctx: PlanContext, conv_out: str, other: str) -> str | None:
    """Why the residual operand ``other`` cannot join the convolution writing ``conv_out``.

    While shape inference is still running, the fusion goes ahead as if nothing broadcasts (the
    common case) and the plan checks the assumption once the shapes are in: see
    PlanContext.from_shapes. That keeps this pass, and the Myelin partitioning after it, off the
    wait for shapes.
    """
    return ctx.from_shapes((conv_out, other), broadcast_blocker, guess=None)




def _is_conv_group(group: Group | None, conv_ops: frozenset[str]) -> bool:
    if group is None:
        return False
    return group.kind in ("convolution", "deconvolution") or (group.kind == "gemm" and "Gemm" in conv_ops)


def _conv_taking_add(ctx: PlanContext, add: Node, conv_ops: frozenset[str], prefer: int) -> int | None:
    """Which input of ``add`` comes from a convolution free to take it, the preferred input first."""
    for i in (prefer, 1 - prefer):
        name = add.inputs[i]
        producer = ctx.live_producer(name)
        group = ctx.group(producer) if producer is not None else None
        if not _is_conv_group(group, conv_ops) or group.tail is not producer:
            continue
        if "conv+eltwise" in group.fusions or ctx.sole_reader(name) is not add:
            continue
        return i
    return None


def fuse_conv_epilogues(ctx: PlanContext) -> None:
    """Conv (+ scale) then + ElementWise sum/min/max, then + ReLU / Clip / GELU, in TensorRT's order."""
    graph = ctx.graph
    conv_ops = conv_like_ops(ctx)
    eltwise_ops = frozenset(ctx.book.fusion("conv+eltwise").ops)
    prefer = ctx.book.fusion("conv+eltwise").prefer_input
    activations = ctx.book.ops.activations
    own = ctx.book.op_set("fusions.toml", "platform", "conv_epilogue_ops")
    group_of = ctx.owner.get
    for node in graph.nodes_of(*conv_ops):
        group = group_of(node)
        if group is None:
            continue
        if node.op == "Gemm":
            group.kind = "gemm"
        tail = group.nodes[-1]
        if not _is_conv_group(group, conv_ops) or tail.op in activations:
            continue
        out = tail.outputs[0]
        readers = ctx.live_readers(out)
        _try_eltwise(ctx, group, graph, eltwise_ops, conv_ops, prefer, readers)
        if group.nodes[-1] is not tail:  # it took the sum: the activation reads the sum's output
            out = group.nodes[-1].outputs[0]
            readers = ctx.live_readers(out)
        _try_activation(ctx, group, own, out, readers)


def _try_eltwise(ctx: PlanContext, group: Group, graph: Graph, eltwise_ops: frozenset[str],
                 conv_ops: frozenset[str], prefer: int, readers: list[Node]) -> None:
    """``readers``: the live readers of the convolution's output."""
    for add in readers:
        if add.op in eltwise_ops and len(add.inputs) == 2:
            break  # the first sum reading it
    else:
        return
    out = group.tail.outputs[0]
    if ctx.group(add) is None or len(ctx.owner[add].nodes) > 1:
        return
    first, second = map(ctx.source, add.inputs)  # seen through removed no-ops (Identity, Mul by 1...)
    other = second if first == out else first
    if other == out:
        return  # x + x: a scale, not a residual
    if ctx.is_build_constant(other) and not _full_shape(ctx, other, out):
        return  # a bias (per channel or uniform): a scale, not a residual
    my_index = 0 if first == out else 1
    if _conv_taking_add(ctx, add, conv_ops, prefer) not in (None, my_index):
        return  # the other operand's convolution takes the Add (preferred input, or the only one free)
    if _computed_from(ctx, other, group.tail):
        # A pre-norm residual block (x + mixer(norm(x))): the residual operand is computed from the
        # convolution's output, so it cannot exist before the convolution runs and cannot be added in
        # its epilogue. No near miss: the second reader is the architecture and no fix removes it.
        return
    broadcast = _broadcast_blocker(ctx, out, other)
    if broadcast is not None:
        ctx.near_miss([group.tail, add], Blocked("conv+eltwise", "same_shape", broadcast))
        return
    why = _why_not_sole(ctx, out, add, readers)
    if why is not None:
        ctx.near_miss([group.tail, add], Blocked("conv+eltwise", "sole_reader", why))
        return
    ctx.merge(group, ctx.owner[add], "conv+eltwise")


def _full_shape(ctx: PlanContext, constant: str, out: str) -> bool:
    """Whether a constant operand has the convolution output's shape, so it is an element-wise sum
    with a tensor (a coordinate grid, a position table), no bias that folds as a scale."""
    shape, out_shape = ctx.graph.shape(constant), ctx.graph.shape(out)
    return shape is not None and shape == out_shape and all(isinstance(d, int) for d in shape) and \
        any(d != 1 for d in shape[2:])


def _computed_from(ctx: PlanContext, tensor: str, node: Node) -> bool:
    """Whether ``tensor`` is computed from ``node``'s output. Only nodes after ``node`` in graph order
    (ONNX's topological order) can be, so the walk back from ``tensor`` stays between the two."""
    producers, start = ctx.graph.producers, node.index
    stack, seen = [tensor], {tensor}
    while stack:
        producer = producers.get(stack.pop())
        if producer is None or producer.index < start:
            continue
        if producer is node:
            return True
        for name in producer.inputs:
            if name and name not in seen:
                seen.add(name)
                stack.append(name)
    return False


def _residual_stream(ctx: PlanContext, group: Group, out: str) -> bool:
    """Whether ``group`` ends in its residual sum (Conv + Add) and writes a stream that other layers read
    beside the activation: the next block's skip connection reads it by design (pre-activation
    ResNets, NFNet), so a second reader there is the architecture, not a fixable near miss."""
    return "conv+eltwise" in group.fusions and not ctx.graph.is_graph_output(out)


_BLOCK_NODES = 256  # how far past an activation a residual block's join is looked for


def skip_around_activation(ctx: PlanContext, out: str, act: Node) -> bool:
    """Whether every other reader of the convolution's output ``out`` is the skip path of a residual block
    whose branch starts with ``act``: y = skip(out) + branch(act(out)) (a pre-activation block after a plain
    convolution: Encodec's SEANet blocks, pre-activation ResNets). The skip needs the value before the
    activation, so its reading ``out`` is the architecture, and no fix can give the activation the sole read."""
    others = [r for r in ctx.live_readers(out) if r is not act]
    if not others or ctx.graph.is_graph_output(out):
        return False
    joins: list[Node] = []
    seen: set[str] = set(act.outputs)
    frontier = list(act.outputs)
    while frontier and len(seen) < _BLOCK_NODES:
        nxt: list[str] = []
        for name in frontier:
            for reader in ctx.graph.consumers(name):
                if reader.op in ("Add", "Sum"):
                    joins.append(reader)
                for o in reader.outputs:
                    if o and o not in seen:
                        seen.add(o)
                        nxt.append(o)
        frontier = nxt
    return all(any(_joins_skip(ctx, join, act, other) for join in joins) for other in others)


def _joins_skip(ctx: PlanContext, join: Node, act: Node, skip: Node) -> bool:
    """Whether ``join`` sums an operand computed from ``act`` with another computed from ``skip`` but not
    from ``act`` (the skip path does not pass through the activation)."""
    operands = [i for i in join.inputs if i]
    branch = [i for i in operands if _computed_from(ctx, i, act)]
    return bool(branch) and any(i not in branch and _computed_from(ctx, i, skip) for i in operands)


def _why_not_sole(ctx: PlanContext, out: str, reader: Node, readers: list[Node]) -> str | None:
    """ctx.why_not_sole(out, reader), where ``readers`` are the live readers of ``out`` (holding ``reader``)."""
    if len(readers) == 1 and not ctx.graph.is_graph_output(out):
        return None  # the common case: ``reader`` is the one
    return ctx.why_not_sole(out, reader)


_ACTIVATION_FUSIONS = {"Relu": "conv+relu", "Clip": "conv+clip", "Gelu": "conv+gelu"}


def _try_activation(ctx: PlanContext, group: Group, own: frozenset[str], out: str, readers: list[Node]) -> None:
    """``own``: the activations a convolution's epilogue takes; ``readers``: the live readers of ``out``,
    the output of the group's last node."""
    for act in readers:
        if act.op in own and ctx.source(act.inputs[0]) == out:
            break  # the first activation reading it
    else:
        _try_decomposed_gelu(ctx, group, out, readers)
        return
    if ctx.group(act) is None or len(ctx.owner[act].nodes) > 1:
        return
    fusion = _ACTIVATION_FUSIONS[act.op]
    why = _why_not_sole(ctx, out, act, readers)
    if why is not None:
        if not _residual_stream(ctx, group, out) and not skip_around_activation(ctx, out, act):
            ctx.near_miss([group.tail, act], Blocked(fusion, "sole_reader", why))
        return
    dynamic = [i for i in act.inputs[1:] if i and not ctx.is_build_constant(i)] if act.op == "Clip" else []
    if dynamic:
        ctx.near_miss([group.tail, act], Blocked("conv+clip", "constant_bounds",
                                                 f"Clip bound '{dynamic[0]}' is not a constant"))
        return
    if act.op == "Gelu":
        blocked = gelu_blocker(ctx)
        if blocked is not None:
            ctx.near_miss([group.tail, act], blocked)
            return
    ctx.merge(group, ctx.owner[act], fusion)


def _try_decomposed_gelu(ctx: PlanContext, group: Group, out: str, readers: list[Node]) -> None:
    """A GELU written as Erf/Tanh arithmetic (already grouped by the GELU fusion) after a convolution."""
    gelu = ctx.owner.get(readers[0]) if readers else None
    # Only a GELU still a layer of its own: one another convolution already took (Conv + Add + GELU
    # over a sum of two convolutions, as MobileOne/FastViT branches export) or a Myelin region is not.
    if gelu is None or "gelu" not in gelu.fusions or gelu.kind != "pointwise":
        return
    tail = group.tail
    outside = [r.name for r in readers if ctx.owner.get(r) is not gelu]
    if outside and _residual_stream(ctx, group, out):
        return
    if outside or ctx.graph.is_graph_output(out):
        detail = (f"tensor '{out}' is also read by {', '.join(outside[:3])}{' ...' if len(outside) > 3 else ''}"
                  if outside else f"tensor '{out}' is a graph output")
        ctx.near_miss([tail, readers[0]], Blocked("conv+gelu", "sole_reader", detail))
        return
    blocked = gelu_blocker(ctx)
    if blocked is not None:
        ctx.near_miss([tail, readers[0]], blocked)
        return
    ctx.merge(group, gelu, "conv+gelu")


def gelu_blocker(ctx: PlanContext) -> Blocked | None:
    """Why Conv + GELU cannot fuse on this target (FP16/INT8 on Turing or later); None when it can."""
    spec = ctx.book.fusion("conv+gelu")
    if ctx.target.precision not in spec.precisions:
        if ctx.target.strong:  # the model's types decide, not a build flag
            stored = "FP32 (TF32 math)" if ctx.target.precision == "tf32" else ctx.target.precision.upper()
            return Blocked("conv+gelu", "tensor_types",
                           f"the model's tensors are {stored} and the build is strongly typed")
        return Blocked("conv+gelu", "precision", f"precision is {ctx.target.precision}")
    if ctx.target.sm is not None and spec.min_sm is not None and ctx.target.sm < spec.min_sm:
        return Blocked("conv+gelu", "sm", f"SM {ctx.target.sm} is older than Turing (SM {spec.min_sm})")
    return None


def fuse_activation_pairs(ctx: PlanContext) -> None:
    """ReLU + ReLU, and a Scale (an unfolded BatchNormalization) + activation."""
    graph = ctx.graph
    for node in graph.nodes_of("Relu", "BatchNormalization"):
        group = ctx.group(node)
        if group is None or len(group.nodes) != 1:
            continue
        if node.op == "Relu":
            out = node.outputs[0]
            readers = ctx.live_readers(out)
            relus = [r for r in readers if r.op == "Relu" and ctx.group(r) is not None and len(ctx.owner[r].nodes) == 1]
            if not relus:
                continue
            why = _why_not_sole(ctx, out, relus[0], readers)
            if why is not None:
                ctx.near_miss([node, relus[0]], Blocked("act+act", "sole_reader", why))
                continue
            ctx.merge(group, ctx.owner[relus[0]], "act+act")
        elif node.op == "BatchNormalization":
            out = node.outputs[0]
            readers = ctx.live_readers(out)
            acts = [r for r in readers if r.op in ctx.book.ops.activations]
            if not acts or ctx.group(acts[0]) is None or len(ctx.owner[acts[0]].nodes) != 1:
                continue
            why = _why_not_sole(ctx, out, acts[0], readers)
            if why is not None:
                ctx.near_miss([node, acts[0]], Blocked("scale+act", "sole_reader", why))
                continue
            merged = ctx.merge(group, ctx.owner[acts[0]], "scale+act")
            merged.kind = "pointwise"




def fuse_conv_pool(ctx: PlanContext) -> None:
    """Conv (+ activation) + Pooling in the same precision: seen in INT8 engines only."""
    spec = ctx.book.fusion("conv+pool")
    if ctx.target.precision not in spec.precisions:
        return
    for node in ctx.graph.nodes_of("MaxPool", "AveragePool"):
        if ctx.group(node) is None:
            continue
        producer = ctx.live_producer(node.inputs[0])
        group = ctx.group(producer) if producer is not None else None
        if group is None or group.kind != "convolution" or group.tail is not producer:
            continue
        why = ctx.why_not_sole(node.inputs[0], node)
        if why is not None:
            ctx.near_miss([group.tail, node], Blocked("conv+pool", "sole_reader", why))
            continue
        ctx.merge(group, ctx.owner[node], "conv+pool")


def note_depthwise_separable(ctx: PlanContext) -> None:
    """Depthwise conv + 1x1 conv may become a DepSepConvolution in INT8 on SM >= 7.2.

    It is reported, not predicted: the real INT8 MobileNet-v2 engine on a TITAN RTX (SM 7.5) kept
    them apart (../shared/data/trt-artifacts/trex/tests/inputs/mobilenet.qat.onnx.engine.graph.json,
    'CudaDepthwiseConvolution'), so "may sometimes be fused" is the honest prediction.
    """
    spec = ctx.book.fusion("depsep-conv")
    if ctx.target.precision != "int8":
        return
    graph = ctx.graph
    for node in graph.nodes_of("Conv"):
        if not _is_depthwise(graph, node) or ctx.group(node) is None:
            continue
        group = ctx.owner[node]
        reader = ctx.sole_reader(group.tail.outputs[0])
        if reader is None or reader.op != "Conv" or not _is_pointwise_conv(graph, reader):
            continue
        if ctx.target.sm is not None and spec.min_sm is not None and ctx.target.sm < spec.min_sm:
            ctx.near_miss([node, reader], Blocked("depsep-conv", "sm", f"SM {ctx.target.sm} is below {spec.min_sm}"))


def _is_depthwise(graph: Graph, conv: Node) -> bool:
    groups = conv.attr("group", 1)
    shape = graph.shape(conv.inputs[0])
    return groups > 1 and shape is not None and len(shape) > 1 and shape[1] == groups


def _is_pointwise_conv(graph: Graph, conv: Node) -> bool:
    w = graph.shape(conv.inputs[1]) if len(conv.inputs) > 1 else None
    return w is not None and all(d == 1 for d in w[2:]) and conv.attr("group", 1) == 1
