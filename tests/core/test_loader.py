"""Loading: bad input never crashes, input files are never modified, weights are never needed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import onnx
import onnx.parser
import pytest
from onnx import TensorProto, helper

from trtadvisor.api import audit
from trtadvisor.errors import ModelLoadError
from trtadvisor.ir.load import load_model, parse_shape_overrides

from conftest import sample_path, samples_where

RESNET = samples_where(name="resnet18", exporter="torchscript")[0]


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True, timeout=60)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = sample_path(RESNET).read_bytes()
    files = {
        "text": b"this is not a model\n",
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(data)
        out[name] = path
    return out


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "png"])
def test_bad_file_is_one_line_with_a_hint_and_exit_2(kind: str, tmp_path: Path) -> None:
    path = _bad_files(tmp_path)[kind]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    proc = _run_cli("audit", str(path), "--format", "json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Hint:" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for target in (tmp_path / "absent.onnx", tmp_path):
        proc = _run_cli("audit", str(target))
        assert proc.returncode == 2 and "Hint:" in proc.stderr and "Traceback" not in proc.stderr


def test_dangling_input_is_inconsistent(tmp_path: Path) -> None:
    model = onnx.parser.parse_model('''<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) {
  y = Add(x, ghost)
}''')
    path = tmp_path / "dangling.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError, match="reads tensor 'ghost'"):
        load_model(path)


def test_inconsistent_shapes_are_an_input_error(tmp_path: Path) -> None:
    model = onnx.parser.parse_model('''<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,8,8] x) => (float[1,3,8,8] y) <int64[2] s = {1, 192}> {
  y = Reshape(x, s)
}''')
    path = tmp_path / "inconsistent.onnx"
    path.write_bytes(model.SerializeToString())
    proc = _run_cli("audit", str(path))
    assert proc.returncode == 2 and "inconsistent" in proc.stderr and "Hint:" in proc.stderr


def test_audit_never_writes_the_input_and_is_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(sample_path(RESNET).read_bytes())
    stamp = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    first = _run_cli("audit", str(path), "--format", "json", "--shapes", "input:32x3x224x224")
    second = _run_cli("audit", str(path), "--format", "json", "--shapes", "input:32x3x224x224")
    assert first.returncode == 0 and first.stdout == second.stdout
    assert (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()) == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_absent_external_weights_audit_fully() -> None:
    result = audit(sample_path(RESNET))
    assert result.model.missing_external_data == (Path(RESNET["path"]).name + ".data",)
    assert "TRT001" in {f.rule for f in result.findings}
    assert len(result.prediction.layers) == 23


def _huge_external_model() -> onnx.ModelProto:
    """A 4096x4096 MatMul chain whose weights are declared external: 64 MB each, 40 of them, > 2 GB."""
    nodes, inits = [], []
    x = "x"
    for i in range(40):
        w = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[4096, 4096])
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "huge.bin"), ("offset", str(i * 4096 * 4096 * 4)),
                           ("length", str(4096 * 4096 * 4))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"], name=f"mm{i}"))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"], name=f"relu{i}"))
        x = f"r{i}"
    graph = helper.make_graph(nodes, "huge", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 4096])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_model_over_2gb_with_absent_weights(tmp_path: Path) -> None:
    path = tmp_path / "huge.onnx"
    path.write_bytes(_huge_external_model().SerializeToString())
    assert path.stat().st_size < 1_000_000
    result = audit(path, trt="8.5")
    declared = sum(4096 * 4096 * 4 for _ in range(40))
    assert declared > 2**31
    assert [layer.ops for layer in result.prediction.layers] == [("MatMul",), ("Relu",)] * 40
    assert result.model.missing_external_data == ("huge.bin",)


def test_subgraphs_of_if_are_walked(tmp_path: Path) -> None:
    then_graph = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 4])])
    else_graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["e"], name="else_sig")], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)],
        "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "if.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    result = audit(path)
    names = [layer.name for layer in result.prediction.layers]
    assert sorted(names) == ["branch", "branch/else_branch/else_sig", "branch/then_branch/then_relu"]
    assert result.prediction.node_count == 3
    assert "TRT203" in {f.rule for f in result.findings}  # If blocks CUDA graph capture


def test_local_functions_are_inlined(tmp_path: Path) -> None:
    model = onnx.parser.parse_model('''<ir_version: 8, opset_import: ["" : 17, "local" : 1]>
g (float[1,8,4,4] x) => (float[1,8,4,4] y) {
  y = local.SiLU(x)
}
<domain: "local", opset_import: ["" : 17]>
SiLU (a) => (b) {
  s = Sigmoid(a)
  b = Mul(a, s)
}''')
    path = tmp_path / "func.onnx"
    path.write_bytes(model.SerializeToString())
    result = audit(path)
    assert [layer.ops for layer in result.prediction.layers] == [("Sigmoid", "Mul")]


def test_symbolic_dims_and_shape_overrides() -> None:
    entry = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]
    model = load_model(sample_path(entry))
    assert model.graph.shape("input") == ("batch", 3, 224, 224)
    fixed = load_model(sample_path(entry), parse_shape_overrides("input:4x3x224x224"))
    assert fixed.graph.shape("input") == (4, 3, 224, 224)
    assert fixed.graph.shape(fixed.graph.outputs[0]) == (4, 1000)


@pytest.mark.parametrize("spec, fragment", [("input:1x3", "rank 2"), ("nope:1x3x224x224", "does not have"),
                                            ("input:ax3", "whole number"), ("input", "cannot read")])
def test_bad_shape_overrides(spec: str, fragment: str) -> None:
    proc = _run_cli("audit", str(sample_path(RESNET)), "--shapes", spec)
    assert proc.returncode == 2 and fragment in proc.stderr and "Hint:" in proc.stderr


def test_a_tensor_written_twice_is_an_input_error(tmp_path: Path) -> None:
    a = helper.make_node("Relu", ["x"], ["a"], name="r1")
    b = helper.make_node("Sigmoid", ["x"], ["a"], name="r2")
    y = helper.make_node("Relu", ["a"], ["y"], name="r3")
    graph = helper.make_graph([a, b, y], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "twice.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    proc = _run_cli("audit", str(path))
    assert proc.returncode == 2 and "tensor 'a' is written by more than one node" in proc.stderr


def test_unknown_and_custom_ops_are_reported(tmp_path: Path) -> None:
    bad = helper.make_node("NotAnOp", ["x"], ["a"], name="bad")
    custom = helper.make_node("FusedThing", ["a"], ["y"], name="plugin", domain="com.acme")
    graph = helper.make_graph([bad, custom], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)])
    path = tmp_path / "ops.onnx"
    path.write_bytes(model.SerializeToString())
    result = audit(path)
    found = {f.rule: (f.severity, f.nodes) for f in result.findings if f.rule in ("TRT003", "TRT004")}
    assert found == {"TRT003": ("error", ("bad",)), "TRT004": ("warning", ("plugin",))}
    assert _run_cli("audit", str(path), "--format", "json").returncode == 1  # an error finding fails by default
