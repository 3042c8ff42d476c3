"""One parametrised test over the rule cases in tests/cases/*.toml (sqlfluff's std_rule_cases idea).

Each case is a small model in ONNX text. Graph inputs named ``const_*`` become initializers (filled
with ``fill`` unless ``constants`` gives values), so weights need no literals. A case states the
target, the predicted layers (op types per layer, in order), optionally their fusions and names,
the eliminated nodes, and the finding codes with a fragment of the reason each must contain (and of
the fix each states: ``hints``) and the failing condition each names (``FUSION.CONDITION``, an id of
rules/fusions.toml [fusion.FUSION] conditions).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.parser
import pytest
from onnx import numpy_helper

from trtadvisor.api import AuditResult, audit
from trtadvisor.ir.graph import is_static
from trtadvisor.knowledge.rulebook import default_rulebook

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            for case in tomllib.load(fh)["case"]:
                params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


def _materialise(case: dict[str, Any], tmp_path: Path) -> Path:
    model = onnx.parser.parse_model(case["model"])
    values = case.get("constants", {})
    fill = float(case.get("fill", 0.5))
    keep = []
    for vi in model.graph.input:
        if not vi.name.startswith("const_"):
            keep.append(vi)
            continue
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        data = np.array(values[vi.name], dtype=dtype).reshape(dims) if vi.name in values else np.full(dims, fill, dtype)
        model.graph.initializer.append(numpy_helper.from_array(data, vi.name))
    del model.graph.input[:]
    model.graph.input.extend(keep)
    path = tmp_path / "case.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("case", _load_cases())
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    target = case.get("target", {})
    result = audit(_materialise(case, tmp_path), trt=target.get("trt", "8.6"), sm=str(target.get("sm", 86)),
                   precision=target.get("precision", "fp16"))
    layers = result.prediction.layers
    assert [list(layer.ops) for layer in layers] == case["layers"]
    if "fusions" in case:
        assert [sorted(layer.fusions) for layer in layers] == [sorted(f) for f in case["fusions"]]
    if "names" in case:
        assert [layer.name for layer in layers] == case["names"]
    if "kinds" in case:
        assert [layer.kind for layer in layers] == case["kinds"]
    assert sorted(result.prediction.eliminated) == sorted(case.get("eliminated", []))
    fusion_findings = [f for f in result.findings if f.rule.startswith("TRT1")]
    assert sorted(f.rule for f in fusion_findings) == sorted(case.get("findings", []))
    for fragment in case.get("reasons", []):
        assert any(fragment in f.message for f in fusion_findings), (fragment, [f.message for f in fusion_findings])
    for fragment in case.get("hints", []):  # the fix stated for the condition that failed
        assert any(fragment in f.hint for f in fusion_findings), (fragment, [f.hint for f in fusion_findings])
    if "findings" in case:
        assert sorted(f"{f.fusion}.{f.condition}" for f in fusion_findings) == sorted(case["conditions"])
        book = default_rulebook()
        for f in fusion_findings:  # the message quotes the condition's text from the rule data
            assert book.fusion(str(f.fusion)).condition(str(f.condition)) in f.message, f.message
    _missed_fusions_state_their_cost(result)
    # Every node lands in exactly one layer or in eliminated.
    placed = [n for layer in layers for n in layer.nodes] + list(result.prediction.eliminated)
    assert sorted(placed) == sorted(n.name for n in result.model.graph.nodes)


def _missed_fusions_state_their_cost(result: AuditResult) -> None:
    """Every missed-fusion finding whose nodes' shapes are known states its predicted cost in ms."""
    if result.cost is None or result.cost.gpu is None:
        return  # a GPU with no figures in rules/gpu_perf.toml: no time can be stated
    codes = {spec.code for spec in default_rulebook().fusions.values()}
    graph = result.model.graph
    by_name = {n.name: n for n in graph.nodes}
    for finding in result.findings:
        if finding.rule not in codes:
            continue
        outputs = [t for name in finding.nodes for t in by_name[name].outputs if t]
        if all(is_static(graph.shape(t)) for t in outputs):
            assert finding.cost_ms is not None and finding.cost_ms > 0, finding
            assert " ms predicted on " in finding.message, finding.message
