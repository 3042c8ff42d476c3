#!/usr/bin/env python3
"""Make the "graphs from the wild" samples in samples/wild/ (torch side; run with the torch venv).

Run from the repository root:

    python samples/wild/make_wild_samples.py            # everything made here
    python samples/wild/make_wild_samples.py --only old_zoo_resnet50
    python samples/wild/make_wild_samples.py --list

The TensorFlow samples come from ``make_tf_samples.py`` (run with the TensorFlow + tf2onnx venv).
Every model is built from an architecture with random weights (``torch.manual_seed(0)``), exported
by the real tool, then saved structure-only: float tensors of 1 KiB or more go to an external
``<file>.data`` that is deleted afterwards (git-ignored), so shapes, dtypes, op structure and small
constants stay. How each file was made, and what was rewritten with ``onnx.helper`` because no tool
here writes it, is in each builder's docstring and in samples/README.md ("Graphs from the wild").
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {}
# Builders whose integer/boolean external tensors stay in a kept NAME.onnx.ints file (names of those tensors).
KEEP_INTS: dict[str, set[str]] = {}


def builder(name: str) -> Callable[[Callable[[], onnx.ModelProto]], Callable[[], onnx.ModelProto]]:
    def deco(fn: Callable[[], onnx.ModelProto]) -> Callable[[], onnx.ModelProto]:
        BUILDERS[name] = fn
        return fn
    return deco


def save_structure_only(model: onnx.ModelProto, name: str) -> Path:
    """Save with floats >= 1 KiB as external data, then drop that data (structure-only sample)."""
    path = HERE / f"{name}.onnx"
    data = f"{name}.onnx.data"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024, convert_attribute=True)
    (HERE / data).unlink(missing_ok=True)
    return path


def torchscript_export(model, args: tuple, opset: int, **kw) -> onnx.ModelProto:
    import torch
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, dynamo=False, opset_version=opset, **kw)
    return onnx.load_from_string(buf.getvalue())


def timm_export(name: str, size: int, dynamo: bool = False, prepare: Callable[[Any], None] | None = None,
                **config: Any) -> onnx.ModelProto:
    """timm ``name`` (random weights: seed 0, ``config`` passed to ``create_model``, then ``prepare`` applied to
    the module when given) in eval mode on one [1,3,size,size] image, ``input`` -> ``logits``: the TorchScript
    exporter at opset 17, or the dynamo exporter at opset 18 (its weights written to a temporary external-data
    file and loaded back)."""
    import tempfile

    import timm
    import torch

    torch.manual_seed(0)
    net = timm.create_model(name, **config).eval()
    if prepare is not None:
        prepare(net)
    if not dynamo:
        return torchscript_export(net, (torch.randn(1, 3, size, size),), 17, input_names=["input"],
                                  output_names=["logits"])
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(net, (torch.randn(1, 3, size, size),), path, dynamo=True, opset_version=18,
                          external_data=True, input_names=["input"], output_names=["logits"])
        return onnx.load(path)


@builder("swinv2_cr_meta_mlp")
def swinv2_cr_meta_mlp() -> onnx.ModelProto:
    """timm ``swinv2_cr_tiny_ns_224`` shrunk to [1,3,64,64], embed 32, depths 2-2, heads 2-4, window 8 (random
    weights), TorchScript exporter, opset 17: cosine attention divided by a learned per-head logit scale, and a
    position bias that is a two-layer MLP (Gemm, ReLU, Gemm) over the log-spaced relative coordinates of every
    pair of the window's 64 tokens, computed from weights with no table read; odd blocks add the shifted-window
    mask."""
    return timm_export("swinv2_cr_tiny_ns_224", 64, img_size=64, window_size=8, embed_dim=32, depths=(2, 2),
                       num_heads=(2, 4))


# ConViT shrunk: 3 blocks, the first 2 gated positional self-attention (GPSA), the last plain self-attention.
CONVIT_GPSA = {"img_size": 64, "depth": 3, "local_up_to_layer": 2}


def _dynamo_text_export(net: Any) -> onnx.ModelProto:
    """A transformers text model (``input_ids`` and ``attention_mask`` [batch, sequence <= 32], both dynamic, traced at
    [1, 16]) through the dynamo exporter at opset 18, its weights through a temporary external-data file."""
    import tempfile

    import torch
    from torch.export import Dim

    batch, seq = Dim("batch"), Dim("sequence", max=32)
    args = (torch.randint(0, 128, (1, 16)), torch.ones(1, 16, dtype=torch.long))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(_text_hidden_states(net), args, path, dynamo=True, opset_version=18, external_data=True,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}})
        return onnx.load(path)


@builder("mpt_alibi_dynamo")
def mpt_alibi_dynamo() -> onnx.ModelProto:
    """transformers ``MptModel`` (2 layers, d_model 64, 4 heads x 16, vocabulary 128), dynamo exporter, opset 18,
    batch and sequence dynamic. MPT adds its ALiBi bias ([1, 4, 1, S_kv]: a slope per head times the key
    position) to the scores, then masks them with the causal + padding mask ([B, 1, S_q, S_kv]): two terms."""
    import torch
    from transformers import MptConfig, MptModel

    torch.manual_seed(0)
    # max_seq_len 32: the ALiBi table the exporter folds ([4, 1, 32] floats, 512 bytes) stays in the file
    cfg = MptConfig(d_model=64, n_heads=4, n_layers=2, vocab_size=128, max_seq_len=32)
    return _dynamo_text_export(MptModel(cfg).eval())


@builder("falcon_alibi_dynamo")
def falcon_alibi_dynamo() -> onnx.ModelProto:
    """transformers ``FalconModel`` with ``alibi=True`` (2 layers, hidden 64, 4 heads x 16, vocabulary 128,
    parallel attention, multi-head K/V), dynamo exporter, opset 18, batch and sequence dynamic. Falcon adds its
    ALiBi bias ([B, 4, 1, S_kv]) into the causal + padding mask before the scores: one [B, 4, S_q, S_kv] term."""
    import torch
    from transformers import FalconConfig, FalconModel

    torch.manual_seed(0)
    cfg = FalconConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=2, vocab_size=128, alibi=True,
                       new_decoder_architecture=False, multi_query=False, parallel_attn=True, bias=True)
    return _dynamo_text_export(FalconModel(cfg).eval())


@builder("convit_gpsa")
def convit_gpsa() -> onnx.ModelProto:
    """timm ``convit_tiny`` (random weights) shrunk to 3 blocks (``depth=3``, ``local_up_to_layer=2``) on
    [batch,3,64,64] (16 patches, embed 192, 4 heads x 48), TorchScript exporter, opset 17, the batch dynamic.
    Blocks 0 and 1 are GPSA: (1 - sigmoid(gate))·softmax(Q·Kᵀ·scale) + sigmoid(gate)·softmax(pos_proj(rel)),
    divided by its sum over the keys, then ·V (the positional Softmax reads the relative indices expanded to the
    batch); block 2 is plain attention over the 16 patches and the class token."""
    import timm
    import torch

    torch.manual_seed(0)
    net = timm.create_model("convit_tiny", **CONVIT_GPSA).eval()
    return torchscript_export(net, (torch.randn(1, 3, 64, 64),), 17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


@builder("convit_gpsa.dynamo")
def convit_gpsa_dynamo() -> onnx.ModelProto:
    """The same model, [1,3,64,64], dynamo exporter, opset 18: its optimizer folds the positional branch (the
    gate's two factors and sigmoid(gate)·softmax(pos) become initializers), the GPSA blocks keep the Softmax of
    Q·Kᵀ, the gate's Mul, the Add of the folded map and the renormalization."""
    return timm_export("convit_tiny", 64, dynamo=True, **CONVIT_GPSA)


def _random_grn(net: Any) -> None:
    """Random GRN gamma and beta: timm starts both at zero, and the dynamo exporter then stores the two equal
    tensors once; trained ones differ."""
    import torch

    with torch.no_grad():
        for name, param in net.named_parameters():
            if ".grn." in name:
                param.normal_(0.0, 0.1)


@builder("convnextv2_atto_grn")
def convnextv2_atto_grn() -> onnx.ModelProto:
    """timm ``convnextv2_atto`` (random weights, GRN gamma and beta drawn at random) on [1,3,64,64], TorchScript
    exporter, opset 17: stages of 2-2-6-2 blocks (dims 40-80-160-320), each a depthwise 7x7 convolution,
    LayerNorm2d (Transpose, LayerNormalization, Transpose), 1x1 convolution, GELU (Erf form), global response
    normalization and 1x1 convolution. The exporter writes GRN's ``addcmul(beta, gamma, x * Nx)`` as
    Mul(gamma, .), a Mul by addcmul's value 1, then Add(beta, .)."""
    return timm_export("convnextv2_atto", 64, prepare=_random_grn)


@builder("convnextv2_atto_grn.dynamo")
def convnextv2_atto_grn_dynamo() -> onnx.ModelProto:
    """The same model, dynamo exporter, opset 18: GRN's affine is Mul(gamma, .) then Add(beta, .), with no Mul
    by 1. Each node's Python stack trace and FX node text (pkg.torch.onnx.stack_trace, .fx_node; 85% of the
    file) are dropped; its module namespace and name scopes stay."""
    model = timm_export("convnextv2_atto", 64, dynamo=True, prepare=_random_grn)
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key not in ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node")]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    return model


@builder("levit_128s_value_heads")
def levit_128s_value_heads() -> onnx.ModelProto:
    """timm ``levit_128s`` (random weights) on [1,3,112,112] (``img_size=112``: 7x7, 4x4 and 2x2 token grids),
    TorchScript exporter, opset 17: 3 stages of 2, 3 and 4 attention blocks (4, 6, 8 heads; key_dim 16, values
    attn_ratio 2 x 16 = 32 wide) and 2 subsampling attentions (8 and 16 heads; queries from the subsampled grid,
    values 4 x 16 = 64 wide), each with its learned attention bias; Hardswish activations, BatchNorm folded
    into the linear layers' Conv/MatMul."""
    return timm_export("levit_128s", 112, img_size=112)


# transformers SamVisionConfig for the SAM samples: 128x128 image, patch 16 (an 8x8 grid), hidden 64, 2 heads x 32;
# layer 0 attends in 4x4 windows (4 windows of 16 tokens), layer 1 globally (64 tokens); use_rel_pos (default on)
# adds the decomposed relative positions q·R_h and q·R_w to the scores of both.
SAM_RELPOS = {"image_size": 128, "patch_size": 16, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "mlp_dim": 128, "window_size": 4, "global_attn_indexes": [1], "output_channels": 32}


def _sam_vision_encoder() -> Any:
    import torch
    from transformers import SamVisionConfig, SamVisionModel

    torch.manual_seed(0)
    return SamVisionModel(SamVisionConfig(**SAM_RELPOS)).eval()


@builder("hf_sam_vision_relpos")
def hf_sam_vision_relpos() -> onnx.ModelProto:
    """transformers ``SamVisionModel`` (random weights; ``SAM_RELPOS``: a windowed and a global attention layer,
    both with SAM's decomposed relative positions: einsum of the queries with R_h and with R_w, added to the
    scores), [1,3,128,128], TorchScript exporter, opset 17 (SAM's attention is written out: MatMul, Softmax, MatMul)."""
    import torch

    return torchscript_export(_image_hidden_states(_sam_vision_encoder()), (torch.randn(1, 3, 128, 128),), 17,
                              input_names=["pixel_values"], output_names=["last_hidden_state"])


@builder("hf_sam_vision_relpos.dynamo")
def hf_sam_vision_relpos_dynamo() -> onnx.ModelProto:
    """The same model, dynamo exporter, opset 18: its optimizer folds the gathered R_h and R_w tables into
    initializers, so the relative-position terms are einsums of the queries with constants."""
    import tempfile

    import torch

    # without no_grad the exporter's decomposition fails on SAM's window un-partition (a view of a permuted tensor)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(_image_hidden_states(_sam_vision_encoder()), (torch.randn(1, 3, 128, 128),), path,
                          dynamo=True, opset_version=18, external_data=True, input_names=["pixel_values"],
                          output_names=["last_hidden_state"])
        return onnx.load(path)


