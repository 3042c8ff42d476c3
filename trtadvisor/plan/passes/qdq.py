"""Q/DQ fusions of explicitly quantized (INT8/FP8) models.

TensorRT's Q/DQ optimizer (the "QDQ graph optimizer" passes of a verbose build log) runs in two
places that these passes mirror:

- :func:`fuse_qdq`, before the convolution fusions: weights and their Q/DQ fold into the weighted
  layer (``ConstWeightsQuantizeFusion`` then ``ConstWeightsFusion``: ``w + QuantizeLinear_7 + Conv_9``),
  and activation DQs fold into the Conv/Gemm/MatMul that reads them (``QuantizeDoubleInputNodes``:
  "fusing (input DQ and weight DQ) into Conv").
- :func:`fuse_qdq_epilogues`, after them: an activation Q folds into the layer producing its input
  when that layer can write INT8 and every reader of the value is a Q ("QuantizeDoubleInputNodes:
  fusing conv2/_input_quantizer/QuantizeLinear into conv1/Conv"); the residual DQ folds into a
  Conv + Add only when the fused layer writes INT8 (the residual and the output share one type);
  quantized pooling runs in INT8 and joins the convolution before it (``ConvActPool``); a Q or DQ
  that finds no partner stays a standalone reformat layer (``QuantizeLinear_15``, Origin ``QDQ``).

Sources: rules/qdq.toml (facts and their artifacts); the engines under
``../shared/data/trt-artifacts/trex/examples/pytorch/resnet/A100/{qat,qat-residual,qat-residual-qgap}``.
"""

from __future__ import annotations

from collections.abc import Iterable

from trtadvisor.ir.graph import Graph, Node
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.plan.context import Group, PlanContext

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
# Activations TensorRT's ScaleActivationFusion merges into a BatchNormalization before the scale folds
# into a quantized convolution: their names vanish from the layer name (``QConvScaleFusion``).
_CONV_KINDS = frozenset({"convolution", "deconvolution", "gemm"})


def weighted_ops(book: RuleBook) -> frozenset[str]:
    """Ops whose weight Q/DQ and input DQs fold into their layer: rules/qdq.toml [qdq] weighted_ops."""
    return book.op_set("qdq.toml", "qdq", "weighted_ops")


def _eltwise_ops(ctx: PlanContext) -> frozenset[str]:
    return ctx.book.op_set("qdq.toml", "qdq", "eltwise_ops")


def _window_pools(ctx: PlanContext) -> frozenset[str]:
    return ctx.book.op_set("qdq.toml", "qdq", "window_pool_ops")


def _shuffles(ctx: PlanContext) -> frozenset[str]:
    return ctx.book.op_set("qdq.toml", "qdq", "folded_shuffle_ops")


def has_qdq(graph: Graph) -> bool:
    return bool(graph.nodes_of(*QDQ_OPS))


# -- queries shared with advice/qdq.py ---------------------------------------------------------


def weight_input_index(graph: Graph, node: Node) -> int | None:
    """Which input of a weighted op holds its weights, or None (an activation x activation MatMul)."""
    if node.op in ("Conv", "ConvTranspose", "Gemm"):
        return 1 if len(node.inputs) > 1 else None
    if node.op == "MatMul":
        for i in (1, 0):
            if i < len(node.inputs) and weight_chain(graph, node.inputs[i]) is not None:
                return i
            if i < len(node.inputs) and graph.is_constant(node.inputs[i]):
                return i
    return None


def weight_chain(graph: Graph, tensor: str) -> list[Node] | None:
    """The Q/DQ nodes between a constant weight and its reader: [Q, DQ] (weights quantized by the
    builder) or [DQ] (weights stored pre-quantized, as onnxruntime writes them); None otherwise."""
    dq = graph.producer(tensor)
    if dq is None or dq.op != "DequantizeLinear" or not dq.inputs:
        return None
    source = dq.inputs[0]
    if graph.is_constant(source):
        return [dq]
    q = graph.producer(source)
    if q is not None and q.op == "QuantizeLinear" and q.inputs and graph.is_constant(q.inputs[0]):
        return [q, dq]
    return None


