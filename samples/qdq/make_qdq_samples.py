"""Make the quantized samples in samples/qdq/ and their registry (run with /work/torchenv/bin/python).

Two families, both made with real tools:

1. Q/DQ placements written with onnx-graphsurgeon that mirror the models behind the shared QAT
   engines (../shared/data/trt-artifacts/trex/...): TREx's ``resnet_example.py`` exports
   pytorch-quantization's QAT ResNet-18 at opset 13 (``use_fb_fake_quant``): a per-tensor Q/DQ on
   every QuantConv2d/QuantLinear input, a per-channel (axis 0) Q/DQ on every weight, BatchNormalization
   left unfolded (the weight goes through the fake quantizer, so the exporter cannot fold it), no Q/DQ
   on MaxPool; ``quantize_residual`` adds a Q/DQ on the identity operand of each residual Add, and
   ``quantize_gap`` one before the global average pooling. The MobileNet-v2 mirror follows
   torchvision's MobileNetV2 (ReLU6 exported as Clip) with the same quantizer placement.
2. onnxruntime ``quantize_static`` in QDQ format on a torchvision ResNet-18 exported from torch:
   symmetric INT8 (``ActivationSymmetric``/``WeightSymmetric``, ``QuantType.QInt8``) and the
   default asymmetric UINT8 activations, calibrated with a few random inputs.

Weights are random and stored as external data that is then deleted: the .onnx files keep the
structure, the shapes and every Q/DQ scale and zero-point (small, and the checks read them).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs

HERE = Path(__file__).resolve().parent
RNG = np.random.default_rng(0)
BATCH = 32  # the A100 engines were built at batch 32


class Builder:
    """Appends nodes to a graphsurgeon graph with pytorch-quantization's Q/DQ placement."""

    def __init__(self, opset: int = 13) -> None:
        self.graph = gs.Graph(opset=opset)
        self.count = 0

    def name(self, op: str) -> str:
        self.count += 1
        return f"{op}_{self.count}"

    def const(self, name: str, value: np.ndarray) -> gs.Constant:
        return gs.Constant(name, np.ascontiguousarray(value))

    def op(self, op: str, inputs: list, attrs: dict | None = None, dtype=np.float32) -> gs.Variable:
        name = self.name(op)
        out = gs.Variable(f"{name}_out", dtype=dtype)
        self.graph.nodes.append(gs.Node(op, name, attrs or {}, inputs, [out]))
        return out

    def qdq(self, x: gs.Variable, prefix: str) -> gs.Variable:
        """A per-tensor INT8 fake quantizer (symmetric: zero point 0)."""
        scale = self.const(f"{prefix}.scale", np.array(0.02, dtype=np.float32))
        zero = self.const(f"{prefix}.zero_point", np.array(0, dtype=np.int8))
        q = self.op("QuantizeLinear", [x, scale, zero], dtype=np.int8)
        return self.op("DequantizeLinear", [q, scale, zero])

    def qweight(self, w: np.ndarray, prefix: str, axis: int = 0) -> gs.Variable:
        channels = w.shape[axis]
        weight = self.const(f"{prefix}.weight", w)
        scale = self.const(f"{prefix}.weight_scale", np.full(channels, 0.01, dtype=np.float32))
        zero = self.const(f"{prefix}.weight_zero_point", np.zeros(channels, dtype=np.int8))
        q = self.op("QuantizeLinear", [weight, scale, zero], {"axis": axis}, dtype=np.int8)
        return self.op("DequantizeLinear", [q, scale, zero], {"axis": axis})

    def qconv(self, x: gs.Variable, cin: int, cout: int, k: int, stride: int, prefix: str,
              groups: int = 1, quantize: bool = True) -> gs.Variable:
        w = (RNG.standard_normal((cout, cin // groups, k, k)) * 0.05).astype(np.float32)
        attrs = {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [k // 2] * 4, "group": groups}
        if not quantize:
            return self.op("Conv", [x, self.const(f"{prefix}.weight", w)], attrs)
        xq = self.qdq(x, f"{prefix}.input_quantizer")
        return self.op("Conv", [xq, self.qweight(w, prefix)], attrs)

    def bn(self, x: gs.Variable, c: int, prefix: str) -> gs.Variable:
        params = [self.const(f"{prefix}.{p}", v) for p, v in (
            ("weight", np.ones(c, np.float32)), ("bias", np.zeros(c, np.float32)),
            ("running_mean", np.zeros(c, np.float32)), ("running_var", np.ones(c, np.float32)))]
        return self.op("BatchNormalization", [x, *params], {"epsilon": 1e-5})

    def clip6(self, x: gs.Variable) -> gs.Variable:
        lo = self.const(f"clip_min_{self.count}", np.array(0.0, np.float32))
        hi = self.const(f"clip_max_{self.count}", np.array(6.0, np.float32))
        return self.op("Clip", [x, lo, hi])

    def qlinear(self, x: gs.Variable, fin: int, fout: int, prefix: str) -> gs.Variable:
        w = (RNG.standard_normal((fout, fin)) * 0.05).astype(np.float32)
        b = self.const(f"{prefix}.bias", np.zeros(fout, np.float32))
        xq = self.qdq(x, f"{prefix}.input_quantizer")
        return self.op("Gemm", [xq, self.qweight(w, prefix), b], {"transB": 1})

    def head(self, x: gs.Variable, channels: int, quantize_gap: bool) -> gs.Variable:
        if quantize_gap:
            x = self.qdq(x, "gap_quantizer")
        x = self.op("GlobalAveragePool", [x])
        x = self.op("Flatten", [x], {"axis": 1})
        return self.qlinear(x, channels, 1000, "fc")

    def finish(self, inp: gs.Variable, out: gs.Variable) -> onnx.ModelProto:
        out.shape = (BATCH, 1000)
        self.graph.inputs = [inp]
        self.graph.outputs = [out]
        self.graph.cleanup().toposort()
        model = gs.export_onnx(self.graph)
        model.producer_name = "onnx-graphsurgeon (trtadvisor samples/qdq mirror)"
        return model


def resnet18_qat(quantize_residual: bool, quantize_gap: bool) -> onnx.ModelProto:
    """TREx's qat_model.resnet18(quantize=True, quantize_residual=..., quantize_gap=...)."""
    b = Builder()
    inp = gs.Variable("input.1", np.float32, (BATCH, 3, 224, 224))
    x = b.qconv(inp, 3, 64, 7, 2, "conv1")
    x = b.op("Relu", [b.bn(x, 64, "bn1")])
    x = b.op("MaxPool", [x], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    inplanes = 64
    for stage, planes in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}.{block}"
            identity = x
            out = b.qconv(x, inplanes, planes, 3, stride, f"{p}.conv1")
            out = b.op("Relu", [b.bn(out, planes, f"{p}.bn1")])
            out = b.bn(b.qconv(out, planes, planes, 3, 1, f"{p}.conv2"), planes, f"{p}.bn2")
            if stride != 1 or inplanes != planes:
                identity = b.bn(b.qconv(x, inplanes, planes, 1, stride, f"{p}.downsample.0"), planes,
                                f"{p}.downsample.1")
            if quantize_residual:
                identity = b.qdq(identity, f"{p}.residual_quantizer")
            x = b.op("Relu", [b.op("Add", [out, identity])])
            inplanes = planes
    return b.finish(inp, b.head(x, 512, quantize_gap))


def mobilenet_v2_qat(quantize_residual: bool) -> onnx.ModelProto:
    """torchvision mobilenet_v2 with every Conv2d/Linear a pytorch-quantization QuantConv2d/QuantLinear."""
    b = Builder()
    inp = gs.Variable("input", np.float32, (BATCH, 3, 224, 224))
    x = b.clip6(b.bn(b.qconv(inp, 3, 32, 3, 2, "features.0.0"), 32, "features.0.1"))
    cin = 32
    index = 1
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"features.{index}.conv"
            hidden = cin * t
            y = x
            if t != 1:
                y = b.clip6(b.bn(b.qconv(y, cin, hidden, 1, 1, f"{p}.0.0"), hidden, f"{p}.0.1"))
            d = f"{p}.{1 if t != 1 else 0}"
            y = b.clip6(b.bn(b.qconv(y, hidden, hidden, 3, stride, f"{d}.0", groups=hidden), hidden, f"{d}.1"))
            last = f"{p}.{2 if t != 1 else 1}"
            y = b.bn(b.qconv(y, hidden, c, 1, 1, last), c, f"{p}.{3 if t != 1 else 2}")
            if stride == 1 and cin == c:
                identity = b.qdq(x, f"features.{index}.residual_quantizer") if quantize_residual else x
                y = b.op("Add", [identity, y])
            x = y
            cin = c
            index += 1
    x = b.clip6(b.bn(b.qconv(x, cin, 1280, 1, 1, "features.18.0"), 1280, "features.18.1"))
    return b.finish(inp, b.head(x, 1280, quantize_gap=False))


def strip_weights(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    """Mark initializers of 1 KB and more as external data at ``location`` and drop their bytes.

    Q/DQ scales and zero points stay inline whatever their size: the placement checks read them.
    """
    keep: set[str] = set()
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            keep.update(node.input[1:])
    offset = 0
    for tensor in model.graph.initializer:
        if tensor.name in keep:
            continue
        array = onnx.numpy_helper.to_array(tensor)
        if array.nbytes < 1024:
            continue
        dims, dtype, name = list(tensor.dims), tensor.data_type, tensor.name
        tensor.Clear()
        tensor.name, tensor.data_type = name, dtype
        tensor.dims.extend(dims)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        offset += array.nbytes
    return model


def save(model: onnx.ModelProto, name: str) -> Path:
    path = HERE / f"{name}.onnx"
    model = strip_weights(model, f"{name}.onnx.data")
    onnx.save(model, path)
    return path


def ort_quantized(symmetric: bool) -> onnx.ModelProto:
    """A torchvision ResNet-18 exported from torch and quantized by onnxruntime (QDQ format)."""
    import torch
    import torchvision
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class RandomImages(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"input": RNG.standard_normal((1, 3, 224, 224)).astype(np.float32)}
                                 for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    model = torchvision.models.resnet18(weights=None).eval()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "resnet18.onnx")
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), fp32, input_names=["input"], opset_version=17,
                          dynamo=False)
        out = os.path.join(tmp, "resnet18.qdq.onnx")
        options = {"ActivationSymmetric": True, "WeightSymmetric": True} if symmetric else {}
        quantize_static(fp32, out, RandomImages(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True, extra_options=options)
        return onnx.load(out)


def main() -> None:
    mirrors = {
        "resnet18_qat": resnet18_qat(quantize_residual=False, quantize_gap=False),
        "resnet18_qat_residual": resnet18_qat(quantize_residual=True, quantize_gap=False),
        "resnet18_qat_residual_qgap": resnet18_qat(quantize_residual=True, quantize_gap=True),
        "mobilenet_v2_qat": mobilenet_v2_qat(quantize_residual=False),
        "mobilenet_v2_qat_residuals": mobilenet_v2_qat(quantize_residual=True),
    }
    for name, model in mirrors.items():
        onnx.checker.check_model(model)
        print("wrote", save(model, name))
    for name, symmetric in (("resnet18_ort_int8_symmetric", True), ("resnet18_ort_uint8_asymmetric", False)):
        print("wrote", save(ort_quantized(symmetric), name))


if __name__ == "__main__":
    main()