@builder("conv_bn_relu_opset8")
def conv_bn_relu_opset8() -> onnx.ModelProto:
    """A small convolutional classifier (Conv 3->8 3x3, BatchNorm, ReLU, global average pool, Flatten, Linear
    8->4; random weights) on [1,3,16,16], TorchScript exporter at opset 8, the oldest it still writes: below
    the opset 9 that TensorRT 10.0's parser documents as its minimum (TRT005)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4)).eval()
    return torchscript_export(net, (torch.randn(1, 3, 16, 16),), 8, input_names=["input"], output_names=["logits"])


# --------------------------------------------------------------------------------------------
# (a) old model-zoo style ResNet-50
# --------------------------------------------------------------------------------------------

@builder("old_zoo_resnet50")
def old_zoo_resnet50() -> onnx.ModelProto:
    """torchvision ResNet-50, written the way 2018 model-zoo (Caffe2-converted) files look.

    Made by the real TorchScript exporter at opset 8 (``do_constant_folding=False``,
    ``keep_initializers_as_inputs=True``): that already gives IR 3, every initializer listed as a
    graph input, and 53 unfolded ``BatchNormalization`` nodes. ``onnx.version_converter`` then takes
    it to opset 9 (``ConstantOfShape`` is an opset-9 op) and the IR version is kept at 3. What no tool
    here writes is rewritten with ``onnx.helper``, as the Caffe2 converter wrote it:

    * every BatchNormalization mean and variance comes from ``ConstantOfShape`` (value 0 / 1; the
      values of an untrained torchvision BatchNorm2d are exactly these) fed by a ``Constant`` shape;
    * the classifier's Gemm weight and bias come from ``Constant`` nodes instead of initializers;
    * the 16 residual ``Add`` nodes become ``Sum`` (Caffe2's residual op);
    * a final ``Softmax`` (the zoo's ``gpu_0/softmax_1`` output), input named ``gpu_0/data_0``.
    """
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    m = torchscript_export(net, (x,), 8, do_constant_folding=False, keep_initializers_as_inputs=True,
                           training=torch.onnx.TrainingMode.EVAL,
                           input_names=["gpu_0/data_0"], output_names=["gpu_0/fc_1"])
    assert m.ir_version == 3, m.ir_version
    m = onnx.version_converter.convert_version(m, 9)
    m.ir_version = 3
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    drop: set[str] = set()
    nodes: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type == "BatchNormalization":
            channels = numpy_helper.to_array(inits[node.input[1]]).shape[0]
            for slot, fill in ((3, 0.0), (4, 1.0)):
                old = node.input[slot]
                shape_name = f"{old}_shape"
                nodes.append(helper.make_node(
                    "Constant", [], [shape_name], name=f"{shape_name}_const",
                    value=numpy_helper.from_array(np.array([channels], dtype=np.int64), shape_name)))
                nodes.append(helper.make_node(
                    "ConstantOfShape", [shape_name], [old], name=f"{old}_fill",
                    value=helper.make_tensor(f"{old}_value", TensorProto.FLOAT, [1], [fill])))
                drop.add(old)
        elif node.op_type == "Gemm":
            for name in node.input[1:]:
                nodes.append(helper.make_node("Constant", [], [name], name=f"{name}_const",
                                              value=inits[name]))
                drop.add(name)
        elif node.op_type == "Add":
            node = helper.make_node("Sum", list(node.input), list(node.output), name=node.name.replace("Add", "Sum"))
        nodes.append(node)
    out = g.output[0].name
    nodes.append(helper.make_node("Softmax", [out], ["gpu_0/softmax_1"], name="softmax_1", axis=1))
    del g.node[:]
    g.node.extend(nodes)
    kept = [t for t in g.initializer if t.name not in drop]
    del g.initializer[:]
    g.initializer.extend(kept)
    inputs = [i for i in g.input if i.name not in drop]
    del g.input[:]
    g.input.extend(inputs)
    g.output[0].name = "gpu_0/softmax_1"
    m.producer_name, m.producer_version = "onnx-caffe2", "0.1"
    onnx.checker.check_model(m)
    onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return m


# --------------------------------------------------------------------------------------------
# (c) onnxruntime quantizer, QDQ format
# --------------------------------------------------------------------------------------------

@builder("ort_qdq_mobilenet_v2")
def ort_qdq_mobilenet_v2() -> onnx.ModelProto:
    """torchvision ``mobilenet_v2`` (TorchScript, opset 17, [1,3,224,224]) quantized by onnxruntime's
    ``quantize_static`` in QDQ format, symmetric INT8 activations and weights (``QuantType.QInt8``,
    ``ActivationSymmetric``/``WeightSymmetric``, per-channel weights), calibrated on 4 random inputs.
    The quantizer writes ``Conv -> Q -> DQ -> Clip -> Q -> DQ`` (ReLU6 exported as Clip).
    """
    import tempfile

    import torch
    import torchvision
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v2(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    fp32 = torchscript_export(net, (x,), 17, input_names=["input"], output_names=["logits"])

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.items = iter([{"input": rng.standard_normal((1, 3, 224, 224), np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "qdq.onnx")
        onnx.save(fp32, src)
        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, per_channel=True,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        return onnx.load(dst)


# --------------------------------------------------------------------------------------------
# (d) onnxruntime.transformers optimizer output (com.microsoft ops)
# --------------------------------------------------------------------------------------------

def _bert_export(opset: int = 17) -> onnx.ModelProto:
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=256, num_hidden_layers=2, num_attention_heads=4, intermediate_size=1024,
                     vocab_size=1000, max_position_embeddings=128)
    cfg._attn_implementation = "eager"
    net = BertModel(cfg, add_pooling_layer=False).eval()

    class Wrap(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = net

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.randint(0, 1000, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.int64)
    types = torch.zeros(1, 128, dtype=torch.int64)
    return torchscript_export(Wrap(), (ids, mask, types), opset,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"],
                              dynamic_axes={n: {0: "batch", 1: "sequence"} for n in
                                            ("input_ids", "attention_mask", "token_type_ids")})


@builder("ort_optimized_bert")
def ort_optimized_bert() -> onnx.ModelProto:
    """transformers ``BertModel`` (2 layers, hidden 256, 4 heads, eager attention; TorchScript export,
    opset 17, dynamic batch/sequence) rewritten by ``onnxruntime.transformers.optimizer.optimize_model
    (model_type="bert", num_heads=4, hidden_size=256)`` with ``enable_gelu_approximation=True``:
    the graph then holds com.microsoft ``Attention``, ``SkipLayerNormalization``,
    ``EmbedLayerNormalization`` and ``FastGelu``, which TensorRT's ONNX parser does not know.
    """
    import tempfile

    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    opts = FusionOptions("bert")
    opts.enable_gelu_approximation = True
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "bert.onnx")
        onnx.save(_bert_export(), src)
        opt = optimize_model(src, model_type="bert", num_heads=4, hidden_size=256, optimization_options=opts)
        return opt.model


@builder("ort_matmul_nbits_mixtral")
def ort_matmul_nbits_mixtral() -> onnx.ModelProto:
    """transformers ``MixtralModel`` (2 layers, hidden 64, 4 heads / 2 KV heads x 16, 4 experts, top-2 routing,
    SDPA attention, the experts' ``batched_mm`` implementation; config built in code, random weights) for
    ``input_ids`` and a padding ``attention_mask`` [2, 16], TorchScript opset 17, static shapes, then
    onnxruntime's ``MatMulNBitsQuantizer`` (4 bits, block 16, symmetric): every 2-D weight MatMul becomes a
    com.microsoft ``MatMulNBits``, whose output ONNX's shape inference does not type (Q/K/V projections,
    o_proj, the router and the shared expert MatMuls)."""
    import torch
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from transformers import MixtralConfig, MixtralModel
    torch.manual_seed(0)
    cfg = MixtralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, vocab_size=100, max_position_embeddings=64, num_local_experts=4,
                        num_experts_per_tok=2, sliding_window=None)
    cfg._attn_implementation = "sdpa"
    cfg._experts_implementation = "batched_mm"
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 12:] = 0
    fp32 = torchscript_export(_text_hidden_states(MixtralModel(cfg)), (ids, mask), 17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])
    quantizer = MatMulNBitsQuantizer(fp32, block_size=16, is_symmetric=True, bits=4)
    quantizer.process()
    return quantizer.model.model


@builder("deberta_v2_disentangled")
def deberta_v2_disentangled() -> onnx.ModelProto:
    """transformers ``DebertaV2Model`` (2 layers, hidden 64, 4 heads x 16, relative attention with
    ``pos_att_type=["p2c", "c2p"]``, 8 position buckets; config built in code, random weights) for
    ``input_ids`` and a padding ``attention_mask`` [2, 16], TorchScript opset 17. Each layer's scores add
    the content-to-position term (Q times the projected relative embeddings) and the position-to-content
    term (K times them), each gathered by relative distance: two more products of Q and K."""
    import torch
    from transformers import DebertaV2Config, DebertaV2Model
    torch.manual_seed(0)
    cfg = DebertaV2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                          vocab_size=100, max_position_embeddings=64, relative_attention=True, position_buckets=8,
                          pos_att_type=["p2c", "c2p"])
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 12:] = 0
    return torchscript_export(_text_hidden_states(DebertaV2Model(cfg)), (ids, mask), 17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])


@builder("modernbert_local_global")
def modernbert_local_global() -> onnx.ModelProto:
    """transformers ``ModernBertModel`` (3 layers, hidden 64, 4 heads x 16, ``global_attn_every_n_layers=3``,
    ``local_attention=8``, SDPA; config built in code, random weights) for ``input_ids`` and a padding
    ``attention_mask`` [2, 16], TorchScript opset 17: layer 0 attends globally, layers 1 and 2 locally (each
    token sees the 4 tokens either side of it, a two-sided band). Saved with the float weights external (deleted)
    and every integer tensor inline, so the band's position distances stay in the file."""
    import torch
    from transformers import ModernBertConfig, ModernBertModel
    torch.manual_seed(0)
    cfg = ModernBertConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128,
                           vocab_size=100, max_position_embeddings=64, global_attn_every_n_layers=3,
                           local_attention=8, pad_token_id=0, bos_token_id=1, eos_token_id=2, sep_token_id=2,
                           cls_token_id=1)
    cfg._attn_implementation = "sdpa"
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 12:] = 0
    KEEP_INTS["modernbert_local_global"] = set()  # floats external; the band's INT64 distances stay inline
    return torchscript_export(_text_hidden_states(ModernBertModel(cfg)), (ids, mask), 17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])


