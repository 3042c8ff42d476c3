"""A standalone ONNX Split is one slice layer per output in the engine (rules/ops.toml [group.per_output_slice]):
the ONNX parser's Split importer calls addSlice once per output (onnx/onnx-tensorrt builtin_op_importers.cpp), and
TensorRT 8.4's verbose log of LeViT registers 'Split_37', 'Split_37_21', 'Split_37_22' for ONNX node Split_37, a
Split of 3 outputs (../shared/data/trt-artifacts/levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log).
The dynamo exporter writes torch.chunk as Split, the TorchScript exporter as one Slice per chunk: both are the same
slice layers. The graphs are built with onnx.helper in those two shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit
from trtadvisor.confirm.mapping import map_name

from conftest import save_checked_model

F = TensorProto.FLOAT
C, HW = 48, 8          # the Split input: 48 channels of 8x8
PARTS = 3              # cut into 3 equal parts of 16 channels along the channels
PART = C // PARTS
SPLIT = "Split_37"     # LeViT's node name in the TensorRT 8.4 log


def _model(tmp: Path, *, as_slices: bool, used: int = PARTS) -> Path:
    """x -> Conv -> (Split | Slices) -> a 1x1 Conv on each of the first ``used`` parts -> their Sum."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((C, C, 1, 1)).astype(np.float32), "w0")]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["t"], name="conv0")]
    parts = [f"part{i}" for i in range(PARTS)]
    if as_slices:
        for i, part in enumerate(parts):
            for key, value in (("s", i * PART), ("e", (i + 1) * PART)):
                inits.append(numpy_helper.from_array(np.array([value], np.int64), f"{key}{i}"))
            inits.append(numpy_helper.from_array(np.array([1], np.int64), f"ax{i}"))
            nodes.append(helper.make_node("Slice", ["t", f"s{i}", f"e{i}", f"ax{i}"], [part], name=f"Slice_{i}"))
    else:
        inits.append(numpy_helper.from_array(np.array([PART] * PARTS, np.int64), "sizes"))
        nodes.append(helper.make_node("Split", ["t", "sizes"], parts, name=SPLIT, axis=1))
    outs = []
    for i in range(used):
        inits.append(numpy_helper.from_array(rng.standard_normal((PART, PART, 1, 1)).astype(np.float32), f"w{i + 1}"))
        nodes.append(helper.make_node("Conv", [parts[i], f"w{i + 1}"], [f"c{i}"], name=f"conv{i + 1}"))
        outs.append(f"c{i}")
    nodes.append(helper.make_node("Sum", outs, ["y"], name="sum"))
    return save_checked_model(tmp / f"{'slices' if as_slices else 'split'}_{used}.onnx", nodes,
                              [helper.make_tensor_value_info("x", F, [1, C, HW, HW])],
                              [helper.make_tensor_value_info("y", F, [1, PART, HW, HW])], inits)


def _split_layers(result) -> list:
    return [layer for layer in result.prediction.layers if SPLIT in layer.nodes]


def test_a_standalone_split_is_one_slice_layer_per_output(tmp_path: Path) -> None:
    for trt in ("8.6", "10.16"):
        layers = _split_layers(audit(_model(tmp_path, as_slices=False), trt=trt, sm="90"))
        assert len(layers) == PARTS
        assert {layer.kind for layer in layers} == {"slice"} and all(layer.nodes == (SPLIT,) for layer in layers)
        assert len({layer.name for layer in layers}) == PARTS and layers[0].name == SPLIT


def test_an_unread_split_output_has_no_layer(tmp_path: Path) -> None:
    """The importer makes a slice for every output; the one nothing reads is a dead layer the builder removes."""
    assert len(_split_layers(audit(_model(tmp_path, as_slices=False, used=2), trt="8.6", sm="90"))) == 2


def test_split_and_the_equivalent_slices_predict_the_same_layers(tmp_path: Path) -> None:
    split = audit(_model(tmp_path, as_slices=False), trt="8.6", sm="90").prediction.layers
    slices = audit(_model(tmp_path, as_slices=True), trt="8.6", sm="90").prediction.layers
    assert [layer.kind for layer in split] == [layer.kind for layer in slices]


def test_engine_names_of_the_slices_map_to_the_split_node_each_predicted(tmp_path: Path) -> None:
    """The names TensorRT 8.4 gave LeViT's Split_37 slices map back to the node, and the plan has a layer for each."""
    result = audit(_model(tmp_path, as_slices=False), trt="8.6", sm="90")
    known = {node for layer in result.prediction.layers for node in layer.nodes}
    engine = ["Split_37", "Split_37_21", "Split_37_22"]
    assert [map_name(name, known) for name in engine] == [(SPLIT,)] * PARTS
    assert len(_split_layers(result)) == len(engine)


def test_each_slice_layer_moves_its_own_part(tmp_path: Path) -> None:
    """A slice reads its part and writes it: 2 x 16 x 8 x 8 elements, FP16 (2 bytes) on an fp16 8.6 build."""
    result = audit(_model(tmp_path, as_slices=False), trt="8.6", sm="90", precision="fp16")
    costs = [result.cost.layers[i] for i, layer in enumerate(result.prediction.layers) if SPLIT in layer.nodes]
    assert len(costs) == PARTS
    assert all(cost is not None and cost.bytes == 2 * PART * HW * HW * 2 for cost in costs)
