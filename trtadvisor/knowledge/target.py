"""The deployment target: TensorRT version, GPU (as an SM version), precision, shape mode and builder level.

Shape mode and optimization level change what TensorRT 10.x hands to Myelin (the cookbook LeNet's
static FP32 and min/opt/max FP16 builds differ: rules/engines.toml), so they are part of the target.
"""

from __future__ import annotations

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
    trt: str
    sm: int | None
    precision: str
    gpu: str | None = None
    # "static": one shape per input (no flags, or --shapes: trtexec builds a single-shape profile);
    # "dynamic": an optimization profile whose min and max differ (--minShapes/--maxShapes).
    shapes: str = "static"
    opt_level: int = DEFAULT_OPT_LEVEL

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


def normalise_gpu_name(name: str) -> str:
    text = name.lower()
    for noise in ("nvidia", "geforce", "tesla", "pcie", "sxm4", "sxm5", "sxm", "80gb", "40gb", "94gb",
                  "141gb", "24gb", "48gb", "16gb", "32gb", "nvl"):
        text = text.replace(noise, " ")
    return re.sub(r"[\s\-_]+", "", text)


def sm_of_gpu(name: str, book: RuleBook) -> int:
    """The SM version of a GPU name from ``rules/gpus.toml``; longest matching entry wins."""
    wanted = normalise_gpu_name(name)
    table = {normalise_gpu_name(k): v for k, v in book.gpus.items()}
    if wanted in table:
        return table[wanted]
    candidates = sorted((k for k in table if k and k in wanted), key=len, reverse=True)
    if candidates:
        return table[candidates[0]]
    known = ", ".join(sorted(book.gpus))
    raise TargetError(f"unknown GPU '{name}'", f"use --sm N instead, or one of: {known}")


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
                precision: str | None = None, shapes: str | None = None, opt_level: int | None = None) -> Target:
    trt_text = trt or book.default_trt
    precision = precision or str(book.trt["target"]["default_precision"])
    parse_version(trt_text)  # validates
    if precision not in PRECISIONS:
        raise TargetError(f"unknown precision '{precision}'", f"use one of {', '.join(PRECISIONS)}")
    gpu_name: str | None = gpu
    sm_value: int | None = None
    if sm and gpu:
        raise TargetError("both --sm and --gpu were given", "give one of them")
    if sm == "auto":
        sm_value, gpu_name = detect_sm()
    elif sm:
        try:
            sm_value = int(sm.replace(".", "")) if "." in sm else int(sm)
        except ValueError:
            raise TargetError(f"--sm '{sm}' is not a number", "write --sm 90 (for SM 9.0), or --sm auto") from None
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
    return Target(trt=trt_text, sm=sm_value, precision=precision, gpu=gpu_name, shapes=shape_mode,
                  opt_level=level)


def shape_mode(min_shapes: dict[str, tuple[int, ...]], max_shapes: dict[str, tuple[int, ...]]) -> str:
    """trtexec's profile: dynamic when an input's --minShapes and --maxShapes differ, else static."""
    for name in set(min_shapes) | set(max_shapes):
        if min_shapes.get(name) != max_shapes.get(name):
            return "dynamic"
    return "static"
