"""Where the engine spends its time (bottlenecks) and what the performance summary says (diagnosis).

Diagnosis rules follow ``../shared/reference/tensorrt-best-practices.txt``: "Enqueue-Bound Workloads and
CUDA Graphs", "H2D/D2H Data Transfers and PCIe Bandwidth", "BlockingSync and SpinWait Synchronization
Modes" and "GPU Clock Locking and Floating Clock".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from trtadvisor.confirm.mapping import layer_role, strip_profile_suffix
from trtadvisor.confirm.model import Engine, EngineLayer

# trtexec warns "enqueue-bound" when the enqueue time reaches this share of the GPU compute time.
ENQUEUE_BOUND_RATIO = 0.8
TRANSFER_BOUND_SHARE = 0.30
UNSTABLE_P99_RATIO = 1.2
MYELIN_DOMINANT_PERCENT = 50.0
LARGEST_LAYER_PERCENT = 25.0

# Tactic name fragments of tensor-core kernels (HMMA/IMMA/QMMA/GMMA, cuDNN/cuBLAS tensor-op names).
_TENSOR_CORE = re.compile(r"hmma|imma|qmma|gmma|tensorop|s16816|h16816|i16832|1688|16816|8816|tf32", re.I)
_XMMA = re.compile(r"xmma", re.I)
_SCALAR_FMA = re.compile(r"ffma|_fp32_|f32f32_f32f32", re.I)

NSYS_COMMAND = (
    "nsys profile -o prof --capture-range cudaProfilerApi --cuda-graph-trace=node trtexec "
    "--loadEngine=<engine> --profilingVerbosity=detailed --warmUp=0 --duration=0 --iterations=50"
)


DEFAULT_TOP = 10  # hot layers ranked by default (``--top N``)


@dataclass(frozen=True)
class Bottleneck:
    """One hot layer: its time and share of the engine's time, and its cause and advice where one is known.

    ``rule`` is the cause's name (``None`` where no rule explains the time; ``why`` and ``advice`` are then
    empty: the layer is hot, and nothing more is known).
    """

    layer: str
    median_ms: float  # the per-inference time ranked by: the median where measured, else the average
    percent: float  # share of the sum of the same per-inference times
    why: str
    advice: str
    rule: str | None = "largest-layer"
    rank: int = 0  # 1 = the hottest layer
    type: str = ""
    onnx_nodes: tuple[str, ...] = ()
    measure: str = "median"  # "median" or "average": which time ``median_ms`` holds


@dataclass(frozen=True)
class Diagnosis:
    rule: str
    message: str
    evidence: str
    advice: str


@dataclass(frozen=True)
class LayerShare:
    layer: EngineLayer
    time_ms: float
    percent: float


def layer_shares(engine: Engine) -> list[LayerShare]:
    """Every timed layer with its per-inference time and share of the total, largest first.

    The share is computed from the same per-inference times that rank the layers (TensorRT's own
    ``percentage`` is a share of the summed ``timeMs`` instead, so it can disagree with the median).
    Ties keep engine order.
    """
    timed = [layer for layer in engine.layers if layer.time_ms is not None]
    total = sum(layer.time_ms or 0.0 for layer in timed)
    shares = [
        LayerShare(layer, layer.time_ms or 0.0, 100.0 * (layer.time_ms or 0.0) / total if total else 0.0)
        for layer in timed
    ]
    return sorted(shares, key=lambda share: share.time_ms, reverse=True)


def _op_of(node: str, op_types: dict[str, str] | None) -> str:
    """The op type of a node: from the model where known, else guessed from the exporter's name."""
    if op_types and node in op_types:
        return op_types[node]
    base = node.rsplit("/", 1)[-1]
    return re.sub(r"[_\-.:]?\d+$", "", base)


def _is_conv(layer: EngineLayer) -> bool:
    return "Convolution" in (layer.type or "") or (layer.raw.get("ParameterType") == "Convolution")


def _uses_tensor_cores(tactic: str) -> bool:
    return bool(_TENSOR_CORE.search(tactic)) or bool(_XMMA.search(tactic) and not _SCALAR_FMA.search(tactic))


