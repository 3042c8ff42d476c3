"""The attention verdict and the Q/DQ checks name each failing condition by an id of their rule data.

A check returns ``Failed.of(ID, **facts)``; the words are rules/attention.toml [verdict.conditions.ID] or
rules/qdq.toml [rule.CODE] conditions.ID filled with the facts (knowledge/conditions.py). This test reads the
source of the checks (every branch, not only those the samples reach): each id they can return is in the data,
each id of the data is returned somewhere, and an id the data lacks raises when a check returns it.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import onnx
import pytest

from tests.attention.models import attention_model
from trtadvisor.advice.qdq import _Checks
from trtadvisor.analysis.attention_sites import find_attention_sites
from trtadvisor.analysis.mha_rules import MhaRules, judge
from trtadvisor.ir.load import load_model
from trtadvisor.knowledge.conditions import ConditionTexts, Failed
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.knowledge.target import make_target

PACKAGE = Path(__file__).resolve().parents[2] / "trtadvisor"
BOOK = default_rulebook()
QDQ_RULES = BOOK.tables["qdq.toml"]["rule"]


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / module).read_text())


def _failed_ids(module: str, tree: ast.Module) -> list[tuple[int, set[str], ast.Call]]:
    """Every ``Failed.of(...)`` of a module: its line, the ids its first argument can be, and the call."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "of" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "Failed":
            arg = node.args[0]
            ids = {n.value for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            if isinstance(arg, ast.IfExp):  # "a" if ... else "b": only the branches are ids, not the test
                ids = {n.value for n in (arg.body, arg.orelse, *ast.walk(arg.orelse))
                       if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            assert ids, f"{module}:{node.lineno}: the condition id must be a literal, so this test can check it"
            found.append((node.lineno, ids, node))
    return found


def test_the_attention_verdict_returns_only_ids_of_its_data() -> None:
    data = set(BOOK.tables["attention.toml"]["verdict"]["conditions"])
    used = set().union(*(ids for _, ids, _ in _failed_ids("analysis/mha_rules.py", _tree("analysis/mha_rules.py"))))
    assert len(used) >= 18
    assert used <= data, f"ids without data: {sorted(used - data)}"
    assert data <= used, f"conditions no check returns: {sorted(data - used)}"


def test_every_qdq_check_names_a_condition_of_its_rule() -> None:
    tree = _tree("advice/qdq.py")
    calls = _failed_ids("advice/qdq.py", tree)
    by_code: dict[str, set[str]] = {}
    for node in ast.walk(tree):  # checks.flag("TRTxxx", Failed.of("id", ...), nodes)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "flag":
            code = node.args[0]
            assert isinstance(code, ast.Constant), f"qdq.py:{node.lineno}: the code must be a literal"
            ids = next((ids for _, ids, call in calls if call is node.args[1]), None)
            if ids is not None:
                by_code.setdefault(code.value, set()).update(ids)
    # _attention_limits returns TRT412's failed limits, flagged through a variable
    limits = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "_attention_limits")
    by_code.setdefault("TRT412", set()).update(
        *(ids for _, ids, call in calls if any(call is n for n in ast.walk(limits))))
    for code, ids in by_code.items():
        assert ids <= set(QDQ_RULES[code]["conditions"]), f"{code}: {sorted(ids - set(QDQ_RULES[code]['conditions']))}"
    assert {code: set(QDQ_RULES[code]["conditions"]) for code in QDQ_RULES} == by_code, \
        "every Q/DQ rule's conditions are returned by its checks, and only they"


def test_an_unknown_condition_is_refused_when_returned() -> None:
    checks = _Checks(BOOK)
    assert checks.reason("TRT409", Failed.of("gemv", op="MatMul")) == "quantized MatMul with a single row (GEMV)"
    unknown = re.escape("rules/qdq.toml [rule.TRT409] has no condition 'not_a_condition'")
    with pytest.raises(KeyError, match=unknown):
        checks.flag("TRT409", Failed.of("not_a_condition"), [])
    rules = MhaRules.from_book(BOOK)
    with pytest.raises(KeyError, match=re.escape("[verdict] has no condition 'not_a_condition'")):
        rules.conditions.text(Failed.of("not_a_condition"))
    with pytest.raises(KeyError, match="head_max"):  # a fact the text needs and the check did not give
        rules.conditions.text(Failed.of("head_too_large", head=320, where="for FP16 on SM90"))


def test_the_verdict_words_come_from_the_data(tmp_path: Path) -> None:
    # head size 320 in FP16 on SM90: the column allows at most 256 (REF table 'Other SM Versions', FP16).
    path = tmp_path / "head320.onnx"
    onnx.save(attention_model(head=320, heads=4, seq_q=128), path)
    (site,) = find_attention_sites(load_model(path).graph)
    target = make_target(BOOK, "10.16", "90", None, "fp16")
    rules = MhaRules.from_book(BOOK)
    verdict = judge(site, target, rules)
    assert verdict.conditions == ("head_too_large",)
    assert verdict.reasons == ("head size 320 > 256 for FP16 on SM90",)
    assert verdict.fixes == ("split into more heads of at most 256",)
    texts = dict(BOOK.tables["attention.toml"]["verdict"]["conditions"])
    texts["head_too_large"] = {"message": "H={head} over {head_max}", "fix": "at most {head_max}"}
    reworded = dataclasses.replace(rules, conditions=ConditionTexts("test", texts))
    assert judge(site, target, reworded).reasons == ("H=320 over 256",)


def test_every_attention_finding_names_a_condition_of_its_rule() -> None:
    tree = _tree("advice/attention.py")
    calls = _failed_ids("advice/attention.py", tree)
    by_code: dict[str, set[str]] = {}
    for node in ast.walk(tree):  # condition_finding(book, _FILE, "TRTxxx", Failed.of("id", ...), ...)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "condition_finding":
            code = node.args[2]
            assert isinstance(code, ast.Constant), f"attention.py:{node.lineno}: the code must be a literal"
            ids = next(ids for _, ids, call in calls if call is node.args[3])
            by_code.setdefault(code.value, set()).update(ids)
    rules = BOOK.tables["attention.toml"]["rule"]
    assert by_code == {code: set(t["conditions"]) for code, t in rules.items() if t["conditions"]}
    assert set(by_code) == {"TRT303", "TRT304", "TRT306"}
