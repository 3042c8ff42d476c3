"""Attention sites as exporters write them, found by what they compute: softmax(Q·Kᵀ·scale + mask)·V.

Dimension letters, as in the reference text ("Multi-Head Attention Fusion"): Q is [B, N_q, S_q, H],
K and V are [B, N_kv, S_kv, H]; B batch, N_q / N_kv query and key/value heads, S_q / S_kv query
and key/value sequence lengths, H the head size.

A decomposed site is a Softmax over the last axis between two activation-by-activation MatMuls:
BMM1 (Q·Kᵀ) before it and BMM2 (P·V) after it. Between BMM1 and the Softmax an exporter may put a
scale (Mul or Div by a constant), masks and biases (Add, Sub, Where), casts and reshapes (Swin adds
its shifted-window mask at rank 5); between the Softmax and BMM2 a NaN guard (IsNaN + Where), casts
and Q/DQ. The scale may also sit on Q (or as sqrt(scale) on both Q and Kᵀ). The native ONNX
``Attention`` op (opset 23) is a site by itself. Every walk is bounded by a few steps, so finding
all sites is linear in the graph. Where these walks find nothing from a Softmax, wider ones
(score_layout.py) also pass a learned mix across the heads (talking heads) and ops that move score
entries (chunked attention): such a site is found, and named, for what keeps it from the MHA pattern.

Masks are judged by their values where the file holds them: masks built from constants and from
graph inputs (set to "every position attends") are evaluated, and the blocked positions compared
with a causal triangle and with a causal band (sliding-window attention: each query sees only the last
W keys up to itself). Values that are not in the file (external data) leave ``causal`` unknown; so does
a mask computed from two crossed position comparisons (a band or chunks: a window bounds it from below)
whose values the audit cannot evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np
from onnx import TensorProto

from trtadvisor.analysis.cache import memoized, scope_rulebook
from trtadvisor.analysis.score_layout import (
    MOVE_OPS,
    WIDE_STEPS,
    Track,
    bmm2_contracts_keys,
    combination,
    combines,
    product_roles,
    track,
    weight_product_input,
    wide_inputs,
)
from trtadvisor.analysis.values import Dims, GraphValues
from trtadvisor.ir.graph import Graph, Node, node_index

# Ops that only move or re-type data between a projection and BMM1/BMM2.
_LAYOUT = frozenset({"Transpose", "Reshape", "Cast", "Identity", "Squeeze", "Unsqueeze", "Flatten",
                     "DequantizeLinear", "QuantizeLinear", "Dropout"})
# Ops that repeat K/V heads for grouped-query attention (HF repeat_kv, repeat_interleave, tile).
_REPEAT = frozenset({"Expand", "Tile", "Concat"})
# Ops allowed between BMM1 and the Softmax.
_SCORE_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Where", "Cast", "Reshape", "Identity", "Tanh",
                        "Clip", "Dropout", "Squeeze", "Unsqueeze", "QuantizeLinear", "DequantizeLinear"})
# Ops allowed between the Softmax and BMM2.
_PROB_OPS = frozenset({"Where", "Cast", "Identity", "Dropout", "QuantizeLinear", "DequantizeLinear", "Reshape",
                       "Squeeze", "Unsqueeze"})  # reshapes: tf2onnx's Einsum rewritten as MatMul

# Score ops whose first input alone carries the scores (the others are shapes or bounds).
_SCORE_FIRST_ONLY = frozenset({"Reshape", "Cast", "Identity", "Tanh", "Clip", "Dropout", "Squeeze", "Unsqueeze",
                               "QuantizeLinear", "DequantizeLinear"})  # Q/DQ: the scores quantized (ORT QDQ)


_name_of = attrgetter("name")
_op_of = attrgetter("op")
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
_NOT_COMPUTED: frozenset[str] = frozenset()  # no mask term is a product of Q or K (_products_of_qk)

_LAYOUT_STEPS = 10
_SCORE_STEPS = 12
_CONE_LIMIT = 160


# Not frozen, yet never modified (the sites are shared by the plan and the advice) and hashable as a frozen one:
# a frozen dataclass sets each of its 38 fields through object.__setattr__, which made building a site cost
# 2.5 times as much, and a large model has thousands of them. Slotted: building one costs half as much again
# (no instance dict to fill), and each takes less memory.
@dataclass(unsafe_hash=True, slots=True)
class AttentionSite:
    """One attention computation and what the graph says about it."""

    nodes: tuple[str, ...]             # the nodes TensorRT's MHA fusion takes (BMM1 ... BMM2, or Attention)
    anchor: str                        # the Softmax (or Attention) node: a stable name for the site
    native: bool                       # an ONNX Attention op rather than a decomposition
    batch: int | None
    num_heads: int | None              # N_q
    num_kv_heads: int | None           # N_kv as the model has them, before any repetition
    kv_heads_seen: int | None          # N_kv as BMM1/Attention sees them (after repetition)
    head_size: int | None              # H
    seq_q: int | None
    seq_kv: int | None
    causal: bool | None
    mask: str | None                   # none | causal | sliding_window (a band: causal, or two-sided when
    #                                    causal is False) | padding | bool | additive | constant
    #                                    | None (unknown)
    mask_extent: str | None            # none | scalar | 1d | 2d | None (unknown): the mask tensor as TensorRT sees it
    mask_shape: tuple[int | None, ...] | None
    bias: bool                         # an additive bias that is not a mask (relative position bias, ALiBi)
    scale: str                         # "q" | "k" | "q+k" | "scores" | "attribute" | "none"
    repeated_kv: bool                  # K/V heads repeated (Expand/Tile/Concat) before the product
    repeat_nodes: tuple[str, ...]
    windowed: bool                     # Swin: the mask is added per window at rank 5
    num_windows: int | None
    qdq: bool                          # Q/DQ on Q, K and V (INT8/FP8 MHA patterns need them)
    qdq_types: tuple[str, ...]         # "int8" / "fp8" as the Q/DQ layers quantize
    mask_inputs: tuple[str, ...]       # graph inputs the mask is computed from
    notes: tuple[str, ...] = field(default=())
    window: tuple[int, int] | None = None  # Swin: the window (rows, columns) the partition before Q cuts
    mask_window: int | None = None     # sliding-window mask: the keys each query sees (itself included; a
    #                                    two-sided band: those of a query away from the sequence's ends)
    scores_qdq: bool = False           # Q/DQ between BMM1 and the Softmax (the scores quantized)
    # The element type (TensorProto) of the queries as the products read them (after any DequantizeLinear):
    # what a strongly typed build runs the site in, whatever the rest of the model is quantized to.
    dtype: int | None = None
    # products outside BMM1 that read Q or K and add to the scores (DeBERTa's content-to-position and
    # position-to-content terms): a second score computation, not a mask or a learned bias
    score_products: tuple[str, ...] = ()
    # learned linear maps across the heads of the scores or probabilities, with their biases (talking-heads
    # attention: CaiT's proj_l before the Softmax and proj_w after it); analysis/score_layout.py
    head_mix: tuple[str, ...] = ()
    # ops that move score entries between the products and the Softmax or BMM2 (pads, slices, scatters of a
    # chunked or banded attention such as Longformer's sliding chunks): the Softmax's rows are no rows of
    # one Q·Kᵀ product, so N, S_q and S_kv are not read from the products
    rearranged: tuple[str, ...] = ()
    # pointwise ops between the Softmax and BMM2 that combine the probabilities with another tensor (ConViT's
    # gated positional self-attention): (node, what it does: 'gate', 'map', 'renormalized', 'scale');
    # score_layout.combination
    combined: tuple[tuple[str, str], ...] = ()
    # scatters that write a constant into the scores in place (a mask written as an indexed assignment, as
    # Longformer's global attention blocks its padded global rows)
    scatter_mask: tuple[str, ...] = ()
    # BMM2 reads the probabilities, transposed to [.., keys, queries], as its second operand: V·Pᵀ, the output
    # transposed (Ultralytics' YOLO11 Attention: ``v @ attn.transpose(-2, -1)``); the documented pattern is P·V
    probabilities_second: bool = False
    # the mask terms' values are in the file and hold one value everywhere (_MaskFacts.uniform)
    mask_uniform: bool = False
    # Every term of the mask as TensorRT sees it, aligned to the scores' rank ([B, N, S_q, S_kv]), in the order the
    # site adds them: what varies over which axis, term by term (MPT's ALiBi [1, H, 1, S_kv] beside its causal
    # mask [1, 1, S_q, S_kv]); () where the site has no mask or a term's shape is unknown.
    mask_terms: tuple[tuple[int | None, ...], ...] = ()
    # H_v, the head size of V (BMM2's last axis), where it differs from H: LeViT's values are attn_ratio x key_dim
    # wide (32 or 64 against Q and K's 16). The documented pattern has one H for Q, K and V. None: the same, or
    # not known.
    value_head_size: int | None = None
    # The nodes a fused MHA kernel must hold in one layer: BMM1, the Softmax and BMM2 (the Attention op for a
    # native site), as names of ``nodes``; the audit checks the predicted layers against them (plan/passes/attention)
    core: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """mha, gqa or mqa; an unknown head count counts as plain multi-head attention."""
        if self.num_kv_heads == 1 and (self.num_heads or 0) > 1:
            return "mqa"
        if self.num_kv_heads is not None and self.num_heads is not None and self.num_kv_heads < self.num_heads:
            return "gqa"
        return "mha"

    @property
    def cross(self) -> bool | None:
        if self.seq_q is None or self.seq_kv is None:
            return None
        return self.seq_q != self.seq_kv


def find_attention_sites(graph: Graph, values: GraphValues | None = None) -> list[AttentionSite]:
    """Every attention site of ``graph`` (not its nested bodies), in graph order.

    Pure in the graph, so the plan and the advice share one result.
    """
    return [found[0] for found in _sites_with_nodes(graph, values)]


def attention_site_nodes(graph: Graph) -> list[tuple[Node, ...]]:
    """The nodes of each site of :func:`find_attention_sites` (same order) as the graph's Node objects.

    The plan fuses nodes, not names: this spares it a name index of the whole graph.
    """
    return [found[1] for found in _sites_with_nodes(graph, None)]


def attention_site_cores(graph: Graph) -> list[tuple[Node, ...]]:
    """The nodes of each site's ``core`` (same order as :func:`find_attention_sites`) as Node objects: the plan
    checks where they landed without a name index of each site's nodes."""
    return [found[2] for found in _sites_with_nodes(graph, None)]


