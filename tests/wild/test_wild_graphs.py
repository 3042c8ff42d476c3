"""Graphs written by other tools and other vintages (samples/wild/, made by samples/wild/make_*_samples.py).

Expected values come from the architectures (torchvision, transformers, Keras) and from what the
tool that wrote each file is documented to write, never from our own output.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import onnx
import pytest

from trtadvisor.api import audit

from conftest import REPO, artifact

WILD = REPO / "samples" / "wild"

# torchvision ResNet-50: stem conv + 16 bottlenecks x 3 convs + 4 downsample convs; one residual per block.
RESNET50_CONVS = 1 + 16 * 3 + 4
RESNET50_BLOCKS = 3 + 4 + 6 + 3


def _ops(path, op: str) -> list[str]:
    model = onnx.load(path, load_external_data=False)
    return [n.name for n in model.graph.node if n.op_type == op]


def test_unsorted_graph_with_duplicate_initializers_is_audited_not_refused() -> None:
    path = WILD / "unsorted_dup_init_resnet18.onnx"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = audit(path, trt="10.16", sm="90")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # the input is never modified
    repairs = [f for f in result.findings if f.rule == "TRT009"]
    assert {f.severity for f in repairs} == {"info"} and len(repairs) == 2
    assert any("topological order" in f.message for f in repairs)
    assert any("listed more than once" in f.message for f in repairs)
    # the same architecture exported in order (samples/cnn) gives the same layers
    sorted_export = audit(REPO / "samples" / "cnn" / "resnet18.torchscript.opset17.onnx", trt="10.16", sm="90")
    assert sorted(layer.name for layer in result.prediction.layers) == sorted(
        layer.name for layer in sorted_export.prediction.layers)


def test_old_zoo_resnet50_folds_build_time_parameters_and_fuses_sum_residuals() -> None:
    path = WILD / "old_zoo_resnet50.onnx"
    result = audit(path, trt="10.16", sm="90")
    assert not [f for f in result.findings if "not a constant" in f.message]
    layers = result.prediction.layers
    convs = [layer for layer in layers if "Conv" in layer.ops]
    assert len(convs) == RESNET50_CONVS
    # every BatchNormalization (parameters from ConstantOfShape / Constant) folds into its convolution
    bns = set(_ops(path, "BatchNormalization"))
    assert len(bns) == RESNET50_CONVS
    assert bns <= {n for layer in convs for n in layer.nodes}
    # every Sum residual fuses into a convolution together with the Relu after it, like Add does
    sums = [layer for layer in convs if "Sum" in layer.ops]
    assert len(sums) == RESNET50_BLOCKS
    assert all(layer.ops.count("Conv") == 1 and layer.ops[-1] == "Relu" for layer in sums)


def test_onnxruntime_contrib_ops_are_an_error_naming_them() -> None:
    path = WILD / "ort_optimized_bert.onnx"
    result = audit(path, trt="10.16", sm="90")
    errors = [f for f in result.findings if f.rule == "TRT008"]
    assert len(errors) == 1 and errors[0].severity == "error"
    model = onnx.load(path, load_external_data=False)
    contrib = {n.op_type for n in model.graph.node if n.domain == "com.microsoft"}
    # what onnxruntime.transformers.optimizer writes for BERT with GELU approximation
    assert {"Attention", "SkipLayerNormalization", "FastGelu"} <= contrib
    assert all(op in errors[0].message for op in contrib)
    assert "export" in errors[0].hint.lower()
    assert not [f for f in result.findings if f.rule == "TRT004" and "com.microsoft" in f.message]


def test_gelu_layernorm_rmsnorm_are_seen_through_identity_and_cast() -> None:
    from trtadvisor.analysis.normalization import find_normalizations

    path = WILD / "fp16_noise_block.onnx"
    result = audit(path, trt="10.16", sm="90", precision="fp16")
    graph = result.model.graph
    # the block computes one LayerNorm (pow-2 variance, exponent through a Cast), one erf GELU (an
    # Identity before it, a no-op Cast after Erf) and one RMSNorm with a weight read through Identity
    sites = {site.kind: site for site in find_normalizations(graph)}
    assert set(sites) == {"layernorm", "rmsnorm"}
    assert [n.op for n in sites["layernorm"].nodes].count("ReduceMean") == 2
    assert "Pow" in [n.op for n in sites["layernorm"].nodes]
    rms_ops = [n.op for n in sites["rmsnorm"].nodes]
    assert rms_ops[-1] == "Mul" and rms_ops.count("Mul") == 2  # x * rsqrt(...), then the weight
    erf = next(n.name for n in graph.nodes if n.op == "Erf")
    gelu = [layer for layer in result.prediction.layers if erf in layer.nodes]
    assert len(gelu) == 1 and "gelu" in gelu[0].fusions
    eliminated = set(result.prediction.eliminated)
    assert {"noise/Identity", "noise/Cast_after_Erf"} <= eliminated


def test_tf2onnx_einsum_attention_is_found() -> None:
    from trtadvisor.analysis.attention_sites import find_attention_sites

    path = WILD / "tf2onnx_transformer_block_einsum.onnx"
    einsums = _ops(path, "Einsum")
    assert len(einsums) == 2  # tf2onnx kept Keras' two attention einsums (btnh,bsnh->bnts; bnts,bsnh->btnh)
    result = audit(path, trt="10.16", sm="90", precision="fp16")
    sites = find_attention_sites(result.model.graph)
    assert len(sites) == 1
    site = sites[0]
    # Keras MultiHeadAttention(num_heads=4, key_dim=64) on [1, 128, 256]
    assert (site.batch, site.num_heads, site.head_size, site.seq_q, site.seq_kv) == (1, 4, 64, 128, 128)
    assert set(einsums) <= set(site.nodes)
    mha = [layer for layer in result.prediction.layers if "mha" in layer.fusions]
    assert len(mha) == 1 and set(einsums) <= set(mha[0].nodes)


# torchvision swin_t: patch 4, embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7x7, on 224x224
SWIN_DEPTHS, SWIN_HEADS, SWIN_EMBED, SWIN_WINDOW, SWIN_PATCH = (2, 2, 6, 2), (3, 6, 12, 24), 96, 7, 4


def test_swin_windowed_attention_sites_have_head_size_and_windows() -> None:
    from trtadvisor.analysis.attention_sites import find_attention_sites

    result = audit(WILD / "swin_t.onnx", trt="10.16", sm="90", precision="fp16")
    sites = find_attention_sites(result.model.graph)
    assert len(sites) == sum(SWIN_DEPTHS)
    expected = []
    for stage, (depth, heads) in enumerate(zip(SWIN_DEPTHS, SWIN_HEADS, strict=True)):
        side = 224 // SWIN_PATCH // 2 ** stage  # 56, 28, 14, 7 tokens per side
        windows = (side // SWIN_WINDOW) ** 2
        expected += [(heads, SWIN_EMBED * 2 ** stage // heads, windows, (SWIN_WINDOW, SWIN_WINDOW))] * depth
    got = [(s.num_heads, s.head_size, s.num_windows, s.window) for s in sites]
    assert got == expected
    assert {s.head_size for s in sites} == {32}
    assert all(s.seq_q == s.seq_kv == SWIN_WINDOW ** 2 for s in sites)
    # every other block shifts its windows and adds the per-window mask
    assert [s.windowed for s in sites[:4]] == [False, True, False, True]


def _layer_cycle(result) -> list[str] | None:
    """A cycle among the predicted layers (names), or None: the layers of an engine run as a DAG.

    Edges follow each tensor from the layer writing it to the layers reading it, through the nodes the
    build removed; a path through Shape/Size carries only a shape, known on the host, and is no edge."""
    members = result.prediction.members
    layer_of = {node: i for i, nodes in enumerate(members) for node in nodes}
    graph = result.model.graph
    edges: dict[int, set[int]] = {i: set() for i in range(len(members))}
    for node, i in layer_of.items():
        stack, seen = [graph.producer(name) for name in node.inputs], set()
        while stack:
            producer = stack.pop()
            if producer is None or producer in seen or producer.op in ("Shape", "Size"):
                continue
            seen.add(producer)
            j = layer_of.get(producer)
            if j is None:  # removed by the build: look through it
                stack.extend(graph.producer(name) for name in producer.inputs)
            elif j != i:
                edges[j].add(i)
    state: dict[int, int] = {}
    for start in edges:
        if start in state:
            continue
        path, stack = [], [(start, iter(edges[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            layer, succ = stack[-1]
            nxt = next(succ, None)
            if nxt is None:
                state[layer] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return [result.prediction.layers[k].name for k in path[path.index(nxt):]]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(edges[nxt])))
    return None


@pytest.mark.parametrize("trt", ["8.6", "10.16"])
def test_swin_myelin_regions_do_not_reach_around_the_window_pad(trt: str) -> None:
    """Swin pads each block's normalized tokens to a multiple of the window before its attention
    (torchvision's shifted_window_attention: F.pad after norm1). Pad is not an op Myelin takes
    (rules/fusions.toml myelin_ops), so it is a layer of its own between norm1 and the qkv MatMul; one
    Myelin region cannot hold both, or it would feed the Pad and read its output: an engine's layers
    form a DAG. Before, the region of each stage held the Pad's producer and its readers."""
    result = audit(WILD / "swin_t.onnx", trt=trt, sm="90", precision="fp16")
    assert _layer_cycle(result) is None
    layer_of = {node.name: i for i, nodes in enumerate(result.prediction.members) for node in nodes}
    graph = result.model.graph
    pads = [n for n in graph.nodes if n.op == "Pad" and "/attn/" in n.name]
    assert len(pads) == sum(SWIN_DEPTHS)
    for pad in pads:
        producer = graph.producer(pad.inputs[0])
        assert producer.op == "LayerNormalization" and "norm1" in producer.name
        readers = {layer_of[r.name] for r in graph.consumers(pad.outputs[0]) if r.name in layer_of}
        assert layer_of[producer.name] not in readers


def test_attention_with_past_kv_and_dynamic_shapes_has_heads_and_head_size() -> None:
    from trtadvisor.analysis.attention_sites import find_attention_sites

    # GPT2Config(n_embd=256, n_head=4): 4 x 64; LlamaConfig(hidden 256, 8 heads, 2 KV heads): 8 x 32, GQA
    for name, heads, kv_heads, head in (("gpt2_past_kv_dynamic", 4, 4, 64), ("llama_past_kv_dynamic", 8, 2, 32)):
        path = WILD / f"{name}.onnx"
        model = onnx.load(path, load_external_data=False)
        past = [i for i in model.graph.input if i.name.startswith("past_key_values")]
        assert past and all(d.dim_param for d in past[0].type.tensor_type.shape.dim[::2])  # batch, past: symbolic
        result = audit(path, trt="10.16", sm="90", precision="fp16")
        sites = find_attention_sites(result.model.graph)
        assert len(sites) == 2, name
        for site in sites:
            assert (site.num_heads, site.num_kv_heads, site.head_size) == (heads, kv_heads, head), name
            assert site.seq_q is None and site.seq_kv is None  # dynamic: never guessed


def test_symbolic_shape_arithmetic_keeps_expressions() -> None:
    from trtadvisor.analysis.values import Sym, sym_op

    batch, seq = Sym("batch"), Sym("sequence")
    assert sym_op("*", batch, 1) == batch and sym_op("+", seq, 0) == seq and sym_op("-", seq, seq) == 0
    assert str(sym_op("+", Sym("past"), seq)) == "(past + sequence)"
    assert sym_op("//", sym_op("+", 49, 7), 7) == 8


def test_onnxruntime_qdq_conv_relu_is_one_inferred_int8_layer_with_alternatives() -> None:
    path = WILD / "ort_qdq_mobilenet_v2.onnx"
    model = onnx.load(path, load_external_data=False)
    producer = {o: n for n in model.graph.node for o in n.output}
    # what onnxruntime's quantize_static wrote: Conv -> Q -> DQ -> Clip (ReLU6) -> Q
    pattern = []
    for clip in (n for n in model.graph.node if n.op_type == "Clip"):
        dq = producer.get(clip.input[0])
        q = producer.get(dq.input[0]) if dq is not None else None
        conv = producer.get(q.input[0]) if q is not None else None
        if dq is not None and dq.op_type == "DequantizeLinear" and q.op_type == "QuantizeLinear" and \
                conv is not None and conv.op_type == "Conv":
            pattern.append((conv.name, q.name, dq.name, clip.name))
    assert len(pattern) == 35  # torchvision mobilenet_v2: every ReLU6 follows a conv (+BN)
    result = audit(path, trt="10.16", sm="90")
    by_node = {n: layer for layer in result.prediction.layers for n in layer.nodes}
    for conv, q, dq, clip in pattern:
        layer = by_node[conv]
        assert {conv, q, dq, clip} <= set(layer.nodes) and layer.kind == "convolution"
        assert "conv+qdq+act" in layer.fusions
        assert layer.confidence == "inferred"  # no engine of this layout was found
        kinds = {a["kind"] for a in layer.alternatives}
        assert kinds == {"convolution", "pointwise"}
        assert any("docs.nvidia.com" in e for a in layer.alternatives for e in a["evidence"])


TF_RESNET = "trex/examples/tensorflow/resnet/RTX-3090/{}/resnet.onnx.engine.graph.json"
_KERAS_LAYER = re.compile(r"(conv\d_block\d+_(?:\d|add|out)|conv1_relu|pool1_(?:pad|pool)|avg_pool|predictions)")


def _keras_signature(name: str) -> tuple[str, ...]:
    """The Keras layers a TensorRT or predicted layer name covers (resnet50/conv2_block1_add/add and
    tf2onnx 1.17's resnet50_1/conv2_block1_add_1/Add both give conv2_block1_add)."""
    return tuple(sorted(set(_KERAS_LAYER.findall(name))))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tf2onnx_resnet50_matches_the_rtx3090_engines(precision: str) -> None:
    """Keras ResNet50 through tf2onnx against the RTX 3090 (SM 8.6) engines built from the same
    architecture: the same layers in the same order, by the Keras layers each one covers (node names
    differ between tf2onnx versions: the engine's stem is 'Conv__435', tf2onnx 1.17 names it after the
    folded BatchNormalization)."""
    import json

    engine = json.loads(artifact(TF_RESNET.format(precision)).read_text())["Layers"]
    built = [layer for layer in engine if layer["LayerType"] not in ("Reformat", "NoOp")
             and not layer["Name"].startswith("Reformatting")]
    result = audit(WILD / "tf2onnx_resnet50.onnx", trt="8.4", sm="86", precision=precision)
    layers = result.prediction.layers
    assert len(layers) == len(built)
    # NHWC -> NCHW: the first layer is the input transpose (a Shuffle), before any convolution
    assert built[0]["LayerType"] == "Shuffle" and layers[0].ops == ("Transpose",)
    ours = [_keras_signature(layer.name) for layer in layers[1:]]
    theirs = [_keras_signature(layer["Name"]) for layer in built[1:]]
    assert ours == theirs
    convs = [layer for layer in built if layer["LayerType"] in ("CaskConvolution", "CublasConvolution")]
    assert len(convs) == RESNET50_CONVS + 1  # + the classifier MatMul, run as a convolution by TensorRT 8


def test_tf2onnx_attention_with_einsum_rewritten_as_matmul_is_found() -> None:
    from trtadvisor.analysis.attention_sites import find_attention_sites

    # tf2onnx 1.17's default optimizers rewrite each Einsum as Reshape/Transpose/MatMul with Squeeze and
    # Unsqueeze around the scores and probabilities
    path = WILD / "tf2onnx_transformer_block.onnx"
    assert not _ops(path, "Einsum") and _ops(path, "Squeeze")
    sites = find_attention_sites(audit(path, trt="10.16", sm="90", precision="fp16").model.graph)
    assert len(sites) == 1
    assert (sites[0].num_heads, sites[0].head_size, sites[0].seq_kv) == (4, 64, 128)  # MHA(4 heads, key_dim 64)


SSDLITE = WILD / "ssdlite320_detection.onnx"


def test_detector_with_control_flow_gets_its_static_shapes() -> None:
    """torchvision SSDlite320 (MobileNet-v3 large) on one 320x320 image. The transform computes the
    resize sizes and the padding from the image's shape (a ReduceMax among them) and post-processing
    holds an If: neither may leave the backbone without shapes. The stem convolution has stride 2
    (160x160, 16 channels); every convolution runs before NMS, so each has a static output shape."""
    result = audit(SSDLITE, trt="10.8", sm="90")
    graph = result.model.graph
    convs = graph.nodes_of("Conv")
    assert graph.has_bodies()
    assert graph.shape(convs[0].outputs[0]) == (1, 16, 160, 160)
    assert [c.name for c in convs if not _static(graph.shape(c.outputs[0]))] == []
    # MobileNet-v3 adds a residual only where the block keeps stride 1 and its channels: same shapes
    assert [f.message for f in result.findings if f.rule == "TRT102"] == []


def test_detector_anchors_fold_at_build_time() -> None:
    """torchvision's DefaultBoxGenerator computes the anchors from the feature maps' and the image's
    sizes only (Shape, Range, Cast, Mul): with a static input they are build-time constants, so no
    predicted layer is made of anchor-generator nodes (before, 25 INT64->FP32 Cast layers and more)."""
    result = audit(SSDLITE, trt="10.8", sm="90")
    anchors = [layer.name for layer in result.prediction.layers if any("/anchor_generator/" in n for n in layer.nodes)]
    assert anchors == []


def _static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)


