"""The shape-inference child's facts per node (first output's and first input's declared type, first output's
number of reads) are what looking each tensor up by name gives, on graphs from real exporters; the cost model
prices every layer the same with them as without; and facts that do not fit the graph are not used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import trtadvisor.ir.load as loader
from trtadvisor import api
from trtadvisor.ir import shape_child
from trtadvisor.ir.graph import Graph
from trtadvisor.ir.load import parse_shape_overrides
from trtadvisor.ir.node_facts import checked_node_facts
from trtadvisor.report.json_report import render_json

from conftest import REPO

WILD = REPO / "samples" / "wild"
# Real exporters' graphs of many kinds: torch (TorchScript and dynamo), tf2onnx, onnxruntime's quantizer and
# optimizer, an old model-zoo file; forked below whatever their size.
REAL = ["swin_t.onnx", "gpt2_past_kv_dynamic.onnx", "fastvit_t8.dynamo.onnx", "tf2onnx_resnet50.onnx",
        "tf2onnx_transformer_block.onnx", "ort_qdq_mobilenet_v2.onnx", "ort_optimized_bert.onnx",
        "old_zoo_resnet50.onnx", "yolov8n_ultralytics.onnx", "recurrent_speech.dynamo.onnx"]


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shape_child, "PARALLEL_MIN_BYTES", 0)  # every model takes the child's path


def _settled(path: Path) -> Graph:
    graph = loader.load_model(path).graph
    graph.settle_types()
    return graph


@pytest.mark.parametrize("name", REAL)
def test_the_childs_facts_are_the_lookups_by_name(name: str, forked: None) -> None:
    graph = _settled(WILD / name)
    facts = graph.node_facts()
    if graph.has_bodies():  # a graph with bodies is inferred in this process: no child, no facts
        assert facts is None
        return
    assert facts is not None
    nodes, types = graph.nodes, graph.tensor_types
    first_outputs = [n.outputs[0] if n.outputs else "" for n in nodes]
    first_inputs = [n.inputs[0] if n.inputs else "" for n in nodes]
    assert all(a is b for a, b in zip(facts.out_types(nodes), map(types.get, first_outputs), strict=True))
    assert all(a is b for a, b in zip(facts.in_types(nodes), map(types.get, first_inputs), strict=True))
    assert facts.out_readers(nodes) == [len(graph.readers.get(t, ())) for t in first_outputs]
    assert any(facts.out_types(nodes))  # shapes were inferred: the comparison above is not of Nones


BERT_SHAPES = "input_ids:2x128,attention_mask:2x128,token_type_ids:2x128"


@pytest.mark.parametrize(("name", "shapes"), [("swin_t.onnx", None), ("tf2onnx_resnet50.onnx", None),
                                              ("yolov8n_ultralytics.onnx", None), ("old_zoo_resnet50.onnx", None),
                                              ("ort_optimized_bert.onnx", BERT_SHAPES)])
def test_every_layer_is_priced_the_same_without_the_facts(name: str, shapes: str | None, forked: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = parse_shape_overrides(shapes) if shapes else None
    with_facts = api.audit(WILD / name, shapes=overrides, gpu="a100", precision="fp16")
    monkeypatch.setattr(Graph, "node_facts", lambda self: None)
    by_name = api.audit(WILD / name, shapes=overrides, gpu="a100", precision="fp16")
    assert with_facts.cost is not None and by_name.cost is not None
    assert with_facts.cost.layers == by_name.cost.layers
    assert sum(c is not None for c in by_name.cost.layers) > len(by_name.cost.layers) // 2  # most were priced


def test_facts_for_other_types_are_not_used(forked: None) -> None:
    graph = _settled(WILD / "swin_t.onnx")
    assert graph.node_facts() is not None
    graph.adopt_types(dict(graph.tensor_types))  # completed shapes (analysis/static_shapes.py) adopt a new map
    assert graph.node_facts() is None


def _facts(graph: Graph) -> tuple[list[object], ...]:
    """Facts for ``graph`` as the child sends them, by name."""
    nodes, types = graph.nodes, graph.tensor_types
    outs = [n.outputs[0] if n.outputs else "" for n in nodes]
    ins = [n.inputs[0] if n.inputs else "" for n in nodes]
    named = {id(None): ""} | {id(types.get(t)): t for t in outs + ins if types.get(t) is not None}
    at = {key: i for i, key in enumerate(named)}
    return (list(named.values()), [at[id(types.get(t))] for t in outs], [at[id(types.get(t))] for t in ins],
            [len(graph.readers.get(t, ())) for t in outs], [(0, outs[0]), (len(outs) - 1, outs[-1])])


def _broken(sent: tuple[list[object], ...], part: int, value: list[object]) -> tuple[list[object], ...]:
    return tuple(value if i == part else p for i, p in enumerate(sent))


def test_facts_that_do_not_fit_the_graph_are_refused() -> None:
    graph = loader.load_model(WILD / "swin_t.onnx").graph
    graph.settle_types()
    types, nodes = graph.tensor_types, graph.nodes
    sent = _facts(graph)
    assert checked_node_facts(sent, types, nodes) is not None
    named, out_at, in_at, readers, _ = sent
    for bad in (_broken(sent, 1, out_at[:-1]),  # another node count
                _broken(sent, 4, [(1, "not the first output")]),  # another graph's nodes
                _broken(sent, 0, [*named[:-1], "no such tensor"]),  # a type named by a tensor that has none
                _broken(sent, 1, [len(named), *out_at[1:]]),  # a position past the types
                _broken(sent, 2, [-1, *in_at[1:]]),  # a position counted from the end
                _broken(sent, 3, [-1, *readers[1:]]),  # a negative number of reads
                _broken(sent, 1, ["0", *out_at[1:]]),  # a position that is no number
                sent[:4], None):
        assert checked_node_facts(bad, types, nodes) is None


def _odd_model(kind: str) -> onnx.ModelProto:
    """300 nodes of an odd kind before a MatMul with a weight large enough (1.2 MB) for the child's path."""
    nodes, x = [], "x"
    for i in range(300):
        if kind == "repeated_read":  # a node reading one tensor twice: two reads of it
            nodes.append(helper.make_node("Mul", [x, x], [f"m{i}"]))
        elif kind == "empty_output":  # an optional output left unnamed
            nodes.append(helper.make_node("Dropout", [x], [f"m{i}", ""] if i % 2 else [f"m{i}"]))
        elif kind == "unicode":  # names beyond ASCII
            nodes.append(helper.make_node("Relu", [x], [f"t\u00e9\u4e2d\U0001f600_{i}"]))
        else:  # an optional input left unnamed
            nodes.append(helper.make_node("Clip", [x, "", "hi"], [f"m{i}"]))
        x = nodes[-1].output[0]
    nodes.append(helper.make_node("MatMul", [x, "big"], ["y"]))
    weights = [numpy_helper.from_array(np.zeros((512, 600), np.float32), "big"),
               numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    graph = helper.make_graph(nodes, "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("kind", ["repeated_read", "empty_output", "unicode", "empty_input"])
def test_odd_graphs_report_the_same_through_the_child(kind: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{kind}.onnx"
    onnx.save(_odd_model(kind), path)
    assert path.stat().st_size >= shape_child.PARALLEL_MIN_BYTES
    graph = _settled(path)
    assert graph.node_facts() is not None  # the child's path, its facts taken
    through_child = render_json(api.audit(path, gpu="a100"))
    monkeypatch.setattr(shape_child, "PARALLEL_MIN_BYTES", 10**12)
    assert render_json(api.audit(path, gpu="a100")) == through_child
