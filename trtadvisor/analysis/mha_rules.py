"""Will TensorRT run an attention site as its fused MHA kernel on a target? The tables as code.

The data is ``rules/attention.toml`` (both tables of the reference text's "Multi-Head Attention
Fusion" section, plus the TensorRT versions that decide). A verdict names every failing condition,
and is ``None`` (unknown) where the target lies outside the tables or a needed dimension is unknown:
never a silent yes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtadvisor.analysis.attention_sites import AttentionSite, find_attention_sites
from trtadvisor.analysis.cache import memoized
from trtadvisor.ir.graph import Graph
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target, version_at_least

PRECISION_NAMES = {"fp16": "FP16", "bf16": "BF16", "int8": "INT8", "fp8": "FP8"}


@dataclass(frozen=True)
class MhaColumn:
    table: str
    precision: str
    sm_ranges: tuple[tuple[int, int], ...]
    head_min: int
    head_max: int
    head_multiple: int
    head_sizes: tuple[int, ...]
    seq_max: int
    fp8_seq_rule: bool
    fp8_min_seq: int
    qdq_required: bool
    masks: tuple[str, ...]
    source: str

    def covers(self, sm: int) -> bool:
        return any(lo <= sm <= hi for lo, hi in self.sm_ranges)

    def sm_text(self) -> str:
        return ", ".join(f"SM{lo}" if lo == hi else f"SM{lo}-SM{hi}" for lo, hi in self.sm_ranges)


@dataclass(frozen=True)
class MhaRules:
    columns: tuple[MhaColumn, ...]
    iattention_since: str
    decomposed_since: str

    @classmethod
    def from_book(cls, book: RuleBook) -> MhaRules:
        data: dict[str, Any] = book.tables["attention.toml"]
        columns = tuple(MhaColumn(
            table=c["table"], precision=c["precision"], sm_ranges=tuple((int(a), int(b)) for a, b in c["sm"]),
            head_min=int(c["head_min"]), head_max=int(c["head_max"]), head_multiple=int(c["head_multiple"]),
            head_sizes=tuple(int(h) for h in c["head_sizes"]), seq_max=int(c["seq_max"]),
            fp8_seq_rule=bool(c["fp8_seq_rule"]), fp8_min_seq=int(c["fp8_min_seq"]),
            qdq_required=bool(c["qdq_required"]), masks=tuple(c["masks"]), source=c["source"])
            for c in data["mha"]["column"])
        versions = data["versions"]
        return cls(columns=columns, iattention_since=versions["iattention_since"],
                   decomposed_since=versions["decomposed_fusion_since"])

    def known_sm(self, sm: int | None) -> bool:
        return sm is not None and any(c.covers(sm) for c in self.columns)

    def column(self, sm: int, precision: str) -> MhaColumn | None:
        return next((c for c in self.columns if c.precision == precision and c.covers(sm)), None)

    def precisions_on(self, sm: int) -> list[str]:
        return [c.precision for c in self.columns if c.covers(sm)]


@dataclass(frozen=True)
class Verdict:
    fused: bool | None
    reasons: tuple[str, ...]      # every failing (or unknowable) condition
    fixes: tuple[str, ...]
    precision: str | None         # the table column judged
    unknown_target: bool = False


def site_precision(site: AttentionSite, target: Target) -> str | None:
    """The precision whose column decides: the target's, or for --best what the site can use."""
    if target.precision in PRECISION_NAMES:
        return target.precision
    if target.precision == "best":
        if site.qdq and "fp8" in site.qdq_types:
            return "fp8"
        if site.qdq and "int8" in site.qdq_types:
            return "int8"
        return "fp16"
    return None


