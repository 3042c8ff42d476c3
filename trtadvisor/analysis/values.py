"""Dimensions and small constant values derived from a graph's shapes, constants and shape arithmetic.

Shape inference leaves gaps where exporters compute shapes at run time (TorchScript writes head
counts as ``unk__4`` behind a Reshape whose target is a constant, and batch sizes behind an Expand
whose shape comes from ``Where(Equal(...))`` on constants). :class:`GraphValues` fills those gaps by
following Reshape targets, Transpose perms and broadcasting, and evaluates small subgraphs of
constants (and graph inputs set to "all ones": every position attends) with numpy.

Shape arithmetic is evaluated symbolically: a dimension that depends on a symbolic input dimension
is a :class:`Sym` expression of it (``batch``, ``(past_sequence + sequence)``), so a Reshape target
built as ``Concat(Gather(Shape(x)), [4], [64])`` still tells 4 heads of 64, and padding computed from
a traced shape (Swin's window partition) folds to numbers when the input is static. ``dims`` answers
with the numbers (``None`` for an axis that stays symbolic: it is never guessed); ``sym_dims`` and
``sym_value`` keep the expressions.

Everything is memoised per tensor and bounded (depth, elements, evaluated nodes), so asking about a
few hundred attention sites stays linear in the graph.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.ir.graph import Graph, decode_tensor

Dims = tuple[int | None, ...]

# Deep enough to walk a Swin block's data path (pad, roll, window partition, attention, merge) back
# to the previous block whose dimensions are memoised; each level costs two Python frames.
_MAX_DEPTH = 400
_RECURSION_LIMIT = 4 * _MAX_DEPTH + 2000
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


class Sym:
    """A dimension known only as an expression of the graph's symbolic input dims (``batch``,
    ``past_sequence + sequence``): shape arithmetic on it stays exact, so a Reshape target built
    from ``Shape`` keeps its constant parts (heads, head size) and its symbolic ones."""

    __slots__ = ("factors", "text")

    def __init__(self, text: str, factors: tuple[int, Counter[str]] | None = None) -> None:
        self.text = text
        # a product of a number and atomic symbols (``batch * 2``: 2 and {batch: 1}), kept so that a Reshape's
        # -1 can cancel the symbols it shares with the source (_reshape_dims); None: not such a product
        self.factors = factors

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sym) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __add__(self, other: object) -> SymInt:
        return sym_op("+", self, other)

    def __radd__(self, other: object) -> SymInt:
        return sym_op("+", other, self)

    def __sub__(self, other: object) -> SymInt:
        return sym_op("-", self, other)

    def __rsub__(self, other: object) -> SymInt:
        return sym_op("-", other, self)

    def __mul__(self, other: object) -> SymInt:
        return sym_op("*", self, other)

    def __rmul__(self, other: object) -> SymInt:
        return sym_op("*", other, self)

    def __floordiv__(self, other: object) -> SymInt:
        return sym_op("//", self, other)

    def __rfloordiv__(self, other: object) -> SymInt:
        return sym_op("//", other, self)

    def __mod__(self, other: object) -> SymInt:
        return sym_op("%", self, other)

    def __rmod__(self, other: object) -> SymInt:
        return sym_op("%", other, self)

    def __neg__(self) -> SymInt:
        return sym_op("-", 0, self)


SymInt = int | Sym
SymDims = tuple[SymInt | None, ...]


def sym_op(op: str, a: object, b: object) -> SymInt:
    """``a op b`` on ints and Syms, folding what is known (x + 0, x * 1, x // 1, 0 * x)."""
    if isinstance(a, np.integer):
        a = int(a)
    if isinstance(b, np.integer):
        b = int(b)
    if not isinstance(a, int | Sym) or not isinstance(b, int | Sym) or isinstance(a, bool) or isinstance(b, bool):
        return NotImplemented  # type: ignore[return-value]
    if isinstance(a, int) and isinstance(b, int):
        return _INT_OPS[op](a, b)
    if (op == "+" and b == 0) or (op == "-" and b == 0) or (op in ("*", "//") and b == 1):
        return a
    if (op == "+" and a == 0) or (op == "*" and a == 1):
        return b
    if op == "*" and (a == 0 or b == 0):
        return 0
    if op == "-" and a == b:
        return 0
    if op == "//" and a == b:
        return 1
    if op == "*":
        fa, fb = _sym_factors(a), _sym_factors(b)
        return Sym(f"({a} {op} {b})", (fa[0] * fb[0], fa[1] + fb[1]))
    return Sym(f"({a} {op} {b})")


def _sym_factors(d: SymInt) -> tuple[int, Counter[str]]:
    """``d`` as a number times atomic symbols: an int, a product sym_op made, or one symbol of its own."""
    if type(d) is int:
        return d, Counter()
    if d.factors is not None:  # type: ignore[union-attr]
        return d.factors  # type: ignore[union-attr]
    return 1, Counter({d.text: 1})  # type: ignore[union-attr]


_INT_OPS = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "//": int.__floordiv__, "%": int.__mod__}


