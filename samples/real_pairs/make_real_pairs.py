#!/usr/bin/env python3
"""Rebuild the ONNX files behind the real TensorRT engines in ``../shared/data/trt-artifacts/``.

Run from the repository root (torch, timm, onnxscript and onnxruntime installed):

    python samples/real_pairs/make_real_pairs.py                 # every model
    python samples/real_pairs/make_real_pairs.py --only lenet

Each model is rebuilt from its public architecture with random weights (``torch.manual_seed(0)``;
nothing is downloaded), exported, checked against PyTorch with onnxruntime while the weights
still exist, and saved structure-only: float tensors of 1 KiB or more go to an external
``*.onnx.data`` file that is deleted afterwards (and git-ignored).

* ``lenet.dynamo.opset18.onnx``: the NVIDIA trt-samples-for-hackathon-cn cookbook's MNIST LeNet
  (its ``00-Data`` model: conv5x5(32)+ReLU, maxpool, conv5x5(64)+ReLU, maxpool, FC1024+ReLU, FC10,
  softmax, argmax; modules ``conv1, conv2, gemm1, gemm2``, input ``x``, outputs ``y`` (logits) and
  ``z`` (argmax)), exported as the cookbook does for TensorRT 10.x: ``torch.onnx.export(dynamo=True)``,
  opset 18, dynamic batch. Every node name equals the one in the TensorRT 10.14 and 10.16 engines
  (``node_conv2d``, ``node_relu``, ..., ``node_linear_1``, ``node_softmax``, ``node_argmax``), and so do
  the tensor and weight names (``relu``, ``max_pool2d``, ``view``, ``gemm1.bias``), as their
  verbose build logs show (``Parsing node: node_view [Reshape]``, ``Searching for input: gemm1.bias``).
* ``levit_128s.torchscript.opset13.onnx``: timm ``levit_128s`` (the LeViT-128S of the TRT Hackathon
  2022 and Jetson Xavier DLA engines), batch 16 as in ``trtexec --shapes=input:16x3x224x224``, input
  ``input``. Those engines were built from an older TorchScript export whose node names
  (``Conv_3``, ``MatMul_38``) differ: they are compared by layer signature.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
SIZE_THRESHOLD = 1024


class CookbookLeNet(nn.Module):
    """The cookbook's MNIST model (module names as its ``gemm1.bias`` / ``conv1.weight`` show)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, (5, 5), padding=(2, 2), bias=True)
        self.conv2 = nn.Conv2d(32, 64, (5, 5), padding=(2, 2), bias=True)
        self.gemm1 = nn.Linear(64 * 7 * 7, 1024, bias=True)
        self.gemm2 = nn.Linear(1024, 10, bias=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), (2, 2))
        x = x.view(-1, 64 * 7 * 7)
        x = F.relu(self.gemm1(x))
        y = self.gemm2(x)
        z = F.softmax(y, dim=1)
        z = torch.argmax(z, dim=1)
        return y, z


def _lenet() -> tuple[nn.Module, tuple[torch.Tensor, ...], dict]:
    batch = torch.export.Dim("batch", min=1, max=1024)
    return CookbookLeNet(), (torch.randn(4, 1, 28, 28),), {
        "input_names": ["x"], "output_names": ["y", "z"], "dynamo": True, "opset": 18,
        "dynamic_shapes": ({0: batch},)}


def _levit() -> tuple[nn.Module, tuple[torch.Tensor, ...], dict]:
    import timm

    return timm.create_model("levit_128s", pretrained=False), (torch.randn(16, 3, 224, 224),), {
        "input_names": ["input"], "output_names": ["output"], "dynamo": False, "opset": 13}


MODELS: dict[str, tuple[str, Callable[[], tuple[nn.Module, tuple[torch.Tensor, ...], dict]]]] = {
    "lenet": ("lenet.dynamo.opset18.onnx", _lenet),
    "levit_128s": ("levit_128s.torchscript.opset13.onnx", _levit),
}


def _check(path: Path, module: nn.Module, args: tuple[torch.Tensor, ...]) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args, strict=True)}
    got = session.run(None, feeds)
    with torch.no_grad():
        want = module(*args)
    want = want if isinstance(want, tuple) else (want,)
    return max(float(np.max(np.abs(g.astype(np.float64) - w.numpy().astype(np.float64))))
               for g, w in zip(got, want, strict=True))


def export(name: str) -> Path:
    filename, build = MODELS[name]
    torch.manual_seed(0)
    module, args, options = build()
    module.eval()
    out = HERE / filename
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        kwargs = {"input_names": options["input_names"], "output_names": options["output_names"],
                  "opset_version": options["opset"], "dynamo": options["dynamo"]}
        if options.get("dynamic_shapes"):
            kwargs["dynamic_shapes"] = options["dynamic_shapes"]
        with torch.no_grad():
            torch.onnx.export(module, args, str(raw), **kwargs)
        model = onnx.load(str(raw))
        data = out.name + ".data"
        if (HERE / data).exists():
            os.remove(HERE / data)
        onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=SIZE_THRESHOLD)
    diff = _check(out, module, args)
    os.remove(HERE / data)  # structure only: the weights are random and never committed
    print(f"{out.relative_to(HERE.parent.parent)}: onnxruntime vs torch max abs diff {diff:.2e}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), default=sorted(MODELS))
    for name in parser.parse_args(argv).only:
        export(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
