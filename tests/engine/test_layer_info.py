"""Layer-info readers against the real artifacts in ../shared/data/trt-artifacts (see its SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.layer_info import read_layer_info
from trtadvisor.errors import ArtifactError

from conftest import artifact as art

# (file, layer count, detailed, first layer name, first layer type)
LAYER_FILES = [
    (
        "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json",
        32,
        True,
        "Conv_0 + Relu_1",
        "CaskConvolution",
    ),
    (
        "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json",
        36,
        True,
        "Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1",
        "Reformat",
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine.graph.json",
        37,
        True,
        "QuantizeLinear_2",
        "Reformat",
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual/resnet-qat-residual.onnx.engine.graph.json",
        26,
        True,
        "QuantizeLinear_2",
        "Reformat",
    ),
    (
        "trex/examples/pytorch/resnet/A100/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine.graph.json",
        24,
        True,
        "QuantizeLinear_2",
        "Reformat",
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine.graph.json",
        103,
        True,
        "resnet50/conv1_conv/Conv2D__6",
        "Shuffle",
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.graph.json",
        86,
        True,
        "resnet50/conv1_conv/Conv2D__6",
        "Shuffle",
    ),
    (
        "trex/examples/tensorflow/resnet/RTX-3090/qat/resnet-qat.onnx.engine.graph.json",
        63,
        True,
        "resnet50/conv1_pad/Pad",
        "Slice",
    ),
    ("trex/tests/inputs/mobilenet.qat.onnx.engine.graph.json", 73, True, "QuantizeLinear_2", "Reformat"),
    (
        "trex/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.graph.json",
        58,
        True,
        "QuantizeLinear_2",
        "Reformat",
    ),
    ("trex-v0.1.0/tests/inputs/mobilenet.qat.onnx.engine.graph.json", 85, True, "QuantizeLinear_2", "Scale"),
    (
        "trex-v0.1.0/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.graph.json",
        59,
        True,
        "QuantizeLinear_2",
        "Scale",
    ),
    ("trex-pr3444-orin/yolo_qat.layer_info-namesonly.json", 86, False, "[trainStation1]", None),
    (
        "trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json",
        9,
        True,
        "node_conv2d + node_relu",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt10.14.1/model-trained-exportLayerInfo.json",
        9,
        True,
        "node_conv2d + node_relu",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt8.6.0/modelInformation-exportLayerInfo-namesonly.json",
        15,
        False,
        "Reformatting CopyNode for Input Tensor 0 to Conv-1 + ReLU-2",
        None,
    ),
    (
        "trt-cookbook/trt8.4.1/modelInformation-exportLayerInfo-namesonly.json",
        12,
        False,
        "Conv-1 + ReLU-2",
        None,
    ),
    (
        "trt-cookbook/trt8.2.3/modelInformation-exportLayerInfo-namesonly.json",
        12,
        False,
        "Conv__25 + Relu",
        None,
    ),
    (
        "trt2022-levit/levit128S.exportLayerInfo-namesonly.json",
        435,
        False,
        "onnx::MatMul_1172 + (Unnamed Layer* 23) [Shuffle]",
        None,
    ),
    ("trt2023-controlnet/controlnet.b3d06c8.layerinfo.json", 385, True, "onnx::Mul_347", "Constant"),
    # text dumps: IEngineInspector ONELINE and trtexec --dumpLayerInfo
    (
        "trt-cookbook/trt10.16.1/EngineInspector-python-oneline.log",
        26,
        True,
        "node_conv2d + node_relu",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt8.4.1/EngineInspector-python-oneline-dynamicshape.log",
        9,
        True,
        "(Unnamed Layer* 0) [Convolution] + (Unnamed Layer* 1) [Activation]",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt8.2-era/EngineInspector-python-oneline-dynamicshape.txt",
        11,
        True,
        "(Unnamed Layer* 0) [Convolution] + (Unnamed Layer* 1) [Activation]",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt10.16.1/result-04-dumpLayerInfo.log",
        9,
        True,
        "node_conv2d + node_relu",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt10.14.1/result-04-dumpLayerInfo.log",
        9,
        True,
        "node_conv2d + node_relu",
        "CaskConvolution",
    ),
    (
        "trt-cookbook/trt8.6.0/result-04-dumpLayerInfo-namesonly-verbose.log",
        15,
        False,
        "Reformatting CopyNode for Input Tensor 0 to Conv-1 + ReLU-2",
        None,
    ),
    (
        "trt-cookbook/trt8.4.1/result-PrintInformation-dumpLayerInfo-verbose.log",
        12,
        False,
        "Conv-1 + ReLU-2",
        None,
    ),
]


@pytest.mark.parametrize(("relative", "count", "detailed", "first", "first_type"), LAYER_FILES)
def test_layer_files(relative: str, count: int, detailed: bool, first: str, first_type: str | None) -> None:
    info = read_layer_info(art(relative))
    assert len(info.layers) == count
    assert info.detailed is detailed
    assert info.layers[0].name == first
    assert info.layers[0].type == first_type


def test_trt10_metadata_and_myelin_layers() -> None:
    info = read_layer_info(art("trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json"))
    by_name = {layer.name: layer for layer in info.layers}
    assert by_name["node_conv2d + node_relu"].metadata_nodes == ("node_conv2d", "node_relu")
    assert by_name["node_linear_myl4_0"].type == "gemm"
    assert by_name["node_linear_myl4_0"].metadata_nodes == ("node_linear", "node_relu_2")
    assert by_name["__myl_AddMaxrSubExpSum_myl4_2"].metadata_nodes == ("node_linear_1", "node_softmax")
    assert by_name["__myl_CastReshCast_myl4_4"].metadata_nodes == ()
    assert by_name["__myl_CastReshCast_myl4_4"].precision == "int64"
    assert [layer.type for layer in info.layers].count("kgen") == 4
    assert by_name["node_conv2d + node_relu"].stream_id == 0
    assert by_name["node_conv2d + node_relu"].precision == "fp32"
    assert by_name["node_conv2d + node_relu"].inputs[0].location == "Device"
    assert info.bindings == ("x", "y", "z")


def test_text_dump_metadata_keeps_unit_separators() -> None:
    # str.splitlines() would split the U+001E between the two nodes; the reader must not.
    info = read_layer_info(art("trt-cookbook/trt10.14.1/result-04-dumpLayerInfo.log"))
    assert info.layers[0].metadata_nodes == ("node_conv2d", "node_relu")
    assert info.layers[0].inputs[0].dims == (1, 1, 28, 28)


def test_inspector_oneline_fp16_formats_and_profiles() -> None:
    info = read_layer_info(art("trt-cookbook/trt10.16.1/EngineInspector-python-oneline.log"))
    names = [layer.name for layer in info.layers]
    assert "node_conv2d_1 + node_relu_1 [profile 1]" in names
    reformat = info.layers[2]
    assert reformat.type == "Reformat" and reformat.origin == "REFORMAT"
    assert reformat.inputs[0].precision == "fp32" and reformat.outputs[0].precision == "fp16"


def test_dynamic_shape_inspector_has_no_precision() -> None:
    info = read_layer_info(art("trt-cookbook/trt8.4.1/EngineInspector-python-oneline-dynamicshape.log"))
    assert info.layers[0].inputs[0].dims == (-1, 1, 28, 28)
    assert info.layers[0].precision is None  # "N/A due to dynamic shapes"
    assert info.layers[0].tactic == "maxwell_scudnn_128x32_relu_small_nn_v0"


def test_detailed_json_fields() -> None:
    info = read_layer_info(art("trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json"))
    conv = info.layers[1]
    assert conv.name == "Conv_0 + Relu_1"
    assert conv.precision == "fp16"
    assert conv.tactic.startswith("trt_turing_cutlass_image_network_first_layer_hmma")
    assert conv.outputs[0].dims == (32, 64, 112, 112)
    assert conv.raw["OutMaps"] == 64


# (log, layer count of the last "Engine Layer Information" block, first name, first type, a tensor format)
ENGINE_LAYER_BLOCKS = [
    (
        "trt-cookbook/trt10.16.1/result-02-build-verbose.log",
        6,
        "{ForeignNode[node_conv2d...node_relu]}",
        "Myelin",
    ),
    (
        "trt-cookbook/trt10.14.1/result-02-build-verbose.log",
        16,
        "Reformatting CopyNode for Input Tensor 0 to node_conv2d + node_relu",
        "Reformat",
    ),
    (
        "trt-cookbook/trt8.6.0/result-02-build-verbose.log",
        15,
        "Reformatting CopyNode for Input Tensor 0 to Conv-1 + ReLU-2",
        "Reformat",
    ),
    ("trt-cookbook/trt8.4.1/result-FP16-build-verbose.log", 12, "Conv-1 + ReLU-2", "CaskConvolution"),
    ("trt-cookbook/trt8.4.1/result-FP32-build-verbose.log", 12, "Conv-1 + ReLU-2", "CaskConvolution"),
    ("trt-cookbook/trt8.2.3/result-FP32-build-verbose.log", 12, "Conv__25 + Relu", "CaskConvolution"),
    ("trt-cookbook/trt8.0.3/result-FP16-build-verbose.log", 10, "Conv__25 + Relu", "CaskConvolution"),
    ("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log", 480, "input_0 to nvm", "Reformat"),
    ("trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log", 86, "[trainStation1]", "TrainStation"),
]


@pytest.mark.parametrize(("relative", "count", "first", "first_type"), ENGINE_LAYER_BLOCKS)
def test_engine_layer_information_blocks(relative: str, count: int, first: str, first_type: str) -> None:
    engine = load_engine(log=art(relative))
    assert len(engine.layers) == count
    assert engine.layers[0].name == first
    assert engine.layers[0].type == first_type


def test_engine_layer_information_tensor_syntax() -> None:
    new = load_engine(log=art("trt-cookbook/trt10.16.1/result-02-build-verbose.log"))
    reformat = new.layers[2]
    assert reformat.outputs[0].format == "Half" and reformat.outputs[0].dims == (-1, 32, 14, 14)
    assert reformat.outputs[0].vector == 8
    assert [t.name for t in new.layers[-1].outputs] == ["y", "z"]
    old = load_engine(log=art("trt-cookbook/trt8.4.1/result-FP16-build-verbose.log"))
    assert old.layers[0].inputs[0].name == "tensor-0"
    assert old.layers[0].inputs[0].dims == (-2, 1, 28, 28)
    assert old.layers[0].tactic == "0x632674f65e3422ae"
    dla = load_engine(log=art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log"))
    assert dla.layers[1].name == "{ForeignNode[Conv_12]}" and dla.layers[1].type == "DLA"
    assert dla.layers[3].type == "FinishNvmRegion" and dla.layers[3].outputs == ()


BAD_INPUTS = {
    "not-json.json": b"this is not json at all\n",
    "truncated.json": b'{"Layers": [{"Name": "Conv_0", "LayerType": "CaskConvolution"',
    "empty.json": b"",
    "image.json": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    "wrong-kind.json": b'[{"count": 1}, {"name": "a", "timeMs": 1.0, "averageMs": 1.0, "percentage": 100}]',
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_malformed_layer_info_gives_artifact_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_INPUTS[name])
    with pytest.raises(ArtifactError) as error:
        read_layer_info(path)
    assert str(path) in error.value.message
    assert error.value.hint


def test_missing_file_gives_artifact_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        read_layer_info(tmp_path / "absent.json")


# -- TensorRT 11: "I/O Tensors" beside 8.x/10.x "Bindings" ------------------------------------------------
#
# NOT a real TensorRT artifact: no 11.x engine is available here. This fixture is built by hand from the
# field list of the IEngineInspector 10.x -> 11.x migration page (I/O Tensors entries with Name, IOMode,
# DataType, Dimensions, Location, IsShapeInferenceIO, ProfileInfo[{MinShape, OptShape, MaxShape, Format}];
# ../shared/reference/tensorrt-11.md 'Engine inspector and profiles'). Exact value spellings (e.g. of
# DataType) are not documented there; the reader keeps them as written and never guesses a missing field.
DOCUMENTED_11X_FIELDS_FIXTURE = {
    "Layers": [{"Name": "conv1 + relu", "LayerType": "CaskConvolution",
                "Inputs": [{"Name": "input", "Dimensions": [-1, 3, 224, 224], "Format/Datatype": "Half"}],
                "Outputs": [{"Name": "x1", "Dimensions": [-1, 64, 112, 112], "Format/Datatype": "Half"}]}],
    "I/O Tensors": [
        {"Name": "input", "IOMode": "Input", "DataType": "Half", "Dimensions": [-1, 3, 224, 224],
         "Location": "Device", "IsShapeInferenceIO": False,
         "ProfileInfo": [{"MinShape": [1, 3, 224, 224], "OptShape": [8, 3, 224, 224], "MaxShape": [32, 3, 224, 224],
                          "Format": "Row major linear FP16 format"}]},
        {"Name": "logits", "IOMode": "Output", "DataType": "Float", "Dimensions": [-1, 1000], "Location": "Device"},
    ],
}


def test_trt11_io_tensors_from_the_documented_field_list(tmp_path: Path) -> None:
    import json

    path = tmp_path / "documented-11x-fields.layers.json"
    path.write_text(json.dumps(DOCUMENTED_11X_FIELDS_FIXTURE))
    info = read_layer_info(path)
    assert info.bindings == ("input", "logits")  # the 8.x/10.x view: names
    first, second = info.io_tensors
    assert (first.name, first.io_mode, first.precision, first.dims) == ("input", "Input", "fp16", (-1, 3, 224, 224))
    assert first.shape_io is False and first.location == "Device"
    assert first.profiles == ({"min": [1, 3, 224, 224], "opt": [8, 3, 224, 224], "max": [32, 3, 224, 224],
                               "format": "Row major linear FP16 format"},)
    assert (second.io_mode, second.precision, second.shape_io, second.profiles) == ("Output", "fp32", None, ())
    engine = load_engine(layer_info=path)
    assert [t.name for t in engine.io_tensors] == ["input", "logits"]
    import jsonschema

    from trtadvisor.confirm.model import engine_to_json

    from conftest import REPO

    schema = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
    data = engine_to_json(engine)
    jsonschema.validate(data, schema["properties"]["engine"])
    assert data["io_tensors"][0]["profiles"][0]["opt"] == [8, 3, 224, 224]


def test_trt8_bindings_are_still_read_and_have_no_io_tensors() -> None:
    # Real: a TREx test input exported by TensorRT 8.x, whose layer info lists "Bindings" (names only).
    info = read_layer_info(art("trex-v0.1.0/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine.graph.json"))
    assert info.bindings == ("inputs.1", "1304") and info.io_tensors == ()
