"""Every Q/DQ rejection and placement check (rules/qdq.toml) on a failing and a passing model.

The models are small graphs built with onnx.helper; the real samples follow at the end
(onnxruntime's default UINT8 quantization is rejected, its symmetric INT8 is not).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit

from conftest import REPO

F = TensorProto.FLOAT


class Net:
    """A tiny graph builder: every value is a tensor name; initializers are numpy arrays."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def const(self, value: np.ndarray) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs: Any) -> str:
        self.n += 1
        out = f"{op}_{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def qdq(self, x: str, scale: Any = 0.02, zero: Any = 0, axis: int | None = None) -> str:
        s = scale if isinstance(scale, str) else self.const(np.asarray(scale, np.float32))
        z = self.const(np.asarray(zero) if not isinstance(zero, int) else np.int8(zero))
        kw = {} if axis is None else {"axis": axis}
        return self.op("DequantizeLinear", [self.op("QuantizeLinear", [x, s, z], **kw), s, z], **kw)

    def qweight(self, w: np.ndarray, axis: int = 0) -> str:
        scale = np.full(w.shape[axis], 0.01, np.float32)
        return self.qdq(self.const(w), scale, np.zeros(w.shape[axis], np.int8), axis=axis)

    def conv(self, x: str, cin: int, cout: int, quantize_input: bool = True, quantize_weight: bool = True,
             op: str = "Conv") -> str:
        shape = (cout, cin, 1, 1) if op == "Conv" else (cin, cout, 1, 1)
        w = np.ones(shape, np.float32)
        xin = self.qdq(x) if quantize_input else x
        weight = self.qweight(w, 0 if op == "Conv" else 1) if quantize_weight else self.const(w)
        return self.op(op, [xin, weight])

    def model(self, inputs: dict[str, list[int]], out: str, opset: int = 13) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "g", [helper.make_tensor_value_info(k, F, v) for k, v in inputs.items()],
            [helper.make_tensor_value_info(out, F, None)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


X = {"x": [1, 32, 8, 8]}


def two_convs(**first: Any) -> onnx.ModelProto:
    net = Net()
    y = net.op("Relu", [net.conv("x", 32, 32, **first)])
    return net.model(X, net.op("Relu", [net.conv(y, 32, 32)]))


def zero_point(zero: Any) -> Callable[[], onnx.ModelProto]:
    def build() -> onnx.ModelProto:
        net = Net()
        return net.model(X, net.op("Relu", [net.op("Conv", [net.qdq("x", zero=zero), net.qweight(
            np.ones((32, 32, 1, 1), np.float32))])]))
    return build


def dynamic_scale(dynamic: bool) -> onnx.ModelProto:
    net = Net()
    scale = net.op("Div", [net.const(np.float32(2.5)), net.op("ReduceMax", ["x"], keepdims=0)]) if dynamic \
        else net.const(np.float32(0.02))
    return net.model(X, net.op("Conv", [net.qdq("x", scale=scale), net.qweight(np.ones((32, 32, 1, 1), np.float32))]))


def activation_per_channel(per_channel: bool) -> onnx.ModelProto:
    net = Net()
    x = net.qdq("x", np.full(32, 0.02, np.float32), np.zeros(32, np.int8), axis=1) if per_channel else net.qdq("x")
    return net.model(X, net.op("Conv", [x, net.qweight(np.ones((32, 32, 1, 1), np.float32))]))


def qdq_before_relu(bad: bool) -> onnx.ModelProto:
    net = Net()
    c = net.conv("x", 32, 32)
    y = net.op("Relu", [net.qdq(c) if bad else c])
    return net.model(X, net.conv(y, 32, 32))


def residual(quantized: bool) -> onnx.ModelProto:
    net = Net()
    x = net.op("Relu", [net.conv("x", 32, 32)])
    main = net.conv(x, 32, 32)
    skip = net.qdq(x) if quantized else x
    y = net.op("Relu", [net.op("Add", [main, skip])])
    return net.model(X, net.conv(y, 32, 32))


def residual_float_output(quantized: bool) -> onnx.ModelProto:
    """The fused Conv + Add feeds an unquantized pooling: a quantized residual leaves a DQ layer."""
    net = Net()
    x = net.op("Relu", [net.conv("x", 32, 32)])
    skip = net.qdq(x) if quantized else x
    y = net.op("Relu", [net.op("Add", [net.conv(x, 32, 32), skip])])
    return net.model(X, net.op("GlobalAveragePool", [y]))


def mask_add(quantized: bool) -> onnx.ModelProto:
    net = Net()
    q = net.qdq("q") if quantized else "q"
    scores = net.op("MatMul", [net.qdq("q"), net.qdq("k")])
    masked = net.op("Add", [net.qdq(scores) if quantized else scores, "mask"])
    del q
    return net.model({"q": [1, 4, 64, 64], "k": [1, 4, 64, 64], "mask": [1, 1, 64, 64]},
                     net.op("Softmax", [masked], axis=-1))


def gemv(rows: int) -> onnx.ModelProto:
    net = Net()
    out = net.op("MatMul", [net.qdq("a"), net.qweight(np.ones((64, 64), np.float32), axis=1)])
    return net.model({"a": [rows, 64]}, out)


def channels(cin: int) -> onnx.ModelProto:
    net = Net()
    return net.model({"x": [1, cin, 8, 8]}, net.conv("x", cin, 32))


def weight_axis(op: str, axis: int) -> onnx.ModelProto:
    net = Net()
    w = np.ones((32, 32, 1, 1), np.float32) + np.arange(32, dtype=np.float32).reshape(32, 1, 1, 1)
    out = net.op(op, [net.qdq("x"), net.qweight(w, axis=axis)])
    return net.model(X, out)


def attention(head: int, seq: int) -> onnx.ModelProto:
    net = Net()
    scores = net.op("MatMul", [net.qdq("q"), net.qdq("kt")])
    probs = net.op("Softmax", [scores], axis=-1)
    out = net.op("MatMul", [net.qdq(probs), net.qdq("v")])
    return net.model({"q": [1, 4, seq, head], "kt": [1, 4, head, seq], "v": [1, 4, seq, head]}, out)


# (rule, failing model, passing model)
CASES: list[tuple[str, Callable[[], onnx.ModelProto], Callable[[], onnx.ModelProto]]] = [
    ("TRT401", zero_point(np.uint8(0)), zero_point(np.int8(0))),
    ("TRT402", zero_point(np.int8(3)), zero_point(np.int8(0))),
    ("TRT403", lambda: dynamic_scale(True), lambda: dynamic_scale(False)),
    ("TRT404", lambda: activation_per_channel(True), lambda: activation_per_channel(False)),
    ("TRT405", lambda: two_convs(quantize_weight=False), lambda: two_convs()),
    ("TRT406", lambda: qdq_before_relu(True), lambda: qdq_before_relu(False)),
    ("TRT407", lambda: residual(False), lambda: residual(True)),
    ("TRT407", lambda: residual_float_output(True), lambda: residual_float_output(False)),
    ("TRT408", lambda: mask_add(True), lambda: mask_add(False)),
    ("TRT409", lambda: gemv(1), lambda: gemv(64)),
    ("TRT410", lambda: channels(24), lambda: channels(32)),
    ("TRT411", lambda: weight_axis("Conv", 1), lambda: weight_axis("Conv", 0)),
    ("TRT411", lambda: weight_axis("ConvTranspose", 0), lambda: weight_axis("ConvTranspose", 1)),
    ("TRT412", lambda: attention(128, 128), lambda: attention(64, 128)),
    ("TRT412", lambda: attention(64, 1024), lambda: attention(64, 512)),
]


def _codes(model: onnx.ModelProto, tmp_path: Path, name: str) -> dict[str, str]:
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    result = audit(path, trt="8.6", sm="80")
    return {f.rule: f.severity for f in result.findings if f.rule.startswith("TRT4")}


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fails_and_passes(rule: str, bad: Callable[[], onnx.ModelProto], good: Callable[[], onnx.ModelProto],
                               tmp_path: Path) -> None:
    from trtadvisor.knowledge.rulebook import default_rulebook

    flagged = _codes(bad(), tmp_path, "bad")
    assert rule in flagged
    assert flagged[rule] == default_rulebook().rule(rule).severity
    assert rule not in _codes(good(), tmp_path, "good")


def test_rejections_are_errors() -> None:
    from trtadvisor.knowledge.rulebook import default_rulebook

    book = default_rulebook()
    assert {book.rule(c).severity for c in ("TRT401", "TRT402", "TRT403", "TRT404")} == {"error"}


def test_fp8_rejected_before_8_6(tmp_path: Path) -> None:
    net = Net()
    weight = net.qweight(np.ones((32, 32, 1, 1), np.float32))
    out = net.op("Conv", [net.qdq("x", zero=np.zeros((), np.float32)), weight])
    model = net.model(X, out, opset=19)
    zero = next(n.input[2] for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x")
    init = next(t for t in model.graph.initializer if t.name == zero)
    init.CopyFrom(helper.make_tensor(zero, TensorProto.FLOAT8E4M3FN, [], [0.0]))
    path = tmp_path / "fp8.onnx"
    onnx.save(model, path)
    old = {f.rule for f in audit(path, trt="8.5", sm="90").findings}
    new = {f.rule for f in audit(path, trt="10.0", sm="90").findings}
    assert "TRT404" in old and "TRT404" not in new


# -- real samples ---------------------------------------------------------------------------------

QDQ = REPO / "samples" / "qdq"


def test_onnxruntime_default_uint8_is_rejected() -> None:
    result = audit(QDQ / "resnet18_ort_uint8_asymmetric.onnx", trt="10.16", sm="90")
    errors = {f.rule for f in result.findings if f.severity == "error"}
    assert {"TRT401", "TRT402"} <= errors
    assert "--stronglyTyped" in result.trtexec


def test_onnxruntime_symmetric_int8_is_accepted_and_flags_qdq_before_relu() -> None:
    result = audit(QDQ / "resnet18_ort_int8_symmetric.onnx", trt="10.16", sm="90")
    codes = {f.rule for f in result.findings}
    assert not codes & {"TRT401", "TRT402", "TRT403", "TRT404"}
    # onnxruntime (without pre-processing) quantizes each Conv output before the Relu that follows it.
    trt406 = next(f for f in result.findings if f.rule == "TRT406")
    convs = {n for n in trt406.nodes if n.endswith("/Conv")}
    assert len(convs) == 9  # stem + the first conv of each of the 8 blocks (the second feeds the Add)
    weighted = result.quantization["weighted"]
    assert weighted["Conv"]["quantized"] == weighted["Conv"]["fused"] == 20


def test_report_validates_against_schema() -> None:
    import json

    import jsonschema

    from trtadvisor.report.json_report import report_dict

    schema = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
    result = audit(QDQ / "resnet18_qat_residual.onnx", trt="8.4", sm="80")
    data = report_dict(result)
    jsonschema.validate(data, schema)
    precisions = {item["precision"] for item in data["quantization"]["layers"]}
    assert "int8->int8" in precisions and "float->int8" in precisions