# --------------------------------------------------------------------------------------------
# (e) unsorted nodes + duplicate initializers
# --------------------------------------------------------------------------------------------

@builder("unsorted_dup_init_resnet18")
def unsorted_dup_init_resnet18() -> onnx.ModelProto:
    """torchvision ``resnet18`` (TorchScript export, opset 17, [1,3,224,224]), then with ``onnx.helper``
    (no exporter here writes this; hand-edited and merged files, and files written by some graph
    tools, do): the node list reversed within each residual stage (so consumers come before their
    producers) and every initializer read by the first convolution listed twice. onnxruntime runs
    this file; TensorRT's ONNX parser sorts the nodes before importing.
    """
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    m = torchscript_export(net, (torch.randn(1, 3, 224, 224),), 17, input_names=["input"],
                           output_names=["logits"])
    g = m.graph
    nodes = list(g.node)
    # deterministic disorder: reverse the body between the stem and the head
    body = nodes[4:-3]
    ordered = nodes[:4] + body[::-1] + nodes[-3:]
    del g.node[:]
    g.node.extend(ordered)
    first_conv = next(n for n in nodes if n.op_type == "Conv")
    inits = {t.name: t for t in g.initializer}
    g.initializer.extend([inits[i] for i in first_conv.input if i in inits])
    return m