def test_dynamic_quantization_ops_have_no_tensorrt_importer() -> None:
    """onnxruntime's quantize_dynamic on a 2-layer DistilBERT: 6 Linear layers per block (q, k, v, out,
    lin1, lin2) become 12 MatMulInteger, fed by one DynamicQuantizeLinear per distinct activation (q/k/v
    share theirs: 4 per block, 8 in all). TensorRT's parser imports neither (operators.md: 'N'), on every
    version the rules know."""
    path = WILD / "ort_dynamic_quant_distilbert.onnx"
    for trt in ("8.6", "10.8", "11.4"):
        result = audit(path, trt=trt, sm="90")
        found = [f for f in result.findings if f.rule == "TRT011"]
        assert len(found) == 1 and found[0].severity == "error"
        assert "DynamicQuantizeLinear (8), MatMulInteger (12)" in found[0].message
        assert len(found[0].nodes) == 20  # the first 20 of the 20 nodes it names
        # a quantizer's ops: the remedy is QDQ quantization, and nothing about other ops' remedies
        assert found[0].hint.startswith("Quantize for TensorRT with QuantizeLinear/DequantizeLinear pairs")
        assert "ConvTranspose" not in found[0].hint


@pytest.mark.parametrize("trt", ["10.8", "11.4"])
def test_strongly_typed_dynamic_quantization_judges_attention_in_its_own_float_type(trt: str) -> None:
    """onnxruntime's dynamic quantization makes the projections MatMulInteger but leaves DistilBERT's attention
    products (Q·Kᵀ, probabilities·V) float32 MatMuls with no Q/DQ. Strongly typed, the model's INT8 does not
    decide the attention: each site runs in FP32, which the MHA tables have no column for (unknown, not
    'INT8 needs Q/DQ')."""
    result = audit(WILD / "ort_dynamic_quant_distilbert.onnx", trt=trt, sm="90", strongly_typed=True)
    assert result.target.precision == "int8"  # the model-wide precision of a strongly typed quantized build
    assert len(result.attention) == 2  # DistilBERT here: 2 layers
    for judged in result.attention:
        assert not judged.site.qdq and judged.site.dtype == onnx.TensorProto.FLOAT
        assert judged.verdict.fused is None
        assert judged.verdict.conditions == ("precision_not_in_tables",)
        assert "FP32" in judged.verdict.reasons[0]


