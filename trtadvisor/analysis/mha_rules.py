"""Will TensorRT run an attention site as its fused MHA kernel on a target? The tables as code.

The data is ``rules/attention.toml`` (both tables of the reference text's "Multi-Head Attention
Fusion" section, plus the TensorRT versions that decide). A verdict names every failing condition,
and is ``None`` (unknown) where the target lies outside the tables or a needed dimension is unknown:
never a silent yes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onnx import TensorProto

from trtadvisor.analysis.attention_sites import AttentionSite, find_attention_sites
from trtadvisor.analysis.cache import memoized
from trtadvisor.ir.graph import Graph
from trtadvisor.knowledge.conditions import ConditionTexts, Failed
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target, version_at_least

PRECISION_NAMES = {"fp16": "FP16", "bf16": "BF16", "int8": "INT8", "fp8": "FP8"}
# ONNX element types (TensorProto) of the float tensors a strongly typed site can run in, by column name.
_FLOAT_PRECISIONS = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16"}
_FLOAT_NAMES = {TensorProto.FLOAT: "FP32", TensorProto.DOUBLE: "FP64"}


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
    # rules/attention.toml [verdict]: each failing condition's message and fix (knowledge/conditions.py)
    conditions: ConditionTexts
    reduced_precision_fix: tuple[str, str]  # (strongly typed, weakly typed)

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
        versions, verdict = data["versions"], data["verdict"]
        return cls(columns=columns, iattention_since=versions["iattention_since"],
                   decomposed_since=versions["decomposed_fusion_since"],
                   conditions=ConditionTexts("rules/attention.toml [verdict]", verdict["conditions"]),
                   reduced_precision_fix=(verdict["reduced_precision_fix_strong"],
                                          verdict["reduced_precision_fix_weak"]))

    def known_sm(self, sm: int | None) -> bool:
        return sm is not None and any(c.covers(sm) for c in self.columns)

    def column(self, sm: int, precision: str) -> MhaColumn | None:
        return next((c for c in self.columns if c.precision == precision and c.covers(sm)), None)

    def precisions_on(self, sm: int) -> list[str]:
        return [c.precision for c in self.columns if c.covers(sm)]


@dataclass(frozen=True)
class Verdict:
    fused: bool | None
    reasons: tuple[str, ...]      # every failing (or unknowable) condition, in words
    fixes: tuple[str, ...]
    precision: str | None         # the table column judged
    unknown_target: bool = False
    conditions: tuple[str, ...] = ()  # the ids of ``reasons`` in rules/attention.toml [verdict.conditions]


def _verdict(rules: MhaRules, fused: bool | None, failed: list[Failed], precision: str | None,
             unknown_target: bool = False, fixed_by: list[Failed] | None = None) -> Verdict:
    """A verdict whose reasons and fixes are the rule data's texts of the failing conditions (the fixes of
    ``fixed_by`` only, where given)."""
    texts = rules.conditions
    fixes = dict.fromkeys(texts.text(f, "fix") for f in (failed if fixed_by is None else fixed_by))
    return Verdict(fused, tuple(texts.text(f) for f in failed), tuple(fixes), precision, unknown_target,
                   tuple(f.condition for f in failed))


def site_precision(site: AttentionSite, target: Target) -> str | None:
    """The precision whose column decides: the target's, or for --best what the site can use. Strongly typed,
    a site without Q/DQ on Q, K and V runs in its own float type, whatever the rest of the model is quantized
    to (an onnxruntime dynamic quantization leaves the attention products in FP32): None for FP32."""
    if target.strong and not site.qdq and site.dtype:
        return _FLOAT_PRECISIONS.get(site.dtype)
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
            site.num_kv_heads, site.mask, site.mask_extent, site.mask_shape, site.bias, site.causal,
            site.mask_window, site.scores_qdq, len(site.score_products), _mix_sides(site),
            len(site.rearranged), len(site.scatter_mask), site.probabilities_second, site.dtype,
            _combined_kinds(site), site.value_head_size, site.mask_uniform, site.mask_terms)


def judge(site: AttentionSite, target: Target, rules: MhaRules) -> Verdict:
    """The verdict of the tables (and the TensorRT version) for one site on one target."""
    version = _version_check(site, target, rules)
    if version is not None:
        return _verdict(rules, False, [version], site_precision(site, target))
    pattern = _pattern_check(site)
    if pattern:  # no GPU, precision or version fuses these: the kernel computes another function
        return _verdict(rules, False, pattern, site_precision(site, target))
    sm = target.sm
    precision = site_precision(site, target)
    if sm is None or not rules.known_sm(sm):
        return _verdict(rules, None, [Failed.of("sm_not_in_tables", sm=sm)], precision, unknown_target=True)
    if precision is None:
        # strongly typed: no precision switch exists; the model's types decide
        fix = rules.reduced_precision_fix[0 if target.strong else 1]
        name = target.precision.upper()
        if target.precision in PRECISION_NAMES:  # strongly typed: the site's own float type, not the model's
            name = _FLOAT_NAMES.get(site.dtype or 0, name)
        return _verdict(rules, None, [Failed.of("precision_not_in_tables", precision=name,
                                                reduced_precision_fix=fix)], None, unknown_target=True)
    column = rules.column(sm, precision)
    if column is None:
        others = ", ".join(PRECISION_NAMES[p] for p in rules.precisions_on(sm))
        return _verdict(rules, False, [Failed.of("no_column_on_sm", name=PRECISION_NAMES[precision], sm=sm,
                                                 others=others)], precision)
    return _check_column(site, sm, column, rules)


# What each of AttentionSite.core computes, in a reason's words (a native site's core is one node: never split).
_CORE_WORDS = ("Q·Kᵀ", "the Softmax", "P·V")
SPLIT_CONDITION = "fused_split_across_layers"


def split_verdict(verdict: Verdict, layers: tuple[str, ...], sm: int | None, rules: MhaRules) -> Verdict:
    """A fused verdict the plan contradicts: the site's BMM1, Softmax and BMM2 are in the predicted ``layers``
    (one each, '' for a removed node), not in one. A fused MHA is one kernel, so one of the two predictions is
    wrong, and the audit does not know which: the verdict becomes unknown and names both layers."""
    held: dict[str, list[str]] = {}
    for words, layer in zip(_CORE_WORDS, layers, strict=False):
        held.setdefault(layer, []).append(words)
    split = "; ".join(" and ".join(what) + (f" in layer '{layer}'" if layer else " removed")
                      for layer, what in held.items())
    name = PRECISION_NAMES.get(verdict.precision or "", verdict.precision)
    failed = Failed.of("fused_split_across_layers", where=f"for {name} on SM{sm}", split=split)
    return _verdict(rules, None, [failed], verdict.precision)


def _version_check(site: AttentionSite, target: Target, rules: MhaRules) -> Failed | None:
    if site.native and not target.trt_at_least(rules.iattention_since):
        return Failed.of("native_needs_iattention", trt=target.trt, since=rules.iattention_since)
    if not site.native and not version_at_least(target.trt_version, rules.decomposed_since):
        return Failed.of("decomposed_not_fused", trt=target.trt, since=rules.decomposed_since)
    return None


def _mix_sides(site: AttentionSite) -> str:
    """Where a site's head mix lies: 'before', 'after' or 'before and after' (the Softmax); '' for none."""
    if not site.head_mix:  # the common case: no index of the site's nodes to build
        return ""
    order = {name: i for i, name in enumerate(site.nodes)}
    softmax = order.get(site.anchor, -1)
    sides = {"before" if order.get(name, softmax) < softmax else "after" for name in site.head_mix}
    return " and ".join(sorted(sides, reverse=True))