# A site, its nodes and its core's nodes (AttentionSite.core), the last two in the graph's Node objects.
_Found = tuple[AttentionSite, tuple[Node, ...], tuple[Node, ...]]


def _sites_with_nodes(graph: Graph, values: GraphValues | None) -> tuple[_Found, ...]:
    return memoized(graph, "attention_sites", lambda: tuple(_find_sites(graph, values)))


def _find_sites(graph: Graph, values: GraphValues | None) -> list[_Found]:
    values = values or graph_values(graph)
    # The sites are memoized per audit and shared by plan and advice: the rules are the audit's book.
    finder = _SiteFinder(graph, values, scope_rulebook().tables["attention.toml"]["mask"]["blocked_below"])
    sites: list[_Found] = []
    for node in graph.nodes_of("Softmax", "Attention"):
        found = None
        if node.op == "Softmax":
            found = finder.decomposed(node)
        elif node.op == "Attention" and node.domain in ("", "ai.onnx"):
            found = finder.native(node)
        if found is not None:
            sites.append(found)
    return sites


def _einsum_terms(node: Node) -> tuple[str, str, str] | None:
    """The operand and output letters of a two-operand Einsum without ellipsis, e.g. ('btnh', 'bsnh', 'bnts')."""
    equation = node.attr("equation")
    if not isinstance(equation, str) or "->" not in equation or "." in equation:
        return None
    lhs, out = equation.replace(" ", "").split("->")
    operands = lhs.split(",")
    if len(operands) != 2 or not out:
        return None
    return operands[0], operands[1], out


def _einsum_dims(node: Node, a: Dims | None, b: Dims | None) -> tuple[int | None, ...] | None:
    """(batch, heads, kv heads, S_q, S_kv, H) of an Einsum BMM1: the output's last two letters are the
    query and key positions, the letter summed over is the head size, the one before them the heads."""
    terms = _einsum_terms(node)
    if terms is None:
        return None
    first, second, out = terms
    summed = [c for c in first if c in second and c not in out]
    if len(out) < 3 or len(summed) != 1:
        return None
    size: dict[str, int | None] = {}
    for letters, dims in ((first, a), (second, b)):
        if dims is not None and len(dims) == len(letters):
            for letter, d in zip(letters, dims, strict=True):
                if size.get(letter) is None:
                    size[letter] = d
    heads = size.get(out[-3])
    seen_kv = heads if out[-3] in second else 1
    batch = size.get(out[-4]) if len(out) >= 4 else None
    return batch, heads, seen_kv, size.get(out[-2]), size.get(out[-1]), size.get(summed[0])


class _Path:
    """What a walk from a MatMul operand back to its projection found."""

    # A plain slotted class: three are built per site, and a dataclass's default factories made each cost
    # twice as much.
    __slots__ = ("dequantized", "nodes", "qdq_types", "repeat_factor", "repeat_nodes", "scaled", "source")

    def __init__(self, nodes: list[Node], source: str) -> None:
        self.nodes = nodes
        self.source = source
        self.repeat_factor: int | None = 1
        self.repeat_nodes: list[Node] = []
        self.scaled = False
        self.qdq_types: set[str] = set()
        self.dequantized = False

    def through_repeat(self) -> list[Node]:
        """The walk's nodes from the operand back to its last head repetition: the reshapes and
        transposes after HF repeat_kv's Expand lie between it and the product, so a fused attention
        that takes the repetition takes them too (leaving them out would make them a layer that both
        feeds the attention and reads from it)."""
        if not self.repeat_nodes:
            return []
        return self.nodes[:self.nodes.index(self.repeat_nodes[-1]) + 1]


@dataclass
class _MaskTerm:
    tensor: str
    how: str   # add | sub | keep_true | keep_false (Where) | attn_bool | attn_add
    node: Node


def graph_values(graph: Graph) -> GraphValues:
    """The graph's value analysis, shared by every stage that needs it."""
    return memoized(graph, "graph_values", lambda: GraphValues(graph))