def test_causal_mask_read_from_the_external_data_next_to_the_model(tmp_path) -> None:
    """transformers Phi (a causal LM) through the dynamo exporter: the folded causal mask (BOOL [1,1,32,32])
    and the padding gather's indices are external data. With the data file beside the model, both
    attention sites are causal; without it, causality is unknown and the site says why."""
    import shutil

    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    path = WILD / "phi_dynamo_external_mask.onnx"
    sites = find_attention_sites(load_model(path).graph)
    assert [(s.causal, s.mask, s.num_heads, s.head_size) for s in sites] == [(True, "padding", 4, 32)] * 2
    alone = tmp_path / path.name
    shutil.copy(path, alone)  # the model without its data files
    sites = find_attention_sites(load_model(alone).graph)
    assert [s.causal for s in sites] == [None, None]
    assert all(any("external" in note for note in s.notes) for s in sites)


def test_token_ids_that_only_shape_a_causal_mask_are_no_padding_mask() -> None:
    """CLIP's text encoder without an attention_mask applies its causal mask alone; the TorchScript export
    builds it from Shape(input_ids). The ids shape the mask, their values never reach it: the mask is
    causal, and the sites name no mask input."""
    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    sites = find_attention_sites(load_model(WILD / "clip_text_causal.onnx").graph)
    assert [(s.causal, s.mask, s.mask_inputs) for s in sites] == [(True, "causal", ())] * 2


def test_attention_of_a_model_whose_shapes_completion_found_is_judged_with_them() -> None:
    """ViT-MAE (2 layers, 4 heads x 32) on 64x64 with patch 16: 16 patches, mask ratio 0.75 keeps 4, plus
    CLS, so every site attends over 5 tokens. The kept length is computed (random masking), so ONNX's
    inference leaves the first layer's head count unknown until the static shapes are completed; the
    attention sites must be judged with the completed shapes, not the ones the plan first saw."""
    result = audit(WILD / "vitmae_random_masking.onnx", trt="10.8", sm="90")
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in result.attention] == \
        [(4, 32, 5, 5)] * 2


def test_rpn_anchor_grid_folds_at_build_time() -> None:
    """torchvision Faster R-CNN (MobileNet-v3 FPN, 320x320): the RPN's AnchorGenerator computes its grid
    from the feature maps' sizes only (INT32 Range, Reshape, Expand): with a static input it is a build-time
    constant, so no predicted layer is made of its nodes."""
    result = audit(WILD / "fasterrcnn_mbv3_320.onnx", trt="10.8", sm="90")
    anchors = [layer.name for layer in result.prediction.layers if any("/anchor_generator/" in n for n in layer.nodes)]
    assert anchors == []


def test_an_unevaluated_mask_is_not_blamed_on_absent_external_data(tmp_path) -> None:
    """DETR builds its all-ones pixel mask itself and shrinks it with interpolate (a Resize), which the audit
    does not evaluate: the encoder self-attention and the decoder's cross-attention have a mask of unknown
    causality. With the weights absent, the note may say external data; with every tensor in the file
    (written inline here, zeros: the values play no part), it must not."""
    from onnx import numpy_helper

    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    path = WILD / "detr_resnet_tiny.onnx"
    model = onnx.load(path, load_external_data=False)
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.name == "value"]
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            zeros = numpy_helper.from_array(
                np.zeros(tuple(t.dims), onnx.helper.tensor_dtype_to_np_dtype(t.data_type)), t.name)
            t.CopyFrom(zeros)
    inline = tmp_path / "detr_inline.onnx"
    onnx.save(model, inline)
    for file, external in ((path, True), (inline, False)):
        unknown = [s for s in find_attention_sites(load_model(file).graph) if s.causal is None]
        assert len(unknown) == 2  # encoder self-attention, decoder cross-attention (both read the pixel mask)
        assert all(any(("external data" in n) == external for n in s.notes) for s in unknown), file


