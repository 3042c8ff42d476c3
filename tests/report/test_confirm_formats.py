"""Confirm results in every format, for every way the confirm side reads an engine.

Each case pairs a model with real TensorRT artifacts from ../shared/data/trt-artifacts: layer information
of a TensorRT 8.x engine with its profile (another export: compared by layer signatures), a 10.x layer
JSON of the very model (compared by node names), a profile alone, a trtexec log alone, and a 10.x build
log's layers with its profile log. TensorRT 11.x has no real engine here: that case uses a layer JSON built
by hand from the documented 11.x field list (said so below). Every format (json, rich, markdown, html,
github, concise, sarif) must show the agreement, the hottest layer, the diagnoses, and the missed and
unpredicted layers; SARIF must stay valid against the 2.1.0 schema.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from trtadvisor.api import AuditResult, audit
from trtadvisor.confirm.stage import confirm_into
from trtadvisor.report.formats import FORMATS, FormatOptions, get_formatter

from conftest import REPO, SARIF_SCHEMA, artifact, sample_path, samples_where

RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
LENET = REPO / "samples" / "real_pairs" / "lenet.dynamo.opset18.onnx"
A100_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
COOKBOOK = "trt-cookbook/trt10.16.1/"
LENET_TARGET = {"trt": "10.16", "gpu": "H100", "precision": "fp32"}  # the cookbook's H100 build (SOURCES.md)

# NOT a real TensorRT artifact: no 11.x engine is available here. Built by hand from the field list of the
# IEngineInspector 10.x -> 11.x migration page (../shared/reference/tensorrt-11.md, 'Engine inspector and
# profiles'): one detailed layer and the 'I/O Tensors' entry that replaces 'Bindings'.
TRT11_LAYERS = {
    "Layers": [{"Name": "conv1 + relu", "LayerType": "CaskConvolution",
                "Inputs": [{"Name": "input", "Dimensions": [-1, 3, 224, 224], "Format/Datatype": "Half"}],
                "Outputs": [{"Name": "x1", "Dimensions": [-1, 64, 112, 112], "Format/Datatype": "Half"}]}],
    "I/O Tensors": [{"Name": "input", "IOMode": "Input", "DataType": "Half", "Dimensions": [-1, 3, 224, 224],
                     "Location": "Device", "IsShapeInferenceIO": False}],
}


@dataclass(frozen=True)
class Case:
    model: Path
    target: tuple[tuple[str, str], ...]
    artifacts: tuple[tuple[str, str], ...]  # confirm_into keyword -> path under the shared artifacts


CASES = {
    "8.x-layer-info-and-profile": Case(RESNET, (), (("layer_info", A100_FP16 + "graph.json"),
                                                    ("profile", A100_FP16 + "profile.json"))),
    "8.x-profile-only": Case(RESNET, (), (("profile", A100_FP16 + "profile.json"),)),
    "10.x-layer-info": Case(LENET, tuple(LENET_TARGET.items()),
                            (("layer_info", COOKBOOK + "model-trained-exportLayerInfo.json"),)),
    "10.x-log-only": Case(LENET, tuple(LENET_TARGET.items()), (("log", COOKBOOK + "result-05-dumpProfile.log"),)),
    "10.x-build-log-and-profile-log": Case(LENET, tuple(LENET_TARGET.items()),
                                           (("layer_info", COOKBOOK + "result-02-build-verbose.log"),
                                            ("log", COOKBOOK + "result-05-dumpProfile.log"))),
    "11.x-documented-fields": Case(RESNET, (), (("layer_info", "<11.x fixture>"),)),
}


_TMP = tempfile.TemporaryDirectory(prefix="trtadvisor-confirm-formats-")


@cache
def confirmed(name: str) -> AuditResult:
    case = CASES[name]
    result = audit(case.model, **dict(case.target))
    paths = {}
    for key, relative in case.artifacts:
        if relative == "<11.x fixture>":
            path = Path(_TMP.name) / "documented-11x-fields.layers.json"
            path.write_text(json.dumps(TRT11_LAYERS))
            paths[key] = str(path)
        else:
            paths[key] = str(artifact(relative))
    confirm_into(result, **paths)
    return result


def _profile_slowest(relative: str) -> str:
    records = [r for r in json.loads(artifact(relative).read_text()) if isinstance(r, dict) and "name" in r]
    return str(max(records, key=lambda r: r["medianMs"])["name"])


def _log_slowest(relative: str) -> str:
    """The layer with the largest median in the TensorRT 10 '--dumpProfile' table of a log."""
    rows = re.findall(r"\[I\]\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+(\S.*)$", artifact(relative).read_text(),
                      re.MULTILINE)
    rows = [row for row in rows if row[1].strip() != "Total"]  # the table closes with its total
    return max(rows, key=lambda row: float(row[0]))[1].strip()


def expected(name: str) -> dict[str, Any]:
    """What each format must show, from the artifacts themselves and the contract fields of the result."""
    fields = confirmed(name).contract_fields()
    comparison = fields["comparison"]
    out: dict[str, Any] = {
        "agreement": f"{100 * comparison['agreement']:.0f}%",
        "diagnoses": [(d["rule"], d["code"]) for d in fields["diagnosis"]],
        "missed": comparison["missed"][:1], "unpredicted": comparison["unpredicted"][:1],
        "other_kind": comparison["kind_mismatches"][:1],
        "hottest": None,
    }
    case = dict(CASES[name].artifacts)
    if "profile" in case:
        out["hottest"] = _profile_slowest(case["profile"])
    elif "log" in case:
        out["hottest"] = _log_slowest(case["log"])
    return out


def test_cases_cover_every_reader_and_both_comparison_methods() -> None:
    methods = {confirmed(name).contract_fields()["comparison"]["method"] for name in CASES}
    assert methods == {"names", "signatures"}
    # every kind of disagreement is among the cases: missed, unpredicted, and the same nodes as another kind
    comparisons = [confirmed(name).contract_fields()["comparison"] for name in CASES]
    assert all(any(c[key] for c in comparisons) for key in ("missed", "unpredicted", "kind_mismatches"))
    assert {key for case in CASES.values() for key, _ in case.artifacts} == {"layer_info", "profile", "log"}


def test_expected_values_come_from_the_artifacts() -> None:
    # The TREx A100 FP16 engine was built from another ResNet-18 export: its classifier is one Gemm layer
    # (Gemm_48) where the torchscript export has Flatten + Gemm; its first conv is the slowest layer.
    a = expected("8.x-layer-info-and-profile")
    assert a["hottest"] == "Conv_0 + Relu_1"
    assert a["missed"][0]["predicted_ops"] == ["Flatten", "Gemm"] and a["missed"][0]["nodes"]
    assert a["unpredicted"][0]["engine_layer"] == "Gemm_48"
    assert ("engine-from-another-export", "TRT611") in a["diagnoses"]
    # The cookbook profile log: per-layer times in the same run as the end-to-end timing (TRT610).
    assert expected("10.x-log-only")["hottest"] == "node_conv2d_1_myl3_1"
    assert ("profile-without-separate-run", "TRT610") in expected("10.x-log-only")["diagnoses"]
    # The 10.16 layer JSON was built from this very LeNet export: compared node by node, all agree.
    assert expected("10.x-layer-info")["agreement"] == "100%"


def test_disagreements_have_engine_rule_codes() -> None:
    from trtadvisor.knowledge.rulebook import default_rulebook

    rules = default_rulebook().tables["engine.toml"]["rule"]
    # raised on the TREx A100 FP16 engine above (test_expected_values_come_from_the_artifacts)
    assert rules["TRT612"]["id"] == "predicted-layer-missed"
    assert rules["TRT613"]["id"] == "engine-layer-unpredicted"


def _label(item: dict[str, Any]) -> str:
    if item.get("predicted"):
        return str(item["predicted"])
    return " + ".join(item.get("predicted_ops") or item.get("ops") or [])


def render(fmt: str, name: str) -> str:
    text = get_formatter(fmt, FormatOptions(root=REPO, width=200)).format(confirmed(name))
    if fmt == "markdown":  # Markdown escapes its special characters in names: read it unescaped
        text = re.sub(r"\\(.)", r"\1", text)
    if fmt == "html":
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    if fmt == "github":  # workflow commands percent-encode ',' ':' and line breaks
        text = text.replace("%2C", ",").replace("%3A", ":").replace("%0A", "\n").replace("%25", "%")
    return re.sub(r"\s+", " ", text) if fmt in ("rich", "html") else text


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["rich", "markdown", "html", "github"])
def test_human_formats_show_every_confirm_result(fmt: str, name: str) -> None:
    want = expected(name)
    text = render(fmt, name)
    assert want["agreement"] in text
    if want["hottest"]:
        assert want["hottest"] in text
    for rule, _ in want["diagnoses"]:
        assert rule in text
    for item in want["missed"]:
        assert _label(item) in text
    for item in want["unpredicted"]:
        assert item["engine_layer"] in text
    for item in want["other_kind"]:  # same nodes, built as another kind of layer (Myelin or classic)
        assert item["predicted"] in text
    check = confirmed(name).contract_fields().get("cost_check")
    if check is not None and check["spearman"] is not None:
        assert f"Spearman {check['spearman']:.2f} over {check['paired_layers']} paired layers" in text
        assert check["pairs"][0]["engine_layer"] in text


@pytest.mark.parametrize("name", sorted(CASES))
def test_concise_gives_one_coded_line_per_confirm_result(name: str) -> None:
    want = expected(name)
    *lines, summary = render("concise", name).splitlines()
    assert all(re.search(r": TRT\d{3} (error|warning|info) ", line) for line in lines)
    assert summary.startswith("Found ") and f"agreement {want['agreement']}" in summary
    if want["hottest"]:
        assert want["hottest"] in summary
    codes = [re.search(r": (TRT\d{3}) ", line).group(1) for line in lines]  # type: ignore[union-attr]
    for _, code in want["diagnoses"]:
        assert code in codes
    fields = confirmed(name).contract_fields()
    comparison = fields["comparison"]
    assert codes.count("TRT612") == len(comparison["missed"]) + len(comparison["kind_mismatches"])
    assert codes.count("TRT613") == len(fields["comparison"]["unpredicted"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_sarif_holds_confirm_results_and_stays_valid(name: str) -> None:
    log = json.loads(render("sarif", name))
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    run = log["runs"][0]
    rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    fields = confirmed(name).contract_fields()
    confirm = run["properties"]["confirm"]
    assert f"{100 * confirm['comparison']['agreement']:.0f}%" == expected(name)["agreement"]
    assert confirm["comparison"]["missed"] == len(fields["comparison"]["missed"])
    if expected(name)["hottest"]:
        assert confirm["hot_layers"][0]["layer"] == expected(name)["hottest"]
    engine_results = [r for r in run["results"] if "confirm" in r["properties"]]
    assert all(r["ruleId"] in rule_ids and r["locations"] for r in engine_results)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in engine_results:
        by_kind.setdefault(r["properties"]["confirm"], []).append(r)
    assert [r["ruleId"] for r in by_kind.get("diagnosis", [])] == [code for _, code in expected(name)["diagnoses"]]
    assert len(by_kind.get("missed", [])) == len(fields["comparison"]["missed"])
    assert len(by_kind.get("unpredicted", [])) == len(fields["comparison"]["unpredicted"])
    assert len(by_kind.get("other-kind", [])) == len(fields["comparison"]["kind_mismatches"])
    for r in by_kind.get("missed", []):  # a missed layer sits at its model nodes
        assert r["ruleId"] == "TRT612" and r["locations"][0]["logicalLocations"][0]["name"] in r["properties"]["nodes"]
    fingerprints = [r["partialFingerprints"]["trtadvisor/v1"] for r in engine_results]
    assert len(set(fingerprints)) == len(fingerprints)


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_holds_the_contract_fields(name: str) -> None:
    data = json.loads(render("json", name))
    assert {"engine", "bottlenecks", "diagnosis", "comparison"} <= set(data)
    assert f"{100 * data['comparison']['agreement']:.0f}%" == expected(name)["agreement"]


def test_every_format_is_covered() -> None:
    assert set(FORMATS) == {"json", "rich", "markdown", "html", "github", "concise", "sarif"}


def _a100_confirmed() -> AuditResult:
    result = audit(RESNET, trt="8.6", gpu="A100 80GB PCIe", precision="fp16")
    confirm_into(result, layer_info=str(artifact(A100_FP16 + "graph.json")),
                 profile=str(artifact(A100_FP16 + "profile.json")))
    return result


def test_cost_check_pairs_predicted_with_measured_layer_times() -> None:
    """The A100 FP16 ResNet-18 engine against a prediction for that GPU: every compute layer paired (20
    convolutions, two pools, the FC), the measured times are the profile's medians, the slowest first."""
    check = _a100_confirmed().contract_fields()["cost_check"]
    records = [r for r in json.loads(artifact(A100_FP16 + "profile.json").read_text())
               if isinstance(r, dict) and "name" in r]
    median = {r["name"]: r["medianMs"] for r in records}
    assert check["paired_layers"] == len(check["pairs"]) == 23
    assert check["measured_total_ms"] == pytest.approx(sum(median.values()), rel=1e-5)
    assert check["pairs"][0]["engine_layer"] == _profile_slowest(A100_FP16 + "profile.json")
    for pair in check["pairs"]:
        assert pair["measured_ms"] == pytest.approx(median[pair["engine_layer"]], rel=1e-5)
    assert check["gpu"] == "A100" and check["precision"] == "fp16"
    assert check["spearman"] >= 0.8  # issue 16's done-when, as the report states it


