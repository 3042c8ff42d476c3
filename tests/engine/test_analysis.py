"""Bottlenecks and diagnosis on real engines, plus the JSON contract and the rich view."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.diagnose import (
    bottlenecks_to_json,
    diagnose,
    diagnosis_to_json,
    find_bottlenecks,
    find_causes,
)
from trtadvisor.confirm.model import Engine, EngineLayer, EngineTensor, PerfSummary, engine_to_json
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.engine_rich import EngineView

from conftest import artifact as art


def levit() -> Engine:
    return load_engine(
        layer_info=art("trt2022-levit/levit128S.exportLayerInfo-namesonly.json"),
        log=art("trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log"),
    )


def test_levit_unfused_attention_and_diagnosis() -> None:
    engine = levit()
    found = find_bottlenecks(engine)
    assert found[0].layer == "Conv_0" and found[0].rule == "largest-layer" and found[0].rank == 1
    # The share comes from the same (average) times that rank the layers; the log's Time % says 44.3.
    assert found[0].percent == pytest.approx(44.3, abs=0.1)
    attention = [b for b in find_causes(engine) if b.rule == "unfused-attention"]
    assert attention[0].layer == "Softmax_43"
    assert attention[0].median_ms == pytest.approx(0.1721)
    assert [b.median_ms for b in found] == sorted((b.median_ms for b in found), reverse=True)
    rules = {d.rule: d for d in diagnose(engine)}
    assert set(rules) == {"enqueue-bound", "unstable-timing", "profile-without-separate-run"}
    assert "--useCudaGraph" in rules["enqueue-bound"].advice  # TRT 8.2: not on by default
    assert "8.1098" in rules["enqueue-bound"].evidence and "6.89099" in rules["enqueue-bound"].evidence
    assert "--useSpinWait" in rules["unstable-timing"].advice
    assert "--separateProfileRun" in rules["profile-without-separate-run"].advice


def test_cuda_graph_run_is_not_enqueue_bound() -> None:
    engine = load_engine(log=art("trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"))
    assert diagnose(engine) == []


def test_dla_run_is_enqueue_bound_but_separately_profiled() -> None:
    engine = load_engine(
        profile=art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.profile.json"),
        log=art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log"),
    )
    rules = [d.rule for d in diagnose(engine)]
    assert rules == ["enqueue-bound"]
    # Spin-wait already on in that run: advice must not repeat it.
    assert all("--useSpinWait" not in d.advice for d in diagnose(engine))


def test_qat_standalone_qdq_and_reformats() -> None:
    base = "trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine."
    engine = load_engine(layer_info=art(base + "graph.json"), profile=art(base + "profile.json"))
    found = find_causes(engine)
    qdq = [b for b in found if b.rule == "standalone-qdq"]
    assert len(qdq) == 10
    assert qdq[0].layer == "QuantizeLinear_2" and qdq[0].median_ms == pytest.approx(0.061440, rel=1e-3)
    reformats = [b for b in found if b.rule == "type-changing-reformat"]
    assert [b.layer for b in reformats] == ["Reformatting CopyNode for Output Tensor 0 to MaxPool_12"]


def test_fp16_resnet_type_changing_reformats() -> None:
    base = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
    engine = load_engine(layer_info=art(base + "graph.json"), profile=art(base + "profile.json"))
    reformats = [b for b in find_causes(engine) if b.rule == "type-changing-reformat"]
    assert len(reformats) == 2
    assert "fp32 -> fp16" in reformats[0].why and "8.7%" in reformats[0].why


def test_yolo_largest_foreign_node() -> None:
    engine = load_engine(
        profile=art("trex-pr3444-orin/yolo_qat.profile.json"),
        log=art("trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log"),
    )
    top = find_bottlenecks(engine)[0]
    assert top.layer == "{ForeignNode[/head/Constant_2_output_0.../Unsqueeze_2]}"
    # Share of the summed medians, read straight from the profile (TensorRT's own 28.03% is a share of
    # the summed total times, a different measure than the median the table shows).
    records = [r for r in json.loads(art("trex-pr3444-orin/yolo_qat.profile.json").read_text()) if "name" in r]
    medians = {r["name"]: r["medianMs"] for r in records}
    assert top.median_ms == pytest.approx(max(medians.values()))
    assert top.percent == pytest.approx(100 * max(medians.values()) / sum(medians.values()), rel=1e-6)


def _conv(tactic: str, channels: int, fmt: str = "Half") -> EngineLayer:
    tensor = EngineTensor("x", (1, channels, 8, 8), fmt)
    return EngineLayer("Conv_1", "CaskConvolution", (tensor,), (tensor,), tactic, median_ms=1.0, percent=10.0)


def test_conv_off_tensor_cores() -> None:
    # The convolution takes 1 of 10 ms: too little for the largest-layer rule, so only its tactic counts.
    rest = EngineLayer("Pool_2", "CaskPooling", median_ms=9.0)
    slow = Engine(layers=(_conv("sm50_xmma_conv_fprop_fused_conv_act_fp32_NCHW", 30), rest))
    finding = find_bottlenecks(slow)[1]
    assert finding.rule == "conv-no-tensor-cores" and "[30]" in finding.why and "multiple of 8" in finding.why
    assert finding.percent == pytest.approx(10.0)
    fast = Engine(layers=(_conv("sm80_xmma_fprop_implicit_gemm_f16f16_f16f32_f32_nhwckrsc_nhwc_hmma", 32), rest))
    assert [b.layer for b in find_causes(fast)] == ["Pool_2"]  # the largest layer (90%), not the convolution
    # Still one of the hot layers of its engine: ranked second, with no cause.
    assert [(b.layer, b.rank, b.rule, b.why) for b in find_bottlenecks(fast)][1] == ("Conv_1", 2, None, "")


def test_myelin_dominant_gives_nsys_command() -> None:
    layer = EngineLayer(
        "{ForeignNode[a...b]}", "Myelin", onnx_nodes=("a", "x", "b"), median_ms=9.0, percent=90.0
    )
    other = EngineLayer("c", "CaskPooling", onnx_nodes=("c",), median_ms=1.0, percent=10.0)
    found = find_bottlenecks(Engine(layers=(layer, other)))
    assert found[0].rule == "myelin-dominant"
    assert "a, x, b" in found[0].why
    nsys = default_rulebook().tables["engine.toml"]["myelin"]["nsys"]
    assert nsys in found[0].advice and "--cuda-graph-trace=node" in found[0].advice


def test_transfer_bound_and_trt11_advice() -> None:
    summary = PerfSummary(
        latency_median_ms=1.0,
        h2d_median_ms=0.3,
        d2h_median_ms=0.1,
        enqueue_median_ms=0.55,
        gpu_compute_median_ms=0.6,
        gpu_compute_p99_ms=0.61,
    )
    rules = {d.rule: d for d in diagnose(Engine(trt_version="11.1.0", summary=summary))}
    assert set(rules) == {"transfer-bound", "enqueue-bound"}
    assert "40%" in rules["transfer-bound"].evidence and "--noDataTransfers" in rules["transfer-bound"].advice
    assert "default in TensorRT 11" in rules["enqueue-bound"].advice


def test_engine_json_contract() -> None:
    engine = load_engine(
        layer_info=art("trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json"),
        profile=art("trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.profile.json"),
        log=art("trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"),
    )
    data = engine_to_json(engine)
    assert set(data) == {"trt_version", "gpu", "sm", "layers", "total_ms", "summary"}
    assert len(data["layers"]) == 36
    assert set(data["layers"][1]) == {
        "name",
        "type",
        "onnx_nodes",
        "precision",
        "median_ms",
        "average_ms",
        "percent",
    }
    assert (
        data["layers"][1]["onnx_nodes"] == ["Conv_0", "Relu_1"] and data["layers"][1]["precision"] == "fp16"
    )
    assert data["summary"] == {
        "throughput_qps": 24896.9,
        "latency_median_ms": 0.0388184,
        "enqueue_median_ms": 0.00195312,
        "gpu_compute_median_ms": 0.0388184,
        "h2d_median_ms": 0.0,
        "d2h_median_ms": 0.0,
    }
    assert data["total_ms"] == pytest.approx(1.016832)
    bottlenecks = bottlenecks_to_json(find_bottlenecks(engine))
    assert all(set(b) == {"layer", "median_ms", "percent", "why", "advice", "rank", "rule", "type", "onnx_nodes",
                          "measure", "code"} for b in bottlenecks)
    assert [b["rank"] for b in bottlenecks] == list(range(1, len(bottlenecks) + 1))
    assert all(
        set(d) == {"rule", "message", "evidence", "advice", "code"} for d in diagnosis_to_json(diagnose(levit()))
    )
    assert engine_to_json(replace(engine, summary=None))["summary"] is None


def test_rich_view_renders() -> None:
    engine = levit()
    console = Console(width=100, file=io.StringIO(), color_system=None)
    console.print(EngineView(engine, find_bottlenecks(engine)[:2], diagnose(engine), max_layers=2, top=2))
    text = console.file.getvalue()
    assert "TensorRT 8.2.4" in text and "435 layers" in text
    assert "Conv_0" in text and "44.3%" in text
    assert "enqueue-bound" in text and "433 more layers not shown" in text
