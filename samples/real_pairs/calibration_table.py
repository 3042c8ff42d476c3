#!/usr/bin/env python3
"""Hold the prediction against every real pair and print the calibration table (confidence -> matched/total).

Run from the repository root with ../shared beside it:

    PYTHONPATH=$PWD python samples/real_pairs/calibration_table.py                   # as the rules stand
    PYTHONPATH=$PWD python samples/real_pairs/calibration_table.py --leave-one-out   # each engine held out

"observed" layers are, by definition, what a recorded engine of the same build showed, so the plain table
scores them against the very engines they were read from; ``--leave-one-out`` takes each pair's engine out
of rules/observed_engines.toml before auditing it, which is the figure to trust for a build not recorded yet.

A pair is a rebuilt ONNX file and a real engine of it (samples/README.md, "real_pairs"). Each is audited
for the build its engine was made with (version, GPU, precision, shape profile, optimization level, read
from the engine's own log where it has one) and compared: node by node where the names match, by layer
signature otherwise. A layer counts as matched when the engine built the same nodes (or op types) as one
layer of the same kind, Myelin or classic.

The QAT mirrors of samples/qdq are held against their engines by tests/qdq/test_engine_signatures.py
(signatures equal); they are not counted here: their names-only engines leave the DequantizeLinear nodes
out of layer names, so node sets cannot be compared.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ART = REPO.parent / "shared" / "data" / "trt-artifacts"
LENET = REPO / "samples" / "real_pairs" / "lenet.dynamo.opset18.onnx"
PROFILE = {"x": (4, 1, 28, 28)}  # --optShapes of the cookbook's min/opt/max builds
COOKBOOK = "trt-cookbook/"

# (label, model, audit target, artifact kind, artifact path under trt-artifacts/)
PAIRS: list[tuple[str, Path, dict[str, Any], str, str]] = [
    ("LeNet 10.14 Ada FP32 static", LENET, {"trt": "10.14", "gpu": "RTX 6000 Ada", "precision": "fp32"},
     "layer_info", COOKBOOK + "trt10.14.1/model-trained-exportLayerInfo.json"),
    ("LeNet 10.16 H100 FP32 static", LENET, {"trt": "10.16", "gpu": "H100", "precision": "fp32"},
     "layer_info", COOKBOOK + "trt10.16.1/model-trained-exportLayerInfo.json"),
    ("LeNet 10.14 Ada FP16 dynamic L5", LENET, {"trt": "10.14", "gpu": "RTX 6000 Ada", "precision": "fp16",
                                                "shapes": PROFILE, "shape_mode": "dynamic", "opt_level": 5},
     "log", COOKBOOK + "trt10.14.1/result-02-build-verbose.log"),
    ("LeNet 10.16 H100 FP16 dynamic L5", LENET, {"trt": "10.16", "gpu": "H100", "precision": "fp16",
                                                 "shapes": PROFILE, "shape_mode": "dynamic", "opt_level": 5},
     "log", COOKBOOK + "trt10.16.1/result-02-build-verbose.log"),
    ("LeNet 10.16 H100 FP16 dynamic (Python)", LENET, {"trt": "10.16", "gpu": "H100", "precision": "fp16",
                                                       "shapes": PROFILE, "shape_mode": "dynamic"},
     "layer_info", COOKBOOK + "trt10.16.1/EngineInspector-python-oneline.log"),
    ("LeNet 8.6 RTX 3090 FP16 dynamic (other export)", LENET,
     {"trt": "8.6", "gpu": "RTX 3090", "precision": "fp16", "shapes": PROFILE, "shape_mode": "dynamic"},
     "log", COOKBOOK + "trt8.6.0/result-02-build-verbose.log"),
    ("LeNet 8.4 GTX 1070 FP32 (other export)", LENET,
     {"trt": "8.4", "gpu": "GTX 1070", "precision": "fp32", "shapes": PROFILE, "shape_mode": "dynamic"},
     "log", COOKBOOK + "trt8.4.1/result-FP32-build-verbose.log"),
    ("LeNet 8.4 GTX 1070 FP16 (other export)", LENET,
     {"trt": "8.4", "gpu": "GTX 1070", "precision": "fp16", "shapes": PROFILE, "shape_mode": "dynamic"},
     "log", COOKBOOK + "trt8.4.1/result-FP16-build-verbose.log"),
    ("ResNet-18 A100 FP32", REPO / "samples/cnn/resnet18.torchscript.opset17.onnx",
     {"trt": "8.5", "gpu": "A100", "precision": "fp32"}, "layer_info",
     "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json"),
    ("ResNet-18 A100 FP16", REPO / "samples/cnn/resnet18.torchscript.opset17.onnx",
     {"trt": "8.5", "gpu": "A100", "precision": "fp16"}, "layer_info",
     "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json"),
    ("Keras ResNet-50 RTX 3090 FP32", REPO / "samples/real_pairs/keras_resnet50.tf2onnx.opset13.onnx",
     {"trt": "8.5", "gpu": "RTX 3090", "precision": "fp32"}, "layer_info",
     "trex/examples/tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine.graph.json"),
    ("Keras ResNet-50 RTX 3090 FP16", REPO / "samples/real_pairs/keras_resnet50.tf2onnx.opset13.onnx",
     {"trt": "8.5", "gpu": "RTX 3090", "precision": "fp16"}, "layer_info",
     "trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.graph.json"),
    ("LeViT-128S 8.2 RTX 3050 Ti FP32", REPO / "samples/real_pairs/levit_128s.torchscript.opset13.onnx",
     {"trt": "8.2", "gpu": "RTX 3050 Ti", "precision": "fp32"}, "layer_info",
     "trt2022-levit/levit128S.exportLayerInfo-namesonly.json"),
]


def _without_engine(book: Any, path: str) -> Any:
    """The rule book with the engine recorded from ``path`` taken out (a held-out check)."""
    import dataclasses

    data = book.tables.get("observed_engines.toml", {})
    engines = {k: v for k, v in data.get("engine", {}).items() if not str(v["artifact"]).endswith(path)}
    return dataclasses.replace(book, tables={**book.tables, "observed_engines.toml": {**data, "engine": engines}})


def main() -> int:
    from trtadvisor.api import audit
    from trtadvisor.confirm.stage import confirm_into
    from trtadvisor.knowledge.rulebook import default_rulebook

    held_out = "--leave-one-out" in sys.argv[1:]
    if held_out:
        print("Each engine left out of rules/observed_engines.toml while its own pair is audited.\n")
    levels = ("observed", "documented", "inferred")
    total = {level: [0, 0] for level in levels}
    print("| pair | method | agreement (nodes+kind) | nodes only | observed | documented | inferred | engine "
          "layers exact / alternative / neither |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for label, model, target, kind, path in PAIRS:
        book = _without_engine(default_rulebook(), path) if held_out else default_rulebook()
        result = audit(model, book=book, **target)
        confirm_into(result, **{kind: str(ART / path)})
        c = result.contract_fields()["comparison"]
        cells = []
        for level in levels:
            row = c["calibration"].get(level, {"matched": 0, "total": 0})
            total[level][0] += row["matched"]
            total[level][1] += row["total"]
            cells.append(f"{row['matched']}/{row['total']}")
        explained = c.get("explained") or {}
        spread = (f"{explained['exact']} / {explained['alternative']} / {explained['neither']}"
                  if explained else "-")
        print(f"| {label} | {c['method']} | {c['agreement']:.2f} | {c['grouping_agreement']:.2f} | "
              f"{' | '.join(cells)} | {spread} |")
    print()
    print("| confidence | matched / total | share |")
    print("|---|---:|---:|")
    for level in levels:
        matched, count = total[level]
        print(f"| {level} | {matched} / {count} | {matched / count:.0%} |" if count else f"| {level} | 0 / 0 | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