class _SiteFinder:
    def __init__(self, graph: Graph, values: GraphValues, blocked_below: float) -> None:
        self.graph = graph
        self.values = values
        self.blocked_below = blocked_below  # rules/attention.toml [mask]
        self._mask_cache: dict[tuple[object, ...], _MaskFacts] = {}
        # the mask terms whose values are unknown, per (tensor, how) of a site's terms (_products_of_qk)
        self._unknown_terms: dict[tuple[tuple[str, str], ...], list[str]] = {}
        self._has_partitions: bool | None = None  # see _window_partition

    # -- helpers ----------------------------------------------------------------------------------

    def _is_activation_matmul(self, node: Node) -> bool:
        """An activation-by-activation product: MatMul, or a two-operand Einsum (tf2onnx, Keras MHA)."""
        inputs = node.inputs
        if len(inputs) != 2:
            return False
        first, second = inputs
        constants = self.graph.constant_names
        if not first or not second or first in constants or second in constants:  # both computed tensors
            return False
        return node.op == "MatMul" or (node.op == "Einsum" and _einsum_terms(node) is not None)

    def _scalar_const(self, tensor: str) -> bool:
        """A one-value constant, or one computed from constants and shapes (TorchScript's 1/sqrt(d))."""
        if self.graph.scalar(tensor) is not None:
            return True  # a constant holding one value (the scale passes have usually read it already)
        if self.graph.is_graph_input(tensor):
            return False
        value = self.values.value(tensor)
        return value is not None and value.size == 1 and not self._reads_inputs(tensor)

    def _per_head_factor(self, tensor: str, scores: str) -> bool:
        """A factor computed from weights only that is constant over S_q and S_kv (shape [.., N, 1, 1]
        against the [.., N, S_q, S_kv] scores): the same value for every query and key of a head, so it
        scales the head's scores and masks nothing. REF 'Multi-Head Attention Fusion' lists Elementwise,
        Constant and Scale among the pointwise ops the fusion takes between BMM1 and the Softmax."""
        dims, full = self.values.dims(tensor), self.values.dims(scores)
        if dims is None or full is None or len(dims) > len(full) or len(full) < 2:
            return False
        aligned = (1,) * (len(full) - len(dims)) + tuple(dims)
        if aligned[-2:] != (1, 1) or any(not isinstance(d, int) for d in aligned):
            return False
        return not self._reads_inputs(tensor)

    def _reads_inputs(self, tensor: str) -> bool:
        """Whether a graph input lies in the tensor's cone, walked as _Cone(through_shape=False) walks it: the same
        answer as ``bool(_Cone(...).inputs)``, from a walk that looks at nothing else and stops at the first input
        (a product operand's cone reaches back through the network: _Cone's checks of each node cost more)."""
        graph = self.graph
        get_producer = graph.producers.get
        seen = {tensor}
        frontier = [tensor]
        while frontier and len(seen) < _CONE_LIMIT:
            nxt: list[str] = []
            for name in frontier:
                node = get_producer(name)
                if node is None:
                    if graph.is_graph_input(name):
                        return True
                    continue
                if node.op in ("Shape", "Size"):
                    continue
                for inp in node.inputs:
                    if inp and inp not in seen:
                        seen.add(inp)
                        nxt.append(inp)
            frontier = nxt
        return False

    # -- decomposed attention ---------------------------------------------------------------------

    def decomposed(self, softmax: Node) -> _Found | None:
        if not softmax.inputs or not softmax.outputs:
            return None
        dims = self.values.dims
        dims_in = dims(softmax.inputs[0])
        axis = softmax.attr("axis", -1)
        if dims_in is not None and axis % max(len(dims_in), 1) != len(dims_in) - 1:
            return None
        bmm2, prob_nodes, prob_qdq = self._forward_to_bmm2(softmax)
        prob_steps: list[tuple[Node, str]] | None = None
        if bmm2 is None:  # the wide walks (score_layout.py) only where the plain ones find nothing
            bmm2, prob_steps = self._forward_wide(softmax)
            if bmm2 is None:
                return None
            prob_nodes = [n for n, _ in prob_steps]
            prob_qdq = {self._qdq_type(n) for n in prob_nodes if n.op in ("QuantizeLinear", "DequantizeLinear")}
        found = self._back_to_bmm1(softmax.inputs[0])
        wide = found is None
        if found is None:
            found = self._back_to_bmm1(softmax.inputs[0], wide=True)
            if found is None:
                return None
        bmm1, chain, terms, scaled_scores, windowed, num_windows, steps = found
        # the probabilities' operand of BMM2: the first (P·V) unless the wide walk met them as the second (V·Pᵀ)
        probs = prob_steps[-1][0].outputs[0] if prob_steps else softmax.outputs[0]
        p_index = 1 if len(bmm2.inputs) == 2 and bmm2.inputs[0] != probs and bmm2.inputs[1] == probs else 0
        layout: Track | None = None
        combined: tuple[tuple[str, str], ...] = ()
        if wide or prob_steps is not None:
            layout = self._score_layout(bmm1, steps, bmm2, prob_steps, p_index)
            if layout is None:
                return None
            mixed = set(layout.mixing)
            terms = [t for t in terms if t.node not in mixed]  # a head mix's bias is no mask (nor a second map)
            combined = tuple((n.name, combination(self.graph, self.values, n, t))
                             for n, t in prob_steps or () if combines(n, t) and n not in mixed)
            if combined and all(kind == "scale" for _, kind in combined):
                return None  # probabilities scaled by a constant alone: not what the wide walk looks for
        q_path = self._operand_path(bmm1.inputs[0])
        k_path = self._operand_path(bmm1.inputs[1])
        v_path = self._operand_path(bmm2.inputs[1 - p_index])
        q = dims(bmm1.inputs[0])
        kt = dims(bmm1.inputs[1])
        v = dims(bmm2.inputs[1 - p_index])
        scores = dims(bmm1.outputs[0])
        seq_q = _pick(_at(q, -2), _at(scores, -2))
        seq_kv = _pick(_at(kt, -1), _at(scores, -1), _at(v, -1 if p_index else -2))
        head = _pick(_at(q, -1), _at(kt, -2))
        # V [.., S_kv, H_v] as P·V reads it, [.., H_v, S_kv] as V·Pᵀ does
        value_head = _at(v, -2 if p_index else -1) if bmm2.op == "MatMul" else None
        rank = len(q) if q is not None else None
        einsum = _einsum_dims(bmm1, q, kt) if bmm1.op == "Einsum" else None
        if einsum is not None:  # the letters name the axes: Q [b,t,n,h], K [b,s,n,h] -> scores [b,n,t,s]
            batch, heads, seen_kv, seq_q, seq_kv, head = einsum
            seq_kv = _pick(seq_kv, _at(scores, -1))
        elif rank is not None and rank >= 4:
            heads = _at(q, -3)
            batch = _at(q, -4)
            seen_kv = _at(kt, -3)
        else:
            batch, heads = self._heads_from_scores(chain, softmax, seq_q, seq_kv)
            heads = heads if heads is not None else self._heads_from_projection(q_path, head)
            seen_kv = heads
        rearranged = tuple(n.name for n in layout.moved) if layout is not None else ()
        if rearranged:  # chunks or a band: the products' axes are no heads and sequences
            batch, seq_q, seq_kv = None, None, None
            heads, head = self._head_split(bmm1.inputs[0])
            seen_kv = self._head_split(bmm1.inputs[1])[0]
        if seen_kv is not None and heads is not None and seen_kv == 1 and heads > 1:
            kv_true: int | None = 1      # MQA by broadcasting one K/V head
        else:
            kv_true = _divide(seen_kv, _combined_factor(k_path, v_path))
        repeat_nodes = k_path.repeat_nodes + v_path.repeat_nodes
        scale = _scale_label(q_path.scaled, k_path.scaled, scaled_scores)
        term_key = _term_key(terms)  # one key for both look-ups below
        products = self._products_of_qk(terms, term_key, bmm1, q_path, k_path)
        score_products: tuple[str, ...] = ()
        computed = _NOT_COMPUTED
        if products:  # (the common case has none: every term's values are known)
            score_products = tuple(sorted({p for found in products.values() for p in found}))
            computed = frozenset(t for t, found in products.items() if found)
        facts = self._mask_facts(terms, seq_q, seq_kv, batch, rank=len(scores) if scores else 4, computed=computed,
                                 term_key=term_key)
        nodes = {*q_path_scale_nodes(q_path), *q_path_scale_nodes(k_path), bmm1, *chain, softmax, *prob_nodes, bmm2,
                 *k_path.through_repeat(), *v_path.through_repeat()}
        qdq_types = q_path.qdq_types | k_path.qdq_types | v_path.qdq_types | prob_qdq
        qdq = q_path.dequantized and k_path.dequantized and v_path.dequantized
        ordered = tuple(sorted(nodes, key=node_index))  # indices are unique: a set loses no order
        partition = self._window_partition(q_path.source)
        window = None
        if partition is not None:
            windows, window = partition
            num_windows = num_windows if num_windows is not None else windows
        site = AttentionSite(
            nodes=tuple(map(_name_of, ordered)), anchor=softmax.name, native=False, batch=batch,
            num_heads=heads, num_kv_heads=kv_true, kv_heads_seen=seen_kv, head_size=head, seq_q=seq_q,
            seq_kv=seq_kv, causal=facts.causal, mask=facts.label, mask_extent=facts.extent, mask_uniform=facts.uniform,
            mask_terms=facts.terms,
            mask_shape=facts.shape, bias=facts.bias, scale=scale, repeated_kv=bool(repeat_nodes),
            repeat_nodes=tuple(map(_name_of, repeat_nodes)), windowed=windowed, num_windows=num_windows, qdq=qdq,
            qdq_types=tuple(sorted(qdq_types)) if qdq_types else (),
            mask_inputs=facts.inputs, notes=tuple(facts.notes), window=window, mask_window=facts.window,
            score_products=score_products, rearranged=rearranged,
            head_mix=tuple(n.name for n in layout.mixing) if layout is not None else (),
            scatter_mask=tuple(n.name for n in layout.scattered) if layout is not None else (),
            scores_qdq=not _QDQ_OPS.isdisjoint(map(_op_of, chain)),  # (the ops compared in C: no generator)
            probabilities_second=bool(p_index), combined=combined,
            value_head_size=_other_head(head, None if rearranged else value_head),
            dtype=self.graph.dtype(bmm1.inputs[0]) if bmm1.inputs else None,
            core=(bmm1.name, softmax.name, bmm2.name))
        return site, ordered, (bmm1, softmax, bmm2)

    def _window_partition(self, tensor: str) -> tuple[int, tuple[int, int]] | None:
        """Windows per image and the window of a Swin-style partition feeding the Q projection:
        x.view(B, H/wh, wh, W/ww, ww, C).permute(0, 1, 3, 2, 4, 5), a rank-6 Transpose a few layout
        steps before the projection (its sizes usually come from shape arithmetic on padded shapes)."""
        graph = self.graph
        if self._has_partitions is None:  # most graphs have no rank-6 Transpose: no walk at all
            self._has_partitions = _has_rank6_transpose(graph)
        if not self._has_partitions:
            return None
        for _ in range(_LAYOUT_STEPS + 4):
            node = graph.producer(tensor)
            if node is None or not node.inputs:
                return None
            op = node.op
            if op == "Transpose" and list(node.attr("perm") or ()) == [0, 1, 3, 2, 4, 5]:
                d = self.values.dims(node.inputs[0])
                if d is None or len(d) != 6 or None in d[1:5]:
                    return None
                return d[1] * d[3], (d[2], d[4])  # type: ignore[operator]
            if op in ("MatMul", "Gemm", "Add"):   # the projection: weights and bias are constants
                data = [i for i in node.inputs if i and not self.graph.is_weight(i)]
                if len(data) != 1:
                    return None
                tensor = data[0]
            elif op in _LAYOUT or op in ("Gather", "Split", "Slice"):
                tensor = node.inputs[0]
            else:
                return None
        return None

    def _forward_to_bmm2(self, softmax: Node) -> tuple[Node | None, list[Node], set[str]]:
        graph = self.graph
        tensor = softmax.outputs[0]
        passed: list[Node] = []
        qdq: set[str] = set()
        for _ in range(6):
            readers = graph.consumers(tensor)
            nxt = None
            for r in readers:
                if r.op in ("MatMul", "Einsum") and r.inputs[0] == tensor and self._is_activation_matmul(r):
                    return r, passed, qdq
            guards = [r for r in readers if r.op == "IsNaN"]
            for r in readers:
                if r.op in _PROB_OPS and r.op != "IsNaN":
                    if r.op == "Where" and tensor not in r.inputs[1:3]:
                        continue
                    nxt = r
                    break
            if nxt is None:
                return None, passed, qdq
            passed.extend(guards)
            passed.append(nxt)
            if nxt.op in ("QuantizeLinear", "DequantizeLinear"):
                qdq.add(self._qdq_type(nxt))
            tensor = nxt.outputs[0]
        return None, passed, qdq

    def _back_to_bmm1(self, start: str, wide: bool = False) -> tuple[
            Node, list[Node], list[_MaskTerm], bool, bool, int | None, list[tuple[Node, str]]] | None:
        """Breadth-first from the Softmax input through score ops to the nearest activation MatMul; ``wide``
        also through head mixes and moves (score_layout.py), to a product of two computed operands."""
        producers = self.graph.producers
        constants = self.graph.constant_names
        parent: dict[str, tuple[Node, str] | None] = {start: None}
        frontier = [start]
        bmm1: Node | None = None
        reached: str | None = None
        for _ in range(WIDE_STEPS if wide else _SCORE_STEPS):
            nxt: list[str] = []
            for tensor in frontier:
                node = producers.get(tensor)
                if node is None:
                    continue
                op = node.op
                if op in ("MatMul", "Einsum") and self._is_activation_matmul(node) and (
                        not wide or not any(self._filled(i) for i in node.inputs)):
                    bmm1, reached = node, tensor
                    break
                inputs = node.inputs
                if op in _SCORE_OPS:
                    # (wide: not a Where's condition, which is a mask's)
                    follow = inputs[:1] if op in _SCORE_FIRST_ONLY else inputs[:2] if op != "Where" else \
                        inputs[1:3] if wide else inputs[:3]
                elif wide:
                    follow = wide_inputs(self.graph, node)
                else:
                    continue
                for inp in follow:
                    if inp and inp not in parent and inp not in constants:
                        parent[inp] = (node, tensor)
                        nxt.append(inp)
            if bmm1 is not None or not nxt or len(parent) > _CONE_LIMIT:
                break
            frontier = nxt
        if bmm1 is None or reached is None:
            return None
        chain: list[Node] = []
        steps: list[tuple[Node, str]] = []
        terms: list[_MaskTerm] = []
        scaled = False
        windowed = False
        num_windows: int | None = None
        tensor = reached
        step = parent[tensor]
        while step is not None:  # every tensor on the way has its step in ``parent``
            node, out = step
            op = node.op
            chain.append(node)
            steps.append((node, tensor))
            others = [i for i in node.inputs if i and i != tensor]
            if op == "Mul" or op == "Div":
                if others and self._scalar_const(others[0]):
                    scaled = True
                elif others and (op == "Mul" or node.inputs[0] == tensor) and \
                        self._per_head_factor(others[0], out):
                    scaled = True  # a learned factor per head (XCA's temperature): a scale, no mask
                elif others:
                    terms.append(_MaskTerm(others[0], "mul", node))
            elif op == "Add":
                for other in others:  # (a loop: a generator costs more than the usual one term)
                    terms.append(_MaskTerm(other, "add", node))
            elif op == "Sub":
                if node.inputs[0] == tensor:
                    terms.extend(_MaskTerm(o, "sub", node) for o in others)
            elif op == "Where":
                cond = node.inputs[0]
                keep = "keep_true" if node.input(1) == tensor else "keep_false"
                if cond != tensor:
                    terms.append(_MaskTerm(cond, keep, node))
            elif op == "Reshape":
                dims = self.values.dims(out)
                if dims is not None and len(dims) == 5:
                    windowed = True
                    num_windows = dims[1]
            tensor = out
            step = parent[tensor]
        return bmm1, chain, terms, scaled, windowed, num_windows, steps

    def _head_split(self, tensor: str) -> tuple[int | None, int | None]:
        """(N, H) of the reshape that splits a projection's [.., N*H] into [.., N, H], found walking back from a
        product's operand through layout ops and moves (a chunked attention's operands are chunk views)."""
        for _ in range(_LAYOUT_STEPS):
            node = self.graph.producer(tensor)
            if node is None or not node.inputs or (node.op not in _LAYOUT and node.op not in MOVE_OPS):
                break
            if node.op == "Reshape":
                before, after = self.values.dims(node.inputs[0]), self.values.dims(node.outputs[0])
                if before and after and len(after) == len(before) + 1 and None not in after[-2:] and \
                        before[-1] == after[-2] * after[-1] and tuple(before[:-1]) == tuple(after[:-2]):  # type: ignore[operator]
                    return after[-2], after[-1]
            tensor = node.inputs[0]
        return None, None

    def _filled(self, tensor: str) -> bool:
        """A constant or a filled tensor moved into place (Longformer builds its band mask with the same
        chunked product as its scores, of a ConstantOfShape of ones): no query or key operand."""
        for _ in range(_LAYOUT_STEPS):
            if self.graph.is_constant(tensor):
                return True
            node = self.graph.producer(tensor)
            if node is None or node.op == "ConstantOfShape":
                return node is not None
            if (node.op not in _LAYOUT and node.op not in MOVE_OPS) or not node.inputs:
                return False
            tensor = node.inputs[0]
        return False

    def _forward_wide(self, softmax: Node) -> tuple[Node | None, list[tuple[Node, str]]]:
        """From the Softmax to BMM2 through the probability ops, head mixes and moves (score_layout.py):
        the product and the (node, input) steps on the way."""
        graph = self.graph
        tensor = softmax.outputs[0]
        steps: list[tuple[Node, str]] = []
        for _ in range(WIDE_STEPS // 2):
            readers = graph.consumers(tensor)
            for r in readers:
                if r.op in ("MatMul", "Einsum") and r.inputs[0] == tensor and self._is_activation_matmul(r):
                    return r, steps
            for r in readers:  # V·Pᵀ: whether it sums over the keys is for _score_layout to tell
                if r.op == "MatMul" and r.inputs[-1] == tensor and self._is_activation_matmul(r):
                    return r, steps
            nxt = next((r for r in readers if self._passes_probabilities(r, tensor, steps)), None)
            if nxt is None:
                return None, steps
            steps.extend((r, tensor) for r in readers if r.op == "IsNaN")
            steps.append((nxt, tensor))
            tensor = nxt.outputs[0]
        return None, steps

    def _passes_probabilities(self, node: Node, tensor: str, steps: list[tuple[Node, str]]) -> bool:
        op = node.op
        if op == "IsNaN" or not node.outputs:
            return False
        if op == "Where":
            return tensor in node.inputs[1:3]
        if op in _PROB_OPS or op in ("Transpose", "LayerNormalization"):  # (a norm across heads: score_layout)
            return node.inputs[0] == tensor
        if op in MOVE_OPS:
            return tensor in wide_inputs(self.graph, node)
        index = weight_product_input(self.graph, node)
        if index is not None:
            return node.inputs[index] == tensor
        if combines(node, tensor):  # a gate, a second map or their own sum (score_layout.combination)
            return True
        # the bias or norm of a head mix just passed
        return op in ("Add", "BatchNormalization") and bool(steps) and \
            weight_product_input(self.graph, steps[-1][0]) is not None

    def _score_layout(self, bmm1: Node, steps: list[tuple[Node, str]], bmm2: Node,
                      prob_steps: list[tuple[Node, str]] | None, p_index: int = 0) -> Track | None:
        """The head mixes and moves on a site the wide walks found; None where the path is no attention: the
        Softmax or BMM2 works over another axis than the keys, or a weight mixes another axis."""
        found = track(self.graph, self.values, product_roles(bmm1, self.values.dims(bmm1.outputs[0])), steps,
                      self._filled)
        if not found.ok or (found.roles is None and not found.moved) or (
                found.roles is not None and found.roles[-1] != "k"):
            return None
        if prob_steps is not None:
            found = track(self.graph, self.values, found.roles, prob_steps, self._filled, found)
            if not found.ok or not bmm2_contracts_keys(bmm2, p_index, found):
                return None
        return found

    def _operand_path(self, tensor: str) -> _Path:
        """Walk back from a BMM operand through layout ops, scales and head repetition."""
        producers = self.graph.producers
        walked: list[Node] = []
        path = _Path(nodes=walked, source=tensor)
        for _ in range(_LAYOUT_STEPS):
            node = producers.get(tensor)
            if node is None:
                break
            inputs = node.inputs
            if not inputs:
                break
            op = node.op
            follow = inputs[0]
            if op in _LAYOUT:  # first: the common case (no layout op is a Mul or Div)
                if op == "DequantizeLinear":
                    path.dequantized = True
                    path.qdq_types.add(self._qdq_type(node))
                elif op == "QuantizeLinear":
                    path.qdq_types.add(self._qdq_type(node))
            elif op in ("Mul", "Div") and len(inputs) == 2 and self._scalar_const(inputs[1]):
                path.scaled = True
            elif op == "Mul" and len(inputs) == 2 and self._scalar_const(inputs[0]):
                path.scaled = True
                follow = inputs[1]
            elif op in _REPEAT:
                factor = self._repeat_factor(node)
                if factor is None and node.op == "Concat":
                    break
                path.repeat_nodes.append(node)
                path.repeat_factor = None if factor is None or path.repeat_factor is None else \
                    path.repeat_factor * factor
            else:
                break
            walked.append(node)
            tensor = follow
        path.source = tensor
        return path

    def _repeat_factor(self, node: Node) -> int | None:
        """How many times an Expand/Tile/Concat repeats its input (the GQA group size)."""
        if node.op == "Concat":
            inputs = [i for i in node.inputs if i]
            if len(inputs) > 1 and len(set(inputs)) == 1:
                return len(inputs)
            return None
        before = self.values.dims(node.inputs[0])
        after = self.values.dims(node.outputs[0])
        if before is None or after is None or len(before) != len(after):
            return None
        factor = 1
        for b, a in zip(before, after, strict=True):
            if b is None or a is None:
                if b != a:
                    return None
                continue
            if b and a != b:
                factor *= a // b
        return factor

    def _heads_from_scores(self, chain: list[Node], softmax: Node, seq_q: int | None,
                           seq_kv: int | None) -> tuple[int | None, int | None]:
        """B and N where rank-3 products ([B*N, S, H], BLOOM's baddbmm) have their scores viewed as
        [B, N, S_q, S_kv] between BMM1 and the Softmax (to add a [B, 1, S_q, S_kv] mask)."""
        for tensor in [*(n.outputs[0] for n in chain if n.op == "Reshape" and n.outputs), softmax.inputs[0]]:
            dims = self.values.dims(tensor)
            if dims is not None and len(dims) == 4 and seq_kv is not None and (dims[-2], dims[-1]) == (seq_q, seq_kv):
                return dims[0], dims[1]
        return None, None

    def _heads_from_projection(self, path: _Path, head: int | None) -> int | None:
        """N from the width of the projection that feeds Q: [.., N*H] before the head split."""
        dims = self.values.dims(path.source)
        width = _at(dims, -1)
        if width is None or head is None or width == head or width % head:
            return None
        return width // head

    def _qdq_type(self, node: Node) -> str:
        zero_point = node.input(2)
        tensor = zero_point or (node.outputs[0] if node.op == "QuantizeLinear" else node.inputs[0])
        dtype = self.graph.dtype(tensor) if tensor else 0
        if dtype in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E4M3FNUZ,
                     TensorProto.FLOAT8E5M2FNUZ):
            return "fp8"
        if dtype in (TensorProto.INT8, TensorProto.UINT8):
            return "int8"
        return "int8" if not zero_point and node.attr("output_dtype", 0) == 0 else "unknown"

    # -- the native Attention op ------------------------------------------------------------------

    def native(self, node: Node) -> _Found | None:
        if len(node.inputs) < 3:
            return None
        q = self.values.dims(node.inputs[0])
        k = self.values.dims(node.inputs[1])
        v = self.values.dims(node.inputs[2])
        q_heads_attr = node.attr("q_num_heads")
        kv_heads_attr = node.attr("kv_num_heads")
        notes: list[str] = []
        if q is not None and len(q) == 3:
            heads, seen_kv = q_heads_attr, kv_heads_attr
            head = _divide(_at(q, -1), heads)
            value_head = _divide(_at(v, -1), kv_heads_attr)
            batch, seq_q, seq_kv = _at(q, 0), _at(q, 1), _at(k, 1)
        else:
            heads, seen_kv = _at(q, 1), _at(k, 1)
            head, value_head = _at(q, -1), _at(v, -1)
            batch, seq_q, seq_kv = _at(q, 0), _at(q, 2), _at(k, 2)
        past = node.input(4)
        if past:
            past_len = _at(self.values.dims(past), -2)
            seq_kv = None if seq_kv is None or past_len is None else seq_kv + past_len
            notes.append("past key/value cache is concatenated inside the op")
        k_path = self._operand_path(node.inputs[1])
        v_path = self._operand_path(node.inputs[2])
        q_path = self._operand_path(node.inputs[0])
        if seen_kv == 1 and (heads or 0) > 1:
            kv_true: int | None = 1
        else:
            kv_true = _divide(seen_kv, _combined_factor(k_path, v_path))
        terms: list[_MaskTerm] = []
        mask = node.input(3)
        if mask:
            how = "attn_bool" if self.graph.dtype(mask) == TensorProto.BOOL else "attn_add"
            terms.append(_MaskTerm(mask, how, node))
        facts = self._mask_facts(terms, seq_q, seq_kv, batch, rank=4)
        causal = facts.causal
        label = facts.label
        if node.attr("is_causal", 0):
            causal = True
            if label == "none":
                label = "causal"
        nodes = [*k_path.through_repeat(), *v_path.through_repeat(), node]
        qdq_types = q_path.qdq_types | k_path.qdq_types | v_path.qdq_types
        ordered = tuple(sorted(dict.fromkeys(nodes), key=node_index))
        site = AttentionSite(
            nodes=tuple(n.name for n in ordered), anchor=node.name, native=True, batch=batch, num_heads=heads,
            num_kv_heads=kv_true, kv_heads_seen=seen_kv, head_size=head, seq_q=seq_q, seq_kv=seq_kv,
            causal=causal, mask=label, mask_extent=facts.extent, mask_shape=facts.shape, bias=facts.bias,
            mask_uniform=facts.uniform, mask_terms=facts.terms,
            scale="attribute" if node.has_attr("scale") else "none", repeated_kv=bool(k_path.repeat_nodes or
                                                                                       v_path.repeat_nodes),
            repeat_nodes=tuple(n.name for n in k_path.repeat_nodes + v_path.repeat_nodes), windowed=False,
            num_windows=None, qdq=q_path.dequantized and k_path.dequantized and v_path.dequantized,
            qdq_types=tuple(sorted(qdq_types)), mask_inputs=facts.inputs, notes=tuple(notes + facts.notes),
            mask_window=facts.window, value_head_size=_other_head(head, value_head),
            dtype=self.graph.dtype(node.inputs[0]) if node.inputs else None, core=(node.name,))
        return site, ordered, (node,)

    def _products_of_qk(self, terms: list[_MaskTerm], term_key: tuple[tuple[str, str], ...], bmm1: Node,
                        q_path: _Path, k_path: _Path) -> dict[str, tuple[str, ...]]:
        """Per additive score term (sums split part by part) whose values the file does not hold, the matrix
        products in its cone that read the site's Q or K (the tensors on the operand paths of BMM1, or a
        reshape of them): the term is then a second score product computed from the queries or keys
        (DeBERTa's disentangled terms, SAM's decomposed relative positions q·R_h and q·R_w), which no mask or
        learned bias is, whether or not its other operand is a weight."""
        # Every layer usually adds the same mask tensor: which terms are unknown depends on the terms alone
        # (_split_terms reads their tensors and how they apply), so it is found once per distinct mask.
        unknown = self._unknown_terms.get(term_key)
        if unknown is None:
            unknown = self._unknown_terms[term_key] = [
                t.tensor for t in _split_terms(self.graph, self.values, terms)
                if t.how in ("add", "attn_add", "sub") and not self.values.is_known(t.tensor)]
        if not unknown:  # the common case: every term's values are known (a mask input, constants)
            return {}
        qk = {*bmm1.inputs, q_path.source, k_path.source}
        for path in (q_path, k_path):
            for node in path.nodes:
                qk.update(i for i in node.inputs if i)
                qk.update(node.outputs)
        for operand in bmm1.inputs:
            qk.update(self._scaled_back(operand))
        return {tensor: self._qk_products_in(tensor, bmm1, qk) for tensor in unknown}

    def _scaled_back(self, tensor: str) -> list[str]:
        """The tensors behind a product operand through layout ops and a Mul or Div by a factor no graph input
        feeds, whether or not its value is known: with the batch dynamic, TorchScript's SDPA scale
        sqrt(1/sqrt(H)) comes from the Shape of a tensor whose last axis the audit cannot size, so the operand
        path (which takes known scales only) stops at it, and the Q/K it scales are still these tensors."""
        found: list[str] = []
        for _ in range(_LAYOUT_STEPS):
            node = self.graph.producer(tensor)
            if node is None or not node.inputs:
                break
            if node.op in ("Mul", "Div") and len(node.inputs) == 2:
                data = [i for i in node.inputs if self._reads_inputs(i)]
                if len(data) != 1 or (node.op == "Div" and data[0] != node.inputs[0]):
                    break
                tensor = data[0]
            elif node.op in _LAYOUT:
                tensor = node.inputs[0]
            else:
                break
            found.append(tensor)
        return found

    def _qk_products_in(self, tensor: str, bmm1: Node, qk: set[str]) -> tuple[str, ...]:
        found: list[str] = []
        seen: set[str] = set()
        frontier = [tensor]
        while frontier and len(seen) < _CONE_LIMIT:
            nxt: list[str] = []
            for name in frontier:
                node = self.graph.producer(name)
                if node is None or node.op in ("Shape", "Size"):
                    continue
                if node.op in ("MatMul", "Einsum") and node is not bmm1 and \
                        any(self._relayout_of(i, qk) for i in node.inputs if i):
                    found.append(node.name)
                    continue  # behind it are Q or K themselves: their products are not this term's
                for inp in node.inputs:
                    if inp and inp not in seen:
                        seen.add(inp)
                        nxt.append(inp)
            frontier = nxt
        return tuple(sorted(set(found)))

    def _relayout_of(self, tensor: str, targets: set[str]) -> bool:
        """Whether ``tensor`` is one of ``targets`` or comes from one through layout ops only (SAM reshapes
        the queries to [B*N, h, w, H] before its q·R_h product)."""
        for _ in range(_LAYOUT_STEPS):
            if tensor in targets:
                return True
            node = self.graph.producer(tensor)
            if node is None or node.op not in _LAYOUT or not node.inputs:
                return False
            tensor = node.inputs[0]
        return tensor in targets

    # -- masks ------------------------------------------------------------------------------------

    def _mask_facts(self, terms: list[_MaskTerm], seq_q: int | None, seq_kv: int | None, batch: int | None,
                    rank: int, computed: frozenset[str] = frozenset(),
                    term_key: tuple[tuple[str, str], ...] | None = None) -> _MaskFacts:
        # Every layer of a model usually adds the same mask tensor: its analysis depends only on the
        # terms' tensors, how they apply and which are products of Q or K (``computed``), so it is done
        # once per distinct mask. The result is shared by those sites: callers only read it.
        key = (_term_key(terms) if term_key is None else term_key, seq_q, seq_kv, batch, rank, computed)
        cached = self._mask_cache.get(key)
        if cached is None:
            cached = self._mask_cache[key] = _MaskAnalysis(self, terms, seq_q, seq_kv, batch, rank,
                                                           computed).facts()
        return cached


