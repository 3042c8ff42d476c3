"""Per-layer and per-inference times: ``--exportProfile``, ``--exportTimes``, the ``--dumpProfile`` tables of
trtexec logs (8.2-8.3, 8.4-8.5 and 8.6+/10 layouts) and the output of a Python ``IProfiler``."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtadvisor.confirm.files import parse_json, read_text, split_lines
from trtadvisor.confirm.model import PerfSummary
from trtadvisor.errors import ArtifactError

PROFILE_EXPECTED = (
    "a trtexec --exportProfile JSON (a list of {name, timeMs, averageMs, medianMs, percentage})"
)
TIMING_EXPECTED = "a trtexec --exportTimes JSON (a list of {latencyMs, computeMs, ...} per inference)"


@dataclass(frozen=True)
class LayerTime:
    name: str
    total_ms: float | None = None  # over all profiled iterations
    average_ms: float | None = None
    median_ms: float | None = None
    percent: float | None = None


@dataclass(frozen=True)
class Profile:
    records: tuple[LayerTime, ...]
    iterations: int | None = None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def profile_from_json(data: Any, path: Path) -> Profile:
    """A parsed ``--exportProfile`` document: ``[{"count": N}, {"name": ..., "timeMs": ...}, ...]``.

    With several profiles (one per stream or optimization profile) only the first group is read.
    """
    if not isinstance(data, list) or not data:
        raise ArtifactError(
            f"{path}: not a list of layer records, expected {PROFILE_EXPECTED}",
            "pass the file written by trtexec --exportProfile",
        )
    iterations: int | None = None
    records: list[LayerTime] = []
    for item in data:
        if not isinstance(item, dict):
            raise ArtifactError(f"{path}: a profile entry is not an object", "re-run trtexec --exportProfile")
        if "count" in item and "name" not in item:
            if records:  # a second group starts
                break
            iterations = int(item["count"]) if _float(item["count"]) is not None else None
            continue
        if "name" not in item or not ({"averageMs", "timeMs", "medianMs"} & item.keys()):
            raise ArtifactError(
                f'{path}: a record has no "name"/"averageMs", expected {PROFILE_EXPECTED}',
                "pass the file written by trtexec --exportProfile (layer info goes to --layer-info)",
            )
        records.append(
            LayerTime(
                name=str(item["name"]),
                total_ms=_float(item.get("timeMs")),
                average_ms=_float(item.get("averageMs")),
                median_ms=_float(item.get("medianMs")),
                percent=_float(item.get("percentage")),
            )
        )
    if not records:
        raise ArtifactError(
            f"{path}: no layer records, expected {PROFILE_EXPECTED}", "re-run trtexec --exportProfile"
        )
    return Profile(tuple(records), iterations)


def read_profile(path: Path) -> Profile:
    text = read_text(path, PROFILE_EXPECTED)
    return profile_from_json(parse_json(text, path, PROFILE_EXPECTED), path)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def summary_from_timing(data: Any, path: Path) -> PerfSummary:
    """A performance summary computed from the per-inference records of ``--exportTimes``."""
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise ArtifactError(
            f"{path}: not a list of records, expected {TIMING_EXPECTED}", "pass --exportTimes output"
        )
    if not all("latencyMs" in r or "computeMs" in r for r in data):
        raise ArtifactError(
            f"{path}: records have no latencyMs/computeMs, expected {TIMING_EXPECTED}",
            "pass the file written by trtexec --exportTimes",
        )

    def column(key: str) -> list[float]:
        return [v for v in (_float(r.get(key)) for r in data) if v is not None]

    latency, compute = column("latencyMs"), column("computeMs")
    enqueue = [
        end - start
        for start, end in ((_float(r.get("startEnqMs")), _float(r.get("endEnqMs"))) for r in data)
        if start is not None and end is not None
    ]
    h2d, d2h = column("h2dMs"), column("d2hMs")
    return PerfSummary(
        latency_mean_ms=statistics.fmean(latency) if latency else None,
        latency_median_ms=statistics.median(latency) if latency else None,
        latency_p99_ms=_percentile(latency, 0.99) if latency else None,
        enqueue_median_ms=statistics.median(enqueue) if enqueue else None,
        gpu_compute_mean_ms=statistics.fmean(compute) if compute else None,
        gpu_compute_median_ms=statistics.median(compute) if compute else None,
        gpu_compute_p99_ms=_percentile(compute, 0.99) if compute else None,
        gpu_compute_max_ms=max(compute) if compute else None,
        h2d_median_ms=statistics.median(h2d) if h2d else None,
        d2h_median_ms=statistics.median(d2h) if d2h else None,
    )


def read_timing(path: Path) -> PerfSummary:
    return summary_from_timing(parse_json(read_text(path, TIMING_EXPECTED), path, TIMING_EXPECTED), path)


# ---------------------------------------------------------------------------------------------------------
# --dumpProfile tables. The log prefix "[date] [I] " is stripped before matching.
_NUMBER = r"(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf)"
_ROW_NAME_FIRST_3 = re.compile(rf"^\s*(?P<name>.*?)\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s*$")
_ROW_NAME_FIRST_4 = re.compile(rf"^\s*(?P<name>.*?)\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s*$")
_ROW_NAME_LAST = re.compile(rf"^\s*{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+(?P<name>.*?)\s*$")
_PROFILE_HEADER = re.compile(r"=== Profile \((\d+) iterations ?\) ===")
_LOG_PREFIX = re.compile(r"^\[[^\]]*\] \[[A-Z]\] ")


def parse_profile_table(lines: Sequence[str]) -> tuple[Profile, float | None] | None:
    """The last ``=== Profile (N iterations) ===`` table of a log, and its Total row's per-inference time."""
    starts = [i for i, line in enumerate(lines) if "=== Profile (" in line]
    if not starts:
        return None
    start = starts[-1]
    header_match = _PROFILE_HEADER.search(lines[start])
    iterations = int(header_match.group(1)) if header_match else None
    if start + 1 >= len(lines):
        return None
    header = _LOG_PREFIX.sub("", lines[start + 1]).strip()
    if header.startswith("Time(ms)"):
        layout = "name_last"  # 8.6+ and 10.x
    elif "Median" in header:
        layout = "name_first_4"  # 8.4-8.5
    else:
        layout = "name_first_3"  # 8.2-8.3
    records: list[LayerTime] = []
    total: float | None = None
    for line in lines[start + 2 :]:
        if not _LOG_PREFIX.match(line):
            break
        row = _LOG_PREFIX.sub("", line)
        if not row.strip():
            break
        if layout == "name_last":
            match = _ROW_NAME_LAST.match(row)
            values = match.groups()[:4] if match else ()
            time_ms, average, median, percent = (_float(v) for v in values) if match else (None,) * 4
        elif layout == "name_first_4":
            match = _ROW_NAME_FIRST_4.match(row)
            time_ms, average, median, percent = (
                (_float(v) for v in match.groups()[1:]) if match else (None,) * 4
            )
        else:
            match = _ROW_NAME_FIRST_3.match(row)
            time_ms, average, percent = (_float(v) for v in match.groups()[1:]) if match else (None,) * 3
            median = None
        if not match:
            break
        name = match.group("name")
        if name == "Total":
            total = median if median is not None else average
            continue
        records.append(LayerTime(name, time_ms, average, median, percent))
    if not records:
        return None
    return Profile(tuple(records), iterations), total


