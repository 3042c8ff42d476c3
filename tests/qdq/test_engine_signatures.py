"""The predicted engine of each Q/DQ mirror against the real TensorRT engine of the model it mirrors.

The mirrors' node names differ from the engines', so layers are compared by signature: the ONNX op
types each layer's name spells (``layer_signature``), standalone Q/DQ reformat layers included,
reformats and NoOps aside. Engine node names are ``Op_N`` (TorchScript exports), so their op types
are read from the names.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from typing import Any

import pytest

from trtadvisor.api import AuditResult, audit
from trtadvisor.confirm.compare import layer_signature
from trtadvisor.confirm.layer_info import read_layer_info
from trtadvisor.confirm.mapping import layer_role, map_engine, map_name
from trtadvisor.confirm.model import Engine
from trtadvisor.plan.context import PredictedLayer

from conftest import REPO, artifact, sample_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def qdq_registry() -> list[dict[str, Any]]:
    with (REPO / "samples" / "qdq" / "registry.toml").open("rb") as fh:
        return list(tomllib.load(fh)["sample"])


MIRRORS = [s for s in qdq_registry() if "engine" in s]


def engine_signature(engine: Engine) -> tuple[tuple[str, ...], ...]:
    ops = {node: re.sub(r"_\d+$", "", node) for layer in engine.layers for node in layer.onnx_nodes}
    return layer_signature(engine.layers, ops)


def predicted_signature(result: AuditResult) -> tuple[tuple[str, ...], ...]:
    graph = result.model.graph
    ops = {n.name: n.op for n in graph.nodes}
    order = [n.name for n in graph.nodes]
    layers = [PredictedLayer(layer.name, layer.kind, nodes, tuple(ops[n] for n in nodes), layer.fusions)
              for layer in result.prediction.layers for nodes in [tuple(map_name(layer.name, order))]]
    return layer_signature([layer for layer in layers if layer.ops])


def _load(entry: dict[str, Any]) -> tuple[Engine, AuditResult]:
    engine = map_engine(read_layer_info(artifact(entry["engine"])))
    # TREx's engines date from 2022 (TensorRT 8.4 era): Gemm still runs as a convolution there.
    sm = "80" if "A100" in entry["engine"] else "75"
    return engine, audit(sample_path(entry), trt="8.4", sm=sm)


@pytest.mark.parametrize("entry", MIRRORS, ids=lambda e: e["path"].rsplit("/", 1)[-1])
def test_signature_matches_engine(entry: dict[str, Any]) -> None:
    engine, result = _load(entry)
    expected, predicted = engine_signature(engine), predicted_signature(result)
    assert Counter(predicted) == Counter(expected)
    assert predicted == expected  # the same layers in the same order


@pytest.mark.parametrize("entry", MIRRORS, ids=lambda e: e["path"].rsplit("/", 1)[-1])
def test_standalone_qdq_layers_match_engine_and_architecture(entry: dict[str, Any]) -> None:
    engine, result = _load(entry)
    qdq_layers = [layer for layer in engine.layers if layer_role(layer) == "qdq"]
    engine_q = sum(1 for layer in qdq_layers if "QuantizeLinear" in layer.name)
    engine_dq = sum(1 for layer in qdq_layers if "DequantizeLinear" in layer.name)
    coverage = result.quantization
    assert coverage["standalone_q_layers"] == engine_q == entry["facts"]["standalone_q"]
    assert coverage["standalone_dq_layers"] == engine_dq == entry["facts"]["standalone_dq"]


@pytest.mark.parametrize("entry", MIRRORS, ids=lambda e: e["path"].rsplit("/", 1)[-1])
def test_predicted_int8_outputs_match_engine_formats(entry: dict[str, Any]) -> None:
    """Where a layer writes INT8 (an output Q fused into it), the engine's output format is Int8."""
    engine, result = _load(entry)
    raw = {layer["Name"]: layer for layer in _raw_layers(entry)}
    ops = {node: re.sub(r"_\d+$", "", node) for layer in engine.layers for node in layer.onnx_nodes}
    expected = Counter(
        (tuple(ops[n] for n in layer.onnx_nodes), "Int8" in raw[layer.name]["Outputs"][0]["Format/Datatype"])
        for layer in engine.layers if layer.onnx_nodes and layer_role(layer) in ("compute", "qdq"))
    graph = result.model.graph
    node_ops = {n.name: n.op for n in graph.nodes}
    order = [n.name for n in graph.nodes]
    predicted = Counter(
        (tuple(node_ops[n] for n in map_name(item["name"], order)), item["precision"].endswith("int8"))
        for item in result.quantization["layers"] if map_name(item["name"], order))
    assert predicted == expected


def _raw_layers(entry: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    return list(json.loads(artifact(entry["engine"]).read_text())["Layers"])


@pytest.mark.parametrize("entry", MIRRORS, ids=lambda e: e["path"].rsplit("/", 1)[-1])
def test_weighted_coverage_from_architecture(entry: dict[str, Any]) -> None:
    result = audit(sample_path(entry), trt="8.4", sm="80")
    weighted = result.quantization["weighted"]
    facts = entry["facts"]
    assert weighted["Conv"] == {"total": facts["convs"], "quantized": facts["quantized_convs"],
                                "fused": facts["quantized_convs"]}
    assert weighted["Gemm"]["quantized"] == facts["quantized_gemms"] == weighted["Gemm"]["fused"]
