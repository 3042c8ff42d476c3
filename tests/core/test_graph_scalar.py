"""Graph.scalar reads one-element initializers without numpy: the values must be the ones the numpy decode gives."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.ir.graph import Graph, decode_tensor

VALUES = [np.array(8.0, np.float32), np.array([0.1], np.float32), np.array([[1.5e-3]], np.float16),
          np.array(np.nan, np.float32), np.array(-3, np.int64), np.array([7], np.int32), np.array(-2, np.int8),
          np.array(200, np.uint8), np.array(0.1, np.float64), np.array(True), np.array(-0.0, np.float32),
          np.array(np.inf, np.float16)]


def test_raw_data_scalars_match_numpy_decode() -> None:
    inits = [numpy_helper.from_array(v, f"c{k}") for k, v in enumerate(VALUES)]
    graph = Graph(helper.make_graph([], "g", [], [], initializer=inits))
    for t in inits:
        expected = float(decode_tensor(t).reshape(-1)[0])
        got = graph.scalar(t.name)
        assert got is not None and repr(got) == repr(expected), t.name  # repr: -0.0, nan and inf compare too


def test_not_scalars() -> None:
    """Several elements, external data, or a name no one defines: not a scalar."""
    weight = numpy_helper.from_array(np.ones(4, np.float32), "w")
    external = numpy_helper.from_array(np.array(2.0, np.float32), "e")
    external.data_location = TensorProto.EXTERNAL
    graph = Graph(helper.make_graph([], "g", [], [], initializer=[weight, external]))
    assert graph.scalar("w") is None
    assert graph.scalar("e") is None
    assert graph.scalar("missing") is None
