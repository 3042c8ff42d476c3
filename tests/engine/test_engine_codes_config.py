"""Select, ignore, severity overrides and baselines reach the comparison's codes TRT612 and TRT613.

The case is a real TensorRT artifact: the TREx A100 FP16 ResNet-18 engine (layer information), built from
another export of ResNet-18, whose classifier is one layer 'Gemm_48' where the prediction for
samples/cnn/resnet18.torchscript.opset17.onnx has Flatten + Gemm: one predicted layer missed (TRT612) and one
engine layer unpredicted (TRT613), as rules/engine.toml records for both codes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trtadvisor.cli import main

from conftest import artifact, sample_path, samples_where

LAYERS = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json"
MODEL = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
FORMATS = ("json", "sarif", "concise", "github", "markdown", "rich", "html")


def _engine_classifier() -> str:
    """The engine's own name for its Gemm layer, read from the artifact."""
    layers = json.loads(artifact(LAYERS).read_text())
    layers = layers["Layers"] if isinstance(layers, dict) else layers
    names = [str(layer.get("Name")) for layer in layers
             if isinstance(layer, dict) and str(layer.get("Name", "")).startswith("Gemm")]
    assert len(names) == 1, names
    return names[0]


def _audit(tmp_path: Path, fmt: str, *extra: str) -> tuple[int, str]:
    out = tmp_path / f"report.{fmt}"
    rc = main(["audit", str(MODEL), "--layer-info", str(artifact(LAYERS)), "--format", fmt, "-o", str(out),
               *extra])
    return rc, out.read_text(encoding="utf-8")


def _coded(fmt: str, text: str, gemm: str) -> dict[str, list[str]]:
    """TRT612 and TRT613 results in a report, with their severities (where the format shows one)."""
    found: dict[str, list[str]] = {"TRT612": [], "TRT613": []}
    if fmt == "json":
        comparison = json.loads(text)["comparison"]
        for key, code in (("missed", "TRT612"), ("kind_mismatches", "TRT612"), ("unpredicted", "TRT613")):
            found[code] += [str(item.get("severity")) for item in comparison[key]]
    elif fmt == "sarif":
        for r in json.loads(text)["runs"][0]["results"]:
            if r["ruleId"] in found:
                found[r["ruleId"]].append(r["level"])
    elif fmt == "concise":
        for m in re.finditer(r": (TRT61[23]) (\w+) ", text):
            found[m.group(1)].append(m.group(2))
    elif fmt == "github":
        for m in re.finditer(r"^::(\w+) [^\n]*title=trtadvisor (TRT61[23]) ", text, re.M):
            found[m.group(2)].append(m.group(1))
    else:  # the comparison table's rows: the missed predicted layer and the engine's own Gemm layer
        flat = re.sub(r"<[^>]+>|[│|`*]", " ", text)
        found["TRT612"] += ["shown"] * len(re.findall(r"missed\s+Flatten \+ Gemm", flat))
        found["TRT613"] += ["shown"] * len(re.findall(rf"unpredicted\s+{re.escape(gemm)}\b", flat))
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_ignore_and_select_reach_trt612_and_trt613_in_every_format(fmt: str, tmp_path: Path) -> None:
    gemm = _engine_classifier()
    _, text = _audit(tmp_path, fmt, "--no-config")
    every = _coded(fmt, text, gemm)
    assert len(every["TRT612"]) >= 1 and len(every["TRT613"]) >= 1, every  # the artifact's disagreement
    _, text = _audit(tmp_path, fmt, "--no-config", "--ignore", "TRT612,TRT613")
    assert _coded(fmt, text, gemm) == {"TRT612": [], "TRT613": []}
    _, text = _audit(tmp_path, fmt, "--no-config", "--select", "TRT613")
    assert _coded(fmt, text, gemm) == {"TRT612": [], "TRT613": every["TRT613"]}


def test_configured_severity_and_ignore_apply_to_the_comparison_codes(tmp_path: Path) -> None:
    config = tmp_path / "trtadvisor.toml"
    config.write_text('ignore = ["TRT613"]\n\n[severity]\nTRT612 = "error"\n')
    gemm = _engine_classifier()
    rc, text = _audit(tmp_path, "concise", "--config", str(config))
    assert _coded("concise", text, gemm) == {"TRT612": ["error"], "TRT613": []}
    assert rc == 1  # an error-level result fails the run at the default --fail-on error, as a finding does
    rc, text = _audit(tmp_path, "sarif", "--config", str(config))
    assert _coded("sarif", text, gemm)["TRT612"] == ["error"]
    rc, text = _audit(tmp_path, "json", "--config", str(config))
    assert {item["severity"] for item in json.loads(text)["comparison"]["missed"]} == {"error"}


def test_a_baseline_accepts_the_comparison_codes(tmp_path: Path) -> None:
    gemm = _engine_classifier()
    baseline = tmp_path / "baseline.json"
    _audit(tmp_path, "concise", "--no-config", "--write-baseline", str(baseline))
    rc, text = _audit(tmp_path, "concise", "--no-config", "--baseline", str(baseline))
    assert rc == 0 and _coded("concise", text, gemm) == {"TRT612": [], "TRT613": []}
    rc, text = _audit(tmp_path, "json", "--no-config", "--baseline", str(baseline))
    report = json.loads(text)
    assert report["findings"] == [] and report["diagnosis"] == []
    assert report["baseline"]["new"] == 0