def _conv_finding(layer: EngineLayer) -> tuple[str, str] | None:
    precision = layer.precision
    # Only a tactic *name* tells the kernel; bare tactic values (0x..., or decimal before 8.2) do not.
    tactic = layer.tactic or ""
    if precision not in ("fp16", "int8", "bf16", "fp8") or not re.search(
        r"[g-zG-Z_]", tactic.removeprefix("0x")
    ):
        return None
    if _uses_tensor_cores(tactic):
        return None
    multiple = 8 if precision in ("fp16", "bf16") else 32
    channels = [
        t.dims[1] for t in (*layer.inputs[:1], *layer.outputs[:1]) if len(t.dims) >= 2 and t.dims[1] > 0
    ]
    misaligned = sorted({c for c in channels if c % multiple})
    why = f"{precision.upper()} convolution runs tactic {tactic}, which is not a tensor-core kernel"
    if misaligned:
        why += f"; channels {misaligned} are not a multiple of {multiple}"
    advice = (
        f"pad input/output channels to a multiple of {multiple} ({precision.upper()} tensor cores need it), "
        "or check that the layer's precision was not forced; rebuild and compare the tactic name"
    )
    return why, advice


def _reformat_changes_type(layer: EngineLayer) -> bool:
    if not layer.inputs or not layer.outputs:
        return False
    before, after = layer.inputs[0].precision, layer.outputs[0].precision
    return before is not None and after is not None and before != after


def find_bottlenecks(
    engine: Engine, op_types: dict[str, str] | None = None, top: int | None = DEFAULT_TOP
) -> list[Bottleneck]:
    """The hottest layers, largest time first (``top`` of them; ``None`` for all), with their cause and advice
    where a rule knows one. Layers that took no time (NoOps, bookkeeping) are never ranked."""
    causes = {id(b.source): b for b in _causes(engine, op_types)}
    ranked: list[Bottleneck] = []
    for share in layer_shares(engine):
        if share.time_ms <= 0.0 or (top is not None and len(ranked) >= top):
            break
        layer = share.layer
        cause = causes.get(id(layer))
        ranked.append(Bottleneck(
            strip_profile_suffix(layer.name), share.time_ms, share.percent,
            cause.why if cause else "", cause.advice if cause else "", cause.rule if cause else None,
            rank=len(ranked) + 1, type=layer.type or "", onnx_nodes=tuple(layer.onnx_nodes),
            measure="median" if layer.median_ms is not None else "average"))
    return ranked


def find_causes(engine: Engine, op_types: dict[str, str] | None = None) -> list[Bottleneck]:
    """Every timed layer with a known cause of slowness, largest first (layers without times are skipped)."""
    return [c.bottleneck for c in _causes(engine, op_types)]


@dataclass(frozen=True)
class _Cause:
    source: EngineLayer
    bottleneck: Bottleneck

    @property
    def why(self) -> str:
        return self.bottleneck.why

    @property
    def advice(self) -> str:
        return self.bottleneck.advice

    @property
    def rule(self) -> str | None:
        return self.bottleneck.rule


