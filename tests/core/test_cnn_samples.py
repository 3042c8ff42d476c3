"""The predicted engines of the exported CNN samples, checked against their architectures.

Expected counts come from samples/registry.toml, which the sample script derived from the torch
modules (module counts, forward-call counts), never from the ONNX graph.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import onnx
import pytest

from trtadvisor.api import AuditResult, audit

from conftest import sample_path, samples_where

CNN = samples_where(family="cnn")
TARGETS = [("8.6", "86"), ("10.16", "90")]


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["path"].split("/")[-1] for e in entries]


def _audit(entry: dict[str, Any], trt: str, sm: str) -> AuditResult:
    return audit(sample_path(entry), trt=trt, sm=sm, precision="fp16")


def _layers_with(result: AuditResult, op: str) -> list[tuple[str, ...]]:
    return [layer.ops for layer in result.prediction.layers if op in layer.ops]


@pytest.fixture(scope="module", params=[(e, t) for e in CNN for t in TARGETS],
                ids=[f"{i}@trt{t[0]}" for i in _ids(CNN) for t in TARGETS])
def audited(request: pytest.FixtureRequest) -> tuple[dict[str, Any], AuditResult]:
    entry, (trt, sm) = request.param
    return entry, _audit(entry, trt, sm)


def test_every_node_lands_in_exactly_one_layer_or_eliminated(audited: tuple[dict[str, Any], AuditResult]) -> None:
    _, result = audited
    placed = [n for layer in result.prediction.layers for n in layer.nodes] + result.prediction.eliminated
    assert Counter(placed) == Counter(n.name for g in result.model.graph.walk() for n in g.nodes)


def test_every_conv_is_its_own_convolution_layer(audited: tuple[dict[str, Any], AuditResult]) -> None:
    entry, result = audited
    conv_layers = _layers_with(result, "Conv")
    assert len(conv_layers) == entry["facts"]["conv2d"]
    assert all(ops.count("Conv") == 1 and ops[0] == "Conv" for ops in conv_layers)


def _batchnorm_nodes(entry: dict[str, Any]) -> int:
    """BatchNormalization nodes the exporter left in the file (read from the ONNX, not from our loader)."""
    model = onnx.load(str(sample_path(entry)), load_external_data=False)
    return sum(1 for n in model.graph.node if n.op_type == "BatchNormalization")


UNFOLDED_BN = [e for e in CNN if _batchnorm_nodes(e)]


def test_some_samples_keep_their_batchnorm() -> None:
    # Otherwise the folding test below would have nothing to check.
    assert UNFOLDED_BN and all(_batchnorm_nodes(e) == e["facts"]["batchnorm2d"] for e in UNFOLDED_BN)


@pytest.mark.parametrize("entry, target", [pytest.param(e, t, id=f"{Path(e['path']).name}@trt{t[0]}")
                                           for e in UNFOLDED_BN for t in TARGETS])
def test_batchnorm_folds_into_its_convolution(entry: dict[str, Any], target: tuple[str, str]) -> None:
    result = _audit(entry, *target)
    with_bn = [layer for layer in result.prediction.layers if "BatchNormalization" in layer.ops]
    # Every nn.BatchNorm2d follows a Conv2d in these architectures: each folds into its own convolution layer.
    assert len(with_bn) == entry["facts"]["batchnorm2d"]
    assert all(layer.ops[:2] == ("Conv", "BatchNormalization") and "conv+scale" in layer.fusions
               for layer in with_bn)


def _family_params(prefix: str) -> list[Any]:
    return [pytest.param(e, t, id=f"{Path(e['path']).name}@trt{t[0]}")
            for e in CNN if e["name"].startswith(prefix) for t in TARGETS]


@pytest.mark.parametrize("entry, target", _family_params("resnet18"))
def test_resnet_blocks(entry: dict[str, Any], target: tuple[str, str]) -> None:
    result = _audit(entry, *target)
    facts = entry["facts"]
    # BatchNormalization folds into the conv whether the exporter folded it or left it in the graph.
    shapes = Counter(tuple(op for op in layer.ops if op != "BatchNormalization") for layer in result.prediction.layers)
    # Each BasicBlock: conv1 + ReLU, and conv2 + residual Add + ReLU; the stem conv + ReLU; the
    # downsample convs stand alone (the A100 engine: 'Conv_15' beside 'Conv_16 + Add_17 + Relu_18').
    blocks = facts["residual_adds"]
    assert shapes[("Conv", "Relu")] == blocks + 1
    assert shapes[("Conv", "Add", "Relu")] == blocks
    assert shapes[("Conv",)] == facts["downsample_blocks"]
    assert all("conv+eltwise" in layer.fusions and "conv+relu" in layer.fusions
               for layer in result.prediction.layers if "Add" in layer.ops)
    batchnorms = [layer for layer in result.prediction.layers if "BatchNormalization" in layer.ops]
    # One layer per BatchNormalization the file holds: none where the exporter folded them itself.
    assert len(batchnorms) == _batchnorm_nodes(entry) in (0, facts["batchnorm2d"])
    # Every ReLU call is fused into a convolution.
    relus_fused = sum(ops.count("Relu") for ops in _layers_with(result, "Conv"))
    assert relus_fused == facts["activation_calls"]["ReLU"]


@pytest.mark.parametrize("entry, target", _family_params("mobilenet_v2"))
def test_mobilenet_relu6_and_residuals(entry: dict[str, Any], target: tuple[str, str]) -> None:
    result = _audit(entry, *target)
    facts = entry["facts"]
    shapes = Counter(layer.ops for layer in result.prediction.layers)
    assert shapes[("Conv", "Clip")] == facts["activation_calls"]["ReLU6"]
    assert shapes[("Conv", "Add")] == facts["residual_adds"]
    assert shapes[("Conv",)] == facts["conv2d"] - facts["activation_calls"]["ReLU6"] - facts["residual_adds"]
    assert all("conv+clip" in layer.fusions for layer in result.prediction.layers if layer.ops == ("Conv", "Clip"))


@pytest.mark.parametrize("entry, target", _family_params("efficientnet_b0"))
def test_efficientnet_silu_and_squeeze_excite(entry: dict[str, Any], target: tuple[str, str]) -> None:
    result = _audit(entry, *target)
    facts = entry["facts"]
    layers = result.prediction.layers
    silu = [layer for layer in layers if layer.ops == ("Conv", "Sigmoid", "Mul")]
    assert len(silu) == facts["activation_calls"]["SiLU"]
    assert all("conv+act" in layer.fusions and layer.name.endswith(")") and "PWN(" in layer.name for layer in silu)
    # The squeeze-excite gate multiplies the block's features by a sigmoid: two data inputs, so it
    # is a pointwise layer of its own, not a convolution epilogue.
    gates = [layer for layer in layers if layer.ops == ("Sigmoid", "Mul")]
    assert len(gates) == facts["squeeze_excite"] == facts["activation_calls"]["Sigmoid"]
    assert sum(1 for layer in layers if layer.ops == ("Conv", "Add")) == facts["residual_adds"]
    # Squeeze: a global average over H and W, as a pooling layer (a ReduceMean becomes one).
    pools = [layer for layer in layers if layer.kind == "pooling"]
    assert len(pools) == facts["adaptive_avgpool2d"]


def test_dynamic_batch_is_reported_and_the_command_sets_shapes() -> None:
    entry = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]
    result = _audit(entry, "10.16", "90")
    assert [f.rule for f in result.findings if f.rule == "TRT002"] == ["TRT002"]
    assert "--shapes=input:1x3x224x224" in result.trtexec
    fixed = audit(sample_path(entry), shapes={"input": (8, 3, 224, 224)})
    assert "TRT002" not in {f.rule for f in fixed.findings}
    assert "--shapes=input:8x3x224x224" in fixed.trtexec
