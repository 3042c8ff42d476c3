#!/usr/bin/env python3
"""Make the "graphs from the wild" samples in samples/wild/ (torch side; run with the torch venv).

Run from the repository root:

    python samples/wild/make_wild_samples.py            # everything made here
    python samples/wild/make_wild_samples.py --only old_zoo_resnet50
    python samples/wild/make_wild_samples.py --list

The TensorFlow samples come from ``make_tf_samples.py`` (run with the TensorFlow + tf2onnx venv).
Every model is built from an architecture with random weights (``torch.manual_seed(0)``), exported
by the real tool, then saved structure-only: float tensors of 1 KiB or more go to an external
``<file>.data`` that is deleted afterwards (git-ignored), so shapes, dtypes, op structure and small
constants stay. How each file was made, and what was rewritten with ``onnx.helper`` because no tool
here writes it, is in each builder's docstring and in samples/README.md ("Graphs from the wild").
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {}


def builder(name: str) -> Callable[[Callable[[], onnx.ModelProto]], Callable[[], onnx.ModelProto]]:
    def deco(fn: Callable[[], onnx.ModelProto]) -> Callable[[], onnx.ModelProto]:
        BUILDERS[name] = fn
        return fn
    return deco


def save_structure_only(model: onnx.ModelProto, name: str) -> Path:
    """Save with floats >= 1 KiB as external data, then drop that data (structure-only sample)."""
    path = HERE / f"{name}.onnx"
    data = f"{name}.onnx.data"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024, convert_attribute=True)
    (HERE / data).unlink(missing_ok=True)
    return path


def torchscript_export(model, args: tuple, opset: int, **kw) -> onnx.ModelProto:
    import torch
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, dynamo=False, opset_version=opset, **kw)
    return onnx.load_from_string(buf.getvalue())


# --------------------------------------------------------------------------------------------
# (a) old model-zoo style ResNet-50
# --------------------------------------------------------------------------------------------

@builder("old_zoo_resnet50")
def old_zoo_resnet50() -> onnx.ModelProto:
    """torchvision ResNet-50, written the way 2018 model-zoo (Caffe2-converted) files look.

    Made by the real TorchScript exporter at opset 8 (``do_constant_folding=False``,
    ``keep_initializers_as_inputs=True``): that already gives IR 3, every initializer listed as a
    graph input, and 53 unfolded ``BatchNormalization`` nodes. ``onnx.version_converter`` then takes
    it to opset 9 (``ConstantOfShape`` is an opset-9 op) and the IR version is kept at 3. What no tool
    here writes is rewritten with ``onnx.helper``, as the Caffe2 converter wrote it:

    * every BatchNormalization mean and variance comes from ``ConstantOfShape`` (value 0 / 1; the
      values of an untrained torchvision BatchNorm2d are exactly these) fed by a ``Constant`` shape;
    * the classifier's Gemm weight and bias come from ``Constant`` nodes instead of initializers;
    * the 16 residual ``Add`` nodes become ``Sum`` (Caffe2's residual op);
    * a final ``Softmax`` (the zoo's ``gpu_0/softmax_1`` output), input named ``gpu_0/data_0``.
    """
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    m = torchscript_export(net, (x,), 8, do_constant_folding=False, keep_initializers_as_inputs=True,
                           training=torch.onnx.TrainingMode.EVAL,
                           input_names=["gpu_0/data_0"], output_names=["gpu_0/fc_1"])
    assert m.ir_version == 3, m.ir_version
    m = onnx.version_converter.convert_version(m, 9)
    m.ir_version = 3
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    drop: set[str] = set()
    nodes: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type == "BatchNormalization":
            channels = numpy_helper.to_array(inits[node.input[1]]).shape[0]
            for slot, fill in ((3, 0.0), (4, 1.0)):
                old = node.input[slot]
                shape_name = f"{old}_shape"
                nodes.append(helper.make_node(
                    "Constant", [], [shape_name], name=f"{shape_name}_const",
                    value=numpy_helper.from_array(np.array([channels], dtype=np.int64), shape_name)))
                nodes.append(helper.make_node(
                    "ConstantOfShape", [shape_name], [old], name=f"{old}_fill",
                    value=helper.make_tensor(f"{old}_value", TensorProto.FLOAT, [1], [fill])))
                drop.add(old)
        elif node.op_type == "Gemm":
            for name in node.input[1:]:
                nodes.append(helper.make_node("Constant", [], [name], name=f"{name}_const",
                                              value=inits[name]))
                drop.add(name)
        elif node.op_type == "Add":
            node = helper.make_node("Sum", list(node.input), list(node.output), name=node.name.replace("Add", "Sum"))
        nodes.append(node)
    out = g.output[0].name
    nodes.append(helper.make_node("Softmax", [out], ["gpu_0/softmax_1"], name="softmax_1", axis=1))
    del g.node[:]
    g.node.extend(nodes)
    kept = [t for t in g.initializer if t.name not in drop]
    del g.initializer[:]
    g.initializer.extend(kept)
    inputs = [i for i in g.input if i.name not in drop]
    del g.input[:]
    g.input.extend(inputs)
    g.output[0].name = "gpu_0/softmax_1"
    m.producer_name, m.producer_version = "onnx-caffe2", "0.1"
    onnx.checker.check_model(m)
    onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        print("\n".join(BUILDERS))
        return 0
    for name in a.only or list(BUILDERS):
        path = save_structure_only(BUILDERS[name](), name)
        print(f"{path.relative_to(HERE.parent.parent)}  {os.path.getsize(path) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
