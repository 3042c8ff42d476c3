"""Hold the cost model against every real profile whose ONNX we can rebuild, and fit its efficiencies.

    python benchmarks/calibrate_cost.py          # the table of the README's "Predicted cost" section
    python benchmarks/calibrate_cost.py --fit    # refit rules/gpu_perf.toml [efficiency] on the engines
                                                 # marked fit=True below, print the values to paste

Each engine: the sample ONNX that rebuilds its model, the TensorRT artifacts (layer info and
``--exportProfile``), the GPU and precision it was built for. Predicted layers are paired with
engine layers by trtadvisor/confirm/cost_check.py; Spearman's rank correlation is over the paired
layers, the ratio is the predicted total over the sum of every profiled layer's median.
Only the engines marked fit=True shape the efficiencies; every other row is held out.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ARTIFACTS = REPO.parent / "shared" / "data" / "trt-artifacts"

from trtadvisor.api import audit  # noqa: E402
from trtadvisor.confirm.artifacts import load_engine  # noqa: E402
from trtadvisor.confirm.cost_check import CostCheck, check_costs  # noqa: E402
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook  # noqa: E402
from trtadvisor.plan.cost import estimate_costs  # noqa: E402


@dataclass(frozen=True)
class Engine:
    label: str
    onnx: str  # under the repository
    artifacts: str  # prefix under ../shared/data/trt-artifacts: +.graph.json / +.profile.json
    gpu: str
    precision: str
    trt: str = "8.6"
    shapes: dict[str, tuple[int, ...]] | None = None
    fit: bool = False
    log: str | None = None  # a trtexec --dumpProfile log instead of the JSON files (under artifacts)
    batch: int | None = None  # the engine ran at another batch than the sample's static one
    same_export: bool = True  # the log's layers are named after the sample's nodes (else paired by op sequence)


A100 = "trex/examples/pytorch/resnet/A100"
ENGINES = (
    Engine("ResNet-18 A100 FP32 b32", "samples/cnn/resnet18.torchscript.opset17.onnx",
           f"{A100}/fp32/resnet.onnx.engine", "A100 80GB PCIe", "fp32", fit=True),
    Engine("ResNet-18 A100 FP16 b32", "samples/cnn/resnet18.torchscript.opset17.onnx",
           f"{A100}/fp16/resnet.onnx.engine", "A100 80GB PCIe", "fp16"),
    Engine("ResNet-18 QAT A100 INT8 b32", "samples/qdq/resnet18_qat.onnx",
           f"{A100}/qat/resnet-qat.onnx.engine", "A100 80GB PCIe", "best"),
    Engine("ResNet-18 QAT+residual A100 INT8 b32", "samples/qdq/resnet18_qat_residual.onnx",
           f"{A100}/qat-residual/resnet-qat-residual.onnx.engine", "A100 80GB PCIe", "best"),
    Engine("ResNet-18 QAT+residual+GAP A100 INT8 b32", "samples/qdq/resnet18_qat_residual_qgap.onnx",
           f"{A100}/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine", "A100 80GB PCIe", "best"),
    Engine("ResNet-50 (Keras, tf2onnx) RTX 3090 FP32 b32", "samples/wild/tf2onnx_resnet50.onnx",
           "trex/examples/tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine", "RTX 3090", "fp32"),
    Engine("ResNet-50 (Keras, tf2onnx) RTX 3090 FP16 b32", "samples/wild/tf2onnx_resnet50.onnx",
           "trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine", "RTX 3090", "fp16"),
    Engine("LeNet 10.16 H100 PCIe FP16 b4", "samples/real_pairs/lenet.dynamo.opset18.onnx", "", "H100 PCIe", "fp16",
           trt="10.16", shapes={"x": (4, 1, 28, 28)}, log="trt-cookbook/trt10.16.1/result-05-dumpProfile.log"),
    Engine("LeNet 10.14 RTX 6000 Ada FP16 b4", "samples/real_pairs/lenet.dynamo.opset18.onnx", "", "RTX 6000 Ada",
           "fp16", trt="10.14", shapes={"x": (4, 1, 28, 28)}, log="trt-cookbook/trt10.14.1/result-05-dumpProfile.log"),
    Engine("MobileNet-v2 QAT TITAN RTX INT8 b1", "samples/qdq/mobilenet_v2_qat.onnx",
           "trex/tests/inputs/mobilenet.qat.onnx.engine", "TITAN RTX", "best", batch=1),
    Engine("MobileNet-v2 QAT+residual TITAN RTX INT8 b1", "samples/qdq/mobilenet_v2_qat_residuals.onnx",
           "trex/tests/inputs/mobilenet_v2_residuals.qat.onnx.engine", "TITAN RTX", "best",
           batch=1),
    # Built from another export of LeViT (Conv_0, MatMul_38): paired by op sequence. TensorRT 8.2 prints
    # no median, so the measured times are the profile table's averages.
    Engine("LeViT-128S 8.2 RTX 3050 Ti Laptop FP32 b16", "samples/real_pairs/levit_128s.torchscript.opset13.onnx",
           "", "RTX 3050 Ti", "fp32", trt="8.2", same_export=False,
           log="trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log"),
)


def check(engine: Engine, book: RuleBook) -> CostCheck | None:
    model = REPO / engine.onnx
    graph_json = ARTIFACTS / f"{engine.artifacts}.graph.json"
    profile = ARTIFACTS / f"{engine.artifacts}.profile.json"
    log = ARTIFACTS / engine.log if engine.log else None
    if not model.exists() or not (profile.exists() or (log and log.exists())):
        return None
    if engine.batch is not None:
        model = _at_batch(model, engine.batch)
    result = audit(model, trt=engine.trt, gpu=engine.gpu, precision=engine.precision, shapes=engine.shapes,
                   book=book)
    estimate = estimate_costs(result.model.graph, result.prediction, result.target, book)
    nodes = [(n.name, n.op) for g in result.model.graph.walk() for n in g.nodes]
    if log is not None:  # the profile table of a trtexec log: Myelin kernels named after their nodes
        built = load_engine(log=log, onnx_nodes=[name for name, _ in nodes] if engine.same_export else None)
    else:
        built = load_engine(layer_info=graph_json if graph_json.exists() else None, profile=profile)
    return check_costs(result.prediction.layers, estimate.layers, built, nodes, set(result.prediction.eliminated))


def _at_batch(path: Path, batch: int) -> Path:
    """A copy of a static-batch sample at another batch: the first axis of every graph input and output
    set, the intermediate shapes dropped for shape inference to redo (structure only, weights absent)."""
    import tempfile

    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].dim_value = batch
    del model.graph.value_info[:]
    out = Path(tempfile.mkdtemp()) / path.name
    onnx.save(model, str(out))
    return out


def _with_efficiency(book: RuleBook, changes: dict[tuple[str, ...], float]) -> RuleBook:
    tables = dict(book.tables)
    perf = copy.deepcopy(tables["gpu_perf.toml"])
    for path, value in changes.items():
        table = perf["efficiency"]
        for key in path[:-1]:
            table = table[key]
        table[path[-1]] = value
    tables["gpu_perf.toml"] = perf
    return replace(book, tables=tables)


# The parameters the fit moves: the kinds the fitting engines exercise with more than one layer, and the
# two global terms (one tiny FC layer cannot tell a GEMM efficiency from the launch overhead).
PARAMETERS = (("kind", "convolution", "compute"), ("kind", "convolution", "memory"), ("kind", "pooling", "memory"),
              ("cuda_core",), ("overhead_ms",))
GRID = {"overhead_ms": [0.001 * k for k in range(0, 16)]}


def _loss(checks: list[CostCheck]) -> float:
    return sum(math.log(p.predicted_ms / p.measured_ms) ** 2 for c in checks for p in c.pairs if p.measured_ms > 0)


def fit(book: RuleBook) -> dict[tuple[str, ...], float]:
    engines = [e for e in ENGINES if e.fit]
    current: dict[tuple[str, ...], float] = {}
    for path in PARAMETERS:
        table = book.tables["gpu_perf.toml"]["efficiency"]
        for key in path:
            table = table[key]
        current[path] = float(table)  # type: ignore[arg-type]
    for _ in range(3):  # coordinate descent: a few sweeps settle it
        for path in PARAMETERS:
            grid = GRID.get(path[-1], [0.05 * k for k in range(2, 21)])
            scored = []
            for value in grid:
                trial = {**current, path: value}
                checks = [c for e in engines if (c := check(e, _with_efficiency(book, trial)))]
                scored.append((_loss(checks), value))
            current[path] = min(scored)[1]
    return current


def table(book: RuleBook) -> str:
    rows = ["| engine | paired layers | Spearman | predicted ms | measured ms | ratio | used in the fit |",
            "|---|---|---|---|---|---|---|"]
    for engine in ENGINES:
        result = check(engine, book)
        if result is None:
            rows.append(f"| {engine.label} | not available | | | | | |")
            continue
        rho = "n/a" if result.spearman is None else f"{result.spearman:.2f}"
        predicted = f"{result.predicted_total_ms:.3f}"
        if result.unknown_layers:  # a partial sum: say so rather than print a ratio that looks whole
            predicted += f" ({result.unknown_layers} layers unknown)"
        rows.append(f"| {engine.label} | {len(result.pairs)} | {rho} | {predicted} | "
                    f"{result.measured_total_ms:.3f} | {result.ratio:.2f} | {'yes' if engine.fit else 'no'} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the efficiencies and print them")
    args = parser.parse_args()
    book = default_rulebook()
    if args.fit:
        fitted = fit(book)
        for path, value in fitted.items():
            print(f"{'.'.join(path)} = {value:.3g}")
        book = _with_efficiency(book, fitted)
    print(table(book))


if __name__ == "__main__":
    main()
