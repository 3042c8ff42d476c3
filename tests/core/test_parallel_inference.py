"""Shape inference in a forked child (large models on Linux) gives what the in-process path gives."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import trtadvisor.ir.graph as graph_module
import trtadvisor.ir.load as loader
from trtadvisor.errors import ModelLoadError
from trtadvisor.ir import shape_child
from trtadvisor.ir.load import inferred_types_payload

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from make_large_graph import make_model


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "large.onnx"
    path.write_bytes(make_model(12_000).SerializeToString())
    assert path.stat().st_size >= shape_child.PARALLEL_MIN_BYTES  # takes the forked path
    return path


def test_forked_and_in_process_inference_agree(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forked = loader.load_model(large)
    monkeypatch.setattr(shape_child, "PARALLEL_MIN_BYTES", 10**12)
    local = loader.load_model(large)
    names = [o for n in local.graph.nodes for o in n.outputs]
    assert len(names) > 12_000
    assert [forked.graph.shape(t) for t in names] == [local.graph.shape(t) for t in names]
    # Shapes really were inferred: the attention scores are [1, heads, seq, seq].
    softmax = next(n for n in forked.graph.nodes if n.op == "Softmax")
    assert forked.graph.shape(softmax.outputs[0]) == (1, 4, 128, 128)


def test_the_child_sends_every_weights_dims(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost model reads nearly every weight's size: the forked child, idle once it has inferred, counts
    them, and the parent takes the counts with the types instead of sweeping the weights itself."""
    model = loader.load_model(large, wait_for_shapes=False)  # the child is forked by now

    def no_sweep(initializers: object) -> list[int]:
        raise AssertionError("the parent counted the weights itself")

    monkeypatch.setattr(graph_module, "initializer_counts", no_sweep)
    monkeypatch.setattr(model.graph, "_types_ready", lambda: True)  # no sweep while waiting either
    model.graph.settle_types()
    proto = onnx.load(large, load_external_data=False)
    expected = {t.name: int(np.prod(t.dims)) for t in proto.graph.initializer}
    assert dict(zip(expected, model.graph.initializers.counts_of(list(expected)), strict=True)) == expected
    first_conv = next(t for t in proto.graph.initializer if len(t.dims) == 4)
    assert expected[first_conv.name] == 64 * 64 * 3 * 3  # make_large_graph's 3x3 convolution, 64 channels
    # and their dims, which the graph's shapes of weights then give without reading the weights again
    names = [t.name for t in proto.graph.initializer]
    assert model.graph.initializers.dims_keys(names) is not None  # sent by the child, and read below
    assert [model.graph.shape(n) for n in names] == [tuple(t.dims) for t in proto.graph.initializer]
    assert model.graph.shape(first_conv.name) == (64, 64, 3, 3)


def test_inference_started_early_is_taken_by_the_loader(large: Path) -> None:
    shape_child.start_early(str(large), inferred_types_payload)
    assert str(large.resolve()) in shape_child._started
    early = loader.load_model(large)
    assert str(large.resolve()) not in shape_child._started  # consumed, not left running
    softmax = next(n for n in early.graph.nodes if n.op == "Softmax")
    assert early.graph.shape(softmax.outputs[0]) == (1, 4, 128, 128)


def test_shapes_given_are_inferred_in_a_child_forked_before_the_parse(large: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """--shapes on a large model: the child rewrites the inputs in its own copy, forked before the parent
    parses the model (so it neither carries the parsed copy nor starts after the graph is built), and
    infers what the in-process path infers."""
    events: list[str] = []
    real_parse, real_start = loader._parse, shape_child.start

    def parse(file: Path, data: bytes) -> onnx.ModelProto:
        events.append("parse")
        return real_parse(file, data)

    def start(*args: object) -> shape_child.ChildInference | None:
        events.append("fork")
        return real_start(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "_parse", parse)
    monkeypatch.setattr(shape_child, "start", start)
    forked = loader.load_model(large, {"image": (3, 64, 56, 56)})
    assert events[:2] == ["fork", "parse"]
    monkeypatch.setattr(shape_child, "PARALLEL_MIN_BYTES", 10**12)
    local = loader.load_model(large, {"image": (3, 64, 56, 56)})
    names = [o for n in local.graph.nodes for o in n.outputs]
    assert [forked.graph.shape(t) for t in names] == [local.graph.shape(t) for t in names]
    # The symbolic batch became 3 on every image path: the first convolution's output is [3, 64, 56, 56].
    conv = next(n for n in forked.graph.nodes if n.op == "Conv")
    assert forked.graph.shape(conv.outputs[0]) == (3, 64, 56, 56)


def test_inference_started_early_for_other_shapes_is_replaced(large: Path) -> None:
    shape_child.start_early(str(large), partial(inferred_types_payload, overrides={"image": (2, 64, 56, 56)}),
                            {"image": (2, 64, 56, 56)})
    child = shape_child._started[str(large.resolve())][2]
    model = loader.load_model(large, {"image": (5, 64, 56, 56)})  # the audit was asked for batch 5 (a config)
    assert child._reaped  # the batch-2 answer was not used
    conv = next(n for n in model.graph.nodes if n.op == "Conv")
    assert model.graph.shape(conv.outputs[0]) == (5, 64, 56, 56)


def test_inference_started_early_on_a_file_changed_since_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "changing.onnx"
    path.write_bytes(make_model(12_000).SerializeToString())
    shape_child.start_early(str(path), inferred_types_payload)
    path.write_bytes(make_model(13_000).SerializeToString())  # another model under the same name
    model = loader.load_model(path)
    assert len(model.graph.nodes) == len(onnx.load(path, load_external_data=False).graph.node)
    assert str(path.resolve()) not in shape_child._started


def test_inference_started_early_and_never_loaded_is_ended(large: Path) -> None:
    shape_child.start_early(str(large), inferred_types_payload)
    child = shape_child._started[str(large.resolve())][2]
    shape_child.cancel_unused()
    assert shape_child._started == {}
    assert child._reaped  # killed and waited for: no process left behind


def test_inconsistent_large_model_is_an_input_error(tmp_path: Path) -> None:
    model = make_model(12_000)
    reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
    bad = helper.make_tensor("bad_shape", onnx.TensorProto.INT64, [2], [7, 13])
    model.graph.initializer.append(bad)
    reshape.input[1] = "bad_shape"
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError, match="inconsistent"):
        loader.load_model(path)


def test_inconsistent_large_model_from_the_cli_is_one_line(tmp_path: Path) -> None:
    import subprocess

    model = make_model(12_000)
    reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
    model.graph.initializer.append(helper.make_tensor("bad_shape", onnx.TensorProto.INT64, [2], [7, 13]))
    reshape.input[1] = "bad_shape"
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "audit", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "inconsistent" in proc.stderr and "Hint:" in proc.stderr