# --------------------------------------------------------------------------------------------
# (f) dynamic batch/sequence attention with past key/values
# --------------------------------------------------------------------------------------------

def _with_past(net, layers: int, kv_heads: int, head: int, name: str) -> onnx.ModelProto:
    """TorchScript export of a decoder step with ``past_key_values`` given as inputs (one K and one V
    [batch, kv_heads, past, head] per layer, wrapped in transformers' ``DynamicCache``), the present
    K/V as outputs; batch, sequence and past length dynamic."""
    import torch
    from transformers import DynamicCache

    class Step(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = net

        def forward(self, input_ids, attention_mask, *past):
            cache = DynamicCache()
            for i in range(layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache,
                             use_cache=True)
            present = out.past_key_values
            flat = []
            for i in range(layers):
                layer = present.layers[i]
                flat += [layer.keys, layer.values]
            return (out.last_hidden_state, *flat)

    batch, seq, past_len = 2, 8, 16
    ids = torch.randint(0, 1000, (batch, seq))
    mask = torch.ones(batch, past_len + seq, dtype=torch.int64)
    past = [torch.randn(batch, kv_heads, past_len, head) for _ in range(2 * layers)]
    past_names = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
            "last_hidden_state": {0: "batch", 1: "sequence"}}
    axes.update({n: {0: "batch", 2: "past_sequence"} for n in past_names})
    axes.update({n: {0: "batch", 2: "total_sequence"} for n in present_names})
    return torchscript_export(Step().eval(), (ids, mask, *past), 17,
                              input_names=["input_ids", "attention_mask", *past_names],
                              output_names=["last_hidden_state", *present_names], dynamic_axes=axes)


@builder("gpt2_past_kv_dynamic")
def gpt2_past_kv_dynamic() -> onnx.ModelProto:
    """transformers ``GPT2Model`` (2 layers, n_embd 256, 4 heads x 64, eager attention) exported with
    TorchScript (opset 17) as one decoding step with past key/values inputs; dynamic batch,
    sequence and past length."""
    import torch
    from transformers import GPT2Config, GPT2Model
    torch.manual_seed(0)
    cfg = GPT2Config(n_embd=256, n_layer=2, n_head=4, vocab_size=1000, n_positions=256)
    cfg._attn_implementation = "eager"
    return _with_past(GPT2Model(cfg).eval(), 2, 4, 64, "gpt2")


@builder("llama_past_kv_dynamic")
def llama_past_kv_dynamic() -> onnx.ModelProto:
    """transformers ``LlamaModel`` (2 layers, hidden 256, 8 heads / 2 KV heads x 32, SDPA attention)
    exported with TorchScript (opset 17) as one decoding step with past key/values inputs
    [batch, 2, past, 32]; dynamic batch, sequence and past length."""
    import torch
    from transformers import LlamaConfig, LlamaModel
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=8,
                      num_key_value_heads=2, vocab_size=1000, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    return _with_past(LlamaModel(cfg).eval(), 2, 2, 32, "llama")


@builder("mistral_sliding_window_past")
def mistral_sliding_window_past() -> onnx.ModelProto:
    """transformers ``MistralModel`` (2 layers, hidden 128, 4 heads / 2 KV heads x 32, FFN 256, eager
    attention, ``sliding_window=8``) exported with TorchScript (opset 17) as one decoding step with past
    key/values [batch, 2, past, 32]; dynamic batch, sequence and past length. Its mask is the causal
    triangle cut to a band of 8 keys (``kv_idx > q_idx - 8``) and the padding ``attention_mask``: two
    crossed position comparisons, evaluated only once the shapes are given."""
    import torch
    from transformers import MistralConfig, MistralModel
    torch.manual_seed(0)
    cfg = MistralConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, vocab_size=1000, max_position_embeddings=256, sliding_window=8)
    cfg._attn_implementation = "eager"
    return _with_past(MistralModel(cfg).eval(), 2, 2, 32, "mistral")


@builder("bloom_alibi")
def bloom_alibi() -> onnx.ModelProto:
    """transformers ``BloomModel`` (2 layers, hidden 128, 4 heads x 32, vocabulary 1000), ``input_ids`` and
    ``attention_mask`` [1,32], TorchScript exporter, opset 17. BLOOM's attention is a rank-3 ``baddbmm``
    ([batch*heads, S, 32]) onto its ALiBi bias ([batch*heads, 1, S]: per-head slopes times the running sum
    of the attention mask, a ``CumSum``); the scores are viewed as [batch, heads, S, S] to add the causal
    and padding mask."""
    import torch
    from transformers import BloomConfig, BloomModel
    torch.manual_seed(0)
    cfg = BloomConfig(hidden_size=128, n_layer=2, n_head=4, vocab_size=1000)
    net = BloomModel(cfg).eval()
    args = (torch.randint(0, 1000, (1, 32)), torch.ones(1, 32, dtype=torch.long))
    return torchscript_export(_text_hidden_states(net), args, 17, input_names=["input_ids", "attention_mask"],
                              output_names=["last_hidden_state"])


@builder("ort_qdq_bert_matmul")
def ort_qdq_bert_matmul() -> onnx.ModelProto:
    """transformers ``BertModel`` (2 layers, hidden 128, 4 heads x 32, FFN 256, vocabulary 1000, eager
    attention, no pooler; TorchScript exporter, opset 17, ``input_ids``/``attention_mask`` [1,32]) through
    onnxruntime's ``quantize_static`` in QDQ format with ``op_types_to_quantize=["MatMul"]``, symmetric INT8
    activations and per-channel weights, calibrated on 3 random token sequences. The quantizer also
    quantizes the two activation-by-activation MatMuls of each attention: Q/DQ on Q, Kᵀ, V, on the
    Softmax output, and on BMM1's output (the scores) before the scale and the mask."""
    import tempfile

    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
                     vocab_size=1000, attn_implementation="eager")
    net = BertModel(cfg, add_pooling_layer=False).eval()
    args = (torch.randint(0, 1000, (1, 32)), torch.ones(1, 32, dtype=torch.long))
    fp32 = torchscript_export(_text_hidden_states(net), args, 17, input_names=["input_ids", "attention_mask"],
                              output_names=["last_hidden_state"])

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.items = iter([{"input_ids": rng.integers(0, 1000, (1, 32)).astype(np.int64),
                                "attention_mask": np.ones((1, 32), np.int64)} for _ in range(3)])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "qdq.onnx"
        onnx.save(fp32, src)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        return onnx.load(dst)


@builder("beit_relative_bias")
def beit_relative_bias() -> onnx.ModelProto:
    """transformers ``BeitModel`` (2 layers, hidden 128, 4 heads x 32, FFN 256, image 64, patch 16: 16
    patches + CLS = 17 tokens, ``use_relative_position_bias=True``), TorchScript exporter, opset 17,
    ``pixel_values`` [1,3,64,64]. Each layer resizes its relative-position table (``Resize``, for
    interpolated position encodings) and gathers the [4, 17, 17] bias from it with an index built by
    ``ScatterND``: a learned bias computed from weights only, no mask."""
    import torch
    from transformers import BeitConfig, BeitModel

    torch.manual_seed(0)
    cfg = BeitConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
                     image_size=64, patch_size=16, use_relative_position_bias=True)
    cfg._attn_implementation = "eager"
    net = BeitModel(cfg).eval()

    return _image_hidden_states_export(net)


