"""Scale fusions: identity scales erased, Convolution + Scale (BatchNormalization folding), and
consecutive per-channel Scales left over merged into one Scale layer.

Source: rules/fusions.toml [fusion."scale-noop"], [fusion."conv+scale"] and [fusion."scale+scale"].
"""

from __future__ import annotations

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Blocked, Group, PlanContext

# Element-wise ops with a constant operand that TensorRT turns into a Scale layer, and the
# operand value that makes each one an identity.
_IDENTITY_OPERAND = {"Add": 0.0, "Sub": 0.0, "Mul": 1.0, "Div": 1.0, "Pow": 1.0}
# ONNX semantics: c - x, c / x and c ^ x are no affine function of x (unlike x - c, x / c, x ^ c).
_NOT_COMMUTATIVE = frozenset({"Sub", "Div", "Pow"})


def conv_like_ops(ctx: PlanContext) -> frozenset[str]:
    """Ops that behave as a convolution for epilogue fusions on this TensorRT version (rules/fusions.toml
    [platform] conv_like_ops, and Gemm before gemm_as_conv_before)."""
    ops = ctx.book.op_set("fusions.toml", "platform", "conv_like_ops")
    if not ctx.target.trt_at_least(ctx.book.platform["gemm_as_conv_before"]):
        return ops | {"Gemm"}
    return ops


def erase_identity_scales(ctx: PlanContext) -> None:
    graph = ctx.graph
    constants, owner, scalar = graph.constant_names, ctx.owner, graph.scalar
    # Each node is decided on its own (nothing here depends on another's fate), so the op types are walked
    # one at a time: no merged, sorted list of all five is built for this pass.
    for op, identity in _IDENTITY_OPERAND.items():
        commutative = op in ("Add", "Mul")
        for node in graph.nodes_of(op):
            if len(node.inputs) != 2:
                continue
            data, const = node.inputs
            if const not in constants and (data not in constants or not commutative):
                continue  # no constant operand where one could be: the common case, two set lookups
            if node not in owner:
                continue  # removed already
            value = scalar(const) if const in constants else None
            if value is None and commutative:  # the constant may come first
                data, const = const, data
                value = scalar(const) if const in constants else None
            if value is None or value != identity or data in constants:
                continue
            out = node.outputs[0]
            if graph.is_graph_output(out):
                continue
            # Erasing must not change the data type or shape of the result.
            if graph.shape(data) is not None and graph.shape(data) != graph.shape(out):
                continue
            ctx.forward(node, data, f"{op} by {identity:g} is an identity scale, erased")


def _is_channel_constant(ctx: PlanContext, name: str, conv_out: str) -> bool:
    """A build-time constant that scales uniformly or per output channel of an N x C x ... tensor."""
    graph = ctx.graph
    if not ctx.is_build_constant(name):
        return False
    shape = graph.shape(name)
    out_shape = graph.shape(conv_out)
    if shape is None:
        return False
    size = 1
    for d in shape:
        size *= d if isinstance(d, int) else 0
    if size == 1:
        return True
    if out_shape is None or len(out_shape) < 2:
        return False
    channels = out_shape[1]
    # Right-aligned broadcast: [C,1,1] or [1,C,1,1] against [N,C,H,W].
    padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    if len(padded) != len(out_shape):
        return False
    return padded[1] == channels and all(d == 1 for i, d in enumerate(padded) if i != 1)


_NO_READERS: list[Node] = []  # shared, never modified

# The reader is no scale at all (not a near miss): the chain of folds ends there.
NOT_A_SCALE = Blocked("conv+scale", "per_channel", "not a scale")


def _scale_blocker(ctx: PlanContext, node: Node, conv_out: str, scale_ops: frozenset[str]) -> Blocked | None:
    """Why ``node`` (reading ``conv_out``) is not a Scale that folds into the convolution; None if it is.
    ``scale_ops``: the element-wise ops of [fusion."conv+scale"]."""
    constant = ctx.is_build_constant
    if node.op == "BatchNormalization":
        params = [i for i in node.inputs[1:] if i]
        dynamic = [p for p in params if not constant(p)]
        if dynamic:
            return Blocked("conv+scale", "constant_params",
                           f"BatchNormalization parameter '{dynamic[0]}' is not a constant")
        return None
    if node.op not in scale_ops or len(node.inputs) != 2:
        return NOT_A_SCALE
    first, second = map(ctx.source, node.inputs)  # seen through removed no-ops between the two
    other = node.inputs[1] if first == conv_out else node.inputs[0]
    if first != conv_out and second == conv_out and node.op in _NOT_COMMUTATIVE:
        return NOT_A_SCALE  # c - x or c / x is not an affine scale of x
    if node.op == "Pow":
        if not constant(other):
            return Blocked("conv+scale", "constant_params", f"the power '{other}' is not a constant")
        return None if _is_channel_constant(ctx, other, conv_out) else NOT_A_SCALE
    if not constant(other):
        return NOT_A_SCALE
    return None if _is_channel_constant(ctx, other, conv_out) else NOT_A_SCALE