def test_external_index_feeding_an_unsqueeze_does_not_fail_the_load() -> None:
    """timm CoAtNet-nano (depths 3-4-6-3; stages 2 and 3 are transformer stages at 14x14 and 7x7 tokens,
    heads of 32) through the dynamo exporter: the relative-position index is an external INT64 initializer
    read by an Unsqueeze. ONNX's data propagation cannot read external data and failed the inference of this
    valid model (exit 2, 'the model is inconsistent'); the audit now reads it."""
    result = audit(WILD / "coatnet_nano.dynamo.onnx", trt="10.8", sm="90")
    sites = sorted((a.site.seq_q, a.site.head_size) for a in result.attention)
    assert sites == [(49, 32)] * 3 + [(196, 32)] * 6


MISTRAL = WILD / "mistral_sliding_window_past.onnx"
# MistralConfig(sliding_window=8), one decoding step: 8 new tokens after a past of 16 (S_q 8, S_kv 24)
MISTRAL_WINDOW = 8


def _mistral_shapes(seq: int, past: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"input_ids": (1, seq), "attention_mask": (1, past + seq)}
    for layer in range(2):  # 2 layers, 2 KV heads of 32
        shapes.update({f"past_key_values.{layer}.{kv}": (1, 2, past, 32) for kv in ("key", "value")})
    return shapes


def test_sliding_window_mask_is_named_a_band_not_padding() -> None:
    """Mistral's mask is the causal triangle cut to the last 8 keys, plus the padding attention_mask. Once
    the shapes are given its values are known: a causal sliding-window mask of 8 keys, and where 2-D masks
    do not fuse (SM100) the fix is not a key-padding vector (a band has no 1-D form)."""
    result = audit(MISTRAL, trt="10.8", sm="100", precision="fp16", shapes=_mistral_shapes(8, 16))
    assert [(a.site.seq_q, a.site.seq_kv, a.site.causal, a.site.mask, a.site.mask_window)
            for a in result.attention] == [(8, 24, True, "sliding_window", MISTRAL_WINDOW)] * 2
    for judged in result.attention:
        assert judged.verdict.fused is False and judged.verdict.conditions == ("mask_2d_window",)
    hints = [f.hint for f in result.findings if f.rule == "TRT301"]
    assert len(hints) == 2 and not any("key-padding" in h for h in hints)


def test_sliding_window_shorter_than_the_sequences_is_the_causal_triangle() -> None:
    """4 new tokens after a past of 2: every query sees at most 6 keys, fewer than the window of 8, so the
    band is the plain causal triangle (with the padding mask)."""
    result = audit(MISTRAL, trt="10.8", sm="100", precision="fp16", shapes=_mistral_shapes(4, 2))
    assert [(a.site.causal, a.site.mask, a.site.mask_window) for a in result.attention] == [(True, "padding", None)] * 2


def test_causal_and_padding_mask_keeps_both_parts_in_its_fix() -> None:
    """The same Mistral step with every query inside the window: the mask is the causal triangle plus the
    attention_mask's key padding. Where 2-D masks do not fuse (SM100) the message names both parts and the
    fix keeps both (is_causal for the triangle, a key-padding vector for the padding), not is_causal alone."""
    result = audit(MISTRAL, trt="10.8", sm="100", precision="fp16", shapes=_mistral_shapes(4, 2))
    assert [a.verdict.conditions for a in result.attention] == [("mask_2d_causal_padding",)] * 2
    found = [f for f in result.findings if f.rule == "TRT301"]
    assert len(found) == 2
    for f in found:
        assert "causal + padding mask" in f.message
        assert "is_causal" in f.hint and "key-padding" in f.hint


def test_unevaluated_band_mask_kind_is_unknown_not_padding() -> None:
    """Without shapes the band's values are unknown: two crossed position comparisons bound the keys, so
    neither the mask's kind nor its causality is guessed (not "padding", not a plain causal triangle)."""
    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    sites = find_attention_sites(load_model(MISTRAL).graph)
    assert [(s.causal, s.mask) for s in sites] == [(None, None)] * 2
    assert all(any("not guessed" in note for note in s.notes) for s in sites)


# timm poolformer_s12: stages of 2-2-6-2 blocks, widths 64-128-320-512; every block is
# x + ls1 * (pool(norm1(x)) - norm1(x)), then x + ls2 * mlp(norm2(x)), with GroupNorm(1 group).
POOLFORMER_DEPTHS, POOLFORMER_DIMS = (2, 2, 6, 2), (64, 128, 320, 512)


def test_poolformer_group_norm_affine_stays_out_of_pointwise_fusion() -> None:
    """Each GroupNorm's affine Mul and Add scale and shift by one weight per channel: REF 'Pointwise Fusion'
    takes only constants of a single value, so they stay out of the PWN layers; together they are one Scale
    layer, as TensorRT 8.6 built a GroupNorm's affine in the ControlNet engine ('onnx::Mul_4392 + ... +
    Mul_112 + onnx::Add_4393 + ... + Add_113', LayerType Scale). The exporter reads all but the first of
    the equal weights through Identity nodes; a folded Identity is still a constant of many values."""
    path = WILD / "poolformer_s12.onnx"
    result = audit(path, trt="10.16", sm="90", precision="fp16")
    layer_of = {name: layer for layer in result.prediction.layers for name in layer.nodes}
    affine = [n for n in _ops(path, "Mul") if re.search(r"/norm[12]/Mul$", n)]
    assert len(affine) == 2 * sum(POOLFORMER_DEPTHS)
    assert all(layer_of[name].ops == ("Mul", "Add") for name in affine)
    widths = [dim for depth, dim in zip(POOLFORMER_DEPTHS, POOLFORMER_DIMS, strict=True) for _ in range(2 * depth)]
    blocked = {f.nodes[0]: f.message for f in result.findings if f.rule == "TRT109"}
    for name, width in zip(affine, widths, strict=True):
        if "/norm1/" in name:  # the token mixer's Sub (pointwise) reads it: the constants keep them apart
            assert f"holds {width} values" in blocked[name]
        else:  # between a Reshape and the MLP's convolution: no pointwise layer to join, no near miss
            assert name not in blocked


def test_poolformer_residual_computed_from_the_convolution_is_no_near_miss() -> None:
    """The stem and the three downsampling convolutions write the stream that block 0 of their stage
    both normalizes and adds back: the Add's other operand (pool(x) - x, scaled) is computed from the
    convolution's output, so the Add cannot be its epilogue and no fix would let it."""
    result = audit(WILD / "poolformer_s12.onnx", trt="10.16", sm="90", precision="fp16")
    assert not [f for f in result.findings if f.rule == "TRT102"]
    convs = [layer for layer in result.prediction.layers if layer.kind == "convolution"]
    # stem + 3 downsamples, and per block the MLP's two 1x1 convolutions
    assert len(convs) == 1 + 3 + 2 * sum(POOLFORMER_DEPTHS)


def test_alibi_attention_of_rank3_products_has_heads_bias_and_evaluated_causality() -> None:
    """BloomConfig(hidden 128, 4 heads): each of the 2 blocks multiplies [batch*4, 32, 32] Q and K (rank 3)
    onto an ALiBi bias (per-head slopes x the attention mask's running sum, a CumSum) and then views the
    scores as [1, 4, 32, 32] for the causal + padding mask. Heads come from that view; the ALiBi term is a
    bias; with the mask input set to ones the CumSum is evaluated, so causality is read, not guessed."""
    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    sites = find_attention_sites(load_model(WILD / "bloom_alibi.onnx").graph)
    assert [(s.num_heads, s.num_kv_heads, s.head_size, s.seq_q, s.seq_kv, s.bias, s.causal, s.mask)
            for s in sites] == [(4, 4, 32, 32, 32, True, True, "padding")] * 2
    assert all(not s.notes for s in sites)  # nothing left unevaluated


