"""Channels-last network inputs and outputs converted by a Transpose at the boundary (rule TRT207).

An exporter that keeps TensorFlow's NHWC interface (tf2onnx by default) transposes each image input to the
channels-first layout ONNX's Conv takes, and image outputs back. TensorRT runs such a Transpose as a Shuffle
layer of its own over the whole tensor; feeding channels-first data removes it. Evidence and source:
rules/advice.toml [rule.TRT207].
"""

from __future__ import annotations

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.errors import shown
from trtadvisor.ir.graph import Graph, Node
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction

_SHUFFLE = "shuffle"  # the predicted layer kind a lone Transpose becomes


def layout_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                    notes: AdviceNotes) -> list[Finding]:
    graph = model.graph
    transposes = graph.nodes_of("Transpose")
    if not transposes:
        return []
    shuffles = {name for layer in prediction.layers if layer.kind == _SHUFFLE and layer.ops == ("Transpose",)
                for name in layer.nodes}
    findings: list[Finding] = []
    for name in graph.inputs:
        if name in graph.initializers:
            continue  # an old-style graph lists its weights as inputs
        readers = graph.consumers(name)
        if not readers or not all(_moves(r, to_channels_first=True) for r in readers):
            continue
        kept = [r for r in readers if r.name in shuffles]
        if kept:
            findings.append(finding_for(
                book, "TRT207", f"input '{shown(name, 80)}' {_dims(graph, name)} is channels-last: its Transpose "
                f"'{shown(kept[0].name, 80)}' to NCHW runs as a Shuffle layer over the whole input",
                nodes=[kept[0].name],
                hint=f"feed NCHW data and drop the Transpose (tf2onnx: --inputs-as-nchw {shown(name, 80)})"))
    for name in graph.outputs:
        producer = graph.producer(name)
        if producer is None or producer.name not in shuffles or not _moves(producer, to_channels_first=False):
            continue
        findings.append(finding_for(
            book, "TRT207", f"output '{shown(name, 80)}' {_dims(graph, name)} is channels-last: its Transpose "
            f"'{shown(producer.name, 80)}' from NCHW runs as a Shuffle layer over the whole output",
            nodes=[producer.name],
            hint=f"take NCHW results and drop the Transpose (tf2onnx: --outputs-as-nchw {shown(name, 80)})"))
    return findings


def _moves(node: Node, to_channels_first: bool) -> bool:
    """Whether ``node`` is a Transpose moving the channel axis of a 4-D or 5-D image between last and
    second (NHWC -> NCHW when ``to_channels_first``, else back) and nothing else."""
    if node.op != "Transpose" or not node.inputs:
        return False
    perm = node.attr("perm")
    if perm is None:
        return False  # no perm reverses the axes: not a layout change of an image
    perm = list(perm)
    rank = len(perm)
    if rank not in (4, 5):
        return False
    if to_channels_first:
        return perm == [0, rank - 1, *range(1, rank - 1)]
    return perm == [0, *range(2, rank), 1]


def _dims(graph: Graph, name: str) -> str:
    shape = graph.shape(name)
    return "[" + ",".join(shown(str(d), 20) for d in shape) + "]" if shape is not None else "(shape unknown)"
