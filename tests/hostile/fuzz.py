"""Seeded mutations of real models and TensorRT artifacts, as CLI cases for the sandboxed worker.

Seeds are real files: exported samples from samples/ and TensorRT artifacts from
../shared/data/trt-artifacts (read, never copied into the repository). Mutations are byte-level
(truncation, bit flips, inserted/deleted/duplicated chunks, hostile tokens spliced in) and structural
(a JSON value replaced by one of another type or an extreme number; an ONNX field set to a hostile
value). Command lines are drawn from the real flags with hostile values.

``fuzz_cases(tmp, seed, count)`` is deterministic for a seed: the suite runs a small fixed set
(tests/hostile/test_fuzz.py); tests/hostile/campaign.py runs hundreds with fresh seeds.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import onnx
from onnx import helper

from hostile.hostile_inputs import ARTIFACTS, REPO, Case, write_text

MODELS = [REPO / "samples/cnn/resnet18.dynamo.opset18.onnx",
          REPO / "samples/transformers/bert_eager.torchscript.opset17.onnx",
          REPO / "samples/qdq/resnet18_qat.onnx"]
# Real exports that between them hold every op whose attributes the plan passes read (Conv, Gemm, MaxPool,
# ArgMax; Softmax, Cast, Slice, Transpose, Where; Einsum; Gather, Squeeze; LayerNormalization,
# ConstantOfShape; Split; the ORT Attention contrib op; per-channel Q/DQ; Pad; Range; Clip).
OP_MODELS = [REPO / f"samples/{name}.onnx" for name in (
    "real_pairs/lenet.dynamo.opset18", "attention/sdpa_seq1024.torchscript.opset17",
    "attention/sdpa_mask2d_bool.torchscript.opset17", "wild/tf2onnx_transformer_block_einsum",
    "wild/tf2onnx_transformer_block", "transformers/vit_sdpa.torchscript.opset17",
    "transformers/gpt2_eager_padmask.torchscript.opset17", "wild/ort_optimized_bert",
    "qdq/resnet18_ort_int8_symmetric", "wild/tf2onnx_resnet50", "fix/llama_gqa_sdpa.dynamo.opset23.noopt",
    "cnn/mobilenet_v2.torchscript.opset17")]
LAYER_INFOS = [ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json",
               ARTIFACTS / "trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json",
               ARTIFACTS / "trt-cookbook/trt10.16.1/EngineInspector-python-oneline.log"]
PROFILES = [ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.profile.json",
            ARTIFACTS / "trt-cookbook/trt10.16.1/IProfiler-python.log"]
TIMING = ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.timing.json"
LOGS = [ARTIFACTS / "trt-cookbook/trt10.16.1/result-05-dumpProfile.log",
        ARTIFACTS / "trt-cookbook/trt10.16.1/result-04-dumpLayerInfo.log",
        ARTIFACTS / "trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"]
CONFIG = b"""[tool.trtadvisor]
trt = "10.8"
gpu = "L4"
precision = "fp16"
fail-on = "warning"
select = ["TRT1", "TRT2"]
ignore = ["TRT109"]
[tool.trtadvisor.severity]
TRT204 = "warning"
[tool.trtadvisor.per-node-ignores]
"/layer1/*" = ["TRT101"]
"""
BASELINE = {"schema": "trtadvisor.baseline/v1", "model": "m.onnx", "findings": [
    {"fingerprint": "0123456789abcdef0123", "rule": "TRT001", "ops": ["Conv"], "scopes": ["conv1"], "count": 1,
     "example": "external weight file(s) absent"}]}

# Tokens that broke readers before (issue 15) and their relatives.
HOSTILE_TOKENS = [b"9" * 5000, b"-" + b"9" * 30, b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"1.5",
                  b"[" * 3000, b"{" * 3000, b'"' * 50, b"\\", b"\\u0000", b"\xff\xfe\xfd", b"\xc3(", b"\x00",
                  b"\x1b[31m", b"\xe2\x80\xae", b"\n" * 50, b"x" * 100_000, b" " * 100_000, b"a (" * 5000,
                  b"] a: Fusing " * 200, b"=== Profile (99999999999999999999 iterations) ===", b"\xc2\xb2.0",
                  b"banana", b"true", b"null", b"{}", b"[]", b'"x"', b"0x" + b"f" * 40]
EXTREME_VALUES: list[object] = [None, True, "", "x" * 5000, -1, 0, 2**63, -(2**63), 1e308, -1e308, 1.5, [], {},
                                [[[[[[]]]]]], {"Name": 5}, "\x1b[2J", "\udcff", "../../etc/passwd", [1, "a", None]]


def _bytes_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(("truncate", "flip", "insert", "delete", "duplicate", "token", "token", "splice_lines"))
    if not data:
        return "token", rng.choice(HOSTILE_TOKENS)
    at = rng.randrange(len(data))
    if kind == "truncate":
        return kind, data[:at]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "insert":
        return kind, data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:]
    if kind == "delete":
        return kind, data[:at] + data[at + rng.randint(1, 512):]
    if kind == "duplicate":
        end = min(len(data), at + rng.randint(1, 4096))
        return kind, data[:end] + data[at:end] * rng.randint(2, 20) + data[end:]
    if kind == "splice_lines":
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + rng.choice(HOSTILE_TOKENS)
        return kind, b"\n".join(lines)
    return kind, data[:at] + rng.choice(HOSTILE_TOKENS) + data[at:]


def _json_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Replace a random value of the document by an extreme one (of any type)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return _bytes_mutation(rng, data)
    holders: list[tuple[object, object]] = []
    stack: list[object] = [doc]
    while stack and len(holders) < 20_000:
        item = stack.pop()
        keys = list(item.keys()) if isinstance(item, dict) else range(len(item)) if isinstance(item, list) else []
        for key in keys:
            holders.append((item, key))
            stack.append(item[key])  # type: ignore[index]
    for _ in range(rng.randint(1, 4)):
        if not holders:
            break
        holder, key = rng.choice(holders)
        holder[key] = rng.choice(EXTREME_VALUES)  # type: ignore[index]
    text = json.dumps(doc, allow_nan=True)
    return "json_value", text.encode("utf-8", "surrogatepass")


def _onnx_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """A structural change a pull request could make: names, attributes, dims, opsets, metadata."""
    model = onnx.ModelProto()
    model.ParseFromString(data)
    nodes = model.graph.node
    node = nodes[rng.randrange(len(nodes))]
    kind = rng.choice(("attr_type", "attr_dup", "name", "dims", "opset", "metadata", "drop_input", "ir",
                       "op_type", "big_attr", "external", "op_attr", "op_attr", "op_attr", "attr_lie", "cycle",
                       "initializer", "value_info", "self_input"))
    if kind in ("op_attr", "attr_lie"):
        readable = [n for n in nodes if n.op_type in OP_ATTRIBUTES]
        node = rng.choice(readable) if readable else node
    if kind == "attr_type" and node.attribute:
        attr = node.attribute[rng.randrange(len(node.attribute))]
        attr.CopyFrom(helper.make_attribute(attr.name, rng.choice(["s", 1.5, [1, 2], 10**18, [b"x"]])))
    elif kind == "attr_dup" and node.attribute:
        node.attribute.append(node.attribute[0])
    elif kind == "name":
        node.name = rng.choice(["", "\x1b]8;;http://x\x07n", "<script>x</script>", "a|b`c*_[d](e)", "%0A::error::x",
                                "x" * 20_000, "\u202e" + node.name, node.output[0] if node.output else "y"])
    elif kind == "dims":
        vi = rng.choice([*model.graph.input, *model.graph.output])
        for d in vi.type.tensor_type.shape.dim:
            d.dim_value = rng.choice([0, 1, 2**40, 2**62, 7])
    elif kind == "opset":
        model.opset_import[0].version = rng.choice([0, 1, 7, 99, 2**40])
    elif kind == "metadata":
        node.metadata_props.add(key=rng.choice(["pkg.torch.onnx.name_scopes", "pkg.torch.onnx.stack_trace"]),
                                value=rng.choice(["[" * 20_000, "['a', " * 5000, 'File "/etc/passwd", line 9' * 50,
                                                  "['', 'x\x1b[31m', 'y']"]))
    elif kind == "drop_input" and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(["", "ghost", node.output[0] if node.output else ""])
    elif kind == "ir":
        model.ir_version = rng.choice([0, 1, 3, 99])
    elif kind == "op_type":
        node.op_type = rng.choice(["Foo", "If", "Loop", "Softmax", "", "Attention"])
    elif kind == "big_attr":
        node.attribute.append(helper.make_attribute(rng.choice(["axis", "perm", "axes"]),
                                                    rng.choice([2**62, -(2**62), list(range(500))])))
    elif kind == "external" and model.graph.initializer:
        init = model.graph.initializer[rng.randrange(len(model.graph.initializer))]
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        init.external_data.add(key="location", value=rng.choice(["/etc/passwd", "../x.data", "a" * 3000, "ok.data"]))
    elif kind == "op_attr" and node.op_type in OP_ATTRIBUTES:
        name = rng.choice(OP_ATTRIBUTES[node.op_type])
        how = rng.choice(("nudged", "nudged", "plausible", "plausible", "hostile"))
        own = next((a for a in node.attribute if a.name == name), None)
        new_attr = _nudged(rng, own) if how == "nudged" and own is not None else None
        if new_attr is None:
            how = "hostile" if how == "hostile" else "plausible"
            new_attr = _hostile_attribute(rng, name, node.op_type) if how == "hostile" \
                else _plausible_attribute(rng, name)
        kind = f"op_attr_{how}_{node.op_type}_{name}"
        _set_attribute(node, new_attr)
    elif kind == "attr_lie" and node.attribute:
        # the type field says one thing, the value fields hold another (or several)
        attr = node.attribute[rng.randrange(len(node.attribute))]
        attr.type = rng.choice([*onnx.AttributeProto.AttributeType.values(), 99])
        if rng.random() < 0.5:
            attr.ints.extend([1, 2]); attr.s = b"x"  # noqa: E702
    elif kind == "cycle" and len(nodes) > 2:
        # a node reads the output of a node after it: a loop in the graph
        i, j = sorted(rng.sample(range(len(nodes)), 2))
        if nodes[j].output and nodes[i].input:
            nodes[i].input[rng.randrange(len(nodes[i].input))] = nodes[j].output[0]
    elif kind == "self_input" and node.output and node.input:
        node.input[0] = node.output[0]
    elif kind == "initializer" and model.graph.initializer:
        init = model.graph.initializer[rng.randrange(len(model.graph.initializer))]
        change = rng.choice(("dims", "type", "raw", "dup", "neg"))
        kind = f"initializer_{change}"
        if change == "dims":
            init.dims[:] = rng.choice([[2**40], [0], [2**31, 2**31], [], [3, 0, 2**62]])
        elif change == "type":
            init.data_type = rng.choice([0, 8, 16, 17, 23, 99, 2**20])
        elif change == "raw":
            init.raw_data = init.raw_data[: rng.randrange(len(init.raw_data) + 1)] if init.raw_data else b"\x01\x02\x03"
        elif change == "dup":
            model.graph.initializer.append(init)
        else:
            init.dims[:] = [-1] * max(1, len(init.dims))
    elif kind == "value_info":
        values = [*model.graph.input, *model.graph.output, *model.graph.value_info]
        vi = rng.choice(values)
        t = vi.type.tensor_type
        change = rng.choice(("elem", "param", "rank", "seq"))
        kind = f"value_info_{change}"
        if change == "elem":
            t.elem_type = rng.choice([0, 8, 99, 2**20])
        elif change == "param":
            for d in t.shape.dim:
                d.dim_param = rng.choice(["", "\x1b[2J", "x" * 5000, "batch", "-1", "N,M"])
        elif change == "rank":
            t.shape.ClearField("dim")
            for _ in range(rng.choice([0, 1, 9, 64])):
                t.shape.dim.add(dim_value=rng.choice([1, 2, 0]))
        else:
            vi.type.CopyFrom(helper.make_sequence_type_proto(helper.make_tensor_type_proto(1, [1])))
    else:
        kind = "unchanged"
    return f"onnx_{kind}", model.SerializeToString()


# Attributes the plan passes, analyses and shape inference read, per op (ONNX operator docs; the ORT
# Attention contrib op). Each gets values of every attribute type, in and out of range.
OP_ATTRIBUTES: dict[str, list[str]] = {
    "Conv": ["group", "pads", "strides", "dilations", "kernel_shape", "auto_pad"],
    "ConvTranspose": ["group", "pads", "strides", "output_padding", "output_shape"],
    "MaxPool": ["kernel_shape", "pads", "strides", "ceil_mode", "dilations", "storage_order", "auto_pad"],
    "AveragePool": ["kernel_shape", "pads", "strides", "count_include_pad"],
    "Softmax": ["axis"], "LogSoftmax": ["axis"], "Gather": ["axis"], "GatherElements": ["axis"],
    "Reshape": ["allowzero"], "QuantizeLinear": ["axis", "block_size", "saturate", "output_dtype"],
    "DequantizeLinear": ["axis", "block_size"], "Einsum": ["equation"], "Cast": ["to", "saturate"],
    "Transpose": ["perm"], "Concat": ["axis"], "Split": ["axis", "num_outputs", "split"], "Flatten": ["axis"],
    "Squeeze": ["axes"], "Unsqueeze": ["axes"], "ReduceMean": ["axes", "keepdims", "noop_with_empty_axes"],
    "LayerNormalization": ["axis", "epsilon", "stash_type"],
    "BatchNormalization": ["epsilon", "momentum", "training_mode"],
    "Gemm": ["alpha", "beta", "transA", "transB"], "ArgMax": ["axis", "keepdims", "select_last_index"],
    "Trilu": ["upper"], "Gelu": ["approximate"], "ConstantOfShape": ["value"], "Constant": ["value", "value_ints"],
    "Attention": ["num_heads", "unidirectional", "mask_filter_value", "scale", "qkv_hidden_sizes"],
    "Pad": ["mode"], "Clip": ["min", "max"], "Resize": ["mode", "coordinate_transformation_mode"],
    "Slice": ["starts", "ends"], "Where": ["x"], "MatMul": ["transA"],
}
_EQUATION_CHARS = "abcdij,.->  ...XYZ"


_INT_ATTRS = {"group", "axis", "allowzero", "block_size", "saturate", "output_dtype", "to", "num_outputs",
              "keepdims", "noop_with_empty_axes", "stash_type", "training_mode", "transA", "transB",
              "select_last_index", "upper", "ceil_mode", "storage_order", "count_include_pad", "num_heads",
              "unidirectional"}
_FLOAT_ATTRS = {"epsilon", "momentum", "alpha", "beta", "mask_filter_value", "scale", "min", "max"}
_STRING_CHOICES = {"auto_pad": ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "same_upper"],
                   "approximate": ["none", "tanh", "erf"], "mode": ["constant", "reflect", "edge", "wrap", "linear",
                                                                      "nearest", "cubic"],
                   "coordinate_transformation_mode": ["half_pixel", "align_corners", "asymmetric"]}


def _nudged(rng: random.Random, attr: onnx.AttributeProto) -> onnx.AttributeProto | None:
    """The attribute's own value changed a little (off by one, negated, reordered, one element more or
    less): values shape inference may still accept, so that the passes behind it read them."""
    value = helper.get_attribute_value(attr)
    if isinstance(value, int):
        new: object = rng.choice([value + 1, value - 1, -value, 0, value * 2])
    elif isinstance(value, float):
        new = rng.choice([value * 2, -value, 0.0, value + 1.0])
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        chars = list(text)
        if chars:
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
            if rng.random() < 0.3:
                del chars[rng.randrange(len(chars))]
        new = "".join(chars)
    elif isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        items = list(value)
        change = rng.choice(("shuffle", "drop", "add", "bump"))
        if change == "shuffle":
            rng.shuffle(items)
        elif change == "drop":
            del items[rng.randrange(len(items))]
        elif change == "add":
            items.append(rng.choice([0, 1, -1, len(items)]))
        else:
            i = rng.randrange(len(items))
            items[i] += rng.choice([-1, 1])
        if not items:
            return None
        new = items
    else:
        return None
    return helper.make_attribute(attr.name, new)


def _plausible_attribute(rng: random.Random, name: str) -> onnx.AttributeProto:
    """``name`` with a value of its own type, in or just outside the range the op allows."""
    if name in _INT_ATTRS:
        return helper.make_attribute(name, rng.choice([-2, -1, 0, 1, 2, 3, 4, 16]))
    if name in _FLOAT_ATTRS:
        return helper.make_attribute(name, rng.choice([0.0, 1e-5, 0.5, 1.0, 2.0, -1.0]))
    if name in _STRING_CHOICES:
        return helper.make_attribute(name, rng.choice(_STRING_CHOICES[name]))
    if name == "equation":
        return helper.make_attribute(name, rng.choice(["bij,bjk->bik", "ij,jk->ik", "bhqd,bhkd->bhqk", "...ij->...ji",
                                                       "ii->i", "ij->", "bij,bjk", "abc,abd->acd"]))
    return helper.make_attribute(name, [rng.choice([0, 1, 2, 3, -1]) for _ in range(rng.choice([1, 2, 3, 4]))])


def _hostile_attribute(rng: random.Random, name: str, op: str) -> onnx.AttributeProto:
    """``name`` with a value of a random attribute type, extreme or wrong for the op."""
    kind = rng.choice(("int", "int", "float", "string", "ints", "ints", "floats", "strings", "tensor", "graph"))
    if name == "equation" and rng.random() < 0.6:
        value: object = "".join(rng.choice(_EQUATION_CHARS) for _ in range(rng.choice([0, 1, 5, 12, 40, 2000])))
    elif name == "to" and rng.random() < 0.6:
        value = rng.choice([0, -1, 8, 16, 17, 21, 23, 25, 99, 2**31, 2**62])
    elif kind == "int":
        value = rng.choice([0, 1, -1, 2, 3, 7, -7, 2**31, -(2**31), 2**63 - 1, -(2**63)])
    elif kind == "float":
        value = rng.choice([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e-45, 3.4e38, -1.0])
    elif kind == "string":
        value = rng.choice(["", "x", "\x1b[31m", "NOTSET", "SAME_UPPER", "a" * 5000, "ij,jk->ik", b"\xff\xfe"])
    elif kind == "ints":
        value = rng.choice([[], [0], [-1], [2**62] * 4, list(range(200)), [1] * 3000, [0, 0, 0, 0], [-5] * 4,
                            [1, 2], [2**63 - 1, -(2**63)]])
    elif kind == "floats":
        value = rng.choice([[], [float("nan")], [float("inf")] * 3, [0.5] * 1000])
    elif kind == "strings":
        value = rng.choice([[], ["a", "b"], [b"\xff"], ["x" * 3000]])
    elif kind == "tensor":
        value = rng.choice([helper.make_tensor("t", onnx.TensorProto.FLOAT, [], [float("nan")]),
                            helper.make_tensor("t", onnx.TensorProto.INT64, [0], []),
                            onnx.TensorProto(name="t", data_type=onnx.TensorProto.FLOAT, dims=[2**20],
                                             raw_data=b"\x00" * 8),
                            helper.make_tensor("t", onnx.TensorProto.STRING, [1], [b"x"])])
    else:
        value = helper.make_graph([], "g", [], [])
    if isinstance(value, list) and value and all(isinstance(v, bytes) for v in value):
        return helper.make_attribute(name, value, attr_type=onnx.AttributeProto.STRINGS)
    if isinstance(value, list) and not value:
        return helper.make_attribute(name, value, attr_type=rng.choice(
            [onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS, onnx.AttributeProto.STRINGS]))
    return helper.make_attribute(name, value)


def _set_attribute(node: onnx.NodeProto, attribute: onnx.AttributeProto) -> None:
    for i, old in enumerate(node.attribute):
        if old.name == attribute.name:
            node.attribute[i].CopyFrom(attribute)
            return
    node.attribute.append(attribute)


FORMATS = ("json", "sarif", "markdown", "github", "html", "rich", "concise")


def _op_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Mostly an attribute of an op the passes read, set to a hostile value; else any model mutation."""
    for _ in range(3):
        how, out = _onnx_mutation(rng, data)
        if how.startswith("onnx_op_attr") or rng.random() < 0.3:
            return how, out
    return how, out


