"""Producing the artifacts: run trtexec with the profiling recipe, or build with the TensorRT Python API.

``tensorrt`` and ``cuda-python`` are imported lazily; without them everything else in the package works.
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtadvisor.errors import UserError


class BuildError(UserError):
    """trtexec or the TensorRT Python API could not build or profile the engine."""


@dataclass(frozen=True)
class ArtifactPaths:
    """Where the readers find what a build wrote (``load_engine(**paths.as_kwargs())``)."""

    layer_info: Path | None = None
    profile: Path | None = None
    timing: Path | None = None
    log: Path | None = None
    engine: Path | None = None

    def as_kwargs(self) -> dict[str, Path | None]:
        return {
            "layer_info": self.layer_info,
            "profile": self.profile,
            "timing": self.timing,
            "log": self.log,
        }


def profiling_command(trtexec: Path, onnx: Path, out_dir: Path, extra_flags: Sequence[str] = (),
                      keep: Callable[[str], bool] | None = None) -> list[str]:
    """trtexec's arguments for a build whose layers, per-layer times and timings can all be read back.

    ``keep``: which flags the target's trtexec has (from 11.0 --separateProfileRun is a deprecated
    no-op, always on); None keeps them all."""
    stem = onnx.stem
    command = [
        str(trtexec),
        f"--onnx={onnx}",
        f"--saveEngine={out_dir / (stem + '.engine')}",
        "--profilingVerbosity=detailed",
        f"--exportLayerInfo={out_dir / (stem + '.layers.json')}",
        f"--exportProfile={out_dir / (stem + '.profile.json')}",
        f"--exportTimes={out_dir / (stem + '.timing.json')}",
        "--separateProfileRun",
        "--dumpProfile",
        *extra_flags,
    ]
    return command if keep is None else [command[0], *filter(keep, command[1:])]


def run_trtexec(
    trtexec: Path,
    onnx: Path,
    out_dir: Path,
    extra_flags: list[str] | None = None,
    timeout_s: float | None = None,
    keep: Callable[[str], bool] | None = None,
) -> ArtifactPaths:
    """Build and profile ``onnx`` with trtexec; the log (stdout and stderr) goes to ``<stem>.trtexec.log``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = profiling_command(Path(trtexec), Path(onnx), out_dir, extra_flags or [], keep)
    log_path = out_dir / f"{Path(onnx).stem}.trtexec.log"
    try:
        with log_path.open("w", encoding="utf-8") as log:
            result = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            )
    except FileNotFoundError:
        raise BuildError(
            f"trtexec not found at {trtexec}", "pass --trtexec /path/to/TensorRT/bin/trtexec"
        ) from None
    except PermissionError:
        raise BuildError(f"{trtexec} is not executable", "chmod +x it or pass the right trtexec") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"trtexec did not finish within {timeout_s} s", f"see the log {log_path}") from None
    if result.returncode != 0:
        raise BuildError(
            f"trtexec failed with exit code {result.returncode}",
            f"read the end of {log_path}; try the same command by hand: {' '.join(command)}",
        )
    stem = Path(onnx).stem

    def existing(name: str) -> Path | None:
        path = out_dir / name
        return path if path.exists() else None

    return ArtifactPaths(
        layer_info=existing(f"{stem}.layers.json"),
        profile=existing(f"{stem}.profile.json"),
        timing=existing(f"{stem}.timing.json"),
        log=log_path,
        engine=existing(f"{stem}.engine"),
    )


def _import_tensorrt() -> Any:
    try:
        import tensorrt  # optional and heavy: imported only here
    except ImportError:
        raise BuildError(
            "the tensorrt Python package is not importable",
            "pip install tensorrt (matching your CUDA), or use --trtexec to build with trtexec instead",
        ) from None
    return tensorrt


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # cuda-python < 12.6
        except ImportError:
            raise BuildError(
                "cuda-python is not importable", "pip install cuda-python (needed to allocate device buffers)"
            ) from None
    return runtime