def test_a_removed_upcast_does_not_split_the_myelin_region_into_a_cycle() -> None:
    """LLaMA's RMSNorm upcasts with .to(float32): in an FP32 export a Cast to the type the tensor has,
    removed by TensorRT. The residual Add before it and the norm after it are still one data path, so
    the decoder (matrix multiplies, RMSNorm, rotary, attention, SwiGLU: all Myelin ops) is one region
    from TensorRT 10 on, and the predicted layers must never wait on each other in a cycle."""
    path = REPO / "samples" / "transformers" / "llama_gqa_eager.torchscript.opset17.onnx"
    result = audit(path, trt="10.8", sm="90", precision="fp16")
    assert _layer_cycle(result) is None
    region = {layer.name: set(layer.nodes) for layer in result.prediction.layers}
    mlp0 = next(name for name, nodes in region.items() if "/inner/layers.0/mlp/down_proj/MatMul" in nodes)
    assert "/inner/layers.1/self_attn/q_proj/MatMul" in region[mlp0]
    assert "/inner/layers.0/self_attn/q_proj/MatMul" in region[mlp0]


def test_ort_static_qdq_of_matmuls_keeps_the_attention_sites_and_doubts_the_quantized_scores() -> None:
    """onnxruntime's quantize_static(op_types_to_quantize=["MatMul"]) on BertConfig(2 layers, 4 heads x 32)
    puts Q/DQ on every MatMul's inputs and on BMM1's output (the scores) too. Both attention sites are still
    attention (4 x 32 over 32 tokens, Q/DQ on Q, K and V); the quantized scores are outside the documented
    INT8 MHA pattern, so the INT8 verdict is unknown with that reason, not a guess either way."""
    result = audit(WILD / "ort_qdq_bert_matmul.onnx", trt="10.8", sm="90", precision="int8")
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv, a.site.qdq, a.site.scores_qdq)
            for a in result.attention] == [(4, 32, 32, 32, True, True)] * 2
    assert all(a.verdict.fused is None and "qdq_on_scores" in a.verdict.conditions for a in result.attention)


@pytest.mark.parametrize("path", [REPO / "samples" / "transformers" / "llama_gqa_eager.torchscript.opset17.onnx",
                                  MISTRAL], ids=["llama", "mistral"])
def test_fused_gqa_attention_takes_the_layout_ops_after_its_kv_repetition(path) -> None:
    """HF repeat_kv writes Unsqueeze -> Expand -> Reshape before Kᵀ's Transpose. On TensorRT 8.6 (attention
    only in Myelin, the site fused on SM90 FP16), the fused layer that takes the Expand takes the Reshape
    and Transpose after it too: left out, they would be a layer that both reads from the attention and
    feeds it."""
    result = audit(path, trt="8.6", sm="90", precision="fp16",
                   shapes=_mistral_shapes(8, 16) if path == MISTRAL else None)
    assert _layer_cycle(result) is None
    for judged in result.attention:
        assert judged.verdict.fused is True and judged.site.repeated_kv
        layer = next(layer for layer in result.prediction.layers if judged.site.anchor in layer.nodes)
        for expand in judged.site.repeat_nodes:  # K's and V's repetition: the reshape right after each
            reshape = next(n for n in result.model.graph.nodes if expand in
                           [p.name for p in map(result.model.graph.producer, n.inputs) if p is not None])
            assert reshape.op == "Reshape" and reshape.name in layer.nodes


def test_keras_lstm_weights_handed_through_a_loop_are_constants() -> None:
    """tf2onnx writes each Keras LSTM direction as a Loop whose state carries the cell's kernel, recurrent
    kernel and bias unchanged from weights: constants in every iteration. On TensorRT 8.6 (Gemm runs as a
    1x1 convolution) the bias Add after the cell's Gemm is a bias, not a residual sum whose 'broadcast'
    blocks conv+eltwise: no TRT102 warning."""
    path = WILD / "tf2onnx_bilstm_text.onnx"
    result = audit(path, trt="8.6", sm="90", precision="fp16")
    loops = [n for n in result.model.graph.nodes if n.op == "Loop"]
    assert len(loops) == 2 * 2  # two Bidirectional layers, two directions each
    for loop in loops:
        body = loop.subgraphs[0]
        state = [vi.name for vi in body.proto.input][2:]
        assert sum(name in body.constant_names for name in state) == 3  # kernel, recurrent kernel, bias
    assert not [f for f in result.findings if f.rule == "TRT102"]


def test_a_body_reading_an_outer_constant_reads_a_constant() -> None:
    """torchvision's detection post-processing (SSDlite) branches with If bodies that read Constant
    outputs of the main graph: fixed at build time inside the body as outside it."""
    result = audit(WILD / "ssdlite320_detection.onnx", trt="10.16", sm="90")
    graph = result.model.graph
    bodies = [sub for sub in list(graph.walk())[1:] if sub.outer_scope_reads()]
    read = [(sub, name) for sub in bodies for name in sub.outer_scope_reads() if name in graph.constant_names]
    assert read
    assert all(name in sub.constant_names for sub, name in read)


@pytest.mark.parametrize("name", ["tf2onnx_transformer_block", "tf2onnx_transformer_block_einsum"])
def test_a_value_read_through_a_removed_reshape_keeps_its_pointwise_producer_apart(name: str) -> None:
    """tf2onnx's Dense is Reshape -> MatMul (Tensordot); before TensorRT 9 the Reshape folds into the Gemm
    (a 1x1 convolution) and is removed, but the Gemm still reads the LayerNorm's output through it. The
    residual Add after the FFN reads that output too: fusing the LayerNorm's last pointwise ops with that
    Add would make one layer that feeds the FFN and waits on it."""
    result = audit(WILD / f"{name}.onnx", trt="8.6", sm="90", precision="fp16")
    assert _layer_cycle(result) is None


def test_relative_position_bias_from_a_resized_table_is_a_bias_not_an_unknown_mask() -> None:
    """BeitConfig(4 heads, 64x64 image, patch 16: 17 tokens, relative position bias): each site adds a
    [1, 4, 17, 17] bias gathered from a table that is itself computed from weights (Resize). It is a learned
    bias, not a mask (BEiT masks nothing): causality is known (none), and where 2-D masks do not fuse (SM100)
    the fix neither drops it nor asks for a key-padding vector."""
    result = audit(WILD / "beit_relative_bias.onnx", trt="10.8", sm="100", precision="fp16")
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.bias, a.site.causal, a.site.mask_shape)
            for a in result.attention] == [(4, 32, 17, True, False, (1, 4, 17, 17))] * 2
    assert all(a.verdict.conditions == ("mask_2d_bias",) for a in result.attention)
    hints = [f.hint for f in result.findings if f.rule == "TRT301"]
    assert len(hints) == 2 and not any("export without it" in h or "key-padding" in h for h in hints)


DEBERTA = WILD / "deberta_v2_disentangled.onnx"
# deberta_v2_disentangled: 2 layers, 4 heads x 16, pos_att_type p2c + c2p (one product of Q, one of K per layer)
DEBERTA_LAYERS, DEBERTA_HEADS, DEBERTA_HEAD, DEBERTA_RELATIVE_PRODUCTS = 2, 4, 16, 2


def test_disentangled_attention_is_unknown_not_called_fused() -> None:
    """DeBERTa's scores add Q x relative-key and K x relative-query products: no documented MHA pattern has a
    third and fourth product of Q and K, and no engine shows one fused, so where every mask fuses (SM90) the
    verdict is unknown with that reason, not fused; where 2-D masks do not (SM100) it is not fused."""
    judged = audit(DEBERTA, trt="10.8", sm="90", precision="fp16").attention
    assert [(a.site.num_heads, a.site.head_size, len(a.site.score_products)) for a in judged] == \
        [(DEBERTA_HEADS, DEBERTA_HEAD, DEBERTA_RELATIVE_PRODUCTS)] * DEBERTA_LAYERS
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == [(None, ("score_products",))] * DEBERTA_LAYERS
    judged = audit(DEBERTA, trt="10.8", sm="100", precision="fp16").attention
    assert all(a.verdict.fused is False and "score_products" in a.verdict.conditions for a in judged)


MODERNBERT = WILD / "modernbert_local_global.onnx"
# modernbert_local_global: 3 layers, global every 3rd (layer 0), local_attention 8 = 4 tokens either side
MODERNBERT_LOCAL, MODERNBERT_GLOBAL_EVERY, MODERNBERT_LAYERS = 8, 3, 3


