"""Where the engine spends its time (bottlenecks) and what the performance summary says (diagnosis).

Every threshold, tactic pattern and text is rule data (``rules/engine.toml``, one ``[rule.CODE]`` per check, so
``--select``/``--ignore`` and ``explain`` reach them); each check here returns the rule it fired with the fields
its message needs. The rules follow ``../shared/reference/tensorrt-best-practices.txt``: "Enqueue-Bound Workloads
and CUDA Graphs", "H2D/D2H Data Transfers and PCIe Bandwidth", "BlockingSync and SpinWait Synchronization
Modes" and "GPU Clock Locking and Floating Clock".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from trtadvisor.confirm.mapping import layer_role, strip_profile_suffix
from trtadvisor.confirm.model import Engine, EngineLayer
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.knowledge.target import parse_version


@dataclass(frozen=True)
class EngineRules:
    """rules/engine.toml, compiled: the checks' thresholds, tactic patterns and texts, by rule id."""

    by_id: dict[str, dict[str, Any]]  # "enqueue-bound" -> its [rule.CODE] table (code added)
    thresholds: dict[str, float]
    tensor_core: re.Pattern[str]
    xmma: re.Pattern[str]
    scalar_fma: re.Pattern[str]
    channel_multiple: dict[str, int]
    myelin_types: frozenset[str]
    nsys: str
    myelin_attention_since: str
    cuda_graph_default_on_since: str

    @classmethod
    def from_book(cls, book: RuleBook) -> EngineRules:
        data = book.tables["engine.toml"]
        tactics = data["tactics"]
        return cls(
            by_id={t["id"]: {**t, "code": code} for code, t in data["rule"].items()},
            thresholds={k: v for k, v in data["thresholds"].items() if k != "source"},
            tensor_core=re.compile(tactics["tensor_core"], re.I), xmma=re.compile(tactics["xmma"], re.I),
            scalar_fma=re.compile(tactics["scalar_fma"], re.I), channel_multiple=tactics["channel_multiple"],
            myelin_types=frozenset(data["myelin"]["layer_types"]), nsys=data["myelin"]["nsys"],
            myelin_attention_since=book.platform["myelin_attention_since"],
            cuda_graph_default_on_since=book.trt["cuda_graph"]["default_on_since"],
        )

    def code(self, rule_id: str) -> str:
        return str(self.by_id[rule_id]["code"])

    def text(self, rule_id: str, key: str, **fields: object) -> str:
        """The rule's ``key`` text (message, advice, evidence) with ``fields`` filled in."""
        return str(self.by_id[rule_id][key]).format(**fields)

    def variant(self, rule_id: str, name: str, **fields: object) -> str:
        return str(self.by_id[rule_id]["variants"][name]).format(**fields)


@cache
def _default_rules() -> EngineRules:
    return EngineRules.from_book(default_rulebook())


def engine_rules(book: RuleBook | None = None) -> EngineRules:
    return _default_rules() if book is None else EngineRules.from_book(book)


DEFAULT_TOP = 10  # hot layers ranked by default (``--top N``)


@dataclass(frozen=True)
class Bottleneck:
    """One hot layer: its time and share of the engine's time, and its cause and advice where one is known.

    ``rule`` is the cause's id and ``code`` its rule code in rules/engine.toml (``None`` where no rule explains
    the time; ``why`` and ``advice`` are then empty: the layer is hot, and nothing more is known).
    """

    layer: str
    median_ms: float  # the per-inference time ranked by: the median where measured, else the average
    percent: float  # share of the sum of the same per-inference times
    why: str
    advice: str
    rule: str | None = "largest-layer"
    rank: int = 0  # 1 = the hottest layer
    type: str = ""
    onnx_nodes: tuple[str, ...] = ()
    measure: str = "median"  # "median" or "average": which time ``median_ms`` holds
    code: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    rule: str
    message: str
    evidence: str
    advice: str
    code: str = ""  # the rule code in rules/engine.toml


