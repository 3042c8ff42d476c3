"""Every code's bad example raises it and its good example does not (pylint's doc data, sqlfluff's meta-test).

The examples are rule data: ``bad_onnx``/``good_onnx`` (ONNX text for onnx.parser) with ``bad_target``/
``good_target`` in a code's [rule.CODE] or [fusion.ID] table. Codes that no small ONNX text can raise are
listed below with what exercises them instead; a code with neither fails here, so a new code cannot land
without its examples or a stated reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.parser
import pytest
from onnx import numpy_helper

from trtadvisor.api import audit
from trtadvisor.knowledge.rulebook import default_rulebook

BOOK = default_rulebook()

# Codes raised from a built engine's artifacts (rules/engine.toml, `fixture`), not from a model:
# tests/engine/test_engine_rule_fixtures.py raises each on its fixture and not on a clean engine.
ENGINE_CODES = {code for code in BOOK.tables["engine.toml"]["rule"]}

# Codes whose examples are not ONNX text yet, and what tests them today (a shrinking list: it must match exactly).
NOT_YET: dict[str, str] = {
    "TRT001": "external weights absent: needs an external-data file (tests/core/test_loader.py)",
    "TRT010": "an external-data location outside the model's folder: tests/hostile/test_units.py",
    "TRT009": "a structural repair on load (node order, duplicate initializers) onnx.parser cannot write: tests/wild",
    # Fusions TensorRT always applies, with no condition a model can fail: the code documents the transformation
    # (`explain`), the prediction shows it (eliminated nodes), and no finding ever carries it.
    "TRT116": "never raised: an identity scale is always erased (tests/cases/pointwise.toml shows it eliminated)",
    "TRT119": "never raised: Identity, Dropout and constant folding always apply (tests/cases/pointwise.toml)",
    "TRT124": "never raised: an element-wise op's ReLU always joins it when it alone reads it (tests/wild: "
              "ResNet50V2's pre-activations, tf2onnx)",
    "TRT123": "never raised: consecutive per-channel scales always merge (tests/wild/test_wild_graphs.py, GroupNorm "
              "affines as in the ControlNet engine)",
    **{code: "raised by `trtadvisor diff` from two audits: tests/ci/test_diff.py" for code in
       ("TRT501", "TRT502", "TRT503")},
}


def _examples() -> dict[str, dict[str, Any]]:
    """Code -> its example keys, from whichever [rule.CODE] or [fusion.ID] table gives them."""
    found: dict[str, dict[str, Any]] = {}
    for data in BOOK.tables.values():
        for code, table in data.get("rule", {}).items():
            if table.get("bad_onnx"):
                found[code] = table
    for table in BOOK.tables["fusions.toml"]["fusion"].values():
        if table["bad_onnx"]:
            found.setdefault(table["code"], table)
    return found


EXAMPLES = _examples()


def test_every_code_has_examples_or_a_stated_reason() -> None:
    codes = set(BOOK.rules)
    assert set(EXAMPLES) | ENGINE_CODES | set(NOT_YET) == codes
    assert not set(EXAMPLES) & set(NOT_YET), "a code with examples must leave NOT_YET"
    assert all(table["good_onnx"] for table in EXAMPLES.values()), "every bad example needs a good one"
    assert len(EXAMPLES) >= 45


def _materialise(text: str, tmp_path: Path, name: str) -> Path:
    """The model of ONNX text, its const_* inputs turned into initializers (filled with 0.5)."""
    model = onnx.parser.parse_model(text)
    keep = []
    for vi in model.graph.input:
        if not vi.name.startswith("const_"):
            keep.append(vi)
            continue
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        model.graph.initializer.append(numpy_helper.from_array(np.full(dims, 0.5, dtype), vi.name))
    del model.graph.input[:]
    model.graph.input.extend(keep)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def _codes(text: str, target: dict[str, str], tmp_path: Path, name: str) -> set[str]:
    assert target.get("strongly_typed", "true") == "true", "strongly_typed is given as \"true\" or not at all"
    result = audit(_materialise(text, tmp_path, name), trt=target.get("trt", "8.6"), sm=target.get("sm", "86"),
                   precision=target.get("precision", "fp16"), strongly_typed=target.get("strongly_typed") == "true")
    return {f.rule for f in result.findings}


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_bad_example_raises_the_code_and_good_does_not(code: str, tmp_path: Path) -> None:
    table = EXAMPLES[code]
    assert code in _codes(table["bad_onnx"], table["bad_target"], tmp_path, "bad")
    assert code not in _codes(table["good_onnx"], table["good_target"], tmp_path, "good")
