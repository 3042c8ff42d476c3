"""The attribute types written ahead of time (trtadvisor/ir/schema_attrs.json) answer as ONNX's registry does."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import onnx.defs
import pytest
from onnx import TensorProto, helper

from trtadvisor.errors import ModelLoadError
from trtadvisor.ir import graph as graph_module
from trtadvisor.ir import schema_attrs
from trtadvisor.ir.graph import Graph


def _softmax_with_string_axis() -> Graph:
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis="1")  # ONNX defines axis as an int
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return Graph(g)


def test_table_is_current() -> None:
    """The file is written for the installed onnx and holds what the registry says now (regenerate with
    python -m trtadvisor.ir.schema_attrs)."""
    assert schema_attrs.recorded_attr_types() == schema_attrs.registry_attr_types()


def test_attribute_types_need_no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong attribute type is refused from the table alone: the registry (costly to build) is not asked."""
    def no_registry(*args: object) -> None:
        raise AssertionError("onnx.defs.get_schema was called")

    monkeypatch.setattr(onnx.defs, "get_schema", no_registry)
    graph_module._schema_attr_type.cache_clear()
    try:
        with pytest.raises(ModelLoadError, match="attribute 'axis' of type STRING; ONNX defines it as INT"):
            _softmax_with_string_axis().nodes[0].attr("axis")
    finally:
        graph_module._schema_attr_type.cache_clear()


def test_table_of_another_onnx_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Written under another onnx version, the table is not used: the registry answers (and still refuses)."""
    stale = tmp_path / "schema_attrs.json"
    stale.write_text(json.dumps({"onnx": "0.0.0", "domains": {"": {"Softmax": {}}}}), encoding="utf-8")
    monkeypatch.setattr(schema_attrs, "TABLE", stale)
    schema_attrs.recorded_attr_types.cache_clear()
    graph_module._schema_attr_type.cache_clear()
    try:
        assert schema_attrs.recorded_attr_types() is None
        with pytest.raises(ModelLoadError, match="ONNX defines it as INT"):
            _softmax_with_string_axis().nodes[0].attr("axis")
    finally:
        schema_attrs.recorded_attr_types.cache_clear()
        graph_module._schema_attr_type.cache_clear()


def test_table_matches_registry_lookup() -> None:
    """Every recorded op and attribute gives the type onnx.defs.get_schema gives (as Node.attr asked it before)."""
    for domain, ops in schema_attrs.recorded_attr_types().items():
        for op, attrs in ops.items():
            schema = onnx.defs.get_schema(op, domain)
            assert attrs == {k: int(a.type) for k, a in schema.attributes.items()}, (domain, op)
