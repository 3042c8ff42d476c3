"""Source lines from exporter metadata: the innermost user frame, module scopes, paths from another machine."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from trtadvisor.api import audit
from trtadvisor.ci.source_locations import Locator, SourceResolver, module_scope, name_stem, source_line

from conftest import REPO, sample_path, samples_where

TINYNET = REPO / "tests" / "ci" / "data" / "tinynet.dynamo.onnx"
TINYNET_PY = REPO / "tests" / "ci" / "data" / "tinynet.py"


class _FakeNode:
    def __init__(self, name: str, props: dict[str, str]) -> None:
        proto = onnx.NodeProto()
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        self.proto, self.name, self.op = proto, name, "Conv"


def _line_of(text: str) -> int:
    """The line of ``text`` in tinynet.py, read from the source itself."""
    for number, line in enumerate(TINYNET_PY.read_text().splitlines(), start=1):
        if line.strip() == text:
            return number
    raise AssertionError(text)


def test_innermost_user_frame_wins_over_torch_internals() -> None:
    trace = ('File "/ws/repo/net.py", line 24, in forward\n    return self.block(x)\n'
             '  File "/ws/repo/net.py", line 12, in forward\n    y = self.conv(x)\n'
             '  File "/venv/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 565, in forward\n'
             "    return self._conv_forward(input, self.weight, self.bias)")
    line = source_line(_FakeNode("n", {"pkg.torch.onnx.stack_trace": trace}))  # type: ignore[arg-type]
    assert (line.file, line.line) == ("/ws/repo/net.py", 12)


def test_library_model_code_is_used_when_no_user_frame_exists() -> None:
    trace = ('File "/venv/lib/site-packages/transformers/models/bert/modeling_bert.py", line 300, in forward\n'
             '  File "/venv/lib/site-packages/torch/nn/functional.py", line 10, in linear')
    line = source_line(_FakeNode("n", {"pkg.torch.onnx.stack_trace": trace}))  # type: ignore[arg-type]
    assert line is not None and line.file.endswith("modeling_bert.py") and line.line == 300


@pytest.mark.parametrize("props", [{}, {"pkg.torch.onnx.stack_trace": "garbage"},
                                   {"pkg.torch.onnx.name_scopes": "not a list ["}])
def test_odd_metadata_gives_nothing_and_never_raises(props: dict[str, str]) -> None:
    node = _FakeNode("node_relu_3", props)
    assert source_line(node) is None  # type: ignore[arg-type]
    assert module_scope(node) == ""  # type: ignore[arg-type]


def test_module_scope_from_name_scopes_and_from_torchscript_names() -> None:
    scoped = _FakeNode("node_conv2d_1", {"pkg.torch.onnx.name_scopes": "['', 'block', 'block.conv', 'conv2d_1']"})
    assert module_scope(scoped) == "block.conv"  # type: ignore[arg-type]
    assert module_scope(_FakeNode("/layer1/layer1.0/conv1/Conv", {})) == "/layer1/layer1.0/conv1"  # type: ignore[arg-type]
    assert name_stem("node_relu_12") == "node_relu"
    assert name_stem("Conv_0") == "Conv"


def test_paths_written_on_another_machine_are_found_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.py").write_text("x = 1\n")
    resolver = SourceResolver(tmp_path)
    assert resolver.relative("/build/agent/7/repo/models/net.py") == "models/net.py"
    assert resolver.relative(str(tmp_path / "models" / "net.py")) == "models/net.py"
    assert resolver.relative("/elsewhere/not_here.py") is None


def test_tinynet_finding_points_at_the_line_that_builds_the_convolution() -> None:
    result = audit(TINYNET)
    finding = next(f for f in result.findings if f.rule == "TRT101")
    where = Locator(result.model.path, result.model.graph, REPO).locate(finding.nodes)
    assert where.source is not None
    assert where.source.file == "tests/ci/data/tinynet.py"
    assert where.source.line == _line_of("y = self.conv(x)")
    assert where.scope == "block.conv"


def test_model_without_stack_traces_points_at_the_model_file() -> None:
    entry = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
    result = audit(sample_path(entry))
    locator = Locator(result.model.path, result.model.graph, REPO)
    conv = next(n for n in result.model.graph.nodes if n.op == "Conv")
    where = locator.locate((conv.name,))
    assert where.source is None
    assert where.model == entry["path"]
    assert where.node == conv.name


def _duplicate_names_model() -> onnx.ModelProto:
    """Built with onnx.helper: no exporter here writes these names. Nodes 0 and 2 are both 'a', and node 1 is
    'a__2', the name the IR gives a second 'a' at index 2; the body of the If holds a node 'b', which the IR
    names 'cond/then_branch/b', the name of a top-level node that comes before the If."""
    from onnx import TensorProto, helper

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node(op, ["z"], [f"{name}_out"], name="b")], name, [],
                                 [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [2])])

    nodes = [helper.make_node("Relu", ["x"], ["y0"], name="a"),
             helper.make_node("Sigmoid", ["y0"], ["y1"], name="a__2"),
             helper.make_node("Tanh", ["y1"], ["z"], name="a"),
             helper.make_node("Neg", ["z"], ["w"], name="cond/then_branch/b"),
             helper.make_node("If", ["c"], ["out"], name="cond",
                              then_branch=branch("then", "Abs"), else_branch=branch("else", "Exp"))]
    graph = helper.make_graph(nodes, "dups", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                              helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2]),
                               helper.make_tensor_value_info("w", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_repeated_node_name_means_the_same_node_to_every_lookup(tmp_path: Path) -> None:
    """Locating findings, baselines and the diff look names up as the plan and the cost model do: the last
    node of a name in walk order (graph by graph, in node order) wins."""
    from trtadvisor.ir.load import load_model

    path = tmp_path / "dups.onnx"
    onnx.save(_duplicate_names_model(), path)
    graph = load_model(str(path)).graph
    index = Locator(str(path), graph, tmp_path).index
    # Node 2, the second 'a', is renamed to a name no node has ('a__2' is node 1's own): three nodes, three names.
    assert index["a"].op == "Relu" and index["a__2"].op == "Sigmoid" and index["a__2_"].op == "Tanh"
    assert index["cond/then_branch/b"].op == "Abs"  # the If's body comes after the top-level graph in walk order
    assert index == graph.nodes_by_name_deep()