def judge_sites(graph: Graph, target: Target, rules: MhaRules) -> list[Verdict]:
    """The verdict of every site of ``find_attention_sites(graph)`` on ``target``, in site order.

    The plan and the advice ask for the same verdicts, so they are computed once per target and
    rules; and a model repeats one block many times, so sites with the same judged facts share one.
    """
    by_target: dict[tuple[Target, MhaRules], tuple[Verdict, ...]] = memoized(graph, "attention_verdicts", dict)
    key = (target, rules)
    verdicts = by_target.get(key)
    if verdicts is None:
        distinct: dict[tuple[object, ...], Verdict] = {}
        found: list[Verdict] = []
        for site in find_attention_sites(graph):
            facts = _judged_facts(site)
            verdict = distinct.get(facts)
            if verdict is None:
                verdict = distinct[facts] = judge(site, target, rules)
            found.append(verdict)
        verdicts = by_target[key] = tuple(found)
    return list(verdicts)


def _judged_facts(site: AttentionSite) -> tuple[object, ...]:
    """Every field of the site that judge() reads: sites equal in these get the same verdict."""
    return (site.native, site.qdq, site.qdq_types, site.head_size, site.seq_q, site.seq_kv, site.num_heads,
            site.num_kv_heads, site.mask, site.mask_extent, site.mask_shape, site.bias, site.causal)


def _reduced_precision_fix(target: Target) -> str:
    if target.strong:  # strongly typed: no precision switch exists; the model's types decide
        return "convert the model to FP16 or BF16 (ModelOpt AutoCast) to use the fused MHA kernels"
    return "build with --fp16 (or --bf16) to use the fused MHA kernels"


def judge(site: AttentionSite, target: Target, rules: MhaRules) -> Verdict:
    """The verdict of the tables (and the TensorRT version) for one site on one target."""
    version_reasons, version_fixes = _version_checks(site, target, rules)
    if version_reasons:
        return Verdict(False, tuple(version_reasons), tuple(version_fixes), site_precision(site, target))
    sm = target.sm
    precision = site_precision(site, target)
    if sm is None or not rules.known_sm(sm):
        return Verdict(None, (f"SM {sm} is not in the MHA fusion tables (they list SM75-SM90, SM100, SM110, "
                              "SM120, SM121)",), ("check the built engine's layers for a fused MHA kernel",),
                       precision, unknown_target=True)
    if precision is None:
        return Verdict(None, (f"the MHA fusion tables have no {target.precision.upper()} column "
                              "(FP16, BF16, INT8 and FP8 only)",),
                       (_reduced_precision_fix(target),), None, unknown_target=True)
    column = rules.column(sm, precision)
    name = PRECISION_NAMES[precision]
    if column is None:
        others = ", ".join(PRECISION_NAMES[p] for p in rules.precisions_on(sm))
        return Verdict(False, (f"no fused {name} MHA kernel on SM{sm} (SM{sm} has {others})",),
                       (f"use a precision SM{sm} fuses ({others}), or a GPU with {name} MHA kernels",), precision)
    return _check_column(site, sm, column)


def _version_checks(site: AttentionSite, target: Target, rules: MhaRules) -> tuple[list[str], list[str]]:
    if site.native and not target.trt_at_least(rules.iattention_since):
        return ([f"TensorRT {target.trt} has no native attention operator (IAttention and the ONNX Attention "
                 f"importer arrive in {rules.iattention_since}); the Attention op must be decomposed"],
                [f"export with opset <= 22 (decomposed attention) or target TensorRT >= {rules.iattention_since}"])
    if not site.native and not version_at_least(target.trt_version, rules.decomposed_since):
        return ([f"TensorRT {target.trt} does not fuse a decomposed attention (MatMul, Softmax, MatMul stay "
                 f"separate layers before {rules.decomposed_since})"],
                [f"use TensorRT >= {rules.decomposed_since}, or a fused attention plugin"])
    return [], []


