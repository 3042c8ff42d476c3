"""Shared test helpers: where the real TensorRT artifacts and the exported samples live."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARTIFACTS = SHARED / "data" / "trt-artifacts"
SARIF_SCHEMA = SHARED / "data" / "sarif" / "sarif-schema-2.1.0.json"
SAMPLES = REPO / "samples"


def artifact(relative: str) -> Path:
    """A file under ../shared/data/trt-artifacts; skip when it is absent locally, fail when absent in CI.

    CI (CI=true) must run every artifact test: a missing ../shared there is a broken checkout, not a pass.
    """
    path = ARTIFACTS / relative
    if not path.exists():
        unavailable(f"shared TensorRT artifact not available: {relative} (check out ../shared beside the repo)")
    return path


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def unavailable(reason: str) -> None:
    """Something a test needs is missing: skip on a developer machine, fail in CI (CI=true), where it is a bug."""
    if in_ci():
        pytest.fail(f"{reason} [CI=true: a missing prerequisite fails the run]")
    pytest.skip(reason)


def sample_registry() -> list[dict[str, Any]]:
    """The [[sample]] tables of samples/registry.toml (architecture facts from the torch side)."""
    with (SAMPLES / "registry.toml").open("rb") as fh:
        return list(tomllib.load(fh).get("sample", []))


def samples_where(**match: Any) -> list[dict[str, Any]]:
    return [s for s in sample_registry() if all(s.get(k) == v for k, v in match.items())]


def sample_path(entry: dict[str, Any]) -> Path:
    return REPO / entry["path"]


def judged_site(nodes: list[str], *, head_size: int, fused: bool, reasons: tuple[str, ...] = (),
                mask: str | None = None) -> Any:
    """An attention site with its verdict as the attention advisor records it (AuditResult.attention), for
    tests that give a result verdicts its model does not have: 12 heads, sequence 128, BERT-like."""
    from trtadvisor.advice.notes import JudgedSite
    from trtadvisor.analysis.attention_sites import AttentionSite
    from trtadvisor.analysis.mha_rules import Verdict

    site = AttentionSite(
        nodes=tuple(nodes), anchor=nodes[-1], native=False, batch=1, num_heads=12, num_kv_heads=12,
        kv_heads_seen=12, head_size=head_size, seq_q=128, seq_kv=128, causal=False, mask=mask, mask_extent=None,
        mask_shape=None, bias=False, scale="scores", repeated_kv=False, repeat_nodes=(), windowed=False,
        num_windows=None, qdq=False, qdq_types=(), mask_inputs=())
    return JudgedSite(site, Verdict(fused=fused, reasons=() if fused else reasons, fixes=(), precision="fp16"))


def save_checked_model(path: Path, nodes: list[Any], inputs: list[Any], outputs: list[Any],
                       initializers: list[Any], opset: int = 17) -> Path:
    """A one-graph model of ``nodes`` (helper.make_node) at ``opset``, checked by ONNX's checker, saved at ``path``."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