def _pattern_check(site: AttentionSite) -> list[Failed]:
    """What between the products is no pointwise op of the documented pattern softmax(Q·Kᵀ·scale ⊗ mask)·V."""
    failed: list[Failed] = []
    if site.head_mix:
        failed.append(Failed.of("head_mixing", where=_mix_sides(site)))
    if site.rearranged:
        failed.append(Failed.of("scores_rearranged", count=len(site.rearranged)))
    if site.combined:
        said = [_COMBINED[kind] for kind in _combined_kinds(site)]
        what = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
        failed.append(Failed.of("probabilities_combined", what=what))
    return failed


# What each kind of score_layout.combination does to the probabilities, in the reason's words.
_COMBINED = {"gate": "multiplied by a gate (one factor per head or overall)",
             "map": "combined with a second map over the queries and keys",
             "renormalized": "renormalized by their sum over the keys",
             "scale": "scaled by a constant"}


def _combined_kinds(site: AttentionSite) -> tuple[str, ...]:
    """The kinds of the site's combining ops, each once, in a fixed order (sites alike read alike)."""
    if not site.combined:
        return ()
    kinds = {kind for _, kind in site.combined}
    return tuple(k for k in _COMBINED if k in kinds)


def _check_column(site: AttentionSite, sm: int, column: MhaColumn, rules: MhaRules) -> Verdict:
    name = PRECISION_NAMES[column.precision]
    where = f"for {name} on SM{sm}"
    failing: list[Failed] = []
    unknown: list[Failed] = []
    head = site.head_size
    if head is None:
        unknown.append(Failed.of("head_unknown"))
    elif column.head_sizes:
        if head not in column.head_sizes:
            failing.append(Failed.of("head_not_listed", head=head, where=where,
                                     sizes=", ".join(str(h) for h in column.head_sizes)))
    else:
        if head > column.head_max:
            failing.append(Failed.of("head_too_large", head=head, head_max=column.head_max, where=where))
        if head < column.head_min:
            failing.append(Failed.of("head_too_small", head=head, head_min=column.head_min, where=where))
        if column.head_multiple > 1 and head % column.head_multiple:
            failing.append(Failed.of("head_not_multiple", head=head, head_multiple=column.head_multiple,
                                     where=where))
    _check_sequences(site, column, where, failing, unknown)
    if column.qdq_required and not site.qdq:
        failing.append(Failed.of("qdq_missing", name=name))
    _check_mask(site, column, where, failing, unknown)
    if site.scores_qdq:
        unknown.append(Failed.of("qdq_on_scores"))
    if site.score_products:
        unknown.append(Failed.of("score_products", count=len(site.score_products)))
    if site.scatter_mask:
        unknown.append(Failed.of("mask_scattered", count=len(site.scatter_mask)))
    if site.probabilities_second:
        unknown.append(Failed.of("probabilities_second"))
    if site.value_head_size is not None:
        unknown.append(Failed.of("value_head_differs", head=head, value_head=site.value_head_size))
    if site.num_heads is not None and site.num_kv_heads is not None and site.num_kv_heads != site.num_heads \
            and site.num_kv_heads != 1 and site.num_heads % site.num_kv_heads:
        failing.append(Failed.of("gqa_heads_not_divisible", heads=site.num_heads, kv_heads=site.num_kv_heads))
    if failing:
        # the fixes are those of what fails; an unknown fact is said, its fix (static shapes) waits
        return _verdict(rules, False, failing + unknown, column.precision, fixed_by=failing)
    if unknown:
        return _verdict(rules, None, unknown, column.precision)
    return Verdict(True, (), (), column.precision)