def activation_dq(graph: Graph, tensor: str) -> Node | None:
    """The DequantizeLinear producing ``tensor`` when it dequantizes an activation (not a weight)."""
    node = graph.producer(tensor)
    if node is None or node.op != "DequantizeLinear" or weight_chain(graph, tensor) is not None:
        return None
    return node


def is_quantized_weighted(graph: Graph, node: Node) -> bool:
    index = weight_input_index(graph, node)
    return index is not None and weight_chain(graph, node.inputs[index]) is not None


# -- the early pass ------------------------------------------------------------------------------


def fuse_qdq(ctx: PlanContext) -> None:
    """Fold weight Q/DQ into Conv/Gemm/MatMul and the activation DQs they read."""
    graph = ctx.graph
    if not has_qdq(graph):
        return
    weighted = weighted_ops(ctx.book)
    for node in graph.nodes:
        if node.op not in weighted or ctx.group(node) is None:
            continue
        group = ctx.owner[node]
        index = weight_input_index(graph, node)
        if index is not None:
            chain = weight_chain(graph, node.inputs[index])
            if chain is not None and ctx.sole_reader(node.inputs[index]) is node:
                _absorb(ctx, group, chain)
        for i, name in enumerate(node.inputs):
            if i == index or not name:
                continue
            constant = weight_chain(graph, name)
            if constant is not None and ctx.sole_reader(name) is node:
                _absorb(ctx, group, constant)  # a quantized bias (onnxruntime writes INT32 + DQ)
                continue
            dq = activation_dq(graph, name)
            if dq is not None and ctx.group(dq) is not None and len(ctx.owner[dq].nodes) == 1:
                # TensorRT clones a DQ read by several layers; the first weighted reader takes it here.
                _absorb(ctx, group, [dq])
    _fold_shuffles_before_quantized_gemm(ctx)


def _absorb(ctx: PlanContext, group: Group, nodes: Iterable[Node]) -> None:
    for node in nodes:
        other = ctx.group(node)
        if other is None or other is group:
            continue
        ctx.merge(group, other, "qdq", name=group.name)


def _fold_shuffles_before_quantized_gemm(ctx: PlanContext) -> None:
    """TensorRT 8.x runs Gemm as a 1x1 convolution; a Flatten before its input Q/DQ vanishes too.

    Seen in the A100 QAT engine: ``GlobalAveragePool_246``, ``QuantizeLinear_250`` and the Gemm layer,
    no layer for the Flatten between the pooling and the Q.
    """
    before = ctx.book.platform["gemm_as_conv_before"]
    if ctx.target.trt_at_least(before):
        return
    graph = ctx.graph
    for node in graph.nodes:
        if node.op != "Gemm" or ctx.group(node) is None:
            continue
        dq = activation_dq(graph, node.inputs[0])
        q = graph.producer(dq.inputs[0]) if dq is not None and dq.inputs else None
        if q is None or q.op != "QuantizeLinear":
            continue
        shuffle = ctx.live_producer(q.inputs[0])
        if shuffle is None or shuffle.op not in _shuffles(ctx) or ctx.group(shuffle) is None:
            continue
        if len(ctx.owner[shuffle].nodes) != 1 or graph.is_graph_output(shuffle.outputs[0]):
            continue
        if any(r.op != "QuantizeLinear" for r in ctx.live_readers(shuffle.outputs[0])):
            continue
        ctx.eliminate(shuffle, f"folded into the quantized Gemm, which TensorRT before {before} runs as a 1x1 "
                               "convolution")


# -- the late pass ------------------------------------------------------------------------------


def fuse_qdq_epilogues(ctx: PlanContext) -> None:
    """Output Q into producers, residual DQ into Conv + Add, quantized pooling, standalone Q/DQ layers."""
    graph = ctx.graph
    if not has_qdq(graph):
        return
    for node in graph.nodes:
        if node.op in _pool_ops(ctx) and ctx.group(node) is not None:
            _quantize_pool_input(ctx, node)
    for node in graph.nodes_of(*_eltwise_ops(ctx)):  # only the op types this step is about, in graph order
        if ctx.group(node) is not None:
            _quantize_eltwise_inputs(ctx, node)
    for node in graph.nodes:
        if node.op == "QuantizeLinear" and ctx.group(node) is not None and len(ctx.owner[node].nodes) == 1:
            _fuse_output_quantizer(ctx, node)
    for node in graph.nodes_of("Relu", "Clip"):
        if ctx.group(node) is not None:
            _fuse_requantized_activation(ctx, node)
    for node in graph.nodes:
        group = ctx.group(node)
        if group is not None and len(group.nodes) == 1 and node.op in QDQ_OPS:
            _standalone(ctx, node, group)
    for group in ctx.groups():
        if any(n.op in QDQ_OPS for n in group.nodes) and group.kind in _CONV_KINDS:
            group.name = engine_style_name(graph, group.nodes, group.name, ctx.book)


