"""The plan stage: the fusion passes in the order TensorRT's builder runs them, and the run over a graph
(with the speculative re-plan) that resolves it into the predicted engine."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import attrgetter

from trtadvisor.analysis.dtypes import tensor_dtypes
from trtadvisor.ir.graph import Graph, Node, node_index
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.calibrate import calibrate
from trtadvisor.plan.context import Group, PlanContext, PredictedLayer, Prediction
from trtadvisor.plan.passes.attention import fuse_normalizations, split_fused_sites, tag_attention
from trtadvisor.plan.passes.concat import remove_concatenations
from trtadvisor.plan.passes.conv import (
    fuse_activation_pairs,
    fuse_conv_epilogues,
    fuse_conv_pool,
    fuse_pad_into_conv,
    note_depthwise_separable,
)
from trtadvisor.plan.passes.eliminate import eliminate
from trtadvisor.plan.passes.horizontal import note_horizontal_merges
from trtadvisor.plan.passes.myelin import fold_flatten_into_gemm, form_myelin_regions
from trtadvisor.plan.passes.pointwise import fuse_conv_generic_activation, fuse_eltwise_relu, fuse_pointwise
from trtadvisor.plan.passes.qdq import fuse_qdq, fuse_qdq_epilogues
from trtadvisor.plan.passes.reduction import fuse_gelu, fuse_reductions, reduce_to_pooling
from trtadvisor.plan.passes.scale import erase_identity_scales, fold_scales_into_convs, fuse_channel_scales
from trtadvisor.plan.passes.shuffle import fuse_shuffle_reduce, fuse_shuffles
from trtadvisor.plan.passes.softmax import fuse_softmax
from trtadvisor.plan.precision import LayerPrecision
from trtadvisor.plan.slices import slice_layers, used_outputs

Pass = Callable[[PlanContext], None]


def pipeline(target: Target, book: RuleBook) -> list[Pass]:
    return [
        eliminate,
        erase_identity_scales,
        fuse_qdq,
        fold_flatten_into_gemm,
        fuse_shuffles,
        fuse_shuffle_reduce,
        fold_scales_into_convs,
        # The builder's EltReluFusion runs before ConstEltFusion turns constant ops into Scale layers (and
        # so before ScaleScaleFusion), as the 8.5.2 YOLO build log orders them.
        fuse_eltwise_relu,
        fuse_channel_scales,
        fuse_pad_into_conv,
        fuse_gelu,
        fuse_conv_epilogues,
        fuse_activation_pairs,
        fuse_reductions,
        reduce_to_pooling,
        # Myelin takes what the convolution and pooling fusions left: TensorRT 10 keeps conv + ReLU
        # and pooling as Cask layers beside its Myelin regions (trt10.16.1 exportLayerInfo).
        form_myelin_regions,
        tag_attention,
        fuse_normalizations,
        fuse_softmax,
        fuse_pointwise,
        fuse_conv_generic_activation,
        fuse_conv_pool,
        note_depthwise_separable,
        note_horizontal_merges,
        # Output Q into producers, residual DQ into Conv + Add, quantized pooling: after the epilogues.
        fuse_qdq_epilogues,
        # The builder removes concatenations after its fusions ('After concat removal' follows them in
        # the verbose logs), once it knows which layers write each input.
        remove_concatenations,
    ]


def _outside_myelin_layers(ctx: PlanContext, found: list[Finding]) -> list[Finding]:
    """Drop blocked classic fusions whose nodes all ended up in one Myelin region: not a miss, since
    Myelin generates its own fused kernels there."""
    by_name: dict[str, Node] | None = None  # built only if a classic fusion's miss needs it
    kept = []
    for finding in found:
        if finding.rule.startswith("TRT1") and finding.nodes:
            if by_name is None:
                by_name = ctx.graph.nodes_by_name()
            groups = {id(ctx.owner.get(by_name.get(name))) for name in finding.nodes}
            if len(groups) == 1:
                group = ctx.owner.get(by_name.get(finding.nodes[0]))
                if group is not None and group.kind == "myelin":
                    continue
        kept.append(finding)
    return kept




def _per_output_slices(ctx: PlanContext, planned: list[PredictedLayer], ops: frozenset[str]) -> list[PredictedLayer]:
    """A standalone layer of one per-output-slice node (a Split) becomes one slice layer per used output."""
    owner = ctx.owner
    if not ops or not any(len(owner[node].nodes) == 1 for node in ctx.graph.nodes_of(*ops) if node in owner):
        return planned  # the common case: no Split outside Myelin, the list as it is
    by_name = ctx.graph.nodes_by_name()
    names = set(by_name)
    out: list[PredictedLayer] = []
    for layer in planned:
        node = by_name.get(layer.nodes[0]) if len(layer.ops) == 1 and layer.ops[0] in ops else None
        if node is None or layer.kind == "myelin":
            out.append(layer)
        else:
            out.extend(slice_layers(layer, node, used_outputs(ctx, node), names))
    return out


_name_of = attrgetter("name")
_op_of = attrgetter("op")
_nodes_of = attrgetter("nodes")  # a layer's node names, a group's nodes
_INFERRED = PredictedLayer._field_defaults["confidence"]
# A PredictedLayer from a tuple of all its fields, built in C (tens of thousands per large model).
_new_layer = partial(tuple.__new__, PredictedLayer)


def _group_layers(groups: list[Group], known: dict[int, tuple[dict[str, object], ...]],
                  precision_of: Callable[[list[Node], tuple[str, ...]], str | None]) -> list[PredictedLayer]:
    """A layer per group, with its precision: calibration keeps it on every layer it keeps or renames."""
    layers: list[PredictedLayer] = []
    append = layers.append
    for group in groups:
        nodes = group.nodes
        ops = tuple(map(_op_of, nodes))
        append(_new_layer((group.name, group.kind, tuple(map(_name_of, nodes)), ops, tuple(group.fusions),
                           _INFERRED, (), known.get(id(group), ()) if known else (), precision_of(nodes, ops))))
    return layers


def _regrouped(calibrated: list[PredictedLayer], grouped: list[PredictedLayer], groups: list[Group], graph: Graph,
               precision_of: Callable[[list[Node], tuple[str, ...]], str | None],
               layers: list[PredictedLayer], members: list[list[Node]]) -> None:
    """Add the layers slicing or calibration made (some of a group's nodes each) and every layer's nodes."""
    # A layer that keeps a group's node names (the very tuple) keeps its nodes and precision: no lookup by
    # name. ``grouped`` holds those tuples alive, so no other tuple can have the same id meanwhile.
    group_nodes = dict(zip(map(id, map(_nodes_of, grouped)), map(_nodes_of, groups), strict=True))
    by_name = graph.nodes_by_name()
    for layer in calibrated:
        nodes = group_nodes.get(id(layer.nodes))
        if nodes is None:
            nodes = list(filter(None, map(by_name.get, layer.nodes)))
            layer = _new_layer((*layer[:-1], precision_of(nodes, layer.ops)))
        layers.append(layer)
        members.append(nodes)


def _run_pipeline(graph: Graph, target: Target, book: RuleBook,
                  steps: list[Callable[[PlanContext], None]]) -> PlanContext:
    """Run the passes over one graph. A pass that went ahead before the shapes arrived relied on
    an assumption; if the shapes prove one wrong, the plan is made again from the start, now with
    every shape known, so the result never depends on when shape inference finished."""
    ctx = _plan_once(graph, target, book, steps)
    if ctx.assumptions and not ctx.assumptions_hold():
        ctx = _plan_once(graph, target, book, steps)
    return ctx


def _plan_once(graph: Graph, target: Target, book: RuleBook,
               steps: list[Callable[[PlanContext], None]]) -> PlanContext:
    ctx = PlanContext(graph, target, book)
    for step in steps:
        step(ctx)
    return ctx


def plan_graph(graph: Graph, target: Target, book: RuleBook, types: dict[str, int] | None = None) -> Prediction:
    """Predict the engine layers for ``graph`` and every nested If/Loop body.

    ``types``: every tensor's element type (analysis/dtypes.py), computed here when not given."""
    precision_of = LayerPrecision(target, tensor_dtypes(graph) if types is None else types, book).of
    layers: list[PredictedLayer] = []
    eliminated: dict[str, str] = {}
    findings: list[Finding] = []
    instances: list[tuple[str, tuple[Node, ...]]] = []
    members: list[list[Node]] = []
    split: dict[str, tuple[str, ...]] = {}
    node_count = 0
    for g in graph.walk():
        ctx = _run_pipeline(g, target, book, pipeline(target, book))
        split.update(split_fused_sites(ctx))
        node_count += len(g.nodes)
        groups = ctx.groups()
        grouped = _group_layers(groups, ctx.alternatives, precision_of)
        planned = _per_output_slices(ctx, grouped, book.op_group("per_output_slice"))
        calibrated = calibrate(planned, target, book)
        if planned is grouped and len(calibrated) == len(groups):
            # One layer per group, in order: each has its group's nodes and the precision they were given.
            layers.extend(calibrated)
            members.extend(map(_nodes_of, groups))
        else:
            _regrouped(calibrated, grouped, groups, g, precision_of, layers, members)
        for node in sorted(ctx.eliminated, key=node_index):
            eliminated[node.name] = ctx.eliminated[node]
        if ctx.findings:
            findings.extend(_outside_myelin_layers(ctx, ctx.findings))
        instances.extend(ctx.instances)  # their nodes: the few consumers take names where they need them
    return Prediction(layers=layers, eliminated=list(eliminated), eliminated_reasons=eliminated,
                      findings=findings, node_count=node_count, instances=instances, members=members,
                      split_sites=split)
