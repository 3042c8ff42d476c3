#!/usr/bin/env python3
"""Export the trtadvisor sample models with both real PyTorch ONNX exporters.

Run from the repository root:

    /work/torchenv/bin/python samples/make_samples.py            # everything
    /work/torchenv/bin/python samples/make_samples.py --only bert_eager llama_gqa_sdpa
    /work/torchenv/bin/python samples/make_samples.py --list

Every model is built from an architecture + config with random weights
(``torch.manual_seed(0)`` before each build; nothing is downloaded) and exported
with

* the TorchScript exporter  (``torch.onnx.export(..., dynamo=False)``, opset 17)
* the dynamo exporter        (``torch.onnx.export(..., dynamo=True)``,  opset 18)
* the dynamo exporter        (``torch.onnx.export(..., dynamo=True)``,  opset 23)

Each file is saved *structure-only*: floating-point tensors of 1 KiB or more
(initializers and large ``Constant`` node values) are moved to an external ``<file>.onnx.data``
file, the exported graph is checked numerically against PyTorch with
onnxruntime while the weights still exist, and then the ``.data`` file is
deleted (it is git-ignored anyway).  Small constants (Reshape targets, axes,
scalars) stay inline, so the graphs can be analysed without weights.

``samples/registry.toml`` is (re)written with one ``[[sample]]`` table per
file.  The architecture facts in it are derived from the torch modules and
configs (module counts, forward-hook call counts, attention module
attributes), never from the exported ONNX graph, so they can serve as ground
truth for the analyzer.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import math
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import tomllib
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
REGISTRY = HERE / "registry.toml"

# (exporter, opset) combinations produced for every model.
VARIANTS: list[tuple[str, int]] = [("torchscript", 17), ("dynamo", 18), ("dynamo", 23)]
SIZE_THRESHOLD = 1024  # bytes; tensors at least this large go to external data


# --------------------------------------------------------------------------------------
# Sample specification
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Built:
    module: nn.Module
    args: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    facts: dict[str, Any]
    # input name -> {axis: symbolic dim name}; None for fully static models
    dynamic: dict[str, dict[int, str]] | None = None
    description: str = ""
    # Exporter variants for this model (default: VARIANTS) and whether the dynamo exporter's
    # optimizer runs; unoptimized exports keep BatchNormalization and shape arithmetic nodes.
    variants: list[tuple[str, int]] | None = None
    optimize: bool = True


@dataclasses.dataclass
class Spec:
    name: str
    family: str
    model: str
    build: Callable[[], Built]


SPECS: dict[str, Spec] = {}


def sample(name: str, family: str, model: str):
    def deco(fn: Callable[[], Built]) -> Callable[[], Built]:
        SPECS[name] = Spec(name, family, model, fn)
        return fn

    return deco


# --------------------------------------------------------------------------------------
# Fact helpers (torch side only)
# --------------------------------------------------------------------------------------


def leaf_module_counts(model: nn.Module) -> dict[str, int]:
    c = Counter(type(m).__name__ for m in model.modules() if not list(m.children()))
    return dict(sorted(c.items()))


@contextlib.contextmanager
def call_counter(model: nn.Module, types: tuple[type, ...] | None = None, names: set[str] | None = None):
    """Count forward calls per module class name (a module used twice counts twice)."""
    counts: Counter[str] = Counter()
    handles = []
    for m in model.modules():
        cls = type(m).__name__
        if (types is not None and isinstance(m, types)) or (names is not None and cls in names):
            handles.append(m.register_forward_hook(lambda mod, i, o, _c=cls: counts.update([_c])))
    try:
        yield counts
    finally:
        for h in handles:
            h.remove()


CNN_ACTS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid)


def cnn_facts(model: nn.Module, args: tuple[torch.Tensor, ...], residual_blocks: int, residual_kind: str) -> dict:
    from torchvision.ops import SqueezeExcitation

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    acts = Counter(type(m).__name__ for m in model.modules() if isinstance(m, CNN_ACTS))
    with torch.no_grad(), call_counter(model, types=(*CNN_ACTS, nn.Conv2d, nn.BatchNorm2d, nn.Linear)) as calls:
        model(*args)
    return {
        "conv2d": len(convs),
        "conv2d_depthwise": sum(1 for m in convs if m.groups > 1 and m.groups == m.in_channels),
        "conv2d_pointwise": sum(1 for m in convs if m.kernel_size == (1, 1) and m.groups == 1),
        "batchnorm2d": sum(1 for m in model.modules() if isinstance(m, nn.BatchNorm2d)),
        "linear": sum(1 for m in model.modules() if isinstance(m, nn.Linear)),
        "activation_modules": {k: acts.get(k, 0) for k in ("ReLU", "ReLU6", "SiLU", "Sigmoid", "Hardswish")},
        "activation_calls": {k: calls.get(k, 0) for k in ("ReLU", "ReLU6", "SiLU", "Sigmoid", "Hardswish")},
        "residual_adds": residual_blocks,
        "residual_block_kind": residual_kind,
        "squeeze_excite": sum(1 for m in model.modules() if isinstance(m, SqueezeExcitation)),
        "maxpool2d": sum(1 for m in model.modules() if isinstance(m, nn.MaxPool2d)),
        "adaptive_avgpool2d": sum(1 for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d)),
        "leaf_modules": leaf_module_counts(model),
    }


def gelu_form(m: nn.Module) -> str | None:
    cls = type(m).__name__
    if isinstance(m, nn.GELU):
        return "tanh" if m.approximate == "tanh" else "erf"
    return {
        "GELUActivation": "erf",
        "NewGELUActivation": "tanh",
        "GELUTanh": "tanh",
        "PytorchGELUTanh": "tanh",
        "FastGELUActivation": "tanh",
        "AccurateGELUActivation": "tanh",
        "QuickGELUActivation": "sigmoid",
        "ClippedGELUActivation": "erf",
    }.get(cls)


def is_rmsnorm(m: nn.Module) -> bool:
    return (
        isinstance(m, getattr(nn, "RMSNorm", ())) or "RMSNorm" in type(m).__name__ or type(m).__name__ == "T5LayerNorm"
    )


def is_silu(m: nn.Module) -> bool:
    return isinstance(m, nn.SiLU) or type(m).__name__ == "SiLUActivation"


def attn_kind(heads: int, kv_heads: int) -> str:
    if kv_heads == heads:
        return "mha"
    if kv_heads == 1:
        return "mqa"
    return "gqa"


def site(
    name: str,
    *,
    type_: str,
    heads: int,
    kv_heads: int,
    head_size: int,
    seq_q: int,
    seq_kv: int,
    causal: bool,
    mask: str,
    impl: str,
) -> dict:
    return {
        "name": name,
        "type": type_,
        "kind": attn_kind(heads, kv_heads),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_size": head_size,
        "seq_q": seq_q,
        "seq_kv": seq_kv,
        "causal": causal,
        "mask": mask,
        "impl": impl,
    }


def transformer_facts(
    model: nn.Module, args: tuple[torch.Tensor, ...], num_layers: int, sites: list[dict], extra: dict | None = None
) -> dict:
    gelus = [m for m in model.modules() if gelu_form(m) is not None]
    forms = sorted({gelu_form(m) for m in gelus})
    norm_types = (nn.LayerNorm,)
    names = {type(m).__name__ for m in model.modules() if is_rmsnorm(m) or is_silu(m) or gelu_form(m)}
    with torch.no_grad(), call_counter(model, types=norm_types, names=names) as calls:
        model(*args)
    rms_names = {type(m).__name__ for m in model.modules() if is_rmsnorm(m)}
    silu_names = {type(m).__name__ for m in model.modules() if is_silu(m)}
    gelu_names = {type(m).__name__ for m in gelus}
    facts = {
        "num_layers": num_layers,
        "num_attention_sites": len(sites),
        "num_self_attention_sites": sum(1 for s in sites if s["type"] == "self"),
        "num_cross_attention_sites": sum(1 for s in sites if s["type"] == "cross"),
        "layernorm": sum(1 for m in model.modules() if isinstance(m, nn.LayerNorm)),
        "rmsnorm": sum(1 for m in model.modules() if is_rmsnorm(m)),
        "gelu": len(gelus),
        "gelu_form": forms[0] if len(forms) == 1 else ("none" if not forms else "+".join(forms)),
        "gelu_impl": sorted(gelu_names),
        "silu": sum(1 for m in model.modules() if is_silu(m)),
        "linear": sum(1 for m in model.modules() if isinstance(m, nn.Linear)),
        "calls": {
            "layernorm": calls.get("LayerNorm", 0),
            "rmsnorm": sum(calls.get(n, 0) for n in rms_names),
            "gelu": sum(calls.get(n, 0) for n in gelu_names),
            "silu": sum(calls.get(n, 0) for n in silu_names),
        },
    }
    facts.update(extra or {})
    facts["leaf_modules"] = leaf_module_counts(model)
    facts["attention_sites"] = sites
    return facts


def set_attn_impl(config, impl: str):
    config._attn_implementation = impl
    return config


class OutputAdapter(nn.Module):
    """Wrap an HF model so export sees positional tensors in, a tuple of tensors out."""

    def __init__(self, inner: nn.Module, arg_names: list[str], out_keys: list[str], **extra_kwargs):
        super().__init__()
        self.inner = inner
        self.arg_names = arg_names
        self.out_keys = out_keys
        self.extra_kwargs = extra_kwargs

    def forward(self, *args):
        out = self.inner(**dict(zip(self.arg_names, args, strict=False)), **self.extra_kwargs, return_dict=True)
        return tuple(out[k] for k in self.out_keys)


# --------------------------------------------------------------------------------------
# CNNs
# --------------------------------------------------------------------------------------


def _resnet18(batch: int, dynamic: bool) -> Built:
    import torchvision
    from torchvision.models.resnet import BasicBlock

    m = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    blocks = sum(1 for b in m.modules() if isinstance(b, BasicBlock))
    facts = cnn_facts(m, (x,), blocks, "BasicBlock")
    facts["downsample_blocks"] = sum(1 for b in m.modules() if isinstance(b, BasicBlock) and b.downsample is not None)
    return Built(
        m,
        (x,),
        ["input"],
        ["output"],
        facts,
        dynamic={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None,
        description="torchvision resnet18(weights=None), " + ("dynamic batch" if dynamic else f"batch {batch}"),
    )


@sample("resnet18", "cnn", "torchvision.models.resnet18")
def build_resnet18() -> Built:
    return _resnet18(32, dynamic=False)


@sample("resnet18_dynbatch", "cnn", "torchvision.models.resnet18")
def build_resnet18_dyn() -> Built:
    return _resnet18(32, dynamic=True)


@sample("resnet18_unoptimized", "cnn", "torchvision.models.resnet18")
def build_resnet18_unoptimized() -> Built:
    b = _resnet18(32, dynamic=False)
    b.description += "; dynamo exporter without its optimizer: BatchNormalization nodes kept"
    b.variants = [("dynamo", 18)]
    b.optimize = False
    return b


@sample("mobilenet_v2", "cnn", "torchvision.models.mobilenet_v2")
def build_mobilenet_v2() -> Built:
    import torchvision
    from torchvision.models.mobilenetv2 import InvertedResidual

    m = torchvision.models.mobilenet_v2(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    skips = sum(1 for b in m.modules() if isinstance(b, InvertedResidual) and b.use_res_connect)
    facts = cnn_facts(m, (x,), skips, "InvertedResidual(use_res_connect)")
    facts["inverted_residual_blocks"] = sum(1 for b in m.modules() if isinstance(b, InvertedResidual))
    return Built(m, (x,), ["input"], ["output"], facts, description="torchvision mobilenet_v2(weights=None), batch 1")


@sample("efficientnet_b0", "cnn", "torchvision.models.efficientnet_b0")
def build_efficientnet_b0() -> Built:
    import torchvision
    from torchvision.models.efficientnet import MBConv

    m = torchvision.models.efficientnet_b0(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    skips = sum(1 for b in m.modules() if isinstance(b, MBConv) and b.use_res_connect)
    facts = cnn_facts(m, (x,), skips, "MBConv(use_res_connect)")
    facts["mbconv_blocks"] = sum(1 for b in m.modules() if isinstance(b, MBConv))
    return Built(
        m, (x,), ["input"], ["output"], facts, description="torchvision efficientnet_b0(weights=None), batch 1"
    )


# --------------------------------------------------------------------------------------
# HF transformers
# --------------------------------------------------------------------------------------

VOCAB = 8192


def _bert(impl: str) -> Built:
    from transformers import BertConfig, BertModel

    B, S = 1, 128
    cfg = set_attn_impl(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=1024,
            max_position_embeddings=512,
            hidden_act="gelu",
            use_cache=False,
        ),
        impl,
    )
    hf = BertModel(cfg, add_pooling_layer=False).eval()
    ids = torch.randint(0, VOCAB, (B, S))
    mask = torch.ones(B, S, dtype=torch.int64)
    mask[:, S - 16 :] = 0  # real padding, so the mask is not trivially all-ones
    m = OutputAdapter(hf, ["input_ids", "attention_mask"], ["last_hidden_state"], use_cache=False).eval()
    sites = []
    for i, layer in enumerate(hf.encoder.layer):
        a = layer.attention.self
        sites.append(
            site(
                f"encoder.layer.{i}.attention.self",
                type_="self",
                heads=a.num_attention_heads,
                kv_heads=a.key.out_features // a.attention_head_size,
                head_size=a.attention_head_size,
                seq_q=S,
                seq_kv=S,
                causal=bool(a.is_causal),
                mask="padding",
                impl=impl,
            )
        )
    facts = transformer_facts(
        m,
        (ids, mask),
        cfg.num_hidden_layers,
        sites,
        {
            "hidden_size": cfg.hidden_size,
            "intermediate_size": cfg.intermediate_size,
            "ffn": "gelu_mlp",
            "positional": "learned_absolute",
            "attn_implementation": impl,
        },
    )
    return Built(
        m,
        (ids, mask),
        ["input_ids", "attention_mask"],
        ["last_hidden_state"],
        facts,
        description=f"BertModel 2 layers, hidden 256, 4 heads, seq {S}, attn_implementation={impl}",
    )


@sample("bert_eager", "transformers", "transformers.BertModel")
def build_bert_eager() -> Built:
    return _bert("eager")


@sample("bert_sdpa", "transformers", "transformers.BertModel")
def build_bert_sdpa() -> Built:
    return _bert("sdpa")


def _gpt2(impl: str, padding_mask: bool) -> Built:
    from transformers import GPT2Config, GPT2Model

    B, S = 1, 128
    cfg = set_attn_impl(
        GPT2Config(
            vocab_size=VOCAB,
            n_positions=1024,
            n_embd=256,
            n_layer=2,
            n_head=4,
            activation_function="gelu_new",
            use_cache=False,
        ),
        impl,
    )
    hf = GPT2Model(cfg).eval()
    ids = torch.randint(0, VOCAB, (B, S))
    args: tuple[torch.Tensor, ...] = (ids,)
    names = ["input_ids"]
    if padding_mask:
        mask = torch.ones(B, S, dtype=torch.int64)
        mask[:, S - 16 :] = 0
        args, names = (ids, mask), ["input_ids", "attention_mask"]
    m = OutputAdapter(hf, names, ["last_hidden_state"], use_cache=False).eval()
    sites = []
    for i, blk in enumerate(hf.h):
        a = blk.attn
        sites.append(
            site(
                f"h.{i}.attn",
                type_="self",
                heads=a.num_heads,
                kv_heads=a.num_heads,
                head_size=a.head_dim,
                seq_q=S,
                seq_kv=S,
                causal=bool(a.is_causal),
                mask="padding" if padding_mask else "causal",
                impl=impl,
            )
        )
    facts = transformer_facts(
        m,
        args,
        cfg.n_layer,
        sites,
        {
            "hidden_size": cfg.n_embd,
            "intermediate_size": 4 * cfg.n_embd,
            "ffn": "gelu_mlp",
            "positional": "learned_absolute",
            "attn_implementation": impl,
            "linear_note": "GPT-2 projections are transformers Conv1D modules (not nn.Linear)",
            "conv1d_hf": sum(1 for x in hf.modules() if type(x).__name__ == "Conv1D"),
        },
    )
    return Built(
        m,
        args,
        names,
        ["last_hidden_state"],
        facts,
        description=f"GPT2Model 2 layers, n_embd 256, 4 heads, gelu_new, seq {S}, causal, "
        + ("attention_mask input (causal + padding)" if padding_mask else "no attention_mask input (causal only)")
        + f", attn_implementation={impl}",
    )


@sample("gpt2_sdpa", "transformers", "transformers.GPT2Model")
def build_gpt2_sdpa() -> Built:
    return _gpt2("sdpa", padding_mask=False)


@sample("gpt2_eager_padmask", "transformers", "transformers.GPT2Model")
def build_gpt2_eager_padmask() -> Built:
    return _gpt2("eager", padding_mask=True)


def _llama(impl: str) -> Built:
    from transformers import LlamaConfig, LlamaModel

    B, S = 1, 128
    cfg = set_attn_impl(
        LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=256,
            intermediate_size=704,
            num_hidden_layers=2,
            num_attention_heads=8,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            hidden_act="silu",
            use_cache=False,
            tie_word_embeddings=False,
        ),
        impl,
    )
    hf = LlamaModel(cfg).eval()
    ids = torch.randint(0, VOCAB, (B, S))
    mask = torch.ones(B, S, dtype=torch.int64)
    mask[:, S - 16 :] = 0
    m = OutputAdapter(hf, ["input_ids", "attention_mask"], ["last_hidden_state"], use_cache=False).eval()
    sites = []
    for i, layer in enumerate(hf.layers):
        a = layer.self_attn
        sites.append(
            site(
                f"layers.{i}.self_attn",
                type_="self",
                heads=a.q_proj.out_features // a.head_dim,
                kv_heads=a.k_proj.out_features // a.head_dim,
                head_size=a.head_dim,
                seq_q=S,
                seq_kv=S,
                causal=bool(a.is_causal),
                mask="padding",
                impl=impl,
            )
        )
    facts = transformer_facts(
        m,
        (ids, mask),
        cfg.num_hidden_layers,
        sites,
        {
            "hidden_size": cfg.hidden_size,
            "intermediate_size": cfg.intermediate_size,
            "ffn": "swiglu",
            "positional": "rotary",
            "attn_implementation": impl,
        },
    )
    return Built(
        m,
        (ids, mask),
        ["input_ids", "attention_mask"],
        ["last_hidden_state"],
        facts,
        description=f"LlamaModel 2 layers, hidden 256, 8 heads / 2 kv heads (GQA), seq {S}, causal + "
        f"attention_mask input (padding), attn_implementation={impl}",
    )


@sample("llama_gqa_eager", "transformers", "transformers.LlamaModel")
def build_llama_eager() -> Built:
    return _llama("eager")


@sample("llama_gqa_sdpa", "transformers", "transformers.LlamaModel")
def build_llama_sdpa() -> Built:
    return _llama("sdpa")


@sample("vit_sdpa", "transformers", "transformers.ViTModel")
def build_vit() -> Built:
    from transformers import ViTConfig, ViTModel

    cfg = set_attn_impl(
        ViTConfig(
            image_size=224,
            patch_size=16,
            hidden_size=192,
            num_hidden_layers=2,
            num_attention_heads=3,
            intermediate_size=768,
            hidden_act="gelu",
        ),
        "sdpa",
    )
    hf = ViTModel(cfg, add_pooling_layer=False).eval()
    x = torch.randn(1, 3, 224, 224)
    S = (224 // 16) ** 2 + 1
    m = OutputAdapter(hf, ["pixel_values"], ["last_hidden_state"]).eval()
    sites = []
    for i, layer in enumerate(hf.layers):
        a = layer.attention
        sites.append(
            site(
                f"layers.{i}.attention",
                type_="self",
                heads=a.q_proj.out_features // a.head_dim,
                kv_heads=a.k_proj.out_features // a.head_dim,
                head_size=a.head_dim,
                seq_q=S,
                seq_kv=S,
                causal=bool(getattr(a, "is_causal", False)),
                mask="none",
                impl="sdpa",
            )
        )
    facts = transformer_facts(
        m,
        (x,),
        cfg.num_hidden_layers,
        sites,
        {
            "hidden_size": cfg.hidden_size,
            "intermediate_size": cfg.intermediate_size,
            "ffn": "gelu_mlp",
            "positional": "learned_absolute",
            "attn_implementation": "sdpa",
            "patch_conv2d": sum(1 for x_ in hf.modules() if isinstance(x_, nn.Conv2d)),
        },
    )
    return Built(
        m,
        (x,),
        ["pixel_values"],
        ["last_hidden_state"],
        facts,
        description="ViTModel image 224, patch 16 (197 tokens), hidden 192, 3 heads, 2 layers",
    )


@sample("bart_eager", "transformers", "transformers.BartModel")
def build_bart_eager() -> Built:
    return _bart("eager")


@sample("bart_sdpa", "transformers", "transformers.BartModel")
def build_bart_sdpa() -> Built:
    return _bart("sdpa")


def _bart(impl: str) -> Built:
    from transformers import BartConfig, BartModel

    B, S_enc, S_dec = 1, 64, 16
    cfg = set_attn_impl(
        BartConfig(
            vocab_size=VOCAB,
            d_model=256,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=1024,
            decoder_ffn_dim=1024,
            max_position_embeddings=1024,
            activation_function="gelu",
            use_cache=False,
        ),
        impl,
    )
    hf = BartModel(cfg).eval()
    ids = torch.randint(3, VOCAB, (B, S_enc))
    mask = torch.ones(B, S_enc, dtype=torch.int64)
    mask[:, S_enc - 8 :] = 0
    dec = torch.randint(3, VOCAB, (B, S_dec))
    m = OutputAdapter(
        hf, ["input_ids", "attention_mask", "decoder_input_ids"], ["last_hidden_state"], use_cache=False
    ).eval()
    sites = []
    for i, layer in enumerate(hf.encoder.layers):
        a = layer.self_attn
        sites.append(
            site(
                f"encoder.layers.{i}.self_attn",
                type_="self",
                heads=a.num_heads,
                kv_heads=a.k_proj.out_features // a.head_dim,
                head_size=a.head_dim,
                seq_q=S_enc,
                seq_kv=S_enc,
                causal=bool(a.is_causal),
                mask="padding",
                impl=impl,
            )
        )
    for i, layer in enumerate(hf.decoder.layers):
        a = layer.self_attn
        sites.append(
            site(
                f"decoder.layers.{i}.self_attn",
                type_="self",
                heads=a.num_heads,
                kv_heads=a.k_proj.out_features // a.head_dim,
                head_size=a.head_dim,
                seq_q=S_dec,
                seq_kv=S_dec,
                causal=bool(a.is_causal),
                mask="causal",
                impl=impl,
            )
        )
        c = layer.encoder_attn
        sites.append(
            site(
                f"decoder.layers.{i}.encoder_attn",
                type_="cross",
                heads=c.num_heads,
                kv_heads=c.k_proj.out_features // c.head_dim,
                head_size=c.head_dim,
                seq_q=S_dec,
                seq_kv=S_enc,
                causal=bool(c.is_causal),
                mask="padding",
                impl=impl,
            )
        )
    facts = transformer_facts(
        m,
        (ids, mask, dec),
        cfg.encoder_layers + cfg.decoder_layers,
        sites,
        {
            "encoder_layers": cfg.encoder_layers,
            "decoder_layers": cfg.decoder_layers,
            "hidden_size": cfg.d_model,
            "intermediate_size": cfg.encoder_ffn_dim,
            "ffn": "gelu_mlp",
            "positional": "learned_absolute",
            "attn_implementation": impl,
        },
    )
    return Built(
        m,
        (ids, mask, dec),
        ["input_ids", "attention_mask", "decoder_input_ids"],
        ["last_hidden_state"],
        facts,
        description=f"BartModel 2+2 layers, d_model 256, 4 heads, encoder seq {S_enc}, decoder seq {S_dec}, "
        f"attn_implementation={impl}",
    )


@sample("t5_eager", "transformers", "transformers.T5Model")
def build_t5_eager() -> Built:
    return _t5("eager")


@sample("t5_sdpa", "transformers", "transformers.T5Model")
def build_t5_sdpa() -> Built:
    return _t5("sdpa")


def _t5(impl: str) -> Built:
    from transformers import T5Config, T5Model

    B, S_enc, S_dec = 1, 64, 16
    cfg = set_attn_impl(
        T5Config(
            vocab_size=VOCAB,
            d_model=256,
            d_kv=64,
            d_ff=704,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            feed_forward_proj="gated-gelu",
            relative_attention_num_buckets=32,
            use_cache=False,
            tie_word_embeddings=False,
        ),
        impl,
    )
    hf = T5Model(cfg).eval()
    ids = torch.randint(3, VOCAB, (B, S_enc))
    mask = torch.ones(B, S_enc, dtype=torch.int64)
    mask[:, S_enc - 8 :] = 0
    dec = torch.randint(3, VOCAB, (B, S_dec))
    m = OutputAdapter(
        hf, ["input_ids", "attention_mask", "decoder_input_ids"], ["last_hidden_state"], use_cache=False
    ).eval()
    sites = []

    def t5_site(name, a, type_, sq, skv, mask_kind):
        return site(
            name,
            type_=type_,
            heads=a.n_heads,
            kv_heads=a.k.out_features // a.key_value_proj_dim,
            head_size=a.key_value_proj_dim,
            seq_q=sq,
            seq_kv=skv,
            causal=bool(a.is_causal),
            mask=mask_kind,
            impl=impl,
        ) | {"relative_position_bias": True, "scale": float(a.scaling)}

    for i, blk in enumerate(hf.encoder.block):
        sites.append(
            t5_site(
                f"encoder.block.{i}.layer.0.SelfAttention", blk.layer[0].SelfAttention, "self", S_enc, S_enc, "padding"
            )
        )
    for i, blk in enumerate(hf.decoder.block):
        sites.append(
            t5_site(
                f"decoder.block.{i}.layer.0.SelfAttention", blk.layer[0].SelfAttention, "self", S_dec, S_dec, "causal"
            )
        )
        sites.append(
            t5_site(
                f"decoder.block.{i}.layer.1.EncDecAttention",
                blk.layer[1].EncDecAttention,
                "cross",
                S_dec,
                S_enc,
                "padding",
            )
        )
    facts = transformer_facts(
        m,
        (ids, mask, dec),
        cfg.num_layers + cfg.num_decoder_layers,
        sites,
        {
            "encoder_layers": cfg.num_layers,
            "decoder_layers": cfg.num_decoder_layers,
            "hidden_size": cfg.d_model,
            "intermediate_size": cfg.d_ff,
            "ffn": "geglu",
            "positional": "relative_bias",
            "attn_implementation": impl,
            "rmsnorm_note": "T5LayerNorm is an RMSNorm (no mean subtraction, no bias)",
        },
    )
    return Built(
        m,
        (ids, mask, dec),
        ["input_ids", "attention_mask", "decoder_input_ids"],
        ["last_hidden_state"],
        facts,
        description=f"T5Model (v1.1 style gated-gelu) 2+2 layers, d_model 256, 4 heads x 64, relative position "
        f"bias, encoder seq {S_enc}, decoder seq {S_dec}, attn_implementation={impl}",
    )


# --------------------------------------------------------------------------------------
# Plain-PyTorch SDPA attention sites that must NOT fuse in TensorRT
# --------------------------------------------------------------------------------------


class SDPABlock(nn.Module):
    """x[B,S,E] -> q/k/v Linear -> [B,H,S,D] -> F.scaled_dot_product_attention -> out Linear."""

    def __init__(self, heads: int, head_size: int, causal: bool = False):
        super().__init__()
        self.heads, self.head_size, self.causal = heads, head_size, causal
        e = heads * head_size
        self.q = nn.Linear(e, e)
        self.k = nn.Linear(e, e)
        self.v = nn.Linear(e, e)
        self.o = nn.Linear(e, e)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, s, _ = t.shape
        return t.view(b, s, self.heads, self.head_size).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, s, e = x.shape
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal and mask is None)
        return self.o(y.transpose(1, 2).reshape(b, s, e))


def _sdpa(heads: int, head_size: int, seq: int, mask: str = "none", causal: bool = False, why: str = "") -> Built:
    m = SDPABlock(heads, head_size, causal).eval()
    x = torch.randn(1, seq, heads * head_size)
    args: tuple[torch.Tensor, ...] = (x,)
    names = ["x"]
    if mask == "bool":
        mk = torch.ones(seq, seq, dtype=torch.bool).tril()  # a 2-D boolean mask, True = attend
        args, names = (x, mk), ["x", "attn_mask"]
    elif mask == "additive":
        mk = torch.zeros(seq, seq).masked_fill(torch.ones(seq, seq, dtype=torch.bool).triu(1), float("-inf"))
        args, names = (x, mk), ["x", "attn_mask"]
    sites = [
        site(
            "sdpa",
            type_="self",
            heads=heads,
            kv_heads=heads,
            head_size=head_size,
            seq_q=seq,
            seq_kv=seq,
            causal=causal,
            mask=("causal" if causal and mask == "none" else mask),
            impl="F.scaled_dot_product_attention",
        )
    ]
    facts = transformer_facts(
        m,
        args,
        1,
        sites,
        {
            "hidden_size": heads * head_size,
            "attn_mask_shape": [seq, seq] if mask in ("bool", "additive") else [],
            "fusion_note": why,
        },
    )
    return Built(
        m,
        args,
        names,
        ["y"],
        facts,
        description=f"plain nn.Module with F.scaled_dot_product_attention: {heads} heads x {head_size}, seq {seq}, "
        f"attn_mask {mask}, is_causal={causal}",
    )


@sample("sdpa_causal_baseline", "attention", "SDPABlock")
def build_sdpa_causal_baseline() -> Built:
    return _sdpa(4, 64, 128, causal=True, why="(control: SHOULD fuse) head 64, seq 128, is_causal=True, no mask input")


@sample("sdpa_head320", "attention", "SDPABlock")
def build_sdpa_head320() -> Built:
    return _sdpa(2, 320, 128, why="head size 320 is outside TensorRT's fused-MHA range (16..256)")


@sample("sdpa_seq1024", "attention", "SDPABlock")
def build_sdpa_seq1024() -> Built:
    return _sdpa(4, 64, 1024, why="sequence length 1024 > 512: INT8 fused MHA not available")


@sample("sdpa_head24", "attention", "SDPABlock")
def build_sdpa_head24() -> Built:
    return _sdpa(4, 24, 128, why="head size 24: a multiple of 8 but not of 16 (FP8 fused MHA needs multiple of 16)")


@sample("sdpa_mask2d_bool", "attention", "SDPABlock")
def build_sdpa_mask2d_bool() -> Built:
    return _sdpa(
        4, 64, 128, mask="bool", why="2-D boolean attn_mask input [S_q, S_kv] (no fused MHA with 2-D mask on SM100)"
    )


@sample("sdpa_mask2d_additive", "attention", "SDPABlock")
def build_sdpa_mask2d_additive() -> Built:
    return _sdpa(
        4,
        64,
        128,
        mask="additive",
        why="2-D additive float attn_mask input [S_q, S_kv] (no fused MHA with 2-D mask on SM100)",
    )


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def export_proto(b: Built, exporter: str, opset: int) -> onnx.ModelProto:
    if exporter == "torchscript":
        with tempfile.TemporaryDirectory() as td:
            p = os.path.join(td, "m.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    b.module,
                    b.args,
                    p,
                    dynamo=False,
                    opset_version=opset,
                    input_names=b.input_names,
                    output_names=b.output_names,
                    dynamic_axes=b.dynamic,
                    do_constant_folding=True,
                )
            return onnx.load(p)
    dyn_shapes = None
    if b.dynamic:
        dims: dict[str, torch.export.Dim] = {}
        dyn_shapes = tuple(
            {ax: dims.setdefault(nm, torch.export.Dim(nm, min=1, max=4096)) for ax, nm in b.dynamic.get(n, {}).items()}
            or None
            for n in b.input_names
        )
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            b.module,
            b.args,
            dynamo=True,
            opset_version=opset,
            input_names=b.input_names,
            output_names=b.output_names,
            dynamic_shapes=dyn_shapes,
            optimize=b.optimize,
            verbose=False,
        )
    proto = prog.model_proto
    # Drop the per-node Python stack traces (they embed absolute paths of this machine, so
    # are not reproducible) and the FX node dumps (debug text, ~15% of the file).  The
    # module-scope metadata (namespace, pkg.torch.onnx.class_hierarchy, .name_scopes,
    # pkg.onnxscript.rewriter.rule_name) is kept as the exporter wrote it.
    for g in _graphs(proto):
        for n in g.node:
            keep = [p for p in n.metadata_props if p.key not in STRIP_METADATA]
            del n.metadata_props[:]
            n.metadata_props.extend(keep)
    return proto


STRIP_METADATA = {"pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node"}


def _graphs(proto: onnx.ModelProto):
    stack = [proto.graph] + [f for f in proto.functions]
    while stack:
        g = stack.pop()
        yield g
        for n in g.node:
            for at in n.attribute:
                if at.type == onnx.AttributeProto.GRAPH:
                    stack.append(at.g)
                elif at.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(at.graphs)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_summary(e: BaseException) -> str:
    """Outer exception type + the root cause's first line (exporter errors nest the real reason)."""
    root = e
    while root.__cause__ is not None:
        root = root.__cause__
    first = ANSI.sub("", str(root)).strip().splitlines()[0] if str(root).strip() else ""
    msg = f"{type(e).__name__}: {first}" if root is e else f"{type(e).__name__} <- {type(root).__name__}: {first}"
    return " ".join(msg.split())[:400]