def test_local_attention_band_is_a_window_not_padding() -> None:
    """ModernBERT's local layers add a two-sided band (|i - j| <= 4) to the padding mask: it is a non-causal
    sliding window of local_attention + 1 keys, not padding, and where 2-D masks do not fuse (SM100) its fix
    neither asks for a key-padding vector (which would drop the band) nor for is_causal."""
    result = audit(MODERNBERT, trt="10.8", sm="100", precision="fp16")
    expected = [(False, "padding", None) if layer % MODERNBERT_GLOBAL_EVERY == 0 else
                (False, "sliding_window", MODERNBERT_LOCAL + 1) for layer in range(MODERNBERT_LAYERS)]
    assert [(a.site.causal, a.site.mask, a.site.mask_window) for a in result.attention] == expected
    local = [a for a in result.attention if a.site.mask == "sliding_window"]
    assert all(a.verdict.conditions == ("mask_2d_local_window",) for a in local)
    hints = [f.hint for f in result.findings if f.rule == "TRT301" and "local-attention" in f.message]
    assert hints and not any("key-padding" in h or "is_causal" in h for h in hints)


# diffusers AutoencoderKL decoder (samples/wild/make_wild_samples.py sd_vae_decoder_groupnorm): GroupNorms in
# the mid block (2 ResNet blocks x 2, the attention's 1), the 2 up blocks (2 ResNet blocks x 2 each) and the
# output norm; all but the attention's are followed by SiLU.
VAE_GROUP_NORMS = 2 * 2 + 1 + 2 * 2 * 2 + 1


def test_group_norm_affine_is_one_scale_layer_as_in_the_controlnet_engine() -> None:
    """TensorRT 8.6 built every GroupNorm of the ControlNet UNet (exported as Reshape, InstanceNormalization,
    Reshape, Mul, Add) with the per-channel Mul and Add as one Scale layer and the SiLU after it as a PWN
    layer of its own. The VAE decoder's GroupNorms are exported the same way and are predicted so."""
    layers = json.loads(artifact("trt2023-controlnet/controlnet.b3d06c8.layerinfo.json").read_text())["Layers"]
    norms = [i for i, layer in enumerate(layers) if layer["Name"].startswith("InstanceNormalization_")]
    scales = [layer["Name"] for layer in layers if layer["LayerType"] == "Scale"]
    assert len(norms) == len(scales) == 27
    # each holds one Mul node and one Add node (beside their constants, 'onnx::Mul_N' / 'onnx::Add_N')
    assert all(len(re.findall(r"(?<![:\w])Mul_\d+", s)) == 1 and len(re.findall(r"(?<![:\w])Add_\d+", s)) == 1
               for s in scales)
    assert all(layers[i + 2]["LayerType"] == "Scale" for i in norms)  # after the NoOp reshape back

    path = WILD / "sd_vae_decoder_groupnorm.onnx"
    model = onnx.load(path, load_external_data=False)
    assert len(_ops(path, "InstanceNormalization")) == VAE_GROUP_NORMS
    result = audit(path, trt="8.6", sm="80", precision="fp16")
    layer_of = {name: layer for layer in result.prediction.layers for name in layer.nodes}
    out_of = {n.name: n.output[0] for n in model.graph.node}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    affines = [n for n in model.graph.node if n.op_type == "Mul" and re.search(r"norm[^/]*/Mul$", n.name)]
    assert len(affines) == VAE_GROUP_NORMS
    outside = [m for m in affines if layer_of[m.name].kind != "myelin"]
    assert len(outside) == VAE_GROUP_NORMS - 1  # the attention's GroupNorm is inside its Myelin region
    for mul in outside:
        scale = layer_of[mul.name]
        assert scale.ops == ("Mul", "Add") and scale.fusions == ("scale+scale",)
        silu = readers[out_of[scale.nodes[-1]]]
        assert silu and all(layer_of[r.name] is not scale for r in silu)
        assert {layer_of[r.name].ops for r in silu} == {("Sigmoid", "Mul")}


