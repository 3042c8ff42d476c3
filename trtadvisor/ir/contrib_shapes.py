"""Output types of ONNX Runtime's contrib ops (domain com.microsoft), which ONNX's shape inference does not know.

ONNX's inference leaves every output of a com.microsoft node untyped, and with it everything downstream:
an onnxruntime.transformers-optimized BERT or a 4-bit MatMulNBits model then had no shapes past its first
contrib op (attention heads unknown, costs unknown, layer precisions read as int32). Each rule here is the
output shape the operator's schema documents, in
https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md (anchor ``#com.microsoft.OP``);
ops without a rule keep unknown outputs. After the rules, the standard nodes downstream that ONNX left
untyped are inferred one by one with ONNX's own per-node inference, in graph order, so one pass over the
main graph fills the gap (values computed from shapes past a contrib op stay unknown: no data propagation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import onnx
import onnx.defs
from onnx import TensorProto, helper
from onnx import shape_inference as _onnx_inference

from trtadvisor.ir.graph import schema_opset

CONTRIB_DOMAIN = "com.microsoft"
DOCS = "https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md"

Dim = int | str | None
# (element type, shape) of a tensor; shape None = rank unknown
Typed = tuple[int, tuple[Dim, ...] | None]
_Rule = Callable[[onnx.NodeProto, Sequence[Typed | None]], list[Typed | None]]

_RULES: dict[str, _Rule] = {}


def _rule(*ops: str) -> Callable[[_Rule], _Rule]:
    def deco(fn: _Rule) -> _Rule:
        for op in ops:
            _RULES[op] = fn
        return fn
    return deco


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _mul(a: Dim, b: Dim) -> Dim:
    return a * b if isinstance(a, int) and isinstance(b, int) else None


def _div(a: Dim, b: int) -> Dim:
    return a // b if isinstance(a, int) and b and a % b == 0 else None


def _add(a: Dim, b: Dim) -> Dim:
    return a + b if isinstance(a, int) and isinstance(b, int) else None


def _broadcast(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...]:
    out: list[Dim] = []
    for k in range(max(len(a), len(b))):
        x = a[len(a) - 1 - k] if k < len(a) else 1
        y = b[len(b) - 1 - k] if k < len(b) else 1
        out.append(y if x == 1 else x if y == 1 or x == y else x if isinstance(x, int) else y)
    return tuple(reversed(out))


def _matmul(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    if len(a) < 2 or len(b) < 2:
        return None
    return (*_broadcast(a[:-2], b[:-2]), a[-2], b[-1])


def _shaped(t: Typed | None) -> tuple[Dim, ...] | None:
    return t[1] if t is not None else None


def _elem(t: Typed | None, default: int = TensorProto.UNDEFINED) -> int:
    return t[0] if t is not None and t[0] else default


# Element-wise ops whose output is their first input's type and shape:
# #com.microsoft.FastGelu, .Gelu, .QuickGelu, .BiasGelu, .BiasAdd, .RotaryEmbedding ("output: tensor with same
# shape as input"), .GroupNorm (output "same shape as X"), .QLinearSigmoid, .QLinearLeakyRelu, .QLinearSoftmax
@_rule("FastGelu", "Gelu", "QuickGelu", "BiasGelu", "BiasAdd", "RotaryEmbedding", "GemmaRotaryEmbedding",
       "GroupNorm", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "BiasSoftmax")
def _like_first(node, ins):
    return [ins[0]] + [None] * (len(node.output) - 1)


@_rule("BiasSplitGelu")  # #com.microsoft.BiasSplitGelu: (N, S, D) -> (N, S, D/2)
def _bias_split_gelu(node, ins):
    shape = _shaped(ins[0])
    if not shape:
        return [None]
    return [(_elem(ins[0]), (*shape[:-1], _div(shape[-1], 2)))]


@_rule("BiasDropout")  # #com.microsoft.BiasDropout: output like data, mask (bool) like data
def _bias_dropout(node, ins):
    shape = _shaped(ins[0])
    return [ins[0], (TensorProto.BOOL, shape) if ins[0] is not None else None][:len(node.output)]


@_rule("SkipLayerNormalization", "SkipSimplifiedLayerNormalization")
def _skip_layer_norm(node, ins):
    """#com.microsoft.SkipLayerNormalization: output, mean and inv_std_var "(batch_size, sequence_length, 1)"
    (tensor(float)), input_skip_bias_sum like the input; SkipSimplifiedLayerNormalization has the same outputs."""
    shape = _shaped(ins[0])
    stats = (TensorProto.FLOAT, (*shape[:-1], 1)) if shape else None
    return [ins[0], stats, stats, ins[0]][:len(node.output)]


@_rule("SkipGroupNorm")  # #com.microsoft.SkipGroupNorm: Y and S (sum) of X's shape
def _skip_group_norm(node, ins):
    return [ins[0], ins[0]][:len(node.output)]


@_rule("EmbedLayerNormalization")
def _embed_layer_norm(node, ins):
    """#com.microsoft.EmbedLayerNormalization: output (batch_size, sequence_length, hidden_size) of the word
    embedding's type, mask_index (batch_size) int32, embedding_sum like output."""
    ids, word = _shaped(ins[0]), _shaped(ins[2]) if len(ins) > 2 else None
    if not ids or len(ids) != 2 or not word or len(word) != 2:
        return [None] * len(node.output)
    out = (_elem(ins[2]), (ids[0], ids[1], word[1]))
    return [out, (TensorProto.INT32, (ids[0],)), out][:len(node.output)]