def _is_concrete(dims: SymDims | None) -> bool:
    return dims is not None and all(type(d) is int for d in dims)


def _as_numbers(value: np.ndarray | None) -> np.ndarray | None:
    """A value with symbolic elements as plain numbers when it has none; else None."""
    if value is None or value.dtype != object:
        return value
    if all(type(v) is int for v in value.reshape(-1)):
        return value.astype(np.int64)
    return None


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
        self._sym_dims: dict[str, SymDims | None] = {}
        self._values: dict[str, np.ndarray | None] = {}    # may hold Sym elements (object arrays)
        self._numbers: dict[str, np.ndarray | None] = {}
        self._evaluated = 0
        if sys.getrecursionlimit() < _RECURSION_LIMIT:
            sys.setrecursionlimit(_RECURSION_LIMIT)

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
        sym = self.sym_dims(tensor, depth)
        known = None if sym is None else tuple(d if type(d) is int else None for d in sym)
        self._dims[tensor] = known
        return known

    def sym_dims(self, tensor: str, depth: int = 0) -> SymDims | None:
        """Per-axis sizes as numbers or expressions of symbolic input dims (``None`` where unknown)."""
        known = self._sym_dims.get(tensor, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        shape = self.graph.shape(tensor)
        if shape is not None and _INT_ONLY.issuperset(map(type, shape)):
            self._sym_dims[tensor] = shape  # type: ignore[assignment]
            return shape  # type: ignore[return-value]
        declared = None if shape is None else tuple(
            d if isinstance(d, int) else Sym(d) if isinstance(d, str) and d else None for d in shape)
        result = declared
        if depth < _MAX_DEPTH and self.graph.producer(tensor) is not None:
            result = _merge(declared, self._derive_dims(tensor, depth + 1))
        self._sym_dims[tensor] = result
        return result

    def _derive_dims(self, tensor: str, depth: int) -> SymDims | None:
        node = self.graph.producer(tensor)
        if node is None:
            return None
        op = node.op
        ins = node.inputs
        dims = self.sym_dims
        if op == "Constant" or (self.graph.is_constant(tensor)):
            value = self.value(tensor)
            return None if value is None else tuple(int(d) for d in value.shape)
        if op in _SAME_AS_INPUT and ins:
            return dims(ins[0], depth)
        if op in _BROADCAST:
            return broadcast_sym([dims(i, depth) for i in ins if i])
        if op == "Transpose" and ins:
            src = dims(ins[0], depth)
            if src is None:
                return None
            perm = node.attr("perm") or list(range(len(src)))[::-1]
            return tuple(src[p] for p in perm) if len(perm) == len(src) else None
        if op == "Reshape" and len(ins) > 1:
            return _reshape_dims(node.attr("allowzero", 0), dims(ins[0], depth), self.sym_value(ins[1], depth))
        if op in ("Unsqueeze", "Squeeze") and ins:
            return self._squeeze_dims(op, node, dims(ins[0], depth))
        if op == "Expand" and len(ins) > 1:
            target = self.sym_value(ins[1], depth)
            if target is None:
                return None
            return broadcast_sym([dims(ins[0], depth), tuple(_sym_int(v) for v in target.reshape(-1))])
        if op == "MatMul" and len(ins) == 2:
            return _matmul_dims(dims(ins[0], depth), dims(ins[1], depth))
        if op == "Gemm" and len(ins) >= 2:
            a, b = dims(ins[0], depth), dims(ins[1], depth)
            if a is None or b is None or len(a) != 2 or len(b) != 2:
                return None
            return (a[1] if node.attr("transA", 0) else a[0], b[0] if node.attr("transB", 0) else b[1])
        if op == "Gather" and len(ins) == 2:
            return self._gather_dims(node.attr("axis", 0), dims(ins[0], depth), ins[1], depth)
        if op == "Concat":
            return _concat_dims(node.attr("axis", 0), [dims(i, depth) for i in ins if i])
        if op == "Split" and ins:
            return self._split_dims(node, tensor, dims(ins[0], depth))
        if op == "Pad" and len(ins) > 1:
            return self._pad_dims(node, dims(ins[0], depth), depth)
        if op == "Slice" and len(ins) >= 3:
            return self._slice_dims(node, dims(ins[0], depth))
        if op == "Shape" and ins:
            src = dims(ins[0], depth)
            if src is None:
                return None
            start, end = node.attr("start", 0), node.attr("end")
            return (len(src[start:end]),)
        if op == "Size":
            return ()
        if op == "ConstantOfShape" and ins:
            target = self.sym_value(ins[0], depth)
            return None if target is None else tuple(_sym_int(v) for v in target.reshape(-1))
        if op == "Flatten" and ins:
            src = dims(ins[0], depth)
            if src is None:
                return None
            axis = node.attr("axis", 1) % (len(src) + 1) if src else 0
            return (_sym_product(src[:axis]), _sym_product(src[axis:]))
        if op == "Attention" and len(ins) >= 3:
            q, v = dims(ins[0], depth), dims(ins[2], depth)
            if q is None or v is None or node.outputs[0] != tensor:
                return None
            if len(q) == 4 and len(v) == 4:
                return (q[0], q[1], q[2], v[3])
            return None
        return None

    def _squeeze_dims(self, op: str, node, src: SymDims | None) -> SymDims | None:
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
            out: list[SymInt | None] = list(src)
            for a in wanted:
                out.insert(a, 1)
            return tuple(out)
        if axes is None:
            return tuple(d for d in src if d != 1) if None not in src else None
        drop = {a % len(src) for a in axes} if src else set()
        return tuple(d for i, d in enumerate(src) if i not in drop)

    def _gather_dims(self, axis: int, src: SymDims | None, indices: str, depth: int) -> SymDims | None:
        if src is None:
            return None
        idx = self.sym_dims(indices, depth)
        if idx is None:
            return None
        axis %= max(len(src), 1)
        return src[:axis] + idx + src[axis + 1:]

    def _split_dims(self, node, tensor: str, src: SymDims | None) -> SymDims | None:
        if src is None:
            return None
        axis = node.attr("axis", 0) % max(len(src), 1)
        index = node.outputs.index(tensor)
        sizes = node.attr("split")
        if sizes is None and len(node.inputs) > 1 and node.inputs[1]:
            value = self.value(node.inputs[1])
            sizes = None if value is None else [int(v) for v in value.reshape(-1)]
        out = list(src)
        whole = src[axis]
        if sizes is not None and index < len(sizes):
            out[axis] = int(sizes[index])
        elif type(whole) is int and whole % len(node.outputs) == 0:
            out[axis] = whole // len(node.outputs)
        else:
            out[axis] = None
        return tuple(out)

    def _pad_dims(self, node, src: SymDims | None, depth: int) -> SymDims | None:
        """Pad: each axis grows by its begin and end pads (pads computed from shapes included)."""
        pads = self.sym_value(node.inputs[1], depth)
        if src is None or pads is None or (len(node.inputs) > 3 and node.inputs[3]):
            return None  # opset-18 ``axes`` input: not modelled
        flat = [_sym_int(p) for p in pads.reshape(-1)]
        rank = len(src)
        if len(flat) != 2 * rank:
            return None
        return tuple(None if d is None or flat[i] is None or flat[i + rank] is None else
                     (d + flat[i]) + flat[i + rank] for i, d in enumerate(src))  # type: ignore[operator]

    def _slice_dims(self, node, src: SymDims | None) -> SymDims | None:
        if src is None:
            return None
        args = [self.value(i) if i else None for i in node.inputs[1:5]]
        starts, ends = args[0], args[1]
        if starts is None or ends is None:
            return None
        starts, ends = starts.reshape(-1), ends.reshape(-1)
        axes = args[2].reshape(-1) if len(args) > 2 and args[2] is not None else np.arange(len(starts))
        steps = args[3].reshape(-1) if len(args) > 3 and args[3] is not None else np.ones(len(starts), np.int64)
        out = list(src)
        for s, e, ax, st in zip(starts, ends, axes, steps, strict=False):
            axis = int(ax) % max(len(src), 1)
            d = src[axis]
            s, e, st = int(s), int(e), int(st)
            if type(d) is int:
                out[axis] = len(range(*slice(max(min(s, 2**62), -(2**62)), max(min(e, 2**62), -(2**62)),
                                             st).indices(d)))
            elif d is not None and st == 1 and s >= 0 and e >= 2**31 - 1:
                out[axis] = d - s          # x[s:] of a symbolic axis
            elif d is not None and st == 1 and s == 0 and e < 0:
                out[axis] = d + e          # x[:-k]
            elif st == 1 and 0 <= s <= e < 2**31 - 1:
                out[axis] = None           # x[s:e]: e - s unless the axis is shorter; not guessed
            else:
                out[axis] = None
        return tuple(out)

    # -- values -----------------------------------------------------------------------------------

    def value(self, tensor: str, depth: int = 0) -> np.ndarray | None:
        """The value of ``tensor`` when it follows from constants and graph inputs set to ones."""
        known = self._numbers.get(tensor, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        result = _as_numbers(self.sym_value(tensor, depth))
        self._numbers[tensor] = result
        return result

    def sym_value(self, tensor: str, depth: int = 0) -> np.ndarray | None:
        """Like :meth:`value`, with :class:`Sym` elements where a shape is symbolic (object arrays)."""
        if tensor in self._values:
            return self._values[tensor]
        result = self._compute_value(tensor, depth)
        if result is not None and not isinstance(result, np.ndarray):  # numpy hands one element back bare
            result = np.array(result, dtype=object if isinstance(result, Sym) else None)
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
            dims = self.sym_dims(node.inputs[0], depth) if node.inputs else None
            if dims is None or None in dims:
                return None
            if node.op == "Size":
                size = _sym_product(dims)
                return np.array(size, dtype=np.int64 if type(size) is int else object)
            start, end = node.attr("start", 0), node.attr("end")
            picked = dims[start:end]
            return np.array(picked, dtype=np.int64 if _is_concrete(picked) else object)
        declared = self.dims(tensor) if node.op in _VALUE_SIZED else None
        if declared is not None and all(type(d) is int for d in declared) and (_product(declared) or 0) > _MAX_ELEMENTS:
            return None  # known to be too large before computing it
        args: list[np.ndarray | None] = []
        for name in node.inputs:
            args.append(self.sym_value(name, depth + 1) if name else None)
        if result_too_large(node.op, args):
            return None  # a ConstantOfShape([1,1,65536,65536]) would allocate 16 GB
        try:
            with np.errstate(all="ignore"):
                out = _evaluate(node, args, tensor)
        except Exception:  # a malformed node or an op we model only partly: the value is unknown
            return None
        return out

    def _decode_initializer(self, init: TensorProto) -> np.ndarray | None:
        value = decode_tensor(init, _MAX_INLINE_DECODE)
        if value is None and self.graph.external_data is not None:
            # The dynamo exporter writes masks and gather indices as external data: read the small ones.
            value = self.graph.external_data.decode(init)
        return value

    def _all_ones_input(self, tensor: str) -> np.ndarray | None:
        dims = self.dims(tensor)
        # each dimension bounded too: a zero elsewhere makes the product 0, but numpy still refuses
        # [0, 2**62, 2**62] (found by the hostile-input campaign, seed 70111)
        if dims is None or None in dims or any(not 0 <= int(d) <= _MAX_ELEMENTS for d in dims) \
                or (_product(dims) or 0) > _MAX_ELEMENTS:
            return None
        dtype = _np_dtype(self.graph.dtype(tensor)) or np.dtype(np.float32)
        return np.ones(tuple(int(d) for d in dims), dtype=dtype)  # type: ignore[arg-type]


# Ops whose output size follows from input values (not only input sizes): bounded before evaluation.
_VALUE_SIZED = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Reshape"})


def result_too_large(op: str, args: list[np.ndarray | None]) -> bool:
    """Whether evaluating ``op`` on ``args`` would make more than _MAX_ELEMENTS elements (asked before
    allocating: also by the fix command's constant folding)."""
    present = [a for a in args if a is not None]
    try:
        if op == "ConstantOfShape" and present:
            return _bounded_product(args[0].reshape(-1).tolist()) > _MAX_ELEMENTS  # type: ignore[union-attr]
        if op == "Expand" and len(args) > 1 and args[0] is not None and args[1] is not None:
            shape = np.broadcast_shapes(args[0].shape, tuple(int(v) for v in args[1].reshape(-1)))
            return _bounded_product(list(shape)) > _MAX_ELEMENTS
        if op == "Tile" and len(args) > 1 and args[0] is not None and args[1] is not None:
            return args[0].size * _bounded_product(args[1].reshape(-1).tolist()) > _MAX_ELEMENTS
        if op == "Range" and len(args) >= 3 and all(a is not None for a in args[:3]):
            start, limit, delta = (float(a.reshape(-1)[0]) for a in args[:3])  # type: ignore[union-attr]
            return delta == 0 or not np.isfinite((limit - start) / delta) or (limit - start) / delta > _MAX_ELEMENTS
        if op in _BROADCAST and len(present) >= 2:
            return _bounded_product(list(np.broadcast_shapes(*(a.shape for a in present)))) > _MAX_ELEMENTS
    except TypeError:
        return False  # symbolic sizes: nothing is allocated from them
    except (ValueError, OverflowError, IndexError):
        return True  # shapes that do not broadcast, or values that are no sizes: not evaluated
    return False


def _bounded_product(values: list[int]) -> int:
    total = 1
    for v in values:
        v = int(v)
        if v < 0:
            return _MAX_ELEMENTS + 1
        total *= v
        if total > _MAX_ELEMENTS:
            return total
    return total


def _evaluate(node, args: list[np.ndarray | None], tensor: str) -> np.ndarray | None:
    if any(x is not None and x.dtype == object for x in args):
        return _evaluate_symbolic(node, args)
    return _evaluate_plain(node, args)


def _evaluate_plain(node, args: list[np.ndarray | None]) -> np.ndarray | None:
    op = node.op
    a = args[0] if args else None
    if op == "Mod":
        if a is None or len(args) < 2 or args[1] is None:
            return None
        return np.fmod(a, args[1]) if node.attr("fmod", 0) else np.mod(a, args[1])
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
    if op in _NP_REDUCE:
        return _reduce(node, a, args)
    if op == "CumSum":
        return _cumsum(node, a, args)
    return None


def _cumsum(node, a: np.ndarray | None, args: list[np.ndarray | None]) -> np.ndarray | None:
    """ONNX CumSum (BLOOM's ALiBi positions are the running sum of the attention mask)."""
    if a is None or len(args) < 2 or args[1] is None or a.ndim == 0:
        return None
    axis = int(args[1].reshape(-1)[0]) % a.ndim
    x = np.flip(a, axis) if node.attr("reverse", 0) else a
    out = np.cumsum(x, axis=axis, dtype=a.dtype)
    if node.attr("exclusive", 0):
        out = out - x
    return np.flip(out, axis) if node.attr("reverse", 0) else out


# Reductions over small shape tensors: torchvision's detection transform takes ReduceMax of the image
# size to pick its resize scale, and what follows (Ceil, Pad amounts, the backbone's shapes) hangs on it.
_NP_REDUCE = {
    "ReduceMax": np.max, "ReduceMin": np.min, "ReduceSum": np.sum, "ReduceProd": np.prod, "ReduceMean": np.mean,
}


def _reduce(node, a: np.ndarray, args: list[np.ndarray | None]) -> np.ndarray | None:
    """ONNX Reduce*: axes from the attribute (before opset 18; ReduceSum from 13) or input 1, keepdims
    (default 1), noop_with_empty_axes (default 0: no axes reduces every axis)."""
    axes = node.attr("axes")
    if axes is None and len(args) > 1 and node.inputs[1]:
        if args[1] is None:
            return None  # axes computed at run time and unknown here
        axes = [int(v) for v in args[1].reshape(-1)]
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return a
        axes = list(range(a.ndim))
    keep = bool(node.attr("keepdims", 1))
    return np.asarray(_NP_REDUCE[node.op](a, axis=tuple(int(x) % max(a.ndim, 1) for x in axes), keepdims=keep))


# Ops that move or pick elements without computing on them: they work on Sym elements as they are.
_SYMBOLIC_MOVES = frozenset({"Identity", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "Flatten", "Concat",
                             "Gather", "GatherND", "Slice", "Where", "Tile"})
_ARITH_OPS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "//", "Mod": "%"}


def _evaluate_symbolic(node, args: list[np.ndarray | None]) -> np.ndarray | None:
    """Shape arithmetic with :class:`Sym` elements: integer +, -, *, floor division and modulo on
    dimensions (never negative, so floor and truncation agree), element moves, casts between
    integer types, and comparisons that the symbols decide."""
    op = node.op
    a = args[0] if args else None
    if a is None:
        return None
    if op in _ARITH_OPS:
        if len(args) < 2 or args[1] is None:
            return None
        sign = _ARITH_OPS[op]
        left, right = np.broadcast_arrays(a.astype(object), args[1].astype(object))
        out = [sym_op(sign, x, y) for x, y in zip(left.reshape(-1), right.reshape(-1), strict=True)]
        if any(v is NotImplemented for v in out):
            return None
        return _pack(out, left.shape)
    if op == "Cast":
        dtype = _np_dtype(node.attr("to", 0))
        if dtype is None or not np.issubdtype(dtype, np.integer):
            return None  # a symbolic dimension as a float: what follows is not shape arithmetic
        return a
    if op == "Equal":
        if len(args) < 2 or args[1] is None:
            return None
        left, right = np.broadcast_arrays(a.astype(object), args[1].astype(object))
        decided = [_sym_equal(x, y) for x, y in zip(left.reshape(-1), right.reshape(-1), strict=True)]
        if None in decided:
            return None
        return np.array(decided, dtype=bool).reshape(left.shape)
    if op == "Where":
        if any(x is None for x in args[:3]) or args[0].dtype == object:
            return None
        return np.where(args[0], args[1].astype(object), args[2].astype(object))
    if op in _SYMBOLIC_MOVES:
        if op in ("Reshape", "Tile", "Gather", "GatherND", "Slice") and any(
                x is not None and x.dtype == object for x in args[1:]):
            return None  # a symbolic index or target: which elements move is unknown
        return _evaluate_plain(node, args)  # numpy moves object elements like numbers
    return None


def _sym_equal(a: object, b: object) -> bool | None:
    a = int(a) if isinstance(a, np.integer) else a
    b = int(b) if isinstance(b, np.integer) else b
    if type(a) is int and type(b) is int:
        return a == b
    if isinstance(a, Sym) and isinstance(b, Sym):
        return True if a == b else None
    number = a if type(a) is int else b
    return False if type(number) is int and number < 0 else None  # a dimension is never negative


def _pack(items: list, shape: tuple[int, ...]) -> np.ndarray:
    if all(type(v) is int for v in items):
        return np.array(items, dtype=np.int64).reshape(shape)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape)


