"""Fusions decided before shape inference finished are checked once the shapes are in.

The Conv + ElementWise fusion needs both operands' shapes (a broadcast blocks it). While a large
model's shapes are still being inferred, the plan goes ahead as if nothing broadcasts and checks
that afterwards; a wrong guess makes the plan again. Either way the prediction must be what a
plan with every shape known gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.parser
import pytest
from onnx import numpy_helper

import trtadvisor.plan.pipeline as plan
from trtadvisor.ir.graph import ValueInfoIndex
from trtadvisor.ir.load import load_model
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.knowledge.target import make_target

# The residual operand is a graph input, so its shape is only known from shape inference's answer.
_MODEL = '''
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,8,16,16] x, float[{dims}] other) => (float[1,8,16,16] y) {{
  c = Conv(x, w)
  s = Add(c, other)
  y = Relu(s)
}}
'''


def _model(tmp_path: Path, dims: str) -> Path:
    model = onnx.parser.parse_model(_MODEL.format(dims=dims))
    model.graph.initializer.append(numpy_helper.from_array(np.ones((8, 8, 1, 1), np.float32), "w"))
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def _plans(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[plan.Prediction, plan.Prediction, list[bool]]:
    """The plan with shapes known, and the plan made while shapes are 'still being inferred'."""
    book, target = default_rulebook(), make_target(default_rulebook(), "10.16", "90", None, "fp16")
    known = plan.plan_graph(load_model(path).graph, target, book)
    graph = load_model(path).graph
    inferred = onnx.shape_inference.infer_shapes(onnx.load(path), strict_mode=True).graph
    graph.adopt_types_later(lambda: ValueInfoIndex(inferred), lambda: None, ready=lambda: False)
    verdicts: list[bool] = []
    real_check = plan.PlanContext.assumptions_hold

    def spy(ctx: plan.PlanContext) -> bool:
        verdicts.append(real_check(ctx))
        return verdicts[-1]

    monkeypatch.setattr(plan.PlanContext, "assumptions_hold", spy)
    return known, plan.plan_graph(graph, target, book), verdicts


def _signature(p: plan.Prediction) -> tuple[object, ...]:
    return (tuple((layer.name, layer.ops, layer.fusions) for layer in p.layers),
            tuple((f.rule, f.message) for f in p.findings))


def test_a_wrong_guess_is_planned_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known, speculative, verdicts = _plans(_model(tmp_path, "1,8,1,1"), monkeypatch)
    assert verdicts == [False]  # the guess was made, and found wrong
    assert _signature(speculative) == _signature(known)
    assert [layer.ops for layer in speculative.layers] == [("Conv",), ("Add", "Relu")]
    assert any(f.rule == "TRT102" and "broadcasts against [1, 8, 16, 16]" in f.message for f in speculative.findings)


def test_a_right_guess_stands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known, speculative, verdicts = _plans(_model(tmp_path, "1,8,16,16"), monkeypatch)
    assert verdicts == [True]
    assert _signature(speculative) == _signature(known)
    assert [layer.ops for layer in speculative.layers] == [("Conv", "Add", "Relu")]


def test_shape_of_a_graph_input_folds_without_waiting_for_inference(tmp_path: Path) -> None:
    model = onnx.parser.parse_model('''
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8,16] x) => (float[2,8,16] y) {
  s = Shape(x)
  y = Reshape(x, s)
}''')
    path = tmp_path / "shape.onnx"
    onnx.save(model, path)
    graph = load_model(path).graph
    waited: list[bool] = []
    inferred = onnx.shape_inference.infer_shapes(onnx.load(path)).graph

    def pending() -> ValueInfoIndex:
        waited.append(True)
        return ValueInfoIndex(inferred)

    graph.adopt_types_later(pending, lambda: None, ready=lambda: False)
    ctx = plan.PlanContext(graph, make_target(default_rulebook(), "10.16", "90", None, "fp16"), default_rulebook())
    from trtadvisor.plan.passes.eliminate import eliminate

    eliminate(ctx)
    shape_node = next(n for n in graph.nodes if n.op == "Shape")
    assert ctx.eliminated[shape_node] == "shape of a static tensor, folded at build time"
    assert waited == []  # the declared input shape answered; inference was not waited for


def test_shape_of_an_activation_folds_on_a_guess_that_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = onnx.parser.parse_model('''
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8,16] x) => (float[2,8,16] y) {
  r = Relu(x)
  s = Shape(r)
  y = Reshape(r, s)
}''')
    path = tmp_path / "static.onnx"
    onnx.save(model, path)
    known, speculative, verdicts = _plans(path, monkeypatch)
    assert verdicts == [True]  # every input is static: Shape(r) was taken as static, and it is
    assert speculative.eliminated == known.eliminated and "Shape_s" in speculative.eliminated_reasons
    assert _signature(speculative) == _signature(known)


def test_a_data_dependent_shape_is_planned_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = onnx.parser.parse_model('''
<ir_version: 8, opset_import: ["" : 17]>
g (float[4] x) => (int64[2] s) {
  nz = NonZero(x)
  s = Shape(nz)
}''')
    path = tmp_path / "nonzero.onnx"
    onnx.save(model, path)
    known, speculative, verdicts = _plans(path, monkeypatch)
    assert verdicts == [False]  # NonZero's output has a data-dependent axis: the guess was wrong
    assert speculative.eliminated == known.eliminated == []
    assert [layer.ops for layer in speculative.layers] == [("NonZero",), ("Shape",)]


def test_only_the_plan_context_reads_shapes_speculatively() -> None:
    # A pass that read shape_if_ready itself could go ahead without registering its assumption; every
    # speculative decision goes through PlanContext.from_shapes, which registers it.
    package = Path(plan.__file__).resolve().parents[1]
    callers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                     if "shape_if_ready(" in p.read_text() and p.name != "graph.py")
    assert callers == ["plan/context.py"]


def test_the_audit_ends_its_shape_inference_child(tmp_path: Path) -> None:
    # The child is owned by the audit and reaped before audit() returns: no process outlives it.
    import os

    from trtadvisor.api import audit
    from trtadvisor.ir import shape_child

    children: list[shape_child.ChildInference] = []
    real_start = shape_child.start

    def spy(*args: object, **kwargs: object) -> shape_child.ChildInference | None:
        child = real_start(*args, **kwargs)  # type: ignore[arg-type]
        if child is not None:
            children.append(child)
        return child

    big = tmp_path / "big.onnx"
    model = onnx.parser.parse_model(_MODEL.format(dims="1,8,16,16"))
    model.graph.initializer.append(numpy_helper.from_array(np.ones((8, 8, 1, 1), np.float32), "w"))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(1 << 18, np.float32), "padding"))
    onnx.save(model, big)
    assert big.stat().st_size >= shape_child.PARALLEL_MIN_BYTES  # so the load forks a child
    mp = pytest.MonkeyPatch()
    mp.setattr(shape_child, "start", spy)
    try:
        result = audit(big)
    finally:
        mp.undo()
    assert len(children) == 1 and children[0]._reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0]._pid, os.WNOHANG)
    assert result.model.graph.shape("y") == (1, 8, 16, 16)