def ort_check(path: Path, b: Built) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), b.args, strict=False)}
    got = sess.run(None, feeds)
    with torch.no_grad():
        ref = b.module(*b.args)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    return float(max(np.max(np.abs(g - r.numpy())) for g, r in zip(got, ref, strict=False)))


FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE}


def _all_tensors(proto: onnx.ModelProto):
    from onnx.external_data_helper import _get_all_tensors

    return _get_all_tensors(proto)


def save_structure_only(proto: onnx.ModelProto, path: Path, b: Built) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_name(path.name + ".data")
    for p in (path, data):
        if p.exists():
            p.unlink()
    # == onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
    #                    location=data.name, size_threshold=1024, convert_attribute=True)
    # except that non-floating-point tensors (bool / integer: constant-folded causal masks,
    # position ids, index tables) are kept inline whatever their size: they are never learned
    # weights and the analyzer may need their values.
    from onnx.external_data_helper import convert_model_to_external_data

    convert_model_to_external_data(
        proto, all_tensors_to_one_file=True, location=data.name, size_threshold=SIZE_THRESHOLD, convert_attribute=True
    )
    kept = 0
    for t in _all_tensors(proto):
        if t.data_location == onnx.TensorProto.EXTERNAL and t.data_type not in FLOAT_TYPES:
            del t.external_data[:]
            t.data_location = onnx.TensorProto.DEFAULT
            kept += 1
    onnx.save_model(proto, str(path))
    info: dict[str, Any] = {}
    try:
        info["ort_max_abs_diff"] = ort_check(path, b)
    except Exception as e:
        info["ort_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    info["weights_bytes"] = data.stat().st_size if data.exists() else 0
    info["large_nonfloat_tensors_inline"] = kept
    if data.exists():
        data.unlink()
    # verify: loads without weights and passes shape inference
    m = onnx.load(str(path), load_external_data=False)
    try:
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        info["shape_inference"] = "ok(strict)"
    except Exception as e:
        onnx.shape_inference.infer_shapes(m)  # must at least pass non-strict
        info["shape_inference"] = f"ok(non-strict); strict failed: {str(e).splitlines()[0][:200]}"
    info["nodes"] = len(m.graph.node)
    info["functions"] = len(m.functions)
    info["size_bytes"] = path.stat().st_size
    info["ir_version"] = m.ir_version
    info["opset_imports"] = {(o.domain or "ai.onnx"): o.version for o in m.opset_import}
    info["op_types"] = dict(sorted(Counter(n.op_type for n in m.graph.node).items()))
    ins = []
    for i in m.graph.input:
        t = i.type.tensor_type
        ins.append(
            {
                "name": i.name,
                "dtype": onnx.TensorProto.DataType.Name(t.elem_type).lower(),
                "shape": [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim],
            }
        )
    info["onnx_inputs"] = ins
    return info


# --------------------------------------------------------------------------------------
# TOML writer (stdlib has only a reader)
# --------------------------------------------------------------------------------------


def _tv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in ('"', "\\"):
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_tv(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_tv(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise TypeError(type(v))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else _tv(k)


def _emit_table(lines: list[str], header: str, d: dict, array: bool = False):
    lines.append(f"[[{header}]]" if array else f"[{header}]")
    subs = []
    for k, v in d.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict) for x in v.values()) and len(_tv(v)) > 100:
            subs.append((k, v, False))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            subs.append((k, v, True))
        elif isinstance(v, dict) and v and any(isinstance(x, dict) for x in v.values()):
            subs.append((k, v, False))
        else:
            lines.append(f"{_key(k)} = {_tv(v)}")
    for k, v, is_arr in subs:
        lines.append("")
        if is_arr:
            for item in v:
                _emit_table(lines, f"{header}.{_key(k)}", item, array=True)
        else:
            _emit_table(lines, f"{header}.{_key(k)}", v)


HEADER = """\
# trtadvisor sample registry -- GENERATED by samples/make_samples.py, do not edit by hand.
#
# One [[sample]] table per committed sample file under samples/.  The .onnx files are
# structure-only: float tensors >= 1 KiB (weights, and also constant-folded float tables
# such as rotary cos/sin or float masks) were external data and are deleted; smaller
# tensors and all bool/integer tensors are inline (see samples/README.md).
#
# The architecture facts ([sample.facts], [[sample.facts.attention_sites]]) are derived
# from the PyTorch side -- the torch.nn modules, their attributes (e.g. head_dim,
# q_proj/k_proj widths, is_causal), the transformers configs, and forward-hook call
# counts from one eager forward pass -- NEVER from the exported ONNX graph.  They are
# ground truth for what the analyzer should recover from the graph.
#   *_modules / leaf_modules : number of module instances of that type
#   activation_calls / calls : number of forward calls (ResNet reuses one ReLU module
#                              per BasicBlock twice, so calls != modules there)
#   residual_adds            : blocks with a skip connection (one Add each)
#   attention site mask      : the mask the site sees: none | causal (causal only, no
#                              mask input) | padding ([B,S] key-padding attention_mask
#                              input; combined with the causal mask when causal = true)
#                              | bool (2-D boolean input) | additive (2-D float input)
#
# Only [sample.onnx] is read back from the exported file (node count, size, op
# histogram, shape-inference result, onnxruntime-vs-torch max abs diff measured while
# the weights still existed) -- it is bookkeeping, not ground truth.
# [[skipped]] lists exporter/opset combinations that could not be produced, and why.
"""


def write_registry(meta: dict, samples: list[dict], skipped: list[dict]):
    lines = [HEADER]
    _emit_table(lines, "meta", meta)
    order = {n: i for i, n in enumerate(SPECS)}
    vorder = {v: i for i, v in enumerate(VARIANTS)}
    samples = sorted(samples, key=lambda s: (order.get(s["name"], 999), vorder.get((s["exporter"], s["opset"]), 99)))
    skipped = sorted(skipped, key=lambda s: (order.get(s["name"], 999), vorder.get((s["exporter"], s["opset"]), 99)))
    for s in samples:
        lines.append("")
        _emit_table(lines, "sample", s, array=True)
    for s in skipped:
        lines.append("")
        _emit_table(lines, "skipped", s, array=True)
    REGISTRY.write_text("\n".join(lines) + "\n")
    tomllib.loads(REGISTRY.read_text())  # round-trip check


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def versions() -> dict:
    import onnxruntime
    import onnxscript
    import torchvision
    import transformers

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="sample names to (re)build; others kept in the registry")
    ap.add_argument("--list", action="store_true", help="list sample names and exit")
    a = ap.parse_args(argv)
    if a.list:
        for s in SPECS.values():
            print(f"{s.name:24s} {s.family:13s} {s.model}")
        return 0
    names = a.only or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        ap.error(f"unknown sample(s): {unknown}; see --list")

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    old_samples: list[dict] = []
    old_skipped: list[dict] = []
    if a.only and REGISTRY.exists():
        old = tomllib.loads(REGISTRY.read_text())
        old_samples = [s for s in old.get("sample", []) if s["name"] not in names]
        old_skipped = [s for s in old.get("skipped", []) if s["name"] not in names]

    samples, skipped = list(old_samples), list(old_skipped)
    failures = 0
    for name in names:
        spec = SPECS[name]
        torch.manual_seed(0)
        np.random.seed(0)
        try:
            b = spec.build()
        except Exception as e:
            traceback.print_exc()
            for exp, opset in VARIANTS:
                skipped.append({"name": name, "exporter": exp, "opset": opset, "reason": f"build failed: {e}"})
            failures += 1
            continue
        for exp, opset in b.variants or VARIANTS:
            rel = Path(spec.family) / f"{name}.{exp}.opset{opset}.onnx"
            out = HERE / rel
            t0 = time.time()
            try:
                torch.manual_seed(0)
                proto = export_proto(b, exp, opset)
                info = save_structure_only(proto, out, b)
            except Exception as e:
                msg = error_summary(e)
                print(f"SKIP {rel}: {msg}", flush=True)
                skipped.append({"name": name, "exporter": exp, "opset": opset, "reason": msg})
                for p in (out, out.with_name(out.name + ".data")):
                    if p.exists():
                        p.unlink()
                continue
            print(
                f"ok   {rel}  nodes={info['nodes']} size={info['size_bytes']}B "
                f"ort={info.get('ort_max_abs_diff', info.get('ort_error'))} "
                f"shape_inf={info['shape_inference'][:20]} ({time.time() - t0:.1f}s)",
                flush=True,
            )
            samples.append(
                {
                    "name": name,
                    "path": str(Path("samples") / rel),
                    "exporter": exp,
                    "opset": opset,
                    "family": spec.family,
                    "model": spec.model,
                    "description": b.description,
                    "inputs": {n: list(t.shape) for n, t in zip(b.input_names, b.args, strict=False)},
                    "input_dtypes": {
                        n: str(t.dtype).replace("torch.", "") for n, t in zip(b.input_names, b.args, strict=False)
                    },
                    "dynamic_axes": {n: {str(k): v for k, v in d.items()} for n, d in (b.dynamic or {}).items()},
                    "facts": b.facts,
                    "onnx": info,
                }
            )
    write_registry(
        {
            "generator": "samples/make_samples.py",
            "seed": 0,
            "versions": versions(),
            "variants": [f"{e}:opset{o}" for e, o in VARIANTS],
            "external_data_size_threshold_bytes": SIZE_THRESHOLD,
        },
        samples,
        skipped,
    )
    print(f"registry: {REGISTRY.relative_to(HERE.parent)}  samples={len(samples)} skipped={len(skipped)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