def _present(batch: Dim, heads: int, total: Dim, head: Dim, elem: int) -> Typed:
    return elem, (batch, heads, total, head)


@_rule("Attention", "QAttention")
def _attention(node, ins):
    """#com.microsoft.Attention: output "(batch_size, sequence_length, v_hidden_size)"; v_hidden_size is
    qkv_hidden_sizes[2], else a third of the merged weights' second dimension; present
    "(2, batch_size, num_heads, total_sequence_length, head_size)". #com.microsoft.QAttention: the same
    shapes, the output's type that of input_scale (T3)."""
    x, w = _shaped(ins[0]), _shaped(ins[1]) if len(ins) > 1 else None
    if not x or len(x) != 3 or not w or len(w) != 2:
        return [None] * len(node.output)
    sizes = _attr(node, "qkv_hidden_sizes")
    hidden, v_hidden = (sizes[0], sizes[2]) if sizes else (_div(w[1], 3), _div(w[1], 3))
    elem = _elem(ins[0]) if node.op_type == "Attention" else _elem(ins[3] if len(ins) > 3 else None,
                                                                    TensorProto.FLOAT)
    outs: list[Typed | None] = [(elem, (x[0], x[1], v_hidden))]
    if len(node.output) > 1:
        heads = int(_attr(node, "num_heads", 0)) or None
        past_at = 4 if node.op_type == "Attention" else 8
        past = _shaped(ins[past_at]) if len(ins) > past_at else None
        head = _div(hidden, heads) if heads else None
        if past and len(past) == 5 and _attr(node, "past_present_share_buffer", 0):
            outs.append((elem, past))
        else:
            total = _add(past[3], x[1]) if past and len(past) == 5 else x[1] if not past else None
            outs.append((elem, (2, x[0], heads, total, head)))
    return outs[:len(node.output)]


@_rule("MultiHeadAttention")
def _multi_head_attention(node, ins):
    """#com.microsoft.MultiHeadAttention: output "(batch_size, sequence_length, v_hidden_size)" from a query
    (B, S, D) with value (B, L, D_v) or (B, N, L, H), or a packed query (B, S, N, 3, H); present_key/value
    "(batch_size, num_heads, total_sequence_length, head_size)"."""
    q = _shaped(ins[0])
    heads = int(_attr(node, "num_heads", 0))
    if not q or not heads:
        return [None] * len(node.output)
    elem = _elem(ins[0])
    k, v = (_shaped(ins[i]) if len(ins) > i else None for i in (1, 2))
    kv_len: Dim = None
    if len(q) == 5:  # packed QKV
        out: tuple[Dim, ...] = (q[0], q[1], _mul(q[2], q[4]))
        head, kv_len = q[4], q[1]
    elif len(q) == 3:
        v_hidden = v[2] if v and len(v) == 3 else _mul(v[1], v[3]) if v and len(v) == 4 else q[2]
        out, head = (q[0], q[1], v_hidden), _div(q[2], heads)
        kv_len = k[1] if k and len(k) in (3, 5) else k[2] if k and len(k) == 4 else None
    else:
        return [None] * len(node.output)
    past = _shaped(ins[6]) if len(ins) > 6 else None
    total = _add(past[2], kv_len) if past and len(past) == 4 else kv_len if not past else None
    present = _present(q[0], heads, total, head, elem)
    return [(elem, out), present, present][:len(node.output)]