def diagnosis_of(rules: EngineRules, rule_id: str, advice: str | None = None, **fields: object) -> Diagnosis:
    """The diagnosis ``rule_id`` with its message, evidence and advice filled in from the rule data."""
    return Diagnosis(rule_id, rules.text(rule_id, "message", **fields), rules.text(rule_id, "evidence", **fields),
                     rules.text(rule_id, "advice", **fields) if advice is None else advice, rules.code(rule_id))


@dataclass(frozen=True)
class LayerShare:
    layer: EngineLayer
    time_ms: float
    percent: float


def layer_shares(engine: Engine) -> list[LayerShare]:
    """Every timed layer with its per-inference time and share of the total, largest first.

    The share is computed from the same per-inference times that rank the layers (TensorRT's own
    ``percentage`` is a share of the summed ``timeMs`` instead, so it can disagree with the median).
    Ties keep engine order.
    """
    timed = [layer for layer in engine.layers if layer.time_ms is not None]
    total = sum(layer.time_ms or 0.0 for layer in timed)
    shares = [
        LayerShare(layer, layer.time_ms or 0.0, 100.0 * (layer.time_ms or 0.0) / total if total else 0.0)
        for layer in timed
    ]
    return sorted(shares, key=lambda share: share.time_ms, reverse=True)


def _op_of(node: str, op_types: dict[str, str] | None) -> str:
    """The op type of a node: from the model where known, else guessed from the exporter's name."""
    if op_types and node in op_types:
        return op_types[node]
    base = node.rsplit("/", 1)[-1]
    return re.sub(r"[_\-.:]?\d+$", "", base)


def _is_conv(layer: EngineLayer) -> bool:
    return "Convolution" in (layer.type or "") or (layer.raw.get("ParameterType") == "Convolution")


def _uses_tensor_cores(tactic: str, rules: EngineRules) -> bool:
    return bool(rules.tensor_core.search(tactic)) or bool(rules.xmma.search(tactic)
                                                          and not rules.scalar_fma.search(tactic))


def _conv_finding(layer: EngineLayer, rules: EngineRules) -> tuple[str, str] | None:
    precision = layer.precision
    # Only a tactic *name* tells the kernel; bare tactic values (0x..., or decimal before 8.2) do not.
    tactic = layer.tactic or ""
    if precision not in rules.channel_multiple or not re.search(r"[g-zG-Z_]", tactic.removeprefix("0x")):
        return None
    if _uses_tensor_cores(tactic, rules):
        return None
    multiple = rules.channel_multiple[precision]
    channels = [
        t.dims[1] for t in (*layer.inputs[:1], *layer.outputs[:1]) if len(t.dims) >= 2 and t.dims[1] > 0
    ]
    misaligned = sorted({c for c in channels if c % multiple})
    fields = {"precision": precision.upper(), "tactic": tactic, "multiple": multiple, "channels": misaligned}
    why = rules.text("conv-no-tensor-cores", "message", **fields)
    if misaligned:
        why += rules.variant("conv-no-tensor-cores", "misaligned", **fields)
    return why, rules.text("conv-no-tensor-cores", "advice", **fields)


def _reformat_changes_type(layer: EngineLayer) -> bool:
    if not layer.inputs or not layer.outputs:
        return False
    before, after = layer.inputs[0].precision, layer.outputs[0].precision
    return before is not None and after is not None and before != after


def find_bottlenecks(
    engine: Engine, op_types: dict[str, str] | None = None, top: int | None = DEFAULT_TOP,
    rules: EngineRules | None = None,
) -> list[Bottleneck]:
    """The hottest layers, largest time first (``top`` of them; ``None`` for all), with their cause and advice
    where a rule knows one. Layers that took no time (NoOps, bookkeeping) are never ranked."""
    causes = {id(b.source): b for b in _causes(engine, op_types, rules or engine_rules())}
    ranked: list[Bottleneck] = []
    for share in layer_shares(engine):
        if share.time_ms <= 0.0 or (top is not None and len(ranked) >= top):
            break
        layer = share.layer
        cause = causes.get(id(layer))
        ranked.append(Bottleneck(
            strip_profile_suffix(layer.name), share.time_ms, share.percent,
            cause.why if cause else "", cause.advice if cause else "", cause.rule if cause else None,
            rank=len(ranked) + 1, type=layer.type or "", onnx_nodes=tuple(layer.onnx_nodes),
            measure="median" if layer.median_ms is not None else "average",
            code=cause.bottleneck.code if cause else None))
    return ranked


