"""The cost model (trtadvisor/plan/cost.py) against real A100 profiles and the architecture's arithmetic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import onnx.parser
import pytest

from trtadvisor.api import audit
from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.cost_check import check_costs, spearman
from trtadvisor.errors import RuleDataError
from trtadvisor.ir.graph import Shape
from trtadvisor.knowledge.perf import parse_perf, perf_book
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.json_report import report_dict

from conftest import REPO, artifact

# The cost figures here are for weakly typed builds, where --precision decides (FP16 on an FP32
# model); the default TensorRT 11 target is strongly typed and builds an FP32 model in FP32/TF32.
WEAK_TRT = "10.16"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RESNET = REPO / "samples" / "cnn" / "resnet18.torchscript.opset17.onnx"
DYNBATCH = REPO / "samples" / "cnn" / "resnet18_dynbatch.torchscript.opset17.onnx"
A100 = "trex/examples/pytorch/resnet/A100"


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resnet18_a100_ranks_and_total_match_the_real_profile(precision: str) -> None:
    """Done-when of issue 16: Spearman >= 0.8 over the paired layers, total within 2x of the sum of the
    profile's layer medians (reformats included). The FP16 engine was not used to fit the efficiencies."""
    graph_json = artifact(f"{A100}/{precision}/resnet.onnx.engine.graph.json")
    profile = artifact(f"{A100}/{precision}/resnet.onnx.engine.profile.json")
    result = audit(RESNET, trt="8.6", gpu="A100 80GB PCIe", precision=precision)
    engine = load_engine(layer_info=graph_json, profile=profile)
    nodes = [(n.name, n.op) for n in result.model.graph.nodes]
    assert result.cost is not None
    check = check_costs(result.prediction.layers, result.cost.layers, engine, nodes, set(result.prediction.eliminated))
    assert check is not None
    # 20 convolutions, the max pool, the average pool and the FC: every compute layer of ResNet-18.
    assert len(check.pairs) == 23
    assert check.spearman is not None and check.spearman >= 0.8, check.to_json()
    measured = sum(r["medianMs"] for r in json.loads(profile.read_text())[1:])
    assert check.measured_total_ms == pytest.approx(measured)
    assert 0.5 <= check.predicted_total_ms / measured <= 2.0, check.to_json()


def test_stem_cost_from_the_architecture() -> None:
    """conv1 of ResNet-18 (7x7, 3 -> 64, stride 2) at batch 32, fused with its ReLU: FLOPs of the
    convolution and the ReLU; bytes = input + weights + bias + output, and no pass for the ReLU."""
    result = audit(RESNET, trt=WEAK_TRT, gpu="A100", precision="fp16")
    stem = result.cost.layers[0]  # type: ignore[union-attr]
    out = 32 * 64 * 112 * 112
    assert result.prediction.layers[0].ops == ("Conv", "Relu")
    assert stem.flops == 2 * out * 3 * 7 * 7 + out
    assert stem.bytes == 2 * (32 * 3 * 224 * 224 + 64 * 3 * 7 * 7 + 64 + out)
    assert stem.bound == "compute"
    # The same layer in FP32 moves twice the bytes.
    fp32 = audit(RESNET, trt=WEAK_TRT, gpu="A100", precision="fp32").cost.layers[0]  # type: ignore[union-attr]
    assert fp32.bytes == 2 * stem.bytes


def _conv_flops(path: Path, shapes: dict[str, Shape] | None) -> tuple[int | None, float | None]:
    result = audit(path, gpu="A100", precision="fp16", shapes=shapes)
    assert result.cost is not None
    flops = [c.flops for layer, c in zip(result.prediction.layers, result.cost.layers, strict=True)
             if layer.kind == "convolution" and c is not None]
    return (sum(flops) if flops else None), result.cost.predicted_ms