def _check(result: Any) -> Any:
    """cuda-python calls return (error, *values); raise on an error, return the values."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if int(error) != 0:
        raise BuildError(f"CUDA call failed: {error}", "check that a GPU is visible (nvidia-smi)")
    return values[0] if len(values) == 1 else tuple(values)


def detect_device(index: int = 0) -> tuple[str, int, int]:
    """(GPU name, SM as major*10+minor, total memory in bytes) of device ``index``."""
    runtime = _import_cudart()
    count = _check(runtime.cudaGetDeviceCount())
    if count <= index:
        raise BuildError(
            f"no CUDA device {index} ({count} found)", "check nvidia-smi and CUDA_VISIBLE_DEVICES"
        )
    props = _check(runtime.cudaGetDeviceProperties(index))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.rstrip("\x00"), props.major * 10 + props.minor, int(props.totalGlobalMem)


@dataclass(frozen=True)
class ApiBuild:
    """What ``build_with_tensorrt`` measured: the inspector's JSON and per-layer times in ms."""

    layer_info_json: str
    layer_times_ms: dict[str, list[float]]
    engine_bytes: bytes


def build_with_tensorrt(
    onnx: Path,
    fp16: bool = False,
    int8: bool = False,
    iterations: int = 20,
    workspace_bytes: int | None = None,
) -> ApiBuild:
    """Build ``onnx`` with the TensorRT Python API (detailed profiling verbosity), read the engine through
    ``IEngineInspector`` (JSON) and time each layer with an ``IProfiler`` over ``iterations`` runs."""
    trt = _import_tensorrt()
    runtime_api = _import_cudart()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BuildError(f"TensorRT could not parse {onnx}: {errors}", "check the model with onnx.checker")
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if int8:
        config.set_flag(trt.BuilderFlag.INT8)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT could not build an engine from {onnx}", "run trtexec --verbose on it")
    engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()

    class _Profiler(trt.IProfiler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.times: dict[str, list[float]] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            self.times.setdefault(layer_name, []).append(ms)

    buffers = []
    try:
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = context.get_tensor_shape(name)
            size = trt.volume(shape) * trt.nptype(engine.get_tensor_dtype(name))().itemsize
            pointer = _check(runtime_api.cudaMalloc(max(int(size), 1)))
            buffers.append(pointer)
            context.set_tensor_address(name, int(pointer))
        stream = _check(runtime_api.cudaStreamCreate())
        context.execute_async_v3(int(stream))  # warm-up without the profiler
        _check(runtime_api.cudaStreamSynchronize(stream))
        profiler = _Profiler()
        context.profiler = profiler
        for _ in range(iterations):
            context.execute_async_v3(int(stream))
            _check(runtime_api.cudaStreamSynchronize(stream))
        inspector = engine.create_engine_inspector()
        inspector.execution_context = context
        info = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
        _check(runtime_api.cudaStreamDestroy(stream))
    finally:
        for pointer in buffers:
            runtime_api.cudaFree(pointer)
    return ApiBuild(info, profiler.times, bytes(serialized))


def api_profile_records(build: ApiBuild) -> list[dict[str, Any]]:
    """IProfiler times in the shape of trtexec's ``--exportProfile`` records (for ``profile_from_json``)."""
    medians = {name: statistics.median(times) for name, times in build.layer_times_ms.items() if times}
    total = sum(medians.values())
    records: list[dict[str, Any]] = [
        {"count": max((len(t) for t in build.layer_times_ms.values()), default=0)}
    ]
    for name, times in build.layer_times_ms.items():
        records.append(
            {
                "name": name,
                "timeMs": sum(times),
                "averageMs": statistics.fmean(times),
                "medianMs": medians[name],
                "percentage": 100.0 * medians[name] / total if total else 0.0,
            }
        )
    return records