def find_causes(engine: Engine, op_types: dict[str, str] | None = None,
                rules: EngineRules | None = None) -> list[Bottleneck]:
    """Every timed layer with a known cause of slowness, largest first (layers without times are skipped)."""
    return [c.bottleneck for c in _causes(engine, op_types, rules or engine_rules())]


@dataclass(frozen=True)
class _Cause:
    source: EngineLayer
    bottleneck: Bottleneck

    @property
    def why(self) -> str:
        return self.bottleneck.why

    @property
    def advice(self) -> str:
        return self.bottleneck.advice

    @property
    def rule(self) -> str | None:
        return self.bottleneck.rule


def _causes(engine: Engine, op_types: dict[str, str] | None, rules: EngineRules) -> list[_Cause]:
    """The rules that explain a layer's time, each layer explained once (the first rule that fires)."""
    shares = layer_shares(engine)
    findings: list[_Cause] = []
    seen: set[int] = set()
    threshold = rules.thresholds

    def add(share: LayerShare, rule: str, why: str, advice: str) -> None:
        if id(share.layer) in seen:
            return
        seen.add(id(share.layer))
        layer = share.layer
        findings.append(_Cause(layer, Bottleneck(
            strip_profile_suffix(layer.name), share.time_ms, share.percent, why, advice, rule,
            type=layer.type or "", onnx_nodes=tuple(layer.onnx_nodes),
            measure="median" if layer.median_ms is not None else "average", code=rules.code(rule))))

    # Unfused attention: a Softmax layer of its own while MatMul layers exist beside it.
    def ops(layer: EngineLayer) -> set[str]:
        return {_op_of(node, op_types).lower() for node in layer.onnx_nodes}

    matmul_layers = [s for s in shares if "matmul" in ops(s.layer) and "softmax" not in ops(s.layer)]
    for share in shares:
        layer_ops = ops(share.layer)
        if (
            "softmax" in layer_ops
            and "matmul" not in layer_ops
            and matmul_layers
            and layer_role(share.layer) != "myelin"
        ):
            fields = {"matmul_layers": len(matmul_layers), "myelin_attention_since": rules.myelin_attention_since}
            add(share, "unfused-attention", rules.text("unfused-attention", "message", **fields),
                rules.text("unfused-attention", "advice", **fields))
    # Convolutions off tensor cores.
    for share in shares:
        if _is_conv(share.layer):
            finding = _conv_finding(share.layer, rules)
            if finding:
                add(share, "conv-no-tensor-cores", *finding)
    # Reformats that change the data type.
    converting = [s for s in shares if layer_role(s.layer) == "reformat" and _reformat_changes_type(s.layer)]
    converting_share = sum(s.percent for s in converting)
    for share in converting:
        before, after = share.layer.inputs[0].precision, share.layer.outputs[0].precision
        fields = {"before": before, "after": after, "count": len(converting), "share": converting_share}
        add(share, "type-changing-reformat", rules.text("type-changing-reformat", "message", **fields),
            rules.text("type-changing-reformat", "advice", **fields))
    # Standalone Q/DQ layers.
    for share in shares:
        if layer_role(share.layer) == "qdq":
            add(share, "standalone-qdq", rules.text("standalone-qdq", "message"),
                rules.text("standalone-qdq", "advice"))
    # A Myelin region taking most of the time.
    for share in shares:
        name = share.layer.name
        is_myelin = layer_role(share.layer) in ("myelin", "internal") and (
            share.layer.type in rules.myelin_types
            or "ForeignNode" in name
            or "__myl" in name
        )
        if is_myelin and share.percent >= threshold["myelin_dominant_percent"]:
            nodes = share.layer.onnx_nodes
            listed = ", ".join(nodes[:8]) + (f" and {len(nodes) - 8} more" if len(nodes) > 8 else "")
            fields = {"percent": share.percent, "nodes": listed or "unknown", "nsys": rules.nsys}
            add(share, "myelin-dominant", rules.text("myelin-dominant", "message", **fields),
                rules.text("myelin-dominant", "advice", **fields))
    # Otherwise the single largest layer, when it dominates.
    if shares and shares[0].percent >= threshold["largest_layer_percent"]:
        top = shares[0]
        add(top, "largest-layer", rules.text("largest-layer", "message", percent=top.percent),
            rules.text("largest-layer", "advice"))
    findings.sort(key=lambda finding: finding.bottleneck.median_ms, reverse=True)
    return findings


