"""_Shapes.total (trtadvisor/plan/cost.py), which sums a large region's plain nodes' output sizes by declared
type, gives what counting tensor by tensor gives: undeclared tensors included, None for an unknown size."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.ir.graph import Graph
from trtadvisor.plan.cost import _Shapes


def _graph() -> Graph:
    """x [2, 3] and y [2, 3] share one declared type, z [N, 3] has a symbolic batch, w is an initializer
    [4, 5] that no value_info declares."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    w = numpy_helper.from_array(np.zeros((4, 5), np.float32), "w")
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu"), helper.make_node("Relu", ["z"], ["v"], name="r2")]
    return Graph(helper.make_graph(nodes, "g", [x, z], [y], [w]))


def test_total_counts_each_type_so_many_times() -> None:
    shapes = _Shapes(_graph())
    assert shapes.total(iter(["x", "y", "x"])) == 3 * 2 * 3


def test_total_asks_for_undeclared_tensors_one_by_one() -> None:
    """An initializer is not among the declared types: its own element count (4 x 5) is taken; an absent
    optional tensor ("") holds nothing."""
    shapes = _Shapes(_graph())
    assert shapes.total(["x", "w", ""]) == 2 * 3 + 4 * 5


def test_total_is_unknown_when_one_size_is() -> None:
    shapes = _Shapes(_graph())
    assert shapes.total(["x", "z"]) is None
    assert shapes.total([]) == 0
