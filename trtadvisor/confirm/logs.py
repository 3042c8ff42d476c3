"""Reader for trtexec logs (and the text TensorRT's Python API prints): version, device, options, the
performance summary, fusion passes of a verbose build, layer lists and the ``--dumpProfile`` table."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trtadvisor.confirm.files import read_text, split_lines
from trtadvisor.confirm.layer_info import parse_engine_layer_information, parse_layers_block
from trtadvisor.confirm.model import EngineLayer, PerfSummary
from trtadvisor.confirm.profile import Profile, parse_iprofiler_log, parse_profile_table
from trtadvisor.errors import ArtifactError, shown
from trtadvisor.safe_io import LOG_MAX_BYTES

LOG_EXPECTED = "a trtexec log (or TensorRT Python output)"

_LOG_PREFIX = re.compile(r"^\[[^\]]*\] \[[A-Z]\] ")
# Patterns run on lines a pull request may carry: numbers are ASCII digits of bounded length, and the
# parts that were "(.+?) ... \s*$" are split with str methods instead (those backtracked for minutes
# on a 200 KB line).
_VERSION_LINE = re.compile(r"TensorRT version: ([0-9.]{1,32})")
_VERSION_TAG = re.compile(r"\[TensorRT v([0-9]{4,6})\]")
_FUSION_HEAD = re.compile(r"\] (?:\[TRT\] )?(\w{1,200}): Fusing ", re.ASCII)
# "Applying ScaleNodes fusions." is followed by lines that name no pass of their own.
_SCALE_FUSION_HEAD = re.compile(r"\] (?:\[TRT\] )?Fusing convolution weights from ")
_STAT = re.compile(r"(min|max|mean|median|percentile\(99%\)) = (\S{1,64}) ms")
_SECTION = re.compile(r"^=== (.+) ===$")
_OPTION_KEY = re.compile(r"[A-Za-z][\w ./()-]*", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,4}")


def _number(text: str) -> float | None:
    """A finite float from a log, or None (``banana``, ``nan``, ``1e999``)."""
    try:
        value = float(text) if len(text) <= 64 else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _two_parts(text: str, separator: str) -> tuple[str, str] | None:
    """``"a with b"`` -> ("a", "b"), splitting at the first separator after a non-empty head."""
    index = text.find(separator, 1)
    if index < 0:
        return None
    head, tail = text[:index], text[index + len(separator):].rstrip()
    return (head, tail) if head and tail else None


def _fusion(line: str) -> tuple[str, str, str] | None:
    head = _FUSION_HEAD.search(line)
    if head:
        parts = _two_parts(line[head.end():], " with ")
        return (head.group(1), *parts) if parts else None
    scale = _SCALE_FUSION_HEAD.search(line)
    if scale:
        parts = _two_parts(line[scale.end():], " with scale ")
        return ("ScaleNodes", *parts) if parts else None
    return None


@dataclass(frozen=True)
class LogInfo:
    trt_version: str | None = None
    gpu: str | None = None
    sm: int | None = None
    command: str | None = None
    summary: PerfSummary | None = None
    flags: dict[str, str] = field(default_factory=dict)
    fusion_lines: tuple[tuple[str, str, str], ...] = ()
    layers: tuple[EngineLayer, ...] = ()
    profile: Profile | None = None
    profile_total_ms: float | None = None  # the "Total" row of the --dumpProfile table


def decode_version_tag(digits: str) -> str:
    """``8601`` -> ``8.6.1``; ``101601`` -> ``10.16.1`` (NV_TENSORRT_VERSION as trtexec prints it)."""
    if len(digits) == 6:
        return f"{int(digits[:2])}.{int(digits[2:4])}.{int(digits[4:])}"
    if len(digits) == 5:
        return f"{int(digits[:1])}.{int(digits[1:3])}.{int(digits[3:])}"
    return f"{int(digits[0])}.{int(digits[1])}.{int(digits[2:])}"


def _stats(text: str) -> dict[str, float]:
    stats: dict[str, float] = {}
    for key, value in _STAT.findall(text):
        number = _number(value)
        if number is not None:
            stats[key] = number
    return stats


def parse_summary(lines: Sequence[str]) -> PerfSummary | None:
    """The last ``=== Performance summary ===`` block."""
    starts = [i for i, line in enumerate(lines) if "=== Performance summary ===" in line]
    if not starts:
        return None
    values: dict[str, float | None] = {}
    for line in lines[starts[-1] + 1 : starts[-1] + 20]:
        text = _LOG_PREFIX.sub("", line).strip()
        label, _, rest = text.partition(":")
        stats = _stats(rest)
        if label == "Throughput":
            match = re.match(r"\s*(\S{1,64}) qps", rest)
            values["throughput_qps"] = _number(match.group(1)) if match else None
        elif label == "Latency":
            values |= {
                "latency_min_ms": stats.get("min"),
                "latency_mean_ms": stats.get("mean"),
                "latency_median_ms": stats.get("median"),
                "latency_p99_ms": stats.get("percentile(99%)"),
            }
        elif label == "Enqueue Time":
            values |= {
                "enqueue_mean_ms": stats.get("mean"),
                "enqueue_median_ms": stats.get("median"),
                "enqueue_p99_ms": stats.get("percentile(99%)"),
            }
        elif label == "GPU Compute Time":
            values |= {
                "gpu_compute_mean_ms": stats.get("mean"),
                "gpu_compute_median_ms": stats.get("median"),
                "gpu_compute_p99_ms": stats.get("percentile(99%)"),
                "gpu_compute_max_ms": stats.get("max"),
            }
        elif label == "H2D Latency":
            values["h2d_median_ms"] = stats.get("median")
        elif label == "D2H Latency":
            values["d2h_median_ms"] = stats.get("median")
        elif label == "End-to-End Host Latency":
            values["e2e_host_median_ms"] = stats.get("median")
        elif label in ("Total Host Walltime", "Total GPU Compute Time"):
            match = re.match(r"\s*(\S{1,64}) s", rest)
            key = "total_host_walltime_s" if label == "Total Host Walltime" else "total_gpu_compute_s"
            values[key] = _number(match.group(1)) if match else None
        elif text.startswith("===") or text.startswith("&&&&"):
            break
    return PerfSummary(**values) if values else None


def parse_log_lines(lines: Sequence[str]) -> LogInfo:
    """Everything a log holds; fields it does not hold stay ``None``/empty."""
    version: str | None = None
    gpu: str | None = None
    sm: int | None = None
    command: str | None = None
    flags: dict[str, str] = {}
    fusions: list[tuple[str, str, str]] = []
    section: str | None = None
    for line in lines:
        # Cheap substring tests first: a verbose log has ~40k lines, most of them tactic timings.
        if "Fusing " in line:
            fusion = _fusion(line)
            if fusion:
                fusions.append(fusion)
            continue
        if line.startswith("&&&& RUNNING"):
            tag = _VERSION_TAG.search(line)
            if tag and version is None:
                version = decode_version_tag(tag.group(1))
            command = line.partition(" # ")[2].strip() or command
            continue
        if not line.startswith("[") or "] [I] " not in line:
            continue
        text = _LOG_PREFIX.sub("", line).strip()
        header = _SECTION.match(text)
        if header:
            section = header.group(1)
            continue
        if "TensorRT version: " in text:
            match = _VERSION_LINE.search(text)
            if match:
                digits = match.group(1)
                version = decode_version_tag(digits) if digits.isdigit() and len(digits) >= 4 else digits
        elif text.startswith("Selected Device: "):
            gpu = text.partition(": ")[2].strip() or None
        elif text.startswith("Compute Capability: "):
            major, _, minor = text.partition(": ")[2].strip().partition(".")
            if _DIGITS.fullmatch(major):  # ASCII digits only: "²".isdigit() is True, int("²") fails
                sm = int(major) * 10 + (int(minor) if _DIGITS.fullmatch(minor) else 0)
        elif section and section.endswith("Options") and not text.startswith("[TRT]"):
            key, sep, value = text.partition(": ")
            key = key.rstrip()
            if sep and _OPTION_KEY.fullmatch(key) and key not in flags:
                flags[key] = value.strip()
    table = parse_profile_table(lines)
    layers = parse_engine_layer_information(lines) or parse_layers_block(lines)
    profile, total = table if table else (parse_iprofiler_log(lines), None)
    return LogInfo(
        trt_version=version,
        gpu=gpu,
        sm=sm,
        command=command,
        summary=parse_summary(lines),
        flags=flags,
        fusion_lines=tuple(fusions),
        layers=layers,
        profile=profile,
        profile_total_ms=total,
    )


def read_log(path: Path) -> LogInfo:
    """A trtexec log; raises ArtifactError when the file holds nothing a log would."""
    text = read_text(path, LOG_EXPECTED, LOG_MAX_BYTES)
    info = parse_log_lines(split_lines(text))
    if not any((info.trt_version, info.gpu, info.summary, info.fusion_lines, info.layers, info.profile)):
        raise ArtifactError(
            f"{shown(path)}: nothing recognisable in it, expected {LOG_EXPECTED}",
            "pass the captured output of trtexec (e.g. trtexec ... 2>&1 | tee trtexec.log)",
        )
    return info