def _check_sequences(site: AttentionSite, column: MhaColumn, where: str, failing: list[Failed],
                     unknown: list[Failed]) -> None:
    seqs = {"S_q": site.seq_q, "S_kv": site.seq_kv}
    if column.seq_max:
        for label, value in seqs.items():
            if value is None:
                unknown.append(Failed.of("seq_unknown_int8", label=label, seq_max=column.seq_max))
            elif value > column.seq_max:
                failing.append(Failed.of("seq_too_long", label=label, value=value, seq_max=column.seq_max,
                                         where=where))
    if column.fp8_seq_rule:
        if site.seq_q == 1:
            return
        for label, value in seqs.items():
            if value is None:
                unknown.append(Failed.of("seq_unknown_fp8", label=label, fp8_min_seq=column.fp8_min_seq))
            elif value < column.fp8_min_seq:
                failing.append(Failed.of("seq_too_short", label=label, value=value,
                                         fp8_min_seq=column.fp8_min_seq, where=where))


def _check_mask(site: AttentionSite, column: MhaColumn, where: str, failing: list[Failed],
                unknown: list[Failed]) -> None:
    if "2d" in column.masks:
        return
    if site.mask_extent is None:
        unknown.append(Failed.of("mask_unknown"))
    elif site.mask_extent not in column.masks:
        shape = "x".join("?" if d is None else str(d) for d in (site.mask_shape or ()))
        if site.mask_uniform:  # a 2-D tensor that adds one value everywhere: whether it is dropped is unknown
            unknown.append(Failed.of("mask_uniform", shape=shape, where=where))
            return
        what = "relative position bias / mask" if site.bias else "mask"
        # one message, the fix by what the mask does
        # a band keeps no causal or 1-D form; a mask of unknown kind gets no guessed fix
        # a learned bias (relative position, ALiBi) cannot be dropped or replaced by a padding vector
        band, known, bias, allows_all = site.mask == "sliding_window", site.mask is not None, site.bias, \
            site.mask == "none"
        # a causal mask that also masks padding keeps both parts in its fix (is_causal alone drops the padding)
        causal_padding = bool(site.causal) and site.mask == "padding"
        terms, axes, n = _mask_terms(site, shape)
        if bias:
            failing.append(_bias_failed(site, what, terms, axes, n, where))
            return
        failing.append(Failed.of("mask_2d_allows_all" if allows_all else
                                 "mask_2d_window" if band and site.causal else
                                 "mask_2d_local_window" if band else
                                 "mask_2d_causal_padding" if causal_padding else
                                 "mask_2d_causal" if site.causal else
                                 "mask_2d" if known else "mask_2d_unknown_kind",
                                 what=what, terms=terms, axes=axes, n=n, where=where, window=site.mask_window))


