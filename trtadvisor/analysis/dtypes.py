"""Element types of every tensor, propagated from the model's declarations, and what they mean for a
strongly typed build.

A strongly typed network (TensorRT 11.x always, 9.0-10.x with --stronglyTyped) runs each layer in
the types of its tensors (rules/trt.toml [typing]). The types come from one pass in node order,
without waiting for ONNX shape inference: declared inputs, initializers and Constants, Cast's
``to``, Q/DQ's zero point and scale, the ops whose output type is fixed (Shape, comparisons, ArgMax),
and otherwise the type of the first input (the rule for nearly every ONNX op).
"""

from __future__ import annotations

from collections import Counter

from onnx import TensorProto

from trtadvisor.ir.contrib_shapes import CONTRIB_DOMAIN, contrib_output_dtypes
from trtadvisor.ir.graph import Graph, Node

FLOAT, UINT8, INT8, INT32, INT64, BOOL = (TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8,
                                          TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL)
FLOAT16, BFLOAT16, DOUBLE = TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE

TYPE_NAMES = {FLOAT: "fp32", FLOAT16: "fp16", BFLOAT16: "bf16", DOUBLE: "fp64", INT8: "int8", UINT8: "uint8",
              INT32: "int32", INT64: "int64", BOOL: "bool", 17: "fp8", 18: "fp8", 19: "fp8", 20: "fp8",
              21: "uint4", 22: "int4", 23: "fp4"}
FLOAT_TYPES = frozenset({FLOAT, FLOAT16, BFLOAT16, DOUBLE})
QUANTIZED_TYPES = frozenset({INT8, UINT8, 17, 18, 19, 20, 21, 22, 23})

_INT64_OUT = frozenset({"Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression"})
_BOOL_OUT = frozenset({"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor",
                       "IsNaN", "IsInf"})
_HEAVY = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Attention"})


def _declared(graph: Graph) -> dict[str, int]:
    """Graph inputs as the model declares them (never waits for shape inference)."""
    return {vi.name: vi.type.tensor_type.elem_type for vi in graph.proto.input}


def tensor_dtypes(graph: Graph, outer: dict[str, int] | None = None) -> dict[str, int]:
    """ONNX element type of every tensor written in ``graph`` and its nested bodies (0 = unknown)."""
    types: dict[str, int] = dict(outer) if outer else {}
    types.update(_declared(graph))
    initializers = graph.initializers
    known = types.get
    special = _SPECIAL
    for node in graph.nodes:
        outs = node.outputs
        if node.op in special or node.subgraphs or node.domain == CONTRIB_DOMAIN or not outs:
            _infer(node, types, initializers)
            for sub in node.subgraphs:
                types.update(tensor_dtypes(sub, types))
            continue
        # Nearly every node, inlined (one per node of a 100k-node graph): the type of its first input.
        inputs = node.inputs
        first = inputs[0] if inputs else ""
        dtype = known(first) if first else 0
        if dtype is None:
            dtype = _type_of(first, types, initializers)
        for out in outs:
            types[out] = dtype
    return types


def _type_of(name: str, types: dict[str, int], initializers: object) -> int:
    found = types.get(name)
    if found is not None:
        return found
    init = initializers.get(name)  # type: ignore[attr-defined]
    if init is not None:
        types[name] = init.data_type
        return int(init.data_type)
    return 0


_SPECIAL = frozenset({"Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "Constant", "ConstantOfShape",
                      "Where", "TopK", "RandomNormal", "RandomUniform", "EyeLike", "RandomNormalLike",
                      "RandomUniformLike"}) | _INT64_OUT | _BOOL_OUT