def _fuse_requantized_activation(ctx: PlanContext, act: Node) -> None:
    """ONNX Runtime's QDQ format: Conv -> Q -> DQ -> Relu -> Q. With a symmetric Q/DQ pair (zero point
    0) the DQ commutes with the ReLU, so TensorRT can move it past the activation and fuse the ReLU and
    the requantization into the INT8 convolution (rules/fusions.toml [fusion."conv+qdq+act"]). No engine
    of this format was found: the layer is inferred, and the other outcomes are listed as alternatives."""
    graph = ctx.graph
    if len(ctx.owner[act].nodes) != 1 or not act.inputs:
        return
    dq = ctx.live_producer(act.inputs[0])
    if dq is None or dq.op != "DequantizeLinear" or ctx.group(dq) is None or len(ctx.owner[dq].nodes) != 1:
        return
    q = ctx.live_producer(dq.inputs[0])
    group = ctx.group(q) if q is not None and q.op == "QuantizeLinear" else None
    if group is None or group.tail is not q:
        return
    # A quantized Add writes INT8 like a convolution, so its requantized ReLU follows the same propagation.
    if group.kind not in _CONV_KINDS and not (group.kind == "pointwise" and _writes_int8(ctx, group, q)):
        return
    if ctx.sole_reader(q.outputs[0]) is not dq or ctx.sole_reader(dq.outputs[0]) is not act:
        return
    if not _same_symmetric_scale(graph, q, dq) or not _starts_at_zero(ctx, act):
        return
    requantize = _quantizers_of(ctx, act.outputs[0])
    if not requantize or any(ctx.group(r) is None or len(ctx.owner[r].nodes) != 1 for r in requantize):
        return
    conv_nodes = [n.name for n in group.nodes]
    kind = group.kind
    fusion = "conv+qdq+act" if kind in _CONV_KINDS else "qdq"
    tail = [dq.name, act.name, *(r.name for r in requantize)]
    for node in (dq, act, *requantize):
        ctx.merge(group, ctx.owner[node], fusion, name=group.name)
    source = "https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/work-quantized-types.html"
    ctx.alternatives[id(group)] = (
        {"kind": kind, "nodes": conv_nodes,
         "when": f"TensorRT does not move the DequantizeLinear past the activation: the {kind} layer writes the "
                 "first Q's INT8 and the rest runs as its own layer", "evidence": [source]},
        {"kind": "pointwise", "nodes": tail,
         "when": "the same build: DQ, the activation and the requantizing Q as one INT8 pointwise layer, or as "
                 "separate DQ / activation / Q layers", "evidence": [source]},
    )


def _same_symmetric_scale(graph: Graph, q: Node, dq: Node) -> bool:
    """A Q/DQ pair that round-trips: same scale, zero point 0 (absent or constant zero)."""
    if len(q.inputs) < 2 or len(dq.inputs) < 2:
        return False
    if q.inputs[1] != dq.inputs[1]:
        a, b = graph.const_value(q.inputs[1]), graph.const_value(dq.inputs[1])
        if a is None or b is None or a.shape != b.shape or not (a == b).all():
            return False
    for node in (q, dq):
        zero = node.input(2)
        if zero:
            value = graph.const_value(zero)
            if value is None or value.any():
                return False
    return True


def _starts_at_zero(ctx: PlanContext, act: Node) -> bool:
    """ReLU, or a Clip whose lower bound is 0 (ReLU6): both commute with a zero-point-0 quantizer."""
    if act.op == "Relu":
        return True
    low = act.input(1)
    if not low:
        return act.attr("min", None) == 0.0
    return ctx.is_build_constant(low) and ctx.graph.scalar(low) == 0.0


