"""Strongly typed prediction (TensorRT 11; --stronglyTyped on 9.0-10.x) on real exports.

What is asserted comes from the models' own tensor types (read from the ONNX files here) and from
../shared/reference/tensorrt-11.md: from 11.0 every network is strongly typed, FP32 layers keep FP32
with TF32 math on by default (kTF32 remains), FP16/BF16 come from converting the model (ModelOpt
AutoCast), INT8/FP8 only from explicit Q/DQ, and no precision flag exists in trtexec. Samples:
samples/typing/make_typing_samples.py (torch exports), samples/qdq (onnxruntime quantizer / QAT).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import onnx
import pytest
from onnx import TensorProto

from trtadvisor.api import audit

from conftest import REPO, SAMPLES, sample_path, samples_where

RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
HALF = SAMPLES / "typing" / "resnet18.half.torchscript.opset17.onnx"
AUTOCAST = SAMPLES / "typing" / "resnet18.autocast_fp16.torchscript.opset17.onnx"
QDQ = SAMPLES / "qdq" / "resnet18_ort_int8_symmetric.onnx"
PRECISION_FLAGS = {"--fp16", "--bf16", "--int8", "--fp8", "--int4", "--best", "--calib"}


def _conv_layers(result):  # type: ignore[no-untyped-def]
    return [layer for layer in result.prediction.layers if "Conv" in layer.ops]


def _proto(path) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    return onnx.load(str(path), load_external_data=False)


def test_fp32_model_on_11_builds_fp32_with_tf32_math_and_autocast_is_the_way_to_fp16() -> None:
    assert _proto(RESNET).graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    result = audit(RESNET, trt="11.4", gpu="H100")  # --precision defaults to fp16: the intent
    assert result.target.typing == "strong" and result.target.intent == "fp16"
    convs = _conv_layers(result)
    assert convs and {layer.precision for layer in convs} == {"tf32"}  # SM 9.0: TF32 tensor cores
    assert not any(layer.precision == "fp16" for layer in result.prediction.layers)
    (finding,) = [f for f in result.findings if f.rule == "TRT221"]
    assert "AutoCast" in finding.hint and "modelopt.onnx.autocast" in finding.hint and "FP32" in finding.message
    for command in (result.trtexec, str(result.profile_command)):
        assert not PRECISION_FLAGS & set(command.split()) and "--useCudaGraph" not in command
    assert result.reformats is None  # FP32 I/O into an FP32 engine: nothing to convert


def test_tf32_needs_ampere_and_fp32_intent_turns_it_off() -> None:
    t4 = audit(RESNET, trt="11.4", gpu="T4")  # SM 7.5: no TF32
    assert {layer.precision for layer in _conv_layers(t4)} == {"fp32"}
    strict = audit(RESNET, trt="11.4", gpu="A100", precision="fp32")
    assert {layer.precision for layer in _conv_layers(strict)} == {"fp32"}
    assert "--noTF32" in strict.trtexec.split()  # kTF32 remains in 11.x, so --noTF32 does too
    assert "TRT221" not in {f.rule for f in strict.findings}


def test_fp16_converted_model_is_predicted_fp16() -> None:
    graph = _proto(HALF).graph
    assert {n.op_type for n in graph.node} >= {"Conv"}
    assert graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    result = audit(HALF, trt="11.4", gpu="H100")
    assert result.target.precision == "fp16"
    assert {layer.precision for layer in result.prediction.layers} == {"fp16"}
    assert "TRT221" not in {f.rule for f in result.findings}
    assert not PRECISION_FLAGS & set(result.trtexec.split())


def test_casts_at_dtype_boundaries_are_the_conversion_layers() -> None:
    graph = _proto(AUTOCAST).graph
    casts = {n.name: n.attribute[0].i for n in graph.node if n.op_type == "Cast"}
    names = {TensorProto.FLOAT16: "fp16", TensorProto.FLOAT: "fp32"}
    result = audit(AUTOCAST, trt="11.4", gpu="H100")
    reformats = {r["name"]: r for r in result.reformats or []}
    assert set(reformats) == set(casts)  # every Cast of the model, and only those (no I/O reformat)
    for name, to in casts.items():
        assert reformats[name]["to"] == names[to]
    at_input = [r for r in reformats.values() if r["at"] == "input"]
    assert at_input and at_input[0]["from"] == "fp32" and at_input[0]["to"] == "fp16"
    standalone = [layer for layer in result.prediction.layers if layer.ops == ("Cast",)]
    assert standalone and standalone[0].precision == "fp32->fp16"
    assert {layer.precision for layer in _conv_layers(result)} == {"fp16"}


def test_10x_stays_weakly_typed_unless_asked() -> None:
    weak = audit(RESNET, trt="10.16", gpu="H100", precision="fp16")
    assert weak.target.typing == "weak" and "--fp16" in weak.trtexec.split()
    assert {layer.precision for layer in _conv_layers(weak)} == {"fp16"}
    strong = audit(RESNET, trt="10.16", gpu="H100", precision="fp16", strongly_typed=True)
    assert strong.target.typing == "strong" and "--stronglyTyped" in strong.trtexec.split()
    assert "--fp16" not in strong.trtexec.split()
    assert {layer.precision for layer in _conv_layers(strong)} == {"tf32"}


def test_qdq_model_follows_its_quantized_types() -> None:
    graph = _proto(QDQ).graph
    zero_types = {init.name: init.data_type for init in graph.initializer}
    produced_by_q = {n.output[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    activation_dq = {zero_types.get(n.input[2]) for n in graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in produced_by_q and len(n.input) > 2}
    assert activation_dq == {TensorProto.INT8}  # the symmetric quantizer's activations are INT8
    for trt in ("10.16", "11.4"):
        result = audit(QDQ, trt=trt, gpu="A100")
        assert result.target.typing == "strong" and result.target.precision == "int8"
        quantized = Counter(layer.precision for layer in _conv_layers(result))
        assert quantized["int8"] >= 15, quantized  # ResNet-18's convolutions read INT8 activations
    assert "--stronglyTyped" in audit(QDQ, trt="10.16").trtexec.split()


@pytest.mark.parametrize("trt, says", [("10.16", "--calib="), ("11.4", "modelopt.onnx.quantization")])
def test_int8_without_qdq_needs_calibration_on_10_and_is_impossible_on_11(trt: str, says: str) -> None:
    result = audit(RESNET, trt=trt, gpu="A100", precision="int8")
    (finding,) = [f for f in result.findings if f.rule == "TRT222"]
    assert says in finding.hint
    if trt.startswith("11"):
        assert "no calibration" in finding.message and "--int8" not in result.trtexec.split()
        assert {layer.precision for layer in _conv_layers(result)} == {"tf32"}


@pytest.mark.parametrize("trt, expected", [("10.16", None), ("11.3", "neither JetPack nor DLA"),
                                           ("11.4", "11.4.1"), ("11.1", "no 11.0-11.2 release note")])
def test_jetson_support_per_version(trt: str, expected: str | None) -> None:
    found = [f.message for f in audit(RESNET, trt=trt, gpu="Jetson AGX Orin").findings if f.rule == "TRT223"]
    assert (found == []) if expected is None else (len(found) == 1 and expected in found[0])


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown", "github", "html", "rich"])
def test_every_format_states_target_typing_and_layer_precision(fmt: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "audit", str(RESNET), "--trt", "11.4", "--gpu", "A100",
                           "--format", fmt, "--exit-zero", "--no-config"], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    if fmt in ("json", "sarif"):
        data = json.loads(text)
        target = data["target"] if fmt == "json" else data["runs"][0]["properties"]["target"]
        assert target["trt"] == "11.4" and target["typing"] == "strong" and target["requested_precision"] == "fp16"
        if fmt == "json":
            assert all("precision" in layer for layer in data["layers"])
            assert {layer["precision"] for layer in data["layers"] if "Conv" in layer["ops"]} == {"tf32"}
        else:
            assert data["runs"][0]["properties"]["layer_precisions"].get("tf32", 0) > 0
    else:
        assert "TensorRT 11.4" in text and "strongly typed" in text and "tf32" in text
