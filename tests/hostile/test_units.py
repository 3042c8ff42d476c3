"""The pieces behind tests/hostile/test_hostile.py, asserted directly: what each guard decides."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hostile.hostile_inputs import constant_of_shape_mask, external_location, huge_range, nested_if
from trtadvisor.analysis.values import GraphValues
from trtadvisor.api import audit
from trtadvisor.errors import UserError, shown
from trtadvisor.ir.load import load_model
from trtadvisor.report.escape import github_data, html_text, json_document, markdown_cell, markdown_code
from trtadvisor.safe_io import OutputError, check_outputs, load_json, read_regular, write_output


def test_outside_locations_are_one_finding_whatever_exists(tmp_path: Path) -> None:
    """A location outside the folder gives the same answer whether the file exists or not: no probing."""
    present = external_location(tmp_path / "a.onnx", "../" * 12 + "etc/passwd")  # exists on Linux
    absent = external_location(tmp_path / "b.onnx", "../" * 12 + "etc/no-such-file-here")
    for path in (present, absent):
        result = audit(path)
        codes = [f.rule for f in result.findings]
        assert "TRT010" in codes and "TRT001" not in codes
        assert result.model.missing_external_data == ()
    inside = external_location(tmp_path / "c.onnx", "weights.data")  # in the folder, absent: TRT001 as before
    assert [f.rule for f in audit(inside).findings if f.rule in ("TRT001", "TRT010")] == ["TRT001"]


def test_constant_of_shape_past_the_element_bound_is_unknown(tmp_path: Path) -> None:
    graph = load_model(constant_of_shape_mask(tmp_path / "m.onnx")).graph
    values = GraphValues(graph)
    assert values.value("mask_shape").tolist() == [1, 1, 65536, 65536]
    assert values.value("mask") is None  # 2**32 elements: never allocated
    assert values.value("masked") is None


def test_range_of_2_to_the_40_is_unknown(tmp_path: Path) -> None:
    graph = load_model(huge_range(tmp_path / "m.onnx")).graph
    assert GraphValues(graph).value("r") is None


def test_nested_bodies_have_linear_names(tmp_path: Path) -> None:
    """24 nested If: each level adds one "If_oN/then_branch/" to the names, not a copy of its parent's."""
    graph = load_model(nested_if(tmp_path / "m.onnx", 24)).graph
    names = [n.name for g in graph.walk() for n in g.nodes]
    assert len(names) == 24 * 2 + 1
    assert max(len(n) for n in names) < 24 * 30


def test_json_bounds() -> None:
    assert load_json('{"a": [1, 2.5, NaN, Infinity]}') == {"a": [1, 2.5, None, None]}
    for text, words in (("9" * 41, "digits"), ("[" * 100_000 + "]" * 100_000, "nested"),
                        ("[" * 65 + "]" * 65, "nested")):
        with pytest.raises(ValueError, match=words):
            load_json(text)


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, words in ((fifo, "FIFO"), (tmp_path, "directory"), (Path("/dev/zero"), "device"),
                        (tmp_path / "none", "not found")):
        with pytest.raises(UserError, match=words):
            read_regular(path, what="a file", hint="h", limit=1 << 20)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(UserError, match="more than"):
        read_regular(big, what="a file", hint="h", limit=1024)


def test_outputs_never_replace_inputs_or_configs(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    link = tmp_path / "link"
    link.symlink_to(model)
    for out in (model, link, tmp_path / "." / "m.onnx"):
        with pytest.raises(OutputError, match="is the model"):
            check_outputs({"-o": str(out)}, [("model", model)])
    with pytest.raises(OutputError, match="configuration file"):
        check_outputs({"-o": str(tmp_path / "pyproject.toml")}, [])
    with pytest.raises(OutputError, match="same file"):
        check_outputs({"-o": "r.json", "--write-baseline": "./r.json"}, [])
    check_outputs({"-o": str(tmp_path / "report.json")}, [("model", model)])


def test_writes_are_atomic(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    write_output(out, "new")
    assert out.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    with pytest.raises(OutputError):
        write_output(tmp_path / "missing" / "r.json", "x")
    with pytest.raises(OutputError, match="No space"):
        write_output("/dev/full", "x" * 100_000)


def test_messages_are_clipped_and_escaped() -> None:
    assert len(shown("A" * 10_000)) < 200
    assert shown("a\x1b[31mb\udcff") == "a\\x1b[31mb\\xff"
    line = UserError("bad " + "x" * 10_000 + "\x1b]0;t\x07", "h\nint").one_line()
    assert len(line) < 1400 and "\x1b" not in line and "\n" not in line


NAME = "\x1b]8;;http://evil\x07<img src=x onerror=alert(1)>|*a*_[l](http://e)`\u202e\udcff"


def test_model_text_is_escaped_for_each_medium() -> None:
    md = markdown_cell(NAME)
    assert "\x1b" not in md and "<img" not in md and "|" not in md.replace("\\|", "")
    assert "\\[l\\]" in md and "\\*a\\*" in md and "\\u202e" in md and "\\xff" in md
    code = markdown_code("a`b")
    assert code.startswith("``") and code.endswith("``")
    assert "<img" not in html_text(NAME) and "&lt;img" in html_text(NAME)
    gh = github_data(NAME + "\n::error::x%")
    assert "\n" not in gh and "\x1b" not in gh and gh.endswith("%0A::error::x%25")
    doc = json_document(json.dumps({"path": "m\udcff.onnx"}, ensure_ascii=False))
    doc.encode("utf-8")  # valid UTF-8: no lone surrogate left
    assert json.loads(doc) == {"path": "m\\xff.onnx"}
    # Non-ASCII text keeps its characters; a surrogate after them is still found and escaped.
    text = json.dumps({"node": "Conv_é", "path": "日本\udcfe.onnx"}, ensure_ascii=False)
    assert json.loads(json_document(text)) == {"node": "Conv_é", "path": "日本\\xfe.onnx"}
    assert json_document('{"node": "Conv_é"}') == '{"node": "Conv_é"}'


def test_values_bound_holds_for_broadcasts() -> None:
    from trtadvisor.analysis.values import result_too_large as _result_too_large

    wide = [np.zeros((1 << 12, 1)), np.zeros((1, 1 << 12))]
    assert _result_too_large("Add", wide)  # 2**24 elements from two small operands
    assert not _result_too_large("Add", [np.zeros((64, 1)), np.zeros((1, 64))])
    assert _result_too_large("Range", [np.array(0), np.array(2**40), np.array(1)])
    assert _result_too_large("Tile", [np.zeros(1 << 10), np.array([1 << 20])])