def _nest_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """If/Loop bodies nested 1 to 60 deep (protobuf stops parsing past about 31)."""
    import tempfile

    from hostile.hostile_inputs import nested_control_flow

    depth = rng.choice([1, 2, 5, 12, 24, 30, 31, 32, 33, 45, 60])
    ops = [rng.choice(("If", "Loop")) for _ in range(depth)]
    with tempfile.TemporaryDirectory() as tmp:
        out = nested_control_flow(Path(tmp) / "m.onnx", ops).read_bytes()
    return f"nest{depth}", out


# TOML values of every type, in and out of range, for the keys the configuration reads (and some it does not).
_TOML_KEYS = ["trt", "gpu", "sm", "precision", "shapes", "fail-on", "select", "ignore", "extend-select",
              "severity", "per-node-ignores", "max-layers", "unknown-key", "Trt"]
_TOML_VALUES = ['"10.8"', '""', '"\\u001b[31m"', '"' + "x" * 3000 + '"', "9" * 30, "-1", "0", "1.5", "inf", "nan",
                "-inf", "true", "1979-05-27T07:32:00Z", "07:32:00", "[]", '["TRT1", 5]', "[[[]]]",
                '["' + "T" * 500 + '"]',
                "{}", '{TRT101 = "error"}', '{TRT101 = 3}', '{"*" = ["TRT101"]}', '{"[" = ["TRT1"]}', "0x10",
                '"a:1x2,b:3"', '"x:1x' + "9" * 40 + '"', '"x:' + "1x" * 500 + '1"']