@_rule("GroupQueryAttention")
def _group_query_attention(node, ins):
    """#com.microsoft.GroupQueryAttention: output "(batch_size, sequence_length, hidden_size)" with
    hidden_size = num_heads * head_size; a packed query holds (num_heads + 2 * kv_num_heads) heads.
    present_key/value "(batch_size, kv_num_heads, total_sequence_length or max_sequence_length, head_size)":
    past's shape when past is given (ONNX Runtime's symbolic inference assumes the shared buffer too)."""
    q = _shaped(ins[0])
    heads, kv_heads = int(_attr(node, "num_heads", 0)), int(_attr(node, "kv_num_heads", 0))
    if not q or len(q) != 3 or not heads or not kv_heads:
        return [None] * len(node.output)
    elem = _elem(ins[0])
    packed = len(ins) < 3 or not node.input[1]
    head = _div(q[2], heads + 2 * kv_heads) if packed else _div(q[2], heads)
    out = (elem, (q[0], q[1], _mul(head, heads) if packed else q[2]))
    past = ins[3] if len(ins) > 3 and node.input[3] else None
    present = past if _shaped(past) else (elem, (q[0], kv_heads, None, head))
    return [out, present, present][:len(node.output)]


@_rule("MatMulNBits", "MatMulBnb4")
def _matmul_nbits(node, ins):
    """#com.microsoft.MatMulNBits: Y = A x dequantized B^T, A (..., K) -> Y (..., N), N an attribute, of A's
    type; #com.microsoft.MatMulBnb4 the same."""
    a, n = _shaped(ins[0]), _attr(node, "N")
    if not a or n is None:
        return [None]
    return [(_elem(ins[0]), (*a[:-1], int(n)))]


def _fused_matmul_shape(node, a, b) -> tuple[Dim, ...] | None:
    if not a or not b or _attr(node, "transBatchA", 0) or _attr(node, "transBatchB", 0):
        return None
    if _attr(node, "transA", 0):
        a = (*a[:-2], a[-1], a[-2])
    if _attr(node, "transB", 0):
        b = (*b[:-2], b[-1], b[-2])
    return _matmul(a, b)


@_rule("FusedMatMul", "TransposeMatMul", "GemmFastGelu")
def _fused_matmul(node, ins):
    """#com.microsoft.FusedMatMul: "Matrix product that behaves like numpy.matmul" after transA/transB, of
    A's type; TransposeMatMul the same; #com.microsoft.GemmFastGelu: MatMul then FastGelu, Y (M, N)."""
    shape = _fused_matmul_shape(node, _shaped(ins[0]), _shaped(ins[1]) if len(ins) > 1 else None)
    return [(_elem(ins[0]), shape) if shape else None]


@_rule("MatMulIntegerToFloat", "DynamicQuantizeMatMul", "MatMulInteger16")
def _integer_matmul(node, ins):
    """#com.microsoft.MatMulIntegerToFloat: numpy.matmul shape, of a_scale's type (T3);
    #com.microsoft.DynamicQuantizeMatMul: of A's type (T1); #com.microsoft.MatMulInteger16: int32."""
    shape = _matmul(_shaped(ins[0]) or (), _shaped(ins[1]) or ()) if len(ins) > 1 else None
    if not shape:
        return [None]
    elem = {"MatMulIntegerToFloat": _elem(ins[2] if len(ins) > 2 else None, TensorProto.FLOAT),
            "DynamicQuantizeMatMul": _elem(ins[0]), "MatMulInteger16": TensorProto.INT32}[node.op_type]
    return [(elem, shape)]