def _sym_int(v: object) -> SymInt | None:
    if isinstance(v, Sym):
        return v
    try:
        return int(v)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _sym_product(dims) -> SymInt | None:
    total: SymInt = 1
    for d in dims:
        if d is None:
            return None
        total = sym_op("*", total, d)
    return total


def _factors(dims) -> tuple[int, Counter[str]] | None:
    """A product of dims as (number, atomic symbols with multiplicity); None if one is unknown. A dim that is a
    product itself (SAM's reshape to (3, batch * heads, S, -1)) counts as its factors."""
    number, symbols = 1, Counter()
    for d in dims:
        if d is None:
            return None
        n, syms = _sym_factors(d)
        number *= n
        symbols.update(syms)
    return number, symbols


def _reshape_dims(allowzero: int, src: SymDims | None, target: np.ndarray | None) -> SymDims | None:
    if target is None:
        return None
    out: list[SymInt | None] = []
    for i, t in enumerate(_sym_int(v) for v in target.reshape(-1)):
        if t == 0 and type(t) is int and not allowzero:
            out.append(src[i] if src is not None and i < len(src) else None)
        else:
            out.append(t)
    if out.count(-1) == 1:
        at = out.index(-1)
        out[at] = None
        whole = _factors(src) if src is not None else None
        rest = _factors([d for i, d in enumerate(out) if i != at])
        if whole is not None and rest is not None and rest[0] and whole[0] % rest[0] == 0 and \
                not rest[1] - whole[1]:
            left = whole[1] - rest[1]   # the symbols -1 takes over (products cancel exactly)
            size: SymInt = whole[0] // rest[0]
            for text, times in sorted(left.items()):
                for _ in range(times):
                    size = sym_op("*", Sym(text), size) if not (type(size) is int and size == 1) else Sym(text)
            out[at] = size
    return tuple(None if type(d) is int and d < 0 else d for d in out)


