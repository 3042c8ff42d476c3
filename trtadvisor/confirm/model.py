"""The engine TensorRT really built, as read from its artifacts (layer info, profile, timing, logs).

Everything here is plain data: readers in ``layer_info``/``profile``/``logs`` fill it, ``mapping`` links
layers back to ONNX nodes, ``analysis`` and ``compare`` read it, reports render it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Substrings of a TensorRT "Format/Datatype" string (or the short type name of the text logs), checked in
# order; the first match names the precision. "N/A due to dynamic shapes" matches nothing -> None.
_PRECISION_MARKERS: tuple[tuple[str, str], ...] = (
    ("fp8", "fp8"),
    ("bf16", "bf16"),
    ("bfloat", "bf16"),
    ("fp16", "fp16"),
    ("half", "fp16"),
    ("fp32", "fp32"),
    ("float", "fp32"),
    ("int8", "int8"),
    ("int4", "int4"),
    ("uint8", "uint8"),
    ("int32", "int32"),
    ("int64", "int64"),
    ("bool", "bool"),
)


def precision_of(format_string: str | None) -> str | None:
    """``"Channel major FP16 format where channel % 8 == 0"`` -> ``"fp16"``; ``"Float"`` -> ``"fp32"``."""
    if not format_string:
        return None
    lowered = format_string.lower()
    # "Int8" must not be read as "int8" inside "uint8" and vice versa: check uint8 first.
    if "uint8" in lowered:
        return "uint8"
    for marker, precision in _PRECISION_MARKERS:
        if marker in lowered:
            return precision
    return None


@dataclass(frozen=True)
class IoTensor:
    """One network input or output as TensorRT 11's layer information lists it under ``I/O Tensors``
    (8.x/10.x list only names, under ``Bindings``): IOMode, DataType, Dimensions, Location, whether it
    is a shape-inference I/O, and each optimization profile's Min/Opt/MaxShape and Format."""

    name: str
    io_mode: str | None = None       # "Input" / "Output" (as the engine writes it)
    data_type: str | None = None     # TensorRT's name of the type ("Float", "Half", ...)
    dims: tuple[int, ...] = ()
    location: str | None = None
    shape_io: bool | None = None
    profiles: tuple[dict[str, Any], ...] = ()  # [{"min": [...], "opt": [...], "max": [...], "format": str}]

    @property
    def precision(self) -> str | None:
        return precision_of(self.data_type)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "io_mode": self.io_mode, "data_type": self.data_type,
                "precision": self.precision, "dims": list(self.dims), "location": self.location,
                "shape_io": self.shape_io, "profiles": [dict(p) for p in self.profiles]}


@dataclass(frozen=True)
class EngineTensor:
    """One input or output of an engine layer."""

    name: str
    dims: tuple[int, ...] = ()
    format: str | None = None  # "Row major linear FP32", "Half", "Channel major FP16 format where ..."
    location: str | None = None  # "Device", "Host"; absent before TRT 8.4
    vector: int | None = None  # vectorized channel dimension (the 8 of "Half[-1,32:8,14,14]")

    @property
    def precision(self) -> str | None:
        return precision_of(self.format)


@dataclass(frozen=True)
class EngineLayer:
    """One layer of a built engine, with whatever the artifacts told about it."""

    name: str
    type: str | None = None  # LayerType as TensorRT writes it: "CaskConvolution", "Reformat", "kgen", ...
    inputs: tuple[EngineTensor, ...] = ()
    outputs: tuple[EngineTensor, ...] = ()
    tactic: str | None = None  # TacticName where written, else the tactic value
    metadata_nodes: tuple[str, ...] = ()  # ONNX nodes from the "Metadata" field (TRT >= 8.6)
    onnx_nodes: tuple[str, ...] = ()  # the mapped ONNX nodes (see mapping.map_layer)
    median_ms: float | None = None
    average_ms: float | None = None
    total_ms: float | None = None  # sum over all profiled iterations ("timeMs")
    percent: float | None = None
    stream_id: int | None = None
    origin: str | None = None  # "REFORMAT", "QDQ", ... (detailed JSON only)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def precision(self) -> str | None:
        """The precision of the first output whose format names one (inputs when there are no outputs)."""
        for tensor in (*self.outputs, *self.inputs):
            precision = tensor.precision
            if precision is not None:
                return precision
        return None

    @property
    def time_ms(self) -> float | None:
        """The per-inference time to rank by: the median where measured, else the average."""
        return self.median_ms if self.median_ms is not None else self.average_ms


