"""Generate large, realistic ONNX graphs whose weights are declared external and absent.

The graph repeats a CNN stage (Conv, BatchNormalization, ReLU, residual Add, a SiLU and a
squeeze-excite gate) and a transformer block (LayerNorm, Q/K/V MatMuls, scaled-dot-product
attention with a mask, a tanh-GELU MLP), so every family of rules does real work. It is
deterministic: the same arguments always write the same bytes.

    python benchmarks/make_large_graph.py --nodes 99000 -o /tmp/large.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx
from onnx import TensorProto, helper

CHANNELS = 64
HIDDEN = 256
HEADS = 4
SEQ = 128


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.count = 0

    def name(self, op: str) -> str:
        self.count += 1
        return f"{op}_{self.count}"

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        name = self.name(op)
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def weight(self, dims: list[int]) -> str:
        """A weight whose data is declared to live in an external file that does not exist."""
        name = self.name("w")
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
        t.data_location = TensorProto.EXTERNAL
        size = 4
        for d in dims:
            size *= d
        for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(size))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        self.inits.append(t)
        return name

    def const(self, values: list[int] | list[float], dtype: int = TensorProto.INT64) -> str:
        name = self.name("c")
        self.inits.append(helper.make_tensor(name, dtype, [len(values)], values))
        return name

    def scalar(self, value: float) -> str:
        name = self.name("s")
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, [], [value]))
        return name


def _cnn_stage(b: _Builder, x: str) -> str:
    c = CHANNELS
    y = b.node("Conv", [x, b.weight([c, c, 3, 3])], pads=[1, 1, 1, 1])
    y = b.node("BatchNormalization", [y, b.weight([c]), b.weight([c]), b.weight([c]), b.weight([c])])
    y = b.node("Relu", [y])
    y = b.node("Conv", [y, b.weight([c, c, 3, 3]), b.weight([c])], pads=[1, 1, 1, 1])
    y = b.node("Add", [y, x])
    y = b.node("Relu", [y])
    s = b.node("Sigmoid", [y])
    y = b.node("Mul", [y, s])
    g = b.node("GlobalAveragePool", [y])
    g = b.node("Conv", [g, b.weight([c, c, 1, 1]), b.weight([c])])
    g = b.node("Sigmoid", [g])
    return b.node("Mul", [y, g])


def _transformer_block(b: _Builder, x: str, mask: str) -> str:
    h, n = HIDDEN, HEADS
    ln = b.node("LayerNormalization", [x, b.weight([h]), b.weight([h])], axis=-1)
    heads_shape = b.const([1, SEQ, n, h // n])

    def project(t: str) -> str:
        y = b.node("MatMul", [t, b.weight([h, h])])
        y = b.node("Add", [y, b.weight([h])])
        y = b.node("Reshape", [y, heads_shape])
        return b.node("Transpose", [y], perm=[0, 2, 1, 3])

    q, k, v = project(ln), project(ln), project(ln)
    kt = b.node("Transpose", [k], perm=[0, 1, 3, 2])
    scores = b.node("MatMul", [q, kt])
    scores = b.node("Div", [scores, b.scalar(float((h // n) ** 0.5))])
    scores = b.node("Add", [scores, mask])
    probs = b.node("Softmax", [scores], axis=-1)
    ctx = b.node("MatMul", [probs, v])
    ctx = b.node("Transpose", [ctx], perm=[0, 2, 1, 3])
    ctx = b.node("Reshape", [ctx, b.const([1, SEQ, h])])
    out = b.node("MatMul", [ctx, b.weight([h, h])])
    x = b.node("Add", [x, out])
    ln = b.node("LayerNormalization", [x, b.weight([h]), b.weight([h])], axis=-1)
    up = b.node("MatMul", [ln, b.weight([h, 4 * h])])
    # tanh-form GELU: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
    cube = b.node("Pow", [up, b.scalar(3.0)])
    inner = b.node("Add", [up, b.node("Mul", [cube, b.scalar(0.044715)])])
    t = b.node("Tanh", [b.node("Mul", [inner, b.scalar(0.7978845608)])])
    gelu = b.node("Mul", [b.node("Mul", [up, b.scalar(0.5)]), b.node("Add", [t, b.scalar(1.0)])])
    down = b.node("MatMul", [gelu, b.weight([4 * h, h])])
    return b.node("Add", [x, down])


def make_model(target_nodes: int) -> onnx.ModelProto:
    b = _Builder()
    image, tokens = "image", "tokens"
    mask = "mask"
    x, t = image, tokens
    while len(b.nodes) < target_nodes:
        x = _cnn_stage(b, x)
        t = _transformer_block(b, t, mask)
    graph = helper.make_graph(
        b.nodes,
        "large",
        [
            helper.make_tensor_value_info(image, TensorProto.FLOAT, ["batch", CHANNELS, 56, 56]),
            helper.make_tensor_value_info(tokens, TensorProto.FLOAT, [1, SEQ, HIDDEN]),
            helper.make_tensor_value_info(mask, TensorProto.FLOAT, [1, 1, SEQ, SEQ]),
        ],
        [
            helper.make_tensor_value_info(x, TensorProto.FLOAT, None),
            helper.make_tensor_value_info(t, TensorProto.FLOAT, None),
        ],
        initializer=b.inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="trtadvisor-bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=99_000)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    model = make_model(args.nodes)
    args.output.write_bytes(model.SerializeToString())
    print(f"{args.output}: {len(model.graph.node)} nodes, {args.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
