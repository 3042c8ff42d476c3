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
    pool_ops: frozenset[str]  # [work]: how a node's arithmetic is counted
    per_input_prefixes: tuple[str, ...]
    recurrent_ops: frozenset[str]
    flops_per_element: dict[str, int]

    def kind_efficiency(self, kind: str) -> Efficiency:
        return self.efficiency.get(kind) or self.efficiency["default"]


def _positive(where: str, value: Any) -> float:
    if value is None or value <= 0:
        raise RuleDataError(f"rules/{FILE}: '{where}' is {value!r}, not a positive number", "fix the rule data")
    return float(value)


def parse_perf(raw: dict[str, Any]) -> PerfBook:
    """gpu_perf.toml as read from disk, validated against its declared schema (knowledge/rule_files.py)."""
    from trtadvisor.knowledge.rule_files import FILES
    from trtadvisor.knowledge.schema import validate

    return _parse(validate(FILES[FILE], raw, FILE))


def _parse(data: dict[str, Any]) -> PerfBook:
    """Schema-checked data (defaults filled in), plus what a schema cannot say: numbers are positive,
    and sm_default names GPUs of the table."""
    gpus: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for name, table in data["gpu"].items():
        for key in ("bandwidth_gbs", *PEAK_KEYS):
            if table.get(key) is not None:
                _positive(f"gpu.{name}.{key}", table[key])
        gpus[normalise_gpu_name(name)] = table
        names[normalise_gpu_name(name)] = name
    sm_default = {}
    for sm, gpu in data["sm_default"]["gpus"].items():
        if normalise_gpu_name(gpu) not in gpus:
            raise RuleDataError(f"rules/{FILE}: sm_default.gpus.{sm} = {gpu!r} names no [gpu] table",
                                "add the GPU or fix the name")
        sm_default[int(sm)] = gpu
    cores = data["tensor_cores"]
    tensor_cores = {p: (int(rule["channels"]), str(rule["below"])) for p, rule in cores.items() if p != "source"}
    eff, work = data["efficiency"], data["work"]
    efficiency = {kind: Efficiency(_positive(f"efficiency.kind.{kind}.compute", v["compute"]),
                                   _positive(f"efficiency.kind.{kind}.memory", v["memory"]))
                  for kind, v in eff["kind"].items()}
    if "default" not in efficiency:
        raise RuleDataError(f"rules/{FILE}: efficiency.kind lacks 'default'", "add default = {compute, memory}")
    return PerfBook(gpus=gpus, names=names, sm_default=sm_default, tensor_cores=tensor_cores, efficiency=efficiency,
                    overhead_ms=float(eff["overhead_ms"]),
                    cuda_core=_positive("efficiency.cuda_core", eff["cuda_core"]),
                    fitted_on=tuple(data["calibration"]["fitted_on"]),
                    pool_ops=frozenset(work["pool_ops"]),
                    per_input_prefixes=tuple(work["per_input_prefixes"]),
                    recurrent_ops=frozenset(work["recurrent_ops"]),
                    flops_per_element={op: int(_positive(f"work.flops_per_element.{op}", n))
                                       for op, n in work["flops_per_element"].items()})


_PARSED: dict[int, tuple[dict[str, Any], PerfBook]] = {}  # id of the raw tables -> (them, parsed)


def perf_book(book: RuleBook) -> PerfBook:
    """The parsed cost data of a rule book, validated once per loaded book."""
    data = book.tables.get(FILE)
    if data is None:
        raise RuleDataError(f"rule file {FILE} is missing", "reinstall trtadvisor")
    known = _PARSED.get(id(data))
    if known is None or known[0] is not data:
        known = _PARSED[id(data)] = (data, _parse(data))  # the rule book validated it on load
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
        table.update({k: v for k, v in pcie.items() if v is not None})
    peaks = {k: float(table[k]) for k in PEAK_KEYS if table.get(k) is not None}
    return GpuPerf(name=perf.names[key], bandwidth_gbs=float(table["bandwidth_gbs"]), peaks=peaks,
                   source=str(table["source"]), assumed=assumed)
