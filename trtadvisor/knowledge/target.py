"""The deployment target: TensorRT version, GPU (as an SM version), precision, shape mode and builder level.

Shape mode and optimization level change what TensorRT 10.x hands to Myelin (the cookbook LeNet's
static FP32 and min/opt/max FP16 builds differ: rules/observed_engines.toml), so they are part of the target.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from trtadvisor.errors import TargetError
from trtadvisor.knowledge.rulebook import RuleBook

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8", "fp8", "best")
SHAPE_MODES = ("static", "dynamic")
# trtexec's --builderOptimizationLevel: 0 to 5, 3 when not given (trtexec --help).
OPT_LEVELS = range(0, 6)
DEFAULT_OPT_LEVEL = 3

Version = tuple[int, ...]


@lru_cache(maxsize=256)  # the same few version strings are compared once per attention site
def parse_version(text: str) -> Version:
    """``"10.16.1"`` -> ``(10, 16, 1)``; also reads trtexec's ``8601`` style."""
    text = text.strip().lstrip("vV")
    if re.fullmatch(r"\d{4,5}", text):  # [TensorRT v8601] -> 8.6.1
        n = int(text)
        return (n // 1000, (n // 100) % 10, n % 100)
    if not re.fullmatch(r"\d+(\.\d+){0,3}", text):
        raise TargetError(f"'{text}' is not a TensorRT version", "write it as MAJOR.MINOR, e.g. --trt 10.16")
    return tuple(int(p) for p in text.split("."))


def version_at_least(version: Version, minimum: str) -> bool:
    return version >= parse_version(minimum)


@dataclass(frozen=True)
class Target:
    """What the audit predicts for. ``precision`` is the precision the engine is predicted to build in;
    under strong typing the model decides it, and the user's ``--precision`` is kept as
    ``requested_precision`` (the intent a finding compares against)."""

    trt: str
    sm: int | None
    precision: str
    gpu: str | None = None
    # "static": one shape per input (no flags, or --shapes: trtexec builds a single-shape profile);
    # "dynamic": an optimization profile whose min and max differ (--minShapes/--maxShapes).
    shapes: str = "static"
    opt_level: int = DEFAULT_OPT_LEVEL
    typing: str = "weak"                    # "strong" (the model's types decide) or "weak" (the flags do)
    requested_precision: str | None = None  # the --precision asked for (None: same as precision)
    strongly_typed_flag: bool = False       # --strongly-typed was given (9.0-10.x)
    # trtexec's --minShapes/--optShapes/--maxShapes as given, so the recommended build uses the same profile.
    profile_flags: tuple[str, ...] = ()

    @property
    def strong(self) -> bool:
        return self.typing == "strong"

    @property
    def intent(self) -> str:
        return self.requested_precision or self.precision

    @property
    def trt_version(self) -> Version:
        return parse_version(self.trt)

    def trt_at_least(self, minimum: str) -> bool:
        return version_at_least(self.trt_version, minimum)

    @property
    def reduced_precision(self) -> bool:
        """True where TensorRT may pick FP16/INT8/FP8 kernels (GELU and depthwise fusions need it)."""
        return self.precision in ("fp16", "bf16", "int8", "fp8", "best")

    def allows(self, precision: str) -> bool:
        """Whether ``precision`` kernels are enabled by this target's flags."""
        if self.precision == "best":
            return True
        return precision == self.precision or precision == "fp32"


# Words a GPU's marketing or driver name adds around the model name: dropped before matching.
_GPU_NOISE = frozenset({"nvidia", "geforce", "tesla", "pcie", "sxm", "sxm2", "sxm4", "sxm5", "nvl", "hbm3",
                        "hbm3e", "hbm2e", "oam", "mig", "gpu", "generation"})


def normalise_gpu_name(name: str) -> str:
    """``"NVIDIA A100-SXM4-80GB"`` -> ``"a100"``: words split on spaces/dashes/underscores, noise and
    memory sizes dropped, the rest joined lower-case. Matching is on the whole result."""
    words = [w for w in re.split(r"[\s\-_]+", name.lower()) if w]
    kept = [w for w in words if w not in _GPU_NOISE and not re.fullmatch(r"\d+gb", w)]
    return "".join(kept)


def sm_of_gpu(name: str, book: RuleBook) -> int:
    """The SM version of a GPU named as a whole in ``rules/gpus.toml`` (case and spacing tolerant).

    Never a substring match ("RTX A1000" is not an A100): an unknown name is refused with the
    closest names, so a typo never becomes a silent guess."""
    wanted = normalise_gpu_name(name)
    table: dict[str, tuple[str, int]] = {normalise_gpu_name(k): (k, v) for k, v in book.gpus.items()}
    if wanted in table:
        return table[wanted][1]
    close = difflib.get_close_matches(wanted, list(table), n=4, cutoff=0.6)
    if close:
        names = " or ".join(f"{table[c][0]} (SM {table[c][1]})" for c in close)
        raise TargetError(f"unknown GPU '{name}'", f"did you mean {names}? Or give --sm N")
    raise TargetError(f"unknown GPU '{name}'", "give --sm N (e.g. --sm 86 or --sm 8.6), or a name from "
                      "rules/gpus.toml: " + ", ".join(sorted(book.gpus)))


def parse_sm(text: str, book: RuleBook) -> int:
    """``"86"`` or ``"8.6"`` -> 86; nothing else (``8.6.1``, ``861``, ``sm_86``) is a compute capability."""
    text = text.strip()
    if re.fullmatch(r"[1-9][0-9]{1,2}", text):
        value = int(text)
    elif re.fullmatch(r"[1-9][0-9]?\.[0-9]", text):
        major, minor = text.split(".")
        value = int(major) * 10 + int(minor)
    else:
        raise TargetError(f"--sm '{text}' is not a compute capability",
                          "write it as 86 or 8.6 (for SM 8.6), or --sm auto")
    known = known_sms(book)
    if value not in known:
        raise TargetError(f"SM {value} is not a compute capability the rules know",
                          "use one of " + ", ".join(map(str, known)))
    return value


def known_sms(book: RuleBook) -> tuple[int, ...]:
    return tuple(int(v) for v in book.tables["gpus.toml"]["compute_capabilities"]["known"])


def _version_text(version: Version) -> str:
    return ".".join(map(str, version))


def check_known_trt(text: str, book: RuleBook) -> str:
    """The --trt value when its MAJOR.MINOR is a release the rules know; else a TargetError naming the
    known list and the nearest release."""
    known = [parse_version(k) for k in book.known_trt]
    listing = _known_listing(book.known_trt)
    try:
        version = parse_version(text)
    except TargetError:
        raise TargetError(f"'{text}' is not a TensorRT version",
                          f"write it as MAJOR.MINOR; the rules know {listing}") from None
    head = version[:2] if len(version) >= 2 else (version[0], 0)
    if head in known:
        return text.strip().lstrip("vV")
    nearest = _nearest(sorted(known), head)
    raise TargetError(f"TensorRT {_version_text(version)} is not a version the rules know "
                      f"(nearest: {_version_text(nearest)})",
                      f"use --trt {_version_text(nearest)} or another known version: {listing}")


def _nearest(known: list[Version], wanted: Version) -> Version:
    """Below the oldest: the oldest; above the newest: the newest; between: the neighbour of the
    same major (the older one when both are)."""
    at = bisect.bisect_left(known, wanted)
    if at == 0:
        return known[0]
    if at == len(known):
        return known[-1]
    below, above = known[at - 1], known[at]
    return below if below[0] == wanted[0] or above[0] != wanted[0] else above


def _known_listing(known: tuple[str, ...]) -> str:
    """``8.0, 8.2, ..., 10.0-10.16, 11.0-11.4``: runs of consecutive minors of one major shortened."""
    by_major: dict[int, list[int]] = {}
    for text in known:
        major, minor = parse_version(text)[:2]
        by_major.setdefault(major, []).append(minor)
    parts: list[str] = []
    for major, minors in by_major.items():
        if len(minors) > 2 and minors == list(range(minors[0], minors[-1] + 1)):
            parts.append(f"{major}.{minors[0]}-{major}.{minors[-1]}")
        else:
            parts.extend(f"{major}.{m}" for m in minors)
    return ", ".join(parts)


def check_sm_supported(trt: Version, sm: int, book: RuleBook) -> None:
    """Refuse a GPU that a release note says arrived after the target version."""
    since = book.tables["gpus.toml"]["compute_capabilities"].get("since", {}).get(str(sm))
    if since and trt < parse_version(str(since["trt"])):
        raise TargetError(f"SM {sm} is supported from TensorRT {since['trt']}, the target is "
                          f"{_version_text(trt)}", f"use --trt {since['trt']} or newer ({since['source']})")


def detect_sm() -> tuple[int, str]:
    """The SM version and name of GPU 0 through cuda-python, imported only when asked."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # type: ignore[no-redef]  # older cuda-python layout
        except ImportError:
            raise TargetError("--sm auto needs cuda-python, which is not installed",
                              "pip install 'trtadvisor[cuda]', or give --sm N / --gpu NAME") from None
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count == 0:
        raise TargetError("--sm auto found no CUDA GPU on this machine",
                          "run on a machine with a GPU, or give --sm N / --gpu NAME")
    err, props = cudart.cudaGetDeviceProperties(0)
    if int(err) != 0:
        raise TargetError(f"--sm auto could not read GPU 0's properties (CUDA error {int(err)})",
                          "check the driver with nvidia-smi, or give --sm N")
    name = props.name.decode("utf-8", "replace").rstrip("\x00") if isinstance(props.name, bytes) else str(props.name)
    return props.major * 10 + props.minor, name


def make_target(book: RuleBook, trt: str | None, sm: str | None, gpu: str | None,
                precision: str | None = None, shapes: str | None = None, opt_level: int | None = None,
                strongly_typed: bool = False, profile_flags: tuple[str, ...] = ()) -> Target:
    trt_text = check_known_trt(trt, book) if trt else book.default_trt
    typing_rules = book.trt["typing"]
    version = parse_version(trt_text)
    if strongly_typed and version < parse_version(typing_rules["strongly_typed_flag_since"]):
        raise TargetError(f"--strongly-typed needs TensorRT {typing_rules['strongly_typed_flag_since']} or newer "
                          f"(target {trt_text})", "drop --strongly-typed, or target a newer --trt")
    typing = "strong" if strongly_typed or version >= parse_version(typing_rules["strong_only_since"]) else "weak"
    precision = precision or str(book.trt["target"]["default_precision"])
    if precision not in PRECISIONS:
        raise TargetError(f"unknown precision '{precision}'", f"use one of {', '.join(PRECISIONS)}")
    gpu_name: str | None = gpu
    sm_value: int | None = None
    if sm and gpu:
        raise TargetError("both --sm and --gpu were given", "give one of them")
    if sm == "auto":
        sm_value, gpu_name = detect_sm()
    elif sm:
        sm_value = parse_sm(sm, book)
    elif gpu:
        sm_value = sm_of_gpu(gpu, book)
    else:
        sm_value = int(book.trt["target"]["default_sm"])
        gpu_name = str(book.trt["target"]["default_gpu"])
    shape_mode = shapes or "static"
    if shape_mode not in SHAPE_MODES:
        raise TargetError(f"unknown shape mode '{shape_mode}'", f"use one of {', '.join(SHAPE_MODES)}")
    level = DEFAULT_OPT_LEVEL if opt_level is None else opt_level
    if level not in OPT_LEVELS:
        raise TargetError(f"--builderOptimizationLevel={level} is out of range",
                          "trtexec takes 0 to 5 (3 when not given)")
    check_sm_supported(version, sm_value, book)
    return Target(trt=trt_text, sm=sm_value, precision=precision, gpu=gpu_name, shapes=shape_mode,
                  opt_level=level, typing=typing, requested_precision=precision, strongly_typed_flag=strongly_typed,
                  profile_flags=tuple(profile_flags))


def shape_mode(min_shapes: dict[str, tuple[int, ...]], max_shapes: dict[str, tuple[int, ...]]) -> str:
    """trtexec's profile: dynamic when an input's --minShapes and --maxShapes differ, else static."""
    for name in set(min_shapes) | set(max_shapes):
        if min_shapes.get(name) != max_shapes.get(name):
            return "dynamic"
    return "static"