@_rule("QuantizeLinear", "DequantizeLinear")
def _quantize(node, ins):
    """#com.microsoft.QuantizeLinear: y of x's shape, of y_zero_point's type (uint8 without one);
    #com.microsoft.DequantizeLinear: y of x's shape, of x_scale's type."""
    x = _shaped(ins[0])
    if x is None:
        return [None]
    if node.op_type == "QuantizeLinear":
        zp = ins[2] if len(ins) > 2 and node.input[2] else None
        return [(_elem(zp, TensorProto.UINT8), x)]
    return [(_elem(ins[1] if len(ins) > 1 else None, TensorProto.FLOAT), x)]


@_rule("QLinearAdd", "QLinearMul")
def _qlinear_binary(node, ins):
    """#com.microsoft.QLinearAdd / QLinearMul: C = A op B with numpy broadcasting, of A's type (T)."""
    a, b = _shaped(ins[0]), _shaped(ins[3]) if len(ins) > 3 else None
    return [(_elem(ins[0]), _broadcast(a, b)) if a is not None and b is not None else None]


@_rule("QGemm")
def _qgemm(node, ins):
    """#com.microsoft.QGemm: Y (M, N) after transA/transB, of y_zero_point's type (TR), float without it."""
    a, b = _shaped(ins[0]), _shaped(ins[3]) if len(ins) > 3 else None
    if not a or not b or len(a) != 2 or len(b) != 2:
        return [None]
    m = a[1] if _attr(node, "transA", 0) else a[0]
    n = b[0] if _attr(node, "transB", 0) else b[1]
    zp = ins[8] if len(ins) > 8 and node.input[8] else None
    return [(_elem(zp, TensorProto.FLOAT), (m, n))]


@_rule("QLinearConcat")
def _qlinear_concat(node, ins):
    """#com.microsoft.QLinearConcat: inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per
    tensor; output the concatenation along axis, of Y_zero_point's type."""
    xs = [_shaped(ins[k]) for k in range(2, len(ins), 3)]
    if not xs or any(x is None for x in xs) or len({len(x) for x in xs}) != 1:
        return [None]
    rank = len(xs[0])
    axis = int(_attr(node, "axis", 0)) % max(rank, 1)
    total: Dim = 0
    for x in xs:
        total = _add(total, x[axis])
    return [(_elem(ins[1]), (*xs[0][:axis], total, *xs[0][axis + 1:]))]


@_rule("QLinearGlobalAveragePool")
def _qlinear_global_pool(node, ins):
    """#com.microsoft.QLinearGlobalAveragePool: spatial dimensions 1, channels first or last
    (channels_last), of X's type."""
    x = _shaped(ins[0])
    if not x or len(x) < 3:
        return [None]
    last = _attr(node, "channels_last", 0)
    shape = (x[0], *([1] * (len(x) - 2)), x[-1]) if last else (x[0], x[1], *([1] * (len(x) - 2)))
    return [(_elem(ins[0]), shape)]


# Output element types where they are not the first input's (the rule for the other contrib ops): per output,
# an input index whose type it takes or a fixed TensorProto type (negative: see _FIXED), per the same schemas.
_FIXED = {-1: TensorProto.INT32, -2: TensorProto.FLOAT, -3: TensorProto.BOOL, -4: TensorProto.UINT8}
_DTYPE_FROM: dict[str, tuple[int, ...]] = {
    "EmbedLayerNormalization": (2, -1, 2),   # word embedding's type (T), mask_index int32
    "SkipLayerNormalization": (0, -2, -2, 0),  # mean, inv_std_var: U = float
    "SkipSimplifiedLayerNormalization": (0, -2, -2, 0),
    "BiasDropout": (0, -3),
    "QAttention": (3, 3),                    # T3 = input_scale's type
    "MatMulIntegerToFloat": (2,),            # T3 = a_scale's type
    "MatMulInteger16": (-1,),
    "DequantizeLinear": (1,),                # x_scale's type
    "QLinearConcat": (1,),                   # Y_zero_point's type
}