# timm xcit_nano_12_p16_224 (make_wild_samples.py xcit_nano_xca.dynamo): embed 128, 4 heads, 2 XCA blocks on a
# 64x64 image with patch 16 (16 tokens), then 2 class-attention blocks over the tokens and the class token.
XCIT_DIM, XCIT_HEADS, XCIT_TOKENS, XCIT_BLOCKS, XCIT_CLASS_BLOCKS = 128, 4, (64 // 16) ** 2, 2, 2


def test_cross_covariance_attention_scaled_per_head_is_no_mask() -> None:
    """XCA attends over channels: its scores are [1, heads, C/heads, C/heads] (S = 32 channels, H = 16 tokens)
    and are multiplied by a learned temperature of shape [heads, 1, 1], one value per head. That factor is
    the same for every query and key of a head: a scale among the pointwise ops MHA fusion takes, not a 2-D
    mask, so SM100's rule that only 1-D or scalar masks fuse does not apply to it."""
    result = audit(WILD / "xcit_nano_xca.dynamo.onnx", trt="10.8", sm="100", precision="fp16")
    sites = [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in result.attention]
    xca = (XCIT_HEADS, XCIT_TOKENS, XCIT_DIM // XCIT_HEADS, XCIT_DIM // XCIT_HEADS)
    class_attention = (XCIT_HEADS, XCIT_DIM // XCIT_HEADS, 1, XCIT_TOKENS + 1)
    assert sites == [xca] * XCIT_BLOCKS + [class_attention] * XCIT_CLASS_BLOCKS
    for judged in result.attention[:XCIT_BLOCKS]:
        assert judged.site.mask == "none" and judged.site.scale == "scores"
        assert not [c for c in judged.verdict.conditions if c.startswith("mask")]


# transformers Swinv2Model (make_wild_samples.py hf_swinv2_cpb.dynamo): one stage of 2 blocks, 2 heads of
# 16 / 2 = 8 channels, window 4 (16 tokens per window, 4 windows); the second block shifts its windows.
SWINV2_HEADS, SWINV2_HEAD_SIZE, SWINV2_WINDOW_TOKENS = 2, 16 // 2, 4 * 4


def test_position_bias_read_from_its_table_by_gathernd_is_a_bias_not_an_unknown_mask() -> None:
    """Swin V2's continuous position bias is an MLP over the relative coordinates, its [tokens^2, heads] table
    indexed by the relative-position index: the dynamo exporter writes that advanced indexing as GatherND, not
    Gather. It is a learned bias (computed from weights only), so the unshifted block has no mask; the shifted
    block's mask is a constant whose values this structure-only sample does not carry (unknown, said so)."""
    result = audit(WILD / "hf_swinv2_cpb.dynamo.onnx", trt="10.8", sm="90")
    sites = [a.site for a in result.attention]
    assert [(s.num_heads, s.head_size, s.seq_q, s.seq_kv) for s in sites] == \
        [(SWINV2_HEADS, SWINV2_HEAD_SIZE, SWINV2_WINDOW_TOKENS, SWINV2_WINDOW_TOKENS)] * 2
    assert [(s.mask, s.causal, s.bias) for s in sites] == [("none", False, True), (None, None, True)]
    assert any("external data" in note for note in sites[1].notes)


# timm swinv2_cr_tiny_ns_224 shrunk (make_wild_samples.py swinv2_cr_meta_mlp): 64x64 image, patch 4 -> 16x16 tokens,
# window 8 (64 tokens); stage 1: 2 blocks of 2 heads (embed 32), the second shifted; stage 2 at 8x8 tokens (one
# window, so timm does not shift): 2 blocks of 4 heads (embed 64). Head size 16 everywhere.
SWINV2_CR_SITES = [(2, 16, 64)] * 2 + [(4, 16, 64)] * 2


def test_position_bias_computed_by_an_mlp_from_weights_is_a_bias_not_an_unknown_mask() -> None:
    """Swin V2-CR's position bias is a meta MLP (Gemm, ReLU, Gemm) over constant relative coordinates: no graph
    input reaches it and no table is read, so whatever its values (absent in this structure-only sample) it is
    a learned bias. Only the shifted block has a mask, whose values are external here: unknown, and said so."""
    result = audit(WILD / "swinv2_cr_meta_mlp.onnx", trt="10.8", sm="90")
    sites = [a.site for a in result.attention]
    assert [(s.num_heads, s.head_size, s.seq_q) for s in sites] == SWINV2_CR_SITES
    assert [(s.mask, s.bias) for s in sites] == [("none", True), (None, True), ("none", True), ("none", True)]
    assert any("external data" in note for note in sites[1].notes)


# timm cspdarknet53: CSP stages of 1, 2, 8, 8 and 4 DarkBlocks, each conv1 (1x1) -> act -> conv2 (3x3) -> act,
# then + shortcut.
CSPDARKNET_BLOCKS = 1 + 2 + 8 + 8 + 4


@pytest.mark.parametrize(("trt", "listed"), [("8.6", CSPDARKNET_BLOCKS), ("10.8", CSPDARKNET_BLOCKS)])
def test_conv_then_activation_then_residual_add_lists_the_fused_layer_seen_on_8x_and_10x(trt: str,
                                                                                        listed: int) -> None:
    """Each DarkBlock's second convolution is read only by its LeakyReLU, and the residual Add after it makes the
    pointwise layer read two tensors: no generic activation (REF: one input, one output), so the convolution and
    PWN(LeakyRelu, Add) stay two layers. A TensorRT 8.x engine of YOLOv8 and a 10.0 engine (NVIDIA/TensorRT#4048)
    fused such a layer into the convolution, and others kept it apart, so from 8.0 the fused layer is listed as an
    alternative."""
    result = audit(WILD / "cspdarknet53.onnx", trt=trt, sm="90", precision="fp16")
    pwn = [layer for layer in result.prediction.layers if layer.ops == ("LeakyRelu", "Add")]
    assert len(pwn) == CSPDARKNET_BLOCKS
    with_alternative = [layer for layer in result.prediction.layers if layer.kind == "convolution" and any(
        "Add" in [n.rsplit("/", 1)[-1].split("_")[0] for n in alt["nodes"]] for alt in layer.alternatives)]
    assert len(with_alternative) == listed
    for layer in with_alternative:
        fused = next(alt for alt in layer.alternatives if alt["kind"] == "convolution")
        assert fused["nodes"] == [*layer.nodes, *next(p.nodes for p in pwn if p.nodes[0] in fused["nodes"])]
        assert any("4048" in e for e in fused["evidence"])


# Keras ResNet50V2: 3 + 4 + 6 + 3 pre-activation bottlenecks, each opening with BatchNorm + ReLU, and the final
# post_bn + post_relu.
RESNET50V2_PREACTIVATIONS = 3 + 4 + 6 + 3 + 1


def test_per_channel_scale_then_relu_is_one_layer_as_elt_relu_fusion_builds_it() -> None:
    """tf2onnx writes each pre-activation BatchNorm of ResNet50V2 as a Mul by a per-channel constant, read only by
    the ReLU. TensorRT's EltReluFusion takes an ElementWise layer whatever its constant holds (10.14 fused the
    Gemm's 1024-value bias add with the ReLU after it): one pointwise layer, not a Mul kept apart by its constant."""
    path = WILD / "tf2onnx_resnet50v2.onnx"
    result = audit(path, trt="10.8", sm="90", precision="fp16")
    pairs = [layer for layer in result.prediction.layers if layer.ops == ("Mul", "Relu")]
    assert len(pairs) == RESNET50V2_PREACTIVATIONS
    assert all(layer.fusions == ("eltwise+relu",) and layer.kind == "pointwise" for layer in pairs)
    muls = {layer.nodes[0] for layer in pairs}
    assert not [f for f in result.findings if f.rule == "TRT109" and f.nodes[0] in muls]


def test_reshape_only_shuffles_cost_nothing_as_noop_layers_profile() -> None:
    """The ControlNet engine (TensorRT 8.6) runs the reshapes around each GroupNorm's InstanceNormalization as
    NoOp layers, and its profile times every NoOp layer at 0 ms. The VAE decoder's GroupNorms are exported the
    same way: their reshape-only shuffle layers are priced at nothing, not at a copy plus a launch."""
    info = json.loads(artifact("trt2023-controlnet/controlnet.b3d06c8.layerinfo.json").read_text())["Layers"]
    profile = json.loads(artifact("trt2023-controlnet/controlnet.b3d06c8.profile.json").read_text())
    noop = {layer["Name"] for layer in info if layer["LayerType"] == "NoOp"}
    assert any(name.startswith("Reshape_") for name in noop)
    timed = [r for r in profile if isinstance(r, dict) and r.get("name") in noop]
    assert timed and all(r["averageMs"] == 0 for r in timed)

    result = audit(WILD / "sd_vae_decoder_groupnorm.onnx", trt="8.6", sm="80", precision="fp16")
    reshapes = [i for i, layer in enumerate(result.prediction.layers)
                if layer.kind == "shuffle" and set(layer.ops) <= {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}]
    # a reshape before and after each GroupNorm's InstanceNormalization, but for the two the attention's Myelin
    # region takes (its own norm's reshape back, the next block's first reshape)
    assert len(reshapes) == 2 * VAE_GROUP_NORMS - 2
    assert all(result.cost.layers[i] is not None and result.cost.layers[i].ms == 0 for i in reshapes)


# timm cait_xxs24_224: embed 192, 4 heads (x 48), depth 24 talking-heads blocks (depth_token_only) 2 class-attention
# blocks, patch 16 on 224: 196 patch tokens, + the class token in the class attention. The dynamo sample keeps 4
# talking-heads blocks (depth=4, make_wild_samples.py). Talking heads: proj_l and proj_w, Linear(4, 4) each.
CAIT_HEADS, CAIT_HEAD, CAIT_PATCHES, CAIT_CLASS_BLOCKS = 4, 48, 196, 2


@pytest.mark.parametrize(("name", "blocks"), [("cait_xxs24.onnx", 24), ("cait_xxs24.dynamo.onnx", 4)])
def test_talking_heads_attention_is_found_and_not_fused(name: str, blocks: int) -> None:
    """CaiT mixes each block's scores across the heads before the Softmax (proj_l) and the probabilities after it
    (proj_w): every block is an attention site, and not fused, because the fused kernel takes one head's
    softmax(Q·Kᵀ·scale + mask)·V with only pointwise ops between the products. The 2 class-attention blocks (the
    class token alone queries) are plain attention and fuse on SM90."""
    path = WILD / name
    judged = audit(path, trt="10.8", sm="90", precision="fp16").attention
    talking = [a for a in judged if a.site.head_mix]
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in talking] == \
        [(CAIT_HEADS, CAIT_HEAD, CAIT_PATCHES, CAIT_PATCHES)] * blocks
    assert [(a.verdict.fused, a.verdict.conditions) for a in talking] == [(False, ("head_mixing",))] * blocks
    assert all("before and after the Softmax" in a.verdict.reasons[0] for a in talking)  # proj_l, proj_w
    # the two maps of each block are Linear(4, 4): a MatMul by a [4, 4] weight before and one after the Softmax
    model = onnx.load(path, load_external_data=False)
    weights = {i.name: tuple(i.dims) for i in model.graph.initializer}
    products = {n.name: n for n in model.graph.node if n.op_type == "MatMul"}
    for a in talking:
        mixes = [products[name] for name in a.site.head_mix if name in products]
        assert len(mixes) == 2 and all(weights.get(n.input[1]) == (CAIT_HEADS, CAIT_HEADS) for n in mixes)
        assert a.site.nodes.index(mixes[0].name) < a.site.nodes.index(a.site.anchor) < a.site.nodes.index(mixes[1].name)
    cls = [a for a in judged if not a.site.head_mix]
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv, a.verdict.fused) for a in cls] == \
        [(CAIT_HEADS, CAIT_HEAD, 1, CAIT_PATCHES + 1, True)] * CAIT_CLASS_BLOCKS
    # no GPU fuses a head mix, not even one outside the tables, where plain attention is unknown
    judged = audit(path, trt="10.8", sm="70", precision="fp16").attention
    assert [a.verdict.fused for a in judged] == [False] * blocks + [None] * CAIT_CLASS_BLOCKS