def test_batch_and_shapes_change_the_estimate() -> None:
    """A symbolic batch leaves the cost unknown; --shapes fixes it, and the work scales with the batch."""
    assert _conv_flops(DYNBATCH, None) == (None, None)
    flops8, ms8 = _conv_flops(DYNBATCH, {"input": (8, 3, 224, 224)})
    flops32, ms32 = _conv_flops(DYNBATCH, {"input": (32, 3, 224, 224)})
    assert flops8 and flops32 and ms8 and ms32
    assert flops32 == 4 * flops8
    assert ms8 < ms32 < 4 * ms8  # the fixed per-layer overhead does not scale
    static32, _ = _conv_flops(RESNET, None)
    assert static32 == flops32  # the static batch-32 export costs what batch 32 costs


def test_a_partial_total_is_reported_as_a_floor() -> None:
    """torchvision Faster R-CNN (MobileNetV3, 320): the backbone's shapes are static, the detection heads' depend
    on how many boxes survive. Only the layers of known shapes are priced, so the reports call their sum a floor
    ("at least"), name how many layers are left out of how many, and say how to price them; a model with every
    shape known gets a plain total, and one with none known (a symbolic batch) no number at all."""
    from trtadvisor.report.common import predicted_time_text

    partial = audit(REPO / "samples" / "wild" / "fasterrcnn_mbv3_320.onnx", trt=WEAK_TRT, sm="80")
    unknown = sum(1 for c in partial.cost.layers if c is None)
    assert 0 < unknown < len(partial.prediction.layers)
    text = predicted_time_text(partial)
    assert text.startswith("at least ") and f"{unknown} of {len(partial.prediction.layers)} layers" in text
    assert "--shapes" in text
    full = predicted_time_text(audit(RESNET, trt=WEAK_TRT, sm="80"))
    assert not full.startswith("at least") and "unknown shapes" not in full
    assert predicted_time_text(audit(DYNBATCH, trt=WEAK_TRT, sm="80")).startswith("unknown on ")


def test_missed_fusion_states_its_extra_memory_pass(tmp_path: Path) -> None:
    """A Conv whose output is also read by a Sigmoid keeps its ReLU apart: the miss costs writing
    and reading back the 1x8x16x16 tensor once more (FP16: 2 bytes), at the A100's bandwidth."""
    model = onnx.parser.parse_model('''
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,8,16,16] x) => (float[1,8,16,16] y, float[1,8,16,16] z) <float[8,8,3,3] w = {0.5}> {
  c = Conv<pads=[1,1,1,1]>(x, w)
  y = Relu(c)
  z = Sigmoid(c)
}''')
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    result = audit(path, trt=WEAK_TRT, gpu="A100", precision="fp16")
    missed = [f for f in result.findings if f.rule == "TRT101"]
    assert len(missed) == 1
    perf = perf_book(default_rulebook())
    expected = 2 * (8 * 16 * 16) * 2 / (2039e9 * perf.kind_efficiency("pointwise").memory) * 1e3
    assert missed[0].cost_ms == pytest.approx(expected, rel=1e-3)
    assert "ms predicted on A100 FP16" in missed[0].message


def test_report_carries_costs_and_validates() -> None:
    result = audit(RESNET, trt=WEAK_TRT, gpu="A100", precision="fp16")
    data = report_dict(result)
    schema = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
    jsonschema.validate(data, schema)
    assert all(layer["cost"]["bound"] in ("compute", "memory") for layer in data["layers"])
    assert data["summary"]["predicted_ms"] == pytest.approx(sum(layer["cost"]["ms"] for layer in data["layers"]),
                                                            rel=1e-4)
    assert data["summary"]["cost_basis"]["gpu"] == "A100"


def test_sm_only_target_names_the_assumed_gpu() -> None:
    result = audit(RESNET, trt=WEAK_TRT, sm="86", precision="fp16")
    basis = result.cost.basis()  # type: ignore[union-attr]
    assert basis["gpu"] == "A10" and basis["gpu_assumed"] is True
    unknown = audit(RESNET, trt=WEAK_TRT, sm="53", precision="fp16")  # a Jetson Nano class GPU: no figures
    assert unknown.cost.predicted_ms is None  # type: ignore[union-attr]