def _term_key(terms: list[_MaskTerm]) -> tuple[tuple[str, str], ...]:
    """What a site's mask analysis depends on of its terms: each one's tensor and how it applies."""
    return tuple([(t.tensor, t.how) for t in terms])


def _has_rank6_transpose(graph: Graph) -> bool:
    # a plain loop: it reads every Transpose's perm once, and a generator's frame per node cost a third more
    for node in graph.nodes_of("Transpose"):
        perm = node.attr("perm")
        if perm is not None and len(perm) == 6:
            return True
    return False


def _other_head(head: int | None, value_head: int | None) -> int | None:
    """V's head size where both are known and it differs from Q and K's; None otherwise."""
    return value_head if head is not None and value_head is not None and value_head != head else None


def _split_terms(graph: Graph, values: GraphValues, terms: list[_MaskTerm]) -> list[_MaskTerm]:
    """Additive terms that are sums themselves (T5: position bias + mask) are judged part by part."""
    out: list[_MaskTerm] = []
    stack = list(terms)
    while stack and len(out) < 16:
        term = stack.pop(0)
        node = graph.producer(term.tensor)
        if term.how == "add" and node is not None and node.op == "Add" and not values.is_known(term.tensor):
            parts = [i for i in node.inputs if i]
            if len(parts) == 2:
                stack.extend(_MaskTerm(p, "add", term.node) for p in parts)
                continue
        out.append(term)
    return out