@dataclass(frozen=True)
class PerfSummary:
    """trtexec's ``=== Performance summary ===``; every field is optional (logs differ by version)."""

    throughput_qps: float | None = None
    latency_min_ms: float | None = None
    latency_mean_ms: float | None = None
    latency_median_ms: float | None = None
    latency_p99_ms: float | None = None
    enqueue_mean_ms: float | None = None
    enqueue_median_ms: float | None = None
    enqueue_p99_ms: float | None = None
    gpu_compute_mean_ms: float | None = None
    gpu_compute_median_ms: float | None = None
    gpu_compute_p99_ms: float | None = None
    gpu_compute_max_ms: float | None = None
    h2d_median_ms: float | None = None
    d2h_median_ms: float | None = None
    e2e_host_median_ms: float | None = None
    total_host_walltime_s: float | None = None
    total_gpu_compute_s: float | None = None


@dataclass(frozen=True)
class Engine:
    """What TensorRT built and measured, merged from one or more artifacts."""

    layers: tuple[EngineLayer, ...] = ()
    trt_version: str | None = None
    gpu: str | None = None
    sm: int | None = None
    total_ms: float | None = None  # sum of per-layer medians (or averages) per inference
    summary: PerfSummary | None = None
    fusion_lines: tuple[tuple[str, str, str], ...] = ()  # (pass name, a, b) from "XFusion: Fusing a with b"
    flags: dict[str, str] = field(default_factory=dict)  # "Separate profiling": "Disabled", "CUDA Graph": ...
    command: str | None = None  # the trtexec command line from "&&&& RUNNING"
    sources: tuple[str, ...] = ()  # "layer_info: path", "profile: path", ...
    io_tensors: tuple[IoTensor, ...] = ()  # TensorRT 11 layer information's "I/O Tensors"

    @property
    def trt_major(self) -> int | None:
        match = re.match(r"(\d+)", self.trt_version or "")
        return int(match.group(1)) if match else None


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def layer_to_json(layer: EngineLayer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "type": layer.type or "",
        "onnx_nodes": list(layer.onnx_nodes),
        "precision": layer.precision,
        "median_ms": _round(layer.median_ms),
        "average_ms": _round(layer.average_ms),
        "percent": _round(layer.percent, 4),
    }


_SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("throughput_qps", "throughput_qps"),
    ("latency_median_ms", "latency_median_ms"),
    ("enqueue_median_ms", "enqueue_median_ms"),
    ("gpu_compute_median_ms", "gpu_compute_median_ms"),
    ("h2d_median_ms", "h2d_median_ms"),
    ("d2h_median_ms", "d2h_median_ms"),
)


def summary_to_json(summary: PerfSummary | None) -> dict[str, float] | None:
    """The contract's summary object: only the keys the log held; ``None`` when it held none."""
    if summary is None:
        return None
    out = {key: getattr(summary, attr) for key, attr in _SUMMARY_KEYS if getattr(summary, attr) is not None}
    return out or None


def engine_to_json(engine: Engine) -> dict[str, Any]:
    """The ``"engine"`` object of the JSON report (contract v1)."""
    return {
        "trt_version": engine.trt_version,
        "gpu": engine.gpu,
        "sm": engine.sm,
        "layers": [layer_to_json(layer) for layer in engine.layers],
        "total_ms": _round(engine.total_ms),
        "summary": summary_to_json(engine.summary),
        **({"io_tensors": [t.to_json() for t in engine.io_tensors]} if engine.io_tensors else {}),
    }
