"""TRT005: the model's ONNX opset against the range the target's ONNX parser documents.

The documented ranges below are written from the sources (onnx-tensorrt docs/operators.md per release branch:
8.0/8.2 up to 13, 8.5/8.6 up to 17, 9.2 up to 19, 10.0 9 to 20, 10.15 9 to 24; ../shared/reference/tensorrt-11.md:
11.x 9 to 24; the 8.x parser warns below opset 7), not read back from rules/trt.toml, and the models are real
exports whose opset is read from the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import onnx.version_converter
import pytest

from trtadvisor.api import audit
from trtadvisor.cli import main
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO, SAMPLES, sample_path, samples_where

# Target -> (lowest, highest) opset its parser documents.
DOCUMENTED = {"8.0": (7, 13), "8.2": (7, 13), "8.6": (7, 17), "10.0": (9, 20), "10.15": (9, 24), "11.4": (9, 24)}

# One real export per opset the samples hold: tf2onnx 13, TorchScript 16/17, dynamo 18/23, a 2018 model-zoo file 9.
MODELS = ["wild/old_zoo_resnet50.onnx", "real_pairs/keras_resnet50.tf2onnx.opset13.onnx",
          "fix/bert_tiny.torchscript.opset16.onnx", "cnn/resnet18.torchscript.opset17.onnx",
          "real_pairs/lenet.dynamo.opset18.onnx", "cnn/resnet18.dynamo.opset23.onnx"]


def _opset(path: Path) -> int:
    model = onnx.load(path, load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _trt005(path: Path, trt: str) -> list:
    return [f for f in audit(path, trt=trt).findings if f.rule == "TRT005"]


@pytest.mark.parametrize("trt", sorted(DOCUMENTED))
@pytest.mark.parametrize("model", MODELS)
def test_real_exports_raise_it_exactly_outside_the_documented_range(model: str, trt: str) -> None:
    path = SAMPLES / model
    opset = _opset(path)
    low, high = DOCUMENTED[trt]
    found = _trt005(path, trt)
    if low <= opset <= high:
        assert found == []
        return
    assert len(found) == 1
    finding = found[0]
    assert (finding.severity, finding.confidence) == ("warning", "documented")
    side = "above" if opset > high else "below"
    assert f"opset {opset} is {side} the range TensorRT {trt}'s ONNX parser documents (opsets {low} to {high})" \
        in finding.message
    if side == "above":
        assert f"convert_version(model, {high})" in finding.hint and f"opset_version={high}" in finding.hint


def test_the_samples_span_both_sides_of_the_8_6_range() -> None:
    opsets = {_opset(SAMPLES / m) for m in MODELS}
    assert opsets == {9, 13, 16, 17, 18, 23}  # the dynamo exporter writes 18 and 23: above 8.6's 17


def test_nodes_named_are_those_whose_op_changed_after_the_range() -> None:
    """torchvision's ResNet-18 has one AdaptiveAvgPool2d; dynamo writes it as ReduceMean, whose definition with
    axes as an input is the one of opset 18: the only node of the opset-18 export TensorRT 8.6 does not document."""
    path = SAMPLES / "cnn/resnet18.dynamo.opset18.onnx"
    graph = onnx.load(path, load_external_data=False).graph
    reduce_means = tuple(n.name for n in graph.node if n.op_type == "ReduceMean")
    assert len(reduce_means) == 1
    (finding,) = _trt005(path, "8.6")
    assert finding.nodes == reduce_means
    assert "ReduceMean (opset 18, 1 node(s))" in finding.message


def test_llama_rmsnorm_means_are_the_nodes_at_stake() -> None:
    """Llama's RMSNorm computes its mean square with ReduceMean, which dynamo writes at opset 18 with axes as an
    input: one node per LlamaRMSNorm module (the registry's count, from the torch model), nothing else newer."""
    entry = samples_where(name="llama_gqa_sdpa", exporter="dynamo", opset=18)[0]
    (finding,) = _trt005(sample_path(entry), "8.6")
    rmsnorms = entry["facts"]["leaf_modules"]["LlamaRMSNorm"]
    assert rmsnorms == 5 and len(finding.nodes) == rmsnorms
    assert finding.message.endswith(f"op definitions newer than opset 17: ReduceMean (opset 18, {rmsnorms} node(s))")


def test_an_export_whose_ops_all_predate_the_range_converts_down_unchanged(tmp_path: Path) -> None:
    """BERT's dynamo export at opset 18 uses no op defined after opset 17 (LayerNormalization is 17's): the
    finding says so, names no node, and onnx's version converter lowers it to 17 with the same ops, which then
    audits clean for 8.6."""
    path = SAMPLES / "transformers/bert_sdpa.dynamo.opset18.onnx"
    (finding,) = _trt005(path, "8.6")
    assert finding.nodes == () and "no node's op changed after opset 17" in finding.message
    model = onnx.load(path, load_external_data=False)
    lowered = onnx.version_converter.convert_version(model, 17)
    assert sorted(n.op_type for n in lowered.graph.node) == sorted(n.op_type for n in model.graph.node)
    out = tmp_path / "bert17.onnx"
    onnx.save(lowered, out)
    assert _trt005(out, "8.6") == []


def test_ops_that_did_not_exist_at_the_bound_are_not_sent_to_the_converter() -> None:
    """The opset-23 BERT export holds Attention (new in 23) and Gelu (new in 20): neither exists at 17."""
    (finding,) = _trt005(SAMPLES / "transformers/bert_sdpa.dynamo.opset23.onnx", "8.6")
    assert "Attention, Gelu did not exist at opset 17" in finding.message


def test_an_undocumented_version_is_bounded_by_its_neighbours_and_says_so() -> None:
    """No source read states 10.1-10.14's range: 10.0 documents up to 20 and 10.15 up to 24. Opset 23 may be
    above 10.8's (info, unknown); opset 18 is below both bounds (nothing to say)."""
    (finding,) = _trt005(SAMPLES / "cnn/resnet18.dynamo.opset23.onnx", "10.8")
    assert (finding.severity, finding.confidence) == ("info", "unknown")
    assert "may be above" in finding.message and "20 at 10.0, 24 at 10.15" in finding.message
    assert "convert_version(model, 20)" in finding.hint
    assert _trt005(SAMPLES / "real_pairs/lenet.dynamo.opset18.onnx", "10.8") == []


def test_outside_even_the_neighbours_bound_is_inferred() -> None:
    """8.4's maximum is not documented here; 8.5, a later release, documents up to 17, so opset 18 is past
    8.4's too, and the safe opset to convert to is 8.2's 13."""
    (finding,) = _trt005(SAMPLES / "real_pairs/lenet.dynamo.opset18.onnx", "8.4")
    assert (finding.severity, finding.confidence) == ("warning", "inferred")
    assert "TensorRT 8.5's bound of opset 17" in finding.message and "convert_version(model, 13)" in finding.hint


def test_an_opset_8_export_is_below_the_10_x_range_and_inside_8_6s() -> None:
    """TorchScript's exporter still writes opset 8 (samples/wild/conv_bn_relu_opset8.onnx): 10.0 documents 9 and
    up; the 8.x parser warns only below 7."""
    path = SAMPLES / "wild" / "conv_bn_relu_opset8.onnx"
    assert _opset(path) == 8
    (finding,) = _trt005(path, "10.0")
    assert (finding.severity, finding.confidence, finding.nodes) == ("warning", "documented", ())
    assert "opset 8 is below" in finding.message and "convert_version(model, 9)" in finding.hint
    assert _trt005(path, "8.6") == []
    (between,) = _trt005(path, "9.0")  # 8.6 documents 7, 10.0 documents 9: 9.0's minimum is unknown
    assert (between.severity, between.confidence) == ("info", "unknown")


def test_every_known_version_has_a_row() -> None:
    book = default_rulebook()
    assert set(book.trt["onnx_opsets"]["by_version"]) == set(book.known_trt)


def test_select_ignore_explain_and_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    model = "samples/real_pairs/lenet.dynamo.opset18.onnx"
    out = tmp_path / "r.json"
    main(["audit", model, "--trt", "8.6", "--select", "TRT005", "--format", "json", "-o", str(out)])
    report = json.loads(out.read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, json.loads((REPO / "trtadvisor/schema/report-v1.json").read_text()))
    assert [(f["rule"], f["confidence"]) for f in report["findings"]] == [("TRT005", "documented")]
    main(["audit", model, "--trt", "8.6", "--ignore", "TRT005", "--format", "json", "-o", str(out)])
    assert "TRT005" not in {f["rule"] for f in json.loads(out.read_text())["findings"]}
    sarif = tmp_path / "r.sarif"
    main(["audit", model, "--trt", "8.6", "--format", "sarif", "-o", str(sarif)])
    results = [r for r in json.loads(sarif.read_text())["runs"][0]["results"] if r["ruleId"] == "TRT005"]
    assert len(results) == 1 and results[0]["properties"]["confidence"] == "documented"
    for fmt, mark in (("markdown", "TRT005"), ("github", "title=TRT005"), ("concise", "TRT005 warning")):
        text_out = tmp_path / f"r.{fmt}"
        main(["audit", model, "--trt", "8.6", "--format", fmt, "-o", str(text_out)])
        assert mark in text_out.read_text(), fmt
    capsys.readouterr()
    assert main(["explain", "TRT005"]) == 0
    assert "model.opset-outside-parser-range" in capsys.readouterr().out


@pytest.mark.parametrize("opset", [2**40, 2**63 - 1, -(2**63)])
def test_an_opset_beyond_a_c_int_is_judged_not_an_internal_error(tmp_path: Path, opset: int) -> None:
    """ONNX's schema lookup takes a C int while the file's opset is an int64: a corrupt or hostile value must not
    become 'internal error (TypeError ...)' (found by tests/hostile/campaign.py --seed 1202)."""
    model = onnx.load(SAMPLES / "cnn" / "resnet18.torchscript.opset17.onnx", load_external_data=False)
    next(o for o in model.opset_import if o.domain in ("", "ai.onnx")).version = opset
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    out = tmp_path / "report.json"
    code = main(["audit", str(path), "--format", "json", "-o", str(out)])
    assert code in (0, 1)  # an audit with findings, never the internal-error exit 2
    trt005 = [f for f in json.loads(out.read_text())["findings"] if f["rule"] == "TRT005"]
    if opset > 0:  # past every parser's maximum (rules/trt.toml [onnx_opsets])
        assert len(trt005) == 1 and "is above the range" in trt005[0]["message"]
    else:  # no positive default-domain opset: nothing to hold against a range
        assert not trt005