@dataclass
class _MaskFacts:
    causal: bool | None
    label: str | None
    extent: str | None
    shape: tuple[int | None, ...] | None
    bias: bool
    inputs: tuple[str, ...]
    notes: list[str]
    window: int | None = None
    # every term's value is in the file and holds one value everywhere (the dynamo exporter's SDPA decomposition
    # adds a [1, 1, S_q, S_kv] tensor of zeros when there is no mask): softmax is unchanged by it
    uniform: bool = False
    terms: tuple[tuple[int | None, ...], ...] = ()  # AttentionSite.mask_terms


class _MaskAnalysis:
    """Classify the terms a site adds to (or selects on) its scores."""

    def __init__(self, finder: _SiteFinder, terms: list[_MaskTerm], seq_q: int | None, seq_kv: int | None,
                 batch: int | None, rank: int, computed: frozenset[str] = frozenset()) -> None:
        self.finder = finder
        self.graph = finder.graph
        self.values = finder.values
        self.terms = _split_terms(self.graph, self.values, terms)
        self.computed = computed  # terms that are products of Q or K (_SiteFinder._products_of_qk)
        self.seq_q, self.seq_kv, self.batch, self.rank = seq_q, seq_kv, batch, rank

    def facts(self) -> _MaskFacts:
        if not self.terms:
            return _MaskFacts(False, "none", "none", None, False, (), [])
        blocked_parts: list[np.ndarray] = []
        unknown_blocking = False
        bias = False
        structural_causal = False
        crossed_compares = 0
        external = False
        inputs: list[str] = []
        notes: list[str] = []
        shapes: list[Dims | None] = []
        blocked_below = self.finder.blocked_below
        uniform = True
        for term in self.terms:
            if term.tensor in self.computed:
                # a score term computed from Q or K (relative positions, disentangled attention): it masks
                # nothing, varies like the scores, and the graph inputs behind it are the model's, no mask's
                bias = True
                uniform = False
                shapes.append(self.values.dims(term.tensor))
                continue
            cone = _Cone(self.graph, term.tensor, through_shape=False)  # a shape is no mask input
            inputs.extend(i for i in cone.inputs if i not in inputs)
            structural_causal = structural_causal or cone.trilu or cone.range_compare
            crossed_compares += cone.crossed_compares
            external = external or cone.external
            shapes.append(self.values.dims(term.tensor))
            value = self.values.value(term.tensor)
            # from constants only: a mask read from a graph input is evaluated as 'every position attends', which
            # is an assumption about its values, not its values
            uniform = uniform and value is not None and not cone.inputs and term.how in ("add", "attn_add", "sub") \
                and value.size > 0 and bool(np.all(value == value.reshape(-1)[0]))
            if value is None:
                if term.how in ("add", "attn_add", "sub") and cone.learned:
                    bias = True          # a learned table: relative position bias
                elif term.how == "mul":
                    bias = True
                else:
                    unknown_blocking = True
                continue
            blocked = self._blocked(term.how, value)
            if blocked is None:
                continue
            if blocked.any():
                blocked_parts.append(blocked)
            if term.how in ("add", "attn_add", "sub"):
                finite = value[np.isfinite(value) & (value > blocked_below)] if value.dtype.kind == "f" else value
                if finite.size and np.any(finite != 0) and not (value.dtype.kind == "f" and
                                                               np.all(np.isin(finite, (0.0, 1.0)))):
                    bias = True
        total = _union(blocked_parts)
        window = _sliding_window(total) if total is not None else None
        # a two-sided band (local attention: ModernBERT's local layers, Longformer-style windows) is no padding
        local = _local_band(total) if total is not None and window is None else None
        keys_seen = window if window is not None else local[0] + local[1] + 1 if local is not None else None
        # Two crossed comparisons bound the key position from both sides (a band, chunks): without
        # the values, whether it is causal and what kind of mask it is stay unknown.
        banded = unknown_blocking and crossed_compares >= 2
        causal = None if banded else self._causal(total, bool(blocked_parts), unknown_blocking, structural_causal,
                                                  window)
        label = None if banded else self._label(inputs, causal, blocked_parts, unknown_blocking, keys_seen)
        extent, shape = self._extent(shapes)
        if window is not None:
            notes.append(f"the mask is a causal band: each query sees the {window} keys up to itself "
                         "(sliding-window attention)")
        if local is not None:
            notes.append(f"the mask is a two-sided band: each query sees the keys from {local[0]} before to "
                         f"{local[1]} after itself (local attention)")
        if banded:
            notes.append(f"the mask compares query and key positions {crossed_compares} times (a sliding window "
                         "or chunks bound it from below): its kind is not guessed")
        elif unknown_blocking:
            # causality read from the graph's structure (a Trilu, a comparison of query and key positions) is
            # known; what the unevaluated part adds (a padding mask, a bias such as ALiBi) is what stays unknown
            unknown_part = "what it masks or adds besides the causal triangle is not evaluated" if causal else \
                "its causality is not guessed"
            notes.append("part of the mask is a constant whose values are not in the file (external data)"
                         if external else "part of the mask is computed by ops whose values the audit does not "
                         f"evaluate ({unknown_part})")
        return _MaskFacts(causal, label, extent, shape, bias, tuple(inputs), notes, keys_seen,
                          uniform=uniform and not blocked_parts, terms=self._terms(shapes))

    def _blocked(self, how: str, value: np.ndarray) -> np.ndarray | None:
        if how in ("keep_true", "attn_bool"):
            return ~value.astype(bool)
        if how == "keep_false":
            return value.astype(bool)
        if how in ("add", "attn_add"):
            return value <= self.finder.blocked_below if value.dtype.kind == "f" else None
        if how == "sub":
            return value >= -self.finder.blocked_below if value.dtype.kind == "f" else None
        return None

    def _causal(self, total: np.ndarray | None, blocks: bool, unknown: bool, structural: bool,
                window: int | None) -> bool | None:
        if blocks:
            if total is None:
                return None
            if total.ndim >= 2 and (window is not None or _is_causal_pattern(total)):
                return True
            if not unknown:
                return False
        if unknown:
            return True if structural else None
        return False

    def _label(self, inputs: list[str], causal: bool | None, parts: list[np.ndarray], unknown: bool,
               window: int | None) -> str | None:
        for name in inputs:
            dims = self.values.dims(name)
            if dims is None:
                continue
            # a rank-2 input is [S_q, S_kv] only where S_q is known: [B, S_kv] with both unknown is padding
            two_d = len(dims) >= 2 and dims[-2] == self.seq_q and dims[-1] == self.seq_kv and \
                (len(dims) > 2 or ((dims[0] != self.batch or self.batch is None) and dims[0] is not None))
            if two_d:
                return "bool" if self.graph.dtype(name) == TensorProto.BOOL else "additive"
        if window is not None:
            return "sliding_window"  # a padding input too: the band is what decides the fusion's fix
        if any(self._is_padding_input(name) for name in inputs):
            return "padding"
        if causal:
            return "causal"
        if unknown:
            return None
        return "constant" if parts else "none"

    def _is_padding_input(self, name: str) -> bool:
        dims = self.values.dims(name)
        if dims is None or len(dims) not in (1, 2):
            return False
        return dims[-1] == self.seq_kv or dims[-1] is None

    def _terms(self, shapes: list[Dims | None]) -> tuple[tuple[int | None, ...], ...]:
        """Each term's shape aligned to the scores' rank, each once; () where one is unknown."""
        if any(dims is None for dims in shapes):
            return ()
        aligned = ((1,) * (self.rank - len(dims)) + tuple(dims) for dims in shapes if dims is not None)
        return tuple(dict.fromkeys(aligned))

    def _extent(self, shapes: list[Dims | None]) -> tuple[str | None, Dims | None]:
        """How the mask varies as TensorRT sees it: scalar, along S_kv only (1d), or more (2d)."""
        extent = "scalar"
        widest: Dims | None = None
        for dims in shapes:
            if dims is None:
                return None, None
            aligned = (1,) * (self.rank - len(dims)) + tuple(dims) if len(dims) < self.rank else tuple(dims)
            if widest is None or len(aligned) > len(widest) or sum(d != 1 for d in aligned) > sum(
                    d != 1 for d in widest):
                widest = aligned
            inner = aligned[-2:]
            heads = aligned[-3] if len(aligned) >= 3 else 1
            if inner[0] != 1 or heads != 1:
                if None in (inner[0], heads) and extent != "2d":
                    extent = None  # type: ignore[assignment]
                    continue
                extent = "2d"
            elif inner[-1] != 1 and extent == "scalar":
                extent = "1d"
        return extent, widest


