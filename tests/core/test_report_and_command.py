"""The JSON contract, the rich report, the trtexec commands per TensorRT version, and the CLI's target options."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from trtadvisor.api import audit
from trtadvisor.report.json_report import report_dict
from trtadvisor.report.rich_report import AuditView

from conftest import REPO, sample_path, sample_registry, samples_where

SCHEMA = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
RESNET = samples_where(name="resnet18", exporter="torchscript")[0]
DYNBATCH = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("entry", sample_registry(), ids=lambda e: Path(e["path"]).name)
def test_every_sample_report_follows_the_schema(entry: dict) -> None:
    data = json.loads(json.dumps(report_dict(audit(sample_path(entry)))))
    jsonschema.validate(data, SCHEMA)
    assert data["model"]["nodes"] == entry["onnx"]["nodes"]


def test_json_report_contract_values() -> None:
    proc = _cli("audit", str(sample_path(RESNET)), "--trt", "8.6", "--gpu", "A10", "--precision", "fp16",
                "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "trtadvisor.report/v1"
    assert data["target"] == {"trt": "8.6", "sm": 86, "precision": "fp16", "shapes": "static", "opt_level": 3,
                              "typing": "weak", "requested_precision": "fp16", "gpu": "A10"}
    assert data["model"] == {"path": str(sample_path(RESNET)), "opset": 17, "nodes": 65}
    first = data["layers"][0]
    assert first["kind"] == "convolution" and first["ops"] == ["Conv", "Relu"] and first["fusions"] == ["conv+relu"]
    assert len(first["nodes"]) == 2 and first["name"] == " + ".join(first["nodes"])
    assert data["recommendations"]["trtexec"].startswith(f"trtexec --onnx={sample_path(RESNET)} --fp16")


def test_rich_report_shows_summary_layers_findings_and_command() -> None:
    result = audit(sample_path(DYNBATCH), trt="10.16", gpu="H100")
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(AuditView(result))
    text = buffer.getvalue()
    for expected in ("trtadvisor audit", "TensorRT 10.16, SM 90 (H100), fp16", "Predicted engine",
                     "/conv1/Conv + /relu/Relu", "TRT002", "Hint:", "trtexec --onnx=", "--shapes=input:1x3x224x224"):
        assert expected in text, expected


@pytest.mark.parametrize("trt, expected, absent", [
    ("8.6", ["--fp16", "--noDataTransfers", "--useSpinWait", "--useCudaGraph"], []),
    ("10.16", ["--fp16", "--useCudaGraph"], []),
    # 11.0: precision flags removed; CUDA graphs, spin-wait, no transfers and a separate profile run
    # are defaults whose old flags are deprecated no-ops (tensorrt-11.md 'trtexec').
    ("11.0", [], ["--fp16", "--useCudaGraph", "--noDataTransfers", "--useSpinWait", "--separateProfileRun"]),
    ("11.4", [], ["--fp16", "--useCudaGraph", "--noDataTransfers", "--useSpinWait", "--separateProfileRun"]),
])
def test_trtexec_flags_follow_the_version(trt: str, expected: list[str], absent: list[str]) -> None:
    result = audit(sample_path(RESNET), trt=trt, precision="fp16")
    flags = result.trtexec.split()
    profile = str(result.profile_command).split()
    assert all(f in flags for f in expected) and not any(f in flags + profile for f in absent)
    for flag in ("--profilingVerbosity=detailed", "--exportLayerInfo=resnet18.torchscript.opset17.layers.json",
                 "--exportProfile=resnet18.torchscript.opset17.profile.json"):
        assert flag in profile
    assert ("--separateProfileRun" in profile) is (trt.startswith(("8.", "10.")))


@pytest.mark.parametrize("precision, flag", [("fp32", "--noTF32"), ("bf16", "--bf16"), ("int8", "--int8"),
                                             ("fp16", "--fp16"), ("best", "--best")])
def test_precision_flags(precision: str, flag: str) -> None:
    assert flag in audit(sample_path(RESNET), trt="10.16", precision=precision).trtexec.split()


def test_fp8_without_qdq_is_not_a_flag_away() -> None:
    # FP8 exists only through explicit Q/DQ: the FP32 ResNet-18 (no Q/DQ) gets no --fp8, and TRT222 says why.
    result = audit(sample_path(RESNET), trt="10.16", precision="fp8")
    assert "--fp8" not in result.trtexec.split() and "--fp16" in result.trtexec.split()
    assert "TRT222" in {f.rule for f in result.findings}


def test_unsupported_precision_on_the_gpu_is_reported() -> None:
    result = audit(sample_path(RESNET), trt="10.16", gpu="A100", precision="fp8")
    assert [f.message for f in result.findings if f.rule == "TRT206"] == [
        "FP8 needs SM 89 or newer; the target is SM 80"]


@pytest.mark.parametrize("args, fragment", [
    (["--gpu", "Voodoo 5"], "unknown GPU 'Voodoo 5'"),
    (["--trt", "ten"], "is not a TensorRT version"),
    (["--sm", "abc"], "is not a compute capability"),
    (["--sm", "80", "--gpu", "A100"], "both --sm and --gpu"),
])
def test_bad_target_options(args: list[str], fragment: str) -> None:
    proc = _cli("audit", str(sample_path(RESNET)), *args)
    assert proc.returncode == 2 and fragment in proc.stderr and "Hint:" in proc.stderr


def _fake_cuda(monkeypatch: pytest.MonkeyPatch, devices: list[tuple[bytes, int, int]] | None) -> None:
    """cuda-python as seen by --sm auto: absent (None), or a runtime reporting ``devices`` (name, major, minor)."""
    from types import ModuleType, SimpleNamespace

    if devices is None:
        for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
            monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
        return
    props = [SimpleNamespace(name=n, major=a, minor=b) for n, a, b in devices]
    runtime = SimpleNamespace(cudaGetDeviceCount=lambda: (0, len(props)),
                              cudaGetDeviceProperties=lambda i: (0, props[i]))
    bindings = ModuleType("cuda.bindings")
    bindings.runtime = runtime  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuda", ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)


def test_sm_auto_without_cuda_python_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from trtadvisor.cli import main

    _fake_cuda(monkeypatch, None)
    assert main(["audit", str(sample_path(RESNET)), "--sm", "auto"]) == 2
    err = capsys.readouterr().err
    assert "cuda-python" in err and "Hint:" in err


def test_sm_auto_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from trtadvisor.cli import main

    _fake_cuda(monkeypatch, [])
    assert main(["audit", str(sample_path(RESNET)), "--sm", "auto"]) == 2
    err = capsys.readouterr().err
    assert "found no CUDA GPU" in err and "Hint:" in err


def test_sm_auto_reads_the_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, [(b"NVIDIA A10\x00", 8, 6)])
    assert audit(sample_path(RESNET), sm="auto").target.sm == 86


@pytest.mark.parametrize("name, sm", [("T4", 75), ("A100-SXM4-80GB", 80), ("NVIDIA A10", 86), ("RTX 3090", 86),
                                      ("Jetson AGX Orin", 87), ("L4", 89), ("RTX 4090", 89), ("H100 PCIe", 90),
                                      ("H200", 90), ("B200", 100), ("Thor", 110), ("RTX 5090", 120), ("GB10", 121)])
def test_gpu_table(name: str, sm: int) -> None:
    assert audit(sample_path(RESNET), gpu=name).target.sm == sm