def _toml_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """A configuration with one key given a value of another type or range; the table may move."""
    key, value = rng.choice(_TOML_KEYS), rng.choice(_TOML_VALUES)
    head = rng.choice(["[tool.trtadvisor]", "[tool.trtadvisor]", "", "[tool]\ntrtadvisor = 1\n[x]",
                       "[tool.trtadvisor.severity]", "[[tool.trtadvisor]]"])
    lines = [line for line in data.decode().splitlines() if not line.startswith(key + " =")]
    if rng.random() < 0.5 and lines:
        lines = lines[: rng.randrange(1, len(lines) + 1)]
    text = "\n".join([head, f"{key} = {value}", *lines[1:]]) + "\n"
    return f"toml_{key}", text.encode()


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?")
_HOSTILE_NUMBERS = ["9" * 400, "-1", "nan", "inf", "-inf", "1e999", "0x10", "1_000", "\u0661\u0662", "\u00b2",
                    "1.2.3", "", "-0", "NaN", "1e-400", "0" * 300 + "1", "٣.٥"]


def _number_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Numbers in a text artifact (a trtexec log) replaced by hostile ones: readers parse them."""
    text = data.decode("utf-8", "surrogateescape")
    spans = [m.span() for _, m in zip(range(20_000), _NUMBER.finditer(text), strict=False)]
    if not spans:
        return _bytes_mutation(rng, data)
    for start, end in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 12))), reverse=True):
        text = text[:start] + rng.choice(_HOSTILE_NUMBERS) + text[end:]
    return "numbers", text.encode("utf-8", "surrogateescape")


def _trt11_layer_info_seed() -> bytes:
    """A real detailed layer-info export with its ``Bindings`` rewritten as TensorRT 11's ``I/O Tensors``
    (fields from the documented 11.x list, ../shared/reference/tensorrt-11.md), so that the 11.x reader is
    fuzzed from a real document; no 11.x engine is available here."""
    doc = json.loads(LAYER_INFOS[0].read_bytes())
    names = doc.pop("Bindings", [])
    dims = {t.get("Name"): t.get("Dimensions") for layer in doc.get("Layers", []) if isinstance(layer, dict)
            for t in [*layer.get("Inputs", []), *layer.get("Outputs", [])] if isinstance(t, dict)}
    doc["I/O Tensors"] = [
        {"Name": n, "IOMode": "Input" if i == 0 else "Output", "DataType": "Float", "Dimensions": dims.get(n) or [],
         "Location": "Device", "IsShapeInferenceIO": False,
         "ProfileInfo": [{"MinShape": dims.get(n) or [], "OptShape": dims.get(n) or [], "MaxShape": dims.get(n) or [],
                          "Format": "Row major linear FP32 format (kLINEAR)"}]}
        for i, n in enumerate(names)]
    return json.dumps(doc).encode()


def _random_shapes(rng: random.Random) -> str:
    """A --shapes value drawn from its grammar (name:dims, comma separated) with hostile parts."""
    names = ["input", "x", "input_ids", "'a:b'", "a,b", "", "\x1b[2J", "n" * 300, "\u0661"]
    dims = ["1", "0", "-1", "3", "224", "9" * 25, "1.5", "", "x", "\u00b2", "1e3", "+2"]
    parts = [f"{rng.choice(names)}:" + "x".join(rng.choice(dims) for _ in range(rng.choice([0, 1, 4, 9, 80])))
             for _ in range(rng.choice([1, 2, 3, 50]))]
    return rng.choice([",", ";", ", "]).join(parts)


def _random_version(rng: random.Random) -> str:
    parts = [rng.choice(["10", "8", "11", "0", "99", "9" * 30, "", "x", "-1", "\u0661"])
             for _ in range(rng.randint(1, 5))]
    return ".".join(parts)


def _random_text(rng: random.Random) -> str:
    alphabet = "aAzZ09 -_.:,;/\\'\"[]{}()\x00\x1b\x07\n\t\u202e\u00b2\udcff"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 12, 200, 5000])))


# Seeds whose structured mutation is the point (attributes the passes read, nesting): never bytes instead.
_ALWAYS_STRUCTURED = ("_op_mutation", "_nest_mutation")


def _mutate(rng: random.Random, data: bytes, structured: Callable[[random.Random, bytes], tuple[str, bytes]] | None
            ) -> tuple[str, bytes]:
    if structured is not None and (structured.__name__ in _ALWAYS_STRUCTURED or rng.random() < 0.5):
        try:
            return structured(rng, data)
        except Exception:  # the seed itself did not parse: fall back to bytes
            pass
    return _bytes_mutation(rng, data)


def _timing_seed() -> bytes:
    """The first 40 records of a real --exportTimes file (the whole one is 430 KB)."""
    return json.dumps(json.loads(TIMING.read_bytes())[:40]).encode()


def fuzz_cases(tmp: Path, seed: int, count: int) -> list[Case]:
    """``count`` cases from ``seed``: each writes its mutated input under ``tmp`` and names the command."""
    rng = random.Random(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    models = [p.read_bytes() for p in MODELS if p.exists()]
    clean_model = tmp / "clean.onnx"
    clean_model.write_bytes(models[0])
    seeds: dict[str, list[tuple[bytes, Callable[[random.Random, bytes], tuple[str, bytes]] | None]]] = {
        "model": [(m, _onnx_mutation) for m in models],
        "op_model": [(p.read_bytes(), _op_mutation) for p in OP_MODELS if p.exists()],
        "nest": [(b"", _nest_mutation)],
        "layer_info": [(p.read_bytes(), _json_mutation) for p in LAYER_INFOS if p.exists()]
                      + ([(_trt11_layer_info_seed(), _json_mutation)] if LAYER_INFOS[0].exists() else []),
        "profile": [(p.read_bytes(), _json_mutation) for p in PROFILES if p.exists()],
        "timing": [(_timing_seed(), _json_mutation)] if TIMING.exists() else [],
        "log": [(p.read_bytes(), _number_mutation) for p in LOGS if p.exists()],
        "config": [(CONFIG, _toml_mutation)],
        "baseline": [(json.dumps(BASELINE).encode(), _json_mutation)],
    }
    kinds = [k for k, v in seeds.items() if v] + ["cmdline", "model"]
    cases: list[Case] = []
    for i in range(count):
        kind = rng.choice(kinds)
        if kind == "cmdline":
            cases.append(_cmdline_case(rng, i, clean_model, tmp))
            continue
        data, structured = rng.choice(seeds[kind])
        how, mutated = _mutate(rng, data, structured)
        if kind in ("op_model", "nest"):
            how, kind = f"{kind}_{how}", "model"
        if rng.random() < 0.2:  # a second mutation on top
            how2, mutated = _bytes_mutation(rng, mutated)
            how = f"{how}+{how2}"
        name = f"fuzz{seed}_{i:04d}_{kind}_{how}"
        cases.append(_case_for(rng, kind, name, mutated, clean_model, tmp / f"{i:04d}"))
    return cases


def _case_for(rng: random.Random, kind: str, name: str, data: bytes, model: Path, folder: Path) -> Case:
    folder.mkdir()
    fmt = rng.choice(FORMATS)
    if kind == "model":
        path = folder / "m.onnx"
        path.write_bytes(data)
        if rng.random() < 0.12:  # fix: rewrites, proves the result in onnxruntime, writes a model
            argv = ["fix", str(path), "-o", str(folder / "fixed.onnx"), "--format", rng.choice(("text", "json"))]
            return Case(name, argv + rng.choice([[], [], ["--dry-run"], ["--no-verify"]]), [path])
        if rng.random() < 0.1:  # diff: the mutated model against the clean one, either way round
            pair = [str(model), str(path)] if rng.random() < 0.5 else [str(path), str(model)]
            return Case(name, ["diff", *pair, "--format", fmt, "--no-config"], [path, model])
        argv = ["audit", str(path), "--format", fmt, "--no-config"]
        if rng.random() < 0.2:
            argv += ["--shapes", rng.choice(["input:1x3x224x224", "input_ids:2x16", "x:0", "input:-1x3",
                                             _random_shapes(rng)])]
        return Case(name, argv, [path])
    if kind == "config":
        path = folder / rng.choice(("pyproject.toml", "trtadvisor.toml"))
        path.write_bytes(data)
        m = folder / "m.onnx"
        m.write_bytes(model.read_bytes())
        argv = ["audit", str(m), "--format", "json"] + (["--config", str(path)] if rng.random() < 0.5 else [])
        return Case(name, argv, [path, m])
    suffix = ".json" if kind in ("layer_info", "profile", "timing", "baseline") else ".log"
    path = folder / f"{kind}{suffix}"
    write_text(path, data.decode("utf-8", "surrogateescape"))
    if kind == "baseline":
        return Case(name, ["audit", str(model), "--format", fmt, "--no-config", "--baseline", str(path)],
                    [path, model])
    flag = "--" + kind.replace("_", "-")
    if rng.random() < 0.5:
        return Case(name, ["engine", flag, str(path), "--format", rng.choice(("json", "rich"))], [path])
    return Case(name, ["audit", str(model), "--format", fmt, "--no-config", flag, str(path)], [path, model])


_FLAG_VALUES = {
    "--shapes": ["input:" + "9" * 30, "input:1x3x224x224", "input:" + "x" * 500, ":", ",,,", "input:1x3x0x0",
                 "input:1e3", "input:\u00b2"],
    "--trt": ["10.8", "99.99", "", "abc", "9" * 400, "8.6.1.6.3"],
    "--sm": ["89", "auto", "-1", "8.9", "999999999999", "\u00b2"],
    "--gpu": ["L4", "A100", "\x1b[31m", "x" * 5000],
    "--precision": ["fp16", "int8", "fp4", ""],
    "--select": ["TRT1", "TRT", "XYZ", "TRT" + "1" * 400, ","],
    "--ignore": ["TRT001", "TRT9", "trt1"],
    "--fail-on": ["error", "warning", "info", "never"],
    "--max-layers": ["0", "-1", "9" * 30, "x"],
    "--format": ["json", "rich", "sarif", "nope"],
    "--source-root": [".", "/nonexistent", "x" * 5000],
}


def _cmdline_case(rng: random.Random, i: int, model: Path, tmp: Path) -> Case:
    argv = [rng.choice(["audit", "audit", "diff", "engine", "rules", "explain", "nope", "--debug"])]
    if argv[0] == "audit":
        argv.append(str(model))
    elif argv[0] == "diff":
        argv += [str(model), str(model)]
    elif argv[0] == "explain":
        argv.append(rng.choice(["TRT101", "trt101", "TRT", "X" * 2000, ""]))
    if argv[0] in ("audit", "diff"):
        argv.append("--no-config")
        for flag in rng.sample(list(_FLAG_VALUES), rng.randint(1, 4)):
            value = rng.choice(_FLAG_VALUES[flag])
            if rng.random() < 0.4:  # a value drawn from the flag's grammar rather than the list
                value = {"--shapes": _random_shapes, "--trt": _random_version}.get(flag, _random_text)(rng)
            argv += [flag, value]
        if "--format" not in argv:
            argv += ["--format", "json"]
    if argv[0] == "--debug":
        argv = []
    return Case(f"fuzz_cmd_{i:04d}", argv, [model])


def every_format(cases: list[Case], rng: random.Random, count: int) -> list[Case]:
    """``count`` audit cases (mutated models, baselines, artifacts) again, once in every output format."""
    audits = [c for c in cases if c.argv[:1] == ["audit"] and "--format" in c.argv and not c.stdout_to]
    variants = []
    for case in rng.sample(audits, min(count, len(audits))):
        at = case.argv.index("--format") + 1
        for fmt in FORMATS:
            argv = [*case.argv[:at], fmt, *case.argv[at + 1:]]
            variants.append(Case(f"fmt_{fmt}_{case.name}", argv, list(case.inputs), case.codes))
    return variants