# The axes of the scores a mask term can vary over, by position from the end ([B, N, S_q, S_kv]), in a reason's words.
_AXES = ((-3, "the heads"), (-2, "S_q"), (-1, "S_kv"))


def _dims_text(dims: tuple[int | None, ...]) -> str:
    return "[" + "x".join("?" if d is None else str(d) for d in dims) + "]"


def _mask_terms(site: AttentionSite, shape: str) -> tuple[str, str, int]:
    """The mask's terms in words ('[1x4x1x16] + [1x1x16x16]'), the axes they vary over ('the heads, S_q and
    S_kv') and how many: MPT's ALiBi varies over the heads and keys, its causal mask over queries and keys."""
    terms = site.mask_terms or ((site.mask_shape,) if site.mask_shape else ())
    varies = [name for axis, name in _AXES if any(len(t) >= -axis and t[axis] != 1 for t in terms)]
    if len(varies) < 2:  # a shape unknown in part: the extent said 2-D, the axes are not all known
        return f"[{shape}]", "S_q and S_kv", 2
    axes = ", ".join(varies[:-1]) + " and " + varies[-1]
    return " + ".join(map(_dims_text, terms)), axes, len(varies)


def _bias_failed(site: AttentionSite, what: str, terms: str, axes: str, n: int, where: str) -> Failed:
    """A 2-D mask with a bias (relative positions, ALiBi). A term that varies over the heads and the keys only is a
    key vector per head (ALiBi: a slope per head times the key positions, MPT's and BLOOM's [1, H, 1, S_kv]); the
    rest of the mask (causal, padding) is then a term of its own."""
    key_bias = [t for t in site.mask_terms if len(t) >= 3 and t[-2] == 1 and t[-1] != 1 and t[-3] != 1]
    others_per_head = any(len(t) >= 3 and t[-3] != 1 for t in site.mask_terms if t not in key_bias)
    if key_bias and not others_per_head:
        return Failed.of("mask_2d_key_bias", what=what, terms=terms, axes=axes, n=n, where=where,
                         key_term=_dims_text(key_bias[0]))
    return Failed.of("mask_2d_bias", what=what, terms=terms, axes=axes, n=n, where=where)
