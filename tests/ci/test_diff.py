"""`trtadvisor diff`: a fusion lost when an activation's output (or a convolution's) gains a second reader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import helper

from trtadvisor.api import audit
from trtadvisor.ci.diff import diff_results
from trtadvisor.cli import main
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO, SARIF_SCHEMA, judged_site, sample_path, samples_where

EFFICIENTNET = samples_where(name="efficientnet_b0", exporter="dynamo", opset=18)[0]
RESNET = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
FORMATS = ("rich", "json", "sarif", "markdown", "github", "html")


def with_second_reader(src: Path, dst: Path, op: str) -> onnx.NodeProto:
    """Copy of ``src`` where the output of the first ``op`` node is also read by a new node (a graph output)."""
    model = onnx.load(str(src), load_external_data=False)
    node = next(n for n in model.graph.node if n.op_type == op)
    reader = helper.make_node("Neg", [node.output[0]], ["second_reader_out"], name="second_reader")
    model.graph.node.append(reader)
    model.graph.output.append(helper.make_tensor_value_info("second_reader_out", onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(dst))
    return node


def renumbered(src: Path, dst: Path) -> Path:
    model = onnx.load(str(src), load_external_data=False)
    for node in model.graph.node:
        node.name = re.sub(r"\d+$", lambda m: str(int(m.group()) + 500), node.name) if re.search(r"\d+$", node.name) \
            else node.name + "_500"
    onnx.save(model, str(dst))
    return dst


def _diff(old: Path, new: Path, tmp_path: Path, fmt: str = "json", *extra: str) -> tuple[int, str]:
    out = tmp_path / f"diff.{fmt}"
    rc = main(["diff", str(old), str(new), "--format", fmt, "-o", str(out), "--no-config", *extra])
    return rc, out.read_text(encoding="utf-8")


def test_activation_output_with_a_second_reader_loses_the_fusion(tmp_path: Path) -> None:
    # EfficientNet's SiLU is Sigmoid -> Mul, fused into the convolution before it as a generic activation.
    # When the Sigmoid's output gains a second reader, the activation can no longer be fused.
    assert EFFICIENTNET["facts"]["activation_modules"]["SiLU"] > 0
    old = sample_path(EFFICIENTNET)
    sigmoid = with_second_reader(old, tmp_path / "new.onnx", "Sigmoid")
    rc, text = _diff(old, tmp_path / "new.onnx", tmp_path)
    report = json.loads(text)
    assert rc == 1
    lost = report["fusions_lost"]
    assert lost, "a fusion is lost"
    assert all(sigmoid.name in change["nodes"] for change in lost)
    assert "conv+act" in {change["fusion"] for change in lost}
    change = next(c for c in lost if c["fusion"] == "conv+act")
    assert change["ops"][0] == "Conv" and "Sigmoid" in change["ops"]
    assert len(change["other_side"]) > 1, "the nodes now run as several layers"
    rules = [f["rule"] for f in report["findings"]]
    assert "TRT501" in rules
    messages = [f["message"] for f in report["findings"] if f["rule"] == "TRT501"]
    assert len(messages) == len(lost)
    for c in lost:  # each lost fusion is named, with the layer that had it
        assert any(m.startswith(f"{c['fusion']} fusion lost: '{c['layer']}'") for m in messages)
    assert report["new"]["fusion_coverage"] < report["old"]["fusion_coverage"]
    assert report["fusions_gained"] == []
    assert report["matched_by"] == "name"


def test_convolution_output_with_a_second_reader_loses_conv_relu(tmp_path: Path) -> None:
    old = sample_path(RESNET)
    conv = with_second_reader(old, tmp_path / "new.onnx", "Conv")
    rc, text = _diff(old, tmp_path / "new.onnx", tmp_path)
    report = json.loads(text)
    assert rc == 1
    assert [(c["fusion"], c["nodes"][0]) for c in report["fusions_lost"]] == [("conv+relu", conv.name)]
    new_rules = {f["rule"] for f in report["new_findings"]}
    assert "TRT101" in new_rules  # the near miss names why: the convolution's output has a second reader
    assert _diff(old, tmp_path / "new.onnx", tmp_path, "json", "--exit-zero")[0] == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_lost_fusion_is_reported_in_every_format(fmt: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    old = sample_path(RESNET)
    conv = with_second_reader(old, tmp_path / "new.onnx", "Conv")
    rc, text = _diff(old, tmp_path / "new.onnx", tmp_path, fmt)
    assert rc == 1
    # Markdown escapes its special characters in names ('node\_Conv\_292'): read it unescaped.
    shown = re.sub(r"\\(.)", r"\1", text) if fmt == "markdown" else text
    assert "conv+relu" in shown and conv.name in shown
    if fmt == "sarif" and SARIF_SCHEMA.is_file():
        jsonschema = pytest.importorskip("jsonschema")
        log = json.loads(text)
        schema = json.loads(SARIF_SCHEMA.read_text())
        assert not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(log))
        assert "TRT501" in {r["ruleId"] for r in log["runs"][0]["results"]}
    if fmt == "github":
        assert any(line.startswith("::error ") and "TRT501" in line for line in text.splitlines())
    if fmt == "markdown":
        assert text.startswith("## trtadvisor diff: ❌ regression")


def test_a_renumbered_reexport_is_no_regression(tmp_path: Path) -> None:
    old = sample_path(RESNET)
    new = renumbered(old, tmp_path / "reexport.onnx")
    rc, text = _diff(old, new, tmp_path)
    report = json.loads(text)
    assert rc == 0
    assert report["matched_by"] == "structure"
    assert report["fusions_lost"] == [] and report["fusions_gained"] == [] and report["new_findings"] == []


def test_a_fusion_gained_is_no_regression(tmp_path: Path) -> None:
    new = sample_path(RESNET)
    with_second_reader(new, tmp_path / "old.onnx", "Conv")
    rc, text = _diff(tmp_path / "old.onnx", new, tmp_path)
    report = json.loads(text)
    assert rc == 0
    assert [c["fusion"] for c in report["fusions_gained"]] == ["conv+relu"]
    assert report["fusions_lost"] == []


def _with_attention(result: Any, fused: bool) -> Any:
    result.attention = (judged_site([n.name for n in result.model.graph.nodes[:2]], head_size=64, fused=fused,
                                    reasons=("head size 320 is above the fused kernels' 256",)),)
    return result


def test_attention_verdict_that_stops_fusing_is_a_regression() -> None:
    # The attention advisor fills result.attention; the diff reads whatever verdicts it holds.
    path = sample_path(samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0])
    old, new = _with_attention(audit(path), True), _with_attention(audit(path), False)
    diff = diff_results(old, new, default_rulebook())
    assert len(diff.attention) == 1 and diff.attention[0].regression
    finding = next(f for f in diff.findings if f.rule == "TRT502")
    assert finding.severity == "error" and "head size 320" in finding.message
    same = diff_results(_with_attention(audit(path), True), _with_attention(audit(path), True), default_rulebook())
    assert same.attention == () and "TRT502" not in {f.rule for f in same.findings}


def test_diff_config_can_ignore_the_coverage_warning(tmp_path: Path) -> None:
    old = sample_path(RESNET)
    with_second_reader(old, tmp_path / "new.onnx", "Relu")  # a ReLU's output is already its layer's output
    rc, text = _diff(old, tmp_path / "new.onnx", tmp_path, "json", "--fail-on", "warning")
    report = json.loads(text)
    assert report["fusions_lost"] == []
    assert [f["rule"] for f in report["findings"]] == ["TRT503"]  # one more layer that runs alone
    assert rc == 1
    rc, text = _diff(old, tmp_path / "new.onnx", tmp_path, "json", "--fail-on", "warning", "--ignore", "TRT503")
    assert rc == 0 and json.loads(text)["findings"] == []


def test_real_attention_that_stops_fusing_when_the_head_grows(tmp_path: Path) -> None:
    old_entry = samples_where(name="sdpa_head24", exporter="dynamo", opset=18)[0]
    new_entry = samples_where(name="sdpa_head320", exporter="dynamo", opset=18)[0]
    old_head = old_entry["facts"]["attention_sites"][0]["head_size"]
    new_head = new_entry["facts"]["attention_sites"][0]["head_size"]
    assert (old_head, new_head) == (24, 320)
    # On SM90 in FP16 the reference's MHA table fuses 16 <= H <= 256 with H % 8 == 0: 24 fuses, 320 does not.
    rc, text = _diff(sample_path(old_entry), sample_path(new_entry), tmp_path, "json",
                     "--trt", "10.16", "--sm", "90", "--precision", "fp16")
    report = json.loads(text)
    assert len(report["attention_changes"]) == 1
    change = report["attention_changes"][0]
    assert (change["old"]["head_size"], change["new"]["head_size"]) == (old_head, new_head)
    assert change["old"]["fused"] is True and change["new"]["fused"] is False and change["regression"]
    assert "TRT502" in {f["rule"] for f in report["findings"]}
    assert rc == 1


def test_another_attention_implementation_is_paired_not_lost(tmp_path: Path) -> None:
    # Eager and SDPA exports of the same BERT name their attention nodes differently.
    eager = samples_where(name="bert_eager", exporter="dynamo", opset=18)[0]
    sdpa = samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0]
    sites = eager["facts"]["num_attention_sites"]
    assert sites == sdpa["facts"]["num_attention_sites"] == 2
    old, new = audit(sample_path(eager)), audit(sample_path(sdpa))
    assert old.attention is not None and new.attention is not None
    assert len(old.attention) == len(new.attention) == sites
    assert not {n for j in old.attention for n in j.site.nodes} & {n for j in new.attention for n in j.site.nodes}
    # Every site finds its partner (an unpaired one would be listed as a change with one side None) and the
    # partners agree (head 64, seq 128, the padding mask: both fuse on the default target).
    diff = diff_results(old, new, default_rulebook())
    assert diff.attention == ()
    assert "TRT502" not in {f.rule for f in diff.findings}


def test_an_op_spelled_another_way_is_no_fusion_change(tmp_path: Path) -> None:
    """Squeeze-excitation's pooling as TorchScript writes it (GlobalAveragePool) and as the dynamo exporter
    writes it (ReduceMean over H and W, keepdims): TensorRT runs both as one pooling layer, so the diff reports
    no fusion gained or lost (it called the dynamo side's reduce-to-pool rewrite a gained fusion)."""
    def model(name: str, pool: str) -> Path:
        text = f"""
            <ir_version: 8, opset_import: ["" : 18]>
            g (float[1, 16, 28, 28] x) => (float[1, 16, 28, 28] y) <float[16, 16, 1, 1] w = {{0.0}}> {{
                c = Conv <pads: ints = [0, 0, 0, 0]> (x, w)
                {pool}
                s = Sigmoid (p)
                y = Mul (c, s)
            }}"""
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(onnx.parser.parse_model(text).SerializeToString())
        return path

    torchscript = model("torchscript", "p = GlobalAveragePool (c)")
    dynamo = model("dynamo", """hw = Constant <value: tensor = int64[2] {2, 3}> ()
                p = ReduceMean <keepdims: int = 1> (c, hw)""")
    for old, new in ((torchscript, dynamo), (dynamo, torchscript)):
        rc, text = _diff(old, new, tmp_path)
        report = json.loads(text)
        assert (rc, report["fusions_gained"], report["fusions_lost"]) == (0, [], [])