def contrib_output_dtypes(node: onnx.NodeProto | None, op: str, input_types: Sequence[int],
                          outputs: int) -> list[int]:
    """Element types of a contrib op's outputs from its inputs' types (0 = unknown), without shapes."""
    def of(src: int) -> int:
        if src < 0:
            return _FIXED[src]
        return input_types[src] if src < len(input_types) else 0

    if op == "QuantizeLinear":  # y_zero_point's type, uint8 without one
        return [of(2) or _FIXED[-4]] * outputs
    if op == "QGemm":  # y_zero_point's type, float output without one
        return [of(8) or _FIXED[-2]] * outputs
    sources = _DTYPE_FROM.get(op)
    if sources is None:
        return [of(0)] * outputs
    return [of(sources[k]) if k < len(sources) else 0 for k in range(outputs)]


def known_ops() -> frozenset[str]:
    """The contrib ops with a documented output rule here."""
    return frozenset(_RULES)


# ---------------------------------------------------------------------------------------------------------

def uses_contrib_ops(model: onnx.ModelProto) -> bool:
    """Whether the model imports ONNX Runtime's contrib domain (every model using its ops must)."""
    return any(op.domain == CONTRIB_DOMAIN for op in model.opset_import)


def _typed_of(tp: onnx.TypeProto) -> Typed | None:
    if not tp.HasField("tensor_type") or not tp.tensor_type.elem_type:
        return None
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return tt.elem_type, None
    return tt.elem_type, tuple(d.dim_value if d.HasField("dim_value") else d.dim_param or None
                               for d in tt.shape.dim)


def _type_proto(t: Typed) -> onnx.TypeProto:
    elem, shape = t
    dims = None if shape is None else [d if isinstance(d, int | str) else None for d in shape]
    return helper.make_tensor_type_proto(elem, dims)


def complete_types(model: onnx.ModelProto) -> int:
    """Add value infos to ``model`` (an ONNX-inferred model) for the main graph's tensors that contrib ops
    write and for the standard nodes downstream of them that ONNX's inference left untyped. Returns how
    many tensors were typed."""
    g = model.graph
    types: dict[str, onnx.TypeProto] = {}
    # an intermediate value info ONNX wrote with the element type alone (its inputs' shapes were unknown)
    partial: dict[str, onnx.ValueInfoProto] = {}
    for items in (g.value_info, g.input, g.output):
        for vi in items:
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                if vi.type.tensor_type.HasField("shape") or items is not g.value_info:
                    types[vi.name] = vi.type
                    partial.pop(vi.name, None)
                else:
                    partial[vi.name] = vi
    for init in g.initializer:
        types.setdefault(init.name, helper.make_tensor_type_proto(init.data_type, list(init.dims)))
    small: dict[str, onnx.TensorProto] = {init.name: init for init in g.initializer
                                          if init.data_location != TensorProto.EXTERNAL and _count(init.dims) <= 64}
    opsets = {op.domain or "": op.version for op in model.opset_import}
    opset_list = list(model.opset_import)
    added = 0
    for node in g.node:
        missing = [o for o in node.output if o and o not in types]
        if not missing:
            if node.op_type == "Constant" and not node.domain:
                _note_constant(node, small)
            continue
        inferred: dict[str, onnx.TypeProto] = {}
        if node.domain == CONTRIB_DOMAIN:
            rule = _RULES.get(node.op_type)
            if rule is not None:
                ins = [_typed_of(types[i]) if i and i in types else None for i in node.input]
                try:
                    outs = rule(node, ins)
                except (TypeError, ValueError, IndexError, ZeroDivisionError):  # attributes not as documented
                    outs = []
                dtypes = contrib_output_dtypes(node, node.op_type, [t[0] if t else 0 for t in ins],
                                               len(node.output))
                for name, t, dtype in zip(node.output, outs, dtypes, strict=False):
                    if t is not None and dtype:
                        t = (dtype, t[1])
                    if name and t is not None and t[0]:
                        inferred[name] = _type_proto(t)
        elif node.domain in ("", "ai.onnx") and all(not i or i in types for i in node.input):
            _propagate_value(node, types, small)
            inferred = _infer_standard(node, types, small, opsets.get("", 0), opset_list)
        for name in missing:
            tp = inferred.get(name)
            if tp is not None and tp.HasField("tensor_type") and tp.tensor_type.elem_type:
                types[name] = tp
                if name in partial:
                    partial.pop(name).type.CopyFrom(tp)
                else:
                    g.value_info.append(helper.make_value_info(name, tp))
                added += 1
            elif name in partial:  # the element type alone, as ONNX left it: readers may use it
                types[name] = partial.pop(name).type
    return added


