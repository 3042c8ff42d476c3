"""`bottlenecks` ranks the hottest layers: on every real profile, the first is the layer with the largest time.

The expected layer and time are read straight from each artifact (the profile JSON's records, or the
per-layer table of a log as the reader returns it), never from the ranking under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.diagnose import find_bottlenecks

from conftest import ARTIFACTS, REPO
from conftest import artifact as art

PROFILE_JSONS = sorted(str(p.relative_to(ARTIFACTS)) for p in ARTIFACTS.rglob("*.profile.json"))
# Profiles that live in logs: trtexec --dumpProfile tables (8.2, 8.5, 10.x) and a Python IProfiler report.
PROFILE_LOGS = [
    "trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log",
    "trex-pr3444-orin/yolo_qat.trtexec-verbose-dumpProfile.log",
    "trt-cookbook/trt10.14.1/result-05-dumpProfile.log",
    "trt-cookbook/trt10.16.1/result-05-dumpProfile.log",
    "trt-cookbook/trt10.16.1/IProfiler-python.log",
]


def _records(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    return [r for r in data if isinstance(r, dict) and "name" in r]


def test_every_profile_json_is_covered() -> None:
    assert len(PROFILE_JSONS) >= 15, "the shared artifacts hold 15 profile JSONs"


@pytest.mark.parametrize("relative", PROFILE_JSONS)
def test_first_bottleneck_is_the_slowest_layer_of_the_profile(relative: str) -> None:
    path = art(relative)
    records = _records(path)
    key = "medianMs" if all("medianMs" in r for r in records) else "averageMs"
    slowest = max(records, key=lambda r: r[key])
    total = sum(r[key] for r in records)
    ranked = find_bottlenecks(load_engine(profile=path), top=5)
    assert ranked[0].median_ms == pytest.approx(slowest[key])
    assert ranked[0].layer == slowest["name"].removesuffix(" [profile 0]")
    assert ranked[0].percent == pytest.approx(100 * slowest[key] / total)
    assert ranked[0].measure == ("median" if key == "medianMs" else "average")
    times = [b.median_ms for b in ranked]
    assert times == sorted(times, reverse=True) and len(ranked) == min(5, sum(r[key] > 0 for r in records))
    assert [b.rank for b in ranked] == list(range(1, len(ranked) + 1))


@pytest.mark.parametrize("relative", PROFILE_LOGS)
def test_first_bottleneck_of_a_profile_table_in_a_log(relative: str) -> None:
    engine = load_engine(log=art(relative))
    timed = [layer for layer in engine.layers if layer.time_ms]
    assert timed, "the log holds a per-layer table"
    slowest = max(timed, key=lambda layer: layer.time_ms or 0.0)
    ranked = find_bottlenecks(engine)
    assert ranked[0].median_ms == pytest.approx(slowest.time_ms)
    assert ranked[0].percent == pytest.approx(100 * (slowest.time_ms or 0) / sum(t.time_ms or 0 for t in timed))


def test_resnet_fp16_ranks_the_first_convolution_before_the_reformats() -> None:
    base = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
    ranked = find_bottlenecks(load_engine(layer_info=art(base + "graph.json"), profile=art(base + "profile.json")))
    # From the profile: Conv_0 + Relu_1 has the largest median (0.111616 ms), then the input reformat.
    assert ranked[0].layer == "Conv_0 + Relu_1" and ranked[0].rule is None and ranked[0].type == "CaskConvolution"
    assert ranked[1].layer.startswith("Reformatting CopyNode for Input Tensor 0")
    assert ranked[1].rule == "type-changing-reformat" and "fp32 -> fp16" in ranked[1].why


def test_controlnet_gets_hot_layers() -> None:
    engine = load_engine(layer_info=art("trt2023-controlnet/controlnet.b3d06c8.layerinfo.json"),
                         profile=art("trt2023-controlnet/controlnet.b3d06c8.profile.json"))
    ranked = find_bottlenecks(engine, top=3)
    assert len(ranked) == 3 and ranked[0].median_ms >= ranked[1].median_ms >= ranked[2].median_ms > 0


def test_engine_command_top_n() -> None:
    profile = art("trt2023-controlnet/controlnet.b3d06c8.profile.json")
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "engine", "--profile", str(profile), "--top", "4",
                           "--format", "json"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    hot = json.loads(proc.stdout)["bottlenecks"]
    records = _records(profile)
    assert [b["median_ms"] for b in hot] == pytest.approx(sorted((r["medianMs"] for r in records), reverse=True)[:4])
    bad = subprocess.run([sys.executable, "-m", "trtadvisor", "engine", "--profile", str(profile), "--top", "0"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert bad.returncode == 2 and "Hint:" in bad.stderr