def fold_scales_into_convs(ctx: PlanContext) -> None:
    graph = ctx.graph
    conv_ops = conv_like_ops(ctx) - {"Gemm"}
    scale_ops = frozenset(ctx.book.fusion("conv+scale").ops)
    group_of = ctx.owner.get
    for node in graph.nodes_of(*conv_ops):
        group = group_of(node)
        if group is None:
            continue
        while True:
            out = group.nodes[-1].outputs[0]
            reader = ctx.sole_reader(out)
            theirs = group_of(reader) if reader is not None else None
            if theirs is None or len(theirs.nodes) > 1:
                _report_blocked_scale(ctx, group, out)
                break
            blocked = _scale_blocker(ctx, reader, out, scale_ops)
            if blocked is NOT_A_SCALE:
                break
            if blocked is not None:
                ctx.near_miss([group.tail, reader], blocked)
                break
            ctx.merge(group, theirs, "conv+scale")
        group.kind = "deconvolution" if node.op == "ConvTranspose" else "convolution"


def _report_blocked_scale(ctx: PlanContext, group: Group, out: str) -> None:
    """A BatchNormalization right after a convolution that cannot fold because others read the conv."""
    for reader in ctx.live_readers(out):
        if reader.op == "BatchNormalization":
            why = ctx.why_not_sole(out, reader)
            if why:
                ctx.near_miss([group.tail, reader], Blocked("conv+scale", "sole_reader", why))


def _channel_scale_data(ctx: PlanContext, node: Node) -> str | None:
    """The data input of ``node`` when it is a per-channel Scale (rules/fusions.toml [fusion."scale+scale"]
    conditions.per_channel): an unfolded BatchNormalization with constant parameters, or a Mul/Add whose
    other operand is a constant of one value per channel. A single-value constant is a uniform scale,
    which pointwise fusion takes instead. None when it is not one."""
    inputs = node.inputs
    if node.op == "BatchNormalization":
        return inputs[0] if all(ctx.is_build_constant(i) for i in inputs[1:] if i) else None
    if len(inputs) != 2:
        return None
    constants, folded = ctx.graph.constant_names, ctx.folded
    first, second = inputs
    first_constant = first in constants or first in folded
    if first_constant == (second in constants or second in folded):
        return None  # two activations (the common case) or two constants: no scale of one tensor
    data, other = (second, first) if first_constant else (first, second)
    shape = ctx.graph.shape(other)
    if shape is None or all(d == 1 for d in shape):
        return None  # unknown, or a uniform scale
    return data if _is_channel_constant(ctx, other, node.outputs[0]) else None


def fuse_channel_scales(ctx: PlanContext) -> None:
    """A per-channel Scale read only by another per-channel Scale joins it (the builder's ScaleScaleFusion):
    a GroupNorm's affine Mul + Add, exported after InstanceNormalization, is one Scale layer."""
    graph = ctx.graph
    ops = ctx.book.fusion("scale+scale").ops
    owner, eliminated, readers_of = ctx.owner, ctx.eliminated, graph.readers
    group_of, is_output = owner.get, graph.is_graph_output
    for node in graph.nodes_of(*ops):
        # The chain loop's first test comes first: the sole live reader is a Scale of its own that scales this
        # output. It needs no shape, and most candidates (a bias Add before a reshape, a residual sum) fail it,
        # so their shapes are neither decoded nor waited for here; the reader's scale is often told by its two
        # activations, with no constant's shape to decode either. Either test failing ends with nothing done.
        if node.outputs:
            out = node.outputs[0]
            readers = readers_of.get(out, _NO_READERS)
            if len(readers) == 1 and readers[0] not in eliminated:
                # _next_scale(ctx, out, ops) with the one live reader in hand (the common case)
                reader = readers[0]
                if reader.op not in ops or is_output(out):
                    continue
                theirs = group_of(reader)
                if theirs is None or len(theirs.nodes) != 1:
                    continue
            elif eliminated.keys().isdisjoint(readers):
                continue  # no reader, or several live ones
            else:
                found = _next_scale(ctx, out, ops)
                if found is None:
                    continue
                reader = found
            group = group_of(node)
            if group is None or len(group.nodes) != 1:
                continue
            if ctx.source(_channel_scale_data(ctx, reader) or "") != out:
                continue
        else:
            group = group_of(node)
            if group is None or len(group.nodes) != 1:
                continue
        if _channel_scale_data(ctx, node) is None:
            continue
        while True:
            out = group.tail.outputs[0]
            reader = _next_scale(ctx, out, ops)
            if reader is None or ctx.source(_channel_scale_data(ctx, reader) or "") != out:
                break
            ctx.merge(group, owner[reader], "scale+scale")
            group.kind = "pointwise"


def _next_scale(ctx: PlanContext, out: str, ops: tuple[str, ...]) -> Node | None:
    """The sole live reader of ``out`` when it is one of the Scale ``ops`` and still a layer of its own."""
    reader = ctx.sole_reader(out)
    if reader is None or reader.op not in ops:
        return None
    group = ctx.owner.get(reader)
    return reader if group is not None and len(group.nodes) == 1 else None
