"""Every near miss a pass can raise names a condition that its fusion's rule data defines.

A near miss is ``ctx.near_miss(nodes, Blocked(FUSION, CONDITION, detail))``; the message quotes the condition's
text from rules/fusions.toml, so an id the data lacks would be a bug that only shows when that branch runs. This
test reads the source of every module of the package (not only the branches the other tests reach) and checks
each ``Blocked(...)`` against the rule book.
"""

from __future__ import annotations

import ast
from pathlib import Path

import onnx
import pytest

from trtadvisor.ir.graph import Graph
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.knowledge.target import make_target
from trtadvisor.plan.context import Blocked, PlanContext

PACKAGE = Path(__file__).resolve().parents[2] / "trtadvisor"
BOOK = default_rulebook()


def _calls(name: str) -> list[tuple[Path, ast.Call, ast.AST]]:
    """Every call of ``name`` (a function or a method) in the package, with its innermost enclosing function."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        scope_of: dict[ast.AST, ast.AST] = {}
        for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
            for node in ast.walk(scope):
                scope_of[node] = scope  # inner functions come later in the walk and win
        for node in ast.walk(tree):
            callee = node.func if isinstance(node, ast.Call) else None
            if (isinstance(callee, ast.Name) and callee.id == name) or \
                    (isinstance(callee, ast.Attribute) and callee.attr == name):
                found.append((path, node, scope_of[node]))
    return found


def _fusion_candidates(arg: ast.expr, scope: ast.AST, path: Path) -> set[str]:
    """The fusion ids an argument can hold: a literal; for a parameter of its function, the literals every call
    of that function in the module passes for it; otherwise every fusion id written as a literal in its function."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.Name) and isinstance(scope, ast.FunctionDef):
        params = [a.arg for a in scope.args.args]
        if arg.id in params:
            position = params.index(arg.id)
            tree = ast.parse(path.read_text())
            passed = {c.args[position].value for c in ast.walk(tree)
                      if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == scope.name
                      and len(c.args) > position and isinstance(c.args[position], ast.Constant)}
            assert passed, f"{path.name}: no call of {scope.name} passes a literal fusion id"
            return passed
    literals = {n.value for n in ast.walk(scope) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return literals & set(BOOK.fusions)


BLOCKED = [call for call in _calls("Blocked") if call[0].name != "context.py" or call[1].args]


def test_the_passes_name_conditions() -> None:
    assert len(BLOCKED) >= 25  # every pass with a near miss builds its Blocked here
    assert {p.name for p, _, _ in BLOCKED} >= {"conv.py", "pointwise.py", "reduction.py", "scale.py", "shuffle.py",
                                                "softmax.py"}


@pytest.mark.parametrize("where", BLOCKED, ids=lambda c: f"{c[0].name}:{c[1].lineno}")
def test_every_blocked_names_a_condition_of_its_fusion(where: tuple[Path, ast.Call, ast.AST]) -> None:
    path, call, scope = where
    assert len(call.args) == 3, f"{path.name}:{call.lineno}: Blocked(fusion, condition, detail)"
    fusion_arg, condition_arg = call.args[0], call.args[1]
    assert isinstance(condition_arg, ast.Constant) and isinstance(condition_arg.value, str), \
        f"{path.name}:{call.lineno}: the condition id must be a literal, so this test can check it"
    fusions = _fusion_candidates(fusion_arg, scope, path)
    assert fusions, f"{path.name}:{call.lineno}: no fusion id this Blocked can name"
    for fusion in sorted(fusions):
        assert condition_arg.value in BOOK.fusion(fusion).conditions, \
            f"{path.name}:{call.lineno}: fusion {fusion} has no condition '{condition_arg.value}'"


def test_near_miss_is_only_raised_through_blocked() -> None:
    """A near miss takes a Blocked: free text cannot reach a finding without a condition id."""
    calls = [c for c in _calls("near_miss") if c[0].name != "context.py"]
    assert len(calls) >= 20
    for path, call, _ in calls:
        assert len(call.args) == 2 and not isinstance(call.args[1], ast.Constant), f"{path.name}:{call.lineno}"


def test_an_unknown_condition_is_refused_when_raised() -> None:
    graph = Graph(onnx.helper.make_graph([], "empty", [], []))
    ctx = PlanContext(graph, make_target(BOOK, "8.6", "86", None, "fp16"), BOOK)
    ctx.near_miss([], Blocked("conv+relu", "sole_reader", "detail"))
    assert ctx.findings[0].condition == "sole_reader" and ctx.findings[0].fusion == "conv+relu"
    with pytest.raises(KeyError, match="no condition 'not_a_condition'"):
        ctx.near_miss([], Blocked("conv+relu", "not_a_condition", "detail"))


def test_explain_shows_each_condition_with_its_id() -> None:
    documented = {code for data in BOOK.tables.values() for code in data.get("rule", {})}  # their own rationale
    for spec in BOOK.fusions.values():
        if spec.code in documented:
            continue
        rationale = BOOK.rule(spec.code).rationale
        for cid, text in spec.conditions.items():
            assert f"{text} [{cid}]" in rationale
