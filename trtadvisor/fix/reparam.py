"""Linear branches over one input merged into one convolution (TRT208).

Structural re-parameterization (RepVGG, arXiv 2101.03697, section 3.3): every branch is linear in the
input, so the expression is one convolution, evaluated term by term as a (kernel, bias) pair: a branch
convolution gives its kernel zero-padded to the merged size around the same centre and its bias; the
input itself the identity kernel (1 at the centre, from each channel to itself); a per-channel constant
a bias; sums and differences combine pairs; a BatchNormalization multiplies kernel and bias by
``s = gamma / sqrt(var + eps)`` per output channel and adds ``beta - mean * s``; a per-channel Mul or Div
scales both. Computed in float64 and written in the kept convolution's type. Where the sites are and why
each merge is exact: analysis/branches.py.
"""

from __future__ import annotations

import numpy as np

from trtadvisor.analysis.branches import BranchSum, Term, summed_branches
from trtadvisor.fix.base import Change, Outcome, Skip, Work, unique_name
from trtadvisor.ir.graph import Graph, Node


class ReparamRewrite:
    name = "reparam"
    codes = ("TRT208",)
    needs_values = True

    def apply(self, work: Work) -> Outcome:
        import onnx_graphsurgeon as gs

        outcome = Outcome()
        ir = work.ir()
        plans: list[tuple[BranchSum, np.ndarray, np.ndarray]] = []
        for site in summed_branches(ir):
            names = tuple(n.name for n in site.nodes)
            try:
                merged = _merged_weights(work, ir, site)
            except _Unreadable as reason:
                outcome.skips.append(Skip(self.name, self.codes[0], names, str(reason)))
                continue
            plans.append((site, *merged))
        if not plans:
            return outcome
        graph = work.surgeon()
        taken = set(graph.tensors())
        for site, weight, bias in plans:
            kept = graph.nodes[site.kept.index]
            root = graph.nodes[site.root.index]
            out = root.outputs[0]
            for node in site.nodes:
                if node is not site.kept:
                    doomed = graph.nodes[node.index]
                    doomed.outputs.clear()
                    doomed.inputs.clear()
            w_name = unique_name(f"{site.kept.name}.weight_reparam", taken)
            b_name = unique_name(f"{site.kept.name}.bias_reparam", taken)
            kept.inputs = [kept.inputs[0], gs.Constant(w_name, weight), gs.Constant(b_name, bias)]
            kept.attrs["kernel_shape"] = list(site.kernel)
            kept.attrs["pads"] = list(site.pads)
            kept.outputs = [out]
            outcome.changes.append(Change(
                self.name, self.codes[0], tuple(n.name for n in site.nodes),
                f"{len(site.branches)} branches ({site.describe()}) merged into one "
                f"{'x'.join(map(str, site.kernel))} convolution, {site.kept.name}"))
        work.commit(graph)
        return outcome


class _Unreadable(Exception):
    """A value the merge needs cannot be read (the message says which and why)."""


def _value(work: Work, ir: Graph, name: str) -> np.ndarray:
    """A constant's value: an initializer (also through TorchScript's Identity copies) or a Constant node's."""
    for _ in range(3):
        value = work.value(name)
        if value is None:
            value = ir.const_value(name)
        if value is not None:
            return value
        producer = ir.producer(name)
        if producer is None or producer.op != "Identity":
            break
        name = producer.inputs[0]
    if not work.weights_present:
        raise _Unreadable("the weights' external data is absent: merging the branches needs their values")
    raise _Unreadable(f"the value of '{name}' could not be read")


def _merged_weights(work: Work, ir: Graph, site: BranchSum) -> tuple[np.ndarray, np.ndarray]:
    kept_weight = _value(work, ir, site.kept.inputs[1])
    out_channels, per_group = kept_weight.shape[:2]
    weight, bias = _evaluate(work, ir, site.expression, site.kernel, out_channels, per_group)
    return weight.astype(kept_weight.dtype), bias.astype(kept_weight.dtype)


def _evaluate(work: Work, ir: Graph, term: Term, kernel: tuple[int, ...], channels: int,
              per_group: int) -> tuple[np.ndarray, np.ndarray]:
    """The (kernel, bias) of one term of the expression, in float64."""
    if term.kind == "conv":
        return _conv_terms(work, ir, term.node, kernel)  # type: ignore[arg-type]
    if term.kind == "identity":
        return _identity_kernel(channels, per_group, kernel), np.zeros(channels)
    if term.kind == "constant":
        return np.zeros((channels, per_group, *kernel)), _per_channel(_value(work, ir, term.tensor), channels)
    parts = [_evaluate(work, ir, t, kernel, channels, per_group) for t in term.operands if t.kind != "constant"
             or term.kind in ("sum", "difference")]
    if term.kind == "sum":
        return sum(w for w, _ in parts), sum(b for _, b in parts)  # type: ignore[return-value]
    if term.kind == "difference":
        (w1, b1), (w2, b2) = parts
        return w1 - w2, b1 - b2
    (w, b), = parts
    if term.kind == "batchnorm":
        scale, shift = _batchnorm_terms(work, ir, term.node, channels)  # type: ignore[arg-type]
    else:  # scale or divide by a per-channel constant
        factor = _per_channel(_value(work, ir, term.operands[1].tensor), channels)
        scale, shift = (factor if term.kind == "scale" else 1.0 / factor), np.zeros(channels)
    return w * scale.reshape(-1, *([1] * (w.ndim - 1))), b * scale + shift


def _conv_terms(work: Work, ir: Graph, conv: Node, kernel: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A branch convolution's kernel, zero-padded around its centre to ``kernel``, and its bias."""
    w = _value(work, ir, conv.inputs[1]).astype(np.float64)
    margins = [((m - k) // 2, (m - k) // 2) for m, k in zip(kernel, w.shape[2:], strict=True)]
    w = np.pad(w, [(0, 0), (0, 0), *margins])
    b = _value(work, ir, conv.input(2)).astype(np.float64).reshape(-1) if conv.input(2) else np.zeros(w.shape[0])
    return w, b


def _identity_kernel(out_channels: int, per_group: int, kernel: tuple[int, ...]) -> np.ndarray:
    """The grouped convolution kernel that copies each channel to itself: 1 at the centre of the tap from
    channel o to o (channel o is input o % per_group of its group; the analysis checked that there are as
    many output channels as input channels)."""
    w = np.zeros((out_channels, per_group, *kernel))
    centre = tuple(k // 2 for k in kernel)
    for o in range(out_channels):
        w[(o, o % per_group, *centre)] = 1.0
    return w


def _batchnorm_terms(work: Work, ir: Graph, bn: Node, channels: int) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, var = (_value(work, ir, t).astype(np.float64).reshape(-1) for t in bn.inputs[1:5])
    if any(p.shape[0] != channels for p in (gamma, beta, mean, var)):
        raise _Unreadable(f"the BatchNormalization '{bn.name}' has other channels than the convolution")
    scale = gamma / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    return scale, beta - mean * scale


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray:
    flat = value.astype(np.float64).reshape(-1)
    if flat.shape[0] not in (1, channels):
        raise _Unreadable(f"a constant of {flat.shape[0]} values is added to {channels} channels")
    return np.broadcast_to(flat, (channels,))