def _quantized_eltwise(ctx: PlanContext, node: Node) -> bool:
    """An element-wise op (rules/qdq.toml [qdq] eltwise_ops) whose every activation input is a DQ."""
    graph = ctx.graph
    data = [name for name in node.inputs if name and not ctx.is_build_constant(name)]
    return len(data) >= 2 and all(activation_dq(graph, name) is not None for name in data)


def _quantize_eltwise_inputs(ctx: PlanContext, node: Node) -> None:
    """A pointwise Add reading DQs on both operands runs in INT8 with them (EQ: 'An element-wise addition
    operator is fused with the input DQ operators and the output Q operator'). A DQ already fused into
    another layer is cloned by TensorRT, as for convolutions; only the lone ones join here."""
    group = ctx.owner[node]
    if group.kind != "pointwise" or not _quantized_eltwise(ctx, node):
        return
    for name in node.inputs:
        dq = activation_dq(ctx.graph, name) if name else None
        if dq is not None and ctx.group(dq) is not None and len(ctx.owner[dq].nodes) == 1:
            _absorb(ctx, group, [dq])


def _quantize_pool_input(ctx: PlanContext, pool: Node) -> None:
    dq = activation_dq(ctx.graph, pool.inputs[0])
    if dq is None or ctx.group(dq) is None:
        return
    if len(ctx.owner[dq].nodes) == 1:
        _absorb(ctx, ctx.owner[pool], [dq])


def source_of(ctx: PlanContext, tensor: str) -> str:
    """``tensor``, or the input of the eliminated shuffles that produce it (folded Flatten)."""
    graph = ctx.graph
    node = graph.producer(tensor)
    while node is not None and node in ctx.eliminated and node.op in _shuffles(ctx) and node.inputs:
        tensor = node.inputs[0]
        node = graph.producer(tensor)
    return tensor


def _quantizers_of(ctx: PlanContext, tensor: str) -> list[Node] | None:
    """Every Q reading ``tensor`` (through folded shuffles), or None when anything else reads it."""
    graph = ctx.graph
    if graph.is_graph_output(tensor):
        return None
    found: list[Node] = []
    for reader in graph.consumers(tensor):
        if reader.op == "QuantizeLinear" and reader not in ctx.eliminated:
            found.append(reader)
        elif reader in ctx.eliminated and reader.op in _shuffles(ctx):
            inner = _quantizers_of(ctx, reader.outputs[0])
            if inner is None:
                return None
            found.extend(inner)
        elif reader not in ctx.eliminated:
            return None
    return found


def _fuse_output_quantizer(ctx: PlanContext, q: Node) -> None:
    graph = ctx.graph
    tensor = source_of(ctx, q.inputs[0])
    producer = ctx.live_producer(tensor)
    if producer is None or graph.is_constant(tensor):
        return
    group = ctx.owner[producer]
    quantizers = _quantizers_of(ctx, tensor)
    if not quantizers or group.tail is not producer or any(n.op in QDQ_OPS for n in [producer]):
        return
    if not _writes_int8(ctx, group, producer):
        return
    if producer.op in _window_pools(ctx) and group.kind == "pooling" and len(group.nodes) <= 2:
        group = _pool_into_conv(ctx, group, producer)
    residual = _residual_dq(ctx, group)
    if residual is not None and ctx.group(residual) is not None and len(ctx.owner[residual].nodes) == 1:
        _absorb(ctx, group, [residual])
    _absorb(ctx, group, quantizers)


def _writes_int8(ctx: PlanContext, group: Group, producer: Node) -> bool:
    """Whether the layer ending in ``producer`` can write INT8 (TensorRT's quantized layer kinds)."""
    if group.kind in _CONV_KINDS:
        if not any(is_quantized_weighted(ctx.graph, n) for n in group.nodes if n.op in weighted_ops(ctx.book)):
            return False
        add = _fused_add(group)
        # A Conv + Add writes the type of its residual operand: INT8 only when that operand is a DQ.
        return add is None or _residual_dq(ctx, group) is not None
    if group.kind == "pointwise":
        eltwise = _eltwise_ops(ctx)
        return any(n.op in eltwise and _quantized_eltwise(ctx, n) for n in group.nodes)
    if group.kind == "pooling" and producer.op in _pool_ops(ctx):
        if any(n.op == "DequantizeLinear" for n in group.nodes):
            return True
        return producer.op in _window_pools(ctx) and _conv_before_pool(ctx, producer) is not None
    return False


