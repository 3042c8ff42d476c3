"""The shape-inference child sends its answer (the types) before what follows it (the weights' dims): the
parent takes the answer without waiting for the rest, and every way the child can fail mid-way still ends
with a usable answer or a clean fallback, and no process left behind."""

from __future__ import annotations

import marshal
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import trtadvisor.ir.load as loader
from trtadvisor.ir import shape_child
from trtadvisor.ir.graph import Graph


def _gone(child: shape_child.ChildInference) -> bool:
    """Reaped: the process no longer exists as our child."""
    try:
        os.waitpid(child._pid, os.WNOHANG)
    except ChildProcessError:
        return child._reaped
    return False


def _start(compute: shape_child.Compute) -> shape_child.ChildInference:
    child = shape_child.start(Path("m.onnx"), b"", compute)
    assert child is not None
    return child


def test_the_answer_arrives_before_the_child_has_finished() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield b"types"
        time.sleep(30)  # the counts would come much later
        yield b"counts"

    child = _start(compute)
    began = time.monotonic()
    assert child.result() == (True, b"types")
    assert time.monotonic() - began < 10  # the answer did not wait for the rest
    child.cancel()
    assert _gone(child)


def test_the_rest_follows_the_answer_and_the_child_is_reaped() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield b"types"
        yield b"counts"

    child = _start(compute)
    assert child.result() == (True, b"types")
    assert child.rest() == b"counts"
    child.end()  # the rest did not wait for the child to leave; end does
    assert _gone(child)
    assert child.rest() is None  # read once
    child.end()  # and again: nothing left to close or reap


def test_an_error_before_the_answer_is_reported() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        raise ValueError("broken model")
        yield b""  # a generator, as the loader's

    child = _start(compute)
    assert child.result() == (False, b"ValueError\x1fbroken model")
    assert _gone(child)


def test_a_child_that_dies_before_answering_gives_no_answer() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        os._exit(3)
        yield b""

    child = _start(compute)
    assert child.result() is None
    assert _gone(child)


def test_a_child_that_dies_after_the_answer_leaves_the_rest_short() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield b"types"
        raise RuntimeError("counting failed")

    child = _start(compute)
    assert child.result() == (True, b"types")
    assert child.rest() == b""
    child.end()
    assert _gone(child)


def _graph() -> Graph:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                              [numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")])
    return Graph(onnx.ModelProto(graph=graph).graph)


def _pending(compute: shape_child.Compute) -> tuple[loader._PendingTypes, shape_child.ChildInference]:
    child = _start(compute)
    return loader._start_shape_inference(Path("m.onnx"), b"", parallel=True, child=child), child


_WHOLE = marshal.dumps(([(2, 3)], [0], None))  # the distinct dims, each weight's position, no nodes' facts


@pytest.mark.parametrize("dims", [_WHOLE, marshal.dumps(([(2, 3)], [0, 0], None)),
                                  marshal.dumps(([(2, 3)], [1], None)), marshal.dumps(([(2, 3)], [-1], None)),
                                  marshal.dumps(([(2, -3)], [0], None)), marshal.dumps(([6], [0], None)),
                                  marshal.dumps(([(2, 3)], [0])), marshal.dumps([(2, 3)]), b"\x00garbage", None])
def test_the_weights_dims_are_taken_when_whole_else_counted_here(dims: bytes | None) -> None:
    types = {"y": (1, (2, 3))}

    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield marshal.dumps(types)
        if dims is None:
            os._exit(1)  # died before sending them
        yield dims

    graph = _graph()
    pending, child = _pending(compute)
    pending.take_weight_dims = graph.initializers.offer_dims
    graph.adopt_types_later(pending, pending.cancel, pending.ready)
    assert graph.shape("y") == (2, 3)
    # from the child's dims where it sent one plain entry per weight; else counted here, the same
    assert graph.initializers.counts_of(["w", "y"]) == [6, None]
    assert graph.initializers.total_count(["y", "w"]) == (6, ["y"])  # the weights' sum, and what is no weight
    assert graph.shape("w") == (2, 3)
    assert (graph.initializers.dims_keys(["w"]) == [0]) == (dims is _WHOLE)  # the child's (2, 3), where whole
    graph.settle_types()  # the audit's end reaps the child the dims came from
    assert _gone(child)


def test_an_audit_that_fails_stops_the_child_still_counting() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield marshal.dumps({"y": (1, (2, 3))})
        time.sleep(30)
        yield marshal.dumps(([(2, 3)], [0], None))

    graph = _graph()
    pending, child = _pending(compute)
    pending.take_weight_dims = graph.initializers.offer_dims
    graph.adopt_types_later(pending, pending.cancel, pending.ready)
    assert graph.shape("y") == (2, 3)
    began = time.monotonic()
    graph.cancel_types()
    assert time.monotonic() - began < 10 and _gone(child)


def test_a_settled_graph_has_reaped_the_child() -> None:
    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield marshal.dumps({"y": (1, (2, 3))})
        yield marshal.dumps(([(2, 3)], [0], None))

    graph = _graph()
    pending, child = _pending(compute)
    pending.take_weight_dims = graph.initializers.offer_dims
    graph.adopt_types_later(pending, pending.cancel, pending.ready)
    graph.settle_types()
    assert _gone(child)
    assert graph.initializers.counts_of(["w"]) == [6]


def test_a_garbage_answer_is_inferred_here_and_the_child_ended(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 17)])
    data = model.SerializeToString()

    def compute(file: Path, data: bytes) -> Iterator[bytes]:
        yield b"\xffnot marshal"
        time.sleep(30)
        yield b""

    child = shape_child.start(tmp_path / "m.onnx", data, compute)
    assert child is not None
    pending = loader._start_shape_inference(tmp_path / "m.onnx", data, parallel=True, child=child)
    types = pending()
    assert types.get("y") == (TensorProto.FLOAT, (4,))
    assert _gone(child)
    assert onnx.ModelProto.FromString(data) == model
