"""Shape inference in a forked child (large models on Linux) gives what the in-process path gives."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pytest
from onnx import helper

import trtadvisor.loader as loader
from trtadvisor.errors import ModelLoadError

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from make_large_graph import make_model


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "large.onnx"
    path.write_bytes(make_model(12_000).SerializeToString())
    assert path.stat().st_size >= loader._PARALLEL_INFERENCE_MIN_BYTES  # takes the forked path
    return path


def test_forked_and_in_process_inference_agree(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forked = loader.load_model(large)
    monkeypatch.setattr(loader, "_PARALLEL_INFERENCE_MIN_BYTES", 10**12)
    local = loader.load_model(large)
    names = [o for n in local.graph.nodes for o in n.outputs]
    assert len(names) > 12_000
    assert [forked.graph.shape(t) for t in names] == [local.graph.shape(t) for t in names]
    # Shapes really were inferred: the attention scores are [1, heads, seq, seq].
    softmax = next(n for n in forked.graph.nodes if n.op == "Softmax")
    assert forked.graph.shape(softmax.outputs[0]) == (1, 4, 128, 128)


def test_inconsistent_large_model_is_an_input_error(tmp_path: Path) -> None:
    model = make_model(12_000)
    reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
    bad = helper.make_tensor("bad_shape", onnx.TensorProto.INT64, [2], [7, 13])
    model.graph.initializer.append(bad)
    reshape.input[1] = "bad_shape"
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError, match="inconsistent"):
        loader.load_model(path)


def test_inconsistent_large_model_from_the_cli_is_one_line(tmp_path: Path) -> None:
    import subprocess

    model = make_model(12_000)
    reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
    model.graph.initializer.append(helper.make_tensor("bad_shape", onnx.TensorProto.INT64, [2], [7, 13]))
    reshape.input[1] = "bad_shape"
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "audit", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "inconsistent" in proc.stderr and "Hint:" in proc.stderr