# --------------------------------------------------------------------------------------------
# (g) torchvision Swin-T
# --------------------------------------------------------------------------------------------

@builder("swin_t")
def swin_t() -> onnx.ModelProto:
    """torchvision ``swin_t(weights=None)`` (depths 2-2-6-2 = 12 shifted-window attention blocks,
    heads 3-6-12-24, every head 32 wide, window 7x7), TorchScript export, opset 17, [1,3,224,224].
    The window partition pads to a multiple of the window with a pad computed from the traced
    shape (``Shape``/``Sub``/``Mod`` arithmetic), and the attention reshapes use those values."""
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.swin_t(weights=None).eval()
    return torchscript_export(net, (torch.randn(1, 3, 224, 224),), 17, input_names=["input"],
                              output_names=["logits"])


# --------------------------------------------------------------------------------------------
# (h) exporter noise inside GELU / LayerNorm / RMSNorm
# --------------------------------------------------------------------------------------------

@builder("fp16_noise_block")
def fp16_noise_block() -> onnx.ModelProto:
    """A half-precision block written the way many model files write their norms and activations
    (hand-written LayerNorm with ``.pow(2)``, T5/Llama-style RMSNorm with a float32 upcast,
    erf-GELU computed in float32 and cast back), exported with TorchScript at opset 17 from
    ``.half()`` modules: the exporter writes the ``Cast`` nodes of the fp32 upcasts and the casts
    back to fp16, and an ``Identity`` for the RMSNorm weight it deduplicated. Then, with
    ``onnx.helper`` (seen in files that passed through graph tools; no exporter here writes it
    into these spots): an ``Identity`` inserted in front of the GELU and a no-op ``Cast``
    (float32 -> float32) right after the ``Erf``, and the LayerNorm's ``Pow`` exponent made an fp32
    ``Constant`` cast to fp16 (TorchScript writes it as an fp16 ``Constant``).
    """
    import torch
    import torch.nn as nn
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_w = nn.Parameter(torch.ones(256))
            self.ln_b = nn.Parameter(torch.zeros(256))
            self.rms_w = nn.Parameter(torch.ones(256))
            self.fc1 = nn.Linear(256, 1024)
            self.fc2 = nn.Linear(1024, 256)

        def forward(self, x):
            mean = x.mean(-1, keepdim=True)
            var = (x - mean).pow(2).mean(-1, keepdim=True)
            h = (x - mean) / torch.sqrt(var + 1e-5) * self.ln_w + self.ln_b
            f = self.fc1(h)
            f32 = f.float()
            g = (0.5 * f32 * (1.0 + torch.erf(f32 / math.sqrt(2.0)))).to(f.dtype)
            y = self.fc2(g) + x
            v = y.float().pow(2).mean(-1, keepdim=True)
            y = (y.float() * torch.rsqrt(v + 1e-6)).to(y.dtype)
            return self.rms_w * y

    import math
    net = Block().half().eval()
    m = torchscript_export(net, (torch.randn(1, 128, 256).half(),), 17, input_names=["x"], output_names=["y"])
    g = m.graph
    nodes = list(g.node)
    erf = next(n for n in nodes if n.op_type == "Erf")
    # GELU input: the Div feeding Erf reads the fp32 copy of fc1's output; read it through an Identity
    div = next(n for n in nodes if erf.input[0] in n.output)
    gelu_in = div.input[0]
    producer = next(n for n in nodes if gelu_in in n.output)
    ident = helper.make_node("Identity", [gelu_in], [gelu_in + "_identity"], name="noise/Identity")
    for n in nodes:
        for i, name in enumerate(n.input):
            if name == gelu_in:
                n.input[i] = ident.output[0]
    nodes.insert(nodes.index(producer) + 1, ident)
    erf_out = erf.output[0]
    erf.output[0] = erf_out + "_pre"
    cast = helper.make_node("Cast", [erf.output[0]], [erf_out], name="noise/Cast_after_Erf", to=TensorProto.FLOAT)
    nodes.insert(nodes.index(erf) + 1, cast)
    # LayerNorm variance: the fp16 exponent of Pow comes through a Cast from an fp32 constant
    pow_ = next(n for n in nodes if n.op_type == "Pow")
    exp32 = helper.make_node("Constant", [], ["noise/exponent_fp32"], name="noise/exponent_fp32",
                             value=numpy_helper.from_array(np.array(2.0, np.float32), "noise/exponent_fp32"))
    exp16 = helper.make_node("Cast", ["noise/exponent_fp32"], ["noise/exponent_fp16"], name="noise/Cast_exponent",
                             to=TensorProto.FLOAT16)
    pow_.input[1] = "noise/exponent_fp16"
    at = nodes.index(pow_)
    nodes[at:at] = [exp32, exp16]
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    return m