# ---------------------------------------------------------------------------------------------------------
# Python IProfiler.report_layer_time output as printed by a script: "Timing:   37.472us -> name".
_IPROFILER_LINE = re.compile(r"(?P<value>[\d.]+)\s*(?P<unit>us|ms)\s*->\s*(?P<name>.+?)\s*$")


def parse_iprofiler_log(lines: Sequence[str]) -> Profile | None:
    """Per-layer times of every report in the log, aggregated per layer (median and mean over reports)."""
    samples: dict[str, list[float]] = {}
    for line in lines:
        if "->" not in line:
            continue
        match = _IPROFILER_LINE.search(line)
        if not match or not line.lstrip().lower().startswith(("timing", "layer")):
            continue
        value = float(match.group("value")) / (1000.0 if match.group("unit") == "us" else 1.0)
        samples.setdefault(match.group("name"), []).append(value)
    if not samples:
        return None
    medians = {name: statistics.median(values) for name, values in samples.items()}
    total = sum(medians.values())
    records = tuple(
        LayerTime(
            name=name,
            total_ms=sum(values),
            average_ms=statistics.fmean(values),
            median_ms=medians[name],
            percent=100.0 * medians[name] / total if total else None,
        )
        for name, values in samples.items()
    )
    iterations = max(len(values) for values in samples.values())
    return Profile(records, iterations)


def read_iprofiler_log(path: Path) -> Profile:
    profile = parse_iprofiler_log(split_lines(read_text(path, "an IProfiler log")))
    if profile is None:
        raise ArtifactError(f"{path}: no 'Timing: <t>us -> <layer>' lines", "pass the output of an IProfiler")
    return profile
