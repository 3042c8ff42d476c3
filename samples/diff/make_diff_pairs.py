#!/usr/bin/env python3
"""Export the changed models ``trtadvisor diff`` is tested against (``tests/ci/test_diff_structure.py``).

Run from the repository root (torch, torchvision, onnxscript and onnxruntime installed):

    python samples/diff/make_diff_pairs.py

* ``resnet18_extra_block.dynamo.opset18.onnx``: torchvision's ResNet with BasicBlocks ``[3, 2, 2, 2]``,
  i.e. ResNet-18 (``[2, 2, 2, 2]``) with one more BasicBlock in ``layer1`` (two 3x3 convolutions, 64
  channels, and an identity skip: no downsample), random weights (``torch.manual_seed(0)``), batch 32,
  input ``input`` as ``samples/cnn/resnet18.*``, exported with the dynamo exporter at opset 18. Diffed
  against the TorchScript ResNet-18 sample it is a real change seen through another exporter's names.

The file is checked against PyTorch with onnxruntime while the weights exist, then saved structure-only:
float tensors of 1 KiB or more go to an external ``*.onnx.data`` file that is deleted (and git-ignored).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from torchvision.models.resnet import BasicBlock, ResNet

HERE = Path(__file__).resolve().parent
SIZE_THRESHOLD = 1024
EXTRA_BLOCK_LAYERS = [3, 2, 2, 2]  # ResNet-18 is [2, 2, 2, 2]


def export_extra_block() -> Path:
    torch.manual_seed(0)
    module = ResNet(BasicBlock, EXTRA_BLOCK_LAYERS).eval()
    args = (torch.randn(32, 3, 224, 224),)
    out = HERE / "resnet18_extra_block.dynamo.opset18.onnx"
    data = out.name + ".data"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.no_grad():
            torch.onnx.export(module, args, str(raw), input_names=["input"], output_names=["output"],
                              opset_version=18, dynamo=True)
        model = onnx.load(str(raw))
        onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=SIZE_THRESHOLD)
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: args[0].numpy()})[0]
    with torch.no_grad():
        want = module(*args).numpy()
    os.remove(HERE / data)  # structure only: the weights are random and never committed
    print(f"{out.name}: onnxruntime vs torch max abs diff {float(np.max(np.abs(got - want))):.2e}")
    return out


if __name__ == "__main__":
    export_extra_block()
    sys.exit(0)