def _first_image_detections(make_detector: Callable[..., Any]) -> onnx.ModelProto:
    """A torchvision detector built without weights (``make_detector(weights=None, weights_backbone=None)``),
    in eval mode, TorchScript exporter, opset 17: one image [1,3,320,320] in (``images``), the first image's
    ``boxes``, ``scores`` and ``labels`` out."""
    import torch

    class FirstImage(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_detector(weights=None, weights_backbone=None).eval()

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
            found = self.net(images)[0]
            return found["boxes"], found["scores"], found["labels"]

    torch.manual_seed(0)
    return torchscript_export(FirstImage().eval(), (torch.randn(1, 3, 320, 320),), 17, input_names=["images"],
                              output_names=["boxes", "scores", "labels"])


def _text_hidden_states(net: Any) -> Any:
    """A transformers text model as a module of ``input_ids`` and ``attention_mask`` that returns only its
    ``last_hidden_state`` (what both exporters are given), in eval mode."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.net(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Hidden().eval()


def _image_hidden_states(net: Any) -> Any:
    """A transformers vision model as a module of ``pixel_values`` that returns only its ``last_hidden_state``,
    in eval mode."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.net(pixel_values=pixel_values).last_hidden_state

    return Hidden().eval()


def _image_hidden_states_export(net: Any) -> onnx.ModelProto:
    """:func:`_image_hidden_states` on [1,3,64,64], exported by TorchScript at opset 17."""
    import torch

    return torchscript_export(_image_hidden_states(net), (torch.randn(1, 3, 64, 64),), 17,
                              input_names=["pixel_values"], output_names=["last_hidden_state"])


@builder("ssdlite320_detection")
def ssdlite320_detection() -> onnx.ModelProto:
    """torchvision ``ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)`` in eval mode,
    TorchScript exporter, opset 17, one image [1,3,320,320] (input ``images``), outputs the first image's
    ``boxes``, ``scores`` and ``labels``. The export carries the whole detector: the transform (resize
    to 320x320 whose sizes and padding are computed from the image's shape, including a ``ReduceMax``),
    the MobileNet-v3 backbone with hard-swish, the heads, then post-processing with ``TopK``,
    ``NonZero``, ``NonMaxSuppression`` and an ``If`` (the dynamo exporter does not export it).
    """
    import torchvision

    return _first_image_detections(torchvision.models.detection.ssdlite320_mobilenet_v3_large)


@builder("ort_dynamic_quant_distilbert")
def ort_dynamic_quant_distilbert() -> onnx.ModelProto:
    """transformers ``DistilBertModel`` (2 layers, dim 128, 4 heads, FFN 256, vocabulary 1000, eager
    attention; TorchScript exporter, opset 17, ``input_ids``/``attention_mask`` [1,32]) through onnxruntime's
    ``quantize_dynamic(weight_type=QuantType.QInt8)``: each of the 12 Linear layers becomes a
    ``MatMulInteger`` on INT8 weights, fed by a ``DynamicQuantizeLinear`` per distinct activation (q/k/v
    share one: 4 per layer), and the embedding tables are UINT8 with ``DequantizeLinear`` after the Gather.
    """
    import tempfile

    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.manual_seed(0)
    config = transformers.DistilBertConfig(n_layers=2, dim=128, n_heads=4, hidden_dim=256, vocab_size=1000,
                                           attn_implementation="eager")
    net = transformers.DistilBertModel(config).eval()

    ids = torch.randint(0, 1000, (1, 32))
    fp32 = torchscript_export(_text_hidden_states(net), (ids, torch.ones(1, 32, dtype=torch.long)), 17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "dynq.onnx"
        onnx.save(fp32, src)
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return onnx.load(dst)


@builder("phi_dynamo_external_mask")
def phi_dynamo_external_mask() -> onnx.ModelProto:
    """transformers ``PhiModel`` (2 layers, hidden 128, 4 heads x 32, partial rotary 0.5, FFN 256,
    vocabulary 1000; causal LM with a padding ``attention_mask``), ``input_ids``/``attention_mask`` [1,32],
    dynamo exporter (opset 18, ``external_data=True``, the exporter's default). The exporter folds the causal
    mask into a BOOL initializer [1,1,32,32] and the padding gather into INT64 indices, and writes both to
    the external data file. Saved here as the rest (floats >= 1 KiB to ``.data``, deleted), except that
    the integer and boolean initializers the exporter had put in external data stay external in a small
    file of their own, ``phi_dynamo_external_mask.onnx.ints`` (kept): what an audit next to its data sees.
    """
    import tempfile

    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.PhiConfig(num_hidden_layers=2, hidden_size=128, num_attention_heads=4,
                                    intermediate_size=256, vocab_size=1000, partial_rotary_factor=0.5)
    net = transformers.PhiModel(config).eval()

    args = (torch.randint(0, 1000, (1, 32)), torch.ones(1, 32, dtype=torch.long))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "phi.onnx"
        torch.onnx.export(_text_hidden_states(net), args, path, dynamo=True, opset_version=18, external_data=True,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])
        plain = onnx.load(path, load_external_data=False)
        external = {t.name for t in plain.graph.initializer if t.data_location == TensorProto.EXTERNAL}
        model = onnx.load(path)
    KEEP_INTS["phi_dynamo_external_mask"] = external
    return model


def save_with_int_file(model: onnx.ModelProto, name: str) -> Path:
    """Floats >= 1 KiB to ``NAME.onnx.data`` (deleted); integer/boolean tensors the exporter wrote as
    external data to ``NAME.onnx.ints`` (kept)."""
    from onnx.external_data_helper import set_external_data, write_external_data_tensors

    external = KEEP_INTS.get(name, set())
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
    for t in model.graph.initializer:
        if t.data_type in floats and len(t.raw_data) >= 1024:
            set_external_data(t, f"{name}.onnx.data")
        elif t.name in external and t.data_type not in floats:
            set_external_data(t, f"{name}.onnx.ints")
    write_external_data_tensors(model, str(HERE))
    path = HERE / f"{name}.onnx"
    onnx.save_model(model, str(path))
    (HERE / f"{name}.onnx.data").unlink(missing_ok=True)
    return path


@builder("clip_text_causal")
def clip_text_causal() -> onnx.ModelProto:
    """transformers ``CLIPTextModel`` (2 layers, hidden 128, 4 heads x 32, FFN 256, vocabulary 1000), only
    ``input_ids`` [1,16] (no ``attention_mask``: CLIP's text encoder then applies its causal mask alone),
    TorchScript exporter, opset 17, outputs ``last_hidden_state`` and ``pooler_output``. The exporter
    builds the causal mask from ``Shape(input_ids)``: the token ids shape the mask, their values do not.
    """
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.CLIPTextConfig(num_hidden_layers=2, hidden_size=128, num_attention_heads=4,
                                         intermediate_size=256, vocab_size=1000)  # SDPA attention (default)
    net = transformers.CLIPTextModel(config).eval()

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.net(input_ids=input_ids)
            return out.last_hidden_state, out.pooler_output

    return torchscript_export(Text().eval(), (torch.randint(0, 1000, (1, 16)),), 17, input_names=["input_ids"],
                              output_names=["last_hidden_state", "pooler_output"])


@builder("vitmae_random_masking")
def vitmae_random_masking() -> onnx.ModelProto:
    """transformers ``ViTMAEModel`` (2 layers, hidden 128, 4 heads x 32, FFN 256, image 64, patch 16:
    16 patches, mask ratio 0.75 keeps 4, plus the CLS token: 5 tokens), TorchScript exporter, opset 17,
    ``pixel_values`` [1,3,64,64]. The random masking (``RandomUniformLike``, ``TopK`` as argsort,
    ``GatherElements``) makes the kept length a computed shape, and the Q/K/V views are written
    ``view(*input_shape, -1, head_size)``: the head count is known only once the shapes are.
    """
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTMAEConfig(num_hidden_layers=2, hidden_size=128, num_attention_heads=4,
                                       intermediate_size=256, image_size=64, patch_size=16)
    net = transformers.ViTMAEModel(config).eval()

    return _image_hidden_states_export(net)


@builder("fasterrcnn_mbv3_320")
def fasterrcnn_mbv3_320() -> onnx.ModelProto:
    """torchvision ``fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)`` in eval
    mode, TorchScript exporter, opset 17, one image [1,3,320,320] (input ``images``), outputs the first
    image's ``boxes``, ``scores`` and ``labels`` (the dynamo exporter does not export it). The RPN's
    AnchorGenerator builds its grid with INT32 ``Range`` over sizes computed from the feature maps' shapes;
    then NMS, ``RoiAlign`` (MultiScaleRoIAlign) and an ``If``.
    """
    import torchvision

    return _first_image_detections(torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn)


@builder("detr_resnet_tiny")
def detr_resnet_tiny() -> onnx.ModelProto:
    """transformers ``DetrForObjectDetection`` with a small transformers ResNet backbone (depths 1-1-1-1,
    widths 16-32-64-128, no timm, no pretrained weights), d_model 64, 1 encoder and 1 decoder layer, 4
    heads, 20 queries; TorchScript exporter, opset 17, ``pixel_values`` [1,3,128,128] (no ``pixel_mask``:
    DETR makes an all-ones mask itself and shrinks it to the feature map with ``interpolate``, a
    ``Resize``). Outputs ``logits`` and ``pred_boxes`` (the dynamo exporter does not export it).
    """
    import torch
    import transformers

    torch.manual_seed(0)
    backbone = {"model_type": "resnet", "depths": [1, 1, 1, 1], "hidden_sizes": [16, 32, 64, 128],
                "embedding_size": 16, "out_features": ["stage4"]}
    config = transformers.DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                                     d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
                                     decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                                     num_queries=20)
    net = transformers.DetrForObjectDetection(config).eval()

    class Boxes(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.net(pixel_values=pixel_values)
            return out.logits, out.pred_boxes

    return torchscript_export(Boxes().eval(), (torch.randn(1, 3, 128, 128),), 17, input_names=["pixel_values"],
                              output_names=["logits", "pred_boxes"])


@builder("coatnet_nano.dynamo")
def coatnet_nano_dynamo() -> onnx.ModelProto:
    """timm ``coatnet_nano_rw_224`` (random weights), [1,3,224,224], dynamo exporter, opset 18: its
    transformer stages gather a relative-position bias with an INT64 index buffer, which the exporter
    writes as an initializer read by an ``Unsqueeze``. Saved structure-only, so that index is external
    data (as it is in any export with ``external_data=True`` once it passes the size threshold).
    """
    return timm_export("coatnet_nano_rw_224", 224, dynamo=True)


class _SpeechRecognizer:
    """A speech-style recurrent acoustic model: 40 mel features per frame, two GRU layers of 128, a
    bidirectional LSTM of 64 per direction, and a linear layer to 29 characters."""

    @staticmethod
    def make() -> tuple[object, tuple[object, ...]]:
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.gru = torch.nn.GRU(40, 128, num_layers=2, batch_first=True)
                self.lstm = torch.nn.LSTM(128, 64, batch_first=True, bidirectional=True)
                self.head = torch.nn.Linear(128, 29)

            def forward(self, frames: torch.Tensor) -> torch.Tensor:
                x, _ = self.gru(frames)
                x, _ = self.lstm(x)
                return self.head(x)

        torch.manual_seed(0)
        return Net().eval(), (torch.randn(1, 100, 40),)


@builder("recurrent_speech.torchscript")
def recurrent_speech_torchscript() -> onnx.ModelProto:
    """``_SpeechRecognizer`` (GRU 40->128 x2, bidirectional LSTM 128->64, Linear 128->29) on [1,100,40]
    (100 frames, batch first), TorchScript exporter, opset 17: ONNX ``GRU``/``LSTM`` nodes, each GRU layer
    its own node, with the exporter's Transpose/Squeeze between them."""
    net, args = _SpeechRecognizer.make()
    return torchscript_export(net, args, 17, input_names=["frames"], output_names=["logits"])


@builder("recurrent_speech.dynamo")
def recurrent_speech_dynamo() -> onnx.ModelProto:
    """The same model through the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), opset 18:
    the same ONNX recurrent ops written with the dynamo exporter's Slice/Concat state plumbing."""
    import torch

    net, args = _SpeechRecognizer.make()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(net, args, dynamo=True, opset_version=18, input_names=["frames"],
                                    output_names=["logits"])
        program.save(buf)
    return onnx.load_from_string(buf.getvalue())


@builder("poolformer_s12")
def poolformer_s12() -> onnx.ModelProto:
    """timm ``poolformer_s12`` (random weights), [1,3,128,128], TorchScript exporter, opset 17: 12
    pre-norm residual blocks (stages of 2-2-6-2) whose token mixer is ``pool(x) - x``; each GroupNorm is
    exported as Reshape, InstanceNormalization, Reshape, then a per-channel Mul and Add. Freshly
    initialised GroupNorm weights are all equal, so the exporter writes them once and reads the copies
    through Identity nodes."""
    return timm_export("poolformer_s12", 128)


@builder("repvgg_a0")
def repvgg_a0() -> onnx.ModelProto:
    """timm ``repvgg_a0`` as trained (random weights, not re-parameterized), [1,3,64,64], TorchScript
    exporter, opset 17: 22 blocks (a stem and stages of 2-4-14-1), each a 3x3 and a 1x1 convolution of one
    input, added, with a BatchNorm "identity" branch in the 17 stride-1 blocks. The exporter folds each
    convolution's BatchNorm into it and reads the equal running statistics of fresh BatchNorms through
    deduplicating Identity nodes."""
    return timm_export("repvgg_a0", 64)


@builder("mobileone_s0.dynamo")
def mobileone_s0_dynamo() -> onnx.ModelProto:
    """timm ``mobileone_s0`` as trained (random weights, not re-parameterized), [1,3,64,64], dynamo exporter,
    opset 18: a stem and 21 blocks (stages of 2-8-10-1), each a depthwise MobileOneBlock (four 3x3
    branches and a 1x1 scale branch, plus a BatchNorm identity when its stride is 1) and a pointwise one
    (four 1x1 branches, plus the identity when the width stays): 43 summed branch sets."""
    return timm_export("mobileone_s0", 64, dynamo=True)


@builder("fastvit_t8.dynamo")
def fastvit_t8_dynamo() -> onnx.ModelProto:
    """timm ``fastvit_t8`` as trained (random weights, not re-parameterized), [1,3,64,64], dynamo exporter,
    opset 18: a stem of three MobileOneBlocks (3x3 + 1x1 stride 2, depthwise 3x3 + 1x1 stride 2, 1x1 +
    BatchNorm identity), then RepMixer stages with large-kernel (7x7 + 3x3) patch embeddings; GELU is
    exported as erf arithmetic and the exporter's optimizer folds each branch's BatchNorm into its
    convolution, so the stem's first two blocks are Add(Conv, Conv) followed by GELU."""
    return timm_export("fastvit_t8", 64, dynamo=True)


@builder("sd_vae_decoder_groupnorm")
def sd_vae_decoder_groupnorm() -> onnx.ModelProto:
    """diffusers ``AutoencoderKL`` decoder (random weights; block widths 32-64, one layer per block, GroupNorm
    of 8 groups, latent 4 channels), ``decode(z).sample`` on a [1,4,16,16] latent, TorchScript, opset 17: each
    GroupNorm is exported as Reshape, InstanceNormalization, Reshape and the per-channel affine Mul and Add,
    mostly followed by SiLU (Sigmoid, Mul); the mid block's single-head attention and nearest-neighbour
    upsampling (Resize) sit between them, as in Stable Diffusion's VAE."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64), layers_per_block=1,
                        latent_channels=4, norm_num_groups=8, sample_size=32).eval()

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vae = vae

        def forward(self, latent: torch.Tensor) -> torch.Tensor:
            return self.vae.decode(latent).sample

    return torchscript_export(Decoder(), (torch.randn(1, 4, 16, 16),), 17, input_names=["latent"],
                              output_names=["sample"])


@builder("xcit_nano_xca.dynamo")
def xcit_nano_xca_dynamo() -> onnx.ModelProto:
    """timm ``xcit_nano_12_p16_224`` shrunk to 2 blocks on a [1,3,64,64] image (random weights; embed 128,
    4 heads, patch 16: 16 tokens), dynamo exporter, opset 18: cross-covariance attention attends over
    channels (softmax(q̂ᵀk̂ · temperature) with a learned temperature of shape [4,1,1], one per head), then 2
    class-attention blocks over the 16 tokens and the class token."""
    return timm_export("xcit_nano_12_p16_224", 64, dynamo=True, img_size=64, depth=2)


@builder("fastvit_t8")
def fastvit_t8() -> onnx.ModelProto:
    """timm ``fastvit_t8`` as trained (random weights, not re-parameterized), [1,3,64,64], TorchScript
    exporter, opset 17: MobileOne-style stem and patch embeddings, RepMixer token mixers
    (``x + layer_scale * (BN(depthwise conv(x)) - BN(x))``, a Sub and a per-channel Mul over one input) and
    conditional position encodings (``x + depthwise conv(x)``). timm's own ``reparameterize_model`` turns it
    into 52 Conv, 27 Add and 45 Mul nodes (no BatchNormalization, no Sub)."""
    return timm_export("fastvit_t8", 64)


@builder("cspdarknet53")
def cspdarknet53() -> onnx.ModelProto:
    """timm ``cspdarknet53`` (random weights), [1,3,64,64], TorchScript exporter, opset 17: a stem and 5 CSP
    stages of 1-2-8-8-4 DarkBlocks; each block is a 1x1 and a 3x3 convolution (BatchNorm folded), each followed
    by LeakyReLU, and the residual Add after the second activation (conv -> act -> add, the YOLO ordering)."""
    import timm
    import torch

    torch.manual_seed(0)
    net = timm.create_model("cspdarknet53").eval()
    return torchscript_export(net, (torch.randn(1, 3, 64, 64),), 17, input_names=["input"], output_names=["logits"])



def ultralytics_export(config: str, imgsz: int = 320, **options: Any) -> onnx.ModelProto:
    """An Ultralytics YOLO built from its yaml ``config`` (random weights: no hub download) and exported by
    Ultralytics' own ONNX exporter (``YOLO(config).export(format="onnx", imgsz=imgsz, **options)``) in a temporary
    folder; the exporter folds each BatchNorm into its convolution first ("summary (fused)")."""
    import tempfile

    import torch

    os.environ.setdefault("YOLO_OFFLINE", "1")  # no update or hub checks
    from ultralytics import YOLO

    torch.manual_seed(0)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.chdir(tmp)
        try:
            path = YOLO(config).export(format="onnx", imgsz=imgsz, **options)
            return onnx.load(path)
        finally:
            os.chdir(cwd)


@builder("yolov8n_ultralytics")
def yolov8n_ultralytics() -> onnx.ModelProto:
    """Ultralytics ``YOLO("yolov8n.yaml")`` (random weights), [1,3,320,320], Ultralytics' ONNX exporter with its
    defaults (TorchScript exporter, opset 18, ``simplify=True``: onnxslim). 57 Conv modules (Conv + folded
    BatchNorm + SiLU, written Sigmoid and Mul), 6 bottlenecks with a shortcut (C2f 2, 4, 6, 8: n = 1, 2, 2, 1),
    SPPF (3 MaxPools), 2 nearest Resizes, and the Detect head over 3 scales (strides 8, 16, 32: 40x40, 20x20 and
    10x10 = 2100 anchors): 6 plain output convolutions, DFL (Softmax over reg_max 16 bins, then a fixed 1x1
    Conv), the anchors/strides decode, and a Sigmoid over the 80 class scores; output [1, 84, 2100]."""
    return ultralytics_export("yolov8n.yaml")


@builder("yolo11n_ultralytics")
def yolo11n_ultralytics() -> onnx.ModelProto:
    """Ultralytics ``YOLO("yolo11n.yaml")`` (random weights), [1,3,320,320], exported as ``yolov8n_ultralytics``.
    Its C2PSA block holds one attention: a 1x1 qkv convolution viewed as [1, 2 heads, 32+32+64, 100 tokens],
    ``q.transpose(-2, -1) @ k * 32**-0.5``, Softmax over the keys, then ``v @ attn.transpose(-2, -1)``: the
    probabilities are the second operand of the second product (O transposed), and the value head (64) is
    twice the query/key head (32)."""
    return ultralytics_export("yolo11n.yaml")


@builder("cait_xxs24")
def cait_xxs24() -> onnx.ModelProto:
    """timm ``cait_xxs24_224`` (random weights), [1,3,224,224], TorchScript exporter, opset 17: 24 talking-heads
    attention blocks (4 heads x 48 over 196 patches; the scores mixed across the heads by ``proj_l``, a Linear
    over the permuted scores, before the Softmax and by ``proj_w`` after it), then 2 class-attention blocks (the
    class token alone queries the class token and the 196 patches)."""
    return timm_export("cait_xxs24_224", 224)


@builder("cait_xxs24.dynamo")
def cait_xxs24_dynamo() -> onnx.ModelProto:
    """timm ``cait_xxs24_224`` shrunk to 4 talking-heads blocks (``depth=4``; the 2 class-attention blocks kept),
    [1,3,224,224], dynamo exporter, opset 18. The whole model is 1.5 MB here, 1.3 MB of it the exporter's
    per-node metadata, hence the shrinking."""
    return timm_export("cait_xxs24_224", 224, dynamo=True, depth=4)


@builder("longformer_sliding_chunks")
def longformer_sliding_chunks() -> onnx.ModelProto:
    """Longformer's local attention alone (see ``_longformer``)."""
    return _longformer(1)


def _longformer(global_tokens: int) -> onnx.ModelProto:
    """transformers ``LongformerModel`` (2 layers, hidden 64, 4 heads x 16, ``attention_window=32``: each token
    sees the 16 tokens either side; eager; config built in code, random weights) for ``input_ids`` and a
    padding ``attention_mask`` [1, 128] (the first token's value ``global_tokens``: 1 local, 2 global),
    TorchScript opset 17. Each layer's sliding-chunk attention takes Q·Kᵀ over overlapping chunks of 32 tokens
    (``Einsum`` bcxd,bcyd->bcxy), pads, reshapes, slices and scatters the chunk scores into a [1, 128, 4, 33]
    band before the Softmax, and lays the probabilities back out into chunks for the product with V (``Einsum``
    bcwd,bcdh->bcwh)."""
    import torch
    from transformers import LongformerConfig, LongformerModel
    torch.manual_seed(0)
    cfg = LongformerConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           vocab_size=100, max_position_embeddings=160, attention_window=32,
                           attn_implementation="eager")
    ids = torch.randint(0, 100, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.int64)
    mask[0, 120:] = 0
    mask[0, 0] = global_tokens  # 2: the first token attends globally (the tracer keeps the global branch)
    return torchscript_export(_text_hidden_states(LongformerModel(cfg)), (ids, mask), 17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])


