"""``trtadvisor fix`` on graphs written by the real exporters, with seeded random weights in a tmp folder.

Expected counts come from the architectures the samples were exported from (samples/README.md):
BERT (2 layers) has 2 * 2 + 1 LayerNorms, Llama (2 layers) 2 * 2 + 1 RMSNorms and 8 query / 2 KV
heads, torchvision ResNet-50 53 BatchNorms and 16 residual blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import jsonschema
import onnx
import pytest

from tests.fix.random_weights import with_random_weights
from trtadvisor.analysis.attention_sites import find_attention_sites
from trtadvisor.api import audit
from trtadvisor.cli import main
from trtadvisor.fix import stage
from trtadvisor.fix.stage import fix_model
from trtadvisor.ir.load import load_model

from conftest import REPO, SAMPLES, samples_where

BERT16 = SAMPLES / "fix" / "bert_tiny.torchscript.opset16.onnx"
BERT17 = REPO / samples_where(name="bert_sdpa", exporter="torchscript", opset=17)[0]["path"]
LLAMA23 = REPO / samples_where(name="llama_gqa_sdpa", exporter="dynamo", opset=23)[0]["path"]
LLAMA23_RAW = SAMPLES / "fix" / "llama_gqa_sdpa.dynamo.opset23.noopt.onnx"
LLAMA17 = REPO / samples_where(name="llama_gqa_sdpa", exporter="torchscript", opset=17)[0]["path"]
ZOO = SAMPLES / "wild" / "old_zoo_resnet50.onnx"
LAYERS = 2


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _ops(path: Path) -> Counter[str]:
    return Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def _fixed(sample: Path, tmp_path: Path, **kwargs) -> tuple[Path, stage.FixReport]:
    src = tmp_path / "in"
    src.mkdir()
    model = with_random_weights(sample, src)
    before = _digest(src)
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    report = fix_model(model, out, **kwargs)
    assert _digest(src) == before, "the input files are byte-identical afterwards"
    assert report.refused is None, report.refused
    assert report.written and out.exists()
    # Another folder: the weights OUT reads are in OUT.data (nothing else is carried along or left behind).
    assert sorted(p.name for p in out.parent.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]
    assert report.checker.startswith("passed")
    onnx.checker.check_model(str(out), full_check=True)
    assert report.numeric is not None and report.numeric.ran and report.numeric.passed, report.numeric
    return out, report


def test_decomposed_layernorm_becomes_layernormalization(tmp_path: Path) -> None:
    assert _ops(BERT16)["LayerNormalization"] == 0  # TorchScript at opset 16 decomposes every LayerNorm
    # TRT306 warns of FP16 overflow: a weakly typed FP16 build (10.x). TensorRT 11 builds this FP32 model in FP32.
    out, report = _fixed(BERT16, tmp_path, target={"trt": "10.16"})
    ops = _ops(out)
    assert ops["LayerNormalization"] == 2 * LAYERS + 1
    assert ops["ReduceMean"] == 0 and ops["Sqrt"] == 0 and ops["Pow"] == 0
    assert ops["Identity"] == 0  # TorchScript's weight copies are gone
    proto = onnx.load(str(out), load_external_data=False)
    assert next(o.version for o in proto.opset_import if o.domain == "") == 17
    assert any("opset raised 16 -> 17" in n for n in report.notes)
    assert report.before.findings.get("TRT306") and "TRT306" not in report.after.findings


def test_weights_no_rewrite_changed_stay_in_the_input_file_by_reference(tmp_path: Path) -> None:
    model = with_random_weights(LLAMA23, tmp_path)
    before = _digest(tmp_path)
    out = tmp_path / "fixed.onnx"
    report = fix_model(model, out, select=("TRT303",))
    assert report.written and report.numeric.passed
    assert {k: v for k, v in _digest(tmp_path).items() if k in before} == before
    assert sorted(set(_digest(tmp_path)) - set(before)) == ["fixed.onnx"]  # no copy, no new data file
    locations = {e.value for t in onnx.load(str(out), load_external_data=False).graph.initializer
                 for e in t.external_data if e.key == "location"}
    assert locations == {LLAMA23.name + ".data"}


def test_native_layernorm_is_left_as_it_is(tmp_path: Path) -> None:
    out, report = _fixed(BERT17, tmp_path)
    assert _ops(out)["LayerNormalization"] == 2 * LAYERS + 1
    assert not [c for c in report.changes if c.rewrite == "layernorm"]


def test_repeated_kv_feeds_native_attention_unrepeated(tmp_path: Path) -> None:
    before = [s for s in find_attention_sites(load_model(LLAMA23).graph) if s.native]
    assert len(before) == LAYERS and all(s.repeated_kv and s.kv_heads_seen == 8 for s in before)
    out, report = _fixed(LLAMA23, tmp_path)
    after = [s for s in find_attention_sites(load_model(out).graph) if s.native]
    assert len(after) == LAYERS
    assert all(s.kv_heads_seen == 2 and s.num_kv_heads == 2 and s.num_heads == 8 and not s.repeated_kv for s in after)
    assert "TRT303" in report.before.findings and "TRT303" not in report.after.findings
    assert _ops(out)["Expand"] == 0


def test_decomposed_rmsnorm_becomes_rmsnormalization_at_opset_23(tmp_path: Path) -> None:
    assert _ops(LLAMA23_RAW)["RMSNormalization"] == 0
    out, report = _fixed(LLAMA23_RAW, tmp_path)
    ops = _ops(out)
    assert ops["RMSNormalization"] == 2 * LAYERS + 1 and ops["ReduceMean"] == 0
    assert "TRT303" not in report.after.findings


def test_rmsnorm_below_opset_23_is_skipped_with_the_reason(tmp_path: Path) -> None:
    report = fix_model(LLAMA17, None, dry_run=True)
    skips = [s for s in report.skips if s.rewrite == "rmsnorm"]
    assert len(skips) == 1 and "needs opset 23" in skips[0].reason and "would change" in skips[0].reason
    assert not [c for c in report.changes if c.rewrite == "rmsnorm"]


def test_old_zoo_resnet50_loses_batchnorm_and_runtime_parameters(tmp_path: Path) -> None:
    assert _ops(ZOO)["BatchNormalization"] == 53
    out, _ = _fixed(ZOO, tmp_path)
    ops = _ops(out)
    assert ops["BatchNormalization"] == 0 and ops["ConstantOfShape"] == 0
    assert ops["Sum"] == 16 and ops["Conv"] == 53
    after = audit(out)
    assert not [f for f in after.findings if "not a constant" in f.message]
    proto = onnx.load(str(out), load_external_data=False)
    assert proto.ir_version == 3  # still IR 3: every initializer listed among the inputs
    assert {i.name for i in proto.graph.initializer} <= {i.name for i in proto.graph.input}


def test_absent_weights_skip_the_value_rewrites_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    model = src / ZOO.name
    model.write_bytes(ZOO.read_bytes())
    out = tmp_path / "fixed.onnx"
    report = fix_model(model, out)
    assert report.written and report.checker.startswith("passed")
    assert [s for s in report.skips if s.rewrite == "batchnorm" and "absent" in s.reason]
    assert report.numeric is not None and not report.numeric.ran
    assert _ops(out)["BatchNormalization"] == 53 and _ops(out)["ConstantOfShape"] == 0


def test_unsorted_nodes_are_sorted(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    model = with_random_weights(LLAMA23, src)
    proto = onnx.load(str(model), load_external_data=False)
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(reversed(nodes))
    onnx.save(proto, str(model))
    assert "TRT009" in {f.rule for f in audit(model).findings}
    out = tmp_path / "sorted.onnx"
    report = fix_model(model, out, select=("TRT009",))
    assert report.written and report.numeric.passed
    assert [c.rewrite for c in report.changes] == ["toposort"]
    assert "TRT009" not in report.after.findings


def test_unsorted_nodes_and_duplicate_initializers_are_repaired_in_the_file(tmp_path: Path) -> None:
    wild = SAMPLES / "wild" / "unsorted_dup_init_resnet18.onnx"  # reversed node list, duplicate initializers
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(onnx.load(str(wild), load_external_data=False))
    out = tmp_path / "sorted.onnx"
    report = fix_model(wild, out, select=("TRT009",))
    assert {c.rewrite for c in report.changes} == {"toposort"} and len(report.changes) == 2
    assert report.written and report.checker.startswith("passed")
    proto = onnx.load(str(out), load_external_data=False)
    names = [i.name for i in proto.graph.initializer]
    assert len(names) == len(set(names))
    assert report.before.findings.get("TRT009") == 2 and "TRT009" not in report.after.findings


def test_a_rewrite_that_changes_the_outputs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trtadvisor.fix.base import Change, Outcome

    class WrongEpsilon:  # a broken rewrite: the proof must catch it
        name, codes, needs_values = "wrong", ("TRT306",), False

        def apply(self, work):
            graph = work.surgeon()
            for node in graph.nodes:
                if node.op == "LayerNormalization":
                    node.attrs["epsilon"] = 10.0
            work.commit(graph)
            return Outcome(changes=[Change("wrong", "TRT306", (), "epsilon 10")])

    monkeypatch.setattr(stage, "all_rewrites", lambda: [WrongEpsilon()])
    src = tmp_path / "in"
    src.mkdir()
    model = with_random_weights(BERT17, src)
    out = tmp_path / "out.onnx"
    report = fix_model(model, out)
    assert report.refused and "differ" in report.refused and not report.written
    assert not out.exists() and not (tmp_path / "out.onnx.data").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.onnx"
    assert main(["fix", str(BERT16), "-o", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "layernorm (TRT306): 5" in text and "dry run: nothing written" in text
    assert not out.exists()


def test_select_and_ignore_by_finding_code(tmp_path: Path) -> None:
    only = fix_model(BERT16, None, dry_run=True, select=("TRT306",))
    assert {c.rewrite for c in only.changes} == {"layernorm"}
    without = fix_model(BERT16, None, dry_run=True, ignore=("TRT306",))
    assert "layernorm" not in {c.rewrite for c in without.changes}


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    model = with_random_weights(LLAMA23, src)
    out = tmp_path / "out.onnx"
    assert main(["fix", str(model), "-o", str(out), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, json.loads((REPO / "trtadvisor" / "schema" / "fix-v1.json").read_text()))
    assert data["written"] and data["numeric"]["passed"] and data["resolved"]["TRT303"] == 2
    assert data["before"]["predicted_layers"] >= 1 and data["after"]["findings"].get("TRT303") is None


@pytest.mark.parametrize("case", ["same", "data", "missing", "no-output", "select", "folder", "report"])
def test_bad_input_is_one_line_exit_2_inputs_untouched(case: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    model = with_random_weights(LLAMA23, src)
    before = _digest(src)
    args = {
        "same": ["fix", str(model), "-o", str(model)],
        "data": ["fix", str(model), "-o", str(src / (LLAMA23.name + ".data"))],
        "missing": ["fix", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "o.onnx")],
        "no-output": ["fix", str(model)],
        "select": ["fix", str(model), "-o", str(tmp_path / "o.onnx"), "--select", "TRT999"],
        "folder": ["fix", str(model), "-o", str(tmp_path / "no" / "such" / "o.onnx")],
        "report": ["fix", str(model), "-o", str(tmp_path / "o.onnx"), "--report", str(model)],
    }[case]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Hint:" in err and "Traceback" not in err
    assert _digest(src) == before


REPVGG = SAMPLES / "wild" / "repvgg_a0.onnx"
MOBILEONE = SAMPLES / "wild" / "mobileone_s0.dynamo.onnx"


def test_repvgg_blocks_become_one_convolution_each(tmp_path: Path) -> None:
    # RepVGG-A0 deployed: 22 blocks, each one 3x3 convolution and its ReLU (the paper's inference form).
    out, report = _fixed(REPVGG, tmp_path)
    ops = _ops(out)
    assert ops["Conv"] == 22 and ops["Add"] == 0 and ops["BatchNormalization"] == 0
    assert len([c for c in report.changes if c.rewrite == "reparam"]) == 22
    after = audit(out, trt="10.8", sm="90", precision="fp16")
    assert not [f for f in after.findings if f.rule == "TRT208"]
    convs = [layer for layer in after.prediction.layers if "Conv" in layer.ops]
    assert len(convs) == 22 and all(layer.ops == ("Conv", "Relu") for layer in convs)
    proto = onnx.load(str(out), load_external_data=False)
    assert all(onnx.helper.get_attribute_value(a) == [3, 3] for n in proto.graph.node if n.op_type == "Conv"
               for a in n.attribute if a.name == "kernel_shape")


def test_mobileone_units_become_one_convolution_each(tmp_path: Path) -> None:
    # MobileOne-S0 deployed: the stem and 21 depthwise + 21 pointwise units, one convolution each.
    out, _ = _fixed(MOBILEONE, tmp_path)
    ops = _ops(out)
    assert ops["Conv"] == 1 + 2 * 21 and ops["Add"] == 0 and ops["BatchNormalization"] == 0


def test_branch_merge_matches_onnxruntime_on_asymmetric_kernels(tmp_path: Path) -> None:
    """An ACNet block (3x3, 1x3, 3x1, BatchNorm identity, a per-channel constant), grouped, run in onnxruntime
    before and after: the merged convolution gives the same outputs."""
    import numpy as np
    import onnxruntime as ort
    from onnx import numpy_helper

    text = '''<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8,12,12] x) => (float[2,8,12,12] y) {
  a = Conv<pads=[1,1,1,1], group=2>(x, w33, b33)
  b = Conv<pads=[0,1,0,1], group=2>(x, w13)
  c = Conv<pads=[1,0,1,0], group=2>(x, w31, b31)
  n = BatchNormalization<epsilon=0.001>(x, g, be, m, v)
  s1 = Add(a, b)
  s2 = Add(c, n)
  s3 = Add(s1, s2)
  y = Add(s3, k)
}'''
    model = onnx.parser.parse_model(text)
    rng = np.random.default_rng(7)
    values = {"w33": (8, 4, 3, 3), "b33": (8,), "w13": (8, 4, 1, 3), "w31": (8, 4, 3, 1), "b31": (8,),
              "g": (8,), "be": (8,), "m": (8,), "k": (8, 1, 1)}
    for name, dims in values.items():
        model.graph.initializer.append(numpy_helper.from_array(rng.normal(size=dims).astype(np.float32), name))
    model.graph.initializer.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "v"))
    src = tmp_path / "acnet.onnx"
    onnx.save(model, str(src))
    out = tmp_path / "merged.onnx"
    report = fix_model(src, out, select=("TRT208",))
    assert report.written and [c.rewrite for c in report.changes] == ["reparam"]
    assert _ops(out) == Counter({"Conv": 1})
    x = rng.normal(size=(2, 8, 12, 12)).astype(np.float32)
    run = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0] for p in (src, out)]
    np.testing.assert_allclose(run[1], run[0], rtol=1e-4, atol=1e-4)


def test_diff_of_the_merged_model_is_an_improvement_not_lost_fusions(tmp_path: Path) -> None:
    """RepVGG as trained against its merge: every residual Add and pointwise Add + ReLU the old engine fused
    is gone, not split; the diff reports no lost fusion and a lower predicted latency."""
    from trtadvisor.ci.diff import diff_results
    from trtadvisor.knowledge.rulebook import default_rulebook

    out, _ = _fixed(REPVGG, tmp_path)
    target = {"trt": "10.8", "sm": "90", "precision": "fp16"}
    old, new = audit(tmp_path / "in" / REPVGG.name, **target), audit(out, **target)
    diff = diff_results(old, new, default_rulebook())
    assert diff.lost == ()
    assert diff.predicted_change is not None and diff.predicted_change < -0.5  # 80 layers -> 24
    assert not [f for f in diff.findings if f.severity == "error"]


FASTVIT = SAMPLES / "wild" / "fastvit_t8.onnx"


def test_fastvit_merge_matches_timms_own_reparameterization(tmp_path: Path) -> None:
    # timm's reparameterize_model(fastvit_t8), exported the same way: 52 Conv, 27 Add, 45 Mul, 17 Div and
    # no BatchNormalization or Sub (RepMixers, large-kernel and MobileOne units all merged).
    out, _ = _fixed(FASTVIT, tmp_path)
    ops = _ops(out)
    assert (ops["Conv"], ops["Add"], ops["Mul"], ops["Div"]) == (52, 27, 45, 17)
    assert ops["BatchNormalization"] == 0 and ops["Sub"] == 0


def test_merge_of_differences_scales_and_a_final_batchnorm_matches_onnxruntime(tmp_path: Path) -> None:
    """A RepMixer (x + s * (BN(conv(x)) - BN(x))) and a RepViT unit (BN(conv3(x) + conv1(x) + x) / k),
    depthwise, run in onnxruntime before and after: one convolution each, the same outputs."""
    import numpy as np
    import onnxruntime as ort
    from onnx import numpy_helper

    text = '''<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8,12,12] x) => (float[2,8,12,12] y) {
  a = Conv<pads=[1,1,1,1], group=8>(x, w3, b3)
  an = BatchNormalization(a, g1, be1, m1, v1)
  n = BatchNormalization(x, g2, be2, m2, v2)
  d = Sub(an, n)
  e = Mul(s, d)
  r = Add(x, e)
  c3 = Conv<pads=[1,1,1,1], group=8>(r, u3)
  c1 = Conv<group=8>(r, u1, c1b)
  t1 = Add(c3, c1)
  t2 = Add(t1, r)
  t3 = BatchNormalization(t2, g3, be3, m3, v3)
  y = Div(t3, k)
}'''
    model = onnx.parser.parse_model(text)
    rng = np.random.default_rng(11)
    shapes = {"w3": (8, 1, 3, 3), "b3": (8,), "u3": (8, 1, 3, 3), "u1": (8, 1, 1, 1), "c1b": (8,), "s": (8, 1, 1),
              "k": (1,), **{f"{p}{i}": (8,) for p in ("g", "be", "m") for i in (1, 2, 3)}}
    for name, dims in shapes.items():
        model.graph.initializer.append(numpy_helper.from_array(rng.normal(size=dims).astype(np.float32), name))
    for i in (1, 2, 3):
        model.graph.initializer.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), f"v{i}"))
    src = tmp_path / "mixer.onnx"
    onnx.save(model, str(src))
    out = tmp_path / "merged.onnx"
    report = fix_model(src, out, select=("TRT208",))
    assert report.written and [c.rewrite for c in report.changes] == ["reparam", "reparam"]
    assert _ops(out) == Counter({"Conv": 2})
    x = rng.normal(size=(2, 8, 12, 12)).astype(np.float32)
    run = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0] for p in (src, out)]
    np.testing.assert_allclose(run[1], run[0], rtol=1e-4, atol=1e-4)