# A row or element read from a table by index: Gather for plain indexing, GatherND for the advanced indexing
# the dynamo exporter writes (Swin V2's continuous position bias), GatherElements for take_along_dim.
_TABLE_LOOKUPS = frozenset({"Gather", "GatherND", "GatherElements"})
# A learned map over weights: Swin V2's (timm swinv2_cr) position bias is an MLP over the relative coordinates,
# every pair's bias computed from weights with no table read at all.
_PRODUCTS = frozenset({"Gemm", "MatMul"})


class _Cone:
    """Graph inputs, triangles and learned tables behind a mask tensor (bounded breadth-first walk)."""

    def __init__(self, graph: Graph, tensor: str, through_shape: bool = True) -> None:
        self.inputs: list[str] = []
        self.trilu = False
        self.range_compare = False
        self.crossed_compares = 0  # comparisons of a [.., S, 1] position with a [.., 1, S] one
        self.weight_gather = False
        self.weight_product = False  # a float matrix product inside the cone (a learned map, if no input feeds it)
        self.external = False  # an initializer whose values are in an external file that cannot be read
        seen = {tensor}
        frontier = [tensor]
        while frontier and len(seen) < _CONE_LIMIT:
            nxt: list[str] = []
            for name in frontier:
                node = graph.producer(name)
                if node is None:
                    if graph.is_graph_input(name):
                        self.inputs.append(name)
                    elif not self.external:
                        self.external = _unreadable_external(graph, graph.initializers.get(name))
                    continue
                if node.op == "Constant" and not self.external:
                    value = node.attr("value")  # a Constant's tensor can be external data too
                    self.external = isinstance(value, TensorProto) and _unreadable_external(graph, value)
                if node.op == "Trilu":
                    self.trilu = True
                elif node.op in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual") and _crossed(graph, node):
                    self.range_compare = True
                    self.crossed_compares += 1
                elif node.op in _TABLE_LOOKUPS and graph.dtype(node.inputs[0]) in (
                        TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16) and (
                        graph.is_constant(node.inputs[0]) or (through_shape is False and
                                                              not _Cone(graph, node.inputs[0]).inputs)):
                    # a learned table: a weight, or one computed from weights only (BEiT resizes its
                    # relative-position table before gathering from it)
                    self.weight_gather = True
                elif node.op in _PRODUCTS and graph.dtype(node.outputs[0]) in (
                        TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16):
                    self.weight_product = True
                if not through_shape and node.op in ("Shape", "Size"):
                    continue
                for inp in node.inputs:
                    if inp and inp not in seen:
                        seen.add(inp)
                        nxt.append(inp)
            frontier = nxt
        self.complete = not frontier  # the walk reached every source (it stops at _CONE_LIMIT tensors)

    @property
    def learned(self) -> bool:
        """Whether the tensor is a learned bias: read from a weight table, or computed by a matrix product from
        weights alone (no graph input reaches it), whatever ops the audit could not evaluate on the way."""
        return self.weight_gather or (self.weight_product and self.complete and not self.inputs)


