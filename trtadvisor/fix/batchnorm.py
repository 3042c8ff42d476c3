"""BatchNormalization after a Conv folded into the convolution's weights and bias (TRT106, TRT114).

TensorRT folds a BatchNormalization into the convolution before it only when its parameters are
build-time constants; old exports (and ones with run-time parameters, see fold.py) leave a separate
Scale layer. Folding needs the values: W' = W * s, b' = (b - mean) * s + beta with
s = gamma / sqrt(var + eps) per output channel, computed in float64. A model whose weights are
absent keeps its BatchNormalization, with the reason.
"""

from __future__ import annotations

import numpy as np

from trtadvisor.fix.base import Change, Outcome, Skip, Work, unique_name


class BatchNormRewrite:
    name = "batchnorm"
    codes = ("TRT106", "TRT114")
    needs_values = True

    def apply(self, work: Work) -> Outcome:
        import onnx_graphsurgeon as gs

        outcome = Outcome()
        ir = work.ir()
        plans = []
        for bn in ir.nodes_of("BatchNormalization"):
            reason, plan = self._plan(work, ir, bn)
            if reason:
                outcome.skips.append(Skip(self.name, self.codes[0], (bn.name,), reason))
            elif plan is not None:
                plans.append(plan)
        if not plans:
            return outcome
        graph = work.surgeon()
        taken = set(graph.tensors())
        for conv_index, bn_index, weight, bias, conv_name, bn_name in plans:
            conv, bn = graph.nodes[conv_index], graph.nodes[bn_index]
            w_name = unique_name(f"{conv_name}.weight_bn_folded", taken)
            b_name = unique_name(f"{conv_name}.bias_bn_folded", taken)
            conv.inputs = [conv.inputs[0], gs.Constant(w_name, weight), gs.Constant(b_name, bias)]
            out = bn.outputs[0]
            bn.outputs.clear()
            bn.inputs.clear()
            conv.outputs = [out]
            outcome.changes.append(Change(self.name, self.codes[0], (conv_name, bn_name),
                                          f"folded into {conv_name}'s weights and bias"))
        work.commit(graph)
        return outcome

    @staticmethod
    def _plan(work: Work, ir, bn):
        x = bn.inputs[0]
        conv = ir.producer(x)
        if conv is None or conv.op != "Conv":
            return None, None  # not after a convolution: nothing this rewrite does
        if len(ir.consumers(x)) != 1 or ir.is_graph_output(x):
            return "the convolution's output is also read elsewhere", None
        if any(o and (ir.consumers(o) or ir.is_graph_output(o)) for o in bn.outputs[1:]):
            return "its running statistics outputs are read (training mode)", None
        if bn.attr("training_mode", 0) or bn.attr("is_test", 1) == 0 or bn.attr("spatial", 1) == 0:
            return "it is in training mode or per-activation (spatial=0)", None
        names = [conv.input(1), conv.input(2), *bn.inputs[1:5]]
        if any(n and (not ir.is_constant(n) or ir.producer(n) is not None) for n in names):
            return "a parameter is not an initializer (see the fold rewrite)", None
        if not work.weights_present and any(work.value(n) is None for n in names if n):
            return "the weights' external data is absent: folding needs their values", None
        w = work.value(conv.inputs[1])
        b = work.value(conv.input(2)) if conv.input(2) else None
        gamma, beta, mean, var = (work.value(n) for n in bn.inputs[1:5])
        if w is None or gamma is None or beta is None or mean is None or var is None:
            return "a weight value could not be read", None
        channels = w.shape[0]
        if any(p.reshape(-1).shape[0] != channels for p in (gamma, beta, mean, var)):
            return "the BatchNormalization channels do not match the convolution's output channels", None
        eps = float(bn.attr("epsilon", 1e-5))
        scale = gamma.astype(np.float64).reshape(-1) / np.sqrt(var.astype(np.float64).reshape(-1) + eps)
        weight = (w.astype(np.float64) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(w.dtype)
        base = b.astype(np.float64).reshape(-1) if b is not None else np.zeros(channels)
        bias = ((base - mean.astype(np.float64).reshape(-1)) * scale + beta.astype(np.float64).reshape(-1))
        return "", (conv.index, bn.index, weight, bias.astype(w.dtype), conv.name, bn.name)
