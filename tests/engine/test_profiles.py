"""Profile and timing readers, and load_engine's merge, against the shared TensorRT artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtadvisor.confirm.artifacts import load_engine, name_key
from trtadvisor.confirm.profile import read_iprofiler_log, read_profile, read_timing
from trtadvisor.errors import ArtifactError

from conftest import artifact as art

# (profile JSON, records, iterations ("count"), has medianMs)
PROFILES = [
    ("trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.profile.json", 32, 1, True),
    ("trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.profile.json", 36, 1, True),
    ("trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine.profile.json", 37, 1, True),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual/resnet-qat-residual.onnx.engine.profile.json",
        26,
        1,
        True,
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine.profile.json",
        24,
        1,
        True,
    ),
    ("trex/examples/tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine.profile.json", 103, 1, True),
    ("trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.profile.json", 86, 1, True),
    ("trex/examples/tensorflow/resnet/RTX-3090/qat/resnet-qat.onnx.engine.profile.json", 63, 1, True),
    ("trex/tests/inputs/mobilenet.qat.onnx.engine.profile.json", 73, 6610, True),
    ("trex/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.profile.json", 58, 8657, True),
    ("trex-v0.1.0/tests/inputs/mobilenet.qat.onnx.engine.profile.json", 85, 4216, False),
    ("trex-v0.1.0/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.profile.json", 59, 7075, False),
    ("trex-pr3444-orin/yolo_qat.profile.json", 86, 11, True),
    ("trt2023-controlnet/controlnet.b3d06c8.profile.json", 385, 344, True),
    ("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.profile.json", 480, 238, False),
]


@pytest.mark.parametrize(("relative", "records", "iterations", "has_median"), PROFILES)
def test_profile_json(relative: str, records: int, iterations: int, has_median: bool) -> None:
    profile = read_profile(art(relative))
    assert len(profile.records) == records
    assert profile.iterations == iterations
    assert all((r.median_ms is not None) is has_median for r in profile.records)
    assert all(r.average_ms is not None and r.percent is not None for r in profile.records)


# (layer info, profile, layer count, largest layer by time, its time in ms, its ONNX nodes)
MERGED = [
    (
        "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.",
        32,
        "Conv_0 + Relu_1",
        0.52224,
        ("Conv_0", "Relu_1"),
    ),
    (
        "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.",
        36,
        "Conv_0 + Relu_1",
        0.111616,
        ("Conv_0", "Relu_1"),
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine.",
        37,
        "conv1.weight + QuantizeLinear_7 + Conv_9",
        0.201728,
        ("QuantizeLinear_7", "Conv_9"),
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual/resnet-qat-residual.onnx.engine.",
        26,
        "QuantizeLinear_2",
        0.095232,
        ("QuantizeLinear_2",),
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine.",
        24,
        "QuantizeLinear_2",
        0.095232,
        ("QuantizeLinear_2",),
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine.",
        103,
        "Conv__435 + resnet50/conv1_relu/Relu",
        0.433152,
        ("Conv__435", "resnet50/conv1_relu/Relu"),
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.",
        86,
        "Conv__435 + resnet50/conv1_relu/Relu",
        0.229376,
        ("Conv__435", "resnet50/conv1_relu/Relu"),
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/qat/resnet-qat.onnx.engine.",
        63,
        "resnet50/quant_conv1_conv/LastValueQuant/QuantizeAndDequantizeV4/ReadVariableOp:0 + "
        "QuantLinearNode__622 + resnet50/quant_conv1_conv/BiasAdd",
        0.167936,
        ("QuantLinearNode__622", "resnet50/quant_conv1_conv/BiasAdd"),
    ),
    (
        "trex/tests/inputs/mobilenet.qat.onnx.engine.",
        73,
        "features.15.conv.2.weight + QuantizeLinear_722 + Conv_726 + Add_728",
        0.016384,
        ("QuantizeLinear_722", "Conv_726", "Add_728"),
    ),
    (
        "trex/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.",
        58,
        "features.17.conv.2.weight + QuantizeLinear_729 + Conv_731",
        0.010208,
        ("QuantizeLinear_729", "Conv_731"),
    ),
    (
        "trex-v0.1.0/tests/inputs/mobilenet.qat.onnx.engine.",
        85,
        "features.16.conv.2.weight + QuantizeLinear_771 + Conv_775 + Add_777",
        0.0173933,
        ("QuantizeLinear_771", "Conv_775", "Add_777"),
    ),
    (
        "trex-v0.1.0/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.",
        59,
        "QuantizeLinear_2",
        0.0118708,
        ("QuantizeLinear_2",),
    ),
]


@pytest.mark.parametrize(("base", "count", "largest", "time_ms", "nodes"), MERGED)
def test_layer_info_with_profile(
    base: str, count: int, largest: str, time_ms: float, nodes: tuple[str, ...]
) -> None:
    engine = load_engine(layer_info=art(base + "graph.json"), profile=art(base + "profile.json"))
    assert len(engine.layers) == count
    assert all(layer.time_ms is not None for layer in engine.layers)  # every layer found its record
    top = max(engine.layers, key=lambda layer: layer.time_ms or 0.0)
    assert top.name == largest
    assert top.time_ms == pytest.approx(time_ms)
    assert top.onnx_nodes == nodes


def test_controlnet_metadata_and_myelin_largest() -> None:
    engine = load_engine(
        layer_info=art("trt2023-controlnet/controlnet.b3d06c8.layerinfo.json"),
        profile=art("trt2023-controlnet/controlnet.b3d06c8.profile.json"),
    )
    assert len(engine.layers) == 385
    top = max(engine.layers, key=lambda layer: layer.time_ms or 0.0)
    assert top.name == (
        "{ForeignNode[Reshape_152 + Transpose_153 + Reshape_154...Reshape_398 + Transpose_399 + Reshape_405]}"
    )
    assert top.type == "Myelin"
    assert top.median_ms == pytest.approx(0.766976)
    swish = next(layer for layer in engine.layers if layer.name == "PWN(PWN(Sigmoid_79), Mul_80)")
    assert swish.metadata_nodes == ("Sigmoid_79", "Mul_80")
    assert swish.onnx_nodes == ("Sigmoid_79", "Mul_80")
    assert {layer.stream_id for layer in engine.layers} == {0}


def test_names_only_plus_profile_yolo() -> None:
    engine = load_engine(
        layer_info=art("trex-pr3444-orin/yolo_qat.layer_info-namesonly.json"),
        profile=art("trex-pr3444-orin/yolo_qat.profile.json"),
    )
    assert len(engine.layers) == 86
    top = max(engine.layers, key=lambda layer: layer.time_ms or 0.0)
    assert top.name == "{ForeignNode[/head/Constant_2_output_0.../Unsqueeze_2]}"
    assert top.median_ms == pytest.approx(113.15)


def test_profile_only_dla() -> None:
    engine = load_engine(profile=art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.profile.json"))
    assert len(engine.layers) == 480
    top = max(engine.layers, key=lambda layer: layer.time_ms or 0.0)
    assert top.name == "{ForeignNode[Mul_14...Conv_15]}"
    assert top.median_ms is None and top.average_ms == pytest.approx(0.451673)


def test_timing_json_summary() -> None:
    summary = read_timing(art("trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.timing.json"))
    assert summary.gpu_compute_median_ms == pytest.approx(0.862183)
    assert summary.latency_median_ms == pytest.approx(0.862183)
    assert summary.h2d_median_ms == 0.0 and summary.d2h_median_ms == 0.0
    assert summary.enqueue_median_ms == pytest.approx(0.005, abs=1e-6)


def test_iprofiler_log() -> None:
    profile = read_iprofiler_log(art("trt-cookbook/trt10.16.1/IProfiler-python.log"))
    names = [record.name for record in profile.records]
    assert len(names) == 13
    assert names[0] == "Reformatting CopyNode for Input Tensor 0 to node_conv2d + node_relu"
    linear = profile.records[names.index("node_linear_myl7_1")]
    assert linear.median_ms == pytest.approx(0.018848)
    # The same profiler log read as a "profile" by load_engine.
    engine = load_engine(profile=art("trt-cookbook/trt10.16.1/IProfiler-python.log"))
    assert max(engine.layers, key=lambda layer: layer.time_ms or 0.0).name == "node_linear_myl7_1"


def test_name_key_ignores_profile_suffix_and_escaping() -> None:
    assert name_key("node_conv2d + node_relu [profile 1]") == "node_conv2d + node_relu"
    assert name_key('a \\"b\\"') == 'a "b"'


def test_profile_names_with_raw_control_characters(tmp_path: Path) -> None:
    # TensorRT writes layer names unescaped: a raw tab and a stray backslash must not break the reader.
    path = tmp_path / "profile.json"
    path.write_bytes(
        b'[{ "count" : 3 }\n, { "name" : "a\tb \\d", "timeMs" : 3.0, "averageMs" : 1.0, "medianMs" : 1.0,'
        b' "percentage" : 100 }\n]'
    )
    profile = read_profile(path)
    assert profile.records[0].name == "a\tb \\d"
    assert profile.iterations == 3


BAD = {
    "not-json.json": b"Layer Time (ms)\n",
    "truncated.json": b'[{ "count" : 1 }, { "name" : "Conv_0", "timeMs" : 0.1',
    "empty.json": b"   \n",
    "image.json": b"\x89PNG\r\n\x1a\n" + bytes(32),
    "layer-info.json": b'{"Layers": ["Conv_0"], "Bindings": []}',
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_profile(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD[name])
    with pytest.raises(ArtifactError) as error:
        load_engine(profile=path)
    assert str(path) in error.value.message


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_timing(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD[name])
    with pytest.raises(ArtifactError) as error:
        read_timing(path)
    assert str(path) in error.value.message
