"""ONNX Runtime contrib ops (com.microsoft) in real graphs: their outputs' shapes and types, and what follows.

ONNX's shape inference does not know the com.microsoft domain; the audit types those outputs from the
operators' documented shapes (onnxruntime docs/ContribOperators.md). Expected values come from the
architectures the samples were made from (samples/wild/make_wild_samples.py), never from our output.
"""

from __future__ import annotations

import onnx

from trtadvisor.api import audit
from trtadvisor.ir.load import load_model

from conftest import REPO

WILD = REPO / "samples" / "wild"

# ort_optimized_bert: BertModel hidden 256, intermediate 1024, 4 heads (make_wild_samples._bert_export)
BERT_HIDDEN, BERT_FFN = 256, 1024
# ort_matmul_nbits_mixtral: MixtralModel hidden 64, 4 heads / 2 KV heads, [2, 16] tokens, 2 layers
MIXTRAL_HIDDEN, MIXTRAL_HEADS, MIXTRAL_KV_HEADS, MIXTRAL_TOKENS, MIXTRAL_LAYERS = 64, 4, 2, 16, 2


def _contrib_outputs(path) -> dict[str, onnx.NodeProto]:
    model = onnx.load(path, load_external_data=False)
    return {out: node for node in model.graph.node if node.domain == "com.microsoft" for out in node.output if out}


def test_optimizer_fused_ops_have_the_documented_output_shapes() -> None:
    """SkipLayerNormalization keeps its input's shape [batch, sequence, hidden] (the last one is the graph output,
    whose dimension names the optimizer wrote); the FFN's FastGelu reads the
    intermediate dense output [batch, sequence, 1024]; the MatMuls between them are typed again."""
    path = WILD / "ort_optimized_bert.onnx"
    graph = load_model(path).graph
    outs = _contrib_outputs(path)
    for name, node in outs.items():
        found = graph.tensor_types.get(name)
        if node.op_type in ("SkipLayerNormalization", "Attention") and name == node.output[0]:
            assert found is not None and len(found[1]) == 3 and found[1][-1] == BERT_HIDDEN, (node.name, found)
        if node.op_type == "FastGelu":
            assert found is not None and found[1] == ("batch", "sequence", BERT_FFN), (node.name, found)
        if node.op_type == "EmbedLayerNormalization" and name == node.output[1]:  # mask_index: int32 [batch]
            assert found is not None and found == (onnx.TensorProto.INT32, ("batch",))
    # a standard MatMul fed by a SkipLayerNormalization: typed downstream of the contrib op
    model = onnx.load(path, load_external_data=False)
    after = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[0] in outs]
    assert after and all(graph.tensor_types.get(n.output[0])[1][-1] in (BERT_HIDDEN, BERT_FFN) for n in after)


def test_layers_of_an_optimized_fp32_model_run_in_float_not_int32() -> None:
    """The model computes in FP32 (built --fp16): EmbedLayerNormalization's first input is the int32 ids, but its
    output is the word embedding's type, so no layer downstream computes in int32."""
    result = audit(WILD / "ort_optimized_bert.onnx", trt="10.8", sm="90", precision="fp16")
    contrib = [layer for layer in result.prediction.layers
               if {"SkipLayerNormalization", "FastGelu", "Attention", "EmbedLayerNormalization"} & set(layer.ops)]
    assert contrib and all(layer.precision == "fp16" for layer in contrib), [(x.name, x.precision) for x in contrib]


def test_matmul_nbits_outputs_are_typed_so_attention_heads_are_known() -> None:
    """Mixtral with every 2-D weight MatMul as a 4-bit MatMulNBits: Q/K/V projections are [2, 16, N] with N the
    attribute (64, 32, 32), and every attention site has 4 query heads, 2 KV heads of 16 (a GQA)."""
    path = WILD / "ort_matmul_nbits_mixtral.onnx"
    graph = load_model(path).graph
    nbits = [node for node in _contrib_outputs(path).values() if node.op_type == "MatMulNBits"]
    assert nbits
    for node in nbits:
        n = next(a.i for a in node.attribute if a.name == "N")
        assert graph.tensor_types.get(node.output[0])[1][-1] == n
    result = audit(path, trt="10.8", sm="90", precision="fp16")
    head = MIXTRAL_HIDDEN // MIXTRAL_HEADS
    expected = ("gqa", MIXTRAL_HEADS, MIXTRAL_KV_HEADS, head, MIXTRAL_TOKENS)
    assert [(a.site.kind, a.site.num_heads, a.site.num_kv_heads, a.site.head_size, a.site.seq_q)
            for a in result.attention] == [expected] * MIXTRAL_LAYERS


def test_contrib_ops_with_attributes_not_as_documented_leave_outputs_unknown(tmp_path) -> None:
    """Built with onnx.helper (no tool writes such a file): a MatMulNBits without N, an Attention with
    num_heads 0 and a short qkv_hidden_sizes, a GroupQueryAttention without kv_num_heads. The audit
    neither fails nor guesses: those outputs stay untyped, the documented one (FastGelu) is typed."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [32, 96], [0.0] * (32 * 96))
    nodes = [
        helper.make_node("FastGelu", ["x"], ["g"], domain="com.microsoft"),
        helper.make_node("MatMulNBits", ["g", "b", "s"], ["m"], domain="com.microsoft", K=32, bits=4,
                         block_size=16),
        helper.make_node("Attention", ["x", "w"], ["a"], domain="com.microsoft", num_heads=0,
                         qkv_hidden_sizes=[32]),
        helper.make_node("GroupQueryAttention", ["x"], ["q"], domain="com.microsoft", num_heads=4),
        helper.make_node("Sum", ["m", "a", "q"], ["y"]),
    ]
    b = helper.make_tensor("b", TensorProto.UINT8, [32, 2, 8], [0] * 512)
    s = helper.make_tensor("s", TensorProto.FLOAT, [64], [1.0] * 64)
    graph = helper.make_graph(nodes, "g", [x], [y], [w, b, s])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "odd_contrib.onnx"
    onnx.save(model, path)
    types = load_model(path).graph.tensor_types
    assert types.get("g") == (TensorProto.FLOAT, (1, 8, 32))
    assert all(types.get(name) is None for name in ("m", "a", "q"))
    assert audit(path, trt="10.8", sm="90").findings  # audited, TRT008 among them