def _check_column(site: AttentionSite, sm: int, column: MhaColumn) -> Verdict:
    name = PRECISION_NAMES[column.precision]
    where = f"for {name} on SM{sm}"
    failing: list[str] = []
    unknown: list[str] = []
    fixes: list[str] = []
    head = site.head_size
    if head is None:
        unknown.append("head size is unknown")
    elif column.head_sizes:
        if head not in column.head_sizes:
            sizes = ", ".join(str(h) for h in column.head_sizes)
            failing.append(f"head size {head} is not one of {{{sizes}}} {where}")
            fixes.append(f"use a head size in {{{sizes}}}")
    else:
        if head > column.head_max:
            failing.append(f"head size {head} > {column.head_max} {where}")
            fixes.append(f"split into more heads of at most {column.head_max}")
        if head < column.head_min:
            failing.append(f"head size {head} < {column.head_min} {where}")
            fixes.append(f"use fewer, larger heads (at least {column.head_min})")
        if column.head_multiple > 1 and head % column.head_multiple:
            failing.append(f"head size {head} is not a multiple of {column.head_multiple} {where}")
            fixes.append(f"pad the head size to a multiple of {column.head_multiple}")
    _check_sequences(site, column, where, failing, unknown, fixes)
    if column.qdq_required and not site.qdq:
        failing.append(f"{name} MHA fusion needs Q/DQ layers on Q, K and V in the pattern; the site has none")
        fixes.append(f"quantize Q, K, V (and the softmax output) with {name} Q/DQ, e.g. with TensorRT Model Optimizer")
    _check_mask(site, column, where, failing, unknown, fixes)
    if site.num_heads is not None and site.num_kv_heads is not None and site.num_kv_heads != site.num_heads \
            and site.num_kv_heads != 1 and site.num_heads % site.num_kv_heads:
        failing.append(f"N_q = {site.num_heads} is not a multiple of N_kv = {site.num_kv_heads} "
                       "(GQA needs N_q % N_kv == 0)")
        fixes.append("make the number of query heads a multiple of the key/value heads")
    if failing:
        return Verdict(False, tuple(failing + unknown), tuple(dict.fromkeys(fixes)), column.precision)
    if unknown:
        return Verdict(None, tuple(unknown), ("give static shapes (--shapes) so the dimensions are known",),
                       column.precision)
    return Verdict(True, (), (), column.precision)


def _check_sequences(site: AttentionSite, column: MhaColumn, where: str, failing: list[str], unknown: list[str],
                     fixes: list[str]) -> None:
    seqs = {"S_q": site.seq_q, "S_kv": site.seq_kv}
    if column.seq_max:
        for label, value in seqs.items():
            if value is None:
                unknown.append(f"{label} is unknown (INT8 needs S <= {column.seq_max})")
            elif value > column.seq_max:
                failing.append(f"{label} {value} > {column.seq_max} {where}")
                fixes.append(f"keep sequences at most {column.seq_max} for INT8, or run attention in FP16")
    if column.fp8_seq_rule:
        if site.seq_q == 1:
            return
        for label, value in seqs.items():
            if value is None:
                unknown.append(f"{label} is unknown (FP8 needs S_q = 1 or S >= {column.fp8_min_seq})")
            elif value < column.fp8_min_seq:
                failing.append(f"{label} {value} < {column.fp8_min_seq} {where} (and S_q != 1)")
                fixes.append(f"FP8 MHA needs S_q = 1 or sequences of at least {column.fp8_min_seq}")


def _check_mask(site: AttentionSite, column: MhaColumn, where: str, failing: list[str], unknown: list[str],
                fixes: list[str]) -> None:
    if "2d" in column.masks:
        return
    if site.mask_extent is None:
        unknown.append("the mask's shape is unknown (SM100/SM110 fuse only 1-D vector or scalar masks)")
    elif site.mask_extent not in column.masks:
        shape = "x".join("?" if d is None else str(d) for d in (site.mask_shape or ()))
        what = "relative position bias / mask" if site.bias else "mask"
        failing.append(f"the {what} [{shape}] varies over S_q and S_kv (2-D) {where}, which fuses only 1-D vector "
                       "or scalar masks")
        if site.mask == "none":
            fixes.append("the mask allows every position: export without it")
        elif site.causal:
            fixes.append("use the Attention op's is_causal (IAttention::setCausal) instead of a 2-D causal mask")
        else:
            fixes.append("pass a [B, 1, 1, S_kv] key-padding mask instead of an expanded 2-D one")