# LongformerModel: 2 layers, 4 heads x 16, attention_window 32 (16 tokens either side: a band of 33 keys),
# sequence 128
LONGFORMER_LAYERS, LONGFORMER_HEADS, LONGFORMER_HEAD, LONGFORMER_BAND = 2, 4, 16, 2 * (32 // 2) + 1


def test_longformer_sliding_chunks_are_sites_that_do_not_fuse() -> None:
    """Longformer multiplies Q and K chunk by chunk (einsum bcxd,bcyd->bcxy), pads and scatters the chunk scores
    into a band of 33 keys per query before the Softmax and lays the probabilities back into chunks (pad,
    reshape, slice) for the product with V: each layer is an attention site, and not fused, because its Softmax
    rows are no rows of one Q·Kᵀ and the documented pattern has only pointwise ops between the products."""
    path = WILD / "longformer_sliding_chunks.onnx"
    judged = audit(path, trt="10.8", sm="90", precision="fp16").attention
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == \
        [(False, ("scores_rearranged",))] * LONGFORMER_LAYERS
    model = onnx.load(path, load_external_data=False)
    nodes = {n.name: n for n in model.graph.node}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    for a in judged:
        products = [nodes[name] for name in a.site.nodes if nodes[name].op_type == "Einsum"]
        assert [onnx.helper.get_attribute_value(n.attribute[0]) for n in products] == [b"bcxd,bcyd->bcxy",
                                                                                    b"bcwd,bcdh->bcwh"]
        assert shapes[nodes[a.site.anchor].input[0]][-1] == LONGFORMER_BAND
        moved = {nodes[name].op_type for name in a.site.rearranged}
        assert {"Pad", "ScatterND", "Slice"} <= moved
        # N and H from the projection's head split; S_q and S_kv are not read from the chunked products' axes
        assert (a.site.num_heads, a.site.num_kv_heads, a.site.head_size) == \
            (LONGFORMER_HEADS, LONGFORMER_HEADS, LONGFORMER_HEAD)
        assert (a.site.seq_q, a.site.seq_kv) == (None, None)


def test_longformer_global_token_adds_a_global_attention_whose_scattered_mask_is_unknown() -> None:
    """With a global token each layer's band also takes the scores against the global keys (still rearranged, not
    fused), and the global token attends to all 128 tokens in a second, plain attention whose padded global rows
    are set by an indexed assignment (ScatterND of a constant): the site is found with its heads and keys, and
    its verdict is unknown for the scatter (a mask, but no op of the documented pattern), not fused and not
    rearranged."""
    judged = audit(WILD / "longformer_global_token.onnx", trt="10.8", sm="90", precision="fp16").attention
    assert [a.verdict.conditions for a in judged] == [("scores_rearranged",), ("mask_scattered",)] * LONGFORMER_LAYERS
    assert [a.verdict.fused for a in judged] == [False, None] * LONGFORMER_LAYERS
    for a in judged[1::2]:
        assert (a.site.num_heads, a.site.head_size, a.site.seq_kv) == (LONGFORMER_HEADS, LONGFORMER_HEAD, 128)
        assert len(a.site.scatter_mask) == 1 and not a.site.rearranged


# vit-pytorch DeepViT: 2 layers, 4 heads x 64 (dim_head's default), image 64 / patch 16 = 16 patches + class token
DEEPVIT_LAYERS, DEEPVIT_HEADS, DEEPVIT_HEAD, DEEPVIT_TOKENS = 2, 4, 64, 16 + 1


def test_deepvit_reattention_mixes_heads_after_the_softmax_and_is_not_fused() -> None:
    """DeepViT's re-attention mixes the probabilities across the heads with an Einsum by a learned [4, 4] matrix and
    a LayerNorm over the heads, between the Softmax and the product with V: each layer is a site, not fused, and
    both ops are the mix."""
    path = WILD / "deepvit_reattention.onnx"
    judged = audit(path, trt="10.8", sm="90", precision="fp16").attention
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in judged] == \
        [(DEEPVIT_HEADS, DEEPVIT_HEAD, DEEPVIT_TOKENS, DEEPVIT_TOKENS)] * DEEPVIT_LAYERS
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == [(False, ("head_mixing",))] * DEEPVIT_LAYERS
    assert all("heads after the Softmax" in a.verdict.reasons[0] for a in judged)
    ops = {n.name: n.op_type for n in onnx.load(path, load_external_data=False).graph.node}
    assert [sorted(ops[name] for name in a.site.head_mix) for a in judged] == \
        [["Einsum", "LayerNormalization"]] * DEEPVIT_LAYERS


# timm convit_tiny shrunk (make_wild_samples.CONVIT_GPSA): depth 3, local_up_to_layer 2 (the first 2 blocks gated
# positional self-attention, the rest plain), embed 192, 4 heads (x 48), image 64 / patch 16 = 16 patches; the class
# token joins before the first plain block
CONVIT_DEPTH, CONVIT_GPSA_BLOCKS, CONVIT_HEADS, CONVIT_HEAD, CONVIT_PATCHES = 3, 2, 4, 48, (64 // 16) ** 2


@pytest.mark.parametrize(("name", "batch"), [("convit_gpsa.onnx", None), ("convit_gpsa.dynamo.onnx", 1)])
def test_convit_gated_positional_attention_is_a_site_that_does_not_fuse(name: str, batch: int | None) -> None:
    """GPSA: (1 - sigmoid(gate))·softmax(Q·Kᵀ·scale) + sigmoid(gate)·softmax(positional map), divided by its sum
    over the keys, then ·V. Each GPSA block is a site found from the Softmax of Q·Kᵀ (the positional Softmax, of
    no query or key, is none), not fused on any GPU: between the Softmax and BMM2 the probabilities are gated,
    added to a second map and renormalized, which the documented pattern does not have. The plain blocks are
    plain sites and fuse on SM90. TorchScript (batch dynamic, the positional branch computed) and dynamo (batch
    1, the positional branch folded into initializers) alike."""
    path = WILD / name
    judged = audit(path, trt="10.8", sm="90", precision="fp16").attention
    gpsa, plain = judged[:CONVIT_GPSA_BLOCKS], judged[CONVIT_GPSA_BLOCKS:]
    assert len(plain) == CONVIT_DEPTH - CONVIT_GPSA_BLOCKS
    assert [(a.site.batch, a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in gpsa] == \
        [(batch, CONVIT_HEADS, CONVIT_HEAD, CONVIT_PATCHES, CONVIT_PATCHES)] * CONVIT_GPSA_BLOCKS
    assert [(a.verdict.fused, a.verdict.conditions) for a in gpsa] == \
        [(False, ("probabilities_combined",))] * CONVIT_GPSA_BLOCKS
    assert all("gate" in a.verdict.reasons[0] and "second map" in a.verdict.reasons[0] and
               "renormalized" in a.verdict.reasons[0] for a in gpsa)
    # the combining ops are the gate's Mul, the Add of the positional map and the Div by the sum over the keys
    ops = {n.name: n.op_type for n in onnx.load(path, load_external_data=False).graph.node}
    assert [[(ops[n], kind) for n, kind in a.site.combined] for a in gpsa] == \
        [[("Mul", "gate"), ("Add", "map"), ("Div", "renormalized")]] * CONVIT_GPSA_BLOCKS
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv, a.site.combined, a.verdict.fused)
            for a in plain] == [(CONVIT_HEADS, CONVIT_HEAD, CONVIT_PATCHES + 1, CONVIT_PATCHES + 1, (), True)] * \
        (CONVIT_DEPTH - CONVIT_GPSA_BLOCKS)
    # no GPU fuses GPSA, not even one outside the tables, where plain attention is unknown
    judged = audit(path, trt="10.8", sm="70", precision="fp16").attention
    assert [a.verdict.fused for a in judged] == \
        [False] * CONVIT_GPSA_BLOCKS + [None] * (CONVIT_DEPTH - CONVIT_GPSA_BLOCKS)