def _count(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _note_constant(node: onnx.NodeProto, small: dict[str, onnx.TensorProto]) -> None:
    for a in node.attribute:
        if a.name == "value" and a.type == onnx.AttributeProto.TENSOR and _count(a.t.dims) <= 64:
            small[node.output[0]] = a.t


# Shape arithmetic downstream of a contrib op (Shape -> Gather -> Unsqueeze -> Concat -> Reshape): ONNX's data
# propagation ran before those shapes were known, so the values of small integer tensors are carried here, for
# static dimensions only, and handed to the per-node inference of the Reshape/Expand that reads them.
_VALUE_OPS = frozenset({"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity"})


def _propagate_value(node: onnx.NodeProto, types: dict[str, onnx.TypeProto],
                     small: dict[str, onnx.TensorProto]) -> None:
    import numpy as np
    from onnx import numpy_helper

    op = node.op_type
    if op not in _VALUE_OPS or not node.output or node.output[0] in small:
        return
    try:
        if op == "Shape":
            t = _typed_of(types[node.input[0]])
            shape = t[1] if t else None
            if shape is None:
                return
            start, end = int(_attr(node, "start", 0)), _attr(node, "end")
            dims = shape[start:None if end is None else int(end)]
            if not all(isinstance(d, int) for d in dims):
                return
            value = np.array(dims, dtype=np.int64)
        else:
            args = [numpy_helper.to_array(small[i]) if i in small else None for i in node.input]
            if any(a is None for a, i in zip(args, node.input, strict=True) if i):
                return
            if op == "Gather":
                value = np.take(args[0], args[1], axis=int(_attr(node, "axis", 0)))
            elif op in ("Unsqueeze", "Squeeze"):
                axes = args[1] if len(args) > 1 and args[1] is not None else _attr(node, "axes")
                value = np.expand_dims(args[0], tuple(int(a) for a in axes)) if op == "Unsqueeze" else \
                    np.squeeze(args[0], None if axes is None else tuple(int(a) for a in axes))
            elif op == "Concat":
                value = np.concatenate([a for a in args if a is not None], axis=int(_attr(node, "axis", 0)))
            elif op == "Slice":
                if (len(args) > 3 and args[3] is not None and len(args[3]) != 1) or args[0].ndim != 1:
                    return
                step = int(args[4][0]) if len(args) > 4 and args[4] is not None else 1
                value = args[0][int(args[1][0]):int(args[2][0]):step]
            elif op == "Cast":
                value = args[0].astype(onnx.helper.tensor_dtype_to_np_dtype(int(_attr(node, "to"))))
            else:
                value = args[0]
    except (KeyError, ValueError, IndexError, TypeError):
        return
    if value.size <= 64 and value.dtype.kind in "iu":
        small[node.output[0]] = numpy_helper.from_array(np.asarray(value), node.output[0])


def _infer_standard(node: onnx.NodeProto, types: dict[str, onnx.TypeProto], small: dict[str, onnx.TensorProto],
                    opset: int, opset_list: list[onnx.OperatorSetIdProto]) -> dict[str, onnx.TypeProto]:
    """ONNX's inference of one standard node from its inputs' types and small constant inputs' values."""
    try:
        schema = onnx.defs.get_schema(node.op_type, schema_opset(opset), "")
    except onnx.defs.SchemaError:
        return {}
    given = {i: types[i] for i in node.input if i}
    data = {i: small[i] for i in node.input if i in small}
    try:
        return dict(_onnx_inference.infer_node_outputs(schema, node, given, data, opset_imports=opset_list))
    except Exception:  # ONNX's inference refuses the node: its outputs stay unknown
        return {}