def _unreadable_external(graph: Graph, tensor: TensorProto | None) -> bool:
    if tensor is None or tensor.data_location != TensorProto.EXTERNAL:
        return False
    return graph.external_data is None or graph.external_data.decode(tensor) is None


def _crossed(graph: Graph, node: Node) -> bool:
    """A comparison of a [.., S, 1] index with a [.., 1, S] one: a triangle."""
    a, b = (graph.shape(i) for i in node.inputs[:2])
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return False
    return (a[-1] == 1 and b[-2] == 1 and a[-2] != 1 and b[-1] != 1) or \
        (a[-2] == 1 and b[-1] == 1 and a[-1] != 1 and b[-2] != 1)


def _is_causal_pattern(blocked: np.ndarray) -> bool:
    s_q, s_kv = blocked.shape[-2], blocked.shape[-1]
    if s_q < 2 and s_kv < 2:
        return False
    expected = np.triu(np.ones((s_q, s_kv), dtype=bool), k=1 + max(s_kv - s_q, 0))
    flat = blocked.reshape(-1, s_q, s_kv)
    return bool(expected.any()) and all(np.array_equal(m, expected) for m in flat[:64])


def _union(parts: list[np.ndarray]) -> np.ndarray | None:
    """Every position some part blocks, broadcast together (None: no part, or shapes that do not broadcast)."""
    if not parts:
        return None
    try:
        return np.broadcast_arrays(*parts)[0].copy() if len(parts) == 1 else np.logical_or.reduce(
            np.broadcast_arrays(*parts))
    except ValueError:
        return None


