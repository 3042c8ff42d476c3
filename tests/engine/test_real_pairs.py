"""The prediction held against real engines of rebuilt ONNX files (samples/real_pairs/, rules/observed_engines.toml).

The cookbook LeNet (samples/real_pairs/lenet.dynamo.opset18.onnx) has the node names of the TensorRT
10.14 and 10.16 engines in ../shared/data/trt-artifacts/trt-cookbook/, so it is compared node by node.
Each engine's build (TensorRT version, GPU, precision, shape profile, optimization level) is read from
its own trtexec log, never from our rules.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trtadvisor.api import AuditResult, audit
from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.compare import comparable_layers, engine_kind
from trtadvisor.confirm.stage import confirm_into, tensor_producers
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO, artifact

LENET = REPO / "samples" / "real_pairs" / "lenet.dynamo.opset18.onnx"
LEVIT = REPO / "samples" / "real_pairs" / "levit_128s.torchscript.opset13.onnx"

# (engine id in rules/observed_engines.toml, the artifact with its layers, the log of the same build)
ENGINES = [
    ("lenet-10-14-ada-fp32-static", "trt10.14.1/model-trained-exportLayerInfo.json",
     "trt10.14.1/result-04-dumpLayerInfo.log"),
    ("lenet-10-16-h100-fp32-static", "trt10.16.1/model-trained-exportLayerInfo.json",
     "trt10.16.1/result-04-dumpLayerInfo.log"),
    ("lenet-10-14-ada-fp16-dynamic", "trt10.14.1/result-02-build-verbose.log",
     "trt10.14.1/result-02-build-verbose.log"),
    ("lenet-10-16-h100-fp16-dynamic", "trt10.16.1/result-02-build-verbose.log",
     "trt10.16.1/result-02-build-verbose.log"),
    # A Python API build: no trtexec command; its build is read off the layers (see build_of).
    ("lenet-10-16-h100-fp16-dynamic-python", "trt10.16.1/EngineInspector-python-oneline.log",
     "trt10.16.1/EngineInspector-python-oneline.log"),
]


def _flag(command: str, name: str) -> str | None:
    match = re.search(rf"--{name}=(\S+)", command)
    return match.group(1) if match else None


def build_of(log: str) -> dict[str, Any]:
    """The audit target of the build a trtexec log records: its version, device and flags."""
    text = artifact("trt-cookbook/" + log).read_text(errors="replace")
    if "EngineInspector" in log:
        # IEngineInspector output of a Python build: FP16 formats, a -1 batch (two profiles), sm90 tactics.
        # The version is the commit's (SOURCES.md: 10.16, inferred); the level is the API default.
        assert "Channel major FP16" in text and "(-1, 1, 28, 28)" in text and "sm90_xmma" in text
        return {"trt": "10.16", "gpu": "H100", "precision": "fp16", "shapes": {"x": (4, 1, 28, 28)},
                "shape_mode": "dynamic", "opt_level": None}
    engine = load_engine(log=str(artifact("trt-cookbook/" + log)))
    command = engine.command or ""
    device = re.search(r"Selected Device: (.+)", text)
    level = re.search(r"BuilderOptimizationLevel: (\d+)", text)  # trtexec prints -1 when it is not set
    lo, opt, hi = (_flag(command, f"{k}Shapes") for k in ("min", "opt", "max"))
    return {
        "trt": ".".join((engine.trt_version or "").split(".")[:2]),
        "gpu": device.group(1).strip() if device else None,
        "precision": "fp16" if "--fp16" in command else "fp32",
        "shapes": {opt.split(":")[0]: tuple(int(d) for d in opt.split(":")[1].split("x"))} if opt else None,
        "shape_mode": "dynamic" if lo and hi and lo != hi else "static",
        "opt_level": int(level.group(1)) if level else None,
    }


def _confirmed(target: dict[str, Any], layers_artifact: str) -> AuditResult:
    result = audit(LENET, **target)
    confirm_into(result, **{_reader(layers_artifact): str(artifact("trt-cookbook/" + layers_artifact))})
    return result


def _reader(path: str) -> str:
    return "layer_info" if path.endswith(".json") or "EngineInspector" in path else "log"


def _all_targets() -> Iterator[tuple[str, dict[str, Any]]]:
    for engine_id, _, log in ENGINES:
        yield engine_id, build_of(log)


@pytest.mark.parametrize(("engine_id", "layers_artifact", "log"), ENGINES, ids=[e[0] for e in ENGINES])
def test_lenet_engine_predicted_exactly_for_its_own_build(engine_id: str, layers_artifact: str, log: str) -> None:
    target = build_of(log)
    comparison = _confirmed(target, layers_artifact).contract_fields()["comparison"]
    assert comparison["method"] == "names"
    assert comparison["explained"]["neither"] == 0, comparison["explained"]["unexplained"]
    assert comparison["explained"]["exact"] == comparison["explained"]["total"]
    assert comparison["agreement"] == 1.0 and comparison["kind_mismatches"] == []
    observed = comparison["calibration"]["observed"]
    assert observed["total"] > 0 and observed["matched"] == observed["total"]


@pytest.mark.parametrize(("engine_id", "layers_artifact", "log"), ENGINES, ids=[e[0] for e in ENGINES])
def test_lenet_engine_explained_under_every_other_build(engine_id: str, layers_artifact: str, log: str) -> None:
    """Whatever build the audit is told, each engine layer is predicted or among the alternatives of the
    predicted layers holding its nodes. (Layers observed under another build may differ from this
    engine: that is what the alternatives say.)"""
    others = [(other, target) for other, target in _all_targets() if other != engine_id]
    others.append(("default target", {}))
    for other, target in others:
        comparison = _confirmed(target, layers_artifact).contract_fields()["comparison"]
        explained = comparison["explained"]
        assert explained["neither"] == 0, (other, explained["unexplained"])


def test_fp16_h100_engine_is_no_longer_full_agreement_when_kinds_differ() -> None:
    """Audited for the default build (static shapes), conv + ReLU is predicted as a Cask convolution;
    the H100 FP16 min/opt/max engine ran each in its own Myelin region: same nodes, other kind."""
    comparison = _confirmed({}, "trt10.16.1/result-02-build-verbose.log").contract_fields()["comparison"]
    assert comparison["grouping_agreement"] == 1.0
    assert comparison["agreement"] == 3 / 5
    assert [m["nodes"] for m in comparison["kind_mismatches"]] == [["node_conv2d", "node_relu"],
                                                                    ["node_conv2d_1", "node_relu_1"]]
    assert {m["engine_kind"] for m in comparison["kind_mismatches"]} == {"myelin"}


@pytest.mark.parametrize(("engine_id", "layers_artifact", "log"), ENGINES, ids=[e[0] for e in ENGINES])
def test_rule_data_is_what_the_engine_shows(engine_id: str, layers_artifact: str, log: str) -> None:
    """rules/observed_engines.toml records each engine's layers and build; both are read back from the artifacts."""
    entry = default_rulebook().tables["observed_engines.toml"]["engine"][engine_id]
    build = build_of(log)
    assert (entry["trt"], entry["precision"], entry["shapes"]) == (build["trt"], build["precision"],
                                                                   build["shape_mode"])
    if build["opt_level"] is None:
        assert entry["opt_level"] == 3 and "default" in entry["build"]  # not set: TensorRT's default level
    else:
        assert entry["opt_level"] == build["opt_level"]
    assert entry["gpu"].lower() in (build["gpu"] or "").lower()
    assert entry["artifact"].endswith(layers_artifact)
    result = audit(LENET)
    topo = [n.name for n in result.model.graph.nodes]
    ops = {n.name: n.op for n in result.model.graph.nodes}
    path = str(artifact("trt-cookbook/" + layers_artifact))
    engine = load_engine(onnx_nodes=topo, **{_reader(layers_artifact): path})
    seen = [(list(layer.onnx_nodes), engine_kind(layer))
            for layer in comparable_layers(engine, tensor_producers(result))]
    recorded = [(item["nodes"], "myelin" if item["kind"] == "myelin" else "classic") for item in entry["layers"]
                if item["type"] != "NoOp"]  # NoOp layers are kept in the data, left out of comparisons
    assert seen == recorded
    assert all(item["ops"] == [ops[n] for n in item["nodes"]] for item in entry["layers"])