def _cuda_graph_advice(engine: Engine, rules: EngineRules) -> str:
    if engine.flags.get("CUDA Graph", "").lower() == "enabled":
        return rules.variant("enqueue-bound", "graphs_on")
    major = engine.trt_major
    default_on = parse_version(rules.cuda_graph_default_on_since)[0]
    if major is not None and major >= default_on:
        return rules.variant("enqueue-bound", "graphs_default", major=default_on)
    return rules.text("enqueue-bound", "advice")


def diagnose(engine: Engine, rules: EngineRules | None = None) -> list[Diagnosis]:
    """Rules over the performance summary and the run's options."""
    rules = rules or engine_rules()
    threshold = rules.thresholds
    found: list[Diagnosis] = []
    summary = engine.summary
    if summary is not None:
        enqueue, compute = summary.enqueue_median_ms, summary.gpu_compute_median_ms
        ratio = threshold["enqueue_bound_ratio"]
        if enqueue is not None and compute and enqueue >= ratio * compute:
            found.append(diagnosis_of(rules, "enqueue-bound", _cuda_graph_advice(engine, rules), enqueue=enqueue,
                                      compute=compute, ratio=enqueue / compute, threshold=ratio))
        latency = summary.latency_median_ms
        transfers = (summary.h2d_median_ms or 0.0) + (summary.d2h_median_ms or 0.0)
        if latency and transfers >= threshold["transfer_bound_share"] * latency:
            found.append(diagnosis_of(rules, "transfer-bound", h2d=summary.h2d_median_ms or 0,
                                      d2h=summary.d2h_median_ms or 0, percent=100 * transfers / latency,
                                      latency=latency))
        median = summary.gpu_compute_median_ms or summary.latency_median_ms
        p99 = summary.gpu_compute_p99_ms if summary.gpu_compute_median_ms else summary.latency_p99_ms
        if median and p99 and p99 > threshold["unstable_p99_ratio"] * median:
            spin = engine.flags.get("Spin-wait", "").lower() == "enabled"
            advice = ("" if spin else rules.variant("unstable-timing", "no_spin")) \
                + rules.text("unstable-timing", "advice")
            found.append(diagnosis_of(rules, "unstable-timing", advice, p99=p99, ratio=p99 / median, median=median))
    if _profiled_inline(engine):
        found.append(diagnosis_of(rules, "profile-without-separate-run",
                                  separate=engine.flags.get("Separate profiling", "Disabled"),
                                  profile=engine.flags.get("Profile", "Enabled")))
    return found


def _profiled_inline(engine: Engine) -> bool:
    flags = engine.flags
    if flags.get("Separate profiling", "").lower() == "enabled":
        return False
    command = engine.command or ""
    profiled = flags.get("Profile", "").lower() == "enabled" or any(
        flag in command for flag in ("--dumpProfile", "--exportProfile")
    )
    return profiled and "--separateProfileRun" not in command


def bottlenecks_to_json(bottlenecks: Sequence[Bottleneck]) -> list[dict[str, object]]:
    return [
        {
            "layer": b.layer,
            "median_ms": round(b.median_ms, 6),
            "percent": round(b.percent, 4),
            "why": b.why,
            "advice": b.advice,
            "rank": b.rank,
            "rule": b.rule,
            "type": b.type,
            "onnx_nodes": list(b.onnx_nodes),
            "measure": b.measure,
            "code": b.code,
        }
        for b in bottlenecks
    ]


def diagnosis_to_json(diagnoses: Sequence[Diagnosis]) -> list[dict[str, str]]:
    return [asdict(d) for d in diagnoses]