def _infer(node: Node, types: dict[str, int], initializers: object) -> None:
    outs = node.outputs
    if not outs:
        return
    op = node.op
    if node.domain == CONTRIB_DOMAIN:  # ONNX Runtime's ops: their documented output types
        given = [_type_of(i, types, initializers) if i else 0 for i in node.inputs]
        for out, dtype in zip(outs, contrib_output_dtypes(None, op, given, len(outs)), strict=True):
            if out:
                types[out] = dtype
        return
    if op not in _SPECIAL and not node.subgraphs:  # nearly every node: the type of its first input
        inputs = node.inputs
        first = inputs[0] if inputs else ""
        dtype = types.get(first) if first else 0
        if dtype is None:
            dtype = _type_of(first, types, initializers)
        for out in outs:
            types[out] = dtype
        return
    first = _type_of(node.inputs[0], types, initializers) if node.inputs and node.inputs[0] else 0
    if op == "Cast":
        dtype = int(node.attr("to", 0) or 0)
    elif op == "CastLike":
        dtype = _type_of(node.input(1), types, initializers)
    elif op == "QuantizeLinear":
        zero = node.input(2)
        dtype = _type_of(zero, types, initializers) if zero else int(node.attr("output_dtype", 0) or UINT8)
    elif op == "DequantizeLinear":
        dtype = _type_of(node.input(1), types, initializers) or FLOAT
    elif op == "Constant":
        value = node.attr("value")
        dtype = int(getattr(value, "data_type", 0) or 0) or (FLOAT if node.has_attr("value_float") else INT64)
    elif op == "ConstantOfShape":
        value = node.attr("value")
        dtype = int(getattr(value, "data_type", 0) or 0) or FLOAT
    elif op in _INT64_OUT:
        dtype = INT64
    elif op in _BOOL_OUT:
        dtype = BOOL
    elif op == "Where":
        dtype = _type_of(node.input(1), types, initializers)
    elif op in ("RandomNormal", "RandomUniform", "EyeLike", "RandomNormalLike", "RandomUniformLike"):
        dtype = int(node.attr("dtype", 0) or 0) or (first if op.endswith("Like") or op == "EyeLike" else FLOAT)
    elif node.subgraphs:
        dtype = 0  # If/Loop/Scan: their bodies decide; not needed for layer precision
    else:
        dtype = first
    for out in outs:
        if out:
            types[out] = dtype
    if op == "TopK" and len(outs) > 1 and outs[1]:
        types[outs[1]] = INT64


def type_name(dtype: int) -> str | None:
    return TYPE_NAMES.get(dtype)


def model_float_type(graph: Graph, types: dict[str, int]) -> int:
    """The float type the model computes in: the most common output type of its convolutions and
    matrix multiplies (of all float-producing nodes when it has none); FLOAT when it has no floats."""
    counts: Counter[int] = Counter()
    known = types.get
    for g in graph.walk():
        # In graph order, as the count's ties are broken (a Counter keeps the order it first saw each
        # type); the counting itself is one C-level update per graph.
        dtypes = [known(node.outputs[0], 0) for node in g.nodes_of(*_HEAVY) if node.outputs]
        counts.update([d for d in dtypes if d in FLOAT_TYPES])
    if not counts:
        for g in graph.walk():
            for node in g.nodes:
                for out in node.outputs:
                    dtype = types.get(out, 0) if out else 0
                    if dtype in FLOAT_TYPES:
                        counts[dtype] += 1
    return counts.most_common(1)[0][0] if counts else FLOAT


def model_quantized_type(graph: Graph, types: dict[str, int]) -> str | None:
    """'int8' or 'fp8' when the model carries Q/DQ of that type (the most common), else None."""
    counts: Counter[str] = Counter()
    for g in graph.walk():
        for node in g.nodes_of("DequantizeLinear", "QuantizeLinear"):
            tensor = node.inputs[0] if node.op == "DequantizeLinear" and node.inputs else node.outputs[0]
            name = TYPE_NAMES.get(types.get(tensor, 0))
            if name in ("int8", "uint8"):
                counts["int8"] += 1
            elif name == "fp8":
                counts["fp8"] += 1
    return counts.most_common(1)[0][0] if counts else None
