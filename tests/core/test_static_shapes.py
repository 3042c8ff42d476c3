"""Shapes ONNX's inference leaves unknown behind computed reshape targets, filled for static inputs
(trtadvisor/analysis/static_shapes.py). Expected shapes come from the architectures."""

from __future__ import annotations

from trtadvisor.analysis.static_shapes import complete_static_shapes
from trtadvisor.api import audit
from trtadvisor.ir.load import load_model
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO

SWIN = REPO / "samples" / "wild" / "swin_t.onnx"
LEVIT = REPO / "samples" / "real_pairs" / "levit_128s.torchscript.opset13.onnx"
DYNBATCH = REPO / "samples" / "cnn" / "resnet18_dynbatch.torchscript.opset17.onnx"


def test_swin_window_attention_shapes_and_every_layer_priced() -> None:
    """Swin-T on 224x224: 56x56 patches, 7x7 windows, depths 2-2-6-2, heads 3-6-12-24; each stage halves
    the side, so stage s has (56 / 2**s / 7)**2 windows of 49 tokens."""
    result = audit(SWIN)
    graph = result.model.graph
    depths = (2, 2, 6, 2)
    expected = [((56 // 2**s // 7) ** 2, 3 * 2**s, 49, 49) for s, depth in enumerate(depths) for _ in range(depth)]
    assert [graph.shape(n.inputs[0]) for n in graph.nodes_of("Softmax")] == expected
    assert result.cost is not None and all(c is not None for c in result.cost.layers)


def test_levit_reshape_behind_shape_slice_concat() -> None:
    """LeViT-128S at batch 16: the stem leaves 128 channels at 14x14 (224 / 16), flattened by
    Reshape(x, Concat(Slice(Shape(x), 0, 2), [-1])) to 16 x 128 x 196; 4 heads attend over 196 tokens."""
    result = audit(LEVIT)
    graph = result.model.graph
    assert graph.shape("/Reshape_output_0") == (16, 128, 196)
    assert graph.shape(graph.nodes_of("Softmax")[0].inputs[0]) == (16, 4, 196, 196)
    assert result.cost is not None and all(c is not None for c in result.cost.layers)


def test_symbolic_inputs_and_the_model_itself_are_left_alone() -> None:
    book = default_rulebook()
    dynamic = load_model(DYNBATCH)
    assert complete_static_shapes(dynamic.proto, dynamic.graph, book.ops.shape_inputs) == 0
    model = load_model(LEVIT)
    before = model.proto.SerializeToString()
    assert complete_static_shapes(model.proto, model.graph, book.ops.shape_inputs) > 0
    assert model.proto.SerializeToString() == before  # the copy is inferred, never the model