def _fused_add(group: Group) -> Node | None:
    return next((n for n in group.nodes if n.op in ("Add", "Sum")), None)


def _residual_dq(ctx: PlanContext, group: Group) -> Node | None:
    """The DQ feeding the residual operand of a Conv + Add layer."""
    add = _fused_add(group)
    if add is None:
        return None
    members = set(group.nodes)
    for name in add.inputs:
        producer = ctx.graph.producer(name)
        if producer is not None and producer not in members and producer.op == "DequantizeLinear":
            return producer
        if producer is not None and producer.op == "DequantizeLinear" and producer in members:
            return producer
    return None


def _conv_before_pool(ctx: PlanContext, pool: Node) -> Group | None:
    producer = ctx.live_producer(pool.inputs[0])
    group = ctx.group(producer) if producer is not None else None
    if group is None or group.kind != "convolution" or group.tail is not producer:
        return None
    if ctx.sole_reader(pool.inputs[0]) is not pool or _fused_add(group) is not None:
        return None
    if not any(is_quantized_weighted(ctx.graph, n) for n in group.nodes if n.op in weighted_ops(ctx.book)):
        return None
    return group


def _pool_into_conv(ctx: PlanContext, pool_group: Group, pool: Node) -> Group:
    """TensorRT moves the Q before a max/average pooling and fuses Conv + act + pool (``ConvActPool``)."""
    conv = _conv_before_pool(ctx, pool)
    if conv is None:
        return pool_group
    return ctx.merge(conv, pool_group, "conv+pool")


def _standalone(ctx: PlanContext, node: Node, group: Group) -> None:
    """A Q/DQ that fused with nothing is a reformat layer; a Q whose sole reader is a lone DQ pairs with it."""
    group.kind = "qdq"
    if node.op != "QuantizeLinear":
        return
    for twin in duplicate_quantizers(ctx, node):
        ctx.merge(group, ctx.owner[twin], "qdq", name=group.name)
    if len(group.nodes) > 1:
        return
    reader = ctx.sole_reader(node.outputs[0])
    if reader is not None and reader.op == "DequantizeLinear" and ctx.group(reader) is not None \
            and len(ctx.owner[reader].nodes) == 1:
        ctx.merge(group, ctx.owner[reader], "qdq")
        group.kind = "qdq"


def quantized_type(graph: Graph, node: Node) -> str:
    """The low-precision type a Q writes or a DQ reads, from its zero point (INT8 when absent)."""
    zero = node.input(2)
    dtype = graph.dtype(zero) if zero else 0
    if not zero and node.op == "DequantizeLinear" and node.inputs:
        dtype = graph.dtype(node.inputs[0])
    return _TYPE_NAMES.get(dtype, "int8")


_TYPE_NAMES = {2: "uint8", 3: "int8", 17: "fp8", 18: "fp8", 19: "fp8", 20: "fp8", 21: "uint4", 22: "int4",
               23: "fp4"}


def layer_precision(graph: Graph, nodes: Iterable[Node], eliminated: frozenset[str] = frozenset()) -> str:
    """``in->out`` types of a predicted layer: the quantized type where a fused DQ reads or a Q writes.

    ``eliminated``: names of nodes TensorRT removes; a value read only through them does not escape.
    """
    nodes = list(nodes)
    members = set(nodes)
    ins = "float"
    for node in nodes:
        if node.op == "DequantizeLinear" and weight_chain(graph, node.outputs[0]) is None:
            producer = graph.producer(node.inputs[0])
            if producer not in members:
                ins = quantized_type(graph, node)
    if ins == "float":
        ins = _cloned_input_type(graph, nodes, members) or ins
    outs = "float"
    for node in nodes:
        for out in node.outputs:
            if not out:
                continue
            if _escapes(graph, out, members, eliminated):
                outs = quantized_type(graph, node) if node.op == "QuantizeLinear" else "float"
    return f"{ins}->{outs}"