def _causes(engine: Engine, op_types: dict[str, str] | None = None) -> list[_Cause]:
    """The rules that explain a layer's time, each layer explained once (the first rule that fires)."""
    shares = layer_shares(engine)
    findings: list[_Cause] = []
    seen: set[int] = set()

    def add(share: LayerShare, rule: str, why: str, advice: str) -> None:
        if id(share.layer) in seen:
            return
        seen.add(id(share.layer))
        layer = share.layer
        findings.append(_Cause(layer, Bottleneck(
            strip_profile_suffix(layer.name), share.time_ms, share.percent, why, advice, rule,
            type=layer.type or "", onnx_nodes=tuple(layer.onnx_nodes),
            measure="median" if layer.median_ms is not None else "average")))

    # Unfused attention: a Softmax layer of its own while MatMul layers exist beside it.
    def ops(layer: EngineLayer) -> set[str]:
        return {_op_of(node, op_types).lower() for node in layer.onnx_nodes}

    matmul_layers = [s for s in shares if "matmul" in ops(s.layer) and "softmax" not in ops(s.layer)]
    for share in shares:
        layer_ops = ops(share.layer)
        if (
            "softmax" in layer_ops
            and "matmul" not in layer_ops
            and matmul_layers
            and layer_role(share.layer) != "myelin"
        ):
            add(
                share,
                "unfused-attention",
                "attention is unfused: Softmax runs as its own layer between separate MatMul layers "
                f"({len(matmul_layers)} MatMul layers in the engine)",
                "let TensorRT fuse attention: export MatMul-Softmax-MatMul without casts/reshapes between "
                "them (opset >= 17, FP16/BF16); TensorRT >= 8.6 fuses MHA in Myelin; or use a plugin",
            )
    # Convolutions off tensor cores.
    for share in shares:
        if _is_conv(share.layer):
            finding = _conv_finding(share.layer)
            if finding:
                add(share, "conv-no-tensor-cores", *finding)
    # Reformats that change the data type.
    converting = [s for s in shares if layer_role(s.layer) == "reformat" and _reformat_changes_type(s.layer)]
    converting_share = sum(s.percent for s in converting)
    for share in converting:
        before, after = share.layer.inputs[0].precision, share.layer.outputs[0].precision
        add(
            share,
            "type-changing-reformat",
            f"reformat converts {before} -> {after}; {len(converting)} such reformats take "
            f"{converting_share:.1f}% of GPU time together",
            "keep neighbouring layers in one precision (check layer precision constraints and I/O formats: "
            "--inputIOFormats/--outputIOFormats), or give the engine I/O in the precision it computes in",
        )
    # Standalone Q/DQ layers.
    for share in shares:
        if layer_role(share.layer) == "qdq":
            add(
                share,
                "standalone-qdq",
                "a Quantize/Dequantize layer runs on its own instead of being fused into its neighbour",
                "move Q/DQ so every DequantizeLinear feeds a quantizable op (Conv, MatMul, residual Add) "
                "and every QuantizeLinear follows one; TensorRT then fuses them",
            )
    # A Myelin region taking most of the time.
    for share in shares:
        name = share.layer.name
        is_myelin = layer_role(share.layer) in ("myelin", "internal") and (
            share.layer.type in ("Myelin", "kgen", "gemm", "fusion")
            or "ForeignNode" in name
            or "__myl" in name
        )
        if is_myelin and share.percent >= MYELIN_DOMINANT_PERCENT:
            nodes = share.layer.onnx_nodes
            listed = ", ".join(nodes[:8]) + (f" and {len(nodes) - 8} more" if len(nodes) > 8 else "")
            add(
                share,
                "myelin-dominant",
                f"one Myelin region takes {share.percent:.1f}% of GPU time; its kernels are hidden from the "
                f"per-layer profile (ONNX nodes inside: {listed or 'unknown'})",
                f"look inside with Nsight Systems: {NSYS_COMMAND}",
            )
    # Otherwise the single largest layer, when it dominates.
    if shares and shares[0].percent >= LARGEST_LAYER_PERCENT:
        top = shares[0]
        add(
            top,
            "largest-layer",
            f"the largest layer takes {top.percent:.1f}% of GPU time",
            "profile it alone (nsys/ncu) and check its precision and tactic; "
            "consider a lower precision or a fused implementation",
        )
    findings.sort(key=lambda finding: finding.bottleneck.median_ms, reverse=True)
    return findings


def _cuda_graph_advice(engine: Engine) -> str:
    if engine.flags.get("CUDA Graph", "").lower() == "enabled":
        return (
            "CUDA graphs are already on in this run: raise the work per launch (larger batch) and remove "
            "device synchronizations (loops, if-conditionals, data-dependent shapes) from the network"
        )
    major = engine.trt_major
    if major is not None and major >= 11:
        return (
            "CUDA graphs are on by default in TensorRT 11.x: check that the workload is capturable "
            "(no loops/conditionals/data-dependent shapes) and raise the batch size"
        )
    return (
        "add --useCudaGraph to trtexec (or capture enqueueV3 into a CUDA graph in the application) "
        "and raise the batch size so each kernel does more work"
    )