def _slice(a: np.ndarray, args: list[np.ndarray | None]) -> np.ndarray | None:
    if len(args) < 3 or args[1] is None or args[2] is None:
        return None
    starts, ends = args[1].reshape(-1), args[2].reshape(-1)
    axes = args[3].reshape(-1) if len(args) > 3 and args[3] is not None else np.arange(len(starts))
    steps = args[4].reshape(-1) if len(args) > 4 and args[4] is not None else np.ones(len(starts), dtype=np.int64)
    out = a
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=False):
        axis = int(ax) % max(a.ndim, 1)
        picked = range(*slice(int(max(min(s, 2**62), -(2**62))), int(max(min(e, 2**62), -(2**62))),
                              int(st)).indices(a.shape[axis]))
        # positions, not slice(*indices): a reversed slice's stop of -1 would wrap to the end
        out = np.take(out, np.array(picked, dtype=np.int64), axis=axis)
    return out


def _merge(shape: SymDims | None, derived: SymDims | None) -> SymDims | None:
    """Declared numbers win; then derived numbers or expressions; then declared symbols."""
    if shape is None:
        return derived
    if derived is None or len(derived) != len(shape):
        return shape
    out: list[SymInt | None] = []
    for s, d in zip(shape, derived, strict=True):
        if type(s) is int:
            out.append(s)
        elif type(d) is int or d is not None:
            out.append(d)
        else:
            out.append(s)
    return tuple(out)