def _cloned_input_type(graph: Graph, nodes: list[Node], members: set[Node]) -> str | None:
    """The type of an activation DQ outside the layer that its quantized weighted op reads.

    onnxruntime writes one DQ per tensor; read by two quantized convolutions (a ResNet block's conv1 and
    downsample) it joins the first one's layer, and TensorRT feeds both the INT8 tensor (the A100 QAT engine:
    'layer2.0.conv1 ... Conv_72' and 'layer2.0.downsample ... Conv_95' both read the Int8
    'onnx::DequantizeLinear_198')."""
    for node in nodes:
        index = weight_input_index(graph, node)
        chain = weight_chain(graph, node.inputs[index]) if index is not None else None
        if chain is None or not members.issuperset(chain):
            continue
        for i, name in enumerate(node.inputs[:2]):
            dq = activation_dq(graph, name) if i != index and name else None
            if dq is not None and dq not in members:
                return quantized_type(graph, dq)
    return None


def _escapes(graph: Graph, tensor: str, members: set[Node], eliminated: frozenset[str], depth: int = 0) -> bool:
    if graph.is_graph_output(tensor):
        return True
    for reader in graph.consumers(tensor):
        if reader in members:
            continue
        if reader.name in eliminated and depth < 4:
            if any(_escapes(graph, o, members, eliminated, depth + 1) for o in reader.outputs if o):
                return True
            continue
        return True
    return False


def duplicate_quantizers(ctx: PlanContext, q: Node) -> list[Node]:
    """Other lone Qs of the same tensor with the same scale and zero point: TensorRT keeps one
    ("Eliminating .../conv1/_input_quantizer/QuantizeLinear which duplicates (Q) .../downsample...")."""
    graph = ctx.graph
    mine = _quantizer_key(graph, q)
    if mine is None:
        return []
    twins = []
    for other in graph.consumers(q.inputs[0]):
        if other is q or other.op != "QuantizeLinear" or ctx.group(other) is None:
            continue
        if len(ctx.owner[other].nodes) == 1 and _quantizer_key(graph, other) == mine:
            twins.append(other)
    return twins


def _quantizer_key(graph: Graph, q: Node) -> tuple[object, ...] | None:
    values = []
    for name in q.inputs[1:3]:
        value = graph.const_value(name) if name else None
        if name and value is None:
            return None
        values.append(None if value is None else (value.dtype.str, tuple(value.reshape(-1).tolist())))
    return (q.attr("axis", 1), *values)


def _pool_ops(ctx: PlanContext) -> list[str]:
    return ctx.book.tables["qdq.toml"]["qdq"]["pool_ops"]  # type: ignore[no-any-return]


def engine_style_name(graph: Graph, nodes: list[Node], fallback: str, book: RuleBook) -> str:
    """The name TensorRT 8.x gives a quantized Conv/Gemm layer.

    ``weight + QuantizeLinear_w + Conv`` (ConstWeightsFusion), then the epilogue: fused DQs, the
    output Q, a BatchNormalization and the ReLU merged into it leave no trace (QuantizeDoubleInputNodes,
    QConvScaleFusion after ScaleActivationFusion); other activations join as ``PWN(Clip)``
    (GenericConvActFusion); a residual Add and its ReLU (EltReluFusion) and a pooling keep their names.
    Evidence: the A100 QAT engines and the TITAN RTX MobileNet-v2 QAT engine (rules/qdq.toml).
    """
    anchor = next((n for n in nodes if n.op in weighted_ops(book)), None)
    if anchor is None:
        return fallback
    table = book.tables["qdq.toml"]["qdq"]
    scale_activations, pool_ops = table["scale_activation_ops"], table["pool_ops"]
    parts: list[str] = []
    index = weight_input_index(graph, anchor)
    chain = weight_chain(graph, anchor.inputs[index]) if index is not None else None
    if chain is not None:
        parts.append(chain[0].inputs[0])
        parts.append(chain[0].name)
    parts.append(anchor.name)
    members = [n for n in nodes if n.index > anchor.index and n.op not in QDQ_OPS]
    after_scale = False
    after_add = False
    for node in members:
        if node.op == "BatchNormalization":
            after_scale = True
            continue
        if node.op in ("Add", "Sum"):
            after_add = True
            parts.append(node.name)
        elif node.op in scale_activations and after_scale and not after_add:
            continue
        elif node.op in scale_activations or node.op in pool_ops:
            parts.append(node.name)
        else:
            parts.append(f"PWN({node.name})")
    return " + ".join(parts)