def test_gpu_perf_rules_are_checked_and_cited() -> None:
    raw = tomllib.loads((REPO / "rules" / "gpu_perf.toml").read_text())
    gpus = tomllib.loads((REPO / "rules" / "gpus.toml").read_text())["gpus"]
    for name, table in raw["gpu"].items():
        assert name in gpus, f"{name}: key the figures by a GPU name of rules/gpus.toml"
        assert "https://" in table["source"], name
    bad = json.loads(json.dumps(raw))
    bad["gpu"]["A100"]["bandwith_gbs"] = 1
    with pytest.raises(RuleDataError, match="bandwith_gbs"):
        parse_perf(bad)
    bad = json.loads(json.dumps(raw))
    bad["efficiency"]["kind"]["convolution"]["compute"] = -0.5
    with pytest.raises(RuleDataError, match=r"efficiency\.kind\.convolution\.compute"):
        parse_perf(bad)


def test_spearman_with_ties() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    # Ties share their average rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4).
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, rel=1e-6)


def test_diff_reports_the_predicted_latency_change() -> None:
    """The same architecture exported without the optimizer (BatchNormalization kept, its statistics
    outputs unused) predicts the same latency; batch 8 against batch 32 predicts less, by the ratio of
    the two totals."""
    from trtadvisor.ci.diff import diff_dict, diff_results

    book = default_rulebook()
    base = audit(RESNET, gpu="A100", precision="fp16")
    unoptimized = audit(REPO / "samples" / "cnn" / "resnet18_unoptimized.dynamo.opset18.onnx", gpu="A100",
                        precision="fp16")
    assert unoptimized.cost is not None and unoptimized.cost.unknown == 0
    same = diff_results(base, unoptimized, book)
    assert same.predicted_change is not None and abs(same.predicted_change) < 0.01
    small = audit(DYNBATCH, gpu="A100", precision="fp16", shapes={"input": (8, 3, 224, 224)})
    change = diff_results(base, small, book)
    old_ms, new_ms = change.predicted_ms
    assert old_ms and new_ms and new_ms < old_ms
    assert change.predicted_change == pytest.approx(new_ms / old_ms - 1)
    assert diff_dict(change)["predicted_change"] == pytest.approx(new_ms / old_ms - 1, abs=1e-4)
    # A symbolic batch leaves the total unknown: no change is claimed.
    assert diff_results(base, audit(DYNBATCH, gpu="A100", precision="fp16"), book).predicted_change is None


def test_schedule_finds_the_branches_auxiliary_streams_could_overlap() -> None:
    """ResNet-18's three downsample 1x1 convolutions run beside the main path of their blocks: the
    critical path is every other layer, and the time they take is what auxiliary streams could hide."""
    from trtadvisor.plan.schedule import schedule

    result = audit(RESNET, gpu="A100", precision="fp16")
    assert result.cost is not None
    times = [c.ms if c is not None else None for c in result.cost.layers]
    plan = schedule(result.model.graph, result.prediction.layers, times)
    downsample = [i for i, layer in enumerate(result.prediction.layers) if "downsample" in layer.name]
    assert len(downsample) == 3
    assert not any("downsample" in name for name in plan.critical_path)
    assert len(plan.critical_path) == len(result.prediction.layers) - 3
    assert plan.overlappable_ms == pytest.approx(sum(times[i] for i in downsample))  # type: ignore[misc]
    assert plan.max_width == 2


