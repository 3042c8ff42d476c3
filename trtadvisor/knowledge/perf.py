"""What a GPU can do, for the cost model: peak throughput per precision, memory bandwidth, and the
efficiencies fitted on real profiles (``rules/gpu_perf.toml``, validated here on first use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtadvisor.errors import RuleDataError
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target, normalise_gpu_name

FILE = "gpu_perf.toml"
PEAK_KEYS = ("fp32_cuda", "tf32_tc", "fp16_tc", "bf16_tc", "int8_tc", "fp8_tc")
_GPU_KEYS = ("source", "bandwidth_gbs", *PEAK_KEYS)
_BELOW = ("pad", "cuda_cores")


@dataclass(frozen=True)
class GpuPerf:
    """One GPU's datasheet figures (TFLOPS/TOPS dense; GB/s)."""

    name: str
    bandwidth_gbs: float
    peaks: dict[str, float]  # PEAK_KEYS present for this GPU
    source: str
    assumed: bool = False  # True when the target named no GPU in the table (picked by SM)

    def peak(self, key: str) -> float | None:
        return self.peaks.get(key)


@dataclass(frozen=True)
class Efficiency:
    compute: float
    memory: float


@dataclass(frozen=True)
class PerfBook:
    gpus: dict[str, dict[str, Any]]  # raw [gpu.NAME] tables, keyed by normalised name
    names: dict[str, str]  # normalised -> as written
    sm_default: dict[int, str]
    tensor_cores: dict[str, tuple[int, str]]  # precision -> (channel multiple, what happens below it)
    efficiency: dict[str, Efficiency]
    overhead_ms: float
    cuda_core: float
    fitted_on: tuple[str, ...]

    def kind_efficiency(self, kind: str) -> Efficiency:
        return self.efficiency.get(kind) or self.efficiency["default"]


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RuleDataError(f"{FILE}: '{where}' is {value!r}, not a positive number", "fix the rule data")
    return float(value)


def _keys(where: str, table: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise RuleDataError(f"{FILE}: '{where}' is not a table", "fix the rule data")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise RuleDataError(f"{FILE}: unknown key '{where}.{unknown[0]}'", f"allowed keys: {', '.join(allowed)}")
    missing = [k for k in required if k not in table]
    if missing:
        raise RuleDataError(f"{FILE}: '{where}' lacks '{missing[0]}'", "every table needs " + ", ".join(required))
    return table


def parse_perf(data: dict[str, Any]) -> PerfBook:
    """Validate the raw tables of gpu_perf.toml: unknown or missing keys and non-numbers are errors."""
    gpus: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for name, table in data.get("gpu", {}).items():
        _keys(f"gpu.{name}", table, (*_GPU_KEYS, "pcie"), ("source", "bandwidth_gbs", "fp32_cuda"))
        for key in ("bandwidth_gbs", *PEAK_KEYS):
            if key in table:
                _number(f"gpu.{name}.{key}", table[key])
        if "pcie" in table:
            _keys(f"gpu.{name}.pcie", table["pcie"], _GPU_KEYS[1:])
            for key, value in table["pcie"].items():
                _number(f"gpu.{name}.pcie.{key}", value)
        gpus[normalise_gpu_name(name)] = table
        names[normalise_gpu_name(name)] = name
    sm_table = _keys("sm_default", data.get("sm_default", {}), ("source", *data.get("sm_default", {})), ("source",))
    sm_default = {}
    for sm, gpu in sm_table.items():
        if sm == "source":
            continue
        if not sm.isdigit() or normalise_gpu_name(str(gpu)) not in gpus:
            raise RuleDataError(f"{FILE}: sm_default.{sm} = {gpu!r} names no [gpu] table",
                                "add the GPU or fix the name")
        sm_default[int(sm)] = str(gpu)
    cores = _keys("tensor_cores", data.get("tensor_cores", {}), ("source", "tf32", "fp16", "bf16", "int8", "fp8"),
                  ("source",))
    tensor_cores = {}
    for precision, rule in cores.items():
        if precision == "source":
            continue
        _keys(f"tensor_cores.{precision}", rule, ("channels", "below"), ("channels", "below"))
        if rule["below"] not in _BELOW:
            raise RuleDataError(f"{FILE}: tensor_cores.{precision}.below is {rule['below']!r}",
                                f"use one of {', '.join(_BELOW)}")
        tensor_cores[precision] = (int(_number(f"tensor_cores.{precision}.channels", rule["channels"])), rule["below"])
    eff_table = data.get("efficiency", {})
    _keys("efficiency", eff_table, tuple(eff_table), ("source", "overhead_ms", "cuda_core", "default"))
    efficiency = {}
    for kind, value in eff_table.items():
        if kind in ("source", "overhead_ms", "cuda_core"):
            continue
        _keys(f"efficiency.{kind}", value, ("compute", "memory"), ("compute", "memory"))
        efficiency[kind] = Efficiency(_number(f"efficiency.{kind}.compute", value["compute"]),
                                      _number(f"efficiency.{kind}.memory", value["memory"]))
    calibration = _keys("calibration", data.get("calibration", {}), ("source", "fitted_on"), ("source", "fitted_on"))
    return PerfBook(gpus=gpus, names=names, sm_default=sm_default, tensor_cores=tensor_cores, efficiency=efficiency,
                    overhead_ms=float(eff_table["overhead_ms"]),
                    cuda_core=_number("efficiency.cuda_core", eff_table["cuda_core"]),
                    fitted_on=tuple(calibration["fitted_on"]))


_PARSED: dict[int, tuple[dict[str, Any], PerfBook]] = {}  # id of the raw tables -> (them, parsed)


def perf_book(book: RuleBook) -> PerfBook:
    """The parsed cost data of a rule book, validated once per loaded book."""
    data = book.tables.get(FILE)
    if data is None:
        raise RuleDataError(f"rule file {FILE} is missing", "reinstall trtadvisor")
    known = _PARSED.get(id(data))
    if known is None or known[0] is not data:
        known = _PARSED[id(data)] = (data, parse_perf(data))
    return known[1]


def gpu_perf(book: RuleBook, target: Target) -> GpuPerf | None:
    """The figures for the target's GPU; by SM when the GPU is not in the table (marked assumed);
    None when neither is known."""
    perf = perf_book(book)
    key: str | None = None
    assumed = False
    if target.gpu:
        wanted = normalise_gpu_name(target.gpu)
        if wanted in perf.gpus:
            key = wanted
        else:
            found = sorted((k for k in perf.gpus if k and k in wanted), key=len, reverse=True)
            key = found[0] if found else None
    if key is None and target.sm is not None and target.sm in perf.sm_default:
        key = normalise_gpu_name(perf.sm_default[target.sm])
        assumed = True
    if key is None:
        return None
    table = dict(perf.gpus[key])
    pcie = table.pop("pcie", None)
    if pcie and target.gpu and "pcie" in target.gpu.lower():
        table.update(pcie)
    peaks = {k: float(table[k]) for k in PEAK_KEYS if k in table}
    return GpuPerf(name=perf.names[key], bandwidth_gbs=float(table["bandwidth_gbs"]), peaks=peaks,
                   source=str(table["source"]), assumed=assumed)
