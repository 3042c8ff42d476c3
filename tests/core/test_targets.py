"""Targets are known or refused, and every printed trtexec command parses for its version.

Facts come from ../shared/reference/tensorrt-11.md (11.0-11.4 are the covered 11.x releases, the
10.16.1 -> 11.0 trtexec diff, the 11.1 tuning flags, SM 10.7 from 11.3.0) and the CUDA GPU list
(https://developer.nvidia.com/cuda-gpus: RTX A1000 is SM 8.6, A100 SM 8.0, A10 SM 8.6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trtadvisor.advice.trtexec import profiling_command, trtexec_command
from trtadvisor.analysis.strong_typing import settle_typing
from trtadvisor.api import audit
from trtadvisor.errors import TargetError
from trtadvisor.ir.load import load_model, parse_shape_overrides
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.knowledge.target import PRECISIONS, make_target, parse_version
from trtadvisor.knowledge.trtexec_flags import check_command, removed_flags_in

from conftest import REPO, SAMPLES, sample_path, samples_where

RESNET = samples_where(name="resnet18", exporter="torchscript")[0]
BOOK = default_rulebook()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


# -- --trt ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("trt, nearest", [("7.2", "8.0"), ("12.0", "11.4"), ("99.0", "11.4"), ("banana", None),
                                          ("11.5", "11.4"), ("10.17", "10.16")])
def test_unknown_tensorrt_versions_are_refused_with_the_known_list(trt: str, nearest: str | None) -> None:
    proc = _cli("audit", str(sample_path(RESNET)), "--trt", trt, "--format", "json")
    assert proc.returncode == 2 and "Hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert "11.0-11.4" in proc.stderr and "10.16" in proc.stderr and "8.0" in proc.stderr
    if nearest:
        assert f"nearest: {nearest}" in proc.stderr


def test_default_target_is_the_newest_covered_release_and_patch_levels_are_accepted() -> None:
    # 11.4 (2026-10-09) is the newest release the reference covers; 10.16.1 is a real patch release.
    assert make_target(BOOK, None, None, None).trt == "11.4"
    assert make_target(BOOK, "10.16.1", None, None).trt_version == (10, 16, 1)
    assert make_target(BOOK, "11.4", None, None).typing == "strong"
    assert make_target(BOOK, "10.16", None, None).typing == "weak"
    assert make_target(BOOK, "10.16", None, None, strongly_typed=True).typing == "strong"
    with pytest.raises(TargetError):
        make_target(BOOK, "8.6", None, None, strongly_typed=True)  # --stronglyTyped arrived in 9.0


# -- --gpu / --sm -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, sm", [("RTX A1000", 86), ("rtx a1000", 86), ("RTX-A1000", 86), ("NVIDIA RTX A1000", 86),
                                      ("A100", 80), ("NVIDIA A100-SXM4-80GB", 80), ("A100 80GB PCIe", 80),
                                      ("a10", 86), ("H100 NVL", 90), ("GeForce RTX 4090", 89), ("Tesla T4", 75),
                                      ("DGX Spark", 121), ("Vera Rubin", 107)])
def test_gpu_names_match_whole_names_case_and_spacing_tolerant(name: str, sm: int) -> None:
    assert make_target(BOOK, "11.4", None, name).sm == sm


def test_a_near_miss_gpu_name_is_refused_with_a_did_you_mean() -> None:
    proc = _cli("audit", str(sample_path(RESNET)), "--gpu", "A10O")
    assert proc.returncode == 2 and "did you mean" in proc.stderr
    assert "A100" in proc.stderr and "A10 " in proc.stderr
    for name in ("A1000", "RTX A100", "H10"):  # substrings of real names are not names
        with pytest.raises(TargetError):
            make_target(BOOK, "11.4", None, name)


@pytest.mark.parametrize("text, sm", [("86", 86), ("8.6", 86), ("12.0", 120), ("100", 100), ("7.5", 75)])
def test_sm_accepts_the_two_spellings(text: str, sm: int) -> None:
    assert make_target(BOOK, "11.4", text, None).sm == sm


@pytest.mark.parametrize("text", ["8.6.1", "861", "sm_86", "86.0", "8", "abc", "1000"])
def test_sm_refuses_anything_else(text: str) -> None:
    with pytest.raises(TargetError) as error:
        make_target(BOOK, "11.4", text, None)
    assert error.value.hint


def test_a_gpu_newer_than_the_version_is_refused() -> None:
    # TensorRT 11.3.0 release notes: Vera Rubin, compute capability 10.7.
    with pytest.raises(TargetError, match=r"11\.3"):
        make_target(BOOK, "11.2", None, "Vera Rubin")
    assert make_target(BOOK, "11.3", "10.7", None).sm == 107


# -- the trtexec grammar ---------------------------------------------------------------------------

@pytest.mark.parametrize("command, trt, ok", [
    ("trtexec --onnx=m.onnx --fp16", "10.16", True),
    ("trtexec --onnx=m.onnx --fp16", "11.0", False),            # removed in 11.0
    ("trtexec --onnx=m.onnx --best", "11.4", False),
    ("trtexec --onnx=m.onnx --int8 --calib=c.cache", "11.1", False),
    ("trtexec --onnx=m.onnx --stronglyTyped", "10.16", True),
    ("trtexec --onnx=m.onnx --stronglyTyped", "8.6", False),    # arrived in 9.0
    ("trtexec --onnx=m.onnx --stronglyTyped", "11.4", False),   # deprecated no-op, always on
    ("trtexec --onnx=m.onnx --useCudaGraph", "11.0", False),
    ("trtexec --onnx=m.onnx --noCudaGraph --noSpinWait --includeDataTransfers", "11.0", True),
    ("trtexec --onnx=m.onnx --noCudaGraph", "10.16", False),
    ("trtexec --onnx=m.onnx --inputIOFormats=fp16:chw", "10.16", True),
    ("trtexec --onnx=m.onnx --inputIOFormats=fp16:chw", "11.0", False),  # layout only from 11.0
    ("trtexec --onnx=m.onnx --inputIOFormats=chw --outputIOFormats=hwc8", "11.4", True),
    ("trtexec --onnx=m.onnx --tacticSources=-CUBLAS", "10.16", True),
    ("trtexec --onnx=m.onnx --tacticSources=-CUBLAS", "11.0", False),
    ("trtexec --onnx=m.onnx --tacticSources=+JIT_CONVOLUTIONS", "11.0", True),
    ("trtexec --onnx=m.onnx --tuningSearch=fast --tuningCacheFile=t.cache", "11.1", True),
    ("trtexec --onnx=m.onnx --tuningSearch=fast", "11.0", False),  # the tuner arrived in 11.1
    ("trtexec --onnx=m.onnx --builderOptimizationLevel=5", "11.4", True),
    ("trtexec --onnx=m.onnx --builderOptimizationLevel=6", "11.4", False),
    ("trtexec --onnx=m.onnx --bogusOption", "11.4", False),
])
def test_the_grammar_knows_what_each_version_parses(command: str, trt: str, ok: bool) -> None:
    assert (check_command(command, parse_version(trt), BOOK) == []) is ok


def _command_models() -> list[tuple[str, str | None]]:
    picks = [(str(sample_path(RESNET)), None),
             (str(sample_path(samples_where(name="resnet18_dynbatch", exporter="dynamo", opset=18)[0])), None),
             (str(sample_path(samples_where(name="resnet18_dynbatch", exporter="dynamo", opset=18)[0])),
              "input:8x3x224x224"),
             (str(sample_path(samples_where(name="gpt2_sdpa", opset=18)[0])), None),
             (str(SAMPLES / "qdq" / "resnet18_qat.onnx"), None)]
    return picks


@pytest.mark.parametrize("path, shapes", _command_models())
def test_every_printed_command_parses_for_every_known_version(path: str, shapes: str | None) -> None:
    model = load_model(path, parse_shape_overrides(shapes))
    checked = 0
    for trt in BOOK.known_trt:
        version = parse_version(trt)
        for precision in PRECISIONS:
            for strongly in (False, True):
                if strongly and version < (9, 0):
                    continue
                asked = make_target(BOOK, trt, "90", None, precision, strongly_typed=strongly)
                target, _ = settle_typing(asked, model.graph, BOOK)
                for command in (trtexec_command(model, target, BOOK), profiling_command(model, target, BOOK)):
                    assert check_command(command, version, BOOK) == [], (trt, precision, command)
                    checked += 1
    assert checked >= len(BOOK.known_trt) * len(PRECISIONS) * 2


@pytest.mark.parametrize("trt", ["8.6", "10.16", "11.0", "11.1", "11.3", "11.4"])
@pytest.mark.parametrize("precision", ["fp16", "int8", "fp8", "best"])
def test_no_finding_names_a_flag_the_version_lacks(trt: str, precision: str) -> None:
    result = audit(sample_path(RESNET), trt=trt, precision=precision, gpu="Jetson AGX Orin")
    version = parse_version(trt)
    for finding in result.findings:
        assert removed_flags_in(finding.message + " " + finding.hint, version, BOOK) == [], finding