@pytest.mark.parametrize("fmt", ["rich", "markdown", "html", "github", "concise"])
def test_cost_check_in_every_format(fmt: str) -> None:
    result = _a100_confirmed()
    check = result.contract_fields()["cost_check"]
    text = get_formatter(fmt, FormatOptions(root=REPO, width=160)).format(result)
    text = re.sub(r"\\(.)", r"\1", text) if fmt == "markdown" else text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)) if fmt == "html" else text)
    assert f"Spearman {check['spearman']:.2f} over 23 paired layers" in text
    assert f"predicted {check['predicted_total_ms']:.3f} ms vs measured {check['measured_total_ms']:.3f} ms" in text
    if fmt in ("rich", "markdown", "html"):  # the per-layer table, slowest measured first
        assert "Conv_0 + Relu_1" in text and "/conv1/Conv + /relu/Relu" in text


def test_sarif_and_json_carry_the_cost_check() -> None:
    result = _a100_confirmed()
    data = json.loads(get_formatter("json", FormatOptions(root=REPO)).format(result))
    jsonschema.validate(data, json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text()))
    log = json.loads(get_formatter("sarif", FormatOptions(root=REPO)).format(result))
    assert log["runs"][0]["properties"]["confirm"]["cost_check"]["spearman"] == data["cost_check"]["spearman"]


def test_cost_check_says_when_the_engine_ran_on_another_gpu() -> None:
    """The cookbook log names its GPU (NVIDIA H100 PCIe); a prediction for an A100 is not compared in time."""
    result = audit(LENET, trt="10.16", gpu="A100", precision="fp16", shapes={"x": (4, 1, 28, 28)})  # its opt shape
    confirm_into(result, log=str(artifact(COOKBOOK + "result-05-dumpProfile.log")))
    check = result.contract_fields()["cost_check"]
    assert check["engine_gpu"] == "NVIDIA H100 PCIe" and check["gpu"] == "A100"
    text = get_formatter("markdown", FormatOptions(root=REPO)).format(result)
    assert "measured on NVIDIA H100 PCIe (another GPU: compare the ranks, not the times" in text