def _product(dims: Dims | None) -> int | None:
    if dims is None:
        return None
    total = 1
    for d in dims:
        if d is None:
            return None
        total *= d
    return total


def broadcast_sym(parts: list[SymDims | None]) -> SymDims | None:
    """Numpy broadcasting of partly known shapes: a number > 1 wins, then one shared symbol; an
    unknown axis stays unknown unless another is > 1."""
    if not parts or any(p is None for p in parts):
        return None
    rank = max(len(p) for p in parts)  # type: ignore[arg-type]
    out: list[SymInt | None] = []
    for axis in range(rank):
        values = [p[axis - rank + len(p)] if axis - rank + len(p) >= 0 else 1 for p in parts]  # type: ignore[arg-type]
        big = [v for v in values if type(v) is int and v != 1]
        symbols = {v for v in values if isinstance(v, Sym)}
        if big:
            out.append(big[0])
        elif all(type(v) is int and v == 1 for v in values):
            out.append(1)
        elif len(symbols) == 1 and None not in values:
            out.append(next(iter(symbols)))
        else:
            out.append(None)
    return tuple(out)


def broadcast_dims(parts: list[Dims | None]) -> Dims | None:
    """Numpy broadcasting of partly known shapes (numbers only)."""
    out = broadcast_sym(parts)  # type: ignore[arg-type]
    return None if out is None else tuple(d if type(d) is int else None for d in out)


def _concat_dims(axis: int, parts: list[SymDims | None]) -> SymDims | None:
    if not parts or any(p is None for p in parts):
        return None
    rank = len(parts[0])  # type: ignore[arg-type]
    if any(len(p) != rank for p in parts):  # type: ignore[arg-type]
        return None
    axis %= max(rank, 1)
    out = list(parts[0])  # type: ignore[arg-type]
    sizes = [p[axis] for p in parts]  # type: ignore[index]
    total: SymInt | None = 0
    for s in sizes:
        total = None if total is None or s is None else sym_op("+", total, s)
    out[axis] = total
    return tuple(out)


def _matmul_dims(a: SymDims | None, b: SymDims | None) -> SymDims | None:
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    batch = broadcast_sym([a[:-2], b[:-2]])
    return None if batch is None else (*batch, a[-2], b[-1])