@builder("hf_swinv2_cpb.dynamo")
def hf_swinv2_cpb_dynamo() -> onnx.ModelProto:
    """transformers ``Swinv2Model`` (random weights; [1,3,32,32], patch 2, embed 16, one stage of 2 blocks, 2
    heads, window 4: 4 windows of 16 tokens), dynamo exporter, opset 18: cosine attention scaled by a learned
    per-head logit scale, a continuous position bias (an MLP over the relative coordinates, its table read by
    ``GatherND``: the exporter writes the advanced indexing so) and, in the second block, the shifted-window
    mask."""
    import tempfile

    import torch
    from transformers import Swinv2Config, Swinv2Model

    torch.manual_seed(0)
    config = Swinv2Config(image_size=32, patch_size=2, embed_dim=16, depths=[2], num_heads=[2], window_size=4)
    net = Swinv2Model(config).eval()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(_image_hidden_states(net), (torch.randn(1, 3, 32, 32),), path, dynamo=True, opset_version=18,
                          external_data=True, input_names=["pixel_values"], output_names=["hidden"])
        return onnx.load(path)


@builder("longformer_global_token")
def longformer_global_token() -> onnx.ModelProto:
    """The same ``LongformerModel`` with the first token global (``attention_mask`` value 2, as for a classifier's
    CLS token): each layer's band is concatenated with the scores against the global keys (``Einsum``
    blhd,bshd->blhs) before the Softmax, and the global token attends to every token in a second attention
    (``MatMul``, Softmax, ``MatMul`` over [B*N, G, S]) whose padded global rows are set to the dtype's minimum
    by an indexed assignment (``ScatterND`` of a constant)."""
    return _longformer(2)



@builder("deepvit_reattention")
def deepvit_reattention() -> onnx.ModelProto:
    """vit-pytorch ``DeepViT`` (random weights; image 64, patch 16: 16 patches and a class token, dim 64, 2
    layers, 4 heads x 64, MLP 128), TorchScript exporter, opset 17: re-attention mixes the probabilities across
    the heads after the Softmax (``einsum('b h i j, h g -> b g i j', attn, reattn_weights)``, an ``Einsum`` by a
    [4, 4] weight) and normalizes them across the heads (``LayerNorm(heads)`` between two rearranges)."""
    import torch
    from vit_pytorch.deepvit import DeepViT

    torch.manual_seed(0)
    net = DeepViT(image_size=64, patch_size=16, num_classes=10, dim=64, depth=2, heads=4, mlp_dim=128).eval()
    return torchscript_export(net, (torch.randn(1, 3, 64, 64),), 17, input_names=["input"], output_names=["logits"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        print("\n".join(BUILDERS))
        return 0
    for name in a.only or list(BUILDERS):
        made = BUILDERS[name]()
        path = save_with_int_file(made, name) if name in KEEP_INTS else save_structure_only(made, name)
        print(f"{path.relative_to(HERE.parent.parent)}  {os.path.getsize(path) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