def test_static_fp32_region_is_mapped_by_its_boundary_tensors() -> None:
    """The 10.x JSON lists the head as five kernels sharing _myl4_; their metadata leaves out node_view,
    which sits between the region's input (max_pool2d_1) and its outputs (y, z)."""
    result = audit(LENET)
    engine = load_engine(layer_info=str(artifact("trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json")),
                         onnx_nodes=[n.name for n in result.model.graph.nodes])
    regions = [layer for layer in comparable_layers(engine, tensor_producers(result)) if layer.type == "Myelin"]
    assert len(regions) == 1
    assert regions[0].onnx_nodes == ("node_view", "node_linear", "node_relu_2", "node_linear_1", "node_softmax",
                                     "node_argmax")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_cli_takes_trtexec_spelling_of_the_cookbook_build() -> None:
    """The flags of trt10.16.1/result-02-build-verbose.log, pasted: the same build as its engine."""
    log = artifact("trt-cookbook/trt10.16.1/result-02-build-verbose.log").read_text(errors="replace")
    flags = [f for f in re.findall(r"--(?:min|opt|max)Shapes=\S+|--builderOptimizationLevel=\d+", log.splitlines()[0])]
    assert len(flags) == 4
    proc = _cli("audit", str(LENET), "--trt", "10.16", "--gpu", "H100", "--precision", "fp16", *flags,
                "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["target"]["shapes"] == "dynamic" and data["target"]["opt_level"] == 5
    kinds = [(layer["kind"], layer["confidence"]) for layer in data["layers"]]
    assert kinds[0] == ("myelin", "observed")  # conv + ReLU in Myelin, as that engine built it
    # The recommended build is that build: the same profile and level.
    assert all(flag in data["recommendations"]["trtexec"].split() for flag in flags)


def test_cli_static_shapes_and_bad_profiles() -> None:
    proc = _cli("audit", str(LENET), "--shapes", "x:4x1x28x28", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"]["shapes"] == "static"
    same = _cli("audit", str(LENET), "--minShapes=x:4x1x28x28", "--optShapes=x:4x1x28x28",
                "--maxShapes=x:4x1x28x28", "--format", "json")
    assert json.loads(same.stdout)["target"]["shapes"] == "static"  # min == max: one shape
    for bad in (["--minShapes=x:1x1x28x28"], ["--builderOptimizationLevel=9"],
                ["--shapes", "x:1x1x28x28", "--minShapes=x:1x1x28x28", "--optShapes=x:4x1x28x28",
                 "--maxShapes=x:16x1x28x28"]):
        proc = _cli("audit", str(LENET), *bad)
        assert proc.returncode == 2 and "Hint:" in proc.stderr and "Traceback" not in proc.stderr, bad


def test_levit_attention_stays_unfused_on_8_2_as_the_engine_shows() -> None:
    """LeViT-128S has 11 attention modules: timm's levit_128s config has stage depths (2, 3, 4) and an
    attention-downsample block between consecutive stages (2); the TensorRT 8.2.4 engine runs each
    Softmax as its own layer. The count comes from the config, so CI needs no timm."""
    stage_depths, downsamples = (2, 3, 4), 2
    modules = sum(stage_depths) + downsamples
    names = json.loads(artifact("trt2022-levit/levit128S.exportLayerInfo-namesonly.json").read_text())["Layers"]
    engine_softmax = [n for n in names if re.fullmatch(r"Softmax_\d+", n)]
    result = audit(LEVIT, trt="8.2", gpu="RTX 3050 Ti", precision="fp32")
    predicted_softmax = [layer for layer in result.prediction.layers if layer.ops == ("Softmax",)]
    assert modules == len(engine_softmax) == len(predicted_softmax) == 11
    confirm_into(result, layer_info=str(artifact("trt2022-levit/levit128S.exportLayerInfo-namesonly.json")))
    comparison = result.contract_fields()["comparison"]
    assert comparison["method"] == "signatures"
    calibration = comparison["calibration"]
    assert sum(row["total"] for row in calibration.values()) == len(result.prediction.layers)


def test_every_engine_rule_cites_an_existing_artifact() -> None:
    for engine_id, entry in default_rulebook().tables["observed_engines.toml"]["engine"].items():
        path = entry["artifact"].removeprefix("../shared/data/trt-artifacts/")
        assert artifact(path).is_file(), engine_id
        assert (REPO / entry["model"]).is_file(), engine_id
        assert Path(entry["model"]).suffix == ".onnx"


def test_every_layer_format_shows_confidence_and_alternatives() -> None:
    """JSON, rich, Markdown, HTML, SARIF and GitHub say how sure the prediction is (concise lists only
    findings, by design). Audited for the default build, the H100 level-5 engine's conv-in-Myelin is an
    alternative of each convolution."""
    from trtadvisor.report.formats import FormatOptions, get_formatter

    result = audit(LENET)
    conv = result.prediction.layers[0]
    assert conv.confidence == "documented" and conv.alternatives
    assert conv.alternatives[0]["kind"] == "myelin" and "SM 90" in conv.alternatives[0]["when"]
    marks = {"json": '"confidence": "documented"', "rich": "doc +1", "markdown": "could go another way",
             "html": "SM 90 (H100 PCIe)", "sarif": '"documented": 2', "github": "2 documented"}
    for name, mark in marks.items():
        text = get_formatter(name, FormatOptions(root=REPO)).format(result)
        assert mark in text, name


KERAS = REPO / "samples" / "real_pairs" / "keras_resnet50.tf2onnx.opset13.onnx"


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_keras_resnet50_against_the_rtx3090_engines(precision: str) -> None:
    """Keras ResNet-50 has 16 bottleneck blocks (3 + 4 + 6 + 3), each ending in a residual Add; the RTX 3090
    engines fuse each Add (and its ReLU) into a convolution ('..._0_conv/Conv2D + ..._add/add + ...')."""
    path = f"trex/examples/tensorflow/resnet/RTX-3090/{precision}/resnet.onnx.engine.graph.json"
    names = [layer["Name"] for layer in json.loads(artifact(path).read_text())["Layers"]]
    engine_residual = [n for n in names if re.search(r"_add/add\b", n) and "Conv2D" in n
                       and not n.startswith("Reformatting")]
    result = audit(KERAS, trt="8.5", gpu="RTX 3090", precision=precision)
    predicted_residual = [layer for layer in result.prediction.layers if "conv+eltwise" in layer.fusions]
    assert len(engine_residual) == len(predicted_residual) == 3 + 4 + 6 + 3
    confirm_into(result, layer_info=str(artifact(path)))
    comparison = result.contract_fields()["comparison"]
    assert comparison["method"] == "signatures"
    # Every layer resting on TensorRT's documentation (the convolution fusions) is what the engine built.
    documented = comparison["calibration"]["documented"]
    assert documented["total"] >= 3 + 4 + 6 + 3 and documented["matched"] == documented["total"]
