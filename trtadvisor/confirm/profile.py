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
from trtadvisor.errors import ArtifactError, shown

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


_MAX_MS = 1e9  # a time beyond ~11 days per layer is no measurement: it reads as unknown


def _float(value: Any) -> float | None:
    """A finite, plausible number (of milliseconds or percent), or None."""
    if isinstance(value, bool) or (isinstance(value, str) and len(value) > 64):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and abs(number) <= _MAX_MS else None


def _count(value: Any) -> int | None:
    """An iteration count: a whole, non-negative number, else None."""
    number = _float(value)
    return int(number) if number is not None and number >= 0 and number == int(number) else None


def profile_from_json(data: Any, path: Path) -> Profile:
    """A parsed ``--exportProfile`` document: ``[{"count": N}, {"name": ..., "timeMs": ...}, ...]``.

    With several profiles (one per stream or optimization profile) only the first group is read.
    """
    if not isinstance(data, list) or not data:
        raise ArtifactError(
            f"{shown(path)}: not a list of layer records, expected {PROFILE_EXPECTED}",
            "pass the file written by trtexec --exportProfile",
        )
    iterations: int | None = None
    records: list[LayerTime] = []
    for item in data:
        if not isinstance(item, dict):
            raise ArtifactError(f"{shown(path)}: a profile entry is not an object", "re-run trtexec --exportProfile")
        if "count" in item and "name" not in item:
            if records:  # a second group starts
                break
            iterations = _count(item["count"])
            continue
        if "name" not in item or not ({"averageMs", "timeMs", "medianMs"} & item.keys()):
            raise ArtifactError(
                f'{path}: a record has no "name"/"averageMs", expected {PROFILE_EXPECTED}',
                "pass the file written by trtexec --exportProfile (layer info goes to --layer-info)",
            )
        if not isinstance(item["name"], (str, int, float)) or isinstance(item["name"], bool):
            raise ArtifactError(f'{shown(path)}: a record\'s "name" is a {type(item["name"]).__name__}, expected text',
                                "pass the file written by trtexec --exportProfile")
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
            f"{shown(path)}: no layer records, expected {PROFILE_EXPECTED}", "re-run trtexec --exportProfile"
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
            f"{shown(path)}: not a list of records, expected {TIMING_EXPECTED}", "pass --exportTimes output"
        )
    if not all("latencyMs" in r or "computeMs" in r for r in data):
        raise ArtifactError(
            f"{shown(path)}: records have no latencyMs/computeMs, expected {TIMING_EXPECTED}",
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
        latency_mean_ms=_mean(latency) if latency else None,
        latency_median_ms=statistics.median(latency) if latency else None,
        latency_p99_ms=_percentile(latency, 0.99) if latency else None,
        enqueue_median_ms=statistics.median(enqueue) if enqueue else None,
        gpu_compute_mean_ms=_mean(compute) if compute else None,
        gpu_compute_median_ms=statistics.median(compute) if compute else None,
        gpu_compute_p99_ms=_percentile(compute, 0.99) if compute else None,
        gpu_compute_max_ms=max(compute) if compute else None,
        h2d_median_ms=statistics.median(h2d) if h2d else None,
        d2h_median_ms=statistics.median(d2h) if d2h else None,
    )


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)  # values are bounded by _MAX_MS: no overflow


def read_timing(path: Path) -> PerfSummary:
    return summary_from_timing(parse_json(read_text(path, TIMING_EXPECTED), path, TIMING_EXPECTED), path)


# ---------------------------------------------------------------------------------------------------------
# --dumpProfile tables. The log prefix "[date] [I] " is stripped before matching. Rows are split on
# whitespace rather than matched by one pattern: "(?P<name>.*?)\s+NUMBER..." backtracked for minutes
# on a long line.
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf", re.ASCII)
_PROFILE_HEADER = re.compile(r"=== Profile \((\d{1,12}) iterations ?\) ===", re.ASCII)
_LOG_PREFIX = re.compile(r"^\[[^\]]*\] \[[A-Z]\] ")


class _Row:
    """A table row split into its name and its numbers (None when the row is not one)."""

    def __init__(self, name: str, numbers: list[float | None]) -> None:
        self.name, self.numbers = name, numbers


def _split_row(row: str, count: int, name_last: bool) -> _Row | None:
    text = row.strip()
    if name_last:
        parts = text.split(None, count)
        if len(parts) != count + 1:
            return None
        numbers, name = parts[:count], parts[count]
    else:
        parts = text.rsplit(None, count)
        if len(parts) != count + 1:
            return None
        name, numbers = parts[0], parts[1:]
    if not all(_NUMBER.fullmatch(n) for n in numbers):
        return None
    return _Row(name, [_float(n) for n in numbers])


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
        match = _split_row(row, 3 if layout == "name_first_3" else 4, layout == "name_last")
        if match is None:
            break
        if layout == "name_first_3":
            time_ms, average, percent = match.numbers
            median = None
        else:
            time_ms, average, median, percent = match.numbers
        name = match.name
        if name == "Total":
            total = median if median is not None else average
            continue
        records.append(LayerTime(name, time_ms, average, median, percent))
    if not records:
        return None
    return Profile(tuple(records), iterations), total


# ---------------------------------------------------------------------------------------------------------
# Python IProfiler.report_layer_time output as printed by a script: "Timing:   37.472us -> name".
# Only the text before the first "->" is matched (anchored at its end), so a long line stays linear.
_IPROFILER_VALUE = re.compile(r"([0-9.]{1,32})\s{0,8}(us|ms)\s*$")


def parse_iprofiler_log(lines: Sequence[str]) -> Profile | None:
    """Per-layer times of every report in the log, aggregated per layer (median and mean over reports)."""
    samples: dict[str, list[float]] = {}
    for line in lines:
        if "->" not in line:
            continue
        if not line.lstrip().lower().startswith(("timing", "layer")):
            continue
        head, _, name = line.partition("->")
        match = _IPROFILER_VALUE.search(head[-64:])
        name = name.strip()
        number = _float(match.group(1)) if match else None
        if number is None or not name:
            continue
        value = number / (1000.0 if match.group(2) == "us" else 1.0)  # type: ignore[union-attr]
        samples.setdefault(name, []).append(value)
    if not samples:
        return None
    medians = {name: statistics.median(values) for name, values in samples.items()}
    total = sum(medians.values())
    records = tuple(
        LayerTime(
            name=name,
            total_ms=sum(values),
            average_ms=_mean(values),
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
        raise ArtifactError(f"{shown(path)}: no 'Timing: <t>us -> <layer>' lines", "pass the output of an IProfiler")
    return profile
