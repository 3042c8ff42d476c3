"""The shape-inference child reads the inferred model with lean message classes (ir/inferred_types.py):
what it reads must be what onnx.ModelProto gives, entry for entry and in the same order."""

from __future__ import annotations

import marshal
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.ir import contrib_shapes, inferred_types
from trtadvisor.ir.graph import initializer_counts, tensor_types_of
from trtadvisor.ir.inferred_types import initializer_dims
from trtadvisor.ir.load import inferred_types_payload


def _odd_types_model(consistent: bool = False) -> onnx.ModelProto:
    """Value infos of every kind the decoder distinguishes: symbolic, unnamed and numeric axes, a scalar,
    no shape, no type, a sequence, and (unless ``consistent``, for shape inference) a name listed as a value
    info and again, otherwise, as an output (the output wins)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", None, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", None, 8] if consistent else [2, 3])
    infos = [] if consistent else [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["n", 3])]
    infos += [
        helper.make_tensor_value_info("scalar", TensorProto.INT64, []),
        helper.make_tensor_value_info("rankless", TensorProto.INT32, None),
        helper.make_value_info("seq", helper.make_sequence_type_proto(
            helper.make_tensor_type_proto(TensorProto.FLOAT, [4]))),
        onnx.ValueInfoProto(name="untyped"),
        helper.make_tensor_value_info("zero", TensorProto.FLOAT, [0, 5]),
    ]
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y], value_info=infos,
                              initializer=[numpy_helper.from_array(np.zeros((3, 4, 5), np.float32), "w"),
                                           numpy_helper.from_array(np.array(7, np.int64), "s")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_lean_reading_gives_what_the_full_model_gives() -> None:
    data = _odd_types_model().SerializeToString()
    full = onnx.ModelProto.FromString(data)
    lean = inferred_types.parse_inferred(data)
    expected = tensor_types_of(full.graph)
    got = inferred_types.types_of(lean.graph)
    assert list(got.items()) == list(expected.items())  # same entries, same order
    assert got["y"] == (TensorProto.FLOAT, (2, 3))
    assert got["x"] == (TensorProto.FLOAT, ("batch", None, 8))
    assert got["seq"] == (0, None) and got["untyped"] == (0, None)
    assert got["scalar"] == (TensorProto.INT64, ()) and got["rankless"] == (TensorProto.INT32, None)
    assert inferred_types.initializer_counts(lean.graph.initializer) == initializer_counts(full.graph.initializer)
    assert inferred_types.initializer_counts(lean.graph.initializer) == [3 * 4 * 5, 1]
    assert inferred_types.initializer_dims(lean.graph.initializer) == initializer_dims(full.graph.initializer)


def test_the_child_answer_matches_the_in_process_inference(tmp_path: Path) -> None:
    model = _odd_types_model(consistent=True)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    types, dims = map(marshal.loads, inferred_types_payload(path, path.read_bytes()))  # the types, then the dims
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert list(types.items()) == list(tensor_types_of(inferred.graph).items())
    assert types["y"][0] == TensorProto.FLOAT and types["y"][1][::2] == ("batch", 8)  # Relu keeps x's type
    distinct, at, nodes = dims
    assert (distinct, at) == ([(3, 4, 5), ()], [0, 1])  # the distinct dims, each weight's position among them
    # the one node (Relu: x -> y): its first output's type (named by y), its first input's (named by x), y's reads
    assert nodes == (["", "y", "x"], [1], [2], [0], [(0, "y")])


def test_the_contrib_domain_is_the_one_the_loader_completes() -> None:
    # A model importing it is read on the full onnx.ModelProto, whose contrib ops' types the loader completes.
    assert inferred_types.CONTRIB_DOMAIN == contrib_shapes.CONTRIB_DOMAIN
