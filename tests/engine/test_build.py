"""run_trtexec end to end with a stand-in trtexec; the TensorRT Python path where tensorrt is importable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.build import (
    BuildError,
    build_with_tensorrt,
    detect_device,
    profiling_command,
    run_trtexec,
)
from trtadvisor.errors import UserError

from conftest import ARTIFACTS, unavailable

RESNET_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
LOG = "trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"

FAKE_TRTEXEC = '''#!{python}
"""Stand-in for trtexec: copies real artifacts to the paths the flags name and prints a real log."""
import shutil, sys
source = {source!r}
copies = {{"--exportLayerInfo=": "graph.json", "--exportProfile=": "profile.json",
          "--exportTimes=": "timing.json"}}
for arg in sys.argv[1:]:
    for flag, suffix in copies.items():
        if arg.startswith(flag):
            shutil.copyfile(source + suffix, arg[len(flag):])
    if arg.startswith("--fail"):
        print("&&&& FAILED TensorRT.trtexec"); sys.exit(1)
with open(sys.argv[0] + ".args", "w") as f:
    f.write("\\n".join(sys.argv[1:]))
sys.stdout.write(open({log!r}).read())
'''


def fake_trtexec(tmp_path: Path) -> Path:
    if not (ARTIFACTS / LOG).exists() or not (ARTIFACTS / (RESNET_FP16 + "graph.json")).exists():
        unavailable("shared TensorRT artifacts not available (check out ../shared beside the repo)")
    script = tmp_path / "trtexec"
    script.write_text(
        FAKE_TRTEXEC.format(
            python=sys.executable, source=str(ARTIFACTS / RESNET_FP16), log=str(ARTIFACTS / LOG)
        )
    )
    script.chmod(0o755)
    return script


def test_run_trtexec_end_to_end(tmp_path: Path) -> None:
    trtexec = fake_trtexec(tmp_path)
    onnx = tmp_path / "resnet.onnx"
    onnx.write_bytes(b"stand-in")
    paths = run_trtexec(trtexec, onnx, tmp_path / "out", ["--fp16"])
    assert paths.layer_info == tmp_path / "out" / "resnet.layers.json"
    assert paths.profile is not None and paths.timing is not None and paths.log is not None
    args = (tmp_path / "trtexec.args").read_text().splitlines()
    assert f"--onnx={onnx}" in args and "--profilingVerbosity=detailed" in args
    assert {"--separateProfileRun", "--dumpProfile", "--fp16"} <= set(args)
    engine = load_engine(**paths.as_kwargs())
    assert len(engine.layers) == 36
    assert max(engine.layers, key=lambda layer: layer.time_ms or 0.0).name == "Conv_0 + Relu_1"
    assert engine.trt_version == "10.16.1" and engine.gpu == "NVIDIA H100 PCIe" and engine.sm == 90
    assert engine.summary is not None and engine.summary.throughput_qps == pytest.approx(24896.9)


def test_run_trtexec_failure_and_missing_binary(tmp_path: Path) -> None:
    trtexec = fake_trtexec(tmp_path)
    with pytest.raises(BuildError, match="exit code 1") as error:
        run_trtexec(trtexec, tmp_path / "m.onnx", tmp_path / "out", ["--fail"])
    assert "m.trtexec.log" in error.value.hint
    with pytest.raises(BuildError, match="not found"):
        run_trtexec(tmp_path / "no-such-trtexec", tmp_path / "m.onnx", tmp_path / "out", [])


def test_profiling_command_recipe(tmp_path: Path) -> None:
    command = profiling_command(Path("trtexec"), Path("m.onnx"), tmp_path, ["--int8"])
    assert command[0] == "trtexec" and command[-1] == "--int8"
    assert f"--exportLayerInfo={tmp_path / 'm.layers.json'}" in command


HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.mark.skipif(
    HAS_TENSORRT, reason="tensorrt is importable here: the missing-package error cannot be shown"
)
def test_tensorrt_missing_gives_hint(tmp_path: Path) -> None:
    with pytest.raises(UserError) as error:
        build_with_tensorrt(tmp_path / "m.onnx")
    assert "tensorrt" in error.value.message and "--trtexec" in error.value.hint


@pytest.mark.skipif(not HAS_TENSORRT, reason="tensorrt Python package is not installed; API build not tested")
def test_build_with_tensorrt_real(tmp_path: Path) -> None:  # pragma: no cover - needs a GPU and tensorrt
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((8, 8, 3, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["y"], name="relu"),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])],
        [weight],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    import json

    from trtadvisor.confirm.build import api_profile_records
    from trtadvisor.confirm.layer_info import layers_from_json
    from trtadvisor.confirm.profile import profile_from_json

    build = build_with_tensorrt(path, iterations=5)
    layers = layers_from_json(json.loads(build.layer_info_json, strict=False), path).layers
    assert any(set(layer.metadata_nodes) >= {"conv", "relu"} or "conv" in layer.name for layer in layers)
    assert profile_from_json(api_profile_records(build), path).records


def _fake_cudart(monkeypatch: pytest.MonkeyPatch, devices: list[tuple[bytes, int, int, int]] | None) -> None:
    """cuda-python as detect_device sees it: absent (None), or a runtime with ``devices``."""
    from types import ModuleType, SimpleNamespace

    if devices is None:
        for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
            monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
        return
    props = [SimpleNamespace(name=n, major=a, minor=b, totalGlobalMem=m) for n, a, b, m in devices]
    runtime = SimpleNamespace(cudaGetDeviceCount=lambda: (0, len(props)),
                              cudaGetDeviceProperties=lambda i: (0, props[i]))
    bindings = ModuleType("cuda.bindings")
    bindings.runtime = runtime  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuda", ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)


def test_detect_device_without_cuda_python(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cudart(monkeypatch, None)
    with pytest.raises(BuildError) as error:
        detect_device()
    assert "cuda-python" in error.value.message and "pip install cuda-python" in error.value.hint


def test_detect_device_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cudart(monkeypatch, [])
    with pytest.raises(BuildError) as error:
        detect_device()
    assert error.value.message == "no CUDA device 0 (0 found)" and "nvidia-smi" in error.value.hint


def test_detect_device_reads_name_sm_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cudart(monkeypatch, [(b"NVIDIA H100 80GB HBM3\x00", 9, 0, 80 * 2**30)])
    assert detect_device() == ("NVIDIA H100 80GB HBM3", 90, 80 * 2**30)
