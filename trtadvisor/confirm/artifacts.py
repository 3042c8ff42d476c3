"""One entry point over the readers: ``load_engine`` merges layer info, profile, timing and log.

- layer info gives the layers (in engine order);
- the profile attaches times by layer name (names may differ only by escaping or a ``[profile N]`` suffix);
- the timing gives a performance summary when the log holds none;
- the log gives version, device, summary, options and fusion lines, and the layers when no layer info was
  given (``Engine Layer Information`` or ``--dumpLayerInfo``), and times from ``--dumpProfile`` when no
  profile JSON was given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from trtadvisor.confirm.layer_info import LayerInfo, read_layer_info
from trtadvisor.confirm.logs import LogInfo, read_log
from trtadvisor.confirm.mapping import map_engine, strip_profile_suffix
from trtadvisor.confirm.model import Engine, EngineLayer, PerfSummary
from trtadvisor.confirm.profile import LayerTime, Profile, read_iprofiler_log, read_profile, read_timing
from trtadvisor.errors import ArtifactError

__all__ = ["attach_times", "load_engine", "name_key"]


def name_key(name: str) -> str:
    """A layer name with what differs between artifacts removed: escaping, whitespace, ``[profile N]``."""
    unescaped = name.replace('\\"', '"').replace("\\\\", "\\")
    return re.sub(r"\s+", " ", strip_profile_suffix(unescaped)).strip()


def attach_times(layers: Sequence[EngineLayer], profile: Profile) -> tuple[EngineLayer, ...]:
    """Each layer with the times of the profile record of its name (exact first, then ``name_key``)."""
    exact: dict[str, list[LayerTime]] = {}
    loose: dict[str, list[LayerTime]] = {}
    for record in profile.records:
        exact.setdefault(record.name, []).append(record)
        loose.setdefault(name_key(record.name), []).append(record)
    used: set[int] = set()

    def take(candidates: list[LayerTime] | None) -> LayerTime | None:
        for record in candidates or ():
            if id(record) not in used:
                used.add(id(record))
                return record
        return None

    timed = []
    for layer in layers:
        record = take(exact.get(layer.name)) or take(loose.get(name_key(layer.name)))
        if record is None:
            timed.append(layer)
            continue
        timed.append(
            replace(
                layer,
                median_ms=record.median_ms,
                average_ms=record.average_ms,
                total_ms=record.total_ms,
                percent=record.percent,
            )
        )
    # Records no layer names (the kernels of a Myelin region the layer information shows as one
    # ForeignNode, e.g. result-05 against result-02 of the TensorRT 10 cookbook) keep their time: dropped,
    # they would leave the hottest kernels out of the ranking and every share too large.
    extra = [record for record in profile.records if id(record) not in used]
    return (*timed, *_layers_from_profile(Profile(records=tuple(extra)))) if extra else tuple(timed)


def _layers_from_profile(profile: Profile) -> tuple[EngineLayer, ...]:
    return tuple(
        EngineLayer(
            name=r.name,
            median_ms=r.median_ms,
            average_ms=r.average_ms,
            total_ms=r.total_ms,
            percent=r.percent,
        )
        for r in profile.records
    )


def _with_shares(layers: Sequence[EngineLayer]) -> tuple[tuple[EngineLayer, ...], float | None]:
    """Fill missing percentages from the per-layer times; the total is the sum of those times."""
    times = [layer.time_ms for layer in layers if layer.time_ms is not None]
    if not times:
        return tuple(layers), None
    total = sum(times)
    filled = tuple(
        replace(layer, percent=100.0 * layer.time_ms / total)
        if layer.percent is None and layer.time_ms is not None and total > 0
        else layer
        for layer in layers
    )
    return filled, total


def _read_profile_any(path: Path) -> Profile:
    """``--exportProfile`` JSON, or an IProfiler text log."""
    try:
        return read_profile(path)
    except ArtifactError as json_error:
        try:
            return read_iprofiler_log(path)
        except ArtifactError:
            raise json_error from None


def load_engine(
    layer_info: Path | str | None = None,
    profile: Path | str | None = None,
    timing: Path | str | None = None,
    log: Path | str | None = None,
    onnx_nodes: list[str] | None = None,
) -> Engine:
    """The engine the artifacts describe; ``onnx_nodes`` (topological order) sharpens the mapping."""
    if not any((layer_info, profile, timing, log)):
        raise ArtifactError(
            "no TensorRT artifact given",
            "pass at least one of --layer-info, --profile, --timing, --log (see trtexec --exportLayerInfo)",
        )
    sources: list[str] = []
    info: LayerInfo | None = None
    log_info: LogInfo | None = None
    times: Profile | None = None
    timing_summary: PerfSummary | None = None
    if layer_info is not None:
        info = read_layer_info(Path(layer_info))
        sources.append(f"layer_info: {layer_info}")
    if profile is not None:
        times = _read_profile_any(Path(profile))
        sources.append(f"profile: {profile}")
    if timing is not None:
        timing_summary = read_timing(Path(timing))
        sources.append(f"timing: {timing}")
    if log is not None:
        log_info = read_log(Path(log))
        sources.append(f"log: {log}")
        if times is None and log_info.profile is not None:
            times = log_info.profile

    timed = False
    log_is_richer = (
        info is not None
        and not info.detailed
        and log_info is not None
        and len(log_info.layers) == len(info.layers)
    )
    if info is not None and info.layers and not log_is_richer:
        layers: tuple[EngineLayer, ...] = info.layers
    elif log_info is not None and log_info.layers:
        layers = log_info.layers
    elif times is not None:
        layers, timed = _layers_from_profile(times), True
    else:
        layers = ()
    if times is not None and not timed:
        layers = attach_times(layers, times)
    layers, total = _with_shares(layers)

    summary = log_info.summary if log_info and log_info.summary else timing_summary
    engine = Engine(
        layers=layers,
        trt_version=log_info.trt_version if log_info else None,
        gpu=log_info.gpu if log_info else None,
        sm=log_info.sm if log_info else None,
        total_ms=total,
        summary=summary,
        fusion_lines=log_info.fusion_lines if log_info else (),
        flags=dict(log_info.flags) if log_info else {},
        command=log_info.command if log_info else None,
        sources=tuple(sources),
        io_tensors=info.io_tensors if info else (),
    )
    return map_engine(engine, onnx_nodes)