def diagnose(engine: Engine) -> list[Diagnosis]:
    """Rules over the performance summary and the run's options."""
    found: list[Diagnosis] = []
    summary = engine.summary
    if summary is not None:
        enqueue, compute = summary.enqueue_median_ms, summary.gpu_compute_median_ms
        if enqueue is not None and compute and enqueue >= ENQUEUE_BOUND_RATIO * compute:
            found.append(
                Diagnosis(
                    "enqueue-bound",
                    "the workload is enqueue-bound: launching kernels takes about as long as running them",
                    f"enqueue median {enqueue:g} ms vs GPU compute median {compute:g} ms "
                    f"(ratio {enqueue / compute:.2f} >= {ENQUEUE_BOUND_RATIO})",
                    _cuda_graph_advice(engine),
                )
            )
        latency = summary.latency_median_ms
        transfers = (summary.h2d_median_ms or 0.0) + (summary.d2h_median_ms or 0.0)
        if latency and transfers >= TRANSFER_BOUND_SHARE * latency:
            found.append(
                Diagnosis(
                    "transfer-bound",
                    "host<->device copies are a large part of the latency",
                    f"H2D {summary.h2d_median_ms or 0:g} ms + D2H {summary.d2h_median_ms or 0:g} ms = "
                    f"{100 * transfers / latency:.0f}% of the {latency:g} ms median latency",
                    "use pinned host memory (cudaHostAlloc/cudaMallocHost), overlap copies with compute on "
                    "another stream, send less data (e.g. compressed inputs); measure the GPU part alone "
                    "with --noDataTransfers",
                )
            )
        median = summary.gpu_compute_median_ms or summary.latency_median_ms
        p99 = summary.gpu_compute_p99_ms if summary.gpu_compute_median_ms else summary.latency_p99_ms
        if median and p99 and p99 > UNSTABLE_P99_RATIO * median:
            spin = engine.flags.get("Spin-wait", "").lower() == "enabled"
            found.append(
                Diagnosis(
                    "unstable-timing",
                    "GPU time varies a lot between inferences",
                    f"p99 {p99:g} ms is {p99 / median:.2f}x the median {median:g} ms",
                    ("" if spin else "add --useSpinWait for stable synchronization; ")
                    + "lock the GPU clock (sudo nvidia-smi -lgc <freq>); check for power/thermal throttling",
                )
            )
    if _profiled_inline(engine):
        found.append(
            Diagnosis(
                "profile-without-separate-run",
                "per-layer times were taken in the same run as the end-to-end timing",
                f"Separate profiling: {engine.flags.get('Separate profiling', 'Disabled')}; "
                f"Profile: {engine.flags.get('Profile', 'Enabled')}",
                "re-run with --separateProfileRun so the profiler's synchronizations do not distort "
                "the performance summary (and per-layer times are taken in their own run)",
            )
        )
    return found


def _profiled_inline(engine: Engine) -> bool:
    flags = engine.flags
    if flags.get("Separate profiling", "").lower() == "enabled":
        return False
    command = engine.command or ""
    profiled = flags.get("Profile", "").lower() == "enabled" or any(
        flag in command for flag in ("--dumpProfile", "--exportProfile")
    )
    return profiled and "--separateProfileRun" not in command


def bottlenecks_to_json(bottlenecks: Sequence[Bottleneck]) -> list[dict[str, object]]:
    return [
        {
            "layer": b.layer,
            "median_ms": round(b.median_ms, 6),
            "percent": round(b.percent, 4),
            "why": b.why,
            "advice": b.advice,
            "rank": b.rank,
            "rule": b.rule,
            "type": b.type,
            "onnx_nodes": list(b.onnx_nodes),
            "measure": b.measure,
        }
        for b in bottlenecks
    ]


def diagnosis_to_json(diagnoses: Sequence[Diagnosis]) -> list[dict[str, str]]:
    return [asdict(d) for d in diagnoses]