def test_cli_schedule_in_json(tmp_path: Path) -> None:
    from trtadvisor import cli

    out = tmp_path / "r.json"
    assert cli.main(["audit", str(RESNET), "--gpu", "A100", "--schedule", "--format", "json", "-o", str(out),
                     "--exit-zero"]) == 0
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text()))
    assert data["schedule"]["critical_path_ms"] < data["summary"]["predicted_ms"]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_held_out_keras_resnet50_on_rtx3090(precision: str) -> None:
    """A profile the efficiencies were not fitted on: Keras ResNet-50 (tf2onnx) on an RTX 3090 at batch
    32, another GPU, architecture and exporter. Paired by aligned op sequences (tf2onnx names differ)."""
    base = f"trex/examples/tensorflow/resnet/RTX-3090/{precision}/resnet.onnx.engine"
    graph_json, profile = artifact(f"{base}.graph.json"), artifact(f"{base}.profile.json")
    result = audit(REPO / "samples" / "wild" / "tf2onnx_resnet50.onnx", trt="8.6", gpu="RTX 3090", precision=precision)
    engine = load_engine(layer_info=graph_json, profile=profile)
    nodes = [(n.name, n.op) for n in result.model.graph.nodes]
    check = check_costs(result.prediction.layers, result.cost.layers, engine, nodes,  # type: ignore[union-attr]
                        set(result.prediction.eliminated))
    assert check is not None and len(check.pairs) >= 50  # 53 convolutions, pools and the FC
    assert check.spearman is not None and check.spearman >= 0.8, check.to_json()
    assert 0.5 <= check.ratio <= 2.0, check.to_json()  # type: ignore[operator]


