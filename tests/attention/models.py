"""Small attention graphs built with onnx.helper: one knob per verdict branch, plus a Swin-like stack."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: np.ndarray | float | list[int], dtype: type = np.float32) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs: object) -> str:
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", **attrs))
        return out

    def qdq(self, x: str, kind: str) -> str:
        zero = self.const(0, np.int8) if kind == "int8" else None
        scale = self.const(0.05)
        if kind == "fp8":
            zp = helper.make_tensor(f"fp8zp{self.count}", TensorProto.FLOAT8E4M3FN, [], [0.0])
            self.inits.append(zp)
            zero = zp.name
        q = self.op("QuantizeLinear", [x, scale, zero])
        return self.op("DequantizeLinear", [q, scale, zero])

    def model(self, inputs: list[onnx.ValueInfoProto], output: str, opset: int = 18) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "g", inputs, [helper.make_tensor_value_info(output, F, None)],
                                  initializer=self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def attention_model(*, batch: int = 1, heads: int = 4, kv_heads: int | None = None, seq_q: int = 128,
                    seq_kv: int | None = None, head: int = 64, scale: str = "scores", mask: str | None = None,
                    qdq: str | None = None, native: bool = False, causal_attr: bool = False,
                    repeat: str = "expand", mix: str | None = None, head_v: int | None = None) -> onnx.ModelProto:
    """q [B,S_q,N*H], kv [B,S_kv,N_kv*H] inputs -> one attention site (decomposed or the Attention op).

    mask: None | "padding" (input [B, S_kv], 1-D per batch) | "bool2d" (input [S_q, S_kv]) |
    "causal" (Trilu of a constant, 2-D) | "bias" (a learned [1, N, S_q, S_kv] table).
    mix, a learned linear map applied to the scores: None | "einsum_heads" (Einsum bhqk,hg->bgqk before the
    Softmax: talking heads as one Einsum) | "linear_heads_after" (a Linear over the heads of the probabilities,
    between Transposes, as CaiT's proj_w) | "conv_heads_after" (a 1x1 Conv over the heads of the probabilities
    and a BatchNormalization, as DeepViT's re-attention) | "linear_keys" (a Linear over the key axis before the
    Softmax: no head mix) | "softmax_over_queries" (the scores transposed so the Softmax normalizes the queries) |
    "renormalized_after" (the probabilities divided by their ReduceSum over the keys, keepdims) | "gated_after" (the
    probabilities multiplied by a per-head gate computed from an input, sigmoid(gate_in) [1, N, 1, 1]) |
    "scaled_after" (the probabilities multiplied by a constant scalar).
    head_v: V's head size where it differs from Q and K's (LeViT: attn_ratio x key_dim).
    """
    kv_heads = kv_heads or heads
    head_v = head_v or head
    seq_kv = seq_kv or seq_q
    b = _Builder()
    inputs = [helper.make_tensor_value_info("q_in", F, [batch, seq_q, heads * head]),
              helper.make_tensor_value_info("k_in", F, [batch, seq_kv, kv_heads * head]),
              helper.make_tensor_value_info("v_in", F, [batch, seq_kv, kv_heads * head_v])]
    q = b.op("Transpose", [b.op("Reshape", ["q_in", b.const([batch, seq_q, heads, head], np.int64)])],
             perm=[0, 2, 1, 3])
    k = b.op("Transpose", [b.op("Reshape", ["k_in", b.const([batch, seq_kv, kv_heads, head], np.int64)])],
             perm=[0, 2, 1, 3])
    v = b.op("Transpose", [b.op("Reshape", ["v_in", b.const([batch, seq_kv, kv_heads, head_v], np.int64)])],
             perm=[0, 2, 1, 3])
    if kv_heads != heads and kv_heads != 1:
        rep = heads // kv_heads
        if repeat == "expand":
            def repeat_heads(t: str, size: int) -> str:
                u = b.op("Unsqueeze", [t, b.const([2], np.int64)])
                e = b.op("Expand", [u, b.const([batch, kv_heads, rep, seq_kv, size], np.int64)])
                return b.op("Reshape", [e, b.const([batch, heads, seq_kv, size], np.int64)])
        else:
            def repeat_heads(t: str, size: int) -> str:
                return b.op("Tile", [t, b.const([1, rep, 1, 1], np.int64)])
        k, v = repeat_heads(k, head), repeat_heads(v, head_v)
    if qdq:
        q, k, v = b.qdq(q, qdq), b.qdq(k, qdq), b.qdq(v, qdq)
    mask_tensor = None
    if mask == "padding":
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [batch, seq_kv]))
        m = b.op("Unsqueeze", ["attention_mask", b.const([1, 2], np.int64)])
        m = b.op("Cast", [m], to=TensorProto.FLOAT)
        mask_tensor = b.op("Mul", [b.op("Sub", [b.const(1.0), m]), b.const(-10000.0)])
    elif mask == "bool2d":
        inputs.append(helper.make_tensor_value_info("attn_mask", TensorProto.BOOL, [seq_q, seq_kv]))
        mask_tensor = "attn_mask"
    elif mask == "causal":
        tri = b.op("Trilu", [b.const(np.ones((seq_q, seq_kv))), b.const(1, np.int64)], upper=1)
        mask_tensor = b.op("Mul", [tri, b.const(-1e9)])
    elif mask == "bias":
        # a relative-position table read by the distance between query and key (its values differ: a learned
        # bias is no constant, which a uniform table would be to the softmax)
        table = b.const(np.linspace(-1.0, 1.0, 16 * heads, dtype=np.float32).reshape(16, heads))
        idx = b.const(np.subtract.outer(np.arange(seq_q), np.arange(seq_kv)) % 16, np.int64)
        g = b.op("Gather", [table, idx])
        mask_tensor = b.op("Unsqueeze", [b.op("Transpose", [g], perm=[2, 0, 1]), b.const([0], np.int64)])
    if native:
        ins = [q, k, v] + ([mask_tensor] if mask_tensor else [])
        out = b.op("Attention", ins, is_causal=1 if causal_attr else 0)
        return b.model(inputs, out, opset=23)
    s = 1.0 / np.sqrt(head)
    if scale == "q":
        q = b.op("Mul", [q, b.const(s)])
    elif scale == "q+k":
        q = b.op("Mul", [q, b.const(np.sqrt(s))])
    kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
    if scale == "q+k":
        kt = b.op("Mul", [kt, b.const(np.sqrt(s))])
    scores = b.op("MatMul", [q, kt])
    if scale == "scores":
        scores = b.op("Div", [scores, b.const(float(np.sqrt(head)))])
    if mask == "bool2d":
        scores = b.op("Where", [mask_tensor, scores, b.const(-np.inf)])
    elif mask_tensor is not None:
        scores = b.op("Add", [scores, mask_tensor])
    if mix == "einsum_heads":
        scores = b.op("Einsum", [scores, b.const(np.eye(heads) + 0.1)], equation="bhqk,hg->bgqk")
    elif mix == "linear_keys":
        scores = b.op("MatMul", [scores, b.const(np.eye(seq_kv) + 0.1)])
    elif mix == "softmax_over_queries":
        scores = b.op("Transpose", [scores], perm=[0, 1, 3, 2])
    probs = b.op("Softmax", [scores], axis=-1)
    if mix == "linear_heads_after":
        probs = b.op("Transpose", [probs], perm=[0, 2, 3, 1])
        probs = b.op("Add", [b.op("MatMul", [probs, b.const(np.eye(heads) + 0.1)]), b.const(np.zeros(heads))])
        probs = b.op("Transpose", [probs], perm=[0, 3, 1, 2])
    elif mix == "conv_heads_after":
        probs = b.op("Conv", [probs, b.const((np.eye(heads) + 0.1).reshape(heads, heads, 1, 1)),
                              b.const(np.zeros(heads))])
        probs = b.op("BatchNormalization", [probs, b.const(np.ones(heads)), b.const(np.zeros(heads)),
                                            b.const(np.zeros(heads)), b.const(np.ones(heads))])
    elif mix == "renormalized_after":
        probs = b.op("Div", [probs, b.op("ReduceSum", [probs, b.const([-1], np.int64)], keepdims=1)])
    elif mix == "gated_after":
        inputs.append(helper.make_tensor_value_info("gate_in", F, [1, heads, 1, 1]))
        probs = b.op("Mul", [b.op("Sigmoid", ["gate_in"]), probs])
    elif mix == "scaled_after":
        probs = b.op("Mul", [probs, b.const(0.5)])
    if qdq:
        probs = b.qdq(probs, qdq)
    out = b.op("MatMul", [probs, v])
    return b.model(inputs, out, opset=19 if qdq == "fp8" else 18)


def swin_model(blocks: int, *, batch: int = 1, windows: int = 64, tokens: int = 49, heads: int = 3,
               head: int = 32) -> onnx.ModelProto:
    """A Swin-like stack: LayerNorm, windowed attention with relative position bias and a shifted-window
    mask added at rank 5 ([B, nW, N, S, S]), residual, LayerNorm, erf-GELU MLP. ~40 nodes a block."""
    dim = heads * head
    bw = batch * windows
    b = _Builder()
    x = "x"
    inputs = [helper.make_tensor_value_info("x", F, [bw, tokens, dim])]
    shifted = np.zeros((1, windows, 1, tokens, tokens), dtype=np.float32)
    shifted[0, -8:, 0, :, tokens // 2:] = -100.0
    mask = b.const(shifted)
    for i in range(blocks):
        ln = b.op("LayerNormalization", [x, b.const(np.ones(dim)), b.const(np.zeros(dim))], axis=-1)
        qkv = b.op("Add", [b.op("MatMul", [ln, b.const(np.zeros((dim, 3 * dim)))]), b.const(np.zeros(3 * dim))])
        qkv = b.op("Transpose", [b.op("Reshape", [qkv, b.const([bw, tokens, 3, heads, head], np.int64)])],
                   perm=[2, 0, 3, 1, 4])
        q, k, v = (b.op("Gather", [qkv, b.const(j, np.int64)], axis=0) for j in range(3))
        q = b.op("Mul", [q, b.const(head ** -0.5)])
        attn = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
        table = b.const(np.zeros((169, heads), dtype=np.float32))
        rel = b.op("Gather", [table, b.const(np.zeros(tokens * tokens, dtype=np.int64), np.int64)])
        rel = b.op("Transpose", [b.op("Reshape", [rel, b.const([tokens, tokens, heads], np.int64)])], perm=[2, 0, 1])
        attn = b.op("Add", [attn, b.op("Unsqueeze", [rel, b.const([0], np.int64)])])
        if i % 2:
            attn = b.op("Reshape", [attn, b.const([batch, windows, heads, tokens, tokens], np.int64)])
            attn = b.op("Add", [attn, mask])
            attn = b.op("Reshape", [attn, b.const([bw, heads, tokens, tokens], np.int64)])
        probs = b.op("Softmax", [attn], axis=-1)
        o = b.op("MatMul", [probs, v])
        o = b.op("Reshape", [b.op("Transpose", [o], perm=[0, 2, 1, 3]), b.const([bw, tokens, dim], np.int64)])
        o = b.op("Add", [b.op("MatMul", [o, b.const(np.zeros((dim, dim)))]), b.const(np.zeros(dim))])
        x = b.op("Add", [x, o])
        ln2 = b.op("LayerNormalization", [x, b.const(np.ones(dim)), b.const(np.zeros(dim))], axis=-1)
        h = b.op("MatMul", [ln2, b.const(np.zeros((dim, 2 * dim)))])
        g = b.op("Mul", [b.op("Mul", [h, b.op("Add", [b.op("Erf", [b.op("Div", [h, b.const(1.4142135)])]),
                                                      b.const(1.0)])]), b.const(0.5)])
        x = b.op("Add", [x, b.op("MatMul", [g, b.const(np.zeros((2 * dim, dim)))])])
    return b.model(inputs, x)
