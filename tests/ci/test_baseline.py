"""Baselines: a re-export that renumbers every node keeps its baseline, and only new findings fail."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import helper

from trtadvisor.cli import main

from conftest import sample_path, samples_where

# Dynamo names carry counters (node_Transpose_162) and module scopes in metadata; TorchScript names carry
# the module path (/layer1/layer1.1/relu_1/Relu) and counters on unscoped nodes (Identity_3).
CASES = [samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0],
         samples_where(name="resnet18_dynbatch", exporter="torchscript")[0],
         samples_where(name="resnet18", exporter="dynamo", opset=18)[0]]


def renumbered(src: Path, dst: Path, shift: int = 1000) -> Path:
    """``src`` as a re-export would write it: every node's counter different, nothing else changed."""
    model = onnx.load(str(src), load_external_data=False)
    for node in model.graph.node:
        if re.search(r"\d+$", node.name):
            node.name = re.sub(r"\d+$", lambda m: str(int(m.group()) + shift), node.name)
        else:
            node.name = f"{node.name}_{shift}"
    onnx.save(model, str(dst))
    return dst


def with_second_reader_of_a_conv(src: Path, dst: Path) -> str:
    """Give the first Conv's output a second reader (a graph output): it loses its activation fusion."""
    model = onnx.load(str(src), load_external_data=False)
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    tap = helper.make_node("Neg", [conv.output[0]], ["conv_tap"], name="conv_tap_reader")
    model.graph.node.append(tap)
    model.graph.output.append(helper.make_tensor_value_info("conv_tap", onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(dst))
    return conv.name


def _audit(model: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    rc = main(["audit", str(model), "--format", "json", "-o", str(out), "--no-config", "--fail-on", "info", *extra])
    return rc, json.loads(out.read_text())


@pytest.mark.parametrize("entry", CASES, ids=lambda e: e["path"])
def test_a_renumbered_reexport_keeps_its_baseline(entry: dict[str, Any], tmp_path: Path) -> None:
    original = tmp_path / "model.onnx"
    original.write_bytes(sample_path(entry).read_bytes())
    baseline = tmp_path / "baseline.json"
    rc, first = _audit(original, tmp_path, "--write-baseline", str(baseline))
    assert rc == 0 and first["findings"] == [] and first["baseline"]["accepted"] > 0
    accepted = first["baseline"]["accepted"]

    rc, plain = _audit(original, tmp_path)
    assert rc == 1 and len(plain["findings"]) == accepted  # without the baseline, the findings fail

    again = renumbered(original, tmp_path / "reexport.onnx")
    names_before = {n.name for n in onnx.load(str(original), load_external_data=False).graph.node}
    names_after = {n.name for n in onnx.load(str(again), load_external_data=False).graph.node}
    assert not names_before & names_after, "the re-export renamed every node"
    rc, report = _audit(again, tmp_path, "--baseline", str(baseline))
    assert report["findings"] == []
    assert report["baseline"] == {"path": str(baseline), "accepted": accepted, "new": 0}
    assert rc == 0


def test_only_new_findings_fail_after_a_reexport(tmp_path: Path) -> None:
    entry = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
    original = tmp_path / "model.onnx"
    original.write_bytes(sample_path(entry).read_bytes())
    baseline = tmp_path / "baseline.json"
    _audit(original, tmp_path, "--write-baseline", str(baseline))

    changed = tmp_path / "changed.onnx"
    conv = with_second_reader_of_a_conv(original, changed)
    reexport = renumbered(changed, tmp_path / "changed-reexport.onnx")
    rc, report = _audit(reexport, tmp_path, "--baseline", str(baseline))
    assert rc == 1
    new = report["findings"]
    assert new, "the blocked fusion is new"
    renamed_conv = re.sub(r"\d+$", lambda m: str(int(m.group()) + 1000), conv)
    assert any(f["rule"] == "TRT101" and renamed_conv in f["nodes"] for f in new)
    assert "TRT001" not in {f["rule"] for f in new}  # accepted, even though the file name changed
    assert report["baseline"]["new"] == len(new)

    rc, report = _audit(reexport, tmp_path, "--baseline", str(baseline), "--fail-on", "error")
    assert rc == 0  # the new finding is a warning


@pytest.mark.parametrize("content", ["", "{", '{"schema": "other"}', '{"schema": "trtadvisor.baseline/v1", '
                                     '"findings": [{"count": 1}]}'])
def test_bad_baseline_files_are_2(content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
    bad = tmp_path / "baseline.json"
    bad.write_text(content)
    assert main(["audit", str(sample_path(entry)), "--baseline", str(bad), "--format", "json"]) == 2
    assert "Hint:" in capsys.readouterr().err
    assert main(["audit", str(sample_path(entry)), "--baseline", str(tmp_path / "missing.json")]) == 2