def test_a_group_that_does_not_divide_the_channels_leaves_the_cost_unknown(tmp_path: Path) -> None:
    """group = 16 on a convolution of 8 output channels is an invalid model (found by the fuzz
    campaign as a ZeroDivisionError): the layer's cost is unknown, the audit goes on."""
    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 16, 8, 8] x) => (float[1, 8, 8, 8] y) <float[8, 1, 3, 3] w = {0.0}> {
            y = Conv <group: int = 16, pads: ints = [1, 1, 1, 1]> (x, w)
        }""")
    path = tmp_path / "bad_group.onnx"
    path.write_bytes(model.SerializeToString())
    result = audit(str(path), trt="10.16", gpu="A100", precision="fp16")
    conv = next(layer for layer in report_dict(result)["layers"] if "Conv" in layer["ops"])
    assert conv["cost"] is None or conv["cost"].get("ms") is None


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_recurrent_layers_cost_their_matrix_work_and_steps(exporter: str) -> None:
    """samples/wild/recurrent_speech.*: GRU 40->128 (two layers), bidirectional LSTM 128->64, 100 frames,
    batch 1. A recurrent op does 2 x steps x batch x (|W| + |R|) (ONNX: W [dirs, gates x hidden, input],
    R [dirs, gates x hidden, hidden]; 3 gates for GRU, 4 for LSTM), and its 100 steps run one after another."""
    result = audit(REPO / "samples" / "wild" / f"recurrent_speech.{exporter}.onnx", trt=WEAK_TRT, gpu="A100",
                   precision="fp16")
    assert result.cost is not None
    steps, batch = 100, 1
    expected = {  # by op, in graph order
        "GRU": [2 * steps * batch * (3 * 128 * 40 + 3 * 128 * 128), 2 * steps * batch * (3 * 128 * 128 * 2)],
        "LSTM": [2 * steps * batch * (2 * 4 * 64 * 128 + 2 * 4 * 64 * 64)],
    }
    found: dict[str, list[int]] = {"GRU": [], "LSTM": []}
    overhead = perf_book(default_rulebook()).overhead_ms
    for layer, cost in zip(result.prediction.layers, result.cost.layers, strict=True):
        ops = [op for op in layer.ops if op in found]
        if not ops:
            continue
        assert len(layer.ops) == 1 and cost is not None
        found[ops[0]].append(cost.flops)
        assert cost.ms >= steps * overhead  # one launch per sequential step at least
    assert found == expected


def _gpt2_with_a_cumsum_head(tmp_path: Path) -> Path:
    """GPT-2 (dynamo export) whose final LayerNormalization also feeds a CumSum, an op Myelin does not take
    (rules/fusions.toml myelin_ops): the region, 89 of 97 nodes, must write that tensor out for a layer
    outside it."""
    model = onnx.load(REPO / "samples" / "transformers" / "gpt2_sdpa.dynamo.opset18.onnx", load_external_data=False)
    final_norm = [n for n in model.graph.node if n.op_type == "LayerNormalization"][-1].output[0]
    model.graph.initializer.append(onnx.helper.make_tensor("cumsum_axis", onnx.TensorProto.INT64, [], [2]))
    model.graph.node.append(onnx.helper.make_node("CumSum", [final_norm, "cumsum_axis"], ["scores"], name="head"))
    model.graph.output.append(onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, None))
    path = tmp_path / "gpt2_cumsum.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("sample", [
    "transformers/gpt2_sdpa.dynamo.opset18.onnx",  # the region holds 90 of 95 nodes: priced from the outside
    "gpt2+cumsum",  # the same, and its logits are read by a layer outside it
    "transformers/bert_sdpa.torchscript.opset17.onnx",  # 83 of 180: priced by counting reads inside
    "transformers/t5_eager.dynamo.opset18.onnx",  # RMSNorm's ReduceMean: work per input element, in a region
])
def test_a_large_region_costs_what_its_nodes_cost_one_by_one(sample: str, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """A Myelin region of many nodes is priced with whole-region set operations (MatMuls counted by shape
    kind, written tensors found from whichever side is smaller); pricing the same nodes the way a small
    layer is priced, node by node, must give the same FLOPs and the same bytes but for the few int64
    shape operands (Reshape targets) the region sum does not tell apart."""
    import trtadvisor.plan.cost as cost

    path = _gpt2_with_a_cumsum_head(tmp_path) if sample == "gpt2+cumsum" else REPO / "samples" / sample
    fast = audit(path, gpu="a100", precision="fp16", trt=WEAK_TRT)
    layers = fast.prediction.layers
    region = max(range(len(layers)), key=lambda i: len(layers[i].nodes))
    assert len(layers[region].nodes) >= cost._LARGE
    monkeypatch.setattr(cost, "_LARGE", 10**9)
    slow = audit(path, gpu="a100", precision="fp16", trt=WEAK_TRT)
    assert [layer.nodes for layer in slow.prediction.layers] == [layer.nodes for layer in layers]
    by_region, by_node = fast.cost.layers[region], slow.cost.layers[region]
    assert by_region is not None and by_node is not None
    assert by_region.flops == by_node.flops > 0
    assert 0 <= by_region.bytes - by_node.bytes <= 1024  # activations are megabytes; shape operands bytes
    if sample == "gpt2+cumsum":
        assert "head" not in layers[region].nodes  # CumSum is a layer of its own
        plain = audit(REPO / "samples" / "transformers" / "gpt2_sdpa.dynamo.opset18.onnx", gpu="a100",
                      precision="fp16", trt=WEAK_TRT)
        alone = plain.cost.layers[region]
        assert alone is not None and alone.flops == by_region.flops
        # The final norm's output (batch 1, 128 tokens, hidden 256 in the sample's config) is written once
        # more, in FP16, for CumSum to read (within the slack of the shape operands, as above).
        written = 1 * 128 * 256 * 2
        assert written <= by_region.bytes - alone.bytes <= written + 1024


def test_a_layer_writes_what_reaches_the_next_layer_through_a_removed_node(tmp_path: Path) -> None:
    """Conv -> Identity x 20 -> Softmax: TensorRT removes the Identities, so the convolution writes its output for the
    Softmax to read. The convolution's bytes are its input, its weights and that output, each once, in FP16
    (a 16-channel 32x32 map, 16x16x3x3 weights); before, the removed Identities hid the write."""
    import numpy as np

    weight = onnx.numpy_helper.from_array(np.zeros((16, 16, 3, 3), np.float32), "w")
    chain = 20  # removed nodes in a row: each is looked through
    nodes = [onnx.helper.make_node("Conv", ["x", "w"], ["i0"], name="conv", pads=[1, 1, 1, 1]),
             *(onnx.helper.make_node("Identity", [f"i{k}"], [f"i{k + 1}"], name=f"identity{k}") for k in range(chain)),
             onnx.helper.make_node("Softmax", [f"i{chain}"], ["y"], name="softmax", axis=1)]
    x, y = (onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, 16, 32, 32]) for name in "xy")
    graph = onnx.helper.make_graph(nodes, "conv_identity_softmax", [x], [y], [weight])
    path = tmp_path / "conv_identity_softmax.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    result = audit(path, gpu="a100", precision="fp16", trt=WEAK_TRT)
    by_name = {layer.name: cost for layer, cost in zip(result.prediction.layers, result.cost.layers, strict=True)}
    assert {f"identity{k}" for k in range(chain)} <= set(result.prediction.eliminated)
    activation, weights = 16 * 32 * 32, 16 * 16 * 3 * 3
    assert by_name["conv"] is not None and by_name["conv"].bytes == 2 * (activation + weights + activation)


def test_boundary_reformats_cost_one_read_and_one_write() -> None:
    """A weakly typed FP16 build of ResNet-18 (batch 32) converts its FP32 input and output at the boundary
    (the real A100 FP16 engine has both layers: 'Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1'
    and '... Output Tensor 0 to reshape_after_Gemm_48'): each costs one read in FP32 and one write in FP16 (or
    back) of the tensor, 32x3x224x224 images in and 32x1000 logits out. Strongly typed, the network keeps its
    declared types and no boundary reformat is priced."""
    weak = audit(RESNET, gpu="a100", precision="fp16", trt=WEAK_TRT)
    by_at = {entry["at"]: entry for entry in weak.reformats or []}
    assert by_at["input"]["cost"]["bytes"] == 32 * 3 * 224 * 224 * (4 + 2)
    assert by_at["output"]["cost"]["bytes"] == 32 * 1000 * (2 + 4)
    assert all(entry["cost"]["bound"] == "memory" and entry["cost"]["ms"] > 0 for entry in by_at.values())
    jsonschema.validate(report_dict(weak), json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text()))
    strong = audit(RESNET, gpu="a100")
    assert all("cost" not in entry for entry in strong.reformats or [])


def test_blackwell_figures_scale_a_compute_bound_gemm_by_the_datasheet_peaks(tmp_path: Path) -> None:
    """One 4096^3 MatMul in FP16 is compute-bound on H100 and B200: its time above the launch overhead scales by the
    ratio of the FP16 tensor-core peaks NVIDIA states (H100 SXM 989.4 TFLOPS dense, HGX B200 4.5 PFLOPS with
    sparsity = 2250 dense), and --sm 100 alone stands for the B200."""
    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float16[4096, 4096] a, float16[4096, 4096] b) => (float16[4096, 4096] y) { y = MatMul(a, b) }""")
    path = tmp_path / "gemm.onnx"
    onnx.save(model, path)
    overhead = perf_book(default_rulebook()).overhead_ms
    times = {}
    for gpu in ("H100", "B200"):
        layer = audit(path, trt=WEAK_TRT, gpu=gpu, precision="fp16").cost.layers[0]  # type: ignore[union-attr]
        assert layer is not None and layer.bound == "compute" and layer.flops == 2 * 4096 ** 3
        times[gpu] = layer.ms - overhead
    assert times["H100"] / times["B200"] == pytest.approx(2250 / 989.4)
    basis = audit(path, trt=WEAK_TRT, sm="100", precision="fp16").cost.basis()  # type: ignore[union-attr]
    assert basis["gpu"] == "B200" and basis["gpu_assumed"] is True
