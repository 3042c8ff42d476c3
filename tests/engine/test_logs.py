"""trtexec log reader: version, device, performance summary, options, fusion lines, --dumpProfile tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.logs import decode_version_tag, read_log
from trtadvisor.errors import ArtifactError

from conftest import artifact as art

# (log, version, GPU, SM, fusion lines)
HEADERS = [
    ("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log", "8.4.0", "Xavier", 72, 315),
    ("trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log", "8.5.2", "Orin", 87, 187),
    ("trt-cookbook/trt10.16.1/result-02-build-verbose.log", "10.16.1", "NVIDIA H100 PCIe", 90, 12),
    ("trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log", "10.16.1", "NVIDIA H100 PCIe", 90, 0),
    ("trt-cookbook/trt10.16.1/result-05-dumpProfile.log", "10.16.1", "NVIDIA H100 PCIe", 90, 0),
    (
        "trt-cookbook/trt10.14.1/result-02-build-verbose.log",
        "10.14.1",
        "NVIDIA RTX 6000 Ada Generation",
        89,
        12,
    ),
    ("trt-cookbook/trt10.14.1/result-05-dumpProfile.log", "10.14.1", "NVIDIA RTX 6000 Ada Generation", 89, 0),
    ("trt-cookbook/trt8.6.0/result-02-build-verbose.log", "8.6.0", "NVIDIA GeForce RTX 3090", 86, 9),
    (
        "trt-cookbook/trt8.6.0/result-04-dumpLayerInfo-namesonly-verbose.log",
        "8.6.0",
        "NVIDIA GeForce RTX 3090",
        86,
        0,
    ),
    ("trt-cookbook/trt8.4.1/result-FP16-build-verbose.log", "8.4.1", "NVIDIA GeForce GTX 1070", 61, 9),
    ("trt-cookbook/trt8.4.1/result-FP32-build-verbose.log", "8.4.1", "NVIDIA GeForce GTX 1070", 61, 9),
    ("trt-cookbook/trt8.2.3/result-FP32-build-verbose.log", "8.2.3", "NVIDIA GeForce GTX 1070", 61, 15),
    ("trt-cookbook/trt8.0.3/result-FP16-build-verbose.log", "8.0.3", "NVIDIA GeForce GTX 1070", 61, 15),
    (
        "trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log",
        "8.2.4",
        "NVIDIA GeForce RTX 3050 Ti Laptop GPU",
        86,
        0,
    ),
]


@pytest.mark.parametrize(("relative", "version", "gpu", "sm", "fusions"), HEADERS)
def test_log_headers(relative: str, version: str, gpu: str, sm: int, fusions: int) -> None:
    info = read_log(art(relative))
    assert info.trt_version == version
    assert info.gpu == gpu
    assert info.sm == sm
    assert len(info.fusion_lines) == fusions


# (log, throughput, latency median, enqueue median, GPU compute median, GPU p99, H2D median, D2H median)
SUMMARIES = [
    (
        "trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log",
        24896.9,
        0.0388184,
        0.00195312,
        0.0388184,
        0.0390625,
        0.0,
        0.0,
    ),
    (
        "levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log",
        81.6333,
        12.1727,
        12.0959,
        12.097,
        14.0307,
        0.0405273,
        0.0355835,
    ),
    (
        "trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log",
        105.134,
        8.09473,
        8.1098,
        6.89099,
        16.7844,
        1.16425,
        0.0134277,
    ),
    (
        "trt-cookbook/trt8.6.0/result-04-dumpLayerInfo-namesonly-verbose.log",
        20565.7,
        0.052002,
        0.0253906,
        0.0439453,
        0.0563965,
        0.00415039,
        0.00390625,
    ),
    (
        "trt-cookbook/trt8.4.1/result-FP16-build-verbose.log",
        6106.55,
        0.161621,
        0.03479,
        0.154663,
        0.427002,
        0.00390625,
        0.0022583,
    ),
    (
        "trt-cookbook/trt8.4.1/result-FP32-build-verbose.log",
        6170.89,
        0.163086,
        0.0336914,
        0.156677,
        0.38501,
        0.00390625,
        0.0022583,
    ),
    (
        "trt-cookbook/trt8.4.1/result-PrintInformation-dumpLayerInfo-verbose.log",
        6103.16,
        0.163574,
        0.0344238,
        0.156738,
        0.396301,
        0.00390625,
        0.0022583,
    ),
    (
        "trt-cookbook/trt8.2.3/result-FP32-build-verbose.log",
        6239.67,
        0.160156,
        0.0496826,
        0.153595,
        0.158508,
        0.00387573,
        0.00231934,
    ),
    (
        "trt-cookbook/trt8.0.3/result-FP16-build-verbose.log",
        6182.1,
        0.158081,
        0.0373535,
        0.151611,
        0.157715,
        0.00378418,
        0.00222778,
    ),
]


@pytest.mark.parametrize(
    ("relative", "qps", "latency", "enqueue", "compute", "compute_p99", "h2d", "d2h"), SUMMARIES
)
def test_performance_summary(
    relative: str,
    qps: float,
    latency: float,
    enqueue: float,
    compute: float,
    compute_p99: float,
    h2d: float,
    d2h: float,
) -> None:
    summary = read_log(art(relative)).summary
    assert summary is not None
    assert summary.throughput_qps == pytest.approx(qps)
    assert summary.latency_median_ms == pytest.approx(latency)
    assert summary.enqueue_median_ms == pytest.approx(enqueue)
    assert summary.gpu_compute_median_ms == pytest.approx(compute)
    assert summary.gpu_compute_p99_ms == pytest.approx(compute_p99)
    assert summary.h2d_median_ms == pytest.approx(h2d)
    assert summary.d2h_median_ms == pytest.approx(d2h)


def test_summary_walltime_and_json_keys() -> None:
    engine = load_engine(log=art("trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"))
    assert engine.summary is not None
    assert engine.summary.total_host_walltime_s == pytest.approx(3.00005)
    assert engine.summary.total_gpu_compute_s == pytest.approx(2.89541)
    assert engine.flags["CUDA Graph"] == "Enabled"
    assert engine.flags["Spin-wait"] == "Enabled"
    assert engine.flags["Data transfers"] == "Disabled"
    assert "--useCudaGraph" in (engine.command or "")


# (log, profile table rows, largest layer, its median (or average) ms, Total row ms)
TABLES = [
    ("trt-cookbook/trt10.16.1/result-05-dumpProfile.log", 15, "node_conv2d_1_myl3_1", 0.0113, 0.0804),
    ("trt-cookbook/trt10.14.1/result-05-dumpProfile.log", 16, "node_linear_myl7_1", 0.0092, 0.0668),
    (
        "trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log",
        77,
        "{ForeignNode[/head/Constant_2_output_0.../Unsqueeze_2]}",
        113.1503,
        402.0093,
    ),
    ("trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log", 435, "Conv_0", 6.0123, 13.5574),
]


@pytest.mark.parametrize(("relative", "rows", "largest", "time_ms", "total_ms"), TABLES)
def test_dump_profile_tables(relative: str, rows: int, largest: str, time_ms: float, total_ms: float) -> None:
    info = read_log(art(relative))
    assert info.profile is not None
    assert len(info.profile.records) == rows
    assert info.profile_total_ms == pytest.approx(total_ms)
    top = max(
        info.profile.records, key=lambda r: r.median_ms if r.median_ms is not None else r.average_ms or 0
    )
    assert top.name == largest
    assert (top.median_ms if top.median_ms is not None else top.average_ms) == pytest.approx(time_ms)


def test_trt82_table_has_no_median_and_right_aligned_names() -> None:
    info = read_log(art("trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log"))
    first = info.profile.records[0]
    assert first.name == "onnx::MatMul_1172 + (Unnamed Layer* 23) [Shuffle]"
    assert first.median_ms is None and first.average_ms == pytest.approx(0.0030) and first.percent == 0.0


def test_profile_table_becomes_layers_when_alone() -> None:
    engine = load_engine(log=art("trt-cookbook/trt10.16.1/result-05-dumpProfile.log"))
    assert len(engine.layers) == 15
    assert engine.layers[1].name == "node_conv2d_myl0_1"
    assert engine.layers[1].onnx_nodes == ("node_conv2d",)
    assert engine.layers[1].median_ms == pytest.approx(0.0098)
    assert engine.flags["Separate profiling"] == "Disabled"


def test_fusion_lines() -> None:
    info = read_log(art("trt-cookbook/trt8.2.3/result-FP32-build-verbose.log"))
    passes = {line[0] for line in info.fusion_lines}
    assert {"ConstEltFusion", "ConvScaleFusion"} <= passes
    dla = read_log(art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log"))
    assert ("ConstShuffleFusion", "onnx::MatMul_1108", "(Unnamed Layer* 35) [Shuffle]") in dla.fusion_lines
    assert ("ScaleNodes", "MatMul_52", "BatchNormalization_54") in dla.fusion_lines
    orin = read_log(art("trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log"))
    assert any(line[0] == "ConstWeightsQuantizeFusion" for line in orin.fusion_lines)


def test_python_outputs_have_no_header() -> None:
    info = read_log(art("trt-cookbook/trt10.16.1/EngineInspector-python-oneline.log"))
    assert info.trt_version is None and len(info.layers) == 26


@pytest.mark.parametrize(("digits", "version"), [("8601", "8.6.1"), ("8003", "8.0.3"), ("101601", "10.16.1")])
def test_version_tags(digits: str, version: str) -> None:
    assert decode_version_tag(digits) == version


@pytest.mark.parametrize(
    ("name", "data"),
    [("empty.log", b""), ("image.log", b"\x89PNG\r\n\x1a\n" + bytes(16)), ("prose.log", b"hello\nworld\n")],
)
def test_unreadable_logs(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ArtifactError) as error:
        read_log(path)
    assert str(path) in error.value.message
