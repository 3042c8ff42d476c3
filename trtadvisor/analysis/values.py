"""Dimensions and small constant values derived from a graph's shapes, constants and shape arithmetic.

Shape inference leaves gaps where exporters compute shapes at run time (TorchScript writes head
counts as ``unk__4`` behind a Reshape whose target is a constant, and batch sizes behind an Expand
whose shape comes from ``Where(Equal(...))`` on constants). :class:`GraphValues` fills those gaps by
following Reshape targets, Transpose perms and broadcasting, and evaluates small subgraphs of
constants (and graph inputs set to "all ones": every position attends) with numpy.

Everything is memoised per tensor and bounded (depth, elements, evaluated nodes), so asking about a
few hundred attention sites stays linear in the graph. A dimension that depends on a symbolic input
dimension stays ``None``: it is never guessed.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.ir.graph import Graph, decode_tensor

Dims = tuple[int | None, ...]

_MAX_DEPTH = 48
_MAX_ELEMENTS = 1 << 22          # a 2048 x 2048 mask is fine; anything larger is not evaluated
_MAX_EVALUATED_NODES = 20_000    # per graph: keeps a 100k-node graph linear even with many masks
_MAX_INLINE_DECODE = 1 << 22     # inline initializers (bool/int masks) decoded on demand

_MISSING = object()
_INT_ONLY = frozenset({int})     # a shape whose every axis is a plain int (bool would not count)

_SAME_AS_INPUT = frozenset({
    "Cast", "CastLike", "Identity", "Dropout", "Softmax", "LogSoftmax", "IsNaN", "IsInf", "Not", "Neg", "Abs",
    "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Tanh", "Sigmoid", "Relu", "Gelu", "Floor", "Ceil", "Sign",
    "QuantizeLinear", "DequantizeLinear", "LayerNormalization", "RMSNormalization", "Clip", "Trilu",
    "HardSwish", "HardSigmoid", "LeakyRelu", "Sin", "Cos",
})
_BROADCAST = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Where", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "And", "Or", "Xor", "Sum",
})

_NP_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Max": np.maximum,
    "Min": np.minimum, "Equal": np.equal, "Less": np.less, "LessOrEqual": np.less_equal,
    "Greater": np.greater, "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or,
    "Xor": np.logical_xor,
}
_NP_UNARY = {
    "Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log, "Floor": np.floor,
    "Ceil": np.ceil, "Sign": np.sign, "Not": np.logical_not, "IsNaN": np.isnan, "IsInf": np.isinf,
    "Reciprocal": lambda a: 1.0 / a, "Identity": lambda a: a, "Dropout": lambda a: a,
}


def _np_dtype(onnx_type: int) -> np.dtype | None:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(onnx_type))
    except Exception:  # bfloat16, float8 and other types numpy does not have
        return None


class GraphValues:
    """Memoised dimensions and values of one graph's tensors; see the module docstring."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._dims: dict[str, Dims | None] = {}
        self._values: dict[str, np.ndarray | None] = {}
        self._evaluated = 0

    # -- dimensions -------------------------------------------------------------------------------

    def dims(self, tensor: str, depth: int = 0) -> Dims | None:
        """Per-axis sizes (``None`` where unknown), or ``None`` when even the rank is unknown."""
        known = self._dims.get(tensor, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        shape = self.graph.shape(tensor)
        if shape is not None and _INT_ONLY.issuperset(map(type, shape)):
            self._dims[tensor] = shape  # type: ignore[assignment]  # every axis known: nothing to derive
            return shape  # type: ignore[return-value]
        known = None if shape is None else tuple(d if isinstance(d, int) else None for d in shape)
        if (known is None or None in known) and depth < _MAX_DEPTH:
            derived = self._derive_dims(tensor, depth + 1)
            known = _merge(known, derived)
        self._dims[tensor] = known
        return known

    def _derive_dims(self, tensor: str, depth: int) -> Dims | None:
        node = self.graph.producer(tensor)
        if node is None:
            return None
        op = node.op
        ins = node.inputs
        if op == "Constant" or (self.graph.is_constant(tensor)):
            value = self.value(tensor)
            return None if value is None else tuple(int(d) for d in value.shape)
        if op in _SAME_AS_INPUT and ins:
            return self.dims(ins[0], depth)
        if op in _BROADCAST:
            return broadcast_dims([self.dims(i, depth) for i in ins if i])
        if op == "Transpose" and ins:
            src = self.dims(ins[0], depth)
            if src is None:
                return None
            perm = node.attr("perm") or list(range(len(src)))[::-1]
            return tuple(src[p] for p in perm) if len(perm) == len(src) else None
        if op == "Reshape" and len(ins) > 1:
            return self._reshape_dims(node.attr("allowzero", 0), self.dims(ins[0], depth), self.value(ins[1]))
        if op in ("Unsqueeze", "Squeeze") and ins:
            return self._squeeze_dims(op, node, self.dims(ins[0], depth))
        if op == "Expand" and len(ins) > 1:
            target = self.value(ins[1])
            if target is None:
                return None
            return broadcast_dims([self.dims(ins[0], depth), tuple(int(v) for v in target.reshape(-1))])
        if op == "MatMul" and len(ins) == 2:
            return _matmul_dims(self.dims(ins[0], depth), self.dims(ins[1], depth))
        if op == "Gather" and len(ins) == 2:
            return self._gather_dims(node.attr("axis", 0), self.dims(ins[0], depth), ins[1])
        if op == "Concat":
            return self._concat_dims(node.attr("axis", 0), [self.dims(i, depth) for i in ins if i])
        if op == "Split" and ins:
            return self._split_dims(node, tensor, self.dims(ins[0], depth))
        if op == "Attention" and len(ins) >= 3:
            q, v = self.dims(ins[0], depth), self.dims(ins[2], depth)
            if q is None or v is None or node.outputs[0] != tensor:
                return None
            if len(q) == 4 and len(v) == 4:
                return (q[0], q[1], q[2], v[3])
            return None
        return None

    @staticmethod
    def _reshape_dims(allowzero: int, src: Dims | None, target: np.ndarray | None) -> Dims | None:
        if target is None:
            return None
        out: list[int | None] = []
        for i, t in enumerate(int(v) for v in target.reshape(-1)):
            if t == 0 and not allowzero:
                out.append(src[i] if src is not None and i < len(src) else None)
            else:
                out.append(t)
        if out.count(-1) == 1:
            total = _product(src)
            rest = _product(tuple(d for d in out if d != -1))
            out[out.index(-1)] = total // rest if total is not None and rest else None
        return tuple(None if d is not None and d < 0 else d for d in out)

    def _squeeze_dims(self, op: str, node, src: Dims | None) -> Dims | None:
        if src is None:
            return None
        axes = node.attr("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1]:
            value = self.value(node.inputs[1])
            axes = None if value is None else [int(a) for a in value.reshape(-1)]
        if op == "Unsqueeze":
            if axes is None:
                return None
            rank = len(src) + len(axes)
            wanted = sorted(a % rank for a in axes)
            out: list[int | None] = list(src)
            for a in wanted:
                out.insert(a, 1)
            return tuple(out)
        if axes is None:
            return tuple(d for d in src if d != 1) if None not in src else None
        drop = {a % len(src) for a in axes} if src else set()
        return tuple(d for i, d in enumerate(src) if i not in drop)

    def _gather_dims(self, axis: int, src: Dims | None, indices: str) -> Dims | None:
        if src is None:
            return None
        idx = self.dims(indices)
        if idx is None:
            return None
        axis %= max(len(src), 1)
        return src[:axis] + idx + src[axis + 1:]

    @staticmethod
    def _concat_dims(axis: int, parts: list[Dims | None]) -> Dims | None:
        if not parts or any(p is None for p in parts):
            return None
        rank = len(parts[0])  # type: ignore[arg-type]
        if any(len(p) != rank for p in parts):  # type: ignore[arg-type]
            return None
        axis %= max(rank, 1)
        out = list(parts[0])  # type: ignore[arg-type]
        sizes = [p[axis] for p in parts]  # type: ignore[index]
        out[axis] = sum(sizes) if None not in sizes else None  # type: ignore[arg-type]
        return tuple(out)

    def _split_dims(self, node, tensor: str, src: Dims | None) -> Dims | None:
        if src is None:
            return None
        axis = node.attr("axis", 0) % max(len(src), 1)
        index = node.outputs.index(tensor)
        sizes = node.attr("split")
        if sizes is None and len(node.inputs) > 1 and node.inputs[1]:
            value = self.value(node.inputs[1])
            sizes = None if value is None else [int(v) for v in value.reshape(-1)]
        out = list(src)
        if sizes is not None and index < len(sizes):
            out[axis] = int(sizes[index])
        elif src[axis] is not None and src[axis] % len(node.outputs) == 0:
            out[axis] = src[axis] // len(node.outputs)
        else:
            out[axis] = None
        return tuple(out)

    # -- values -----------------------------------------------------------------------------------

    def value(self, tensor: str, depth: int = 0) -> np.ndarray | None:
        """The value of ``tensor`` when it follows from constants and graph inputs set to ones."""
        if tensor in self._values:
            return self._values[tensor]
        result = self._compute_value(tensor, depth)
        if result is not None and result.size > _MAX_ELEMENTS:
            result = None
        self._values[tensor] = result
        return result

    def is_known(self, tensor: str) -> bool:
        return self.value(tensor) is not None

    def _compute_value(self, tensor: str, depth: int) -> np.ndarray | None:
        graph = self.graph
        node = graph.producer(tensor)
        if node is None:
            init = graph.initializers.get(tensor)
            if init is not None:
                return self._decode_initializer(init)
            if graph.is_graph_input(tensor):
                return self._all_ones_input(tensor)
            return None
        if node.op == "Constant":
            value = graph.const_value(tensor)
            if value is None:
                attr = node.attr("value")
                if isinstance(attr, TensorProto):
                    value = self._decode_initializer(attr)
            return value
        if depth >= _MAX_DEPTH or self._evaluated >= _MAX_EVALUATED_NODES or node.subgraphs:
            return None
        self._evaluated += 1
        if node.op in ("Shape", "Size"):
            dims = self.dims(node.inputs[0]) if node.inputs else None
            if dims is None or None in dims:
                return None
            if node.op == "Size":
                return np.array(_product(dims), dtype=np.int64)
            start, end = node.attr("start", 0), node.attr("end")
            return np.array(dims[start:end], dtype=np.int64)
        args: list[np.ndarray | None] = []
        for name in node.inputs:
            args.append(self.value(name, depth + 1) if name else None)
        try:
            with np.errstate(all="ignore"):
                out = _evaluate(node, args, tensor)
        except Exception:  # a malformed node or an op we model only partly: the value is unknown
            return None
        return out

    def _decode_initializer(self, init: TensorProto) -> np.ndarray | None:
        return decode_tensor(init, _MAX_INLINE_DECODE)

    def _all_ones_input(self, tensor: str) -> np.ndarray | None:
        dims = self.dims(tensor)
        if dims is None or None in dims or (_product(dims) or 0) > _MAX_ELEMENTS:
            return None
        dtype = _np_dtype(self.graph.dtype(tensor)) or np.dtype(np.float32)
        return np.ones(tuple(int(d) for d in dims), dtype=dtype)  # type: ignore[arg-type]


def _evaluate(node, args: list[np.ndarray | None], tensor: str) -> np.ndarray | None:
    op = node.op
    a = args[0] if args else None
    if op in _NP_UNARY:
        return None if a is None else _NP_UNARY[op](a)
    if op in _NP_BINARY:
        if a is None or len(args) < 2 or args[1] is None:
            return None
        return _NP_BINARY[op](a, args[1])
    if op == "Div":
        if a is None or args[1] is None:
            return None
        if np.issubdtype(a.dtype, np.integer) and np.issubdtype(args[1].dtype, np.integer):
            return np.floor_divide(a, args[1])
        return np.divide(a, args[1])
    if op == "Where":
        if any(x is None for x in args[:3]):
            return None
        return np.where(args[0], args[1], args[2])
    if op == "Cast":
        dtype = _np_dtype(node.attr("to", 0))
        return None if a is None or dtype is None else a.astype(dtype)
    if op == "ConstantOfShape":
        if a is None:
            return None
        fill = node.attr("value")
        fill_value = numpy_helper.to_array(fill).reshape(-1)[0] if isinstance(fill, TensorProto) else np.float32(0)
        return np.full(tuple(int(d) for d in a.reshape(-1)), fill_value)
    if a is None:
        return None
    if op == "Reshape":
        target = [int(v) for v in args[1].reshape(-1)] if args[1] is not None else None
        if target is None:
            return None
        if not node.attr("allowzero", 0):
            target = [a.shape[i] if t == 0 else t for i, t in enumerate(target)]
        return a.reshape(target)
    if op == "Unsqueeze":
        axes = node.attr("axes")
        if axes is None:
            axes = [int(v) for v in args[1].reshape(-1)] if len(args) > 1 and args[1] is not None else None
        if axes is None:
            return None
        rank = a.ndim + len(axes)
        out = a
        for ax in sorted(x % rank for x in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = node.attr("axes")
        if axes is None and len(args) > 1 and args[1] is not None:
            axes = [int(v) for v in args[1].reshape(-1)]
        return np.squeeze(a) if axes is None else np.squeeze(a, axis=tuple(int(x) for x in axes))
    if op == "Expand":
        if args[1] is None:
            return None
        shape = np.broadcast_shapes(a.shape, tuple(int(v) for v in args[1].reshape(-1)))
        return np.broadcast_to(a, shape)
    if op == "Transpose":
        return np.transpose(a, node.attr("perm"))
    if op == "Flatten":
        axis = node.attr("axis", 1)
        axis = axis + a.ndim if axis < 0 else axis
        lead = int(np.prod(a.shape[:axis])) if axis else 1
        return a.reshape(lead, -1)
    if op == "Concat":
        if any(x is None for x in args):
            return None
        return np.concatenate([np.atleast_1d(x) for x in args], axis=node.attr("axis", 0))  # type: ignore[misc]
    if op == "Gather":
        if args[1] is None:
            return None
        return np.take(a, args[1].astype(np.int64), axis=node.attr("axis", 0))
    if op == "GatherND":
        if args[1] is None or node.attr("batch_dims", 0):
            return None
        idx = args[1].astype(np.int64)
        return a[tuple(np.moveaxis(idx, -1, 0))]
    if op == "Range":
        if any(x is None for x in args[:3]):
            return None
        return np.arange(args[0].item(), args[1].item(), args[2].item(), dtype=a.dtype)
    if op == "Trilu":
        k = int(args[1].item()) if len(args) > 1 and args[1] is not None else 0
        return np.triu(a, k) if node.attr("upper", 1) else np.tril(a, k)
    if op == "Slice":
        return _slice(a, args)
    if op == "Tile":
        return None if args[1] is None else np.tile(a, tuple(int(v) for v in args[1].reshape(-1)))
    if op == "Split":
        return None
    return None


def _slice(a: np.ndarray, args: list[np.ndarray | None]) -> np.ndarray | None:
    if len(args) < 3 or args[1] is None or args[2] is None:
        return None
    starts, ends = args[1].reshape(-1), args[2].reshape(-1)
    axes = args[3].reshape(-1) if len(args) > 3 and args[3] is not None else np.arange(len(starts))
    steps = args[4].reshape(-1) if len(args) > 4 and args[4] is not None else np.ones(len(starts), dtype=np.int64)
    index: list[slice] = [slice(None)] * a.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=False):
        dim = a.shape[int(ax)]
        index[int(ax)] = slice(*slice(int(max(min(s, 2**62), -(2**62))), int(max(min(e, 2**62), -(2**62))),
                                      int(st)).indices(dim))
    return a[tuple(index)]


def _merge(shape: Dims | None, derived: Dims | None) -> Dims | None:
    if shape is None:
        return derived
    if derived is None or len(derived) != len(shape):
        return shape
    return tuple(s if s is not None else d for s, d in zip(shape, derived, strict=True))


def _product(dims: Dims | None) -> int | None:
    if dims is None:
        return None
    total = 1
    for d in dims:
        if d is None:
            return None
        total *= d
    return total


def broadcast_dims(parts: list[Dims | None]) -> Dims | None:
    """Numpy broadcasting of partly known shapes: an unknown axis stays unknown unless another is > 1."""
    if not parts or any(p is None for p in parts):
        return None
    rank = max(len(p) for p in parts)  # type: ignore[arg-type]
    out: list[int | None] = []
    for axis in range(rank):
        values = [p[axis - rank + len(p)] if axis - rank + len(p) >= 0 else 1 for p in parts]  # type: ignore[arg-type]
        big = [v for v in values if v is not None and v != 1]
        if big:
            out.append(big[0])
        elif all(v == 1 for v in values):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _matmul_dims(a: Dims | None, b: Dims | None) -> Dims | None:
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    batch = broadcast_dims([a[:-2], b[:-2]])
    return None if batch is None else (*batch, a[-2], b[-1])
