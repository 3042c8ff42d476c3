"""ConvNeXt V2's global response normalization (GRN), as both torch exporters write it.

timm's ``convnextv2_atto`` has stages of 2-2-6-2 blocks; each block ends in GRN, x + (gamma * (x * Nx) + beta)
with per-channel gamma and beta. Its affine is two per-channel ops, which TensorRT's ScaleScaleFusion makes
one Scale layer (rules/fusions.toml [fusion."scale+scale"]). The TorchScript exporter writes
``addcmul(beta, gamma, t)`` with a Mul by addcmul's value 1 between the two, which the builder erases
([fusion."scale-noop"]) before it fuses: the engine is the one the dynamo export (no Mul by 1) gives.
"""

from __future__ import annotations

from collections import Counter

import pytest

from trtadvisor.api import AuditResult, audit

from conftest import SAMPLES

WILD = SAMPLES / "wild"
DEPTHS = (2, 2, 6, 2)  # timm convnextv2_atto: blocks per stage, one GRN each
GRN_BLOCKS = sum(DEPTHS)
EXPORTS = {"torchscript": WILD / "convnextv2_atto_grn.onnx", "dynamo": WILD / "convnextv2_atto_grn.dynamo.onnx"}


@pytest.fixture(scope="module")
def results() -> dict[str, AuditResult]:
    return {name: audit(path, trt="10.16", sm="90", precision="fp16") for name, path in EXPORTS.items()}


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_each_grn_affine_is_one_scale_layer(results: dict[str, AuditResult], export: str) -> None:
    scales = [layer for layer in results[export].prediction.layers if "scale+scale" in layer.fusions]
    assert len(scales) == GRN_BLOCKS
    assert all(layer.ops == ("Mul", "Add") for layer in scales)


def test_torchscript_mul_by_one_is_erased(results: dict[str, AuditResult]) -> None:
    prediction = results["torchscript"].prediction
    erased = [name for name in prediction.eliminated if "identity scale" in prediction.eliminated_reasons[name]]
    assert len(erased) == GRN_BLOCKS


def test_both_exports_predict_the_same_engine(results: dict[str, AuditResult]) -> None:
    kinds = {name: Counter(layer.kind for layer in result.prediction.layers) for name, result in results.items()}
    assert kinds["torchscript"] == kinds["dynamo"]
