"""The prediction for a re-export of ResNet-18 against the real A100 engines of the same architecture.

The engines (../shared/data/trt-artifacts/trex/examples/pytorch/resnet/A100/, TensorRT 8.4-8.5,
batch 32) were built from an older TorchScript export whose node names are '<OpType>_<index>', so an
engine layer's ONNX op types are read off its node names. Signatures compare op types per layer, in
order, with reformat and internal layers aside.
"""

from __future__ import annotations

import re

import pytest

from trtadvisor.api import audit
from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.compare import comparable_layers, layer_signature

from conftest import artifact, sample_path, samples_where

ENGINES = "trex/examples/pytorch/resnet/A100/{precision}/resnet.onnx.engine.graph.json"


def _op_of_old_torchscript_name(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resnet18_prediction_matches_the_a100_engine(precision: str) -> None:
    engine = load_engine(layer_info=artifact(ENGINES.format(precision=precision)))
    layers = comparable_layers(engine)
    node_ops = {n: _op_of_old_torchscript_name(n) for layer in layers for n in layer.onnx_nodes}
    expected = layer_signature(layers, node_ops)

    entry = samples_where(name="resnet18", exporter="torchscript")[0]
    result = audit(sample_path(entry), trt="8.5", gpu="A100", precision=precision)
    predicted = tuple(layer.ops for layer in result.prediction.layers)

    assert len(expected) == 23  # 20 convolutions, MaxPool, GlobalAveragePool, Gemm
    assert predicted == expected


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_audit_against_an_engine_of_another_export_compares_signatures(precision: str) -> None:
    from trtadvisor.confirm.stage import confirm_into

    entry = samples_where(name="resnet18", exporter="torchscript")[0]
    result = audit(sample_path(entry), trt="8.5", gpu="A100", precision=precision)
    confirm_into(result, layer_info=str(artifact(ENGINES.format(precision=precision))))
    comparison = result.contract_fields()["comparison"]
    assert comparison["method"] == "signatures"
    assert comparison["agreement"] == 1.0
    assert comparison["missed"] == [] and comparison["unpredicted"] == []
    # Every multi-node layer is confirmed: 9 Conv+Relu, 8 Conv+Add+Relu.
    assert len(comparison["confirmed"]) == 17
    rules = [d["rule"] for d in result.contract_fields()["diagnosis"]]
    assert "engine-from-another-export" in rules


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_boundary_reformats_match_the_a100_engine(precision: str) -> None:
    engine = load_engine(layer_info=artifact(ENGINES.format(precision=precision)))
    changing = [layer for layer in engine.layers
                if layer.type == "Reformat" and layer.inputs and layer.outputs
                and layer.inputs[0].precision != layer.outputs[0].precision]
    entry = samples_where(name="resnet18", exporter="torchscript")[0]
    result = audit(sample_path(entry), trt="8.5", gpu="A100", precision=precision)
    predicted = result.reformats or []
    assert len(predicted) == len(changing) == (2 if precision == "fp16" else 0)
    if predicted:
        expected = [("input", "fp32", "fp16"), ("output", "fp16", "fp32")]
        assert [(r["at"], r["from"], r["to"]) for r in predicted] == expected
        assert predicted[0]["name"] == "Reformatting CopyNode for Input Tensor 0 to /conv1/Conv + /relu/Relu"
        assert [layer.name.split(" to ")[0] for layer in changing] == [
            "Reformatting CopyNode for Input Tensor 0", "Reformatting CopyNode for Output Tensor 0"]


def test_engine_diagnoses_have_codes_that_select_ignore_and_explain_reach(tmp_path: object) -> None:
    from trtadvisor.cli import main
    from trtadvisor.config import Config
    from trtadvisor.confirm.stage import confirm_into

    entry = samples_where(name="resnet18", exporter="torchscript")[0]
    layer_info = str(artifact(ENGINES.format(precision="fp32")))
    result = audit(sample_path(entry), trt="8.5", gpu="A100", precision="fp32")
    confirm_into(result, layer_info=layer_info)
    codes = {d["rule"]: d["code"] for d in result.contract_fields()["diagnosis"]}
    assert codes["engine-from-another-export"] == "TRT611"  # rules/engine.toml
    ignoring = audit(sample_path(entry), trt="8.5", gpu="A100", precision="fp32",
                     config=Config(ignore=("TRT611",)))
    confirm_into(ignoring, layer_info=layer_info)
    assert "TRT611" not in {d["code"] for d in ignoring.contract_fields()["diagnosis"]}
    assert main(["explain", "TRT611"]) == 0


def test_the_python_api_filters_findings_by_the_project_configuration(tmp_path: object) -> None:
    import json
    import shutil
    from pathlib import Path

    from trtadvisor.api import FIND
    from trtadvisor.cli import main

    root = Path(str(tmp_path))
    (root / "trtadvisor.toml").write_text('trt = "10.8"\nignore = ["TRT204"]\n[severity]\nTRT001 = "warning"\n')
    model = root / "m.onnx"
    shutil.copyfile(sample_path(samples_where(name="resnet18", exporter="torchscript")[0]), model)
    plain = audit(model)
    configured = audit(model, config=FIND)
    assert "TRT204" in {f.rule for f in plain.findings} and plain.target.trt != "10.8"
    assert configured.target.trt == "10.8" and "TRT204" not in {f.rule for f in configured.findings}
    assert {f.severity for f in configured.findings if f.rule == "TRT001"} == {"warning"}
    # What the command line gives for the same file and configuration.
    out = root / "r.json"
    main(["audit", str(model), "--format", "json", "-o", str(out)])
    cli = json.loads(out.read_text())
    assert cli["findings"] == [f.to_json() for f in configured.findings]
    assert cli["target"]["trt"] == "10.8"