def _sliding_window(blocked: np.ndarray) -> int | None:
    """W where the blocked positions are a causal band: query i (aligned to the last keys) sees exactly
    keys i-W+1 .. i; None for a plain triangle or any other pattern."""
    if blocked.ndim < 2:
        return None
    s_q, s_kv = blocked.shape[-2], blocked.shape[-1]
    if s_q < 2 or s_kv < 2:
        return None
    offset = max(s_kv - s_q, 0)
    window = int(s_kv - blocked.reshape(-1, s_q, s_kv)[0, -1].sum())  # the last query sees W keys
    if window < 1 or window >= offset + s_q:
        return None  # the first query too sees every key up to itself: no band at this length
    rows = np.arange(s_q)[:, None] + offset
    cols = np.arange(s_kv)[None, :]
    expected = (cols > rows) | (cols <= rows - window)
    flat = blocked.reshape(-1, s_q, s_kv)
    return window if all(np.array_equal(m, expected) for m in flat[:64]) else None


def _local_band(blocked: np.ndarray) -> tuple[int, int] | None:
    """(L, R) where the blocked positions are a two-sided band over a square score matrix: query i sees
    exactly keys i-L .. i+R (clipped to the sequence), with R >= 1 (not causal) and something blocked;
    None for any other pattern."""
    if blocked.ndim < 2:
        return None
    s_q, s_kv = blocked.shape[-2], blocked.shape[-1]
    if s_q != s_kv or s_q < 3:
        return None
    flat = blocked.reshape(-1, s_q, s_kv)
    first, last = np.flatnonzero(~flat[0, 0]), np.flatnonzero(~flat[0, -1])
    if first.size == 0 or last.size == 0:
        return None
    right, left = int(first[-1]), int(s_q - 1 - last[0])  # row 0's reach forward, the last row's back
    if right < 1 or left < 0:
        return None
    rows = np.arange(s_q)[:, None]
    cols = np.arange(s_kv)[None, :]
    expected = (cols < rows - left) | (cols > rows + right)
    if not expected.any():
        return None
    return (left, right) if all(np.array_equal(m, expected) for m in flat[:64]) else None


def q_path_scale_nodes(path: _Path) -> list[Node]:
    """The scale nodes on a Q or K operand (they belong to the fused attention), with the reshapes and
    transposes between them and the product (OPT scales Q before splitting heads): the fused layer
    takes the whole stretch, or the layout ops left out would both feed it and read from it."""
    if not path.scaled:  # the walk takes a Mul or Div only as a scale
        return []
    last = max((i for i, n in enumerate(path.nodes) if n.op in ("Mul", "Div")), default=-1)
    return path.nodes[:last + 1]


def _combined_factor(k_path: _Path, v_path: _Path) -> int | None:
    if k_path.repeat_nodes:
        return k_path.repeat_factor
    if v_path.repeat_nodes:
        return v_path.repeat_factor
    return 1


def _scale_label(on_q: bool, on_k: bool, on_scores: bool) -> str:
    if on_q and on_k:
        return "q+k"
    if on_q:
        return "q"
    if on_k:
        return "k"
    return "scores" if on_scores else "none"


def _at(dims: Dims | None, index: int) -> int | None:
    # in range both ways: dims[1] of a rank-1 tensor is unknown (a hostile Attention node, campaign seed 46619)
    if dims is None or not -len(dims) <= index < len(dims):
        return None
    return dims[index]


def _pick(*options: int | None) -> int | None:
    for value in options:
        if value is not None:
            return value
    return None


def _divide(total: int | None, parts: int | None) -> int | None:
    if total is None or not parts or total % parts:
        return None
    return total // parts
