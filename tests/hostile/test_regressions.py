"""Regressions found by the hostile-input campaign (tests/hostile/campaign.py) and the known gaps of
issue 15 closed after it: each asserts what the reader or report decides for one input class."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trtadvisor.cli import main
from trtadvisor.confirm.layer_info import read_layer_info
from trtadvisor.errors import ArtifactError

# TensorRT 11 "I/O Tensors" entry built from the documented field list (no 11.x engine exists here; see
# tests/engine/test_layer_info.py DOCUMENTED_11X_FIELDS_FIXTURE): every text field, then each replaced by
# a value of another JSON type.
_IO = {"Name": "input", "IOMode": "Input", "DataType": "Half", "Dimensions": [-1, 3, 8, 8], "Location": "Device",
       "IsShapeInferenceIO": False, "ProfileInfo": [{"MinShape": [1, 3, 8, 8], "OptShape": [2, 3, 8, 8],
                                                     "MaxShape": [4, 3, 8, 8], "Format": "Row major linear FP16"}]}
_LAYERS = [{"Name": "conv", "LayerType": "CaskConvolution"}]


def _write(tmp: Path, io: object) -> Path:
    path = tmp / "layers.json"
    path.write_text(json.dumps({"Layers": _LAYERS, "I/O Tensors": io}))
    return path


@pytest.mark.parametrize("field", ["Name", "IOMode", "DataType", "Location"])
@pytest.mark.parametrize("value", [5, 1.5, ["Half"], {"a": 1}, None, True])
def test_io_tensor_text_field_of_another_type_is_an_artifact_error(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ArtifactError, match=f'I/O tensor 0.*"{field}" of type'):
        read_layer_info(_write(tmp_path, [{**_IO, field: value}]))


@pytest.mark.parametrize("io", [5, "x", {"Name": "input"}, [5], [None], [{**_IO, "ProfileInfo": [3]}],
                                [{**_IO, "ProfileInfo": {"a": 1}}], [{**_IO, "Dimensions": "1x3"}],
                                [{**_IO, "ProfileInfo": [{"MinShape": 1}]}],
                                [{**_IO, "ProfileInfo": [{"Format": 7}]}]])
def test_io_tensors_of_the_wrong_shape_are_an_artifact_error(tmp_path: Path, io: object) -> None:
    with pytest.raises(ArtifactError, match=r"I/O Tensors|I/O tensor 0"):
        read_layer_info(_write(tmp_path, io))


def test_io_tensor_dimensions_outside_the_range_are_unknown(tmp_path: Path) -> None:
    info = read_layer_info(_write(tmp_path, [{**_IO, "Dimensions": [True, 2**70, "3", 1.5e308, 4]}]))
    assert info.io_tensors[0].dims == (-1, -1, 3, -1, 4)


def test_io_tensor_type_error_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, [{**_IO, "DataType": 16}])
    assert main(["engine", "--layer-info", str(path), "--format", "json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DataType" in err[0] and "Hint:" in err[0]


# -- Source locations: a path from the model's metadata is looked up only inside the checked tree ----------

def _recording_stats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import os

    seen: list[str] = []
    real_stat, real_lstat = os.stat, os.lstat

    def stat(path: object, *args: object, **kw: object) -> os.stat_result:
        seen.append(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path))
        return real_stat(path, *args, **kw)  # type: ignore[arg-type]

    def lstat(path: object, *args: object, **kw: object) -> os.stat_result:
        seen.append(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path))
        return real_lstat(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "lstat", lstat)
    return seen


def test_source_paths_outside_the_root_are_never_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trtadvisor.ci.source_locations import SourceResolver

    root, outside = tmp_path / "repo", tmp_path / "secret"
    (root / "models").mkdir(parents=True)
    (root / "models" / "net.py").write_text("x = 1\n")
    outside.mkdir()
    (outside / "key.py").write_text("k = 1\n")
    (root / "link").symlink_to(outside)  # a link in the checkout that leaves it
    resolver = SourceResolver(root)  # the root is the user's choice: resolving it may stat its parents
    seen = _recording_stats(monkeypatch)
    for hostile in (str(outside / "key.py"), "../secret/key.py", "link/key.py", str(root / "link" / "key.py"),
                    str(root / ".." / "secret" / "key.py"), "/etc/passwd", "x\x00y", "a" * 10_000):
        assert resolver.relative(hostile) is None, hostile
    assert resolver.relative("/build/agent/repo/models/net.py") == "models/net.py"  # the feature still works
    assert resolver.relative(str(root / "models" / "net.py")) == "models/net.py"
    assert seen and [p for p in seen if not Path(p).is_relative_to(root)] == []
    assert (root / "link" / "key.py").as_posix() not in seen


def test_stack_trace_in_a_model_cannot_probe_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: a dynamo-style stack trace naming files elsewhere gives no location and no lookup."""
    from hostile.hostile_inputs import base_model

    model = base_model()
    for node in model.graph.node:
        node.metadata_props.add(key="pkg.torch.onnx.stack_trace",
                                value='File "/etc/passwd", line 1, in forward\nFile "../../../../etc/shadow", '
                                      'line 2, in forward')
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    monkeypatch.chdir(tmp_path)
    seen = _recording_stats(monkeypatch)
    assert main(["audit", str(path), "--format", "sarif", "--no-config"]) in (0, 1)
    sarif = json.loads(capsys.readouterr().out)
    located = [loc["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
               for loc in r.get("locations", [])]
    assert located and all(uri == "m.onnx" for uri in located)  # the model file, never the written paths
    assert [p for p in seen if ("passwd" in p or "shadow" in p) and not Path(p).is_relative_to(tmp_path)] == []


# -- Every report escapes what a model names: no terminal control reaches any medium --------------------

EVIL = "\x1b]8;;http://e\x07\u202e"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the colour codes rich itself writes on a terminal


def _hostile_copy(src: Path, dst: Path) -> Path:
    """A real export whose every node and tensor name starts with an OSC hyperlink, a BEL and a
    right-to-left override, plus a custom op whose type and domain hold escape sequences."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src), load_external_data=False)
    g = model.graph

    def evil(name: str) -> str:
        return EVIL + name if name else name

    for node in g.node:
        node.name = evil(node.name or node.op_type)
        node.input[:] = [evil(i) for i in node.input]
        node.output[:] = [evil(o) for o in node.output]
    for value in (*g.input, *g.output, *g.value_info, *g.initializer):
        value.name = evil(value.name)
    out = g.output[0].name
    g.node.append(helper.make_node("Evil\x1b[2J", [out], [out + "_c"], name=EVIL + "custom", domain="x\x1b[31m"))
    g.output[0].name = out + "_c"
    model.opset_import.append(helper.make_opsetid("x\x1b[31m", 1))
    dst.write_bytes(model.SerializeToString())
    return dst


def _unseen(text: str) -> list[str]:
    rest = SGR.sub("", text)
    return [c for c in ("\x1b", "\x07", "\u202e") if c in rest]


def test_every_format_escapes_model_names(tmp_path: Path) -> None:
    from trtadvisor.api import audit
    from trtadvisor.report.formats import FormatOptions, get_formatter
    from trtadvisor.report.rich_report import render_rich

    from conftest import REPO

    bert = _hostile_copy(REPO / "samples/transformers/bert_eager.torchscript.opset17.onnx", tmp_path / "b\x1b[31m.onnx")
    qdq = _hostile_copy(REPO / "samples/qdq/resnet18_qat.onnx", tmp_path / "q.onnx")
    for path in (bert, qdq):
        result = audit(path)
        text = render_rich(result, width=120, color=True)
        if path == bert:  # the attention table is among what is checked
            assert "Attention (" in text
        assert _unseen(text) == [], path
        assert text.count("\\x1b]8;;") >= 2
        for fmt in ("json", "sarif", "markdown", "html", "github", "concise"):
            out = get_formatter(fmt, FormatOptions(color=False, root=tmp_path)).format(result)
            assert "\x1b" not in out and "\x07" not in out, fmt
            out.encode("utf-8")  # valid UTF-8 (no lone surrogate)


def test_engine_tables_escape_layer_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real ResNet layer information and profile (TREx example, A100) with every string prefixed by
    the hostile sequence, read by ``engine`` and beside the model by ``audit``, in rich and JSON."""
    from conftest import REPO, artifact

    def evil(value: object) -> object:
        if isinstance(value, dict):
            return {k: v if k == "Dimensions" else evil(v) for k, v in value.items()}
        if isinstance(value, list):
            return [evil(v) for v in value]
        return EVIL + "\udcff" + value if isinstance(value, str) else value

    base = "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine"
    layers, profile = tmp_path / "L.json", tmp_path / "P.json"
    for src, dst in ((f"{base}.graph.json", layers), (f"{base}.profile.json", profile)):
        data = evil(json.loads(artifact(src).read_text()))
        dst.write_bytes(json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogateescape"))
    model = REPO / "samples/cnn/resnet18.dynamo.opset18.onnx"
    for argv in (["engine"], ["audit", str(model), "--no-config"]):
        for fmt in ("rich", "json"):
            code = main([*argv, "--layer-info", str(layers), "--profile", str(profile), "--format", fmt])
            out = capsys.readouterr().out
            out.encode("utf-8")
            assert code in (0, 1) and "\x1b" not in out and "\x07" not in out, (argv, fmt)
            if fmt == "rich":  # the terminal also gets no reordering character, and sees the escape written out
                assert "\\x1b]8;;" in out and "\u202e" not in out
            else:  # JSON: valid, the text kept as data (json.dumps writes the controls as \u001b)
                json.loads(out)
                assert "\\u001b]8;;http://e\\u0007" in out


# -- If/Loop nested past protobuf's recursion limit: said as such, not "truncated" ---------------------------

@pytest.mark.parametrize("depth", [33, 40, 500])
def test_control_flow_nested_past_protobuf_limit_is_named(tmp_path: Path, depth: int,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from hostile.hostile_inputs import nested_control_flow

    path = nested_control_flow(tmp_path / "m.onnx", (["If", "Loop"] * depth)[:depth])
    assert main(["audit", str(path), "--no-config", "--format", "json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"nested {depth} deep" in err[0] and "truncated" not in err[0] and "Hint:" in err[0]


def test_body_depth_reads_the_wire_format(tmp_path: Path) -> None:
    from hostile.hostile_inputs import BASE_MODEL, nested_control_flow
    from trtadvisor.ir.nesting import body_depth

    for ops in (["If"], ["Loop", "If", "Loop"], ["If"] * 31):
        assert body_depth(nested_control_flow(tmp_path / "m.onnx", ops).read_bytes()) == len(ops) + 1
    data = BASE_MODEL.read_bytes()
    assert body_depth(data) == 1  # a real export without control flow: the main graph only
    assert body_depth(data[:1000]) <= 1 and body_depth(b"\xff" * 64) == 0  # truncated or garbage: no crash


def test_deepest_parsable_nesting_is_audited(tmp_path: Path) -> None:
    from hostile.hostile_inputs import nested_control_flow
    from trtadvisor.api import audit

    result = audit(nested_control_flow(tmp_path / "m.onnx", (["Loop", "If"] * 16)[:31]))
    assert sum(1 for g in result.model.graph.walk() for _ in g.nodes) >= 31


# -- Campaign seed 70111: a declared input of [2**62, 0] reached np.ones (a zero made the product pass) ------

def test_input_dims_with_a_zero_and_a_huge_one_are_not_materialised(tmp_path: Path) -> None:
    import onnx

    from trtadvisor.api import audit

    from conftest import REPO

    model = onnx.load(str(REPO / "samples/transformers/bert_eager.torchscript.opset17.onnx"), load_external_data=False)
    mask = next(v for v in model.graph.input if v.name == "attention_mask")
    for d, value in zip(mask.type.tensor_type.shape.dim, (2**62, 0), strict=True):
        d.dim_value = value
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    result = audit(path)  # before the fix: ValueError "array is too big" from the attention mask analysis
    assert result.prediction.layers


# -- fix: the model it runs and the files it writes --------------------------------------------------------

@pytest.mark.parametrize("maker", ["unsorted_mask", "data_dependent_range"])
def test_fix_proves_rewrites_within_bounds(tmp_path: Path, maker: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Both models take 16 GB in onnxruntime; the topological-sort rewrite applies, so fix runs them.
    The comparison is skipped (known sizes) or fails inside the bounded child (data-dependent size)."""
    import resource

    from hostile import hostile_inputs

    source = getattr(hostile_inputs, maker)(tmp_path / "m.onnx")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert main(["fix", str(source), "-o", str(tmp_path / "out.onnx"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    numeric = report["numeric"]
    assert numeric["ran"] is False and numeric["reason"]
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < max(before, 4 << 20)  # kB: under 4 GB


def test_fix_never_reads_weights_outside_the_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hostile.hostile_inputs import external_location

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 256)
    folder = tmp_path / "models"
    folder.mkdir()
    model = external_location(folder / "m.onnx", "../secret.bin")
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    assert main(["fix", str(model), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "outside the model's folder" in err and "Hint:" in err
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("extra", [["-o", "pyproject.toml"], ["-o", "trtadvisor.toml"], ["--dry-run", "--report",
                                   "pyproject.toml"], ["-o", "m.onnx"], ["-o", "/dev/full"], ["-o", "/dev/null"]])
def test_fix_outputs_never_replace_inputs_configs_or_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             extra: list[str], capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    import os
    import stat

    from hostile.hostile_inputs import unsorted_mask

    monkeypatch.chdir(tmp_path)
    unsorted_mask(tmp_path / "m.onnx")
    (tmp_path / "pyproject.toml").write_text("[tool.black]\n")
    saved = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["fix", "m.onnx", *extra]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == saved
    for device in ("/dev/full", "/dev/null"):
        assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_flag_of_another_command_is_not_suggested_as_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["diff", "a.onnx", "b.onnx", "--write-baseline", "x.json"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --write-baseline" in err and "did you mean '--write-baseline'" not in err


# -- Campaign seed 13007: a layer name with a lone surrogate (JSON "\udcff") broke the SARIF fingerprint ----

@pytest.mark.parametrize("fmt", ["sarif", "github", "json", "markdown", "html", "concise", "rich"])
def test_layer_names_with_lone_surrogates_reach_every_format(tmp_path: Path, fmt: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import REPO, artifact

    doc = json.loads(artifact("trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json").read_text())
    for layer in doc["Layers"]:
        layer["Name"] = "\udcff" + layer["Name"]
    layers = tmp_path / "L.json"
    layers.write_text(json.dumps(doc))  # ensure_ascii: the surrogate is written as the escape \udcff
    baseline = tmp_path / "b.json"
    code = main(["audit", str(REPO / "samples/cnn/resnet18.dynamo.opset18.onnx"), "--no-config", "--layer-info",
                 str(layers), "--format", fmt, "--write-baseline", str(baseline)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    out.encode("utf-8")
    if fmt in ("sarif", "json"):
        json.loads(out)
    json.loads(baseline.read_text())


# -- Campaign seed 46619: a Q/DQ node retyped as Attention read dims[1] of a rank-1 scale ------------------

def test_attention_node_with_rank_1_inputs_is_read_as_unknown(tmp_path: Path) -> None:
    import onnx

    from trtadvisor.api import audit

    from conftest import REPO

    model = onnx.load(str(REPO / "samples/qdq/resnet18_qat.onnx"), load_external_data=False)
    node = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    node.op_type = "Attention"  # inputs: activation, a scalar scale, a scalar zero point
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    assert audit(path).prediction.layers  # before the fix: IndexError in the attention-site search
